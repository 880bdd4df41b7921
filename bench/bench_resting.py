"""A step's cost while many orders rest at the venue, next to the same session with none.

A grid or a market-making strategy keeps orders working at the venue for many bars, and
every step reconciles the book against them and the venue matches the bar against them.
The session: a strategy that rests one LIMIT buy far below the market every bar until
``--resting`` orders are open (then holds them), on memory sinks and the mock broker. The
baseline, measured in the same process: the same session whose strategy places nothing.
The figures are the steps per second of each after the orders are placed, and the cost
of one resting order in a step ((session - baseline) / resting, in microseconds).

    python bench/bench_resting.py --resting 500 --steps 500
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import Any

from livesession import (
    Bar,
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MemoryMetricsSink,
    OrderIntent,
    OrderType,
    RiskLimits,
    Side,
    StrategyView,
)


class _Bids:
    """Rests a LIMIT buy 20 % under the close every bar until ``resting`` are placed."""

    strategy_id = "bids"

    def __init__(self, resting: int) -> None:
        self.resting = resting
        self.placed = 0

    def on_bar(self, bar: Bar, _view: StrategyView) -> list[OrderIntent]:
        if self.placed >= self.resting:
            return []
        self.placed += 1
        price = (bar.close * Decimal("0.8")).quantize(Decimal("0.01"))
        return [
            OrderIntent(
                symbol=bar.symbol,
                side=Side.BUY,
                quantity=Decimal("0.001"),
                order_type=OrderType.LIMIT,
                limit_price=price,
            )
        ]

    def get_state(self) -> dict[str, Any]:
        return {"placed": self.placed}

    def set_state(self, state: dict[str, Any]) -> None:
        self.placed = state["placed"]


def _steps_per_s(resting: int, steps: int) -> float:
    """Steps per second over ``steps`` steps taken once ``resting`` orders rest."""
    config = DryrunConfig(
        run_id="resting",
        strategy_id="bids",
        steps=resting + steps,
        # Nothing but the resting orders' own count may refuse them.
        risk=RiskLimits(
            portfolio_heat_pct=Decimal(1),
            per_trade_risk_pct=Decimal(1),
            price_collar_pct=Decimal("0.25"),
        ),
    )
    session = LiveSessionOrchestrator(
        config,
        strategy=_Bids(resting),
        event_sink=MemoryLineSink(),
        state_sink=MemoryLineSink(),
        audit_sink=MemoryLineSink(),
        metrics_sink=MemoryMetricsSink(),
    )
    session.preflight()
    session.activate()
    if resting:
        session.run_n_steps(resting)
    open_now = len(session.book.open_orders)
    if open_now != resting:
        raise SystemExit(f"{open_now} orders rest, not {resting}: the bench is broken")
    started = time.perf_counter()
    session.run_n_steps(steps)
    elapsed = time.perf_counter() - started
    session.close()
    return steps / elapsed


def main() -> None:
    """Print both figures, the ratio and the cost of one resting order a step."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resting", type=int, default=500)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (alternating)")
    args = parser.parse_args()
    if args.resting < 1 or args.steps < 1 or args.repeat < 1:
        parser.error("--resting, --steps and --repeat must be at least 1")
    loaded, empty = 0.0, 0.0
    for _ in range(args.repeat):
        loaded = max(loaded, _steps_per_s(args.resting, args.steps))
        empty = max(empty, _steps_per_s(0, args.steps))
    per_order_us = (1 / loaded - 1 / empty) / args.resting * 1e6
    print(
        f"{args.resting} orders resting: {loaded:,.0f} steps/s\n"
        f"baseline, none resting: {empty:,.0f} steps/s\n"
        f"ratio (resting / baseline): {loaded / empty:.3f}\n"
        f"one resting order costs {per_order_us:.2f} us a step"
    )


if __name__ == "__main__":
    main()
