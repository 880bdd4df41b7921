"""A file sink whose write the file system cuts short (a full disk, a file size limit).

Bug: ``FileLineSink`` buffered its lines in a ``BufferedWriter``, which on a full disk
stored part of its buffer and raised: the file ended in half a line, and the session
counted every line it had handed over as written. ``metrics.json`` said events_emitted
621 and events_sink_failed_at 622 over a file of 620 whole lines and a torn 621st, and
``livesession verify`` listed eight violations (the torn line, the claim, the counts)
instead of the one it promises (docs/artifacts.md). The sink now knows how many whole
lines reached its file: a torn tail is cut back (``ftruncate``), the lines it does not
hold are given up (``drop_unwritten``) and uncounted, and the first line the file lacks
is the one named.

A write is cut short here by a stand-in for ``os.write`` that stores only as many bytes as
a budget allows (as the kernel does under ``RLIMIT_FSIZE``), then refuses (``EFBIG``);
test_full_disk.py runs the CLI under a real file size limit.
"""

from __future__ import annotations

import errno
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import (
    DryrunConfig,
    FileLineSink,
    FileMetricsSink,
    LiveSessionOrchestrator,
    SessionStatus,
)
from livesession._artifacts import sinks as sinks_module
from livesession._artifacts.metrics import MetricsCollector
from livesession.verify import verify_run

_DEAD_SINK = pytest.mark.broken_run("a write is cut short on purpose; the run is not sealed")
_TOO_LARGE = "OSError: [Errno 27] File too large"
_FILES = {"events": "events.jsonl", "states": "state_snapshots.jsonl", "audit": "audit.jsonl"}


class _Budget:
    """``os.write`` for the files it is given: each stores bytes until ``left`` runs out.

    The write that meets the end stores part of what it was given and returns that count;
    the next one raises EFBIG, as a write past ``RLIMIT_FSIZE`` does (SIGXFSZ ignored).
    """

    def __init__(self, left: int) -> None:
        self.left = left

    def write(self, fd: int, data: bytes | bytearray) -> int:
        if self.left <= 0:
            raise OSError(errno.EFBIG, os.strerror(errno.EFBIG))
        stored = os.write(fd, bytes(data[: self.left]))
        self.left -= stored
        return stored


def _limited(monkeypatch: pytest.MonkeyPatch, left: int, sink: FileLineSink) -> _Budget:
    """Give ``sink``'s file ``left`` bytes of room; the other files are not limited."""
    budget = _Budget(left)
    limited_fd = sink._file.fd
    real = sinks_module._write_some

    def write_some(fd: int, data: bytes | bytearray) -> int:
        return budget.write(fd, data) if fd == limited_fd else real(fd, data)

    monkeypatch.setattr(sinks_module, "_write_some", write_some)
    return budget


def _lines(count: int, width: int = 100) -> list[bytes]:
    """``count`` distinct lines of ``width`` bytes, newline included."""
    return [(b"%05d" % n).ljust(width - 1, b"x") + b"\n" for n in range(1, count + 1)]


# -- the sink ---------------------------------------------------------------------------------


def test_a_write_cut_short_leaves_only_whole_lines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """450 bytes of room for ten 100-byte lines: the flush stores four lines and half the
    fifth, then is refused. The file is cut back to the four; the six others are held,
    and given up whole."""
    path = tmp_path / "events.jsonl"
    sink = FileLineSink(path)
    lines = _lines(10)
    budget = _limited(monkeypatch, 450, sink)
    for line in lines:
        sink.write_line(line)
    with pytest.raises(OSError, match="File too large"):
        sink.flush()
    assert path.read_bytes() == b"".join(lines[:4])
    assert sink.tell() == 1000  # what it took, held or written
    budget.left = 10**6  # room again: a retry writes the held lines whole, once
    sink.flush()
    assert path.read_bytes() == b"".join(lines)
    sink.close()


def test_the_lines_a_refused_write_left_are_given_up_and_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    sink = FileLineSink(path)
    lines = _lines(10)
    budget = _limited(monkeypatch, 450, sink)
    for line in lines:
        sink.write_line(line)
    with pytest.raises(OSError, match="File too large"):
        sink.sync()
    assert sink.drop_unwritten() == b"".join(lines[4:])
    budget.left = 10**6
    sink.close()  # nothing held: the lines given up stay unwritten
    assert path.read_bytes() == b"".join(lines[:4])


def test_a_full_buffer_that_cannot_go_out_refuses_the_line_not_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A line that meets a full buffer writes the buffer out first; refused, the line is not
    taken, so the session's retry of that line holds it once."""
    path = tmp_path / "events.jsonl"
    sink = FileLineSink(path)
    lines = _lines(700)  # the 656th line does not fit beside the 65,500 bytes held
    budget = _limited(monkeypatch, 30_050, sink)
    taken = 655
    for line in lines[:taken]:
        sink.write_line(line)
    with pytest.raises(OSError, match="File too large"):
        sink.write_line(lines[taken])
    assert path.read_bytes() == b"".join(lines[:300])
    budget.left = 10**6
    for line in lines[taken:]:  # the refused line again, and the rest
        sink.write_line(line)
    sink.close()
    assert path.read_bytes() == b"".join(lines)


def test_a_line_longer_than_the_buffer_is_written_at_once_or_not_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    sink = FileLineSink(path)
    small, large = _lines(2), b"x" * 70_000 + b"\n"
    budget = _limited(monkeypatch, 40_000, sink)
    for line in small:
        sink.write_line(line)
    with pytest.raises(OSError, match="File too large"):
        sink.write_line(large)
    assert path.read_bytes() == b"".join(small)  # none of the large line
    budget.left = 10**6
    sink.write_line(large)
    assert path.read_bytes() == b"".join(small) + large  # out at once, as a BufferedWriter
    sink.close()


def test_a_torn_tail_that_cannot_be_cut_stops_the_sink(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Nothing is ever appended to half a line: if the cut is refused too, so is every
    later write."""
    path = tmp_path / "events.jsonl"
    sink = FileLineSink(path)
    budget = _limited(monkeypatch, 150, sink)
    refused = OSError(errno.EIO, "cannot truncate")

    def ftruncate(_fd: int, _length: int) -> None:
        raise refused

    monkeypatch.setattr(os, "ftruncate", ftruncate)
    for line in _lines(3):
        sink.write_line(line)
    with pytest.raises(OSError, match="File too large"):
        sink.flush()
    budget.left = 10**6
    with pytest.raises(OSError, match="cannot truncate"):
        sink.flush()
    assert path.stat().st_size == 150
    sink.drop_unwritten()
    sink.close()


# -- the session ------------------------------------------------------------------------------


def _session_on_files(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, sink: str, room: int
) -> tuple[Any, dict[str, FileLineSink]]:
    """A 400-step run on files whose ``sink`` has ``room`` bytes."""
    run_dir.mkdir()
    files = {name: FileLineSink(run_dir / file) for name, file in _FILES.items()}
    _limited(monkeypatch, room, files[sink])
    session = LiveSessionOrchestrator(
        DryrunConfig(run_id="cut", steps=400, seed=7),
        event_sink=files["events"],
        state_sink=files["states"],
        audit_sink=files["audit"],
        metrics_sink=FileMetricsSink(run_dir / "metrics.json"),
    )
    result = session.run_to_end(400)
    session.close()
    return result, files


def _whole_lines(path: Path) -> list[bytes]:
    data = path.read_bytes()
    assert data.endswith(b"\n"), f"{path.name} ends in half a line"
    return data.splitlines()


@_DEAD_SINK
@pytest.mark.parametrize("room", [5_000, 100_001, 150_013])
def test_an_events_write_cut_short_names_the_first_line_the_file_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, room: int
) -> None:
    run_dir = tmp_path / "cut"
    result, _files = _session_on_files(run_dir, monkeypatch, "events", room)
    events = _whole_lines(run_dir / "events.jsonl")
    first_lost = len(events) + 1
    said = f"events sink failed at line {first_lost} ({_TOO_LARGE})"
    assert (result.status, result.reason, result.detail) == (
        SessionStatus.FAILED,
        "SINK_WRITE_FAILED",
        said,
    )
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert metrics["events_sink_failed_at"] == first_lost
    assert metrics["events_emitted"] == len(events)
    by_type: dict[str, int] = {}
    for line in events:
        kind = orjson.loads(line)["event_type"]
        by_type[kind] = by_type.get(kind, 0) + 1
    assert metrics["events_by_type"] == dict(sorted(by_type.items()))
    verified = verify_run(run_dir)
    assert verified.summary == f"{said}: the run is not sealed"
    assert verified.violations == (
        f"events.jsonl:{first_lost}: never written: the {said}, so the run has no C2_DRYRUN_STOP",
    )


@_DEAD_SINK
def test_a_states_write_cut_short_counts_the_snapshots_the_file_holds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_dir = tmp_path / "cut"
    result, _files = _session_on_files(run_dir, monkeypatch, "states", 700)
    snapshots = _whole_lines(run_dir / "state_snapshots.jsonl")
    said = f"states sink failed at line {len(snapshots) + 1} ({_TOO_LARGE})"
    assert result.detail == said
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert metrics["state_snapshots"] == len(snapshots)
    verified = verify_run(run_dir)
    assert verified.summary == f"{said}: the run is not sealed"
    assert len(verified.violations) == 1, verified.violations


@_DEAD_SINK
def test_an_audit_write_cut_short_leaves_the_chain_at_the_last_record_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Room for C2_DRYRUN_START and part of C2_DRYRUN_STOP: the audit dies at the seal, in
    the flush after its last record. metrics.json, written after that flush, says so, and
    its chain's head and count are those of the last whole record."""
    run_dir = tmp_path / "cut"
    result, _files = _session_on_files(run_dir, monkeypatch, "audit", 500)
    records = _whole_lines(run_dir / "audit.jsonl")
    assert [orjson.loads(record)["code"] for record in records] == ["C2_DRYRUN_START"]
    said = f"audit sink failed at record 2 ({_TOO_LARGE})"
    assert (result.status, result.detail) == (SessionStatus.FAILED, said)
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert metrics["audit_sink_failed_at"] == len(records) + 1
    assert metrics["audit_events"] == len(records)
    assert metrics["audit_head"] == hashlib.sha256(records[-1]).hexdigest()
    verified = verify_run(run_dir)
    assert verified.summary == f"{said}: the run is not sealed"
    assert len(verified.violations) == 1, verified.violations


def test_an_unwritten_event_is_uncounted_as_if_never_counted() -> None:
    """``on_unwritten`` is ``on_event`` in reverse: the document is the one without it."""
    kept = [
        ("BAR", {}),
        ("RISK_REJECTED", {"rule": "MAX_ORDER_QTY"}),
        ("ORDER_FILLED", {"after_cancel": True}),
        ("BROKER_CALL_RETRIED", {"operation": "submit"}),
    ]
    lost = [
        ("BAR", {}),
        ("ORDER_REJECTED", {"reason": "INSUFFICIENT_BALANCE"}),
        ("RISK_REJECTED", {"rule": "MAX_ORDER_QTY"}),
        ("PREFLIGHT_CHECK", {"passed": False, "reason": "CONFIG_INVALID"}),
        ("ORDER_PARTIALLY_FILLED", {"after_cancel": True}),
        ("BROKER_CALL_RETRIED", {"operation": "submit"}),
        ("BROKER_CALL_RETRIED", {"operation": "cancel"}),
        ("STATE_CHANGED", {"status": "FAILED"}),
    ]
    alone, both = MetricsCollector(), MetricsCollector()
    for event_type, payload in kept:
        alone.on_event(event_type, payload)
        both.on_event(event_type, payload)
    for event_type, payload in lost:
        both.on_event(event_type, payload)
    for event_type, payload in lost:
        both.on_unwritten(event_type, payload)
    both.status = alone.status  # the status is the session's: it stays
    said = {"run_id": "r", "audit_events": 0, "audit_head": "0" * 64}
    assert both.document(**said) == alone.document(**said)
