"""The venue's reports applied to the book: acks, fills, partial fills, rejects, cancels.

``ReportRouter`` polls the broker and applies each report once. Reports wait in an inbox
until applied, so a sink failure half-way through a batch loses none of them; reports for an
order the session does not know (yet: e.g. before a resume re-adopts it) are held, bounded;
reports that change nothing (a repeated ack or fill, a report for an order already closed or
done) are recorded as ``DUPLICATE_REPORT``. It owns the finished-order set. A fill for a
client order id the run never reserved is no order of the run's at all (another desk's on
the account, a venue's mistake): held, it would never be recorded, so it faults the session
as a fill the book cannot take.

A fill the book cannot take as the venue's word (more than the order has left, a quantity
or price that is not a positive finite ``Decimal``, a quantity off the lot or a price off
the tick, no trade id, another symbol than the order's) is not applied and not dropped: the
venue and the session disagree about a position, so the session faults with
``BROKER_REPORT_INVALID`` naming the fill, and an operator looks at the venue. A fill it
takes is recorded with the lot's and the tick's places, however the venue wrote its numbers.
"""

from __future__ import annotations

import collections
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeAlias

import attrs

from .._domain.decimal import ZERO, plain, quantizer, quoted, to_places
from .._domain.model import (
    EXACT_DIGITS,
    AckReport,
    BrokerReport,
    CancelReport,
    FillReport,
    RejectReport,
    report_from_json,
    report_to_json,
)
from .._domain.reasons import BROKER_REPORT_INVALID
from .._exceptions import BrokerError
from .._support.logging import get_logger
from .._support.references import a_
from .._support.secrets import redact_text
from .crossing import ReduceOnlyWatch

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from .book import OpenOrder
    from .broker_health import BrokerHealth
    from .context import SessionContext
    from .exits import OcoExits

__all__ = ["Booked", "ReportRouter", "fill_problem", "order_link"]

_NEVER_SENT: Final = "the run never sent an order with that client order id"
"""Why a fill of an order the session does not know, and never reserved, faults it."""
_MAX_HELD_PER_ORDER: Final = 64
_MAX_UNMATCHED_ORDERS: Final = 1024
_MAX_FINISHED: Final = 512
Booked: TypeAlias = tuple[str, str, Decimal, Decimal]
"""A fill the run booked: client order id, trade id, quantity, price (``remember``)."""
_REPORT_KINDS: Final[dict[type, str]] = {
    AckReport: "ACK",
    FillReport: "FILL",
    CancelReport: "CANCEL",
    RejectReport: "REJECT",
}


def order_link(live: OpenOrder) -> dict[str, str]:
    """The causal link of an event about ``live``: its ``ORDER_SUBMITTED`` event id.

    Empty for an order the book tracks without one (a checkpoint written before the links).
    """
    return {"order_event_id": live.event_id} if live.event_id else {}


@attrs.define(kw_only=True, eq=False, repr=False)
class ReportRouter:
    """Polls the venue and applies its reports to the book, each exactly once."""

    _c: SessionContext = attrs.field(alias="ctx", kw_only=False)
    _exits: OcoExits
    _adopt: Callable[[str, str], None]
    _after_poll: Callable[[], None]
    _health: BrokerHealth
    _fault: Callable[..., None]
    _sent: Callable[[str], bool]
    """Whether the run ever reserved (so sent, or meant to send) a client order id."""
    _inbox: collections.deque[BrokerReport] = attrs.field(init=False, factory=collections.deque)
    _unmatched: dict[str, list[BrokerReport]] = attrs.field(init=False, factory=dict)
    _finished: dict[str, None] = attrs.field(init=False, factory=dict)
    _booked: dict[str, dict[str, tuple[Decimal, Decimal]]] = attrs.field(init=False, factory=dict)
    """Per order, each fill booked: trade id to (quantity, price), so that a repeat of a
    trade id is told from a re-delivery (not checkpointed: a resume rebuilds it from the
    run's fill records, ``remember``)."""
    _crossed: ReduceOnlyWatch = attrs.field(init=False, factory=ReduceOnlyWatch)
    unbooked: str = attrs.field(init=False, default="")
    """The fill the book refused (``BROKER_REPORT_INVALID``), as the fault's one line says
    it: the venue may hold another position than the book's (never "flat" then)."""
    _to_tick: Callable[[Decimal], Decimal] = attrs.field(init=False)

    @_to_tick.default
    def _tick_rounding(self) -> Callable[[Decimal], Decimal]:
        return quantizer(self._c.config.price_tick)

    def owed(self) -> bool:
        """Whether the venue may owe the session a report.

        True while an order of the session's is open or closing, or reports wait here;
        otherwise a poll could only come back empty.
        """
        book = self._c.book
        return bool(book.open or book.closed or self._inbox or self._unmatched)

    def process(self) -> bool:
        """Apply the venue's reports; those not yet applied wait in the inbox.

        A report leaves the inbox just before it is applied, so a sink failure half-way
        through a batch (which stops the session) loses none of the rest. Returns whether
        the venue reported anything (applying a report may call the venue: OCO exits).
        """
        inbox = self._inbox
        if self._unmatched:
            self._release_unmatched()
        try:
            reports = self._c.broker.poll(self._c.time.ts_sim)
        except BrokerError as exc:
            reports = ()  # nothing arrived; the venue keeps what it owes
            self._health.failed("poll", exc, poll=True)
        else:
            self._health.polled()
        if reports:
            inbox.extend(reports)
        try:
            self._apply_inbox()
        except _InvalidFill as bad:
            self.unbooked = self.unbooked or bad.summary
            self._fault(BROKER_REPORT_INVALID, bad.detail, summary=bad.summary)
            return True
        self._after_poll()
        return bool(reports)

    def _apply_inbox(self) -> None:
        book, inbox = self._c.book, self._inbox
        while inbox:
            report = inbox.popleft()
            cid = report.client_order_id
            if cid in book.open:
                self._on_report(report)
            elif cid in book.closed:
                if isinstance(report, FillReport):
                    self._on_fill(report)  # a fill that raced the cancel
                else:
                    self._duplicate(report, "CLOSED")
            elif cid not in self._finished:
                if isinstance(report, FillReport) and not self._sent(cid):
                    raise _InvalidFill(report, _NEVER_SENT)
                self._hold_unmatched(report)
            else:
                if isinstance(report, FillReport):
                    self._check_repeat(report)
                self._duplicate(report, "DONE")

    def finish(self, cid: str) -> None:
        """Remember that ``cid`` is done, so late duplicates of its reports are dropped."""
        self._finished[cid] = None
        self._unmatched.pop(cid, None)
        if len(self._finished) > _MAX_FINISHED:
            oldest = next(iter(self._finished))
            del self._finished[oldest]
            self._booked.pop(oldest, None)

    def remember(self, fills: Iterable[Booked]) -> None:
        """Take the fills the run booked before a resume as booked here (``_check_repeat``).

        ``fills`` are the run's records up to the checkpoint (client order id, trade id,
        quantity, price): those of an order the session still knows (tracked, or done and
        not forgotten), as the uninterrupted session holds them. Before, a resumed session
        took a repeat of an older trade id with other numbers for a re-delivery.
        """
        book = self._c.book
        for cid, trade_id, quantity, price in fills:
            if cid in self._finished or book.tracked(cid) is not None:
                self._booked.setdefault(cid, {})[trade_id] = (quantity, price)

    def booked(self, cid: str) -> Mapping[str, tuple[Decimal, Decimal]]:
        """Each trade id booked for order ``cid``, with its (quantity, price)."""
        return self._booked.get(cid, {})

    def take_crossed(self) -> bool:
        """Whether a reduce-only fill added exposure since the last call (then forgets it)."""
        return self._crossed.take()

    def held_orders(self) -> frozenset[str]:
        """Client ids whose reports arrived before the session knew the order."""
        return frozenset(self._unmatched)

    def waiting_fills(self) -> frozenset[str]:
        """Trade ids of fills that arrived and are not applied yet."""
        return frozenset(r.trade_id for r in self._inbox if isinstance(r, FillReport))

    def _release_unmatched(self) -> None:
        """Reports that arrived before their order was (re)adopted (e.g. after a resume)."""
        known = [cid for cid in self._unmatched if self._c.book.tracked(cid) is not None]
        for cid in known:
            self._inbox.extend(self._unmatched.pop(cid))

    def _on_report(self, report: BrokerReport) -> None:
        live = self._c.book.open.get(report.client_order_id)
        if live is not None and live.in_doubt:
            # The venue reports on it, so it has it: adopt before applying the report.
            self._adopt(report.client_order_id, f"report:{type(report).__name__}")
        if isinstance(report, FillReport):
            self._on_fill(report)
        elif isinstance(report, AckReport):
            self._on_ack(report)
        elif isinstance(report, RejectReport):
            self.on_reject(report)
        else:
            self.on_cancel(report)

    def _hold_unmatched(self, report: BrokerReport) -> None:
        """Keep a report for an order the session does not know (yet), bounded.

        Once the finished-order set is full, such an order may be one the session finished
        and forgot: a late or repeated report for it is held, not recorded, and a repeat
        with other numbers goes unjudged. The session log says so (``_forgotten_order``).
        """
        cid = report.client_order_id
        if cid not in self._unmatched and len(self._finished) >= _MAX_FINISHED:
            self._forgotten_order(report)
        held = self._unmatched.setdefault(cid, [])
        if len(held) < _MAX_HELD_PER_ORDER:
            held.append(report)
        while len(self._unmatched) > _MAX_UNMATCHED_ORDERS:
            self._unmatched.pop(next(iter(self._unmatched)))

    def _forgotten_order(self, report: BrokerReport) -> None:
        """Warn that a held report may be for an order finished beyond ``_MAX_FINISHED``."""
        get_logger().warning(
            "report_held_order_unknown",
            run_id=self._c.config.run_id,
            client_order_id=report.client_order_id,
            report=_REPORT_KINDS[type(report)],
            trade_id=report.trade_id if isinstance(report, FillReport) else None,
            message=f"held: the order is not tracked, nor among the {_MAX_FINISHED} orders "
            "the session finished last; if it finished before them, this is a late or "
            "repeated report the session no longer judges (a repeat with other numbers goes "
            "uncaught): compare the venue's trades of the order with events.jsonl",
        )

    def _duplicate(self, report: BrokerReport, order: str) -> None:
        """A report that changes nothing (a repeat, or one for an order already done)."""
        payload: dict[str, Any] = {
            "client_order_id": report.client_order_id,
            "report": _REPORT_KINDS[type(report)],
            "order": order,
        }
        if isinstance(report, FillReport):
            payload["trade_id"] = report.trade_id
        self._c.recorder.emit("DUPLICATE_REPORT", payload)

    def _on_ack(self, report: AckReport) -> None:
        live = self._c.book.open.get(report.client_order_id)
        if live is None:
            return
        if live.acked:
            self._duplicate(report, "OPEN")
            return
        live.acked = True
        self._c.recorder.emit(
            "ORDER_ACCEPTED",
            {
                "client_order_id": report.client_order_id,
                "venue_order_id": report.venue_order_id,
                **order_link(live),
            },
        )

    def on_reject(self, report: RejectReport) -> None:
        """The venue refused an order: close it, with no exits to place (a leg: ``take_lost``)."""
        cid = report.client_order_id
        closed = self._c.book.close_order(cid)
        if closed is not None:
            self._c.recorder.emit(
                "ORDER_REJECTED",
                {"client_order_id": cid, "reason": report.reason, **order_link(closed)},
            )
            self._exits.forget(cid)
            self._exits.on_leg_closed(closed, rejected=True)
            self.finish(cid)

    def on_cancel(self, report: CancelReport) -> None:
        """The venue cancelled an order: close it; what it filled still gets its exits."""
        cid = report.client_order_id
        closed = self._c.book.close_order(cid, confirm=True)
        if closed is None:
            return
        payload = {"client_order_id": cid, "filled": plain(closed.filled), **order_link(closed)}
        if closed.cancel_reason:
            payload["reason"] = closed.cancel_reason  # the session's own: an entry at a halt
        self._c.recorder.emit("ORDER_CANCELED", payload, routine=self._exits.routine_cancel(closed))
        self._exits.on_cancelled(closed)
        self._exits.on_leg_closed(closed, rejected=False)

    def _on_fill(self, report: FillReport) -> None:
        """Apply a fill once; duplicates and fills of unknown orders change nothing."""
        book = self._c.book
        rec = self._c.recorder
        cid = report.client_order_id
        live = book.tracked(cid)
        after_cancel = cid not in book.open
        if live is None:
            return
        if report.trade_id in live.trade_ids:
            self._check_repeat(report)
            self._duplicate(report, "CLOSED" if after_cancel else "OPEN")
            return
        order = live.order
        lot, tick = self._c.config.qty_lot, self._c.config.price_tick
        left = order.quantity - live.filled
        problem = fill_problem(report, left, lot=lot, tick=tick, symbol=order.symbol)
        if problem is not None:
            raise _InvalidFill(report, problem)
        quantity, price = to_places(report.quantity, lot), to_places(report.price, tick)
        before = book.positions.get(order.symbol, ZERO)
        book.apply_fill(cid, report.trade_id, quantity, price)
        self._booked.setdefault(cid, {})[report.trade_id] = (quantity, price)
        # A venue that does not hold reduce-only orders to its position may open, grow or
        # flip exposure with one (both legs of an OCO pair filled, say). The book mirrors
        # the venue; the step judges each reduce-only fill against the position at the
        # venue's fill time and pulls the kill switch (``take_crossed``, ``crossing.py``).
        after = book.positions[order.symbol]
        self._crossed.fill(order.symbol, before, after, report.ts_ns, reduce_only=order.reduce_only)
        remaining = order.quantity - live.filled
        payload: dict[str, Any] = {
            "client_order_id": cid,
            "trade_id": report.trade_id,
            "symbol": order.symbol,
            "side": order.side.value,
            "quantity": plain(quantity),
            "price": plain(price),
            "filled": plain(live.filled),
            "remaining": plain(remaining),
        }
        if after_cancel:
            payload["after_cancel"] = True
        payload.update(order_link(live))
        live.fill_event_id = rec.emit(
            "ORDER_FILLED" if remaining == 0 else "ORDER_PARTIALLY_FILLED", payload
        )
        self._c.governor.count_execution()
        # The artifact contract keeps prices on the instrument's tick: the exact average
        # (the book's, the strategy's view's, the checkpoint's) rounded once, half-even, never
        # a rounded one averaged again. A flat position has none: the required field says 0.
        average = book.average_on(order.symbol, self._c.config.price_tick)
        rec.emit(
            "POSITION_CHANGED",
            {
                "symbol": order.symbol,
                "position": plain(book.position(order.symbol)),
                "avg_price": "0" if average is None else plain(self._to_tick(average)),
                "cash": plain(book.cash),
                "equity": plain(book.equity()),
            },
        )
        if book.tracked(cid) is None:
            self.finish(cid)
        if order.oco_group is not None:
            self._exits.on_leg_fill(order)
        if remaining == 0 and not after_cancel:
            self._exits.on_filled(live)
        elif after_cancel:
            self._exits.on_late_fill(live)

    def _check_repeat(self, fill: FillReport) -> None:
        """A repeat of a trade id is a re-delivery only with the numbers booked under it.

        One with another quantity or price is another trade under the same id (or a venue
        that rewrote it): dropped as a duplicate, the book and the venue would disagree by
        that trade without a word. A resumed session knows the fills booked before it too.
        """
        booked = self._booked.get(fill.client_order_id, {}).get(fill.trade_id)
        if booked is None or (fill.quantity, fill.price) == booked:
            return
        quantity, price = booked
        raise _InvalidFill(
            fill,
            f"its trade id repeats a fill of the order booked as {plain(quantity)} at "
            f"{plain(price)}, with other numbers ({quoted(fill.quantity)} at "
            f"{quoted(fill.price)}): not a re-delivery",
        )

    # -- checkpoint ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns.

        ``reduce_only_fills`` (the fills the ``REDUCE_ONLY_CROSSED`` rule judges against)
        only once a fill was applied: a run without one checkpoints as it always did.
        """
        state: dict[str, Any] = {
            "unmatched": [
                [cid, [report_to_json(r) for r in reports]]
                for cid, reports in self._unmatched.items()
            ],
            "inbox": [report_to_json(r) for r in self._inbox],
            "finished": list(self._finished),
        }
        crossing = self._crossed.get_state()
        if crossing:
            state["reduce_only_fills"] = crossing
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint made by ``get_state``."""
        self._unmatched = {
            cid: [report_from_json(r) for r in reports]
            for cid, reports in state.get("unmatched", ())
        }
        self._inbox = collections.deque(report_from_json(r) for r in state.get("inbox", ()))
        self._finished = dict.fromkeys(state.get("finished", ()))
        self._crossed.set_state(state.get("reduce_only_fills") or {})


def fill_problem(
    fill: FillReport,
    left: Decimal,
    *,
    lot: Decimal | None = None,
    tick: Decimal | None = None,
    symbol: str | None = None,
) -> str | None:
    """Why ``fill`` cannot be applied to an order with ``left`` unfilled; None when it can.

    Given the session's ``lot`` and ``tick``, a quantity off the one or a price off the
    other is a reason: the run could not record it on the grid, and rounding it would
    record a fill the venue never made. Given the order's ``symbol``, a fill the venue
    reported under another is one too: booked to the order, it would move the wrong
    position.
    """
    problem = _whose_problem(fill, symbol)
    if problem is not None:
        return problem
    for name in ("quantity", "price"):
        value = getattr(fill, name)
        if not isinstance(value, Decimal):
            return f"its {name} is {a_(type(value).__name__)} ({quoted(value)}), not a Decimal"
        if not value.is_finite() or value <= 0:
            return f"its {name} is {quoted(value)}, not a positive number"
    for name, step, grid in (("quantity", lot, "qty_lot"), ("price", tick, "price_tick")):
        value = getattr(fill, name)
        if step is not None and (value >= step.scaleb(EXACT_DIGITS) or value % step):
            return f"its {name} {quoted(value)} is not a multiple of the {grid} {plain(step)}"
    if fill.quantity > left:
        return (
            f"its quantity {quoted(fill.quantity)} is more than the {plain(left)} left of the order"
        )
    return None


def _whose_problem(fill: FillReport, symbol: str | None) -> str | None:
    """Why ``fill`` is no trade of the order (of ``symbol``) the book can name; None: it is."""
    if not isinstance(fill.trade_id, str) or not fill.trade_id:
        return f"its trade_id is {fill.trade_id!r}, not a non-empty string"
    if symbol is not None and fill.symbol is not None and fill.symbol != symbol:
        return f"the venue reported it under symbol {fill.symbol!r}, not the order's {symbol!r}"
    return None


class _InvalidFill(Exception):
    """A fill ``fill_problem`` refused, on its way out of the batch to the fault."""

    def __init__(self, fill: FillReport, problem: str) -> None:
        problem = redact_text(problem)  # it quotes what the broker sent
        super().__init__(problem)
        trade_id = fill.trade_id if isinstance(fill.trade_id, str) else repr(fill.trade_id)
        self.detail = {
            "client_order_id": fill.client_order_id,
            "trade_id": trade_id,
            "problem": problem,
        }
        self.summary = f"the venue's fill {trade_id!r} of {fill.client_order_id}: {problem}"
