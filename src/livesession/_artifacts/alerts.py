"""The alert tap: an observer of the recorder's audit records that posts alerts.

Alerts follow the audit as the events sink and the metrics follow the events: the tap sees
every audit record the session makes (``Recorder.audit_observers``), asks
``_domain.alerts.alert_for`` whether it calls a person, and posts the ones that do to an
``AlertSink``. Nothing it does can fail a step.

The seal's alert is the one exception: the tap sees ``C2_DRYRUN_STOP`` before it is
written, and a full disk may still keep it (or the sealing checkpoint) off the disk, so
the alert waits for the session to ``settle`` the run: posted once the run is sealed on
disk, replaced by ``RUN_UNSEALED`` when it is not (as when the session closes unsealed).
An alert never names a record the run does not hold.

One sink may serve several sessions at once (an application's pager): each session's tap
counts itself among its users, and the sink is closed when the last of them closes, not by
the first (whose close would leave the others posting into a closed sink, their alerts
dropped without a word). A tap whose session was never finished (dropped unclosed, or its
building failed) counts only while it is alive.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING, Any

import attrs

from .._domain.alerts import SEAL_AUDIT_CODE, Alert, alert_for, unsealed_alert
from .._exceptions import INTERRUPTS
from .._support.calledfrom import calling
from .._support.logging import get_logger

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .._typing import AlertSink
    from .recorder import Recorder

__all__ = ["AlertTap", "ListAlertSink", "tap_alerts"]


_USERS_LOCK = threading.Lock()
_USERS: dict[int, tuple[AlertSink, weakref.WeakSet[AlertTap]]] = {}
"""By ``id`` of a sink: the sink, and the taps that post to it and have not closed."""


def _use(sink: AlertSink, tap: AlertTap) -> None:
    """Count ``tap`` among the users of ``sink``."""
    with _USERS_LOCK:
        for key in [key for key, (_, taps) in _USERS.items() if not taps]:
            del _USERS[key]  # every user was dropped unclosed: nothing holds it
        _USERS.setdefault(id(sink), (sink, weakref.WeakSet()))[1].add(tap)


def _last_user(sink: AlertSink, tap: AlertTap) -> bool:
    """``tap`` is done with ``sink``: whether no other tap still posts to it."""
    with _USERS_LOCK:
        held, taps = _USERS.get(id(sink), (None, None))
        if held is not sink or taps is None:
            return True
        taps.discard(tap)
        if taps:
            return False
        del _USERS[id(sink)]
        return True


class AlertTap:
    """Turns ``recorder``'s audit records into alerts for one run and posts them to ``sink``.

    ``where`` answers the session's lifecycle state and status at the time of the record.
    """

    def __init__(
        self, sink: AlertSink, *, recorder: Recorder, where: Callable[[], tuple[str, str]]
    ) -> None:
        self.sink = sink
        self._recorder = recorder
        self._run_id = recorder.run_id
        self._where = where
        self.failures = 0
        """Alerts the sink refused by raising (it should not; the step goes on)."""
        self._sealing: Alert | None = None  # the seal's alert, until ``settle``
        self._settled = False
        # The codes of the last two records seen, by seq: the last one the audit holds is
        # among them (a record it refused is seen again under the same seq).
        self._seen: tuple[tuple[int, str], tuple[int, str]] = ((0, ""), (0, ""))
        self._closed = False
        _use(sink, self)

    def __call__(self, code: str, payload: Mapping[str, Any], ts: str, seq: int) -> None:
        """Observe one audit record; post its alert, if it raises one (the seal's: later)."""
        last = self._seen[1]
        self._seen = (last if last[0] != seq else self._seen[0], (seq, code))
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
            if alert is not None and code == SEAL_AUDIT_CODE:
                self._sealing = alert  # not on disk yet: ``settle`` posts it, or not
            elif alert is not None:
                self._post(alert)
        except INTERRUPTS:
            raise
        except BaseException as exc:  # noqa: BLE001 - an alert never fails the session
            self._failed(code, exc)

    def _post(self, alert: Alert) -> None:
        with calling("an alert sink's post"):
            self.sink.post(alert)

    def settle(
        self,
        *,
        sealed: bool,
        torn: str = "",
        error: str = "",
        unwritten: str = "",
        unsynced: str = "",
    ) -> None:
        """The session is done with its run: post the seal's alert, or ``RUN_UNSEALED``.

        ``sealed``: the seal record is written and the run sealed on disk. Otherwise a
        sink refused the seal, or ``torn`` (with its ``error``) tore the session (a refused
        idempotency store): the run needs a person to resume it. ``unwritten``: why the
        sealing checkpoint was refused (the run is sealed all the same; the seal's alert
        says so in its ``detail``, ``sealing_checkpoint``). ``unsynced``: the sync that
        failed after the stop record reached its file (``detail.durability``). Once only;
        ``close`` settles a run left unsettled as unsealed.
        """
        if self._settled:
            return
        self._settled = True
        held, self._sealing = self._sealing, None
        try:
            if not sealed:
                self._post(self._unsealed(torn, error))
            elif held is not None:
                if unwritten:
                    said = f"not written ({unwritten}); `livesession resume` writes it"
                    held = attrs.evolve(held, detail={**held.detail, "sealing_checkpoint": said})
                if unsynced:
                    said = f"sealed, but not known to be on disk: {unsynced}"
                    held = attrs.evolve(held, detail={**held.detail, "durability": said})
                self._post(held)
        except INTERRUPTS:
            raise
        except BaseException as exc:  # noqa: BLE001 - an alert never fails the session
            self._failed(SEAL_AUDIT_CODE, exc)

    def _unsealed(self, torn: str, error: str) -> Alert:
        """``RUN_UNSEALED`` naming what kept the seal off the disk and where the audit ends."""
        rec = self._recorder
        said = [f"interrupted by {torn}{f' ({error})' if error else ''}"] if torn else []
        if rec.failures:
            said.append(rec.failure_summary())
        why = "; ".join(said) or "the session closed before its seal"
        state, status = self._where()
        held = rec.chain.seq
        detail: dict[str, Any] = {"sinks": sorted(rec.dead)}
        if torn:
            detail["interrupted_by"] = torn
        return unsealed_alert(
            run_id=self._run_id,
            state=state,
            status=status,
            why=why,
            ts=rec.ts_utc,
            audit_seq=held,
            audit_code=next((code for seq, code in self._seen if seq == held), ""),
            detail=detail,
        )

    def _failed(self, code: str, exc: BaseException) -> None:
        self.failures += 1
        get_logger().warning(
            "alert_not_posted", run_id=self._run_id, audit_code=code, error=type(exc).__name__
        )

    def close(self) -> None:
        """Settle a run still unsettled (unsealed), then close the sink if it is the last user.

        The sink is closed if it has a ``close`` and no other session's tap still posts to
        it; once only. A webhook drains its queue, bounded.
        """
        self.settle(sealed=False)
        if self._closed:
            return
        self._closed = True
        close = getattr(self.sink, "close", None)
        if callable(close) and _last_user(self.sink, self):
            try:
                close()
            except INTERRUPTS:
                raise
            except BaseException as exc:  # noqa: BLE001 - closing alerts never fails the seal
                get_logger().warning(
                    "alert_sink_close_failed", run_id=self._run_id, error=type(exc).__name__
                )
        counts = getattr(self.sink, "counts", None)  # a webhook's: what it could not deliver
        if isinstance(counts, dict):
            lost = {k: counts.get(k, 0) for k in ("failed", "dropped", "abandoned")}
            if any(lost.values()):
                get_logger().warning("alerts_not_delivered", run_id=self._run_id, **lost)

    def __repr__(self) -> str:
        return f"AlertTap(run_id={self._run_id!r}, sink={type(self.sink).__name__})"


def tap_alerts(
    recorder: Recorder, sink: AlertSink, where: Callable[[], tuple[str, str]]
) -> AlertTap:
    """Observe ``recorder``'s audit records and post their alerts to ``sink``."""
    tap = AlertTap(sink, recorder=recorder, where=where)
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
