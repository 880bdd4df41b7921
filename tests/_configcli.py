"""A config file ``livesession dryrun`` refuses: exit 2, one line, nothing written."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path

    import pytest


def refused_config(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``livesession dryrun --json`` on the config ``tmp_path/hand.toml`` of ``text``: its error.

    Held to the refusal's rules first: exit 2 (in the JSON too), one line on stderr, and no
    run directory made.
    """
    config = tmp_path / "hand.toml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["dryrun", "-c", str(config), "--out", str(out), "--steps", "5", "--json"])
    captured = capsys.readouterr()
    outcome = json.loads(captured.out)
    assert (code, outcome["exit_code"], outcome["ok"]) == (2, 2, False), outcome
    assert len(captured.err.strip().splitlines()) == 1
    assert not out.exists()
    error: str = outcome["error"]
    return error
