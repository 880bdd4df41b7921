"""``FaultBroker``: a scriptable venue with faults armed by the test.

The venue itself is consistent and truthful: ``open_orders`` and ``order_by_client_id``
always show what it executed. The faults sit in the transport and in the timing of the
reports, and each is armed for the next call or execution it applies to:

- submit: ``transient`` (never reached the venue), ``timeout_before`` (lost before the
  venue recorded it), ``timeout_after`` (recorded, then the answer was lost), ``reject``
  (refused at once), ``reject_later`` (accepted, then a reject report);
- lookup: ``lookup_down`` (the next lookups raise ``OutcomeUnknown``);
- cancel: ``cancel_transient``, ``cancel_timeout_after`` (applied, answer lost),
  ``fill_race`` (the venue executes part of the order before the cancel lands; the cancel
  report arrives first and the fill report late);
- reports: ``duplicate_ack``, ``duplicate_fill`` (the same trade id once more, later),
  ``split_fill`` (the next execution in two fills), ``late_fill`` (the next execution's
  fill reports arrive ``late_ns`` late), ``lose_close_report`` (the next cancel or reject
  report is never delivered, though the venue's state shows it).

Two helpers make the venue itself inconsistent, for reconciliation tests: ``plant`` (an
open order nobody sent) and ``forget`` (the venue loses an order).

The faults by their everyday names (``arm`` takes either name; ``ALIASES`` maps them):
``drop`` (the request is lost before the venue sees it: ``timeout_before``), ``delay``
(the next execution's fills arrive late: ``late_fill``), ``partial_fill`` (the next
execution in two fills: ``split_fill``), ``timeout_after_recording`` (``timeout_after``),
``duplicate_ack`` and ``reject``.

For the invariants: ``recorded`` counts how often each client order id reached the venue,
``trades`` lists every execution (the venue's truth), ``delivered`` holds the distinct
fills ``poll`` handed out, and ``on_submit`` (if set) sees every submit call first.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

from .._domain.model import (
    AckReport,
    CancelReport,
    FillReport,
    OrderType,
    RejectReport,
    Side,
    VenueOrderStatus,
)
from .._exceptions import OutcomeUnknown, Rejected, Transient
from ..brokers._venue import DueReports, VenueState, fill_price, halves
from .model import (
    ALIASES,
    ALL_FAULTS,
    CANCEL_FAULTS,
    LOOKUP_FAULTS,
    REPORT_FAULTS,
    SUBMIT_FAULTS,
    a_fault,
    at_least,
    not_negative,
)

if TYPE_CHECKING:
    from .._domain.model import Bar, BrokerReport, Order, VenueOrder

__all__ = [
    "ALIASES",
    "ALL_FAULTS",
    "CANCEL_FAULTS",
    "LOOKUP_FAULTS",
    "REPORT_FAULTS",
    "SUBMIT_FAULTS",
    "FaultBroker",
    "Trade",
]


@attrs.frozen
class Trade:
    """One execution at the venue."""

    client_order_id: str
    trade_id: str
    side: Side
    quantity: Decimal
    price: Decimal
    symbol: str

    @property
    def signed(self) -> Decimal:
        """The quantity, negative for a sell."""
        return self.quantity if self.side is Side.BUY else -self.quantity


@attrs.define(kw_only=True, eq=False, repr=False)
class FaultBroker:
    """A truthful venue behind a scriptable, faulty connection. ``kind`` is ``"mock"``."""

    kind = "mock"

    latency_ns: int = attrs.field(default=0, validator=not_negative)
    late_ns: int = attrs.field(default=120_000_000_000, validator=not_negative)
    _lot: Decimal = Decimal("0.001")
    _tick: Decimal = Decimal("0.01")
    native_oco: bool = True
    _orders: dict[str, VenueState] = attrs.field(init=False, factory=dict)
    _open: dict[str, VenueState] = attrs.field(init=False, factory=dict)
    _due: DueReports = attrs.field(init=False, factory=DueReports)
    _trade_seq: int = attrs.field(init=False, default=0)
    _price: dict[str, Decimal] = attrs.field(init=False, factory=dict)
    armed: deque[str] = attrs.field(init=False, factory=deque)
    recorded: Counter[str] = attrs.field(init=False, factory=Counter)
    trades: list[Trade] = attrs.field(init=False, factory=list)
    delivered: dict[str, FillReport] = attrs.field(init=False, factory=dict)
    on_submit: Callable[[Order], None] | None = attrs.field(init=False, default=None)
    closed: bool = attrs.field(init=False, default=False)
    now_ns: int = attrs.field(init=False, default=0)
    last_fault_ns: int = attrs.field(init=False, default=0)
    """Venue time (the latest ``now_ns`` it saw) when an armed fault last took effect."""

    # -- arming ---------------------------------------------------------------------------

    def arm(self, fault: str, times: int = 1) -> None:
        """Arm ``fault`` (a name of ``ALL_FAULTS`` or ``ALIASES``) for its next ``times`` uses.

        Raises:
            ValueError: ``fault`` names no fault, or ``times`` is below 1 (which armed
                nothing, silently).
            TypeError: ``fault`` is not a str, or ``times`` not an int.
        """
        fault = a_fault("fault", fault)
        at_least("times", times, 1)
        self.armed.extend([fault] * times)

    def _take(self, choices: tuple[str, ...]) -> str | None:
        for n, fault in enumerate(self.armed):
            if fault in choices:
                del self.armed[n]
                self.last_fault_ns = self.now_ns
                return fault
        return None

    # -- the Broker protocol --------------------------------------------------------------

    def on_market(self, bar: Bar) -> None:
        """See a bar: resting limit and stop orders it crosses execute.

        At their price, or at the bar's open when it opens past that price (``fill_price``).
        """
        self.now_ns = max(self.now_ns, bar.ts_ns)
        self._price[bar.symbol] = bar.close
        for cid in list(self._open):
            venue = self._open.get(cid)
            if venue is None:
                continue
            order = venue.order
            if order.symbol != bar.symbol or order.order_type is OrderType.MARKET:
                continue
            price = None if order.limit_price is None else fill_price(order, order.limit_price, bar)
            if price is not None:
                self._execute(venue, venue.order.quantity - venue.filled, price, bar.ts_ns)

    def submit(self, order: Order, now_ns: int) -> None:
        """Record ``order`` (unless an armed fault loses it) and execute a market order."""
        self.now_ns = max(self.now_ns, now_ns)
        if self.on_submit is not None:
            self.on_submit(order)
        fault = self._take(SUBMIT_FAULTS)
        cid = order.client_order_id
        if fault == "transient":
            raise Transient("connection refused", client_order_id=cid)
        if fault == "timeout_before":
            raise OutcomeUnknown("timed out before the venue saw it", client_order_id=cid)
        self.recorded[cid] += 1
        if cid in self._orders:
            raise Rejected("duplicate", reason="DUPLICATE_CLIENT_ID", client_order_id=cid)
        venue = VenueState(order=order)
        self._orders[cid] = venue
        if fault == "reject":
            venue.status = VenueOrderStatus.REJECTED
            raise Rejected("refused", reason="VENUE_REJECT", client_order_id=cid)
        due = now_ns + self.latency_ns
        if fault == "reject_later":
            venue.status = VenueOrderStatus.REJECTED
            self._push(due, RejectReport(client_order_id=cid, reason="VENUE_REJECT", ts_ns=due))
        else:
            self._open[cid] = venue
            ack = AckReport(client_order_id=cid, venue_order_id=f"v{len(self._orders)}", ts_ns=due)
            self._push(due, ack)
            if self._take(("duplicate_ack",)):
                self._push(due + 1, ack)
            price = self._price.get(order.symbol)
            if order.order_type is OrderType.MARKET and price is not None:
                self._execute(venue, order.quantity, price, now_ns)
        if fault == "timeout_after":
            raise OutcomeUnknown("timed out after the venue recorded it", client_order_id=cid)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Cancel an open order; armed cancel faults apply."""
        self.now_ns = max(self.now_ns, now_ns)
        fault = self._take(CANCEL_FAULTS)
        cid = client_order_id
        if fault == "cancel_transient":
            raise Transient("connection refused", client_order_id=cid)
        venue = self._open.get(cid)
        if venue is None:
            raise Rejected("not open", reason="ORDER_NOT_OPEN", client_order_id=cid)
        if fault == "fill_race":
            rest = venue.order.quantity - venue.filled
            part, *unfilled = halves(rest, self._lot)
            price = self._price.get(venue.order.symbol, venue.order.limit_price or Decimal(1))
            self._execute(venue, part, price, now_ns, late=True)
            if not unfilled:  # too small to split: all of it filled before the cancel
                raise Rejected("filled meanwhile", reason="ORDER_NOT_OPEN", client_order_id=cid)
        self._cancel(venue, now_ns)
        if fault == "cancel_timeout_after":
            raise OutcomeUnknown("cancel timed out", client_order_id=cid)

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        """The reports due by ``now_ns``, in venue order."""
        self.now_ns = max(self.now_ns, now_ns)
        out = self._due.pop_due(now_ns)
        for report in out:
            if isinstance(report, FillReport):
                self.delivered.setdefault(report.trade_id, report)
        return out

    def open_orders(self) -> Sequence[VenueOrder]:
        """The orders open at the venue (its truth; no fault applies)."""
        return [self._open[cid].view() for cid in sorted(self._open)]

    def order_by_client_id(self, client_order_id: str) -> VenueOrder | None:
        """Look an order up; an armed ``lookup_down`` makes the lookup time out."""
        if self._take(LOOKUP_FAULTS):
            raise OutcomeUnknown("lookup timed out", client_order_id=client_order_id)
        venue = self._orders.get(client_order_id)
        return None if venue is None else venue.view()

    def close(self) -> None:
        """Nothing to release; ``closed`` records the call."""
        self.closed = True

    # -- truth for the invariants -----------------------------------------------------------

    def position(self, symbol: str) -> Decimal:
        """The position the venue's executions add up to."""
        return sum((t.signed for t in self.trades if t.symbol == symbol), Decimal(0))

    def plant(self, order: Order) -> None:
        """Put an open order at the venue that no session sent (for reconciliation tests)."""
        venue = VenueState(order=order)
        self._orders[order.client_order_id] = venue
        self._open[order.client_order_id] = venue

    def forget(self, client_order_id: str) -> None:
        """Make the venue lose an order entirely (an inconsistent venue, for tests)."""
        self._orders.pop(client_order_id, None)
        self._open.pop(client_order_id, None)

    def forget_one(self) -> str | None:
        """Lose the first open order without fills; its client id, or None if there is none."""
        for cid, venue in self._open.items():
            if not venue.filled:
                self.forget(cid)
                return cid
        return None

    def venue_order(self, client_order_id: str) -> VenueOrder:
        """The venue's view of an order it has, without consuming armed faults."""
        return self._orders[client_order_id].view()

    def in_flight(self) -> bool:
        """Whether any report is still due."""
        return bool(self._due)

    # -- internals ------------------------------------------------------------------------------

    def _execute(
        self,
        venue: VenueState,
        quantity: Decimal,
        price: Decimal,
        now_ns: int,
        *,
        late: bool = False,
    ) -> None:
        order = venue.order
        cid = order.client_order_id
        parts = halves(quantity, self._lot) if self._take(("split_fill",)) else [quantity]
        delay = self.late_ns if late or self._take(("late_fill",)) else 0
        duplicate = self._take(("duplicate_fill",))
        due = now_ns + self.latency_ns + delay
        for n, part in enumerate(parts):
            self._trade_seq += 1
            trade = Trade(
                client_order_id=cid,
                trade_id=f"t{self._trade_seq}",
                side=order.side,
                quantity=part,
                price=price,
                symbol=order.symbol,
            )
            self.trades.append(trade)
            fill = FillReport(
                client_order_id=cid,
                trade_id=trade.trade_id,
                quantity=part,
                price=price,
                ts_ns=due + n,
            )
            self._push(due + n, fill)
            if duplicate and n == 0:
                self._push(due + n + self.late_ns // 2 + 1, fill)
        venue.filled += quantity
        if venue.filled >= order.quantity:
            venue.status = VenueOrderStatus.FILLED
            self._open.pop(cid, None)
        else:
            venue.status = VenueOrderStatus.PARTIALLY_FILLED
        group = order.oco_group
        if (
            group is not None and self.native_oco
        ):  # native OCO: a leg's first execution cancels the others
            for other in [c for c, v in self._open.items() if v.order.oco_group == group]:
                if other != cid:
                    self._cancel(self._open[other], now_ns)

    def _cancel(self, venue: VenueState, now_ns: int) -> None:
        cid = venue.order.client_order_id
        venue.status = VenueOrderStatus.CANCELED
        self._open.pop(cid, None)
        due = now_ns + self.latency_ns
        self._push(due, CancelReport(client_order_id=cid, ts_ns=due))

    def _push(self, due: int, report: BrokerReport) -> None:
        if isinstance(report, (CancelReport, RejectReport)) and self._take(("lose_close_report",)):
            return
        self._due.push(due, report)

    def __repr__(self) -> str:
        return f"FaultBroker(latency_ns={self.latency_ns}, armed={list(self.armed)})"
