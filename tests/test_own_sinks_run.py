"""``evidence`` and ``resume`` of a run an application wrote on sinks of its own.

Bug (a new user's first day, by the docs): the runbook's Python invocation
(``LiveSessionOrchestrator().run_dryrun`` on files it opened itself) leaves the four
contract files and no ``run.json``. ``livesession status`` says what to do with it, but
``evidence`` and ``resume`` said only ``... is not a livesession run directory (no
run.json)``, and the user, who had just made it with livesession, took the run for broken.
They now say who wrote it, the command that checks it, and what evidence and resume take.
Still exit 2, nothing written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from livesession import DryrunConfig, LiveSessionOrchestrator
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path


@pytest.fixture
def own_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A run written as RUNBOOK.md's Python invocation writes it, on files of its own."""
    monkeypatch.chdir(tmp_path)
    run = tmp_path / "runs" / "own"
    run.mkdir(parents=True)
    cfg = DryrunConfig(run_id="own", steps=20, clock_mode="fixed", max_sink_retries=0)
    files = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")
    ev, st, me, au = (open(run / name, "w") for name in files)  # noqa: SIM115, PTH123
    with ev, st, me, au:
        result = LiveSessionOrchestrator().run_dryrun(
            cfg, event_sink=ev, state_sink=st, metrics_sink=me, audit_sink=au
        )
    assert result.status.value == "COMPLETED"
    return run


@pytest.mark.parametrize("verb", ["evidence", "resume"])
def test_it_is_said_what_wrote_it_and_what_checks_it(
    own_run: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    before = sorted(p.name for p in own_run.iterdir())
    assert main([verb, "runs/own"]) == 2
    assert capsys.readouterr().err == (
        "livesession: error: runs/own is not a livesession run directory (no run.json): an "
        "application wrote its files on sinks of its own; `livesession verify runs/own` "
        "checks them, and evidence and resume take a run that livesession dryrun or "
        "create_run made\n"
    )
    assert sorted(p.name for p in own_run.iterdir()) == before
    assert main(["verify", "runs/own"]) == 0


def test_a_directory_without_the_files_is_said_as_before(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "events.jsonl").write_text("")
    assert main(["resume", "r"]) == 2
    said = capsys.readouterr().err
    assert "sinks of its own" not in said, said
