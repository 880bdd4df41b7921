"""Whether a send that failed without reaching the venue goes again (the retry loop's ask).

Not under HALTED, unless the order only reduces a position; and never once the session's
lease is lost: the wait between two sends (a lookup's, on the wall) can outlast its TTL.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._risk.governor import TradingState

if TYPE_CHECKING:
    from .._domain.model import Order
    from .context import SessionContext

__all__ = ["NotResent", "resend_or_raise"]


class NotResent(Exception):
    """A send that failed without reaching the venue is not resent: the lease was lost."""


def resend_or_raise(order: Order, ctx: SessionContext, error: BaseException) -> None:
    """Raise unless ``order``, whose send never reached the venue, may be sent again.

    Not under HALTED (``_refused_while_halted``: ``error`` goes on), nor once the lease is
    lost (``NotResent``: nothing more is written): a lookup's wait on the wall between
    two sends can outlast the lease's TTL, and a newer holder may be sending by then.
    """
    if _refused_while_halted(order, ctx.governor.state):
        raise error
    if not ctx.may_send():
        raise NotResent from error


def _refused_while_halted(order: Order, trading: TradingState) -> bool:
    """Whether resending ``order`` now would send what HALTED refuses as new.

    A send that failed without reaching the venue is resent after a wait; if its failures
    made the broker unhealthy (or anything else halted trading) it is given up instead,
    as a new order would be refused, unless it only reduces a position. A protective leg
    (``oco_group``) is given up too, reduce-only as it is: HALTED places no leg (``exits``
    refuses one), and a take profit whose failed send had just halted trading was resent
    and rested at the venue while the kill switch flattened.
    """
    return trading is TradingState.HALTED and (not order.reduce_only or order.oco_group is not None)
