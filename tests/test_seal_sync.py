"""What the seal makes durable before its sealing checkpoint, and a sync that fails at the seal.

Bug (durability ``step``, the CLI default): the seal flushed its lines unsynced first (a
refusal there decides the status), which marked them done, so its sync before the sealing
checkpoint skipped every sink: the checkpoint reached the disk while ``SESSION_STOPPED``,
the final snapshot and ``C2_DRYRUN_STOP`` might not (a power cut then left an honest run
reading as tampered). Now a sync after an unsynced flush still syncs.

Bug (durability ``event``): an fdatasync of audit.jsonl that failed (EIO) after the
``C2_DRYRUN_STOP`` line reached the file left the line there, but the session counted it
lost: ``dryrun`` said "the audit sink failed at record 3 ... the run is not sealed" (the
audit held 2), metrics.json said ``audit_sink_failed_at`` 3 and the old audit head, and
``verify`` called the sealed run broken for good. Now a line the file holds is written
even when its sync fails: the run is sealed for every tool, and the failed sync is said.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import orjson
import pytest

from livesession._artifacts import names
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

CONTRACT = (names.EVENTS, names.SNAPSHOTS, names.AUDIT)


def _fd_name(fd: int) -> str:
    return Path(f"/proc/self/fd/{fd}").readlink().name


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")
@pytest.mark.parametrize("durability", ["step", "event"])
def test_the_seal_syncs_every_contract_file_whole_before_the_sealing_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: str
) -> None:
    synced: dict[str, int] = {}  # file name -> its size at its last fdatasync
    at_checkpoint: list[dict[str, int]] = []
    fdatasync, replace = os.fdatasync, os.replace

    def on_fdatasync(fd: int) -> None:
        fdatasync(fd)
        synced[_fd_name(fd)] = os.fstat(fd).st_size

    def on_replace(src: object, dst: object) -> None:
        if Path(str(dst)).name == names.CHECKPOINT:
            at_checkpoint.append(dict(synced))
        replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fdatasync", on_fdatasync)
    monkeypatch.setattr(os, "replace", on_replace)
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "s", "--steps", "30", "-q"]
    assert main([*args, "--durability", durability]) == 0
    run_dir = tmp_path / "s"
    sealing = at_checkpoint[-1]  # what was durable when the sealing checkpoint replaced
    sizes = {name: (run_dir / name).stat().st_size for name in CONTRACT}
    assert {name: sealing.get(name) for name in CONTRACT} == sizes


def _fail_the_sync_after_the_stop(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first fdatasync of audit.jsonl once it ends with C2_DRYRUN_STOP fails (EIO)."""
    fdatasync, fired = os.fdatasync, []

    def on_fdatasync(fd: int) -> None:
        path = Path(f"/proc/self/fd/{fd}").readlink()
        last = path.read_bytes().rstrip(b"\n").rpartition(b"\n")[2]
        if path.name == names.AUDIT and b'"C2_DRYRUN_STOP"' in last and not fired:
            fired.append(fd)
            raise OSError(errno.EIO, "Input/output error")
        fdatasync(fd)

    monkeypatch.setattr(os, "fdatasync", on_fdatasync)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")
def test_a_failed_sync_of_the_stop_record_leaves_a_sealed_run_every_tool_agrees_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _fail_the_sync_after_the_stop(monkeypatch)
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "e", "--steps", "60", "-q"]
    assert main([*args, "--durability", "event"]) == 2  # the disk failed: not exit 0
    said = capsys.readouterr().err.strip()
    assert "\n" not in said
    assert said.startswith("livesession: error: the run is sealed COMPLETED (its audit log's")
    assert "the sync of audit.jsonl failed (OSError: [Errno 5] Input/output error)" in said
    assert "not known to be on disk" in said
    assert "not sealed" not in said
    run_dir = tmp_path / "e"
    monkeypatch.undo()
    assert verify_run(run_dir).ok, verify_run(run_dir).summary
    metrics = orjson.loads((run_dir / names.METRICS).read_bytes())
    assert metrics["audit_events"] == 2
    assert not [key for key in metrics if key.endswith("_sink_failed_at")]
    standing = run_status(run_dir)
    assert (standing.verdict, standing.sealed, standing.unwritten_checkpoint) == (
        Verdict.COMPLETED,
        True,
        "",
    )
    assert orjson.loads((run_dir / names.CHECKPOINT).read_bytes())["sealed"] is True


def test_a_rejected_run_whose_sealing_checkpoint_is_refused_is_promised_no_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Preflight rejected it before its first checkpoint: a refused sealing one leaves none.

    Bug: ``dryrun`` said its checkpoint was "still the one from before the seal" and that
    ``resume`` would write it, while there was none and ``resume`` says nothing to resume.
    """
    config = tmp_path / "reject.toml"
    config.write_text('steps = 20\n[risk]\nmax_order_qty = "0.001"\n', encoding="utf-8")
    replace = os.replace

    def on_replace(src: object, dst: object) -> None:
        if Path(str(dst)).name == names.CHECKPOINT:
            raise OSError(errno.ENOSPC, "No space left on device")
        replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "replace", on_replace)
    args = ["dryrun", "--config", str(config), "--out", str(tmp_path), "--run-id", "r", "-q"]
    assert main(args) == 2
    said = capsys.readouterr().err.strip().splitlines()[-1]
    assert "the run is sealed REJECTED all the same" in said
    assert "it ended before its first checkpoint, so it keeps none" in said
    assert "resume" not in said.replace("nothing to resume", "")
    monkeypatch.undo()
    run_dir = tmp_path / "r"
    assert not (run_dir / names.CHECKPOINT).exists()
    standing = run_status(run_dir)
    assert (standing.verdict, standing.unwritten_checkpoint) == (Verdict.REJECTED, "")
