"""The session's own flatten orders as a run wound down: what the strategy still held.

A run whose strategy holds a position at its last bar seals flat: the wind-down sends a
``flatten`` order of its own (``ORDER_SUBMITTED`` with ``reason`` ``flatten`` and no
``signal_id``, which a strategy's order always has) and the seal's snapshot shows no
position. Told only "flat", a reviewer reads that the strategy ended flat. The evidence
(``outcome.flattened``) and the report read these orders here, the CLI's summary from the
session (``DryrunResult.flattened``), and all three say them in ``flatten_words``. A kill's
flatten is not among them: the kill switch's own line tells it.

A venue may acknowledge a flatten and cancel or reject it unfilled, or fill part of it
(a desk's venue, the realish broker's rejects): the position then stays open, and "the
session flattened" would tell a reviewer it was closed. Each order's fills and end are
noted with it (``filled``, ``ended``), and ``flatten_fate`` says what was left open.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final

from .._artifacts.runread import payload
from .._domain.clock import format_utc_ns
from .._domain.decimal import plain

__all__ = ["FLATTEN_KINDS", "WindDownFlattens", "flatten_fate", "flatten_words"]

_FILLS: Final = frozenset({"ORDER_FILLED", "ORDER_PARTIALLY_FILLED"})
_ENDS: Final = {
    "ORDER_FILLED": "filled",
    "ORDER_CANCELED": "cancelled",
    "ORDER_REJECTED": "rejected",
}
"""How an order's last report ends it, as ``found``'s ``ended`` says it."""
FLATTEN_KINDS: Final = frozenset(
    {"ORDER_SUBMITTED", "KILL_SWITCH", "KILL_SWITCH_FLAT", *_FILLS, *_ENDS}
)
"""The events ``WindDownFlattens.note`` reads; a pass may hand it only these."""


class WindDownFlattens:
    """Noted one event at a time (``note``): the wind-down's flatten orders, in order."""

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []
        """Each order's ``side``, ``quantity``, ``symbol``, the steps before it
        (``after_step``), its run time (``at``, UTC text), what of it filled (``filled``)
        and how it ended (``ended``: ``filled``, ``cancelled``, ``rejected``; None while
        it was open)."""
        self._by_id: dict[object, dict[str, Any]] = {}
        self._killing = False

    def note(self, kind: object, event: dict[str, Any], steps: int) -> None:
        """One event of kind ``kind``, ``steps`` bars into the run."""
        if kind == "ORDER_SUBMITTED" and not self._killing:
            order = payload(event)
            if order.get("reason") == "flatten" and "signal_id" not in order:
                at = event.get("ts_sim")
                said: dict[str, Any] = {k: order.get(k) for k in ("side", "quantity", "symbol")}
                at_utc = format_utc_ns(at) if type(at) is int else None
                said |= {"after_step": steps, "at": at_utc, "filled": "0", "ended": None}
                self.found.append(said)
                self._by_id[order.get("client_order_id")] = said
        elif kind in ("KILL_SWITCH", "KILL_SWITCH_FLAT"):  # a kill's flatten is told with it
            self._killing = kind == "KILL_SWITCH"
        elif (noted := self._by_id.get(payload(event).get("client_order_id"))) is not None:
            if kind in _FILLS:
                noted["filled"] = str(payload(event).get("filled"))
            noted["ended"] = _ENDS.get(str(kind), noted["ended"])


def flatten_words(order: dict[str, Any]) -> str:
    """``SELL 0.010 BTC/USDT after step 8 (2026-01-01T00:08:00Z)``, or without the step."""
    what = " ".join(str(order.get(key)) for key in ("side", "quantity", "symbol"))
    if order.get("after_step") is None:
        return what
    return f"{what} after step {order.get('after_step')} ({order.get('at')})"


def flatten_fate(order: dict[str, Any]) -> str:
    """What a flatten that did not close what it was sent for left open; "" for one that did.

    ``rejected by the venue unfilled, so it left BTC/USDT 0.010 open``, ``cancelled by the
    venue after 0.004 filled, so it left BTC/USDT 0.006 open``, ``not filled when the run
    sealed, so ...`` (a later flatten may have closed it: the seal's position says).
    A record without ``ended`` (a manifest written before it was kept) is taken as filled.
    """
    if "ended" not in order or order.get("ended") == "filled":
        return ""
    try:
        quantity, filled = Decimal(str(order.get("quantity"))), Decimal(str(order.get("filled")))
    except InvalidOperation:
        return ""
    if filled >= quantity:
        return ""
    ended = order.get("ended")
    how = "not filled when the run sealed" if ended is None else f"{ended} by the venue"
    how += f" after {plain(filled)} filled" if filled else ("" if ended is None else " unfilled")
    return f"{how}, so it left {order.get('symbol')} {plain(quantity - filled)} open"
