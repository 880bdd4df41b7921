"""A feed of livesession's given as an object makes bars of the config's symbol, on its grid.

livesession's own feeds (``RandomWalkFeed``, ``CsvReplayFeed``, ``ParquetReplayFeed``) check
their bars on their own ``price_tick`` grid as they make them, and the session does not
check them again. One built with a finer tick than the config's ``price_tick`` ran to its
end COMPLETED, and ``verify`` refused the run (``BAR open 1.0716 is off the price_tick 0.01
grid``). It is refused before anything is written; a coarser grid the config's divides
writes no price off the config's, and runs.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from livesession import (
    ConfigError,
    CsvReplayFeed,
    DryrunConfig,
    LiveSessionOrchestrator,
    RandomWalkFeed,
    create_run,
    verify_run,
)

HEADER = "timestamp,open,high,low,close,volume\n"
_REFUSED = (
    r"the feed's prices are on a price tick of 0\.0001, off the config's price_tick 0\.01 "
    r'grid: set price_tick = "0\.0001" in the config, or build the feed with '
    r'tick=Decimal\("0\.01"\)'
)


def _eurusd(tmp_path: Path) -> Path:
    rows = "".join(
        f"2026-01-01T00:{m // 60:02d}:{m % 60:02d}Z,1.0716,1.0720,1.0710,1.0718,100\n"
        for m in range(80)
    )
    path = tmp_path / "eurusd.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    return path


def _walk(*, tick: str, initial_price: str) -> RandomWalkFeed:
    return RandomWalkFeed(
        symbol="BTC/USDT",
        seed=7,
        initial_price=Decimal(initial_price),
        tick=Decimal(tick),
        lot=Decimal("0.001"),
    )


def test_a_csv_feed_on_a_finer_tick_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    feed = CsvReplayFeed(
        _eurusd(tmp_path), symbol="EUR/USD", tick=Decimal("0.0001"), lot=Decimal("0.001")
    )
    cfg = DryrunConfig(run_id="u", symbol="EUR/USD", steps=60)  # price_tick 0.01
    out = tmp_path / "runs"
    with pytest.raises(ConfigError, match=_REFUSED):
        create_run(cfg, out, feed=feed)
    assert not (out / "u").exists()


def test_a_random_walk_on_a_finer_tick_is_refused_in_memory_too() -> None:
    feed = _walk(tick="0.0001", initial_price="42000.0001")
    with pytest.raises(ConfigError, match=_REFUSED):
        LiveSessionOrchestrator(DryrunConfig(run_id="w", steps=10), feed=feed)


def test_the_csv_feed_on_the_configs_tick_runs_and_verifies(tmp_path: Path) -> None:
    feed = CsvReplayFeed(
        _eurusd(tmp_path), symbol="EUR/USD", tick=Decimal("0.0001"), lot=Decimal("0.001")
    )
    cfg = DryrunConfig(run_id="u", symbol="EUR/USD", price_tick=Decimal("0.0001"), steps=60)
    with create_run(cfg, tmp_path / "runs", feed=feed) as session:
        result = session.run_to_end(60)
    assert (result.state.value, result.steps) == ("STOPPED", 60)
    assert verify_run(tmp_path / "runs" / "u").ok


def test_a_coarser_grid_the_configs_divides_runs_and_verifies(tmp_path: Path) -> None:
    """A walk on 0.05 writes every price on the config's 0.01 grid too: not refused."""
    feed = _walk(tick="0.05", initial_price="42000.00")
    with create_run(DryrunConfig(run_id="c", steps=40), tmp_path, feed=feed) as session:
        result = session.run_to_end(40)
    assert (result.state.value, result.steps) == ("STOPPED", 40)
    assert verify_run(tmp_path / "c").ok


def test_a_csv_feed_of_another_symbol_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    """The feed's bars are ``EUR/USD``, the config's symbol the default ``BTC/USDT``: the run
    recorded the one in ``SESSION_STARTED`` and the other on every bar (a feed of the
    caller's is refused at its first bar, ``FEED_ERROR``). Refused as the session is built."""
    feed = CsvReplayFeed(
        _eurusd(tmp_path), symbol="EUR/USD", tick=Decimal("0.0001"), lot=Decimal("0.001")
    )
    cfg = DryrunConfig(run_id="s", price_tick=Decimal("0.0001"), steps=60)
    out = tmp_path / "runs"
    refused = (
        r"the feed's bars are of 'EUR/USD', not the config's symbol 'BTC/USDT': set symbol = "
        r'"EUR/USD" in the config, or build the feed with symbol="BTC/USDT"'
    )
    with pytest.raises(ConfigError, match=refused):
        create_run(cfg, out, feed=feed)
    assert not (out / "s").exists()


class _UndatedWithAFirstTime:
    """A caller's feed of made-up bars (undated: no ``dated``) that says a ``first_ts_ns``."""

    first_ts_ns = 1_790_000_000_000_000_000  # 2026-09-21, after the config's start

    def __init__(self) -> None:
        self._walk = RandomWalkFeed(
            symbol="BTC/USDT",
            seed=7,
            initial_price=Decimal("42000.00"),
            tick=Decimal("0.01"),
            lot=Decimal("0.001"),
        )
        self.symbol = self._walk.symbol

    def next_bar(self, ts_ns: int) -> object:
        return self._walk.next_bar(ts_ns)

    def get_state(self) -> dict[str, object]:
        return self._walk.get_state()

    def set_state(self, state: dict[str, object]) -> None:
        self._walk.set_state(state)


def test_only_a_dated_feeds_first_time_starts_the_run(tmp_path: Path) -> None:
    """docs/plugins.md: a feed that sets ``dated = True`` has its ``first_ts_ns`` start the
    run; an undated one's bars are made at the session's times, and its run starts at the
    config's ``start_time``, whatever ``first_ts_ns`` it has."""
    cfg = DryrunConfig(run_id="d", steps=20)
    with create_run(cfg, tmp_path, feed=_UndatedWithAFirstTime()) as session:
        result = session.run_to_end(20)
    assert (result.state.value, result.steps) == ("STOPPED", 20)
    recorded = json.loads((tmp_path / "d" / "config.json").read_bytes())
    assert recorded["start_time"] == cfg.start_time
    assert verify_run(tmp_path / "d").ok
