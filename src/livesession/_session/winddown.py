"""Ending exposure: the wind-down to STOPPED and the kill switch.

The wind-down cancels what is open, flattens what is held and waits (on simulated time, at
most ``stop_max_polls`` polls) until the venue has confirmed every final fill; then the
session is STOPPED and sealed, or, out of polls, faults to an operator (``STOP_INCOMPLETE``,
listing the orders still open and the positions still held). The kill switch is
the same work while the session keeps running: HALTED at once, cancel, flatten, and
``KILL_SWITCH_FLAT`` with the time it took once nothing is open or can still fill.

A halt that does not flatten (the execution throttle's, an unhealthy broker's) cancels
less: only the orders that could add exposure (``cancel_entries``), each ``ORDER_CANCELED``
with reason ``TRADING_HALTED``; reduce-only orders, the legs protecting a position among
them, stay.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs

from .._domain.decimal import plain
from .._domain.lifecycle import SessionState, Trigger
from .._domain.model import Order, OrderType
from .._domain.reasons import STOP_INCOMPLETE
from .._exceptions import BrokerError, Rejected
from .._support.crash import crashpoint

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .broker_health import BrokerHealth
    from .context import SessionContext
    from .lifecycle import SessionLifecycle

__all__ = ["HALT_CANCEL", "WindDown"]

HALT_CANCEL: Final = "TRADING_HALTED"
"""The reason an ``ORDER_CANCELED`` gives for an entry the session cancelled at a halt."""

S = SessionState
_WINDING = (S.DRYRUN_ACTIVE, S.STOPPING)  # a kill goes on in these; a fault ends it


class _Reconcile(Protocol):
    def __call__(self, *, hold: bool = True, take_found: bool = False) -> None: ...


@attrs.define(kw_only=True, eq=False, repr=False)
class WindDown:
    """Owns the kill switch's start time; cancels, flattens, and reaches STOPPED."""

    _c: SessionContext = attrs.field(alias="ctx", kw_only=False)
    _lifecycle: SessionLifecycle
    _process_reports: Callable[[], object]
    _flatten: Callable[[], Sequence[Order]]
    _reconcile: _Reconcile
    _escalated_orders: Callable[[], set[str]]
    _doubt_pending: Callable[[], str] = attrs.field(default=lambda: "")
    """Where the venue may hold another position than the book (``Reconciliation``'s)."""
    _pending: Callable[[], tuple[str, ...]] = attrs.field(default=tuple)
    """The differences with the venue still within their grace (``Reconciliation``'s)."""
    _seal: Callable[[], None]
    _health: BrokerHealth
    kill_started_ns: int | None = attrs.field(init=False, default=None)
    flattened: dict[str, str] = attrs.field(init=False, factory=dict)
    """By symbol, what the wind-down's own flatten closed (``SELL 0.010 BTC/USDT``): what
    the strategy still held as the run stopped (a kill's flatten is not here)."""

    @property
    def killing(self) -> bool:
        """Whether a kill switch is still flattening."""
        return self.kill_started_ns is not None

    def request_stop(self, reason: str) -> None:
        """STOPPING, then the wind-down."""
        self._lifecycle.transition(Trigger.REQUEST_STOP, reason)
        self.wind_down()

    def wind_down(self) -> None:
        """Cancel, flatten and reach STOPPED within ``stop_max_polls`` polls, or fault.

        Done means: no open order, flat, the venue confirmed the final fills of every
        cancelled order (apart from differences an operator was already told about), and no
        difference with the venue pending (``done``).
        """
        lifecycle = self._lifecycle
        if lifecycle.state is not S.STOPPING or self._clock_went_back():
            return
        book = self._c.book
        self.cancel_open()
        for _ in range(self._c.config.stop_max_polls):
            self._process_reports()
            if not lifecycle.in_(S.STOPPING):  # a report it could not apply
                return
            if not book.open and not self.is_flat():
                self._note_flatten(self._flatten())
                crashpoint("after_flatten")
                self._process_reports()
            self._reconcile(take_found=True)  # with what a resume found (``aftercheckpoint``)
            if self.done():
                break
            # the reconciler escalated, or the clock went back in the poll's wait
            if not (lifecycle.in_(S.STOPPING) and self._poll()):
                return
        else:
            # Out of polls: a resume's hold no longer applies (the operator is called
            # either way), so differences that outlasted their grace are escalated now and
            # the acknowledgement that follows can settle them (``drop_escalated``). The
            # last wait's reports may finish it (a flatten filled meanwhile): then it is done.
            self._process_reports()
            self._reconcile(hold=False, take_found=True)
            if not self.done():
                if lifecycle.in_(S.STOPPING):
                    lifecycle.fault(STOP_INCOMPLETE, self.incomplete(self._doubt_pending()))
                return
        if self.kill_started_ns is not None:
            self.check_flat()
        lifecycle.transition(Trigger.STOPPED, lifecycle.reason or "stopped")
        self._seal()

    def _note_flatten(self, orders: Sequence[Order]) -> None:
        """What the flatten that went out closes, by symbol: the first, if it goes again.

        None for a symbol the venue holds nothing of: no flatten went out for it.
        """
        if self.kill_started_ns is not None:  # a kill's flatten is the kill's to tell
            return
        for order in orders:
            said = f"{order.side.value} {plain(order.quantity)} {order.symbol}"
            self.flattened.setdefault(order.symbol, said)

    def _poll(self) -> bool:
        """Cancel what is open and wait one poll; False if the clock went back (a fault)."""
        self.cancel_open()
        self._c.time.wait(self._c.time.interval_ns)
        return not self._clock_went_back()

    def _clock_went_back(self) -> bool:
        """Fault ``CLOCK_REGRESSION`` if a wait read the clock going back (no tick will)."""
        found = self._c.time.take_regression()
        if found is None:
            return False
        previous, now = found
        self._lifecycle.fault("CLOCK_REGRESSION", {"previous": previous, "now": now})
        return True

    def done(self) -> bool:
        """Whether the wind-down is done (False once the reconciler escalated).

        Done: nothing open, flat, every final fill confirmed, and no difference with the
        venue pending. A difference still within its grace (an order the venue has and the
        book does not, another position) would otherwise be sealed over in silence: a
        resume's hold keeps one pending for longer than the rest of the run. The re-run is
        over, so nothing it still sends can explain one: one more pass decides on the grace
        alone, escalating what outlasted it (``RECONCILE_ESCALATED``, the operator); the
        wind-down polls on while one is still within its grace.
        """
        book = self._c.book
        if not self._lifecycle.in_(S.STOPPING) or book.open or not self.is_flat():
            return False
        if self.unconfirmed_closed():
            return False
        if self._pending():
            self._reconcile(hold=False)
        return not self._pending() and self._lifecycle.in_(S.STOPPING)

    def incomplete(self, in_doubt: str = "") -> dict[str, str]:
        """What a wind-down that ran out of polls leaves behind, for the operator's record.

        The count stays first-class (``open_orders``); the orders themselves (client id,
        side, filled/quantity, symbol) and any position still held are listed so the
        operator can act at the venue from the audit record or the CLI's one stderr line;
        so are the cancelled orders whose final fills the venue never confirmed
        (``unconfirmed``: it may have filled them before their cancels landed).
        ``in_doubt``: where the venue may hold another position than the book (fills it made
        and has not reported yet), so the book's flat is never read as the venue's.
        """
        book = self._c.book
        detail = {"open_orders": str(len(book.open))}
        if book.open:
            detail["orders"] = "; ".join(
                f"{cid} {live.order.side.value} {live.filled}/{live.order.quantity} "
                f"{live.order.symbol}"
                for cid, live in sorted(book.open.items())
            )
        held = [f"{sym} {qty}" for sym, qty in sorted(book.positions.items()) if qty]
        if held:
            detail["positions"] = "; ".join(held)
        unconfirmed = self.unconfirmed_said()
        if unconfirmed:  # cancelled: the venue may have filled them before the cancel landed
            detail["unconfirmed"] = unconfirmed
        if in_doubt:
            detail["in_doubt"] = in_doubt
        return detail

    def unconfirmed_closed(self) -> list[str]:
        """Cancelled orders whose final fills the venue has not confirmed (not escalated)."""
        escalated = self._escalated_orders()
        return [cid for cid in self._c.book.closed if cid not in escalated]

    def unconfirmed_said(self) -> str:
        """``unconfirmed_closed`` as a record says them: sorted, ``"a; b"`` ("" for none)."""
        return "; ".join(sorted(self.unconfirmed_closed()))

    def cancel_open(self) -> None:
        """Ask the venue to cancel every open order not already being cancelled.

        Reduce-only market orders (exits and flatten orders on their way) are left alone,
        and so are orders in doubt (they are cancelled once adopted).
        """
        for cid, live in sorted(self._c.book.open.items()):
            order = live.order
            if order.reduce_only and order.order_type is OrderType.MARKET:
                continue
            self.request_cancel(cid)

    def cancel_entries(self) -> bool:
        """While trading is HALTED by a halt that does not flatten: cancel what adds exposure.

        HALTED means no new exposure, yet an entry resting at the venue (a LIMIT or STOP
        entry, say) could still fill, and its protective legs would then be refused: an
        unprotected position. So every order that could add exposure (``adding_orders``) is
        cancelled, its ``ORDER_CANCELED`` with reason ``TRADING_HALTED``; reduce-only orders
        (the legs protecting a position, exits) stay. Asked on every step the halt lasts, so
        a cancel that failed, or an order adopted out of doubt, is cancelled on a later one.
        True when a cancel request was sent (the step then polls for its report).
        """
        book = self._c.book
        asked = False
        for cid in book.adding_orders():
            live = book.open[cid]
            if live.cancel_requested or live.in_doubt:
                continue
            self.request_cancel(cid, reason=HALT_CANCEL)
            asked = True
        return asked

    def request_cancel(self, cid: str, *, reason: str = "") -> str:
        """Send one cancel request for ``cid`` unless one was accepted already.

        ``reason``: what its ``ORDER_CANCELED`` says (``HALT_CANCEL``); none by default.
        The outcome: ``""`` when nothing was sent (not open, a cancel already accepted,
        in doubt, or the lease lost), ``SENT``, ``NOT_OPEN_AT_VENUE`` (the venue says it
        is not open: its last report is on the way), or the failed call's error type.
        """
        live = self._c.book.open.get(cid)
        if live is None or live.cancel_requested or live.in_doubt:
            return ""
        if not self._c.may_send():
            return ""  # the lease is lost: the new holder owns the venue's orders
        try:
            self._c.broker.cancel(cid, self._c.time.ts_sim)
        except Rejected:
            live.cancel_requested = True  # not open at the venue: its last report is on the way
            live.cancel_reason = reason
            self._health.ok("cancel")
            return "NOT_OPEN_AT_VENUE"
        except BrokerError as exc:
            self._health.failed("cancel", exc)  # not sent, or unknown: the next pass asks again
            return type(exc).__name__
        live.cancel_requested = True
        live.cancel_reason = reason
        self._health.ok("cancel")
        return "SENT"

    def is_flat(self) -> bool:
        """No position in any symbol."""
        return not any(self._c.book.positions.values())

    # -- the kill switch -------------------------------------------------------------------

    def kill(self, reason: str, figures: Mapping[str, str] | None = None) -> None:
        """HALTED, cancel everything, flatten; ``continue_kill`` finishes on later steps."""
        self.trip(reason, figures)
        self.carry_out_kill()

    def trip(self, reason: str, figures: Mapping[str, str] | None = None) -> None:
        """The kill's first half: HALTED and ``KILL_SWITCH``, nothing sent yet.

        ``figures``: what pulled it, in its payload (the daily-loss cap's drawdown, limit,
        peak and equity). An operator's kill is checkpointed here (``verbs.kill``), before
        its cancels and its flatten go out: a crash in them resumes the run HALTED and
        flattening, not trading.
        """
        if self._c.book.found_after:  # what a resume found is open too (``aftercheckpoint``)
            self._reconcile(take_found=True)
        before = self._c.governor.halt()
        if self.kill_started_ns is None:
            self.kill_started_ns = self._c.time.ts_sim
        self._c.recorder.emit(
            "KILL_SWITCH",
            {
                **(figures or {}),
                "reason": reason,
                "open_orders": len(self._c.book.open),
                "flat": self.is_flat(),
                "trading_state": before.value,
            },
        )

    def carry_out_kill(self) -> None:
        """The kill's second half: cancel everything, flatten once nothing is open."""
        self.cancel_open()
        self._process_reports()
        self.continue_kill()
        if self._lifecycle.in_(S.DRYRUN_ACTIVE):
            self._reconcile()
            self.check_flat()
        self._c.recorder.flush(sync=False)  # HALTED waits for a person: `status` reads it now

    def continue_kill(self) -> None:
        """While a kill is in progress: re-send failed cancels, flatten once nothing is open."""
        if self.kill_started_ns is None or self._lifecycle.state not in _WINDING:
            return
        if self._c.book.open:
            self.cancel_open()
        elif not self.is_flat():
            self._flatten()
            self._process_reports()
        self.check_flat()

    def check_flat(self) -> None:
        """KILL_SWITCH_FLAT once nothing is open, the book is flat, and no fill can follow."""
        started = self.kill_started_ns
        if started is None or self._c.book.open or not self.is_flat():
            return
        if self.unconfirmed_closed():
            return  # a cancelled order may still report a fill that raced its cancel
        self.kill_started_ns = None
        self._c.recorder.emit(
            "KILL_SWITCH_FLAT", {"time_to_flat_ns": self._c.time.ts_sim - started}
        )

    # -- checkpoint ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns."""
        return {"kill_started_ns": self.kill_started_ns}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint made by ``get_state``."""
        self.kill_started_ns = state["kill_started_ns"]
