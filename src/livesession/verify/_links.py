"""The causal links between events: each names an earlier event of the right kind.

A ``SIGNAL`` starts a chain. The rails' decision on it (``RISK_REJECTED``) and the order
it became (``ORDER_SUBMITTED``, or ``ORDER_REJECTED`` when the send failed) carry its id
as ``signal_id``; the venue's reports on an order (``ORDER_ACCEPTED``, fills,
``ORDER_CANCELED``, ``ORDER_REJECTED``) carry the order's ``ORDER_SUBMITTED`` id as
``order_event_id``; a protective OCO leg carries the entry fill it protects as
``fill_event_id``. A link must name an event earlier in the same run, of the right type,
about the same thing (the same intent, the same client order id, the leg's entry); and an
event whose parent is in the run must carry the link, unless a release before 0.2 wrote the
run: those releases wrote no links at all, so their events are not held to carry one.
"""

from __future__ import annotations

import re
from array import array
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._domain.ids import client_order_id
from .._domain.model import FILL_EVENT_TYPES

if TYPE_CHECKING:
    from ._result import Violations

__all__ = ["LINK_FIELDS", "Links"]

_SIGNAL: Final = "SIGNAL"
_SUBMITTED: Final = "ORDER_SUBMITTED"
LINK_FIELDS: Final[dict[str, frozenset[str]]] = {
    "signal_id": frozenset({_SIGNAL}),
    "order_event_id": frozenset({_SUBMITTED}),
    "fill_event_id": FILL_EVENT_TYPES,
}
"""Each link field and the event types it may name."""
_REPORTS: Final = frozenset(
    {"ORDER_ACCEPTED", "ORDER_CANCELED", "ORDER_REJECTED", *FILL_EVENT_TYPES}
)
_DECISIONS: Final = frozenset({_SUBMITTED, "RISK_REJECTED"})
_TARGETS: Final = frozenset().union(*LINK_FIELDS.values())
"""The event types a link may name."""
_EVENT_ID: Final = re.compile(r"[0-9a-f]{24}")
_BEFORE_LINKS: Final = ("0.0.", "0.1.")
"""The releases that wrote no causal links (``SESSION_STARTED``'s ``version``)."""


class _Others:
    """The ids of the events no link may name, with their types, in 12 bytes each.

    Kept only to say what a wrong link names ("names a BAR event"), which a clean run never
    asks: a 64-bit prefix of each id and a number for its type go into two arrays, and only
    the first question builds an index. Two ids sharing a prefix could only change which
    type such a message names, never whether the link is wrong.
    """

    def __init__(self) -> None:
        self._prefixes = array("Q")
        self._kinds = array("I")
        self._names: list[str] = []
        self._codes: dict[str, int] = {}
        self._index: dict[int, int] | None = None

    def add(self, event_id: str, kind: str) -> None:
        code = self._codes.get(kind)
        if code is None:
            code = self._codes[kind] = len(self._names)
            self._names.append(kind)
        prefix = int(event_id[:16], 16)
        if self._index is not None:
            self._index[prefix] = len(self._prefixes)
        self._prefixes.append(prefix)
        self._kinds.append(code)

    def kind_of(self, event_id: str) -> str | None:
        """The type of the event ``event_id`` names (the last one of that id), or None."""
        if not _EVENT_ID.fullmatch(event_id):
            return None
        if self._index is None:
            self._index = {prefix: at for at, prefix in enumerate(self._prefixes)}
        at = self._index.get(int(event_id[:16], 16))
        return None if at is None else self._names[self._kinds[at]]


class Links:
    """Checks the links of one run's events, in order; problems go to ``report``."""

    def __init__(self, report: Violations) -> None:
        self.report = report
        # Of each event only what a later link is checked against, so that memory stays
        # small on long runs: of an event a link may name, its type, intent and client
        # order id (None when absent); of any other, its type (``_Others``).
        self._seen: dict[str, tuple[str, object, object]] = {}
        self._others = _Others()
        self._signals: dict[int, str] = {}
        self._submitted: dict[str, str] = {}
        self._required = True
        """Whether an event whose parent is in the run must name it (False: 0.1.x wrote it)."""

    def recorded_by(self, version: object) -> None:
        """The livesession ``version`` that wrote the run: before 0.2, no event had links.

        A link such a run does carry is still checked; only its absence is no violation.
        """
        self._required = not str(version).startswith(_BEFORE_LINKS)

    def apply(self, number: int, event: dict[str, Any]) -> None:
        """Check ``event``'s links against the events before it, then remember it."""
        kind, payload = event["event_type"], event["payload"]
        if not payload.keys().isdisjoint(LINK_FIELDS):
            for field, allowed in LINK_FIELDS.items():
                if field in payload:
                    self._check_target(number, field, payload, allowed)
        if self._required and (kind in _DECISIONS or kind in _REPORTS):
            self._check_present(number, kind, payload)
        event_id = event["event_id"]
        if kind not in _TARGETS:
            self._others.add(event_id, kind)
            return
        self._seen[event_id] = (kind, payload.get("intent_seq"), payload.get("client_order_id"))
        if kind == _SUBMITTED:
            self._check_order_id(number, event)
        if kind == _SIGNAL and isinstance(payload.get("intent_seq"), int):
            self._signals[payload["intent_seq"]] = event_id
        elif kind == _SUBMITTED and isinstance(payload.get("client_order_id"), str):
            self._submitted[payload["client_order_id"]] = event_id

    def _check_order_id(self, number: int, event: dict[str, Any]) -> None:
        """An order's client order id is the one its (run, strategy, intent, leg) gives.

        A protective leg is ``sl`` or ``tp``, any other order ``main`` or ``flatten``. An
        order a resume found at the venue has no ``intent_seq`` and is not checked.
        """
        payload = event["payload"]
        intent_seq, given = payload.get("intent_seq"), payload.get("client_order_id")
        if not isinstance(intent_seq, int) or not isinstance(given, str):
            return
        legs = ("sl", "tp") if "oco_group" in payload else ("main", "flatten")
        ids = [
            client_order_id(event["run_id"], event["strategy_id"], intent_seq, leg) for leg in legs
        ]
        if given not in ids:
            self._add(
                number,
                f"client_order_id {given!r} is not the id of intent {intent_seq}'s "
                f"{' or '.join(legs)} leg ({' or '.join(ids)})",
            )

    def _add(self, number: int, message: str) -> None:
        self.report.add(names.EVENTS, number, message)

    def _check_target(
        self, number: int, field: str, payload: dict[str, Any], allowed: frozenset[str]
    ) -> None:
        target = payload[field]
        found = self._seen.get(target) if isinstance(target, str) else None
        other = (
            None
            if found is not None or not isinstance(target, str)
            else self._others.kind_of(target)
        )
        if found is None and other is None:
            self._add(number, f"{field} {target!r} names no earlier event of this run")
            return
        kind, intent_seq, client_order_id = (other, None, None) if found is None else found
        if kind not in allowed:
            self._add(number, f"{field} names a {kind} event, not {' or '.join(sorted(allowed))}")
            return
        if field == "signal_id" and intent_seq != payload.get("intent_seq"):
            self._add(
                number,
                f"signal_id names the SIGNAL of intent {intent_seq}, "
                f"not {payload.get('intent_seq')}",
            )
        elif field == "order_event_id" and client_order_id != payload.get("client_order_id"):
            self._add(
                number,
                f"order_event_id names the order {client_order_id!r}, "
                f"not {payload.get('client_order_id')!r}",
            )
        elif (
            field == "fill_event_id"
            and "oco_group" in payload
            and client_order_id != payload["oco_group"]
        ):
            self._add(
                number,
                f"fill_event_id names a fill of {client_order_id!r}, "
                f"not of the leg's entry {payload['oco_group']!r}",
            )

    def _check_present(self, number: int, kind: str, payload: dict[str, Any]) -> None:
        """An event whose parent is in the run must name it."""
        if kind in _DECISIONS:
            if "oco_group" in payload or "leg" in payload:
                needed = "fill_event_id"
            elif payload.get("intent_seq") in self._signals:
                needed = "signal_id"
            else:
                return  # a flatten order: the kill switch or the wind-down, no signal
            if needed not in payload:
                self._add(number, f"{kind} of intent {payload.get('intent_seq')} has no {needed}")
        elif kind in _REPORTS and "intent_seq" not in payload:
            cid = payload.get("client_order_id")
            if cid in self._submitted and "order_event_id" not in payload:
                self._add(number, f"{kind} of {cid!r} has no order_event_id")
