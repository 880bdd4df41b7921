"""The alert tap: an observer of the recorder's audit records that posts alerts.

Alerts follow the audit as the events sink and the metrics follow the events: the tap sees
every audit record the session makes (``Recorder.audit_observers``), asks
``_domain.alerts.alert_for`` whether it calls a person, and posts the ones that do to an
``AlertSink``. Nothing in the session calls it, and nothing it does can fail a step.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from .._domain.alerts import Alert, alert_for
from .._support.logging import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .._typing import AlertSink
    from .recorder import Recorder

__all__ = ["AlertTap", "ListAlertSink", "tap_alerts"]


class AlertTap:
    """Turns audit records into alerts for one run and posts them to ``sink``.

    ``where`` answers the session's lifecycle state and status at the time of the record.
    """

    def __init__(
        self, sink: AlertSink, *, run_id: str, where: Callable[[], tuple[str, str]]
    ) -> None:
        self.sink = sink
        self._run_id = run_id
        self._where = where
        self.failures = 0
        """Alerts the sink refused by raising (it should not; the step goes on)."""

    def __call__(self, code: str, payload: Mapping[str, Any], ts: str, seq: int) -> None:
        """Observe one audit record; post its alert, if it raises one."""
        try:
            state, status = self._where()
            alert = alert_for(
                code,
                payload,
                run_id=self._run_id,
                state=state,
                status=status,
                ts=ts,
                audit_seq=seq,
            )
            if alert is not None:
                self.sink.post(alert)
        except Exception as exc:  # noqa: BLE001 - an alert never fails the session
            self.failures += 1
            get_logger().warning(
                "alert_not_posted", run_id=self._run_id, audit_code=code, error=type(exc).__name__
            )

    def close(self) -> None:
        """Close the sink, when it has a ``close`` (a webhook drains its queue, bounded)."""
        close = getattr(self.sink, "close", None)
        if callable(close):
            try:
                close()
            except Exception as exc:  # noqa: BLE001 - closing alerts never fails the seal
                get_logger().warning(
                    "alert_sink_close_failed", run_id=self._run_id, error=type(exc).__name__
                )

    def __repr__(self) -> str:
        return f"AlertTap(run_id={self._run_id!r}, sink={type(self.sink).__name__})"


def tap_alerts(
    recorder: Recorder, sink: AlertSink, where: Callable[[], tuple[str, str]]
) -> AlertTap:
    """Observe ``recorder``'s audit records and post their alerts to ``sink``."""
    tap = AlertTap(sink, run_id=recorder.run_id, where=where)
    recorder.audit_observers.append(tap)
    return tap


class ListAlertSink:
    """Keeps alerts in a list (tests, and applications that read them on their own thread)."""

    def __init__(self) -> None:
        self.alerts: list[Alert] = []
        self._lock = threading.Lock()
        self.closed = False

    def post(self, alert: Alert) -> None:
        """Keep one alert."""
        with self._lock:
            self.alerts.append(alert)

    def close(self) -> None:
        """Mark the sink closed (the session closes it after the seal)."""
        self.closed = True

    def codes(self) -> list[str]:
        """The codes posted so far, in order."""
        with self._lock:
            return [alert.code for alert in self.alerts]

    def __repr__(self) -> str:
        return f"ListAlertSink({len(self.alerts)} alerts)"
