"""Where a step's time goes: microseconds per step by part, for the per-step time budget.

Two in-process runs of the ``bench_dryrun.py`` session (mock broker, demo strategy,
``durability`` none, a checkpoint every 1,000 steps): one plain, timed, for the total; one
under cProfile, for each part's share. A part's figure is its cumulative profiled time,
scaled by (plain total / profiled total) and divided by the steps, so the parts add up to
about the plain step (cProfile weighs many small calls more than few large ones: the
figures are estimates, good to ±30 %). A part that the code no longer has is "not found".
Parts overlap where one calls another: "events" counts every event, including the order
path's. Logging is not in this session (no log configured): ``bench_cli.py`` measures it.

    python bench/bench_budget.py --steps 50000
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from bench_dryrun import bench_config, run_session

from livesession._rundir import create_run

# (row, file suffix, function): the cumulative time of these functions, summed.
PARTS: tuple[tuple[str, str, str], ...] = (
    ("feed bar (draws, prices)", "_market/feeds.py", "next_bar"),
    ("strategy (on_bar)", "_session/pipeline.py", "_decide"),
    ("events (payload, id, chain, line; every event)", "_artifacts/recorder.py", "emit"),
    ("checks: daily loss", "_risk/governor.py", "daily_loss_breached"),
    ("checks: book invariant", "_session/book.py", "invariant_violation"),
    ("report polls", "_session/reports.py", "process"),
    ("reconciliation", "_session/reconciliation.py", "reconcile"),
    ("order path (rails, key, broker, fills)", "_session/execution.py", "handle_intent"),
    ("checkpoint (amortised)", "_session/checkpoint.py", "end_of_step"),
    ("whole step", "_session/pipeline.py", "step_once"),
)


def profiled(out: Path, steps: int) -> tuple[float, pstats.Stats]:
    """Wall seconds of the profiled run's steps, and its statistics."""
    cfg = bench_config(steps, "none", 1000)
    session = create_run(cfg, out, idempotency_backend="sqlite")
    profile = cProfile.Profile()
    started = time.perf_counter()
    profile.enable()
    session.run_to_end(cfg.steps)
    profile.disable()
    return time.perf_counter() - started, pstats.Stats(profile)


def cumulative(stats: pstats.Stats, suffix: str, function: str) -> float | None:
    """Cumulative seconds of every function ``function`` in a file ending with ``suffix``."""
    found = [
        row[3]
        for (path, _line, name), row in stats.stats.items()  # type: ignore[attr-defined]
        if name == function and path.replace("\\", "/").endswith(suffix)
    ]
    return sum(found) if found else None


def main() -> None:
    """Time a plain run, profile another, print microseconds per step by part."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=50_000, help="steps per run (50000)")
    args = parser.parse_args()
    if args.steps < 1:
        parser.error("--steps must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-budget-") as tmp:
        plain = Path(tmp) / "plain"
        plain.mkdir()
        wall, _events, steps = run_session(plain, bench_config(args.steps, "none", 1000))
        prof = Path(tmp) / "profiled"
        prof.mkdir()
        profiled_wall, stats = profiled(prof, args.steps)
    scale = wall / profiled_wall
    print(
        f"{steps} steps in process: {wall:.3f} s plain ({wall / steps * 1e6:.1f} µs a step), "
        f"{profiled_wall:.3f} s under cProfile (scale {scale:.2f})"
    )
    for row, suffix, function in PARTS:
        seconds = cumulative(stats, suffix, function)
        if seconds is None:
            print(f"{row:<52} not found ({suffix}:{function})")
            continue
        print(f"{row:<52} {seconds * scale / steps * 1e6:7.1f} µs a step")


if __name__ == "__main__":
    main()
