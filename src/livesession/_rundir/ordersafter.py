"""The orders a crashed run had open when it died, as its events after the checkpoint show.

A checkpoint comes every ``checkpoint_every`` steps; a quote sent or a protective leg
placed in between is in the events only. ``status`` said such a run's open orders were
the checkpoint's (``none``) while they may rest at the venue: an operator deciding whether
to resume it, or to go to the venue by hand, needs the ones it sent and never saw closed.

``OrdersAfter`` is fed the order events past the checkpoint, newest first, by the one pass
that reads the position there (``livecut.positions_since``), and says what was open at the
end: the checkpoint's orders no event closed since, then those sent since and not closed.
"""

from __future__ import annotations

from typing import Any, Final

from .._domain.model import FILL_EVENT_TYPES
from .exits import CLOSING_EVENTS, closes

__all__ = ["ORDER_EVENTS", "ORDER_FIELDS", "OrdersAfter", "order_of"]

ORDER_FIELDS: Final = (
    "client_order_id",
    "symbol",
    "side",
    "quantity",
    "limit_price",
    "order_type",  # the terms after the quantity say which leg it is, for an operator
    "reduce_only",
    "oco_group",
)
"""What ``status`` shows of an order, as the checkpoint's book and ``ORDER_SUBMITTED`` hold it."""
ORDER_EVENTS: Final = (
    "ORDER_SUBMITTED",
    *sorted(FILL_EVENT_TYPES | CLOSING_EVENTS),
    "RECONCILED",
    "STRATEGY_CANCEL",
)
"""The events that open, fill or close an order (``RECONCILED``: one the operator took
over), or ask its cancel (``STRATEGY_CANCEL``: the venue took the request)."""


def order_of(fields: dict[str, Any], **state: object) -> dict[str, Any]:
    """One order as ``status`` lists it: its ``ORDER_FIELDS``, then ``state`` (``filled`` ...)."""
    return {key: fields.get(key) for key in ORDER_FIELDS} | state


class OrdersAfter:
    """What the order events after a checkpoint did, fed newest first (``feed``)."""

    def __init__(self) -> None:
        self._closed: set[str] = set()
        self._filled: dict[str, object] = {}  # the newest fill's ``filled``, by order
        self._asked: set[str] = set()  # a cancel the venue took, its ORDER_CANCELED not seen
        self._sent: list[dict[str, Any]] = []  # sent and not closed, newest first

    def feed(self, kind: str, fields: dict[str, Any]) -> None:
        """One event, newer than every one fed before it (other kinds are passed by)."""
        cid = fields.get("client_order_id")
        if kind not in ORDER_EVENTS or not isinstance(cid, str):
            return
        if kind == "RECONCILED" and fields.get("action") != "DROPPED":
            return  # DROPPED: the operator took it over, and the book let it go
        if kind == "STRATEGY_CANCEL":
            if fields.get("outcome") == "SENT":
                self._asked.add(cid)
        elif kind == "ORDER_SUBMITTED":
            if cid not in self._closed:
                in_doubt = fields.get("send_outcome") == "UNKNOWN"
                filled, asked = self._filled.get(cid, "0"), cid in self._asked
                self._sent.append(
                    order_of(fields, filled=filled, in_doubt=in_doubt, cancel_requested=asked)
                )
        elif kind == "RECONCILED" or closes(kind, fields):
            self._closed.add(cid)
        elif kind in FILL_EVENT_TYPES:
            self._filled.setdefault(cid, fields.get("filled"))

    def open_at_end(self, kept: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The orders open when the events end: ``kept`` (the checkpoint's) then those sent."""
        still = [
            order
            | ({"filled": self._filled[cid]} if cid in self._filled else {})
            | ({"cancel_requested": True} if cid in self._asked else {})
            for order in kept
            if (cid := order.get("client_order_id")) not in self._closed
        ]
        return still + self._sent[::-1]
