"""The venue preflight of a ccxt sandbox broker: sandbox, markets, symbols, balance."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final, TypeVar

from ..._exceptions import Rejected, Transient
from .broker import CcxtSandboxBroker
from .byid import found_by_id
from .convert import _venue_order

if TYPE_CHECKING:
    from ..._domain.model import VenueOrder

__all__ = [
    "BALANCE_INVALID",
    "SKIPPED_NO_MARKETS",
    "ccxt_preflight_checks",
    "order_under",
    "unlisted_symbols",
]

BALANCE_INVALID = "BALANCE_INVALID"
"""``balance_fetch``'s reason when the venue answered a balance that is no amount: not a
number, ``NaN``, ``Infinity`` or below zero."""
SKIPPED_NO_MARKETS = "SKIPPED_NO_MARKETS"
"""``symbols_listed``'s reason when the markets could not be loaded: the symbols were not
looked up (the venue may well list them)."""
_TRIES: Final = 3
"""Tries of each preflight read while it fails ``Transient`` (a 429, a 503, a refused
connection), ``lookup_interval_ns`` apart: a sandbox busy for a moment rejects no run."""

_T = TypeVar("_T")


def ccxt_preflight_checks(broker: CcxtSandboxBroker) -> list[tuple[str, bool, str]]:
    """Preflight for a ccxt sandbox broker: ``(check name, passed, reason code)`` each.

    ``sandbox_verified`` (``NOT_SANDBOX``), ``markets_loaded`` (``MARKETS_UNAVAILABLE`` or
    the rejection reason, e.g. ``AUTH``), ``symbols_listed`` (``SYMBOL_NOT_LISTED``, or
    ``SKIPPED_NO_MARKETS`` when the markets could not be loaded) and
    ``balance_fetch`` (``BALANCE_UNAVAILABLE`` or e.g. ``AUTH``; ``BALANCE_INVALID`` for
    a balance that is no amount of zero or more). A passed check has reason
    ``""``. Nothing is requested unless the sandbox is verified; nothing raises. A read
    that fails ``Transient`` is tried up to three times in all, ``lookup_interval_ns`` apart.
    """
    if not broker.sandbox_verified:
        skipped = "SKIPPED_NOT_SANDBOX"
        return [
            ("sandbox_verified", False, "NOT_SANDBOX"),
            ("markets_loaded", False, skipped),
            ("symbols_listed", False, skipped),
            ("balance_fetch", False, skipped),
        ]
    results: list[tuple[str, bool, str]] = [("sandbox_verified", True, "")]
    markets: Mapping[str, Any] | None = None
    try:
        markets = _asked(broker, broker.load_markets)
        results.append(("markets_loaded", True, ""))
    except Exception as exc:  # noqa: BLE001 - a preflight reports, it does not raise
        results.append(("markets_loaded", False, _reason(exc, "MARKETS_UNAVAILABLE")))
    if markets is None:  # nothing to look the symbols up in: not asked, as without sandbox
        results.append(("symbols_listed", False, SKIPPED_NO_MARKETS))
    else:
        missing = _unlisted(broker.symbols, markets)
        results.append(("symbols_listed", not missing, "SYMBOL_NOT_LISTED" if missing else ""))
    try:
        _asked(broker, broker.balances)
        results.append(("balance_fetch", True, ""))
    except ValueError:  # an answer, but a balance that is no amount (NaN, below zero)
        results.append(("balance_fetch", False, BALANCE_INVALID))
    except Exception as exc:  # noqa: BLE001 - a preflight reports, it does not raise
        results.append(("balance_fetch", False, _reason(exc, "BALANCE_UNAVAILABLE")))
    return results


def _asked(broker: CcxtSandboxBroker, read: Callable[[], _T]) -> _T:
    """``read()``, tried again after a pause while it fails ``Transient`` (at most ``_TRIES``)."""
    for _ in range(_TRIES - 1):
        try:
            return read()
        except Transient:
            broker.pause()
    return read()


def order_under(broker: CcxtSandboxBroker, client_order_id: str) -> VenueOrder | None:
    """The venue's order under ``client_order_id`` in an allowlisted symbol; None if none.

    Asked by the client order id alone, symbol by symbol (no scan of the open orders), as
    the other checks' reads are: tried again while it fails ``Transient``; a failure that
    lasts is raised (``Transient`` or ``Rejected``).
    """
    return _asked(broker, functools.partial(_order_under, broker, client_order_id))


def _order_under(broker: CcxtSandboxBroker, cid: str) -> VenueOrder | None:
    # One look by id a symbol: the broker's lookup would scan the open orders too.
    raw = found_by_id(broker, cid, broker.symbols)
    return None if raw is None else _venue_order(raw, cid, None)


def unlisted_symbols(broker: CcxtSandboxBroker) -> list[str]:
    """The allowlisted symbols the venue does not list, for ``SYMBOL_NOT_LISTED``'s detail.

    Asked after ``ccxt_preflight_checks`` loaded the markets: ccxt answers from its cache,
    with no second request. Empty when the markets cannot be loaded.
    """
    try:
        markets = broker.load_markets()
    except Exception:  # noqa: BLE001 - a detail for a failed check: never a failure of its own
        return []
    return _unlisted(broker.symbols, markets)


def _unlisted(symbols: tuple[str, ...], markets: Mapping[str, Any]) -> list[str]:
    return [s for s in symbols if s not in markets]


def _reason(exc: BaseException, default: str) -> str:
    if isinstance(exc, Rejected):
        return exc.reason
    return default
