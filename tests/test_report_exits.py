"""The report's Trades say why each fill happened: which exit fired, and at what price."""

from __future__ import annotations

from decimal import Decimal

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, create_run
from livesession.report import render_report
from test_report import parse

PROTECT = {"take_profit_pct": Decimal("0.01"), "stop_loss_pct": Decimal("0.01")}


def _trade_rows(document: str) -> list[list[str]]:
    """The Trades table's rows, each a list of its cells' text."""
    section = document[document.index(">Trades<") : document.index(">Resumes, kills")]
    rows: list[list[str]] = []
    for row in section.split("<tr>")[2:]:
        cells = [cell.split(">", 1)[1] for cell in row.split("</td>")[:-1]]
        rows.append([" ".join(parse(cell).text) for cell in cells])
    return rows


def test_each_exit_names_its_leg_its_price_and_a_gap_through_it(tmp_path):
    """A stop the next bar gaps through and a take profit a bar opens past: each fill's row
    says the leg that fired, its price, and how far past it the fill was. The table gave the
    fill's price and client order id alone, and the reviewer could not tell a stop from a
    take profit, nor see that the stop filled 1600.00 beyond its price."""
    cfg = DryrunConfig(run_id="exits", strategy_id="scripted", steps=5, durability="none")
    closes = ["40000.00", "38000.00", "38000.00", "39000.00", "39000.00"]
    strategy = ScriptedStrategy(at({1: [buy("0.010", **PROTECT)], 3: [buy("0.010", **PROTECT)]}))
    with create_run(cfg, tmp_path, feed=ScriptedFeed(closes), strategy=strategy) as session:
        session.run_to_end(cfg.steps)
    why = [row[8] for row in _trade_rows(render_report(tmp_path / "exits"))]
    assert why == [
        "(no reason): MARKET",
        "stop_loss: STOP 39600.00, filled 1600.00 past it (the bar gapped through it)",
        "(no reason): MARKET",
        "take_profit: LIMIT 38380.00, filled 620.00 better (the bar opened past it)",
    ]
