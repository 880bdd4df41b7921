"""Peak memory of the read-only tools on a run and on one several times longer.

Two runs are made (``dryrun --durability none``, ``--small`` and ``--large`` steps), then
``prom``, ``verify``, ``report`` and ``evidence`` run on each, each as a process of its own
that reports its own peak RSS (``ru_maxrss``), so the figures compare like with like. The
baseline is the same process importing the CLI and doing nothing. A tool that streams the
run grows little from the small run to the large one (ratio near 1); one that holds the
run's events grows with them (a 100,000-step run's events.jsonl is about 44 MB, some 300 MB
parsed). ``evidence``'s determinism re-run is a second process, not counted here: it is a
dry run, whose memory ``bench_scale.py`` measures.

    python bench/bench_memory.py                      # 100,000 and 300,000 steps
    python bench/bench_memory.py --small 20000 --large 100000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

_CHILD = """
import resource, sys
from livesession.cli import main
code = main(sys.argv[1:]) if len(sys.argv) > 1 else 0
print(code, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""
TOOLS = ("prom", "verify", "report", "evidence")


def peak_mib(*args: str | Path, ok: tuple[int, ...] = (0,)) -> float:
    """Peak RSS (MiB) of one ``livesession`` command in a process of its own."""
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0 or not proc.stdout.strip():
        raise SystemExit(f"{args[:1]} failed: {proc.stderr.strip()}")
    code, rss_kib = proc.stdout.split()[-2:]
    if int(code) not in ok:
        raise SystemExit(f"{args[0]} exited {code}: {proc.stderr.strip()}")
    return int(rss_kib) / 1024


def tool_args(tool: str, run: Path, out: Path) -> tuple[str | Path, ...]:
    """The command line of ``tool`` on ``run``, writing beside the run in ``out``."""
    if tool == "prom":
        return ("prom", run, "--output", out / f"{run.name}.prom")
    if tool == "report":
        return ("report", run, "--output", out / f"{run.name}.html")
    if tool == "evidence":
        return ("evidence", run, "--out", out / f"{run.name}-evidence")
    return (tool, run)


def main() -> None:
    """Make both runs, then print each tool's peak RSS on each and the ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000, help="steps of the small run")
    parser.add_argument("--large", type=int, default=300_000, help="steps of the large run")
    args = parser.parse_args()
    if not 0 < args.small < args.large:
        parser.error("--small must be at least 1 and less than --large")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        out = Path(tmp)
        runs = {}
        for label, steps in (("small", args.small), ("large", args.large)):
            run_id = f"m{steps}"
            dryrun = ("dryrun", "--steps", str(steps), "--durability", "none", "-q")
            peak_mib(*dryrun, "--run-id", run_id, "--out", out)
            runs[label] = out / run_id
        baseline = peak_mib()
        size = {k: (run / "events.jsonl").stat().st_size / 1e6 for k, run in runs.items()}
        print(
            f"{args.small} and {args.large} steps (events.jsonl {size['small']:.0f} MB and "
            f"{size['large']:.0f} MB); peak RSS of each command as a process of its own"
        )
        print(f"{'baseline':<10} {baseline:8.1f} MiB (import the CLI, do nothing)")
        for tool in TOOLS:
            small = peak_mib(*tool_args(tool, runs["small"], out))
            large = peak_mib(*tool_args(tool, runs["large"], out))
            print(
                f"{tool:<10} {small:8.1f} MiB  {large:8.1f} MiB   ratio {large / small:5.2f}"
                f"   growth {large - small:+7.1f} MiB"
            )


if __name__ == "__main__":
    main()
