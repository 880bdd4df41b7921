"""One owner thread per session, and the session lock every other thread goes through.

The thread that builds a session owns it: only it may run the session forward
(``preflight``, ``activate``, ``step``, ``run_n_steps``, ``run_to_end``), and never from
inside its own step (``refuse_nested``: a strategy's ``on_bar`` calling ``run_n_steps``).
The operator verbs (``request_stop``, ``kill``, ``acknowledge``, ``reduce_only``,
``reenable_trading``, ``close``) may come from any thread: each runs under the session
lock, so one that arrives while a step runs takes effect when that step ends, and one that
arrives with no step running takes effect at once, in the caller's thread.

The lock is re-entrant (a step hook may call a verb; ``close`` stops first), and the owner
lets a waiting verb in between two steps: otherwise ``run_n_steps`` releasing and retaking
the lock in a loop could keep a verb out for the whole run.

Whatever thread holds the lock computes in the library's decimal context
(``_domain.decimal.CONTEXT``), not its own: an application's ``getcontext().prec = 6``
must not change a run's bytes. The caller's context is back once the lock is let go.

A ``KeyboardInterrupt`` or ``SystemExit`` that leaves the lock's work half done (Ctrl-C in
the middle of a step, an application's signal handler calling ``sys.exit``), or an error
the step or verb could not handle (the idempotency store refused a write, the PostgreSQL
server went away), tears the session: the gate remembers it (``torn_by``), and the session
takes no further step or verb and never seals what it holds. As that work lets go of the
lock, the session lets go of its run (``on_torn``): its files are closed without another
byte (what its sinks held is lost, as in a crash), and its writer lock let go. Its run is
left as a crash at its last checkpoint, for ``resume`` to continue at once. So that Ctrl-C
does not tear a session, ``run_to_end`` and ``run_n_steps`` in the main thread hold a first
Ctrl-C to the end of the step it arrives in (``DeferredInterrupt``); a second one
interrupts at once. A SIGTERM there stops and seals the session at the step's end before
the process ends as the signal's default.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from decimal import getcontext, setcontext
from typing import TYPE_CHECKING, NoReturn

from .._domain.decimal import CONTEXT, enter_context
from .._exceptions import CheckpointError, InvalidTransition, LiveSessionError, StoreFailure
from .._support.built import note
from .._support.handlerraised import raised_in_handler
from .._support.secrets import redact_text
from .._support.text import exception_text, one_line
from .interrupts import SIGTERM_STOP, DeferredInterrupt, TurnsLock
from .outcomes import VerbOutcome, VerbResult
from .torn import TornWords

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from decimal import Context


__all__ = [
    "SIGTERM_STOP",
    "DeferredInterrupt",
    "InProcessOnly",
    "SessionGate",
    "VerbOutcome",
    "VerbResult",
]

_WORK: dict[str, str] = {
    "step": "a step",
    "run_n_steps": "a step",
    "read": "a read",
    "verb": "a verb",
}
"""How a verb's ``DEFERRED`` message names the work it cut into (else ``preflight()``...)."""


def _owns(lock: threading.RLock) -> bool:
    """Whether the calling thread holds ``lock`` (as ``threading.Condition`` asks it)."""
    return bool(lock._is_owned())  # type: ignore[attr-defined]  # noqa: SLF001


def _wake(turns: threading.Condition) -> None:
    """Wake the threads waiting for the owner's turn to end (``SessionGate.hold``).

    Once more if an interrupt cut the first try (a handler that raised as the turns' lock
    was taken): a thread left asleep would wait for good.
    """
    try:
        with turns:
            turns.notify_all()
    except BaseException:
        with turns:
            turns.notify_all()
        raise


class InProcessOnly:
    """A session stays in the process, and with the owner thread, that built it.

    Neither pickled (a host handing it to a worker process) nor copied: its run's files,
    writer lock and owner thread are this process's, and a copy would be a second writer
    of the same run. Pickle refused it only by chance, naming a ``_hashlib.HASH`` deep
    inside it.
    """

    __slots__ = ()

    def __reduce__(self) -> NoReturn:
        raise TypeError(
            f"a session ({type(self).__name__}) cannot be pickled or copied: its run's files, lock "
            "and owner thread stay in the process that built it; build the session in the "
            "worker (create_run there) and send back its result()"
        )


class SessionGate(TornWords):
    """The session lock, the owner thread, and fair turns for verbs from other threads."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._turns_lock = TurnsLock()
        self._turns = threading.Condition(self._turns_lock)  # type: ignore[arg-type]
        self._waiting = 0
        self._arrived = 0
        """Threads that came to wait on the lock in ``hold``, ever."""
        self._served = 0
        """Of them, those whose wait ended (they took the lock, or gave up)."""
        self._owner_next = False
        """The owner waits for the lock: a thread that comes to ``hold`` it now waits for
        the owner's step first (the lock itself lets whoever asks next barge in)."""
        self._holder: int | None = None
        self._work = ""
        """What the holder is doing (``step``, ``read``, ``verb``, ``preflight``...)."""
        self._depth = 0
        self._callers_context: Context | None = None
        """The holder's own decimal context, given back when it lets go of the lock."""
        owner = threading.current_thread()
        self.owner_ident = owner.ident
        self.owner_name = owner.name
        self.torn_by = ""
        """The name of what left work half done: an interrupt (``KeyboardInterrupt``) or an
        error nothing handled (``StoreFailure``); "" while the session is whole."""
        self.torn_error = ""
        """What tore it said, in one redacted line ("" for an interrupt), for its alert."""
        self.done: Callable[[], bool] = bool
        """Whether the session's run is sealed: an interrupt then cuts no work (``tear``)."""
        self.on_torn: Callable[[], object] = bool
        """Called once, as the work that tore the session lets go of the lock: the session
        lets go of its run then (``closing.let_go``), writing nothing more to it."""
        self._let_go = False
        self._reentry_open = 0
        self._arriving: dict[int, str] = {}
        """Threads on their way to the lock (see ``interrupting``), and what for."""
        self.deferred: list[tuple[int, Callable[[], object]]] = []
        """Verbs called from inside a thread's work, by thread, run as it ends (``deferring``)."""
        note(self)  # a test's ``built(SessionGate)`` gets it

    @property
    def waiting(self) -> int:
        """The threads waiting for the lock now (in ``hold``)."""
        return self._waiting

    @property
    def arrived(self) -> int:
        """The threads that came to wait for the lock in ``hold``, ever."""
        return self._arrived

    @property
    def owner_waiting(self) -> bool:
        """The owner waits for the lock: a thread that comes to ``hold`` it waits its step."""
        return self._owner_next

    @property
    def on_turns(self) -> Callable[[], object] | None:
        """A test hook called by each thread as it takes the turns' lock (``TurnsLock``)."""
        return self._turns_lock.on_taken

    @on_turns.setter
    def on_turns(self, hook: Callable[[], object] | None) -> None:
        self._turns_lock.on_taken = hook

    def interrupting(self) -> bool:
        """Whether a verb called now would cut into the calling thread's own work.

        True when the calling thread already holds the lock and has not opened a re-entry
        point: a signal handler that Python ran in the middle of a step, say. A step hook
        (run when the step's bar is done) is a re-entry point. So when it is on its way to
        the lock, holding the turns': the verb would wait for that lock, its own, for good.
        """
        ident = threading.get_ident()
        return ident in self._arriving or (self._holder == ident and not self._reentry_open)

    def interruption(self) -> tuple[str, str]:
        """Where an ``interrupting`` call came, and when its work ends: a ``DEFERRED``'s words."""
        way = self._arriving.get(threading.get_ident())
        if way is not None:
            work = _WORK.get(way, f"{way}()")
            where = f"as this thread waited its turn for the session lock, for {work}"
            return where, f"that {work.removeprefix('a ')} has ended"
        work = _WORK.get(self._work, f"{self._work}()")
        return f"from inside {work}", f"the {work.removeprefix('a ')} ends"

    @contextmanager
    def reentry(self) -> Iterator[None]:
        """A point in the lock's work where a verb may run at once (a step hook, say)."""
        self._reentry_open += 1
        try:
            yield
        finally:
            self._reentry_open -= 1

    def deferring(self, call: Callable[[], object]) -> bool:
        """Keep ``call`` for the end of the work under way if the caller is ``interrupting``.

        True when it was kept (``run_deferred`` runs it); False: the caller goes on at once.
        """
        if not self.interrupting():
            return False
        self.deferred.append((threading.get_ident(), call))
        return True

    def run_deferred(self) -> None:
        """Run this thread's deferred verbs, in order, now that none of its work is under way.

        Only the thread that deferred a verb runs it: one a handler deferred as the owner
        waited its turn waits for that step's end, not for another thread's read to end.
        """
        mine = threading.get_ident()
        while self._holder is None and (due := [c for t, c in self.deferred if t == mine]):
            self.deferred.remove((mine, due[0]))
            due[0]()

    def tear(
        self, exc: BaseException, *, unhandled: type[Exception] | tuple[type[Exception], ...]
    ) -> None:
        """Remember ``exc`` as what tore the session if it left work half done.

        An interrupt always does, and so does what a signal handler of the user's raised
        (``raised_in_handler``: a timer's ``TimeoutError``); an ``Exception`` does when it
        is one of ``unhandled`` for the work it left: any for a step (the pipeline handles
        what it can), ours but a refused trigger for a verb (a PostgreSQL server gone in the
        wind-down), a ``StoreFailure`` or a refused checkpoint (``CheckpointError``: a full
        disk at the first checkpoint, written as the session activates) for preflight and
        activation (whose other errors change nothing). Untorn, ``close`` would stop the session,
        whose checkpoint the disk refuses again, and raise before it let go of the lease.
        """
        refused = isinstance(exc, InvalidTransition)
        tears = not isinstance(exc, Exception) or (isinstance(exc, unhandled) and not refused)
        tears = tears or raised_in_handler(exc)  # a user's timer cut it: an interrupt too
        if tears and not self.torn_by and not self.done():  # not the seal's alert's interrupt
            self.torn_by = type(exc).__name__
            self.torn_error = redact_text(one_line(exception_text(exc)))

    def claim(self) -> None:
        """Make the calling thread the owner (the thread that builds the session)."""
        owner = threading.current_thread()
        self.owner_ident = owner.ident
        self.owner_name = owner.name

    @contextmanager
    def hold(self, *, read_only: bool = False) -> Iterator[None]:
        """Hold the session lock (any thread); waits for a running step to end.

        ``read_only``: the holder changes nothing, so an interrupt inside tears nothing.
        """
        ident = threading.get_ident()
        on_its_way = self._arriving.get(ident)  # a signal handler's read: its thread's is first
        if on_its_way is None:
            self._arriving[ident] = "read" if read_only else "verb"
        counted = False
        try:
            with self._turns:
                ahead = on_its_way is not None or ident in (self.owner_ident, self._holder)
                if self._owner_next and not ahead:
                    self._turns.wait_for(lambda: not self._owner_next)
                self._waiting += 1
                self._arrived += 1
                counted = True  # no call in between: a handler's error leaves none counted
            self._lock.acquire()
        finally:
            if counted:
                with self._turns:
                    self._waiting -= 1
                    self._served += 1
                    self._turns.notify_all()
            if on_its_way is None:
                del self._arriving[ident]
        with self._entered(read_only=read_only), self._no_reentry():
            yield
        if self.deferred and self._holder is None and on_its_way is None:
            self.run_deferred()

    @contextmanager
    def read(self, what: str) -> Iterator[None]:
        """Hold the lock for a read (``what``: ``book``, ``result()``...), as ``hold`` does.

        From a signal handler that ran in the middle of its thread's turn bookkeeping (the
        few instructions in which the thread holds the turns' lock, on its way to the
        session lock or back), the read does not wait: that lock is its own thread's. It
        reads at once if the session lock is free or its own thread's, and otherwise raises
        ``LiveSessionError``: waiting for another thread to let go would wait on itself.
        """
        if threading.get_ident() not in self._turns_lock.takers:
            with self.hold(read_only=True):
                yield
            return
        if not self._lock.acquire(False):  # noqa: FBT003 - as enter_owned's
            raise LiveSessionError(
                f"{what} refused: called as this thread took its turn for the session lock "
                "(a signal handler that ran just then), which another thread holds: the read "
                "would wait on its own thread; nothing was changed: read once the handler has "
                "returned (set a flag in it), or from another thread"
            )
        with self._entered(read_only=True):
            yield

    @contextmanager
    def _no_reentry(self) -> Iterator[None]:
        """Close the re-entry point for a verb's own work (one a step hook called).

        A verb that a sink or alert sink calls in the middle of it (a ``post`` that stops
        the session on a kill's alert) is deferred to the end of the step, never run inside
        the verb under way: its records would cut into the verb's own.
        """
        opened, self._reentry_open = self._reentry_open, 0
        try:
            yield
        finally:
            self._reentry_open = opened

    @contextmanager
    def owned(self, what: str, run_id: str) -> Iterator[None]:
        """Hold the lock for the owner's work (``what``); another thread is refused.

        Before taking the lock the owner lets every verb already waiting have its turn.
        """
        self.enter_owned(what, run_id)
        try:
            yield
        except BaseException as exc:
            self.tear(exc, unhandled=(StoreFailure, CheckpointError))
            raise
        finally:
            self.leave()
        if self.deferred and self._holder is None:
            self.run_deferred()

    def enter_owned(self, what: str, run_id: str) -> None:
        """``owned`` without the context manager (the step loop's path); pair with ``leave``.

        ``_waiting`` is read without the turns lock: a verb counts itself in before it
        blocks on the session lock, so one that is waiting now is seen; one that arrives
        just after the read waits for this step, as if it had come a moment later. The owner
        waits for the threads waiting when it looked, not for a moment when none waits:
        threads that keep reading the session (``book`` in a loop, a status endpoint's
        workers) would otherwise never leave one, and the session stopped stepping.
        """
        ident = threading.get_ident()
        if ident != self.owner_ident:
            self.check_owner(what, run_id)
        elif self._holder == ident:
            self.refuse_nested(what, run_id)
        if self._holder == ident:
            self._lock.acquire()
        elif self._waiting or not self._lock.acquire(False):  # noqa: FBT003 - a keyword costs 1,000 instructions
            self._acquire_in_turn(what)
        self._holder = ident
        self._depth += 1
        if self._depth == 1:  # ``enter_context``, inline: the step loop's path
            self._work = what
            self._callers_context = getcontext()
            setcontext(CONTEXT.copy())

    def _acquire_in_turn(self, what: str) -> None:
        """Take the lock after the threads waiting for it now, for ``what`` (``step``...).

        Those that come for it meanwhile wait for the owner's turn (``hold``). An interrupt
        anywhere in it (a signal handler that raises as the turns' lock is taken, Ctrl-C as
        the session lock is) leaves nothing behind: the owner's turn is given up before the
        turns' lock is taken again, the threads waiting for it are woken, and the session
        lock is let go if it was taken: no step began, so the session is whole.
        """
        ident = threading.get_ident()
        first = ident not in self._arriving  # not a handler's, inside its thread's own wait
        if first:
            self._arriving[ident] = what  # a handler's verb: at the step's end
        held = _owns(self._lock)
        try:
            try:
                with self._turns:
                    self._owner_next = True
                    due = self._arrived
                    self._turns.wait_for(lambda: self._served >= due)
                self._lock.acquire()
            finally:
                self._owner_next = False  # before the turns' lock, which an interrupt may cut
                if first:
                    del self._arriving[ident]
                _wake(self._turns)
        except BaseException:
            if not held and _owns(self._lock):
                self._lock.release()  # taken, and then interrupted: no step will let it go
            raise

    def leave(self) -> None:
        """Release what ``enter_owned`` (or ``_enter``) took: one call on the step loop's path.

        The outermost work of a session it tore lets go of the run first (``on_torn``),
        still under the lock: a torn session held its run's writer lock until ``close()``
        or its garbage collection, and ``status`` called its run ``running`` for as long.
        """
        try:
            if self.torn_by and self._depth == 1 and not self._let_go:
                self._let_go = True
                self.on_torn()
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._holder = None
                if self._callers_context is not None:
                    setcontext(self._callers_context)  # the caller's own again
                    self._callers_context = None
            self._lock.release()

    @contextmanager
    def _entered(self, *, read_only: bool) -> Iterator[None]:
        """With the lock just acquired: count this thread in, and release the lock after."""
        try:
            self._enter("read" if read_only else "verb")
            yield
        except BaseException as exc:
            if not read_only:
                self.tear(exc, unhandled=LiveSessionError)
            raise
        finally:
            self.leave()

    def inside(self) -> bool:
        """Whether the calling thread holds the session lock (a step or verb is running)."""
        return self._holder == threading.get_ident()

    def check_runner(self, what: str, run_id: str) -> None:
        """``check_owner``, and ``refuse_nested``: ``what`` runs the session forward."""
        self.check_owner(what, run_id)
        if self._holder == threading.get_ident():
            self.refuse_nested(what, run_id)

    def refuse_nested(self, what: str, run_id: str) -> None:
        """Raise ``LiveSessionError``: the owner called ``what`` from inside its own work.

        A step runs whole: ``step`` or ``run_n_steps`` from the strategy's ``on_bar`` (or a
        step hook) would run steps nested inside it, the outer step's intents recorded at
        a later step's time and filled at its price. From ``on_bar`` the error is the
        strategy's (``STRATEGY_ERROR``).
        """
        raise LiveSessionError(
            f"{what} called from inside a step of session {run_id} (the strategy's on_bar or "
            "a step hook): a session runs whole steps only; return the bar's intents from "
            "on_bar, or call a verb (request_stop, kill, ...), which acts when the step ends"
        )

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

    def _enter(self, work: str) -> None:
        self._holder = threading.get_ident()
        self._depth += 1
        if self._depth == 1:  # the holder computes in the library's decimal context
            self._work = work
            self._callers_context = enter_context()
