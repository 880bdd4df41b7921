"""A strategy's cancel of one of its open orders: ``CancelIntent`` to the venue.

The cancel takes the order path's edges, not its checks: no rail refuses it (it never adds
exposure, so ``REDUCING`` lets it through), it needs no key of its own, and it is sent
only for an order the book holds open. Each is recorded once, as ``STRATEGY_CANCEL``
with what became of it (``outcome``):

- ``SENT``: the venue took the request; the order's ``ORDER_CANCELED`` (reason
  ``STRATEGY_CANCEL``) follows, or a fill that reached it first: the fill wins, and the
  order is closed by the report of what it filled;
- ``NOT_OPEN_AT_VENUE``: the venue says it is no longer open (it filled, or the venue
  cancelled it): its last report is on the way, and the reconciler closes it if none comes;
- ``NOT_OPEN``: the book holds no open order of that id (never sent, filled, cancelled):
  nothing is sent;
- ``ALREADY_REQUESTED``: a cancel of it was taken already: nothing is sent;
- ``IN_DOUBT``: its own send's outcome is unknown, so nothing can be cancelled yet: the
  reconciler adopts or gives it up; ask again once the view shows it;
- ``FAILED``: the call failed (``error`` names its type), and the order stays open: ask
  again on a later bar. A cancel whose answer was lost (a timeout) may have been applied:
  the reconciler closes the order as the venue shows it.

Across a crash: the checkpoint holds each order's ``cancel_requested``; a simulated venue
(mock, realish) is rewound to the checkpoint with the session, so the re-run's cancel
reaches it once. A venue that is not rewound (ccxt) still holds the crashed process's
cancel: the resume finds the order cancelled there and closes it before the re-run's
strategy is asked (``aftercheckpoint``, the venue's reports), and a cancel asked anyway is
answered ``NOT_OPEN_AT_VENUE``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._domain.cancels import STRATEGY_CANCEL
from .._exceptions import Transient
from .._support.crash import crashpoint

if TYPE_CHECKING:
    from .._domain.cancels import CancelIntent
    from .context import SessionContext
    from .winddown import WindDown

__all__ = ["CANCEL_OUTCOMES", "cancel_for_strategy"]

CANCEL_OUTCOMES: Final = (
    "SENT",
    "NOT_OPEN_AT_VENUE",
    "NOT_OPEN",
    "ALREADY_REQUESTED",
    "IN_DOUBT",
    "FAILED",
)
"""The ``outcome`` a ``STRATEGY_CANCEL`` gives."""


def cancel_for_strategy(ctx: SessionContext, winddown: WindDown, intent: CancelIntent) -> None:
    """Cancel the order ``intent`` names, if open; ``STRATEGY_CANCEL`` says what happened.

    Dropped unrecorded once the session's lease is lost (the session has faulted), as an
    order intent is.
    """
    if not ctx.may_trade():
        return
    cid = intent.client_order_id
    payload: dict[str, Any] = {"client_order_id": cid, "reason": intent.reason}
    live = ctx.book.open.get(cid)
    if live is None:
        payload["outcome"] = "NOT_OPEN"
    else:
        if live.event_id:
            payload["order_event_id"] = live.event_id
        if live.cancel_requested:
            payload["outcome"] = "ALREADY_REQUESTED"
        elif live.in_doubt:
            payload["outcome"] = "IN_DOUBT"
        else:
            answer = winddown.request_cancel(cid, reason=STRATEGY_CANCEL)
            crashpoint("after_cancel")
            if answer in ("SENT", "NOT_OPEN_AT_VENUE"):
                payload["outcome"] = answer
            else:
                payload["outcome"] = "FAILED"
                payload["error"] = answer or "NOT_SENT"
                if answer != Transient.__name__:
                    # A cancel whose answer was lost may have been applied: the venue's (or
                    # the reconciler's) ORDER_CANCELED then says whose it was. One that never
                    # reached the venue (Transient) was not: a cancel that follows is not it.
                    live.cancel_reason = STRATEGY_CANCEL
    ctx.recorder.emit("STRATEGY_CANCEL", payload)
