"""Why each fill happened, and what a run's protective exits did, read from its events.

A fill's event names its order by client order id only; the order's ``ORDER_SUBMITTED``
says why it was sent (``reason``: the strategy's, or the session's own ``stop_loss``,
``take_profit``, ``flatten``) and at what price it was to trade. A reviewer of a protected
position asks both of each exit: which leg fired, and whether the bar gapped through its
price. ``OrderWhy`` says it of one fill (the report's Trades rows); ``ExitTally`` counts it
over the run (the evidence's "Protective exits"), from the same terms. The terms are kept
while the order is open and for the last ``_RECENT`` closed orders (a fill may be reported
after the order's cancel), so memory does not grow with the run.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any, Final

import attrs

from .._domain import clock
from .._domain.decimal import finite_decimal, plain
from .._domain.model import FILL_EVENT_TYPES
from .._domain.reasons import PROTECTION_LOST

__all__ = ["CLOSING_EVENTS", "EXIT_REASONS", "ExitTally", "OrderWhy", "closes"]

_RECENT: Final = 1024
"""Closed orders whose terms are kept for a fill reported after the order closed."""
CLOSING_EVENTS: Final = frozenset({"ORDER_CANCELED", "ORDER_REJECTED", "ORDER_EXPIRED"})
"""The events that close an order whatever they say (``ORDER_FILLED`` closes it when the
fill leaves nothing to fill: ``closes``)."""
_READ: Final = frozenset(
    {"ORDER_SUBMITTED", "KILL_SWITCH", "RISK_REJECTED", *FILL_EVENT_TYPES, *CLOSING_EVENTS}
)
"""The events ``ExitTally`` reads: every other kind is passed by at once."""
EXIT_REASONS: Final = ("stop_loss", "take_profit")
"""The ``reason`` of a protective leg's ``ORDER_SUBMITTED`` (the stop, the take profit)."""


@attrs.define(kw_only=True)
class _Terms:
    """One order's terms as submitted, and what its fills did (for ``ExitTally``)."""

    reason: str
    order_type: str
    price: Decimal | None
    side: str
    group: str
    filled: bool = False
    gapped: bool = False

    def worse(self, fill_price: Decimal) -> Decimal | None:
        """How much worse than its price ``fill_price`` is for the order (negative: better)."""
        if self.price is None:
            return None
        return self.price - fill_price if self.side == "SELL" else fill_price - self.price


class OrderWhy:
    """The orders' terms as the events stream past; ``words`` for one order's fill."""

    def __init__(self) -> None:
        self._open: dict[str, _Terms] = {}
        self._closed: OrderedDict[str, _Terms] = OrderedDict()

    def feed(self, kind: str, fields: dict[str, Any]) -> _Terms | None:
        """An order event: remember a submitted order's terms, put a closed one aside.

        Returns the terms of the order this event closed (None: it closed none it knew).
        """
        cid = str(fields.get("client_order_id", ""))
        if kind == "ORDER_SUBMITTED":
            self._open[cid] = _Terms(
                reason=str(fields.get("reason") or ""),
                order_type=str(fields.get("order_type") or ""),
                price=finite_decimal(fields.get("limit_price"), allow_int=True),
                side=str(fields.get("side") or ""),
                group=str(fields.get("oco_group") or ""),
            )
            return None
        if cid not in self._open:
            return None
        if not closes(kind, fields):
            return None
        terms = self._closed[cid] = self._open.pop(cid)
        if len(self._closed) > _RECENT:
            self._closed.popitem(last=False)
        return terms

    def terms(self, cid: str) -> _Terms | None:
        """The terms of the order ``cid``, open or recently closed; None if unknown."""
        return self._open.get(cid) or self._closed.get(cid)

    def words(self, cid: str, fill_price: Decimal) -> str:
        """``stop_loss: STOP 97.28, filled 4.28 past it (the bar gapped through it)``, or ""."""
        terms = self.terms(cid)
        if terms is None:
            return ""
        text = f"{terms.reason or '(no reason)'}: {terms.order_type}"
        worse = terms.worse(fill_price)
        if terms.price is None or worse is None:
            return text
        text += f" {plain(terms.price)}"
        if terms.order_type == "STOP" and worse > 0:
            return f"{text}, filled {plain(worse)} past it (the bar gapped through it)"
        if terms.order_type == "LIMIT" and worse < 0:
            return f"{text}, filled {plain(-worse)} better (the bar opened past it)"
        return text


def closes(kind: object, fields: dict[str, Any]) -> bool:
    """Whether the order event ``kind`` with ``fields`` closes its order.

    Cancelled, rejected, expired (``CLOSING_EVENTS``), or filled with nothing left to fill.
    """
    return kind in CLOSING_EVENTS or (
        kind == "ORDER_FILLED" and finite_decimal(fields.get("remaining"), allow_int=True) == 0
    )


class ExitTally:
    """What the run's protective exits did, as the events stream past (one pass, any order).

    ``feed`` each event; ``result`` is the evidence manifest's ``exits``, or None for a run
    that placed no exit (nor had one refused): that run's bundle says nothing of exits.
    A pair is one OCO group (an entry's stop and take profit); it ended unfilled when every
    leg it sent closed (cancelled: a kill's, a stop's; or refused) with none filled.
    """

    def __init__(self) -> None:
        self._why = OrderWhy()
        self._groups: dict[str, list[int]] = {}  # open pair: [legs open, legs filled]
        self._placed = {"pairs": 0, "stop_loss": 0, "take_profit": 0}
        self._filled = {"stop_loss": 0, "take_profit": 0}
        self._gapped = self._better = self._unfilled = self._refused = self._not_sent = 0
        self._worst: tuple[Decimal, int | None] | None = None
        self._lost: list[dict[str, Any]] = []

    def feed(self, event: dict[str, Any]) -> None:
        """One event of the run (any kind: those that say nothing of exits are passed by)."""
        kind = event.get("event_type")
        if kind not in _READ:  # a bar, a signal...: most of a run's events
            return
        fields = event.get("payload")
        if not isinstance(fields, dict):
            return
        if kind == "KILL_SWITCH" and fields.get("reason") == PROTECTION_LOST:
            at = event.get("ts_sim")
            when = clock.format_utc_ns(at) if type(at) is int else None
            self._lost.append({"seq": event.get("seq"), "at": when})
        elif kind == "RISK_REJECTED" and fields.get("leg"):
            self._not_sent += 1
        elif kind in FILL_EVENT_TYPES:
            self._fill(fields, event.get("seq"))
        if kind == "ORDER_SUBMITTED":  # only the legs' terms are kept: no other order is read
            if fields.get("reason") in EXIT_REASONS:
                self._submitted(fields)
            return
        closed = self._why.feed(kind, fields)
        if closed is not None:
            self._refused += kind == "ORDER_REJECTED"
            self._leg_closed(closed)

    def _submitted(self, fields: dict[str, Any]) -> None:
        self._why.feed("ORDER_SUBMITTED", fields)
        self._placed[str(fields["reason"])] += 1
        group = str(fields.get("oco_group") or fields.get("client_order_id"))
        if group not in self._groups:
            self._placed["pairs"] += 1
            self._groups[group] = [0, 0]
        self._groups[group][0] += 1

    def _fill(self, fields: dict[str, Any], seq: object) -> None:
        terms = self._why.terms(str(fields.get("client_order_id", "")))
        if terms is None:
            return
        price = finite_decimal(fields.get("price"), allow_int=True)
        if price is None:
            return
        if not terms.filled:
            terms.filled = True
            self._filled[terms.reason] += 1
            if terms.group in self._groups:
                self._groups[terms.group][1] += 1
        worse = terms.worse(price)
        if worse is None:
            return
        if terms.order_type == "STOP" and worse > 0:
            self._gapped += not terms.gapped
            terms.gapped = True
            if self._worst is None or worse > self._worst[0]:
                self._worst = (worse, seq if type(seq) is int else None)
        elif terms.order_type == "LIMIT" and worse < 0 and not terms.gapped:
            terms.gapped = True
            self._better += 1

    def _leg_closed(self, terms: _Terms) -> None:
        legs = self._groups.get(terms.group)
        if legs is None:
            return
        legs[0] -= 1
        if legs[0] <= 0:
            del self._groups[terms.group]
            self._unfilled += not legs[1]

    def result(self) -> dict[str, Any] | None:
        """The manifest's ``exits`` (its figures: docs/artifacts.md), or None: no exits."""
        placed = self._placed
        if not placed["pairs"] and not self._not_sent and not self._lost:
            return None
        worst = self._worst
        return {
            "pairs_placed": placed["pairs"],
            "stops_placed": placed["stop_loss"],
            "take_profits_placed": placed["take_profit"],
            "stops_filled": self._filled["stop_loss"],
            "stops_gapped_through": self._gapped,
            "worst_gap_through": None if worst is None else plain(worst[0]),
            "worst_gap_through_seq": None if worst is None else worst[1],
            "take_profits_filled": self._filled["take_profit"],
            "take_profits_filled_better": self._better,
            "pairs_ended_unfilled": self._unfilled,
            "pairs_open_at_end": len(self._groups),
            "legs_refused_by_venue": self._refused,
            "legs_not_sent": self._not_sent,
            "protection_lost": self._lost,
        }
