"""Reconciliation as pure functions: the session's book against the venue's view.

The session gathers both sides: its own (``LocalOrder`` for every order it tracks, and the
OCO groups in which a leg has filled) and the venue's (``open_orders()``, plus
``order_by_client_id()`` for the few client ids ``lookups_needed`` names, so a pass costs
O(open orders)). ``compare`` classifies every difference as a ``Discrepancy``; ``plan``
decides what to do with each:

- resolve what is decidable: ``ADOPT`` an order whose send outcome was unknown and which
  the venue has; ``NOT_SENT`` for such an order the venue still does not know after the
  grace period; ``CLOSE`` an order the venue closed (cancelled or rejected, with the fills
  the book has) when its report never came; ``CANCEL`` an OCO leg whose sibling has filled
  or whose position is gone;
- wait up to ``grace_ns`` for what reports still in flight can explain (a fill the venue
  executed but has not reported yet, a cancel not yet confirmed);
- ``ESCALATE`` the rest to an operator.

Fills are de-duplicated by order and trade id (``distinct_fills``). Nothing here calls a broker,
reads a clock, or invents an order or a fill: an order or fill the book does not have is
never added by reconciliation, only adopted when the session itself sent it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal, InvalidOperation

import attrs

from .._domain.decimal import plain
from .._domain.model import FillReport, Side, VenueOrder, VenueOrderStatus

__all__ = [
    "Comparison",
    "Discrepancy",
    "DiscrepancyKind",
    "LocalOrder",
    "ReconcilePlan",
    "compare",
    "distinct_fills",
    "lookups_needed",
    "plan",
    "position_doubts",
    "unconfirmed_doubt",
]


# A missing-at-venue order in one of these venue states has exactly the fills the book has
# (``compare`` reports fill gaps first), so closing it as the venue says invents nothing.
_FINAL_WITHOUT_FILL_GAP = frozenset(
    {VenueOrderStatus.CANCELED.value, VenueOrderStatus.REJECTED.value}
)


class DiscrepancyKind(enum.Enum):
    """How the book and the venue disagree."""

    ORDER_MISSING_AT_VENUE = "ORDER_MISSING_AT_VENUE"
    """The book has an open order the venue does not know or no longer has open."""
    ORDER_UNKNOWN_LOCALLY = "ORDER_UNKNOWN_LOCALLY"
    """The venue has an open order the book does not track as open."""
    QUANTITY_MISMATCH = "QUANTITY_MISMATCH"
    """Quantity, side or symbol differ, or the book has more fills than the venue."""
    FILL_NOT_SEEN = "FILL_NOT_SEEN"
    """The venue executed more of an order than the book has seen fills for."""
    ORPHAN_OCO_SIBLING = "ORPHAN_OCO_SIBLING"
    """An OCO leg is still open although its sibling filled or its position is gone."""
    POSITION_MISMATCH = "POSITION_MISMATCH"
    """The venue holds another position than the book's plus the fills still to be reported."""


@attrs.frozen(kw_only=True)
class LocalOrder:
    """An order as the book sees it.

    ``closed`` marks an order the book closed (cancelled) whose final fill quantity the
    venue has not confirmed yet; ``in_doubt`` one whose send outcome was unknown;
    ``cancel_requested`` one the session already asked the venue to cancel.
    """

    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    filled: Decimal
    reduce_only: bool = False
    oco_group: str | None = None
    closed: bool = False
    in_doubt: bool = False
    cancel_requested: bool = False


@attrs.frozen(kw_only=True)
class Discrepancy:
    """One difference between book and venue; ``detail`` holds the numbers as strings.

    A position difference is about a symbol, not an order: its ``client_order_id`` is
    empty and ``detail`` names the ``symbol``.
    """

    kind: DiscrepancyKind
    client_order_id: str
    detail: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def key(self) -> str:
        """Identifies the same difference across passes (``KIND:client_order_id``).

        ``KIND:symbol`` for a position difference.
        """
        return f"{self.kind.value}:{self.client_order_id or self.detail.get('symbol', '')}"

    def to_json(self) -> dict[str, str]:
        """A JSON-compatible form for event payloads (a position's has no client order id)."""
        about = {"client_order_id": self.client_order_id} if self.client_order_id else {}
        return {"kind": self.kind.value, **about, **dict(sorted(self.detail.items()))}


@attrs.frozen(kw_only=True)
class Comparison:
    """What ``compare`` found: differences, and closed orders the venue confirms."""

    discrepancies: tuple[Discrepancy, ...]
    confirmed_closed: tuple[str, ...]
    adoptable: tuple[str, ...]


@attrs.frozen(kw_only=True)
class ReconcilePlan:
    """What the session should do after one pass.

    ``pending`` maps the key of every difference that may still resolve by itself to the
    simulated time it was first seen; the session keeps it for the next pass.
    """

    adopt: tuple[str, ...] = ()
    not_sent: tuple[str, ...] = ()
    close: tuple[str, ...] = ()
    cancel: tuple[Discrepancy, ...] = ()
    escalate: tuple[Discrepancy, ...] = ()
    confirmed_closed: tuple[str, ...] = ()
    pending: Mapping[str, int] = attrs.field(factory=dict)

    @property
    def clean(self) -> bool:
        """Whether nothing needs doing now (differences may still be pending)."""
        return not (
            self.adopt
            or self.not_sent
            or self.close
            or self.cancel
            or self.escalate
            or self.confirmed_closed
        )


def lookups_needed(
    local: Sequence[LocalOrder], venue_open: Sequence[VenueOrder]
) -> tuple[str, ...]:
    """Client ids to look up one by one: tracked orders the venue does not list as open.

    In ``local``'s order, the book's (the order it took them in): a venue that reports on
    an order once a lookup finds it (the ccxt broker, on an order sent in doubt or found by
    a resume) then reports their fills in that order, not by client order id (a hash).
    """
    listed = {v.client_order_id for v in venue_open}
    return tuple(o.client_order_id for o in local if o.client_order_id not in listed)


def compare(
    local: Sequence[LocalOrder],
    venue_open: Sequence[VenueOrder],
    looked_up: Mapping[str, VenueOrder | None],
    *,
    positions: Mapping[str, Decimal],
    oco_filled: Iterable[str] = (),
    venue_positions: Mapping[str, Decimal] | None = None,
) -> Comparison:
    """Classify every difference between the book and the venue.

    ``looked_up`` holds the answers of ``order_by_client_id`` for the ids
    ``lookups_needed`` named; an id missing from it was not looked up (for example the
    venue did not answer) and yields no verdict. ``oco_filled`` names the OCO groups in
    which a leg has filled. ``venue_positions`` (from a venue that reports them) are
    compared with ``positions``, the book's, once the fills still to be reported count.
    """
    venue = {v.client_order_id: v for v in venue_open}
    found: list[Discrepancy] = []
    confirmed: list[str] = []
    adoptable: list[str] = []
    tracked = {o.client_order_id: o for o in local}
    for order in sorted(local, key=lambda o: o.client_order_id):
        cid = order.client_order_id
        if cid not in venue and cid not in looked_up:
            continue
        seen = venue[cid] if cid in venue else looked_up[cid]
        if order.in_doubt and seen is not None:
            adoptable.append(cid)
            continue
        verdict = _compare_one(order, seen)
        if verdict is not None:
            found.append(verdict)
        elif order.closed:
            confirmed.append(cid)
    for cid in sorted(venue):
        if cid not in tracked:
            found.append(_unknown(venue[cid], local_state="untracked"))
        elif tracked[cid].closed:
            found.append(_unknown(venue[cid], local_state="closed"))
    found.extend(_orphans(local, positions, frozenset(oco_filled)))
    if venue_positions is not None:
        found.extend(_positions(local, venue, looked_up, positions, venue_positions))
    found.sort(key=lambda d: (d.client_order_id, d.kind.value))
    return Comparison(
        discrepancies=tuple(found), confirmed_closed=tuple(confirmed), adoptable=tuple(adoptable)
    )


def plan(
    comparison: Comparison,
    *,
    pending: Mapping[str, int],
    escalated: Iterable[str],
    now_ns: int,
    grace_ns: int,
    hold_until_ns: int = 0,
    rewound: bool = False,
) -> ReconcilePlan:
    """Decide what to do with a comparison.

    Adoptions and OCO cancels happen at once. A quantity mismatch cannot be explained by
    a report in flight and is escalated at once. Every other difference waits until it
    has lasted ``grace_ns`` (``grace_ns=0`` decides everything now, as at start): then an
    order whose send outcome was unknown and that the venue still does not know counts as
    never sent, an order the venue cancelled or rejected (with the fills the book has) is
    closed as the venue says, and anything else is escalated. Keys in ``escalated`` were
    already put to an operator and are neither escalated again nor kept pending.
    ``hold_until_ns`` starts the grace period of every difference a venue that is ahead
    of the session can explain no earlier than that time (a resumed session re-running
    steps whose outcomes the venue already shows): fills not seen yet, orders the venue
    has closed or opened. A venue that does not know an order is never ahead, nor is a
    venue a resume rewinds to the checkpoint (``rewound``: a simulated one, from its journal)
    ahead in its position: one that holds another than the book's lost what it held.
    """
    done = frozenset(escalated)
    cancel: list[Discrepancy] = []
    escalate: list[Discrepancy] = []
    not_sent: list[str] = []
    close: list[str] = []
    still: dict[str, int] = {}
    for item in comparison.discrepancies:
        key = item.key
        if key in done:
            continue
        if item.kind is DiscrepancyKind.ORPHAN_OCO_SIBLING:
            cancel.append(item)
            continue
        if item.kind is DiscrepancyKind.QUANTITY_MISMATCH:
            escalate.append(item)
            continue
        first = pending.get(key, now_ns)
        start = max(first, hold_until_ns) if _venue_ahead_explains(item, rewound) else first
        if now_ns - start < grace_ns:
            still[key] = first
        elif item.detail.get("in_doubt") == "true":
            not_sent.append(item.client_order_id)
        elif (
            item.kind is DiscrepancyKind.ORDER_MISSING_AT_VENUE
            and item.detail.get("venue_status") in _FINAL_WITHOUT_FILL_GAP
        ):
            close.append(item.client_order_id)
        else:
            escalate.append(item)
    return ReconcilePlan(
        adopt=comparison.adoptable,
        not_sent=tuple(not_sent),
        close=tuple(close),
        cancel=tuple(cancel),
        escalate=tuple(escalate),
        confirmed_closed=comparison.confirmed_closed,
        pending=still,
    )


def position_doubts(discrepancies: Iterable[Mapping[str, object]]) -> str:
    """Where the venue may hold another position than the book, as escalated differences say.

    ``discrepancies`` in their JSON form (``Discrepancy.to_json``, as ``RECONCILE_ESCALATED``
    records them), so the session, ``status``, ``report`` and ``evidence`` say the same ("":
    none). A difference whose venue filled more of an order than the book has fills for
    (``FILL_NOT_SEEN``, or a ``QUANTITY_MISMATCH`` saying so), or a venue that reports
    another net position than the book's (``POSITION_MISMATCH``), means the venue may hold
    a position the book lacks: never "flat" then.
    """
    said = []
    for item in discrepancies:
        if item.get("kind") == DiscrepancyKind.POSITION_MISMATCH.value:
            said.append(_position_differs(item))
            continue
        venue, book = str(item.get("venue_filled", "")), str(item.get("local_filled", ""))
        try:
            ahead = Decimal(venue) > Decimal(book)
        except (InvalidOperation, ValueError):
            continue
        if ahead:
            said.append(
                f"the venue's fills of {item.get('client_order_id')}: {venue} filled at the "
                f"venue, {book} in the book ({item.get('kind')})"
            )
    return "; ".join(said)


def unconfirmed_doubt(unconfirmed: str) -> str:
    """Where the venue may hold a position the book lacks after ``STOP_INCOMPLETE``.

    The orders the stop cancelled whose final fills it never confirmed (``unconfirmed``, the
    fault's ``"a; b"``; "": none), said alike by the session, ``status``, ``report`` and
    ``evidence``.
    """
    if not unconfirmed:
        return ""
    return f"the venue never confirmed the final fills of the cancelled {unconfirmed}"


def _position_differs(item: Mapping[str, object]) -> str:
    """``the venue holds BTC/USDT 0.500, the book 0.000 (POSITION_MISMATCH)``."""
    coming = str(item.get("fills_in_flight", "0"))
    try:
        in_flight = Decimal(coming) != 0
    except (InvalidOperation, ValueError):
        in_flight = True
    flight = f" and {coming} in flight" if in_flight else ""
    return (
        f"the venue holds {item.get('symbol')} {item.get('venue_position')}, the book "
        f"{item.get('local_position')}{flight} ({item.get('kind')})"
    )


def _venue_ahead_explains(item: Discrepancy, rewound: bool) -> bool:
    """Whether a venue further along in time than the session could show this difference.

    A ``rewound`` venue's position is the checkpoint's: it is never ahead there.
    """
    if item.kind is DiscrepancyKind.POSITION_MISMATCH:
        return not rewound
    if item.kind is DiscrepancyKind.ORDER_MISSING_AT_VENUE:
        return item.detail.get("venue_status", "UNKNOWN") != "UNKNOWN"
    return item.kind in (DiscrepancyKind.FILL_NOT_SEEN, DiscrepancyKind.ORDER_UNKNOWN_LOCALLY)


def distinct_fills(fills: Iterable[FillReport]) -> tuple[FillReport, ...]:
    """The fills with duplicates removed: the first report of each order's trade id counts."""
    seen: set[tuple[str, str]] = set()
    out: list[FillReport] = []
    for fill in fills:
        trade = (fill.client_order_id, fill.trade_id)
        if trade not in seen:
            seen.add(trade)
            out.append(fill)
    return tuple(out)


# -- one order ---------------------------------------------------------------------------------


def _about(order: LocalOrder, kind: DiscrepancyKind, detail: dict[str, str]) -> Discrepancy:
    return Discrepancy(kind=kind, client_order_id=order.client_order_id, detail=detail)


def _compare_one(order: LocalOrder, seen: VenueOrder | None) -> Discrepancy | None:
    if seen is None:
        return _missing(order, None)
    if (
        seen.quantity != order.quantity
        or seen.side is not order.side
        or seen.symbol != order.symbol
        or seen.filled_quantity < order.filled
    ):
        quantity = {"local_quantity": plain(order.quantity), "venue_quantity": plain(seen.quantity)}
        side = {"local_side": order.side.value, "venue_side": seen.side.value}
        return _about(
            order, DiscrepancyKind.QUANTITY_MISMATCH, quantity | _fills(order, seen) | side
        )
    if seen.filled_quantity > order.filled:
        status = {"venue_status": seen.status.value}
        return _about(order, DiscrepancyKind.FILL_NOT_SEEN, _fills(order, seen) | status)
    if not order.closed and not seen.status.is_open:
        return _missing(order, seen)
    return None


def _fills(order: LocalOrder, seen: VenueOrder) -> dict[str, str]:
    """What the book and the venue have filled (built for a difference only)."""
    return {"local_filled": plain(order.filled), "venue_filled": plain(seen.filled_quantity)}


def _missing(order: LocalOrder, seen: VenueOrder | None) -> Discrepancy:
    detail = {
        "local_filled": plain(order.filled),
        "venue_status": "UNKNOWN" if seen is None else seen.status.value,
    }
    if order.in_doubt:
        detail["in_doubt"] = "true"
    return _about(order, DiscrepancyKind.ORDER_MISSING_AT_VENUE, detail)


def _unknown(seen: VenueOrder, *, local_state: str) -> Discrepancy:
    return Discrepancy(
        kind=DiscrepancyKind.ORDER_UNKNOWN_LOCALLY,
        client_order_id=seen.client_order_id,
        detail={
            "local_state": local_state,
            "symbol": seen.symbol,
            "side": seen.side.value,
            "venue_quantity": plain(seen.quantity),
            "venue_filled": plain(seen.filled_quantity),
            "venue_status": seen.status.value,
        },
    )


def _orphans(
    local: Sequence[LocalOrder], positions: Mapping[str, Decimal], oco_filled: frozenset[str]
) -> list[Discrepancy]:
    """Open OCO legs left without purpose: a sibling filled, or nothing left to protect.

    The leg that filled (even partly) keeps working for the rest of its quantity; only the
    legs without any fill in a group where a leg filled are orphans.
    """
    out: list[Discrepancy] = []
    for order in local:
        group = order.oco_group
        if group is None or order.closed or order.in_doubt or order.cancel_requested:
            continue
        position = positions.get(order.symbol, Decimal(0))
        reduces = position > 0 if order.side is Side.SELL else position < 0
        if group in oco_filled and not order.filled:
            why = "sibling_filled"
        elif order.reduce_only and not reduces:
            why = "position_gone"
        else:
            continue
        detail = {"oco_group": group, "why": why, "position": plain(position)}
        out.append(_about(order, DiscrepancyKind.ORPHAN_OCO_SIBLING, detail))
    return out


def _positions(
    local: Sequence[LocalOrder],
    venue: Mapping[str, VenueOrder],
    looked_up: Mapping[str, VenueOrder | None],
    positions: Mapping[str, Decimal],
    venue_positions: Mapping[str, Decimal],
) -> list[Discrepancy]:
    """Symbols where the venue holds another position than the book will once reported.

    The book's position plus what the venue filled of each tracked order beyond the book's
    fills (reports on their way) is what the venue should hold. The rest is a fill the book
    never heard of, such as one of an order sent after the checkpoint a resume started from,
    which no order's comparison shows. A symbol with a tracked order the venue gave no
    answer about (or does not know, though the book has fills of it) yields no verdict.
    """
    in_flight: dict[str, Decimal] = {}
    unsure: set[str] = set()
    for order in local:
        cid = order.client_order_id
        seen = venue.get(cid) or looked_up.get(cid)
        if seen is None:
            if cid not in looked_up or order.filled:
                unsure.add(order.symbol)
            continue
        signed = seen.filled_quantity - order.filled
        if order.side is Side.SELL:
            signed = -signed
        in_flight[order.symbol] = in_flight.get(order.symbol, Decimal(0)) + signed
    out: list[Discrepancy] = []
    for symbol in sorted((positions.keys() | venue_positions.keys()) - unsure):
        book = positions.get(symbol, Decimal(0))
        coming = in_flight.get(symbol, Decimal(0))
        held = venue_positions.get(symbol, Decimal(0))
        if held != book + coming:
            detail = {
                "symbol": symbol,
                "local_position": plain(book),
                "venue_position": plain(held),
                "fills_in_flight": plain(coming),
            }
            kind = DiscrepancyKind.POSITION_MISMATCH
            out.append(Discrepancy(kind=kind, client_order_id="", detail=detail))
    return out
