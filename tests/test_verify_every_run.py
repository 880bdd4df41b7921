"""The verify-every-run plugin (``_verify_runs``) fails a test whose run does not verify."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from livesession import DryrunConfig, LiveSessionOrchestrator

from _helpers import Sinks
from _verify_runs import run_dirs, verify_session

pytest_plugins = ["pytester"]

TESTS = Path(__file__).parent

_INNER_CONFTEST = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
pytest_plugins = ["_verify_runs"]
"""

_INNER_TESTS = """
import pytest
from livesession import DryrunConfig, LiveSessionOrchestrator, MemoryLineSink, MemoryMetricsSink

def _session():
    sinks = [MemoryLineSink(), MemoryLineSink(), MemoryLineSink()]
    orch = LiveSessionOrchestrator(
        DryrunConfig(run_id="inner", steps=20), event_sink=sinks[0], state_sink=sinks[1],
        audit_sink=sinks[2], metrics_sink=MemoryMetricsSink(),
    )
    return orch, sinks

def test_clean_run_left_open():
    orch, _ = _session()
    orch.preflight(); orch.activate(); orch.run_n_steps(5)  # the plugin closes it

def test_tampered_run():
    orch, sinks = _session()
    orch.run_to_end(20)
    sinks[0].lines.pop(3)

@pytest.mark.broken_run("tampered on purpose")
def test_tampered_on_purpose():
    orch, sinks = _session()
    orch.run_to_end(20)
    sinks[0].lines.pop(3)
"""


def test_a_run_that_fails_verify_fails_the_test_that_made_it(pytester: pytest.Pytester):
    pytester.makeconftest(_INNER_CONFTEST)
    pytester.makepyfile(test_inner=textwrap.dedent(_INNER_TESTS))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_tampered_run*"])
    result.stdout.fnmatch_lines(["*a run made by this test fails verify*"])


def test_a_clean_closed_session_has_no_problems():
    sinks = Sinks()
    orch = LiveSessionOrchestrator(DryrunConfig(run_id="clean", steps=30), **sinks.kwargs())
    orch.run_to_end(30)
    assert verify_session(orch) == []


@pytest.mark.broken_run("it tampers with a session's events to see it reported")
def test_a_tampered_session_is_reported():
    sinks = Sinks()
    orch = LiveSessionOrchestrator(DryrunConfig(run_id="bad", steps=30), **sinks.kwargs())
    orch.run_to_end(30)
    del sinks.events.lines[5]
    problems = verify_session(orch)
    assert problems
    assert all(p.startswith("session bad: ") for p in problems)


@pytest.mark.broken_run("its run directories are empty markers")
def test_run_directories_are_found_below_a_root(tmp_path: Path):
    for name in ("a", "nested/b"):
        run = tmp_path / name
        run.mkdir(parents=True)
        (run / "events.jsonl").write_bytes(b"")
        (run / "audit.jsonl").write_bytes(b"")
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "events.jsonl").write_bytes(b"")  # no audit: not a run
    assert [p.relative_to(tmp_path).as_posix() for p in run_dirs(tmp_path)] == ["a", "nested/b"]
