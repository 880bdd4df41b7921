"""A venue that answers with a redirect: the sandbox broker follows none.

Bug: ccxt sends through a ``requests.Session``, which follows a redirect to any host:
a 307 from the testnet host took the order, signed and with the API key's header, to
wherever its ``Location`` named, and the broker took the other host's answer for the
venue's ack. The sandbox gate checked ccxt's URLs before each request, never where an
answer sent the next one. Now the session follows no redirect (``max_redirects`` 0, checked
by the gate before every request like its proxies): the redirect's answer is the call's
failure, naming it, and nothing goes to the other host.

The other host is a second loopback ``FakeBinance``, standing for any host the gate does
not allow (a live one): what reached it is what a redirect would have sent there.
"""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession import ConfigError, OutcomeUnknown, RuntimeConfig, Transient, make_ccxt_broker
from livesession._domain.model import Order, Side
from livesession.brokers.ccxt import ccxt_preflight_checks

from fake_binance import TEST_API_KEY, TEST_API_SECRET, TESTNET_PREFIX, FakeBinance, LoopbackRoute

pytestmark = pytest.mark.ccxt

ORDER = ("POST", "/api/v3/order")
REDIRECTED = "HTTP 307 redirect to 127.0.0.1, not followed (the sandbox broker follows none)"


@pytest.fixture(name="elsewhere")
def _elsewhere():
    """Another host: a second fake venue, whose every request is one a redirect sent."""
    other = FakeBinance().start()
    yield other
    other.stop()


def _broker(fake: FakeBinance, **overrides):
    env = {
        "LIVESESSION_BINANCE_API_KEY": TEST_API_KEY,
        "LIVESESSION_BINANCE_API_SECRET": TEST_API_SECRET,
    }
    route = LoopbackRoute(fake.port)
    options = {
        "runtime_config": RuntimeConfig.from_env(env, mode="ccxt:binance"),
        "timeout_ms": 2_000,
        "enable_rate_limit": False,
        "session_hook": lambda session: session.mount(TESTNET_PREFIX, route),
        "lookup_interval_ns": 1,
        "wait_ns": lambda ns: None,
    } | overrides
    return make_ccxt_broker("binance", **options)


def _buy(cid: str) -> Order:
    return Order(client_order_id=cid, symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.010"))


def _at(other: FakeBinance) -> str:
    return f"http://127.0.0.1:{other.port}"


def test_an_order_redirected_elsewhere_is_not_sent_there(fake, elsewhere):
    broker = _broker(fake)
    fake.redirect(_at(elsewhere))
    with pytest.raises(OutcomeUnknown) as unknown:
        broker.submit(_buy("redirected1"), 0)
    assert str(unknown.value) == f"outcome unknown (ExchangeError: {REDIRECTED}): look the order up"
    assert elsewhere.requests == []  # neither the order nor the key went there
    assert dict(fake.created) == {}
    assert broker.lookup("redirected1") is None  # the venue has it not: it may be resent
    broker.close()


def test_a_read_redirected_elsewhere_fails_naming_it(fake, elsewhere):
    broker = _broker(fake)
    assert all(passed for _, passed, _ in ccxt_preflight_checks(broker))
    fake.redirect(_at(elsewhere), method="GET", path="/api/v3/openOrders")
    with pytest.raises(
        Transient, match=rf"^the read failed \(ExchangeError: {re.escape(REDIRECTED)}\)$"
    ):
        broker.open_orders()
    assert elsewhere.requests == []
    broker.close()


def test_a_session_that_follows_redirects_is_refused(fake):
    """A session_hook that lets the session follow redirects again: refused at construction;
    set after it, every request is refused, nothing sent."""

    def follows(session):
        session.mount(TESTNET_PREFIX, LoopbackRoute(fake.port))
        session.max_redirects = 30

    with pytest.raises(ConfigError, match=r"after session_hook \(the HTTP session follows redir"):
        _broker(fake, session_hook=follows)
    broker = _broker(fake)
    broker._exchange.session.max_redirects = 30
    with pytest.raises(ConfigError, match="not a verified sandbox"):
        broker.submit(_buy("follows1"), 0)
    assert ccxt_preflight_checks(broker)[0] == ("sandbox_verified", False, "NOT_SANDBOX")
    assert fake.requests == []
    broker.close()
