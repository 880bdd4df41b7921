"""A feed and a strategy scripted by the test, for rails, kill switch, OCO and reconcile tests."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from livesession import (
    DryrunConfig,
    DryrunResult,
    OrderIntent,
    RiskContext,
    Side,
    create_run,
)
from livesession._domain.model import Bar

SYMBOL = "BTC/USDT"

Script = Callable[[int, Bar, Any], Sequence[OrderIntent]]


class ScriptedFeed:
    """One bar per step whose close comes from ``closes`` (the last one repeats).

    A bar's ``volume`` is its number (1, 2, ...), so a script can address bars even when
    the session skips the strategy on some of them (while HALTED).
    """

    def __init__(self, closes: Sequence[str | Decimal], *, spread: str = "0") -> None:
        self.symbol = SYMBOL
        self._closes = [Decimal(c) for c in closes]
        self._spread = Decimal(spread)
        self._n = 0

    def next_bar(self, ts_ns: int) -> Bar:
        close = self._closes[min(self._n, len(self._closes) - 1)]
        self._n += 1
        return Bar(
            symbol=SYMBOL,
            ts_ns=ts_ns,
            open=close,
            high=close + self._spread,
            low=close - self._spread,
            close=close,
            volume=Decimal(self._n),
        )

    def get_state(self) -> dict[str, Any]:
        return {"n": self._n}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._n = state["n"]


class ScriptedStrategy:
    """Returns ``script(bar_number, bar, view)`` for every bar it sees.

    The bar number is the bar's volume when the feed is a ``ScriptedFeed`` (see there).
    """

    strategy_id = "scripted"

    def __init__(self, script: Script) -> None:
        self._script = script
        self.bars = 0

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        self.bars += 1
        return tuple(self._script(int(bar.volume), bar, view))

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.bars = state["bars"]


def buy(quantity: str, **extra: Any) -> OrderIntent:
    """A buy intent for the test symbol."""
    return OrderIntent(symbol=SYMBOL, side=Side.BUY, quantity=Decimal(quantity), **extra)


def sell(quantity: str, **extra: Any) -> OrderIntent:
    """A sell intent for the test symbol."""
    return OrderIntent(symbol=SYMBOL, side=Side.SELL, quantity=Decimal(quantity), **extra)


def risk_context(**overrides: Any) -> RiskContext:
    """What a rail sees of one intent: flat at 40000.00 on 100000.00 of equity, ``overrides``
    set."""
    values: dict[str, Any] = {
        "last_price": Decimal("40000.00"),
        "equity": Decimal("100000.00"),
        "day_peak_equity": Decimal("100000.00"),
        "position": Decimal(0),
        "open_exposure": Decimal(0),
        "orders_this_second": 0,
        "executions": 0,
        "trading_state": "ACTIVE",
    }
    values.update(overrides)
    return RiskContext(**values)


def at(bars: Mapping[int, Sequence[OrderIntent]]) -> Script:
    """A script that sends ``bars[n]`` on bar ``n`` and nothing otherwise."""
    return lambda n, _bar, _view: bars.get(n, ())


def daily_loss_kill(
    out: Path, run_id: str, *, lifted_after: int | None = None, clock_mode: str = "sim"
) -> Path:
    """A six-step run whose daily-loss cap pulls the kill switch on bar 3 (a buy of 1 on bar
    1, then a fall from 40000 to 39000); ``lifted_after``: an operator re-enables trading
    after that many steps. Returns the run's directory under ``out``."""
    risk = {"per_trade_risk_pct": "0.01", "max_order_notional": "60000"}
    cfg = DryrunConfig(
        run_id=run_id, strategy_id="scripted", steps=6, risk=risk, clock_mode=clock_mode
    )
    feed = ScriptedFeed(["40000.00", "40000.00", "39000.00"])
    strategy = ScriptedStrategy(at({1: [buy("1")]}))
    return halted_run(cfg, out, feed, strategy, lifted_after=lifted_after)


def halted_run(
    cfg: DryrunConfig,
    out: Path,
    feed: ScriptedFeed,
    strategy: ScriptedStrategy,
    *,
    lifted_after: int | None = None,
) -> Path:
    """Run ``cfg`` (whose trading halts early) under ``out`` to its last step; an operator
    re-enables trading after ``lifted_after`` steps when given. Returns the run's directory."""
    with create_run(cfg, out, feed=feed, strategy=strategy) as s:
        assert s.preflight()
        s.activate()
        if lifted_after is not None:
            s.run_n_steps(lifted_after)
            assert s.reenable_trading("ops-1")
        s.run_to_end(cfg.steps)
    return out / cfg.run_id


def held_to_the_end(out: Path, run_id: str, *, kill_after: int | None = None) -> DryrunResult:
    """An eight-step run under ``out`` that buys 0.010 on bar 3 and never sells, so its
    wind-down flattens it; an operator's kill after ``kill_after`` steps when given."""
    cfg = DryrunConfig(run_id=run_id, strategy_id="scripted", steps=8, durability="none")
    strategy = ScriptedStrategy(at({3: [buy("0.010")]}))
    with create_run(cfg, out, strategy=strategy, feed=ScriptedFeed(["40000.00"] * 8)) as s:
        assert s.preflight()
        s.activate()
        for step in range(8):
            s.step()
            if step + 1 == kill_after:
                assert s.kill("SIGNAL_SIGUSR1")
    return s.result()
