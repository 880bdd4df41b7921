"""How a run ended, as the evidence states it first: a reviewer's first question.

Read from the run's own records: the ``SESSION_STOPPED`` event (status, state, reason,
steps, equity, PnL), the reason its stop was asked with (``STATE_CHANGED`` by
``request_stop``: the operator's words, which ``SESSION_STOPPED`` leaves out unless the stop
was the seal's), the fault's ``STATE_CHANGED`` detail, the preflight checks that failed,
the final state snapshot (positions and open orders at the seal), the planned steps from
``SESSION_STARTED``, and the operator's actions. A run without ``SESSION_STOPPED`` is said
to be unsealed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._artifacts import names
from .._artifacts.runread import finite_decimal, payload, read_records
from ._operator import actions_in, told_actions

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["outcome", "outcome_lines"]


def outcome(run_dir: Path, events: list[dict[str, Any]]) -> dict[str, Any]:
    """The manifest's ``outcome``: how the run in ``run_dir`` with ``events`` ended."""
    stopped = started = fault = stop = None
    refused: list[dict[str, Any]] = []
    for event in events:
        kind = event.get("event_type")
        if kind == "PREFLIGHT_CHECK" and payload(event).get("passed") is False:
            check = payload(event)
            refused.append({k: check.get(k, "") for k in ("check", "reason", "detail")})
        elif kind == "SESSION_STOPPED":
            stopped = payload(event)
        elif kind == "SESSION_STARTED" and started is None:
            started = payload(event)
        elif kind == "STATE_CHANGED":
            trigger = payload(event).get("trigger")
            if trigger == "fault":
                fault = payload(event)
            elif trigger == "request_stop":
                stop = payload(event)
    snapshots = read_records(run_dir / names.SNAPSHOTS)  # a line per transition: few
    final = snapshots[-1] if snapshots else {}
    seal, planned = stopped or {}, (started or {}).get("steps_planned")
    # A broken run (verify says how) may hold anything: what is not of its kind is left out.
    positions = final.get("positions")
    orders = final.get("open_orders")
    found: dict[str, Any] = {
        "sealed": stopped is not None,
        "status": seal.get("status"),
        "fsm_state": seal.get("fsm_state"),
        "reason": seal.get("reason", ""),
        "stop_reason": None if stop is None else stop.get("reason", ""),
        "steps": seal.get("steps"),
        "steps_planned": planned,
        "equity": seal.get("equity"),
        "pnl": seal.get("pnl"),
        "positions": {
            str(symbol): qty
            for symbol, qty in sorted((positions if isinstance(positions, dict) else {}).items())
            if _nonzero(qty)
        },
        "open_orders": list(orders) if isinstance(orders, list) else [],
        "operator_actions": told_actions(actions_in(events), planned),
    }
    if refused:
        found["refused_by"] = refused
    if fault is not None:
        detail = fault.get("detail")
        found["fault"] = {
            "reason": fault.get("reason", ""),
            "detail": detail if isinstance(detail, dict) else {},
        }
    return found


def outcome_lines(found: dict[str, Any]) -> list[str]:
    """The document's section for ``found``."""
    lines = ["## How the run ended", ""]
    if not found["sealed"]:
        return [*lines, "The run is **not sealed**: it has no `SESSION_STOPPED` event.", ""]
    planned = found["steps_planned"]
    steps = f"{found['steps']} of {planned}" if planned is not None else str(found["steps"])
    reason = f", reason `{found['reason']}`" if found["reason"] else ""
    if found["stop_reason"] and found["stop_reason"] != found["reason"]:
        reason += f", stopped: `{found['stop_reason']}`"
    lines.append(f"- **{found['status']}** in `{found['fsm_state']}` after {steps} steps{reason}.")
    lines += [
        f"- Preflight check `{check['check']}` refused it: {check['detail']}."
        for check in found.get("refused_by", ())
    ]
    fault = found.get("fault")
    if fault is not None:
        detail = "; ".join(f"{k}: {v}" for k, v in sorted(fault["detail"].items()))
        lines.append(f"- Fault `{fault['reason']}`" + (f": {detail}." if detail else "."))
    held = ", ".join(f"{symbol} {qty}" for symbol, qty in found["positions"].items())
    orders = [_order(order) for order in found["open_orders"]]
    lines.append(
        f"- At the seal: position {held or 'flat'}; "
        + (f"{len(orders)} open order(s): {'; '.join(orders)}" if orders else "no open order")
        + f"; equity {found['equity']}, PnL {found['pnl']}."
    )
    actions = found["operator_actions"]
    lines.append(
        "- Operator actions: "
        + (", ".join(f"`{a}`" for a in actions) + "." if actions else "none.")
    )
    return [*lines, ""]


def _nonzero(quantity: object) -> bool:
    value = finite_decimal(quantity)
    return value is None or value != 0  # an unreadable quantity is shown, not hidden


def _order(order: object) -> str:
    """``cid BUY 0/0.010 BTC/USDT``, as the wind-down's own record writes an open order."""
    if not isinstance(order, dict):
        return str(order)
    return (
        f"{order.get('client_order_id')} {order.get('side')} "
        f"{order.get('filled')}/{order.get('quantity')} {order.get('symbol')}"
    )
