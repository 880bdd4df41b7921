"""The evidence bundle says the limits the run traded under, not only how often rails fired.

A committee deciding from ``EV-*.md`` alone could read that ``DAILY_LOSS`` fired once, and
the kill line's ``daily_loss_pct 0.0001``, but not the other rails' limits (the order
quantity, notional, price collar, rate) nor the allowlist: those were in ``config.json``
only, under keys a reviewer must know.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from livesession.cli import main

_TOML = """\
run_id = "limits"
steps = 200
allowlist = ["BTC/USDT"]
[risk]
max_order_qty = "0.25"
max_order_notional = "12000"
price_collar_pct = "0.03"
daily_loss_pct = "0.002"
max_orders_per_sec = 3
"""


@pytest.fixture(name="run_dir", scope="module")
def _run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("limits")
    config = out / "limits.toml"
    config.write_text(_TOML, encoding="utf-8")
    argv = ["dryrun", "-c", str(config), "--out", str(out), "-q", "--durability", "none"]
    assert main(argv) == 0
    assert main(["evidence", str(out / "limits")]) == 0
    return out / "limits"


def test_the_manifest_records_the_limits(run_dir: Path) -> None:
    limits = orjson.loads((run_dir / "manifest.json").read_bytes())["limits"]
    assert limits["allowlist"] == ["BTC/USDT"]
    assert limits["initial_cash"] == "100000.00"
    assert limits["own_rails"] == []
    assert limits["risk"] == {
        "max_order_qty": "0.25",
        "max_order_notional": "12000",
        "price_collar_pct": "0.03",
        "per_trade_risk_pct": "0.0025",
        "stop_distance_pct": "0.02",
        "portfolio_heat_pct": "0.01",
        "daily_loss_pct": "0.002",
        "max_orders_per_sec": 3,
        "max_executions": 10000,
    }


def test_the_document_says_each_rails_limit(run_dir: Path) -> None:
    (doc,) = run_dir.glob("EV-*-limits.md")
    text = doc.read_text(encoding="utf-8")
    rails, kill = text.index("## Preflight checks and safety rails"), text.index("## Kill switch")
    section = text[rails:kill]
    for row in (
        "| ALLOWLIST | symbols `BTC/USDT` only |",
        "| MAX_ORDER_QTY | 0.25 per order |",
        "| MAX_ORDER_NOTIONAL | 12000 per order (quantity x price) |",
        "| PRICE_COLLAR | 0.03 of the last price |",
        "| DAILY_LOSS | 0.002 drawdown from the UTC day's peak equity (kill) |",
        "| ORDER_RATE | 3 new orders per simulated second |",
        "| EXECUTION_THROTTLE | 10000 executions, then trading halts until re-enabled |",
    ):
        assert f"\n{row}\n" in section, row
    assert "on a starting cash of 100000.00:" in section
