"""The benchmark scripts run and print their figures (speed itself is never asserted here).

Tiny sizes: these only keep `nox -s bench` from rotting. The dry-run script also checks that
its inline floor writes exactly the session's BAR lines, so a change to the feed or the event
format that the floor does not follow fails here.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from livesession import DryrunConfig

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _run(script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_dryrun_bench_prints_session_raw_and_floor() -> None:
    out = _run("bench_dryrun.py", "--steps", "400", "--repeat", "1")
    assert "ratio" in out
    assert "byte-identical to the session's" in out
    assert "floor ratio" in out


def test_dryrun_bench_refuses_zero_repeats() -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "bench_dryrun.py"), "--repeat", "0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "--repeat must be at least 1" in proc.stderr


@pytest.mark.parametrize(
    ("script", "args"),
    [
        ("bench_durability.py", ("--steps", "50")),
        ("bench_datafile.py", ("--rows", "300", "--steps", "10", "--repeat", "1")),
        ("bench_sqlite_store.py", ("--n", "20", "--rounds", "1")),
        ("bench_scale.py", ("--small", "200", "--large", "400")),
        ("bench_memory.py", ("--small", "200", "--large", "400")),
        ("bench_kit.py", ("--examples", "3", "--steps", "10")),
        ("bench_crashed_read.py", ("--steps", "3000", "--repeat", "1")),
    ],
)
def test_other_benches_print_a_ratio(script: str, args: tuple[str, ...]) -> None:
    assert "ratio" in _run(script, *args)


def test_wall_bench_times_the_calls_that_reach_the_kernel() -> None:
    out = _run("bench_wall.py", "--steps", "1200", "--repeat", "1", "--checkpoint-every", "500")
    for kind in ("os.replace", "SQLite reserve (a commit)", "SQLite complete (a commit)"):
        assert kind in out
    assert "voluntary context switches" in out
    assert "all of them" in out


def test_resting_bench_prints_both_figures_and_the_cost_of_one_order() -> None:
    out = _run("bench_resting.py", "--resting", "20", "--steps", "20", "--repeat", "1")
    assert "20 orders resting: " in out
    assert "ratio (resting / baseline): " in out
    assert "one resting order costs " in out


def test_small_steps_bench_prints_both_figures_and_the_cost_of_one_call() -> None:
    out = _run("bench_small_steps.py", "--steps", "50", "--per-call", "2", "--repeat", "1")
    assert "2 step(s) a call: " in out
    assert "baseline, one call: " in out
    assert "ratio (small calls / one call): " in out
    assert "one call costs " in out


def test_resting_bench_requotes_in_both_sessions() -> None:
    # The bench itself checks that the quotes rest beside the resting orders (exit 1 else).
    out = _run(
        "bench_resting.py", "--resting", "20", "--steps", "10", "--repeat", "1", "--requote", "3"
    )
    assert "20 orders resting: " in out
    assert "(both replacing 3 orders a bar)" in out


def test_report_bench_crashes_its_run_half_way() -> None:
    """bench_report.py kills its run at checkpoint ``steps // 2 // 100``, as one taken every
    100 steps, and runs it with ``--durability none``. Bug: that durability's own default is
    a checkpoint every 1,000 steps, so the 500th checkpoint of a 100,000-step run never came,
    the run was not killed, and the bench docs/report.md names ended
    ``expected the crash point to kill the run``. Its config sets ``checkpoint_every`` now."""
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "bench_report.py")
    assert spec is not None
    assert spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    config = DryrunConfig.from_mapping({**tomllib.loads(bench.CONFIG), "durability": "none"})
    steps = 100_000
    assert config.checkpoint_every * (steps // 2 // 100) == steps // 2


def test_heavy_state_bench_prints_a_checkpoint_s_cost_by_the_state_s_size() -> None:
    out = _run("bench_heavy_state.py", "--floats", "0", "500", "--steps", "3", "--repeat", "1")
    assert "per checkpoint (none)" in out
    assert "500 | " in out
    assert "run directory" in out
