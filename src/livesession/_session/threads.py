"""One owner thread per session, and the session lock every other thread goes through.

The thread that builds a session owns it: only it may run the session forward
(``preflight``, ``activate``, ``step``, ``run_n_steps``, ``run_to_end``). The operator verbs
(``request_stop``, ``kill``, ``acknowledge``, ``reduce_only``, ``reenable_trading``,
``close``) may come from any thread: each runs under the session lock, so one that arrives
while a step runs takes effect when that step ends, and one that arrives with no step
running takes effect at once, in the caller's thread.

The lock is re-entrant (a step hook may call a verb; ``close`` stops first), and the owner
lets a waiting verb in between two steps: otherwise ``run_n_steps`` releasing and retaking
the lock in a loop could keep a verb out for the whole run.
"""

from __future__ import annotations

import enum
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

import attrs

from .._exceptions import LiveSessionError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._domain.lifecycle import SessionState

__all__ = ["SessionGate", "VerbOutcome", "VerbResult"]


class VerbOutcome(enum.Enum):
    """What an operator verb did."""

    APPLIED = "APPLIED"
    """It took effect now."""
    ALREADY = "ALREADY"
    """What it asks for is already so (a second stop, a second kill): nothing changed."""
    NOT_APPLICABLE = "NOT_APPLICABLE"
    """It makes no sense in the session's state (a kill after the stop): nothing changed."""


@attrs.frozen(kw_only=True)
class VerbResult:
    """The return value of an operator verb: it never raises for the session's state.

    ``bool(result)`` is whether it was applied; ``message`` says in one line what happened
    or why nothing did; ``state`` is the lifecycle state once the verb returned.
    """

    verb: str
    outcome: VerbOutcome
    state: SessionState
    message: str

    @property
    def applied(self) -> bool:
        """Whether the verb took effect."""
        return self.outcome is VerbOutcome.APPLIED

    def __bool__(self) -> bool:
        return self.applied


class SessionGate:
    """The session lock, the owner thread, and fair turns for verbs from other threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._turns = threading.Condition(threading.Lock())
        self._waiting = 0
        self._holder: int | None = None
        self._depth = 0
        owner = threading.current_thread()
        self.owner_ident = owner.ident
        self.owner_name = owner.name

    def claim(self) -> None:
        """Make the calling thread the owner (the thread that builds the session)."""
        owner = threading.current_thread()
        self.owner_ident = owner.ident
        self.owner_name = owner.name

    @contextmanager
    def hold(self) -> Iterator[None]:
        """Hold the session lock (any thread); waits for a running step to end."""
        with self._turns:
            self._waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._turns:
                self._waiting -= 1
                self._turns.notify_all()
        with self._entered():
            yield

    @contextmanager
    def owned(self, what: str, run_id: str) -> Iterator[None]:
        """Hold the lock for the owner's work (``what``); another thread is refused.

        Before taking the lock the owner lets every verb already waiting have its turn.
        """
        self.enter_owned(what, run_id)
        try:
            yield
        finally:
            self.leave()

    def enter_owned(self, what: str, run_id: str) -> None:
        """``owned`` without the context manager (the step loop's path); pair with ``leave``.

        ``_waiting`` is read without the turns lock: a verb counts itself in before it
        blocks on the session lock, so one that is waiting now is seen; one that arrives
        just after the read waits for this step, as if it had come a moment later.
        """
        ident = threading.get_ident()
        if ident != self.owner_ident:
            self.check_owner(what, run_id)
        if self._waiting and self._holder != ident:
            with self._turns:
                self._turns.wait_for(lambda: self._waiting == 0)
        self._lock.acquire()
        self._holder = ident
        self._depth += 1

    def leave(self) -> None:
        """Release what ``enter_owned`` took."""
        self._depth -= 1  # _leave, inline: once per step
        if self._depth == 0:
            self._holder = None
        self._lock.release()

    @contextmanager
    def _entered(self) -> Iterator[None]:
        """With the lock just acquired: count this thread in, and release the lock after."""
        try:
            self._enter()
            yield
        finally:
            self._leave()
            self._lock.release()

    def check_owner(self, what: str, run_id: str) -> None:
        """Raise ``LiveSessionError`` naming the owner unless the caller is the owner."""
        current = threading.current_thread()
        if current.ident == self.owner_ident:
            return
        raise LiveSessionError(
            f"{what} called from thread {current.name!r}, but session {run_id} belongs to "
            f"thread {self.owner_name!r} (ident {self.owner_ident}), which built it: build "
            "and step a session in one thread (livesession.aio.open_session does); other "
            "threads may call request_stop, kill, acknowledge, reduce_only, "
            "reenable_trading and close"
        )

    def _enter(self) -> None:
        self._holder = threading.get_ident()
        self._depth += 1

    def _leave(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self._holder = None
