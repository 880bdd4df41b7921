"""Where a dry run's wall time goes outside Python: the calls of a step that reach the kernel.

The run is ``bench_dryrun.py``'s (``create_run``, ``durability="none"``, the SQLite
idempotency store, a checkpoint every ``--checkpoint-every`` steps). Each ``os`` call that
writes or names a file, and each of the store's two commits of an intent, is timed in
place while the run steps; the wrapper's own cost is measured in the same run and taken
off. The figure is each kind's wall time a step, the baseline the step's whole wall time,
and the ratio its share. The best of ``--repeat`` runs (the one whose step was quickest)
is printed, with the process's voluntary context switches (a call that waited on the disk)
and its system CPU time a step.

    python bench/bench_wall.py --steps 30000
"""

from __future__ import annotations

import argparse
import collections
import os
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench_dryrun import bench_config

from livesession._rundir import create_run
from livesession.stores.sqlite import SqliteIdempotencyStore

OS_CALLS = ("write", "lseek", "replace", "open", "close", "fstat", "lstat", "fsync", "ftruncate")
STORE_CALLS = {"_insert": "SQLite reserve (a commit)", "_set_outcome": "SQLite complete (a commit)"}


class Timer:
    """Wall time and calls by kind, while ``on``."""

    def __init__(self) -> None:
        self.on = False
        self.ns: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self._names: dict[int, str] = {}

    def wrap(self, owner: Any, name: str, label: str) -> None:
        inner, clock = getattr(owner, name), time.perf_counter_ns

        def timed(*args: Any, **kwargs: Any) -> Any:
            if not self.on:
                return inner(*args, **kwargs)
            kind = self._kind(label, args)
            started = clock()
            try:
                return inner(*args, **kwargs)
            finally:
                self.ns[kind] += clock() - started
                self.calls[kind] += 1

        setattr(owner, name, timed)

    def _kind(self, label: str, args: tuple[Any, ...]) -> str:
        """``os.write``/``os.lseek`` named by their file (``/proc``), others by their label."""
        if label not in ("os.write", "os.lseek") or not args or not isinstance(args[0], int):
            return label
        fd = args[0]
        if fd not in self._names:
            try:
                self._names[fd] = Path(f"/proc/self/fd/{fd}").readlink().name
            except OSError:
                self._names[fd] = "?"
        return f"{label} {self._names[fd]}"


def one_run(steps: int, every: int, timer: Timer) -> tuple[float, float, int, int]:
    """(wall s, wrapper ns a call, voluntary switches, system CPU s) of one timed run."""
    timer.ns.clear()
    timer.calls.clear()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = bench_config(steps, "none", every)
        session = create_run(cfg, Path(tmp) / "run", idempotency_backend="sqlite")
        before = resource.getrusage(resource.RUSAGE_SELF)
        timer.on = True
        started = time.perf_counter()
        session.run_to_end(steps)
        wall = time.perf_counter() - started
        timer.on = False
        after = resource.getrusage(resource.RUSAGE_SELF)
        session.close()
    timer.on = True
    for _ in range(20_000):
        os.getpid()
    timer.on = False
    overhead = timer.ns.pop("os.getpid") / timer.calls.pop("os.getpid")
    return (
        wall,
        overhead,
        after.ru_nvcsw - before.ru_nvcsw,
        after.ru_stime - before.ru_stime,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    args = parser.parse_args()
    if args.repeat < 1 or args.steps < 1:
        parser.error("--repeat and --steps must be at least 1")
    timer = Timer()
    for name in (*OS_CALLS, "getpid"):
        timer.wrap(os, name, f"os.{name}")
    for name, label in STORE_CALLS.items():
        timer.wrap(SqliteIdempotencyStore, name, label)
    best: tuple[float, float, int, float, dict[str, int], dict[str, int]] | None = None
    for _ in range(args.repeat):
        wall, overhead, switches, system = one_run(args.steps, args.checkpoint_every, timer)
        if best is None or wall < best[0]:
            best = (wall, overhead, switches, system, dict(timer.ns), dict(timer.calls))
    assert best is not None
    wall, overhead, switches, system, spent, calls = best
    step_us = wall / args.steps * 1e6
    print(
        f"{args.steps} steps, best of {args.repeat}: {step_us:.1f} us a step; "
        f"{switches} voluntary context switches; system CPU {system / args.steps * 1e6:.2f} us "
        f"a step; the timing wrapper {overhead:.0f} ns a call, taken off"
    )
    print(f"{'kind':42} {'calls/step':>10} {'us/call':>9} {'us/step':>8} {'share':>7}")
    for kind, ns in sorted(spent.items(), key=lambda item: -item[1]):
        count = calls[kind]
        net = max(ns - overhead * count, 0.0)
        print(
            f"{kind:42} {count / args.steps:10.4f} {net / count / 1000:9.2f} "
            f"{net / args.steps / 1000:8.3f} {net / 1000 / args.steps / step_us:7.1%}"
        )
    total = sum(max(ns - overhead * calls[k], 0.0) for k, ns in spent.items())
    print(f"{'all of them':42} {'':10} {'':9} {total / args.steps / 1000:8.3f} ", end="")
    print(f"{total / 1000 / args.steps / step_us:7.1%}")


if __name__ == "__main__":
    sys.exit(main())
