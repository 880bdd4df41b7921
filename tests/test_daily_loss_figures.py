"""The daily-loss cap's kill says what crossed the cap: in events.jsonl, the evidence and the report.

Its ``KILL_SWITCH`` recorded only ``{"flat", "open_orders", "reason": "DAILY_LOSS",
"trading_state"}``: a reviewer could not tell from any file which drawdown crossed which
limit, while every other rail's refusal names its value and its limit. The payload now
carries the ``DAILY_LOSS`` rail's own figures (``drawdown``, ``limit``, ``peak_equity``,
``equity``), and the evidence document and the report's table of rails say them.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, halted_run
from livesession import DryrunConfig
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path

_CROSSED = (
    "drawdown 0.010000 from the day's peak >= daily_loss_pct 0.01 "
    "(peak equity 100000.00, equity 99000.00000)"
)


def _capped(tmp_path: Path) -> Path:
    """Long 1 at 40000 of 100000: the bar at 39000 is 1 % down, the default cap."""
    risk = {"per_trade_risk_pct": "0.01", "max_order_notional": "60000"}
    cfg = DryrunConfig(run_id="cap", strategy_id="scripted", steps=5, risk=risk)
    feed = ScriptedFeed(["40000.00", "40000.00", "39000.00"])
    return halted_run(cfg, tmp_path / "runs", feed, ScriptedStrategy(at({1: [buy("1.000")]})))


def test_the_cap_s_kill_records_and_says_what_crossed_it(tmp_path: Path) -> None:
    run_dir = _capped(tmp_path)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    (kill,) = [e["payload"] for e in events if e["event_type"] == "KILL_SWITCH"]
    assert kill == {
        "drawdown": "0.010000",
        "equity": "99000.00000",
        "flat": False,
        "limit": "0.01",
        "open_orders": 0,
        "peak_equity": "100000.00",
        "reason": "DAILY_LOSS",
        "trading_state": "ACTIVE",
    }

    bundle = tmp_path / "bundle"
    assert main(["evidence", str(run_dir), "--out", str(bundle)]) == 0
    (document,) = bundle.glob("EV-*.md")
    said = _CROSSED.replace(">", "\\>")  # Markdown's escape
    assert f"reason `DAILY_LOSS`: {said}; trading ACTIVE went HALTED" in document.read_text(
        encoding="utf-8"
    )

    report = tmp_path / "report.html"
    assert main(["report", str(run_dir), "--output", str(report)]) == 0
    escaped = html.escape(_CROSSED)
    assert f"kill switch: DAILY_LOSS ({escaped})" in report.read_text(encoding="utf-8")
