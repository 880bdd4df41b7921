"""``VerifyResult.incomplete``: a crashed run told from a corrupt one without parsing words.

An embedding app had only ``summary``'s ``incomplete run:`` prefix to tell a run to continue
(a crash) from one to report (a corruption, a cut seal). ``incomplete`` is true exactly when
that is the summary, and ``livesession verify --json`` carries it beside ``live``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import orjson
import pytest

from livesession.cli import main
from livesession.verify import verify_run
from test_resume_errors import (  # noqa: F401 - its crashed run, copied for each test
    _flip_hash_digit,
    _run_dir,
    _template,
)

if TYPE_CHECKING:
    from pathlib import Path


def _verify_json(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    main(["verify", "--json", str(run_dir)])
    return orjson.loads(capsys.readouterr().out)


def test_a_crashed_run_is_incomplete_and_its_resumed_seal_is_not(run_dir: Path, capsys):
    crashed = verify_run(run_dir)
    assert crashed.summary.startswith("incomplete run: "), crashed.summary
    assert crashed.incomplete is True
    assert _verify_json(run_dir, capsys)["incomplete"] is True

    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    sealed = verify_run(run_dir)
    assert sealed.ok, sealed.violations
    assert sealed.incomplete is False
    assert _verify_json(run_dir, capsys)["incomplete"] is False


@pytest.mark.broken_run("a crashed run whose audit chain is broken below its checkpoint")
def test_a_corrupt_run_is_not_incomplete(run_dir: Path, capsys):
    path = run_dir / "audit.jsonl"
    lines = path.read_bytes().split(b"\n")
    lines[1] = _flip_hash_digit(lines[1])
    path.write_bytes(b"\n".join(lines))
    corrupt = verify_run(run_dir)
    assert corrupt.summary.startswith("corrupt run: "), corrupt.summary
    assert corrupt.incomplete is False
    assert _verify_json(run_dir, capsys)["incomplete"] is False


def test_no_directory_is_not_incomplete(tmp_path: Path):
    absent = verify_run(tmp_path / "nope")
    assert absent.summary == f"run directory {tmp_path / 'nope'} does not exist"
    assert absent.incomplete is False
