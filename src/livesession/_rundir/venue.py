"""The venue feed of a run directory: attached to its ccxt broker and market-data journal.

``feed = "venue"`` is built from the config with the other plug-ins, before anything is
written; once the run's broker exists, ``attach_venue`` gives it the broker's
``fetch_ohlcv``, the journal in the run directory (``names.MARKET_JOURNAL``), the clock
that paces it and the way it waits. Tests replace ``venue_options`` to pace the feed on a
clock of their own instead of the wall.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from .._artifacts import names
from .._domain.clock import SystemClock
from .._domain.configfile import place_of
from .._exceptions import ConfigError
from .._market.venue import VenueFeed

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig
    from .._typing import Broker, MarketFeed

__all__ = ["attach_venue", "check_venue_interval", "venue_options"]

_NS_PER_S = 1_000_000_000


def _sleep_ns(ns: int) -> None:
    time.sleep(ns / _NS_PER_S)


def venue_options(cfg: DryrunConfig) -> dict[str, Any]:  # noqa: ARG001 - tests pace per config
    """The clock and the wait of a venue feed: the system clock, sleeping on the wall."""
    return {"clock": SystemClock(), "wait_ns": _sleep_ns}


def check_venue_interval(cfg: DryrunConfig) -> None:
    """Refuse a venue feed whose ``step_interval_ms`` is none of the exchange's timeframes.

    Asked before a run is created: ccxt knows them without a request, and a run created on
    such an interval could only fail at its first fetch (``ConfigError``, one line naming
    ``step_interval_ms`` and the timeframes the exchange has, after the config file and the
    line that sets it, or else the ``feed``'s, as every refusal of a config file's value).
    """
    if cfg.feed != "venue" or not cfg.broker.startswith("ccxt:"):
        return
    from ..brokers.ccxt.ohlcv import exchange_timeframe  # noqa: PLC0415 - optional extra

    try:
        exchange_timeframe(cfg.broker, cfg.step_interval_ms)
    except ConfigError as exc:
        where = place_of(cfg, "step_interval_ms") or place_of(cfg, "feed")
        if not where or type(exc) is not ConfigError:
            raise
        raise ConfigError(f"{where}{exc}") from None


def attach_venue(feed: MarketFeed | None, broker: Broker, cfg: DryrunConfig, run_dir: Path) -> None:
    """Attach a ``VenueFeed`` to ``broker`` and the run's journal (other feeds: nothing)."""
    if not isinstance(feed, VenueFeed) or feed.attached:
        return
    fetch = getattr(broker, "fetch_ohlcv", None)
    if not callable(fetch):
        raise ConfigError(
            f"feed 'venue' needs a broker that reads the venue's candles; {cfg.broker!r} does not"
        )
    symbol, interval = feed.symbol, feed.interval_ms

    def fetch_since(since_ms: int | None) -> Any:
        return fetch(symbol, interval, since_ms)

    feed.attach(
        fetch_since,
        journal=run_dir / names.MARKET_JOURNAL,
        durable=cfg.durability != "none",
        run_id=cfg.run_id,
        **venue_options(cfg),
    )
