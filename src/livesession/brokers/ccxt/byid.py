"""One look at the venue for a client order id, by the id alone, symbol by symbol.

The broker's lookup (``_find_once``) starts with it, then scans the open orders; the
preflight's ``venue_run_id_unused`` check asks it alone, so that a venue whose open-orders
read is broken does not refuse a run for that.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..._support.optional import import_optional
from .errors import _PARSE_ERRORS, _as_read_error
from .tracked import fetch_by_client_id

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from .broker import CcxtSandboxBroker

__all__ = ["found_by_id"]


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
