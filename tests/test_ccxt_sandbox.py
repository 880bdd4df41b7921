"""The ccxt sandbox broker: the sandbox gate, error taxonomy and order flow on a fake Binance.

Every request goes to ``fake_binance.FakeBinance`` on 127.0.0.1 through a transport adapter
mounted for the real testnet URL; the ``loopback_only`` fixture records every address
resolved or connected to and fails a test that tried anything but loopback. The ``fake``
fixture fails a test whose fake venue created two orders for one client order id.
"""

from __future__ import annotations

import contextlib
import decimal
import http.client
import logging
import socket
import subprocess
import sys
from decimal import Decimal

import pytest

ccxt = pytest.importorskip("ccxt")
requests = pytest.importorskip("requests")

import urllib3.exceptions  # noqa: E402

from livesession._domain.model import (  # noqa: E402
    AckReport,
    CancelReport,
    FillReport,
    Order,
    OrderType,
    Side,
    VenueOrderStatus,
)
from livesession._domain.retry import RetryPolicy, call_with_retry  # noqa: E402
from livesession._domain.runtime_config import RuntimeConfig  # noqa: E402
from livesession._exceptions import (  # noqa: E402
    ConfigError,
    MissingExtra,
    OutcomeUnknown,
    Rejected,
    Transient,
)
from livesession.brokers.ccxt import (  # noqa: E402
    SANDBOX_EXCHANGES,
    CcxtSandboxBroker,
    ccxt_preflight_checks,
    classify,
    make_ccxt_broker,
)
from livesession.brokers.ccxt import sandbox as ccxt_sandbox  # noqa: E402

import _netguard  # noqa: E402 - after the skips: the rest needs ccxt and requests
from _helpers import closed_port  # noqa: E402
from fake_binance import (  # noqa: E402
    HOLD_S,
    TEST_API_KEY,
    TEST_API_SECRET,
    TESTNET_PREFIX,
    FakeBinance,
    LoopbackRoute,
)

pytestmark = pytest.mark.ccxt

TIMEOUT_MS = 300
NOW = 1_000
S = 1_000_000_000


def _binance_config(key: str = TEST_API_KEY, secret: str = TEST_API_SECRET) -> RuntimeConfig:
    env = {"LIVESESSION_BINANCE_API_KEY": key, "LIVESESSION_BINANCE_API_SECRET": secret}
    return RuntimeConfig.from_env(env, mode="ccxt:binance")


def _order(cid: str, qty: str = "0.01", **kwargs) -> Order:
    fields = {"symbol": "BTC/USDT", "side": Side.BUY, "quantity": Decimal(qty)} | kwargs
    return Order(client_order_id=cid, **fields)


def _limit(cid: str, qty: str = "0.01", price: str = "29000") -> Order:
    return _order(cid, qty, order_type=OrderType.LIMIT, limit_price=Decimal(price))


@pytest.fixture(name="loopback_only")
def _loopback_only(monkeypatch):
    """Record every host resolved or connected to; fail if any is not loopback."""
    hosts: list[str] = []
    resolve = socket.getaddrinfo
    connect = socket.socket.connect

    def recording_getaddrinfo(host, *args, **kwargs):
        hosts.append(str(host))
        return resolve(host, *args, **kwargs)

    def recording_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            hosts.append(str(address[0]))
        return connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", recording_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    yield hosts
    assert set(hosts) <= {"127.0.0.1", "localhost", "::1"}, hosts


@pytest.fixture(name="fake")
def _fake(loopback_only):
    """A started fake venue; at the end, no client order id was created twice."""
    fake = FakeBinance().start()
    yield fake
    fake.stop()
    assert max(fake.created.values(), default=0) <= 1, fake.created


@pytest.fixture(name="route")
def _route(fake):
    return LoopbackRoute(fake.port)


@pytest.fixture(name="waits")
def _waits():
    return []


@pytest.fixture(name="make_broker")
def _make_broker(route, waits):
    """Build brokers on the fake; all are closed at the end."""
    made: list[CcxtSandboxBroker] = []

    def make(**overrides) -> CcxtSandboxBroker:
        kwargs = {
            "runtime_config": _binance_config(),
            "symbols": ("BTC/USDT", "ETH/USDT"),
            "timeout_ms": TIMEOUT_MS,
            "enable_rate_limit": False,
            "session_hook": lambda session: session.mount(TESTNET_PREFIX, route),
            "lookup_attempts": 5,
            "lookup_interval_ns": 7,
            "wait_ns": waits.append,
            "clock_ns": lambda: sum(waits),  # moved by the broker's waits only
        } | overrides
        broker = make_ccxt_broker("binance", **kwargs)
        made.append(broker)
        return broker

    yield make
    for broker in made:
        broker.close()


@pytest.fixture(name="broker")
def _broker(make_broker):
    return make_broker()


def _retry(broker, order, wait):
    """Submit through the session's retry helper: Transient errors are retried."""
    call_with_retry(
        lambda attempt: broker.submit(order, NOW),
        policy=RetryPolicy(max_attempts=3, base_delay_ns=1_000),
        key=order.client_order_id,
        wait_ns=wait,
        now_ns=lambda: 0,
    )


def _chained(outer, *inner):
    """``outer`` raised from the chain ``inner[0]`` <- ``inner[1]`` <- ..."""
    for cause, effect in zip(inner[1:], inner[:-1], strict=False):
        effect.__cause__ = cause
    if inner:
        outer.__cause__ = inner[0]
    return outer


def _http_error(status):
    response = requests.Response()
    response.status_code = status
    return requests.HTTPError(f"{status} error", response=response)


def _refused():
    pool_error = urllib3.exceptions.NewConnectionError(
        None, "Failed to establish a new connection: [Errno 111] Connection refused"
    )
    retry = urllib3.exceptions.MaxRetryError(None, "/api/v3/order", reason=pool_error)
    return requests.ConnectionError(retry)


class TestClassify:
    """classify maps constructed ccxt errors to Transient, OutcomeUnknown or Rejected."""

    @pytest.mark.parametrize(
        "error",
        [
            pytest.param(
                lambda: _chained(ccxt.NetworkError("binance POST"), _refused()), id="refused"
            ),
            pytest.param(
                lambda: _chained(
                    ccxt.NetworkError("binance POST"),
                    requests.ConnectionError(
                        urllib3.exceptions.MaxRetryError(
                            None,
                            "/",
                            reason=urllib3.exceptions.NameResolutionError(
                                "testnet.binance.vision", None, socket.gaierror(-2, "Name unknown")
                            ),
                        )
                    ),
                ),
                id="dns",
            ),
            pytest.param(
                lambda: _chained(
                    ccxt.RequestTimeout("binance POST"),
                    requests.ConnectTimeout(
                        urllib3.exceptions.ConnectTimeoutError(None, "connect timed out")
                    ),
                ),
                id="connect-timeout",
            ),
            pytest.param(lambda: ccxt.RateLimitExceeded("binance -1003"), id="rate-limit"),
            pytest.param(
                lambda: _chained(
                    ccxt.DDoSProtection("binance 429 Too Many Requests"), _http_error(429)
                ),
                id="http-429",
            ),
        ],
    )
    def test_transient(self, error):
        """Errors that show the request never reached the venue are Transient."""
        result = classify(error(), client_order_id="c1")
        assert type(result) is Transient
        assert result.client_order_id == "c1"

    @pytest.mark.parametrize(
        "error",
        [
            pytest.param(
                lambda: _chained(
                    ccxt.RequestTimeout("binance POST"),
                    requests.ReadTimeout("Read timed out. (read timeout=0.3)"),
                ),
                id="read-timeout-after-send",
            ),
            pytest.param(
                lambda: ccxt.RequestTimeout("binance -1007 backend timeout"), id="venue-timeout"
            ),
            pytest.param(
                lambda: _chained(ccxt.ExchangeNotAvailable("binance 503"), _http_error(503)),
                id="http-503",
            ),
            pytest.param(
                lambda: _chained(ccxt.ExchangeError("binance 500 {}"), _http_error(500)),
                id="exchange-error-500",
            ),
            pytest.param(
                lambda: _chained(
                    ccxt.NetworkError("binance POST"), ConnectionResetError(104, "reset")
                ),
                id="connection-reset",
            ),
            pytest.param(
                lambda: _chained(
                    ccxt.NetworkError("binance POST"),
                    requests.ConnectionError(
                        urllib3.exceptions.ProtocolError(
                            "Connection aborted.", http.client.RemoteDisconnected("closed")
                        )
                    ),
                ),
                id="connection-aborted",
            ),
            pytest.param(lambda: ccxt.BadResponse("binance garbled"), id="bad-response"),
            pytest.param(lambda: ValueError("parse error after the answer"), id="not-ccxt"),
        ],
    )
    def test_outcome_unknown(self, error):
        """Errors after the request may have been applied are OutcomeUnknown."""
        assert type(classify(error())) is OutcomeUnknown

    @pytest.mark.parametrize(
        ("error", "reason"),
        [
            (
                ccxt.InsufficientFunds(
                    'binance {"code":-2010,"msg":"Account has insufficient balance"}'
                ),
                "INSUFFICIENT_FUNDS",
            ),
            (
                ccxt.InvalidOrder('binance {"code":-1013,"msg":"Filter failure: LOT_SIZE"}'),
                "INVALID_ORDER",
            ),
            (ccxt.BadSymbol('binance {"code":-1121,"msg":"Invalid symbol."}'), "BAD_SYMBOL"),
            (ccxt.AuthenticationError('binance {"code":-2015,"msg":"Invalid API-key"}'), "AUTH"),
            (ccxt.PermissionDenied("binance not allowed"), "AUTH"),
            (
                ccxt.InvalidNonce('binance {"code":-1021,"msg":"Timestamp outside recvWindow"}'),
                "TIMESTAMP",
            ),
            (
                ccxt.OrderNotFound('binance {"code":-2013,"msg":"Order does not exist."}'),
                "ORDER_NOT_FOUND",
            ),
            (ccxt.BadRequest("binance bad parameter"), "BAD_REQUEST"),
            (ccxt.MarketClosed("binance market closed"), "REJECTED"),
            (_chained(ccxt.ExchangeError("binance 400 {}"), _http_error(400)), "EXCHANGE_ERROR"),
        ],
    )
    def test_rejected(self, error, reason):
        """Final refusals are Rejected with a reason code."""
        result = classify(error)
        assert type(result) is Rejected
        assert result.reason == reason

    @pytest.mark.parametrize(
        "message",
        [
            'binance {"code":-2010,"msg":"Duplicate order sent."}',
            'bybit {"retCode":110072,"retMsg":"OrderLinkedID is duplicate"}',
            'okx {"code":"1","data":[{"sCode":"51016","sMsg":"Duplicated clOrdId"}]}',
        ],
    )
    def test_duplicate_client_id_is_outcome_unknown(self, message):
        """A duplicate client order id (InvalidOrder on Binance, Bybit, OKX) means: look it up."""
        result = classify(ccxt.InvalidOrder(message))
        assert type(result) is OutcomeUnknown
        assert "look it up" in str(result)

    def test_message_has_no_url_or_signature(self):
        """The message keeps the venue's code and text and drops URLs and signatures."""
        error = ccxt.InvalidOrder(
            "binance GET https://testnet.binance.vision/api/v3/order?timestamp=1&signature=abcdef "
            '{"code":-1013,"msg":"Filter failure: LOT_SIZE"}'
        )
        text = str(classify(error))
        assert "code -1013" in text
        assert "LOT_SIZE" in text
        assert "https://" not in text
        assert "abcdef" not in text
        assert "\n" not in text


class TestSandboxGate:
    """Only a verified sandbox is built; the check runs before any request."""

    def test_binance_is_verified(self, broker, fake):
        """The binance broker is on its testnet, with the required ccxt settings."""
        exchange = broker._exchange
        assert broker.kind == "ccxt_sandbox"
        assert broker.sandbox_verified
        assert exchange.isSandboxModeEnabled is True
        assert exchange.timeout == TIMEOUT_MS
        assert exchange.options["maxRetriesOnFailure"] == 0
        assert exchange.options["adjustForTimeDifference"] is True
        assert exchange.enableRateLimit is False
        assert exchange.session.trust_env is False
        assert fake.requests == []

    def test_rate_limit_is_on_by_default(self, make_broker):
        """Without enable_rate_limit=False, ccxt's throttle is on."""
        broker = make_broker(enable_rate_limit=True)
        assert broker._exchange.enableRateLimit is True

    @pytest.mark.parametrize(
        ("exchange_id", "env", "hosts", "header"),
        [
            ("bybit", {"KEY": "k", "SECRET": "s"}, {"api-testnet.bybit.com"}, None),
            (
                "okx",
                {"KEY": "k", "SECRET": "s", "PASSWORD": "p"},
                {"www.okx.com"},
                "x-simulated-trading",
            ),
        ],
    )
    def test_other_allowlisted_exchanges_verify(self, exchange_id, env, hosts, header):
        """bybit and okx build in verified sandbox mode against the installed ccxt, offline."""
        environ = {f"LIVESESSION_{exchange_id.upper()}_API_{k}": v for k, v in env.items()}
        config = RuntimeConfig.from_env(environ, mode=f"ccxt:{exchange_id}")
        broker = make_ccxt_broker(f"ccxt:{exchange_id}", runtime_config=config)
        try:
            exchange = broker._exchange
            assert broker.sandbox_verified
            used = {
                requests.utils.urlparse(exchange.implode_hostname(url)).hostname
                for url in ccxt_sandbox._api_urls(exchange.urls["api"])
            }
            assert used == hosts
            if header is not None:
                assert exchange.headers[header] == "1"
        finally:
            broker.close()

    def test_exchange_not_in_allowlist(self):
        """An exchange outside the allowlist is a ConfigError naming the choices."""
        with pytest.raises(ConfigError, match="binance, bybit, okx"):
            make_ccxt_broker("kraken", runtime_config=_binance_config())

    def test_exchange_without_test_url(self, monkeypatch):
        """An exchange whose ccxt class has no test URL is refused, whatever the allowlist."""
        describe = ccxt.binance.describe

        def no_testnet(self):
            described = describe(self)
            return described | {"urls": described["urls"] | {"test": None}}

        monkeypatch.setattr(ccxt.binance, "describe", no_testnet)
        with pytest.raises(ConfigError, match="no sandbox"):
            make_ccxt_broker("binance", runtime_config=_binance_config())

    def test_ccxt_raises_typeerror_without_testnet(self):
        """ccxt's own switch fails with TypeError on an exchange without a testnet; we refuse first."""
        kraken = ccxt.kraken()
        assert not kraken.urls.get("test")
        with pytest.raises(TypeError):
            ccxt.kraken().set_sandbox_mode(True)
        with pytest.raises(ConfigError, match="no sandbox"):
            ccxt_sandbox._enter_sandbox(kraken, SANDBOX_EXCHANGES["binance"])

    def test_switch_that_keeps_live_hosts_is_refused(self, monkeypatch, fake):
        """A sandbox flag over live URLs is refused before any request and before the hook."""

        def fake_switch(self, enabled):
            self.isSandboxModeEnabled = True  # URLs stay on the live hosts

        monkeypatch.setattr(ccxt.binance, "set_sandbox_mode", fake_switch)
        hooked = []
        with pytest.raises(ConfigError, match="not a testnet host"):
            make_ccxt_broker(
                "binance", runtime_config=_binance_config(), session_hook=hooked.append
            )
        assert hooked == []
        assert fake.requests == []

    def test_a_plain_http_url_is_refused_as_not_https(self, broker, fake):
        """An API URL on the testnet host over plain HTTP is refused for its scheme. Before,
        the refusal said ``API host 'testnet.binance.vision' is not a testnet host``, which
        it is: an operator looking for a wrong host found none."""
        broker._exchange.urls["api"]["private"] = "http://testnet.binance.vision/api/v3"
        with pytest.raises(ConfigError) as refused:
            broker.submit(_order("plain1"), NOW)
        assert str(refused.value) == (
            "binance is not a verified sandbox any more (API URL 'http://testnet.binance.vision' "
            "is not https): nothing was sent"
        )
        assert fake.requests == []

    def test_switch_that_does_nothing_is_refused(self, monkeypatch):
        """A sandbox switch that silently does nothing is refused."""
        monkeypatch.setattr(ccxt.binance, "set_sandbox_mode", lambda self, enabled: None)
        with pytest.raises(ConfigError, match="sandbox mode is off"):
            make_ccxt_broker("binance", runtime_config=_binance_config())

    @pytest.mark.parametrize(
        "tamper",
        [
            pytest.param(
                lambda ex: ex.urls["api"].__setitem__("private", "https://api.binance.com/api/v3"),
                id="live-host",
            ),
            pytest.param(lambda ex: ex.options.__setitem__("enableDemoTrading", True), id="demo"),
            pytest.param(
                lambda ex: ex.options.__setitem__("maxRetriesOnFailure", 2), id="ccxt-retries"
            ),
            pytest.param(lambda ex: setattr(ex, "httpsProxy", "http://10.0.0.1:3128"), id="proxy"),
            # ccxt reads the snake_case twin of each proxy setting, and a callback, as well:
            # before, these passed the gate and the request went to the proxy (a closed
            # loopback port here).
            pytest.param(
                lambda ex: setattr(ex, "https_proxy", "http://127.0.0.1:9"), id="https_proxy"
            ),
            pytest.param(
                lambda ex: setattr(ex, "socks_proxy", "socks5://127.0.0.1:9"), id="socks_proxy"
            ),
            pytest.param(
                lambda ex: setattr(ex, "proxy_url", "http://127.0.0.1:9/"), id="proxy_url"
            ),
            pytest.param(
                lambda ex: setattr(ex, "httpsProxyCallback", lambda *_: "http://127.0.0.1:9"),
                id="proxy-callback",
            ),
            pytest.param(
                lambda ex: ex.session.proxies.update({"https": "http://10.0.0.1:3128"}),
                id="session-proxy",
            ),
        ],
    )
    def test_tampered_after_construction(self, broker, fake, tamper):
        """A broker changed after construction sends nothing and fails its preflight."""
        tamper(broker._exchange)
        with pytest.raises(ConfigError, match="not a verified sandbox"):
            broker.submit(_order("tamper1"), NOW)
        with pytest.raises(ConfigError):
            broker.lookup("tamper1")
        checks = ccxt_preflight_checks(broker)
        assert checks[0] == ("sandbox_verified", False, "NOT_SANDBOX")
        assert all(not passed for _, passed, _ in checks)
        assert fake.requests == []

    def test_a_session_hook_that_sets_a_proxy_is_refused(self, fake):
        """A proxy on the exchange's requests.Session (requests would send through it) is
        refused at construction; the proxy, a loopback listener here, gets nothing."""
        seen: list[bytes] = []
        proxy = socket.create_server(("127.0.0.1", 0))
        proxy.setblocking(False)  # a connection made would be waiting: never wait for one
        url = f"http://127.0.0.1:{proxy.getsockname()[1]}"
        try:
            with pytest.raises(ConfigError, match=r"after session_hook \(a proxy is set on the"):
                make_ccxt_broker(
                    "binance",
                    runtime_config=_binance_config(),
                    timeout_ms=TIMEOUT_MS,
                    session_hook=lambda session: session.proxies.update({"https": url}),
                )
            with contextlib.suppress(BlockingIOError):
                conn, _ = proxy.accept()
                seen.append(conn.recv(200))
                conn.close()
        finally:
            proxy.close()
        assert seen == []
        assert fake.requests == []

    def test_an_empty_session_proxies_is_no_proxy(self, make_broker):
        """requests' own default, an empty ``proxies`` (or one with no value), is fine."""
        broker = make_broker(session_hook=lambda session: session.proxies.update({"https": ""}))
        assert broker.sandbox_problems() == []

    def test_runtime_config_for_another_exchange(self):
        """Credentials for another exchange are a ConfigError."""
        config = RuntimeConfig.from_env(
            {"LIVESESSION_BYBIT_API_KEY": "k", "LIVESESSION_BYBIT_API_SECRET": "s"},
            mode="ccxt:bybit",
        )
        with pytest.raises(ConfigError, match="ccxt:binance"):
            make_ccxt_broker("binance", runtime_config=config)

    def test_no_secret_in_repr(self, broker):
        """The broker's repr names the exchange and hides the credentials."""
        text = repr(broker)
        assert "binance" in text
        assert TEST_API_KEY not in text
        assert TEST_API_SECRET not in text


class TestCredentialsAreNotPickled:
    """Before, ``pickle.dumps(broker)`` held the API key and secret in plain text (the
    exchange ccxt built holds them), while a ``Secret`` refuses pickling and docs/ccxt.md
    says they are revealed only to ccxt. No request is made: building sends none."""

    @pytest.mark.parametrize("exchange_id", ["binance", "bybit", "okx"])
    def test_the_broker_and_its_exchange_refuse_pickle_and_copy(self, exchange_id):
        import copy
        import pickle

        names = ("KEY", "SECRET", "PASSWORD") if exchange_id == "okx" else ("KEY", "SECRET")
        env = {
            f"LIVESESSION_{exchange_id.upper()}_API_{name}": f"ZQX{name}{exchange_id}7731aa"
            for name in names
        }
        config = RuntimeConfig.from_env(env, mode=f"ccxt:{exchange_id}")
        broker = make_ccxt_broker(exchange_id, runtime_config=config)
        try:
            exchange = broker._exchange
            assert isinstance(exchange, getattr(ccxt, exchange_id))
            assert exchange.secret == env[f"LIVESESSION_{exchange_id.upper()}_API_SECRET"]
            said = []
            for attempt in (
                lambda: pickle.dumps(broker),
                lambda: pickle.dumps(exchange, protocol=0),
                lambda: pickle.dumps({"session": [broker]}),
                lambda: copy.deepcopy(broker),
                lambda: copy.copy(exchange),
            ):
                with pytest.raises(TypeError, match="cannot be pickled or copied") as refused:
                    attempt()
                said.append(str(refused.value))
            assert said[0].startswith("this CcxtSandboxBroker cannot be pickled or copied: ")
            assert said[1].startswith(f"this ccxt {exchange_id} exchange cannot be pickled")
            assert not [text for text in said for value in env.values() if value in text]
            assert broker.sandbox_verified
        finally:
            broker.close()


def _offline_broker(exchange_id, monkeypatch, calls):
    """A bybit or okx broker whose ccxt calls are recorded instead of sent."""
    names = {"bybit": ("KEY", "SECRET"), "okx": ("KEY", "SECRET", "PASSWORD")}[exchange_id]
    env = {f"LIVESESSION_{exchange_id.upper()}_API_{name}": "x" for name in names}
    config = RuntimeConfig.from_env(env, mode=f"ccxt:{exchange_id}")
    broker = make_ccxt_broker(exchange_id, runtime_config=config)
    exchange = broker._exchange
    raw = {"id": "9", "clientOrderId": "c1", "symbol": "BTC/USDT", "side": "buy"}
    raw |= {"amount": 0.01, "filled": 0.0, "status": "open"}

    def record(name, answer):
        def call(*args, **kwargs):
            calls.append((name, args))
            return answer

        return call

    monkeypatch.setattr(exchange, "load_markets", record("load_markets", {"BTC/USDT": {}}))
    monkeypatch.setattr(exchange, "amount_to_precision", lambda symbol, amount: amount)
    # a unified trading account (bybit asks before a market buy: test_ccxt_shapes)
    monkeypatch.setattr(exchange, "is_unified_enabled", lambda: [False, True], raising=False)
    monkeypatch.setattr(exchange, "market", lambda symbol: {"id": "BTCUSDT", "symbol": symbol})
    monkeypatch.setattr(exchange, "create_order", record("create_order", raw))
    monkeypatch.setattr(exchange, "fetch_order", record("fetch_order", raw))
    realtime = record("realtime", {"result": {"list": [raw]}})
    monkeypatch.setattr(exchange, "privateGetV5OrderRealtime", realtime, raising=False)
    monkeypatch.setattr(exchange, "parse_order", lambda order, market: order)
    return broker


class TestOtherExchanges:
    """bybit and okx send and look up the client order id through their own parameters."""

    def test_bybit(self, monkeypatch):
        """bybit: clientOrderId on create, /v5/order/realtime with orderLinkId on lookup."""
        calls = []
        broker = _offline_broker("bybit", monkeypatch, calls)
        try:
            broker.submit(_order("c1"), NOW)
            assert broker.lookup("c1") is not None
        finally:
            broker.close()
        sent = [call for call in calls if call[0] != "load_markets"]
        assert sent[0] == (
            "create_order",
            ("BTC/USDT", "market", "buy", "0.01", None, {"clientOrderId": "c1"}),
        )
        assert sent[1] == (
            "realtime",
            ({"category": "spot", "symbol": "BTCUSDT", "orderLinkId": "c1"},),
        )

    def test_okx(self, monkeypatch):
        """okx: clientOrderId on create and on fetch_order (ccxt sends clOrdId)."""
        calls = []
        broker = _offline_broker("okx", monkeypatch, calls)
        try:
            broker.submit(_order("c1"), NOW)
            assert broker.lookup("c1") is not None
        finally:
            broker.close()
        sent = [call for call in calls if call[0] != "load_markets"]
        assert sent[0][1][-1] == {"clientOrderId": "c1"}
        assert sent[1] == ("fetch_order", (None, "BTC/USDT", {"clientOrderId": "c1"}))


class TestNetGuard:
    """The test suite's loopback guard blocks anything else before a packet leaves."""

    def test_guard_is_installed(self):
        """conftest installed the guard for this test run."""
        assert socket.getaddrinfo is _netguard._guarded_getaddrinfo
        assert socket.socket.connect is _netguard._guarded_connect

    def test_testnet_hostname_is_not_resolved(self):
        """Resolving the testnet host raises NonLoopbackConnection (no DNS query is sent)."""
        assert socket.getaddrinfo is _netguard._guarded_getaddrinfo
        with pytest.raises(_netguard.NonLoopbackConnection):
            socket.create_connection(("testnet.binance.vision", 443), timeout=0.1)

    def test_non_loopback_address_is_not_connected(self):
        """Connecting to a non-loopback address raises before the socket connects."""
        assert socket.socket.connect is _netguard._guarded_connect
        with (
            socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock,
            pytest.raises(_netguard.NonLoopbackConnection),
        ):
            sock.connect(("192.0.2.1", 443))

    def test_broker_without_loopback_route_cannot_leave(self):
        """A broker whose session has no loopback route is stopped by the guard."""
        broker = make_ccxt_broker(
            "binance", runtime_config=_binance_config(), timeout_ms=TIMEOUT_MS
        )
        try:
            with pytest.raises(_netguard.NonLoopbackConnection):
                broker.load_markets()
        finally:
            broker.close()


class TestMissingExtra:
    """Without ccxt the factory names the extra, and the package still imports."""

    def test_factory_raises_missing_extra(self, monkeypatch):
        """make_ccxt_broker raises MissingExtra naming livesession[ccxt]."""
        monkeypatch.setitem(sys.modules, "ccxt", None)
        with pytest.raises(MissingExtra, match=r"livesession\[ccxt\]") as info:
            make_ccxt_broker("binance", runtime_config=_binance_config())
        assert info.value.extra == "ccxt"
        assert "\n" not in str(info.value)

    def test_package_imports_without_ccxt(self, monkeypatch):
        """livesession imports with ccxt blocked; ccxt-backed calls raise MissingExtra."""
        monkeypatch.setitem(sys.modules, "ccxt", None)
        import livesession
        import livesession.brokers.ccxt

        assert livesession.brokers.ccxt.make_ccxt_broker is make_ccxt_broker
        with pytest.raises(MissingExtra):
            classify(ValueError("boom"))

    def test_fresh_interpreter_without_ccxt(self):
        """A fresh interpreter with ccxt blocked imports livesession and gets MissingExtra."""
        code = (
            "import sys; sys.modules['ccxt'] = None\n"
            "import livesession\n"
            "from livesession._domain.runtime_config import RuntimeConfig\n"
            "from livesession.brokers.ccxt import make_ccxt_broker\n"
            "env = {'LIVESESSION_BINANCE_API_KEY': 'k', 'LIVESESSION_BINANCE_API_SECRET': 's'}\n"
            "cfg = RuntimeConfig.from_env(env, mode='ccxt:binance')\n"
            "try:\n"
            "    make_ccxt_broker('binance', runtime_config=cfg)\n"
            "except Exception as exc:\n"
            "    print(type(exc).__name__, exc)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
        )
        assert done.stdout.startswith("MissingExtra ccxt is not installed")
        assert "livesession[ccxt]" in done.stdout


class TestHappyPath:
    """Orders flow through the fake venue and come back as reports."""

    def test_market_order(self, broker, fake, loopback_only):
        """A market buy is acked and filled once; a second poll reports nothing new."""
        broker.submit(_order("happy1"), NOW)
        reports = broker.poll(NOW + 1)
        assert reports == [
            AckReport(client_order_id="happy1", venue_order_id="1001", ts_ns=NOW),
            FillReport(
                client_order_id="happy1",
                trade_id="5001",
                quantity=Decimal("0.01"),
                price=Decimal(30000),
                ts_ns=NOW + 1,
                symbol="BTC/USDT",
            ),
        ]
        assert all(isinstance(r.quantity, Decimal) for r in reports if isinstance(r, FillReport))
        assert broker.poll(NOW + 2) == []
        found = broker.order_by_client_id("happy1")
        assert found is not None
        assert found.status is VenueOrderStatus.FILLED
        assert found.filled_quantity == Decimal("0.01")
        assert fake.created["happy1"] == 1
        assert fake.bad_signatures == 0
        assert set(loopback_only) == {"127.0.0.1"}  # the recorder saw the traffic

    def test_the_callers_decimal_context_is_left_as_it_was(self, broker, fake):
        """Bug: ccxt's ``decimal_to_precision`` sets ``rounding = ROUND_HALF_UP`` and traps
        ``Underflow`` on the calling thread, so a broker called outside a session (whose
        broker calls run in a context of their own) left its caller rounding half up: the
        next test on the worker, a rail rounding 0.05000025 to seven places, read 0.0500003
        where half-even reads 0.0500002. Each call that reaches ccxt gives it back now."""
        with decimal.localcontext() as caller:
            before = caller.copy()
            broker.submit(_limit("ctx1", qty="0.010"), NOW)
            broker.poll(NOW + 1)
            broker.open_orders()
            broker.cancel("ctx1", NOW + 2)
            broker.poll(NOW + 3)
            assert broker.order_by_client_id("ctx1") is not None
            assert broker.lookup("ctx1") is not None
            broker.balances()
            assert decimal.getcontext() is caller
            assert (caller.rounding, caller.prec, caller.traps) == (
                before.rounding,
                before.prec,
                before.traps,
            )
        assert fake.created["ctx1"] == 1

    def test_limit_order_partial_fill_and_cancel(self, broker, fake):
        """A resting limit order reports each fill once, then its cancel."""
        broker.submit(_limit("rest1", qty="0.010"), NOW)
        assert broker.poll(NOW + 1) == [
            AckReport(client_order_id="rest1", venue_order_id="1001", ts_ns=NOW)
        ]
        assert [o.client_order_id for o in broker.open_orders()] == ["rest1"]
        fake.fill("rest1", "0.004")
        fills = broker.poll(NOW + 2)
        assert [(f.trade_id, f.quantity, f.price) for f in fills] == [
            ("5001", Decimal("0.004"), Decimal(29000))
        ]
        assert broker.poll(NOW + 3) == []
        broker.cancel("rest1", NOW + 4)
        assert broker.poll(NOW + 5) == [CancelReport(client_order_id="rest1", ts_ns=NOW + 5)]
        assert broker.poll(NOW + 6) == []
        assert broker.open_orders() == []
        with pytest.raises(Rejected) as info:
            broker.cancel("rest1", NOW + 7)
        assert info.value.reason == "ORDER_NOT_OPEN"

    def test_a_trade_under_a_market_ccxt_does_not_list_keeps_its_symbol(self, broker, fake):
        """ccxt labels a trade of a market id it does not know with the symbol asked for:
        the fill carries the venue's own id, SOLUSDT, which the session refuses."""
        broker.submit(_order("sol1"), NOW)
        fake.misreport_trades("SOLUSDT")
        (fill,) = [r for r in broker.poll(NOW + 1) if isinstance(r, FillReport)]
        assert (fill.trade_id, fill.symbol) == ("5001", "SOLUSDT")

    def test_a_trade_ccxt_reports_under_another_symbol_keeps_it(self, broker, fake, monkeypatch):
        """A trade of the order that ccxt gives under another symbol carries that symbol."""
        broker.submit(_order("eth1"), NOW)
        exchange = broker._exchange
        fetch = exchange.fetch_order_trades

        def under_eth(*args, **kwargs):
            return [t | {"symbol": "ETH/USDT"} for t in fetch(*args, **kwargs)]

        monkeypatch.setattr(exchange, "fetch_order_trades", under_eth)
        (fill,) = [r for r in broker.poll(NOW + 1) if isinstance(r, FillReport)]
        assert fill.symbol == "ETH/USDT"

    def test_trades_without_an_id_are_each_reported_without_one(self, broker, fake):
        """Two trades the venue lists with no id: two fills with trade_id "" (which the session
        refuses), never one booked as "None" and the other dropped as its repeat."""
        broker.submit(_limit("noid1", qty="0.010"), NOW)
        fake.drop_trade_ids()
        fake.fill("noid1", "0.004")
        fake.fill("noid1", "0.003")
        reports = broker.poll(NOW + 1)
        fills = [(r.trade_id, r.quantity) for r in reports if isinstance(r, FillReport)]
        assert fills == [("", Decimal("0.004")), ("", Decimal("0.003"))]
        assert broker.poll(NOW + 2) == []

    def test_resubmitting_a_known_order_sends_nothing(self, broker, fake):
        """Submitting the same order again on the same broker makes no request."""
        broker.submit(_order("again1"), NOW)
        broker.submit(_order("again1"), NOW)
        assert fake.count("POST", "/api/v3/order") == 1
        with pytest.raises(Rejected) as info:
            broker.submit(_order("again1", qty="0.02"), NOW)
        assert info.value.reason == "DUPLICATE_CLIENT_ID"

    def test_no_secret_in_logs(self, broker, caplog):
        """With DEBUG logging on, neither the API key nor the secret is logged."""
        caplog.set_level(logging.DEBUG)
        broker.submit(_order("logs1"), NOW)
        broker.poll(NOW + 1)
        assert TEST_API_KEY not in caplog.text
        assert TEST_API_SECRET not in caplog.text

    def test_preflight_passes(self, broker):
        """Every preflight check passes against the fake testnet."""
        assert ccxt_preflight_checks(broker) == [
            ("sandbox_verified", True, ""),
            ("markets_loaded", True, ""),
            ("symbols_listed", True, ""),
            ("balance_fetch", True, ""),
        ]

    def test_preflight_asks_a_busy_venue_again(self, broker, fake, waits):
        """A 503 loading the markets and a 429 on the balance are asked again, a pause
        apart: every check passes (one 429 rejected the run, BALANCE_UNAVAILABLE). A 429
        without Retry-After backs off: 1 s before the second try, 2 s before the third."""
        fake.add_fault("http_5xx", method="GET", path="/api/v3/exchangeInfo")
        fake.add_fault("http_429", method="GET", path="/api/v3/account")
        fake.add_fault("http_429", method="GET", path="/api/v3/account")
        assert all(passed for _, passed, _ in ccxt_preflight_checks(broker))
        assert fake.pending_faults() == 0
        assert fake.count("GET", "/api/v3/account") == 3
        assert waits == [7, 7, S - 7, 7, 2 * S - 7]

    def test_preflight_gives_up_on_a_venue_that_stays_busy(self, broker, fake, waits):
        """Three 429s in a row on the balance: BALANCE_UNAVAILABLE, after three tries."""
        for _ in range(3):
            fake.add_fault("http_429", method="GET", path="/api/v3/account")
        checks = {name: (passed, reason) for name, passed, reason in ccxt_preflight_checks(broker)}
        assert checks["markets_loaded"] == (True, "")
        assert checks["balance_fetch"] == (False, "BALANCE_UNAVAILABLE")
        assert fake.count("GET", "/api/v3/account") == 3
        assert waits == [7, S - 7, 7, 2 * S - 7]

    def test_preflight_unknown_symbol_and_bad_secret(self, make_broker):
        """A symbol the venue lacks and a wrong secret fail their checks with reason codes."""
        broker = make_broker(
            symbols=("BTC/USDT", "DOGE/USDT"),
            runtime_config=_binance_config(secret="wrong-secret"),
        )
        checks = {name: (passed, reason) for name, passed, reason in ccxt_preflight_checks(broker)}
        assert checks["symbols_listed"] == (False, "SYMBOL_NOT_LISTED")
        assert checks["balance_fetch"] == (False, "AUTH")

    def test_the_detail_names_the_symbols_not_listed(self, make_broker, fake):
        """SYMBOL_NOT_LISTED's line names each allowlisted symbol the venue lacks (it said
        "a symbol of the allowlist is not listed", leaving the operator to guess which)."""
        from livesession._rundir.brokers import _venue_detail
        from livesession.brokers.ccxt.preflight import unlisted_symbols

        broker = make_broker(symbols=("SOL/USDT", "BTC/USDT", "DOGE/USDT"))
        checks = {name: (passed, reason) for name, passed, reason in ccxt_preflight_checks(broker)}
        assert checks["symbols_listed"] == (False, "SYMBOL_NOT_LISTED")
        asked = len(fake.requests)
        assert unlisted_symbols(broker) == ["DOGE/USDT", "SOL/USDT"]
        assert len(fake.requests) == asked  # the markets come from ccxt's cache
        assert _venue_detail("symbols_listed", "SYMBOL_NOT_LISTED", ["DOGE/USDT", "SOL/USDT"]) == (
            "DOGE/USDT, SOL/USDT of the allowlist are not listed by the venue"
        )
        many = [f"C{n}/USDT" for n in range(7)]
        assert _venue_detail("symbols_listed", "SYMBOL_NOT_LISTED", many) == (
            "C0/USDT, C1/USDT, C2/USDT, C3/USDT, C4/USDT and 2 more of the allowlist are not "
            "listed by the venue"
        )

    def test_preflight_of_an_unreachable_venue_blames_no_symbol(self, make_broker, monkeypatch):
        """Markets that cannot be loaded leave the symbols unchecked, and say so.

        ``symbols_listed`` failed with ``MARKETS_UNAVAILABLE`` (the reason line repeated
        it) and the detail said "a symbol of the allowlist is not listed by the venue",
        sending an operator to fix symbols that were never looked up.
        """
        from livesession._rundir.brokers import _venue_detail

        broker = make_broker()

        def down(*_args: object, **_kwargs: object) -> None:
            raise ConnectionRefusedError("connection refused")

        monkeypatch.setattr(broker, "load_markets", down)
        monkeypatch.setattr(broker, "balances", down)
        checks = {name: (passed, reason) for name, passed, reason in ccxt_preflight_checks(broker)}
        assert checks["markets_loaded"] == (False, "MARKETS_UNAVAILABLE")
        assert checks["symbols_listed"] == (False, "SKIPPED_NO_MARKETS")
        assert checks["balance_fetch"] == (False, "BALANCE_UNAVAILABLE")
        assert _venue_detail("symbols_listed", "SKIPPED_NO_MARKETS") == (
            "symbols_listed not asked: the venue's markets could not be loaded"
        )


class TestRejections:
    """Final refusals raise Rejected with a reason, and no order exists."""

    def test_insufficient_funds(self, broker, fake):
        """Buying more than the balance allows is INSUFFICIENT_FUNDS."""
        with pytest.raises(Rejected) as info:
            broker.submit(_order("poor1", qty="1"), NOW)
        assert info.value.reason == "INSUFFICIENT_FUNDS"
        assert fake.created["poor1"] == 0
        assert TEST_API_SECRET not in str(info.value)

    def test_lot_step_refused_before_sending(self, broker, fake):
        """A quantity off the lot step is refused locally: ccxt would silently round it."""
        broker.load_markets()
        with pytest.raises(Rejected) as info:
            broker.submit(_order("step1", qty="0.0015"), NOW)
        assert info.value.reason == "INVALID_ORDER"
        assert fake.count("POST", "/api/v3/order") == 0

    @pytest.mark.parametrize(
        ("order", "said"),
        [
            (
                _order("below1", qty="0.0001"),
                (
                    "quantity 0.0001 is not a multiple of the venue's lot step (below it: binance "
                    "amount of BTC/USDT must be greater than minimum amount precision of 0.001): "
                    "not sent"
                ),
            ),
            (
                _limit("below2", price="0.001"),
                (
                    "price 0.001 is not a multiple of the venue's tick size (below it: binance "
                    "price of BTC/USDT must be greater than minimum price precision of 0.01): "
                    "not sent"
                ),
            ),
        ],
    )
    def test_below_the_step_refused_before_sending_saying_so(self, broker, fake, order, said):
        """ccxt refuses a value below the step itself: before, "rejected by the venue
        (InvalidOrder)", naming neither the value nor the step, for an order never sent."""
        with pytest.raises(Rejected) as info:
            broker.submit(order, NOW)
        assert info.value.reason == "INVALID_ORDER"
        assert str(info.value) == said
        assert fake.count("POST", "/api/v3/order") == 0

    def test_lot_size_filter_at_the_venue(self, broker, fake):
        """Above the LOT_SIZE maximum the venue refuses: INVALID_ORDER."""
        with pytest.raises(Rejected) as info:
            broker.submit(_order("lot1", qty="101"), NOW)
        assert info.value.reason == "INVALID_ORDER"
        assert "LOT_SIZE" in str(info.value)
        assert fake.created["lot1"] == 0

    def test_lot_size_fault(self, broker, fake):
        """An injected -1013 LOT_SIZE answer is INVALID_ORDER."""
        fake.add_fault("lot_size")
        with pytest.raises(Rejected) as info:
            broker.submit(_order("lot2"), NOW)
        assert info.value.reason == "INVALID_ORDER"
        assert fake.created["lot2"] == 0

    def test_timestamp_error(self, broker, fake):
        """-1021 is TIMESTAMP; the broker re-measures the clock offset afterwards."""
        broker.load_markets()
        time_calls = fake.count("GET", "/api/v3/time")
        fake.add_fault("timestamp")
        with pytest.raises(Rejected) as info:
            broker.submit(_order("ts1"), NOW)
        assert info.value.reason == "TIMESTAMP"
        assert fake.created["ts1"] == 0
        assert fake.count("GET", "/api/v3/time") == time_calls + 1

    def test_invalid_client_id_and_symbol(self, broker, fake):
        """Bad client ids and symbols outside the allowlist never reach the venue."""
        with pytest.raises(Rejected) as info:
            broker.submit(_order("not-alnum"), NOW)
        assert info.value.reason == "INVALID_ORDER"
        with pytest.raises(Rejected) as info:
            broker.submit(_order("sym1", symbol="SOL/USDT"), NOW)
        assert info.value.reason == "BAD_SYMBOL"
        assert fake.requests == []


class TestTransientFaults:
    """Requests that never reached the venue are resent with the same id: one order."""

    def test_http_429(self, broker, fake):
        """A 429 is Transient; the retry with the same id makes exactly one order."""
        fake.add_fault("http_429")
        with pytest.raises(Transient):
            broker.submit(_order("rl1"), NOW)
        assert fake.created["rl1"] == 0
        broker.submit(_order("rl1"), NOW)
        assert fake.created["rl1"] == 1

    def test_refused_connection_then_retry(self, broker, fake, route):
        """A refused connection is Transient; call_with_retry resends the same id once."""
        broker.load_markets()
        live_port = route.port
        with closed_port() as dead_port:
            route.port = dead_port
            with pytest.raises(Transient) as info:
                broker.submit(_order("ref1"), NOW)
            assert isinstance(info.value.__cause__, ccxt.NetworkError)
            assert fake.count("POST", "/api/v3/order") == 0
            waited = []

            def back_online(ns):
                waited.append(ns)
                route.port = live_port

            route.port = dead_port
            _retry(broker, _order("ref1"), back_online)
        assert len(waited) == 1
        assert fake.created["ref1"] == 1
        assert fake.count("POST", "/api/v3/order") == 1


class TestUnknownOutcomes:
    """Requests that may have been applied are looked up, never blindly resent."""

    def test_read_timeout_after_the_order_was_recorded(self, broker, fake, waits):
        """A read timeout is OutcomeUnknown; lookup finds the order and nothing is resent."""
        broker.load_markets()
        fake.add_fault("delay", when="after", delay_s=HOLD_S)
        with pytest.raises(OutcomeUnknown) as info:
            broker.submit(_order("slow1"), NOW)
        assert isinstance(info.value.__cause__, ccxt.RequestTimeout)
        with pytest.raises(OutcomeUnknown, match="call lookup"):
            broker.submit(_order("slow1"), NOW)
        found = broker.lookup("slow1")
        assert found is not None
        assert found.status is VenueOrderStatus.FILLED
        assert waits == []
        reports = broker.poll(NOW + 1)
        assert [type(r) for r in reports] == [AckReport, FillReport]
        broker.submit(_order("slow1"), NOW)  # known now: no request
        assert fake.count("POST", "/api/v3/order") == 1
        assert fake.created["slow1"] == 1

    def test_http_5xx_after_recording(self, broker, fake):
        """A 503 after the order was recorded is OutcomeUnknown; lookup reconciles it."""
        fake.add_fault("http_5xx", when="after")
        with pytest.raises(OutcomeUnknown):
            broker.submit(_order("five1"), NOW)
        assert broker.lookup("five1") is not None
        assert fake.count("POST", "/api/v3/order") == 1
        assert fake.created["five1"] == 1

    def test_http_5xx_before_recording(self, broker, fake, waits):
        """A 503 before recording: lookup confirms absence, then the same id is resent once."""
        fake.add_fault("http_5xx", when="before")
        with pytest.raises(OutcomeUnknown):
            broker.submit(_order("five2"), NOW)
        assert broker.lookup("five2") is None
        assert waits == [7, 7, 7, 7]
        broker.submit(_order("five2"), NOW)
        assert fake.created["five2"] == 1
        assert fake.count("POST", "/api/v3/order") == 2

    def test_connection_reset_after_recording(self, broker, fake):
        """A connection closed without an answer is OutcomeUnknown; lookup finds the order."""
        fake.add_fault("reset", when="after")
        with pytest.raises(OutcomeUnknown):
            broker.submit(_order("reset1"), NOW)
        assert broker.lookup("reset1") is not None
        assert fake.created["reset1"] == 1

    def test_connection_reset_before_recording(self, broker, fake):
        """A reset before recording: absence confirmed, one resend, one order."""
        fake.add_fault("reset", when="before")
        with pytest.raises(OutcomeUnknown):
            broker.submit(_order("reset2"), NOW)
        assert broker.lookup("reset2", attempts=2) is None
        broker.submit(_order("reset2"), NOW)
        assert fake.created["reset2"] == 1

    def test_a_cut_off_answer_is_no_ack(self, broker, fake):
        """HTTP 200 whose JSON ends mid-way: OutcomeUnknown, not an ack without a venue id;
        the lookup finds the order, and its ack carries the id its fill is matched by."""
        fake.add_fault("cut_off", when="after")
        with pytest.raises(OutcomeUnknown, match="no venue order id: look the order up"):
            broker.submit(_order("cut1"), NOW)
        with pytest.raises(OutcomeUnknown, match="call lookup"):
            broker.submit(_order("cut1"), NOW)
        assert broker.lookup("cut1") is not None
        assert broker.poll(NOW + 1) == [
            AckReport(client_order_id="cut1", venue_order_id="1001", ts_ns=NOW + 1),
            FillReport(
                client_order_id="cut1",
                trade_id="5001",
                quantity=Decimal("0.01"),
                price=Decimal(30000),
                ts_ns=NOW + 1,
                symbol="BTC/USDT",
            ),
        ]
        assert fake.count("POST", "/api/v3/order") == 1
        assert fake.created["cut1"] == 1

    def test_order_not_visible_yet(self, broker, fake, waits):
        """An order invisible to the first lookups is found by bounded polling."""
        broker.load_markets()
        fake.add_fault("delay", when="after", delay_s=HOLD_S)
        with pytest.raises(OutcomeUnknown):
            broker.submit(_order("late1"), NOW)
        fake.hide("late1", lookups=2)
        found = broker.lookup("late1")
        assert found is not None
        assert found.client_order_id == "late1"
        assert waits == [7, 7]
        assert fake.count("GET", "/api/v3/order") == 3
        assert fake.created["late1"] == 1

    def test_lookup_read_failure_confirms_nothing(self, broker, fake):
        """A failed lookup read raises Transient and the id stays blocked from resending."""
        fake.add_fault("http_5xx", when="after")
        with pytest.raises(OutcomeUnknown):
            broker.submit(_order("blk1"), NOW)
        fake.add_fault("http_5xx", method="GET")
        with pytest.raises(Transient):
            broker.lookup("blk1")
        with pytest.raises(OutcomeUnknown, match="call lookup"):
            broker.submit(_order("blk1"), NOW)
        assert fake.created["blk1"] == 1


class TestDuplicateClientId:
    """A duplicate client order id means the venue has the order: it is looked up."""

    def test_restarted_session_adopts_its_order(self, make_broker, fake):
        """A new broker resending an open order's id adopts it and returns normally."""
        first = make_broker()
        first.submit(_limit("dup1"), NOW)
        second = make_broker()
        second.submit(_limit("dup1"), NOW + 10)
        assert second.poll(NOW + 11) == [
            AckReport(client_order_id="dup1", venue_order_id="1001", ts_ns=NOW + 10)
        ]
        assert fake.created["dup1"] == 1

    def test_duplicate_with_other_parameters(self, make_broker, fake):
        """A duplicate id whose venue order differs is Rejected DUPLICATE_CLIENT_ID."""
        make_broker().submit(_limit("dup2"), NOW)
        with pytest.raises(Rejected) as info:
            make_broker().submit(_limit("dup2", qty="0.02"), NOW)
        assert info.value.reason == "DUPLICATE_CLIENT_ID"
        assert fake.created["dup2"] == 1

    def test_duplicate_answer_after_recording(self, broker, fake):
        """A 'Duplicate order sent.' answer for a recorded order is adopted."""
        fake.add_fault("duplicate", when="after")
        broker.submit(_order("dup3"), NOW)
        assert [type(r) for r in broker.poll(NOW + 1)] == [AckReport, FillReport]
        assert fake.created["dup3"] == 1

    def test_wrongly_confirmed_absence_is_caught_by_the_venue(self, broker, fake):
        """If lookup gives up too early on an open order, the resend is caught as a duplicate."""
        broker.load_markets()
        fake.add_fault("delay", when="after", delay_s=HOLD_S)
        with pytest.raises(OutcomeUnknown):
            broker.submit(_limit("dup4"), NOW)
        fake.hide("dup4", lookups=4)  # two lookups of two reads each, then visible again
        assert broker.lookup("dup4", attempts=2) is None
        broker.submit(_limit("dup4"), NOW)
        assert fake.created["dup4"] == 1
        assert fake.order_status("dup4") == "NEW"

    @staticmethod
    def _rest_in_eth(fake, cid: str) -> None:
        """An open ETH/USDT order of ``cid``: another session's, of the same ids."""
        with fake._lock:
            params = {"symbol": "ETHUSDT", "newClientOrderId": cid, "type": "LIMIT"}
            params |= {"side": "BUY", "quantity": "0.010", "price": "1500.00"}
            assert fake._new_order(params).status == 200

    def test_an_id_open_in_another_symbol_is_another_sessions(self, broker, fake):
        """The venue refused an id whose open order is in ETH/USDT; looked up in BTC/USDT
        only, it was OutcomeUnknown ("... but the order was not found"). One read of the
        account's open orders now names it another session's: Rejected CLIENT_ID_IN_USE.
        A send the venue takes reads no open orders."""
        broker.submit(_limit("own5"), NOW)
        assert fake.count("GET", "/api/v3/openOrders") == 0
        self._rest_in_eth(fake, "dup5")
        with pytest.raises(Rejected, match="dup5 in ETH/USDT, not this order's symbol") as info:
            broker.submit(_limit("dup5"), NOW)
        assert info.value.reason == "CLIENT_ID_IN_USE"
        assert fake.created["dup5"] == 1  # the other session's only
        assert broker.poll(NOW + 1) == [
            AckReport(client_order_id="own5", venue_order_id="1001", ts_ns=NOW)
        ]

    def test_a_venue_that_lists_no_open_orders_without_a_symbol(self, broker, fake, monkeypatch):
        """A venue that needs a symbol to list open orders (ccxt refuses the read) cannot
        say whose order it is: OutcomeUnknown, as before."""
        monkeypatch.setitem(broker._exchange.options, "warnOnFetchOpenOrdersWithoutSymbol", True)
        self._rest_in_eth(fake, "dup6")
        with pytest.raises(OutcomeUnknown, match="duplicate client order id but the order was"):
            broker.submit(_limit("dup6"), NOW)
        assert fake.created["dup6"] == 1


class TestRecover:
    """A new broker (a resumed run's process) reports on the orders an earlier one sent."""

    def test_an_order_sent_before_the_crash_is_reported_once_found(self, make_broker, fake):
        """Told of the order, the new broker's lookup tracks it: its ack and fill come."""
        make_broker().submit(_order("rec1"), NOW)
        resumed = make_broker()
        resumed.recover(_order("rec1"))
        with pytest.raises(OutcomeUnknown, match="call lookup"):
            resumed.submit(_order("rec1"), NOW)  # the venue may have it: never resent blindly
        assert resumed.lookup("rec1", attempts=1) is not None
        reports = resumed.poll(NOW + 1)
        assert [type(r) for r in reports] == [AckReport, FillReport]
        assert reports[1].quantity == Decimal("0.01")
        assert resumed.poll(NOW + 2) == []
        resumed.submit(_order("rec1"), NOW)  # tracked now: no request
        assert fake.count("POST", "/api/v3/order") == 1
        assert fake.created["rec1"] == 1

    def test_what_the_book_has_is_not_reported_again(self, make_broker, fake):
        """A resting order with one fill in the book: only its later fill and cancel come."""
        first = make_broker()
        first.submit(_limit("rec2", qty="0.010"), NOW)
        fake.fill("rec2", "0.004")
        (ack, fill) = first.poll(NOW + 1)
        resumed = make_broker()
        resumed.recover(
            _limit("rec2", qty="0.010"),
            acked=True,
            trade_ids=[fill.trade_id],
            filled=fill.quantity,
        )
        assert [o.client_order_id for o in resumed.open_orders()] == ["rec2"]  # found there
        fake.fill("rec2", "0.003")
        later = resumed.poll(NOW + 2)
        assert [(type(r), getattr(r, "quantity", None)) for r in later] == [
            (FillReport, Decimal("0.003"))
        ]
        assert later[0].trade_id != fill.trade_id
        resumed.cancel("rec2", NOW + 3)
        assert resumed.poll(NOW + 4) == [CancelReport(client_order_id="rec2", ts_ns=NOW + 4)]
        assert isinstance(ack, AckReport)

    @pytest.mark.parametrize(("rewritten", "reported"), [("0.005", "0.005"), (None, "0.003")])
    def test_a_booked_trade_is_judged_by_the_numbers_booked(
        self, make_broker, fake, rewritten, reported
    ):
        """Told the numbers booked under a trade id (``booked``): the venue's listing of it
        with others is reported again, for the session to refuse, as within one process;
        alike, it is not. Told the id alone, the rewritten trade was dropped as seen."""
        first = make_broker()
        first.submit(_limit("rec5", qty="0.010"), NOW)
        fake.fill("rec5", "0.004")
        (_ack, fill) = first.poll(NOW + 1)
        if rewritten is not None:
            fake.rewrite_trade("rec5", rewritten)
        else:
            fake.fill("rec5", "0.003")
        resumed = make_broker()
        resumed.recover(
            _limit("rec5", qty="0.010"),
            acked=True,
            trade_ids=[fill.trade_id],
            filled=fill.quantity,
            booked={fill.trade_id: (fill.quantity, fill.price)},
        )
        assert resumed.lookup("rec5", attempts=1) is not None
        (again,) = resumed.poll(NOW + 2)
        assert again.quantity == Decimal(reported)
        assert (again.trade_id == fill.trade_id) is (rewritten is not None)
        assert resumed.poll(NOW + 3) == []  # each once

    def test_an_order_the_book_closed_reports_no_second_cancel(self, make_broker, fake):
        """A cancelled order the book holds as closed: its end is not reported again."""
        first = make_broker()
        first.submit(_limit("rec3"), NOW)
        first.poll(NOW + 1)
        first.cancel("rec3", NOW + 2)
        assert first.poll(NOW + 3) == [CancelReport(client_order_id="rec3", ts_ns=NOW + 3)]
        resumed = make_broker()
        resumed.recover(_limit("rec3"), acked=True, closed=True)
        assert resumed.order_by_client_id("rec3") is not None
        assert resumed.poll(NOW + 4) == []

    def test_an_order_the_venue_never_got_is_sent_once(self, make_broker, fake):
        """Recovered, then confirmed absent by a lookup: the one legitimate send follows."""
        resumed = make_broker()
        resumed.recover(_order("rec4"))
        assert resumed.lookup("rec4", attempts=1) is None
        resumed.submit(_order("rec4"), NOW)
        assert [type(r) for r in resumed.poll(NOW + 1)] == [AckReport, FillReport]
        assert fake.created["rec4"] == 1


class TestRepeatedTrades:
    """A trade id the venue lists again: dropped when alike, reported again when rewritten."""

    def test_a_trade_listed_again_alike_is_reported_once(self, broker, fake):
        broker.submit(_limit("again2", qty="0.010"), NOW)
        fake.fill("again2", "0.004")
        first = [r.trade_id for r in broker.poll(NOW + 1) if isinstance(r, FillReport)]
        fake.fill("again2", "0.003")  # the next answer lists 5001 again, and 5002
        assert first == ["5001"]
        assert [r.trade_id for r in broker.poll(NOW + 2)] == ["5002"]

    def test_a_trade_the_venue_rewrites_is_reported_again(self, broker, fake, monkeypatch):
        """Its first answer listed 5001 at 0.002; the next at 0.004: reported again, for the
        session to refuse (its repeat check names both). It was dropped as a repeat."""
        broker.submit(_limit("rewr1", qty="0.010"), NOW)
        exchange = broker._exchange
        fetch = exchange.fetch_order_trades
        answers: list[int] = []

        def first_halved(*args, **kwargs):
            answers.append(1)
            trades = fetch(*args, **kwargs)
            return (
                [t | {"amount": t["amount"] / 2} for t in trades] if len(answers) == 1 else trades
            )

        monkeypatch.setattr(exchange, "fetch_order_trades", first_halved)
        fake.fill("rewr1", "0.004")
        (first,) = [r for r in broker.poll(NOW + 1) if isinstance(r, FillReport)]
        fake.fill("rewr1", "0.003")
        again = broker.poll(NOW + 2)
        assert (first.trade_id, first.quantity) == ("5001", Decimal("0.002"))
        assert [(r.trade_id, r.quantity) for r in again] == [
            ("5001", Decimal("0.004")),
            ("5002", Decimal("0.003")),
        ]
        assert broker.poll(NOW + 3) == []  # each rewrite once
