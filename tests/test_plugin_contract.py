"""What a strategy or a feed hands the session, checked: intents, bars, checkpointed state.

Attrs does not check types, so a strategy can return what the session cannot act on (a
dict, a NaN quantity, a side spelled as text), and a ``get_state`` can raise or give what
JSON cannot hold. Each of these used to escape as a traceback and leave the run unsealed
(it failed ``verify``). Each now takes the strategy-error path of ``on_bar`` raising:
``STRATEGY_ERROR``, trading HALTED, ERROR_REQUIRES_OPERATOR, and for the one-shot run a
wind-down sealed FAILED. A quantity that rounds to nothing at the lot is not an error: it
is a signal the session refuses (``RISK_REJECTED``, rule ``QTY_BELOW_LOT``), where it was
dropped without a record. A feed of the caller's is held to a data file's rules: each bar
must be a ``Bar`` of the session's symbol with finite, positive prices, a volume of at
least 0, and open and close within [low, high]; else it is a ``FEED_ERROR`` before the bar
is recorded. Every run made here is verified.
"""

from __future__ import annotations

import ast
import io
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

import livesession
from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    Bar,
    DryrunConfig,
    InvalidTransition,
    LiveSessionOrchestrator,
    OrderIntent,
    OrderType,
    PluginStateError,
    RunDirectoryError,
    SessionState,
    SessionStatus,
    Side,
    TradingState,
    VerbOutcome,
)
from livesession._domain.model import bar_problem, intent_problem
from livesession._market.feeds import RandomWalkFeed
from livesession._rundir import create_run, resume_run
from livesession._session.assembly import SessionEdges, assemble
from livesession._support.logging import configure_logging, disable_logging
from livesession.verify import verify_run
from test_run_failures import _verify_memory

from _helpers import Sinks

D = Decimal
SECRET = "hunter2-Zq8vX1"


def _events(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["event_type"] == event_type]


def _config(run_id: str, **extra: Any) -> DryrunConfig:
    values: dict[str, Any] = {
        "run_id": run_id,
        "strategy_id": "scripted",
        "steps": 40,
        "seed": 5,
        "checkpoint_every": 10,
    }
    values.update(extra)
    return DryrunConfig(**values)


def _one_shot(tmp_path: Path, run_id: str, strategy: Any, **extra: Any) -> tuple[Path, Any]:
    """A file-backed run to its end, the CLI's way (the operator winds a fault down)."""
    cfg = _config(run_id, **extra)
    session = create_run(cfg, tmp_path, strategy=strategy, feed=ScriptedFeed(["40000.00"]))
    result = session.run_to_end(cfg.steps, operator="cli")
    session.close()
    run_dir = tmp_path / run_id
    verdict = verify_run(run_dir)
    assert verdict.ok, "\n".join(verdict.violations[:20])
    return run_dir, result


# -- intents -------------------------------------------------------------------------------


def _fields(**given: Any) -> dict[str, Any]:
    return {"symbol": "BTC/USDT", "side": Side.BUY, **given}


class Float64(float):
    """A float subclass, as numpy's ``float64`` is."""


class Int64:
    """An integer that is no ``int``, as numpy's ``int64``: it has ``__index__``."""

    def __init__(self, value: int) -> None:
        self.value = value

    def __index__(self) -> int:
        return self.value

    def __repr__(self) -> str:
        return f"Int64({self.value})"


class Bool_:
    """A truth value that is no ``bool``, as numpy's ``bool_``."""

    def __bool__(self) -> bool:
        return True

    def __repr__(self) -> str:
        return "Bool_(True)"


class Float32:
    """A number with ``__float__`` alone, as numpy's ``float32``."""

    def __init__(self, value: float) -> None:
        self.value = value

    def __float__(self) -> float:
        return self.value

    def __repr__(self) -> str:
        return f"Float32({self.value})"


_BAD_INTENTS = {
    "a dict": (
        {"symbol": "BTC/USDT", "side": "BUY", "quantity": "1"},
        "TypeError",
        "on_bar returned a dict where an OrderIntent belongs",
    ),
    "None in the list": (None, "TypeError", "on_bar returned a NoneType"),
    "a negative quantity": (
        buy("-3"),
        "ValueError",
        "quantity must not be negative, got -3 (a sell is side=Side.SELL",
    ),
    # Decimal(-1) * 0: it passed as a zero below the lot, and SIGNAL and QTY_BELOW_LOT
    # recorded "-0", which verify refused (a quantity has no sign): a run it broke.
    "a negative zero quantity": (
        buy("-0"),
        "ValueError",
        "quantity must not be negative, got -0 (a negative zero): give 0",
    ),
    "a NaN quantity": (buy("NaN"), "ValueError", "quantity must be a finite number, got NaN"),
    "an infinite quantity": (buy("Infinity"), "ValueError", "finite number, got Infinity"),
    "a float quantity": (
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=0.5),  # type: ignore[arg-type]
        "ValueError",
        (
            "quantity must be a Decimal, got float 0.5: make it from the number's text, "
            "Decimal(str(x)), not Decimal(x), which takes a float's binary value"
        ),
    ),
    # numpy's numbers, as a strategy computing with numpy or pandas returns them. Before,
    # the refusal named the type alone, not what to write.
    "a float subclass quantity (numpy's float64)": (
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=Float64(0.1 + 0.2)),  # type: ignore[arg-type]
        "ValueError",
        (
            "quantity must be a Decimal, got Float64 0.30000000000000004: make it from the "
            "number's text, Decimal(str(x))"
        ),
    ),
    "an integer of another type (numpy's int64)": (
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=Int64(3)),  # type: ignore[arg-type]
        "ValueError",
        "quantity must be a Decimal, got Int64 Int64(3): give int(x)",
    ),
    "a number with __float__ alone (numpy's float32)": (
        buy("0.01", order_type=OrderType.LIMIT, limit_price=Float32(41000.5)),
        "ValueError",
        (
            "limit_price must be a Decimal, got Float32 Float32(41000.5): make it from the "
            "number's text, Decimal(str(x))"
        ),
    ),
    "a NaN float quantity": (
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=float("nan")),  # type: ignore[arg-type]
        "ValueError",
        "quantity must be a Decimal, got float nan: NaN and the infinities are no number",
    ),
    "a bool of another type (numpy's bool_, as a comparison of its floats gives)": (
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=D("0.01"), reduce_only=Bool_()),  # type: ignore[arg-type]
        "ValueError",
        "reduce_only must be a bool, got Bool_(True): give bool(x)",
    ),
    "a quantity as text": (
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity="0.01"),  # type: ignore[arg-type]
        "ValueError",
        "quantity must be a Decimal, got str '0.01': give Decimal(x), the text's Decimal",
    ),
    "a side as text": (
        OrderIntent(symbol="BTC/USDT", side="BUY", quantity=D("0.01")),  # type: ignore[arg-type]
        "ValueError",
        "side must be Side.BUY or Side.SELL, got 'BUY'",
    ),
    "an order type as text": (
        OrderIntent(
            symbol="BTC/USDT",
            side=Side.BUY,
            quantity=D("0.01"),
            order_type="market",  # type: ignore[arg-type]
        ),
        "ValueError",
        "order_type must be OrderType.MARKET, OrderType.LIMIT or OrderType.STOP, got 'market'",
    ),
    "an empty symbol": (
        OrderIntent(symbol="", side=Side.BUY, quantity=D("0.01")),
        "ValueError",
        "symbol must not be empty",
    ),
    "a zero limit price": (
        buy("0.01", order_type=OrderType.LIMIT, limit_price=D("0")),
        "ValueError",
        "limit_price must be positive, got 0",
    ),
    "a NaN stop loss": (
        buy("0.01", stop_loss_pct=D("NaN")),
        "ValueError",
        "stop_loss_pct must be a finite number",
    ),
    # A number with more digits than Decimal keeps. Before, Decimal(0.3) (a float's binary
    # value, 0.29999999999999998889...) was taken and rounded down to the lot: an order of
    # 0.299 where the strategy meant 0.3; a price made so was a PRICE_OFF_TICK rejection
    # that never said why. Now refused, naming the float and what to write.
    "a quantity made from a float": (
        OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=D(0.3)),
        "ValueError",
        (
            "an OrderIntent's quantity has 54 significant digits, more than the 28 Decimal "
            "arithmetic keeps: the run would round it; got "
            "0.299999999999999988897769753748434595763683319091796875, Decimal(0.3), the binary "
            "value of the float 0.3: make it from the float's text, Decimal(str(x)), or round it "
            "to the grid first"
        ),
    ),
    "a limit price made from a float": (
        buy("0.01", order_type=OrderType.LIMIT, limit_price=D(41810.26)),
        "ValueError",
        (
            "limit_price has 42 significant digits, more than the 28 Decimal arithmetic keeps: "
            "the run would round it; got 41810.2600000000020372681319713592529296875, "
            "Decimal(41810.26), the binary value of the float 41810.26: make it from the float's"
        ),
    ),
    "a stop loss made from a float": (
        buy("0.01", stop_loss_pct=D(0.02)),
        "ValueError",
        "stop_loss_pct has 57 significant digits, more than the 28 Decimal arithmetic keeps",
    ),
    "a quantity of 31 digits": (
        buy("0.2999999999999999999999999999999"),
        "ValueError",
        (
            "quantity has 31 significant digits, more than the 28 Decimal arithmetic keeps: the "
            "run would round it; got 0.2999999999999999999999999999999: round it to the grid "
            "first (Decimal.quantize)"
        ),
    ),
    # Fields each sound that do not go together. Before, a MARKET intent with a
    # limit_price was valued by the rails at that price (1.00: any size passed the notional
    # rail), a LIMIT without a price went to the venue unpriced, and a stop loss of 2
    # (meant as 2 %) placed a stop at a negative price.
    "a market order with a price": (
        buy("0.01", limit_price=D("1.00")),
        "ValueError",
        "a MARKET OrderIntent carries no limit_price, got 1.00: use order_type=OrderType.LIMIT",
    ),
    "a limit order without a price": (
        buy("0.01", order_type=OrderType.LIMIT),
        "ValueError",
        "a LIMIT OrderIntent needs its price in limit_price",
    ),
    "a stop order without a price": (
        buy("0.01", order_type=OrderType.STOP),
        "ValueError",
        "a STOP OrderIntent needs its price in limit_price",
    ),
    "a stop loss of 200 %": (
        buy("0.01", stop_loss_pct=D("2")),
        "ValueError",
        "stop_loss_pct must be below 1 (a fraction of the entry price: 0.02 is 2 %), got 2",
    ),
    "a take profit of 100 %": (
        buy("0.01", take_profit_pct=D("1")),
        "ValueError",
        "take_profit_pct must be below 1 (a fraction of the entry price: 0.02 is 2 %), got 1",
    ),
}


class TestIntentProblem:
    def test_numpy_s_own_numbers_are_named_with_what_to_write(self):
        """The numpy-free cases above stand for these: numpy's types behave as they do."""
        np = pytest.importorskip("numpy")
        said = {
            "float64": intent_problem(OrderIntent(**_fields(quantity=np.float64(0.3)))),
            "int64": intent_problem(OrderIntent(**_fields(quantity=np.int64(3)))),
            "float32": intent_problem(OrderIntent(**_fields(quantity=np.float32(0.1)))),
            "Decimal(float64)": intent_problem(buy(str(D(np.float64(0.3))))),
        }
        assert said == {
            "float64": "an OrderIntent's quantity must be a Decimal, got float64 "
            "np.float64(0.3): make it from the number's text, Decimal(str(x)), not "
            "Decimal(x), which takes a float's binary value",
            "int64": "an OrderIntent's quantity must be a Decimal, got int64 np.int64(3): "
            "give int(x)",
            "float32": "an OrderIntent's quantity must be a Decimal, got float32 "
            "np.float32(0.1): make it from the number's text, Decimal(str(x)), not "
            "Decimal(x), which takes a float's binary value",
            "Decimal(float64)": "an OrderIntent's quantity has 54 significant digits, more "
            "than the 28 Decimal arithmetic keeps: the run would round it; got "
            "0.299999999999999988897769753748434595763683319091796875, Decimal(0.3), the "
            "binary value of the float 0.3: make it from the float's text, Decimal(str(x)), "
            "or round it to the grid first",
        }

    @pytest.mark.parametrize("case", sorted(_BAD_INTENTS))
    def test_names_what_is_wrong(self, case: str):
        intent, _error, message = _BAD_INTENTS[case]
        problem = intent_problem(intent)
        assert problem is not None
        assert message in problem

    @pytest.mark.parametrize(
        "intent",
        [
            buy("0.01"),
            buy("0"),  # below any lot: refused as a signal, not a broken strategy
            OrderIntent(symbol="BTC/USDT", side=Side.SELL, quantity=2),
            buy("0.01", order_type=OrderType.LIMIT, limit_price=D("39000"), reason="dip"),
            buy("0.01", take_profit_pct=D("0.02"), stop_loss_pct=D("0.01")),
        ],
    )
    def test_a_usable_intent_has_none(self, intent: OrderIntent):
        assert intent_problem(intent) is None


_ONE_UNIT = {"max_order_qty": "2", "per_trade_risk_pct": "0.05", "max_order_notional": "60000"}
"""Limits under which one whole unit at 40,000 passes every rail."""


class TestIntentsTheSessionCannotActOn:
    @pytest.mark.parametrize("case", sorted(_BAD_INTENTS))
    def test_fault_like_a_raise_and_the_run_verifies(self, tmp_path: Path, case: str):
        """Bar 3 returns the bad item after a good buy: nothing of bar 3 is sent."""
        bad, error, message = _BAD_INTENTS[case]
        strategy = ScriptedStrategy(at({1: [buy("0.010")], 3: [buy("0.010"), bad]}))
        run_dir, result = _one_shot(tmp_path, "bad-intent", strategy)
        assert (result.state, result.status, result.reason) == (
            SessionState.STOPPED,
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
        )
        (event,) = _events(run_dir, "STRATEGY_ERROR")
        assert event["payload"]["error"] == error
        assert message in event["payload"]["message"]
        assert event["payload"]["step"] == 3
        signals = _events(run_dir, "SIGNAL")
        assert [s["payload"]["intent_seq"] for s in signals] == [1]  # bar 3 sent nothing
        flatten = [
            e for e in _events(run_dir, "ORDER_SUBMITTED") if e["payload"]["reason"] == "flatten"
        ]
        assert len(flatten) == 1  # bar 1's position was wound down

    def test_the_exception_behind_the_fault_is_kept_in_memory_only(self, tmp_path: Path):
        """``inspect().fault_cause`` is what on_bar raised, traceback and all (the testing
        kit names the line from it); never in the inspection's repr, whose reader may log
        it: its message is as raised, not redacted."""

        class Raises(ScriptedStrategy):
            def on_bar(self, bar: Any, view: Any) -> Any:
                intents = super().on_bar(bar, view)
                if self.bars == 3:
                    raise RuntimeError("alpha blew up: password=hunter2hunter2")
                return intents

        cfg = _config("kept")
        session = create_run(
            cfg, tmp_path, strategy=Raises(at({})), feed=ScriptedFeed(["40000.00"])
        )
        assert session.inspect().fault_cause is None
        session.run_to_end(cfg.steps, operator="cli")
        inside = session.inspect()
        session.close()
        cause = inside.fault_cause
        assert isinstance(cause, RuntimeError)
        assert cause.__traceback__ is not None
        assert cause.__traceback__.tb_next is not None  # into on_bar
        assert cause.__traceback__.tb_next.tb_frame.f_code.co_name == "on_bar"
        assert "hunter2" not in repr(inside)
        assert "hunter2" not in (tmp_path / "kept" / "events.jsonl").read_text()

    @pytest.mark.parametrize(
        ("returned", "message"),
        [
            (
                {"symbol": "BTC/USDT", "side": "BUY"},
                "on_bar returned a dict where a list of OrderIntent belongs",
            ),
            ("BUY 0.01", "on_bar returned a str where a list of OrderIntent belongs"),
            (7, "on_bar returned an int where a list of OrderIntent belongs"),
            (buy("0.010"), "on_bar returned an OrderIntent, not a list of them: return [intent]"),
            # A set's order changes between processes (PYTHONHASHSEED): runs would differ.
            ({buy("0.010")}, "on_bar returned a set where a list of OrderIntent belongs: a set's"),
            (frozenset({buy("0.010")}), "on_bar returned a frozenset where a list of OrderIntent"),
            ({buy("0.010"): 1}.keys(), "on_bar returned a dict_keys where a list of OrderIntent"),
            ({buy("0.010"): 1}.items(), "on_bar returned a dict_items where a list of"),
        ],
        ids=["dict", "str", "int", "intent", "set", "frozenset", "dict-keys", "dict-items"],
    )
    def test_what_is_returned_instead_of_a_list_is_named(
        self, tmp_path: Path, returned: Any, message: str
    ):
        """Bug: a dict returned whole was iterated (its keys) and reported as "on_bar
        returned a str where an OrderIntent belongs"; a str was iterated char by char."""

        class Returns(ScriptedStrategy):
            def on_bar(self, bar: Any, view: Any) -> Any:
                intents = super().on_bar(bar, view)
                return intents if self.bars < 3 else returned

        run_dir, result = _one_shot(tmp_path, "returns", Returns(at({1: [buy("0.010")]})))
        assert (result.status, result.reason) == (SessionStatus.FAILED, "STRATEGY_ERROR")
        (event,) = _events(run_dir, "STRATEGY_ERROR")
        assert event["payload"]["error"] == "TypeError"
        assert event["payload"]["message"].startswith(message)

    def test_a_forgotten_return_says_what_to_return(self, tmp_path: Path):
        """``on_bar`` without a ``return`` gives None: the fault says to return a list."""

        class Forgets(ScriptedStrategy):
            def on_bar(self, bar: Any, view: Any) -> Any:
                intents = super().on_bar(bar, view)
                return intents if self.bars < 3 else None

        strategy = Forgets(at({1: [buy("0.010")]}))
        run_dir, result = _one_shot(tmp_path, "forgot", strategy)
        assert (result.status, result.reason) == (SessionStatus.FAILED, "STRATEGY_ERROR")
        (event,) = _events(run_dir, "STRATEGY_ERROR")
        assert (
            event["payload"]["error"],
            event["payload"]["message"],
            event["payload"]["step"],
        ) == (
            "TypeError",
            "on_bar returned None: return a list of OrderIntent ([] when there is nothing to do)",
            3,
        )

    def test_signal_and_order_write_the_quantity_as_the_lot_does(self, tmp_path: Path):
        """An intent of 0.0100000 is the order of 0.010, and its SIGNAL says 0.010 too (as
        before this stop's refactor of the SIGNAL, which briefly wrote the intent's form)."""
        strategy = ScriptedStrategy(at({2: [buy("0.0100000")]}))
        run_dir, _result = _one_shot(tmp_path, "lot-form", strategy)
        (signal,) = _events(run_dir, "SIGNAL")
        submitted = _events(run_dir, "ORDER_SUBMITTED")[0]
        assert signal["payload"]["quantity"] == submitted["payload"]["quantity"] == "0.010"

    def test_an_int_quantity_is_a_quantity(self, tmp_path: Path):
        intent = OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=1)
        strategy = ScriptedStrategy(at({2: [intent]}))
        run_dir, result = _one_shot(tmp_path, "int-qty", strategy, risk=_ONE_UNIT)
        assert result.status is SessionStatus.COMPLETED
        (submitted,) = [
            e for e in _events(run_dir, "ORDER_SUBMITTED") if e["payload"]["reason"] != "flatten"
        ]
        assert D(submitted["payload"]["quantity"]) == 1
        (signal,) = _events(run_dir, "SIGNAL")
        assert signal["payload"]["quantity"] == submitted["payload"]["quantity"]


class TestRoundedToTheLot:
    def test_never_above_the_quantity_asked(self, tmp_path: Path):
        """28 digits just below 1, at a lot of 0.005: the quotient (199.99...98) needs 29
        digits. Before, it was rounded to 200 first, and the order was for 1.000, more than
        the strategy asked; rounded down to the lot it is 0.995."""
        asked = D("0.9999999999999999999999999999")
        strategy = ScriptedStrategy(at({2: [buy(str(asked))]}))
        run_dir, result = _one_shot(tmp_path, "lot5", strategy, qty_lot="0.005", risk=_ONE_UNIT)
        assert result.status is SessionStatus.COMPLETED
        (signal,) = _events(run_dir, "SIGNAL")
        assert signal["payload"]["quantity"] == "0.995"
        entry = _events(run_dir, "ORDER_SUBMITTED")[0]
        assert entry["payload"]["quantity"] == "0.995"


class TestBelowTheLot:
    @pytest.mark.parametrize("quantity", ["0", "0.0004"])
    def test_is_a_refused_signal(self, tmp_path: Path, quantity: str):
        """Rounded to the lot (0.001) it is nothing: SIGNAL, then RISK_REJECTED QTY_BELOW_LOT."""
        strategy = ScriptedStrategy(at({2: [buy(quantity)], 3: [buy("0.010")]}))
        run_dir, result = _one_shot(tmp_path, "below-lot", strategy)
        assert result.status is SessionStatus.COMPLETED
        signals = _events(run_dir, "SIGNAL")
        assert [(s["payload"]["intent_seq"], s["payload"]["quantity"]) for s in signals] == [
            (1, quantity),
            (2, "0.010"),
        ]
        (rejected,) = _events(run_dir, "RISK_REJECTED")
        assert rejected["payload"] == {
            "intent_seq": 1,
            "signal_id": signals[0]["event_id"],
            "rule": "QTY_BELOW_LOT",
            "symbol": "BTC/USDT",
            "side": "BUY",
            "quantity": quantity,
            "lot": "0.001",
            "reason": f"quantity {quantity} is below the lot 0.001",
        }
        audit = [orjson.loads(line) for line in (run_dir / "audit.jsonl").read_bytes().splitlines()]
        assert [r["code"] for r in audit].count("C2_REJECT_QTY_BELOW_LOT") == 1
        assert len(_events(run_dir, "ORDER_SUBMITTED")) == 2  # bar 3's order and the flatten


# -- bars ----------------------------------------------------------------------------------


def _bar(**change: Any) -> Bar:
    values: dict[str, Any] = {
        "symbol": "BTC/USDT",
        "ts_ns": 0,
        "open": D("100"),
        "high": D("101"),
        "low": D("99"),
        "close": D("100.5"),
        "volume": D("3"),
    }
    values.update(change)
    return Bar(**values)


_BAD_BARS = {
    "a dict": ({"close": "1"}, "TypeError", "next_bar returned a dict where a Bar belongs"),
    "another symbol": (
        _bar(symbol="ETH/USDT"),
        "ValueError",
        "next_bar returned a bar of 'ETH/USDT'; the session trades 'BTC/USDT'",
    ),
    "a float price": (_bar(open=100.0), "ValueError", "open must be a Decimal, got float 100.0"),
    # A feed of rows read with pandas: Decimal(row.close) is the float's binary value. Before,
    # it was "off the price_tick grid ... or set price_tick to the feed's", which it is not;
    # a volume so made was recorded with its 40 digits, where a data file's is refused.
    "a price made from a float": (
        _bar(close=D(100.3)),
        "ValueError",
        (
            "a Bar's close has 49 significant digits, more than the 28 Decimal arithmetic keeps: "
            "the run would round it; got 100.2999999999999971578290569595992565155029296875, "
            "Decimal(100.3), the binary value of the float 100.3: make it from the float's text, "
            "Decimal(str(x))"
        ),
    ),
    "a volume made from a float": (
        _bar(volume=D(1234.5678)),
        "ValueError",
        "a Bar's volume has 46 significant digits, more than the 28 Decimal arithmetic keeps",
    ),
    "a NaN close": (_bar(close=D("NaN")), "ValueError", "close must be a finite number, got NaN"),
    "a zero low": (_bar(low=D("0")), "ValueError", "a Bar's low must be positive, got 0"),
    "a negative volume": (_bar(volume=D("-1")), "ValueError", "volume must not be negative"),
    "a negative zero volume": (  # recorded "-0.0", it failed verify
        _bar(volume=D("-0.0")),
        "ValueError",
        "a Bar's volume must not be negative, got -0.0 (a negative zero): give 0",
    ),
    "high below low": (
        _bar(high=D("98")),
        "ValueError",
        "a Bar's high 98 is below its low 99",
    ),
    "close above high": (
        _bar(close=D("102")),
        "ValueError",
        "a Bar's close 102 is outside [low 99, high 101]",
    ),
    "a float time": (_bar(ts_ns=1.5), "ValueError", "ts_ns must be an int, got float"),
}


class _BadFeed(ScriptedFeed):
    """Gives ``bad`` for bar ``at_bar``, good bars otherwise."""

    def __init__(self, at_bar: int, bad: Any) -> None:
        super().__init__(["100.5"], spread="0.5")
        self._at = at_bar
        self._bad = bad

    def next_bar(self, ts_ns: int) -> Any:
        bar = super().next_bar(ts_ns)
        if self._n != self._at:
            return bar
        if isinstance(self._bad, Bar) and isinstance(self._bad.ts_ns, int):
            return attrs.evolve(self._bad, ts_ns=ts_ns)  # at the step's time
        return self._bad


class TestBars:
    @pytest.mark.parametrize("case", sorted(_BAD_BARS))
    def test_bar_problem_names_it(self, case: str):
        bar, _error, message = _BAD_BARS[case]
        assert message in (bar_problem(bar, "BTC/USDT") or "")

    @pytest.mark.parametrize(
        "bar", [_bar(), _bar(volume=D("0")), _bar(open=D("99"), close=D("101")), _bar(open=100)]
    )
    def test_a_usable_bar_has_none(self, bar: Bar):
        assert bar_problem(bar, "BTC/USDT") is None

    @pytest.mark.parametrize("case", sorted(_BAD_BARS))
    def test_a_bad_bar_is_a_feed_error_before_it_is_recorded(self, tmp_path: Path, case: str):
        bad, error, message = _BAD_BARS[case]
        feed = _BadFeed(6, bad)
        cfg = _config("bad-bar")
        strategy = ScriptedStrategy(at({1: [buy("0.010")]}))
        session = create_run(cfg, tmp_path, strategy=strategy, feed=feed)
        result = session.run_to_end(cfg.steps, operator="cli")
        session.close()
        run_dir = tmp_path / "bad-bar"
        assert verify_run(run_dir).ok
        assert (result.status, result.reason, result.steps) == (
            SessionStatus.FAILED,
            "FEED_ERROR",
            5,
        )
        (event,) = _events(run_dir, "FEED_ERROR")
        assert (event["payload"]["error"], event["payload"]["step"]) == (error, 6)
        assert message in event["payload"]["message"]
        assert len(_events(run_dir, "BAR")) == 5
        assert [D(held) for held in _final_positions(run_dir)] == [0]  # bar 1's buy, flattened

    def test_the_built_in_feeds_are_not_checked_again(self):
        """Their bars are checked where they are made (a data file up front)."""
        assert assemble(_config("built-in"), SessionEdges(), seal=lambda: None).own_feed
        mine = SessionEdges(feed=ScriptedFeed(["1"]))
        assert not assemble(_config("mine"), mine, seal=lambda: None).own_feed

    def test_a_subclass_of_a_built_in_feed_is_checked(self):
        """Its ``next_bar`` may be its own: only the built-in feeds themselves are trusted."""
        assert not assemble(
            _config("sub"), SessionEdges(feed=_OffGridWalk(symbol="BTC/USDT")), seal=lambda: None
        ).own_feed

    def test_a_subclass_s_bad_bar_is_a_feed_error(self, tmp_path: Path):
        """A ``RandomWalkFeed`` subclass whose bar 6 is off the tick's grid: that bar was
        recorded unchecked, the run sealed COMPLETED, and verify refused it (``BAR close
        ... is off the price_tick 0.01 grid``). It is the feed's error now, not recorded."""
        cfg = _config("sub-walk", strategy_id="sma", steps=20)
        session = create_run(cfg, tmp_path, feed=_OffGridWalk(symbol=cfg.symbol))
        result = session.run_to_end(cfg.steps, operator="cli")
        session.close()
        run_dir = tmp_path / "sub-walk"
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations
        assert (result.status, result.reason, result.steps) == (
            SessionStatus.FAILED,
            "FEED_ERROR",
            5,
        )
        (event,) = _events(run_dir, "FEED_ERROR")
        assert event["payload"]["error"] == "ValueError"
        assert "is off the price_tick grid 0.01" in event["payload"]["message"]
        assert len(_events(run_dir, "BAR")) == 5


class _OffGridWalk(RandomWalkFeed):
    """The built-in random walk, but its ``next_bar`` gives bar 6 a close off the grid."""

    def __init__(self, *, symbol: str) -> None:
        super().__init__(
            symbol=symbol, seed=5, initial_price=D("40000"), tick=D("0.01"), lot=D("0.001")
        )
        self.bars = 0

    def next_bar(self, ts_ns: int) -> Bar:
        bar = super().next_bar(ts_ns)
        self.bars += 1
        if self.bars != 6:
            return bar
        return attrs.evolve(bar, close=bar.close + D("0.003"), high=bar.high + D("1"))


def _final_positions(run_dir: Path) -> list[str]:
    lines = (run_dir / "state_snapshots.jsonl").read_bytes().splitlines()
    return list(orjson.loads(lines[-1])["positions"].values())


# -- the strategy's state ----------------------------------------------------------------------


class _StateStrategy(ScriptedStrategy):
    """Buys on bar 1; from bar ``bad_from`` on, ``get_state`` gives ``state`` (or raises it)."""

    def __init__(self, bad_from: int, state: Any) -> None:
        super().__init__(at({1: [buy("0.010")]}))
        self._bad_from = bad_from
        self._state = state

    def get_state(self) -> dict[str, Any]:
        if self.bars < self._bad_from:
            return super().get_state()
        if isinstance(self._state, Exception):
            raise self._state
        return {"bars": self.bars, "extra": self._state}


class _FailsOnCall(_StateStrategy):
    """``get_state`` gives ``state`` from its ``call``-th call on (activation, the stop's
    check, the checkpoint that makes the stop durable, the seal: the fourth is the seal's)."""

    def __init__(self, call: int, state: Any) -> None:
        super().__init__(10**9, state)
        self._call, self._calls = call, 0

    def get_state(self) -> dict[str, Any]:
        self._calls += 1
        if self._calls >= self._call:
            self._bad_from = 0
        return super().get_state()


class _Qty(int):
    """An int of the strategy's own, which JSON gives back as a plain int."""


class _Array:
    """As numpy's ndarray (or a pandas Series): sized, with ``tolist``."""

    def __len__(self) -> int:
        return 2

    def tolist(self) -> list[float]:
        return [1.0, 2.0]


class _Frame:
    """As a pandas DataFrame: ``to_dict``."""

    def to_dict(self, orient: str) -> dict[str, list[float]]:
        return {"close": [1.0]}


class _Stamp:
    """As a pandas Timestamp, which orjson does not take as a datetime."""

    def isoformat(self) -> str:
        return "2026-01-01T00:00:00+00:00"


class _StateFeed(ScriptedFeed):
    def get_state(self) -> dict[str, Any]:
        return {"n": self._n, "prices": {D("1")}}


class TestStateTheCheckpointCannotHold:
    @pytest.mark.parametrize(
        ("state", "shown"),
        [
            ({1, 2}, "Type is not JSON serializable: set"),
            (D("1.5"), "Type is not JSON serializable: decimal.Decimal"),
            ({1: "int key"}, "Dict key must be str"),
            # numpy's and pandas' values, each named with what gives its content as JSON
            ({1, 2}, "set) at state['extra'] (sorted(x) is a list of it, in an order that"),
            (Float64(0.5), "Float64) at state['extra'] (float(x) is the float it holds)"),
            (Int64(3), "Int64) at state['extra'] (int(x) is the integer it holds)"),
            (_Array(), "_Array) at state['extra'] (x.tolist() gives its values as plain lists"),
            (_Frame(), "_Frame) at state['extra'] (x.to_dict(\"list\") gives its columns as"),
            (_Stamp(), "_Stamp) at state['extra'] (x.isoformat() is its text)"),
            # numpy's random generator state (bit_generator.state) holds 128-bit integers
            ({"state": 2**127 + 1}, "64-bit range) at state['extra']['state'] (str(x) keeps it"),
            # a subclass of a JSON type: it came back plain, equal to it, so it was taken; a
            # resume handed set_state a dict where the run had kept a Counter (or a
            # defaultdict), and the resumed run failed on a missing key the uninterrupted
            # one counted from 0 (KeyError: 'flat')
            (Counter(flat=3), "Counter) at state['extra'] (dict(x) is it as JSON: a resume "),
            (
                {"h": defaultdict(list)},
                (
                    "defaultdict) at state['extra']['h'] (dict(x) is it as JSON: a resume hands "
                    "set_state a plain dict, to make a defaultdict again)"
                ),
            ),
            ([_Qty(3)], "_Qty) at state['extra'][0] (int(x) is it as JSON"),
        ],
    )
    def test_at_activation_the_run_fails_at_step_0(self, tmp_path: Path, state: Any, shown: str):
        run_dir, result = _one_shot(tmp_path, "state0", _StateStrategy(0, state))
        assert (result.status, result.reason, result.steps) == (
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
            0,
        )
        (event,) = _events(run_dir, "STRATEGY_ERROR")
        assert event["payload"]["error"] == "TypeError"
        assert event["payload"]["step"] == 0
        assert event["payload"]["message"].startswith("get_state gave what JSON cannot hold (")
        assert shown in event["payload"]["message"]
        assert "store Decimals as strings" in event["payload"]["message"]
        checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
        assert (checkpoint["sealed"], checkpoint["strategy"]) == (True, None)

    @pytest.mark.parametrize(
        ("state", "shown"), [(None, "None"), ([1, 2], "a list"), ("{}", "a str")]
    )
    def test_a_state_that_is_no_dict_fails_at_step_0(self, tmp_path: Path, state: Any, shown: str):
        """A ``get_state`` without its ``return`` gives None. Before, the run went on and
        sealed COMPLETED, and every checkpoint held None: after a crash, ``resume`` handed
        set_state None and was refused (``'NoneType' object is not subscriptable``), the
        run never to be finished, while ``status`` said it could be resumed."""

        class _Gives(ScriptedStrategy):
            def get_state(self) -> Any:
                return state

        run_dir, result = _one_shot(tmp_path, "no-dict", _Gives(at({1: [buy("0.010")]})))
        assert (result.status, result.reason, result.steps) == (
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
            0,
        )
        (event,) = _events(run_dir, "STRATEGY_ERROR")
        assert event["payload"]["message"] == (
            f"get_state returned {shown}, not a dict (a forgotten return?): set_state gets it "
            "back on resume; return the state as a dict of JSON values, {} when there is "
            "nothing to keep"
        )
        checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
        assert (checkpoint["sealed"], checkpoint["strategy"]) == (True, None)

    def test_later_the_last_good_checkpoint_stays_until_the_seal(self, tmp_path: Path):
        """Bad from bar 15: the checkpoint of step 20 fails; the run winds down FAILED."""
        cfg = _config("state20")
        session = create_run(
            cfg, tmp_path, strategy=_StateStrategy(15, {1}), feed=ScriptedFeed(["40000.00"])
        )
        assert session.preflight()
        session.activate()
        assert session.run_n_steps(25) == 20
        assert session.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert session.trading_state is TradingState.HALTED
        assert session.steps_done == 20
        on_disk = orjson.loads((tmp_path / "state20" / "checkpoint.json").read_bytes())
        assert (on_disk["steps"], on_disk["strategy"]) == (10, {"bars": 10})
        (event,) = _events_of_session(session, tmp_path / "state20", "STRATEGY_ERROR")
        assert event["payload"]["step"] == 20
        session.acknowledge("ops-1")
        session.close()
        assert (session.state, session.status) == (SessionState.STOPPED, SessionStatus.FAILED)
        verdict = verify_run(tmp_path / "state20")
        assert verdict.ok, verdict.violations
        with pytest.raises(RunDirectoryError, match="already ended with status FAILED"):
            resume_run(tmp_path / "state20")

    def test_a_get_state_that_raises_is_redacted(self, tmp_path: Path):
        error = RuntimeError(f"state store login password={SECRET}")
        run_dir, result = _one_shot(tmp_path, "raises", _StateStrategy(5, error))
        assert (result.status, result.reason, result.steps) == (
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
            10,
        )
        (event,) = _events(run_dir, "STRATEGY_ERROR")
        assert event["payload"] == {
            "error": "RuntimeError",
            "message": "state store login password=***",
            "step": 10,
        }
        for path in run_dir.iterdir():
            if path.is_file() and path.suffix in (".jsonl", ".json"):
                assert SECRET.encode() not in path.read_bytes(), path.name
        assert SECRET not in result.detail

    def test_a_feed_state_fails_as_a_feed_error(self, tmp_path: Path):
        cfg = _config("feed-state")
        session = create_run(
            cfg, tmp_path, strategy=ScriptedStrategy(at({})), feed=_StateFeed(["1"])
        )
        result = session.run_to_end(cfg.steps, operator="cli")
        session.close()
        assert (result.status, result.reason) == (SessionStatus.FAILED, "FEED_ERROR")
        assert _events(tmp_path / "feed-state", "FEED_ERROR")[0]["payload"]["step"] == 0
        assert verify_run(tmp_path / "feed-state").ok

    def test_failing_at_the_stop_fails_the_run_rather_than_sealing_it_without(self, tmp_path: Path):
        """No checkpoint between bar 15 and the end (a run shorter than checkpoint_every).
        Before, the run was sealed COMPLETED with the strategy's state missing, though the
        same strategy failed any longer run: the stop now takes the state first, and a state
        it cannot record fails the run as a checkpoint would (wound down, FAILED)."""
        run_dir, result = _one_shot(
            tmp_path, "at-stop", _StateStrategy(15, {1}), checkpoint_every=1000
        )
        assert (result.status, result.reason, result.steps) == (
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
            40,
        )
        assert result.state is SessionState.STOPPED  # the operator (cli) wound it down
        assert not any(result.positions.values())
        (event,) = _events(run_dir, "STRATEGY_ERROR")
        assert event["payload"]["step"] == 40
        assert "cannot hold" in event["payload"]["message"]

    def test_a_stop_asked_for_faults_instead_and_says_why(self, tmp_path: Path):
        """An operator's stop (SIGTERM, ``request_stop``) meets a state it cannot record:
        no stop, the fault instead (NOT_APPLICABLE, saying so); acknowledged, it winds
        down FAILED. A feed that runs out meets it the same way."""
        cfg = _config("asked", checkpoint_every=1000)
        session = create_run(
            cfg, tmp_path, strategy=_StateStrategy(15, {1}), feed=ScriptedFeed(["40000.00"])
        )
        assert session.preflight()
        session.activate()
        assert session.run_n_steps(20) == 20
        said = session.request_stop("desk")
        assert said.outcome is VerbOutcome.NOT_APPLICABLE
        assert said.message.startswith("STRATEGY_ERROR: the session is ERROR_REQUIRES_OPERATOR")
        assert session.acknowledge("ops-1").outcome is VerbOutcome.APPLIED
        session.close()
        assert (session.state, session.status) == (SessionState.STOPPED, SessionStatus.FAILED)
        assert verify_run(tmp_path / "asked").ok

        class _Runs(ScriptedFeed):
            def next_bar(self, ts_ns: int) -> Any:
                return None if self._n >= 20 else super().next_bar(ts_ns)

        cfg = _config("runs-out", checkpoint_every=1000)
        session = create_run(
            cfg, tmp_path, strategy=_StateStrategy(15, {1}), feed=_Runs(["40000.00"])
        )
        result = session.run_to_end(cfg.steps, operator="cli")
        assert (result.status, result.reason, result.steps) == (
            SessionStatus.FAILED,
            "STRATEGY_ERROR",
            20,
        )
        assert verify_run(tmp_path / "runs-out").ok

    def test_a_sigterm_meeting_it_is_logged_as_not_done(self, tmp_path: Path):
        """The CLI's SIGTERM answer in the session log said "done" before trying; it says
        what happened."""
        from livesession.control import SignalControls

        cfg = _config("signalled", checkpoint_every=1000)
        session = create_run(
            cfg, tmp_path, strategy=_StateStrategy(15, {1}), feed=ScriptedFeed(["40000.00"])
        )
        assert session.preflight()
        session.activate()
        session.run_n_steps(20)
        controls = SignalControls()
        controls.stop_reason = "SIGNAL_SIGTERM"
        log = io.StringIO()
        configure_logging(log)
        try:
            assert controls.at_step_boundary(session)
        finally:
            disable_logging()
        (line,) = [orjson.loads(x) for x in log.getvalue().splitlines() if "operator_control" in x]
        assert line["outcome"] == "not done: STRATEGY_ERROR: the session is ERROR_REQUIRES_OPERATOR"
        session.acknowledge("ops-1")
        session.close()
        assert verify_run(tmp_path / "signalled").ok

    def test_failing_first_at_the_seal_is_logged_and_the_seal_still_goes_out(self, tmp_path: Path):
        """A state that still held as the stop began and fails at the seal: the sealed run
        keeps what it recorded, and the session log says why its key is empty."""
        log = io.StringIO()
        configure_logging(log)
        try:
            run_dir, result = _one_shot(
                tmp_path, "at-seal", _FailsOnCall(4, {1}), checkpoint_every=1000
            )
        finally:
            disable_logging()
        assert result.status is SessionStatus.COMPLETED
        checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
        assert (checkpoint["sealed"], checkpoint["strategy"]) == (True, None)
        lines = [orjson.loads(line) for line in log.getvalue().splitlines()]
        (line,) = [entry for entry in lines if entry["event"] == "plugin_state_failed_at_seal"]
        assert (line["reason"], line["error"], line["level"]) == (
            "STRATEGY_ERROR",
            "TypeError",
            "error",
        )

    def test_run_n_steps_before_activate_says_so(self):
        """Not a strategy matter, found on the way: 0 steps would hide a missing activate()."""
        session = LiveSessionOrchestrator(_config("inactive"), **Sinks().kwargs())
        with pytest.raises(
            InvalidTransition, match=r"^run_n_steps\(\) is not allowed in state INIT"
        ):
            session.run_n_steps(5)
        assert session.preflight()
        with pytest.raises(InvalidTransition, match="in state PREFLIGHT_OK"):
            session.run_n_steps(5)
        session.activate()
        assert session.run_n_steps(5) == 5
        session.close()

    def test_in_memory_nothing_is_checked(self, tmp_path: Path):
        """Without a checkpoint store nothing serialises the state: nothing to fail; asked
        for the state, the session says whose it is."""
        cfg = _config("memory")
        sinks = Sinks()
        session = LiveSessionOrchestrator(
            cfg, strategy=_StateStrategy(0, {1}), feed=ScriptedFeed(["40000.00"]), **sinks.kwargs()
        )
        assert session.run_to_end(cfg.steps).status is SessionStatus.COMPLETED
        _verify_memory(sinks, tmp_path / "memory")
        with pytest.raises(PluginStateError, match="the strategy's get_state failed") as caught:
            session.get_state()
        assert caught.value.reason == "STRATEGY_ERROR"


def _events_of_session(
    session: LiveSessionOrchestrator, run_dir: Path, event_type: str
) -> list[dict[str, Any]]:
    session.recorder.flush(sync=False)
    return _events(run_dir, event_type)


# -- the error tree ---------------------------------------------------------------------------


def test_every_exception_is_in_the_drawn_tree():
    """``_exceptions``' docstring draws the tree: each class stands in it under its base."""
    module = livesession._exceptions
    source = Path(module.__file__).read_text(encoding="utf-8")
    drawn = {}
    for line in (module.__doc__ or "").splitlines():
        stripped = line.lstrip(" │├└─")
        words = stripped.split()
        if words and words[0] in module.__all__:
            drawn[words[0]] = (len(line) - len(stripped)) // 4 - 1
    classes = [node.name for node in ast.parse(source).body if isinstance(node, ast.ClassDef)]
    assert sorted(classes) == sorted(module.__all__)
    assert sorted(drawn) == sorted(classes)
    for name in classes:
        cls = getattr(module, name)
        depth = len([base for base in cls.__mro__ if base.__module__ == module.__name__]) - 1
        assert drawn[name] == depth, name
