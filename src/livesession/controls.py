"""The control map: the controls governance reviews ask for, and what implements each.

RTS 6 (Commission Delegated Regulation (EU) 2017/589) asks for kill functionality (Art. 12)
and pre-trade controls (Art. 15: price collars, maximum order value and volume, message
limits, execution throttles); SEC Rule 15c3-5 asks for credit and capital thresholds and
the rejection of duplicative orders. For each, the evidence document names the rail or
mechanism that implements it in this run, how often it fired, and the drill or test that
exercises it. A control the run does not implement is listed as not implemented.
"""

from __future__ import annotations

from typing import Any, Final

__all__ = ["CONTROLS", "control_lines", "control_map"]

CONTROLS: Final[tuple[tuple[str, str, tuple[str, ...], str], ...]] = (
    (
        "Kill functionality",
        "RTS 6 Art. 12",
        (),
        (
            "tests/test_kill_switch.py; tests/test_broker_guard.py (REDUCE_ONLY_CROSSED); "
            "tests/test_protection.py (PROTECTION_LOST); the evidence kill drill"
        ),
    ),
    (
        "Price collars",
        "RTS 6 Art. 15",
        ("PRICE_COLLAR",),
        "tests/test_rails.py::TestPriceCollar",
    ),
    (
        "Maximum order value",
        "RTS 6 Art. 15",
        ("MAX_ORDER_NOTIONAL",),
        "tests/test_rails.py::TestMaxOrderNotional; pinned run rail-notional",
    ),
    (
        "Maximum order volume",
        "RTS 6 Art. 15",
        ("MAX_ORDER_QTY",),
        "tests/test_rails.py::TestMaxOrderQty",
    ),
    (
        "Maximum messages (new orders per second)",
        "RTS 6 Art. 15",
        ("ORDER_RATE",),
        "tests/test_rails.py::TestOrderRate, TestOrderRateInASession; pinned run rail-order-rate",
    ),
    (
        "Repeated executions throttle",
        "RTS 6 Art. 15",
        ("EXECUTION_THROTTLE",),
        "tests/test_rails.py::TestThrottleInASession; pinned run rail-throttle",
    ),
    (
        "Duplicative orders",
        "SEC 15c3-5(c)(1)(ii)",
        (),
        "tests/test_execution.py; tests/test_crash_recovery.py; burn-in unique client order ids",
    ),
    (
        "Credit and capital thresholds",
        "SEC 15c3-5(c)(1)(i)",
        ("PER_TRADE_RISK", "PORTFOLIO_HEAT", "DAILY_LOSS", "MAX_POSITION_NOTIONAL"),
        (
            "tests/test_rails.py::TestPerTradeRisk, TestPortfolioHeat, TestDailyLoss; "
            "tests/test_kill_switch.py (the daily-loss cap pulls the kill switch)"
        ),
    ),
    (
        "Restricted instruments",
        "SEC 15c3-5(c)(2)(ii)",
        ("ALLOWLIST",),
        "tests/test_rails.py::TestAllowlist; the allowlist preflight check",
    ),
)
"""The controls a governance review asks for: (control, rule, rails, what exercises it)."""


def control_map(
    fired: dict[str, Any], drill: dict[str, Any], burnin: dict[str, Any]
) -> list[dict[str, Any]]:
    """One row per control: what implements it in this run, how often it fired, the test.

    A control whose rails the run did not have is listed as not implemented, never left out.
    """
    rails: dict[str, int] = fired["rails"]
    kills = [k for k in fired["kill_switch"] if k.get("event") == "KILL_SWITCH"]
    duplicates = next(
        (c["value"] for c in burnin["criteria"] if c["name"] == "unique_client_order_ids"), 0
    )
    rows: list[dict[str, Any]] = []
    for control, rule, rules, exercised in CONTROLS:
        row: dict[str, Any] = {"control": control, "rule": rule, "exercised_by": exercised}
        if control == "Kill functionality":
            drilled = (
                f"; drill: flat in {drill['wall_s']:.6f} s wall time"
                if drill.get("status") == "measured"
                else f"; drill: {drill.get('status')}"
            )
            row |= {
                "implemented_by": "kill switch: kill() / `livesession kill` (SIGUSR1); the "
                "DAILY_LOSS cap, a reduce-only fill that adds exposure (REDUCE_ONLY_CROSSED) "
                "and a protective leg the venue dropped (PROTECTION_LOST) trip it; HALTED, "
                "cancel all, flatten",
                "fired": len(kills),
                "exercised_by": exercised + drilled,
            }
        elif control == "Duplicative orders":
            row |= {
                "implemented_by": "deterministic client order ids reserved durably before the "
                "send (idempotency store); a send in doubt is looked up, never resent blindly",
                "fired": duplicates,
            }
        else:
            present = [r for r in rules if r in rails]
            if not present:
                row |= {"implemented_by": "NOT IMPLEMENTED", "fired": None}
            else:
                row |= {
                    "implemented_by": ", ".join(f"rail {r}" for r in present)
                    + (" (cancel requests are not counted)" if "ORDER_RATE" in present else ""),
                    "fired": sum(rails[r] for r in present),
                }
        rows.append(row)
    return rows


def control_lines(rows: list[dict[str, Any]]) -> list[str]:
    """The control map as a markdown section."""
    lines = [
        "",
        "## Control map",
        "",
        "| control | rule | implemented by | fired in this run | exercised by |",
        "| --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        fired = "—" if r["fired"] is None else r["fired"]
        lines.append(
            f"| {r['control']} | {r['rule']} | {r['implemented_by']} | {fired} | "
            f"{r['exercised_by']} |"
        )
    return lines
