"""What the report reads from a run directory: leniently, so broken runs still render."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._artifacts import names
from .._artifacts.runread import RunRecords, payload, read_json_object, read_records
from .._exceptions import MissingExtra
from .._rundir.livecut import live_cut
from ..verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ReportRun", "parse_utc_ns", "ts_sim_of"]

_NS_PER_S: Final = 10**9


def ts_sim_of(record: dict[str, Any]) -> int:
    """The record's ``ts_sim``, or 0 when it is not an integer."""
    value = record.get("ts_sim")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_utc_ns(text: object) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 UTC text (``...Z``), or None."""
    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    delta = moment - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * _NS_PER_S + delta.microseconds * 1000


@attrs.define
class ReportRun:
    """What the report needs, read leniently from the run directory."""

    run_dir: Path
    events: list[dict[str, Any]]
    snapshots: list[dict[str, Any]]
    metrics: dict[str, Any]
    violations: tuple[str, ...] | None
    live: str = ""
    """Empty, or (for a run a process is writing now) who and up to which checkpoint."""
    audit: list[dict[str, Any]] = attrs.Factory(list)
    config: dict[str, Any] = attrs.Factory(dict)
    """``config.json``: the effective config, its plug-in ``sources``; ``{}`` when missing."""
    run_meta: dict[str, Any] = attrs.Factory(dict)
    """``run.json``: config hash, version, data file; ``{}`` when missing."""
    _span: tuple[int, int] | None = attrs.field(default=None, init=False)

    @classmethod
    def load(cls, run_dir: Path) -> ReportRun:
        """Read ``run_dir``; ``violations`` is None when the verifier is not installed.

        A live run (a process holds its writer lock) is read, and verified, up to its last
        checkpoint: the same cut for both, and the lock is never taken.
        """
        live = live_cut(run_dir) if run_dir.is_dir() else None
        cut = None if live is None else live.cut
        metrics = read_json_object(run_dir / names.METRICS, cut)
        try:
            violations: tuple[str, ...] | None = verify_run(run_dir, live=live).violations
        except MissingExtra:
            violations = None
        records = RunRecords.read(run_dir, cut)
        return cls(
            run_dir=run_dir,
            events=records.events,
            snapshots=records.snapshots,
            metrics=metrics,
            violations=violations,
            live="" if live is None else live.describe(),
            audit=read_records(run_dir / names.AUDIT, cut),
            config=read_json_object(run_dir / names.CONFIG),
            run_meta=read_json_object(run_dir / names.RUN_META),
        )

    def _first(self, key: str) -> str:
        for record in (*self.events[:1], *self.snapshots[:1], self.metrics):
            if key in record:
                return str(record[key])
        return "(unknown)"

    @property
    def run_id(self) -> str:
        """The run id, from the first record that has one."""
        return self._first("run_id")

    @property
    def strategy_id(self) -> str:
        """The strategy id, from the first record that has one."""
        return self._first("strategy_id")

    @property
    def status(self) -> str:
        """The status of the last snapshot, else of the metrics."""
        if self.snapshots and "status" in self.snapshots[-1]:
            return str(self.snapshots[-1]["status"])
        return str(self.metrics.get("status", "(unknown)"))

    def span(self) -> tuple[int, int]:
        """First and last ts_sim of the run: the x range every chart shares."""
        if self._span is None:
            times = [ts_sim_of(r) for r in (*self.events, *self.snapshots)]
            self._span = (min(times), max(times)) if times else (0, 0)
        return self._span

    def of_type(self, *event_types: str) -> list[tuple[int, dict[str, Any]]]:
        """(ts_sim, payload) of the events of the given types, in order."""
        return [
            (ts_sim_of(event), payload(event))
            for event in self.events
            if event.get("event_type") in event_types
        ]

    @property
    def utc_offset_ns(self) -> int:
        """What to add to ``ts_sim`` for UTC nanoseconds since the epoch.

        A session's simulated time is epoch nanoseconds already (offset 0); the offset is
        read from the first record whose ``ts_utc`` parses, to the whole second (``ts_utc``
        may drop the fraction), so any run that stamps both draws on absolute UTC axes.
        """
        for record in (*self.events[:1], *self.snapshots[:1]):
            utc = parse_utc_ns(record.get("ts_utc"))
            if utc is not None:
                return round((utc - ts_sim_of(record)) / _NS_PER_S) * _NS_PER_S
        return 0

    def audit_ts_sim(self, record: dict[str, Any]) -> int | None:
        """An audit record's time (its ``ts``) on the ``ts_sim`` scale, or None."""
        utc = parse_utc_ns(record.get("ts"))
        return None if utc is None else utc - self.utc_offset_ns
