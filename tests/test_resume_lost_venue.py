"""A resume on a desk's venue that lost what it held says so, and what to do.

Bug: a desk's ``MockBroker`` subclass named by the config (``broker = "desk.venue:make"``),
built without the run's venue journal, comes back empty after a crash. With
``checkpoint_every = 7`` and a crash at the fifth checkpoint (the run long 0.010 there),
``livesession resume`` ended the run with ``IDEMPOTENCY_CONFLICT (IdempotencyConflict:
idempotency key '...' is already reserved with different order parameters)`` and nothing
else: not what happened, nor what to do. The fault now says the run no longer repeats what
it did, what the venue and the run hold, and how a desk's venue keeps its state.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livesession import resume_run

from _helpers import plug_config
from crash_harness import KILLED, cli

_VENUE = """\
from livesession import MockBroker


class Venue(MockBroker):
    simulated = True


def make():
    return Venue()


def make_journaled(*, journal=None):
    return Venue(journal=journal)
"""

_SAID = (
    "is already reserved with different order parameters: the run sent another order under "
    "a client order id it used before, so it no longer repeats what it did (a venue that "
    "lost what it held at the crash: BTC/USDT flat at the venue, 0.010 in the run); no "
    "resume can finish it: settle the venue by hand and start a new run (a simulated venue "
    "of your own keeps what it holds in the run's venue journal: docs/plugins.md)"
)


def _crashed(tmp_path: Path, factory: str) -> Path:
    """A run on ``lostvenue.venue:<factory>`` killed at its fifth checkpoint (step 21, long 0.010)."""
    toml = (
        f'run_id = "{factory}"\nsteps = 60\ncheckpoint_every = 7\ndurability = "none"\n'
        f'broker = "lostvenue.venue:{factory}"\n[strategy]\nfast = 2\nslow = 5\n'
    )
    config = plug_config(tmp_path, "lostvenue", {"venue.py": _VENUE}, toml)
    runs = tmp_path / "runs"
    crashed = cli("dryrun", "-c", config, "--out", runs, "-q", crash_at="checkpoint:5")
    assert crashed.returncode == KILLED, crashed.stderr
    return runs / factory


def test_a_venue_without_its_journal_fails_the_resume_saying_what_it_lost(tmp_path: Path):
    run_dir = _crashed(tmp_path, "make")
    proc = cli("resume", run_dir, "-q", cwd=tmp_path)
    assert proc.returncode == 4, proc.stderr
    (line,) = proc.stderr.splitlines()
    assert line.startswith("livesession: failed: IDEMPOTENCY_CONFLICT (IdempotencyConflict: "), line
    assert _SAID in line, line
    stopped = [
        json.loads(row)
        for row in (run_dir / "events.jsonl").read_text().splitlines()
        if '"STATE_CHANGED"' in row
    ][-1]
    assert _SAID in stopped["payload"]["detail"]["message"]  # the evidence holds the words
    status = cli("status", run_dir, cwd=tmp_path)
    assert status.returncode == 5  # needs an operator
    (next_line,) = [row for row in status.stdout.splitlines() if row.startswith("next")]
    to_do = _SAID[_SAID.index("no resume can finish it") :]
    assert next_line.endswith(
        f"as the run's fault says (audit.jsonl's C2_OPERATOR_REQUIRED), {to_do}"
    )
    assert cli("verify", run_dir).returncode == 0


def test_the_same_venue_given_the_run_s_journal_resumes(tmp_path: Path):
    """What the words tell a desk to do: its factory takes ``journal`` and passes it on."""
    run_dir = _crashed(tmp_path, "make_journaled")
    proc = cli("resume", run_dir, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert cli("verify", run_dir).returncode == 0


def test_the_api_s_resume_says_it_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """``resume_run`` of the same crashed run: its result's detail carries the words."""
    run_dir = _crashed(tmp_path, "make")
    monkeypatch.syspath_prepend(str(tmp_path))
    with resume_run(run_dir) as session:
        result = session.run_to_end(60)
    assert (result.status.value, result.reason) == ("FAILED", "IDEMPOTENCY_CONFLICT"), result
    assert _SAID in result.detail
