"""Ctrl-C and SIGTERM during ``run_to_end`` and ``run_n_steps`` in the main thread.

Held to the step boundary (``DeferredInterrupt``), so that neither tears a session: see
``threads`` for the session lock and what tears a session. And the lock under the session
gate's turns (``TurnsLock``), which knows when a signal handler cut into its thread's
bookkeeping.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Final, Protocol

from .._support.signals import end_by, ours

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Self

    from .threads import VerbResult

_NO_TIMEOUT: Final = -1

try:  # signal's own C module: the same handlers, without signal's enum wrapping of each
    import _signal as _raw  # type: ignore[import-not-found,unused-ignore]
except ImportError:  # pragma: no cover - an interpreter that has none
    _raw = signal
_getsignal: Callable[[int], object] = _raw.getsignal
"""A signal's handler: an int for ``SIG_DFL`` and ``SIG_IGN``, as the system has them.

``signal.getsignal`` and ``signal.signal`` convert each handler to and from an enum, by
raising and catching a ``ValueError`` for a function: 7 us a call, against 0.6 us here.
``run_n_steps`` looks at and sets two handlers as it starts and as it ends, so a caller
stepping the session one ``run_n_steps(1)`` at a time on the main thread paid 43 to 49 us a
call over its step, now 7 to 10 (``bench/bench_small_steps.py``).
"""
_setsignal: Callable[[int, object], object] = _raw.signal
_SIGINT: Final = int(signal.SIGINT)
_SIGTERM: Final = int(signal.SIGTERM)
_SIG_DFL: Final = int(signal.SIG_DFL)

__all__ = ["SIGTERM_STOP", "DeferredInterrupt", "TurnsLock"]


class _Stoppable(Protocol):
    """What ``DeferredInterrupt`` stops and closes on SIGTERM (the coordinator)."""

    def request_stop(self, reason: str = ..., *, sealed_as: bool = ...) -> VerbResult:
        """Stop the session (cancel, flatten, STOPPED)."""
        ...

    def close(self) -> None:
        """Seal the run."""
        ...


SIGTERM_STOP: Final = "SIGNAL_SIGTERM"
"""The stop (and seal) reason of a SIGTERM that ``DeferredInterrupt`` took, as the CLI's."""


class DeferredInterrupt:
    """Ctrl-C and SIGTERM in the middle of a bulk run act at a step boundary, never inside.

    Installed by ``run_to_end`` and ``run_n_steps`` in the main thread, over Python's own
    handlers only (an application's or the CLI's own handlers are left alone):

    - SIGINT: a first one that arrives while ``inside()`` (a step holds the session lock)
      is held, and ``check()`` raises it as ``KeyboardInterrupt`` at the step boundary;
      outside a step, or a second time, it is raised at once, as Python would. With
      ``closes`` (``run_to_end``) the session is closed as the interrupt leaves the block:
      a whole session is sealed, a torn one (the second Ctrl-C) is not. One held after the
      last boundary (in ``run_to_end``'s own stop and seal) is raised as the block ends.
    - SIGTERM, whose default would kill the process wherever it is and leave the run
      unsealed: ``check()`` stops the session at the step boundary (reason
      ``SIGNAL_SIGTERM``, as the CLI's), leaving the block closes it (the seal), and then
      the signal is raised again with its default action, so the process ends as it would
      have, with its run sealed (as PID 1, where the kernel drops it, by ``end_by``: exit
      status 143). A second SIGTERM ends the process at once.
    """

    def __init__(
        self, inside: Callable[[], bool], session: _Stoppable, *, closes: bool = False
    ) -> None:
        self._inside = inside
        self._session = session
        self._closes = closes
        self.pending = False
        self.terminating = False
        self._installed: list[tuple[int, object, object]] = []

    def __enter__(self) -> Self:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum, default, handler in (
            (_SIGINT, signal.default_int_handler, self._on_sigint),
            (_SIGTERM, _SIG_DFL, self._on_sigterm),
        ):
            now = _getsignal(signum)
            if now is default or (type(now) is int and now == default):  # SIG_DFL's int
                mine = ours(handler)  # a forked child (a strategy's pool) gets the default
                _setsignal(signum, mine)
                self._installed.append((signum, default, mine))
        return self

    def __exit__(self, exc_type: object, exc: object, *_tb: object) -> None:
        for signum, default, mine in self._installed:
            if _getsignal(signum) is mine:  # not one the application put in since
                _setsignal(signum, default)
        self._installed = []
        held = self.pending and exc_type is None  # past the last step boundary: in the end's
        self.pending = False  # stop and seal (run_to_end's), dropped once the block was left
        if self._closes and (exc_type is KeyboardInterrupt or held):
            self._session.close()  # run_to_end's promise; a torn session seals nothing
        if self.terminating:
            if exc_type is None:
                self._session.close()  # sealed before the process goes
            _terminate()
        if held:
            raise self._told(KeyboardInterrupt())
        if isinstance(exc, KeyboardInterrupt):
            self._told(exc)

    def _told(self, interrupt: KeyboardInterrupt) -> KeyboardInterrupt:
        """``interrupt`` with a note saying what the session is now (a bare one said nothing)."""
        interrupt.add_note(f"livesession: after this Ctrl-C, {self._session!r}")
        return interrupt

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.pending or not self._inside():
            signal.default_int_handler(signum, frame)
        self.pending = True

    def _on_sigterm(self, _signum: int, _frame: FrameType | None) -> None:
        if self.terminating:  # a second one: now, as the default would
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            _terminate()
        self.terminating = True

    def check(self) -> None:
        """At a step boundary: raise a held Ctrl-C, or stop the session for a SIGTERM."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
        if self.terminating:
            self._session.request_stop(SIGTERM_STOP, sealed_as=True)


def _terminate() -> None:
    """SIGTERM again, to the handler in place now: the default action ends the process.

    As the first process of a PID namespace (an application run as a container's PID 1,
    without an init) the kernel drops a signal whose action is the default: the process
    went on after its session was stopped and sealed, its ``run_to_end`` returning as if
    the SIGTERM had been an operator's stop, and the container's runtime killed it later
    (mid-run, if it had started another). There the default action is done by hand
    (``end_by``: exit status 143, output flushed). A handler the application put in since
    (or ``SIG_IGN``) is the application's: it gets the signal, as anywhere else.
    """
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        end_by(signal.SIGTERM)
    else:
        signal.raise_signal(signal.SIGTERM)


class _OwnedLock(Protocol):
    """A lock that knows whether the calling thread holds it (``threading.RLock``)."""

    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...
    def release(self) -> None: ...
    def _is_owned(self) -> bool: ...


def _take(lock: _OwnedLock) -> BaseException | None:
    """Take ``lock`` whatever interrupts the wait; the first interrupt that cut in, if any."""
    cut: BaseException | None = None
    while not lock._is_owned():  # noqa: SLF001 - the lock's own question
        try:
            lock.acquire()
        except BaseException as exc:  # noqa: BLE001 - raised by the caller once it holds it
            cut = cut or exc
    return cut


class TurnsLock:
    """The plain lock under the session gate's turns, which knows who is taking it.

    A signal handler runs in the middle of its thread's code, so in the middle of the
    turns' bookkeeping too, where its thread holds this lock (not re-entrant): a read
    there must not take it again. ``takers`` holds a thread from before it asks for the
    lock to after it lets go (``Condition.wait`` lets go while it waits, so a thread
    waiting its turn is not in it).

    Ctrl-C may also cut a thread's wait for the lock (a lock's wait is interrupted by a
    signal): ``acquire`` then leaves no trace (not in ``takers``, the lock not held, let go
    if the interrupt came just as it was taken), and the next caller gets its turn. The lock
    underneath is re-entrant only so that it knows its owner (``_is_owned``); it is never
    taken twice.

    ``on_taken`` is a test hook: called by each thread as it has taken the lock (a test
    runs a signal handler there, at once, to drive that window by hand).
    """

    __slots__ = ("_holder", "_lock", "on_taken", "takers")

    def __init__(self) -> None:
        self._lock: _OwnedLock = threading.RLock()  # type: ignore[assignment]  # C RLock has it
        self._holder: int | None = None
        self.takers: set[int] = set()
        self.on_taken: Callable[[], object] | None = None

    def acquire(self, blocking: bool = True, timeout: float = _NO_TIMEOUT) -> bool:
        """Take the lock, as ``threading.Lock.acquire``."""
        ident = threading.get_ident()
        self.takers.add(ident)
        try:
            taken = self._lock.acquire(blocking, timeout)
        except BaseException:  # Ctrl-C as it waited, or just as it took the lock: no trace
            if self._lock._is_owned():  # noqa: SLF001 - the lock's own question
                self._lock.release()
            self.takers.discard(ident)
            raise
        if not taken:
            self.takers.discard(ident)
            return False
        self._holder = ident
        if self.on_taken is not None:
            try:
                self.on_taken()
            except BaseException:
                self.release()
                raise
        return True

    def release(self) -> None:
        """Let go of the lock (only its holder may: another's is a ``RuntimeError``)."""
        if self._holder == threading.get_ident():
            self._holder = None
        self._lock.release()
        self.takers.discard(threading.get_ident())

    def _release_save(self) -> None:  # ``threading.Condition.wait`` lets go while it waits
        self.release()

    def _acquire_restore(self, _saved: None) -> None:
        """``threading.Condition.wait`` takes the lock back, as it wakes.

        Held whatever the hook raises: the ``with`` around the wait lets go of it. Let go
        here, as ``acquire`` does, the ``with`` let go of a lock no longer held, and the
        hook's ``KeyboardInterrupt`` came out as ``RuntimeError: release unlocked lock``.
        So is a Ctrl-C that cuts the wait to take it back: it is taken all the same, then
        raised. Raised at once, the ``with`` let go of the lock another thread held then,
        and two threads were in the turns' bookkeeping at once.
        """
        self.takers.add(threading.get_ident())
        cut = _take(self._lock)
        self._holder = threading.get_ident()
        if cut is not None:
            raise cut
        if self.on_taken is not None:
            self.on_taken()

    def _is_owned(self) -> bool:  # ``threading.Condition`` asks
        return self._holder == threading.get_ident()

    def __enter__(self) -> bool:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
