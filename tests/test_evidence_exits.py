"""The evidence bundle says what a run's protective exits did ("Protective exits").

A bundle of a run whose entries carried a stop and a take profit said only the burn-in's
``no_orphan_oco`` count: a reviewer who reads the bundle alone could not tell how many stops
fired, how many the bar gapped through (and by how much at most), how many take profits
filled, how many pairs ended unfilled, nor whether a held position was ever left without
its exits (``PROTECTION_LOST``). The figures are read as the report's Trades rows read
each fill (``_rundir.exits``), in the evidence's one pass over the events.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._rundir.exits import ExitTally
from livesession.cli import main
from livesession.report._book import replay_book
from livesession.report._reading import ReportRun

_PROTECTED = '[strategy]\nfast = 2\nslow = 5\nprotect_pct = "0.01"\n'
# The seeded mock venue refuses the stop of this run's second entry (run id "r", seed 123:
# its draws follow the client order ids, which the run id is part of).
_REFUSING = """\
steps = 60
[strategy]
fast = 3
slow = 8
protect_pct = "0.002"
[fill_model]
reject_rate = "0.1"
partial_fill_ratio = "0.3"
latency_ms = 500
"""


def _gap_bars() -> str:
    """Dated 1-minute bars: a gentle swing, then two hours missing and the price 3 % lower."""
    lines = ["timestamp,open,high,low,close,volume"]
    price, minute = 100.0, 0
    for i in range(120):
        if i == 60:
            minute += 120
            price *= 0.97
        price *= 1.001 if (i // 6) % 2 == 0 else 0.9995
        hours, minutes = divmod(minute, 60)
        high, low = f"{price * 1.0005:.2f}", f"{price * 0.9995:.2f}"
        lines.append(
            f"2026-11-02T{hours:02d}:{minutes:02d}:00Z,{price:.2f},{high},{low},{price:.2f},10"
        )
        minute += 1
    return "\n".join(lines) + "\n"


def _bundle(out: Path, run_id: str, toml: str) -> tuple[dict[str, Any], str]:
    """A run of ``toml`` and its evidence: the manifest and the EV document's text."""
    config = out / f"{run_id}.toml"
    config.write_text(toml, encoding="utf-8")
    argv = ["dryrun", "-c", str(config), "--out", str(out), "-q", "--durability", "none"]
    assert main([*argv, "--run-id", run_id]) == 0
    assert main(["verify", str(out / run_id)]) == 0
    assert main(["evidence", str(out / run_id)]) == 0
    (doc,) = (out / run_id).glob("EV-*.md")
    manifest = orjson.loads((out / run_id / "manifest.json").read_bytes())
    return manifest, doc.read_text(encoding="utf-8")


def _section(text: str) -> list[str]:
    """The lines of the document's "Protective exits", from its heading to the next one."""
    start = text.index("## Protective exits\n")
    end = text.index("\n## ", start + 1)
    return text[start:end].splitlines()[2:]


@pytest.fixture(name="gapped", scope="module")
def _gapped(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], str]:
    out = tmp_path_factory.mktemp("gap")
    (out / "GAP-1m.csv").write_text(_gap_bars(), encoding="utf-8")
    toml = f'feed = "csv:GAP-1m.csv"\nsteps = 120\n{_PROTECTED}'
    manifest, text = _bundle(out, "gap", toml)
    return out / "gap", manifest, text


def test_a_stop_the_bar_gapped_through_is_counted_with_its_gap(gapped) -> None:
    _, manifest, _ = gapped
    assert manifest["exits"] == {
        "pairs_placed": 4,
        "stops_placed": 4,
        "take_profits_placed": 4,
        "stops_filled": 1,
        "stops_gapped_through": 1,
        "worst_gap_through": "1.93",
        "worst_gap_through_seq": 91,
        "take_profits_filled": 2,
        "take_profits_filled_better": 1,
        "pairs_ended_unfilled": 1,
        "pairs_open_at_end": 0,
        "legs_refused_by_venue": 0,
        "legs_not_sent": 0,
        "protection_lost": [],
    }


def test_the_gap_is_the_one_the_report_s_trades_row_says(gapped) -> None:
    """One reading of the fills: the report's row of the worst fill names the same gap."""
    run_dir, manifest, _ = gapped
    rows = replay_book(ReportRun.load(run_dir)).trades
    (row,) = [t for t in rows if t.seq == 91]
    assert row.why.startswith("stop_loss: STOP ")
    assert row.why.endswith(", filled 1.93 past it (the bar gapped through it)")
    assert sum("gapped through" in t.why for t in rows) == manifest["exits"]["stops_gapped_through"]


def test_the_document_says_the_exits_in_words(gapped) -> None:
    _, _, text = gapped
    assert _section(text) == [
        "- Exit pairs placed: 4 (4 stop loss, 4 take profit leg(s)).",
        (
            "- Stops filled: 1; 1 gapped through (filled worse than the stop; the worst 1.93 past "
            "it, event seq 91)."
        ),
        "- Take profits filled: 2 (1 better than their limit).",
        (
            "- Pairs that ended with neither leg filled (cancelled or refused): 1; still open at "
            "the end: 0."
        ),
        "- Legs refused by the venue: 0; legs not sent (a rail refused them): 0.",
        (
            "- No held position was left without its exits: the kill switch never fired "
            "`PROTECTION_LOST`."
        ),
    ]
    # After the kill switch it concerns, before the control map.
    assert text.index("## Kill switch") < text.index("## Protective exits")
    assert text.index("## Protective exits") < text.index("## Control map")


def test_a_leg_the_venue_refused_says_the_position_was_left_unprotected(tmp_path) -> None:
    manifest, text = _bundle(tmp_path, "r", _REFUSING)
    exits = manifest["exits"]
    assert exits["legs_refused_by_venue"] == 1
    assert exits["pairs_ended_unfilled"] == 1
    assert exits["protection_lost"] == [{"seq": 61, "at": "2026-01-01T00:24:00Z"}]
    kills = [k for k in manifest["fired"]["kill_switch"] if k["event"] == "KILL_SWITCH"]
    assert [(k["reason"], k["seq"]) for k in kills] == [("PROTECTION_LOST", 61)]
    assert _section(text)[-1] == (
        "- **A held position was left without its exits 1 time(s)**: the kill switch fired "
        '`PROTECTION_LOST` (trading HALTED; see "Kill switch") at 2026-01-01T00:24:00Z '
        "(event seq 61)."
    )


def test_a_run_without_exits_says_nothing_of_them(tmp_path) -> None:
    manifest, text = _bundle(tmp_path, "plain", "steps = 120\n")
    assert "exits" not in manifest
    assert "Protective exits" not in text
    assert "PROTECTION_LOST`." not in text


def _event(seq: int, kind: str, **fields: object) -> dict[str, Any]:
    return {"seq": seq, "ts_sim": seq * 60_000_000_000, "event_type": kind, "payload": fields}


def _leg(seq: int, cid: str, reason: str, order_type: str, price: str) -> dict[str, Any]:
    return _event(
        seq,
        "ORDER_SUBMITTED",
        client_order_id=cid,
        reason=reason,
        order_type=order_type,
        limit_price=price,
        side="SELL",
        oco_group="g1",
    )


def test_a_stop_filled_in_parts_is_one_stop_its_worst_part_the_gap() -> None:
    """Each part of a stop's fill is priced on its own; the stop is counted once."""
    tally = ExitTally()
    for event in (
        _leg(1, "sl", "stop_loss", "STOP", "97.00"),
        _leg(2, "tp", "take_profit", "LIMIT", "103.00"),
        _event(3, "ORDER_PARTIALLY_FILLED", client_order_id="sl", price="96.50", remaining="1"),
        _event(4, "ORDER_CANCELED", client_order_id="tp"),
        _event(5, "ORDER_FILLED", client_order_id="sl", price="95.80", remaining="0"),
        _event(6, "RISK_REJECTED", client_order_id="sl2", leg="sl", rule="TRADING_STATE"),
    ):
        tally.feed(event)
    exits = tally.result()
    assert exits is not None
    assert (exits["stops_filled"], exits["stops_gapped_through"]) == (1, 1)
    assert (exits["worst_gap_through"], exits["worst_gap_through_seq"]) == ("1.20", 5)
    assert (exits["take_profits_filled"], exits["pairs_ended_unfilled"]) == (0, 0)
    assert (exits["pairs_open_at_end"], exits["legs_not_sent"]) == (0, 1)


def test_no_exit_event_is_no_exits() -> None:
    tally = ExitTally()
    tally.feed(_event(1, "ORDER_SUBMITTED", client_order_id="e", reason="sma_cross_up"))
    tally.feed(_event(2, "ORDER_FILLED", client_order_id="e", price="100", remaining="0"))
    assert tally.result() is None
