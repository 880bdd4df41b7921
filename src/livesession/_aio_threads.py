"""The threads behind ``open_session``, started and ended without holding the event loop.

Whatever runs on the loop's thread holds every other task of the host (a web service's
requests): ``Thread.start()`` waits there until the new thread runs, and ``join()`` until
the thread has ended, each a wait on a busy machine (the new thread has to be scheduled
and to take the GIL), tens of milliseconds under load. So the loop's thread starts a
session's owner thread only (one per block) and never waits for a thread to end: the
owner thread starts the session's side threads, all of them at once (``start_side``), a
side thread the one that seals the run (``started_by``), and a thread of its own is
joined once it has ended, seen from the loop without waiting (``_joined``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.thread  # imported now, not by the first open_session on the loop
import contextlib
import functools
import threading
from typing import TYPE_CHECKING, Any, Generic, TypeVar, TypeVarTuple

from ._domain.lifecycle import SessionState

if TYPE_CHECKING:
    from collections.abc import Callable

    from ._session.coordinator import LiveSessionOrchestrator

__all__ = [
    "JOIN_POLL",
    "abandon",
    "loop_gone",
    "on_its_own_thread",
    "release",
    "settle",
    "start_side",
    "steps_while_open",
]

_R = TypeVar("_R")
_Ts = TypeVarTuple("_Ts")
JOIN_POLL = 0.001
"""How often (seconds) the loop looks again for a thread that has done its call but not
yet ended (its last few bytecodes); it never waits for one."""


def on_its_own_thread(
    call: Callable[[*_Ts], _R],
    *args: *_Ts,
    started_by: concurrent.futures.Executor | None = None,
) -> asyncio.Future[_R]:
    """``call(*args)`` on a thread of its own, which ends with it.

    The thread has ended before whoever awaits the call goes on (none is left behind once
    the block, or ``asyncio.run``, has ended); the loop never waits for it meanwhile. With
    ``started_by`` (the session's side threads) one of that executor's threads starts it,
    not the loop's.
    """
    own = _OwnThread(asyncio.get_running_loop(), functools.partial(call, *args))
    if started_by is None:
        own.start()
    else:
        started_by.submit(own.start).add_done_callback(own.not_started)
    return own.answer


class _OwnThread(Generic[_R]):
    """One call on a thread of its own, answered on the loop once the thread has ended."""

    def __init__(self, loop: asyncio.AbstractEventLoop, call: Callable[[], _R]) -> None:
        self._loop = loop
        self._call = call
        self.answer: asyncio.Future[_R] = loop.create_future()
        self._thread: threading.Thread | None = None
        self._done: concurrent.futures.Future[Any] | None = None

    def start(self) -> None:
        spare = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="livesession-spare"
        )
        try:
            self._done = spare.submit(self._running)
        finally:
            spare.shutdown(wait=False)  # its thread ends once the call has
        self._done.add_done_callback(self._hand_over)

    def not_started(self, starting: concurrent.futures.Future[None]) -> None:
        """``start`` raised on the thread asked to run it: the caller is told why."""
        if starting.exception() is not None:
            self._done = starting
            self._hand_over(starting)

    def _running(self) -> _R:
        self._thread = threading.current_thread()
        return self._call()

    def _hand_over(self, _: object) -> None:  # on the thread that ran it
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            self._loop.call_soon_threadsafe(self._joined)

    def _joined(self) -> None:
        if self.answer.done():  # cancelled by its caller: the thread still ends by itself
            return
        if self._thread is not None:
            self._thread.join(0)  # never waits: tells whether it has ended
            if self._thread.is_alive():
                self._loop.call_later(JOIN_POLL, self._joined)
                return
        if self._done is not None:  # always: set before it is handed over
            _copy(self._done, self.answer)


def _copy(source: concurrent.futures.Future[Any], target: asyncio.Future[_R]) -> None:
    if source.cancelled():
        target.cancel()
    elif (error := source.exception()) is not None:
        target.set_exception(error)
    else:
        target.set_result(source.result())


def start_side(side: concurrent.futures.ThreadPoolExecutor, threads: int) -> None:
    """Start the session's ``threads`` side threads (its executor's all) from this thread.

    Each waits for the others to have started, so that each ``submit`` finds none idle and
    starts one. A verb or read from the loop then always finds them started: started one
    at a time there, a call made as the one before it ended started another (the
    executor counts a thread idle only once it has let go of its call).
    """
    together = threading.Barrier(threads)
    try:
        started = [side.submit(together.wait) for _ in range(threads)]
    except BaseException:  # one could not start (the process's limit): none waits on
        together.abort()
        raise
    for each in started:
        each.result()


def release(executor: concurrent.futures.ThreadPoolExecutor) -> None:
    """End the owner thread (after the step under way, if any; nothing queued runs)."""
    executor.shutdown(wait=True, cancel_futures=True)


def steps_while_open(
    session: LiveSessionOrchestrator, n: int, loop: asyncio.AbstractEventLoop
) -> int:
    """``session.run_n_steps(n)``, one step at a time, and no further step once ``loop`` is closed.

    A loop closed under a ``run_steps`` (``loop.close()`` without ``asyncio.run``'s shutdown,
    a third Ctrl-C while ``asyncio.run`` cancels its tasks) leaves nothing awaiting it: the
    session went on stepping (trading) to the end of ``n`` on its thread, holding the run
    (``status`` said running, ``resume_run`` in the process ``RunHeld``) and the process's
    exit. It now ends at the step under way, the run a crash at its last checkpoint.
    """
    before, tried = session.steps_done, 0
    while tried < n and not loop.is_closed():
        session.run_n_steps(1)  # the first raises as run_n_steps(n) would (not activated)
        tried += 1
        if session.state is not SessionState.DRYRUN_ACTIVE:
            break
    return session.steps_done - before


def loop_gone(loop: asyncio.AbstractEventLoop) -> bool:
    """``loop`` is closed or not the one running here: nothing awaited now would ever resume.

    So it is when the garbage collector closes a block's coroutine after its loop closed.
    """
    try:
        return asyncio.get_running_loop() is not loop
    except RuntimeError:  # no loop running
        return True


def abandon(*executors: concurrent.futures.ThreadPoolExecutor) -> None:
    """End the session's threads without waiting for them: its loop is gone.

    Nothing is sealed (a loop closed without its shutdown runs nothing more): the session,
    dropped with the block, lets go of its run as the garbage collector takes it, a crash at
    its last checkpoint that ``resume_run`` finishes.
    """
    for executor in executors:
        executor.shutdown(wait=False, cancel_futures=True)


def retrieved(call: asyncio.Future[Any]) -> None:
    """Mark a verb's failure as seen: ``verb_result`` (or its caller) raises it."""
    if not call.cancelled():
        call.exception()


async def settle(
    waiting: asyncio.Future[_R], *, unstarted: concurrent.futures.Future[_R] | None = None
) -> _R:
    """Await ``waiting`` (a call on a thread) to its end, whatever cancels this task meanwhile.

    A cancellation that comes first is raised once the call has ended (asyncio's rule: the
    clean-up is done, then the cancellation goes on), never swallowed. ``asyncio.shield``
    alone raised it at once, while the call (the run's sealing, the step under way) still
    ran on its thread. A call in ``unstarted`` that has not started yet is cancelled: it
    never runs.
    """
    cancelled: asyncio.CancelledError | None = None
    while not waiting.done():
        try:
            await asyncio.wait((waiting,))
        except asyncio.CancelledError as exc:
            cancelled = exc
            if unstarted is not None:
                unstarted.cancel()  # a no-op once the call runs
    if cancelled is None:
        return waiting.result()
    if not waiting.cancelled() and waiting.exception() is not None:
        cancelled.__context__ = waiting.exception()  # retrieved, and shown with it
    raise cancelled
