"""The audit records that copy an event, held to the events they copy.

The writer audits some events as it writes them: the record's code follows from the event
(``audit_code``), its payload is the event's (redacted), its ``ts`` the event's ``ts_utc``,
and the records come in the order of their events. ``C2_DRYRUN_STOP`` repeats
``SESSION_STOPPED``'s ``steps`` and ``reason`` (and ``status``, held to the final snapshot
elsewhere) at its ``ts_utc``. The other
records (``C2_RESUME``, ``C2_LEASE_*``) copy no event: each is stamped with the session's
time as it is written, so its ``ts`` lies between those of the records around it.

Without these checks, one audit record could be rewritten and the chain recomputed (the
seed, the config digest, a rejection's detail, the steps of the stop) and every other
check would still pass. The verifier keeps its own table of codes, as it keeps its own
reader: tests hold it to the writer's and to docs/artifacts.md.
"""

from __future__ import annotations

import re
from collections import deque
from typing import TYPE_CHECKING, Any, Final, NamedTuple

from .._support.secrets import REDACTED, is_secret_name
from ._reading import AUDIT, EVENTS

if TYPE_CHECKING:
    from ._reading import Line
    from ._result import Violations

__all__ = ["COPIED_CODES", "OWN_CODES", "Copies", "audit_code"]

COPIED_CODES: Final = {
    "SESSION_STARTED": "C2_DRYRUN_START",
    "SINK_WRITE_RETRIED": "C2_SINK_WRITE_RETRY",
    "SINK_WRITE_FAILED": "C2_SINK_WRITE_FAILED",
    "BROKER_CALL_RETRIED": "C2_BROKER_CALL_RETRY",
    "ORDER_OUTCOME_UNKNOWN": "C2_ORDER_OUTCOME_UNKNOWN",
    "ORDER_OUTCOME_RESOLVED": "C2_ORDER_OUTCOME_RESOLVED",
    "BROKER_UNHEALTHY": "C2_OPERATOR_REQUIRED",
    "KILL_SWITCH": "C2_KILL_SWITCH",
    "KILL_SWITCH_FLAT": "C2_KILL_SWITCH_FLAT",
    "OPERATOR_ACK": "C2_OPERATOR_ACK",
    "TRADING_REENABLED": "C2_OPERATOR_REENABLE",
    "RECONCILE_ESCALATED": "C2_RECONCILE_ESCALATED",
    "RECONCILED": "C2_RECONCILED",
    "TRADING_STATE_CHANGED": "C2_TRADING_STATE",
    "STRATEGY_ERROR": "C2_STRATEGY_ERROR",
    "FEED_ERROR": "C2_FEED_ERROR",
}
"""The event types always audited, by the code of their record."""
_REJECT_FIELD: Final = {
    "PREFLIGHT_CHECK": "reason",
    "RISK_REJECTED": "rule",
    "ORDER_REJECTED": "reason",
}
"""The event types audited as ``C2_REJECT_<field>`` (a preflight check only when failed)."""
OWN_CODES: Final = frozenset(
    {"C2_DRYRUN_STOP", "C2_RESUME", "C2_LEASE_ACQUIRED", "C2_LEASE_LOST", "C2_LEASE_ERROR"}
)
"""The codes of the records that copy no event."""
_STOP: Final = "C2_DRYRUN_STOP"
_STOP_FIELDS: Final = ("steps", "reason")  # its status: held to the final snapshot
_BEFORE_STOP_REASON: Final = ("0.0.", "0.1.")
"""The releases whose ``C2_DRYRUN_STOP`` never carried ``reason`` (``SESSION_STARTED``'s
``version``): a rejected or failed run of theirs has one in ``SESSION_STOPPED`` only."""
AUDITED_TYPES: Final = frozenset({*COPIED_CODES, *_REJECT_FIELD, "STATE_CHANGED"})
"""The event types that may be audited (the per-event fast test)."""


def audit_code(event_type: str, payload: dict[str, Any]) -> str | None:
    """The code of the record that copies this event, or None when it is not audited."""
    code = COPIED_CODES.get(event_type)
    if code is not None:
        return code
    field = _REJECT_FIELD.get(event_type)
    if field is not None:
        value = payload.get(field)
        if event_type == "PREFLIGHT_CHECK" and payload.get("passed") is not False:
            return None
        return f"C2_REJECT_{value}" if isinstance(value, str) else None
    if event_type == "STATE_CHANGED" and payload.get("to_state") == "ERROR_REQUIRES_OPERATOR":
        return "C2_OPERATOR_REQUIRED"
    return None


def _moment(ts: str) -> tuple[str, int]:
    """An RFC 3339 ``...Z`` text as something that orders by time (fractions of any length)."""
    whole, _, fraction = ts.rstrip("Z").partition(".")
    return whole, int(fraction.ljust(9, "0")[:9] or 0)


def _redacted(record: object, event: object, key: str = "") -> bool:
    """``record`` is ``event`` as the audit writes it: equal, or with secrets as ``***``.

    Redaction hides a secret-named key's whole value and a secret's span within a text;
    it changes nothing else.
    """
    if record == event:
        return True
    if record == REDACTED and is_secret_name(key):
        return True
    if isinstance(record, dict) and isinstance(event, dict):
        return record.keys() == event.keys() and all(
            _redacted(record[name], event[name], name) for name in record
        )
    if isinstance(record, list) and isinstance(event, list):
        return len(record) == len(event) and all(
            _redacted(r, e) for r, e in zip(record, event, strict=True)
        )
    if isinstance(record, str) and isinstance(event, str) and REDACTED in record:
        parts = (re.escape(part) for part in record.split(REDACTED))
        return re.fullmatch("(?s:.+?)".join(parts), event) is not None
    return False


class Copies:
    """The audited events as they stream by (``note``), then the audit held to them."""

    def __init__(self) -> None:
        self._expected: deque[tuple[int, str, str, dict[str, Any]]] = deque()
        self.stopped: tuple[int, str, dict[str, Any]] | None = None
        """``SESSION_STOPPED``: its line, ``ts_utc`` and payload."""
        self.first_wrong = 0
        """The first audit line found wrong against the events (0: none): a changed record."""
        self._stop_reason = True
        """Whether the stop record repeats a non-empty reason (False: 0.1.x wrote the run)."""

    def recorded_by(self, version: object) -> None:
        """The livesession ``version`` that wrote the run: before 0.2, the stop had no reason.

        Such a run's stop record that does carry a ``reason`` is still held to its event.
        """
        self._stop_reason = not str(version).startswith(_BEFORE_STOP_REASON)

    def note(self, number: int, kind: str, event: dict[str, Any]) -> None:
        """Keep what the audit must copy of event ``number`` (only audited types come here)."""
        payload = event["payload"]
        code = audit_code(kind, payload)
        if code is not None:
            self._expected.append((number, code, event["ts_utc"], payload))

    def note_stop(self, number: int, event: dict[str, Any]) -> None:
        """Keep ``SESSION_STOPPED``, which the stop record repeats."""
        self.stopped = (number, event["ts_utc"], event["payload"])

    def check(self, report: Violations, lines: list[Line], *, whole: bool) -> None:
        """Hold each audit record to its event, and the others' ``ts`` to their neighbours.

        ``whole``: the audit log and events.jsonl are complete and closed (no dead sink, not
        a live run, a stop record): then an audited event without its record, or a record
        without its event, is a violation; otherwise either file may end first.
        """
        expected = self._expected
        pairing = True  # until the audit and the events part ways (reported once)
        for index, line in enumerate(lines):
            record = line.obj
            if record is None:
                if pairing and expected and not _own_line(line):
                    expected.popleft()  # reported as invalid already: keep the pairing
                continue
            code = record["code"]
            if code in OWN_CODES:
                self._check_own(report, lines, index)
            elif pairing:
                pairing = self._pair(report, line.number, record, whole=whole)
        if pairing and whole and expected:
            number, want, _, _ = expected[0]
            more = f" (and {len(expected) - 1} more after it)" if len(expected) > 1 else ""
            report.add(EVENTS, number, f"audited as {want}, but {AUDIT} has no record of it{more}")

    def _pair(self, report: Violations, at: int, record: dict[str, Any], *, whole: bool) -> bool:
        """Hold the record on line ``at`` to the next audited event; False: stop pairing."""
        code = record["code"]
        if not self._expected:
            if whole:
                self._wrong(report, at, f"{code} copies no event of {EVENTS}")
            return False
        number, want, ts, payload = self._expected.popleft()
        if code != want:
            self._wrong(
                report,
                at,
                f"{code}, but the next audited event is {EVENTS}:{number} ({want}): "
                "the audit does not follow the events from here",
            )
            return False
        if record["ts"] != ts:
            self._wrong(report, at, f"ts {record['ts']} but {EVENTS}:{number} has {ts}")
        if not _redacted(record["payload"], payload):
            self._wrong(report, at, f"{code}'s payload is not that of {EVENTS}:{number}, its event")
        return True

    def _wrong(self, report: Violations, at: int, message: str) -> None:
        """Report audit line ``at`` as ``message`` says, and keep the first such line."""
        report.add(AUDIT, at, message)
        self.first_wrong = self.first_wrong or at

    def _check_own(self, report: Violations, lines: list[Line], index: int) -> None:
        """A record that copies no event: stamped in time order; the stop repeats its event.

        Its ``ts`` is held to the nearest records that copy an event or stop the run (their
        times are the events'), so a record stamped out of order is the one reported, not
        its neighbour.
        """
        line = lines[index]
        record = line.obj
        assert record is not None  # noqa: S101 - the caller checked
        if record["code"] == _STOP and self.stopped is not None:
            self._check_stop(report, line.number, record)
            return
        ts = _moment(record["ts"])
        before = _copy_near(lines, range(index - 1, -1, -1))
        after = _copy_near(lines, range(index + 1, len(lines)))
        if before is not None and ts < _moment(before.ts):
            self._wrong(
                report,
                line.number,
                f"ts {record['ts']} is before line {before.number}'s, {before.ts}",
            )
        elif after is not None and _moment(after.ts) < ts:
            self._wrong(
                report, line.number, f"ts {record['ts']} is after line {after.number}'s, {after.ts}"
            )

    def _check_stop(self, report: Violations, number: int, record: dict[str, Any]) -> None:
        assert self.stopped is not None  # noqa: S101 - the caller checked
        at, ts, stopped = self.stopped
        if record["ts"] != ts:
            report.add(
                AUDIT, number, f"ts {record['ts']} but SESSION_STOPPED ({EVENTS}:{at}) has {ts}"
            )
        stop = record["payload"]
        for field in _STOP_FIELDS:
            if field not in stop and field == "reason" and not self._stop_reason:
                continue  # 0.1.x wrote no reason there, whatever SESSION_STOPPED said
            # The stop writes what SESSION_STOPPED says; no reason is an empty one.
            said = stop.get(field, "" if field == "reason" else None)
            told = stopped.get(field, "" if field == "reason" else None)
            if said is not None and said != told:
                report.add(
                    AUDIT,
                    number,
                    f"stop {field} {said!r} but SESSION_STOPPED ({EVENTS}:{at}) says {told!r}",
                )


class _Stamp(NamedTuple):
    number: int
    ts: str


def _copy_near(lines: list[Line], indexes: range) -> _Stamp | None:
    """The line number and ``ts`` of the first valid record that copies an event (or stops)."""
    for index in indexes:
        record = lines[index].obj
        if record is not None and (record["code"] not in OWN_CODES or record["code"] == _STOP):
            return _Stamp(lines[index].number, record["ts"])
    return None


def _own_line(line: Line) -> bool:
    """Whether an invalid audit line still reads as a record that copies no event."""
    return any(f'"code":"{code}"'.encode() in line.raw for code in OWN_CODES)
