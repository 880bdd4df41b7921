"""The report header's lines for the orders the rails refused, and for why a run resumed.

A run whose rails refused every order its strategy asked for seals ``COMPLETED`` with a
PnL of 0, and its header said only ``status COMPLETED · 400 of 400 steps``: the refusals
were counted far below, in the rails' table. The header says them (by rule, from when)
and how many orders were sent, as the evidence's "How the run ended" does. Its
``Resumed 2 times, ...`` said how often a run was resumed, never why: a crash (the
process stopped without sealing), or a process that stopped itself unsealed (a write the
system refused), which the evidence tells apart (``evidence._torn``).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from .._domain.clock import format_utc_ns
from ..evidence._torn import set_aside_stops

if TYPE_CHECKING:
    from ._reading import ReportRun

__all__ = ["refused_line", "resumed_why"]


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


def resumed_why(run: ReportRun) -> str:
    """``<p class="sub">Why: ...</p>`` under a resumed run's line; "" for a run never resumed."""
    if not run.resumed:
        return ""
    why = (
        "its process stopped itself, unsealed (a write the system refused: see audit.jsonl.torn)"
        if set_aside_stops(run.run_dir)
        else "the process stopped without sealing the run (a crash, or a kill)"
    )
    return (
        f'<p class="sub">Why: {escape(why)}, and livesession resume went on from the last '
        "checkpoint, doing the steps after it again</p>\n"
    )
