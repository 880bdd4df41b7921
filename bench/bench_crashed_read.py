"""Reading a crashed run: ``status``'s resume check against reading its events once.

Makes a crashed run (``dryrun --steps N --durability none`` killed at its last checkpoint
but one, ``LIVESESSION_CRASH_AT=checkpoint:K``), then times in this process, alternating,
best of ``--repeat``:

- baseline: the raw cost of reading ``events.jsonl`` up to the checkpoint and parsing
  every line with orjson once;
- ``resume_problem``: the read-only resume check ``status`` and ``list`` ask of a crashed
  run (the config, the checkpoint, the events' and snapshots' record, the kept keys);
- ``run_status``: all of ``status``.

and prints each with its ratio to the baseline. Read line by line in Python, the check
took about 6 times the baseline; hashed and counted whole, it takes less than one.

    python bench/bench_crashed_read.py --steps 200000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import orjson

from livesession._rundir.resumable import resume_problem
from livesession.status import Verdict, run_status

CHECKPOINT_EVERY = 1000


def crashed_run(out: Path, steps: int) -> Path:
    """A run of ``steps`` steps killed as it writes its last checkpoint but one."""
    env = dict(os.environ, LIVESESSION_CRASH_AT=f"checkpoint:{steps // CHECKPOINT_EVERY - 1}")
    command = [sys.executable, "-m", "livesession.cli", "dryrun", "--steps", str(steps)]
    command += ["--durability", "none", "--out", str(out), "--run-id", "crashed", "-q"]
    proc = subprocess.run(command, capture_output=True, env=env, check=False, timeout=3600)
    if proc.returncode != -9:
        raise SystemExit(f"the run was not killed (exit {proc.returncode})")
    return out / "crashed"


def parse_once(run_dir: Path) -> None:
    """The baseline: the events up to the checkpoint read and parsed once."""
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    offset = checkpoint["recorder"]["offsets"]["events"]
    with (run_dir / "events.jsonl").open("rb") as handle:
        for line in handle.read(offset).splitlines():
            orjson.loads(line)


def best(function, run_dir: Path, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        function(run_dir)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if args.repeat < 1 or args.steps < 2 * CHECKPOINT_EVERY:
        parser.error(f"--repeat must be at least 1, --steps at least {2 * CHECKPOINT_EVERY}")
    with tempfile.TemporaryDirectory(prefix="bench-crashed-") as scratch:
        run_dir = crashed_run(Path(scratch), args.steps)
        if resume_problem(run_dir) is not None or run_status(run_dir).verdict != Verdict.CRASHED:
            raise SystemExit("the run is not one resume continues")
        size = (run_dir / "events.jsonl").stat().st_size
        figures = {"baseline": [], "resume_problem": [], "run_status": []}
        for _ in range(args.repeat):  # alternating, so the neighbours' load falls on all
            figures["baseline"].append(best(parse_once, run_dir, 1))
            figures["resume_problem"].append(best(resume_problem, run_dir, 1))
            figures["run_status"].append(best(run_status, run_dir, 1))
    base = max(min(figures["baseline"]), 1e-9)
    print(f"crashed run of {args.steps} steps, events.jsonl {size / 1e6:.0f} MB")
    for name, times in figures.items():
        print(f"{name:15s} {min(times):7.3f} s  ratio {min(times) / base:5.2f}")


if __name__ == "__main__":
    main()
