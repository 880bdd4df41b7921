"""A resume's lookup of the orders the crashed process sent after the checkpoint.

Only on a venue the resume does not rewind (neither a ``ResumableVenue`` nor a
``RelayedVenue``: the ccxt broker, a broker of the caller's); see
``_session.aftercheckpoint``. The run's events up to the checkpoint tell which keys of the
idempotency store the checkpoint accounts for: those of every ``ORDER_SUBMITTED`` before
it (an order done by then is no longer in the checkpoint's book).

Every resume reads the fills there too (``recorded_fills``): the trade ids the session
booked, with their numbers, which the checkpoint does not hold (``ReportRouter.remember``).
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._exceptions import BrokerError
from .._session.aftercheckpoint import NO_ANSWER, hold, look_up, resume_record
from .._support.linescan import marked_lines
from .._typing import RelayedVenue, ResumableVenue

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator
    from pathlib import Path

    from .._domain.model import Order
    from .._session.assembly import SessionParts
    from .._typing import Broker

__all__ = ["looked_up_open", "one_by_one", "recorded_fills", "recorded_orders", "sent_after"]

_SUBMITTED: Final = b'"event_type":"ORDER_SUBMITTED"'
_FILLED: Final = (b'"event_type":"ORDER_FILLED"', b'"event_type":"ORDER_PARTIALLY_FILLED"')


def _payloads(events: Path, offset: int, *marks: bytes) -> Iterator[dict[str, Any]]:
    """The payloads of the events in ``events``' first ``offset`` bytes holding a mark.

    The lines holding one are found by ``marked_lines`` (a crashed long run's million
    lines are not cut one by one in Python); a file it cannot tell whole is read by line.
    """
    found = marked_lines(events, offset, marks)
    for line in one_by_one(events, offset, marks) if found is None else found:
        yield orjson.loads(line)["payload"]


def one_by_one(events: Path, offset: int, marks: tuple[bytes, ...]) -> Iterator[bytes]:
    """The lines ending within ``events``' first ``offset`` bytes holding a mark, read by line."""
    read = 0
    with events.open("rb") as f:
        for line in f:
            read += len(line)
            if read > offset:
                break
            if any(mark in line for mark in marks):
                yield line


def recorded_orders(events: Path, offset: int) -> set[str]:
    """The client order ids of the ``ORDER_SUBMITTED`` events in ``events``' first bytes."""
    cids = (payload.get("client_order_id") for payload in _payloads(events, offset, _SUBMITTED))
    return {cid for cid in cids if isinstance(cid, str)}


def recorded_fills(events: Path, offset: int) -> list[tuple[str, str, Decimal, Decimal]]:
    """Each fill booked in ``events``' first bytes: client order id, trade id, quantity, price."""
    return [
        (p["client_order_id"], p["trade_id"], Decimal(p["quantity"]), Decimal(p["price"]))
        for p in _payloads(events, offset, *_FILLED)
    ]


def sent_after(
    parts: SessionParts, run_dir: Path, events_offset: int
) -> tuple[dict[str, Any], Callable[[], None]]:
    """``C2_RESUME``'s keys about the orders sent after the checkpoint, and what tracks them.

    The venue is asked now, and nothing recorded: the second, called once ``C2_RESUME`` is
    audited, holds what it found for the session to track. A rewound venue: no key,
    nothing to do.
    """
    if isinstance(parts.broker, (ResumableVenue, RelayedVenue)):
        return {}, lambda: None
    accounted = recorded_orders(run_dir / names.ARTIFACTS["events"], events_offset)
    looked = look_up(parts, accounted)
    return {"after_checkpoint": resume_record(looked)}, functools.partial(hold, parts, looked or ())


def looked_up_open(broker: Broker, orders: Iterable[Order]) -> list[dict[str, str]]:
    """``C2_RESUME``'s ``in_flight``: each open order of the checkpoint's book, at the venue.

    ``venue_status`` is the venue's status, ``UNKNOWN`` when it does not know the order,
    ``NO_ANSWER`` when the lookup failed (a 503, a refused connection, an answer cut off):
    a read like any other, which the session's polls make again (the broker was told of
    the order, ``recover_orders``). Before, such a failure ended the resume (exit 2, ``the
    read failed (BadResponse)``) after it had cut the run back to its checkpoint.
    """
    found: list[dict[str, str]] = []
    for order in orders:
        cid = order.client_order_id
        try:
            venue = broker.order_by_client_id(cid)
        except BrokerError:
            status = NO_ANSWER
        else:
            status = "UNKNOWN" if venue is None else venue.status.value
        found.append({"client_order_id": cid, "venue_status": status})
    return found
