"""The broker-fault counts of ``metrics.json``, recomputed from the events.

Retries, outcomes unknown and resolved, duplicate reports, late fills and unhealthy spells:
each count is in ``metrics.json`` exactly when it is non-zero, so a zero written is a
violation of its own, and the rest are compared as every other count is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ._reading import METRICS

if TYPE_CHECKING:
    from ._reading import RunFiles
    from ._replay import Replay
    from ._result import Violations

__all__ = ["broker_fault_counts"]


def broker_fault_counts(files: RunFiles, checks: Violations, replay: Replay) -> dict[str, object]:
    """The broker-fault counts the events give, the non-zero ones; a zero written is flagged."""
    kinds = replay.kinds
    counts: dict[str, object] = {
        "broker_retries": dict(sorted(replay.broker_retries.items())),
        "outcomes_unknown": kinds["ORDER_OUTCOME_UNKNOWN"],
        "outcomes_resolved": kinds["ORDER_OUTCOME_RESOLVED"],
        "duplicate_reports": kinds["DUPLICATE_REPORT"],
        "late_fills": replay.late_fills,
        "broker_unhealthy": kinds["BROKER_UNHEALTHY"],
    }
    fields = files.metrics_fields
    for field, value in counts.items():
        if not value and field in fields:
            checks.add(METRICS, files.metrics_line(field), f"{field} is written but zero")
    return {field: value for field, value in counts.items() if value}
