"""Ctrl-C that cuts a thread's wait for the session gate's turns' lock (``TurnsLock``).

A lock's wait is interrupted by a signal: the acquire raises ``KeyboardInterrupt``, without
the lock (or, the handler running just after, with it). Driven by hand with an inner lock
whose next wait in one thread is cut so; events order the threads, no wall-time sleep.
Last, a Ctrl-C held past ``run_to_end``'s last step boundary (``DeferredInterrupt``).
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import pytest

from livesession._session.interrupts import DeferredInterrupt, TurnsLock, _take
from livesession._session.threads import SessionGate

from _gate_watch import GateWatch

if TYPE_CHECKING:
    from collections.abc import Callable


class _CutLock:
    """An ``RLock`` whose next blocking ``acquire`` in ``victim`` Ctrl-C cuts.

    ``when``: "waiting" (raised without the lock, as a wait cut by the signal) or "taken"
    (raised just as the lock was taken, the handler running as the acquire returned).
    """

    def __init__(self, when: str) -> None:
        self.real = threading.RLock()
        self.when = when
        self.victim: int | None = None
        self.cut = threading.Event()

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if blocking and threading.get_ident() == self.victim:
            self.victim = None
            self.cut.set()
            if self.when == "taken":
                self.real.acquire()
            raise KeyboardInterrupt
        return self.real.acquire(blocking, timeout)

    def release(self) -> None:
        self.real.release()

    def _is_owned(self) -> bool:
        return bool(self.real._is_owned())  # type: ignore[attr-defined]


def _cut(lock: TurnsLock, when: str) -> _CutLock:
    inner = _CutLock(when)
    lock._lock = inner
    return inner


def _in_thread(call: Callable[[], object]) -> object:
    box: list[object] = []
    thread = threading.Thread(target=lambda: box.append(call()), daemon=True)
    thread.start()
    thread.join(30)
    assert box, "the other thread never returned"
    return box[0]


def _free_for_another(lock: TurnsLock) -> bool:
    def take() -> bool:
        if not lock.acquire(blocking=False):
            return False
        lock.release()
        return True

    return bool(_in_thread(take))


@pytest.mark.parametrize("when", ["waiting", "taken"])
def test_ctrl_c_in_the_wait_leaves_no_trace(when: str) -> None:
    """Bug: Ctrl-C cutting ``TurnsLock.acquire``'s wait left the thread in ``takers`` (its
    later reads answered as if from a handler inside its own turn); cut just as the lock
    was taken, the lock stayed held by nobody's ``with``, and the next caller waited for
    good. Now the interrupt goes on with no trace, and the next caller gets its turn."""
    lock = TurnsLock()
    _cut(lock, when).victim = threading.get_ident()
    with pytest.raises(KeyboardInterrupt):
        lock.acquire()
    assert lock.takers == set()
    assert _free_for_another(lock)
    with lock:  # and the interrupted thread's own next turn
        assert lock.takers == {threading.get_ident()}
    assert lock.takers == set()


@pytest.mark.parametrize("when", ["waiting", "taken"])
def test_ctrl_c_as_a_waiter_takes_the_lock_back_leaves_the_holder_alone(when: str) -> None:
    """Bug: Ctrl-C cutting ``Condition.wait``'s taking back of the lock (another thread held
    it, just notified) raised at once, and the ``with`` around the wait let go of the
    other thread's lock: two threads in the turns' bookkeeping, and the holder's own
    release raised ``RuntimeError: release unlocked lock``. Now the waiter takes it back
    all the same, then raises; the holder is left alone, and no trace stays."""
    lock = TurnsLock()
    inner = _cut(lock, when)
    turns = threading.Condition(lock)  # type: ignore[arg-type]  # as the gate's
    waiting = threading.Event()
    seen: dict[str, object] = {}

    def holder() -> None:
        waiting.wait()
        with turns:
            turns.notify_all()
            inner.cut.wait()  # the waiter's taking back is cut: then let go
            seen["still_holds"] = lock._is_owned()
        seen["released"] = True

    thread = threading.Thread(target=holder, daemon=True)
    thread.start()

    def wait() -> None:
        with turns:
            inner.victim = threading.get_ident()  # its next wait for the lock: taking it back
            waiting.set()
            try:
                turns.wait()
            except KeyboardInterrupt:
                seen["waiter_holds"] = lock._is_owned()  # raised once taken back
                raise

    with pytest.raises(KeyboardInterrupt):
        wait()
    thread.join(30)
    assert seen == {"still_holds": True, "released": True, "waiter_holds": True}
    assert lock.takers == set()
    assert _free_for_another(lock)


def test_the_gate_reads_in_turn_after_an_interrupted_wait() -> None:
    """Bug: after Ctrl-C cut the main thread's wait for its turn (a verb or read), its next
    read while another thread held the session lock was refused (``book refused: called
    as this thread took its turn for the session lock (a signal handler that ran just
    then)``): the thread was still counted in the turns. Now it waits its turn."""
    gate = SessionGate()
    _cut(gate._turns_lock, "waiting").victim = threading.get_ident()
    with pytest.raises(KeyboardInterrupt), gate.hold(read_only=True):
        pass
    assert (gate.waiting, gate.interrupting()) == (0, False)
    watch = GateWatch(gate)
    holding, gave_up = threading.Event(), threading.Event()

    def other() -> None:  # holds the session lock until the main thread waits its turn
        with gate.hold():
            holding.set()
            watch.wait_for(lambda: gate.waiting == 1 or gave_up.is_set(), 10)

    thread = threading.Thread(target=other, daemon=True)
    thread.start()
    holding.wait()
    try:
        with gate.read("book"):
            assert gate.inside()
    finally:
        gave_up.set()
        watch.tell()
        thread.join(30)
    assert (gate.waiting, gate.arrived) == (0, 2)


class _TwiceCut:
    """A lock whose wait two interrupts cut, one after the other, before it is taken."""

    def __init__(self) -> None:
        self.real = threading.RLock()
        self.cuts: list[BaseException] = [KeyboardInterrupt("first"), SystemExit("second")]

    def acquire(self, blocking: bool = True, timeout: float = -1) -> bool:
        if self.cuts:
            raise self.cuts.pop(0)
        return self.real.acquire(blocking, timeout)

    def release(self) -> None:
        self.real.release()

    def _is_owned(self) -> bool:
        return bool(self.real._is_owned())  # type: ignore[attr-defined]


def test_of_two_interrupts_cutting_the_wait_the_first_is_raised() -> None:
    """Two signals cut the wait to take the lock back: it is taken all the same, and the
    first interrupt, the one the user gave, is what the thread raises, not the last."""
    inner = _TwiceCut()
    cut = _take(inner)  # type: ignore[arg-type]
    assert isinstance(cut, KeyboardInterrupt)
    assert str(cut) == "first"
    assert inner._is_owned()
    inner.release()


def test_a_release_by_another_thread_leaves_the_holder_holding() -> None:
    """Only the holder may let go: another thread's ``release`` is a ``RuntimeError``, and
    the holder still holds the lock (a ``Condition`` on it may notify)."""
    lock = TurnsLock()
    turns = threading.Condition(lock)  # type: ignore[arg-type]  # as the gate's
    with turns:

        def release() -> str:
            try:
                lock.release()
            except RuntimeError as exc:
                return str(exc)
            return "released"

        assert _in_thread(release) != "released"
        assert lock._is_owned()
        turns.notify_all()  # "cannot notify on un-acquired lock" if the holder was forgotten
    assert _free_for_another(lock)


class _Closing:
    """What ``DeferredInterrupt`` closes: counts its ``close`` calls."""

    def __init__(self) -> None:
        self.closed = 0

    def request_stop(self, reason: str = "", *, sealed_as: bool = False) -> object:
        raise AssertionError("no SIGTERM here: nothing asks for a stop")

    def close(self) -> None:
        self.closed += 1


@pytest.mark.parametrize("closes", [True, False])
def test_a_ctrl_c_held_past_the_last_step_boundary_is_raised_as_the_block_ends(
    closes: bool,
) -> None:
    """A Ctrl-C held in ``run_to_end``'s own stop and seal (after the last boundary that
    would raise it) is raised as the block ends, the session closed first when the block
    closes it: not dropped, and not raised before the seal."""
    session = _Closing()
    deferred = DeferredInterrupt(lambda: True, session, closes=closes)  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt), deferred:
        deferred.pending = True  # as its handler holds one that came inside a step
    assert session.closed == (1 if closes else 0)
    assert not deferred.pending
