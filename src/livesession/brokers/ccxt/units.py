"""The unit a venue reads an order's quantity in, where ccxt does not make it the base's.

livesession's quantities are in the base currency (``0.010`` of ``BTC/USDT`` is 0.010
BTC). Bybit reads a spot market buy's ``qty`` in the base currency only on a unified
trading account, where ccxt sends ``marketUnit=baseCoin``; on a classic account it reads
it in the quote currency, and ccxt sends the base quantity as it is: 0.010 BTC would be a
buy of 0.010 USDT. Such an order is refused before it is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._domain.model import Order, OrderType, Side
from ..._exceptions import Rejected
from .sandbox import _Exchange, _Sandbox

__all__: list[str] = []


def refuse_quote_sized(
    exchange: _Exchange, sandbox: _Sandbox, order: Order, read: Callable[[Callable[[], Any]], Any]
) -> None:
    """Refuse (``Rejected``, ``NOT_SUPPORTED``) an ``order`` the venue would size in quote.

    ``read`` runs one read request (the broker's gate and error classification): ccxt asks
    the account's kind once (``is_unified_enabled``) and keeps it for its own
    ``create_order``, so this check sends no extra request.
    """
    if not (
        sandbox.classic_market_buy_in_quote
        and order.order_type is OrderType.MARKET
        and order.side is Side.BUY
    ):
        return
    unified = read(exchange.is_unified_enabled)
    if isinstance(unified, (list, tuple)) and len(unified) > 1 and unified[1]:
        return  # a unified trading account: ccxt sends marketUnit=baseCoin
    quote = exchange.market(order.symbol)["quote"]
    raise Rejected(
        f"{exchange.id} reads a classic account's spot market buy qty in {quote}, not the "
        f"{order.quantity} {order.symbol} base quantity this order asks for: use a unified "
        "trading account, or a limit order",
        reason="NOT_SUPPORTED",
        client_order_id=order.client_order_id,
    )
