"""The venue's clock as ccxt measures it, re-measured after a timestamp rejection.

ccxt signs each private request with its own time plus the offset it measured from the
venue's (``adjustForTimeDifference``, once, when the markets load). A venue that refuses
a request as outside its receive window (Binance -1021, ``InvalidNonce``) says that offset
went stale: it is measured again, so that later requests carry a corrected time.
"""

from __future__ import annotations

from collections.abc import Callable

from .sandbox import _Exchange

__all__: list[str] = []


def resync_time(exchange: _Exchange, guard: Callable[[], None]) -> None:
    """Re-measure ``exchange``'s clock offset (best effort), ``guard`` first (the gate)."""
    try:
        guard()
        exchange.load_time_difference()
    except Exception:  # noqa: BLE001, S110 - the rejection already says what happened
        pass
