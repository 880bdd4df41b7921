"""A session stepped a few steps a call, next to the same session stepped in one call.

An application that drives the session from its own loop (a scheduler's tick, a bar
arriving) calls ``run_n_steps`` with a small ``n``, often 1, on its main thread. Each call
holds Ctrl-C and SIGTERM to the step boundary by installing two signal handlers and
putting back the ones it found. The session: the demo run on memory sinks and the mock
broker. The baseline, measured in the same process: the same session run in one
``run_n_steps(steps)`` call. The figures are the steps per second of each, their ratio,
and what one call costs over the steps it runs, in microseconds.

    python bench/bench_small_steps.py --steps 20000 --per-call 1
"""

from __future__ import annotations

import argparse
import time

from bench_resting import memory_session

from livesession import DryrunConfig


def _steps_per_s(steps: int, per_call: int) -> float:
    """Steps per second over ``steps`` steps, ``per_call`` steps a ``run_n_steps`` call."""
    session = memory_session(DryrunConfig(run_id="small", steps=steps))
    done = 0
    started = time.perf_counter()
    while done < steps:
        done += session.run_n_steps(min(per_call, steps - done))
    elapsed = time.perf_counter() - started
    session.close()
    return steps / elapsed


def main() -> None:
    """Print both figures, the ratio and the cost of one call."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--per-call", type=int, default=1, help="steps a run_n_steps call")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many (alternating)")
    args = parser.parse_args()
    if args.steps < 1 or args.per_call < 1 or args.repeat < 1:
        parser.error("--steps, --per-call and --repeat must be at least 1")
    small, whole = 0.0, 0.0
    for _ in range(args.repeat):
        small = max(small, _steps_per_s(args.steps, args.per_call))
        whole = max(whole, _steps_per_s(args.steps, args.steps))
    per_call_us = (1 / small - 1 / whole) * args.per_call * 1e6
    print(
        f"{args.per_call} step(s) a call: {small:,.0f} steps/s\n"
        f"baseline, one call: {whole:,.0f} steps/s\n"
        f"ratio (small calls / one call): {small / whole:.3f}\n"
        f"one call costs {per_call_us:.1f} us over its steps"
    )


if __name__ == "__main__":
    main()
