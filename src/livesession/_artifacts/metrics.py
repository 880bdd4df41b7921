"""Metrics derived from the event stream (never counted in a second place).

``metrics.json`` (schema ``C2_DRYRUN_METRICS_V1``) holds only deterministic counts; the
audit-derived fields (``audit_events``, ``audit_head``) are filled in by the recorder. The
broker-fault counts (``broker_retries``, ``outcomes_unknown``, ``outcomes_resolved``,
``duplicate_reports``,
``late_fills``, ``broker_unhealthy``) appear once they are non-zero, so a run without venue
faults writes the same document as before they existed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from .._domain.model import FILL_EVENT_TYPES

__all__ = ["METRICS_SCHEMA", "SEND_FAILED", "MetricsCollector"]

METRICS_SCHEMA: Final = "C2_DRYRUN_METRICS_V1"
SEND_FAILED: Final = "SEND_FAILED"
"""The ``reason`` the session gives an ``ORDER_REJECTED`` whose send failed (execution's
transient send, the reconciler's order sent in doubt and never seen): the venue refused
nothing."""


class MetricsCollector:
    """Counts events by type and rejections by reason."""

    def __init__(self) -> None:
        self.by_type: dict[str, int] = {}
        self.rejects_by_reason: dict[str, int] = {}
        self.broker_retries: dict[str, int] = {}
        self.late_fills = 0
        self.status = "INIT"

    def on_event(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """Count one event."""
        by_type = self.by_type
        by_type[event_type] = by_type.get(event_type, 0) + 1
        if event_type == "BAR":
            return
        if event_type in ("RISK_REJECTED", "ORDER_REJECTED"):
            reason = str(payload.get("rule") or payload.get("reason") or "UNKNOWN")
            self.rejects_by_reason[reason] = self.rejects_by_reason.get(reason, 0) + 1
        elif event_type == "PREFLIGHT_CHECK" and not payload.get("passed", True):
            reason = str(payload.get("reason", "UNKNOWN"))
            self.rejects_by_reason[reason] = self.rejects_by_reason.get(reason, 0) + 1
        elif event_type in ("STATE_CHANGED", "SESSION_STOPPED"):
            self.status = str(payload["status"])
        elif event_type in FILL_EVENT_TYPES:
            if payload.get("after_cancel"):
                self.late_fills += 1
        elif event_type == "BROKER_CALL_RETRIED":
            operation = str(payload["operation"])
            self.broker_retries[operation] = self.broker_retries.get(operation, 0) + 1

    def on_lost(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """An event the events sink could not take: not counted, but its status stands.

        ``metrics.json`` counts the lines ``events.jsonl`` holds; its ``status`` is still
        the session's (a run whose events sink died ends FAILED, though no line says so).
        """
        if event_type in ("STATE_CHANGED", "SESSION_STOPPED"):
            self.status = str(payload["status"])

    def on_unwritten(self, event_type: str, payload: Mapping[str, Any]) -> None:
        """Uncount an event whose line a buffering sink took but never stored.

        ``on_event`` in reverse, but for the status, which stays the session's (as with
        ``on_lost``). A count that falls to 0 is dropped, as if it had never been counted.
        """
        _less(self.by_type, event_type)
        if event_type in ("RISK_REJECTED", "ORDER_REJECTED"):
            _less(
                self.rejects_by_reason,
                str(payload.get("rule") or payload.get("reason") or "UNKNOWN"),
            )
        elif event_type == "PREFLIGHT_CHECK" and not payload.get("passed", True):
            _less(self.rejects_by_reason, str(payload.get("reason", "UNKNOWN")))
        elif event_type in FILL_EVENT_TYPES and payload.get("after_cancel"):
            self.late_fills -= 1
        elif event_type == "BROKER_CALL_RETRIED":
            _less(self.broker_retries, str(payload["operation"]))

    def count(self, event_type: str) -> int:
        """How many events of ``event_type`` were emitted."""
        return self.by_type.get(event_type, 0)

    def send_failures(self) -> int:
        """How many ``ORDER_REJECTED`` were sends that failed (``SEND_FAILED``).

        A transient error after every retry, or an order sent in doubt that the venue never
        showed: the order never reached the venue, which refused nothing.
        """
        return self.rejects_by_reason.get(SEND_FAILED, 0)

    def venue_rejects(self) -> int:
        """How many ``ORDER_REJECTED`` were the venue's refusals (all but failed sends)."""
        return self.count("ORDER_REJECTED") - self.send_failures()

    def document(self, *, run_id: str, audit_events: int, audit_head: str) -> dict[str, Any]:
        """The metrics.json object."""
        by_type = self.by_type
        return {
            "schema": METRICS_SCHEMA,
            "run_id": run_id,
            "status": self.status,
            "steps": by_type.get("BAR", 0),
            "events_emitted": sum(by_type.values()),
            "events_by_type": dict(sorted(by_type.items())),
            "audit_events": audit_events,
            "audit_head": audit_head,
            "state_snapshots": by_type.get("STATE_CHANGED", 0)
            + by_type.get("SESSION_STOPPED", 0)
            + by_type.get("SESSION_STARTED", 0),
            "sink_retries": by_type.get("SINK_WRITE_RETRIED", 0),
            "orders_submitted": by_type.get("ORDER_SUBMITTED", 0),
            "fills": sum(by_type.get(t, 0) for t in FILL_EVENT_TYPES),
            "rejects_by_reason": dict(sorted(self.rejects_by_reason.items())),
            **self._broker_faults(),
        }

    def _broker_faults(self) -> dict[str, Any]:
        """The venue's faults as the session saw them; a field is present once non-zero."""
        by_type = self.by_type
        counts: dict[str, Any] = {
            "broker_retries": dict(sorted(self.broker_retries.items())),
            "outcomes_unknown": by_type.get("ORDER_OUTCOME_UNKNOWN", 0),
            "outcomes_resolved": by_type.get("ORDER_OUTCOME_RESOLVED", 0),
            "duplicate_reports": by_type.get("DUPLICATE_REPORT", 0),
            "late_fills": self.late_fills,
            "broker_unhealthy": by_type.get("BROKER_UNHEALTHY", 0),
        }
        return {name: value for name, value in counts.items() if value}

    def get_state(self) -> dict[str, Any]:
        """JSON-compatible state (for checkpoints)."""
        return {
            "by_type": dict(self.by_type),
            "rejects_by_reason": dict(self.rejects_by_reason),
            "broker_retries": dict(self.broker_retries),
            "late_fills": self.late_fills,
            "status": self.status,
        }

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore ``get_state``'s snapshot."""
        self.by_type = dict(state["by_type"])
        self.rejects_by_reason = dict(state["rejects_by_reason"])
        self.broker_retries = dict(state.get("broker_retries", {}))
        self.late_fills = state.get("late_fills", 0)
        self.status = state["status"]


def _less(counts: dict[str, int], key: str) -> None:
    """One fewer of ``key``; at 0 it is gone."""
    left = counts.get(key, 0) - 1
    if left > 0:
        counts[key] = left
    else:
        counts.pop(key, None)
