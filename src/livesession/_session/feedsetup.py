"""The feed a config names, and the config as the feed's data make it.

``default_feed`` builds the feed ``feed`` names; ``fit_to_feed`` takes from a dated feed
its start (and from a data file its price grid when none is given), and refuses data
whose run would end after the latest time a run can record (``timerange``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._domain import clock as _clock
from .._domain.decimal import plain
from .._domain.gridbounds import grid_text
from .._domain.retry import RetryPolicy
from .._domain.timerange import check_data_end
from .._exceptions import ConfigError
from .._market.feeds import CsvReplayFeed, RandomWalkFeed
from .._market.parquet import ParquetReplayFeed
from .._market.venue import VenueFeed
from .._support.references import is_reference
from . import plugins

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig
    from .._typing import MarketFeed

__all__ = ["OWN_FEEDS", "default_feed", "fit_to_feed"]

OWN_FEEDS: Final = frozenset({RandomWalkFeed, CsvReplayFeed, ParquetReplayFeed})
"""livesession's data feeds (not a subclass): each checks its bars on its own ``price_tick``
grid as it makes them, so the session does not check them again, and none changes the
decimal context it is called in."""


def default_feed(cfg: DryrunConfig, *, data_bytes: int | None = None) -> MarketFeed:
    """The feed ``cfg.feed`` names: ``random_walk``, ``csv:<path>`` or a reference.

    ``data_bytes`` (a resume: the run's ``feed_bytes``) has a CSV feed check and play the
    file's first ``data_bytes`` bytes only, as the run did before rows were appended to it.
    A Parquet file is read whole (its footer is at its end: no prefix of it is a table).
    """
    if is_reference(cfg.feed):
        return plugins.feed_from_reference(cfg)[0]
    if cfg.feed == "venue":  # attached to its venue and journal by the run directory
        return VenueFeed(
            symbol=cfg.symbol, interval_ms=cfg.step_interval_ms, retry=RetryPolicy(seed=cfg.seed)
        )
    if cfg.feed == "random_walk":
        return RandomWalkFeed(
            symbol=cfg.symbol,
            seed=cfg.seed,
            initial_price=cfg.initial_price,
            tick=cfg.price_tick,
            lot=cfg.qty_lot,
            volatility_bps=cfg.volatility_bps,
        )
    path = cfg.data_file()
    tick = cfg.price_tick or None  # 0: inferred from the data
    if path is not None and cfg.feed.startswith("csv:"):
        return CsvReplayFeed(path, symbol=cfg.symbol, tick=tick, lot=cfg.qty_lot, size=data_bytes)
    if path is not None and cfg.feed.startswith("parquet:"):
        return ParquetReplayFeed(path, symbol=cfg.symbol, tick=tick, lot=cfg.qty_lot)
    raise ConfigError(
        f"feed must be 'random_walk', 'csv:<path>' or 'parquet:<path>', got {cfg.feed!r}"
    )


def fit_to_feed(cfg: DryrunConfig, feed: object) -> DryrunConfig:
    """``cfg`` as the feed's data make it: its start and (when not given) its price grid.

    A session's time never goes back, so a run on a dated feed starts at its first bar
    (``start_time`` becomes that time). A ``price_tick`` of 0 becomes the grid the feed
    inferred from its prices. ``config.json`` records both; other feeds leave ``cfg`` be.
    The config's bounds hold at the inferred grid too (a refusal says it was inferred).
    A data file whose last bar leaves no room for the wind-down before the latest time a
    run can record is refused (``ConfigError``), as is a start the config refuses.
    """
    changes: dict[str, Any] = {}
    first = getattr(feed, "first_ts_ns", None)
    checked = getattr(feed, "checked", None)
    if getattr(feed, "dated", False) is True and isinstance(first, int):
        start = _clock.format_utc_ns(first)  # to the nanosecond, as the bar's time
        if start != cfg.start_time:
            changes["start_time"] = start
        last = getattr(checked, "last_ns", None)
        if isinstance(last, int):  # a data file's: its run ends after its last bar
            check_data_end(
                last,
                source=f"data file {getattr(checked, 'path', '?')}",
                stop_max_polls=cfg.stop_max_polls,
                step_interval_ms=cfg.step_interval_ms,
            )
    if type(feed) in OWN_FEEDS:
        _refuse_another_market(cfg, feed)
    if not cfg.price_tick:
        tick = getattr(checked, "price_tick", None)
        if not isinstance(tick, Decimal) or tick <= 0:
            raise ConfigError(f"price_tick is 0 and the feed {feed!r} infers none: set price_tick")
        changes["price_tick"] = tick
    if "price_tick" in changes:
        # The grid first, on its own: a start the config refuses (a data file's first bar in
        # 2261, past what max_steps leaves room for) was said to be the inferred tick's fault.
        tick = changes.pop("price_tick")
        try:
            cfg = attrs.evolve(cfg, price_tick=tick)
        except ConfigError as exc:  # the config's bounds at the inferred grid (``gridbounds``)
            inferred = f"price_tick {grid_text(tick)!r} is inferred from the data's prices"
            raise ConfigError(f"{exc} ({inferred}{_finest(checked)})") from None
    return attrs.evolve(cfg, **changes) if changes else cfg


def _finest(checked: object) -> str:
    """Which price an inferred tick comes from, and the way out, for a refusal at that tick.

    A float column's rounding (``1.2350000000000001e-05``) infers a tick of ``1E-21``,
    which the cash cannot be held to: the line named the tick, not the price that made it.
    """
    where = getattr(checked, "tick_from", None)
    if not isinstance(where, str):
        return ""
    return (
        f", the finest step among them, first at {where}: set price_tick to the market's tick, "
        "and the check names each price off it"
    )


def _refuse_another_market(cfg: DryrunConfig, feed: object) -> None:
    """``ConfigError`` when a feed of livesession's makes bars the session would not trade.

    Such a feed checks its bars as it makes them, and the session does not check them
    again, so what it checks them against must be the config's: its symbol (a
    ``CsvReplayFeed`` of ``EUR/USD`` on a config of ``BTC/USDT`` ran, its run recording the
    one symbol and its bars the other, where a feed of the caller's is refused at its first
    bar, ``FEED_ERROR``), and its price grid (``_refuse_other_grid``).
    """
    symbol = getattr(feed, "symbol", None)
    if symbol != cfg.symbol:
        raise ConfigError(
            f"the feed's bars are of {symbol!r}, not the config's symbol {cfg.symbol!r}: "
            f'set symbol = "{symbol}" in the config, or build the feed with '
            f'symbol="{cfg.symbol}"'
        )
    if cfg.price_tick:
        _refuse_other_grid(cfg.price_tick, feed)


def _refuse_other_grid(price_tick: Decimal, feed: object) -> None:
    """``ConfigError`` when a feed of livesession's writes prices off ``price_tick``'s grid.

    Such a feed checks its bars on its own grid (``price_tick``, given to it or inferred
    from its data), and the session does not check them again: a ``CsvReplayFeed`` built
    with ``tick=Decimal("0.0001")`` on a config whose ``price_tick`` is 0.01 ran to its end
    COMPLETED, and ``verify`` refused the run (``BAR open 1.0716 is off the price_tick 0.01
    grid``). A grid finer than the config's is refused before anything is written; one the
    config's divides (0.05 on 0.01) writes no price off it.
    """
    grid = getattr(feed, "price_tick", None)
    if not isinstance(grid, Decimal) or not grid % price_tick:
        return
    raise ConfigError(
        f"the feed's prices are on a price tick of {plain(grid)}, off the config's price_tick "
        f'{plain(price_tick)} grid: set price_tick = "{plain(grid)}" in the config, or build '
        f'the feed with tick=Decimal("{plain(price_tick)}")'
    )
