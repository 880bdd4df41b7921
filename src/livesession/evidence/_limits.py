"""The limits a run traded under, as the evidence bundle states them for a reviewer.

The bundle's rails table said how often each rail fired, not at what limit: a committee
asked "under what limits did it trade?" had to open ``config.json`` and know its keys. The
manifest records them (``limits``: the config's ``risk`` table, ``allowlist`` and
``initial_cash``, as the audited config hash covers them) and ``EV-*.md`` says each rail's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._support.text import md_code, md_text

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig

__all__ = ["limit_lines", "run_limits"]


def run_limits(cfg: DryrunConfig) -> dict[str, Any]:
    """The rails' limits of ``cfg``: as ``config.json`` records them (numbers as text)."""
    recorded = cfg.to_dict()
    return {
        "initial_cash": str(cfg.initial_cash),
        "allowlist": list(cfg.allowed_symbols),
        "own_rails": list(cfg.rails),
        "risk": recorded["risk"],  # every key of the table, in config.json's words
    }


def limit_lines(limits: object) -> list[str]:
    """The limits as a section of ``EV-*.md`` (a manifest without them: no lines)."""
    if not isinstance(limits, dict):
        return []
    r = limits["risk"]
    at_stop = f"at the assumed stop distance of {md_text(r['stop_distance_pct'])} of the price"
    capped = r.get("max_position_notional")  # set by the desk, or not in config.json
    position_cap = [] if capped is None else [("MAX_POSITION_NOTIONAL", _position_cap(capped))]
    rows = [
        ("ALLOWLIST", f"symbols {', '.join(md_code(s) for s in limits['allowlist'])} only"),
        ("MAX_ORDER_QTY", f"{md_text(r['max_order_qty'])} per order"),
        ("MAX_ORDER_NOTIONAL", f"{md_text(r['max_order_notional'])} per order (quantity x price)"),
        *position_cap,
        ("PRICE_COLLAR", f"{md_text(r['price_collar_pct'])} of the last price"),
        ("PER_TRADE_RISK", f"{md_text(r['per_trade_risk_pct'])} of equity per order, {at_stop}"),
        (
            "PORTFOLIO_HEAT",
            f"{md_text(r['portfolio_heat_pct'])} of equity for all open exposure, {at_stop}",
        ),
        (
            "DAILY_LOSS",
            f"{md_text(r['daily_loss_pct'])} drawdown from the UTC day's peak equity (kill)",
        ),
        ("ORDER_RATE", f"{md_text(r['max_orders_per_sec'])} new orders per simulated second"),
        (
            "EXECUTION_THROTTLE",
            f"{md_text(r['max_executions'])} executions, then trading halts until re-enabled",
        ),
    ]
    return [
        "",
        (
            "The limits the rails held (`config.json`'s `risk` and `allowlist`, under the "
            f"audited config hash), on a starting cash of {md_text(limits['initial_cash'])}:"
        ),
        "",
        "| rail | limit |",
        "| --- | --- |",
        *(f"| {name} | {said} |" for name, said in rows),
        *(
            f"| {md_code(ref)} | its own (a rail of the desk's: `rails_params` in `config.json`) |"
            for ref in limits.get("own_rails", ())
        ),
    ]


def _position_cap(capped: object) -> str:
    return f"{md_text(capped)} per symbol's position (at the order's price)"
