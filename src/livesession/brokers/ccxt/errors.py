"""How a failed ccxt call maps onto the session's failure taxonomy.

``classify`` turns every failure of a call into ``Transient`` (never reached the venue:
resend the same client order id after backoff), ``OutcomeUnknown`` (may have been applied:
``lookup`` before anything is resent) or ``Rejected`` (final, with a reason code). Reads
are idempotent, so ``_as_read_error`` reports a read whose outcome is unknown as
``Transient``. The messages carry the venue's code and text, never a URL, a signature or a
credential; and the ccxt error each is raised from (its ``__cause__``), which quotes the
signed URL (``...&signature=...``), is redacted in place (``scrub_chain``), so a traceback
an application logs shows neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final
from urllib.parse import urlsplit

from ..._exceptions import BrokerError, OutcomeUnknown, Rejected, Transient
from ..._support.optional import import_optional
from ..._support.secrets import redact_text

__all__ = ["classify"]

_PARSE_ERRORS: Final = (
    TypeError,
    AttributeError,
    KeyError,
    IndexError,
    ValueError,
    ArithmeticError,
)
"""What ccxt's parsers raise on an answer of a shape they do not expect."""
_MAX_CHAIN: Final = 64
_ORDER_CODE: Final = re.compile(r'"sCode"\s*:\s*"?(-?\d+)"?')
_ORDER_MSG: Final = re.compile(r'"sMsg"\s*:\s*"([^"]{1,160})"')
"""OKX's answer to one order (``data[i]``): its own code, not the envelope's ``1``."""
_VENUE_CODE: Final = re.compile(r'"(?:code|retCode|sCode)"\s*:\s*"?(-?\d+)"?')
_VENUE_MSG: Final = re.compile(r'"(?:msg|retMsg|sMsg)"\s*:\s*"([^"]{0,160})"')
_DUPLICATE_CODES: Final = frozenset({"51016", "110072", "170141", "12141", "-4116"})


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it was caused by: causes, contexts, urllib3 reasons, args."""
    seen: list[int] = []
    todo = [exc]
    while todo and len(seen) < _MAX_CHAIN:
        current = todo.pop()
        if id(current) in seen:
            continue
        seen.append(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked.extend(current.args)
        todo.extend(item for item in linked if isinstance(item, BaseException))


def scrub_chain(exc: BaseException) -> None:
    """Redact, in place, the text of ``exc`` and of everything it was caused by.

    ccxt quotes the request's URL in its errors, a signed one with its ``signature``, and so
    do the ``requests`` and urllib3 errors under it (``Max retries exceeded with url:
    /api/v3/account?...&signature=...``); a venue's answer may echo a key. The broker raises
    its own error from that chain, and a traceback shows the chain whole: each link's
    arguments are redacted (``redact_text``: signatures, the environment's secrets) once
    the error has been classified.
    """
    for link in _chain(exc):
        if any(isinstance(arg, str) for arg in link.args):
            link.args = tuple(redact_text(a) if isinstance(a, str) else a for a in link.args)


def _never_connected(exc: BaseException) -> bool:
    """Whether the chain shows the connection was never made (so nothing was sent)."""
    import socket  # noqa: PLC0415 - only needed here

    kinds: list[type[BaseException]] = [ConnectionRefusedError, socket.gaierror]
    try:
        from urllib3.exceptions import ConnectTimeoutError  # noqa: PLC0415

        # NewConnectionError and NameResolutionError derive from ConnectTimeoutError.
        kinds.append(ConnectTimeoutError)
    except ImportError:  # pragma: no cover - urllib3 comes with requests
        pass
    return any(isinstance(link, tuple(kinds)) for link in _chain(exc))


def _http_status(exc: BaseException) -> int | None:
    for link in _chain(exc):
        status = getattr(getattr(link, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _code(text: str) -> str | None:
    """The venue's error code in ccxt's message ``text``: an order's own (OKX) first."""
    found = _ORDER_CODE.search(text) or _VENUE_CODE.search(text)
    return found.group(1) if found else None


def _redirect(exc: BaseException) -> str:
    """What a redirect refused in ``exc``'s chain says ("" for none): its status and host.

    The broker's session follows none (``max_redirects`` 0, the sandbox gate): requests
    raises ``TooManyRedirects`` with the redirect's answer before it sends anything there.
    Only the host of its ``Location`` is named (its query may echo a signature).
    """
    for link in _chain(exc):
        if type(link).__name__ != "TooManyRedirects":
            continue
        response = getattr(link, "response", None)
        status = getattr(response, "status_code", None)
        location = str(getattr(response, "headers", {}).get("Location") or "")
        host = urlsplit(location).hostname
        where = f"to {host}" if host else "to another path"
        return f"HTTP {status} redirect {where}, not followed (the sandbox broker follows none)"
    return ""


def _venue_detail(exc: BaseException) -> str:
    """The venue's error code and message, without URLs or signatures."""
    text = str(exc)
    code = _code(text)
    msg = _ORDER_MSG.search(text) or _VENUE_MSG.search(text)
    parts = [type(exc).__name__]
    redirect = _redirect(exc)
    if redirect:
        return f"{parts[0]}: {redirect}"
    if code:
        parts.append(f"code {code}")
    if msg:
        parts.append(msg.group(1))
    return ": ".join(parts)


def _is_duplicate_client_id(exc: BaseException) -> bool:
    ccxt = import_optional("ccxt", "ccxt")
    if isinstance(exc, ccxt.DuplicateOrderId):
        return True
    if not isinstance(exc, (ccxt.InvalidOrder, ccxt.BadRequest)):
        return False
    text = str(exc)
    return "duplicat" in text.lower() or _code(text) in _DUPLICATE_CODES


_REJECT_REASONS: Final = (
    ("InsufficientFunds", "INSUFFICIENT_FUNDS"),
    ("InvalidNonce", "TIMESTAMP"),
    ("BadSymbol", "BAD_SYMBOL"),
    ("AuthenticationError", "AUTH"),
    ("OrderNotFound", "ORDER_NOT_FOUND"),
    ("InvalidOrder", "INVALID_ORDER"),
    ("BadRequest", "BAD_REQUEST"),
    ("ArgumentsRequired", "BAD_REQUEST"),
    ("NotSupported", "NOT_SUPPORTED"),
    ("OperationRejected", "REJECTED"),
)
"""ccxt error classes that mean the venue refused the request, most specific first."""


def classify(exc: BaseException, *, client_order_id: str | None = None) -> BrokerError:
    """Map a ccxt error (or anything else a ccxt call raised) to the session's taxonomy.

    - ``Transient``: refused connection, DNS failure, connect timeout, HTTP 429/418
      (``RateLimitExceeded``, ``DDoSProtection``).
    - ``OutcomeUnknown``: read timeout after the request was sent, 5xx
      (``ExchangeNotAvailable`` or an ``ExchangeError`` answered with a 5xx), connection
      reset, an answer that is not JSON (``BadResponse``), a duplicate client order id
      (the order exists: look it up), anything unknown.
    - ``Rejected`` with ``reason``: ``INSUFFICIENT_FUNDS``, ``TIMESTAMP`` (``InvalidNonce``,
      e.g. Binance -1021), ``BAD_SYMBOL``, ``AUTH``, ``ORDER_NOT_FOUND``, ``INVALID_ORDER``
      (lot size, price filter), ``BAD_REQUEST``, ``NOT_SUPPORTED``, ``REJECTED``,
      ``EXCHANGE_ERROR`` (another error the venue answered with a 4xx).

    The returned error's message is one line: the venue's code and message, never a URL,
    a signature or a credential.
    """
    try:
        return _classified(exc, client_order_id)
    finally:
        scrub_chain(exc)  # once its text has been read


def _classified(  # noqa: PLR0911 - one return per row of the taxonomy
    exc: BaseException, client_order_id: str | None
) -> BrokerError:
    ccxt = import_optional("ccxt", "ccxt")
    detail = _venue_detail(exc)
    cid = client_order_id
    if not isinstance(exc, ccxt.BaseError):
        return OutcomeUnknown(
            f"unexpected error ({detail}): look the order up", client_order_id=cid
        )
    if _is_duplicate_client_id(exc):
        return OutcomeUnknown(
            f"the venue already has this client order id ({detail}): look it up",
            client_order_id=cid,
        )
    for name, reason in _REJECT_REASONS:
        if isinstance(exc, getattr(ccxt, name)):
            return Rejected(f"rejected by the venue ({detail})", reason=reason, client_order_id=cid)
    if isinstance(exc, (ccxt.DDoSProtection, ccxt.RateLimitExceeded)):  # 429, 418
        return Transient(f"rate limited before processing ({detail})", client_order_id=cid)
    if isinstance(exc, ccxt.OperationFailed):  # NetworkError, RequestTimeout, 5xx, ...
        if _never_connected(exc):
            return Transient(f"the request never reached the venue ({detail})", client_order_id=cid)
        return OutcomeUnknown(_unknown(exc, detail), client_order_id=cid)
    status = _http_status(exc)
    if status is not None and 400 <= status < 500:  # noqa: PLR2004 - HTTP client errors
        return Rejected(
            f"rejected by the venue ({detail}, HTTP {status})",
            reason="EXCHANGE_ERROR",
            client_order_id=cid,
        )
    if _never_connected(exc):
        return Transient(f"the request never reached the venue ({detail})", client_order_id=cid)
    return OutcomeUnknown(f"outcome unknown ({detail}): look the order up", client_order_id=cid)


def _unknown(exc: BaseException, detail: str) -> str:
    """What an ``OutcomeUnknown`` says of ``exc``, a ccxt ``OperationFailed``."""
    if isinstance(exc, import_optional("ccxt", "ccxt").BadResponse):  # not JSON (``answers``)
        return (
            f"the venue's answer is no JSON ({detail}), so it has no venue order id: "
            "look the order up"
        )
    return f"outcome unknown ({detail}): look the order up"


def cancel_error(error: BrokerError) -> BrokerError:
    """What a cancel the venue refused with ``error`` (``classify``'s) raises.

    ``Rejected`` says the order is not open (the session then waits for its last report
    and asks no more): only ``ORDER_NOT_OPEN``, when the venue does not have it open. Any
    other refusal (a timestamp, a bad request, a key) left the order open, and is
    ``Transient``: the cancel was not applied, ask again. Before, the session took it for
    "not open", never asked again, and the order stayed open at the venue.
    """
    if not isinstance(error, Rejected):
        return error
    cid = error.client_order_id
    if error.reason == "ORDER_NOT_FOUND":
        return Rejected(
            "the order is not open at the venue", reason="ORDER_NOT_OPEN", client_order_id=cid
        )
    return Transient(
        f"the venue refused the cancel ({error.reason}: {error}): not applied, ask again",
        client_order_id=cid,
    )


def _as_read_error(exc: BaseException, *, client_order_id: str | None = None) -> BrokerError:
    """What a failed read (a lookup, a poll, a balance, candles) raised, classified.

    A read has no effect at the venue: an unknown outcome is just a failed read, and its
    message names the failure, not an order to look up (a candle fetch has none).
    """
    try:
        error = _classified(exc, client_order_id)
        if isinstance(error, OutcomeUnknown):
            return Transient(
                f"the read failed ({_venue_detail(exc)})", client_order_id=error.client_order_id
            )
        return error
    finally:
        scrub_chain(exc)
