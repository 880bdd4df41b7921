"""The post-run tools on a 100,000-step run, each as a whole process, against the run itself.

Each round makes the run (``python -m livesession.cli dryrun --steps N --durability none
-q``, or ``--durability`` as given; timed as a whole process) and then runs ``verify``, ``report`` and ``evidence`` on it,
each as a whole process (wall time, start to exit). Rounds alternate the four, so the
neighbours' load falls on all of them alike; each figure is the best of ``--repeat`` rounds,
printed as a ratio to the best run. Processes run with Python's bytecode cache, as an
installed package has it (``process_env``). The issue's targets: verify at most 1.0, report at most
0.5 with ``report.html`` at most 1 MB, evidence (its determinism re-run included) at most 2.0.

    python bench/bench_tools.py --steps 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

RUN_ID = "tools"
TARGETS = {"verify": 1.0, "report": 0.5, "evidence": 2.0}
REPORT_MAX_BYTES = 1_000_000


def process_env() -> dict[str, str]:
    """The timed processes' environment: Python's bytecode cache on, as an install has it.

    ``pip install`` writes every module's bytecode when it installs; an editable install, or
    a shell with ``PYTHONDONTWRITEBYTECODE`` set, would otherwise have each process compile
    about a hundred modules at start-up (some 0.1 s). The cache goes to a directory of the
    benchmark's own (``PYTHONPYCACHEPREFIX``), filled by ``warm_up``, never into the tree.
    """
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.setdefault(
        "PYTHONPYCACHEPREFIX", str(Path(tempfile.gettempdir()) / "livesession-bench-pyc")
    )
    return env


def warm_up(out: Path) -> None:
    """One untimed 1-step run, so that the timed processes find their bytecode cached."""
    timed("dryrun", "--steps", "1", "--durability", "none", "--out", out, "--run-id", "warm", "-q")


def timed(*args: str | Path) -> float:
    """Wall seconds of one ``livesession`` process; exits on a non-zero exit."""
    command = [sys.executable, "-m", "livesession.cli", *map(str, args)]
    env = process_env()
    started = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{args[0]} exited {proc.returncode}: {proc.stderr.strip()}")
    return elapsed


def one_round(out: Path, steps: int, durability: str) -> tuple[dict[str, float], int]:
    """The run, then each tool on it: wall seconds by name, and report.html's size."""
    dryrun = ("dryrun", "--steps", str(steps), "--durability", durability, "--run-id", RUN_ID, "-q")
    figures = {"run": timed(*dryrun, "--out", out)}
    run = out / RUN_ID
    figures["verify"] = timed("verify", run)
    report = out / "report.html"
    figures["report"] = timed("report", run, "--output", report)
    figures["evidence"] = timed("evidence", run, "--out", out / "evidence")
    return figures, report.stat().st_size


def main() -> None:
    """Alternate rounds of run, verify, report, evidence; print the best of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps of the run (100000)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many rounds (3)")
    parser.add_argument(
        "--durability",
        choices=("none", "step", "event"),
        default="none",
        help="the run's durability (none; step is the CLI's default)",
    )
    args = parser.parse_args()
    if args.repeat < 1 or args.steps < 1:
        parser.error("--steps and --repeat must be at least 1")
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-tools-") as tmp:
        warm_up(Path(tmp) / "warm")
        for i in range(args.repeat):
            figures, report_bytes = one_round(Path(tmp) / f"r{i}", args.steps, args.durability)
            rounds.append(figures)
    best = {name: min(r[name] for r in rounds) for name in rounds[0]}
    print(
        f"{args.steps} steps, durability {args.durability}, each a whole process, "
        f"best of {args.repeat} alternating rounds"
    )
    print(f"run          {best['run']:8.2f} s")
    for name, target in TARGETS.items():
        ratio = best[name] / best["run"]
        met = "met" if ratio <= target else "NOT met"
        print(f"{name:<12} {best[name]:8.2f} s   {ratio:6.2f} x the run (target {target}: {met})")
    met = "met" if report_bytes <= REPORT_MAX_BYTES else "NOT met"
    print(f"report.html  {report_bytes:,} bytes (target at most 1 MB: {met})")


if __name__ == "__main__":
    main()
