"""One look at the venue for a client order id, by the id alone, symbol by symbol.

The broker's lookup (``_find_once``) starts with it, then scans the open orders; the
preflight's ``venue_run_id_unused`` check asks it alone, so that a venue whose open-orders
read is broken does not refuse a run for that. ``refuse_if_open_elsewhere`` looks in the
open orders of the whole account, for a duplicate refusal no look in the order's own symbol
explains.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._domain.reasons import CLIENT_ID_IN_USE
from ..._exceptions import BrokerError, Rejected
from ..._support.optional import import_optional
from .errors import _PARSE_ERRORS, _as_read_error
from .tracked import fetch_by_client_id, orders_listed

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ..._domain.model import Order
    from .broker import CcxtSandboxBroker

__all__ = ["found_by_id", "refuse_if_open_elsewhere"]


def found_by_id(
    broker: CcxtSandboxBroker, cid: str, symbols: Sequence[str]
) -> Mapping[str, Any] | None:
    """The venue's ccxt order under ``cid`` in one of ``symbols``; None when none has it.

    Each request passes the broker's sandbox gate and the venue's pause, as any read; a
    failure keeps what the venue said of its pause (a ``Retry-After``) and is raised.
    """
    ccxt = import_optional("ccxt", "ccxt")
    for symbol in symbols:
        try:
            broker._ready(cid)  # noqa: SLF001 - this package's broker
            found: Mapping[str, Any] = fetch_by_client_id(
                broker._exchange,  # noqa: SLF001
                broker._sandbox,  # noqa: SLF001
                symbol,
                cid,
            )
        except ccxt.OrderNotFound:
            continue
        except (ccxt.BaseError, *_PARSE_ERRORS) as exc:
            error = _as_read_error(exc, client_order_id=cid)
            raise broker._pause.heard(exc, error) from exc  # noqa: SLF001
        return found
    return None


def refuse_if_open_elsewhere(broker: CcxtSandboxBroker, order: Order) -> None:
    """``Rejected`` ``CLIENT_ID_IN_USE`` if ``order``'s id is open in another symbol.

    Such an order is never this session's, which sends an id in one symbol only, but that
    of another session sending the same ids.

    One read of the account's open orders in every symbol (ccxt's ``fetch_open_orders``
    with none), made only when the venue refused the id as a duplicate and no look in the
    order's symbol found it. Nothing is raised when the venue does not list them so, or
    the read fails: the refusal then stays unexplained, as before.
    """
    cid = order.client_order_id
    try:
        raws = orders_listed(broker._read(broker._exchange.fetch_open_orders, cid), cid)  # noqa: SLF001
    except BrokerError:
        return
    symbols = [raw.get("symbol") for raw in raws if raw.get("clientOrderId") == cid]
    elsewhere = sorted({s for s in symbols if isinstance(s, str) and s != order.symbol})
    if not elsewhere:
        return
    broker._absent.pop(cid, None)  # noqa: SLF001 - known now: not looked for again
    raise Rejected(
        f"the venue has an open order under client order id {cid} in {', '.join(elsewhere)}, "
        "not this order's symbol: another session sends this run's client order ids (one of "
        "the same run id and strategy id, from another --out or host); give each symbol's "
        "session its own strategy_id, one strategy_id a symbol (operations.md: A basket on "
        "one account)",
        reason=CLIENT_ID_IN_USE,
        client_order_id=cid,
    )
