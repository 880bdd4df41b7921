"""Replays orders and fills from the events: what the positions and counts must be."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .._artifacts import names
from .._domain.model import FILL_EVENT_TYPES
from ._money import Money

if TYPE_CHECKING:
    from ._result import Violations

__all__ = ["Moment", "Replay"]

EVENTS: Final = names.EVENTS
_ORDER_FIELDS: Final = ("symbol", "side", "quantity")
_REPLAYED: Final = FILL_EVENT_TYPES | {
    "ORDER_SUBMITTED",
    "POSITION_CHANGED",
    "RISK_REJECTED",
    "ORDER_REJECTED",
    "PREFLIGHT_CHECK",
    "STATE_CHANGED",
    "SESSION_STOPPED",
    "BROKER_CALL_RETRIED",
}
"""The event types ``apply`` does more with than count."""


class Moment(NamedTuple):
    """The book when an event was written: what a snapshot of that moment must hold."""

    number: int
    ts_sim: int
    ts_utc: str
    steps: int
    positions: dict[str, Decimal]
    """Each symbol held, not flat."""
    equity: Decimal | None


class Replay:
    """Replays orders and fills from the events, reporting what does not add up."""

    def __init__(self, report: Violations, money: Money | None = None) -> None:
        self.report = report
        self.money = Money(None, None) if money is None else money
        """The cash and average prices the fills imply (``_money``)."""
        self.kinds: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.broker_retries: Counter[str] = Counter()
        self.late_fills = 0
        self.positions: dict[str, Decimal] = {}
        self.state_changes: list[tuple[str, str, str]] = []
        self.moments: list[Moment] = []
        """The book at each ``STATE_CHANGED``, which its snapshot holds."""
        self.end: Moment | None = None
        """The book at ``SESSION_STOPPED``, which the final snapshot holds."""
        self.stopped_status: str | None = None
        self._orders: dict[str, dict[str, Any]] = {}
        """Of each order submitted, what its fills are checked against."""
        self._filled: dict[str, Decimal] = {}
        self._trade_ids: set[tuple[str, str]] = set()  # (client_order_id, trade_id)

    def moment(self, number: int, event: dict[str, Any]) -> None:
        """After a ``STATE_CHANGED`` or ``SESSION_STOPPED`` (``event``): the book then."""
        held = {symbol: qty for symbol, qty in self.positions.items() if qty}
        steps, equity = self.kinds["BAR"], self.money.equity()
        now = Moment(number, event["ts_sim"], event["ts_utc"], steps, held, equity)
        if event["event_type"] == "SESSION_STOPPED":
            self.end = now
        else:
            self.moments.append(now)

    @property
    def fills(self) -> int:
        return sum(self.kinds[kind] for kind in FILL_EVENT_TYPES)

    def apply(self, number: int, kind: str, payload: dict[str, Any]) -> None:
        self.kinds[kind] += 1
        if kind == "BAR":  # the last price, which the equities mark positions at
            self.money.bar(payload["symbol"], Decimal(payload["close"]))
        elif kind in _REPLAYED:
            self._replay(number, kind, payload)

    def _replay(self, number: int, kind: str, payload: dict[str, Any]) -> None:
        if kind in FILL_EVENT_TYPES:
            self._fill(number, payload)
            if payload.get("after_cancel") is True:
                self.late_fills += 1
        elif kind == "ORDER_SUBMITTED":
            self._submit(number, payload)
        elif kind == "POSITION_CHANGED":
            self._position(number, payload)
        elif kind in ("RISK_REJECTED", "ORDER_REJECTED"):
            self.rejects[str(payload.get("rule") or payload.get("reason") or "UNKNOWN")] += 1
        elif kind == "PREFLIGHT_CHECK" and payload["passed"] is False:
            self.rejects[str(payload.get("reason", "UNKNOWN"))] += 1
        elif kind == "STATE_CHANGED":
            self.state_changes.append(
                (payload["trigger"], payload["from_state"], payload["to_state"])
            )

        elif kind == "SESSION_STOPPED":
            self.stopped_status = payload["status"]
            self.money.check_equity(self.report, number, payload)
        elif kind == "BROKER_CALL_RETRIED":
            self.broker_retries[str(payload.get("operation"))] += 1

    def _submit(self, number: int, order: dict[str, Any]) -> None:
        coid = order["client_order_id"]
        if coid in self._orders:
            self.report.add(EVENTS, number, f"client_order_id {coid} submitted twice")
        else:
            self._orders[coid] = {field: order[field] for field in _ORDER_FIELDS}

    def _position(self, number: int, payload: dict[str, Any]) -> None:
        replayed = self.positions.get(payload["symbol"], Decimal(0))
        if Decimal(payload["position"]) != replayed:
            self.report.add(
                EVENTS,
                number,
                f"position {payload['position']} of {payload['symbol']!r} "
                f"but the fills so far add up to {replayed}",
            )
        # Cash moves only by fills: a jump between two POSITION_CHANGED (a checkpoint's cash
        # edited before a resume, say), or from initial_cash to the first, is money no fill
        # supports; the average price is the fills' too.
        self.money.position_changed(self.report, number, payload)

    def _fill(self, number: int, fill: dict[str, Any]) -> None:
        coid, quantity = fill["client_order_id"], Decimal(fill["quantity"])
        # A fill is its order's trade: both orders of a self-trade carry the venue's one id.
        trade = (coid, fill["trade_id"])
        if trade in self._trade_ids:
            self.report.add(EVENTS, number, f"trade_id {trade[1]!r} of {coid} filled twice")
        self._trade_ids.add(trade)
        if quantity <= 0:
            self.report.add(EVENTS, number, f"fill quantity {fill['quantity']} is not positive")
        order = self._orders.get(coid)
        if order is None:
            self.report.add(EVENTS, number, f"fill of {coid}, which was never submitted")
        else:
            for field in ("symbol", "side"):
                if fill[field] != order[field]:
                    self.report.add(
                        EVENTS, number, f"fill {field} {fill[field]!r} != order's {order[field]!r}"
                    )
            self._filled[coid] = self._filled.get(coid, Decimal(0)) + quantity
            if self._filled[coid] > Decimal(order["quantity"]):
                self.report.add(
                    EVENTS, number, f"{coid} filled {self._filled[coid]} of {order['quantity']}"
                )
        signed = quantity if fill["side"] == "BUY" else -quantity
        symbol = fill["symbol"]
        held = self.positions.get(symbol, Decimal(0))
        self.positions[symbol] = held + signed
        self.money.fill(symbol, held, signed, Decimal(fill["price"]))
