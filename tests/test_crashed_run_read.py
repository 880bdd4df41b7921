"""A crashed run's record is read in proportion: its verdict is the one it always was.

``status`` and ``list`` of a crashed run ask ``resume_problem`` (so that they agree with
what ``resume`` would do), which read every event up to the checkpoint line by line in
Python: seconds a long run, minutes for ``list`` of a month's runs. The events whose bytes
hash to the checkpoint's SHA-256 of them are now hashed and counted whole, only the lines
a check needs cut out (``_support.linescan``). Each verdict below is the one the
line-by-line read gives, damage or none.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

import orjson
import pytest

from livesession._rundir import aftercheckpoint, beforecheckpoint
from livesession._rundir.resumable import resume_problem
from livesession._support import linescan
from livesession.status import Verdict, run_status
from test_resume_damaged_record import _bar_close, _damage, _offset
from test_resume_errors import (  # noqa: F401 - its crashed run, copied for each test
    _run_dir,
    _template,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

BROKEN = pytest.mark.broken_run("it damages a crashed run to compare the two reads' verdicts")


def _line_by_line(run_dir: Path, monkeypatch) -> str | None:
    """``resume_problem`` with the events read line by line, as before."""
    with monkeypatch.context() as patched:
        patched.setattr(beforecheckpoint, "_vouched_events", lambda *_: None)
        patched.setattr(aftercheckpoint, "marked_lines", lambda *_: None)
        return resume_problem(run_dir)


@pytest.mark.broken_run("a crashed run, read and left as it is")
def test_a_whole_record_is_not_read_line_by_line(run_dir, monkeypatch):
    """Events that hash to the checkpoint's digest are not checked line by line again."""

    def refused(*_: object) -> None:
        raise AssertionError("read line by line")

    monkeypatch.setattr(beforecheckpoint, "_check_events", refused)
    found = run_status(run_dir)
    assert (found.verdict, found.resumable, found.resume_problem) == (Verdict.CRASHED, True, None)


def _edit_checkpoint(key: str, change: Callable[[int], int]) -> Callable[[Path], None]:
    def edit(run_dir: Path) -> None:
        path = run_dir / "checkpoint.json"
        checkpoint = orjson.loads(path.read_bytes())
        checkpoint["recorder"][key] = change(checkpoint["recorder"][key])
        path.write_bytes(orjson.dumps(checkpoint))

    return edit


def _tail_edited(run_dir: Path) -> None:
    """A whole line past the offset that no run wrote, and a crash's half line after it."""
    path, offset = run_dir / "events.jsonl", _offset(run_dir, "events")
    data = path.read_bytes()
    last = data[: offset - 1].rsplit(b"\n", 1)[-1]
    path.write_bytes(data[:offset] + last.replace(b'"seq":', b'"seq":9', 1) + b"\n" + last[:40])


def _keys_gone(run_dir: Path) -> None:
    for path in run_dir.glob("idempotency.sqlite*"):
        path.unlink()


@BROKEN
@pytest.mark.parametrize(
    "damage",
    [
        lambda run_dir: None,
        _tail_edited,
        lambda run_dir: _damage(run_dir, "events.jsonl", "events", _bar_close),
        _keys_gone,
        _edit_checkpoint("event_seq", lambda seq: seq - 1),
        _edit_checkpoint("ts_sim", lambda ts: ts - 1),
    ],
    ids=["crashed", "tail-edited", "a-byte-before", "keys-missing", "seq", "ts_sim"],
)
def test_the_verdict_is_the_line_by_line_one(run_dir, monkeypatch, damage):
    damage(run_dir)
    said = resume_problem(run_dir)
    assert said == _line_by_line(run_dir, monkeypatch)
    if damage is _keys_gone:
        assert said is not None
        assert "lacks" in said


@pytest.mark.parametrize("block", [4, 7, 1 << 22])
@pytest.mark.parametrize("data", [b"ab\nXc\n\nyX\nXX\nlast", b"X\n" * 5, b"long" * 9 + b"X\n"])
def test_marked_lines_are_the_line_by_line_ones(tmp_path, monkeypatch, block, data):
    monkeypatch.setattr(linescan, "_BLOCK", block)
    path = tmp_path / "f"
    path.write_bytes(data)
    for offset in range(len(data) + 2):
        found = linescan.marked_lines(path, offset, (b"X", b"y"))
        if found is None:  # a last line without its newline: read line by line
            assert not data.endswith(b"\n")
            assert offset >= len(data)
            continue
        reference = aftercheckpoint.one_by_one(path, offset, (b"X", b"y"))
        assert found == [line.rstrip(b"\n") for line in reference], offset


@pytest.mark.parametrize("block", [3, 1 << 22])
def test_scan_prefix(tmp_path, monkeypatch, block):
    monkeypatch.setattr(linescan, "_BLOCK", block)
    path = tmp_path / "f"
    data = b"first\nmid M\nplain\nM last\ntorn"
    path.write_bytes(data)
    for offset in range(len(data) + 2):
        scan = linescan.scan_prefix(path, offset, b"M")
        whole = 0 < offset <= len(data) and data[offset - 1 : offset] == b"\n"
        assert (scan is not None) == whole, offset
        if scan is not None:
            lines = data[:offset].split(b"\n")[:-1]
            assert scan.digest.hexdigest() == hashlib.sha256(data[:offset]).hexdigest()
            assert (scan.lines, scan.first, scan.last) == (len(lines), lines[0], lines[-1])
            assert scan.marked == [line for line in lines if b"M" in line]
    assert linescan.scan_prefix(tmp_path, 3, b"M") is None  # a directory
