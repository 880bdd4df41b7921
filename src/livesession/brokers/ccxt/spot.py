"""A spot account's net position per symbol: its trades since the session began.

A spot account holds balances, not positions, and a fill of an order the session did not
send (someone else's market order on the same account and symbol) shows in no order the
session tracks. The account's trades do show it: the net of every trade in a symbol since
the session began (buys less sells, in the base currency) is what the venue moved for the
session's symbol, the session's fills and anyone else's. The reconciler compares it with
the book (``POSITION_MISMATCH``), as it does the positions of a venue that reports them.

The start (``since_ms``, the venue's clock) is read from the venue at the first count and
kept in the session's checkpoint, so a resumed session counts from the run's start, fills
made while it was down included. Each count asks only for the trades from the latest one
it has (one request per symbol), paging while an answer is full.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from .convert import _decimal, _on_grid, _venue_id
from .errors import _PARSE_ERRORS, _as_read_error
from .sandbox import _Exchange

__all__ = ["CountsSpotTrades", "SpotTrades"]

_PAGE: Final = 500
"""Trades asked for per request; a full answer is followed by the next page."""

Read = Callable[[Callable[[], Any]], Any]


class CountsSpotTrades:
    """Mixin of the ccxt broker: ``PositionVenue`` on a spot account, from its trades."""

    _spot: SpotTrades | None = None  # made at the first count (the broker's own attribute)
    _exchange: _Exchange
    _qty_lot: Decimal | None
    symbols: tuple[str, ...]

    def _read(self, call: Callable[[], Any], cid: str | None = None) -> Any:
        raise NotImplementedError

    def positions(self) -> Mapping[str, Decimal]:
        """The account's net trades per allowlisted symbol since the session began.

        A fill of an order the session never sent shows here only (see the module). A
        failed read, or a trade of a shape ccxt does not give, raises ``Transient``.
        """
        try:
            return self._trades().positions(self._exchange, self._read, self.symbols, self._qty_lot)
        except _PARSE_ERRORS as exc:
            raise _as_read_error(exc) from exc

    @property
    def positions_since(self) -> int | None:
        """Where ``positions`` counts from (the venue's epoch ms; None before the first count)."""
        return None if self._spot is None else self._spot.since_ms

    def count_positions_from(self, since_ms: int) -> None:
        """Count ``positions`` from ``since_ms``: a resumed run's start, from its checkpoint."""
        self._trades().start_at(since_ms)

    def _trades(self) -> SpotTrades:
        if self._spot is None:
            self._spot = SpotTrades()
        return self._spot


class SpotTrades:
    """The account's trades per symbol since ``since_ms``, each counted once."""

    def __init__(self) -> None:
        self.since_ms: int | None = None
        self._seen: dict[str, dict[tuple[Any, ...], Decimal]] = {}
        self._cursor: dict[str, int] = {}

    def start_at(self, since_ms: int) -> None:
        """Count from ``since_ms`` (the venue's epoch ms): the run's start, from a checkpoint."""
        self.since_ms = since_ms
        self._seen.clear()
        self._cursor.clear()

    def positions(
        self, exchange: _Exchange, read: Read, symbols: Sequence[str], lot: Decimal | None
    ) -> dict[str, Decimal]:
        """The net quantity the account traded per symbol since ``since_ms`` (0 left out)."""
        if self.since_ms is None:
            self.since_ms = int(read(exchange.fetch_time))
        out: dict[str, Decimal] = {}
        for symbol in symbols:
            seen = self._seen.setdefault(symbol, {})
            self._take(exchange, read, symbol, seen)
            net = sum(seen.values(), Decimal(0))
            if net:
                out[symbol] = _on_grid(net, lot)
        return out

    def _take(
        self, exchange: _Exchange, read: Read, symbol: str, seen: dict[tuple[Any, ...], Decimal]
    ) -> None:
        since = self._cursor.get(symbol, self.since_ms or 0)
        while True:
            page = read(functools.partial(exchange.fetch_my_trades, symbol, since, _PAGE))
            latest, fresh = since, 0
            for trade in page:
                key = _key(trade)
                if key not in seen:
                    seen[key] = _signed(trade)
                    fresh += 1
                stamp = trade.get("timestamp")
                if isinstance(stamp, int) and not isinstance(stamp, bool):
                    latest = max(latest, stamp)
            self._cursor[symbol] = latest  # the next count asks from here (inclusive)
            if len(page) < _PAGE or not fresh or latest == since:
                return
            since = latest


def _key(trade: Mapping[str, Any]) -> tuple[Any, ...]:
    """A trade's identity: its id, or what it says when the venue gave none."""
    trade_id = _venue_id(trade)
    if trade_id:
        return (trade_id,)
    fields = ("order", "timestamp", "side", "amount", "price")
    return ("", *(str(trade.get(name)) for name in fields))


def _signed(trade: Mapping[str, Any]) -> Decimal:
    """The base quantity a trade moved: plus for a buy, minus for a sell.

    A trade's amount must be a number above zero: one listed without it (None), or with
    ``NaN`` or an amount of zero or less, is a read that failed, so the trade is counted
    when an answer says what it moved. Before, it was counted as 0 under its id and never
    again: the venue's position stayed short of it for the whole run, and the reconciler
    failed the run ``POSITION_MISMATCH`` with the venue said to hold 0 while it held the
    run's fill.
    """
    raw = trade.get("amount")
    amount = _decimal(raw)
    if raw is None or not amount.is_finite() or amount <= 0:
        raise ValueError(f"a trade whose amount is {raw!r:.20}, not a number above zero")
    side = trade.get("side")
    if side not in ("buy", "sell"):
        raise ValueError(f"a trade without a side (buy or sell): {side!r:.20}")
    return amount if side == "buy" else -amount
