"""A step's cost while many orders rest at the venue, next to the same session with none.

A grid or a market-making strategy keeps orders working at the venue for many bars, and
every step reconciles the book against them and the venue matches the bar against them.
The session: a strategy that rests one LIMIT buy far below the market every bar until
``--resting`` orders are open (then holds them), on memory sinks and the mock broker. The
baseline, measured in the same process: the same session whose strategy places nothing.
The figures are the steps per second of each after the orders are placed, and the cost
of one resting order in a step ((session - baseline) / resting, in microseconds).

With ``--requote N`` the strategy also works ``N`` LIMIT buys 5 % under the close, which it
cancels and places anew every bar (a market maker's quotes), in both sessions: every new
order meets the rails, which look at every order open.

    python bench/bench_resting.py --resting 500 --steps 500
    python bench/bench_resting.py --resting 1000 --steps 200 --requote 20
"""

from __future__ import annotations

import argparse
import time
from decimal import Decimal
from typing import Any

from livesession import (
    Bar,
    CancelIntent,
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
    """Rests a LIMIT buy 20 % under the close every bar until ``resting`` are placed.

    Then, with ``requote``, replaces that many LIMIT buys 5 % under the close every bar.
    """

    strategy_id = "bids"

    def __init__(self, resting: int, requote: int = 0) -> None:
        self.resting = resting
        self.requote = requote
        self.placed = 0

    def on_bar(self, bar: Bar, view: StrategyView) -> list[OrderIntent | CancelIntent]:
        if self.placed < self.resting:
            self.placed += 1
            return [_bid(bar, Decimal("0.8"))]
        if not self.requote:
            return []
        quotes: list[OrderIntent | CancelIntent] = [
            CancelIntent(client_order_id=o.client_order_id)
            for o in view.open_orders(bar.symbol)
            if o.limit_price is not None and o.limit_price > bar.close * Decimal("0.9")
        ]
        return quotes + [_bid(bar, Decimal("0.95")) for _ in range(self.requote)]

    def get_state(self) -> dict[str, Any]:
        return {"placed": self.placed}

    def set_state(self, state: dict[str, Any]) -> None:
        self.placed = state["placed"]


def _bid(bar: Bar, share: Decimal) -> OrderIntent:
    """A LIMIT buy of 0.001 at ``share`` of the close."""
    return OrderIntent(
        symbol=bar.symbol,
        side=Side.BUY,
        quantity=Decimal("0.001"),
        order_type=OrderType.LIMIT,
        limit_price=(bar.close * share).quantize(Decimal("0.01")),
    )


def memory_session(config: DryrunConfig, **plugins: Any) -> LiveSessionOrchestrator:
    """``config``'s session on memory sinks and the mock broker, preflighted and active."""
    session = LiveSessionOrchestrator(
        config,
        event_sink=MemoryLineSink(),
        state_sink=MemoryLineSink(),
        audit_sink=MemoryLineSink(),
        metrics_sink=MemoryMetricsSink(),
        **plugins,
    )
    session.preflight()
    session.activate()
    return session


def _steps_per_s(resting: int, steps: int, requote: int = 0) -> float:
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
            max_orders_per_sec=max(5, requote),
        ),
    )
    session = memory_session(config, strategy=_Bids(resting, requote))
    if resting:
        session.run_n_steps(resting)
    if requote:
        session.run_n_steps(1)  # the first quotes
    open_now = len(session.book.open_orders)
    if open_now != resting + requote:
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
    parser.add_argument("--requote", type=int, default=0, help="LIMIT buys replaced each bar")
    args = parser.parse_args()
    if args.resting < 1 or args.steps < 1 or args.repeat < 1 or args.requote < 0:
        parser.error("--resting, --steps and --repeat must be at least 1, --requote at least 0")
    loaded, empty = 0.0, 0.0
    for _ in range(args.repeat):
        loaded = max(loaded, _steps_per_s(args.resting, args.steps, args.requote))
        empty = max(empty, _steps_per_s(0, args.steps, args.requote))
    per_order_us = (1 / loaded - 1 / empty) / args.resting * 1e6
    print(
        f"{args.resting} orders resting: {loaded:,.0f} steps/s\n"
        f"baseline, none resting: {empty:,.0f} steps/s"
        f"{f' (both replacing {args.requote} orders a bar)' if args.requote else ''}\n"
        f"ratio (resting / baseline): {loaded / empty:.3f}\n"
        f"one resting order costs {per_order_us:.2f} us a step"
    )


if __name__ == "__main__":
    main()
