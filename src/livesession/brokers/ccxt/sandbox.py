"""The sandbox gate: what makes a ccxt exchange a verified sandbox (testnet).

``_enter_sandbox`` switches an exchange to its sandbox and verifies the result before any
request is made: ccxt must report sandbox mode, every API URL must point at a known testnet
host (OKX: its simulated-trading header must be set), demo trading and proxies (ccxt's,
or one set on its ``requests`` session) must be off, the session must follow no redirect,
and ccxt's own resend-on-failure must be 0. Anything else raises ``ConfigError``. The
broker runs ``_sandbox_problems`` again before every call, so a broker whose URLs were
changed after construction refuses to send.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, Final, TypeAlias
from urllib.parse import urlsplit

import attrs

from ..._exceptions import ConfigError

__all__ = ["SANDBOX_EXCHANGES"]

_Exchange: TypeAlias = Any
"""A ``ccxt.Exchange``; ccxt ships no type information."""


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
    classic_market_buy_in_quote: bool = False
    """A classic (not unified) account reads a spot market buy's quantity in the quote
    currency (Bybit): such an order is refused (``units.refuse_quote_sized``)."""


_SPOT_ONLY: Final[Mapping[str, Any]] = {
    "defaultType": "spot",
    "fetchMarkets": {"types": ["spot"]},
}

SANDBOX_EXCHANGES: Final[Mapping[str, _Sandbox]] = {
    "binance": _Sandbox(
        api_hosts=frozenset({"testnet.binance.vision", "testnet.binancefuture.com"}),
        # The account's open orders in every symbol: read only to explain a duplicate id.
        options={
            **_SPOT_ONLY,
            "fetchCurrencies": False,
            "fetchMargins": False,
            "warnOnFetchOpenOrdersWithoutSymbol": False,
        },
        client_id_param="newClientOrderId",
    ),
    "bybit": _Sandbox(
        api_hosts=frozenset({"api-testnet.bybit.com"}),
        options=_SPOT_ONLY,
        client_id_param="clientOrderId",  # ccxt sends it as orderLinkId
        lookup_param="orderLinkId",  # ccxt's cancel_order passes clientOrderId on as it is
        lookup_realtime=True,
        classic_market_buy_in_quote=True,
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
        if parts.hostname not in sandbox.api_hosts:
            return [f"API host {parts.hostname!r} is not a testnet host"]
        if parts.scheme != "https":
            return [f"API URL '{parts.scheme}://{parts.hostname}' is not https"]
    return []


_PROXY_SETTINGS: Final = (
    "proxies",
    "proxy",
    "proxyUrl",
    "proxy_url",
    "proxyUrlCallback",
    "proxy_url_callback",
    "httpProxy",
    "http_proxy",
    "httpProxyCallback",
    "http_proxy_callback",
    "httpsProxy",
    "https_proxy",
    "httpsProxyCallback",
    "https_proxy_callback",
    "socksProxy",
    "socks_proxy",
    "socksProxyCallback",
    "socks_proxy_callback",
)
"""Every ccxt setting that sends a request through a proxy: ccxt (4.5) reads each camelCase
name and its snake_case twin, and a callback that names a proxy per request."""


def _proxy_problems(exchange: _Exchange) -> list[str]:
    # A proxy would carry the traffic somewhere the host check cannot see.
    configured = any(getattr(exchange, name, None) for name in _PROXY_SETTINGS)
    problems = ["a proxy is configured"] if configured else []
    session = getattr(exchange, "session", None)
    if session is not None and any((getattr(session, "proxies", None) or {}).values()):
        # requests sends through them whatever ccxt's own proxy settings say.
        problems.append("a proxy is set on the HTTP session (session.proxies)")
    if session is not None and session.trust_env:
        problems.append("the HTTP session trusts proxy settings from the environment")
    if session is not None and getattr(session, "max_redirects", None) != 0:
        # requests follows a redirect to any host, the API key header and a 307's signed
        # body with it: a venue's answer would choose where the next request goes.
        problems.append("the HTTP session follows redirects (session.max_redirects is not 0)")
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


def _enter_sandbox_check_again(exchange: _Exchange, sandbox: _Sandbox) -> None:
    problems = _sandbox_problems(exchange, sandbox)
    if problems:
        raise ConfigError(
            f"{exchange.id} is not a verified sandbox after session_hook ({problems[0]})"
        )
