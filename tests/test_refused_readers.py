"""``_rundir/refused.py``'s readers, held to each of their conditions.

``store_refused_says``: status names the store that stopped a crashed run only from a
session log whose last whole line is that store's ``session_interrupted``; each case is a
line another record (or none) would make. ``refused_write``: a sink's claim in
``metrics.json`` is said only when whole (where and why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import DryrunConfig, create_run
from livesession._artifacts import names
from livesession._rundir import refused
from livesession._rundir.refused import refused_first, refused_write, store_refused_says
from livesession.cli import main

from _helpers import crash_in_step

_STOPPED = {
    "event": "session_interrupted",
    "interrupted_by": "StoreFailure",
    "error": "the idempotency store X refused a write (OSError: [Errno 28] No space left)",
}
_SAID = f"{_STOPPED['error']} ({names.SESSION_LOG}'s last line, session_interrupted)"


def _logged(run_dir: Path, *lines: dict[str, Any]) -> Path:
    run_dir.mkdir(exist_ok=True)
    log = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    (run_dir / names.SESSION_LOG).write_bytes(log)
    return run_dir


def test_the_store_s_interruption_as_the_last_line_is_said(tmp_path: Path) -> None:
    assert store_refused_says(_logged(tmp_path, {"event": "session_opened"}, _STOPPED)) == _SAID


@pytest.mark.parametrize(
    "last",
    [
        {**_STOPPED, "event": "session_closed"},  # not the torn session's record
        {**_STOPPED, "interrupted_by": "KeyboardInterrupt"},  # interrupted, by no store
        {**_STOPPED, "error": None},  # no error text to say
        {"event": "session_opened"},  # a later process's line (a resume) ends the log
    ],
)
def test_any_other_last_line_says_nothing(tmp_path: Path, last: dict[str, Any]) -> None:
    assert store_refused_says(_logged(tmp_path, _STOPPED, last)) == ""


def test_the_error_is_said_on_one_line(tmp_path: Path) -> None:
    """A store's error may hold a line break (SQLite's, an OS's): status's line is one."""
    stopped = {**_STOPPED, "error": "refused a write\n(OSError:\tno room)"}
    said = store_refused_says(_logged(tmp_path, stopped))
    assert said.startswith("refused a write (OSError: no room) (")


def test_a_session_log_the_host_refuses_to_read_says_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused (permission denied; as root no mode refuses, so the read is made to), status
    reads the run without its session log: no error out of the reader, nothing said."""
    run_dir = _logged(tmp_path, _STOPPED)

    def refuse(path: Path, **_: object) -> None:  # last_whole_line's keywords too
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(refused, "last_whole_line", refuse)
    assert store_refused_says(run_dir) == ""


@pytest.mark.parametrize(
    ("at", "said"),
    [
        (5, "the events sink failed at line 5 of {events} (OSError: [Errno 28] No space)"),
        (None, ""),  # a claim without its line (a metrics.json edited) is none
        ("5", ""),
    ],
)
def test_a_sink_s_claim_is_said_only_whole(tmp_path: Path, at: object, said: str) -> None:
    metrics = {"audit_events": 3, "events_sink_failed_at": at}
    metrics["events_sink_error"] = "OSError: [Errno 28] No space"
    (tmp_path / names.METRICS).write_bytes(orjson.dumps(metrics))
    (tmp_path / names.AUDIT).write_bytes(orjson.dumps({"seq": 3}) + b"\n")
    expected = said.format(events=tmp_path / names.EVENTS)
    assert refused_write(tmp_path)[0] == expected


_JOURNAL = "the simulated venue's journal DIR/venue.jsonl refused a write"
_LIMIT = "a file size limit (`ulimit -f`) of 60000 bytes"
_SQLITE = "the idempotency store SqliteIdempotencyStore('DIR/idempotency.sqlite') refused a write"


@pytest.mark.parametrize(
    ("by", "error", "once"),
    [
        ("StoreFailure", f"{_SQLITE} (OperationalError: database or disk is full)", "room"),
        (
            "StoreFailure",
            "the idempotency store X refused a write (OSError: No space left on device)",
            "room",
        ),
        ("StoreFailure", f"{_JOURNAL} (ENOSPC: No space left on device)", "room"),
        (
            "StoreFailure",
            f"{_JOURNAL} (EDQUOT: Disk quota exceeded)",
            "the disk quota has room again",
        ),
        (
            "StoreFailure",
            f"{_JOURNAL} (EROFS: Read-only file system)",
            "the file system is writable",
        ),
        ("StoreFailure", f"{_JOURNAL} (EFBIG: File too large)", "files may grow again"),
        (
            "StoreFailure",
            f"{_SQLITE} (OperationalError: disk I/O error) under {_LIMIT}",
            "files may grow again",
        ),
        ("StoreFailure", f"{_SQLITE} (OperationalError: database is locked)", ""),
        (
            "PostgresError",
            "the PostgreSQL server refused: could not extend file: No space left on device",
            "",
        ),
        ("LeaseError", "the lease file refused a write (OSError: No space left on device)", ""),
    ],
)
def test_a_store_s_refusal_says_what_must_be_so_before_the_resume(
    tmp_path: Path, by: str, error: str, once: str
) -> None:
    """Bug: a run a full disk stopped through its SQLite store (or the venue's journal) was
    told only `continue it: livesession resume DIR`, into the same full disk, where a dead
    sink's says `once the file system has room again: ...`. Said now by the error's words
    (the log keeps no errno; SQLite's `database or disk is full` has none): ENOSPC,
    EDQUOT, EFBIG, EROFS. PostgreSQL's and a lease's refusals keep their words."""
    said = "continue it: livesession resume DIR"
    run_dir = _logged(tmp_path, {**_STOPPED, "interrupted_by": by, "error": error})
    first = refused_first(run_dir, said)
    if not once:
        assert first == said
    elif once == "room":
        assert first == f"once the file system has room again: {said}"
    else:
        assert first.startswith(f"once {once}")
        assert first.endswith(f"): {said}")


@pytest.mark.broken_run("a crash on purpose: the run is left unsealed")
def test_status_reads_the_store_s_refusal_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``status`` of a crashed run read the session log's last line twice, once for its
    ``stopped by`` line (``store_refused``) and again for ``next``'s ``once ...``. Once now,
    with both said as before."""
    run_dir = tmp_path / "r"
    session = create_run(DryrunConfig(run_id="r", steps=50, checkpoint_every=5), tmp_path)
    crash_in_step(session, 12, 50)
    full = "the idempotency store X refused a write (OperationalError: database or disk is full)"
    with (run_dir / names.SESSION_LOG).open("ab") as log:  # as the torn session logs it last
        log.write(orjson.dumps({**_STOPPED, "error": full}) + b"\n")
    reads: list[Path] = []
    read = refused.last_whole_line

    def counted(path: Path, **kwargs: Any) -> dict[str, Any] | None:
        reads.append(path)
        return read(path, **kwargs)

    monkeypatch.setattr(refused, "last_whole_line", counted)
    assert main(["status", str(run_dir), "--json"]) == 6
    said = orjson.loads(capsys.readouterr().out)
    assert said["store_refused"] == f"{full} ({names.SESSION_LOG}'s last line, session_interrupted)"
    assert said["next"] == (
        f"once the file system has room again: continue it: livesession resume {run_dir}"
    )
    assert reads.count(run_dir / names.SESSION_LOG) == 1, reads
    assert "_store" not in said  # the field status reads it into is no --json field
