"""A loopback fake of the Binance spot REST API, for the ccxt sandbox adapter's tests.

``FakeBinance`` serves the endpoints the adapter uses (``/api/v3/time``, ``exchangeInfo``,
``account``, ``order`` POST/GET/DELETE, ``openOrders``, ``myTrades``, and ``klines`` for
the venue feed: see ``Candles``) from a threaded
``http.server`` on 127.0.0.1, checks every signed request's HMAC-SHA256 signature against
a test secret, and keeps orders by id and by client order id.

Faults are queued with ``add_fault`` and fire on the next matching request, either BEFORE
the request is applied (nothing is recorded) or AFTER it (the order exists, but the client
sees the fault). ``created`` counts the orders really created per client order id: a test
asserts every count is at most 1.

``LoopbackRoute`` is a ``requests`` transport adapter: mounted on an exchange's session for
the real testnet prefix, it rewrites each request's host to the fake before any connection
is made, so ccxt keeps its own URLs (and therefore its own error tables) and no DNS lookup
of the testnet host ever happens.

Like the real venue, the fake refuses a client order id only while an order with that id
is still open: an id reused after the first order filled makes a second order, which is
exactly the duplicate the adapter must never cause.
"""

from __future__ import annotations

import collections
import email.utils
import hashlib
import hmac
import http.server
import json
import socket
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from requests.adapters import HTTPAdapter

from _helpers import hold_until_hung_up

TEST_API_KEY = "fake-binance-test-api-key-0001"
TEST_API_SECRET = "fake-binance-test-api-secret-0001"
TESTNET_PREFIX = "https://testnet.binance.vision/"

_EIGHT = Decimal("0.00000001")
_START_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z; the fake's clock only moves per event

HOLD_S = 10.0
"""A ``delay`` fault's ``delay_s`` for a client with a timeout: the answer is held until the
client hangs up (``FakeBinance.hold``), so this is only a hang guard, far above any timeout."""

_SIGNED = frozenset({"/api/v3/account", "/api/v3/order", "/api/v3/openOrders", "/api/v3/myTrades"})

FAULT_KINDS = frozenset(
    {
        "http_429",  # 429 rate limit (BEFORE: the venue never applied the request)
        "http_418",  # 418 IP ban after ignored 429s (BEFORE, as a 429)
        "http_5xx",  # 503 with an HTML body
        "timestamp",  # -1021 outside recvWindow
        "insufficient_funds",  # -2010 insufficient balance
        "lot_size",  # -1013 Filter failure: LOT_SIZE
        "duplicate",  # -2010 Duplicate order sent.
        "delay",  # hold the answer until the client hangs up (``delay_s``: a hang guard)
        "reset",  # read the request, then close the connection without answering
        "cut_off",  # HTTP 200 whose JSON body ends mid-way: {"symbol": "BTCUSDT", "orderId":
    }
)


_FAULT_ERRORS = {
    "http_429": (429, -1003, "Too much request weight used; current limit is 6000."),
    "http_418": (418, -1003, "Way too much request weight used; IP banned until later."),
    "timestamp": (400, -1021, "Timestamp for this request is outside of the recvWindow."),
    "insufficient_funds": (400, -2010, "Account has insufficient balance for requested action."),
    "lot_size": (400, -1013, "Filter failure: LOT_SIZE"),
    "duplicate": (400, -2010, "Duplicate order sent."),
}


@dataclass(frozen=True)
class Fault:
    """One injected fault: what happens, on which request, before or after applying it."""

    kind: str
    when: str = "before"
    method: str = "POST"
    path: str = "/api/v3/order"
    delay_s: float = 0.0
    retry_after: str | None = None
    """The ``Retry-After`` header the fault's answer carries (a 429, 418 or 503), if any."""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}")
        if self.when not in ("before", "after"):
            raise ValueError(f"fault 'when' must be 'before' or 'after', not {self.when!r}")


@dataclass
class Candles:
    """The fake's 1-minute klines, made up from their open time, and what goes wrong.

    The venue's time is ``now_ms()`` (the test's clock; the fake never reads the wall).
    Every candle from ``origin_ms`` on exists; the one still open at ``now_ms()`` is listed
    too, with its close so far (as Binance does). ``missing`` candles are never published
    (a gap), ``late`` ones only from the given time on, ``duplicate`` ones are listed twice,
    and while ``down`` is set every klines request fails with a 503.
    """

    now_ms: Any = None
    interval_ms: int = 60_000
    origin_ms: int = _START_MS
    missing: set[int] = field(default_factory=set)
    late: dict[int, int] = field(default_factory=dict)
    duplicate: set[int] = field(default_factory=set)
    down: bool = False

    def at(self, index: int) -> int:
        """The open time of candle number ``index`` after the origin."""
        return self.origin_ms + index * self.interval_ms

    def row(self, open_ms: int, now: int) -> list[Any]:
        """A Binance kline: a triangle wave of period 40 around 30000 (SMA crossings)."""
        k = (open_ms - self.origin_ms) // self.interval_ms
        phase = k % 40
        close = Decimal(30000) + Decimal(10) * (phase if phase < 20 else 40 - phase)
        open_ = close - Decimal(5)
        if open_ms + self.interval_ms > now:  # still open: its close so far
            close = open_ + Decimal(1)
        high, low = max(open_, close) + 3, min(open_, close) - 3
        return [
            open_ms,
            _fmt(open_),
            _fmt(high),
            _fmt(low),
            _fmt(close),
            "1.50000000",
            open_ms + self.interval_ms - 1,
            "45000.00000000",
            10,
            "0.7",
            "21000.0",
            "0",
        ]

    def listing(self, start: int | None, limit: int) -> list[list[Any]]:
        """What GET /api/v3/klines answers at the venue's time."""
        now = int(self.now_ms())
        current = self.origin_ms + (now - self.origin_ms) // self.interval_ms * self.interval_ms
        published = [
            t
            for t in range(self.origin_ms, current + 1, self.interval_ms)
            if t not in self.missing and self.late.get(t, 0) <= now
        ]
        if start is None:
            chosen = published[-limit:]
        else:
            chosen = [t for t in published if t >= start][:limit]
        rows: list[list[Any]] = []
        for t in chosen:
            rows.extend([self.row(t, now)] * (2 if t in self.duplicate else 1))
        return rows


@dataclass
class _Symbol:
    symbol: str
    base: str
    quote: str
    mark: Decimal
    tick: Decimal = Decimal("0.01")
    min_qty: Decimal = Decimal("0.001")
    max_qty: Decimal = Decimal(100)
    step: Decimal = Decimal("0.001")


@dataclass
class _Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    price: Decimal
    orig_qty: Decimal
    created_ms: int
    executed_qty: Decimal = Decimal(0)
    quote_qty: Decimal = Decimal(0)
    status: str = "NEW"
    updated_ms: int = 0
    locked: Decimal = Decimal(0)
    lock_asset: str = ""
    fills: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


class _Reply:
    """What the handler sends: a status and a JSON (or text) body, or nothing at all."""

    def __init__(
        self,
        status: int,
        payload: Any = None,
        *,
        text: str | None = None,
        drop: bool = False,
        delay_s: float = 0.0,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.headers = dict(headers or {})
        self.status = status
        self.payload = payload
        self.text = text
        self.drop = drop
        self.delay_s = delay_s


def _error(status: int, code: int, msg: str) -> _Reply:
    return _Reply(status, {"code": code, "msg": msg})


def _fmt(value: Decimal) -> str:
    return f"{value.quantize(_EIGHT):f}"


class FakeBinance:
    """The fake venue. Start it with ``with FakeBinance() as fake:`` (or ``start``/``stop``)."""

    def __init__(
        self,
        *,
        api_key: str = TEST_API_KEY,
        api_secret: str = TEST_API_SECRET,
        balances: Mapping[str, str] | None = None,
    ) -> None:
        self._api_key = api_key
        self._secret = api_secret.encode()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._symbols = {
            "BTCUSDT": _Symbol("BTCUSDT", "BTC", "USDT", Decimal(30000)),
            "ETHUSDT": _Symbol("ETHUSDT", "ETH", "USDT", Decimal(2000)),
        }
        start = balances or {"USDT": "10000", "BTC": "1", "ETH": "10"}
        self._free = {asset: Decimal(amount) for asset, amount in start.items()}
        self._locked: dict[str, Decimal] = collections.defaultdict(Decimal)
        self._orders: dict[int, _Order] = {}
        self._next_order_id = 1001
        self._next_trade_id = 5001
        self._now_ms = _START_MS
        self._faults: collections.deque[Fault] = collections.deque()
        self._hidden: dict[str, int] = {}
        self._redirects: dict[tuple[str, str], str] = {}
        self._ban: tuple[int, str] | None = None  # (from the n-th order POST, Retry-After)
        self._trade_ids = True
        self._misreported: list[str] = []
        self._market_part: Decimal | None = None
        self._close_part = False
        self.created: collections.Counter[str] = collections.Counter()
        """Orders actually created, per client order id."""
        self.requests: list[tuple[str, str]] = []
        """Every request received, as (method, path), in arrival order."""
        self.bad_signatures = 0
        self.candles = Candles()
        """The klines the fake serves (set ``candles.now_ms`` before asking for them)."""
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen on 127.0.0.1 on a free port and serve in a background thread."""
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.block_on_close = False
        server.fake = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-binance"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed answers still in flight are cut short."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The loopback port the fake listens on."""
        assert self._server is not None, "start the fake first"
        return int(self._server.server_address[1])

    # -- test controls -----------------------------------------------------------------------

    def add_fault(
        self,
        kind: str,
        *,
        when: str = "before",
        method: str = "POST",
        path: str = "/api/v3/order",
        delay_s: float = 0.0,
        retry_after: str | None = None,
        times: int = 1,
    ) -> None:
        """Queue a fault for the next ``times`` requests to ``method path``; in order."""
        with self._lock:
            fault = Fault(kind, when, method, path, delay_s, retry_after)
            self._faults.extend([fault] * times)

    def pending_faults(self) -> int:
        """Faults queued but not fired yet."""
        with self._lock:
            return len(self._faults)

    def ban_from_order(self, number: int, retry_after: str) -> None:
        """From the ``number``-th order POST on, answer every request 418 (an address ban)."""
        with self._lock:
            self._ban = (number, retry_after)

    def redirect(self, location: str, *, method: str = "POST", path: str = "/api/v3/order") -> None:
        """From now on answer ``method path`` with HTTP 307 to ``location`` + the request's
        path and query (a venue that sends its clients elsewhere; 307 keeps the method and
        the body, a signed order's included), recording nothing."""
        with self._lock:
            self._redirects[(method, path)] = location

    def hide(self, client_order_id: str, lookups: int) -> None:
        """Make an order invisible to the next ``lookups`` GET /order calls (and openOrders)."""
        with self._lock:
            self._hidden[client_order_id] = lookups

    def fill(self, client_order_id: str, qty: str, price: str | None = None) -> None:
        """Fill part of an open order (as if a counterparty traded against it)."""
        with self._lock:
            order = self._latest(client_order_id)
            assert order is not None, f"no order {client_order_id}"
            assert order.is_open, f"order {client_order_id} is not open"
            self._fill(order, Decimal(qty), Decimal(price) if price else order.price)

    def fill_market_partly(self, qty: str) -> None:
        """The next MARKET order fills only ``qty`` when it is made, then rests partly filled
        until ``fill`` fills the rest (a venue whose book was thin)."""
        with self._lock:
            self._market_part = Decimal(qty)

    def close_market_partly(self, qty: str) -> None:
        """The next MARKET order fills only ``qty`` and the venue closes it there, the rest
        released: listed as ``FILLED`` with ``executedQty`` below ``origQty``.

        ccxt unifies that as ``status == "closed"`` with ``remaining > 0``: the shape of
        Bybit's ``PartiallyFilledCanceled`` (a spot market order the book could not fill,
        ccxt issue #18685), which ccxt also maps to ``closed``.
        """
        with self._lock:
            self._market_part = Decimal(qty)
            self._close_part = True

    def rewrite_trade(self, client_order_id: str, qty: str) -> None:
        """From now on list the first trade of the latest order with this client id at
        ``qty``, under its trade id (a venue that rewrote it); its filled quantity follows."""
        with self._lock:
            order = self._latest(client_order_id)
            assert order is not None, f"no order {client_order_id}"
            first = order.fills[0]
            before, price = Decimal(first["qty"]), Decimal(first["price"])
            first["qty"] = _fmt(Decimal(qty))
            self._settle(order, Decimal(qty) - before, price, self._tick())

    def drop_trade_ids(self) -> None:
        """From now on, list trades without their trade ``id`` (a venue that omits it)."""
        with self._lock:
            self._trade_ids = False

    def misreport_trades(self, symbol_id: str, answers: int = 1) -> None:
        """The next ``answers`` trade listings that hold trades list them under ``symbol_id``."""
        with self._lock:
            self._misreported.extend([symbol_id] * answers)

    def cancel_by_venue(self, client_order_id: str) -> None:
        """Cancel an open order on the venue's own initiative (e.g. expiry)."""
        with self._lock:
            order = self._latest(client_order_id)
            assert order is not None, f"no order {client_order_id}"
            assert order.is_open, f"order {client_order_id} is not open"
            self._cancel(order)

    def place(self, client_order_id: str, qty: str, price: str) -> None:
        """A LIMIT buy of BTCUSDT placed by someone else (not through a session's broker)."""
        with self._lock:
            params = {"symbol": "BTCUSDT", "newClientOrderId": client_order_id}
            params |= {"type": "LIMIT", "side": "BUY", "quantity": qty, "price": price}
            reply = self._new_order(params)
            assert reply.status == 200, reply

    def trade_foreign(self, client_order_id: str, qty: str, side: str = "BUY") -> None:
        """A MARKET order of BTCUSDT placed by someone else: it fills at once, in full."""
        with self._lock:
            params = {"symbol": "BTCUSDT", "newClientOrderId": client_order_id}
            params |= {"type": "MARKET", "side": side, "quantity": qty}
            reply = self._new_order(params)
            assert reply.status == 200, reply

    def order_status(self, client_order_id: str) -> str | None:
        """The status of the latest order with this client id, or None."""
        with self._lock:
            order = self._latest(client_order_id)
            return None if order is None else order.status

    def free(self, asset: str) -> Decimal:
        """The free balance of ``asset``."""
        with self._lock:
            return self._free.get(asset, Decimal(0))

    def count(self, method: str, path: str) -> int:
        """How many ``method path`` requests arrived."""
        with self._lock:
            return sum(1 for entry in self.requests if entry == (method, path))

    # -- request handling (called from server threads) ---------------------------------------

    def handle(self, method: str, target: str, body: str, headers: Mapping[str, str]) -> _Reply:
        """Answer one request; faults are applied around the normal handling."""
        parts = urlsplit(target)
        path = parts.path
        raw = parts.query if method in ("GET", "DELETE") else body
        with self._lock:
            self.requests.append((method, path))
            posts = self.requests.count(("POST", "/api/v3/order"))
            sent_away = self._sent_away(method, path, target, posts)
            if sent_away is not None:
                return sent_away
            if path in _SIGNED:
                refused = self._authenticate(raw, headers)
                if refused is not None:
                    return refused
            params = dict(parse_qsl(raw, keep_blank_values=True))
            fault = self._take_fault(method, path)
            if fault is not None and fault.when == "before":
                return self._fault_reply(fault)
            reply = self._route(method, path, params)
        if fault is not None:
            if fault.kind == "delay":
                reply.delay_s = fault.delay_s
                return reply
            return self._fault_reply(fault)
        return reply

    def _sent_away(self, method: str, path: str, target: str, posts: int) -> _Reply | None:
        """The answer of a ban (``ban_from_order``) or a redirect (``redirect``), if any."""
        if self._ban is not None and posts >= self._ban[0]:
            return self._fault_reply(Fault("http_418", retry_after=self._ban[1]))
        elsewhere = self._redirects.get((method, path))
        if elsewhere is not None:
            return _Reply(307, text="", headers={"Location": elsewhere + target})
        return None

    def _authenticate(self, raw: str, headers: Mapping[str, str]) -> _Reply | None:
        if headers.get("X-MBX-APIKEY") != self._api_key:
            return _error(401, -2015, "Invalid API-key, IP, or permissions for action.")
        payload, sep, signature = raw.rpartition("&signature=")
        expected = hmac.new(self._secret, payload.encode(), hashlib.sha256).hexdigest()
        if not sep or not hmac.compare_digest(signature, expected):
            self.bad_signatures += 1
            return _error(400, -1022, "Signature for this request is not valid.")
        return None

    def _take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.method == method and fault.path == path:
                self._faults.remove(fault)
                return fault
        return None

    @staticmethod
    def _fault_reply(fault: Fault) -> _Reply:
        reply = FakeBinance._fault_answer(fault)
        if fault.retry_after is not None:
            reply.headers["Retry-After"] = fault.retry_after
            if not fault.retry_after.isdigit():  # a date: read against the fake's own Date
                reply.headers["Date"] = email.utils.formatdate(_START_MS / 1000, usegmt=True)
        return reply

    @staticmethod
    def _fault_answer(fault: Fault) -> _Reply:
        if fault.kind == "delay":
            return _Reply(200, {}, delay_s=fault.delay_s)
        if fault.kind == "reset":
            return _Reply(0, drop=True)
        if fault.kind == "cut_off":
            return _Reply(200, text='{"symbol": "BTCUSDT", "orderId": ')
        if fault.kind == "http_5xx":
            return _Reply(503, text="<html><body>503 Service Unavailable</body></html>")
        status, code, msg = _FAULT_ERRORS[fault.kind]
        return _error(status, code, msg)

    def _route(self, method: str, path: str, params: dict[str, str]) -> _Reply:
        routes = {
            ("GET", "/api/v3/time"): self._time,
            ("GET", "/api/v3/exchangeInfo"): self._exchange_info,
            ("GET", "/api/v3/account"): self._account,
            ("POST", "/api/v3/order"): self._new_order,
            ("GET", "/api/v3/order"): self._query_order,
            ("DELETE", "/api/v3/order"): self._cancel_order,
            ("GET", "/api/v3/openOrders"): self._open_orders,
            ("GET", "/api/v3/myTrades"): self._my_trades,
            ("GET", "/api/v3/klines"): self._klines,
        }
        route = routes.get((method, path))
        if route is None:
            return _error(404, -1000, f"fake binance does not serve {method} {path}")
        return route(params)

    # -- endpoints -----------------------------------------------------------------------------

    def _tick(self) -> int:
        self._now_ms += 1
        return self._now_ms

    def _klines(self, params: dict[str, str]) -> _Reply:
        if self.candles.down:
            return _Reply(503, text="<html><body>503 Service Unavailable</body></html>")
        interval = params.get("interval")
        if interval != "1m" or params.get("symbol") not in self._symbols:
            return _error(400, -1121, "Invalid symbol or interval.")
        start = params.get("startTime")
        limit = int(params.get("limit") or 500)
        return _Reply(200, self.candles.listing(None if start is None else int(start), limit))

    def _time(self, params: dict[str, str]) -> _Reply:
        return _Reply(200, {"serverTime": self._tick()})

    def _exchange_info(self, params: dict[str, str]) -> _Reply:
        symbols = [
            {
                "symbol": spec.symbol,
                "status": "TRADING",
                "baseAsset": spec.base,
                "baseAssetPrecision": 8,
                "quoteAsset": spec.quote,
                "quotePrecision": 8,
                "quoteAssetPrecision": 8,
                "baseCommissionPrecision": 8,
                "quoteCommissionPrecision": 8,
                "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET"],
                "icebergAllowed": True,
                "ocoAllowed": False,
                "quoteOrderQtyMarketAllowed": True,
                "isSpotTradingAllowed": True,
                "isMarginTradingAllowed": False,
                "filters": [
                    {
                        "filterType": "PRICE_FILTER",
                        "minPrice": _fmt(spec.tick),
                        "maxPrice": "1000000.00000000",
                        "tickSize": _fmt(spec.tick),
                    },
                    {
                        "filterType": "LOT_SIZE",
                        "minQty": _fmt(spec.min_qty),
                        "maxQty": _fmt(spec.max_qty),
                        "stepSize": _fmt(spec.step),
                    },
                ],
                "permissions": [],
                "permissionSets": [["SPOT"]],
            }
            for spec in self._symbols.values()
        ]
        return _Reply(
            200,
            {
                "timezone": "UTC",
                "serverTime": self._tick(),
                "rateLimits": [],
                "exchangeFilters": [],
                "symbols": symbols,
            },
        )

    def _account(self, params: dict[str, str]) -> _Reply:
        assets = sorted(set(self._free) | set(self._locked))
        return _Reply(
            200,
            {
                "makerCommission": 10,
                "takerCommission": 10,
                "canTrade": True,
                "canWithdraw": False,
                "canDeposit": False,
                "updateTime": self._tick(),
                "accountType": "SPOT",
                "balances": [
                    {
                        "asset": asset,
                        "free": _fmt(self._free.get(asset, Decimal(0))),
                        "locked": _fmt(self._locked.get(asset, Decimal(0))),
                    }
                    for asset in assets
                ],
                "permissions": ["SPOT"],
            },
        )

    def _new_order(self, params: dict[str, str]) -> _Reply:  # noqa: PLR0911 - one per venue check
        spec = self._symbols.get(params.get("symbol", ""))
        if spec is None:
            return _error(400, -1121, "Invalid symbol.")
        cid = params.get("newClientOrderId", "")
        if not cid:
            return _error(400, -1102, "newClientOrderId is required by this fake.")
        if any(o.client_order_id == cid and o.is_open for o in self._orders.values()):
            return _error(400, -2010, "Duplicate order sent.")
        order_type = params.get("type", "")
        side = params.get("side", "")
        qty = Decimal(params.get("quantity", "0"))
        if qty < spec.min_qty or qty > spec.max_qty or (qty - spec.min_qty) % spec.step:
            return _error(400, -1013, "Filter failure: LOT_SIZE")
        if order_type == "LIMIT":
            price = Decimal(params.get("price", "0"))
            if price <= 0 or price % spec.tick:
                return _error(400, -1013, "Filter failure: PRICE_FILTER")
        elif order_type == "MARKET":
            price = spec.mark
        else:
            return _error(400, -1116, "Invalid orderType.")
        lock_asset, need = (spec.quote, qty * price) if side == "BUY" else (spec.base, qty)
        if self._free.get(lock_asset, Decimal(0)) < need:
            return _error(400, -2010, "Account has insufficient balance for requested action.")
        self._free[lock_asset] -= need
        self._locked[lock_asset] += need
        now = self._tick()
        order = _Order(
            order_id=self._next_order_id,
            client_order_id=cid,
            symbol=spec.symbol,
            side=side,
            type=order_type,
            time_in_force=params.get("timeInForce", "GTC") if order_type == "LIMIT" else "GTC",
            price=price if order_type == "LIMIT" else Decimal(0),
            orig_qty=qty,
            created_ms=now,
            updated_ms=now,
            locked=need,
            lock_asset=lock_asset,
        )
        self._next_order_id += 1
        self._orders[order.order_id] = order
        self.created[cid] += 1
        if order_type == "MARKET":
            self._fill_market(order, spec.mark)
        body = self._order_json(order)
        body["fills"] = [dict(fill) for fill in order.fills]
        return _Reply(200, body)

    def _find(self, params: dict[str, str]) -> _Order | None:
        symbol = params.get("symbol", "")
        cid = params.get("origClientOrderId")
        if cid is not None:
            order = self._latest(cid)
        else:
            order = self._orders.get(int(params.get("orderId", "0") or "0"))
        if order is None or order.symbol != symbol:
            return None
        return order

    def _query_order(self, params: dict[str, str]) -> _Reply:
        order = self._find(params)
        if order is not None:
            left = self._hidden.get(order.client_order_id, 0)
            if left > 0:
                self._hidden[order.client_order_id] = left - 1
                order = None
        if order is None:
            return _error(400, -2013, "Order does not exist.")
        return _Reply(200, self._order_json(order))

    def _cancel_order(self, params: dict[str, str]) -> _Reply:
        order = self._find(params)
        if order is None or not order.is_open:
            return _error(400, -2011, "Unknown order sent.")
        self._cancel(order)
        return _Reply(200, self._order_json(order))

    def _open_orders(self, params: dict[str, str]) -> _Reply:
        symbol = params.get("symbol")
        orders = [
            self._order_json(o)
            for o in self._orders.values()
            if o.is_open
            and (symbol is None or o.symbol == symbol)
            and self._hidden.get(o.client_order_id, 0) == 0
        ]
        return _Reply(200, orders)

    def _my_trades(self, params: dict[str, str]) -> _Reply:
        symbol = params.get("symbol", "")
        wanted = params.get("orderId")
        orders = [
            order
            for order in self._orders.values()
            if order.symbol == symbol and (wanted is None or str(order.order_id) == wanted)
        ]
        trades = [
            {
                "symbol": order.symbol,
                "id": fill["tradeId"],
                "orderId": order.order_id,
                "orderListId": -1,
                "price": fill["price"],
                "qty": fill["qty"],
                "quoteQty": _fmt(Decimal(fill["price"]) * Decimal(fill["qty"])),
                "commission": "0.00000000",
                "commissionAsset": "BNB",
                "time": fill["time"],
                "isBuyer": order.side == "BUY",
                "isMaker": order.type == "LIMIT",
                "isBestMatch": True,
            }
            for order in orders
            for fill in order.fills
        ]
        trades.sort(key=lambda trade: trade["id"])
        if "startTime" in params:
            trades = [trade for trade in trades if trade["time"] >= int(params["startTime"])]
        if "limit" in params:
            trades = trades[: int(params["limit"])]
        if trades and self._misreported:
            symbol_id = self._misreported.pop(0)
            for trade in trades:
                trade["symbol"] = symbol_id
        if not self._trade_ids:
            for trade in trades:
                del trade["id"]
        return _Reply(200, trades)

    # -- venue state ---------------------------------------------------------------------------

    def _latest(self, client_order_id: str) -> _Order | None:
        found = [o for o in self._orders.values() if o.client_order_id == client_order_id]
        return found[-1] if found else None

    def _fill_market(self, order: _Order, mark: Decimal) -> None:
        """Fill a new market order at ``mark``: all of it, or the part the test set."""
        part, self._market_part = self._market_part, None
        self._fill(order, order.orig_qty if part is None else part, mark)
        if self._close_part and order.is_open:
            self._close_part = False
            order.status = "FILLED"  # closed by the venue, the rest never to fill
            self._release(order)

    def _fill(self, order: _Order, qty: Decimal, price: Decimal) -> None:
        qty = min(qty, order.orig_qty - order.executed_qty)
        now = self._tick()
        order.fills.append(
            {
                "price": _fmt(price),
                "qty": _fmt(qty),
                "commission": "0.00000000",
                "commissionAsset": "BNB",
                "tradeId": self._next_trade_id,
                "time": now,
            }
        )
        self._next_trade_id += 1
        self._settle(order, qty, price, now)

    def _settle(self, order: _Order, qty: Decimal, price: Decimal, now: int) -> None:
        """The order's filled quantity and the balances after a trade of ``qty``."""
        spec = self._symbols[order.symbol]
        order.executed_qty += qty
        order.quote_qty += qty * price
        order.updated_ms = now
        if order.side == "BUY":
            spent = qty * price
            self._locked[spec.quote] -= spent
            order.locked -= spent
            self._free[spec.base] = self._free.get(spec.base, Decimal(0)) + qty
        else:
            self._locked[spec.base] -= qty
            order.locked -= qty
            self._free[spec.quote] = self._free.get(spec.quote, Decimal(0)) + qty * price
        if order.executed_qty >= order.orig_qty:
            order.status = "FILLED"
            self._release(order)
        else:
            order.status = "PARTIALLY_FILLED"

    def _cancel(self, order: _Order) -> None:
        order.status = "CANCELED"
        order.updated_ms = self._tick()
        self._release(order)

    def _release(self, order: _Order) -> None:
        if order.locked > 0:
            self._locked[order.lock_asset] -= order.locked
            self._free[order.lock_asset] += order.locked
        order.locked = Decimal(0)

    def _order_json(self, order: _Order) -> dict[str, Any]:
        return {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": -1,
            "clientOrderId": order.client_order_id,
            "transactTime": order.created_ms,
            "time": order.created_ms,
            "updateTime": order.updated_ms,
            "price": _fmt(order.price),
            "origQty": _fmt(order.orig_qty),
            "executedQty": _fmt(order.executed_qty),
            "cummulativeQuoteQty": _fmt(order.quote_qty),
            "status": order.status,
            "timeInForce": order.time_in_force,
            "type": order.type,
            "side": order.side,
            "isWorking": order.is_open,
            "workingTime": order.created_ms,
            "selfTradePreventionMode": "EXPIRE_MAKER",
        }

    def hold(self, connection: socket.socket, bound_s: float) -> None:
        """Hold an answer until the client hangs up (``hold_until_hung_up``) or the fake stops."""
        hold_until_hung_up(connection, bound_s, self._stopping)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: http.server.ThreadingHTTPServer

    _date: str | None = None

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Stay quiet: tests read the fake's own counters."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The ``Date`` header: the fault's own (its ``Retry-After`` is a date), or the wall's."""
        return self._date or super().date_time_string(timestamp)

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        fake: FakeBinance = self.server.fake  # type: ignore[attr-defined]
        try:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode() if length else ""
            reply = fake.handle(method, self.path, body, self.headers)
            if reply.delay_s:
                fake.hold(self.connection, reply.delay_s)
            if reply.drop:
                self.close_connection = True
                self.connection.close()
                return
            if reply.text is not None:
                data, ctype = reply.text.encode(), "text/html"
            else:
                data, ctype = json.dumps(reply.payload).encode(), "application/json;charset=UTF-8"
            self._date = reply.headers.pop("Date", None)
            self.send_response(reply.status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            # The client gave up (its timeout fired first): nothing left to answer.
            self.close_connection = True


class LoopbackRoute(HTTPAdapter):
    """A transport adapter that sends requests for one URL prefix to a loopback port.

    Mount it with ``session.mount(TESTNET_PREFIX, LoopbackRoute(port))``. The rewrite happens
    in ``send``, before urllib3 opens a connection, so the testnet host is never resolved.
    Set ``port`` to a closed port to simulate a refused connection.
    """

    def __init__(self, port: int) -> None:
        super().__init__(max_retries=0)
        self.port = port
        self.hosts: list[str] = []
        """The original host of every request routed, in order."""

    def send(self, request: Any, *args: Any, **kwargs: Any) -> Any:
        parts = urlsplit(request.url)
        self.hosts.append(parts.hostname or "")
        request.url = urlunsplit(("http", f"127.0.0.1:{self.port}", parts.path, parts.query, ""))
        return super().send(request, *args, **kwargs)


@contextmanager
def running(**kwargs: Any) -> Iterator[FakeBinance]:
    """A started fake, stopped on exit."""
    fake = FakeBinance(**kwargs).start()
    try:
        yield fake
    finally:
        fake.stop()
