"""Threads: one owner thread steps a session; any thread may stop, kill or acknowledge it.

The stress test is about real threads, so it uses tiny real delays (seeded) to land the
operator's verb at a random point of a worker's ``run_n_steps``. Every run must verify,
end STOPPED and flat, and have nothing after ``SESSION_STOPPED``.
"""

from __future__ import annotations

import random
import sys
import threading
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from livesession import (
    DryrunConfig,
    LiveSessionError,
    LiveSessionOrchestrator,
    SessionState,
    VerbOutcome,
    create_run,
)
from livesession._session.threads import SessionGate
from livesession._support.built import built as built_by
from livesession.verify import verify_run

from _gate_watch import GateWatch
from _helpers import Sinks, until
from _verify_runs import mark_verified, verify_session

if TYPE_CHECKING:
    from pathlib import Path

TRIALS = 210
STEPS = 120
_VERBS = ("stop", "kill", "acknowledge")


class _FailsAt:
    """The demo strategy's trades (a fast crossover) until bar ``fail_at``, then raises."""

    def __init__(self, inner: Any, fail_at: int) -> None:
        self.strategy_id = inner.strategy_id
        self._inner = inner
        self._fail_at = fail_at
        self.bars = 0

    def on_bar(self, bar: Any, view: Any) -> Any:
        self.bars += 1
        if self.bars == self._fail_at:
            msg = "the strategy fell over"
            raise RuntimeError(msg)
        return self._inner.on_bar(bar, view)

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars, "inner": self._inner.get_state()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.bars = state["bars"]
        self._inner.set_state(state["inner"])


def _config(trial: int) -> DryrunConfig:
    return DryrunConfig(
        run_id=f"thread-{trial}",
        seed=trial,
        steps=STEPS,
        strategy={"fast": 2, "slow": 3},
        fill_model={"latency_ms": 90_000, "partial_fill_ratio": "0.3"},
    )


def _build(trial: int, verb: str, fail_at: int) -> tuple[LiveSessionOrchestrator, Sinks]:
    sinks = Sinks()
    cfg = _config(trial)
    edges: dict[str, Any] = {}
    if verb == "acknowledge":
        from livesession import SmaCrossover

        inner = SmaCrossover(
            strategy_id=cfg.strategy_id,
            fast=cfg.strategy.fast,
            slow=cfg.strategy.slow,
            order_qty=cfg.strategy.order_qty,
        )
        edges["strategy"] = _FailsAt(inner, fail_at)
    session = LiveSessionOrchestrator(cfg, **edges, **sinks.kwargs())
    session.preflight()
    session.activate()
    return session, sinks


def _owner(
    trial: int, verb: str, fail_at: int, after_steps: int
) -> tuple[threading.Thread, dict[str, Any], list[BaseException]]:
    """The owner thread, started: it builds the session (``session``, ``sinks``) and runs it.

    Returned once it ran ``after_steps`` steps (a step hook says so) or ended (bounded).
    """
    built: dict[str, Any] = {}
    ready = threading.Event()
    reached = threading.Event()  # the owner ran ``after_steps`` steps, or ended
    errors: list[BaseException] = []

    def reach(session: LiveSessionOrchestrator) -> None:  # a step hook, at a step's end
        if session.steps_done >= after_steps:
            reached.set()

    def worker() -> None:
        try:
            built["session"], built["sinks"] = _build(trial, verb, fail_at)
            built["session"].step_hooks.append(reach)
            ready.set()
            built["done"] = built["session"].run_n_steps(STEPS)
        except BaseException as exc:  # reported by the test below
            errors.append(exc)
            ready.set()
        finally:
            reached.set()

    if after_steps == 0:
        reached.set()
    thread = threading.Thread(target=worker, name=f"owner-{trial}")
    thread.start()
    assert ready.wait(10)
    assert not errors, errors
    assert reached.wait(10), f"the owner neither ran {after_steps} steps nor ended"
    return thread, built, errors


def _trial(trial: int, rng: random.Random) -> dict[str, Any]:
    """One worker builds and steps; this thread calls a verb after a random delay."""
    verb = _VERBS[trial % len(_VERBS)]
    fail_at = rng.randrange(5, STEPS)
    # The verb lands after a seeded number of steps plus a tiny real delay: a point in the
    # middle of the run (often mid-step), whatever the machine's speed.
    after_steps = rng.randrange(0, STEPS)
    delay = rng.uniform(0, 0.0005)
    thread, built, errors = _owner(trial, verb, fail_at, after_steps)
    session: LiveSessionOrchestrator = built["session"]
    # Jitter, not a wait for anything: where in the run the verb lands is the subject.
    time.sleep(delay)
    stepping = thread.is_alive()
    if verb == "stop":
        first = session.request_stop("operator from another thread")
        assert first.outcome is VerbOutcome.APPLIED, first
        again = session.request_stop("again")
    elif verb == "kill":
        first = session.kill("drill from another thread")
        assert first.outcome is VerbOutcome.APPLIED, first
        again = None
    else:
        first = session.acknowledge("ops-thread")
        assert first.outcome in (VerbOutcome.APPLIED, VerbOutcome.NOT_APPLICABLE), first
        again = session.acknowledge("ops-thread")
    thread.join(10)
    assert not thread.is_alive()
    assert not errors, errors
    if verb == "stop":
        assert again is not None
        assert again.outcome is VerbOutcome.ALREADY, again
        assert session.state is SessionState.STOPPED
    if verb == "acknowledge" and not first.applied:
        # The verb came before the fault: the session traded on (or is waiting now).
        assert first.state is not SessionState.ERROR_REQUIRES_OPERATOR
        session.acknowledge("ops-late")
    elif verb == "acknowledge":
        assert again is not None
        assert again.outcome is VerbOutcome.NOT_APPLICABLE, again
    session.close()
    return {
        "session": session,
        "sinks": built["sinks"],
        "stepping": stepping,
        "verb": verb,
        "first": first.outcome,
    }


def _check_ended_well(session: LiveSessionOrchestrator, sinks: Sinks) -> None:
    assert session.state is SessionState.STOPPED
    view = session.book
    assert not view.open_orders
    assert not any(view.positions.values()), view.positions
    assert not session.broker.open_orders()  # nothing left open at the venue either
    types = [orjson.loads(line)["event_type"] for line in sinks.events.lines]
    assert types.count("SESSION_STOPPED") == 1
    assert types[-1] == "SESSION_STOPPED", types[types.index("SESSION_STOPPED") :]
    violations = verify_session(session)
    assert violations == [], violations
    mark_verified(session)


def test_verbs_from_another_thread_while_the_owner_steps() -> None:
    """>= 200 trials: stop, kill or acknowledge lands mid-run; every run verifies, ends flat."""
    rng = random.Random(1414)
    overlapped = dict.fromkeys(_VERBS, 0)
    acks: dict[VerbOutcome, int] = {}
    # Switch threads often (the default is every 5 ms, longer than a whole trial's run):
    # more interleavings, and the verb really lands while the owner steps.
    switch = sys.getswitchinterval()
    sys.setswitchinterval(0.0001)
    try:
        for trial in range(TRIALS):
            outcome = _trial(trial, rng)
            _check_ended_well(outcome["session"], outcome["sinks"])
            overlapped[outcome["verb"]] += outcome["stepping"]
            if outcome["verb"] == "acknowledge":
                acks[outcome["first"]] = acks.get(outcome["first"], 0) + 1
    finally:
        sys.setswitchinterval(switch)
    # The subject is concurrency: many stops and kills arrived while the owner stepped, and
    # acknowledgements landed both before the fault (refused) and after it (applied).
    print(f"verbs that arrived while the owner stepped: {overlapped}; acks: {acks}")  # noqa: T201
    assert overlapped["stop"] >= TRIALS // len(_VERBS) // 2, overlapped
    assert overlapped["kill"] >= TRIALS // len(_VERBS) // 2, overlapped
    assert set(acks) == {VerbOutcome.APPLIED, VerbOutcome.NOT_APPLICABLE}, acks


def test_a_verb_waits_for_the_running_step() -> None:
    """A stop from another thread while a step runs takes effect when that step ends."""
    in_step = threading.Event()
    release = threading.Event()
    order: list[str] = []
    built: dict[str, Any] = {}

    def hook(session: LiveSessionOrchestrator) -> None:
        if session.steps_done == 3:
            in_step.set()
            assert release.wait(5)
            order.append("step 3 ended")

    def worker() -> None:
        with built_by(SessionGate) as gates:
            session, built["sinks"] = _build(9001, "stop", 0)
        built["gate"] = gates[0]
        session.step_hooks.append(hook)
        built["session"] = session
        built["done"] = session.run_n_steps(50)

    thread = threading.Thread(target=worker)
    thread.start()
    assert in_step.wait(5)
    gate: SessionGate = built["gate"]
    stopper = threading.Thread(
        target=lambda: order.append(built["session"].request_stop("mid-step").outcome.value)
    )
    stopper.start()
    # The stop waits on the session lock (one that did not would end before the step).
    until("the stop to wait on the session lock", lambda: gate.waiting or not stopper.is_alive())
    assert order == []
    release.set()
    stopper.join(5)
    thread.join(5)
    assert order == ["step 3 ended", "APPLIED"]
    assert built["done"] == 3
    _check_ended_well(built["session"], built["sinks"])


def test_acknowledge_at_once_when_no_step_runs() -> None:
    """ERROR_REQUIRES_OPERATOR with the owner idle: another thread's ack applies at once."""
    built: dict[str, Any] = {}

    def worker() -> None:
        built["session"], built["sinks"] = _build(9002, "acknowledge", 10)
        built["session"].run_n_steps(100)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(10)
    session: LiveSessionOrchestrator = built["session"]
    assert session.state is SessionState.ERROR_REQUIRES_OPERATOR
    result = session.acknowledge("ops")
    assert result.outcome is VerbOutcome.APPLIED
    assert result.state is SessionState.STOPPED
    _check_ended_well(session, built["sinks"])


def test_stepping_from_another_thread_fails_clearly(tmp_path: Path) -> None:
    """The issue's case: create_run (SQLite) here, run_n_steps in a worker.

    It used to raise sqlite3.ProgrammingError at the first order and leave the session
    DRYRUN_ACTIVE. Now the worker is refused before anything happens, naming the owner,
    and the owner (or any thread) can still stop and seal the run.
    """
    session = create_run(_config(9003), tmp_path)
    session.preflight()
    session.activate()
    seq = session.recorder.event_seq
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            session.run_n_steps(20)
        except LiveSessionError as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker, name="stepper")
    thread.start()
    thread.join(10)
    (error,) = errors
    message = str(error)
    assert "'stepper'" in message
    assert f"'{threading.current_thread().name}'" in message
    assert "run_n_steps" in message
    assert "\n" not in message
    assert session.recorder.event_seq == seq
    assert session.state is SessionState.DRYRUN_ACTIVE
    assert session.run_n_steps(20) == 20  # the owner steps as before
    stopper = threading.Thread(target=session.close)  # closing is any thread's verb
    stopper.start()
    stopper.join(10)
    assert session.state is SessionState.STOPPED
    result = verify_run(tmp_path / "thread-9003")
    assert not result.violations


@pytest.mark.parametrize("verb", ["request_stop", "kill", "acknowledge", "reduce_only"])
def test_a_verb_twice_says_so(verb: str) -> None:
    """The second call changes nothing, writes nothing and never raises."""
    session, sinks = _build(9010, "acknowledge" if verb == "acknowledge" else "stop", 4)
    session.run_n_steps(10)
    first = getattr(session, verb)()
    lines = len(sinks.events.lines)
    second = getattr(session, verb)()
    assert first.outcome is VerbOutcome.APPLIED, first
    assert second.outcome is not VerbOutcome.APPLIED, second
    assert not second
    assert second.message
    assert len(sinks.events.lines) == lines
    session.acknowledge()
    session.close()


def test_only_the_owner_runs_the_session_forward() -> None:
    """preflight, activate, step and run_to_end from another thread are refused, unchanged."""
    sinks = Sinks()
    session = LiveSessionOrchestrator(_config(9020), **sinks.kwargs())
    refused: dict[str, str] = {}

    def other(name: str, call: Any) -> None:
        def run() -> None:
            try:
                call()
            except LiveSessionError as exc:
                refused[name] = str(exc)

        thread = threading.Thread(target=run, name=f"not-owner-{name}")
        thread.start()
        thread.join(10)

    other("preflight", session.preflight)
    assert session.state is SessionState.INIT
    session.preflight()
    other("activate", session.activate)
    assert session.state is SessionState.PREFLIGHT_OK
    session.activate()
    other("step", session.step)
    other("run_to_end", lambda: session.run_to_end(10))
    assert session.steps_done == 0
    assert sorted(refused) == ["activate", "preflight", "run_to_end", "step"]
    for name, message in refused.items():
        assert message.startswith(f"{name} called from thread 'not-owner-{name}'"), message
    # The verbs are any thread's: reduce_only and reenable_trading from another thread.
    results: list[Any] = []
    other("reduce", lambda: results.append(session.reduce_only("ops")))
    other("reenable", lambda: results.append(session.reenable_trading("ops")))
    assert [r.outcome for r in results] == [VerbOutcome.APPLIED, VerbOutcome.APPLIED]
    session.run_n_steps(5)
    session.close()


class _GatedClock:
    """A UTC clock whose first reading (preflight's) says so and waits for ``go``."""

    def __init__(self) -> None:
        self.in_preflight = threading.Event()
        self.go = threading.Event()
        self._reads = 0

    def now(self) -> datetime:
        self._reads += 1
        if self._reads == 1:
            self.in_preflight.set()
            assert self.go.wait(10)
        return datetime(2026, 1, 1, tzinfo=UTC)

    def monotonic_ns(self) -> int:
        return 0


@pytest.mark.parametrize("verb", ["request_stop", "close"])
def test_a_stop_or_close_during_run_to_end_s_preflight_ends_it_quietly(
    tmp_path: Path, verb: str
) -> None:
    """``run_to_end`` returns the stopped run: it no longer raises ``InvalidTransition``.

    The verb waits on the session lock while preflight holds it, and goes first when
    preflight lets go (waiting verbs have their turn): ``run_to_end`` judged whether to
    activate before that, outside the lock, and then activated a STOPPED session.
    """
    clock = _GatedClock()
    ran: dict[str, Any] = {}

    def owner() -> None:
        with built_by(SessionGate) as gates:
            session = create_run(DryrunConfig(run_id="race", steps=100), tmp_path, clock=clock)
        ran["session"], ran["gate"] = session, gates[0]
        try:
            ran["result"] = session.run_to_end(100)
        except Exception as exc:
            ran["error"] = exc

    thread = threading.Thread(target=owner)
    thread.start()
    assert clock.in_preflight.wait(10)
    session, gate = ran["session"], ran["gate"]
    watch = GateWatch(gate)  # before the verb comes to the gate
    verber = threading.Thread(target=getattr(session, verb))
    verber.start()
    watch.until("the verb to wait on the session lock", lambda: gate.waiting)
    clock.go.set()
    verber.join(10)
    thread.join(10)
    assert "error" not in ran, ran.get("error")
    assert ran["result"].state is SessionState.STOPPED
    assert ran["result"].steps == 0
    assert verify_run(tmp_path / "race").ok


def test_threads_that_keep_reading_the_session_do_not_stop_its_steps() -> None:
    """Bug: before each step the owner waited for a moment when no other thread waited on
    the session lock, so threads reading it in a loop (``session.book`` from a status
    endpoint's workers, a monitor) never left one: with four such threads 20,000 steps took
    over two minutes, where they take one second. The owner now waits only for the threads
    waiting when it looked, and threads that come for the lock while the owner waits for it
    wait for its step.

    Three readers each hold the lock until two others wait for it, so one always waits:
    the owner used to get in only once they gave up (after all their ``rounds``)."""
    rounds = 3_000
    gate = SessionGate()  # this thread owns it
    watch = GateWatch(gate)
    turns = [0]
    done = threading.Event()
    cycling = threading.Event()
    coming = threading.Event()

    def reader() -> None:
        while not done.is_set() and turns[0] < rounds:
            with gate.hold(read_only=True):
                turns[0] += 1
                if turns[0] == 20:  # the others wait: hold on until the owner comes too
                    cycling.set()
                    assert coming.wait(60)
                watch.wait_for(  # woken as each thread comes; bounded, as before
                    lambda: gate.waiting >= 2 or gate.owner_waiting or done.is_set(), 10
                )

    readers = [threading.Thread(target=reader) for _ in range(3)]
    for thread in readers:
        thread.start()
    assert cycling.wait(60)
    started = turns[0]
    coming.set()
    gate.enter_owned("step", "busy")
    entered = turns[0]
    done.set()
    watch.tell()
    gate.leave()
    for thread in readers:
        thread.join(60)
    assert started == 20
    assert entered < rounds, "the owner waited until every reader gave up"
    assert entered - started < rounds // 2, entered
