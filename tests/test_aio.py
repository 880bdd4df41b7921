"""The asyncio facade: built and stepped on its own thread, cancellable, sealed on exit."""

from __future__ import annotations

import asyncio
import concurrent.futures
import concurrent.futures.thread
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import orjson
import pytest

from livesession import (
    AsyncSession,
    Bar,
    ConfigError,
    DryrunConfig,
    InvalidTransition,
    LiveSessionError,
    OrderIntent,
    SessionState,
    SessionStatus,
    SmaCrossover,
    StrategyView,
    VerbOutcome,
    VerbResult,
    open_session,
)
from livesession._rundir.brokers import open_broker
from livesession._session.threads import SessionGate
from livesession._support.built import built
from livesession.aio import CANCELLED_REASON
from livesession.verify import verify_run

from _helpers import Sinks
from crash_harness import cli

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

KILLED = -9


class _SignalsAt(SmaCrossover):
    """The config's crossover, which calls ``signal`` on the owner thread at bar ``bar``."""

    def __init__(self, cfg: DryrunConfig, bar: int, signal: Callable[[], object]) -> None:
        settings = cfg.strategy
        super().__init__(
            strategy_id=cfg.strategy_id,
            fast=settings.fast,
            slow=settings.slow,
            order_qty=settings.order_qty,
        )
        self.bar, self.signal, self.bars = bar, signal, 0

    def on_bar(self, bar: Bar, view: StrategyView) -> Sequence[OrderIntent]:
        self.bars += 1
        if self.bars == self.bar:
            self.signal()
        return super().on_bar(bar, view)


def test_in_memory_session_runs_on_its_own_thread_and_stops() -> None:
    sinks = Sinks()

    async def main() -> tuple[int, object, object]:
        with built(SessionGate) as gates:
            opened = open_session(DryrunConfig(run_id="aio-mem"), **sinks.kwargs())
            async with opened as session:
                assert session.state is SessionState.DRYRUN_ACTIVE
                assert session.run_dir is None
                done = await session.run_steps(25)
                (gate,) = gates
                owner = gate.owner_name
                stopped = await session.stop("enough")
                again = await session.stop("again")
                assert session.steps_done == 25
                assert (await session.book()).open_orders == ()
                return done, owner, (stopped.outcome, again.outcome)

    done, owner, outcomes = asyncio.run(main())
    assert done == 25
    assert owner.startswith("livesession-owner")
    assert owner != threading.current_thread().name
    assert outcomes == (VerbOutcome.APPLIED, VerbOutcome.ALREADY)
    events = [orjson.loads(line) for line in sinks.events.lines]
    assert events[-1]["event_type"] == "SESSION_STOPPED"
    stops = [e["payload"] for e in events if e["event_type"] == "STATE_CHANGED"]
    assert {"trigger": "request_stop", "reason": "enough"}.items() <= stops[-2].items()


def test_run_directory_session_is_sealed_and_verifies(tmp_path: Path) -> None:
    async def main() -> object:
        cfg = DryrunConfig(run_id="aio-dir", steps=40)
        async with open_session(cfg, out_dir=tmp_path) as session:
            assert session.run_dir == tmp_path / "aio-dir"
            await session.run_steps(40)
            return await session.result()

    result = asyncio.run(main())
    assert result.steps == 40  # type: ignore[attr-defined]
    assert not verify_run(tmp_path / "aio-dir").violations
    status = orjson.loads((tmp_path / "aio-dir" / "metrics.json").read_bytes())
    assert status["status"] == SessionStatus.COMPLETED.value


def test_cancelling_the_awaiting_task_stops_gracefully(tmp_path: Path) -> None:
    """The task awaiting run_steps is cancelled mid-run: cancel, flatten, seal; it verifies."""

    async def main() -> tuple[object, int]:
        cfg = DryrunConfig(
            run_id="aio-cancel",
            steps=1000,
            strategy={"fast": 2, "slow": 3},
            fill_model={"latency_ms": 90_000},
        )
        loop, fifty = asyncio.get_running_loop(), asyncio.Event()
        strategy = _SignalsAt(cfg, 50, lambda: loop.call_soon_threadsafe(fifty.set))
        async with open_session(cfg, out_dir=tmp_path, strategy=strategy) as session:
            task = asyncio.create_task(session.run_steps(500_000))
            await asyncio.wait_for(fifty.wait(), 30)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            assert session.state is SessionState.STOPPED
            book = await session.book()
            assert book.open_orders == ()
            assert not any(book.positions.values())
            return await session.result(), session.steps_done

    result, steps = asyncio.run(main())
    assert steps < 500_000
    assert result.reason == ""  # type: ignore[attr-defined]  # a graceful stop is no fault
    run_dir = tmp_path / "aio-cancel"
    assert not verify_run(run_dir).violations
    stopped = orjson.loads((run_dir / "events.jsonl").read_bytes().splitlines()[-1])
    assert stopped["event_type"] == "SESSION_STOPPED"
    assert stopped["payload"]["fsm_state"] == "STOPPED"
    changes = [
        e["payload"]["reason"]
        for e in map(orjson.loads, (run_dir / "events.jsonl").read_bytes().splitlines())
        if e["event_type"] == "STATE_CHANGED"
    ]
    assert CANCELLED_REASON in changes


def test_resume_a_crashed_run(tmp_path: Path) -> None:
    proc = cli("dryrun", "--out", tmp_path, "--run-id", "aio-resume", "-q", crash_at="checkpoint:3")
    assert proc.returncode == KILLED, proc.stderr
    run_dir = tmp_path / "aio-resume"

    async def main() -> SessionState:
        async with open_session(resume=run_dir) as session:
            assert session.state is SessionState.DRYRUN_ACTIVE
            await session.run_steps(10)
            return session.state

    assert asyncio.run(main()) is SessionState.DRYRUN_ACTIVE
    assert not verify_run(run_dir).violations


def test_bad_arguments_and_a_rejected_preflight_say_so(tmp_path: Path) -> None:
    async def neither() -> None:
        async with open_session():
            pass

    # A ConfigError, as every other bad argument of the API is (a LiveSessionError too).
    with pytest.raises(ConfigError, match="needs a config"):
        asyncio.run(neither())

    async def both() -> None:
        async with open_session(DryrunConfig(run_id="aio-both"), resume=tmp_path / "r"):
            pass

    with pytest.raises(ConfigError, match=r"not both"):
        asyncio.run(both())
    assert not (tmp_path / "r").exists()

    async def rejected() -> None:
        cfg = DryrunConfig(run_id="aio-rejected", enabled=True)
        async with open_session(cfg, out_dir=tmp_path):
            pytest.fail("a rejected session must not be handed out")

    with pytest.raises(LiveSessionError, match="preflight rejected session aio-rejected"):
        asyncio.run(rejected())
    assert not verify_run(tmp_path / "aio-rejected").violations


def test_a_session_opened_without_start_is_started_by_the_caller(tmp_path: Path) -> None:
    """``start=False`` leaves preflight and activation to the caller, who can do both.

    The facade had no ``preflight`` or ``activate``: such a session could never step, and
    was sealed REJECTED when the block ended.
    """

    async def main() -> tuple[object, ...]:
        cfg = DryrunConfig(run_id="aio-later", steps=30)
        async with open_session(cfg, out_dir=tmp_path, start=False) as session:
            before = session.state
            passed = await session.preflight()
            await session.activate()
            done = await session.run_steps(30)
            return before, passed, done, (await session.close()).status

    before, passed, done, status = asyncio.run(main())
    assert (before, passed, done) == (SessionState.INIT, True, 30)
    assert status is SessionStatus.COMPLETED
    assert not verify_run(tmp_path / "aio-later").violations

    async def refused() -> tuple[bool, object]:
        cfg = DryrunConfig(run_id="aio-refused", enabled=True)
        async with open_session(cfg, out_dir=tmp_path, start=False) as session:
            return await session.preflight(), session.state

    assert asyncio.run(refused()) == (False, SessionState.PREFLIGHT_FAILED)
    sealed = orjson.loads((tmp_path / "aio-refused" / "metrics.json").read_bytes())
    assert sealed["status"] == SessionStatus.REJECTED.value
    assert not verify_run(tmp_path / "aio-refused").violations


class _CancelsItself:
    """A strategy whose own asyncio code raised ``CancelledError`` inside on_bar."""

    strategy_id = "sma_demo"

    def __init__(self) -> None:
        self.n = 0

    def on_bar(self, bar: object, view: object) -> list[object]:
        self.n += 1
        if self.n == 5:
            raise asyncio.CancelledError("price task cancelled")
        return []

    def get_state(self) -> dict[str, int]:
        return {"n": self.n}

    def set_state(self, state: dict[str, int]) -> None:
        self.n = state["n"]


def test_a_cancelled_error_the_strategy_raises_is_not_the_task_s_cancellation() -> None:
    """Before, it escaped the step on the owner thread and reached run_steps as if the
    awaiting task had been cancelled: the session was stopped as "task cancelled" and the
    caller's task ended cancelled. It is the strategy's error: run_steps returns."""
    sinks = Sinks()

    async def main() -> tuple[int, object, bool]:
        async with open_session(
            DryrunConfig(run_id="aio-own-cancel"), strategy=_CancelsItself(), **sinks.kwargs()
        ) as session:
            done = await session.run_steps(20)
            task = asyncio.current_task()
            return done, await session.result(), task is not None and task.cancelling() > 0

    done, result, cancelling = asyncio.run(main())
    assert done == 5
    assert not cancelling
    assert (result.status, result.reason) == (SessionStatus.FAILED, "STRATEGY_ERROR")  # type: ignore[attr-defined]
    assert result.detail == "CancelledError: price task cancelled"  # type: ignore[attr-defined]
    reasons = [
        orjson.loads(line)["payload"].get("reason")
        for line in sinks.events.lines
        if orjson.loads(line)["event_type"] == "STATE_CHANGED"
    ]
    assert CANCELLED_REASON not in reasons


class _Entering:
    """Holds the session's start on its thread until the test lets it go on.

    ``stage`` is where it waits: ``build`` (in the broker factory, before preflight) or
    ``activate`` (the strategy's state at activation's first checkpoint: a slow start).
    """

    strategy_id = "sma_demo"

    def __init__(self, stage: str) -> None:
        self.stage = stage
        self.entered = threading.Event()
        self.release = threading.Event()

    def hold(self) -> None:
        self.entered.set()
        assert self.release.wait(30), "the test never let the start go on"

    def broker(self, cfg: DryrunConfig, run_dir: Path) -> object:
        if self.stage == "build":
            self.hold()
        return open_broker(cfg, run_dir)

    def on_bar(self, bar: object, view: object) -> list[object]:
        return []

    def get_state(self) -> dict[str, int]:
        if self.stage == "activate" and not self.release.is_set():
            self.hold()
        return {}

    def set_state(self, state: dict[str, int]) -> None:
        pass


@pytest.mark.parametrize(
    ("stage", "status", "reason"),
    [("build", "REJECTED", "CLOSED_BEFORE_PREFLIGHT"), ("activate", "COMPLETED", "")],
)
def test_cancelled_while_entering_the_session_is_closed_and_the_run_sealed(
    tmp_path: Path, stage: str, status: str, reason: str
) -> None:
    """Bug: cancelling ``open_session`` while it was still building or starting the session
    (a startup deadline, ``asyncio.wait_for(..., timeout=0.3)`` around a slow start) left
    its session open and dropped: an unsealed run, its writer lock held until the garbage
    collector came by. The session goes no further and is closed (never preflighted:
    REJECTED, else stopped) and sealed; then the cancellation goes on."""
    entering = _Entering(stage)
    cfg = DryrunConfig(run_id="aio-entering", steps=100)

    async def service() -> None:
        options = {"strategy": entering, "broker_factory": entering.broker}
        async with open_session(cfg, out_dir=tmp_path, **options) as session:
            await session.run_steps(100)
        pytest.fail("the session was handed out after its start was cancelled")

    async def main() -> None:
        task = asyncio.create_task(service())
        assert await asyncio.to_thread(entering.entered.wait, 30)
        task.cancel()
        await asyncio.sleep(0)  # the task takes its cancellation (callbacks run in order)
        entering.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    run_dir = tmp_path / "aio-entering"
    verified = verify_run(run_dir)
    assert verified.ok, verified.summary
    assert not verified.live  # the writer lock is let go
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert metrics["status"] == status
    events = [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    assert events[-1]["event_type"] == "SESSION_STOPPED"
    assert events[-1]["payload"]["reason"] == reason


def test_after_the_block_the_session_answers_as_a_closed_one(tmp_path: Path) -> None:
    """Bug: after the ``async with`` block, ``run_steps``, ``preflight`` and ``activate``
    raised the executor's bare ``RuntimeError: cannot schedule new futures after
    shutdown``. They answer as the sync API does on a closed session: ``run_steps`` runs
    nothing and returns 0, ``preflight`` and ``activate`` raise ``InvalidTransition``
    saying the session is closed; the verbs and reads still answer."""

    async def main() -> None:
        cfg = DryrunConfig(run_id="aio-after", steps=100)
        async with open_session(cfg, out_dir=tmp_path) as session:
            assert await session.run_steps(10) == 10
        assert session.state is SessionState.STOPPED
        assert await session.run_steps(5) == 0
        with pytest.raises(ConfigError, match="needs a positive integer, got 0"):
            await session.run_steps(0)
        for call, name in ((session.preflight, "preflight"), (session.activate, "activate")):
            # It named the machine's trigger ('preflight_passed'), not the method called.
            with pytest.raises(InvalidTransition) as info:
                await call()
            assert str(info.value) == (
                f"{name}() is not allowed in state STOPPED: session aio-after is "
                "closed (its async with block has ended)"
            )
        assert (await session.stop("late")).outcome is VerbOutcome.ALREADY
        assert (await session.result()).steps == 10  # type: ignore[attr-defined]
        assert session.steps_done == 10

    asyncio.run(main())
    assert verify_run(tmp_path / "aio-after").ok


class _Held:
    """A strategy that holds the session's thread at one point until the test lets it go.

    ``at`` is where: ``step`` (on_bar of bar 10, a step under way) or ``checkpoint`` (its
    state, once ``armed``: the checkpoint of an ``activate`` or of the run's sealing).
    """

    strategy_id = "sma_demo"

    def __init__(self, at: str) -> None:
        self.at = at
        self.bars = 0
        self.armed = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def _hold(self) -> None:
        self.entered.set()
        assert self.release.wait(30), "the test never let the session go on"

    def on_bar(self, bar: object, view: object) -> list[object]:
        self.bars += 1
        if self.at == "step" and self.bars == 10:
            self._hold()
        return []

    def get_state(self) -> dict[str, int]:
        if self.at == "checkpoint" and self.armed and not self.release.is_set():
            self._hold()
        return {"bars": self.bars}

    def set_state(self, state: dict[str, int]) -> None:
        self.bars = state["bars"]


async def _release_later(held: _Held) -> None:
    """Let the session go on a few turns of the loop after the caller's cancellation."""
    for _ in range(20):
        await asyncio.sleep(0)
    held.release.set()


def test_a_cancellation_while_the_block_seals_the_run_goes_on_once_it_is_sealed(
    tmp_path: Path,
) -> None:
    """Bug: the block's exit awaited the run's sealing under ``asyncio.shield``, so a
    cancellation that came meanwhile (a shutdown, a timeout around the service) reached
    the caller at once, while the run was still being sealed on another thread: unsealed,
    its writer lock held. The cancellation now goes on once the run is sealed."""
    held = _Held("checkpoint")
    run_dir = tmp_path / "aio-sealing"

    async def service() -> None:
        async with open_session(
            DryrunConfig(run_id="aio-sealing"), out_dir=tmp_path, strategy=held
        ) as s:
            await s.run_steps(20)
            held.armed = True  # the sealing's checkpoint holds the session's thread

    async def main() -> tuple[bool, object]:
        task = asyncio.create_task(service())
        assert await asyncio.to_thread(held.entered.wait, 30)
        task.cancel()
        releasing = asyncio.create_task(_release_later(held))
        with pytest.raises(asyncio.CancelledError):
            await task
        sealed = held.release.is_set(), verify_run(run_dir).live
        await releasing
        return sealed

    released, live = asyncio.run(main())
    assert released, "the cancellation reached the caller while the run was being sealed"
    assert not live  # the writer lock was let go before it
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert metrics["status"] == SessionStatus.COMPLETED.value


def test_run_steps_cancelled_twice_raises_once_the_step_under_way_is_over(tmp_path: Path) -> None:
    """Bug: a second cancellation (``task.cancel()`` again, a timeout) while ``run_steps``
    waited for the step under way raised at once: the caller saw ``CancelledError`` with
    the session still DRYRUN_ACTIVE and its step running. It now goes on once that step
    is over and the session stopped, as the first one does."""
    held = _Held("step")

    async def main() -> tuple[bool, SessionState]:
        async with open_session(
            DryrunConfig(run_id="aio-twice"), out_dir=tmp_path, strategy=held
        ) as s:
            task = asyncio.create_task(s.run_steps(100))
            assert await asyncio.to_thread(held.entered.wait, 30)
            task.cancel()
            for _ in range(5):
                await asyncio.sleep(0)
            task.cancel()
            releasing = asyncio.create_task(_release_later(held))
            with pytest.raises(asyncio.CancelledError):
                await task
            seen = held.release.is_set(), s.state
            await releasing
            return seen

    released, state = asyncio.run(main())
    assert released, "run_steps raised while the step under way was still running"
    assert state is SessionState.STOPPED
    assert verify_run(tmp_path / "aio-twice").ok


def test_a_cancelled_activate_goes_on_once_the_activation_is_over(tmp_path: Path) -> None:
    """Bug: cancelling the task awaiting ``activate()`` (or ``preflight()``) raised at
    once while the session's thread was still activating it. The cancellation now goes on
    once that stage is over; leaving the block then stops and seals the run."""
    held = _Held("checkpoint")

    async def main() -> tuple[bool, SessionState]:
        cfg = DryrunConfig(run_id="aio-activate")
        async with open_session(cfg, out_dir=tmp_path, strategy=held, start=False) as s:
            assert await s.preflight()
            held.armed = True  # activation's first checkpoint holds the session's thread
            task = asyncio.create_task(s.activate())
            assert await asyncio.to_thread(held.entered.wait, 30)
            task.cancel()
            releasing = asyncio.create_task(_release_later(held))
            with pytest.raises(asyncio.CancelledError):
                await task
            seen = held.release.is_set(), s.state
            await releasing
            return seen

    released, state = asyncio.run(main())
    assert released, "activate() raised while the session was still being activated"
    assert state is SessionState.DRYRUN_ACTIVE
    assert verify_run(tmp_path / "aio-activate").ok


def test_a_verb_whose_caller_is_cancelled_still_applies_and_its_result_is_kept(
    tmp_path: Path,
) -> None:
    """Bug: cancelling the task awaiting a verb (a timeout around ``await s.kill()``)
    cancelled the verb itself when the loop's executor had not started it yet: the kill
    the application issued was never applied, and nothing said so. The verb now always
    runs to its end, and ``verb_result`` gives its ``VerbResult``."""

    async def main() -> tuple[object, object, object, object]:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(1))
        async with open_session(DryrunConfig(run_id="aio-verb"), out_dir=tmp_path) as s:
            await s.run_steps(5)
            never = await s.verb_result("kill")
            busy = threading.Event()
            blocker = loop.run_in_executor(None, busy.wait)  # the executor's one thread
            task = asyncio.create_task(s.kill("drill"))
            for _ in range(5):
                await asyncio.sleep(0)
            task.cancel()
            with pytest.raises(asyncio.CancelledError):
                await task
            busy.set()
            await blocker
            kept = await s.verb_result("kill")
            trading = s.trading_state
        return never, kept, trading, await s.result()

    never, kept, trading, result = asyncio.run(main())
    assert never is None
    assert kept is not None
    assert kept.outcome is VerbOutcome.APPLIED  # type: ignore[attr-defined]
    assert trading.value == "HALTED"  # type: ignore[attr-defined]
    assert result.status is SessionStatus.COMPLETED  # type: ignore[attr-defined]
    assert verify_run(tmp_path / "aio-verb").ok


def test_a_verb_cancelled_while_a_step_holds_the_session_is_sealed_with_the_run(
    tmp_path: Path,
) -> None:
    """The caller of ``stop()`` is cancelled while the step under way holds the session;
    leaving the block then waits for that stop, so the seal records it, and
    ``verb_result`` (after the block too) says it applied."""
    held = _Held("step")

    async def main() -> tuple[object, object]:
        config = DryrunConfig(run_id="aio-verb-held")
        with built(SessionGate) as gates:
            async with open_session(config, out_dir=tmp_path, strategy=held) as s:
                stepping = asyncio.create_task(s.run_steps(100))
                assert await asyncio.to_thread(held.entered.wait, 30)
                stopping = asyncio.create_task(s.stop("deadline"))
                (gate,) = gates
                while gate.arrived == 0:  # the stop waits for the step under way
                    await asyncio.to_thread(lambda: None)
                stopping.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await stopping
                held.release.set()
                await stepping
        return await s.verb_result("stop"), await s.result()

    kept, result = asyncio.run(main())
    assert kept is not None
    assert kept.outcome is VerbOutcome.APPLIED  # type: ignore[attr-defined]
    assert result.steps == 10  # type: ignore[attr-defined]
    run_dir = tmp_path / "aio-verb-held"
    assert verify_run(run_dir).ok
    reasons = [
        e["payload"].get("reason")
        for e in map(orjson.loads, (run_dir / "events.jsonl").read_bytes().splitlines())
        if e["event_type"] == "STATE_CHANGED"
    ]
    assert "deadline" in reasons


def test_verb_result_names_the_verbs() -> None:
    async def main() -> None:
        async with open_session(DryrunConfig(run_id="aio-verb-name"), **Sinks().kwargs()) as s:
            with pytest.raises(ValueError, match=r"verb_result\('request_stop'\): not a verb"):
                await s.verb_result("request_stop")

    asyncio.run(main())


def test_every_call_of_a_verb_keeps_its_result(tmp_path: Path) -> None:
    """Bug: ``verb_result(name)`` kept the latest call of a verb only: of two kills in one
    block, the first (its caller cancelled by a timeout) was applied and its result lost,
    the second's ``ALREADY`` taking its place. ``verb_results(name)`` gives every call's
    result, in the order of the calls; ``verb_result`` still gives the latest.

    The two kills run on the session's side threads at once, so either may take effect
    first (``verb_results`` says so): which one is ``APPLIED`` is not asserted. Asserting
    the first was (when the verbs ran on the loop's one-thread default executor, in order)
    failed about one run in six on Python 3.13."""

    Results = tuple[VerbResult, ...]

    async def main() -> tuple[Results, Results, VerbResult | None, VerbResult, Results, Results]:
        async with open_session(DryrunConfig(run_id="aio-verbs"), out_dir=tmp_path) as s:
            await s.run_steps(5)
            none = await s.verb_results("kill")
            timed_out = asyncio.create_task(s.kill("first"))
            for _ in range(5):
                await asyncio.sleep(0)
            timed_out.cancel()
            with pytest.raises(asyncio.CancelledError):
                await timed_out
            second = asyncio.create_task(s.kill("second"))
            for _ in range(5):
                await asyncio.sleep(0)
            both = await s.verb_results("kill")
            latest = await s.verb_result("kill")
        after = await s.verb_results("kill")  # after the block too
        return none, both, latest, await second, after, await s.verb_results("stop")

    none, both, latest, second, after, stops = asyncio.run(main())
    assert none == ()
    assert sorted(r.outcome.value for r in both) == ["ALREADY", "APPLIED"]
    assert both[1] is second
    assert latest is second
    assert after == both
    assert stops == ()
    assert verify_run(tmp_path / "aio-verbs").ok


def test_verb_results_names_the_verbs() -> None:
    async def main() -> None:
        async with open_session(DryrunConfig(run_id="aio-verbs-name"), **Sinks().kwargs()) as s:
            with pytest.raises(ValueError, match=r"verb_results\('request_stop'\): not a verb"):
                await s.verb_results("request_stop")

    asyncio.run(main())


def _owner_threads() -> list[threading.Thread]:
    """The session threads still alive (owner threads, spare ones) once they had time to end."""
    threads = [t for t in threading.enumerate() if t.name.startswith("livesession-")]
    for thread in threads:
        thread.join(30)
    return [t for t in threads if t.is_alive()]


def test_with_the_loop_s_default_executor_shut_down_verbs_answer_and_the_run_is_sealed(
    tmp_path: Path,
) -> None:
    """Bug: the verbs and the block's sealing ran on the loop's default executor only: once
    it was shut down (``loop.shutdown_default_executor()``, as a service's shutdown or the
    end of ``asyncio.run`` does) ``stop()`` raised ``RuntimeError: Executor shutdown has
    been called`` and leaving the block raised it too, the run left unsealed (RUNNING).
    They now get a thread of their own."""

    async def main() -> VerbResult:
        async with open_session(DryrunConfig(run_id="aio-noexec"), out_dir=tmp_path) as s:
            await s.run_steps(10)
            await asyncio.get_running_loop().shutdown_default_executor()
            return await s.stop("after the executor")

    stopped = asyncio.run(main())
    assert stopped.outcome is VerbOutcome.APPLIED, stopped.message
    assert not verify_run(tmp_path / "aio-noexec").violations
    metrics = orjson.loads((tmp_path / "aio-noexec" / "metrics.json").read_bytes())
    assert (metrics["status"], metrics["steps"]) == (SessionStatus.COMPLETED.value, 10)
    assert _owner_threads() == []


def test_a_block_entered_by_hand_and_never_left_is_sealed_when_asyncio_run_ends(
    tmp_path: Path,
) -> None:
    """Bug: an application that entered ``open_session`` by hand (``__aenter__``) and
    returned without leaving it had its run left unsealed (RUNNING, ``verify`` failing):
    the generator's close, scheduled as it was dropped, reached ``asyncio.run``'s shutdown
    too late, and its task was dropped with the loop before the sealing started. The
    sealing now goes to a thread before that task waits on anything."""

    async def main() -> int:
        opening = open_session(DryrunConfig(run_id="aio-forgot"), out_dir=tmp_path)
        session = await opening.__aenter__()
        return await session.run_steps(10)  # and no __aexit__: the application forgot it

    assert asyncio.run(main()) == 10
    assert _owner_threads() == []
    run_dir = tmp_path / "aio-forgot"
    assert not verify_run(run_dir).violations
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert (metrics["status"], metrics["steps"]) == (SessionStatus.COMPLETED.value, 10)


_IMPORTS_ON_THE_LOOP = """
import asyncio, sys, threading
from livesession import DryrunConfig, open_session

on_the_loop = set()


class Seen:  # an import finder that only looks: who imports which livesession module
    def find_spec(self, name, path=None, target=None):
        if name.startswith("livesession") and threading.current_thread().name == "MainThread":
            on_the_loop.add(name)


async def main(out_dir):
    created = DryrunConfig(run_id="aio-imports", steps=20)
    sys.meta_path.insert(0, Seen())
    async with open_session(created, out_dir=out_dir) as session:
        await session.run_steps(5)
    async with open_session(resume=sys.argv[2]) as session:  # a crashed run
        await session.run_steps(5)


asyncio.run(main(sys.argv[1]))
print(sorted(on_the_loop))
"""


def test_the_first_run_directory_session_imports_nothing_on_the_loop(tmp_path: Path) -> None:
    """Bug: the first ``open_session(out_dir=...)`` of a process imported the run-directory
    machinery (some 40 modules: 0.1 to 0.2 s) on the event loop's thread, holding every
    other task of the service meanwhile (asyncio's debug mode: ``Executing <Task ...
    open_session ...> took 0.173 seconds``). It is imported on the session's thread now."""
    proc = cli(
        "dryrun", "--out", tmp_path, "--run-id", "aio-crashed", "-q", crash_at="checkpoint:3"
    )
    assert proc.returncode == KILLED, proc.stderr
    child = subprocess.run(
        [sys.executable, "-c", _IMPORTS_ON_THE_LOOP, str(tmp_path), str(tmp_path / "aio-crashed")],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "[]", child.stdout
    assert verify_run(tmp_path / "aio-imports").ok
    assert verify_run(tmp_path / "aio-crashed").ok


def test_a_session_whose_step_hangs_holds_no_call_of_another_session(tmp_path: Path) -> None:
    """Bug: the verbs and reads of every session ran on the loop's default executor, each
    waiting there for its session's step. A step that hung (a plug-in's network read) and
    a status page polling that session's ``book()`` took every thread of it, and then
    another session's ``kill()``, and the application's own ``asyncio.to_thread``, waited
    behind them until the hung step ended. Each session's calls have threads of its own."""
    held = _Held("step")
    went_on = threading.Event()
    before_the_release: list[bool] = []

    def release_once_the_others_went_on() -> None:  # not on any executor of the loop's
        before_the_release.append(went_on.wait(30))
        held.release.set()

    async def main() -> VerbResult:
        loop = asyncio.get_running_loop()
        loop.set_default_executor(concurrent.futures.ThreadPoolExecutor(max_workers=2))
        hung_cfg = DryrunConfig(run_id="aio-hung")
        async with (
            open_session(hung_cfg, out_dir=tmp_path, strategy=held) as hung,
            open_session(DryrunConfig(run_id="aio-other"), out_dir=tmp_path) as other,
        ):
            stepping = asyncio.create_task(hung.run_steps(20))
            assert await asyncio.to_thread(held.entered.wait, 30)
            polls = [asyncio.create_task(hung.book()) for _ in range(4)]  # a status page
            for _ in range(5):
                await asyncio.sleep(0)
            releaser = threading.Thread(target=release_once_the_others_went_on)
            releaser.start()
            killed = await other.kill("the desk's kill switch")
            assert await asyncio.to_thread(lambda: True)
            went_on.set()
            await asyncio.gather(stepping, *polls)
            releaser.join()
            return killed

    killed = asyncio.run(main())
    assert killed.outcome is VerbOutcome.APPLIED, killed.message
    assert before_the_release == [True], "the kill waited for the other session's hung step"
    assert verify_run(tmp_path / "aio-hung").ok
    assert verify_run(tmp_path / "aio-other").ok


def test_no_thread_is_left_behind_when_the_block_or_a_call_after_it_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: the thread that sealed the run as the block ended (and the one a call after the
    block runs on) was let go, not joined: still alive once ``asyncio.run`` had returned,
    seen by ``threading.enumerate()`` while it had yet to exit (5 sessions at once, the GIL
    busy). Each is joined before its caller goes on. Here a spare thread that has done its
    call stays alive until something joins it, so the test sees what a busy GIL may show."""
    gates: dict[threading.Thread, threading.Event] = {}
    gating = threading.Lock()

    def gate(thread: threading.Thread) -> threading.Event:
        with gating:
            return gates.setdefault(thread, threading.Event())

    worker = concurrent.futures.thread._worker  # type: ignore[attr-defined]
    join = threading.Thread.join

    def held_worker(*args: object) -> None:
        try:
            worker(*args)
        finally:
            if threading.current_thread().name.startswith("livesession-spare"):
                gate(threading.current_thread()).wait(30)

    def joining(self: threading.Thread, timeout: float | None = None) -> None:
        gate(self).set()
        join(self, timeout)

    monkeypatch.setattr(concurrent.futures.thread, "_worker", held_worker)
    monkeypatch.setattr(threading.Thread, "join", joining)

    def alive() -> list[str]:
        return [t.name for t in threading.enumerate() if t.name.startswith("livesession-")]

    async def main() -> tuple[list[str], list[str]]:
        async with open_session(DryrunConfig(run_id="aio-joined"), out_dir=tmp_path) as s:
            await s.run_steps(5)
        after_the_block = alive()
        assert (await s.book()).open_orders == ()  # after the block: on a thread of its own
        return after_the_block, alive()

    try:
        left = asyncio.run(main())
    finally:
        for thread in list(gates):
            gate(thread).set()
    assert left == ([], [])
    assert verify_run(tmp_path / "aio-joined").ok


def test_verb_results_answer_in_a_later_loop_as_verb_result_does(tmp_path: Path) -> None:
    """Bug: after the block, in a later ``asyncio.run`` (a second loop of the application,
    a test's), ``verb_result("kill")`` gave the kill's result but ``verb_results("kill")``
    raised ``RuntimeError: Event loop is closed``: it gathered the calls, done long ago,
    on the loop they were made in. Calls that are done are answered as they are."""

    async def first() -> tuple[AsyncSession, VerbResult]:
        async with open_session(DryrunConfig(run_id="aio-later"), out_dir=tmp_path) as s:
            await s.run_steps(5)
            return s, await s.kill("desk")

    session, killed = asyncio.run(first())

    async def later() -> tuple[VerbResult | None, tuple[VerbResult, ...], tuple[VerbResult, ...]]:
        latest = await session.verb_result("kill")
        return latest, await session.verb_results("kill"), await session.verb_results("stop")

    assert asyncio.run(later()) == (killed, (killed,), ())
    assert verify_run(tmp_path / "aio-later").ok
