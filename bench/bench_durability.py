"""Durable dry-run throughput next to the raw rate of one fdatasync per step.

The run: what ``livesession dryrun`` does with its defaults (``durability=step``: one group
commit per step, a checkpoint every ``checkpoint_every`` steps, the SQLite idempotency
store, the mock broker) through
``create_run`` into a temporary directory, timed from preflight to the sealed end.
The raw rate: in the same directory, right after the run, one file grown to the size of
the run's three JSON Lines artifacts in as many appends as the run had steps, each append
followed by one ``os.fdatasync``. That is the floor any design with a durable point per
step pays on this file system; the ratio says how close the session gets to it.

    python bench/bench_durability.py --steps 2000 [--dir /path/on/the/disk/to/measure]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Self

from livesession import load_config
from livesession._artifacts.names import ARTIFACTS
from livesession._rundir import create_run


class SyncCounter:
    """Counts Python-level ``os.fsync``/``os.fdatasync`` calls while installed."""

    def __init__(self) -> None:
        self.calls = 0
        self._saved: dict[str, Callable[[int], None]] = {}

    def __enter__(self) -> Self:
        for name in ("fsync", "fdatasync"):
            original = getattr(os, name)
            self._saved[name] = original

            def counted(fd: Any, _original: Callable[[int], None] = original) -> None:
                self.calls += 1
                _original(fd)

            setattr(os, name, counted)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, original in self._saved.items():
            setattr(os, name, original)


def durable_run(out: Path, steps: int) -> tuple[float, int, int, int]:
    """Seconds, steps done, artifact bytes and Python-level syncs of one durable run."""
    cfg = load_config(None, {"run_id": "bench", "steps": steps, "durability": "step"})
    session = create_run(cfg, out, idempotency_backend="sqlite")
    with SyncCounter() as syncs:
        started = time.perf_counter()
        session.run_to_end(steps)
        elapsed = time.perf_counter() - started
    run_dir = out / cfg.run_id
    size = sum((run_dir / name).stat().st_size for name in ARTIFACTS.values())
    return elapsed, session.steps_done, size, syncs.calls


def raw_fdatasync(path: Path, steps: int, size: int) -> float:
    """Seconds to grow ``path`` to ``size`` bytes in ``steps`` appends, each one fdatasync'd."""
    chunk, extra = divmod(size, steps)
    block = b"x" * (chunk + 1)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        started = time.perf_counter()
        for step in range(steps):
            os.write(fd, block[: chunk + 1] if step < extra else block[:chunk])
            os.fdatasync(fd)
        return time.perf_counter() - started
    finally:
        os.close(fd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None, help="where to write (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-durability-", dir=args.dir) as tmp:
        out = Path(tmp)
        run_s, steps, size, syncs = durable_run(out, args.steps)
        raw_s = raw_fdatasync(out / "raw.bin", steps, size)
    run_rate = steps / run_s
    raw_rate = steps / raw_s
    print(f"directory  {args.dir or tempfile.gettempdir()}")
    print(
        f"durable    {steps} steps, durability=step, one group commit per step, {size:,} artifact "
        f"bytes, {syncs / steps:.1f} Python-level fsyncs per step (SQLite's own not counted)"
    )
    print(f"session    {run_s:8.3f} s   {run_rate:10,.1f} steps/s")
    print(f"raw        {raw_s:8.3f} s   {raw_rate:10,.1f} steps/s  (one append + fdatasync each)")
    print(f"ratio      {run_rate / raw_rate:.3f} (session steps/s / raw fdatasync steps/s)")


if __name__ == "__main__":
    main()
