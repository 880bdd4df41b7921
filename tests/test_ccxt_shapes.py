"""The venue shapes ccxt unifies but not quite, fed through the loopback venue.

Whole CLI dry runs on the loopback fake Binance (``_ccxt_route``). A venue profile of the
fake (``close_market_partly``) or a ccxt call wrapped on its way to the broker gives the
broker what ccxt gives it for another venue (Bybit, OKX): each run must book what the
venue did, end each order when the venue ended it, and verify. Bybit and OKX are also
checked offline, through ccxt's own request building and parsing with the venue's
endpoints answered in process (``_offline``). See docs/ccxt.md, "Per-venue notes".

Bugs: an order ccxt listed ``closed`` with ``remaining > 0`` (Bybit's
``PartiallyFilledCanceled``: a spot market order the book could not fill) was taken for
filled: the broker reported its fills and then nothing, so the session kept the rest open
(and the strategy blocked behind it) until the reconciliation found it missing at the
venue and failed the run (``RECONCILE_MISMATCH``, ``ORDER_MISSING_AT_VENUE``). A read the venue refused as outside its receive window
(``InvalidNonce``, Binance -1021: the clock offset ccxt measured went stale) did not
re-measure the offset, as a refused submit does: every later read failed alike, the
session could not see its orders and the run failed ``STOP_INCOMPLETE``. A Bybit market
buy from a classic (not unified) account was sent with the base quantity as its ``qty``,
which Bybit reads in the quote currency there: 0.010 BTC became a buy of 0.010 USDT. A
Bybit cancel named the order by ``clientOrderId``, a parameter ccxt's Bybit
``cancel_order`` passes on as it is (it maps only ``orderLinkId``): the venue was asked to
cancel no order it could name. An OKX error named the envelope's code (``code 1``: "an
operation failed") instead of the order's own (``sCode`` 51008, insufficient balance).
A cancel the venue refused for another reason than "not open" (a bad request, a stale
clock) was raised as ``Rejected``, which the session takes for "not open": it never
asked again, the order stayed open at the venue and the run failed ``STOP_INCOMPLETE``.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession import (
    AckReport,
    CancelReport,
    FillReport,
    Order,
    OrderType,
    RuntimeConfig,
    Side,
    make_ccxt_broker,
)
from livesession._exceptions import Rejected
from livesession.brokers.ccxt.errors import classify
from livesession.verify import verify_run

from _ccxt_route import Wrap, events, jsonl, shaped_dryrun
from fake_binance import FakeBinance

pytestmark = pytest.mark.ccxt


def _order_events(run_dir: Path, cid: str) -> list[str]:
    return [
        e["event_type"]
        for e in jsonl(run_dir / "events.jsonl")
        if e["event_type"].startswith("ORDER_") and e["payload"].get("client_order_id") == cid
    ]


class TestClosedWithTheRestUnfilled:
    """ccxt's ``closed`` with ``remaining > 0`` ends the order: its rest is cancelled."""

    def test_the_rest_is_cancelled_when_the_venue_closes_it(self, tmp_path, monkeypatch, capsys):
        fake = FakeBinance()
        fake.close_market_partly("0.004")
        code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake)
        assert code == 0, capsys.readouterr().err
        assert verify_run(run_dir).ok
        first = events(run_dir, "ORDER_SUBMITTED")[0]["client_order_id"]
        assert _order_events(run_dir, first) == [
            "ORDER_SUBMITTED",
            "ORDER_ACCEPTED",
            "ORDER_PARTIALLY_FILLED",
            "ORDER_CANCELED",
        ]
        # ended by the venue's answer, not found missing by the stop's reconciliation
        assert events(run_dir, "RECONCILED") == []
        (canceled,) = events(run_dir, "ORDER_CANCELED")
        assert canceled["filled"] == "0.004"
        # the strategy was not blocked behind it: its later signals were sent
        assert len(events(run_dir, "ORDER_SUBMITTED")) > 2
        final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
        assert (final["status"], final["open_orders"]) == ("COMPLETED", [])


class TestStaleClock:
    """A read refused as outside the venue's receive window re-measures the clock offset."""

    def test_the_poll_re_measures_the_clock_and_the_run_completes(
        self, tmp_path, monkeypatch, capsys
    ):
        invalid_nonce = pytest.importorskip("ccxt").InvalidNonce
        stale = {"reads": 0, "on": False, "measured": 0}
        venue_says = (
            '{"code":-1021,"msg":"Timestamp for this request is outside of the recvWindow."}'
        )

        def drifting(fetch_order: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                stale["reads"] += 1
                stale["on"] = stale["on"] or stale["reads"] == 3  # the clock drifts here
                if stale["on"]:
                    raise invalid_nonce(f"binance {venue_says}")
                return fetch_order(*args, **kwargs)

            return call

        def measuring(load_time_difference: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                stale["measured"] += 1
                stale["on"] = False
                return load_time_difference(*args, **kwargs)

            return call

        wraps = {"fetch_order": drifting, "load_time_difference": measuring}
        code, run_dir = shaped_dryrun(tmp_path, monkeypatch, FakeBinance(), wraps)
        assert code == 0, capsys.readouterr().err
        assert verify_run(run_dir).ok
        assert stale["measured"] >= 1
        final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
        assert (final["status"], final["open_orders"]) == ("COMPLETED", [])
        assert len(events(run_dir, "ORDER_FILLED")) == len(events(run_dir, "ORDER_SUBMITTED"))


def _offline(
    monkeypatch: pytest.MonkeyPatch,
    exchange_id: str,
    market_id: str,
    endpoints: dict[str, Callable[..., Any]],
) -> Any:
    """A broker on ``exchange_id``, offline: ccxt builds each request, ``endpoints`` (by
    ccxt's method name) answer it in process; its BTC/USDT spot market is ``market_id``."""
    names = ("KEY", "SECRET", "PASSWORD") if exchange_id == "okx" else ("KEY", "SECRET")
    env = {f"LIVESESSION_{exchange_id.upper()}_API_{name}": "x" for name in names}
    config = RuntimeConfig.from_env(env, mode=f"ccxt:{exchange_id}")
    broker = make_ccxt_broker(exchange_id, runtime_config=config)
    exchange = broker._exchange
    market = {"id": market_id, "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"}
    market |= {"baseId": "BTC", "quoteId": "USDT", "type": "spot", "spot": True}
    market |= {"contract": False, "active": True, "info": {}}
    market |= {"precision": {"amount": 0.000001, "price": 0.01}}
    market |= {"limits": {"amount": {"min": 0.000048}, "price": {}, "cost": {"min": 1}}}
    exchange.set_markets([market])
    for name, answer in endpoints.items():
        monkeypatch.setattr(exchange, name, answer, raising=False)
    return broker


def _recorded(sent: list[dict[str, Any]], answer: dict[str, Any]) -> Callable[..., Any]:
    """An endpoint that records each request in ``sent`` and gives ``answer``."""

    def endpoint(request: dict[str, Any] | None = None, *_: Any) -> dict[str, Any]:
        sent.append(request or {})
        return answer

    return endpoint


def _bybit(monkeypatch: pytest.MonkeyPatch, *, uta: int, sent: list[dict[str, Any]]) -> Any:
    """A bybit broker, offline: its account kind given, its orders and cancels recorded."""
    ids = {"orderId": "9", "orderLinkId": "c1"}
    endpoints = {
        "privateGetV5UserQueryApi": lambda *_: {"result": {"unified": 0, "uta": uta}},
        "privateGetV5AccountInfo": lambda *_: {"result": {"unifiedMarginStatus": 1}},
        "privatePostV5OrderCreate": _recorded(sent, {"retCode": 0, "result": ids}),
        "privatePostV5OrderCancel": _recorded(sent, {"retCode": 0, "result": ids}),
    }
    return _offline(monkeypatch, "bybit", "BTCUSDT", endpoints)


def _btc(side: Side, order_type: OrderType = OrderType.MARKET) -> Order:
    price = Decimal("29000.00") if order_type is OrderType.LIMIT else None
    return Order(
        client_order_id="c1",
        symbol="BTC/USDT",
        side=side,
        quantity=Decimal("0.010"),
        order_type=order_type,
        limit_price=price,
    )


class TestBybitMarketBuyUnit:
    """Bybit reads a classic account's spot market buy ``qty`` in the quote currency."""

    def test_a_classic_account_market_buy_is_refused_unsent(self, monkeypatch):
        sent: list[dict[str, Any]] = []
        broker = _bybit(monkeypatch, uta=0, sent=sent)
        try:
            with pytest.raises(Rejected) as refused:
                broker.submit(_btc(Side.BUY), 0)
        finally:
            broker.close()
        assert sent == []
        assert refused.value.reason == "NOT_SUPPORTED"
        assert str(refused.value).startswith(
            "bybit reads a classic account's spot market buy qty in USDT, not the 0.010 "
            "BTC/USDT base quantity this order asks for: use a unified trading account, "
            "or a limit order"
        )

    @pytest.mark.parametrize(
        ("uta", "side", "order_type", "unit"),
        [
            (0, Side.SELL, OrderType.MARKET, None),  # a market sell's qty is the base's
            (0, Side.BUY, OrderType.LIMIT, None),  # a limit order's too
            (1, Side.BUY, OrderType.MARKET, "baseCoin"),  # ccxt says so on a unified one
        ],
    )
    def test_the_others_are_sent_in_the_base_currency(
        self, monkeypatch, uta, side, order_type, unit
    ):
        sent: list[dict[str, Any]] = []
        broker = _bybit(monkeypatch, uta=uta, sent=sent)
        try:
            broker.submit(_btc(side, order_type), 0)
        finally:
            broker.close()
        ((request),) = sent
        assert (request["qty"], request.get("marketUnit")) == ("0.01", unit)


class TestBybitCancel:
    """A Bybit cancel names the order by its ``orderLinkId``, the client order id."""

    def test_the_cancel_carries_the_order_link_id(self, monkeypatch):
        sent: list[dict[str, Any]] = []
        broker = _bybit(monkeypatch, uta=1, sent=sent)
        try:
            broker.submit(_btc(Side.BUY, OrderType.LIMIT), 0)
            broker.cancel("c1", 0)
        finally:
            broker.close()
        _, cancel = sent
        assert cancel == {
            "symbol": "BTCUSDT",
            "orderFilter": "Order",
            "category": "spot",
            "orderLinkId": "c1",
        }


class TestOkxErrorCode:
    """An OKX error names the order's own code (``sCode``), not its envelope's ``1``."""

    def test_the_order_code_and_message_are_named(self):
        ccxt = pytest.importorskip("ccxt")
        said = (
            'okx {"code":"1","data":[{"clOrdId":"c1","ordId":"","sCode":"51008",'
            '"sMsg":"Order failed. Insufficient USDT balance in account.","tag":""}],'
            '"inTime":"1","msg":"All operations failed","outTime":"2"}'
        )
        error = classify(ccxt.InsufficientFunds(said), client_order_id="c1")
        assert isinstance(error, Rejected)
        assert error.reason == "INSUFFICIENT_FUNDS"
        assert "InsufficientFunds: code 51008: Order failed. Insufficient USDT balance" in str(
            error
        )

    def test_an_envelope_without_an_order_keeps_its_code(self):
        ccxt = pytest.importorskip("ccxt")
        said = 'okx {"code":"50111","data":[],"msg":"Invalid OK-ACCESS-KEY"}'
        error = classify(ccxt.AuthenticationError(said))
        assert "AuthenticationError: code 50111: Invalid OK-ACCESS-KEY" in str(error)


class TestCanceledWithAPartialFill:
    """ccxt's ``canceled`` (or ``expired``) with ``filled > 0``: the fills, then the cancel."""

    @pytest.mark.parametrize("status", ["CANCELED", "EXPIRED"])
    def test_the_fill_is_booked_and_the_rest_cancelled(self, tmp_path, monkeypatch, capsys, status):
        fake = FakeBinance()
        fake.fill_market_partly("0.004")
        ended: list[str] = []

        def ending(fetch_order: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                raw = fetch_order(*args, **kwargs)
                if raw["status"] == "open" and not ended:  # the venue ends it after a fill
                    ended.append(raw["clientOrderId"])
                    fake.cancel_by_venue(raw["clientOrderId"])
                    raw = fetch_order(*args, **kwargs)
                    assert raw["status"] == "canceled"
                    if status == "EXPIRED":  # Binance's market order the book ran out for
                        raw = raw | {"status": "expired"}
                return raw

            return call

        code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake, {"fetch_order": ending})
        assert code == 0, capsys.readouterr().err
        assert verify_run(run_dir).ok
        assert _order_events(run_dir, ended[0]) == [
            "ORDER_SUBMITTED",
            "ORDER_ACCEPTED",
            "ORDER_PARTIALLY_FILLED",
            "ORDER_CANCELED",
        ]
        assert events(run_dir, "RECONCILED") == []
        final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
        assert (final["status"], final["open_orders"]) == ("COMPLETED", [])


class TestRefusedCancel:
    """A cancel refused for another reason than "not open" is asked again, and applied."""

    @pytest.mark.parametrize(
        ("refusal", "until_measured"),
        [
            ("BadRequest", False),
            ("InvalidNonce", True),
            ("AuthenticationError", False),
            ("ExchangeNotAvailable", False),  # a 503 mid-cancel: unknown, asked again too
        ],
    )
    def test_the_cancel_is_asked_again(
        self, tmp_path, monkeypatch, capsys, refusal, until_measured
    ):
        """The first order rests part filled until the stop, whose cancel the venue refuses
        once (or, for a stale clock, until the clock offset is measured again)."""
        refused = getattr(pytest.importorskip("ccxt"), refusal)
        fake = FakeBinance()
        fake.fill_market_partly("0.004")
        seen = {"cancels": 0, "refused": 0, "stale": False}

        def refusing(cancel_order: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                seen["cancels"] += 1
                if seen["cancels"] == 1:
                    seen["stale"] = until_measured  # the clock drifts here
                if seen["stale"] or seen["cancels"] == 1:
                    seen["refused"] += 1
                    raise refused('binance {"code":-1021,"msg":"refused for a test"}')
                return cancel_order(*args, **kwargs)

            return call

        def measuring(load_time_difference: Callable[..., Any]) -> Callable[..., Any]:
            def call(*args: Any, **kwargs: Any) -> Any:
                seen["stale"] = False
                return load_time_difference(*args, **kwargs)

            return call

        wraps = {"cancel_order": refusing, "load_time_difference": measuring}
        code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake, wraps)
        assert code == 0, capsys.readouterr().err
        assert verify_run(run_dir).ok
        assert seen["refused"] == 1
        first = events(run_dir, "ORDER_SUBMITTED")[0]["client_order_id"]
        assert _order_events(run_dir, first)[-1] == "ORDER_CANCELED"
        assert fake.order_status(first) == "CANCELED"
        final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
        assert (final["status"], final["open_orders"]) == ("COMPLETED", [])


def _answers(change: Callable[[Any], Any]) -> Wrap:
    """A wrap of a ccxt call whose answer ``change`` rewrites (each item of a list)."""

    def wrap(call: Callable[..., Any]) -> Callable[..., Any]:
        def changed(*args: Any, **kwargs: Any) -> Any:
            answer = call(*args, **kwargs)
            return [change(a) for a in answer] if isinstance(answer, list) else change(answer)

        return changed

    return wrap


def _id_only(order: dict[str, Any]) -> dict[str, Any]:
    """Bybit's and OKX's answer to an order: the venue's id and the client order id."""
    blank = dict.fromkeys(("status", "filled", "amount", "remaining", "timestamp", "side"))
    return order | blank | {"info": {}, "price": None, "average": None}


_AS_STRINGS = ("filled", "amount", "remaining", "price", "average", "cost")


@pytest.mark.parametrize(
    ("method", "change"),
    [
        pytest.param("create_order", _id_only, id="create-answers-only-ids"),
        pytest.param("create_order", lambda o: o | {"id": int(o["id"])}, id="create-id-a-number"),
        pytest.param("fetch_order", lambda o: o | {"id": int(o["id"])}, id="fetch-id-a-number"),
        pytest.param(
            "fetch_order",
            lambda o: o | {k: None if o[k] is None else str(o[k]) for k in _AS_STRINGS},
            id="fetch-numbers-as-strings",
        ),
        pytest.param(
            "fetch_order", lambda o: o | {"clientOrderId": None}, id="fetch-client-id-not-echoed"
        ),
        pytest.param(
            "fetch_order",
            lambda o: o | dict.fromkeys(("timestamp", "average", "price", "fee", "remaining")),
            id="fetch-nones",
        ),
        pytest.param(
            "fetch_order_trades",
            lambda t: t | {"fee": None, "fees": [{"cost": "0.1", "currency": "BTC"}]},
            id="trades-fees-a-list",
        ),
        pytest.param(
            "fetch_order_trades",
            lambda t: t | {"amount": str(t["amount"]), "price": str(t["price"])},
            id="trades-numbers-as-strings",
        ),
        pytest.param(
            "fetch_order_trades", lambda t: t | {"id": int(t["id"])}, id="trades-id-a-number"
        ),
        pytest.param(
            "fetch_balance",
            lambda b: b | {"free": dict.fromkeys(b["free"]), "total": dict.fromkeys(b["total"])},
            id="balance-nones",
        ),
    ],
)
def test_a_venue_shape_books_as_the_venue_did(tmp_path, monkeypatch, capsys, method, change):
    """Each order sent once, acked, filled and booked; the run completes flat and verifies."""
    fake = FakeBinance()
    code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake, {method: _answers(change)})
    assert code == 0, capsys.readouterr().err
    assert verify_run(run_dir).ok
    sent = events(run_dir, "ORDER_SUBMITTED")
    assert len(sent) == 4
    assert set(fake.created.values()) == {1}
    assert len(events(run_dir, "ORDER_ACCEPTED")) == len(events(run_dir, "ORDER_FILLED")) == 4
    final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
    assert (final["status"], final["open_orders"]) == ("COMPLETED", [])
    assert all(Decimal(q) == 0 for q in final["positions"].values())


class TestOkxRequests:
    """OKX: a market buy sized in the base (``tgtCcy=base_ccy``); the client id is clOrdId."""

    def test_create_lookup_and_cancel(self, monkeypatch):
        sent: list[dict[str, Any]] = []
        ids = {"ordId": "9", "clOrdId": "c1", "sCode": "0", "sMsg": ""}
        order = ids | {"instId": "BTC-USDT", "state": "live", "sz": "0.01", "accFillSz": "0"}
        order |= {"side": "buy", "ordType": "market", "cTime": "1", "uTime": "1"}
        endpoints = {
            "privatePostTradeBatchOrders": _recorded(sent, {"code": "0", "data": [ids]}),
            "privateGetTradeOrder": _recorded(sent, {"code": "0", "data": [order]}),
            "privatePostTradeCancelOrder": _recorded(sent, {"code": "0", "data": [ids]}),
        }
        broker = _offline(monkeypatch, "okx", "BTC-USDT", endpoints)
        try:
            broker.submit(_btc(Side.BUY), 0)
            found = broker.lookup("c1")
            broker.cancel("c1", 0)
        finally:
            broker.close()
        create, fetch, cancel = sent
        assert create == [
            {
                "instId": "BTC-USDT",
                "side": "buy",
                "ordType": "market",
                "sz": "0.01",
                "tdMode": "cash",
                "tgtCcy": "base_ccy",
                "clOrdId": "c1",
            }
        ]
        assert fetch == {"instId": "BTC-USDT", "clOrdId": "c1"}
        assert cancel == {"instId": "BTC-USDT", "clOrdId": "c1"}
        assert found is not None
        assert (found.venue_order_id, found.quantity) == ("9", Decimal("0.01"))


def test_bybit_partially_filled_canceled_through_ccxt_s_parser(monkeypatch):
    """Bybit's own answer (``PartiallyFilledCanceled``, 0.004 of 0.01), parsed by ccxt's
    Bybit: the ack, the fill under its ``execId``, then the cancel of the rest."""
    sent: list[dict[str, Any]] = []
    ids = {"orderId": "9", "orderLinkId": "c1"}
    order = ids | {"symbol": "BTCUSDT", "orderStatus": "PartiallyFilledCanceled"}
    order |= {"qty": "0.01", "cumExecQty": "0.004", "leavesQty": "0", "side": "Buy"}
    order |= {"orderType": "Market", "marketUnit": "baseCoin", "avgPrice": "30000"}
    order |= {"createdTime": "1", "updatedTime": "2", "cumExecValue": "120"}
    trade = {"symbol": "BTCUSDT", "orderId": "9", "orderLinkId": "c1", "execId": "e1"}
    trade |= {"execPrice": "30000", "execQty": "0.004", "side": "Buy", "execTime": "2"}
    trade |= {"orderType": "Market", "execType": "Trade", "isMaker": False}
    endpoints = {
        "privateGetV5UserQueryApi": lambda *_: {"result": {"unified": 0, "uta": 1}},
        "privateGetV5AccountInfo": lambda *_: {"result": {"unifiedMarginStatus": 6}},
        "privatePostV5OrderCreate": _recorded(sent, {"retCode": 0, "result": ids}),
        "privateGetV5OrderRealtime": _recorded(sent, {"result": {"list": [order]}}),
        "privateGetV5ExecutionList": _recorded(sent, {"result": {"list": [trade]}}),
    }
    broker = _offline(monkeypatch, "bybit", "BTCUSDT", endpoints)
    try:
        broker.submit(_btc(Side.BUY), 0)
        reports = broker.poll(1)
        assert broker.poll(2) == []
    finally:
        broker.close()
    assert reports == [
        AckReport(client_order_id="c1", venue_order_id="9", ts_ns=0),
        FillReport(
            client_order_id="c1",
            trade_id="e1",
            quantity=Decimal("0.004"),
            price=Decimal(30000),
            ts_ns=1,
            symbol="BTC/USDT",
        ),
        CancelReport(client_order_id="c1", ts_ns=1),
    ]
