"""The testing kit's ``SessionTracker`` lets go of a session its test verified itself."""

from __future__ import annotations

import gc
import weakref

import pytest

from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    RunHeld,
    SessionState,
    SessionStatus,
    create_run,
    resume_run,
)
from livesession.testing import SessionTracker, mark_verified, verify_session

from _helpers import Sinks


def _ran(run_id: str, sinks: Sinks) -> LiveSessionOrchestrator:
    session = LiveSessionOrchestrator(DryrunConfig(run_id=run_id, steps=5), **sinks.kwargs())
    assert session.preflight()
    session.activate()
    session.run_n_steps(5)
    return session


def test_a_session_marked_verified_is_not_kept_alive():
    """Bug: every tracker (the pytest plugin's of each test among them) held every session
    built in the test, with its memory sinks, to the test's end, ``mark_verified`` or not:
    the failure matrix, which verifies each session it retires and marks it so, grew by
    some 0.27 MB a session (its CI form peaked at 463 MB, 124 MB now), and its deep
    campaign (``nox -s failure_matrix``) passed 4.6 GB. A marked session is let go now."""
    with SessionTracker() as tracker:
        refs = []
        for i in range(3):
            session = _ran(f"r{i}", Sinks())
            assert verify_session(session) == []
            mark_verified(session)
            refs.append(weakref.ref(session))
            del session
        gc.collect()
        assert [ref() for ref in refs] == [None, None, None]
        assert tracker.built == []
    assert tracker.problems() == []


def test_the_sessions_before_a_marked_one_on_its_sinks_go_with_it():
    """Only the last session on a set of sinks is verified (an earlier one was abandoned as
    a crash would be, and closing it would write after the later one's end): a later one
    marked verified takes the earlier ones with it, unclosed; another test's sinks stay."""
    with SessionTracker() as tracker:
        shared, other = Sinks(), Sinks()
        abandoned = _ran("a", shared)
        kept = _ran("k", other)
        later = _ran("a", shared)
        mark_verified(later)
        assert tracker.built == [kept]
    assert tracker.problems() == []
    assert kept.state is SessionState.STOPPED  # closed and verified
    assert abandoned.state is SessionState.DRYRUN_ACTIVE  # never closed


def test_a_run_dropped_unclosed_is_resumed_in_the_same_test(tmp_path):
    """Bug: a tracker (the ``verified_runs`` fixture's, the plugin's with
    ``livesession_verify_every_run``) kept every session its test built, so the crash a
    host's test makes by dropping a session unclosed never came: its ``resume_run`` in the
    same test was refused, ``RunHeld`` "which is this very process ... drop every reference
    to it", though the test held none. The tracker keeps that run's sessions weakly once a
    writer asks for it: the dropped one is collected, and the resumed run verifies."""
    with SessionTracker() as tracker:
        cfg = DryrunConfig(run_id="dropped", steps=60, checkpoint_every=10)
        session = create_run(cfg, tmp_path, alerts=False)
        assert session.preflight()
        session.activate()
        session.run_n_steps(25)
        dropped = weakref.ref(session)
        del session
        resumed = resume_run(tmp_path / "dropped", alerts=False)
        assert dropped() is None
        assert resumed.steps_done == 20  # its last checkpoint: a crash
        assert resumed.run_to_end(60).status is SessionStatus.COMPLETED
    assert tracker.problems(tmp_path) == []


def test_a_run_the_test_still_holds_is_refused_and_closed_at_the_end(tmp_path):
    """The session a test still refers to still holds its run, as outside the kit."""
    with SessionTracker() as tracker:
        session = create_run(DryrunConfig(run_id="held", steps=30), tmp_path, alerts=False)
        assert session.preflight()
        session.activate()
        session.run_n_steps(5)
        with pytest.raises(RunHeld, match="which is this very process"):
            resume_run(tmp_path / "held", alerts=False)
    assert tracker.problems(tmp_path) == []  # closed (sealed) and verified
    assert session.state is SessionState.STOPPED
