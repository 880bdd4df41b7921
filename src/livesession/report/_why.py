"""Why each fill happened: the reason and terms of the order it filled.

A fill's event names its order by client order id only; the order's ``ORDER_SUBMITTED``
says why it was sent (``reason``: the strategy's, or the session's own ``stop_loss``,
``take_profit``, ``flatten``) and at what price it was to trade. A reviewer of a protected
position asks both of each exit: which leg fired, and whether the bar gapped through its
price. The terms are kept while the order is open and for the last ``_RECENT`` closed
orders (a fill may be reported after the order's cancel), so memory does not grow with the
run.
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any, Final

from .._domain.decimal import finite_decimal, plain

__all__ = ["OrderWhy"]

_RECENT: Final = 1024
"""Closed orders whose terms are kept for a fill reported after the order closed."""
_CLOSING: Final = frozenset({"ORDER_CANCELED", "ORDER_REJECTED", "ORDER_EXPIRED"})


class OrderWhy:
    """The orders' terms as the events stream past; ``words`` for one order's fill."""

    def __init__(self) -> None:
        self._open: dict[str, tuple[str, str, Decimal | None, str]] = {}
        self._closed: OrderedDict[str, tuple[str, str, Decimal | None, str]] = OrderedDict()

    def feed(self, kind: str, fields: dict[str, Any]) -> None:
        """An order event: remember a submitted order's terms, put a closed one aside."""
        cid = str(fields.get("client_order_id", ""))
        if kind == "ORDER_SUBMITTED":
            price = finite_decimal(fields.get("limit_price"), allow_int=True)
            self._open[cid] = (
                str(fields.get("reason") or ""),
                str(fields.get("order_type") or ""),
                price,
                str(fields.get("side") or ""),
            )
            return
        done = kind in _CLOSING or (
            kind == "ORDER_FILLED" and finite_decimal(fields.get("remaining"), allow_int=True) == 0
        )
        if done and cid in self._open:
            self._closed[cid] = self._open.pop(cid)
            if len(self._closed) > _RECENT:
                self._closed.popitem(last=False)

    def words(self, cid: str, fill_price: Decimal) -> str:
        """``stop_loss: STOP 97.28, filled 4.28 past it (the bar gapped through it)``, or ""."""
        terms = self._open.get(cid) or self._closed.get(cid)
        if terms is None:
            return ""
        reason, order_type, price, side = terms
        text = f"{reason or '(no reason)'}: {order_type}"
        if price is None:
            return text
        text += f" {plain(price)}"
        worse = price - fill_price if side == "SELL" else fill_price - price
        if order_type == "STOP" and worse > 0:
            return f"{text}, filled {plain(worse)} past it (the bar gapped through it)"
        if order_type == "LIMIT" and worse < 0:
            return f"{text}, filled {plain(-worse)} better (the bar opened past it)"
        return text
