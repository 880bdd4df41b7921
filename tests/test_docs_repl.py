"""docs/embedding.md's REPL example pastes into Python's plain REPL line by line.

The page's examples are scripts; the section "In a REPL or a notebook" says so, and gives
one written for the plain REPL of Python 3.11 and 3.12 (no blank line inside a block, one
after each), which ``code.InteractiveConsole`` compiles as that REPL does.
"""

from __future__ import annotations

import code
import contextlib
import io
import re
from pathlib import Path

import pytest

from livesession import verify_run

ROOT = Path(__file__).resolve().parents[1]


def _repl_block() -> str:
    text = (ROOT / "docs/embedding.md").read_text(encoding="utf-8")
    section = text.split("## In a REPL or a notebook\n", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert found is not None
    return found.group(1)


def test_the_repl_example_runs_line_by_line_in_the_plain_repl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each line pushed as typed: no error, the run sealed, and the cell run again refused."""
    monkeypatch.chdir(tmp_path)
    console = code.InteractiveConsole()
    shown, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(shown), contextlib.redirect_stderr(errors):
        for line in _repl_block().splitlines():
            console.push(line)
        console.push("")
    assert errors.getvalue() == ""
    assert "BookView(positions=" in shown.getvalue()  # the REPL showed the book
    assert "is being written by" in shown.getvalue()  # the second create_run's RunHeld
    assert verify_run(tmp_path / "runs" / "explore").ok
