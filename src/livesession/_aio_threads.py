"""The threads behind ``open_session``, started and ended without holding the event loop.

Whatever runs on the loop's thread holds every other task of the host (a web service's
requests): ``Thread.start()`` waits there until the new thread runs, and ``join()`` until
the thread has ended, each a wait on a busy machine (the new thread has to be scheduled
and to take the GIL), tens of milliseconds under load. So the loop's thread starts a
session's owner thread and the thread that seals the run (one each per block) and never
waits for a thread to end: a thread of its own is joined once it has ended, seen from
the loop without waiting (``_joined``), and the session's first side thread is started
by its owner thread, all of them at once (``start_side``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.thread  # imported now, not by the first open_session on the loop
import threading
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["JOIN_POLL", "on_its_own_thread", "release", "settle", "start_side"]

_R = TypeVar("_R")
_Ts = TypeVarTuple("_Ts")
JOIN_POLL = 0.001
"""How often (seconds) the loop looks again for a thread that has done its call but not
yet ended (its last few bytecodes); it never waits for one."""


def on_its_own_thread(call: Callable[[*_Ts], _R], *args: *_Ts) -> asyncio.Future[_R]:
    """``call(*args)`` on a thread of its own, which ends with it.

    The thread has ended before whoever awaits the call goes on (none is left behind once
    the block, or ``asyncio.run``, has ended); the loop never waits for it meanwhile.
    """
    loop = asyncio.get_running_loop()
    spare = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="livesession-spare"
    )
    ran_on: list[threading.Thread] = []

    def running() -> _R:
        ran_on.append(threading.current_thread())
        return call(*args)

    try:
        call_done = spare.submit(running)
    finally:
        spare.shutdown(wait=False)  # its thread ends once the call has
    answer: asyncio.Future[_R] = loop.create_future()

    def joined() -> None:
        if answer.done():  # cancelled by its caller: the thread still ends by itself
            return
        thread = ran_on[0] if ran_on else None
        if thread is not None:
            thread.join(0)  # never waits: tells whether it has ended
            if thread.is_alive():
                loop.call_later(JOIN_POLL, joined)
                return
        _copy(call_done, answer)

    def done(_: object) -> None:  # on the spare thread: hand over to the loop
        if not loop.is_closed():
            loop.call_soon_threadsafe(joined)

    call_done.add_done_callback(done)
    return answer


def _copy(source: concurrent.futures.Future[_R], target: asyncio.Future[_R]) -> None:
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
