"""The determinism re-run takes an operator's verb where the run took it in a wind-down.

A run stopped (SIGTERM, ``request_stop``) is checkpointed STOPPING before its wind-down;
a crash in the wind-down resumes STOPPING, and an operator may then pull the kill switch
before ``close`` finishes the stop. The run is good (``verify`` passes), and its re-run
must stop without winding down, take the kill, and only then wind down: it used to wind
down at once and report a mismatch that blamed the feed and the strategy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from livesession import SessionState, create_run, load_config, resume_run
from livesession._artifacts import names
from livesession._artifacts.runread import read_records
from livesession.evidence import _rerun, write_evidence
from livesession.evidence._operator import (
    OperatorAction,
    actions_in,
    recorded_actions,
    unplaceable,
)
from livesession.verify import verify_run

from _helpers import plug_config

STEPS = 40
STOP_AT = 7

PLUG = """
from decimal import Decimal
from livesession import OrderIntent, OrderType, Side


class Rests:
    '''Buys on bar 1 and leaves two limit orders resting far from the price.'''

    def __init__(self, strategy_id):
        self.strategy_id, self.n = strategy_id, 0

    def on_bar(self, bar, view):
        self.n += 1
        if self.n != 1:
            return []
        low, high = bar.close * Decimal("0.97"), bar.close * Decimal("1.03")
        return [
            OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.01")),
            OrderIntent(
                symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.001"),
                order_type=OrderType.LIMIT, limit_price=low.quantize(Decimal("0.01")),
            ),
            OrderIntent(
                symbol=bar.symbol, side=Side.SELL, quantity=Decimal("0.002"),
                order_type=OrderType.LIMIT, limit_price=high.quantize(Decimal("0.01")),
            ),
        ]

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):
        self.n = state["n"]


def rests(*, strategy_id):
    return Rests(strategy_id)


MADE = []


class Counts(Rests):
    '''Not deterministic: its entry's size is the strategies made before it in the process.'''

    def on_bar(self, bar, view):
        intents = super().on_bar(bar, view)
        if intents:
            intents[0] = OrderIntent(
                symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.01") * len(MADE)
            )
        return intents


def counts(*, strategy_id):
    MADE.append(strategy_id)
    return Counts(strategy_id)
"""

STOPPED_IN_A_CRASH = """
import sys
from pathlib import Path
from livesession import create_run, load_config

cfg = load_config(Path(sys.argv[1]), {"run_id": sys.argv[3]})
session = create_run(cfg, Path(sys.argv[2]))
assert session.preflight()
session.activate()
session.run_n_steps(int(sys.argv[4]))
session.request_stop("SIGNAL_SIGTERM", sealed_as=True)
raise SystemExit("the crash point in the wind-down was not reached")
"""


@pytest.fixture(name="resting_config", scope="module")
def _resting_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One plug-in package for the module: a process imports a package from one place."""
    return plug_config(
        tmp_path_factory.mktemp("plugs"),
        "restplug",
        {"parts.py": textwrap.dedent(PLUG)},
        f'strategy_id = "rests"\nsteps = {STEPS}\ndurability = "none"\n'
        'strategy_factory = "restplug.parts:rests"\n',
        "rests.toml",
    )


def _crashed_in_the_wind_down(config: Path, out: Path, run_id: str) -> Path:
    """A run stopped after ``STOP_AT`` steps whose process died in the stop's wind-down."""
    env = os.environ | {
        "LIVESESSION_CRASH_AT": "after_flatten",
        "PYTHONPATH": os.pathsep.join(sys.path),  # the test put the plug-ins' folder there
    }
    done = subprocess.run(
        [sys.executable, "-c", STOPPED_IN_A_CRASH, str(config), str(out), run_id, str(STOP_AT)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    return out / run_id


def _determinism(run_dir: Path, tmp_path: Path) -> dict[str, object]:
    scratch = tmp_path / "replay"
    scratch.mkdir(parents=True)
    return _rerun.determinism(run_dir, rerunnable=True, scratch=scratch)


def test_a_kill_in_a_resumed_stop_s_wind_down_re_runs_to_the_same_bytes(
    tmp_path: Path, resting_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.syspath_prepend(str(resting_config.parent))
    run_dir = _crashed_in_the_wind_down(resting_config, tmp_path / "runs", "sc1")
    with resume_run(run_dir) as session:
        assert (session.state, session.steps_done) == (SessionState.STOPPING, STOP_AT)
        assert session.kill("op-stopping")
    assert verify_run(run_dir).ok
    kinds = [e["event_type"] for e in read_records(run_dir / names.EVENTS)]
    stopping = kinds.index("KILL_SWITCH") - 1
    assert kinds[stopping] == "STATE_CHANGED"  # the kill came before any wind-down event
    assert kinds.count("ORDER_CANCELED") == 2
    assert [a.describe() for a in recorded_actions(run_dir / names.EVENTS)] == [
        f"request_stop('SIGNAL_SIGTERM') after step {STOP_AT}",
        f"kill('op-stopping') after step {STOP_AT}",
    ]
    verdict = _determinism(run_dir, tmp_path)
    assert verdict["status"] == "match", verdict
    # The bundle (its re-run in a process of its own) says VERIFIED of the good run.
    result = write_evidence(run_dir)
    assert result.ok, result.problems
    assert "- `kill('op-stopping') after step 7`" in result.document.read_text(encoding="utf-8")


def test_a_strategy_that_does_not_repeat_still_mismatches_with_such_a_kill(
    tmp_path: Path, resting_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Holding the stop for the kill hides nothing: the plug-in's own difference is named."""
    monkeypatch.syspath_prepend(str(resting_config.parent))
    config = tmp_path / "counts.toml"
    config.write_text(resting_config.read_text().replace("parts:rests", "parts:counts"))
    run_dir = _crashed_in_the_wind_down(config, tmp_path / "runs", "counted")
    with resume_run(run_dir) as session:
        assert session.kill("op-stopping")
    assert verify_run(run_dir).ok
    verdict = _determinism(run_dir, tmp_path)
    assert verdict["status"] == "MISMATCH", verdict
    assert "SIGNAL" in str(verdict["first_difference"]), verdict


def _event(kind: str, **body: object) -> dict[str, object]:
    return {"event_type": kind, "payload": body}


def _stopping(trigger: str = "request_stop") -> dict[str, object]:
    return _event(
        "STATE_CHANGED",
        from_state="DRYRUN_ACTIVE",
        to_state="STOPPING",
        trigger=trigger,
        reason="desk",
    )


_ACTIVATED = _event("STATE_CHANGED", from_state="PREFLIGHT_OK", trigger="activate")
_KILL = _event("KILL_SWITCH", reason="late")
_STOPPED = _event("STATE_CHANGED", from_state="STOPPING", to_state="STOPPED", trigger="stopped")


def test_a_kill_right_after_the_stop_holds_the_stop_for_it() -> None:
    stop, kill = actions_in([_ACTIVATED, _event("BAR"), _stopping(), _KILL, _STOPPED])
    assert (stop.verb, stop.winds_down, kill.placeable) == ("request_stop", False, True)
    assert unplaceable((stop, kill)) == ""


def test_a_kill_after_the_wind_down_recorded_events_is_said_unplaceable() -> None:
    """The wind-down had cancelled an order when the kill came: no re-run takes it there,
    and the verdict says so instead of blaming the plug-ins."""
    canceled = _event("ORDER_CANCELED", client_order_id="x")
    stop, kill = actions_in([_ACTIVATED, _event("BAR"), _stopping(), canceled, _KILL, _STOPPED])
    assert (stop.winds_down, kill.placeable) == (True, False)
    why = unplaceable((stop, kill))
    assert "called kill('late') after step 1 while a stop's wind-down was under way" in why
    assert "says nothing against the run or its plug-ins" in why


def test_a_kill_in_a_wind_down_the_session_began_itself_is_said_unplaceable() -> None:
    """The feed ran out (the pipeline's own stop): there is no operator's stop to hold."""
    ran_out = _event(
        "STATE_CHANGED",
        from_state="DRYRUN_ACTIVE",
        to_state="STOPPING",
        trigger="request_stop",
        reason="FEED_EXHAUSTED",
    )
    (kill,) = actions_in([_ACTIVATED, _event("BAR"), ran_out, _KILL, _STOPPED])
    assert not kill.placeable
    assert "kill('late') after step 1" in unplaceable((kill,))


def test_a_kill_after_the_wind_down_ended_is_taken_as_before() -> None:
    stop, kill = actions_in([_ACTIVATED, _stopping(), _STOPPED, _KILL])
    assert (stop.winds_down, kill.placeable) == (True, True)


def test_the_verdict_of_a_run_with_an_unplaceable_verb_blames_no_plug_in(
    tmp_path: Path, resting_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-run is not made, and its verdict names the verb (not a MISMATCH)."""
    monkeypatch.syspath_prepend(str(resting_config.parent))
    cfg = load_config(resting_config, {"run_id": "late"})
    with create_run(cfg, tmp_path / "runs") as session:
        session.run_to_end(STEPS)
    run_dir = tmp_path / "runs" / "late"
    late = OperatorAction(STEPS, "kill", "desk", placeable=False)
    monkeypatch.setattr(_rerun, "recorded_actions", lambda _events: (late,))
    verdict = _determinism(run_dir, tmp_path)
    assert verdict["status"] == "not_applicable", verdict
    assert verdict["reason"] == unplaceable((late,))
    # Not "The re-run took the operator's actions where the run took them": it took none.
    assert "operator_actions" not in verdict
