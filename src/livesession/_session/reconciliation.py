"""The session's side of reconciliation: ask the venue, act on what the reconciler decides.

The pure reconciler (``_reconcile``) compares the book with the venue and plans; this
collaborator runs that comparison at activation, after a resume and at the end of every
step, then carries the plan out: confirm closed orders, adopt orders sent in doubt that the
venue has, give up those it never saw, close what the venue cancelled or rejected without a
report, cancel orphan OCO siblings, and escalate the rest to an operator. A clean pass
emits nothing. It owns the pending differences, the escalated ones and the resume hold.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from .._domain.decimal import ZERO
from .._domain.model import CancelReport, RejectReport, VenueOrderStatus
from .._domain.reasons import RECONCILE_MISMATCH
from .._exceptions import BrokerError
from .._reconcile.reconciler import (
    DiscrepancyKind,
    compare,
    lookups_needed,
    plan,
    position_doubts,
)
from .._typing import CountedPositionVenue, PositionVenue, RelayedVenue, ResumableVenue
from .aftercheckpoint import take
from .conflicts import lost_said
from .reports import order_link

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from .._domain.model import VenueOrder
    from .._reconcile.reconciler import Discrepancy, LocalOrder
    from .._typing import IdempotencyStore
    from .broker_health import BrokerHealth
    from .context import SessionContext
    from .exits import OcoExits
    from .reports import ReportRouter

__all__ = ["Reconciliation"]


@attrs.define(kw_only=True, eq=False, repr=False)
class Reconciliation:
    """Book against venue, once per pass; owns pending and escalated differences."""

    _c: SessionContext = attrs.field(alias="ctx", kw_only=False)
    _idem: IdempotencyStore = attrs.field(alias="idempotency")
    _exits: OcoExits
    _reports: ReportRouter
    _request_cancel: Callable[[str], object]
    _resolved: Callable[[str, str], None]
    _fault: Callable[[str, dict[str, str]], None]
    _grace_ns: int
    _replay_window_ns: int
    _health: BrokerHealth
    _pending: dict[str, int] = attrs.field(init=False, factory=dict)
    _escalated: set[str] = attrs.field(init=False, factory=set)
    _hold_until_ns: int = attrs.field(init=False, default=0)
    _restored: bool = attrs.field(init=False, default=False)
    """Whether the session resumed from a checkpoint (``set_state``)."""
    _waiting: tuple[Discrepancy, ...] = attrs.field(init=False, default=())
    """The differences the latest pass left pending (within their grace)."""
    before_next_step: bool = attrs.field(init=False, default=False)
    unbooked: str = attrs.field(init=False, default="")
    """Where the venue may hold another position than the book's, of the differences
    escalated (``FILL_NOT_SEEN``, ``POSITION_MISMATCH``: ``position_doubts``)."""
    _doubting: bool = attrs.field(init=False, default=False)
    """A wind-down out of polls said the pending differences (``doubt_pending``)."""
    # Asked once: isinstance against a runtime Protocol costs tens of microseconds a step.
    _venue_positions: Callable[[], Mapping[str, Decimal]] | None = attrs.field(init=False)
    """The venue's ``positions`` when it reports them (``PositionVenue``), else None."""

    @_venue_positions.default
    def _positions_of_venue(self) -> Callable[[], Mapping[str, Decimal]] | None:
        broker = self._c.broker
        return broker.positions if isinstance(broker, PositionVenue) else None

    _counted: CountedPositionVenue | None = attrs.field(init=False)
    """The venue when it counts its positions from a start it is told on a resume."""

    @_counted.default
    def _venue_counted(self) -> CountedPositionVenue | None:
        broker = self._c.broker
        return broker if isinstance(broker, CountedPositionVenue) else None

    _rewound: bool = attrs.field(init=False)
    """Whether a resume rewinds the venue to the checkpoint (a simulated venue, from its
    journal or, without one, from nothing): never ahead of the re-run."""

    @_rewound.default
    def _venue_rewound(self) -> bool:
        return isinstance(self._c.broker, (ResumableVenue, RelayedVenue))

    def reconcile(
        self, *, grace_ns: int | None = None, hold: bool = True, take_found: bool = False
    ) -> None:
        """One pass of the reconciler: silent when book and venue agree.

        Costs one ``open_orders()`` call (and one ``positions()`` call of a venue that
        reports them) plus one lookup per tracked order the venue does not list as open. A
        venue that does not answer skips the pass. First, the orders a resume found sent
        after its checkpoint (``Book.found_after``) are tracked, on a wind-down's pass
        (``take_found``) or once the resume's hold is over (``aftercheckpoint.take``).
        """
        book = self._c.book
        if book.found_after and (take_found or self._c.time.ts_sim >= self._hold_until_ns):
            take(self._c, self._idem, self.adopt)
        broker = self._c.broker
        local = book.local_orders() if book.open or book.closed else ()
        try:
            venue_open = broker.open_orders()
            positions = self._venue_positions
            held = None if positions is None else positions()
            venue_open, held = _this_market(self._c.config.symbol, local, venue_open, held)
            self._health.ok("reconcile")
            if not (local or venue_open or self._pending) and _agree(held, book.positions):
                return  # the common case: nothing here, nothing there, the same position
            venue_open = tuple(venue_open)
            looked_up = {
                cid: broker.order_by_client_id(cid) for cid in lookups_needed(local, venue_open)
            }
        except BrokerError as exc:
            self._health.failed("reconcile", exc)
            return
        comparison = compare(
            local,
            venue_open,
            looked_up,
            positions=book.positions,
            oco_filled=self._exits.filled_groups(),
            venue_positions=held,
        )
        decided = plan(
            comparison,
            pending=self._pending,
            escalated=self._escalated,
            now_ns=self._c.time.ts_sim,
            grace_ns=self._grace_ns if grace_ns is None else grace_ns,
            hold_until_ns=self._hold_until_ns if hold else 0,
            rewound=self._rewound,
        )
        self._pending = dict(decided.pending)
        self._waiting = tuple(d for d in comparison.discrepancies if d.key in decided.pending)
        for cid in decided.confirmed_closed:
            book.confirm_closed(cid)
            self._reports.finish(cid)
            self._exits.forget(cid)
        venue = {v.client_order_id: v for v in venue_open}
        for cid in decided.adopt:
            seen = venue.get(cid) or looked_up.get(cid)
            self.adopt(cid, f"lookup:{'UNKNOWN' if seen is None else seen.status.value}")
        for cid in decided.not_sent:
            self._give_up(cid)
        for cid in decided.close:
            self._close_as_venue_says(cid, venue.get(cid) or looked_up.get(cid))
        for item in decided.cancel:
            self._cancel_orphan(item)
        self._exits.prune_groups()
        if decided.escalate:
            self._escalate(decided.escalate)

    def not_at_venue(self) -> frozenset[str]:
        """The symbols of the book's positions that the venue says it holds none of.

        A flatten of one would be an order for a position the venue does not have: it is
        not sent, and the reconciler tells an operator of the difference
        (``POSITION_MISMATCH``). Asked only of a simulated venue a resume rewinds, whose
        answer is the whole truth at once: a real venue's (ccxt's trades counted since the
        start) may not show a fill the session already has, and a flatten it would hold
        back would leave that position open; its reduce-only flatten is sent. Empty for a
        venue that does not report its positions (or cannot now), and for a symbol with an
        order a resume found sent after the checkpoint (``Book.found_after``): the venue
        may hold what that order did.
        """
        positions = self._venue_positions
        book = self._c.book
        held = {s: q for s, q in book.positions.items() if q}
        if positions is None or not held or not self._rewound:
            return frozenset()
        try:
            venue = positions()
        except BrokerError as exc:
            self._health.failed("reconcile", exc)
            return frozenset()
        self._health.ok("reconcile")
        found = {looked.order.symbol for looked in book.found_after.values()}
        return frozenset(
            symbol
            for symbol, qty in held.items()
            if symbol not in found and venue.get(symbol, ZERO) * qty <= 0
        )

    def doubt_pending(self) -> str:
        """Where the venue may hold another position than the book, of the pending differences.

        For a fault that leaves differences within their grace unescalated (a wind-down out
        of polls, ``STOP_INCOMPLETE``): a late fill the venue made and has not reported yet
        (``FILL_NOT_SEEN``), or another net position, means the book's flat is only the
        book's. Said as ``position_doubts`` says them; ``pending_doubt`` says them from then on.
        """
        self._doubting = True
        return self.pending_doubt

    @property
    def pending_doubt(self) -> str:
        """The differences pending now, as ``doubt_pending`` said them, once it did.

        "" again when none is: each settled (the late fill booked) or escalated (``unbooked``).
        """
        if not self._doubting:
            return ""
        return position_doubts(item.to_json() for item in self._waiting)

    def escalated_orders(self) -> set[str]:
        """Client ids of the differences escalated to an operator."""
        return {key.partition(":")[2] for key in self._escalated}

    def escalated_keys(self) -> tuple[str, ...]:
        """The escalated differences (``KIND:client_order_id``), sorted."""
        return tuple(sorted(self._escalated))

    def pending_keys(self) -> tuple[str, ...]:
        """The differences seen and not yet escalated (within their grace), sorted."""
        return tuple(sorted(self._pending))

    def adopt(self, cid: str, evidence: str) -> None:
        """An order sent in doubt is at the venue (``evidence`` says how we know): track it."""
        live = self._c.book.open.get(cid)
        if live is None or not live.in_doubt:
            return
        live.in_doubt = False
        self._c.recorder.emit(
            "RECONCILED", {"action": "ADOPTED", "client_order_id": cid, "evidence": evidence}
        )
        self._resolved(cid, "ADOPTED")
        self._idem.complete(cid, "adopted")

    def drop_escalated(self, operator: str) -> None:
        """After an operator's acknowledgement, stop tracking the orders escalated to them.

        The operator owns those differences now; each drop is recorded (``RECONCILED``,
        action ``DROPPED``) so the wind-down can flatten what the book knows and stop. A
        resume's hold no longer applies either: the operator decides now.
        """
        self._hold_until_ns = 0
        book = self._c.book
        for key in sorted(self._escalated):
            kind, _, cid = key.partition(":")
            if cid in book.open:
                book.close_order(cid)
            elif cid in book.closed:
                book.confirm_closed(cid)
            else:
                continue
            self._exits.forget(cid)
            self._reports.finish(cid)
            self._c.recorder.emit(
                "RECONCILED",
                {"action": "DROPPED", "kind": kind, "client_order_id": cid, "operator": operator},
            )

    def _give_up(self, cid: str) -> None:
        """An order sent in doubt that the venue never showed: it was not sent."""
        live = self._c.book.close_order(cid)
        if live is None:
            return
        self._c.recorder.emit(
            "RECONCILED",
            {"action": "NOT_SENT", "kind": "ORDER_MISSING_AT_VENUE", "client_order_id": cid},
        )
        self._resolved(cid, "NOT_SENT")
        self._c.recorder.emit(
            "ORDER_REJECTED",
            {
                "client_order_id": cid,
                "reason": "SEND_FAILED",
                "error": "OutcomeUnknown",
                **order_link(live),
            },
        )
        self._idem.complete(cid, "not_sent")
        self._exits.forget(cid)
        self._exits.on_leg_closed(live, rejected=True)
        self._reports.finish(cid)

    def _close_as_venue_says(self, cid: str, seen: VenueOrder | None) -> None:
        """Close an order as the venue says: it cancelled or rejected it, and no report came."""
        if seen is None or cid not in self._c.book.open:
            return
        self._c.recorder.emit(
            "RECONCILED",
            {
                "action": "CLOSED",
                "kind": "ORDER_MISSING_AT_VENUE",
                "client_order_id": cid,
                "venue_status": seen.status.value,
            },
        )
        ts_sim = self._c.time.ts_sim
        if seen.status is VenueOrderStatus.REJECTED:
            self._reports.on_reject(
                RejectReport(client_order_id=cid, reason="REPORT_LOST", ts_ns=ts_sim)
            )
        else:
            self._reports.on_cancel(CancelReport(client_order_id=cid, ts_ns=ts_sim))

    def _cancel_orphan(self, item: Discrepancy) -> None:
        self._request_cancel(item.client_order_id)
        self._c.recorder.emit("RECONCILED", {"action": "CANCEL_REQUESTED", **item.to_json()})

    def _escalate(self, items: Sequence[Discrepancy]) -> None:
        """Tell an operator: RECONCILE_ESCALATED with every difference, then a fault."""
        self._escalated.update(item.key for item in items)
        said = [item.to_json() for item in items]
        self.unbooked = "; ".join(filter(None, (self.unbooked, position_doubts(said))))
        self._c.recorder.emit("RECONCILE_ESCALATED", {"discrepancies": said})
        kinds = sorted({item.kind.value for item in items})
        detail = {"discrepancies": str(len(items)), "kinds": ",".join(kinds)}
        if self._restored and self._rewound and (lost := _positions_apart(items)):
            detail["message"] = lost_said(lost)  # the venue is never ahead: it lost them
        self._fault(RECONCILE_MISMATCH, detail)

    # -- checkpoint ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns.

        ``positions_since`` only of a venue that counts its positions from a start
        (``CountedPositionVenue``) once it has one: a resume counts from the run's start.
        """
        state: dict[str, Any] = {
            "pending": dict(sorted(self._pending.items())),
            "escalated": sorted(self._escalated),
            "hold_until_ns": self._hold_until_ns,
        }
        if self._counted is not None and self._counted.positions_since is not None:
            state["positions_since"] = self._counted.positions_since
        return {"reconcile": state}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint; the next step reconciles first.

        Until the re-run has caught up with the venue (``replay_window_ns`` past the
        checkpoint), grace-based decisions wait: the venue shows outcomes whose reports
        are still to come.
        """
        recon = state.get("reconcile", {})
        self._pending = dict(recon.get("pending", {}))
        self._escalated = set(recon.get("escalated", ()))
        self._hold_until_ns = max(
            int(recon.get("hold_until_ns", 0)), state["ts_sim"] + self._replay_window_ns
        )
        self.before_next_step = True
        self._restored = True
        if self._counted is not None:
            since = recon.get("positions_since")
            if isinstance(since, int):
                self._counted.count_positions_from(since)
            else:  # counted from now, the trades would miss the position the book holds
                self._venue_positions = None


def _this_market(
    symbol: str,
    local: Sequence[LocalOrder],
    venue_open: Sequence[VenueOrder],
    held: Mapping[str, Decimal] | None,
) -> tuple[Sequence[VenueOrder], Mapping[str, Decimal] | None]:
    """What the venue shows of this session's market: its symbol's orders and position.

    A session trades one symbol, its feed's. On an account other sessions share (a desk
    runs one session per symbol of its basket), a venue that lists the open orders of every
    allowlisted symbol (ccxt), or reports the account's positions in every symbol, shows
    what the other sessions hold too: none of it this session's to reconcile, or to call an
    operator for. An order the book tracks stays, whatever its symbol.
    """
    if not (venue_open or held):
        return venue_open, held  # a quiet step: nothing open, flat
    if venue_open and any(order.symbol != symbol for order in venue_open):
        tracked = {order.client_order_id for order in local}
        venue_open = [
            order
            for order in venue_open
            if order.symbol == symbol or order.client_order_id in tracked
        ]
    if held and (len(held) > 1 or symbol not in held):  # another symbol's position
        held = {s: q for s, q in held.items() if s == symbol}
    return venue_open, held


def _positions_apart(items: Sequence[Discrepancy]) -> list[tuple[str, Decimal, Decimal]]:
    """By symbol, what the venue and the book hold, of the ``POSITION_MISMATCH`` in ``items``."""
    return [
        (d["symbol"], Decimal(d["venue_position"]), Decimal(d["local_position"]))
        for item in items
        if item.kind is DiscrepancyKind.POSITION_MISMATCH
        for d in (item.detail,)
    ]


def _agree(held: Mapping[str, Decimal] | None, positions: Mapping[str, Decimal]) -> bool:
    """Whether the venue holds the book's positions (True for a venue that cannot say)."""
    if held is None or held == positions:  # the second: the same symbols, the same sizes
        return True
    return {s: q for s, q in held.items() if q} == {s: q for s, q in positions.items() if q}
