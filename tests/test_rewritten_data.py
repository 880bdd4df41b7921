"""A data file rewritten in place while a run plays it: the feed's error, never its bars.

Bug: a CSV file rewritten in place during a run, at the same size (high and low swapped on
a later row, a price changed on the grid, a time moved back five days), was played: the
run recorded a BAR with high below low (or a time going back), sealed COMPLETED and
verified, while ``config.json`` kept the original ``feed_sha256``. The feed checked again
only a price's grid and the file's length. Now each row played passes the check's per-row
checks again (a refusal is ``FEED_ERROR`` naming the file's line), and the bytes played
must hash to ``feed_sha256`` at the checked end (else ``FEED_ERROR``: the file changed
during the run); a resumed feed hashes the bytes before its checkpoint again.

The files are larger than any read buffer (a note column pads each row), so the feed reads
the rewritten bytes from the file, as a run of a large file does.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from livesession import (
    CsvReplayFeed,
    DataFileError,
    DryrunConfig,
    LiveSessionOrchestrator,
    check_csv,
)

from _helpers import Sinks

ROWS = 600
NOTE = "n" * 240  # 600 rows of some 300 bytes: more than a reader buffers (128 KiB)
HEADER = b"timestamp,open,high,low,close,volume,note\n"
LATER = 500  # the row rewritten, well after the steps taken before (line 501)


def _row(i: int) -> bytes:
    """Row ``i`` (from 0): epoch seconds a minute apart, prices on the 0.00001 grid."""
    return f"{1772442000 + 60 * i},1.08420,1.08450,1.08400,1.08430,{100 + i},{NOTE}\n".encode()


def _write(tmp_path: Path, blank_lines: int = 0) -> Path:
    path = tmp_path / "eurusd.csv"
    rows = [_row(i) for i in range(ROWS)]
    path.write_bytes(HEADER + b"".join(rows[:10]) + b"\n" * blank_lines + b"".join(rows[10:]))
    return path


def _rewrite_row(path: Path, i: int, rewritten: bytes) -> None:
    """Row ``i`` of the file written over in place, at the same size (no truncation)."""
    data = path.read_bytes()
    at = data.index(_row(i))
    assert len(rewritten) == len(_row(i))
    with path.open("r+b") as stream:
        stream.seek(at)
        stream.write(rewritten)


def _cells(i: int) -> list[bytes]:
    return _row(i).split(b",")


def _swapped_high_low(i: int) -> bytes:
    cells = _cells(i)
    cells[2], cells[3] = cells[3], cells[2]
    return b",".join(cells)


def _moved_back(i: int) -> bytes:
    cells = _cells(i)
    cells[0] = str(int(cells[0]) - 5 * 86_400).encode()  # five days back, same length
    return b",".join(cells)


def _price_on_grid(i: int) -> bytes:
    cells = _cells(i)
    cells[1] = b"1.08440"  # open 1.08420 to 1.08440: on the grid, within [low, high]
    return b",".join(cells)


_NOT_LATER = "time does not increase (line 501 has 1772471940)"


def _started(path: Path) -> tuple[LiveSessionOrchestrator, Sinks]:
    sinks = Sinks()
    cfg = DryrunConfig(
        run_id="rewritten",
        feed=f"csv:{path}",
        symbol="EUR/USD",
        qty_lot=Decimal(1),
        steps=ROWS + 10,
    )
    session = LiveSessionOrchestrator(cfg, **sinks.kwargs())
    assert session.preflight()
    session.activate()
    session.run_n_steps(10)
    return session, sinks


def _played_on(session: LiveSessionOrchestrator) -> None:
    session.run_n_steps(ROWS + 10)
    session.close()


def _played_rewritten(tmp_path: Path, row: bytes) -> tuple[Path, LiveSessionOrchestrator, Sinks]:
    """A run of the file whose row ``LATER`` is rewritten to ``row`` once the run has started,
    played on to its end: (the file, the session, its sinks)."""
    path = _write(tmp_path)
    session, sinks = _started(path)
    _rewrite_row(path, LATER, row)
    _played_on(session)
    return path, session, sinks


class TestARowTheCheckWouldRefuse:
    """The feed checks each row again as it plays it: FEED_ERROR naming the file's line."""

    @pytest.mark.parametrize(
        ("rewritten", "problem"),
        [
            (_swapped_high_low, "column high, value '1.08400': high is below low 1.08450"),
            (_moved_back, f"column timestamp, value '1772040000': {_NOT_LATER}"),
        ],
        ids=["high below low", "time moved back"],
    )
    def test_stops_the_run_before_its_bar(
        self, tmp_path: Path, rewritten: object, problem: str
    ) -> None:
        path, session, sinks = _played_rewritten(tmp_path, rewritten(LATER))  # type: ignore[operator]
        bars = sinks.events_of("BAR")
        assert len(bars) == LATER  # rows 0 to 499: not the rewritten one
        assert all(Decimal(b["payload"]["low"]) <= Decimal(b["payload"]["high"]) for b in bars)
        [error] = sinks.events_of("FEED_ERROR")
        assert error["payload"]["error"] == "DataFileError"
        message = error["payload"]["message"]
        assert message.startswith(f"data file {path}, line {LATER + 2}, {problem}")
        assert message.endswith(
            "the file changed while the run read it; restore the file the run read"
        )
        assert "\n" not in message
        assert session.status.value == "FAILED"


def test_a_bad_bar_is_told_what_to_do_at_the_check_and_to_restore_as_it_plays(
    tmp_path: Path,
) -> None:
    """The check tells a bad bar (high below low) to be corrected or dropped; a row that
    turns bad while the run plays the file is told to restore the file, and nothing else:
    the run's FEED_ERROR says what it said before, the bytes of such a run unchanged."""
    path, _, sinks = _played_rewritten(tmp_path, _swapped_high_low(LATER))
    [error] = sinks.events_of("FEED_ERROR")
    told = f"data file {path}, line {LATER + 2}, column high, value '1.08400': high is below "
    assert error["payload"]["message"] == (
        f"{told}low 1.08450: the file changed while the run read it; restore the file the run read"
    )
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=None)
    assert str(caught.value) == f"{told}low 1.08450: correct the row, or drop it"


def test_a_time_moved_back_as_it_plays_is_told_to_restore_the_file_alone(
    tmp_path: Path,
) -> None:
    """The check tells a time going back to sort the rows or correct the row; a run that
    finds one the file was rewritten with says only to restore the file (its FEED_ERROR
    records what it did before)."""
    path, _, sinks = _played_rewritten(tmp_path, _moved_back(LATER))
    [error] = sinks.events_of("FEED_ERROR")
    told = f"data file {path}, line {LATER + 2}, column timestamp, value '1772040000': {_NOT_LATER}"
    assert error["payload"]["message"] == (
        f"{told}: the file changed while the run read it; restore the file the run read"
    )
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=None)
    assert str(caught.value) == (
        f"{told}: a row out of place, or a time mistyped? Sort the rows by time, oldest first, "
        "or correct the row"
    )


class TestTheBytesPlayed:
    """A change no row's check tells is told at the end: the bytes played hash otherwise."""

    def test_a_price_changed_on_the_grid_is_the_feed_s_error_at_the_end(
        self, tmp_path: Path
    ) -> None:
        path = _write(tmp_path)
        original = hashlib.sha256(path.read_bytes()).hexdigest()
        session, sinks = _started(path)
        _rewrite_row(path, LATER, _price_on_grid(LATER))
        _played_on(session)
        assert len(sinks.events_of("BAR")) == ROWS  # each row passed its checks
        [error] = sinks.events_of("FEED_ERROR")
        message = error["payload"]["message"]
        size = path.stat().st_size
        assert message.startswith(
            f"data file {path}, line {ROWS + 1}: the file changed during the run: the {size} "
            f"bytes it played hash to "
        )
        assert f"not to {original[:12]}... (feed_sha256)" in message
        assert session.status.value == "FAILED"

    def test_the_file_unchanged_ends_as_it_did(self, tmp_path: Path) -> None:
        path = _write(tmp_path)
        session, sinks = _started(path)
        _played_on(session)
        assert len(sinks.events_of("BAR")) == ROWS
        assert not sinks.events_of("FEED_ERROR")
        assert sinks.events_of("SESSION_STOPPED")[-1]["payload"]["reason"] == "FEED_EXHAUSTED"

    def test_a_resumed_feed_hashes_the_bytes_before_its_checkpoint_again(
        self, tmp_path: Path
    ) -> None:
        """The bytes before its offset are hashed again: unchanged, the file ends as it did;
        a row rewritten after the offset is told at the end, as in a run never resumed."""
        path = _write(tmp_path)
        state = _state_after(path, 20)
        for rewrite in (False, True):
            resumed = _feed(path)
            resumed.set_state(state)
            if rewrite:
                _rewrite_row(path, LATER, _price_on_grid(LATER))
                with pytest.raises(DataFileError, match="the file changed during the run"):
                    list(iter(lambda: resumed.next_bar(0), None))  # noqa: B023 - called here
            else:
                assert len(list(iter(lambda: resumed.next_bar(0), None))) == ROWS - 20  # noqa: B023
            resumed.close()

    def test_a_resumed_feed_checks_its_next_time_against_the_row_before(
        self, tmp_path: Path
    ) -> None:
        path = _write(tmp_path)
        state = _state_after(path, LATER)
        resumed = _feed(path)
        _rewrite_row(path, LATER, _moved_back(LATER))
        resumed.set_state(state)
        with pytest.raises(
            DataFileError, match=rf"line {LATER + 2}, .*time does not increase \(line {LATER + 1}"
        ):
            resumed.next_bar(0)
        resumed.close()


def _feed(path: Path) -> CsvReplayFeed:
    return CsvReplayFeed(path, symbol="EUR/USD", tick=None, lot=Decimal(1))


def _state_after(path: Path, bars: int) -> dict[str, object]:
    """The checkpointed state of a feed that played ``bars`` bars (closed since: a crash)."""
    feed = _feed(path)
    for _ in range(bars):
        feed.next_bar(0)
    state = feed.get_state()
    feed.close()
    return state


class TestLinesNamed:
    """Mid-run errors name the file's line, as the check's do (blank lines count).

    Bug: the feed said "row 2127" where the file's line was 2501.
    """

    def test_blank_lines_count(self, tmp_path: Path) -> None:
        path = _write(tmp_path, blank_lines=3)
        feed = _feed(path)
        feed.next_bar(0)
        _rewrite_row(path, LATER, _swapped_high_low(LATER))
        with pytest.raises(DataFileError) as caught:
            list(iter(lambda: feed.next_bar(0), None))
        feed.close()
        assert caught.value.line == LATER + 2 + 3
        assert f"data file {path}, line {LATER + 5}, column high" in str(caught.value)

    def test_a_file_cut_short_names_its_line(self, tmp_path: Path) -> None:
        path = _write(tmp_path)
        feed = _feed(path)
        feed.next_bar(0)
        data = path.read_bytes()
        path.write_bytes(data[: data.index(_row(LATER)) + 10])
        with pytest.raises(DataFileError) as caught:
            list(iter(lambda: feed.next_bar(0), None))
        feed.close()
        assert str(caught.value).startswith(
            f"data file {path}, line {LATER + 2}: the file now ends before the "
            f"{len(data)} bytes its check read"
        )
