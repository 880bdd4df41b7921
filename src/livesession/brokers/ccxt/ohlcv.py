"""The venue's own candles: ``fetch_ohlcv`` through the sandbox gate, as Decimals.

The timeframe is the one of the exchange's timeframes whose length is the session's step
interval (``60_000`` ms: ``1m``); an interval the venue has no candles for is a
``ConfigError`` naming the ones it has. Like every read of the broker, the request passes
the sandbox gate first and its failure is classified (``Transient`` or ``Rejected``).
ccxt's floats become ``Decimal`` through ``str``, prices on the session's tick grid.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final

from ..._exceptions import ConfigError
from ..._support.optional import import_optional
from .convert import _decimal, _on_grid
from .sandbox import SANDBOX_EXCHANGES

__all__ = ["exchange_timeframe", "fetch_candles", "timeframe_for"]

_LATEST: Final = 5
"""Candles asked for when nothing is journaled yet (the latest closed one is used)."""
_MS_PER_S: Final = 1000


def timeframe_for(exchange: Any, interval_ms: int) -> str:
    """The exchange's timeframe that lasts ``interval_ms``."""
    timeframes = getattr(exchange, "timeframes", None) or {}
    for name in timeframes:
        try:
            seconds = exchange.parse_timeframe(name)
        except Exception:  # noqa: BLE001, S112 - a timeframe ccxt cannot measure is no match
            continue
        if int(seconds * _MS_PER_S) == interval_ms:
            return str(name)
    raise ConfigError(
        f"feed 'venue': {exchange.id} has no candles of step_interval_ms={interval_ms} "
        f"(its timeframes: {', '.join(timeframes) or 'none'})"
    )


def exchange_timeframe(exchange_id: str, interval_ms: int) -> str | None:
    """``timeframe_for`` the exchange ``exchange_id`` names, asked before a run is created.

    ccxt knows an exchange's timeframes without a request, so a venue feed's interval is
    refused (``ConfigError``) before anything is written, not at its first fetch. None for
    an exchange livesession does not trade on (``make_ccxt_broker`` refuses it by name).
    """
    name = exchange_id.removeprefix("ccxt:")
    if name not in SANDBOX_EXCHANGES:
        return None
    exchange = getattr(import_optional("ccxt", "ccxt"), name)()  # makes no request
    try:
        return timeframe_for(exchange, interval_ms)
    finally:
        exchange.close()


def fetch_candles(
    exchange: Any,
    read: Callable[[Callable[[], Any]], Any],
    symbol: str,
    interval_ms: int,
    since_ms: int | None,
    *,
    tick: Decimal | None = None,
) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
    """Candles opening at or after ``since_ms`` (None: the latest few), oldest first.

    Prices on the ``tick`` grid are written with its places (``30000.0``: ``30000.00``).
    """
    timeframe = timeframe_for(exchange, interval_ms)
    limit = _LATEST if since_ms is None else None
    raw = read(lambda: exchange.fetch_ohlcv(symbol, timeframe, since_ms, limit))
    candles = []
    for row in raw:
        ts, open_, high, low, close, volume = row[:6]
        candles.append(
            (
                int(ts),
                _on_grid(_decimal(open_), tick),
                _on_grid(_decimal(high), tick),
                _on_grid(_decimal(low), tick),
                _on_grid(_decimal(close), tick),
                _decimal(volume),
            )
        )
    return candles
