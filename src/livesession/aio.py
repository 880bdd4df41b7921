"""asyncio: a session built and stepped on one dedicated worker thread, never on the loop.

``open_session`` builds the session in a single-thread executor (its owner thread, see
``_session/threads.py``): in memory, in a new run directory (``out_dir``, as
``create_run``) or resuming one (``resume``, as ``resume_run``). ``await run_steps(n)``
steps it there. The operator verbs (``stop``, ``kill``, ``acknowledge``, ...) run on
another thread under the session lock, so they take effect at the end of the running
step instead of queueing behind the whole ``run_steps``; a verb whose caller is cancelled
still runs to its end, and ``verb_result`` (the latest call's) or ``verb_results`` (every
call's, in order) gives its result. Cancelling the task that awaits
``run_steps`` stops the session gracefully (cancel, flatten, seal) before the
cancellation goes on; leaving the ``async with`` block closes and seals it, and so does a
cancellation that comes while ``open_session`` is still building or starting it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import os
import threading
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, TypeVarTuple

from ._aio_once import once
from ._aio_threads import (
    abandon,
    loop_gone,
    on_its_own_thread,
    release,
    retrieved,
    settle,
    start_side,
    steps_while_open,
)
from ._domain.lifecycle import SessionState, SessionStatus
from ._exceptions import ConfigError, InvalidTransition, LiveSessionError
from ._session.coordinator import LiveSessionOrchestrator
from ._session.edges import check_config, check_path
from ._session.pipeline import check_step_count
from ._session.threads import InProcessOnly
from ._session.verbs import check_said
from ._support.anchor import anchored

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from ._domain.config import DryrunConfig
    from ._risk.governor import TradingState
    from ._session.book import BookView
    from ._session.results import DryrunResult, SessionInspection
    from ._session.threads import VerbResult

__all__ = ["AsyncSession", "open_session"]

_R = TypeVar("_R")
_Ts = TypeVarTuple("_Ts")
CANCELLED_REASON = "task cancelled"
"""The stop reason a cancelled ``run_steps`` records."""
SIDE_THREADS = 4
"""A session's own threads for its verbs and reads (each waits for the step under way)."""
VERBS = ("stop", "kill", "acknowledge", "reduce_only", "reenable_trading")
"""The operator verbs of an ``AsyncSession``, as ``verb_result`` and ``verb_results`` name them."""


class AsyncSession(InProcessOnly):
    """One session seen from asyncio; get it from ``open_session``."""

    def __init__(
        self,
        session: LiveSessionOrchestrator,
        executor: concurrent.futures.ThreadPoolExecutor,
        side: concurrent.futures.ThreadPoolExecutor,
        run_dir: Path | None,
    ) -> None:
        self._session = session
        self._executor = executor
        self._side = side
        """The verbs' and reads' threads: the session's own, so that a step that hangs
        holds no call of another session's, nor the loop's default executor."""
        self._ended = False
        """The ``async with`` block has ended: the session is closed, its thread gone."""
        self.run_dir = run_dir
        """The run directory (None for a session kept in memory)."""
        self._verbs: dict[str, list[asyncio.Future[VerbResult]]] = {}
        """Every call of each verb, by name, in the order they were made: kept for
        ``verb_result`` (the latest) and ``verb_results`` (all of them)."""

    # -- read-only view (cheap reads; nothing here waits for a step) ---------------------

    @property
    def run_id(self) -> str:
        """The run id."""
        return self._session.config.run_id

    @property
    def state(self) -> SessionState:
        """The lifecycle state."""
        return self._session.state

    @property
    def status(self) -> SessionStatus:
        """The operator-facing status."""
        return self._session.status

    @property
    def trading_state(self) -> TradingState:
        """ACTIVE, REDUCING or HALTED."""
        return self._session.trading_state

    @property
    def steps_done(self) -> int:
        """Steps completed so far."""
        return self._session.steps_done

    async def book(self) -> BookView:
        """Positions, cash, equity and open orders (taken between two steps)."""
        return await self._elsewhere(lambda: self._session.book)

    async def inspect(self) -> SessionInspection:
        """What is in flight inside the session (taken between two steps)."""
        return await self._elsewhere(self._session.inspect)

    async def result(self) -> DryrunResult:
        """The session's outcome so far (taken between two steps)."""
        return await self._elsewhere(self._session.result)

    # -- starting and stepping, on the owner thread ----------------------------------------

    async def preflight(self) -> bool:
        """Run the preflight checks (a session opened with ``start=False``); True if passed.

        A failed preflight leaves the session PREFLIGHT_FAILED (``await close()`` seals it
        REJECTED, as leaving the block does). After the block: ``InvalidTransition``, as
        on a closed session.
        """
        return await self._owner(self._session.preflight, "preflight")

    async def activate(self) -> None:
        """Enter DRYRUN_ACTIVE after a passed ``preflight()``; ``run_steps`` then steps.

        After the block: ``InvalidTransition``, as on a closed session.
        """
        await self._owner(self._session.activate, "activate")

    async def run_steps(self, n: int) -> int:
        """Run up to ``n`` steps on the session's thread; the number run.

        Returns early when the session leaves DRYRUN_ACTIVE (a stop from another task, a
        fault, ``max_steps``). If the awaiting task is cancelled, the session is stopped
        gracefully (reason ``task cancelled``) and the step under way ends before the
        cancellation is re-raised. A loop closed under it (without ``asyncio.run``'s
        shutdown) leaves nothing awaiting it: it takes no step after the one under way.
        After the block it runs nothing and returns 0, as ``run_n_steps`` does on a closed
        session.
        """
        check_step_count(n, verb="run_steps")  # the name called, not run_n_steps
        if self._ended:
            return 0
        loop = asyncio.get_running_loop()
        future = self._executor.submit(steps_while_open, self._session, n, loop)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            # Both to their end, whatever cancels this task again meanwhile (a second
            # cancel, a timeout): the cancellation goes on once the step under way is over.
            await settle(self._off_loop(self._session.request_stop, CANCELLED_REASON))
            await settle(self._off_loop(concurrent.futures.wait, [future]))
            raise

    # -- the operator verbs, from any thread ------------------------------------------------

    async def stop(self, reason: str = "operator") -> VerbResult:
        """Graceful stop: cancel, flatten, STOPPED (when the running step ends)."""
        return await self._verb("stop", self._session.request_stop, reason)

    async def kill(self, reason: str = "operator") -> VerbResult:
        """Kill switch: HALTED, cancel everything, flatten."""
        return await self._verb("kill", self._session.kill, reason)

    async def acknowledge(self, operator: str = "operator") -> VerbResult:
        """Acknowledge ERROR_REQUIRES_OPERATOR: cancel, flatten, STOPPED."""
        return await self._verb("acknowledge", self._session.acknowledge, operator)

    async def reduce_only(self, reason: str = "operator") -> VerbResult:
        """Trading REDUCING: only orders that reduce exposure pass."""
        return await self._verb("reduce_only", self._session.reduce_only, reason)

    async def reenable_trading(self, operator: str = "operator") -> VerbResult:
        """Trading ACTIVE again after REDUCING, a throttle, a kill or a broker halt."""
        return await self._verb("reenable_trading", self._session.reenable_trading, operator)

    async def verb_result(self, verb: str) -> VerbResult | None:
        """The ``VerbResult`` of the latest call of ``verb`` (``"kill"``, ...); None if none.

        A call still under way is awaited to its end: this is how a caller whose task was
        cancelled while it awaited the verb (a timeout around ``await session.kill()``)
        learns what the verb did. Cancelling this await leaves the verb alone.
        """
        calls = self._calls("verb_result", verb)
        return await asyncio.shield(calls[-1]) if calls else None

    async def verb_results(self, verb: str) -> tuple[VerbResult, ...]:
        """The ``VerbResult`` of every call of ``verb`` so far, one per call in call order.

        Empty if there was none. Two kills in one block give two results, whatever became
        of their callers: ``verb_result`` gives the latest only. Calls still under way are
        awaited to their end (a verb that raised raises here); cancelling this await leaves
        them alone. Each result is its own call's: calls made at once may take effect in
        another order than they were made in, and each outcome says what its call did.
        """
        calls = self._calls("verb_results", verb)
        if all(call.done() for call in calls):  # no loop needed: theirs may be closed
            return tuple(call.result() for call in calls)
        return tuple(await asyncio.shield(asyncio.gather(*calls)))

    def _calls(self, method: str, verb: str) -> tuple[asyncio.Future[VerbResult], ...]:
        """The calls of ``verb`` so far, in order; a name that is no verb is a ``ValueError``."""
        if verb not in VERBS:
            raise ValueError(f"{method}({verb!r}): not a verb; one of {', '.join(VERBS)}")
        return tuple(self._verbs.get(verb, ()))

    async def close(self) -> DryrunResult:
        """Stop if still running, seal the run, release what it holds; the outcome.

        Cancelling the awaiting task does not undo it: the session is still closed, and
        ``await result()`` gives its outcome.
        """
        await asyncio.shield(self._elsewhere(self._session.close))
        return await self.result()

    async def _verb(self, name: str, call: Callable[[str], VerbResult], arg: str) -> VerbResult:
        """Run the verb ``name`` on another thread, to its end whatever becomes of the caller.

        A cancellation of the awaiting task goes on at once (a timeout must not wait for
        a step that hangs), but the verb is never dropped, even one the executor has not
        started yet: it takes effect, and ``verb_result(name)`` (while it is the latest call) and
        ``verb_results(name)`` give its ``VerbResult``.
        """
        check_said(name, arg)  # refused as called (stop, not request_stop), and not kept
        future = asyncio.ensure_future(self._elsewhere(call, arg))
        future.add_done_callback(retrieved)  # a failure is raised to whoever awaits it
        self._verbs.setdefault(name, []).append(future)
        return await asyncio.shield(future)

    def _verbs_under_way(self) -> list[asyncio.Future[VerbResult]]:
        """The verbs still under way (their callers cancelled): the close waits for them."""
        return [call for calls in self._verbs.values() for call in calls if not call.done()]

    async def _owner(self, call: Callable[[], _R], name: str) -> _R:
        """Run ``call()`` (the method ``name``) on the session's owner thread.

        After the block that thread is gone, and the session closed: ``name()`` is refused
        as the closed session would refuse it (``InvalidTransition``), saying why.
        """
        if self._ended:
            raise InvalidTransition(
                name,
                self._session.state.value,
                why=f"session {self.run_id} is closed (its async with block has ended)",
                call=True,
            )
        future = self._executor.submit(call)
        return await settle(asyncio.wrap_future(future), unstarted=future)

    def _end(self) -> None:
        """The block is ending: nothing more goes to the owner thread, which shuts down."""
        self._ended = True

    async def _elsewhere(self, call: Callable[[*_Ts], _R], *args: *_Ts) -> _R:
        """Run ``call(*args)`` off the loop, not on the owner thread (see ``_off_loop``).

        The owner thread may be busy with a whole ``run_steps``; the session lock makes
        the call wait only for the step under way.
        """
        return await self._off_loop(call, *args)

    def _off_loop(self, call: Callable[[*_Ts], _R], *args: *_Ts) -> asyncio.Future[_R]:
        """``call(*args)`` on a side thread of the session's; after the block, on its own.

        Never on the loop's default executor: there a step that hangs (a plug-in's network
        read) would hold a thread for each call waiting for it, until the kill of another
        session, or the application's own ``asyncio.to_thread``, waited behind them; and
        once it is shut down (``loop.shutdown_default_executor()``) it refuses new work.
        """
        if self._ended:  # the side threads are ending with the block
            return on_its_own_thread(call, *args)
        return asyncio.wrap_future(self._side.submit(call, *args))

    def __repr__(self) -> str:
        return f"AsyncSession({self._session!r})"


@once
@asynccontextmanager
async def open_session(
    config: DryrunConfig | None = None,
    *,
    out_dir: str | os.PathLike[str] | None = None,
    resume: str | os.PathLike[str] | None = None,
    start: bool = True,
    **options: Any,
) -> AsyncIterator[AsyncSession]:
    """Build a session on its own thread, start it, and close and seal it on the way out.

    - ``open_session(config, **edges)``: a session in memory; ``edges`` are those of
      ``LiveSessionOrchestrator`` (``broker``, ``event_sink``, ...).
    - ``open_session(config, out_dir=DIR, **options)``: a new run directory
      ``DIR/<run_id>``; ``options`` are those of ``create_run``.
    - ``open_session(resume=RUN_DIR, **options)``: resume a crashed run; ``options`` are
      those of ``resume_run``.

    With ``start`` (the default) the session is preflighted and activated; a rejected
    preflight closes it (sealed REJECTED) and raises ``LiveSessionError`` with the reason.
    Cancelled before the block is entered, it starts no further stage, and the session is
    closed (sealed REJECTED ``CLOSED_BEFORE_PREFLIGHT`` if never preflighted, else stopped
    and sealed) before the cancellation goes on.
    """
    if (config is None) == (resume is None):
        raise ConfigError("open_session needs a config, or resume=RUN_DIR (not both)")
    build, run_dir = _builder(config, out_dir=out_dir, resume=resume, options=options)
    executor = concurrent.futures.ThreadPoolExecutor(
        max_workers=1, thread_name_prefix="livesession-owner"
    )
    side = concurrent.futures.ThreadPoolExecutor(
        max_workers=SIDE_THREADS, thread_name_prefix="livesession-side"
    )
    released = False  # the owner thread ended (with the run's sealing)
    loop = asyncio.get_running_loop()
    try:
        entering = executor.submit(build, side, start=start)
        try:
            session = await asyncio.wrap_future(entering)
        except BaseException:
            # Cancelled while the session was being built or started (a startup deadline, a
            # shutdown): it goes no further, and what was built is closed (sealed) on its
            # thread once the stage under way ends, before the cancellation goes on.
            build.abandon()
            closing = executor.submit(_close_built, entering, side)
            if loop_gone(loop):  # closed by the garbage collector: the owner thread closes it
                released = True
                executor.shutdown(wait=False)
            else:
                await settle(asyncio.wrap_future(closing))
            raise
        aio = AsyncSession(session, executor, side, run_dir)
        try:
            yield aio
        finally:
            aio._end()  # noqa: SLF001
            if loop_gone(loop):  # closed by the garbage collector: nothing can be awaited
                released = True
                abandon(executor, side)
            else:
                try:
                    await _seal(aio, side)
                finally:
                    released = True  # by _close_and_release, whatever it raised
    finally:
        # Off the loop: a run_steps still under way ends at its next step (stopped above).
        if not released:
            await settle(on_its_own_thread(release, executor))


async def _seal(aio: AsyncSession, side: concurrent.futures.ThreadPoolExecutor) -> None:
    """Close and seal the block's session (its verbs under way first) and end its threads.

    To its end: a cancellation meanwhile must not leave the run unsealed, nor reach the
    caller before it is sealed, even one that comes while a verb whose caller was cancelled
    still waits to take effect (the seal records it).
    """
    cancelled: asyncio.CancelledError | None = None
    under_way = aio._verbs_under_way()  # noqa: SLF001
    if under_way:
        try:
            await settle(asyncio.ensure_future(asyncio.wait(under_way)))
        except asyncio.CancelledError as exc:  # raised once the run is sealed, below
            cancelled = exc
    # Handed to a thread before this task waits on anything: a task the loop never resumes
    # (asyncio.run ending as it closes a block entered by hand and never left) still has
    # its run sealed, and the owner thread ended, before the process exits.
    await settle(on_its_own_thread(_close_and_release, aio, started_by=side))
    if cancelled is not None:
        raise cancelled


def _close_and_release(aio: AsyncSession) -> None:
    """Close (seal) the session, then end its owner and side threads: on one thread."""
    try:
        aio._session.close()  # noqa: SLF001
    finally:
        release(aio._executor)  # noqa: SLF001
        aio._side.shutdown(wait=True)  # noqa: SLF001 - the calls made before the end answer


class _Build:
    """Builds the session on the owner thread (and starts it, unless abandoned meanwhile)."""

    def __init__(self, make: Callable[[], LiveSessionOrchestrator]) -> None:
        self._make = make
        self._abandoned = threading.Event()

    def abandon(self) -> None:
        """The caller is gone (cancelled): start no further stage; the session is closed."""
        self._abandoned.set()

    def __call__(
        self, side: concurrent.futures.ThreadPoolExecutor, *, start: bool
    ) -> LiveSessionOrchestrator:
        session = self._started(start=start)
        start_side(side, SIDE_THREADS)  # here, not by the loop's verbs and reads
        return session

    def _started(self, *, start: bool) -> LiveSessionOrchestrator:
        session = self._make()
        if not start:
            return session
        try:
            if session.state is SessionState.INIT and not self._abandoned.is_set():
                session.preflight()
            if session.state is SessionState.PREFLIGHT_OK and not self._abandoned.is_set():
                session.activate()
        except BaseException:
            session.close()
            raise
        if session.state is SessionState.PREFLIGHT_FAILED:
            result = session.result()
            session.close()
            detail = f" ({result.detail})" if result.detail else ""
            raise LiveSessionError(
                f"preflight rejected session {result.run_id}: {result.reason}{detail}"
            )
        return session


def _close_built(
    entering: concurrent.futures.Future[LiveSessionOrchestrator],
    side: concurrent.futures.ThreadPoolExecutor,
) -> None:
    """Close the session ``entering`` built, if it built one (on the owner thread, after it).

    One never preflighted is sealed REJECTED (``CLOSED_BEFORE_PREFLIGHT``), one started is
    stopped and sealed: its run verifies, and its writer lock is let go. A build that
    raised closed what it built itself; one cancelled before it ran built nothing.
    """
    side.shutdown(wait=True)  # its thread, if the build started one
    if entering.cancelled() or entering.exception() is not None:
        return
    entering.result().close()


def _builder(
    config: DryrunConfig | None,
    *,
    out_dir: str | os.PathLike[str] | None,
    resume: str | os.PathLike[str] | None,
    options: dict[str, Any],
) -> tuple[_Build, Path | None]:
    if config is not None:
        check_config(config)  # before its run_id names a directory
    for name, path in (("out_dir", out_dir), ("resume", resume)):
        if path is not None:
            check_path(name, path)
    # Resolved here, on the caller's thread, once: the session's thread builds it later,
    # when another thread of the host may have changed the current directory.
    if resume is not None:
        run_dir = anchored(resume)
        return _Build(functools.partial(_resume_run, run_dir, **options)), run_dir
    if config is None:
        raise ConfigError("open_session needs a config to create a session")
    if out_dir is not None:
        out = anchored(out_dir)
        return _Build(functools.partial(_create_run, config, out, **options)), out / config.run_id
    return _Build(functools.partial(LiveSessionOrchestrator, config, **options)), None


# The run-directory machinery is imported on the owner thread, where it is used: its first
# import (tens of modules, 0.1 s) would otherwise hold the event loop.


def _create_run(config: DryrunConfig, out_dir: Path, **options: Any) -> LiveSessionOrchestrator:
    from ._rundir import create_run  # noqa: PLC0415 - see above

    return create_run(config, out_dir, **options)


def _resume_run(run_dir: Path, **options: Any) -> LiveSessionOrchestrator:
    from ._rundir import resume_run  # noqa: PLC0415 - see above

    return resume_run(run_dir, **options)
