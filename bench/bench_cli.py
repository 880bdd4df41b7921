"""The CLI dry run as a whole process, next to the raw limit of its own lines.

The run: ``python -m livesession.cli dryrun --steps N --durability none --out TMP -q`` (the
CLI's defaults otherwise, so the session log at ``info``), timed as a whole process from
start to exit: interpreter start, imports, run directory, steps, seal; with Python's
bytecode cache, as an installed package has it (``bench_tools.process_env``). The raw limit, as in
``bench_dryrun.py``: the same run's event and audit lines serialised with orjson (sorted
keys), SHA-256 chained and written through a buffered file, in this process. Ratio = (the
run's event lines / process wall s) / (raw lines / raw s); the issue's target is 0.10.

Logging: the same run at ``--log-level warning``, alternating with the default runs; the
figure is what ``info`` (the default) costs over ``warning``; the target is 10 % at most.

    python bench/bench_cli.py --steps 100000 --repeat 3
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from bench_dryrun import raw_limit
from bench_tools import timed, warm_up

RUN_ID = "cli"


def cli_run(out: Path, steps: int, *extra: str) -> float:
    """Wall seconds of one ``dryrun`` process; the run goes to ``out/RUN_ID``."""
    return timed(
        "dryrun", "--steps", str(steps), "--durability", "none", "--out", out,
        "--run-id", RUN_ID, "-q", *extra,
    )  # fmt: skip


def _lines(path: Path) -> int:
    with path.open("rb") as f:
        return sum(1 for _ in f)


def main() -> None:
    """Alternate default and warning-level runs, then the raw limit; print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000, help="steps per run (100000)")
    parser.add_argument(
        "--repeat", type=int, default=3, help="best of this many runs of each (default 3)"
    )
    args = parser.parse_args()
    if args.repeat < 1 or args.steps < 1:
        parser.error("--steps and --repeat must be at least 1")
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        warm_up(Path(tmp) / "warm")
        info: list[float] = []
        warning: list[float] = []
        for i in range(args.repeat):
            info.append(cli_run(Path(tmp) / f"info{i}", args.steps))
            warning.append(cli_run(Path(tmp) / f"warn{i}", args.steps, "--log-level", "warning"))
        run = Path(tmp) / "info0" / RUN_ID
        events = _lines(run / "events.jsonl")
        log_info = (run / "session.log.jsonl").stat().st_size
        log_warning = (Path(tmp) / "warn0" / RUN_ID / "session.log.jsonl").stat().st_size
        raw = Path(tmp) / "raw"
        raw.mkdir()
        raw_s, raw_lines = min(raw_limit(run, raw) for _ in range(args.repeat))
    best, quiet = min(info), min(warning)
    events_per_s, raw_per_s = events / best, raw_lines / raw_s
    print(
        f"cli dry run  {args.steps} steps, {events} events, durability none, "
        f"best of {args.repeat} alternating runs"
    )
    print(
        f"process      {best:8.3f} s   {args.steps / best:10,.0f} steps/s "
        f"{events_per_s:10,.0f} events/s   (log level info, the default)"
    )
    print(f"raw limit    {raw_s:8.3f} s   {raw_lines} lines {raw_per_s:10,.0f} lines/s")
    print(f"ratio        {events_per_s / raw_per_s:.3f} (target at least 0.10)")
    print(
        f"logging      info {best:.3f} s, warning {quiet:.3f} s: info costs "
        f"{(best / quiet - 1) * 100:+.1f} % (target at most 10 %); session.log.jsonl "
        f"{log_info:,} bytes at info, {log_warning:,} at warning"
    )


if __name__ == "__main__":
    main()
