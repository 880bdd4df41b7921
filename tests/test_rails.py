"""Safety rails: each one fires past its limit and stays quiet just inside it.

Limits of the form "at most X" pass exactly at X. Two rails are caps that are *reached*
at their limit and fire there: DAILY_LOSS (a drawdown of exactly the cap fires) and the
counting rails ORDER_RATE and EXECUTION_THROTTLE (the limit-th order in a second passes,
the next one fires); for those the quiet test sits one step inside.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import attrs
import orjson
import pytest

from _scripted import SYMBOL, ScriptedFeed, ScriptedStrategy, at, buy, risk_context, sell
from livesession import (
    CancelIntent,
    CancelReport,
    CheckResult,
    DryrunConfig,
    FillReport,
    LiveSessionOrchestrator,
    MockBroker,
    Order,
    OrderIntent,
    OrderType,
    RiskLimits,
    SessionState,
    Side,
    TradingState,
    VerbOutcome,
)
from livesession._risk.orderchecks import beyond_the_position, off_the_tick, unpriced
from livesession._risk.rails import (
    Rejection,
    allowlist,
    daily_loss,
    default_rails,
    execution_throttle,
    max_order_notional,
    max_order_qty,
    order_rate,
    per_trade_risk,
    portfolio_heat,
    price_collar,
    reducing_only,
)

from _helpers import Sinks, hold_at_venue, session

D = Decimal


def _intent(qty: str = "0.100", side: Side = Side.BUY, **extra) -> OrderIntent:
    return OrderIntent(symbol="BTC/USDT", side=side, quantity=D(qty), **extra)


_ctx = risk_context


class TestAllowlist:
    def test_fires_for_a_symbol_not_listed(self):
        """A symbol missing from the allowlist is refused and named."""
        rejection = allowlist(["BTC/USDT"])(
            OrderIntent(symbol="ETH/USDT", side=Side.BUY, quantity=D(1)), _ctx()
        )
        assert rejection is not None
        assert (rejection.rule, rejection.detail) == ("ALLOWLIST", {"symbol": "ETH/USDT"})

    def test_quiet_for_a_listed_symbol(self):
        """A listed symbol passes."""
        assert allowlist(["BTC/USDT"])(_intent(), _ctx()) is None


class TestMaxOrderQty:
    def test_fires_above_the_limit(self):
        """One lot more than the limit is refused, with quantity and limit."""
        rejection = max_order_qty(D(1))(_intent("1.001"), _ctx())
        assert rejection is not None
        assert rejection.detail == {"quantity": "1.001", "limit": "1"}

    def test_quiet_exactly_at_the_limit(self):
        """Exactly the limit passes."""
        assert max_order_qty(D(1))(_intent("1.000"), _ctx()) is None


class TestLimitsOnEveryOrder:
    """The rails on an order's size and pace hold for an order that only reduces too: only
    the ones that measure exposure (per-trade risk, heat, daily loss) let it by."""

    @pytest.mark.parametrize(
        ("rail", "ctx"),
        [
            (max_order_qty(D(1)), {}),
            (max_order_notional(D(40_000)), {}),
            (order_rate(5), {"orders_this_second": 5}),
            (execution_throttle(10), {"executions": 10}),
        ],
        ids=["qty", "notional", "rate", "throttle"],
    )
    @pytest.mark.parametrize("reduce_only", [False, True], ids=["closing", "reduce_only"])
    def test_an_order_that_only_reduces_is_held_to_the_limit(self, rail, ctx, reduce_only):
        """Long 5: a SELL 1.5 only reduces, and is refused past each limit all the same."""
        intent = _intent("1.5", side=Side.SELL, reduce_only=reduce_only)
        rejection = rail(intent, _ctx(position=D(5), **ctx))
        assert rejection is not None
        assert rejection.rule == rail.rule


class TestMaxOrderNotional:
    def test_fires_above_the_limit(self):
        """A notional one lot above the limit is refused, with notional and limit."""
        rejection = max_order_notional(D(50_000))(_intent("1.251"), _ctx())
        assert rejection is not None
        assert rejection.detail == {"notional": "50040.00000", "limit": "50000"}

    def test_a_small_notional_is_written_out_in_the_reason(self):
        """A notional under a millionth reads as the payload writes it, not 8.9E-7."""
        rejection = max_order_notional(D("0.0000001"))(_intent("1"), _ctx(last_price=D("8.9E-7")))
        assert rejection is not None
        assert rejection.detail["notional"] == "0.00000089"
        assert rejection.reason == "notional 0.00000089 > max_order_notional 0.0000001"

    def test_quiet_exactly_at_the_limit(self):
        """1.25 at 40000 is exactly 50000 and passes."""
        assert max_order_notional(D(50_000))(_intent("1.250"), _ctx()) is None

    def test_limit_price_counts_over_the_last_price(self):
        """A limit order's notional uses its own price."""
        intent = _intent("1.000", order_type=OrderType.LIMIT, limit_price=D("50000.01"))
        assert max_order_notional(D(50_000))(intent, _ctx()) is not None


class TestPriceCollar:
    def test_fires_beyond_the_collar(self):
        """A limit one tick beyond 5% from the last price is refused."""
        intent = _intent(order_type=OrderType.LIMIT, limit_price=D("42000.01"))
        rejection = price_collar(D("0.05"))(intent, _ctx())
        assert rejection is not None
        assert rejection.detail["limit"] == "0.05"
        assert rejection.detail["price"] == "42000.01"

    def test_the_deviation_shown_stays_beyond_the_collar(self):
        """One tick past 5 % of 40000.00 is 0.05000025 away: six places would write it
        0.050000, the collar itself, under a reason saying it is more; one place more
        shows it beyond (0.0500002 > 0.05)."""
        intent = _intent(order_type=OrderType.LIMIT, limit_price=D("42000.01"))
        rejection = price_collar(D("0.05"))(intent, _ctx())
        assert rejection is not None
        assert rejection.detail["deviation"] == "0.0500002"
        assert "is 0.0500002 from the last price 40000.00 > price_collar_pct 0.05" in (
            rejection.reason
        )
        far = _intent(order_type=OrderType.LIMIT, limit_price=D("44000.00"))
        rejection = price_collar(D("0.05"))(far, _ctx())
        assert rejection is not None
        assert rejection.detail["deviation"] == "0.100000"  # six places where they show it

    def test_a_coin_under_a_millionth_is_written_out_in_the_reason(self):
        """The reason writes its prices as the payload does, never in exponent form."""
        intent = _intent(order_type=OrderType.LIMIT, limit_price=D("0.00000100"))
        rejection = price_collar(D("0.05"))(intent, _ctx(last_price=D("0.00000089")))
        assert rejection is not None
        assert rejection.reason == (
            "limit price 0.00000100 is 0.123596 from the last price 0.00000089 "
            "> price_collar_pct 0.05"
        )

    def test_a_stop_order_s_price_is_called_its_stop_price(self):
        """Bug: a stop entry's refusal said ``limit price 42100.00 is ...``: a stop order's
        ``limit_price`` is the price that triggers it, so a reviewer read a limit order."""
        intent = _intent(order_type=OrderType.STOP, limit_price=D("42100.00"))
        rejection = price_collar(D("0.05"))(intent, _ctx())
        assert rejection is not None
        assert rejection.reason == (
            "stop price 42100.00 is 0.052500 from the last price 40000.00 > price_collar_pct 0.05"
        )
        off = off_the_tick(_intent(order_type=OrderType.STOP, limit_price=D("1.005")), D("0.01"))
        assert off is not None
        assert off.reason == "stop price 1.005 is not a multiple of the price_tick 0.01"

    def test_quiet_exactly_at_the_collar(self):
        """A limit exactly 5% from the last price passes."""
        intent = _intent(order_type=OrderType.LIMIT, limit_price=D("42000.00"))
        assert price_collar(D("0.05"))(intent, _ctx()) is None

    def test_market_orders_are_not_collared(self):
        """A market order has no price to collar."""
        assert price_collar(D("0.05"))(_intent(), _ctx(last_price=D(1))) is None

    @pytest.mark.parametrize(
        ("side", "order_type", "price"),
        [
            (Side.SELL, OrderType.STOP, "36000.00"),
            (Side.SELL, OrderType.LIMIT, "44000.00"),
            (Side.BUY, OrderType.STOP, "44000.00"),
            (Side.BUY, OrderType.LIMIT, "36000.00"),
        ],
        ids=["sell-stop-below", "sell-limit-above", "buy-stop-above", "buy-limit-below"],
    )
    def test_a_reduce_only_order_resting_on_its_exit_side_passes(self, side, order_type, price):
        """A protective exit 10 % away that can only close, and only once the market comes
        to it, is no fat finger: the collar refused a strategy's trailing stop moved to
        breakeven after a gap, once it had cancelled the stop it replaced."""
        intent = _intent(side=side, order_type=order_type, limit_price=D(price), reduce_only=True)
        assert price_collar(D("0.05"))(intent, _ctx()) is None
        entry = attrs.evolve(intent, reduce_only=False)
        assert price_collar(D("0.05"))(entry, _ctx()) is not None  # an entry that far is

    @pytest.mark.parametrize(
        ("side", "order_type", "price"),
        [(Side.SELL, OrderType.STOP, "44000.00"), (Side.SELL, OrderType.LIMIT, "36000.00")],
        ids=["sell-stop-above", "sell-limit-below"],
    )
    def test_a_reduce_only_order_that_would_trade_at_once_is_collared(
        self, side, order_type, price
    ):
        """A reduce-only order priced through the market trades at once: a fat finger still."""
        intent = _intent(side=side, order_type=order_type, limit_price=D(price), reduce_only=True)
        rejection = price_collar(D("0.05"))(intent, _ctx())
        assert rejection is not None
        assert rejection.rule == "PRICE_COLLAR"


class TestPerTradeRisk:
    rail = per_trade_risk(D("0.0025"), D("0.02"))

    def test_fires_above_the_risk_budget(self):
        """Risk at the stop distance above 0.25% of equity is refused, with both numbers."""
        rejection = self.rail(_intent("0.313"), _ctx())
        assert rejection is not None
        assert D(rejection.detail["risk"]) == D("250.4")
        assert D(rejection.detail["limit"]) == D(250)

    def test_quiet_exactly_at_the_risk_budget(self):
        """0.3125 at 40000 risks exactly 250 (0.25% of 100000) and passes."""
        assert self.rail(_intent("0.3125"), _ctx()) is None

    def test_reducing_orders_are_not_risk_checked(self):
        """An order that reduces the position passes whatever its size."""
        assert self.rail(_intent("5", side=Side.SELL), _ctx(position=D(5))) is None

    def test_a_flip_risks_only_the_exposure_it_adds(self):
        """BUY 0.039 from -0.013 at 123.70 adds a long 0.026: it risks 0.064324 at a 2 %
        stop, within 0.08 (0.25 % of 32); the 0.013 that closes the short risks nothing."""
        flip = _ctx(last_price=D("123.70"), equity=D(32), position=D("-0.013"))
        assert self.rail(_intent("0.039"), flip) is None
        rejection = self.rail(_intent("0.046"), flip)  # adds 0.033: 0.081642 > 0.08
        assert rejection is not None
        assert rejection.detail == {"risk": "0.0816420", "limit": "0.0800"}

    def test_an_order_closing_what_open_orders_already_close_is_risk_checked(self):
        """Long 5 with a SELL 5 open: a SELL 5 more opens a short of 5 (risk 4000)."""
        ctx = _ctx(position=D(5), open_on_side=D(5))
        rejection = self.rail(_intent("5", side=Side.SELL), ctx)
        assert rejection is not None
        assert rejection.detail == {"risk": "4000.0000", "limit": "250.000000"}

    def test_an_order_closes_only_what_the_open_orders_leave_of_the_position(self):
        """Long 0.5 with a SELL 0.3 open: a SELL 0.5 closes the 0.2 left and adds 0.3 (risk
        240, within 250), a SELL 0.6 adds 0.4 (320). With a SELL 0.8 open, more than the
        position, a SELL 0.3 closes nothing and adds all of it (240)."""
        part = _ctx(position=D("0.5"), open_on_side=D("0.3"))
        assert self.rail(_intent("0.5", side=Side.SELL), part) is None
        rejection = self.rail(_intent("0.6", side=Side.SELL), part)
        assert rejection is not None
        assert rejection.detail == {"risk": "320.00000", "limit": "250.000000"}
        beyond = _ctx(position=D("0.5"), open_on_side=D("0.8"))
        assert self.rail(_intent("0.3", side=Side.SELL), beyond) is None
        rejection = self.rail(_intent("0.4", side=Side.SELL), beyond)
        assert rejection is not None
        assert rejection.detail == {"risk": "320.00000", "limit": "250.000000"}

    def test_an_order_that_only_reduces_passes_with_equity_gone(self):
        """Equity below zero makes the budget negative: closing still risks nothing new."""
        ctx = _ctx(equity=D("-1000.00"), position=D(5))
        assert self.rail(_intent("5", side=Side.SELL), ctx) is None
        assert self.rail(_intent("5", side=Side.SELL, reduce_only=True), ctx) is None

    def test_a_flip_to_a_smaller_position_is_checked_for_what_it_adds(self):
        """SELL 0.030 from 0.020 only shrinks the absolute position, but opens a short 0.010."""
        small = _ctx(last_price=D("40000.00"), equity=D(1000), position=D("0.020"))
        rejection = self.rail(_intent("0.030", side=Side.SELL), small)  # 8 > 2.5
        assert rejection is not None
        assert D(rejection.detail["risk"]) == D(8)


class TestPortfolioHeat:
    rail = portfolio_heat(D("0.01"), D("0.02"))

    def test_fires_above_the_heat_budget(self):
        """Existing plus new exposure above 1% of equity at the stop distance is refused."""
        rejection = self.rail(_intent("0.501"), _ctx(open_exposure=D(30_000)))
        assert rejection is not None
        assert rejection.rule == "PORTFOLIO_HEAT"
        assert D(rejection.detail["heat"]) > D(rejection.detail["limit"])

    def test_quiet_exactly_at_the_heat_budget(self):
        """30000 open plus 20000 new is 50000, 1000 at 2%: exactly 1% of equity passes."""
        assert self.rail(_intent("0.500"), _ctx(open_exposure=D(30_000))) is None

    def test_a_flip_counts_what_it_adds_not_the_position_it_closes(self):
        """BUY 0.039 from -0.013 at 123.70: the short (1.6081 of the open exposure) goes, a
        long 0.026 (3.2162) comes: heat 0.064324 at 2 %, not 0.128648."""
        rail = portfolio_heat(D("0.003"), D("0.02"))
        flip = _ctx(
            last_price=D("123.70"),
            equity=D(32),
            position=D("-0.013"),
            open_exposure=D("1.6081"),
        )
        assert rail(_intent("0.039"), flip) is None
        rejection = rail(_intent("0.052"), flip)  # a long 0.039: 0.096486 > 0.096
        assert rejection is not None
        assert rejection.detail == {"heat": "0.0964860", "limit": "0.096"}

    def test_an_order_that_only_reduces_passes_however_hot(self):
        """Heat far over the budget (100000 open, 2000 at 2 % against 1000): an order that
        only takes some of the position off passes, though the heat it leaves is still over."""
        ctx = _ctx(position=D("2.5"), open_exposure=D(100_000))
        assert self.rail(_intent("0.5", side=Side.SELL), ctx) is None
        assert self.rail(_intent("0.5", side=Side.SELL, reduce_only=True), ctx) is None
        assert self.rail(_intent("0.001"), ctx) is not None


class TestDailyLoss:
    rail = daily_loss(D("0.01"))

    def test_fires_at_the_cap(self):
        """A drawdown of exactly 1% from the day's peak reaches the cap and fires."""
        rejection = self.rail(_intent(), _ctx(equity=D("99000.00")))
        assert rejection is not None
        assert rejection.detail == {
            "drawdown": "0.010000",
            "limit": "0.01",
            "peak_equity": "100000.00",
            "equity": "99000.00",
        }

    def test_the_drawdown_shown_reaches_a_cap_of_more_places(self):
        """A cap of 0.0123454 reached exactly: six places would write the drawdown
        0.012345, short of the cap it is said to reach; it is written 0.0123454."""
        rejection = daily_loss(D("0.0123454"))(_intent(), _ctx(equity=D("98765.46")))
        assert rejection is not None
        assert rejection.detail["drawdown"] == "0.0123454"
        assert rejection.reason.startswith("drawdown 0.0123454 from the day's peak >= ")

    def test_quiet_just_inside_the_cap(self):
        """One cent less drawdown than the cap passes."""
        assert self.rail(_intent(), _ctx(equity=D("99000.01"))) is None

    def test_measured_from_the_peak_not_the_start(self):
        """Equity above the start still fires when it is 1% below the day's peak."""
        ctx = _ctx(equity=D("104940.00"), day_peak_equity=D("106000.00"))
        assert self.rail(_intent(), ctx) is not None

    def test_a_small_account_s_drawdown_counts(self):
        """A day that peaked at 0.80 and stands at 0.40 is down 50 %: refused."""
        ctx = _ctx(equity=D("0.40"), day_peak_equity=D("0.80"))
        rejection = self.rail(_intent(), ctx)
        assert rejection is not None
        assert rejection.detail["drawdown"] == "0.500000"

    def test_a_day_that_peaked_at_nothing_has_no_drawdown_to_measure(self):
        """A peak of 0 (an account without equity) is no division by zero: the rail passes
        (the others refuse what such an account cannot carry)."""
        assert self.rail(_intent(), _ctx(equity=D(0), day_peak_equity=D(0))) is None

    def test_reducing_orders_pass_beyond_the_cap(self):
        """Closing a position is always allowed."""
        ctx = _ctx(equity=D("90000.00"), position=D(1))
        assert self.rail(_intent("1", side=Side.SELL), ctx) is None

    def test_a_sell_after_open_sells_that_close_the_position_is_refused(self):
        """Beyond the cap, long 1 with a SELL 1 already open: another SELL 1 would open a
        short once both fill, so it adds exposure and is refused."""
        ctx = _ctx(equity=D("90000.00"), position=D(1), open_on_side=D(1))
        assert self.rail(_intent("1", side=Side.SELL), ctx) is not None

    def test_a_flip_beyond_the_cap_is_refused(self):
        """From long 1 beyond the cap, a sell of 1.5 opens a short of 0.5: refused, though
        the exposure it leaves is smaller than the long it closes."""
        ctx = _ctx(equity=D("90000.00"), position=D(1))
        assert self.rail(_intent("1.5", side=Side.SELL), ctx) is not None


class TestOrderRate:
    def test_fires_past_the_rate(self):
        """With 5 orders sent this second, a sixth is refused."""
        rejection = order_rate(5)(_intent(), _ctx(orders_this_second=5))
        assert rejection is not None
        assert rejection.detail == {"orders_this_second": "5", "limit": "5"}

    def test_quiet_for_the_last_order_within_the_rate(self):
        """With 4 orders sent this second, the fifth passes."""
        assert order_rate(5)(_intent(), _ctx(orders_this_second=4)) is None


class TestExecutionThrottle:
    def test_fires_once_the_executions_reach_the_limit(self):
        """After 10 executions the throttle refuses."""
        rejection = execution_throttle(10)(_intent(), _ctx(executions=10))
        assert rejection is not None
        assert rejection.detail == {"executions": "10", "limit": "10"}

    def test_quiet_one_execution_before_the_limit(self):
        """After 9 executions the throttle passes."""
        assert execution_throttle(10)(_intent(), _ctx(executions=9)) is None


class TestTradingStateRail:
    rail = reducing_only()

    def test_active_passes(self):
        """ACTIVE lets any order through."""
        assert self.rail(_intent(), _ctx()) is None

    def test_reducing_passes_an_order_that_reduces(self):
        """REDUCING lets an order through that shrinks the position."""
        ctx = _ctx(trading_state="REDUCING", position=D(1))
        assert self.rail(_intent("0.5", side=Side.SELL), ctx) is None

    def test_reducing_fires_for_an_order_that_adds(self):
        """REDUCING refuses an order that grows exposure, and so does flipping sides."""
        ctx = _ctx(trading_state="REDUCING", position=D(1))
        assert self.rail(_intent("0.1"), ctx) is not None
        assert self.rail(_intent("2.5", side=Side.SELL), ctx) is not None

    def test_reducing_fires_for_a_flip_to_a_smaller_opposite_position(self):
        """From long 1, a sell of 1.5 shrinks the exposure (to short 0.5) but opens a short:
        not reducing. Closing exactly to flat is."""
        ctx = _ctx(trading_state="REDUCING", position=D(1))
        assert self.rail(_intent("1.5", side=Side.SELL), ctx) is not None
        assert self.rail(_intent("1", side=Side.SELL), ctx) is None

    def test_reducing_counts_the_orders_already_sent_on_the_intent_s_side(self):
        """Bug: long 10 in REDUCING, three SELL 10 in one bar all passed, each checked
        against the filled position alone, and the position went to -20. Orders sent and
        still open on the intent's side close the position first: the intent closes only
        what they leave, and the rest adds."""
        ctx = _ctx(trading_state="REDUCING", position=D(10), open_on_side=D(10))
        rejection = self.rail(_intent("10", side=Side.SELL), ctx)
        assert rejection is not None
        assert rejection.detail == {"trading_state": "REDUCING"}
        part = _ctx(trading_state="REDUCING", position=D(10), open_on_side=D(4))
        assert self.rail(_intent("6", side=Side.SELL), part) is None
        assert self.rail(_intent("6.001", side=Side.SELL), part) is not None

    def test_reducing_passes_a_reduce_only_intent_whatever_is_open(self):
        """A reduce-only order never adds (the venue fills it only up to the position)."""
        ctx = _ctx(trading_state="REDUCING", position=D(10), open_on_side=D(10))
        assert self.rail(_intent("10", side=Side.SELL, reduce_only=True), ctx) is None

    def test_halted_fires_even_for_reducing_orders(self):
        """HALTED refuses every new order."""
        ctx = _ctx(trading_state="HALTED", position=D(1))
        rejection = self.rail(_intent("1", side=Side.SELL), ctx)
        assert rejection is not None
        assert rejection.detail == {"trading_state": "HALTED"}


class TestDefaults:
    def test_day_one_caps_are_the_defaults(self):
        """0.25% per trade, 1.0% portfolio heat, 1.0% daily loss."""
        limits = RiskLimits()
        assert limits.per_trade_risk_pct == D("0.0025")
        assert limits.portfolio_heat_pct == D("0.01")
        assert limits.daily_loss_pct == D("0.01")

    def test_every_rail_is_built_from_the_config(self):
        """default_rails checks all ten rules, in order, with the configured limits."""
        rails = default_rails(RiskLimits(max_order_qty="0.5"), ["BTC/USDT"])
        assert [r.rule for r in rails] == [
            "TRADING_STATE",
            "ALLOWLIST",
            "MAX_ORDER_QTY",
            "MAX_ORDER_NOTIONAL",
            "PRICE_COLLAR",
            "PER_TRADE_RISK",
            "PORTFOLIO_HEAT",
            "DAILY_LOSS",
            "ORDER_RATE",
            "EXECUTION_THROTTLE",
        ]
        assert rails[2](_intent("0.501"), _ctx()) is not None


# -- in a session ---------------------------------------------------------------------------------


def _trading_session(script, closes=("40000.00",), **cfg):
    orch, sinks = session(feed=ScriptedFeed(closes), strategy=ScriptedStrategy(script), **cfg)
    orch.preflight()
    orch.activate()
    return orch, sinks


class TestRejectionsInASession:
    def test_a_rejection_is_an_event_and_an_audit_record_with_the_numbers(self):
        """RISK_REJECTED carries the numbers, and the audit says C2_REJECT_<RULE> with them."""
        orch, sinks = _trading_session(at({1: [buy("1.500")]}))
        orch.step()
        (event,) = sinks.events_of("RISK_REJECTED")
        assert event["payload"]["rule"] == "MAX_ORDER_QTY"
        assert (event["payload"]["quantity"], event["payload"]["limit"]) == ("1.500", "1")
        audit = [orjson.loads(line) for line in sinks.audit.lines]
        record = next(r for r in audit if r["code"] == "C2_REJECT_MAX_ORDER_QTY")
        assert record["payload"]["limit"] == "1"
        assert not sinks.events_of("ORDER_SUBMITTED")
        orch.close()
        assert sinks.metrics_doc()["rejects_by_reason"] == {"MAX_ORDER_QTY": 1}

    def test_limits_come_from_the_config(self):
        """A tighter configured limit is the one the session enforces."""
        orch, sinks = _trading_session(at({1: [buy("0.300")]}), risk={"max_order_qty": "0.2"})
        orch.step()
        assert sinks.events_of("RISK_REJECTED")[0]["payload"]["limit"] == "0.2"

    def test_the_legs_the_session_placed_count_toward_the_order_rate(self):
        """The entry's fill, reported a second late, places its two legs as bar 2 begins: of
        the strategy's three orders then, under a limit of 3, one passes (docs/risk.md)."""
        protect = {"take_profit_pct": D("0.01"), "stop_loss_pct": D("0.01")}
        script = at({1: [buy("0.010", **protect)], 2: [buy("0.001")] * 3})
        orch, sinks = _trading_session(
            script, risk={"max_orders_per_sec": 3}, fill_model={"latency_ms": 1000}
        )
        orch.run_n_steps(2)
        sent = [e["payload"].get("reason") for e in sinks.events_of("ORDER_SUBMITTED")]
        assert sent[1:] == ["stop_loss", "take_profit", ""]
        refused = [e["payload"] for e in sinks.events_of("RISK_REJECTED")]
        assert [(r["rule"], r["orders_this_second"]) for r in refused] == [("ORDER_RATE", "3")] * 2


class TestBeyondThePosition:
    @pytest.mark.parametrize(
        ("side", "qty", "held", "passes"),
        [
            (Side.SELL, "0.5", "0.5", True),
            (Side.SELL, "0.6", "0.5", False),
            (Side.BUY, "0.5", "-0.5", True),
            (Side.BUY, "0.1", "0.5", False),
            (Side.SELL, "0.1", "0", False),
        ],
    )
    def test_a_reduce_only_intent_only_takes_off_what_is_held(self, side, qty, held, passes):
        intent = _intent(qty, side, reduce_only=True)
        rejection = beyond_the_position(intent, D(held))
        assert (rejection is None) is passes
        if rejection is not None:
            assert (rejection.rule, rejection.detail) == ("REDUCE_ONLY", {"position": held})

    def test_an_intent_that_is_not_reduce_only_passes(self):
        assert beyond_the_position(_intent("9", Side.SELL), D("0")) is None

    def test_the_open_orders_are_named_only_when_they_are_why(self):
        """Long 10 with a SELL 5 open: a reduce-only SELL 6 fits the position but not beside
        the open SELL (named); a reduce-only SELL 15 is more than the position alone (not)."""
        beside = beyond_the_position(_intent("6", Side.SELL, reduce_only=True), D(10), D(5))
        assert beside is not None
        assert beside.detail == {"position": "10", "open_on_side": "5"}
        assert "beside the SELL 5 already open" in beside.reason
        alone = beyond_the_position(_intent("15", Side.SELL, reduce_only=True), D(10), D(5))
        assert alone is not None
        assert alone.detail == {"position": "10"}
        assert alone.reason == "reduce-only SELL 15 is more than the position 10 allows"


class TestReduceOnlyInASession:
    """A reduce-only intent may only take off what is held. Bug: the session sent a
    reduce-only SELL 0.5 against a position of 0.01, and the position flipped to -0.49."""

    @pytest.mark.parametrize(
        ("second", "position_after", "refused"),
        [
            (
                sell("0.500", reduce_only=True),
                "0.010",
                "reduce-only SELL 0.500 is more than the position 0.010 allows",
            ),
            (sell("0.010", reduce_only=True), "0.000", None),
            (sell("0.004", reduce_only=True), "0.006", None),
            (
                buy("0.005", reduce_only=True),
                "0.010",
                "reduce-only BUY 0.005 is more than the position 0.010 allows",
            ),
        ],
        ids=["more-than-held", "all-of-it", "part-of-it", "wrong-side"],
    )
    def test_never_opens_adds_or_flips(self, second, position_after, refused):
        orch, sinks = _trading_session(at({1: [buy("0.010")], 3: [second]}))
        orch.run_n_steps(5)
        assert orch.book.positions["BTC/USDT"] == D(position_after)
        rejected = sinks.events_of("RISK_REJECTED")
        if refused is None:
            assert not rejected
        else:
            (event,) = rejected
            assert event["payload"]["rule"] == "REDUCE_ONLY"
            assert event["payload"]["reason"] == refused
            assert event["payload"]["position"] == "0.010"
            assert "C2_REJECT_REDUCE_ONLY" in sinks.audit_codes()
        orch.close()

    def test_with_no_position_it_is_refused(self):
        orch, sinks = _trading_session(at({1: [sell("0.010", reduce_only=True)]}))
        orch.step()
        (event,) = sinks.events_of("RISK_REJECTED")
        assert (event["payload"]["rule"], event["payload"]["position"]) == ("REDUCE_ONLY", "0")
        assert not sinks.events_of("ORDER_SUBMITTED")
        orch.close()


class TestOffTheTick:
    @pytest.mark.parametrize(
        ("price", "tick", "passes"),
        [
            ("40000.01", "0.01", True),
            ("40000.010", "0.01", True),  # the same price, written with one more place
            ("40000.015", "0.01", False),
            ("1.050374223", "0.00001", False),
            ("40005", "5", True),
            ("40003", "5", False),
        ],
    )
    def test_a_limit_price_must_be_on_the_grid(self, price, tick, passes):
        intent = _intent(order_type=OrderType.LIMIT, limit_price=D(price))
        rejection = off_the_tick(intent, D(tick))
        assert (rejection is None) is passes
        if rejection is not None:
            assert rejection.rule == "PRICE_OFF_TICK"
            assert rejection.detail == {"limit_price": price, "tick": tick}
            assert rejection.reason == (
                f"limit price {price} is not a multiple of the price_tick {tick}"
            )

    def test_a_market_intent_passes(self):
        assert off_the_tick(_intent(), D("0.01")) is None


class TestOffTheTickInASession:
    """Bug: a limit price off the grid (1.050374223 at tick 0.00001) was sent as it was, and
    the mock venue filled it; a real venue (and the ccxt adapter) refuses such a price."""

    def test_an_off_grid_limit_is_a_signal_the_session_refuses(self):
        off = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39999.995"))
        on = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39999.99"))
        orch, sinks = _trading_session(at({1: [off], 2: [on]}))
        orch.run_n_steps(2)

        (signal_1, signal_2) = sinks.events_of("SIGNAL")
        (event,) = sinks.events_of("RISK_REJECTED")
        assert event["payload"]["signal_id"] == signal_1["event_id"]
        assert (event["payload"]["rule"], event["payload"]["limit_price"]) == (
            "PRICE_OFF_TICK",
            "39999.995",
        )
        assert event["payload"]["tick"] == "0.01"
        assert "C2_REJECT_PRICE_OFF_TICK" in sinks.audit_codes()
        (submitted,) = sinks.events_of("ORDER_SUBMITTED")
        assert submitted["payload"]["signal_id"] == signal_2["event_id"]
        assert submitted["payload"]["limit_price"] == "39999.99"
        orch.close()
        assert sinks.metrics_doc()["rejects_by_reason"] == {"PRICE_OFF_TICK": 1}


class TestUnpriced:
    def test_any_price_above_zero_is_a_price(self):
        """A symbol quoted below 1 (0.50) is priced; only none (0) is refused."""
        assert unpriced(_intent(), _ctx(last_price=D("0.50"))) is None
        rejection = unpriced(_intent(), _ctx(last_price=D(0)))
        assert rejection is not None
        assert rejection.rule == "NO_MARKET_PRICE"


class TestNoMarketPrice:
    """Bug: with an allowlist naming a symbol the feed does not give, an order for it passed
    every rail that values an order (notional, per-trade risk, heat) at a last price of 0:
    as if it were worth nothing. The session now refuses it: it cannot value it."""

    @pytest.mark.parametrize(
        "intent",
        [
            attrs.evolve(buy("0.010"), symbol="ETH/USDT"),
            attrs.evolve(
                buy("0.010", order_type=OrderType.LIMIT, limit_price=D("3000")), symbol="ETH/USDT"
            ),
        ],
        ids=["market", "limit"],
    )
    def test_an_intent_for_a_symbol_without_a_price_is_refused(self, intent):
        orch, sinks = _trading_session(
            at({1: [intent], 2: [buy("0.010")]}), allowlist=(SYMBOL, "ETH/USDT")
        )
        orch.run_n_steps(2)
        (event,) = sinks.events_of("RISK_REJECTED")
        assert (event["payload"]["rule"], event["payload"]["symbol"]) == (
            "NO_MARKET_PRICE",
            "ETH/USDT",
        )
        assert event["payload"]["reason"] == (
            "no market price for ETH/USDT: the feed has given none, so the rails cannot value "
            "the order"
        )
        (submitted,) = sinks.events_of("ORDER_SUBMITTED")  # the feed's own symbol still trades
        assert submitted["payload"]["symbol"] == SYMBOL
        assert "C2_REJECT_NO_MARKET_PRICE" in sinks.audit_codes()
        orch.close()

    def test_a_rail_that_refuses_it_anyway_names_itself(self):
        """The rails go first: an order both too large and unpriced is MAX_ORDER_QTY."""
        orch, sinks = _trading_session(
            at({1: [attrs.evolve(buy("5"), symbol="ETH/USDT")]}),
            allowlist=(SYMBOL, "ETH/USDT"),
        )
        orch.step()
        (event,) = sinks.events_of("RISK_REJECTED")
        assert event["payload"]["rule"] == "MAX_ORDER_QTY"
        orch.close()


class TestCallersOwnCodes:
    """A rail or check of the caller's that names its refusal in free text: before, the
    audit wrote it into a record code (``C2_REJECT_no buys on fridays!``) and the run
    failed verify. It is made a code (redacted, upper case); a code passes as it is."""

    def test_a_rail_s_free_text_rule_is_made_a_code(self, tmp_path):
        from test_run_failures import _verify_memory

        def fridays(_intent, _ctx):
            return Rejection(rule="no buys on fridays!", detail={"day": "fri"}, reason="policy")

        cfg = DryrunConfig(run_id="t", strategy_id="scripted", steps=20)
        sinks = Sinks()
        orch = LiveSessionOrchestrator(
            cfg,
            feed=ScriptedFeed(["40000.00"]),
            strategy=ScriptedStrategy(at({1: [buy("0.010")]})),
            rails=(*default_rails(cfg.risk, (SYMBOL,)), fridays),
            **sinks.kwargs(),
        )
        orch.preflight()
        orch.activate()
        orch.run_n_steps(3)
        orch.close()
        (event,) = sinks.events_of("RISK_REJECTED")
        assert (event["payload"]["rule"], event["payload"]["reason"]) == (
            "NO_BUYS_ON_FRIDAYS",
            "policy",
        )
        assert "C2_REJECT_NO_BUYS_ON_FRIDAYS" in sinks.audit_codes()
        _verify_memory(sinks, tmp_path / "run")

    def test_a_check_s_free_text_reason_is_made_a_code(self, tmp_path):
        from test_run_failures import _verify_memory

        def desk_hours(_ctx):
            return CheckResult(name="desk_hours", passed=False, reason="outside hours (09-17)")

        sinks = Sinks()
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id="t", steps=20), checks=(desk_hours,), **sinks.kwargs()
        )
        assert not orch.preflight()
        orch.close()
        assert orch.result().reason == "OUTSIDE_HOURS_09_17"
        assert "C2_REJECT_OUTSIDE_HOURS_09_17" in sinks.audit_codes()
        _verify_memory(sinks, tmp_path / "run")


class TestReduceOnlyAtTheVenue:
    """Bug: two reduce-only SELLs of a 0.010 long (a resting take profit, then a market
    exit) both passed the intent check, each against the whole position; the exit filled,
    then the take profit did, and the position flipped to -0.010. The venue now fills a
    reduce-only order only up to its position, and cancels the rest, as venues do."""

    def test_a_resting_reduce_only_order_is_cancelled_once_the_position_is_flat(self):
        take_profit = sell(
            "0.010", order_type=OrderType.LIMIT, limit_price=D("40010.00"), reduce_only=True
        )
        closes = ("40000.00", "40000.00", "40000.00", "40000.00", "40050.00", "40050.00")
        orch, sinks = _trading_session(
            at({1: [buy("0.010")], 3: [take_profit], 4: [sell("0.010", reduce_only=True)]}),
            closes=closes,
        )
        orch.run_n_steps(6)

        positions = [e["payload"]["position"] for e in sinks.events_of("POSITION_CHANGED")]
        assert positions == ["0.010", "0.000"]
        (cancelled,) = sinks.events_of("ORDER_CANCELED")
        (resting,) = [
            e for e in sinks.events_of("ORDER_SUBMITTED") if e["payload"]["order_type"] == "LIMIT"
        ]
        assert cancelled["payload"]["client_order_id"] == resting["payload"]["client_order_id"]
        assert orch.book.positions["BTC/USDT"] == 0
        orch.close()

    def test_a_stop_moved_after_a_gap_replaces_the_leg_it_cancelled(self):
        """A protected long at 40000.00; the next bar gaps 10 % up and the strategy moves its
        stop to breakeven: it cancels the session's stop leg and places a reduce-only STOP at
        40080.00. The collar (5 %) refused that stop after the leg's cancel was sent, and
        the position rode the fall back without a stop. The stop rests now, and fills."""
        protect = {"take_profit_pct": D("0.5"), "stop_loss_pct": D("0.02")}

        def script(n, _bar, view):
            if n == 1:
                return [buy("0.010", **protect)]
            if n == 2:
                (stop,) = [o for o in view.open_orders() if o.order_type is OrderType.STOP]
                moved = sell(
                    "0.010", order_type=OrderType.STOP, limit_price=D("40080.00"), reduce_only=True
                )
                return [CancelIntent(client_order_id=stop.client_order_id), moved]
            return []

        closes = ("40000.00", "44000.00", "44000.00", "40000.00", "40000.00")
        orch, sinks = _trading_session(script, closes=closes)
        orch.run_n_steps(5)
        assert not sinks.events_of("RISK_REJECTED")
        moved = [
            e["payload"] for e in sinks.events_of("ORDER_SUBMITTED")
            if e["payload"]["reason"] == "" and e["payload"]["order_type"] == "STOP"
        ]  # fmt: skip
        assert [m["limit_price"] for m in moved] == ["40080.00"]
        fills = [e["payload"] for e in sinks.events_of("ORDER_FILLED")]
        assert (fills[-1]["client_order_id"], fills[-1]["price"]) == (
            moved[0]["client_order_id"],
            "40000.00",
        )
        assert orch.book.positions["BTC/USDT"] == 0
        orch.close()

    def test_the_venue_fills_a_reduce_only_order_up_to_the_position(self):
        venue = MockBroker()
        hold_at_venue(venue, "0.010")
        for n, qty in enumerate(("0.006", "0.006", "0.006")):
            venue.submit(
                Order(
                    client_order_id=f"lsexit{n}",
                    symbol="BTC/USDT",
                    side=Side.SELL,
                    quantity=D(qty),
                    order_type=OrderType.MARKET,
                    reduce_only=True,
                ),
                1,
            )
        reports = venue.poll(10**12)
        filled = [(r.client_order_id, r.quantity) for r in reports if isinstance(r, FillReport)]
        cancelled = [r.client_order_id for r in reports if isinstance(r, CancelReport)]
        assert filled == [("lsexit0", D("0.006")), ("lsexit1", D("0.004"))]
        assert cancelled == ["lsexit1", "lsexit2"]
        assert venue.order_by_client_id("lsexit1").filled_quantity == D("0.004")

    def test_an_order_that_is_not_reduce_only_may_flip(self):
        venue = MockBroker()
        hold_at_venue(venue, "0.010")
        venue.submit(
            Order(
                client_order_id="lsflip",
                symbol="BTC/USDT",
                side=Side.SELL,
                quantity=D("0.030"),
                order_type=OrderType.MARKET,
            ),
            1,
        )
        fills = [r for r in venue.poll(10**12) if isinstance(r, FillReport)]
        assert sum(f.quantity for f in fills) == D("0.030")


class TestThrottleInASession:
    def test_throttle_halts_trading_until_an_operator_reenables(self):
        """After max_executions fills the next intent is refused and trading is HALTED."""
        script = lambda n, _bar, _view: [buy("0.001")]  # noqa: E731 - a one-line script
        orch, sinks = _trading_session(script, risk={"max_executions": 2})
        orch.run_n_steps(3)
        assert orch.trading_state is TradingState.HALTED
        assert sinks.events_of("RISK_REJECTED")[-1]["payload"]["rule"] == "EXECUTION_THROTTLE"
        (change,) = sinks.events_of("TRADING_STATE_CHANGED")
        assert change["payload"] == {
            "from": "ACTIVE",
            "to": "HALTED",
            "reason": "EXECUTION_THROTTLE",
        }
        assert "C2_TRADING_STATE" in sinks.audit_codes()
        signals = len(sinks.events_of("SIGNAL"))
        orch.run_n_steps(3)
        assert len(sinks.events_of("SIGNAL")) == signals  # no strategy while HALTED
        orch.reenable_trading("ops-1")
        assert orch.trading_state is TradingState.ACTIVE
        assert "C2_OPERATOR_REENABLE" in sinks.audit_codes()
        orch.step()
        assert len(sinks.events_of("ORDER_SUBMITTED")) == 3

    def test_reenable_is_refused_once_the_session_stopped(self):
        """reenable_trading after STOPPED raises and writes nothing."""
        orch, sinks = _trading_session(at({}))
        orch.request_stop("done")
        lines = len(sinks.events.lines)
        assert orch.reenable_trading("ops-1").outcome is VerbOutcome.NOT_APPLICABLE
        assert len(sinks.events.lines) == lines
        assert orch.state is SessionState.STOPPED


class TestOrderRateInASession:
    def test_rate_is_counted_per_simulated_second(self):
        """Ten bars a second: five orders pass, the rest of that second is refused, then reset."""
        script = lambda n, _bar, _view: [buy("0.001")]  # noqa: E731 - a one-line script
        orch, sinks = _trading_session(script, step_interval_ms=100)
        orch.run_n_steps(12)
        outcomes = [
            (e["ts_sim"] // 1_000_000_000, e["event_type"])
            for e in map(orjson.loads, sinks.events.lines)
            if e["event_type"] in ("ORDER_SUBMITTED", "RISK_REJECTED")
        ]
        first = outcomes[0][0]
        in_first = [kind for second, kind in outcomes if second == first]
        assert in_first == ["ORDER_SUBMITTED"] * 5 + ["RISK_REJECTED"] * 4
        assert next(kind for second, kind in outcomes if second == first + 1) == "ORDER_SUBMITTED"
        rejection = sinks.events_of("RISK_REJECTED")[0]["payload"]
        assert (rejection["rule"], rejection["orders_this_second"]) == ("ORDER_RATE", "5")


class TestDailyLossInASession:
    def test_peak_is_the_days_and_resets_at_the_utc_day_boundary(self):
        """The day's peak follows equity up, holds on the way down, restarts on a new day."""
        closes = ["40000.00", "41000.00"] + ["40500.00"] * 30
        orch, _ = _trading_session(
            at({1: [buy("1.000")]}),
            closes,
            step_interval_ms=3_600_000,
            risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
        )
        orch.run_n_steps(23)  # bars at 01:00 .. 23:00 of day one
        assert orch.book.day_peak_equity == D("101000.00")
        orch.step()  # 00:00 of day two
        assert orch.book.day_peak_equity == D("100500.00")

    def test_cap_holds_for_the_rest_of_the_day_and_lifts_the_next(self):
        """After the kill, re-enabled trading still meets DAILY_LOSS until the next UTC day."""
        closes = ["40000.00", "40000.00", "38900.00"] + ["38900.00"] * 30
        script = at({1: [buy("1.000")], 5: [buy("0.001")], 24: [buy("0.001")]})
        orch, sinks = _trading_session(
            script,
            closes,
            step_interval_ms=3_600_000,
            risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
        )
        orch.run_n_steps(3)
        assert sinks.events_of("KILL_SWITCH")[0]["payload"]["reason"] == "DAILY_LOSS"
        orch.step()
        assert orch.trading_state is TradingState.HALTED
        assert not any(orch.book.positions.values())
        orch.reenable_trading("ops-1")
        orch.step()  # bar 5, same day: the cap still holds
        assert sinks.events_of("RISK_REJECTED")[-1]["payload"]["rule"] == "DAILY_LOSS"
        orch.run_n_steps(19)  # bar 24 is 00:00 of day two: a fresh peak
        assert sinks.events_of("ORDER_SUBMITTED")[-1]["payload"]["reason"] == ""
        assert len(sinks.events_of("RISK_REJECTED")) == 1


class TestReduceOnly:
    def test_reducing_lets_only_exposure_reducing_orders_through(self):
        """In REDUCING a buy that adds is refused, a sell that reduces passes."""
        orch, sinks = _trading_session(
            at({1: [buy("0.010")], 2: [buy("0.010")], 3: [sell("0.005")]})
        )
        orch.step()
        orch.reduce_only("risk review")
        assert orch.trading_state is TradingState.REDUCING
        orch.run_n_steps(2)
        rejected = sinks.events_of("RISK_REJECTED")
        assert [e["payload"]["rule"] for e in rejected] == ["TRADING_STATE"]
        assert sinks.events_of("ORDER_SUBMITTED")[-1]["payload"]["side"] == "SELL"
        assert "C2_TRADING_STATE" in sinks.audit_codes()
        assert "C2_REJECT_TRADING_STATE" in sinks.audit_codes()

    def test_reduce_only_is_refused_while_halted(self):
        """HALTED is not loosened to REDUCING; reenable_trading is the way out."""
        orch, _ = _trading_session(at({}))
        orch.kill("test")
        refused = orch.reduce_only("x")
        assert refused.outcome is VerbOutcome.NOT_APPLICABLE
        assert "HALTED" in refused.message
        assert orch.trading_state is TradingState.HALTED


_HEAT_RISK = {
    "max_order_qty": "100000",
    "max_order_notional": "1000000",
    "per_trade_risk_pct": "0.01",
    "portfolio_heat_pct": "0.01",
    "stop_distance_pct": "0.02",
}


def _stop(side_of, qty: str, price: str, **extra):
    return side_of(qty, order_type=OrderType.STOP, limit_price=D(price), **extra)


def _heat_rejections(sinks: Sinks) -> list[tuple[str, str]]:
    return [
        (e["payload"]["reason"], e["payload"]["heat"])
        for e in sinks.events_of("RISK_REJECTED")
        if e["payload"]["rule"] == "PORTFOLIO_HEAT"
    ]


class TestPortfolioHeatInASession:
    """Equity 100000: a heat budget of 1000 at a stop distance of 2 % (50000 of exposure)."""

    def test_resting_stop_entries_count(self):
        """Bug: three BUY STOP 480 @104 from flat (each 998.40 of heat alone) all passed and
        filled to 1440 (heat 2995). The second one takes the heat to 1996.80: refused."""
        stops = [_stop(buy, "480", "104.00", reason=f"stop{n}") for n in (1, 2, 3)]
        orch, sinks = _trading_session(
            at({1: stops[:1], 2: stops[1:2], 3: stops[2:]}),
            closes=("100.00", "100.00", "100.00", "100.00", "104.00"),
            risk=_HEAT_RISK,
        )
        orch.run_n_steps(5)
        assert (
            _heat_rejections(sinks)
            == [("portfolio heat 1996.8000000 > limit 1000.0000", "1996.8000000")] * 2
        )
        assert orch.book.positions["BTC/USDT"] == D("480")
        orch.close()

    def test_a_resting_order_that_closes_the_position_adds_no_heat(self):
        """Bug: long 125 @100 with a resting SELL LIMIT 125 @105 (not reduce-only), a BUY 250
        was refused at a heat of 1012.50 = (12500 + 13125 + 25000) * 2 %: the sell, which
        only closes the long, counted as added exposure. The heat is (12500 + 25000) * 2 %
        = 750: accepted; a BUY 125 then takes it to exactly 1000 (accepted), one more lot is
        refused."""
        take_profit = sell("125", order_type=OrderType.LIMIT, limit_price=D("105.00"))
        orch, sinks = _trading_session(
            at(
                {
                    1: [buy("125")],
                    2: [take_profit],
                    3: [buy("250")],
                    4: [buy("125")],
                    5: [buy("0.001")],
                }
            ),
            closes=("100.00",),
            risk=_HEAT_RISK,
        )
        orch.run_n_steps(6)
        assert _heat_rejections(sinks) == [
            ("portfolio heat 1000.0020000 > limit 1000.0000000", "1000.0020000")
        ]
        assert orch.book.positions["BTC/USDT"] == D("500")
        orch.close()


class TestReducingInASession:
    """Bug: long 10, ``reduce_only("desk_risk")``, then three SELL 10 (not reduce-only) in
    one bar: all three were sent, each checked against the filled position alone, and the
    position went to -20. The first closes the long; the others would open a short."""

    @pytest.mark.parametrize("latency_ms", [0, 90_000], ids=["filled-next-poll", "resting"])
    def test_orders_sent_earlier_count(self, latency_ms):
        sells = [sell("10", reason=name) for name in ("reduce_a", "reduce_b", "reduce_c")]
        orch, sinks = _trading_session(
            at({1: [buy("10")], 4: sells}),
            closes=("100.00",),
            risk={"max_order_qty": "100000", "max_order_notional": "1000000"},
            fill_model={"latency_ms": latency_ms},
        )
        orch.run_n_steps(3)
        assert orch.book.positions["BTC/USDT"] == D("10")
        orch.reduce_only("desk_risk")
        orch.run_n_steps(5)
        sent = [e["payload"]["reason"] for e in sinks.events_of("ORDER_SUBMITTED")]
        assert sent[-1:] == ["reduce_a"]
        refused = [
            (e["payload"]["rule"], e["payload"]["reason"]) for e in sinks.events_of("RISK_REJECTED")
        ]
        assert refused == [("TRADING_STATE", "trading is REDUCING")] * 2
        assert orch.book.positions["BTC/USDT"] == 0
        orch.close()


class TestReduceOnlyBesideAClosingOrder:
    """A reduce-only order and an ordinary order on one side may not both close one position.

    Bug: long 10 with a SELL 10 limit resting (the rails passed it as closing), a reduce-only
    SELL 10 passed too; it filled first, and the limit then opened a short 10 that the
    per-trade rail had refused from flat. Both orders counted the same 10 as theirs to close.
    """

    _RISK: ClassVar = {"per_trade_risk_pct": "0.00005"}  # refuses 0.010 from flat, not 0.005

    def test_a_reduce_only_intent_may_not_take_what_a_resting_order_closes(self):
        limit = sell("0.010", order_type=OrderType.LIMIT, limit_price=D("41000.00"))
        script = at({1: [buy("0.005"), buy("0.005")], 3: [limit, sell("0.010", reduce_only=True)]})
        orch, sinks = _trading_session(script, risk=self._RISK)
        orch.run_n_steps(6)
        (event,) = sinks.events_of("RISK_REJECTED")
        assert event["payload"]["rule"] == "REDUCE_ONLY"
        assert event["payload"]["reason"] == (
            "reduce-only SELL 0.010 is more than the position 0.010 allows beside the "
            "SELL 0.010 already open to close it"
        )
        assert event["payload"]["open_on_side"] == "0.010"
        assert orch.book.positions[SYMBOL] == D("0.010")  # the limit still only closes
        orch.close()

    def test_an_ordinary_order_after_a_reduce_only_one_is_measured_as_opening(self):
        """The reduce-only SELL closes the long first: the SELL after it would open a short."""
        limit = sell("0.010", order_type=OrderType.LIMIT, limit_price=D("41000.00"))
        script = at({1: [buy("0.005"), buy("0.005")], 3: [sell("0.010", reduce_only=True), limit]})
        orch, sinks = _trading_session(script, risk=self._RISK)
        orch.run_n_steps(6)
        (event,) = sinks.events_of("RISK_REJECTED")
        assert (event["payload"]["rule"], event["payload"]["side"]) == ("PER_TRADE_RISK", "SELL")
        assert orch.book.positions[SYMBOL] == 0
        orch.close()

    def test_the_same_sell_from_flat_is_refused_by_the_same_rail(self):
        """The baseline the two tests above lean on: these limits refuse a short 0.010."""
        script = at({1: [sell("0.010", order_type=OrderType.LIMIT, limit_price=D("41000.00"))]})
        orch, sinks = _trading_session(script, risk=self._RISK)
        orch.step()
        (event,) = sinks.events_of("RISK_REJECTED")
        assert event["payload"]["rule"] == "PER_TRADE_RISK"
        orch.close()


class TestDailyLossWhileFlat:
    """Bug: the cap reached while flat refused new intents but left a resting entry working;
    it filled two bars later and opened a position after the cap."""

    def test_an_entry_resting_when_the_cap_is_reached_is_cancelled(self):
        entry = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("38000.00"))
        # The exit rests at 39000 and fills on bar 3's reports, before the cap is checked:
        # flat, 1 % down, with the entry still resting.
        exit_ = sell("1.000", order_type=OrderType.LIMIT, limit_price=D("39000.00"))
        closes = ["40000.00", "40000.00", "39000.00", "38000.00", "38000.00", "38000.00"]
        script = at({1: [buy("1.000")], 2: [exit_, entry]})
        orch, sinks = _trading_session(
            script,
            closes,
            risk={
                "per_trade_risk_pct": "1",
                "max_order_notional": "60000",
                "daily_loss_pct": "0.01",
            },
        )
        orch.run_n_steps(6)
        (kill,) = sinks.events_of("KILL_SWITCH")
        assert kill["payload"]["reason"] == "DAILY_LOSS"
        (submitted,) = [
            e["payload"]
            for e in sinks.events_of("ORDER_SUBMITTED")
            if e["payload"]["side"] == "BUY" and e["payload"]["order_type"] == "LIMIT"
        ]
        (cancel,) = sinks.events_of("ORDER_CANCELED")
        assert cancel["payload"]["client_order_id"] == submitted["client_order_id"]
        assert not any(orch.book.positions.values())  # the entry never filled
        assert not [e for e in sinks.events_of("ORDER_FILLED") if e["seq"] > kill["seq"]]
        orch.close()
