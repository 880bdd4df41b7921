"""The testing kit's speed: failure-matrix examples per second, next to a plain baseline.

The matrix: ``run_failure_matrix`` on the demo SMA strategy (``--examples`` examples of
``--steps`` steps; each example is two sessions on a ``FaultBroker``, one killed and resumed,
both checked and verified; and once, during the search, the fault-free reference again in a
child process). The baseline, measured in the same process: the same number of
session pairs of ``--steps`` steps each on memory sinks with the mock broker, no faults, no
checks, no verification and no hypothesis. The ratio says what the kit's checking costs;
examples per second is the baseline figure of the performance issue.

    python bench/bench_kit.py --examples 100 --steps 40
"""

from __future__ import annotations

import argparse
import functools
import time
from decimal import Decimal

from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MemoryMetricsSink,
    SmaCrossover,
)
from livesession.testing import run_failure_matrix

# A partial of the library's class, not a function of this script: the matrix re-creates
# the factory in a child process (its cross-process check), which cannot import __main__.
_strategy = functools.partial(
    SmaCrossover, strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01")
)


def _plain_pairs(pairs: int, steps: int) -> float:
    """Seconds for ``pairs`` pairs of plain sessions of ``steps`` steps."""
    started = time.perf_counter()
    for n in range(pairs * 2):
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id=f"base{n}", strategy_id="sma", steps=steps, volatility_bps=30),
            strategy=_strategy(),
            event_sink=MemoryLineSink(),
            state_sink=MemoryLineSink(),
            audit_sink=MemoryLineSink(),
            metrics_sink=MemoryMetricsSink(),
        )
        orch.run_to_end(steps)
    return time.perf_counter() - started


def main() -> None:
    """Print the matrix's examples/s, the baseline's pairs/s and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.examples < 1 or args.steps < 2:
        parser.error("--examples must be at least 1 and --steps at least 2")
    report = run_failure_matrix(_strategy, examples=args.examples, steps=args.steps, seed=args.seed)
    matrix_rate = report.examples_per_second
    baseline_rate = report.examples / _plain_pairs(report.examples, args.steps)
    print(
        f"failure matrix: {report.examples} examples of {args.steps} steps"
        f" ({report.resumes} resumed, {report.session_steps} session steps)"
        f" in {report.seconds:.2f} s: {matrix_rate:.1f} examples/s\n"
        f"baseline: {report.examples} plain session pairs of {args.steps} steps:"
        f" {baseline_rate:.1f} pairs/s\n"
        f"ratio (matrix / baseline): {matrix_rate / baseline_rate:.3f}"
    )


if __name__ == "__main__":
    main()
