"""A simulated venue's journal that the file system refuses (a full disk).

Bug: the mock venue's journal (``broker_journal.jsonl``) was a buffered file. A write the
disk refused half way left part of the line in the file and the rest in the buffer: the
step failed with ``UNEXPECTED_ERROR``, closing the broker flushed the buffer again and
raised, and the CLI said ``livesession: error: No space left on device: free space``,
naming no file and not that the run was unsealed. Once there was room, ``resume``
appended its marker to the torn line, making one line no replay can read: the next
resume of that run failed. Now a refused line is taken back whole, ``StoreFailure``
names the journal (the run stops unsealed, exit 2, as for the idempotency store), and a
torn last line a killed process left is set aside in ``<file>.torn`` before anything is
appended.
"""

from __future__ import annotations

import errno
import os
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names
from livesession._exceptions import StoreFailure
from livesession.brokers.mock import MockBroker
from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run
from test_mock_resume import _order, _venue

T = 1_000
ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _entries(journal: Path) -> list[dict[str, Any]]:
    data = journal.read_bytes()
    assert data.endswith(b"\n")
    return [orjson.loads(line) for line in data.splitlines()]  # every line whole


class _FullAfter:
    """``os.write`` to the file ``journal`` refused once ``room`` more writes went through.

    The refused write first goes through in part (as a disk that fills in the middle of a
    line does), then the rest is refused.
    """

    def __init__(self, journal: Path, room: int) -> None:
        self.journal, self.room = journal, room
        self.refused = 0
        self._write = os.write

    def __call__(self, fd: int, data: Any) -> int:
        if not self._is_journal(fd):
            return self._write(fd, data)
        if self.room > 0:
            self.room -= 1
            return self._write(fd, data)
        self.refused += 1
        if self.refused == 1 and len(data) > 1:
            return self._write(fd, bytes(data)[: len(data) // 2])
        raise ENOSPC

    def _is_journal(self, fd: int) -> bool:
        try:
            return os.path.samestat(os.fstat(fd), self.journal.stat())
        except OSError:
            return False


def test_a_refused_journal_line_is_taken_back_and_names_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = tmp_path / "venue.jsonl"
    venue = _venue(journal)
    venue.submit(_order("a"), T)
    before = journal.read_bytes()
    offset = venue.journal_offset()
    full = _FullAfter(journal, room=0)
    monkeypatch.setattr(os, "write", full)
    with pytest.raises(StoreFailure) as refused:
        venue.submit(_order("b"), T)
    assert str(refused.value) == (
        f"the simulated venue's journal {journal} refused a write (ENOSPC: No space left on device)"
    )
    assert full.refused == 2  # half the line went, then the rest was refused
    assert journal.read_bytes() == before  # whole lines only: "b" never reached the venue
    venue.close()  # nothing is left to write: closing raises nothing
    monkeypatch.undo()
    resumed = MockBroker(journal=journal)
    resumed.resume_at(T, offset)
    resumed.submit(_order("b"), T)
    resumed.close()
    assert [entry["op"] for entry in _entries(journal)] == ["submit", "resume", "submit"]
    MockBroker(journal=journal).close()  # and a later resume reads it


def test_a_torn_last_line_is_set_aside_before_anything_is_appended(tmp_path: Path) -> None:
    """A process killed inside a write left half a line: the resume's marker starts its own."""
    journal = tmp_path / "venue.jsonl"
    venue = _venue(journal)
    venue.submit(_order("a"), T)
    offset = venue.journal_offset()
    venue.close()
    torn = b'{"now_ns":1000,"op":"submit","order":{"client_order_id":"b","limit'
    with journal.open("ab") as log:
        log.write(torn)
    resumed = MockBroker(journal=journal)
    resumed.resume_at(T, offset)
    resumed.close()
    assert [entry["op"] for entry in _entries(journal)] == ["submit", "resume"]
    assert (tmp_path / "venue.jsonl.torn").read_bytes() == torn
    again = MockBroker(journal=journal)  # read it whole: the torn line was a lost request
    again.resume_at(T, offset)
    again.close()


def _submits(run_dir: Path) -> Counter[str]:
    return Counter(
        entry["order"]["client_order_id"]
        for entry in _entries(run_dir / names.JOURNAL)
        if entry["op"] == "submit"
    )


def test_a_dryrun_whose_venue_journal_is_refused_stops_unsealed_and_resumes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["--steps", "120", "-q"]
    assert main(["dryrun", "--out", str(tmp_path / "whole"), "--run-id", "r", *args]) == 0
    whole = tmp_path / "whole" / "r"
    run_dir = tmp_path / "runs" / "r"
    full = _FullAfter(run_dir / names.JOURNAL, room=7)
    monkeypatch.setattr(os, "write", full)
    assert main(["dryrun", "--out", str(tmp_path / "runs"), "--run-id", "r", *args]) == 2
    monkeypatch.undo()
    assert full.refused == 2
    assert capsys.readouterr().err == (
        f"livesession: error: the simulated venue's journal {run_dir / names.JOURNAL} refused "
        "a write (ENOSPC: No space left on device): the run is not sealed; once the file "
        f"system has room again, `livesession status {run_dir}` says whether "
        f"`livesession resume {run_dir}` can continue it\n"
    )
    assert run_status(run_dir).verdict is Verdict.CRASHED  # status 6: resumable
    assert not verify_run(run_dir).ok  # incomplete, until it is resumed
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok
    for name in (names.EVENTS, names.SNAPSHOTS):  # the audit and metrics count the resume
        assert (run_dir / name).read_bytes() == (whole / name).read_bytes(), name
    assert max(_submits(run_dir).values()) == 1  # no order sent twice across the refusal
    assert _submits(run_dir) == _submits(whole)
