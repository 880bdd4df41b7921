"""The report header's line for the orders the rails refused.

A run whose rails refused every order its strategy asked for seals ``COMPLETED`` with a
PnL of 0, and its header said only ``status COMPLETED · 400 of 400 steps``: the refusals
were counted far below, in the rails' table. The header says them (by rule, from when)
and how many orders were sent, as the evidence's "How the run ended" does.
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from .._domain.clock import format_utc_ns

if TYPE_CHECKING:
    from ._reading import ReportRun

__all__ = ["refused_line"]


def refused_line(run: ReportRun) -> str:
    """``<p class="sub">Rails refused ...</p>``; "" when no rail refused an order."""
    rails = run.tallies.rails
    if not rails:
        return ""
    each = "; ".join(
        f"{rule} {count:,} time(s) from {format_utc_ns(first)}"
        for rule, (count, first, _last) in sorted(rails.items(), key=lambda kv: -kv[1][0])
    )
    total = sum(count for count, _first, _last in rails.values())
    sent = run.tallies.kinds.get("ORDER_SUBMITTED", 0)
    return (
        f'<p class="sub">Rails refused {total:,} order(s) the strategy asked for: '
        f"{escape(each)}; {sent:,} order(s) were sent in all (each rail under Limits, "
        "preflight checks and rails)</p>\n"
    )
