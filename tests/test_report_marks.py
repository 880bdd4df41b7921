"""Every event the report's footer promises a mark for has one: counted against the events.

The footer says "every reject, rail block, kill, resume and operator event keeps its own
mark", and docs/report.md that marks are never dropped, "so the counts add up to the
events". A send that failed (``ORDER_REJECTED`` reason ``SEND_FAILED``) follows no
``ORDER_SUBMITTED`` and names no symbol: its mark was looked up under the symbol "" and
silently skipped, while the tables counted the reject.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig
from livesession.evidence._operator import recorded_actions
from livesession.report import render_report

from _helpers import KILLED_THEN_LIFTED, steered_run
from _reviewrun import build_review_run

#: The flagged events, as the run records them (the audit's C2_RESUME apart).
_FLAGGED = frozenset(
    {
        "KILL_SWITCH",
        "KILL_SWITCH_FLAT",
        "OPERATOR_ACK",
        "TRADING_REENABLED",
        "TRADING_STATE_CHANGED",
        "RECONCILE_ESCALATED",
        "BROKER_UNHEALTHY",
        "STRATEGY_ERROR",
        "FEED_ERROR",
        "SINK_WRITE_FAILED",
    }
)


def _failed_sends(out: Path) -> Path:
    """300 steps on the realish venue with most sends failing, and a rail that blocks the
    demo strategy above 42,100. The fifth failure in a row halts trading
    (``BROKER_UNHEALTHY``) with a signal's order unsent; an operator re-enables trading,
    sets it REDUCING, then pulls the kill switch, whose first flatten order fails to be
    sent (it links no signal). About a fifth of a second."""
    cfg = DryrunConfig(
        run_id="sends",
        seed=5,
        steps=300,
        broker="realish",
        realish={"transient_rate": "0.9"},
        durability="none",
        risk={"max_order_notional": "421"},
    )
    return steered_run(
        cfg,
        out,
        [
            (100, lambda session: session.reenable_trading("alice")),
            (100, lambda session: session.reduce_only("risk review")),
            (20, lambda session: session.kill("desk")),
        ],
    )


def _throttled(out: Path) -> Path:
    """The execution throttle (4 fills) halts trading on its own, after an operator's kill
    and re-enable (as test_evidence's steered run)."""
    cfg = DryrunConfig(run_id="steered", steps=400, durability="none", risk={"max_executions": 4})
    return steered_run(cfg, out, KILLED_THEN_LIFTED)


def _events(run: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]


def _titles(document: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<title>([^<]*)</title>", document)]


def _counted(document: str, single: str | tuple[str, ...], plural: str) -> int:
    """Events a chart's marks stand for: one per single mark, N per ``N <plural> here``."""
    total = 0
    for title in _titles(document):
        if f" {plural} here" in title:
            total += int(title.split()[0])
        elif title.startswith(single):
            total += 1
    return total


@pytest.mark.parametrize("build", [_failed_sends, build_review_run], ids=["sends", "review"])
def test_every_order_event_and_flag_keeps_its_mark(tmp_path, build):
    run = build(tmp_path / "out")
    events = _events(run)
    kinds = [event["event_type"] for event in events]
    document = render_report(run)

    rejects = [e["payload"] for e in events if e["event_type"] == "ORDER_REJECTED"]
    if build is _failed_sends:  # the run is what it claims to be
        reasons = {r["reason"] for r in rejects}
        assert reasons == {"SEND_FAILED"}
        assert any("signal_id" in r for r in rejects)
        assert any("signal_id" not in r for r in rejects)
        assert {"TRADING_REENABLED", "KILL_SWITCH", "BROKER_UNHEALTHY", "RISK_REJECTED"} <= set(
            kinds
        )
    assert _counted(document, "ORDER_REJECTED", "broker rejects") == len(rejects)
    signals = {e["event_id"]: e["payload"] for e in events if e["event_type"] == "SIGNAL"}
    titles = "\n".join(_titles(document))
    for reject in rejects:
        assert reject["client_order_id"] in document
        signal = signals.get(reject.get("signal_id"))
        if signal is not None:  # a send that failed is told with its signal's side
            said = f"ORDER_REJECTED {signal['side']} {signal['quantity']}"
            assert f"{said} ({reject['client_order_id']}): {reject['reason']}" in titles
    assert _counted(document, "RISK_REJECTED", "rail blocks") == kinds.count("RISK_REJECTED")
    assert _counted(document, "ORDER_SUBMITTED", "submits") == kinds.count("ORDER_SUBMITTED")
    fills = kinds.count("ORDER_FILLED") + kinds.count("ORDER_PARTIALLY_FILLED")
    assert _counted(document, ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED"), "fills") == fills

    # Each kill, resume, operator event, halt and fault flags every time chart.
    charts = document.count("<polyline") - 1  # realised and unrealised share one chart
    faults = sum(
        1
        for e in events
        if e["event_type"] == "STATE_CHANGED"
        and e["payload"]["to_state"] == "ERROR_REQUIRES_OPERATOR"
    )
    audit = (run / "audit.jsonl").read_bytes().splitlines()
    resumes = sum(1 for line in audit if orjson.loads(line)["code"] == "C2_RESUME")
    flagged = sum(1 for kind in kinds if kind in _FLAGGED) + faults + resumes
    assert flagged
    assert len(re.findall(r'<g class="flag-', document)) == flagged * charts


#: The verbs whose events the report flags as an operator's (a kill has its own flag).
_OPERATOR_FLAGGED = frozenset({"acknowledge", "reenable_trading", "reduce_only"})


@pytest.mark.parametrize("build", [_failed_sends, _throttled], ids=["sends", "throttled"])
def test_only_an_operators_action_is_flagged_as_one(tmp_path, build):
    """Trading HALTED by the execution throttle or an unhealthy broker was listed, counted
    and drawn as an "operator" event, which a compliance reader attributes to a person.
    The operator's flags are now the operator's actions (as the evidence reads them from
    the events the control verbs record); the session's own halts are flagged "halt"."""
    run = build(tmp_path / "out")
    events = _events(run)
    document = render_report(run)
    charts = document.count("<polyline") - 1  # realised and unrealised share one chart

    actions = [a for a in recorded_actions(run / "events.jsonl") if a.verb in _OPERATOR_FLAGGED]
    halts = [
        e["payload"]
        for e in events
        if e["event_type"] == "TRADING_STATE_CHANGED" and e["payload"]["to"] == "HALTED"
    ]
    assert actions
    assert halts
    assert document.count('class="flag-operator"') == len(actions) * charts
    assert document.count('class="flag-halt"') == len(halts) * charts
    text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", document)).split())
    for halt in halts:
        said = f"TRADING_STATE_CHANGED: reason {halt['reason']}, to HALTED"
        assert f"halt {said}" in text
        assert f"operator {said}" not in text
    assert f"halt ({len(halts)})" in text  # the list's legend counts them apart
    assert f"operator ({len(actions)})" in text
