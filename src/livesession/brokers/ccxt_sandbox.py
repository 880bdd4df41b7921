"""A CCXT broker that only ever talks to a verified exchange sandbox (testnet).

``make_ccxt_broker("binance", runtime_config=...)`` builds the exchange, switches it to its
sandbox and verifies the result before any request is made: ccxt must report sandbox mode,
every API URL must point at a known testnet host (OKX: its simulated-trading header must
be set), demo trading and proxies must be off, and ccxt's own resend-on-failure must be 0.
Anything else raises ``ConfigError``. The same verification runs again before every call,
so a broker whose URLs were changed after construction refuses to send.

Every failure of a call is classified by ``classify`` into the session's taxonomy:
``Transient`` (never reached the venue: resend the same client order id after backoff),
``OutcomeUnknown`` (may have been applied: ``lookup`` before anything is resent) or
``Rejected`` (final, with a reason code). ``submit`` refuses to resend a client order id
whose previous outcome is unknown until ``lookup`` has found the order or confirmed that
it is absent. A venue that answers "duplicate client order id" already has the order:
``submit`` looks it up and returns normally when it matches (``Rejected`` with reason
``DUPLICATE_CLIENT_ID`` when the venue's order has other parameters).

Reads (lookups, polls, balances) are idempotent: a read whose outcome is unknown is
reported as ``Transient``. ccxt's floats become ``Decimal`` through ``str`` at this
boundary. ccxt is imported only inside the functions that need it; without it they raise
``MissingExtra`` naming the ``ccxt`` extra. Credentials are revealed only to ccxt and never
appear in a repr, a message or a log line (ccxt's own request logger is switched off).
"""

from __future__ import annotations

import functools
import logging
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final, TypeAlias, TypeVar
from urllib.parse import urlsplit

import attrs

from .._domain.model import (
    AckReport,
    BrokerReport,
    CancelReport,
    FillReport,
    Order,
    OrderType,
    RejectReport,
    Side,
    VenueOrder,
    VenueOrderStatus,
)
from .._exceptions import (
    BrokerError,
    ConfigError,
    OutcomeUnknown,
    Rejected,
    Transient,
)
from .._support.optional import import_optional

if TYPE_CHECKING:
    from .._domain.model import Bar
    from .._domain.runtime_config import RuntimeConfig

__all__ = [
    "SANDBOX_EXCHANGES",
    "CcxtSandboxBroker",
    "ccxt_preflight_checks",
    "classify",
    "make_ccxt_broker",
]

_Exchange: TypeAlias = Any
"""A ``ccxt.Exchange``; ccxt ships no type information."""
_T = TypeVar("_T")

_ZERO: Final = Decimal(0)
_MAX_CHAIN: Final = 64
_CLIENT_ID: Final = re.compile(r"^[A-Za-z0-9]{1,32}$")
_VENUE_CODE: Final = re.compile(r'"(?:code|retCode|sCode)"\s*:\s*"?(-?\d+)"?')
_VENUE_MSG: Final = re.compile(r'"(?:msg|retMsg|sMsg)"\s*:\s*"([^"]{0,160})"')
_DUPLICATE_CODES: Final = frozenset({"51016", "110072", "170141", "12141", "-4116"})

# ccxt logs every request, API-key header included, at DEBUG: give it a logger that is off.
_WIRE_LOG: Final = logging.getLogger("livesession.brokers.ccxt_wire")
_WIRE_LOG.disabled = True
_WIRE_LOG.propagate = False


@attrs.frozen(kw_only=True)
class _Sandbox:
    """What makes one exchange's ccxt configuration a verified sandbox."""

    api_hosts: frozenset[str]
    headers: Mapping[str, str] = attrs.field(factory=dict)
    options: Mapping[str, Any] = attrs.field(factory=dict)
    client_id_param: str
    """The ``create_order`` parameter that carries the client order id."""
    lookup_param: str = "clientOrderId"
    """The ``fetch_order`` / ``cancel_order`` parameter that selects by client order id."""
    lookup_realtime: bool = False
    """Look up through Bybit's ``/v5/order/realtime`` (its ``fetch_order`` needs a venue id)."""


_SPOT_ONLY: Final[Mapping[str, Any]] = {
    "defaultType": "spot",
    "fetchMarkets": {"types": ["spot"]},
}

SANDBOX_EXCHANGES: Final[Mapping[str, _Sandbox]] = {
    "binance": _Sandbox(
        api_hosts=frozenset({"testnet.binance.vision", "testnet.binancefuture.com"}),
        options={**_SPOT_ONLY, "fetchCurrencies": False, "fetchMargins": False},
        client_id_param="newClientOrderId",
    ),
    "bybit": _Sandbox(
        api_hosts=frozenset({"api-testnet.bybit.com"}),
        options=_SPOT_ONLY,
        client_id_param="clientOrderId",  # ccxt sends it as orderLinkId
        lookup_realtime=True,
    ),
    "okx": _Sandbox(
        # OKX simulated trading shares the main host; the header is what makes it a sandbox.
        api_hosts=frozenset({"www.okx.com"}),
        headers={"x-simulated-trading": "1"},
        options=_SPOT_ONLY,
        client_id_param="clientOrderId",  # ccxt sends it as clOrdId
    ),
}
"""The exchanges livesession may connect to, each only in its sandbox."""


# -- failure classification ----------------------------------------------------------------


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


def _venue_detail(exc: BaseException) -> str:
    """The venue's error code and message, without URLs or signatures."""
    text = str(exc)
    code = _VENUE_CODE.search(text)
    msg = _VENUE_MSG.search(text)
    parts = [type(exc).__name__]
    if code:
        parts.append(f"code {code.group(1)}")
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
    code = _VENUE_CODE.search(text)
    return "duplicat" in text.lower() or bool(code and code.group(1) in _DUPLICATE_CODES)


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


def classify(  # noqa: PLR0911 - one return per row of the taxonomy
    exc: BaseException, *, client_order_id: str | None = None
) -> BrokerError:
    """Map a ccxt error (or anything else a ccxt call raised) to the session's taxonomy.

    - ``Transient``: refused connection, DNS failure, connect timeout, HTTP 429/418
      (``RateLimitExceeded``, ``DDoSProtection``).
    - ``OutcomeUnknown``: read timeout after the request was sent, 5xx
      (``ExchangeNotAvailable`` or an ``ExchangeError`` answered with a 5xx), connection
      reset, a duplicate client order id (the order exists: look it up), anything unknown.
    - ``Rejected`` with ``reason``: ``INSUFFICIENT_FUNDS``, ``TIMESTAMP`` (``InvalidNonce``,
      e.g. Binance -1021), ``BAD_SYMBOL``, ``AUTH``, ``ORDER_NOT_FOUND``, ``INVALID_ORDER``
      (lot size, price filter), ``BAD_REQUEST``, ``NOT_SUPPORTED``, ``REJECTED``,
      ``EXCHANGE_ERROR`` (another error the venue answered with a 4xx).

    The returned error's message is one line: the venue's code and message, never a URL,
    a signature or a credential.
    """
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
        return OutcomeUnknown(f"outcome unknown ({detail}): look the order up", client_order_id=cid)
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


def _as_read_error(error: BrokerError) -> BrokerError:
    """A read has no effect at the venue: an unknown outcome is just a failed read."""
    if isinstance(error, OutcomeUnknown):
        return Transient(str(error), client_order_id=error.client_order_id)
    return error


# -- the sandbox gate ----------------------------------------------------------------------


def _api_urls(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key in sorted(value):
            yield from _api_urls(value[key])


def _sandbox_problems(exchange: _Exchange, sandbox: _Sandbox) -> list[str]:
    """Why ``exchange`` is not a verified sandbox (empty when it is)."""
    problems: list[str] = []
    if exchange.isSandboxModeEnabled is not True:
        problems.append("ccxt sandbox mode is off")
    options = exchange.options
    if options.get("enableDemoTrading"):
        problems.append("demo trading is on (out of scope)")
    if options.get("maxRetriesOnFailure", 0) != 0:
        problems.append("ccxt maxRetriesOnFailure is not 0 (it would resend timed-out orders)")
    problems.extend(_host_problems(exchange, sandbox))
    headers = exchange.headers or {}
    problems.extend(
        f"header {name} is not set"
        for name in sorted(sandbox.headers)
        if headers.get(name) != sandbox.headers[name]
    )
    problems.extend(_proxy_problems(exchange))
    return problems


def _host_problems(exchange: _Exchange, sandbox: _Sandbox) -> list[str]:
    urls = list(_api_urls(exchange.urls.get("api")))
    if not urls:
        return ["ccxt lists no API URL"]
    for url in urls:
        parts = urlsplit(exchange.implode_hostname(url))
        if parts.scheme != "https" or parts.hostname not in sandbox.api_hosts:
            return [f"API host {parts.hostname!r} is not a testnet host"]
    return []


def _proxy_problems(exchange: _Exchange) -> list[str]:
    # A proxy would carry the traffic somewhere the host check cannot see.
    names = ("proxies", "proxy", "proxyUrl", "httpProxy", "httpsProxy", "socksProxy")
    problems = ["a proxy is configured"] if any(getattr(exchange, n, None) for n in names) else []
    session = getattr(exchange, "session", None)
    if session is not None and session.trust_env:
        problems.append("the HTTP session trusts proxy settings from the environment")
    return problems


def _enter_sandbox(exchange: _Exchange, sandbox: _Sandbox) -> None:
    """Switch ``exchange`` to its sandbox and verify it; ``ConfigError`` when that fails."""
    name = exchange.id
    if not exchange.urls.get("test"):
        raise ConfigError(
            f"ccxt has no sandbox (testnet) URL for {name}: livesession will not use it"
        )
    try:
        exchange.set_sandbox_mode(True)
    except Exception as exc:  # noqa: BLE001 - ccxt raises TypeError or NotSupported here
        raise ConfigError(
            f"ccxt could not switch {name} to its sandbox ({type(exc).__name__})"
        ) from None
    problems = _sandbox_problems(exchange, sandbox)
    if problems:
        raise ConfigError(
            f"{name} is not a verified sandbox ({problems[0]}): livesession refuses to connect"
        )


# -- conversions at the boundary -----------------------------------------------------------


def _decimal(value: object) -> Decimal:
    """A ccxt number (float, int, str or None) as a Decimal, through ``str`` for floats."""
    if value is None:
        return _ZERO
    if isinstance(value, bool):
        msg = f"expected a number from ccxt, got {value!r}"
        raise TypeError(msg)
    try:
        return Decimal(str(value) if isinstance(value, float) else value)  # type: ignore[arg-type]
    except (InvalidOperation, TypeError, ValueError):
        msg = f"ccxt returned {value!r} where a number was expected"
        raise ValueError(msg) from None


def _status(raw: Mapping[str, Any]) -> VenueOrderStatus:
    status = raw.get("status")
    if status == "closed":
        return VenueOrderStatus.FILLED
    if status in ("canceled", "expired"):
        return VenueOrderStatus.CANCELED
    if status == "rejected":
        return VenueOrderStatus.REJECTED
    if _decimal(raw.get("filled")) > _ZERO:
        return VenueOrderStatus.PARTIALLY_FILLED
    return VenueOrderStatus.NEW


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
        return value.quantize(step) if value % step == _ZERO else value
    except InvalidOperation:  # beyond the context's precision: leave it as it is
        return value


def _venue_order(
    raw: Mapping[str, Any], client_order_id: str, qty_lot: Decimal | None = None
) -> VenueOrder:
    return VenueOrder(
        client_order_id=str(raw.get("clientOrderId") or client_order_id),
        symbol=str(raw.get("symbol")),
        side=Side.BUY if raw.get("side") == "buy" else Side.SELL,
        quantity=_on_grid(_decimal(raw.get("amount")), qty_lot),
        filled_quantity=_on_grid(_decimal(raw.get("filled")), qty_lot),
        status=_status(raw),
        venue_order_id=str(raw.get("id") or ""),
    )


def _matches(found: VenueOrder, order: Order) -> bool:
    return (
        found.symbol == order.symbol
        and found.side is order.side
        and found.quantity == order.quantity
    )


@attrs.define
class _Tracked:
    """What this broker knows about one order it sent or adopted."""

    order: Order
    venue_order_id: str
    status: VenueOrderStatus
    filled: Decimal
    ack_ts_ns: int | None
    acked: bool = False
    reported_qty: Decimal = _ZERO
    trade_ids: set[str] = attrs.field(factory=set)
    closed: bool = False


class CcxtSandboxBroker:
    """A ``Broker`` on a ccxt exchange in verified sandbox mode. Build it with ``make_ccxt_broker``.

    Beyond the ``Broker`` protocol: ``lookup`` (bounded polling by client order id),
    ``load_markets``, ``balances`` and ``sandbox_problems``.
    """

    kind = "ccxt_sandbox"

    def __init__(
        self,
        exchange: _Exchange,
        *,
        sandbox: _Sandbox,
        symbols: Sequence[str],
        lookup_attempts: int,
        lookup_interval_ns: int,
        wait_ns: Callable[[int], None],
        price_tick: Decimal | None = None,
        qty_lot: Decimal | None = None,
    ) -> None:
        self._exchange = exchange
        self._sandbox = sandbox
        self.symbols: tuple[str, ...] = tuple(sorted(dict.fromkeys(symbols)))
        """The allowlisted symbols (ccxt unified form, e.g. ``BTC/USDT``), sorted."""
        self._lookup_attempts = lookup_attempts
        self._lookup_interval_ns = lookup_interval_ns
        self._wait_ns = wait_ns
        self._price_tick = price_tick
        self._qty_lot = qty_lot
        self._tracked: dict[str, _Tracked] = {}
        self._unconfirmed: dict[str, Order] = {}
        self._carry: list[BrokerReport] = []

    # -- the sandbox gate, before every request ----------------------------------------------

    @property
    def exchange_id(self) -> str:
        """The ccxt exchange id, e.g. ``"binance"``."""
        return str(self._exchange.id)

    def sandbox_problems(self) -> list[str]:
        """Why this broker's exchange is not (any more) a verified sandbox; empty when it is."""
        return _sandbox_problems(self._exchange, self._sandbox)

    @property
    def sandbox_verified(self) -> bool:
        """Whether the exchange is a verified sandbox right now."""
        return not self.sandbox_problems()

    def _guard(self) -> None:
        problems = self.sandbox_problems()
        if problems:
            raise ConfigError(
                f"{self.exchange_id} is not a verified sandbox any more ({problems[0]}): "
                "nothing was sent"
            )

    def _read(self, call: Callable[[], _T], cid: str | None = None) -> _T:
        """Run one read request; failures become ``Transient`` or ``Rejected``."""
        self._guard()
        ccxt = import_optional("ccxt", "ccxt")
        try:
            return call()
        except ccxt.BaseError as exc:
            raise _as_read_error(classify(exc, client_order_id=cid)) from exc

    # -- the Broker protocol -----------------------------------------------------------------

    def on_market(self, bar: Bar) -> None:
        """Nothing to do: the venue prices orders itself."""

    def submit(self, order: Order, now_ns: int) -> None:
        """Send ``order`` with its client order id; returns once the venue has it.

        Raises ``Transient`` (resend the same id after backoff), ``OutcomeUnknown`` (call
        ``lookup`` first; until it answers, submitting the same id raises again) or
        ``Rejected``. A duplicate client order id is looked up and, when the venue's order
        matches, adopted: ``submit`` returns normally.
        """
        cid = order.client_order_id
        self._guard()
        self._check_order(order)
        known = self._tracked.get(cid)
        if known is not None:
            if known.order == order:
                return  # the venue has it already: sending again could only duplicate it
            raise Rejected(
                "client order id already used for another order",
                reason="DUPLICATE_CLIENT_ID",
                client_order_id=cid,
            )
        if cid in self._unconfirmed:
            raise OutcomeUnknown(
                "the last submit of this client order id has an unknown outcome: "
                "call lookup() before sending it again",
                client_order_id=cid,
            )
        self._read(self._exchange.load_markets, cid)
        amount, price = self._amount_and_price(order)
        ccxt = import_optional("ccxt", "ccxt")
        try:
            raw = self._exchange.create_order(
                order.symbol,
                order.order_type.value.lower(),
                order.side.value.lower(),
                amount,
                price,
                {self._sandbox.client_id_param: cid},
            )
        except ccxt.BaseError as exc:
            if _is_duplicate_client_id(exc):
                self._adopt_duplicate(order, now_ns)
                return
            error = classify(exc, client_order_id=cid)
            if isinstance(error, OutcomeUnknown):
                self._unconfirmed[cid] = order
            elif isinstance(error, Rejected) and error.reason == "TIMESTAMP":
                self._resync_time()
            raise error from exc
        except Exception as exc:
            # Anything else (a parse error after the venue answered, ...) may follow a
            # request that was applied: treat it as an unknown outcome.
            self._unconfirmed[cid] = order
            raise classify(exc, client_order_id=cid) from exc
        self._track(order, raw, ack_ts_ns=now_ns)

    def cancel(self, client_order_id: str, now_ns: int) -> None:  # noqa: ARG002 - protocol
        """Ask the venue to cancel; the ``CancelReport`` comes from ``poll``.

        An order the venue does not know or that is no longer open raises ``Rejected``
        with reason ``ORDER_NOT_OPEN``.
        """
        cid = client_order_id
        tracked = self._tracked.get(cid)
        symbol = tracked.order.symbol if tracked is not None else None
        if symbol is None:
            found = self._find_once(cid)
            if found is None:
                raise Rejected(
                    "the venue has no such order", reason="ORDER_NOT_OPEN", client_order_id=cid
                )
            symbol = found.symbol
        self._guard()
        ccxt = import_optional("ccxt", "ccxt")
        try:
            self._exchange.cancel_order(None, symbol, {self._sandbox.lookup_param: cid})
        except ccxt.BaseError as exc:
            error = classify(exc, client_order_id=cid)
            if isinstance(error, Rejected) and error.reason == "ORDER_NOT_FOUND":
                raise Rejected(
                    "the order is not open at the venue",
                    reason="ORDER_NOT_OPEN",
                    client_order_id=cid,
                ) from exc
            raise error from exc

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        """Acks, new fills (each trade id once), cancels and rejects, per order in send order.

        Reads the venue for every order that is still open or has unreported fills. When a
        read fails, the reports gathered so far are kept for the next ``poll`` and the
        failure (``Transient`` or ``Rejected``) is raised.
        """
        reports, self._carry = self._carry, []
        try:
            for cid, tracked in list(self._tracked.items()):
                if not tracked.closed:
                    self._refresh(cid, tracked, now_ns, reports)
        except BrokerError:
            self._carry = reports
            raise
        return reports

    def open_orders(self) -> Sequence[VenueOrder]:
        """Orders open at the venue in the allowlisted symbols, by client order id."""
        found: list[VenueOrder] = []
        for symbol in self.symbols:
            raws = self._read(functools.partial(self._exchange.fetch_open_orders, symbol))
            found.extend(_venue_order(raw, "", self._qty_lot) for raw in raws)
        return sorted(found, key=lambda o: (o.client_order_id, o.venue_order_id))

    def order_by_client_id(self, client_order_id: str) -> VenueOrder | None:
        """One look at the venue for this client order id; None when it does not know it.

        A None here does not confirm absence: only ``lookup`` does.
        """
        return self._find_once(client_order_id)

    def close(self) -> None:
        """Close the exchange's HTTP session."""
        self._exchange.close()

    # -- reconciliation ----------------------------------------------------------------------

    def lookup(self, client_order_id: str, attempts: int | None = None) -> VenueOrder | None:
        """Look an order up by client order id, up to ``attempts`` times (bounded polling).

        Each attempt asks for the order by its client id, then scans the open orders; the
        attempts are ``lookup_interval_ns`` apart. Returns the venue's view as soon as it is
        found; an order whose ``submit`` had an unknown outcome is then tracked, so ``poll``
        reports its ack and fills. Returns None only when every
        attempt answered "not found": absence is then confirmed and resending the same
        client order id is allowed. A failed read raises ``Transient`` and confirms nothing.
        """
        tries = self._lookup_attempts if attempts is None else attempts
        if tries < 1:
            raise ValueError(f"attempts must be >= 1, got {tries}")
        for attempt in range(1, tries + 1):
            found = self._find_once(client_order_id)
            if found is not None:
                return found
            if attempt < tries:
                self._wait_ns(self._lookup_interval_ns)
        self._unconfirmed.pop(client_order_id, None)
        return None

    def _find_once(self, cid: str) -> VenueOrder | None:
        known = self._known_symbol(cid)
        symbols = self.symbols if known is None else (known,)
        self._read(self._exchange.load_markets, cid)
        ccxt = import_optional("ccxt", "ccxt")
        for symbol in symbols:
            try:
                self._guard()
                raw = self._fetch_by_client_id(symbol, cid)
            except ccxt.OrderNotFound:
                continue
            except ccxt.BaseError as exc:
                raise _as_read_error(classify(exc, client_order_id=cid)) from exc
            return self._seen(cid, raw)
        for symbol in symbols:
            raws = self._read(functools.partial(self._exchange.fetch_open_orders, symbol), cid)
            for raw in raws:
                if raw.get("clientOrderId") == cid:
                    return self._seen(cid, raw)
        return None

    def _fetch_by_client_id(self, symbol: str, cid: str) -> Any:
        """The venue's order for ``cid`` as a ccxt order; ccxt's ``OrderNotFound`` if none."""
        exchange = self._exchange
        if not self._sandbox.lookup_realtime:
            return exchange.fetch_order(None, symbol, {self._sandbox.lookup_param: cid})
        market = exchange.market(symbol)
        response = exchange.privateGetV5OrderRealtime(
            {"category": "spot", "symbol": market["id"], "orderLinkId": cid}
        )
        found = exchange.safe_list(exchange.safe_dict(response, "result", {}), "list", [])
        if not found:
            raise import_optional("ccxt", "ccxt").OrderNotFound(f"{exchange.id} has no order {cid}")
        return exchange.parse_order(found[0], market)

    def _known_symbol(self, cid: str) -> str | None:
        tracked = self._tracked.get(cid)
        if tracked is not None:
            return tracked.order.symbol
        pending = self._unconfirmed.get(cid)
        return None if pending is None else pending.symbol

    def _seen(self, cid: str, raw: Mapping[str, Any]) -> VenueOrder:
        found = _venue_order(raw, cid, self._qty_lot)
        pending = self._unconfirmed.pop(cid, None)
        if pending is not None and _matches(found, pending):
            self._track(pending, raw, ack_ts_ns=None)
        return found

    def _adopt_duplicate(self, order: Order, now_ns: int) -> None:
        cid = order.client_order_id
        self._unconfirmed[cid] = order
        found = self.lookup(cid)
        if found is None:
            # The venue said it has the id, yet nobody can see it: stay unconfirmed.
            self._unconfirmed[cid] = order
            raise OutcomeUnknown(
                "the venue reported a duplicate client order id but the order was not found",
                client_order_id=cid,
            )
        tracked = self._tracked.get(cid)
        if tracked is None:
            raise Rejected(
                "the venue has another order with this client order id",
                reason="DUPLICATE_CLIENT_ID",
                client_order_id=cid,
            )
        if not tracked.acked:
            tracked.ack_ts_ns = now_ns

    def _track(self, order: Order, raw: Mapping[str, Any], *, ack_ts_ns: int | None) -> None:
        self._tracked[order.client_order_id] = _Tracked(
            order=order,
            venue_order_id=str(raw.get("id") or ""),
            status=_status(raw),
            filled=_decimal(raw.get("filled")),
            ack_ts_ns=ack_ts_ns,
        )

    def _refresh(self, cid: str, tracked: _Tracked, now_ns: int, out: list[BrokerReport]) -> None:
        if not tracked.acked:
            ts = now_ns if tracked.ack_ts_ns is None else tracked.ack_ts_ns
            out.append(
                AckReport(client_order_id=cid, venue_order_id=tracked.venue_order_id, ts_ns=ts)
            )
            tracked.acked = True
        if tracked.status.is_open or tracked.reported_qty < tracked.filled:
            symbol = tracked.order.symbol
            raw = self._read(
                lambda: self._fetch_by_client_id(symbol, cid),
                cid,
            )
            tracked.status = _status(raw)
            tracked.filled = _decimal(raw.get("filled"))
        if tracked.reported_qty < tracked.filled:
            out.extend(self._new_fills(cid, tracked, now_ns))
        if tracked.status.is_open or tracked.reported_qty < tracked.filled:
            return
        if tracked.status is VenueOrderStatus.CANCELED:
            out.append(CancelReport(client_order_id=cid, ts_ns=now_ns))
        elif tracked.status is VenueOrderStatus.REJECTED:
            out.append(RejectReport(client_order_id=cid, reason="VENUE_REJECT", ts_ns=now_ns))
        tracked.closed = True

    def _new_fills(self, cid: str, tracked: _Tracked, now_ns: int) -> list[FillReport]:
        symbol = tracked.order.symbol
        venue_id = tracked.venue_order_id
        if self._exchange.has.get("fetchOrderTrades"):
            trades = self._read(lambda: self._exchange.fetch_order_trades(venue_id, symbol), cid)
        else:
            trades = [
                t
                for t in self._read(lambda: self._exchange.fetch_my_trades(symbol), cid)
                if str(t.get("order")) == venue_id
            ]
        fills: list[FillReport] = []
        for trade in sorted(trades, key=lambda t: (t.get("timestamp") or 0, str(t.get("id")))):
            trade_id = str(trade.get("id"))
            if trade_id in tracked.trade_ids:
                continue
            tracked.trade_ids.add(trade_id)
            qty = _on_grid(_decimal(trade.get("amount")), self._qty_lot)
            tracked.reported_qty += qty
            fills.append(
                FillReport(
                    client_order_id=cid,
                    trade_id=trade_id,
                    quantity=qty,
                    price=_on_grid(_decimal(trade.get("price")), self._price_tick),
                    ts_ns=now_ns,
                )
            )
        return fills

    # -- helpers -----------------------------------------------------------------------------

    def _check_order(self, order: Order) -> None:
        cid = order.client_order_id
        if not _CLIENT_ID.fullmatch(cid):
            raise Rejected(
                "client order ids must be 1-32 characters of [A-Za-z0-9]",
                reason="INVALID_ORDER",
                client_order_id=cid,
            )
        if order.symbol not in self.symbols:
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

    def _amount_and_price(self, order: Order) -> tuple[str, str | None]:
        """Strings for ccxt, refused when the venue's precision would change them."""
        cid = order.client_order_id
        ccxt = import_optional("ccxt", "ccxt")
        amount = str(order.quantity)
        price = None if order.order_type is OrderType.MARKET else order.limit_price
        try:
            rounded = self._exchange.amount_to_precision(order.symbol, amount)
            rounded_price = (
                None
                if price is None
                else self._exchange.price_to_precision(order.symbol, str(price))
            )
        except ccxt.BaseError as exc:
            raise classify(exc, client_order_id=cid) from exc
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
        return amount, None if price is None else str(price)

    def _resync_time(self) -> None:
        """After a timestamp rejection, re-measure the clock offset (best effort)."""
        try:
            self._guard()
            self._exchange.load_time_difference()
        except Exception:  # noqa: BLE001, S110 - the rejection already says what happened
            pass

    # -- reads for preflight -----------------------------------------------------------------

    def load_markets(self) -> Mapping[str, Any]:
        """The venue's markets (loaded once, then cached by ccxt)."""
        return dict(self._read(self._exchange.load_markets))

    def balances(self) -> dict[str, Decimal]:
        """Total balance per asset, as Decimals, sorted by asset."""
        raw = self._read(self._exchange.fetch_balance)
        totals = raw.get("total") or {}
        return {asset: _decimal(totals[asset]) for asset in sorted(totals)}

    def __repr__(self) -> str:
        return (
            f"CcxtSandboxBroker(exchange={self.exchange_id!r}, "
            f"sandbox_verified={self.sandbox_verified}, symbols={list(self.symbols)!r})"
        )


def _sleep_ns(ns: int) -> None:
    time.sleep(ns / 1_000_000_000)


def make_ccxt_broker(
    exchange_id: str,
    *,
    runtime_config: RuntimeConfig,
    symbols: Sequence[str] = ("BTC/USDT",),
    timeout_ms: int = 10_000,
    enable_rate_limit: bool = True,
    session_hook: Callable[[Any], None] | None = None,
    lookup_attempts: int = 5,
    lookup_interval_ns: int = 250_000_000,
    wait_ns: Callable[[int], None] | None = None,
    price_tick: Decimal | None = None,
    qty_lot: Decimal | None = None,
) -> CcxtSandboxBroker:
    """Build a ``CcxtSandboxBroker`` for ``exchange_id`` (``"binance"`` or ``"ccxt:binance"``).

    No request is made here. Raises ``ConfigError`` when the exchange is not one of
    ``SANDBOX_EXCHANGES``, when ``runtime_config`` lacks its credentials, or when the
    exchange cannot be put into a verified sandbox; ``MissingExtra`` without ccxt.

    Args:
        exchange_id: ``binance`` (spot testnet), ``bybit`` (testnet) or ``okx`` (simulated).
        runtime_config: Credentials, from ``RuntimeConfig.from_env(mode="ccxt:<id>")``.
        symbols: The allowlisted symbols in ccxt form (``BTC/USDT``).
        timeout_ms: ccxt's HTTP timeout, connect and read.
        enable_rate_limit: ccxt's client-side throttle; turn off only in tests.
        session_hook: Called with the exchange's ``requests.Session`` after the sandbox is
            verified (tests mount a loopback transport on it).
        lookup_attempts: Default number of attempts of ``lookup``.
        lookup_interval_ns: Pause between lookup attempts.
        wait_ns: How to pause (default: sleep); tests pass a recorder.
        price_tick: The session's price tick: fill prices that are multiples of it are
            written with its decimal places (``30000.00``, not ccxt's ``30000.0``).
        qty_lot: The session's lot, likewise for fill and order quantities.
    """
    name = exchange_id.removeprefix("ccxt:")
    sandbox = SANDBOX_EXCHANGES.get(name)
    if sandbox is None:
        raise ConfigError(
            f"exchange {name!r} is not supported: choose one of "
            f"{', '.join(sorted(SANDBOX_EXCHANGES))} (sandbox only)"
        )
    if isinstance(timeout_ms, bool) or not isinstance(timeout_ms, int) or timeout_ms <= 0:
        raise ConfigError(f"timeout_ms must be a positive integer, got {timeout_ms!r}")
    if (
        isinstance(lookup_attempts, bool)
        or not isinstance(lookup_attempts, int)
        or lookup_attempts < 1
    ):
        raise ConfigError(f"lookup_attempts must be an integer >= 1, got {lookup_attempts!r}")
    _check_grid(price_tick=price_tick, qty_lot=qty_lot)
    if not symbols or not all(isinstance(s, str) and "/" in s for s in symbols):
        raise ConfigError('symbols must be a non-empty list like ["BTC/USDT"]')
    if runtime_config.exchange != name:
        raise ConfigError(
            f"the runtime configuration is for mode {runtime_config.mode}, not ccxt:{name}"
        )
    runtime_config.validate_for(f"ccxt:{name}")
    ccxt = import_optional("ccxt", "ccxt")
    config: dict[str, Any] = {
        "timeout": timeout_ms,
        "enableRateLimit": enable_rate_limit,
        "options": {
            **sandbox.options,
            "adjustForTimeDifference": True,
            "maxRetriesOnFailure": 0,
        },
    }
    for field, key in (
        ("api_key", "apiKey"),
        ("api_secret", "secret"),
        ("api_password", "password"),
    ):
        secret = getattr(runtime_config, field)
        if secret is not None:
            config[key] = secret.reveal()
    exchange = getattr(ccxt, name)(config)
    exchange.logger = _WIRE_LOG
    exchange.verbose = False
    exchange.session.trust_env = False
    try:
        _enter_sandbox(exchange, sandbox)
        if session_hook is not None:
            session_hook(exchange.session)
            _enter_sandbox_check_again(exchange, sandbox)
    except BaseException:
        exchange.close()
        raise
    return CcxtSandboxBroker(
        exchange,
        sandbox=sandbox,
        symbols=symbols,
        lookup_attempts=lookup_attempts,
        lookup_interval_ns=lookup_interval_ns,
        wait_ns=_sleep_ns if wait_ns is None else wait_ns,
        price_tick=price_tick,
        qty_lot=qty_lot,
    )


def _check_grid(**steps: Decimal | None) -> None:
    for label, step in steps.items():
        if step is not None and (
            not isinstance(step, Decimal) or not step.is_finite() or step <= _ZERO
        ):
            raise ConfigError(f"{label} must be a positive Decimal, got {step!r}")


def _enter_sandbox_check_again(exchange: _Exchange, sandbox: _Sandbox) -> None:
    problems = _sandbox_problems(exchange, sandbox)
    if problems:
        raise ConfigError(
            f"{exchange.id} is not a verified sandbox after session_hook ({problems[0]})"
        )


def ccxt_preflight_checks(broker: CcxtSandboxBroker) -> list[tuple[str, bool, str]]:
    """Preflight for a ccxt sandbox broker: ``(check name, passed, reason code)`` each.

    ``sandbox_verified`` (``NOT_SANDBOX``), ``markets_loaded`` (``MARKETS_UNAVAILABLE`` or
    the rejection reason, e.g. ``AUTH``), ``symbols_listed`` (``SYMBOL_NOT_LISTED``) and
    ``balance_fetch`` (``BALANCE_UNAVAILABLE`` or e.g. ``AUTH``). A passed check has reason
    ``""``. Nothing is requested unless the sandbox is verified; nothing raises.
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
        markets = broker.load_markets()
        results.append(("markets_loaded", True, ""))
    except Exception as exc:  # noqa: BLE001 - a preflight reports, it does not raise
        results.append(("markets_loaded", False, _reason(exc, "MARKETS_UNAVAILABLE")))
    if markets is None:
        results.append(("symbols_listed", False, "MARKETS_UNAVAILABLE"))
    else:
        missing = [s for s in broker.symbols if s not in markets]
        results.append(("symbols_listed", not missing, "SYMBOL_NOT_LISTED" if missing else ""))
    try:
        broker.balances()
        results.append(("balance_fetch", True, ""))
    except Exception as exc:  # noqa: BLE001 - a preflight reports, it does not raise
        results.append(("balance_fetch", False, _reason(exc, "BALANCE_UNAVAILABLE")))
    return results


def _reason(exc: BaseException, default: str) -> str:
    if isinstance(exc, Rejected):
        return exc.reason
    return default
