"""``session.log.jsonl`` holds whole lines, after a full disk and after a resume.

Bug: the CLI's session log was a buffered text file. A line a full disk refused part way
left its first half in the file; the resumed run's first line was appended to it, making
one line no JSON reader takes in the middle of the log (seen with ``--log-level debug``
on a small volume: ``{"error": ..., "run_id": "r", "{"event": "state_changed", ...``).
Now each line is written whole or taken back, and a torn last line (a process killed
inside a write) is set aside in ``session.log.jsonl.torn`` before the resume appends.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names
from livesession._support import wholelines
from livesession._support.wholelines import LineLog
from livesession.cli import main
from livesession.verify import verify_run

from _helpers import checkpoint_refused

TORN = '{"event": "sink_failed", "level": "error", "run_id": "r", "'


def _lines(path: Path) -> list[dict[str, Any]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]


def test_a_line_the_disk_refuses_part_way_is_taken_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "log.jsonl"
    log = LineLog(path)
    print('{"n": 1}', file=log, flush=True)  # as structlog's PrintLogger writes a line
    write, calls = os.write, []

    def half_then_full(fd: int, data: Any) -> int:
        calls.append(len(data))
        if len(calls) == 1:
            return write(fd, bytes(data)[:3])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "write", half_then_full)
    with pytest.raises(OSError, match="No space left on device"):
        print('{"n": 2}', file=log, flush=True)
    monkeypatch.undo()
    assert calls == [9, 6]  # three bytes went, the rest was refused
    assert path.read_bytes() == b'{"n": 1}\n'  # the part line is gone
    print('{"n": 3}', file=log, flush=True)
    log.close()
    assert _lines(path) == [{"n": 1}, {"n": 3}]


def test_a_resume_sets_a_torn_last_log_line_aside(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = checkpoint_refused(tmp_path, monkeypatch)
    capsys.readouterr()
    log = run_dir / names.SESSION_LOG
    with log.open("ab") as handle:  # the process was killed inside a log line
        handle.write(TORN.encode())
    before = log.read_bytes()
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert (run_dir / f"{names.SESSION_LOG}.torn").read_text(encoding="utf-8") == TORN
    whole = before[: -len(TORN)].count(b"\n")
    assert len(_lines(log)) > whole  # every line whole: the resume's lines start their own
    assert verify_run(run_dir).ok


def test_a_log_whose_file_cannot_be_made_refuses_lines_until_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No inode left for the file: making the log raised, and ended the run just made. The
    log is made on the first line the system takes; each line before is refused."""
    path = tmp_path / "log.jsonl"

    def refused(*_args: object, **_kwargs: object) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(wholelines, "open_append", refused)
    log = LineLog(path)
    with pytest.raises(OSError, match="No space left on device"):
        print('{"n": 1}', file=log, flush=True)
    monkeypatch.undo()
    assert log.refused == 1
    assert log.refusal is not None
    assert log.refusal.errno == errno.ENOSPC
    assert not path.exists()
    print('{"n": 2}', file=log, flush=True)
    log.close()
    assert _lines(path) == [{"n": 2}]
    with pytest.raises(OSError):  # closed: nothing is made again
        print('{"n": 3}', file=log, flush=True)
    assert _lines(path) == [{"n": 2}]
