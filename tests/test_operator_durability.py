"""An operator's confirmed action survives a crash of the process that applied it.

A kill switch (or a reduce-only, or a re-enable) took effect and was confirmed: the Python
verb returned it applied, or `livesession kill` said "trading HALTED ... flat". The
process then died before its next periodic checkpoint (SIGKILL, power loss), and
`resume` went back to the checkpoint before the action: the action was cut off with the
torn tail and the resumed run traded again. Now the action is checkpointed before it is
confirmed, and the CLI command waits for that checkpoint.

Crashes are deterministic: the process kills itself right after the verb returned, or the
crash harness pauses it (SIGSTOP) inside the checkpoint; waits poll the run's files with a
deadline, nothing sleeps a fixed time.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import SessionState, resume_run
from livesession._artifacts import names
from livesession._risk.governor import TradingState
from livesession._rundir.lock import holder_of
from livesession.cli import EXIT_NO_EFFECT, EXIT_NOT_HELD, EXIT_OK, main
from livesession.verify import verify_run

from _helpers import until

_DEADLINE_S = 60.0
_LONG = "1000000"  # far more steps than any test waits for: the run ends only when told

# The verb is applied at step 13 (the reenable at step 12, after a kill at step 3); the
# periodic checkpoint of step 10 holds the trading state from before it.
_CRASH_AFTER_THE_VERB = """
import os, signal, sys
from pathlib import Path
from livesession import DryrunConfig, create_run

verb = sys.argv[2]
cfg = DryrunConfig(run_id="crash", steps=200, checkpoint_every=10, durability="none")
session = create_run(cfg, Path(sys.argv[1]))
assert session.preflight()
session.activate()
if verb == "reenable_trading":
    session.run_n_steps(3)
    assert session.kill("desk")
    session.run_n_steps(9)
    result = session.reenable_trading("desk")
elif verb == "kill_from_a_step_hook":
    session.step_hooks.append(lambda s: s.kill("hook") if s.steps_done == 13 else None)
    session.run_n_steps(13)
    result = None
else:
    session.run_n_steps(13)
    result = getattr(session, verb)("desk")
assert result is None or result.applied, result
os.kill(os.getpid(), signal.SIGKILL)  # confirmed: the crash must not undo it
"""


@pytest.mark.parametrize(
    ("verb", "steps", "trading"),
    [
        ("kill", 13, TradingState.HALTED),
        ("reduce_only", 13, TradingState.REDUCING),
        ("reenable_trading", 12, TradingState.ACTIVE),
        ("kill_from_a_step_hook", 13, TradingState.HALTED),
    ],
)
def test_a_verb_that_returned_applied_survives_a_crash(
    tmp_path: Path, verb: str, steps: int, trading: TradingState
) -> None:
    """The resumed run goes on from the verb, not from the checkpoint before it (step 10)."""
    done = subprocess.run(
        [sys.executable, "-c", _CRASH_AFTER_THE_VERB, str(tmp_path), verb],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    run_dir = tmp_path / "crash"
    with resume_run(run_dir) as session:
        assert (session.steps_done, session.trading_state) == (steps, trading)
        session.run_n_steps(5)
        assert session.trading_state is trading
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


# -- the CLI: `livesession kill` on a live run --------------------------------------------

# A strategy that sends an order on every bar it can (buy when flat, sell back when long),
# and one that never trades (its book is always flat: a kill is flat at once).
_TOGGLE = """
from decimal import Decimal
from livesession import OrderIntent, Side


class Toggle:
    def __init__(self, *, strategy_id, quiet=False):
        self.strategy_id = strategy_id
        self.quiet = quiet

    def on_bar(self, bar, view):
        if self.quiet or view.has_open_orders(bar.symbol):
            return []
        held = view.position(bar.symbol)
        if held == 0:
            return [OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.010"))]
        return [OrderIntent(symbol=bar.symbol, side=Side.SELL, quantity=held)]

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def make(*, strategy_id):
    return Toggle(strategy_id=strategy_id)


def quiet(*, strategy_id):
    return Toggle(strategy_id=strategy_id, quiet=True)


class Once:
    def __init__(self, *, strategy_id):
        self.strategy_id = strategy_id
        self.sent = False

    def on_bar(self, bar, view):
        if self.sent:
            return []
        self.sent = True
        return [OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.010"))]

    def get_state(self):
        return {"sent": self.sent}

    def set_state(self, state):
        self.sent = state["sent"]


def once(*, strategy_id):
    return Once(strategy_id=strategy_id)
"""


def _config(tmp_path: Path, factory: str) -> Path:
    """A config whose only checkpoints are the activation's and the seal's.

    The strategy's module is named after the test: a resume in this process imports it, and
    a module of one name comes from one file per process.
    """
    module = tmp_path.name
    (tmp_path / f"{module}.py").write_text(_TOGGLE)
    config = tmp_path / "desk.toml"
    config.write_text(f'checkpoint_every = {_LONG}\nstrategy_factory = "{module}:{factory}"\n')
    return config


@contextlib.contextmanager
def _live(tmp_path: Path, factory: str, **env: str) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A long CLI dry run, stepping; killed on the way out if the test left it running."""
    args = ["dryrun", "-c", str(_config(tmp_path, factory)), "--out", str(tmp_path / "runs")]
    args += ["--run-id", "live", "--steps", _LONG, "-q"]
    run_dir = tmp_path / "runs" / "live"
    with subprocess.Popen(
        [sys.executable, "-m", "livesession.cli", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ | env,
    ) as proc:
        try:
            until("the run to step", lambda: _bars(run_dir) >= 20, proc, deadline_s=_DEADLINE_S)
            yield proc, run_dir
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a paused process ends too
                proc.kill()
                proc.wait(timeout=10)


def _events(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    try:
        raw = (run_dir / names.EVENTS).read_bytes()
    except OSError:
        return []
    # A live writer's last line may be half written as we read: whole lines only.
    lines = raw.split(b"\n")[:-1]
    return [e for e in map(orjson.loads, lines) if e["event_type"] == event_type]


def _bars(run_dir: Path) -> int:
    return 0 if holder_of(run_dir) is None else len(_events(run_dir, "BAR"))


def _trading_checkpointed(run_dir: Path) -> str | None:
    checkpoint = orjson.loads((run_dir / names.CHECKPOINT).read_bytes())
    trading: str | None = checkpoint.get("trading")
    return trading


def test_a_confirmed_kill_survives_a_crash_and_the_resumed_run_does_not_trade(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The risk manager's probe: kill confirmed, the writer SIGKILLed, `resume`. The resumed
    run went back to the activation's checkpoint and traded ACTIVE to its end, the
    KILL_SWITCH events only in events.jsonl.torn. (It may resume from the checkpoint taken
    at the kill's trip, and then finishes the kill's own flatten: that is no trading; the
    next test holds the window open.)"""
    with _live(tmp_path, "make") as (proc, run_dir):
        until(
            "an order",
            lambda: bool(_events(run_dir, "ORDER_SUBMITTED")),
            proc,
            deadline_s=_DEADLINE_S,
        )
        assert main(["kill", str(run_dir)]) == EXIT_OK
        assert "trading HALTED" in capsys.readouterr().out
        proc.kill()
        proc.wait(timeout=10)
    assert _trading_checkpointed(run_dir) == "HALTED"
    with resume_run(run_dir) as session:
        assert session.trading_state is TradingState.HALTED
        sent = len(_events(run_dir, "ORDER_SUBMITTED"))
        session.run_n_steps(30)
        assert session.trading_state is TradingState.HALTED
        session.recorder.flush(sync=False)
        after = _events(run_dir, "ORDER_SUBMITTED")[sent:]
        assert [e["payload"]["reason"] for e in after] in ([], ["flatten"]), "it traded"
    [kill] = _events(run_dir, "KILL_SWITCH")
    assert kill["payload"]["reason"] == "SIGNAL_SIGUSR1"
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


def test_a_kill_confirmed_before_its_last_checkpoint_resumes_to_the_same_flatten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writer is paused in the kill's last checkpoint (hit 3, after its flat; hit 2, at
    its trip, holds the kill), `kill` confirms (trading HALTED, flat), then the writer is
    SIGKILLed. The resume starts from the trip's checkpoint, HALTED and still flattening:
    it sends the kill's flatten as the writer did, the same order (its client order id is
    the one in events.jsonl.torn), once, and nothing else; the run verifies."""
    with _live(tmp_path, "once", LIVESESSION_PAUSE_AT="checkpoint:3") as (proc, run_dir):
        assert main(["kill", str(run_dir)]) == EXIT_OK
        # It said `0 cancelled, flat`, as of a book that held nothing: it names what it sold.
        said = "0 cancelled, flattened SELL 0.010 BTC/USDT, flat (KILL_SWITCH_FLAT)"
        assert said in capsys.readouterr().out
        proc.send_signal(signal.SIGCONT)
        proc.kill()
        proc.wait(timeout=_DEADLINE_S)
    with resume_run(run_dir) as session:
        assert session.trading_state is TradingState.HALTED
        sent = len(_events(run_dir, "ORDER_SUBMITTED"))
        session.run_n_steps(10)
        session.recorder.flush(sync=False)
        assert not any(session.book.positions.values())
    after = _events(run_dir, "ORDER_SUBMITTED")[sent:]
    assert [e["payload"]["reason"] for e in after] == ["flatten"]
    torn = [
        e["payload"]["client_order_id"]
        for e in map(orjson.loads, (run_dir / f"{names.EVENTS}.torn").read_bytes().splitlines())
        if e["event_type"] == "ORDER_SUBMITTED"
    ]
    assert [e["payload"]["client_order_id"] for e in after] == torn
    assert len(_events(run_dir, "KILL_SWITCH")) == 1
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


def test_kill_is_confirmed_only_once_a_checkpoint_holds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writer is paused inside the kill's checkpoint (hit 2, between the kill's trip and
    what it sends; the activation's is hit 1), its events already flushed: KILL_SWITCH is in
    events.jsonl, but a crash now would resume without it. `kill` said "trading HALTED" on
    the events alone; now it waits for the checkpoint, and says what it still lacks when it
    times out. (Before the kill was checkpointed at its trip, its one checkpoint came after
    KILL_SWITCH_FLAT, and the old command confirmed on the two events.)"""
    with _live(tmp_path, "quiet", LIVESESSION_PAUSE_AT="checkpoint:2") as (proc, run_dir):
        assert main(["kill", str(run_dir), "--timeout", "2"]) == EXIT_NO_EFFECT
        err = capsys.readouterr().err
        lacks = "but not flat yet and no checkpoint holds it yet (a crash now would undo it)"
        assert f"the kill switch tripped, {lacks}" in err, err
        assert _events(run_dir, "KILL_SWITCH")
        assert _trading_checkpointed(run_dir) == "ACTIVE"
        proc.send_signal(signal.SIGCONT)
        until(
            "the kill's checkpoint",
            lambda: _trading_checkpointed(run_dir) == "HALTED",
            proc,
            deadline_s=_DEADLINE_S,
        )
        assert main(["stop", str(run_dir)]) == EXIT_OK
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK


def test_a_kill_of_a_flat_book_says_flat_and_nothing_flattened(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A strategy that never trades: the kill had nothing to close, and says only flat."""
    with _live(tmp_path, "quiet") as (proc, run_dir):
        assert main(["kill", str(run_dir)]) == EXIT_OK
        out = capsys.readouterr().out
        assert "trading HALTED, 0 open order(s) at the kill, 0 cancelled, flat (KILL" in out
        assert main(["stop", str(run_dir)]) == EXIT_OK
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK


def test_ack_is_confirmed_only_once_a_checkpoint_holds_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Likewise the re-enable `ack` sends: paused inside its checkpoint (hit 3, after the
    activation's and the kill's two), `ack` said "trading re-enabled" on TRADING_REENABLED
    alone."""
    with _live(tmp_path, "quiet", LIVESESSION_PAUSE_AT="checkpoint:4") as (proc, run_dir):
        assert main(["kill", str(run_dir)]) == EXIT_OK
        assert _trading_checkpointed(run_dir) == "HALTED"
        assert main(["ack", str(run_dir), "--timeout", "2"]) == EXIT_NO_EFFECT
        err = capsys.readouterr().err
        assert "TRADING_REENABLED was recorded, but no checkpoint holds it yet" in err, err
        proc.send_signal(signal.SIGCONT)
        until(
            "the ack's checkpoint",
            lambda: _trading_checkpointed(run_dir) == "ACTIVE",
            proc,
            deadline_s=_DEADLINE_S,
        )
        assert main(["stop", str(run_dir)]) == EXIT_OK
        assert proc.wait(timeout=_DEADLINE_S) == EXIT_OK


def test_a_kill_the_crash_took_before_its_checkpoint_is_not_confirmed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writer dies in the kill's checkpoint, its KILL_SWITCH already in events.jsonl
    (KILL_SWITCH_FLAT too, when the kill's one checkpoint came after its flat): `kill` said "trading HALTED ... flat" (exit 0) for a kill the resumed run
    does not have. Now it says so and what to do (exit 8: the run is unfinished), and
    resume bears it out."""
    with _live(tmp_path, "quiet", LIVESESSION_CRASH_AT="checkpoint:2") as (proc, run_dir):
        assert main(["kill", str(run_dir)]) == EXIT_NOT_HELD
        assert proc.wait(timeout=_DEADLINE_S) == -signal.SIGKILL
    err = capsys.readouterr().err
    assert "ended before a checkpoint held the kill switch (KILL_SWITCH), so the run " in err
    assert f"`livesession resume {run_dir}`, then `livesession kill {run_dir}` again" in err
    with resume_run(run_dir) as session:
        assert session.trading_state is TradingState.ACTIVE
        assert not _events(run_dir, "KILL_SWITCH")


def test_a_kill_the_crash_took_while_it_flattened_resumes_halted_and_flattens(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writer dies inside the kill, sending its flatten (the run's second order). The
    kill's only checkpoint came after its sends, so KILL_SWITCH had not reached events.jsonl:
    the resumed run traded on ACTIVE, the kill gone. A kill is now checkpointed between its
    trip and what it sends, as a stop is: `kill` says a checkpoint holds it, and the resume
    is HALTED, flattens and sends nothing new."""
    with _live(tmp_path, "once", LIVESESSION_CRASH_AT="before_send:2") as (proc, run_dir):
        assert main(["kill", str(run_dir)]) == EXIT_NOT_HELD
        assert proc.wait(timeout=_DEADLINE_S) == -signal.SIGKILL
    err = capsys.readouterr().err
    assert "not flat when it ended, unsealed: a checkpoint holds the kill, so it resumes " in err
    assert _trading_checkpointed(run_dir) == "HALTED"
    with resume_run(run_dir) as session:
        assert session.trading_state is TradingState.HALTED
        session.run_n_steps(5)
        assert session.trading_state is TradingState.HALTED
        session.recorder.flush(sync=False)
    sides = [e["payload"]["side"] for e in _events(run_dir, "ORDER_SUBMITTED")]
    assert sides == ["BUY", "SELL"], "the entry, then the kill's flatten once, nothing new"
    assert len(_events(run_dir, "KILL_SWITCH")) == 1
    assert _events(run_dir, "KILL_SWITCH_FLAT")
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


# -- the CLI: `livesession stop` on a live run that dies in the wind-down -------------------


def test_stop_says_resume_finishes_a_stop_a_checkpoint_holds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writer dies in the stop's wind-down (writing its STOPPED snapshot, the 5th),
    after the checkpoint that holds the stop: `stop` said only "continue it with resume",
    and the resume traded on to the end. Now it says the resume finishes the stop, which
    it does: sealed with SIGNAL_SIGTERM, not one bar more."""
    with _live(tmp_path, "make", LIVESESSION_CRASH_AT="write_states:5") as (proc, run_dir):
        assert main(["stop", str(run_dir)]) == EXIT_NOT_HELD
        assert proc.wait(timeout=_DEADLINE_S) == -signal.SIGKILL
    err = capsys.readouterr().err
    assert (
        f"ended without sealing {run_dir}: a checkpoint holds the stop (SIGNAL_SIGTERM): "
        f"`livesession resume {run_dir}` finishes the stop (winds down and seals; it trades "
        "no more)"
    ) in err, err
    bars = len(_events(run_dir, "BAR"))
    with resume_run(run_dir) as session:
        assert session.state is SessionState.STOPPING
    result = session.result()
    assert (result.state, result.reason) == (SessionState.STOPPED, "SIGNAL_SIGTERM")
    assert len(_events(run_dir, "BAR")) == bars, "the resumed run traded"
    [sealed] = _events(run_dir, "SESSION_STOPPED")
    assert sealed["payload"]["reason"] == "SIGNAL_SIGTERM"
    result = verify_run(run_dir)
    assert result.ok, result.render(run_dir)


def test_stop_says_a_stop_the_crash_took_before_its_checkpoint_is_lost(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The writer dies in the stop's own checkpoint (hit 2; the activation's is hit 1), its
    move to STOPPING already in events.jsonl: the resume goes on from the activation's
    checkpoint without the stop, and `stop` says so, with what to do (exit 8)."""
    with _live(tmp_path, "quiet", LIVESESSION_CRASH_AT="checkpoint:2") as (proc, run_dir):
        assert main(["stop", str(run_dir)]) == EXIT_NOT_HELD
        assert proc.wait(timeout=_DEADLINE_S) == -signal.SIGKILL
    err = capsys.readouterr().err
    assert "ended before a checkpoint held the stop (SIGNAL_SIGTERM), so the run resumes " in err
    assert f"`livesession resume {run_dir}`, then `livesession stop {run_dir}` again" in err
    with resume_run(run_dir) as session:
        assert session.state is SessionState.DRYRUN_ACTIVE
