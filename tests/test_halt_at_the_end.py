"""A halt at (or one step short of) a run's end, said plainly in its evidence and burn-in."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, buy, halted_run
from livesession import DryrunConfig, create_run
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path

_KILL = "an operator's kill (KILL_SWITCH reason operator)"


def _killed(out: Path, before: int, after: int) -> Path:
    """A 60-step run killed after ``before`` steps, which then takes ``after`` more."""
    with create_run(DryrunConfig(run_id="h", steps=60), out) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(before)
        session.kill("operator")
        if after:
            session.run_n_steps(after)
    return out / "h"


def _evidence_says(tmp_path: Path, run_dir: Path, note: str, run_line: str) -> str:
    """The evidence of ``run_dir``: its burn-in ``note`` and ``run_line``; its document."""
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run_dir), "--out", str(bundle)]) == 0
    manifest = json.loads((bundle / "manifest.json").read_bytes())
    assert manifest["burnin"]["notes"] == [note]
    assert run_line in manifest["run_ended"]["said"]
    (document,) = bundle.glob("EV-*.md")
    return document.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("before", "case"),
    [
        (
            60,
            (
                "after the run's last step (60 of 60), so no step went without a new order",
                "trading HALTED after the run's last step; sealed",
            ),
        ),
        (
            59,
            (
                "for the run's last step only (step 60 of 60 went without a new order)",
                "trading HALTED to the end: no new order from then on; sealed",
            ),
        ),
        (
            57,
            (
                "from step 57 to the end of the run (3 of its 60 steps without a new order)",
                "trading HALTED to the end: no new order from then on; sealed",
            ),
        ),
    ],
)
def test_a_halt_at_the_end_of_the_run_reads_plainly(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    before: int,
    case: tuple[str, str],
) -> None:
    """Bug: a kill after a run's last step read ``trading HALTED from step 60 to the end of
    the run (0 of its 60 steps without a new order)`` in the burn-in's note (and the
    evidence, which quotes it), and ``trading HALTED to the end: no new order from then
    on`` on the run line: true, but it took thought to see the halt cost no step. Now
    ``after the run's last step (60 of 60), so no step went without a new order``, and
    one step short of the end ``for the run's last step only``; earlier, as before."""
    said, run_line = case
    after = 60 - before
    run_dir = _killed(tmp_path / "runs", before, after)
    text = _evidence_says(tmp_path, run_dir, f"trading HALTED {said}: {_KILL}", run_line)
    assert "0 of its 60 steps" not in text
    if after <= 1:
        assert f"- Trading **HALTED** {said}: an operator's kill (`KILL_SWITCH`" in text
    capsys.readouterr()
    main(["burnin", str(run_dir), "--out", str(tmp_path / "burnin")])
    assert f"note         trading HALTED {said}: {_KILL}" in capsys.readouterr().out


_CAP = "the daily-loss cap pulled the kill switch (KILL_SWITCH reason DAILY_LOSS)"


@pytest.mark.parametrize(
    ("steps", "said", "run_line"),
    [
        (
            3,
            "for the run's last step only (step 3 of 3 went without a new order)",
            "trading HALTED to the end: no new order from then on; sealed",
        ),
        (
            6,
            "from step 3 to the end of the run (4 of its 6 steps without a new order)",
            "trading HALTED to the end: no new order from then on; sealed",
        ),
    ],
)
def test_a_daily_loss_kill_costs_the_step_whose_bar_pulled_it(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    steps: int,
    said: str,
    run_line: str,
) -> None:
    """Bug: the daily-loss cap pulls the kill switch at a step's bar, before the strategy is
    asked for that step, yet a cap reached on the last bar read ``after the run's last step
    (3 of 3), so no step went without a new order`` (the run line: ``trading HALTED after
    the run's last step``), and one reached earlier counted a step too few (``3 of its 6
    steps``): the step whose bar reached the cap went without a new order too."""
    risk = {"per_trade_risk_pct": "0.01", "max_order_notional": "60000"}
    cfg = DryrunConfig(run_id="cap", strategy_id="scripted", steps=steps, risk=risk)
    asked: list[int] = []

    def buys_then_asks(n: int, _bar: object, _view: object) -> list[object]:
        asked.append(n)
        return [buy("1")] if n == 1 else []

    feed = ScriptedFeed(["40000.00", "40000.00", "39000.00"])
    run_dir = halted_run(cfg, tmp_path / "runs", feed, ScriptedStrategy(buys_then_asks))
    assert asked == [1, 2]  # bar 3 reached the cap: the strategy was not asked for step 3

    text = _evidence_says(tmp_path, run_dir, f"trading HALTED {said}: {_CAP}", run_line)
    assert "so no step went without a new order" not in text
    capsys.readouterr()
    main(["burnin", str(run_dir), "--out", str(tmp_path / "burnin")])
    assert f"note         trading HALTED {said}: {_CAP}" in capsys.readouterr().out


_LOST = (
    "the venue dropped the protective exit of a held position, which pulled the kill switch "
    "(KILL_SWITCH reason PROTECTION_LOST)"
)


def test_a_kill_at_a_step_s_reports_costs_that_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a protective exit the venue rejected reached the session at step 58's reports,
    before its strategy was asked, and pulled the kill switch there (no SIGNAL in step 58);
    the burn-in note said ``from step 58 to the end of the run (12 of its 70 steps without
    a new order)``: step 58 went without a new order too, as a daily-loss cap's bar does.
    It now says 13, and the evidence's run line ``pulled the kill switch at step 58, before
    its strategy's turn``, not ``after step 58``. A halt that comes after a SIGNAL of its
    step (the throttle refusing it, a send that failed) costs that step nothing, as before."""
    cfg = DryrunConfig.from_mapping(
        {
            "run_id": "protect",
            "steps": 70,
            "strategy": {"protect_pct": "0.002"},
            "fill_model": {
                "partial_fill_ratio": "0.3",
                "reject_rate": "0.1",
                "slippage_bps": "3",
                "latency_ms": 1500,
            },
        }
    )
    with create_run(cfg, tmp_path / "runs") as session:
        assert session.preflight()
        session.activate()
        session.run_to_end(70)
    run_dir = tmp_path / "runs" / "protect"
    said = "from step 58 to the end of the run (13 of its 70 steps without a new order)"
    run_line = (
        "pulled the kill switch at step 58, before its strategy's turn (KILL_SWITCH reason "
        "PROTECTION_LOST); trading HALTED to the end"
    )
    _evidence_says(tmp_path, run_dir, f"trading HALTED {said}: {_LOST}", run_line)
    capsys.readouterr()
    main(["burnin", str(run_dir), "--out", str(tmp_path / "burnin")])
    assert f"note         trading HALTED {said}: {_LOST}" in capsys.readouterr().out


def test_a_halt_after_its_step_s_signal_leaves_that_step_its_turn() -> None:
    """The step's SIGNAL came first: its strategy was asked before the halt."""
    from livesession._rundir.halts import last_turn, trading_halts

    bar = {"event_type": "BAR", "payload": {}}
    signal = {"event_type": "SIGNAL", "payload": {}}
    throttle = {
        "event_type": "TRADING_STATE_CHANGED",
        "payload": {"to": "HALTED", "reason": "EXECUTION_THROTTLE"},
    }
    crossed = {"event_type": "KILL_SWITCH", "payload": {"reason": "REDUCE_ONLY_CROSSED"}}
    operator = {"event_type": "KILL_SWITCH", "payload": {"reason": "SIGNAL_SIGUSR1"}}
    for events, turned in (
        ([bar, bar, signal, throttle], 2),
        ([bar, signal, bar, signal, crossed], 2),
        ([bar, signal, bar, crossed], 1),  # at step 2's reports, before its strategy
        ([bar, bar, operator], 2),  # between steps: step 2 had its turn
    ):
        (halt,) = trading_halts(events)
        assert (halt["from_step"], last_turn(halt)) == (2, turned), events
