"""``KeptPause``: a venue's pause kept in ``venue_pause.json``, through its own interface.

What ``save`` writes (the pause bounded to ``[0, KEPT_MAX_NS]``, its end and the backoff's
on the wall clock) and what ``load`` makes of it later (what is left, never more than the
pause was; the backoff while a 429 would still double it; nothing once over, the file then
removed), on a wall clock of the test's own.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

import orjson
import pytest

from livesession.brokers.ccxt.keptpause import KEPT_MAX_NS, Kept, KeptPause, PauseUnreadable

S = 1_000_000_000
_NOW = 1_700_000_000 * S


def _kept(tmp_path: Path) -> tuple[KeptPause, list[int], Path]:
    wall, path = [_NOW], tmp_path / "venue_pause.json"
    return KeptPause(path, wall_ns=lambda: wall[0]), wall, path


@pytest.mark.parametrize(
    ("left", "pause"), [(10 * S, 10 * S), (-S, 0), (0, 0), (KEPT_MAX_NS + 1, KEPT_MAX_NS)]
)
def test_save_bounds_the_pause(tmp_path: Path, left: int, pause: int) -> None:
    kept, _, path = _kept(tmp_path)
    kept.save("binance", Kept(left, "Retry-After", None))
    assert orjson.loads(path.read_bytes()) == {
        "pause_ns": pause,
        "until_ns": _NOW + pause,
        "venue": "binance",
        "why": "Retry-After",
    }


def test_what_is_left_of_a_pause_and_its_backoff(tmp_path: Path) -> None:
    kept, wall, path = _kept(tmp_path)
    kept.save("binance", Kept(10 * S, "backing off", (4 * S, 8 * S)))
    record = orjson.loads(path.read_bytes())
    assert (record["backoff_ns"], record["backoff_until_ns"]) == (8 * S, _NOW + 4 * S)
    assert kept.load("okx") is None  # another venue's
    assert path.exists()
    wall[0] += 3 * S
    assert kept.load("binance") == Kept(7 * S, "backing off", (S, 8 * S))
    wall[0] += 8 * S  # the pause over, the backoff's doubling window (its end + 8 s) open
    assert kept.load("binance") == Kept(-S, "backing off", (-7 * S, 8 * S))
    wall[0] += S - 1  # its window's last ns
    assert kept.load("binance") == Kept(-2 * S + 1, "backing off", (-8 * S + 1, 8 * S))
    wall[0] += 1  # its window closes
    assert kept.load("binance") is None
    assert kept.load("binance") is None
    assert not path.exists()


def test_a_pause_over_without_a_backoff_is_removed(tmp_path: Path) -> None:
    kept, wall, path = _kept(tmp_path)
    kept.save("binance", Kept(10 * S, "Retry-After", None))
    wall[0] += 10 * S - 1
    assert kept.load("binance") == Kept(1, "Retry-After", None)
    wall[0] += 1
    assert kept.load("binance") is None
    assert not path.exists()
    assert kept.load("binance") is None  # no file: none


def test_a_wall_clock_set_back_does_not_lengthen_the_pause(tmp_path: Path) -> None:
    kept, wall, _ = _kept(tmp_path)
    kept.save("binance", Kept(10 * S, "Retry-After", (10 * S, 10 * S)))
    wall[0] -= 3600 * S
    assert kept.load("binance") == Kept(10 * S, "Retry-After", (10 * S, 10 * S))


@pytest.mark.parametrize(
    ("record", "said"),
    [
        ({"pause_ns": True}, "its pause_ns is no whole number of ns from 0 to 3 days (got True)"),
        ({"pause_ns": KEPT_MAX_NS + 1}, "its pause_ns is no whole number of ns from 0 to 3 days"),
        ({"until_ns": -1}, "its until_ns is no whole number of ns 0 or more (got -1)"),
        ({"backoff_ns": -1, "backoff_until_ns": 0}, "its backoff_ns is no whole number"),
        ({"backoff_until_ns": 5}, "its backoff_ns is no whole number of ns from 0 to 3 days"),
        ({"why": None}, "its why is not text"),
    ],
)
def test_a_record_that_cannot_be_believed(
    tmp_path: Path, record: dict[str, object], said: str
) -> None:
    kept, _, path = _kept(tmp_path)
    whole = {"pause_ns": 5 * S, "until_ns": _NOW + 5 * S, "venue": "binance", "why": "x"}
    path.write_bytes(orjson.dumps(whole | record))
    with pytest.raises(PauseUnreadable, match=f"^{re.escape('venue_pause.json: ' + said)}"):
        kept.load("binance")


def test_the_longest_pause_and_an_end_far_off_are_believed(tmp_path: Path) -> None:
    kept, _, path = _kept(tmp_path)
    record = {"pause_ns": KEPT_MAX_NS, "until_ns": 2**62, "venue": "binance", "why": "x"}
    path.write_bytes(orjson.dumps(record))
    assert kept.load("binance") == Kept(KEPT_MAX_NS, "x", None)


def test_a_file_too_large_or_a_directory_is_said(tmp_path: Path) -> None:
    kept, _, path = _kept(tmp_path)
    path.write_bytes(b" " * 5000)
    with pytest.raises(PauseUnreadable, match=r"^venue_pause\.json"):
        kept.load("binance")
    path.unlink()
    path.mkdir()
    with pytest.raises(PauseUnreadable, match=r"^venue_pause\.json: "):
        kept.load("binance")
    kept.remove()  # not a regular file: left as it is
    kept.save("binance", Kept(S, "x", None))
    assert path.is_dir()


def test_a_fifo_is_neither_written_nor_removed(tmp_path: Path) -> None:
    kept, _, path = _kept(tmp_path)
    os.mkfifo(path)
    kept.save("binance", Kept(S, "x", None))
    kept.remove()
    assert stat.S_ISFIFO(path.lstat().st_mode)


def test_remove_removes_a_regular_file(tmp_path: Path) -> None:
    kept, _, path = _kept(tmp_path)
    kept.remove()  # none: nothing to do
    kept.save("binance", Kept(S, "x", None))
    kept.remove()
    assert not path.exists()
