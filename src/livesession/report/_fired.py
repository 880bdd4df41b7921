"""The report's tables of what fired: rails and kill switches, and the order checks apart.

A run whose orders the session's own checks refused (``QTY_BELOW_LOT``, ``REDUCE_ONLY``,
``PRICE_OFF_TICK``, ``NO_MARKET_PRICE``: ``_risk/kinds.py``) asked for orders no venue
takes; no limit of ``[risk]`` kept it from trading. The header says the two apart
(``_refused.refused_line``), and so do these tables: "Rails fired" had listed
``QTY_BELOW_LOT 157`` among the rails.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._risk.kinds import rails_and_checks
from .._risk.shares import daily_loss_words
from ._sections import table
from ._series import acted_by
from ._svg import utc_text

if TYPE_CHECKING:
    from ._reading import ReportRun

__all__ = ["fired_tables"]

_HEADER = ("rule", "times", "first (UTC)", "last (UTC)")


def fired_tables(run: ReportRun) -> str:
    """Each rail that fired and each kill switch; then each order check that refused."""
    offset = run.utc_offset_ns
    rails, checks = rails_and_checks(sorted(run.tallies.rails.items()))
    rows = [
        (rule, str(times), utc_text(first + offset), utc_text(last + offset))
        for rule, (times, first, last) in rails
    ]
    rows += [
        (
            f"kill switch: {fields.get('reason', '')}"
            + acted_by(fields.get("reason"))
            + _crossed(fields),
            "1",
            utc_text(ts + offset),
            utc_text(ts + offset),
        )
        for ts, fields in run.of_type("KILL_SWITCH")
    ]
    if rows:
        fired = "<h3>Rails fired</h3>\n" + table(_HEADER, rows, frozenset({1}), "Rails fired")
    else:
        fired = '<h3>Rails fired</h3>\n<p class="empty">No rail fired and no kill switch.</p>'
    if not checks:
        return fired
    refused = [
        (rule, str(times), utc_text(first + offset), utc_text(last + offset))
        for rule, (times, first, last) in checks
    ]
    return (
        f"{fired}\n<h3>Orders the session's own checks refused</h3>\n"
        '<p class="sub">Orders no venue would take (docs/risk.md, "The rails"), refused '
        "before or after the rails: no limit of [risk]</p>\n"
        + table(_HEADER, refused, frozenset({1}), "Orders refused by own checks")
    )


def _crossed(fields: dict[str, object]) -> str:
    """What pulled a daily-loss cap's kill (`` (drawdown ... >= daily_loss_pct ...)``), or ""."""
    crossed = daily_loss_words(fields, amounts=True)
    return f" ({crossed})" if crossed else ""
