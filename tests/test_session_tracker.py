"""The testing kit's ``SessionTracker`` lets go of a session its test verified itself."""

from __future__ import annotations

import gc
import weakref

from livesession import DryrunConfig, LiveSessionOrchestrator, SessionState
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
