"""Refused writes no record of the run names: ``status`` says them all the same.

Bug: a run whose audit sink was refused its first record, or whose ``metrics.json`` was
refused its first write (a disk all but full as the run started: no ``metrics.json`` was
there yet) or its seal's write (which withholds the stop record and the
``C2_SINK_WRITE_FAILED`` with it), left ``status`` saying only ``next  continue it:
livesession resume DIR``: not which file was refused, nor that a resume meets the same
refusal until it is put right, as it says of a sink refused mid-run. It names the refused
write now, from the audit log's ``C2_SINK_WRITE_FAILED`` or, where the audit holds none, the
session log's ``sink_failed`` line, and a resume once it is put right finishes the run.

Bug: a checkpoint the disk failed with EIO (``cannot write checkpoint DIR/checkpoint.json:
Input/output error``) was named on ``status``'s ``stopped by`` line, but its ``next`` said
a bare ``continue it``, where the process had said ``once the disk answers again``.
"""

from __future__ import annotations

import errno
from typing import TYPE_CHECKING

import pytest

from livesession._artifacts import names, sinks
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.stores import checkpoint_file
from livesession.verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path

_ARGS = ("--run-id", "r", "--steps", "120", "-q")

_FULL = "(OSError: [Errno 28] No space left on device)"
_ONCE = "the run is not sealed; once the file system has room again: continue it: livesession"


def _full(*_args: object) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _failed(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.EIO, "Input/output error")


def _refuse(monkeypatch: pytest.MonkeyPatch, which: str) -> None:
    """The disk refuses every write of ``which``: ``audit.jsonl`` or ``metrics.json``."""
    if which == names.METRICS:
        monkeypatch.setattr(sinks.FileMetricsSink, "replace", _full)
        return
    real = sinks.FileLineSink.write_line

    def write_line(self: sinks.FileLineSink, line: bytes) -> None:
        if self.path.name == which:
            _full()
        real(self, line)

    monkeypatch.setattr(sinks.FileLineSink, "write_line", write_line)


@pytest.mark.broken_run("the disk refuses its first write on purpose: the run is resumed after")
@pytest.mark.parametrize(
    ("which", "said"),
    [
        (names.AUDIT, "the audit sink failed at record 1 of {file} " + _FULL),
        (names.METRICS, "the metrics sink failed writing {file} " + _FULL),
    ],
)
def test_status_names_the_first_write_the_full_disk_refused(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    which: str,
    said: str,
) -> None:
    """Before: ``next  continue it: livesession resume DIR``, with no word of the disk."""
    run_dir = tmp_path / "r"
    _refuse(monkeypatch, which)
    assert main(["dryrun", "--out", str(tmp_path), *_ARGS]) == 2
    assert "the run is not sealed" in capsys.readouterr().err
    status = run_status(run_dir)
    assert status.verdict is Verdict.CRASHED
    assert status.next_step() == (f"{said.format(file=run_dir / which)}: {_ONCE} resume {run_dir}")

    monkeypatch.undo()  # room again
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert verify_run(run_dir).ok
    assert run_status(run_dir).verdict is Verdict.COMPLETED


@pytest.mark.broken_run("the disk refused the audit's first record; a resume was killed since")
def test_a_refusal_a_later_start_follows_is_not_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A process that started after the refusal (a resume killed before its first record)
    has its own ending: the refusal logged before it is not said to be the run's."""
    run_dir = tmp_path / "r"
    _refuse(monkeypatch, names.AUDIT)
    assert main(["dryrun", "--out", str(tmp_path), *_ARGS]) == 2
    capsys.readouterr()
    with (run_dir / names.SESSION_LOG).open("ab") as log:
        log.write(b'{"event": "session_started", "level": "info", "run_id": "r"}\n')
    assert run_status(run_dir).next_step() == f"continue it: livesession resume {run_dir}"


def _resumed(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Once the disk is put right, ``resume`` finishes the run and it verifies."""
    monkeypatch.undo()
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert verify_run(run_dir).ok


@pytest.mark.broken_run("the disk fails the seal's metrics.json on purpose: resumed after")
def test_status_names_the_seals_metrics_json_the_disk_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``next  continue it: ...``; the process had said which file and why."""
    run_dir = tmp_path / "r"
    real = sinks.FileMetricsSink.replace

    def replace(self: sinks.FileMetricsSink, content: bytes) -> None:
        if b'"status":"RUNNING"' not in content.replace(b" ", b""):  # the seal's
            _failed()
        real(self, content)

    monkeypatch.setattr(sinks.FileMetricsSink, "replace", replace)
    assert main(["dryrun", "--out", str(tmp_path), *_ARGS]) == 2
    capsys.readouterr()
    assert run_status(run_dir).next_step() == (
        f"the metrics sink failed writing {run_dir / names.METRICS} (OSError: [Errno 5] "
        "Input/output error): the run is not sealed; once the disk answers again "
        "(input/output error: the kernel log says why): continue it: livesession resume "
        f"{run_dir}"
    )
    _resumed(run_dir, monkeypatch, capsys)


@pytest.mark.broken_run("the disk fails the checkpoint on purpose: the run is resumed after")
def test_status_says_to_wait_for_the_disk_a_checkpoint_met_eio_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Before: ``next  continue it: ...`` under ``stopped by  cannot write checkpoint ...:
    Input/output error``."""
    run_dir = tmp_path / "r"
    monkeypatch.setattr(checkpoint_file, "atomic_write_bytes", _failed)
    assert main(["dryrun", "--out", str(tmp_path), *_ARGS]) == 2
    assert "once the disk answers again" in capsys.readouterr().err
    status = run_status(run_dir)
    assert status.store_refused.startswith(
        f"cannot write checkpoint {run_dir / 'checkpoint.json'}: Input/output error"
    )
    assert status.next_step() == (
        "once the disk answers again (input/output error: the kernel log says why): continue "
        f"it: livesession resume {run_dir}"
    )
    _resumed(run_dir, monkeypatch, capsys)
