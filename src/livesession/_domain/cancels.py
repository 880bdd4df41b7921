"""A strategy's request to cancel one of its resting orders: ``CancelIntent``.

A strategy names the order by its client order id, as the view shows it
(``view.open_orders()``: each ``Order`` carries ``client_order_id``). The id is checked
for its form only (1-32 characters of ``[A-Za-z0-9]``, as every client order id the
session makes): whether the order is open is the session's to find out, and a cancel of
an order that is not open (unknown, filled, cancelled already) is a recorded no-op.
"""

from __future__ import annotations

import re
from typing import Final

import attrs

from .._support.text import INTENT_TEXT_MAX, surrogate_at, too_long

__all__ = ["STRATEGY_CANCEL", "CancelIntent", "cancel_problem"]

STRATEGY_CANCEL: Final = "STRATEGY_CANCEL"
"""The ``reason`` the ``ORDER_CANCELED`` of an order the strategy cancelled gives."""
_CLIENT_ORDER_ID: Final = re.compile(r"[A-Za-z0-9]{1,32}")


@attrs.frozen(kw_only=True)
class CancelIntent:
    """Cancel the open order ``client_order_id`` (a resting LIMIT or STOP, say).

    Returned from ``on_bar`` beside ``OrderIntent``s, and taken in the order given: a
    cancel then a new order is a cancel-and-replace. ``reason`` is recorded as given
    (``STRATEGY_CANCEL``). No safety rail refuses a cancel: it never adds exposure.
    """

    client_order_id: str
    reason: str = ""


def cancel_problem(intent: CancelIntent) -> str | None:
    """What is wrong with a ``CancelIntent`` the session could not act on, or None."""
    cid: object = intent.client_order_id  # attrs checks no types: anything may be here
    reason: object = intent.reason
    if not isinstance(cid, str) or not _CLIENT_ORDER_ID.fullmatch(cid):
        return (
            f"a CancelIntent's client_order_id must be a client order id (1 to 32 letters "
            f"and digits, as Order.client_order_id in view.open_orders()), got {cid!r}"
        )
    if not isinstance(reason, str):
        return f"a CancelIntent's reason must be a str, got {reason!r}"
    if len(reason) > INTENT_TEXT_MAX:
        return too_long("a CancelIntent's reason", reason)
    at = surrogate_at(reason)
    if at is not None:
        return (
            f"a CancelIntent's reason must be valid Unicode text, got {reason!r} (a lone "
            f"surrogate U+{ord(reason[at]):04X} at index {at})"
        )
    return None
