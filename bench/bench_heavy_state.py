"""What a strategy's heavy state costs: time a checkpoint, the run directory's size, memory.

The strategy keeps a model as quants do: a window of ``--floats`` floats, a fitted model's
coefficients as the same number again in rows of 50 (a nested list under a dict), a dict of
per-symbol statistics with Decimals as text, and a pickled object as base64 text. Its
``get_state`` gives all of it, whole, at each checkpoint. Each run is ``create_run`` with
the mock broker and the SQLite store, in a process of its own that reports its own peak RSS
(``ru_maxrss``); the wall time is from preflight to the sealed end.

For each size the run is made with a checkpoint every step and with one at the start and
the seal only (``checkpoint_every`` = the steps): the difference over the steps is what one
checkpoint costs. Then once with the defaults of ``livesession dryrun`` (durability
``step``, a checkpoint every 100 steps) for a whole run's figure.

    python bench/bench_heavy_state.py                       # 0, 50,000 and 500,000 floats
    python bench/bench_heavy_state.py --floats 0 50000 --steps 200 --repeat 1
"""

from __future__ import annotations

import argparse
import base64
import json
import pickle
import random
import resource
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from livesession import DryrunConfig, OrderIntent, OrderType, Side
from livesession._rundir import create_run


class Model:
    """Buys below the running mean, sells above it; its state is a heavy model."""

    strategy_id = "heavy"

    def __init__(self, floats: int) -> None:
        rng = random.Random(3)
        self.window = [rng.random() for _ in range(floats)]
        rows = [[rng.random() for _ in range(50)] for _ in range(floats // 50)]
        self.model = {"coef": rows, "intercept": 0.5, "name": "ridge"}
        self.blob = base64.b64encode(pickle.dumps(self.window[:1000], protocol=4)).decode()
        self.stats = {"BTC/USDT": {"count": 0, "mean": "0"}}

    def on_bar(self, bar: Any, view: Any) -> list[OrderIntent]:
        if self.window:
            self.window.pop(0)
            self.window.append(float(bar.close))
        stats = self.stats[bar.symbol]
        stats["count"] += 1
        mean = Decimal(stats["mean"]) + (bar.close - Decimal(stats["mean"])) / stats["count"]
        stats["mean"] = str(mean)
        held = view.position(bar.symbol)
        if bar.close < mean and held <= 0:
            side, qty = Side.BUY, Decimal("0.010")
        elif bar.close > mean and held > 0:
            side, qty = Side.SELL, held
        else:
            return []
        return [
            OrderIntent(symbol=bar.symbol, side=side, quantity=qty, order_type=OrderType.MARKET)
        ]

    def get_state(self) -> dict[str, Any]:
        return {
            "blob": self.blob,
            "model": self.model,
            "stats": self.stats,
            "window": self.window,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.window = list(state["window"])
        self.model = state["model"]
        self.blob = state["blob"]
        self.stats = state["stats"]


def child(floats: int, steps: int, every: int, durability: str) -> None:
    """One run; prints its wall time, checkpoint and run sizes and peak RSS as JSON."""
    with tempfile.TemporaryDirectory() as where:
        cfg = DryrunConfig(
            run_id="heavy",
            strategy_id="heavy",
            steps=steps,
            checkpoint_every=every,
            durability=durability,
        )
        strategy = Model(floats)
        started = time.perf_counter()
        with create_run(cfg, where, strategy=strategy) as session:
            session.run_to_end(steps)
        wall = time.perf_counter() - started
        run = Path(where) / "heavy"
        figures = {
            "wall": wall,
            "checkpoint": (run / "checkpoint.json").stat().st_size,
            "run": sum(p.stat().st_size for p in run.iterdir() if p.is_file()),
            "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        print(json.dumps(figures))


def measure(floats: int, steps: int, every: int, durability: str) -> dict[str, float]:
    """``child`` in a process of its own, the best wall time of ``REPEAT`` runs."""
    runs = [_once(floats, steps, every, durability) for _ in range(REPEAT)]
    return min(runs, key=lambda figures: figures["wall"])


def _once(floats: int, steps: int, every: int, durability: str) -> dict[str, float]:
    args = [str(floats), str(steps), str(every), durability]
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"the run of {floats} floats failed: {proc.stderr.strip()}")
    figures: dict[str, float] = json.loads(proc.stdout.splitlines()[-1])
    return figures


REPEAT = 3


def main() -> None:
    global REPEAT  # noqa: PLW0603 - a script's one setting
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floats", type=int, nargs="+", default=[0, 50_000, 500_000])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs of each, the best taken")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    REPEAT = max(1, args.repeat)
    if args.child:
        floats, steps, every, durability = args.child
        child(int(floats), int(steps), int(every), durability)
        return
    steps = args.steps
    print(f"{steps} steps; a checkpoint every step, and at the start and the seal only")
    print("floats | checkpoint.json | per checkpoint (none) | per checkpoint (step) | peak RSS")
    for floats in args.floats:
        row = {}
        for durability in ("none", "step"):
            each = measure(floats, steps, 1, durability)
            ends = measure(floats, steps, steps, durability)
            row[durability] = (each["wall"] - ends["wall"]) / steps * 1000
        print(
            f"{floats:,} | {each['checkpoint'] / 1e6:.1f} MB | {row['none']:.1f} ms | "
            f"{row['step']:.1f} ms | {each['rss_mib']:.0f} MiB"
        )
    long = steps * 10
    print(f"\nthe dryrun defaults (durability step, a checkpoint every 100 steps), {long} steps")
    print("floats | wall | run directory | peak RSS")
    for floats in args.floats:
        run = measure(floats, long, 100, "step")
        print(
            f"{floats:,} | {run['wall']:.2f} s | {run['run'] / 1e6:.1f} MB | {run['rss_mib']:.0f} MiB"
        )


if __name__ == "__main__":
    main()
