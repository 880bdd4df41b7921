"""A signal handler of the user's that raises where its signal lands (a strategy's time limit).

People bound a slow strategy with a timer whose handler raises (``signal.setitimer`` and a
handler raising ``TimeoutError``; celery's soft time limit and pytest-timeout's signal
method work so). Python runs the handler wherever the main thread is when the signal
comes: often in the session's own work after ``on_bar``. There the exception was taken for
something else: written into an event, a ``TimeoutError`` (an ``OSError``) was the sink's
failure (``the events sink failed ... once the file system has room again``), and a sink
retry could write the line twice; in the step's own code it was ``UNEXPECTED_ERROR``,
sealed without a wind-down; in the wind-down it let the session seal a run whose book had
taken a fill its events never recorded (``verify``: ``final position 0.000 ... but the fills
add up to 0.010``). Now it tears the session, as a Ctrl-C inside a step does: the
exception goes on to the caller (the CLI says it in one line, naming the handler), and the
run is a crash at its last checkpoint that ``resume`` finishes.
"""

from __future__ import annotations

import signal
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pytest

from livesession import (
    Bar,
    DryrunConfig,
    OrderIntent,
    SessionStatus,
    SmaCrossover,
    StrategyView,
    create_run,
    resume_run,
    verify_run,
)
from livesession._artifacts import names
from livesession._artifacts.sinks import FileLineSink
from livesession.cli import main
from livesession.status import Verdict, run_status

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from livesession import LiveSessionOrchestrator

STEPS = 120


def _too_slow(signum: int, frame: object) -> None:
    raise TimeoutError("too slow")


@pytest.fixture
def time_limit() -> Iterator[None]:
    """The user's time limit: a SIGALRM handler that raises (the test raises the signal itself)."""
    before = signal.signal(signal.SIGALRM, _too_slow)
    try:
        yield
    finally:
        signal.signal(signal.SIGALRM, before)


@pytest.fixture(scope="module")
def unbroken(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    out = tmp_path_factory.mktemp("unbroken")
    with create_run(DryrunConfig(run_id="r", steps=STEPS), out) as session:
        session.run_to_end(STEPS)
    return (out / "r" / names.EVENTS).read_bytes()


def _signal_at_emit(session: LiveSessionOrchestrator, n: int, *, event_type: str = "") -> None:
    """Raise SIGALRM as the session records its ``n``-th event (of ``event_type``, if given).

    The handler runs there, in the session's own work, as a timer's would.
    """
    recorder = session.recorder
    emit = recorder.emit
    count = 0

    def landed(*args: Any, **kwargs: Any) -> Any:
        nonlocal count
        if not event_type or args[0] == event_type:
            count += 1
        if count == n:
            recorder.emit = emit  # type: ignore[method-assign]
            signal.raise_signal(signal.SIGALRM)
        return emit(*args, **kwargs)

    recorder.emit = landed  # type: ignore[method-assign]


def _resumed_to_the_end(run_dir: Path, unbroken: bytes) -> None:
    status = run_status(run_dir)
    assert (status.verdict, status.resumable) == (Verdict.CRASHED, True), status
    with resume_run(run_dir) as resumed:
        resumed.run_to_end(STEPS)
    assert verify_run(run_dir).ok
    assert (run_dir / names.EVENTS).read_bytes() == unbroken


# Events 10 on are bars; 35 to 40 hold the first order (SIGNAL ... POSITION_CHANGED).
@pytest.mark.parametrize("n", [10, 35, 36, 37, 38, 39, 40, 100])
@pytest.mark.usefixtures("time_limit")
def test_a_handler_raising_inside_a_step_tears_it_and_resume_finishes_the_run(
    tmp_path: Path, unbroken: bytes, n: int
) -> None:
    """It was ``UNEXPECTED_ERROR``, sealed FAILED in ERROR_REQUIRES_OPERATOR without a
    wind-down, and nothing reached the caller: the user's own time limit read as a bug."""
    session = create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path)
    _signal_at_emit(session, n)
    with pytest.raises(TimeoutError, match="too slow"), session:
        session.run_to_end(STEPS)
    assert session.status is SessionStatus.RUNNING
    assert "interrupted by TimeoutError" in session.result().torn
    _resumed_to_the_end(tmp_path / "r", unbroken)


@pytest.mark.usefixtures("time_limit")
def test_a_handler_raising_in_the_wind_down_leaves_no_run_sealed_flat_while_open(
    tmp_path: Path, unbroken: bytes
) -> None:
    """The stop's flatten had filled in the book when the handler raised, before its
    ``ORDER_FILLED`` was recorded: ``close()`` went on and sealed the run COMPLETED, flat,
    and ``verify`` found the fills adding up to a position the run said it had not."""
    session = create_run(DryrunConfig(run_id="r", steps=STEPS), tmp_path)
    session.preflight()
    session.activate()
    session.run_n_steps(60)
    assert session.book.positions["BTC/USDT"] > 0
    _signal_at_emit(session, 1, event_type="ORDER_FILLED")
    with pytest.raises(TimeoutError, match="too slow"):
        session.close()
    session.close()  # a torn session seals nothing
    assert verify_run(tmp_path / "r").ok is False  # unsealed, not a sealed lie
    status = run_status(tmp_path / "r")
    assert (status.verdict, status.resumable) == (Verdict.CRASHED, True), status
    with resume_run(tmp_path / "r") as resumed:
        resumed.close()
    assert verify_run(tmp_path / "r").ok


@pytest.mark.usefixtures("time_limit")
def test_a_handler_raising_as_an_event_is_written_is_no_sink_failure(
    tmp_path: Path, unbroken: bytes, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A ``TimeoutError`` is an ``OSError``: raised as a line was written, it was the events
    sink's failure, said as a full disk (``once the file system has room again``)."""
    write_line = FileLineSink.write_line
    count = 0

    def landed(self: FileLineSink, line: bytes) -> None:
        nonlocal count
        count += 1
        if count == 40:
            signal.raise_signal(signal.SIGALRM)
        write_line(self, line)

    monkeypatch.setattr(FileLineSink, "write_line", landed)
    run_dir = tmp_path / "r"
    argv = ["dryrun", "--out", str(tmp_path), "--run-id", "r", "--steps", str(STEPS), "-q"]
    assert main(argv) == 2
    handler = f"{__file__}:{_too_slow.__code__.co_firstlineno + 1} in _too_slow"
    assert capsys.readouterr().err == (
        f"livesession: error: a signal handler raised TimeoutError: too slow (at {handler}) "
        f"inside a step: the run is not sealed; once it no longer raises, `livesession status "
        f"{run_dir}` says whether `livesession resume {run_dir}` can continue it\n"
    )
    monkeypatch.setattr(FileLineSink, "write_line", write_line)
    _resumed_to_the_end(run_dir, unbroken)


class _Bounded(SmaCrossover):
    """Bounds its 5th ``on_bar`` with a one-shot timer of ``delay`` seconds, left running."""

    def __init__(self, *, delay: float) -> None:
        super().__init__(strategy_id="sma_demo", order_qty=Decimal("0.010"), fast=2, slow=3)
        self.delay = delay
        self.calls = 0

    def on_bar(self, bar: Bar, view: StrategyView) -> list[OrderIntent]:
        self.calls += 1
        if self.calls == 5 and self.delay:
            signal.setitimer(signal.ITIMER_REAL, self.delay)
            self.delay = 0.0  # once: a resumed run is not timed again
        return list(super().on_bar(bar, view))


@pytest.mark.parametrize("delay", [1e-6, 3e-5, 1e-4, 3e-4, 1e-3])
@pytest.mark.usefixtures("time_limit")
def test_a_timer_wherever_it_lands_ends_the_run_whole_or_resumable(
    tmp_path: Path, delay: float
) -> None:
    """A real timer, so where it lands varies from run to run: in ``on_bar`` it is the
    strategy's error, sealed FAILED; in the session's work after it the run is left
    resumable; it is never the session's own bug, nor a sink's, and never a broken run."""
    strategy = _Bounded(delay=delay)
    config = DryrunConfig(run_id="r", steps=STEPS, checkpoint_every=1)
    session = create_run(config, tmp_path, strategy=strategy)
    try:
        with session:
            result = session.run_to_end(STEPS)
    except TimeoutError:
        result = None
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    run_dir = tmp_path / "r"
    if result is not None:  # it landed in the strategy, or after the run was sealed
        assert (result.status, result.reason) in {
            (SessionStatus.FAILED, "STRATEGY_ERROR"),
            (SessionStatus.COMPLETED, ""),
        }, result
        assert verify_run(run_dir).ok
        return
    status = run_status(run_dir)
    assert (status.verdict, status.resumable) == (Verdict.CRASHED, True), status
    with resume_run(run_dir, strategy=_Bounded(delay=0.0)) as resumed:
        assert resumed.run_to_end(STEPS).status is SessionStatus.COMPLETED
    assert verify_run(run_dir).ok
