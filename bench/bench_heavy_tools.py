"""The read-only tools on a run whose strategy keeps a heavy state, against one parse of it.

The run is ``bench_heavy_state.py``'s strategy (a window of ``--floats`` floats and as many
model coefficients, given whole by ``get_state``) run to its seal with ``create_run``: its
``checkpoint.json`` is some 57 MB for each million floats. Then ``verify``, ``report``,
``status``, ``list`` and ``burnin`` each run on it as a whole process (wall time, start to
exit, and the process's peak RSS), alternating, the best of ``--repeat`` rounds. The
baseline is what one read of the checkpoint costs: ``orjson.loads`` of the file's bytes,
in a process of its own, the best of as many; each tool's figure is printed as a ratio to
it, so a tool that parses the file N times cannot be under N. The run and the baseline are
made in processes of their own, so that this one stays small: a process's peak RSS counts
its parent's memory as it forked.

    python bench/bench_heavy_tools.py --floats 1400000 --repeat 3

To time another tree's code on the same kind of run, put its ``src`` first on
``PYTHONPATH`` (the processes inherit it): ``PYTHONPATH=/path/to/other/src python bench/...``.
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
from bench_heavy_state import Model
from bench_tools import process_env

from livesession import DryrunConfig
from livesession._rundir import create_run

TOOLS = ("verify", "report", "status", "list", "burnin")


def make_run(where: Path, floats: int, steps: int) -> Path:
    """A sealed run of the heavy strategy in ``where`` (durability ``none``: checkpoints at its ends)."""
    cfg = DryrunConfig(run_id="heavy", strategy_id="heavy", steps=steps, durability="none")
    with create_run(cfg, where, strategy=Model(floats)) as session:
        session.run_to_end(steps)
    return where / "heavy"


def tool_args(tool: str, run: Path, out: Path) -> list[str]:
    """The command line of ``tool`` on ``run`` (``list`` on its directory)."""
    if tool == "list":
        return ["list", str(run.parent)]
    if tool == "report":
        return ["report", str(run), "--output", str(out / "report.html")]
    return [tool, str(run)]


def timed(args: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one ``livesession`` process."""
    command = [sys.executable, "-m", "livesession.cli", *args]
    started = time.perf_counter()
    proc = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=process_env()
    )
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code
    if code not in (0, 1):  # burnin of a short run: a criterion not met is exit 1
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise SystemExit(f"{args[0]} exited {code}: {err.strip()}")
    if proc.stderr:
        proc.stderr.close()
    return elapsed, usage.ru_maxrss / 1024


def parse_once(path: Path) -> float:
    """Seconds to read and parse ``path`` once with orjson (the baseline), in a child."""
    proc = subprocess.run(
        [sys.executable, __file__, "--parse", str(path)],
        capture_output=True,
        text=True,
        check=True,
        env=process_env(),
    )
    return float(proc.stdout.split()[-1])


def _parse(path: Path) -> None:
    started = time.perf_counter()
    orjson.loads(path.read_bytes())
    print(time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--floats", type=int, default=1_400_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3, help="rounds, the best taken")
    parser.add_argument("--make", help=argparse.SUPPRESS)
    parser.add_argument("--parse", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make:
        make_run(Path(args.make), args.floats, args.steps)
        return
    if args.parse:
        _parse(Path(args.parse))
        return
    with tempfile.TemporaryDirectory() as where:
        runs = Path(where) / "runs"
        runs.mkdir()
        make = ["--make", str(runs), "--floats", str(args.floats), "--steps", str(args.steps)]
        subprocess.run([sys.executable, __file__, *make], check=True, env=process_env())
        run = runs / "heavy"
        size = (run / "checkpoint.json").stat().st_size
        timed(["status", str(run)])  # untimed: the bytecode cache and the page cache warm
        best = {tool: (float("inf"), 0.0) for tool in TOOLS}
        base = float("inf")
        for _ in range(max(1, args.repeat)):
            base = min(base, parse_once(run / "checkpoint.json"))
            for tool in TOOLS:
                wall, rss = timed(tool_args(tool, run, Path(where)))
                if wall < best[tool][0]:
                    best[tool] = (wall, rss)
    print(f"checkpoint.json {size / 1e6:.1f} MB ({args.floats:,} floats), {args.steps} steps")
    print(f"baseline: orjson.loads of its bytes once, in a process of its own: {base:.3f} s")
    print("tool | wall (best) | ratio to the baseline | peak RSS")
    for tool, (wall, rss) in best.items():
        print(f"{tool} | {wall:.2f} s | {wall / base:.1f} | {rss:.0f} MiB")


if __name__ == "__main__":
    main()
