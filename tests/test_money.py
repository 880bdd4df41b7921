"""The numbers a run records, recomputed by hand: equity, PnL, average price, fill prices.

Each test is a case a user recomputed from ``events.jsonl`` and found the run's own figure
wrong: equity rounded to the price tick, an average price rounded at every fill, a
slippage rounded away, a stop filled at a price its bar never traded.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal

import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import DryrunConfig, FillModel, MockBroker, Order, OrderType, Side
from livesession._domain.model import Bar, FillReport
from livesession._rundir import create_run
from livesession.brokers._venue import fill_price
from livesession.report import render_report
from livesession.testing import FaultBroker

from _helpers import session

D = Decimal


def _run(closes, script, *, steps=None, **cfg):
    """A session over ``closes`` (one bar each) running ``script``, run to its end."""
    orch, sinks = session(
        feed=ScriptedFeed(closes),
        strategy=ScriptedStrategy(script),
        steps=steps or len(closes),
        **cfg,
    )
    orch.preflight()
    orch.activate()
    orch.run_n_steps(steps or len(closes))
    orch.request_stop("end")
    return orch, sinks


class TestEquityIsExact:
    """Equity is cash plus each position at its last close, never rounded to the tick."""

    def test_a_profit_under_a_coarse_tick_is_recorded(self):
        """0.1 bought at 38000 and sold at 38020 under a tick of 5: the run made 2.0."""
        _, sinks = _run(
            ["38000", "38000", "38020", "38020", "38020", "38020"],
            at({2: [buy("0.1")], 5: [sell("0.1")]}),
            price_tick="5",
            qty_lot="0.1",
            initial_cash="10000000",
        )
        (stopped,) = sinks.events_of("SESSION_STOPPED")
        assert (stopped["payload"]["equity"], stopped["payload"]["pnl"]) == ("10000002.0", "2.0")
        assert sinks.snapshots()[-1]["equity"] == "10000002.0"
        changed = [e["payload"] for e in sinks.events_of("POSITION_CHANGED")]
        assert [(p["cash"], p["equity"]) for p in changed] == [
            ("9996200.0", "10000000.0"),
            ("10000002.0", "10000002.0"),
        ]

    def test_a_loss_smaller_than_the_tick_is_recorded(self):
        """0.143 bought at 10.15 and marked at 10.05 under a tick of 0.05 lost 0.0143."""
        _, sinks = _run(
            ["10.15", "10.15", "10.05"],
            at({2: [buy("0.143")]}),
            price_tick="0.05",
            qty_lot="0.001",
            initial_cash="1000",
            steps=3,
        )
        stopped = sinks.events_of("SESSION_STOPPED")[0]["payload"]
        # The stop flattens at the last close: the loss is realised, never rounded away.
        assert (stopped["equity"], stopped["pnl"]) == ("999.98570", "-0.01430")


class TestTheReportAgrees:
    """The report's key metrics (the seal's equity) and its PnL table show one number."""

    def test_final_equity_and_net_pnl_match_the_seal(self, tmp_path):
        orch = create_run(
            DryrunConfig(
                run_id="loss",
                strategy_id="scripted",
                steps=3,
                price_tick="0.05",
                initial_cash="1000",
            ),
            tmp_path,
            idempotency_backend="memory",
            alerts=False,
            feed=ScriptedFeed(["10.15", "10.15", "10.05"]),
            strategy=ScriptedStrategy(at({2: [buy("0.143")]})),
        )
        orch.run_to_end(3)
        text = re.sub(
            r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", render_report(tmp_path / "loss")))
        )
        # The seal's own value (999.98570 in the file), by the report's one amount formatter.
        assert "final equity 999.9857 " in text
        assert "final equity (marked at the last close) 999.9857 " in text
        assert "net PnL -0.0143 " in text


class TestAveragePrice:
    """The average entry price is exact; ``POSITION_CHANGED`` rounds it once to the tick."""

    def test_it_is_rounded_once_not_at_each_fill_and_flat_has_none(self):
        """1 at 100.00, then four times 1 at 100.05, then out.

        The strategy's view holds the exact average (100.04 at the end); the event, whose
        prices the artifact contract keeps on the tick, that average rounded once, half-even
        (100.05). Rounding at each fill and averaging the rounded one, as before, read 100.00
        at every position.
        """
        seen = []
        script = at({n: [buy("1")] for n in range(1, 6)} | {6: [sell("5")]})

        def watching(n, bar, view):
            seen.append(view.avg_price(bar.symbol))
            return script(n, bar, view)

        _, sinks = _run(
            ["100.00", "100.05", "100.05", "100.05", "100.05", "100.05"],
            watching,
            price_tick="0.05",
        )
        changed = [e["payload"] for e in sinks.events_of("POSITION_CHANGED")]
        assert [(p["position"], p["avg_price"]) for p in changed] == [
            ("1.000", "100.00"),  # the lot's places (0.001), the tick's
            ("2.000", "100.00"),  # 100.025: half-even to the tick
            ("3.000", "100.05"),  # 100.0333...
            ("4.000", "100.05"),  # 100.0375
            ("5.000", "100.05"),  # 100.04
            ("0.000", "0"),  # flat: no average (the event's field stays, as the schema wants)
        ]
        assert [str(a) for a in seen] == [
            "None",
            "100.00",
            "100.025",
            "100.0333333333333333333333333",
            "100.0375",
            "100.04",
        ]


class TestSlippage:
    """A market order fills ``slippage_bps`` from the last close, rounded against it."""

    @pytest.mark.parametrize(
        ("bps", "close", "tick", "bought", "sold"),
        [
            ("1", "123.45", "0.05", "123.50", "123.40"),  # was 123.45 both ways
            ("7", "100.00", "0.01", "100.07", "99.93"),  # on the grid: exact either way
            ("7", "100.01", "0.01", "100.09", "99.93"),  # 100.080007, 99.939993
            ("0", "123.45", "0.05", "123.45", "123.45"),  # no slippage, no move
            ("1000", "0.01", "0.01", "0.02", "0.01"),  # a sell never below one tick
        ],
    )
    def test_the_price_is_rounded_against_the_order(self, bps, close, tick, bought, sold):
        venue = MockBroker(fill_model=FillModel(slippage_bps=D(bps)), price_tick=D(tick))
        venue.mark("BTC/USDT", D(close))
        for side in (Side.BUY, Side.SELL):
            venue.submit(
                Order(
                    client_order_id=f"m{side.value}",
                    symbol="BTC/USDT",
                    side=side,
                    quantity=D("0.1"),
                ),
                1,
            )
        fills = {r.client_order_id: r.price for r in venue.poll(1) if isinstance(r, FillReport)}
        assert (fills["mBUY"], fills["mSELL"]) == (D(bought), D(sold))

    def test_a_run_pays_the_slippage_it_was_given(self):
        """1 bps on 123.45 under a tick of 0.05: bought at 123.50, sold at 123.40."""
        _, sinks = _run(
            ["123.45"] * 4,
            at({2: [buy("1")], 3: [sell("1")]}),
            price_tick="0.05",
            fill_model={"slippage_bps": "1"},
        )
        fills = [
            (e["payload"]["side"], e["payload"]["price"]) for e in sinks.events_of("ORDER_FILLED")
        ]
        assert fills == [("BUY", "123.50"), ("SELL", "123.40")]


def _ohlc(ts: int, o: str, h: str, lo: str, c: str) -> Bar:
    return Bar(
        symbol="BTC/USDT", ts_ns=ts, open=D(o), high=D(h), low=D(lo), close=D(c), volume=D(1)
    )


def _resting(side: Side, order_type: OrderType, price: str) -> Order:
    return Order(
        client_order_id=f"r{side.value}{order_type.value}",
        symbol="BTC/USDT",
        side=side,
        quantity=D("1"),
        order_type=order_type,
        limit_price=D(price),
    )


class TestGaps:
    """A resting order fills at its price, or at the bar's open when the bar opens past it."""

    @pytest.mark.parametrize(
        ("side", "kind", "price", "bar", "filled"),
        [
            # a sell stop at 99.00; the bar opens at 95: 95, never 99.00 (not traded)
            (Side.SELL, OrderType.STOP, "99.00", ("95", "96", "94", "95"), "95"),
            (Side.SELL, OrderType.STOP, "99.00", ("100", "100", "98", "98"), "99.00"),
            (Side.BUY, OrderType.STOP, "101.00", ("104", "105", "103", "104"), "104"),
            (Side.BUY, OrderType.STOP, "101.00", ("100", "102", "100", "102"), "101.00"),
            # a limit the bar opens through fills at the open, better than the limit
            (Side.SELL, OrderType.LIMIT, "101.00", ("104", "105", "103", "104"), "104"),
            (Side.SELL, OrderType.LIMIT, "101.00", ("100", "102", "100", "102"), "101.00"),
            (Side.BUY, OrderType.LIMIT, "99.00", ("95", "96", "94", "95"), "95"),
            (Side.BUY, OrderType.LIMIT, "99.00", ("100", "100", "98", "98"), "99.00"),
            # not reached: no fill
            (Side.SELL, OrderType.STOP, "99.00", ("100", "101", "99.05", "100"), None),
            (Side.BUY, OrderType.LIMIT, "99.00", ("100", "101", "99.05", "100"), None),
        ],
    )
    def test_the_fill_price(self, side, kind, price, bar, filled):
        order = _resting(side, kind, price)
        got = fill_price(order, order.limit_price, _ohlc(1, *bar))
        assert got == (None if filled is None else D(filled))
        if got is not None:
            assert D(bar[2]) <= got <= D(bar[1])  # within the bar's low..high

    @pytest.mark.parametrize("venue_kind", ["mock", "fault"])
    def test_a_stop_the_bar_gapped_through_fills_at_the_open(self, tmp_path, venue_kind):
        """Long 1 at 100 with a stop 1 % below (SELL STOP 99.00); the next bar opens at 95."""
        venue = (
            MockBroker(journal=tmp_path / "venue.jsonl") if venue_kind == "mock" else FaultBroker()
        )
        venue.on_market(_ohlc(1, "100", "100", "100", "100"))
        stop = _resting(Side.SELL, OrderType.STOP, "99.00")
        venue.submit(stop, 1)
        venue.on_market(_ohlc(2, "95", "96", "94", "95"))
        fills = [r for r in venue.poll(10) if isinstance(r, FillReport)]
        assert [(f.client_order_id, f.price) for f in fills] == [(stop.client_order_id, D("95"))]
        if venue_kind == "mock":  # the venue rebuilt from its journal owes the same fill
            venue.close()
            again = MockBroker(journal=tmp_path / "venue.jsonl")
            owed = [r for r in again.poll(10) if isinstance(r, FillReport)]
            again.close()
            assert [f.price for f in owed] == [D("95")]

    def test_a_run_s_stop_loss_fills_where_the_bar_traded(self):
        """The session's protective stop (stop_loss_pct 0.01 on a fill at 100): at 95."""
        feed = _Bars(
            [("100", "100", "100", "100"), ("100", "100", "100", "100"), ("95", "96", "94", "95")]
        )
        orch, sinks = session(
            feed=feed,
            strategy=ScriptedStrategy(
                lambda n, _b, _v: [buy("1", stop_loss_pct=D("0.01"))] if n == 1 else []
            ),
            steps=3,
        )
        orch.preflight()
        orch.activate()
        orch.run_n_steps(3)
        fills = [
            (e["payload"]["side"], e["payload"]["price"]) for e in sinks.events_of("ORDER_FILLED")
        ]
        assert fills == [("BUY", "100.00"), ("SELL", "95.00")]  # the tick's places


class _Bars:
    """One bar per step from ``(open, high, low, close)``; the bar number is its volume."""

    def __init__(self, bars):
        self.symbol = "BTC/USDT"
        self._bars = bars
        self._n = 0

    def next_bar(self, ts_ns):
        o, h, lo, c = self._bars[min(self._n, len(self._bars) - 1)]
        self._n += 1
        return Bar(
            symbol=self.symbol,
            ts_ns=ts_ns,
            open=D(o),
            high=D(h),
            low=D(lo),
            close=D(c),
            volume=D(self._n),
        )

    def get_state(self):
        return {"n": self._n}

    def set_state(self, state):
        self._n = state["n"]
