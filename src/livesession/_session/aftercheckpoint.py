"""Orders a crashed process sent after its checkpoint, found again by the resume.

A resume rebuilds the session from its checkpoint. A simulated venue is rewound with it;
a real one (the ccxt broker, a broker of the caller's) is not: it still holds every order
the crashed process sent after the checkpoint, whose records the resume cut off. The
re-run finds such an order only when it reaches the same intent and reserves the same key
again; a run halted, stopped or killed sooner, or a strategy that decides otherwise on the
venue's new bars, never does, and the run would seal "flat" with the order's position
still at the venue.

So, before the first step, every key the idempotency store holds (``ListableStore``) that
the checkpoint does not account for is looked up at the venue (``look_up``), nothing
recorded: the resume's ``C2_RESUME`` names what was found (``resume_record``). Each order
the venue has, or could not say about, is then held (``hold``, in ``Book.found_after``)
until the first of:

- the re-run reaches its intent: it is sent and tracked as before, no differently from a
  re-run without this lookup (``tracked_or_recovered``), so the re-run decides what the
  crashed process decided;
- a wind-down (stop, kill, acknowledgement) or the end of the resume's hold
  (``replay_window_ns`` past the checkpoint: the re-run is past the crash, and took
  another path): the reconciler tracks it (``take``) as an order sent in doubt
  (``ORDER_SUBMITTED`` with ``send_outcome`` UNKNOWN, ``ORDER_OUTCOME_UNKNOWN`` attempt 0)
  and adopts at once one the venue has (``RECONCILED`` ``ADOPTED``): its fills reach the
  book, and the wind-down flattens them. One whose lookup got no answer stays in doubt:
  the reconciler adopts it once the venue shows it, or gives it up as never sent, and
  the session is not flat meanwhile.

Tracked before the re-run reaches its intent, it is neither sent nor tracked again then.
One the venue does not know is left to the re-run, which may send it (its key is
reserved: never twice).

The orders found are looked up, recorded and tracked in the order the crashed process sent
them (``in_send_order``: by the intent each client order id is the id of), so their fills
reach the book as they would have without the crash. Before, they went by client order id,
a hash: a run that bought and then sold to close could book the sale first, and record a
short position (``POSITION_CHANGED`` ``-0.010``) the session never held.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._domain.ids import client_order_id
from .._domain.model import Order, OrderType, Side
from .._exceptions import BrokerError
from .._typing import (
    ListableStore,
    RecoveringVenue,
    RelayedVenue,
    ResumableVenue,
)
from .book import submitted_payload

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._domain.model import VenueOrder
    from .._typing import Broker, IdempotencyStore
    from .assembly import SessionParts
    from .context import SessionContext
    from .reports import Booked

__all__ = [
    "NO_ANSWER",
    "Looked",
    "hold",
    "in_send_order",
    "lists_sent_after",
    "look_up",
    "order_from_fingerprint",
    "recover_orders",
    "resume_record",
    "take",
    "tracked_or_recovered",
]

NO_ANSWER: Final = "NO_ANSWER"
"""The ``venue_status`` ``C2_RESUME`` gives an order whose lookup got no answer."""
_NEVER_SENT: Final = ("not_sent", "rejected:")
"""Outcomes of a key whose order never reached the venue (a venue's refusal, or a send
that failed before it arrived): nothing to look up."""
_LEGS: Final = ("main", "flatten", "sl", "tp")
"""The legs of one intent, in the order they are sent (an entry's ``sl`` and ``tp`` after it
filled; ``main`` and ``flatten`` never share an intent)."""
_SEARCHED: Final = 16_384
"""How many intents each side of the checkpoint's ``in_send_order`` tells apart at most."""
_REASON: Final = "resume"
"""The ``reason`` of the ``ORDER_SUBMITTED`` that records an order found by the resume."""


@attrs.frozen(kw_only=True)
class Looked:
    """One key's lookup: the order its fingerprint describes, and what the venue said."""

    order: Order
    seen: VenueOrder | None = None
    error: BrokerError | None = None
    """The lookup got no answer (``seen`` is then None)."""

    @property
    def to_track(self) -> bool:
        """Whether the session is to track it: the venue has it, or could not say."""
        return self.seen is not None or self.error is not None


def lists_sent_after(broker: Broker, store: IdempotencyStore) -> bool:
    """Whether a resume looks up the orders sent after its checkpoint (``look_up``).

    On a venue a resume does not rewind to the checkpoint (neither a ``ResumableVenue`` nor
    a ``RelayedVenue``: a real venue, a broker of the caller's), with a store that lists
    its keys. A rewound venue forgets what was sent after the checkpoint, and the re-run
    sends it again.
    """
    rewound = isinstance(broker, (ResumableVenue, RelayedVenue))
    return not rewound and isinstance(store, ListableStore)


def tracked_or_recovered(
    c: SessionContext, order: Order, outcome: str | None, *, listed: bool
) -> bool:
    """Before a re-run looks up a key reserved before: True when the session tracks it.

    ``listed``: the resume looked up the orders sent after its checkpoint
    (``lists_sent_after``). An order it holds (``Book.found_after``) is let go: the re-run
    sends and tracks it as before. One it tracked already (``take``) is tracked by the book
    (in doubt, or adopted and not done) or was adopted: sent again, it would be tracked
    twice. Otherwise a ``RecoveringVenue`` is told of the order (the crashed process sent
    it), so its reports follow once the lookup finds it; False.
    """
    cid = order.client_order_id
    book = c.book
    held = book.found_after.pop(cid, None) is not None  # let go: the re-run reached it
    if listed and not held and (outcome == "adopted" or book.tracked(cid) is not None):
        return True
    if isinstance(c.broker, RecoveringVenue):
        c.broker.recover(order)
    return False


def order_from_fingerprint(cid: str, fingerprint: str) -> Order | None:
    """The order ``Order.fingerprint`` described; None when it is not one of those."""
    parts = fingerprint.split("|")
    if len(parts) != 7:  # noqa: PLR2004 - the fields of Order.fingerprint
        return None
    symbol, side, quantity, kind, price, reduce_only, oco_group = parts
    try:
        return Order(
            client_order_id=cid,
            symbol=symbol,
            side=Side(side),
            quantity=Decimal(quantity),
            order_type=OrderType(kind),
            limit_price=Decimal(price) if price else None,
            reduce_only=reduce_only == "R",
            oco_group=oco_group or None,
        )
    except (ValueError, TypeError, InvalidOperation):
        return None


def look_up(p: SessionParts, accounted: Container[str]) -> list[Looked] | None:
    """Look up at the venue each key of the store the checkpoint does not account for.

    ``accounted``: the client order ids the run recorded before its checkpoint. They are
    looked up in the order the session sent them (``in_send_order``): a venue that reports
    on an order once a lookup finds it reports in that order. Nothing is recorded here
    (``hold`` does, after ``C2_RESUME``). None when the store cannot list its keys (not a
    ``ListableStore``).
    """
    store = p.idempotency
    if not isinstance(store, ListableStore):
        return None
    orders: list[Order] = []
    for record in store.reservations():
        cid, outcome = record.key, record.outcome or ""
        if cid in accounted or p.book.tracked(cid) is not None or outcome.startswith(_NEVER_SENT):
            continue
        order = order_from_fingerprint(cid, record.fingerprint)
        if order is not None:
            orders.append(order)
    cfg = p.config
    broker = p.broker
    found: list[Looked] = []
    for order in in_send_order(orders, cfg.run_id, cfg.strategy_id, p.execution.intent_seq):
        try:
            # Tracks nothing: the re-run may reach it.
            seen = broker.order_by_client_id(order.client_order_id)
        except BrokerError as exc:
            found.append(Looked(order=order, error=exc))
        else:
            found.append(Looked(order=order, seen=seen))
    return found


def in_send_order(
    orders: Sequence[Order], run_id: str, strategy_id: str, last_seq: int
) -> list[Order]:
    """``orders`` in the order the session sent them: by intent, then leg (``_LEGS``).

    A client order id is the hash of its run, strategy, intent and leg
    (``client_order_id``): the intents are tried outward from ``last_seq``, the
    checkpoint's last (one sent after it is of a later intent, or a protective leg of an
    earlier entry), until every id is told, at most ``_SEARCHED`` each way. One not told
    (not an id of this run's) goes last, by id, as every one did before.
    """
    if len(orders) < 2:  # noqa: PLR2004 - one order has no order to keep
        return list(orders)
    wanted = {order.client_order_id for order in orders}
    rank: dict[str, tuple[int, int]] = {}
    for step in range(2 * _SEARCHED):
        if len(rank) == len(wanted):
            break
        seq = last_seq + 1 + step // 2 if step % 2 == 0 else last_seq - step // 2
        if seq < 1:
            continue
        for at, leg in enumerate(_LEGS):
            cid = client_order_id(run_id, strategy_id, seq, leg)
            if cid in wanted:
                rank[cid] = (seq, at)
    untold = (2**63, 0)
    return sorted(
        orders, key=lambda order: (rank.get(order.client_order_id, untold), order.client_order_id)
    )


def resume_record(looked: Sequence[Looked] | None) -> list[dict[str, str]] | None:
    """``C2_RESUME``'s ``after_checkpoint``: each key looked up and what the venue said.

    ``venue_status`` is the venue's status, ``UNKNOWN`` when it does not know the order,
    ``NO_ANSWER`` when it did not answer. None: the store could not list its keys.
    """
    if looked is None:
        return None
    return [
        {
            "client_order_id": item.order.client_order_id,
            "venue_status": (
                NO_ANSWER
                if item.error is not None
                else "UNKNOWN"
                if item.seen is None
                else item.seen.status.value
            ),
        }
        for item in looked
    ]


def hold(p: SessionParts, looked: Sequence[Looked]) -> None:
    """After ``C2_RESUME``: count the lookups, hold the orders to track (``Book.found_after``)."""
    for item in looked:
        if item.error is not None:
            p.broker_health.failed("lookup", item.error)
        else:
            p.broker_health.ok("lookup")
        if item.to_track:
            p.book.found_after[item.order.client_order_id] = item


def take(c: SessionContext, idem: IdempotencyStore, adopt: Callable[[str, str], None]) -> None:
    """Track every order held in ``Book.found_after``, sent in doubt; adopt what was seen."""
    book = c.book
    held, book.found_after = book.found_after, {}
    for cid, item in held.items():  # in send order (``look_up``)
        if book.tracked(cid) is not None:
            continue
        order = item.order
        if isinstance(c.broker, RecoveringVenue):
            c.broker.recover(order)  # the next lookup that finds it tracks it: reports follow
        book.add_order(order, in_doubt=True)
        book.open[cid].event_id = c.recorder.emit("ORDER_SUBMITTED", _found_submitted(order))
        c.recorder.emit(
            "ORDER_OUTCOME_UNKNOWN", {"client_order_id": cid, "operation": "submit", "attempt": 0}
        )
        idem.complete(cid, "unknown")
        if item.seen is not None:
            adopt(cid, f"lookup:{item.seen.status.value}")


def _found_submitted(order: Order) -> dict[str, Any]:
    """The ``ORDER_SUBMITTED`` of an order found by the resume (its send outcome unknown).

    It names no intent (the crashed process's ``SIGNAL`` was cut off with it) and no OCO
    group (whose entry fill is not in the run either).
    """
    alone = attrs.evolve(order, oco_group=None)
    return submitted_payload(alone, _REASON, intent_seq=None, in_doubt=True)


def recover_orders(p: SessionParts, fills: Iterable[Booked] = ()) -> None:
    """Take the run's fills as booked, then tell a real venue's new broker every order held.

    ``fills``: the run's up to the checkpoint (a resume's; none for a session restored in
    process), so a repeat of their trade ids is judged as without the crash
    (``ReportRouter.remember``). A ``RecoveringVenue`` reports only on orders it knows, and
    this process sent none of them: without this, their fills after the checkpoint would
    never reach the book. What the book has of each (ack, fills, its cancel or reject) is
    not reported again; a trade the venue lists again with other numbers than those
    booked under its id is, for the session to refuse (``BROKER_REPORT_INVALID``).
    """
    p.reports.remember(fills)
    broker, book = p.broker, p.book
    if not isinstance(broker, RecoveringVenue):
        return
    for closed, orders in ((False, book.open), (True, book.closed)):
        for cid, live in orders.items():
            broker.recover(
                live.order,
                acked=live.acked,
                trade_ids=live.trade_ids,
                filled=live.filled,
                closed=closed,
                booked=p.reports.booked(cid),
            )
