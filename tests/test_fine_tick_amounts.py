"""Amounts of a run under a fine tick (prices with 10 decimals), as the tools show them."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from livesession._domain.decimal import amount_text
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path


def _fine_run(tmp_path: Path) -> Path:
    """A 120-bar run of a CSV whose prices have 10 decimals: its inferred tick is 1E-10."""
    rows = ["time,open,high,low,close,volume"]
    price = Decimal("1.2345678901")
    for i in range(120):
        step = Decimal("0.0001234567") * (1 if i % 7 < 4 else -1)
        close = price + step
        high, low = max(price, close), min(price, close)
        rows.append(f"{1767225600 + 60 * i},{price},{high},{low},{close},100")
        price = close
    (tmp_path / "fine.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    config = 'feed = "csv:fine.csv"\nsymbol = "EUR/USD"\nsteps = 120\n'
    (tmp_path / "fine.toml").write_text(config, encoding="utf-8")
    return tmp_path / "fine.toml"


def test_the_summary_and_the_evidence_show_amounts_as_the_report_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: under a data file's tick of 1E-10 the ``dryrun`` summary and the evidence's "At
    the seal" said ``pnl 226.5300000000``-like amounts (the tick's places times the lot's,
    trailing zeros and all) where the report said ``226.53``. Both now show what the report
    does: at least two places, never rounded, no zero past the second; ``--json`` and the
    run's files keep the recorded digits."""
    config = _fine_run(tmp_path)
    runs = tmp_path / "runs"
    assert main(["dryrun", "-c", str(config), "--out", str(runs), "--run-id", "f"]) == 0
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())
    stopped = [
        json.loads(line)
        for line in (runs / "f" / "events.jsonl").read_bytes().splitlines()
        if b'"SESSION_STOPPED"' in line
    ][-1]["payload"]
    recorded_pnl, recorded_equity = stopped["pnl"], stopped["equity"]
    assert (recorded_pnl, recorded_equity) == ("0.0000172839380", "100000.0000172839380")
    assert (lines["pnl"], lines["equity"]) == ("0.000017283938", "100000.000017283938")
    assert Decimal(lines["pnl"]) == Decimal(recorded_pnl)  # never rounded
    bundle = tmp_path / "bundle"
    assert main(["evidence", str(runs / "f"), "--out", str(bundle)]) == 0
    (document,) = bundle.glob("EV-*.md")
    text = document.read_text(encoding="utf-8")
    assert f"; equity {lines['equity']}, PnL {lines['pnl']}." in text
    capsys.readouterr()
    args = ["dryrun", "-c", str(config), "--out", str(runs), "--run-id", "g", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["pnl"] == recorded_pnl


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("226.5300000000", "226.53"),
        ("0.0000097461290", "0.000009746129"),
        ("-0.01430", "-0.0143"),
        ("100000", "100000.00"),
        ("0E-13", "0.00"),
        ("1E+5", "100000.00"),
    ],
)
def test_amount_text_keeps_every_digit_that_is_not_a_trailing_zero(value: str, shown: str) -> None:
    assert amount_text(Decimal(value)) == shown
