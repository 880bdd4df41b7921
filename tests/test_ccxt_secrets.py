"""No signature, key or secret in what the ccxt broker raises: its message, repr or chain.

The broker's errors are raised from the ccxt error they classify (``__cause__``), and ccxt
quotes the signed URL in its message (``binance GET https://.../api/v3/order?...&signature=
<hmac>``), as do the ``requests`` and urllib3 errors under it (``Max retries exceeded with
url: /api/v3/account?...&signature=...``). An application that logs a broker error's
traceback, and the session log's traceback of an unexpected error, printed the chain whole:
the signature let anyone who read the log send the request again while its timestamp was
fresh. Each scenario makes a signed request fail in a way of its own (5xx, reset, timeout,
refused connection, refused key) against the loopback fake, with canary credentials, and
sweeps every rendering of what was raised.
"""

from __future__ import annotations

import logging
import pickle
import re
import traceback
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest

ccxt = pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession._domain.model import Order, OrderType, Side  # noqa: E402
from livesession._domain.runtime_config import RuntimeConfig, Secret  # noqa: E402
from livesession._exceptions import BrokerError  # noqa: E402
from livesession.brokers.ccxt import CcxtSandboxBroker, make_ccxt_broker  # noqa: E402

from _helpers import closed_port  # noqa: E402
from fake_binance import HOLD_S, TESTNET_PREFIX, FakeBinance, LoopbackRoute  # noqa: E402

pytestmark = pytest.mark.ccxt

KEY = "SEKRETCANARYkey0123456789abcdef"
SECRET = "SEKRETCANARYsecret0123456789abcdef"
NOW = 1_000
SIGNATURE = re.compile(r"signature=(?!\*\*\*)[0-9a-f]{8}", re.IGNORECASE)
"""A signature's value (64 hex digits for Binance) still in the text."""


def _limit(cid: str) -> Order:
    return Order(
        client_order_id=cid,
        symbol="BTC/USDT",
        side=Side.BUY,
        quantity=Decimal("0.01"),
        order_type=OrderType.LIMIT,
        limit_price=Decimal(29000),
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo = [exc]
    while todo:
        link = todo.pop()
        if id(link) in seen:
            continue
        seen.add(id(link))
        yield link
        linked = [link.__cause__, link.__context__, getattr(link, "reason", None), *link.args]
        todo.extend(item for item in linked if isinstance(item, BaseException))


def _quoted(error: BaseException) -> str:
    """The text of every exception in ``error``'s chain (no source lines, no frame names)."""
    return "\n".join(str(link) for link in _chain(error))


def _renderings(error: BaseException) -> str:
    """Everything an application could print of ``error``: traceback, reprs, a pickle."""
    texts = ["".join(traceback.format_exception(error))]
    for link in _chain(error):
        texts += [repr(link), str(link), repr(link.args)]
    texts.append(repr(pickle.loads(pickle.dumps(error))))  # noqa: S301 - our own bytes
    return "\n".join(texts)


def _open_order(broker: CcxtSandboxBroker, fake: FakeBinance) -> None:
    broker.submit(_limit("open1"), NOW)


def _lookup_fails(kind: str) -> Callable[[CcxtSandboxBroker, FakeBinance], None]:
    def scenario(broker: CcxtSandboxBroker, fake: FakeBinance) -> None:
        for path in ("/api/v3/order", "/api/v3/openOrders"):
            fake.add_fault(kind, method="GET", path=path, delay_s=HOLD_S)
        broker.lookup("gone1", attempts=1)

    return scenario


def _cancel_fails(broker: CcxtSandboxBroker, fake: FakeBinance) -> None:
    _open_order(broker, fake)
    fake.add_fault("http_5xx", method="DELETE")
    broker.cancel("open1", NOW)


def _poll_fails(broker: CcxtSandboxBroker, fake: FakeBinance) -> None:
    _open_order(broker, fake)
    fake.add_fault("reset", method="GET")
    broker.poll(NOW)


def _open_orders_fail(broker: CcxtSandboxBroker, fake: FakeBinance) -> None:
    fake.add_fault("http_5xx", method="GET", path="/api/v3/openOrders")
    broker.open_orders()


def _submit_fails(broker: CcxtSandboxBroker, fake: FakeBinance) -> None:
    broker.load_markets()
    fake.add_fault("delay", when="after", delay_s=HOLD_S)
    broker.submit(_limit("slow1"), NOW)


SCENARIOS = {
    "lookup-5xx": _lookup_fails("http_5xx"),
    "lookup-reset": _lookup_fails("reset"),
    "lookup-timeout": _lookup_fails("delay"),
    "cancel-5xx": _cancel_fails,
    "poll-reset": _poll_fails,
    "open-orders-5xx": _open_orders_fail,
    "submit-timeout": _submit_fails,
}
"""Each a failed signed request; all but the submit's (its signature is in the body) are
signed in their URL, which the chain quotes."""


@pytest.fixture(name="fake")
def _fake() -> Iterator[FakeBinance]:
    with FakeBinance(api_key=KEY, api_secret=SECRET) as fake:
        yield fake


def _broker(fake: FakeBinance, route: LoopbackRoute, key: str = KEY) -> CcxtSandboxBroker:
    # Built by hand, not from the process's environment: redaction knows these values
    # only because the broker was built with them.
    config = RuntimeConfig(
        mode="ccxt:binance", exchange="binance", api_key=Secret(key), api_secret=Secret(SECRET)
    )
    return make_ccxt_broker(
        "binance",
        runtime_config=config,
        symbols=("BTC/USDT",),
        timeout_ms=300,
        enable_rate_limit=False,
        session_hook=lambda session: session.mount(TESTNET_PREFIX, route),
        lookup_interval_ns=1,
        wait_ns=lambda _ns: None,
    )


def _assert_clean(error: BaseException, *secrets: str) -> None:
    text = _renderings(error)
    assert SIGNATURE.search(text) is None, text
    for secret in secrets:
        assert secret not in text, text


@pytest.mark.parametrize("name", SCENARIOS)
def test_a_failed_signed_request_leaves_no_signature_in_the_error(fake, name):
    """The error, its chain, their reprs and the pickle hold no signature, key or secret."""
    route = LoopbackRoute(fake.port)
    broker = _broker(fake, route)
    try:
        with pytest.raises(BrokerError) as info:
            SCENARIOS[name](broker, fake)
        if name != "submit-timeout":  # ccxt quoted the signed URL (its value redacted)
            assert "signature=" in _quoted(info.value)
        _assert_clean(info.value, KEY, SECRET)
    finally:
        broker.close()


def test_a_refused_connection_leaves_no_signature_in_the_error(fake):
    """urllib3's ``Max retries exceeded with url: ...?...&signature=...`` is redacted too."""
    route = LoopbackRoute(fake.port)
    broker = _broker(fake, route)
    try:
        broker.load_markets()
        with closed_port() as dead_port:
            route.port = dead_port
            with pytest.raises(BrokerError) as info:
                broker.lookup("gone1", attempts=1)
        assert "Max retries exceeded" in _quoted(info.value)
        assert "signature=" in _quoted(info.value)
        _assert_clean(info.value, KEY, SECRET)
    finally:
        broker.close()


def _open_orders_error(fake: FakeBinance, key: str) -> BrokerError:
    """What ``open_orders`` raises on a broker built with ``key`` (markets loaded first)."""
    broker = _broker(fake, LoopbackRoute(fake.port), key=key)
    try:
        broker.load_markets()
        with pytest.raises(BrokerError) as info:
            broker.open_orders()
    finally:
        broker.close()
    return info.value


def test_a_refused_key_leaves_no_key_in_the_error(fake):
    """A key the venue refuses (AUTH) is not quoted back, nor its request's signature."""
    wrong = "SEKRETCANARYwrongkey0123456789"
    error = _open_orders_error(fake, wrong)
    assert getattr(error, "reason", None) == "AUTH"
    _assert_clean(error, wrong, KEY, SECRET)


def test_a_key_requests_refuses_is_not_quoted_in_the_error(fake):
    """A key ending in ``\\r`` (a CRLF .env file) makes requests refuse the header, quoting it.

    ``RuntimeConfig.from_env`` refuses such a value; one built by hand reaches ccxt, and
    the values the broker was built with are redacted like the environment's secrets.
    """
    padded = "SEKRETCANARYcrlfkey0123456789\r"
    error = _open_orders_error(fake, padded)
    assert "header value" in _quoted(error)  # requests refused it
    _assert_clean(error, padded.strip(), SECRET)


def test_urllib3_debug_lines_show_no_signature(fake, caplog):
    """An application logging at DEBUG gets urllib3's request lines without the signature.

    urllib3 logs each request's URL (``"GET /api/v3/openOrders?...&signature=..."``);
    ccxt's own request logger is off, and urllib3's lines are redacted.
    """
    broker = _broker(fake, LoopbackRoute(fake.port))
    try:
        with caplog.at_level(logging.DEBUG, logger="urllib3"):
            broker.open_orders()
    finally:
        broker.close()
    assert "signature=***" in caplog.text  # the signed request was logged
    assert SIGNATURE.search(caplog.text) is None, caplog.text
    assert KEY not in caplog.text
