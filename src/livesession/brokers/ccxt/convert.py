"""Conversions at the boundary between livesession's model and ccxt's values.

ccxt's floats become ``Decimal`` through ``str``; ccxt's order dicts become ``VenueOrder``
and ``VenueOrderStatus``; an ``Order`` becomes the amount and price strings ccxt sends,
refused (``Rejected``) when the venue's precision would change them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from ..._domain.decimal import ZERO, plain
from ..._domain.model import Order, OrderType, Side, VenueOrder, VenueOrderStatus
from ..._exceptions import Rejected
from ..._support.optional import import_optional
from .errors import classify
from .sandbox import _Exchange

__all__: list[str] = []

_CLIENT_ID: Final = re.compile(r"^[A-Za-z0-9]{1,32}$")


def _decimal(value: object) -> Decimal:
    """A ccxt number (float, int, str or None) as a Decimal, through ``str`` for floats."""
    if value is None:
        return ZERO
    if isinstance(value, bool):
        msg = f"expected a number from ccxt, got {value!r}"
        raise TypeError(msg)
    try:
        return Decimal(str(value) if isinstance(value, float) else value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        msg = f"ccxt returned {value!r} where a number was expected"
        raise ValueError(msg) from None


def _balance(asset: str, value: object) -> Decimal:
    """The venue's total balance ``value`` of ``asset``; ``ValueError`` if it is no amount.

    ``NaN``, ``Infinity`` or an amount below zero is no balance of a spot account, as
    ``"abc"`` is not: before, such an answer passed the preflight's ``balance_fetch``.
    """
    amount = _decimal(value)
    if not amount.is_finite() or amount < ZERO:
        msg = f"ccxt returned {value!r} as the {asset} balance, not an amount of zero or more"
        raise ValueError(msg)
    return amount


def _filled_qty(raw: Mapping[str, Any]) -> Decimal:
    """The filled quantity of ccxt's order ``raw`` (0 when not given); ``ValueError`` if none.

    ``NaN`` or ``Infinity`` is no quantity, as ``"abc"`` is not: before, a NaN stopped the
    run with ``InvalidOperation: [<class 'decimal.InvalidOperation'>]``, naming nothing.
    """
    filled = _decimal(raw.get("filled"))
    if not filled.is_finite():
        msg = f"ccxt returned {raw.get('filled')!r} as an order's filled quantity, not a number"
        raise ValueError(msg)
    return filled


def _read_filled(raw: Mapping[str, Any]) -> Decimal:
    """The filled quantity an order read says (``_filled_qty``); ``ValueError`` if it says none.

    A create answer may leave ``filled`` out (Bybit, OKX: the next read says it); a read of
    the order may not. Taken as 0 before, a ``closed`` order read without it was a fill
    never reported, and the reconciler called the order missing at the venue
    (``ORDER_MISSING_AT_VENUE``, ``venue_status`` ``FILLED``): the order is there, its
    answer is what is wrong.
    """
    if raw.get("filled") is None:
        said = "'filled' None" if "filled" in raw else "no 'filled' field"
        msg = (
            f"ccxt returned a read of order {raw.get('clientOrderId')!r} without its filled "
            f"quantity ({said}): how much of it filled is not known"
        )
        raise ValueError(msg)
    return _filled_qty(raw)


def _status(raw: Mapping[str, Any]) -> VenueOrderStatus:
    status = raw.get("status")
    if status == "closed":
        # ccxt's "closed" with the rest unfilled (Bybit's PartiallyFilledCanceled: a spot
        # market order the book could not fill) ended the order: the rest is cancelled.
        return VenueOrderStatus.CANCELED if _rest_unfilled(raw) else VenueOrderStatus.FILLED
    if status in ("canceled", "expired"):
        return VenueOrderStatus.CANCELED
    if status == "rejected":
        return VenueOrderStatus.REJECTED
    if _filled_qty(raw) > ZERO:
        return VenueOrderStatus.PARTIALLY_FILLED
    return VenueOrderStatus.NEW


def _rest_unfilled(raw: Mapping[str, Any]) -> bool:
    """Whether ccxt's order ``raw`` says a part of its amount never filled."""
    amount, filled = raw.get("amount"), raw.get("filled")
    if amount is None or filled is None:
        return False  # not said: ccxt fills in neither for a closed order it knows nothing of
    try:
        return ZERO <= _decimal(filled) < _decimal(amount)
    except (TypeError, ValueError, ArithmeticError):  # no number, a NaN: not said either
        return False


def _on_grid(value: Decimal, step: Decimal | None) -> Decimal:
    """``value`` written with ``step``'s decimal places when it is a multiple of ``step``.

    Only the representation changes (ccxt's ``0.01`` becomes ``0.010`` on a 0.001 lot,
    ``30000.0`` becomes ``30000.00`` on a 0.01 tick); a value off the grid is returned as
    it is, never rounded.
    """
    if step is None or not value.is_finite():
        return value
    exponent = step.as_tuple().exponent
    if not isinstance(exponent, int) or exponent > 0:
        return value
    try:
        return value.quantize(step) if value % step == ZERO else value
    except InvalidOperation:  # beyond the context's precision: leave it as it is
        return value


def _venue_id(raw: object) -> str:
    """The venue's id (``id``) of ccxt's order or trade ``raw``; "" when it has none."""
    if not isinstance(raw, Mapping):
        return ""
    venue_id = raw.get("id")
    if isinstance(venue_id, bool) or not isinstance(venue_id, (str, int)):
        return ""
    return str(venue_id)


def _venue_order(
    raw: Mapping[str, Any], client_order_id: str, qty_lot: Decimal | None = None
) -> VenueOrder:
    return VenueOrder(
        client_order_id=str(raw.get("clientOrderId") or client_order_id),
        symbol=str(raw.get("symbol")),
        side=Side.BUY if raw.get("side") == "buy" else Side.SELL,
        quantity=_on_grid(_decimal(raw.get("amount")), qty_lot),
        filled_quantity=_on_grid(_read_filled(raw), qty_lot),
        status=_status(raw),
        venue_order_id=_venue_id(raw),
    )


def _matches(found: VenueOrder, order: Order) -> bool:
    return (
        found.symbol == order.symbol
        and found.side is order.side
        and found.quantity == order.quantity
    )


def _check_order(order: Order, symbols: Sequence[str]) -> None:
    """Refuse (``Rejected``) an order this broker cannot send as it is."""
    cid = order.client_order_id
    if not _CLIENT_ID.fullmatch(cid):
        raise Rejected(
            "client order ids must be 1-32 characters of [A-Za-z0-9]",
            reason="INVALID_ORDER",
            client_order_id=cid,
        )
    if order.symbol not in symbols:
        raise Rejected(
            f"{order.symbol} is not in this broker's allowlist",
            reason="BAD_SYMBOL",
            client_order_id=cid,
        )
    if order.order_type is OrderType.STOP or order.oco_group is not None:
        raise Rejected(
            "stop and OCO orders are not supported by the ccxt sandbox broker",
            reason="NOT_SUPPORTED",
            client_order_id=cid,
        )


def _rounded(
    to_precision: Callable[[str, str], Any], order: Order, value: Decimal, what: str, step: str
) -> Any:
    """``value`` as ccxt rounds it to the venue's precision (``amount_to_precision``, ...).

    ccxt refuses a value below the venue's step (it would round it to 0) with an
    ``InvalidOrder`` of its own, before any request: said as such, not as the venue's.
    """
    ccxt = import_optional("ccxt", "ccxt")
    cid = order.client_order_id
    try:
        return to_precision(order.symbol, plain(value))
    except ccxt.InvalidOrder as exc:
        raise Rejected(
            f"{what} {value} is not a multiple of the venue's {step} (below it: {exc}): not sent",
            reason="INVALID_ORDER",
            client_order_id=cid,
        ) from exc
    except ccxt.BaseError as exc:
        raise classify(exc, client_order_id=cid) from exc


def _amount_and_price(exchange: _Exchange, order: Order) -> tuple[str, str | None]:
    """Strings for ccxt, refused when the venue's precision would change them."""
    cid = order.client_order_id
    amount = plain(order.quantity)  # venues take plain decimals, never 9E-7
    price = None if order.order_type is OrderType.MARKET else order.limit_price
    rounded = _rounded(exchange.amount_to_precision, order, order.quantity, "quantity", "lot step")
    rounded_price = (
        None
        if price is None
        else _rounded(exchange.price_to_precision, order, price, "price", "tick size")
    )
    if _decimal(rounded) != order.quantity:
        raise Rejected(
            f"quantity {order.quantity} is not a multiple of the venue's lot step",
            reason="INVALID_ORDER",
            client_order_id=cid,
        )
    if price is not None and _decimal(rounded_price) != price:
        raise Rejected(
            f"price {price} is not a multiple of the venue's tick size",
            reason="INVALID_ORDER",
            client_order_id=cid,
        )
    if order.order_type is OrderType.LIMIT and price is None:
        raise Rejected(
            "a limit order needs a limit price", reason="INVALID_ORDER", client_order_id=cid
        )
    return amount, None if price is None else plain(price)
