"""The checks of events.jsonl, one event at a time as the reader streams them.

Event ids, sequence numbers and timestamps, the first and the last event, the causal links
between events (``Links``), the orders and fills (``Replay``, with the cash and average
prices they imply: ``Money``) and, given the run's grid, its prices and quantities
(``Grid``). Nothing of an event is kept beyond what the later checks need.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Final

from .._domain.ids import stable_id
from ._copies import AUDITED_TYPES, Copies
from ._links import Links
from ._reading import EVENTS
from ._replay import Replay
from ._runmeta import RunRecords

if TYPE_CHECKING:
    from .._artifacts.runread import RunCut
    from ._grid import Grid
    from ._money import Money
    from ._result import Violations
    from ._stamps import Stamps

__all__ = ["EventChecks", "SeqCheck", "check_header"]

_BEFORE_REASON: Final = ("0.0.", "0.1.")
"""The releases whose ``RISK_REJECTED`` never carried ``reason`` (``SESSION_STARTED``'s
``version``)."""


class SeqCheck:
    """``seq`` runs 1, 2, 3 … in each file: a break is reported once, where it happens.

    Each record is held to the highest ``seq`` before it, not to its line number, so one
    lost line is one violation (with how many records are missing), not one per line after
    it; two swapped lines are two. Contiguous from 1 is the same rule: it holds exactly
    when no record is reported.
    """

    def __init__(self) -> None:
        self._highest: dict[str, int] = {}

    def expected(self, name: str) -> int:
        """The ``seq`` the next record of ``name`` should have: one past the highest so far."""
        return self._highest.get(name, 0) + 1

    def __call__(self, report: Violations, name: str, number: int, seq: int) -> None:
        expected = self.expected(name)
        if seq != expected:
            why = (
                f"{seq - expected} record(s) missing or moved"
                if seq > expected
                else "repeated or out of order"
            )
            report.add(name, number, f"seq is {seq}, expected {expected} ({why})")
        self._highest[name] = max(seq, expected - 1)


def check_header(
    report: Violations,
    name: str,
    number: int,
    record: dict[str, Any],
    identity: tuple[str, str] | None,
    *,
    seqs: SeqCheck,
) -> None:
    """``record``'s sequence number, time, run id and strategy id (those of the first event)."""
    seqs(report, name, number, record["seq"])
    key = "ts" if "ts" in record else "ts_utc"
    if isinstance(record.get(key), str) and _not_a_moment(record[key]):
        report.add(name, number, f"{key} {record[key]} is no moment of the calendar")
    if identity is None:
        return
    run_id, strategy_id = identity
    if record["run_id"] != run_id:
        report.add(name, number, f"run_id {record['run_id']!r} != {run_id!r}")
    if "strategy_id" in record and record["strategy_id"] != strategy_id:
        report.add(name, number, f"strategy_id {record['strategy_id']!r} != {strategy_id!r}")


@lru_cache(maxsize=256)
def _not_a_moment(stamp: str) -> bool:
    """``stamp``, of the schema's shape ``YYYY-MM-DDTHH:MM:SS[.f]Z``, names no moment.

    RFC 3339 (the contract's form) bounds each field by the calendar: no February 30,
    hour 24, minute 60 or month 13; a second of 60 only as a leap second, at 23:59:60.
    """
    whole = stamp[:19]
    if whole[11:] == "23:59:60":
        whole = whole[:17] + "59"
    try:
        dt.datetime.fromisoformat(whole)
    except ValueError:
        return True
    return False


class EventChecks:
    """Checks each event as it is read (``apply``), then what they add up to (``finish``).

    A check that crashes is reported once and ends the event checks (``replay`` stays
    None, as nothing can be said of what the events add up to); the reading goes on.
    """

    def __init__(
        self,
        report: Violations,
        cut: RunCut | None,
        grid: Grid | None,
        money: Money | None,
        stamps: Stamps | None = None,
    ) -> None:
        self.report = report
        self.stamps = stamps
        """The ``ts_utc`` the run's clock gives (``_stamps``), when config.json says it."""
        self.cut = cut
        self._grid = grid
        self.identity: tuple[str, str] | None = None
        self.replay: Replay | None = None
        self.sinks_said_failed: set[str] = set()
        """The sinks a valid ``SINK_WRITE_FAILED`` event names."""
        self._replay = Replay(report, money)
        self._links = Links(report)
        self.copies = Copies()
        """The audited events, which the audit's records must copy (``_copies``)."""
        self._last_ts = -1
        self._broken = False
        self._seqs = SeqCheck()
        self.first_bad_id = 0
        """The first line whose event id is not its content's (0: none): a changed line."""
        self.config_sha256: object = None
        """The config digest ``SESSION_STARTED`` records (``_config``), if it does."""
        self.version: object = None
        """The livesession version its ``SESSION_STARTED`` names: the run's, in the chain."""
        self.run_records = RunRecords()
        """What the events record that ``run.json`` repeats (``_runmeta``)."""

    def apply(
        self, number: int, event: dict[str, Any] | None, is_last: bool, seq: int | None = None
    ) -> None:
        """Check line ``number`` (``event``: its object, None when not valid; ``seq``: its own).

        A line that is not a valid event still counts in the sequence when its ``seq`` can
        be read: the event is there, only wrong, and the next one is not out of place.
        """
        if self._broken:
            return
        if event is None:
            if seq is not None:
                self._seqs(self.report, EVENTS, number, seq)
            return
        try:
            self._check(number, event, is_last=is_last)
        except Exception as exc:  # noqa: BLE001 - a verifier reports, it never crashes
            self._broken = True
            self.report.add(EVENTS, 0, f"could not be checked: {type(exc).__name__}: {exc}")

    def as_released(self, event: dict[str, Any]) -> dict[str, Any] | None:
        """A ``RISK_REJECTED`` of a release before 0.2 with the ``reason`` it never wrote.

        0.1.x wrote every rail's refusal without the ``reason`` its schema required (its
        own verify said so). The line stays a violation, but is checked as the refusal it
        is: dropped, it made every 0.1.x run a rail fired in say that its metrics count
        refusals the events do not hold (``rejects_by_reason ..., the run says {}``) and
        that their audit records copy no event. None: the line is judged as it is.
        """
        payload = event.get("payload")
        if (
            not str(self.version).startswith(_BEFORE_REASON)
            or event.get("event_type") != "RISK_REJECTED"
            or not isinstance(payload, dict)
            or "reason" in payload
        ):
            return None
        return {**event, "payload": {**payload, "reason": str(payload.get("rule"))}}

    def _first(self, number: int, kind: str, event: dict[str, Any]) -> None:
        """The run's identity, from its first event (which must be SESSION_STARTED)."""
        if number == 1 and kind != "SESSION_STARTED":
            self.report.add(EVENTS, 1, "the first event is not SESSION_STARTED")
        elif number == 1:
            self.config_sha256 = event["payload"].get("config_sha256")
            version = self.version = event["payload"].get("version")
            self._replay.money.recorded_by(version)
            self._links.recorded_by(version)
            self.copies.recorded_by(version)
            if self._grid is not None:
                self._grid.recorded_by(version)
        self.identity = (event["run_id"], event["strategy_id"])

    def _check_times(self, number: int, event: dict[str, Any]) -> None:
        """``ts_sim`` never goes back; ``ts_utc`` is the clock's reading then (``Stamps``)."""
        ts_sim = event["ts_sim"]
        if ts_sim < self._last_ts:
            self.report.add(EVENTS, number, f"ts_sim goes back to {ts_sim}")
        self._last_ts = max(self._last_ts, ts_sim)
        if self.stamps is not None:
            self.stamps.check(self.report, EVENTS, number, event)

    def _check(self, number: int, event: dict[str, Any], *, is_last: bool) -> None:
        kind = event["event_type"]
        if self.identity is None:
            self._first(number, kind, event)
        check_header(self.report, EVENTS, number, event, self.identity, seqs=self._seqs)
        self._check_times(number, event)
        payload = event["payload"]
        expected_id = stable_id(event["run_id"], event["strategy_id"], kind, event["seq"], payload)
        if event["event_id"] != expected_id:
            self.report.add(EVENTS, number, f"event_id {event['event_id']} != {expected_id}")
            self.first_bad_id = self.first_bad_id or number
        if kind == "SESSION_STOPPED" and not is_last:
            self.report.add(EVENTS, number, "SESSION_STOPPED is not the last event")
        if kind == "SINK_WRITE_FAILED":
            self.sinks_said_failed.update(payload["sinks"])
        self.run_records.note(kind, payload)
        if kind in AUDITED_TYPES:
            self.copies.note(number, kind, event)
        elif kind == "SESSION_STOPPED":
            self.copies.note_stop(number, event)
        self._replay.apply(number, kind, payload)
        if kind in ("STATE_CHANGED", "SESSION_STOPPED"):
            self._replay.moment(number, event)
        self._links.apply(number, event)
        if self._grid is not None:
            self._grid.event(number, kind, payload)

    def finish(self, counts: dict[str, int]) -> None:
        """After the last event: the counts, and the checkpoint's step of a live run."""
        if self._broken:
            return
        replay = self.replay = self._replay
        counts.update(
            bars=replay.kinds["BAR"],
            orders_submitted=replay.kinds["ORDER_SUBMITTED"],
            fills=replay.fills,
        )
        if self.cut is not None and replay.kinds["BAR"] != self.cut.steps:
            self.report.add(
                EVENTS,
                0,
                f"the checkpoint says step {self.cut.steps}, but the events up to its offset "
                f"hold {replay.kinds['BAR']} BAR events",
            )
