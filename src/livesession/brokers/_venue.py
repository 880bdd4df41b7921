"""What the simulated venues share: order state, due reports, and when a bar triggers.

An order's state at the venue, the reports waiting for their due time, when a bar reaches
a resting order's price and where it fills, where a market order fills, and how an
execution splits in two.

``MockBroker`` (the dry-run venue) and the testing kit's ``FaultBroker`` both simulate an
exchange; they differ in how they decide outcomes (seeded draws or armed faults), not in
these mechanics, so each mechanic has its one definition here.
"""

from __future__ import annotations

import heapq
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING

import attrs

from .._domain.decimal import ZERO, quantize
from .._domain.model import FillReport, OrderType, Side, VenueOrder, VenueOrderStatus
from .._domain.tables import MAX_SLIPPAGE_BPS

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .._domain.model import Bar, BrokerReport, Order

__all__ = [
    "DueReports",
    "VenueState",
    "fill_price",
    "fill_reports",
    "fill_slippage",
    "halves",
    "market_price",
    "non_negative",
    "share_of",
    "touched",
]

_HALF = Decimal("0.5")


def share_of(noun: str) -> Callable[[object, attrs.Attribute[Decimal], object], None]:
    """A validator of a venue model's share of calls or orders, whose refusal says ``noun``.

    A Decimal (or an int) from 0 to 1, never a bool, a float or NaN; the refusal names the
    model, the knob and ``noun`` (``FaultModel``'s "fault rates", ``FillModel``'s "shares").

    Before ``FillModel`` had it, ``reject_rate=Decimal("NaN")`` built a venue that failed
    the run ``UNEXPECTED_ERROR`` (``InvalidOperation``, naming nothing) at its first order,
    as the config's ``[fill_model]`` refuses it in one line.
    """

    def check(inst: object, attribute: attrs.Attribute[Decimal], value: object) -> None:
        if not (_number(value) and 0 <= value <= 1):  # type: ignore[operator]
            raise ValueError(
                f"{type(inst).__name__}.{attribute.name}: {noun} are Decimals in [0, 1], "
                f"got {value!r}"
            )

    return check


def fill_slippage(_inst: object, attribute: attrs.Attribute[Decimal], value: object) -> None:
    """``FillModel.slippage_bps``: from 0 to ``MAX_SLIPPAGE_BPS``, as the config holds it.

    ``-Infinity`` filled a market order at a price of ``-Infinity`` (the run FAILED,
    ``BROKER_REPORT_INVALID``), 10,000 at zero.
    """
    if not (_number(value) and 0 <= value <= MAX_SLIPPAGE_BPS):  # type: ignore[operator]
        raise ValueError(
            f"FillModel.{attribute.name} must be a Decimal from 0 to {MAX_SLIPPAGE_BPS}, "
            f"got {value!r}"
        )


def non_negative(inst: object, attribute: attrs.Attribute[int], value: object) -> None:
    """A venue model's count of nanoseconds: a non-negative integer (never a bool)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(
            f"{type(inst).__name__}.{attribute.name} must be a non-negative integer, got {value!r}"
        )


def _number(value: object) -> bool:
    """A finite Decimal, or an int (not a bool)."""
    if isinstance(value, Decimal):
        return value.is_finite()
    return isinstance(value, int) and not isinstance(value, bool)


_BPS = Decimal(10_000)


@attrs.define
class VenueState:
    """One order as the venue holds it: its status and the quantity executed so far."""

    order: Order
    status: VenueOrderStatus = VenueOrderStatus.NEW
    filled: Decimal = ZERO
    _view: VenueOrder | None = attrs.field(default=None, init=False, eq=False, repr=False)

    def view(self) -> VenueOrder:
        """The venue's view of this order (what lookups and ``open_orders`` show).

        Kept until the order's status or fill changes: a resting order is shown every
        step, and a venue with many of them would build each one anew every time.
        """
        seen = self._view
        if seen is None or seen.status is not self.status or seen.filled_quantity != self.filled:
            seen = self._view = VenueOrder.of(self.order, filled=self.filled, status=self.status)
        return seen


class DueReports:
    """Reports waiting for their due time, handed out in due order (ties: first pushed).

    An order's waiting fills are dropped without a scan of the rest (``drop_fills``): a
    resume replays a venue's whole journal before it hands out any report, so every report
    of the run waits at once, and a scan per cancel made that replay quadratic in the
    run's orders (a resume of a realish run at step 29,000 took six minutes). A dropped
    report stays in the heap, skipped when it comes up.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[int, int, BrokerReport]] = []
        self._seq = 0
        self._fills: dict[str, list[int]] = {}
        """Per client order id, the sequence numbers of its fills still waiting."""
        self._dropped: set[int] = set()
        """Sequence numbers of reports dropped while in the heap."""

    def push(self, due: int, report: BrokerReport) -> None:
        """Queue ``report`` to be handed out once ``due`` (simulated ns) is reached."""
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, report))
        if isinstance(report, FillReport):
            self._fills.setdefault(report.client_order_id, []).append(self._seq)

    def pop_due(self, now_ns: int) -> list[BrokerReport]:
        """Remove and return the reports due by ``now_ns``, in due order."""
        out: list[BrokerReport] = []
        heap = self._heap
        while heap and heap[0][0] <= now_ns:
            report = self._taken(heapq.heappop(heap))
            if report is not None:
                out.append(report)
        return out

    def pop_first(self, count: int) -> None:
        """Remove the ``count`` first reports in due order (a replayed delivery)."""
        while count:
            if self._taken(heapq.heappop(self._heap)) is not None:
                count -= 1

    def drop_fills(self, client_order_id: str) -> None:
        """Forget the waiting fills of one order (the venue cancelled it)."""
        self._dropped.update(self._fills.pop(client_order_id, ()))

    def clear(self) -> None:
        """Forget every waiting report (a test loses them on purpose)."""
        self._heap.clear()
        self._fills.clear()
        self._dropped.clear()

    def _taken(self, item: tuple[int, int, BrokerReport]) -> BrokerReport | None:
        """The report of an entry just popped; None for one dropped meanwhile."""
        _, seq, report = item
        if seq in self._dropped:
            self._dropped.discard(seq)
            return None
        if isinstance(report, FillReport):
            waiting = self._fills[report.client_order_id]
            waiting.remove(seq)
            if not waiting:
                del self._fills[report.client_order_id]
        return report

    def __bool__(self) -> bool:
        return len(self) > 0

    def __len__(self) -> int:
        return len(self._heap) - len(self._dropped)


def touched(order: Order, price: Decimal, bar: Bar) -> bool:
    """Whether ``bar`` reaches ``price``, the limit or stop price of a resting ``order``.

    A LIMIT buy triggers when the bar trades at or below its price (a sell at or above);
    a STOP the other way round.
    """
    buy = order.side is Side.BUY
    if order.order_type is OrderType.LIMIT:
        return bar.low <= price if buy else bar.high >= price
    return bar.high >= price if buy else bar.low <= price


def fill_price(order: Order, price: Decimal, bar: Bar) -> Decimal | None:
    """Where ``bar`` fills a resting ``order`` whose limit or stop price is ``price``.

    None when the bar does not reach ``price`` (``touched``). Else at ``price``, unless the
    bar opens past it: then at its open, the first price it traded, which is worse for a
    stop (a sell stop at 99.00 in a bar opening at 95 fills at 95, never at 99.00, a price
    the bar never traded) and better for a limit (a buy limit at 100 in a bar opening at 98
    fills at 98). Either way the price lies within the bar's low..high: its open does, and
    a price it did not open past lies between its open and the extreme that reached it.
    """
    if not touched(order, price, bar):
        return None
    rising = order.side is Side.BUY
    if order.order_type is OrderType.LIMIT:
        rising = not rising  # a buy limit waits for the price to fall to it
    opened_past = bar.open >= price if rising else bar.open <= price
    return bar.open if opened_past else price


def market_price(price: Decimal, side: Side, slippage_bps: Decimal, tick: Decimal) -> Decimal:
    """Where a market order fills: ``slippage_bps`` away from ``price``, against the order.

    Rounded to the tick against the order too (a buy up, a sell down), so a slippage is
    never rounded away: 1 bps on 123.45 under a tick of 0.05 is a buy at 123.50 and a sell
    at 123.40, not 123.45 both ways. A sell never fills below one tick (a price of one tick
    slipped 10 % would round down to nothing).
    """
    if side is Side.BUY:
        return quantize(price * (_BPS + slippage_bps) / _BPS, tick, ROUND_CEILING)
    return max(quantize(price * (_BPS - slippage_bps) / _BPS, tick, ROUND_FLOOR), tick)


def halves(quantity: Decimal, lot: Decimal) -> list[Decimal]:
    """``quantity`` as two fills, the first half rounded to ``lot``; whole when that is no split."""
    first = quantize(quantity * _HALF, lot)
    return [first, quantity - first] if ZERO < first < quantity else [quantity]


def fill_reports(
    cid: str, parts: Sequence[Decimal], price: Decimal, due: int, step: int
) -> list[FillReport]:
    """One fill of ``cid`` per part at ``price``, the first at ``due``, then ``step`` apart.

    Each fill's trade id is the client order id's last 12 characters and its number.
    """
    return [
        FillReport(
            client_order_id=cid,
            trade_id=f"{cid[-12:]}-{n + 1}",
            quantity=part,
            price=price,
            ts_ns=due + n * step,
        )
        for n, part in enumerate(parts)
    ]
