"""What halted a live run's trading, named while it runs as once it is sealed.

Bug: ``livesession status --json`` of a run still running (its lease held) that the kill
switch halted said ``halted_by: ""``, while the same run's status once sealed said
``the kill switch (SIGNAL_SIGUSR1)``; the text line said ``HALTED by the kill switch: ...``
and named the kill's reason only while its ``KILL_SWITCH`` event was still among the last
events read. Both now name the newest kill's reason live too.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, create_run
from livesession.cli import main
from livesession.status import Verdict, run_status


def _status_json(capsys: pytest.CaptureFixture[str], run_dir: Path) -> dict[str, object]:
    main(["status", str(run_dir), "--json"])
    document = json.loads(capsys.readouterr().out)
    assert isinstance(document, dict)
    return document


@pytest.mark.parametrize("durability", ["step", "none"])
def test_a_live_run_an_operator_killed_names_the_kill_as_the_sealed_run_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], durability: str
) -> None:
    cfg = DryrunConfig(run_id="k", steps=40, checkpoint_every=5, durability=durability)
    run_dir = tmp_path / "k"
    with create_run(cfg, tmp_path, lease=True, alerts=False) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(3)
        assert session.kill("SIGNAL_SIGUSR1").applied
        session.run_n_steps(20)  # checkpoints after the kill: its event is before them
        live = _status_json(capsys, run_dir)
        assert (live["verdict"], live["trading"], live["kill_halted"]) == (
            "running",
            "HALTED",
            True,
        )
        lease = live["lease"]
        assert isinstance(lease, dict)
        assert lease["held"]
        assert live["halted_by"] == "the kill switch (SIGNAL_SIGUSR1)"
        [line] = [line for line in run_status(run_dir).lines() if line.startswith("trading")]
        # Held by this test process, an application: `livesession ack` would be refused.
        assert line.startswith(
            "trading     HALTED by the kill switch (SIGNAL_SIGUSR1): new orders refused "
            "(`livesession ack` signals only `livesession dryrun` and `resume`: in "
        ), line
        assert ", which holds the run, the session's reenable_trading() re-enables trading)" in (
            line
        )
        session.run_to_end(40)
    sealed = run_status(run_dir)
    assert sealed.verdict is Verdict.COMPLETED
    assert sealed.halted_by == live["halted_by"]


def test_a_live_run_the_daily_loss_cap_killed_names_the_cap(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = DryrunConfig(
        run_id="cap",
        strategy_id="scripted",
        steps=6,
        checkpoint_every=500,
        durability="none",
        risk={"per_trade_risk_pct": "0.01", "max_order_notional": "60000"},
    )
    feed = ScriptedFeed(["40000.00", "40000.00", "39000.00"])
    strategy = ScriptedStrategy(at({1: [buy("1.000")]}))
    with create_run(cfg, tmp_path, feed=feed, strategy=strategy, alerts=False) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(3)
        live = _status_json(capsys, tmp_path / "cap")
        assert (live["kill_halted"], live["halted_by"]) == (True, "the kill switch (DAILY_LOSS)")
        session.run_to_end(6)
