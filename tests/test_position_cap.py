"""The position cap: ``[risk]`` ``max_position_notional``, the ``MAX_POSITION_NOTIONAL`` rail.

Every other rail measures one order (its quantity, its value, its risk at the stop) or the
whole book at the stop distance: none said how big one symbol's position may grow, so a
strategy sending 0.010 a bar within every order limit stacked a position as large as its
bars were many. The cap is off unless a desk sets it, and then a config without it keeps
the bytes and hash it had.
"""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from _scripted import SYMBOL, ScriptedFeed, ScriptedStrategy, at, buy, risk_context, sell
from livesession import ConfigError, DryrunConfig, OrderIntent, OrderType, RiskLimits
from livesession._risk.rails import RAIL_RULES, default_rails, max_position_notional
from livesession.evidence._limits import limit_lines, run_limits
from livesession.verify._grid import Grid
from livesession.verify._result import Violations

from _helpers import session

D = Decimal


_ctx = risk_context


class TestTheRail:
    def test_fires_above_the_cap_with_the_numbers(self):
        """From flat, a BUY 0.100 at 40000.00 is a position worth 4000.00."""
        rejection = max_position_notional(D(3000))(buy("0.100"), _ctx())
        assert rejection is not None
        assert rejection.rule == "MAX_POSITION_NOTIONAL"
        assert rejection.detail == {
            "position_after": "0.100",
            "price": "40000.00",
            "notional": "4000.00000",
            "limit": "3000",
        }
        assert rejection.reason == (
            "position 0.100 at 40000.00 is worth 4000.00000 > max_position_notional 3000"
        )

    def test_quiet_exactly_at_the_cap(self):
        assert max_position_notional(D(4000))(buy("0.100"), _ctx()) is None

    def test_the_position_held_counts(self):
        """Long 0.050: a BUY 0.050 leaves 0.100, worth 4000.00, where the order is 2000.00."""
        rail = max_position_notional(D(3000))
        assert rail(buy("0.050"), _ctx()) is None
        rejection = rail(buy("0.050"), _ctx(position=D("0.050")))
        assert rejection is not None
        assert rejection.detail["position_after"] == "0.100"

    def test_the_orders_open_on_its_side_count(self):
        """Flat with a BUY 0.050 still open: a BUY 0.050 more would leave 0.100 once both fill."""
        rejection = max_position_notional(D(3000))(buy("0.050"), _ctx(open_on_side=D("0.050")))
        assert rejection is not None
        assert rejection.detail["position_after"] == "0.100"

    def test_a_flip_counts_the_position_it_opens_with_its_sign(self):
        """Long 0.100: a SELL 0.200 leaves short 0.100; a SELL 0.150, short 0.050 (passes)."""
        rail = max_position_notional(D(3000))
        long = _ctx(position=D("0.100"))
        rejection = rail(sell("0.200"), long)
        assert rejection is not None
        assert rejection.detail["position_after"] == "-0.100"
        assert rail(sell("0.150"), long) is None

    def test_the_sells_open_close_the_position_first(self):
        """Long 0.100 with a SELL 0.100 open: a SELL 0.100 more opens a short 0.100."""
        ctx = _ctx(position=D("0.100"), open_on_side=D("0.100"))
        rejection = max_position_notional(D(3000))(sell("0.100"), ctx)
        assert rejection is not None
        assert rejection.detail["position_after"] == "-0.100"

    def test_a_protective_pair_closes_the_position_once(self):
        """Long 0.100 under its two legs (a SELL 0.100 take profit and a SELL 0.100 stop, one
        cancelling the other): scaling out with a SELL 0.050 leaves at worst short 0.050
        (a leg closes the long first), not short 0.150 as if both legs opened exposure."""
        legs = {"open_on_side": D("0.200"), "open_reducing_on_side": D("0.200")}
        ctx = _ctx(position=D("0.100"), **legs)
        rail = max_position_notional(D(2000))
        assert rail(sell("0.050"), ctx) is None
        rejection = rail(sell("0.060"), ctx)
        assert rejection is not None
        assert rejection.detail["position_after"] == "-0.060"

    def test_other_orders_beside_the_legs_still_open_exposure(self):
        """Long 0.100, a leg SELL 0.100 and a plain SELL 0.100 open: a SELL 0.010 more can
        leave short 0.110 (the leg closes the long, the plain sell opens a short)."""
        ctx = _ctx(position=D("0.100"), open_on_side=D("0.200"), open_reducing_on_side=D("0.100"))
        rejection = max_position_notional(D(4000))(sell("0.010"), ctx)
        assert rejection is not None
        assert rejection.detail["position_after"] == "-0.110"

    @pytest.mark.parametrize("reduce_only", [False, True])
    def test_an_order_that_only_reduces_passes_however_large_the_position(self, reduce_only):
        """Long 1.000 (40000.00, past a cap of 3000): selling part of it is what the desk wants."""
        intent = sell("0.500", reduce_only=reduce_only)
        assert max_position_notional(D(3000))(intent, _ctx(position=D(1))) is None

    def test_valued_at_the_order_s_price(self):
        """A BUY LIMIT at 30000.00 fills where the market is 30000.00: 0.100 is worth 3000."""
        limit = buy("0.100", order_type=OrderType.LIMIT, limit_price=D("30000.00"))
        assert max_position_notional(D(3000))(limit, _ctx()) is None
        assert max_position_notional(D("2999.99"))(limit, _ctx()) is not None

    def test_a_position_in_another_symbol_is_not_this_one_s(self):
        """The context is the intent's symbol's: a cap per symbol, not on the book."""
        other = OrderIntent(symbol="ETH/USDT", side=buy("1").side, quantity=D("0.010"))
        assert max_position_notional(D(3000))(other, _ctx(last_price=D("2000.00"))) is None


class TestTheConfig:
    def test_off_unless_set_and_then_after_the_order_notional(self):
        """No rail at all by default (nothing to slow a step); set, it follows the order cap."""
        off = [r.rule for r in default_rails(RiskLimits(), [SYMBOL])]
        assert "MAX_POSITION_NOTIONAL" not in off
        on = [r.rule for r in default_rails(RiskLimits(max_position_notional="500"), [SYMBOL])]
        assert on == [*off[:4], "MAX_POSITION_NOTIONAL", *off[4:]]
        assert off[3] == "MAX_ORDER_NOTIONAL"
        assert "MAX_POSITION_NOTIONAL" in RAIL_RULES

    def test_a_config_without_it_records_nothing_of_it(self):
        """config.json and the audited hash of a config that leaves it out are as before."""
        plain = DryrunConfig()
        assert "max_position_notional" not in plain.to_dict()["risk"]
        capped = DryrunConfig.from_mapping({"risk": {"max_position_notional": "2500.50"}})
        assert capped.risk.max_position_notional == D("2500.50")
        assert capped.to_dict()["risk"]["max_position_notional"] == "2500.50"
        assert capped.recorded_sha256() != plain.recorded_sha256()
        again = DryrunConfig.from_mapping(orjson.loads(orjson.dumps(capped.to_dict())))
        assert again.recorded_sha256() == capped.recorded_sha256()

    @pytest.mark.parametrize(
        ("value", "said"),
        [
            ("0", "risk.max_position_notional must be greater than zero, got '0'"),
            ("-5", "risk.max_position_notional must be greater than zero, got '-5'"),
            (2500.5, "risk.max_position_notional: floats are not accepted"),
            ("lots", "risk.max_position_notional: 'lots' is not a decimal number"),
        ],
    )
    def test_a_bad_cap_is_refused_in_one_line_naming_it(self, value, said):
        with pytest.raises(ConfigError) as raised:
            DryrunConfig.from_mapping({"risk": {"max_position_notional": value}})
        assert str(raised.value).startswith(said)
        assert "\n" not in str(raised.value)


def _trading(script, risk, closes=("40000.00",)):
    orch, sinks = session(feed=ScriptedFeed(closes), strategy=ScriptedStrategy(script), risk=risk)
    orch.preflight()
    orch.activate()
    return orch, sinks


class TestInASession:
    def test_a_position_stacked_past_the_cap_is_refused_on_the_record(self):
        """Two BUY 0.010 at 40000.00 under a cap of 500: the first (400.00) goes, the second
        (a position of 0.020, 800.00) is refused, each order well within the order caps."""
        orch, sinks = _trading(
            at({1: [buy("0.010")], 3: [buy("0.010")]}), {"max_position_notional": "500"}
        )
        orch.run_n_steps(5)
        (event,) = sinks.events_of("RISK_REJECTED")
        payload = event["payload"]
        assert payload["rule"] == "MAX_POSITION_NOTIONAL"
        assert (payload["position_after"], payload["notional"]) == ("0.020", "800.00000")
        assert "C2_REJECT_MAX_POSITION_NOTIONAL" in sinks.audit_codes()
        assert orch.book.positions[SYMBOL] == D("0.010")
        orch.close()
        assert sinks.metrics_doc()["rejects_by_reason"] == {"MAX_POSITION_NOTIONAL": 1}

    def test_an_order_sent_earlier_in_the_bar_counts(self):
        """Two BUY 0.010 in one bar: the first is open (not filled) when the second is asked."""
        orch, sinks = _trading(
            at({1: [buy("0.010"), buy("0.010")]}), {"max_position_notional": "500"}
        )
        orch.run_n_steps(3)
        (event,) = sinks.events_of("RISK_REJECTED")
        assert event["payload"]["position_after"] == "0.020"
        orch.close()

    def test_scaling_out_under_protective_legs_goes(self):
        """A protected long 0.020 (take profit and stop resting, both SELL 0.020): a SELL
        0.010 scales out under a cap of 500, though the legs and it add up to 0.050."""
        protected = buy("0.020", take_profit_pct=D("0.05"), stop_loss_pct=D("0.05"))
        script = at({1: [protected], 4: [sell("0.010")]})
        orch, sinks = _trading(script, {"max_position_notional": "500"}, ("20000.00",))
        orch.run_n_steps(6)
        assert not sinks.events_of("RISK_REJECTED")
        assert orch.book.positions[SYMBOL] == D("0.010")
        orch.close()

    def test_selling_down_a_position_past_the_cap_goes(self):
        """The price doubles past the cap: the position is held, and reducing it is allowed."""
        script = at({1: [buy("0.010")], 3: [buy("0.010")], 5: [sell("0.005")]})
        closes = ["20000.00", "20000.00", "20000.00", "60000.00", "60000.00", "60000.00"]
        orch, sinks = _trading(script, {"max_position_notional": "500"}, closes)
        orch.run_n_steps(6)
        assert not sinks.events_of("RISK_REJECTED")
        assert orch.book.positions[SYMBOL] == D("0.015")
        orch.close()


class TestWhatTheToolsSay:
    def test_the_evidence_states_the_cap_only_when_set(self):
        plain = limit_lines(run_limits(DryrunConfig()))
        assert not any("MAX_POSITION_NOTIONAL" in line for line in plain)
        capped = DryrunConfig.from_mapping({"risk": {"max_position_notional": "500"}})
        lines = limit_lines(run_limits(capped))
        assert (
            "| MAX_POSITION_NOTIONAL | 500 per symbol's position (at the order's price) |" in lines
        )
        assert lines.index(next(x for x in lines if "MAX_ORDER_NOTIONAL" in x)) + 1 == lines.index(
            next(x for x in lines if "MAX_POSITION_NOTIONAL" in x)
        )

    def test_verify_holds_its_numbers_to_the_grids(self):
        """A refusal's position and price are on the lot and the tick, written with their places."""
        report = Violations()
        grid = Grid(report, D("0.01"), D("0.001"))
        good = {"rule": "MAX_POSITION_NOTIONAL", "quantity": "0.010", "position_after": "0.020",
                "price": "40000.00", "notional": "800.00000", "limit": "500"}  # fmt: skip
        grid.event(7, "RISK_REJECTED", good)
        assert report.lines == []
        grid.event(8, "RISK_REJECTED", good | {"position_after": "0.02", "price": "40000.005"})
        assert len(report.lines) == 2
        assert "position_after 0.02" in report.lines[0]
        assert "price 40000.005" in report.lines[1]
