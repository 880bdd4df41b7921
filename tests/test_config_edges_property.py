"""Property: any config drawn from the documented ranges runs a session that verifies.

Hypothesis draws configs as a config file writes them (strings for the decimals, read by
``DryrunConfig.from_mapping``) from docs/config.md's ranges, at their edges too: a price
tick and a lot from 1e-8 to 25, an initial price from one tick up, a volatility from 0 to
10,000 bps (a walk that would fall below one tick stays on it), a step interval from 1 ms
to a day, a start from 1970 to 2200 (a leap day, a run across UTC midnight), every
``[risk]`` count from 1 and every share up to 1. Each runs a short demo session in process
into a run directory; it must seal COMPLETED and pass ``verify_run`` (the conftest verifies
every run directory again at teardown). The ``ci`` profile's dozen examples take seconds.
"""

from __future__ import annotations

import datetime as dt
import itertools
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livesession import DryrunConfig, create_run
from livesession.verify import verify_run

_GRIDS = ("1", "0.5", "0.01", "0.00000001", "25")
_SHARES = ("0.0001", "0.01", "0.5", "1")
_RUN_IDS = itertools.count()
_LAST = dt.datetime(2200, 1, 1)  # noqa: DTZ001 - far enough from 2262 for 40 daily steps


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    """A config file's table, every value within docs/config.md's ranges."""
    tick, lot = draw(st.sampled_from(_GRIDS)), draw(st.sampled_from(_GRIDS))
    # naive bounds, as st.datetimes takes them (it favours leap days and midnights): UTC
    start = draw(st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=_LAST))  # noqa: DTZ001
    steps = draw(st.integers(min_value=1, max_value=40))
    fast = draw(st.integers(min_value=1, max_value=4))
    order_qty = Decimal(lot) * draw(st.integers(min_value=1, max_value=1000))

    def share() -> str:
        return draw(st.sampled_from(_SHARES))

    return {
        "seed": draw(st.integers(min_value=0, max_value=2**63 - 1)),
        "steps": steps,
        "max_steps": steps,
        "durability": "none",
        "start_time": start.replace(microsecond=0).isoformat() + "Z",
        "step_interval_ms": draw(
            st.sampled_from((1, 1000, 60_000, 86_400_000)) | st.integers(1, 86_400_000)
        ),
        "price_tick": tick,
        "qty_lot": lot,
        "initial_price": str(Decimal(tick) * draw(st.integers(min_value=1, max_value=10**7))),
        "volatility_bps": draw(st.sampled_from((0, 10_000)) | st.integers(0, 10_000)),
        "strategy": {
            "fast": fast,
            "slow": fast + draw(st.integers(min_value=1, max_value=6)),
            "order_qty": str(order_qty),
        },
        "risk": {
            # preflight refuses a demo whose every order the rail would refuse (exit 3)
            "max_order_qty": str(order_qty * draw(st.sampled_from((1, 10**6)))),
            "max_executions": draw(st.integers(min_value=1, max_value=50)),
            "max_orders_per_sec": draw(st.integers(min_value=1, max_value=5)),
            "daily_loss_pct": share(),
            "per_trade_risk_pct": share(),
            "portfolio_heat_pct": share(),
            "price_collar_pct": share(),
        },
    }


# tmp_path is shared by the examples: each run has its own id in it.
@settings(max_examples=12, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=configs())
def test_a_config_from_the_documented_ranges_runs_and_verifies(
    tmp_path: Path, table: dict[str, Any]
) -> None:
    table["run_id"] = f"edge-{next(_RUN_IDS)}"
    cfg = DryrunConfig.from_mapping(table)
    with create_run(cfg, tmp_path, alerts=False) as session:
        result = session.run_to_end(cfg.steps)
    assert result.status.value == "COMPLETED", (result.reason, table)
    verified = verify_run(tmp_path / cfg.run_id)
    assert verified.ok, (verified.violations[:10], table)
