"""Ctrl-C and ``sys.exit`` in an application that embeds a session.

An interrupt that leaves a step half done (``KeyboardInterrupt`` or ``SystemExit`` raised
inside it) tears the session: ``close()`` (a ``with`` block's exit, a ``finally``) used to
seal what it held, and the run failed ``verify`` (a snapshot's step behind the bars, an
acceptance with no order event) while saying COMPLETED. Now a torn session seals nothing
and takes no further step or verb; its run is left as a crash at its last checkpoint, and
``resume_run`` finishes it to the bytes of a run never interrupted.

So that Ctrl-C does not tear anything in the first place, ``run_to_end`` and
``run_n_steps`` in the main thread hold a first SIGINT to the end of its step.
"""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from livesession import (
    Bar,
    DryrunConfig,
    LiveSessionError,
    LiveSessionOrchestrator,
    MockBroker,
    Order,
    OrderIntent,
    SessionState,
    SessionStatus,
    Side,
    VerbOutcome,
    VerbResult,
    create_run,
    resume_run,
    verify_run,
)
from livesession._artifacts import names
from livesession.evidence import _rerun
from livesession.status import Verdict, run_status

from _helpers import Sinks, as_pid_1

if TYPE_CHECKING:
    from pathlib import Path

STEPS = 250


def _events(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    lines = (run_dir / names.EVENTS).read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["event_type"] == event_type]


def _interrupt_after(
    session: LiveSessionOrchestrator,
    n: int,
    exc: type[BaseException],
    *,
    written_out: bool = False,
) -> None:
    """Raise ``exc`` right after the session's ``n``-th event is written (inside its work).

    ``written_out``: the lines the sinks hold are written out first, so that the crash
    leaves a tail past the checkpoint (a torn session drops them, as a killed process does).
    """
    recorder = session.recorder
    emit = recorder.emit
    count = 0

    def interrupted(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        written = emit(*args, **kwargs)
        count += 1
        if count == n:
            recorder.emit = emit  # type: ignore[method-assign]
            if written_out:
                recorder.flush(sync=False)
            raise exc
        return written

    recorder.emit = interrupted  # type: ignore[method-assign]


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("unbroken")
    with create_run(DryrunConfig(run_id="r", steps=STEPS), out) as session:
        session.run_to_end(STEPS)
    assert verify_run(out / "r").ok
    return (out / "r" / names.EVENTS).read_bytes()


# The 3rd event is a preflight check, the 9th the activation's STATE_CHANGED; from the
# 10th on they are bars, and an order's SIGNAL, ORDER_SUBMITTED, ORDER_ACCEPTED, FILLED
# and POSITION_CHANGED (events 35 to 40 hold the first order, 162 to 167 another, after
# the first checkpoint at step 100).
@pytest.mark.parametrize("n", [3, 9, 10, 35, 36, 37, 38, 39, 40, 120, 162, 163, 164, 165])
@pytest.mark.parametrize("exc", [KeyboardInterrupt, SystemExit])
def test_an_interrupt_inside_a_step_leaves_a_crash_that_resume_finishes(
    tmp_path: Path, unbroken: bytes, n: int, exc: type[BaseException]
) -> None:
    run_dir = tmp_path / "r"
    session = create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path)
    _interrupt_after(session, n, exc)
    with pytest.raises(exc), session:
        session.run_to_end(STEPS)
    # close() sealed nothing: the run is a crash at its last checkpoint, not COMPLETED.
    status = run_status(run_dir)
    assert (status.verdict, status.resumable) == (Verdict.CRASHED, True), status
    assert session.status in (SessionStatus.INIT, SessionStatus.RUNNING)
    assert b"SESSION_STOPPED" not in (run_dir / names.EVENTS).read_bytes()
    with resume_run(run_dir) as resumed:
        resumed.run_to_end(STEPS)
    assert verify_run(run_dir).ok
    assert (run_dir / names.EVENTS).read_bytes() == unbroken


def _torn_in_step_21(session: LiveSessionOrchestrator) -> None:
    """Run ``session`` 20 steps (a new one preflighted first), then tear it in the next."""
    if session.state is SessionState.INIT:  # a new run's; a resumed one is active
        session.preflight()
        session.activate()
    session.run_n_steps(20)
    _interrupt_after(session, 1, KeyboardInterrupt)
    with pytest.raises(KeyboardInterrupt):
        session.run_n_steps(5)


def test_a_torn_session_takes_no_further_step_or_verb(tmp_path: Path) -> None:
    session = create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path)
    _torn_in_step_21(session)
    # The interrupt came in step 21: its bar was written, the step did not finish.
    refused = re.escape(
        "interrupted by KeyboardInterrupt in the middle of its work (after step 20)"
    )
    with pytest.raises(LiveSessionError, match=refused):
        session.step()
    with pytest.raises(LiveSessionError, match=refused):
        session.run_to_end(STEPS)
    for verb in (session.request_stop, session.kill, session.reduce_only):
        result = verb()
        assert not result.applied
        assert re.search(refused, result.message)
        assert result.message.endswith(
            f"(`livesession resume {tmp_path / 'r'}`, or resume_run from Python: "
            f"`livesession status {tmp_path / 'r'}` says which)"
        )
    session.close()  # seals nothing, releases the run
    assert session.state is SessionState.DRYRUN_ACTIVE
    assert run_status(tmp_path / "r").verdict is Verdict.CRASHED
    with resume_run(tmp_path / "r") as resumed:
        resumed.run_to_end(STEPS)
    assert verify_run(tmp_path / "r").ok


def test_a_torn_session_names_its_run_directory_as_a_command_to_paste(tmp_path: Path) -> None:
    """A torn session said `livesession resume RUN_DIR` literally, though it knew its run
    directory: a session ``create_run`` or ``resume_run`` made names it now, shell-quoted
    as the other pasted commands are (a run under `desk runs/`)."""
    run_dir = tmp_path / "desk runs" / "r"
    said = (
        f"(`livesession resume '{run_dir}'`, or resume_run from Python: "
        f"`livesession status '{run_dir}'` says which)"
    )
    for made in (
        lambda: create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path / "desk runs"),
        lambda: resume_run(run_dir),
    ):
        session = made()
        _torn_in_step_21(session)
        assert session.result().torn.endswith(said)
        with pytest.raises(LiveSessionError) as refused:
            session.step()
        assert str(refused.value).endswith(said)
        assert session.kill().message.endswith(said)
        session.close()
    with resume_run(run_dir) as resumed:
        resumed.run_to_end(STEPS)
    assert verify_run(run_dir).ok


@pytest.mark.broken_run("torn on sinks with no checkpoint store: nothing resumes it, unsealed")
def test_a_torn_session_on_the_applications_own_sinks_names_no_run_directory() -> None:
    """A session on sinks of the application's knows no run directory: its words keep the
    placeholder."""
    session = LiveSessionOrchestrator(DryrunConfig(run_id="own", steps=STEPS), **Sinks().kwargs())
    _torn_in_step_21(session)
    assert session.result().torn.endswith(
        "(`livesession resume RUN_DIR`, or resume_run from Python: "
        "`livesession status RUN_DIR` says which)"
    )
    session.close()


class _SignalsItself:
    """A strategy that sends its own process a signal on chosen bars (an operator's Ctrl-C
    or kill), from inside the step; with ``buy``, the step then has an order to send."""

    strategy_id = "sma_demo"

    def __init__(
        self, at: dict[int, int], *, signum: int = signal.SIGINT, buy: bool = False
    ) -> None:
        self.at = at  # bar number -> how many signals
        self.signum = signum
        self.buy = buy
        self.bars = 0

    def on_bar(self, bar: Bar, view: object) -> list[OrderIntent]:
        self.bars += 1
        times = self.at.get(self.bars, 0)
        for _ in range(times):
            os.kill(os.getpid(), self.signum)
        self.bars += 0  # the handler runs by here, still inside the step
        if not (times and self.buy):
            return []
        return [OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.010"))]

    def get_state(self) -> dict[str, int]:
        return {"bars": self.bars}

    def set_state(self, state: dict[str, int]) -> None:
        self.bars = state["bars"]


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
class TestCtrlC:
    @pytest.mark.parametrize("verb", ["run_to_end", "run_n_steps"])
    def test_a_first_ctrl_c_ends_the_step_then_interrupts(self, tmp_path: Path, verb: str) -> None:
        """The step the SIGINT came in completes; ``with`` then seals a whole run."""
        strategy = _SignalsItself({37: 1})
        session = create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path, strategy=strategy)
        before = signal.getsignal(signal.SIGINT)

        def drive() -> None:
            if verb == "run_to_end":
                session.run_to_end(STEPS)
            else:
                session.preflight()
                session.activate()
                session.run_n_steps(STEPS)

        with pytest.raises(KeyboardInterrupt), session:
            drive()
        assert signal.getsignal(signal.SIGINT) is before, "the handler is put back"
        assert session.steps_done == 37
        assert (session.state, session.status) == (SessionState.STOPPED, SessionStatus.COMPLETED)
        assert verify_run(tmp_path / "r").ok

    def test_run_to_end_closes_the_session_on_ctrl_c_without_a_with_block(
        self, tmp_path: Path
    ) -> None:
        """run_to_end promises a closed session when it returns: the runbook's one-shot
        ``run_dryrun`` (no ``with``, the caller's files closed right after) left its four
        files unsealed on Ctrl-C. The run is now sealed before the interrupt goes on."""
        out = tmp_path / "four"
        out.mkdir()
        names_ = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")
        files = [(out / name).open("w", encoding="utf-8") for name in names_]

        class CtrlCAtBar30(MockBroker):  # the operator's Ctrl-C, inside step 30
            simulated = True  # a broker of the test's own declares itself (preflight)
            bars = 0

            def on_market(self, bar: Bar) -> None:
                super().on_market(bar)
                self.bars += 1
                if self.bars == 30:
                    os.kill(os.getpid(), signal.SIGINT)

        orch = LiveSessionOrchestrator()
        try:
            with pytest.raises(KeyboardInterrupt):
                orch.run_dryrun(
                    DryrunConfig(run_id="r", steps=STEPS, max_sink_retries=0),
                    broker=CtrlCAtBar30(seed=1),
                    event_sink=files[0],
                    state_sink=files[1],
                    metrics_sink=files[2],
                    audit_sink=files[3],
                )
        finally:
            for f in files:
                f.close()
        assert (orch.steps_done, orch.status) == (30, SessionStatus.COMPLETED)
        assert verify_run(out).ok

    def test_a_ctrl_c_in_run_to_ends_own_stop_is_raised_once_it_is_sealed(
        self, tmp_path: Path
    ) -> None:
        """Bug: Ctrl-C that came once the last step was over, during ``run_to_end``'s own stop
        and seal (here the strategy's state, taken for the stop's checkpoint), was held for
        a step boundary that never came, and dropped: ``run_to_end`` returned as if no one
        had pressed it. It is now raised once the session is closed, the run sealed whole,
        with the note the other Ctrl-Cs carry (it said nothing of the sealed session)."""

        class CtrlCInTheStop(_SignalsItself):
            def get_state(self) -> dict[str, int]:
                if self.bars == 10 and self.at:  # the stop's, after the last bar
                    self.at = {}
                    os.kill(os.getpid(), signal.SIGINT)
                return super().get_state()

        strategy = CtrlCInTheStop({0: 0})
        session = create_run(DryrunConfig(run_id="r", steps=10), tmp_path, strategy=strategy)
        with pytest.raises(KeyboardInterrupt) as interrupted:
            session.run_to_end(10)
        assert not strategy.at, "the signal was sent"
        said = "LiveSessionOrchestrator(run_id='r', state=STOPPED, status=COMPLETED, steps=10)"
        assert interrupted.value.__notes__ == [f"livesession: after this Ctrl-C, {said}"]
        assert (session.steps_done, session.state, session.status) == (
            10,
            SessionState.STOPPED,
            SessionStatus.COMPLETED,
        )
        assert verify_run(tmp_path / "r").ok
        assert not verify_run(tmp_path / "r").live  # closed: the writer lock let go

    def test_a_second_ctrl_c_interrupts_at_once(self, tmp_path: Path) -> None:
        """Two in one step: the second one is not held, and tears the session."""
        strategy = _SignalsItself({12: 2})
        session = create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path, strategy=strategy)
        with pytest.raises(KeyboardInterrupt), session:
            session.run_to_end(STEPS)
        assert run_status(tmp_path / "r").verdict is Verdict.CRASHED
        strategy = _SignalsItself({})
        with resume_run(tmp_path / "r", strategy=strategy) as resumed:
            resumed.run_to_end(STEPS)
        assert verify_run(tmp_path / "r").ok

    @pytest.mark.parametrize("verb", ["run_to_end", "run_n_steps"])
    def test_the_interrupt_says_what_the_session_is_now(self, tmp_path: Path, verb: str) -> None:
        """Bug: in a notebook, Ctrl-C during run_to_end or run_n_steps showed a bare
        `KeyboardInterrupt`, and nothing said whether the run went on, was sealed or torn.
        Its note now says: sealed COMPLETED (run_to_end), still active (run_n_steps)."""
        strategy = _SignalsItself({7: 1})
        session = create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path, strategy=strategy)
        with session:
            if verb == "run_n_steps":
                session.preflight()
                session.activate()
            with pytest.raises(KeyboardInterrupt) as interrupted:
                getattr(session, verb)(STEPS)
            sealed = verb == "run_to_end"
            state = "STOPPED, status=COMPLETED" if sealed else "DRYRUN_ACTIVE, status=RUNNING"
            said = f"LiveSessionOrchestrator(run_id='r', state={state}, steps=7)"
            assert interrupted.value.__notes__ == [f"livesession: after this Ctrl-C, {said}"]
        assert verify_run(tmp_path / "r").ok

    def test_a_torn_session_says_so_in_its_repr_and_the_interrupts_note(
        self, tmp_path: Path
    ) -> None:
        """Bug: a session torn by a second Ctrl-C in one step showed `state=DRYRUN_ACTIVE,
        status=RUNNING` (repr, the notebook's display) as if it would step on, while it
        takes no step and its run is a crash to resume. Its repr and the note say torn."""
        session = create_run(
            DryrunConfig(run_id="r", steps=STEPS), tmp_path, strategy=_SignalsItself({12: 2})
        )
        with pytest.raises(KeyboardInterrupt) as interrupted:
            session.run_to_end(STEPS)
        torn = (
            "LiveSessionOrchestrator(run_id='r', state=DRYRUN_ACTIVE, status=RUNNING, "
            "steps=12, torn by KeyboardInterrupt: it takes no step; resume its run)"
        )
        assert repr(session) == torn
        assert interrupted.value.__notes__ == [f"livesession: after this Ctrl-C, {torn}"]
        session.close()
        assert repr(session) == torn
        with resume_run(tmp_path / "r", strategy=_SignalsItself({})) as resumed:
            resumed.run_to_end(STEPS)
        assert verify_run(tmp_path / "r").ok

    def test_a_handler_the_application_installs_during_the_run_stays(self, tmp_path: Path) -> None:
        """The run puts Python's own handlers back only where its own are still in place."""

        def own(signum: int, frame: object) -> None:
            pass

        def install(session: LiveSessionOrchestrator) -> None:
            if session.steps_done == 3:
                signal.signal(signal.SIGINT, own)
                signal.signal(signal.SIGTERM, own)

        try:
            with create_run(DryrunConfig(run_id="r", steps=20), tmp_path) as session:
                session.step_hooks.append(install)
                session.run_to_end(20)
            assert signal.getsignal(signal.SIGINT) is own
            assert signal.getsignal(signal.SIGTERM) is own
        finally:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def test_an_applications_own_handler_is_left_alone(self, tmp_path: Path) -> None:
        seen: list[int] = []

        def own(signum: int, frame: object) -> None:
            seen.append(signum)

        previous = signal.signal(signal.SIGINT, own)
        try:
            strategy = _SignalsItself({5: 1})
            with create_run(
                DryrunConfig(run_id="r", steps=20), tmp_path, strategy=strategy
            ) as session:
                session.run_to_end(20)
            assert seen == [signal.SIGINT]
            assert session.steps_done == 20
            assert signal.getsignal(signal.SIGINT) is own
        finally:
            signal.signal(signal.SIGINT, previous)


@pytest.mark.skipif(
    threading.current_thread() is not threading.main_thread(), reason="signals: main thread"
)
class TestVerbsFromASignalHandler:
    """``signal.signal(SIGTERM, lambda *_: session.request_stop())`` is what an application
    writes. Python runs the handler between two bytecodes of the main thread, so in the
    middle of a step, and the session lock is re-entrant: the stop ran inside the step and
    sealed a run that failed verify (a BAR after SESSION_STOPPED, a final position of 0
    while the fills added up to 0.010) in five of six tries. Now a verb called from inside
    the session's own work is DEFERRED to the step's end."""

    @pytest.mark.parametrize("verb", ["request_stop", "kill", "close"])
    def test_the_verb_takes_effect_at_the_end_of_the_step(self, tmp_path: Path, verb: str) -> None:
        session = create_run(
            DryrunConfig(run_id="r", steps=STEPS),
            tmp_path,
            strategy=_SignalsItself({41: 1}, signum=signal.SIGUSR1, buy=True),
        )
        answers: list[object] = []

        def handler(signum: int, frame: object) -> None:
            answers.append(session.close() if verb == "close" else getattr(session, verb)("USR1"))

        previous = signal.signal(signal.SIGUSR1, handler)
        try:
            with session:
                session.run_to_end(STEPS)
        finally:
            signal.signal(signal.SIGUSR1, previous)
        if verb != "close":
            [answer] = answers
            assert answer.outcome is VerbOutcome.DEFERRED, answer  # type: ignore[attr-defined]
            assert "takes effect when the step ends" in answer.message  # type: ignore[attr-defined]
        events = [
            orjson.loads(line) for line in (tmp_path / "r" / names.EVENTS).read_bytes().splitlines()
        ]
        bars = [i for i, e in enumerate(events) if e["event_type"] == "BAR"]
        first = next(
            i
            for i, e in enumerate(events)
            if e["event_type"] in ("KILL_SWITCH", "STATE_CHANGED") and i > bars[0]
        )
        assert sum(1 for i in bars if i < first) == 41, "taken after step 41, not inside it"
        submitted = [i for i, e in enumerate(events) if e["event_type"] == "ORDER_SUBMITTED"]
        assert submitted[0] < first, "step 41 sent its order before the verb took effect"
        if verb != "kill":
            assert session.steps_done == 41
        assert verify_run(tmp_path / "r").ok

    def test_a_verb_from_a_handler_during_closes_wind_down_waits_for_it(
        self, tmp_path: Path
    ) -> None:
        """close() stops the session itself (cancel, flatten): a kill a signal handler asks
        for in the middle of that flatten is not let in, it waits for the close to end."""

        class SignalsOnFlatten(MockBroker):
            simulated = True

            def submit(self, order: Order, now_ns: int) -> None:
                super().submit(order, now_ns)
                if order.reduce_only:  # the stop's flatten order
                    os.kill(os.getpid(), signal.SIGUSR1)

        broker = SignalsOnFlatten(seed=1)
        # Buys on bar 5, so the stop has a position to flatten (its SIGUSR2 is ignored here).
        strategy = _SignalsItself({5: 1}, signum=signal.SIGUSR2, buy=True)
        session = create_run(
            DryrunConfig(run_id="r", steps=20), tmp_path, strategy=strategy, broker=broker
        )
        answers: list[VerbResult] = []
        previous = signal.signal(signal.SIGUSR1, lambda *_: answers.append(session.kill("USR1")))
        ignore = signal.signal(signal.SIGUSR2, signal.SIG_IGN)
        try:
            with session:
                session.run_to_end(20)
        finally:
            signal.signal(signal.SIGUSR1, previous)
            signal.signal(signal.SIGUSR2, ignore)
        assert [a.outcome for a in answers] == [VerbOutcome.DEFERRED]
        assert not _events(tmp_path / "r", "KILL_SWITCH")  # it came after the stop: nothing
        assert verify_run(tmp_path / "r").ok

    def test_a_step_hook_still_acts_at_once(self, tmp_path: Path) -> None:
        """A hook runs when the step's bar is done: its verbs are not deferred."""
        answers = []
        with create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path) as session:
            session.step_hooks.append(
                lambda s: answers.append(s.request_stop("hook")) if s.steps_done == 7 else None
            )
            session.run_to_end(STEPS)
        assert [a.outcome for a in answers] == [VerbOutcome.APPLIED]
        assert session.steps_done == 7


_SIGTERM_APP = """
import os, signal, sys
from pathlib import Path
from livesession import DryrunConfig, create_run

out, verb, own = Path(sys.argv[1]), sys.argv[2], sys.argv[3] == "own"
if own:  # an application's own handler: left alone (it records, and the run goes on)
    signal.signal(signal.SIGTERM, lambda *_: print("own handler", flush=True))
session = create_run(DryrunConfig(run_id="r", steps=250), out)
times = 2 if sys.argv[3] == "twice" else 1  # "twice": a second SIGTERM right after the first
session.step_hooks.append(
    lambda s: [os.kill(os.getpid(), signal.SIGTERM) for _ in range(times)] if s.steps_done == 40 else None
)
if verb == "run_to_end":
    session.run_to_end(250)
else:
    session.preflight()
    session.activate()
    session.run_n_steps(250)
    session.close()
print("ran on", session.steps_done, session.status.value, flush=True)
"""


def _sigterm_app(
    tmp_path: Path, verb: str, own: str, *head: str
) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(_SIGTERM_APP, encoding="utf-8")
    return subprocess.run(
        [*head, sys.executable, str(script), str(tmp_path / "runs"), verb, own],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def _sealed_by_sigterm_at_40(tmp_path: Path) -> Path:
    """The app's run, which the SIGTERM stopped and sealed COMPLETED after step 40, verified."""
    run_dir = tmp_path / "runs" / "r"
    status = run_status(run_dir)
    assert (status.verdict, status.reason, status.steps) == (
        Verdict.COMPLETED,
        "SIGNAL_SIGTERM",
        40,
    )
    assert verify_run(run_dir).ok
    return run_dir


@pytest.mark.parametrize("verb", ["run_to_end", "run_n_steps"])
def test_a_sigterm_seals_the_run_before_the_process_ends(tmp_path: Path, verb: str) -> None:
    """SIGTERM's default action killed an embedding application wherever it was and left
    its run unsealed. During ``run_to_end``/``run_n_steps`` the session now stops at the
    step's end, seals, and the process then ends by the signal as it would have."""
    done = _sigterm_app(tmp_path, verb, "default")
    assert done.returncode == -signal.SIGTERM, (done.stdout, done.stderr)
    assert "ran on" not in done.stdout
    run_dir = _sealed_by_sigterm_at_40(tmp_path)
    verdict = _rerun.determinism(run_dir, rerunnable=True, scratch=tmp_path / "scratch")
    assert verdict["status"] == "match", verdict
    assert verdict["operator_actions"] == ["request_stop('SIGNAL_SIGTERM') after step 40"]


def test_an_applications_own_sigterm_handler_is_left_alone(tmp_path: Path) -> None:
    done = _sigterm_app(tmp_path, "run_to_end", "own")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["own handler", "ran on 250 COMPLETED"]


@pytest.mark.parametrize("verb", ["run_to_end", "run_n_steps"])
def test_a_sigterm_ends_an_application_run_as_pid_1_once_its_run_is_sealed(
    tmp_path: Path, verb: str
) -> None:
    """Bug: an application run as a container's first process (no init) had its session
    stopped and sealed by a SIGTERM, then the signal raised again with its default action,
    which the kernel drops for PID 1: ``run_to_end`` returned, the application went on (here
    it printed ``ran on 40 COMPLETED`` and exited 0), and a container's runtime killed it
    later, wherever it was by then. It now ends there too, with the status 143 a shell and
    the runtime show for a SIGTERM."""
    done = _sigterm_app(tmp_path, verb, "default", *as_pid_1())
    assert (done.returncode, done.stdout) == (128 + signal.SIGTERM, ""), done.stderr
    _sealed_by_sigterm_at_40(tmp_path)


@pytest.mark.broken_run("a second SIGTERM ends the process at once: the run is left unsealed")
def test_a_second_sigterm_ends_an_application_run_as_pid_1_at_once(tmp_path: Path) -> None:
    """A second SIGTERM ends the process at once, its run left at its last checkpoint; as
    PID 1 the kernel dropped it (and the first's again), and the application went on."""
    done = _sigterm_app(tmp_path, "run_to_end", "twice", *as_pid_1())
    assert (done.returncode, done.stdout) == (128 + signal.SIGTERM, ""), done.stderr
    assert not verify_run(tmp_path / "runs" / "r").ok  # unsealed: resume finishes it


def test_an_applications_own_sigterm_handler_is_left_alone_as_pid_1(tmp_path: Path) -> None:
    """The application's handler is in place: never ended for it, as PID 1 either."""
    done = _sigterm_app(tmp_path, "run_to_end", "own", *as_pid_1())
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["own handler", "ran on 250 COMPLETED"]


_GONE_PLUGINS = """
import sys
from decimal import Decimal
from pathlib import Path

from livesession import LiveSessionError, MockBroker, SmaCrossover

GONE = Path(__file__).parent / "gone"  # while it exists, bar 5 (before any order) fails


class Gone(MockBroker):
    simulated = True
    bars = 0

    def on_market(self, bar):
        self.bars += 1
        if self.bars == 5 and GONE.exists():
            raise LiveSessionError("the venue's database at db:5432 went away")
        return super().on_market(bar)


def broker():
    return Gone(seed=1, price_tick=Decimal("0.01"), qty_lot=Decimal("0.001"))


class Quits(SmaCrossover):
    bars = 0

    def on_bar(self, bar, view):
        self.bars += 1
        if self.bars == 5 and GONE.exists():
            sys.exit()  # a user's "stop here" while the strategy is written
        return super().on_bar(bar, view)


def strategy(*, strategy_id):
    return Quits(strategy_id=strategy_id, order_qty=Decimal("0.010"))
"""

_NOT_SEALED = {
    "broker": (
        "the venue's database at db:5432 went away: the run is not sealed; once what the line "
        "names is put right"
    ),
    "strategy_factory": (
        "a plug-in raised SystemExit(None) inside a step: the run is not sealed; once it no "
        "longer exits the process"
    ),
}


@pytest.mark.parametrize("plugin", ["broker", "strategy_factory"])
def test_what_no_step_handles_ends_the_cli_run_unsealed_and_resumable(
    tmp_path: Path, plugin: str
) -> None:
    """An error the session cannot handle: the CLI said only the error. A plug-in's
    ``sys.exit()``: the CLI exited 0, which tells a supervisor the run completed. Both left a
    crash, and now say so, and what next, with exit 2."""
    (tmp_path / "gonepkg").mkdir()
    (tmp_path / "gonepkg" / "__init__.py").write_text("")
    (tmp_path / "gonepkg" / "parts.py").write_text(_GONE_PLUGINS)
    (tmp_path / "gonepkg" / "gone").write_text("")
    config = tmp_path / "desk.toml"
    reference = "gonepkg.parts:" + plugin.removesuffix("_factory")
    config.write_text(f'run_id = "g"\nsteps = 250\n{plugin} = "{reference}"\n')
    out = tmp_path / "runs"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "livesession.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    done = cli("dryrun", "--config", str(config), "--out", str(out), "-q")
    assert done.returncode == 2, done.stderr
    run_dir = out / "g"
    assert done.stderr == (
        f"livesession: error: {_NOT_SEALED[plugin]}, `livesession status {run_dir}` says "
        f"whether `livesession resume {run_dir}` can continue it\n"
    )
    assert run_status(run_dir).verdict is Verdict.CRASHED
    (tmp_path / "gonepkg" / "gone").unlink()
    assert cli("resume", str(run_dir), "-q").returncode == 0
    assert verify_run(run_dir).ok


_INTERRUPTING_PLUGINS = """
from decimal import Decimal
from pathlib import Path

from livesession import SmaCrossover

ARMED = Path(__file__).parent / "armed"  # while it exists, the 5th on_bar interrupts


class Interrupts(SmaCrossover):
    calls = 0

    def on_bar(self, bar, view):
        self.calls += 1
        if self.calls == 5 and ARMED.exists():
            raise KeyboardInterrupt  # a user's "stop here" while the strategy is written
        return super().on_bar(bar, view)


def strategy(*, strategy_id):
    return Interrupts(strategy_id=strategy_id, order_qty=Decimal("0.010"))
"""


def test_a_plug_ins_keyboard_interrupt_says_the_cli_run_is_unsealed_and_how_to_resume(
    tmp_path: Path,
) -> None:
    """No Ctrl-C was sent (the CLI's own would stop the run at a step boundary and seal it):
    a strategy raised ``KeyboardInterrupt`` in its 5th ``on_bar``. ``dryrun`` said only
    ``livesession: interrupted`` (``--json``: ``"error": "interrupted"``) and left a crash.
    It still exits 130 (the run is unfinished), and now says that the run is not sealed and
    how to continue it; the command it prints resumes it when pasted."""
    home = tmp_path / "desk x"  # a path the shell would split: the pasted command is quoted
    (home / "kipkg").mkdir(parents=True)
    (home / "kipkg" / "__init__.py").write_text("")
    (home / "kipkg" / "parts.py").write_text(_INTERRUPTING_PLUGINS)
    (home / "kipkg" / "armed").write_text("")
    config = home / "desk.toml"
    config.write_text('steps = 60\nstrategy_factory = "kipkg.parts:strategy"\n')
    out = home / "runs"

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "livesession.cli", *args]
        return subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)

    said = (
        "interrupted: a plug-in raised KeyboardInterrupt inside a step: the run is not "
        "sealed; once it no longer raises it, `livesession status '{run}'` says whether "
        "`livesession resume '{run}'` can continue it"
    )
    done = cli("dryrun", "--config", str(config), "--out", str(out), "--run-id", "k1", "-q")
    assert (done.returncode, done.stdout) == (130, ""), done.stderr
    assert done.stderr == f"livesession: {said.format(run=out / 'k1')}\n"
    as_json = cli("dryrun", "--config", str(config), "--out", str(out), "--run-id", "k2", "--json")
    assert as_json.returncode == 130, as_json.stderr
    error = said.format(run=out / "k2")
    assert orjson.loads(as_json.stdout) == {"ok": False, "exit_code": 130, "error": error}
    assert as_json.stderr == f"livesession: {error}\n"

    (home / "kipkg" / "armed").unlink()
    for run_id in ("k1", "k2"):
        run_dir = out / run_id
        assert run_status(run_dir).verdict is Verdict.CRASHED
        line = said.format(run=run_dir)
        resume = next(c for c in re.findall(r"`([^`]*)`", line) if " resume " in c)
        argv = shlex.split(resume)
        assert argv == ["livesession", "resume", str(run_dir)]
        assert cli(*argv[1:], "-q").returncode == 0
        assert verify_run(run_dir).ok
