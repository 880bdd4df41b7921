"""The event spine: every domain event is emitted here once, and its subscribers follow.

Subscribers, in order: the events sink, the metrics collector, the audit writer (which
maps some events to audit codes) and the structured log. State snapshots, the audit
chain and metrics.json are written here too, so every artifact byte passes through one
place that counts offsets and digests and applies the fail-closed sink policy.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Final

import orjson

from .._exceptions import INTERRUPTS, SinkFailure
from .._support.crash import CRASH_LABEL as _CRASH_LABEL
from .._support.crash import crashpoint
from .._support.handlerraised import raised_in_handler
from .._support.logging import LOG_STATE, get_logger
from .._support.text import valid_payload
from .._typing import LineSink, MetricsSink
from . import names
from .audit_chain import AuditChain
from .metrics import MetricsCollector
from .metricsfile import metrics_content
from .sinkerrors import attempt as _attempt
from .sinkerrors import cause_of as _cause
from .sinkerrors import crash_at_write as _crash_at_write

__all__ = ["EVENTS_SCHEMA", "SNAPSHOT_SCHEMA", "AuditObserver", "Recorder", "crashpoint"]

EVENTS_SCHEMA: Final = "C2_DRYRUN_V1"
SNAPSHOT_SCHEMA: Final = "C2_STATE_V1"
_OPTS: Final = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
_SORT: Final = orjson.OPT_SORT_KEYS
_ROUTINE_EVENTS: Final = frozenset(
    {
        "BAR",
        "POSITION_CHANGED",
        "PREFLIGHT_CHECK",
        "SIGNAL",
        "ORDER_SUBMITTED",
        "ORDER_ACCEPTED",
        "ORDER_FILLED",
        "ORDER_PARTIALLY_FILLED",
    }
)
"""What a normal step does: recorded in events.jsonl, which is the record; the session log
repeats them only at debug level. Everything else (the lifecycle, rejects, faults,
operator and venue surprises) is logged at info."""
_QUIET_EVENTS: Final = frozenset({"BAR", "POSITION_CHANGED"})  # routine, never audited

AuditObserver = Callable[[str, Mapping[str, Any], str, int], None]
"""``(code, payload, ts, seq)`` of one audit record: its code, payload (not yet redacted),
``ts`` and the ``seq`` it has (or would have had, had the audit sink not died)."""


def _audit_for(event_type: str, payload: Mapping[str, Any]) -> str | None:
    """The audit code an event maps to, if any."""
    code = _DIRECT_CODES.get(event_type)
    if code is not None:
        return code
    if event_type == "PREFLIGHT_CHECK" and not payload["passed"]:
        return f"C2_REJECT_{payload['reason']}"
    if event_type == "RISK_REJECTED":
        return f"C2_REJECT_{payload['rule']}"
    if event_type == "ORDER_REJECTED":
        return f"C2_REJECT_{payload['reason']}"
    if event_type == "STATE_CHANGED" and payload["to_state"] == "ERROR_REQUIRES_OPERATOR":
        return "C2_OPERATOR_REQUIRED"
    return None


_DIRECT_CODES: Final = {
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


class Recorder:
    """Writes the four contract artifacts for one run."""

    def __init__(
        self,
        *,
        run_id: str,
        strategy_id: str,
        events: LineSink,
        states: LineSink,
        audit: LineSink,
        metrics: MetricsSink,
        max_sink_retries: int = 0,
        sync_each_line: bool = False,
    ) -> None:
        self.run_id = run_id
        self.strategy_id = strategy_id
        self._sinks: dict[str, LineSink] = {"events": events, "states": states, "audit": audit}
        self._metrics_sink = metrics
        self._max_retries = max_sink_retries
        self._sync_each_line = sync_each_line
        self.metrics = MetricsCollector()
        self.chain = AuditChain(run_id)
        self.event_seq = 0
        self.snapshot_seq = 0
        self._type_json: dict[str, bytes] = {}
        self._id_head = b"".join(
            (b"[", orjson.dumps(run_id), b",", orjson.dumps(strategy_id), b",")
        )
        schema = EVENTS_SCHEMA.encode()
        self._line_mid = b',"run_id":%b,"schema":"%b","seq":' % (orjson.dumps(run_id), schema)
        self._line_tail = b""
        self._tail_head = b',"strategy_id":' + orjson.dumps(strategy_id) + b',"ts_sim":'
        self.ts_sim = 0
        self.ts_utc = ""
        self.set_time(0, "")
        self.offsets: dict[str, int] = {"events": 0, "states": 0, "audit": 0}
        self.digests: dict[str, Any] = {"events": hashlib.sha256(), "states": hashlib.sha256()}
        self.dead: set[str] = set()
        self.failures: dict[str, str] = {}
        """Each dead sink's error, in the order they died (``metrics``: ``OSError: ...``)."""
        self.errnos: dict[str, int] = {}
        """The errno of each dead sink's error that has one (what to do depends on it)."""
        self.lost: dict[str, tuple[int, str]] = {}
        """``{sink: (line, error)}`` for each contract file whose sink failed for good while
        the run wrote it (``audit``, ``events``, ``states``), in the order they died: the
        number of the first line that could not be written (the file holds those before
        it), and why. ``metrics.json`` says both; such a run is not sealed."""
        self._written: dict[str, int] = {"events": 0, "states": 0, "audit": 0}
        self._flushed: dict[str, int] = {}
        self._synced: dict[str, int] = {}  # the offsets last flushed, and last synced, at
        self._unsynced: SinkFailure | None = None
        self._retry_events: list[dict[str, Any]] = []
        self._draining = False
        self.on_sink_failure: Callable[[str], None] | None = None
        self.audit_observers: list[AuditObserver] = []
        """Called with each audit record as the session makes it, even once the audit
        sink is dead (alerts follow the audit this way); an observer must not raise."""

    # -- time ----------------------------------------------------------------------------

    @property
    def sinks(self) -> Mapping[str, LineSink]:
        """The line sinks by artifact (``events``, ``states``, ``audit``), read-only."""
        return MappingProxyType(self._sinks)

    @property
    def audit_failure(self) -> tuple[int, str] | None:
        """``(record, error)`` once the audit sink failed for good (see ``lost``)."""
        return self.lost.get("audit")

    @property
    def metrics_sink(self) -> MetricsSink:
        """The sink ``metrics.json`` is written to."""
        return self._metrics_sink

    def set_time(self, ts_sim: int, ts_utc: str) -> None:
        """Stamp what follows with simulated time ``ts_sim`` and clock time ``ts_utc``."""
        self.ts_sim = ts_sim
        self.ts_utc = ts_utc
        self._line_tail = b'%b%d,"ts_utc":%b}\n' % (self._tail_head, ts_sim, orjson.dumps(ts_utc))

    # -- the spine ---------------------------------------------------------------------------

    def emit(self, event_type: str, payload: dict[str, Any], *, routine: bool = False) -> str:
        """Emit one domain event to every subscriber; returns its ``event_id``.

        The id is what a later event names to link back to this one (the causal links).
        ``routine``: logged at debug only, whatever its type (an OCO sibling's cancel).
        """
        seq = self.event_seq + 1
        # The line is assembled from pre-serialised pieces in sorted-key order: the same
        # bytes as orjson.dumps(record, OPT_SORT_KEYS), with one serialisation of the payload
        # shared by the line and the canonical list that event_id hashes.
        type_json = self._type_json.get(event_type)
        if type_json is None:
            type_json = self._type_json[event_type] = orjson.dumps(event_type)
        try:
            payload_json = orjson.dumps(payload, option=_SORT)
        except orjson.JSONEncodeError:  # a plug-in's text with a lone surrogate, say
            payload = valid_payload(payload)
            payload_json = orjson.dumps(payload, option=_SORT)
        seq_bytes = b"%d" % seq
        event_id = hashlib.sha256(
            b"".join((self._id_head, type_json, b",", seq_bytes, b",", payload_json, b"]"))
        ).hexdigest()[:24]
        line = b"".join(
            (
                b'{"event_id":"',
                event_id.encode("ascii"),
                b'","event_type":',
                type_json,
                b',"payload":',
                payload_json,
                self._line_mid,
                seq_bytes,
                self._line_tail,
            )
        )
        self.event_seq = seq
        try:
            written = self._write("events", line)
        except SinkFailure:
            self.metrics.on_lost(event_type, payload)
            raise
        if written:
            self.metrics.on_event(event_type, payload)
            self.digests["events"].update(line)
        else:  # metrics.json counts what events.jsonl holds, and the session's status
            self.metrics.on_lost(event_type, payload)
        quiet = event_type in _QUIET_EVENTS and not LOG_STATE.debug  # nothing to log or audit
        if not quiet or self._unsynced is not None or self._retry_events:  # a bar skips the call
            self._after_event(event_type, payload, seq, routine)
        return event_id

    def _after_event(self, event_type: str, payload: dict[str, Any], seq: int, debug: bool) -> None:
        """What follows an event's line: a failed sync, the audit record, the log, retries."""
        self._raise_unsynced()
        if event_type not in _QUIET_EVENTS:
            code = _audit_for(event_type, payload)
            if code is not None:
                self.audit(code, payload)
        if not debug and event_type not in _ROUTINE_EVENTS:
            get_logger().info(event_type.lower(), run_id=self.run_id, seq=seq, **payload)
        elif LOG_STATE.debug:
            get_logger().debug(event_type.lower(), run_id=self.run_id, seq=seq, **payload)
        if self._retry_events:
            self._drain_retry_events()

    def snapshot(self, record: dict[str, Any]) -> None:
        """Write one state snapshot (``record`` without schema, seq and times)."""
        self.snapshot_seq += 1
        record.update(schema=SNAPSHOT_SCHEMA, seq=self.snapshot_seq, run_id=self.run_id)
        record.update(strategy_id=self.strategy_id, ts_sim=self.ts_sim, ts_utc=self.ts_utc)
        try:
            line = orjson.dumps(record, option=_OPTS)
        except orjson.JSONEncodeError:  # a plug-in's text with a lone surrogate, say
            line = orjson.dumps(valid_payload(record), option=_OPTS)
        if self._write("states", line):
            self.digests["states"].update(line)
        self._raise_unsynced()
        self._drain_retry_events()

    def audit(self, code: str, payload: dict[str, Any], *, write: bool = True) -> None:
        """Append one record to the hash-chained audit log (its observers see it first).

        ``write=False``: only the observers see it (the seal of a run that is not sealed).
        """
        for observe in self.audit_observers:
            observe(code, payload, self.ts_utc, self.chain.seq + 1)
        if "audit" in self.dead or not write:
            return
        line = self.chain.build(code, payload, self.ts_utc)
        if self._write("audit", line):
            self.chain.commit(line)
        self._raise_unsynced()

    def write_metrics(self, *, status: str | None = None, ahead: bytes = b"") -> None:
        """Replace metrics.json with the current counts.

        ``status`` is the session's (the seal's): metrics.json says it once the events sink
        died, since no event can; otherwise the events' own stands. ``ahead``: the audit
        line about to be written (the seal's ``C2_DRYRUN_STOP``), counted as written.
        """
        seq, head = self.chain.seq, self.chain.head
        if ahead:
            seq, head = seq + 1, hashlib.sha256(ahead[:-1]).hexdigest()
        document = self.metrics.document(run_id=self.run_id, audit_events=seq, audit_head=head)
        content = metrics_content(
            document, status=status, lost=self.lost, states_written=self._written["states"]
        )
        self._with_retries("metrics", lambda: self._metrics_sink.replace(content))

    def close(self, *, abandon: bool = False) -> None:
        """Close the sinks this recorder owns (those with a ``close``; caller files stay open).

        Audit observers with a ``close`` (the alert tap) are closed first. A sink the file
        system refuses now is dead, with its error in ``failures``: it never raises here.
        ``abandon`` (a torn session): a sink with an ``abandon`` closes without writing
        the lines it holds.
        """
        for observer in self.audit_observers:
            close_observer = getattr(observer, "close", None)
            if callable(close_observer):
                close_observer()
        for name, sink in self._sinks.items():
            close = (abandon and getattr(sink, "abandon", None)) or getattr(sink, "close", None)
            if not callable(close):
                continue
            try:
                close()
            except OSError as exc:  # a full disk refused the last buffered lines
                if name not in self.dead:
                    self._mark_dead(name, exc)

    @property
    def unsealable(self) -> bool:
        """A sink died (a contract file lost lines, metrics.json was refused): never sealed."""
        return bool(self.dead)

    def failure_summary(self) -> str:
        """The dead sinks in one line: ``events sink failed at line 100 (OSError: ...)``."""
        said = []
        for name, error in self.failures.items():
            lost = self.lost.get(name)
            at = "" if lost is None else f" at {'record' if name == 'audit' else 'line'} {lost[0]}"
            said.append(f"{name} sink failed{at} ({error})")
        return "; ".join(said)

    def digest_hex(self) -> dict[str, str]:
        """SHA-256 of events.jsonl and state_snapshots.jsonl as written so far."""
        return {
            names.EVENTS: self.digests["events"].hexdigest(),
            names.SNAPSHOTS: self.digests["states"].hexdigest(),
        }

    def flush(self, *, sync: bool) -> None:
        """Flush every live sink written since the last flush; with ``sync``, make them durable.

        One call per step is the group commit: nothing a step wrote is acknowledged before it.
        A ``sync`` syncs what an unsynced flush wrote out too (the seal flushes first).
        """
        done = self._synced if sync else self._flushed
        for name, sink in self._sinks.items():
            if name in self.dead or done.get(name) == self.offsets[name]:
                continue
            self._with_retries(name, sink.sync if sync else sink.flush)
            self._flushed[name] = done[name] = self.offsets[name]

    # -- writing with the fail-closed policy --------------------------------------------------

    def _write(self, name: str, line: bytes) -> bool:
        if name in self.dead:
            return False
        sink = self._sinks[name]
        if _CRASH_LABEL:  # only ever set in the crash harness's child processes
            _crash_at_write(name, sink, line)
        failed: BaseException | None = None
        try:
            sink.write_line(line)
        except INTERRUPTS:
            raise
        except BaseException as exc:  # any sink error goes through the policy
            if raised_in_handler(exc):  # no sink failed: a retry could write the line twice
                raise
            failed = exc
        if failed is not None:
            self._retry(name, lambda: sink.write_line(line), failed)
        self._written[name] += 1
        self.offsets[name] += len(line)
        if self._sync_each_line:
            self._sync_line(name, sink)
        return True

    def _sync_line(self, name: str, sink: LineSink) -> None:
        """Sync the line just written; if that fails (EIO), a line the file holds stays written."""
        held = self._written[name]
        try:
            self._with_retries(name, sink.sync)
        except SinkFailure as exc:
            if self._written[name] < held:  # the write was refused: the file lacks the line
                raise
            self._unsynced = exc

    def _raise_unsynced(self) -> None:
        """Raise the failed sync of a line the caller counted (lost, it unsealed a seal)."""
        failure, self._unsynced = self._unsynced, None
        if failure is not None:
            raise failure

    def _with_retries(self, name: str, action: Callable[[], None]) -> None:
        failed = _attempt(action)
        if failed is not None:
            self._retry(name, action, failed)

    def _retry(self, name: str, action: Callable[[], None], first: BaseException) -> None:
        """``action`` failed once with ``first``: retry it, or mark the sink dead and stop."""
        error = first
        for attempt in range(1, self._max_retries + 1):
            again = _attempt(action)
            if again is not None:
                error = again
                continue
            self._retry_events.append(
                {"sink": name, "attempts": attempt, "error": type(error).__name__}
            )
            return
        where: dict[str, int] = {}
        if name in self._written:  # a contract file: the first line it does not hold
            line = self._stored_lines(name) + 1
            self.lost[name] = (line, _cause(error))
            where["audit_record" if name == "audit" else "line"] = line
        self._mark_dead(name, error, **where)
        if self.on_sink_failure is not None:
            self.on_sink_failure(name)
        raise SinkFailure(
            f"{name} sink failed after {self._max_retries} retries ({type(error).__name__}); "
            "the session stopped trading"
        ) from error

    def _stored_lines(self, name: str) -> int:
        """How many lines the file of ``name`` holds, now that its sink is given up.

        A buffering sink (``FileLineSink``) may have taken lines that never reached its file
        (a write refused part-way): it drops them (``drop_unwritten``), and they are
        uncounted here, the events from the metrics and the audit records from the chain,
        so that metrics.json counts what the files hold and the failure names the first
        line the file lacks.
        """
        drop = getattr(self._sinks[name], "drop_unwritten", None)
        dropped: bytes = drop() if callable(drop) else b""
        lines = dropped.splitlines()
        if name == "events":
            for raw in lines:
                event = orjson.loads(raw)
                self.metrics.on_unwritten(event["event_type"], event["payload"])
        elif name == "audit" and lines:  # the chain goes back to the last record written
            first = orjson.loads(lines[0])
            self.chain.seq, self.chain.head = first["seq"] - 1, first["prev_hash"]
        self._written[name] -= len(lines)
        self.offsets[name] -= len(dropped)
        return self._written[name]

    def _mark_dead(self, name: str, error: BaseException, **where: int) -> None:
        """``name`` is written no more: in ``dead``, ``failures`` and ``errnos``, and logged."""
        cause = _cause(error)
        self.dead.add(name)
        self.failures.setdefault(name, cause)
        if isinstance(error, OSError) and error.errno:
            self.errnos.setdefault(name, error.errno)
        get_logger().error("sink_failed", run_id=self.run_id, sink=name, error=cause, **where)

    def log_late_retries(self) -> None:
        """Log the retries after the run's last event (the seal's): no event can hold them."""
        while self._retry_events:
            retry = self._retry_events.pop(0)
            get_logger().warning("sink_write_retried_after_seal", run_id=self.run_id, **retry)

    def _drain_retry_events(self) -> None:
        if not self._retry_events or self._draining:
            return
        self._draining = True
        try:
            while self._retry_events:
                self.emit("SINK_WRITE_RETRIED", self._retry_events.pop(0))
        finally:
            self._draining = False

    # -- checkpoints -----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Counters, offsets, SHA-256s up to them (not a dead sink's), the audit head."""
        return {
            "event_seq": self.event_seq,
            "snapshot_seq": self.snapshot_seq,
            "audit_seq": self.chain.seq,
            "audit_head": self.chain.head,
            "offsets": dict(self.offsets),
            "sha256": {k: v.hexdigest() for k, v in self.digests.items() if k not in self.dead},
            "ts_sim": self.ts_sim,
            "ts_utc": self.ts_utc,
            "metrics": self.metrics.get_state(),
        }

    def set_state(self, state: Mapping[str, Any], digests: Mapping[str, Any]) -> None:
        """Restore counters and running digests (re-hashed from the files by the caller)."""
        self.event_seq = state["event_seq"]
        self.snapshot_seq = state["snapshot_seq"]
        self.chain.seq = state["audit_seq"]
        self.chain.head = state["audit_head"]
        self.offsets = dict(state["offsets"])
        self._written = {
            "events": self.event_seq,
            "states": self.snapshot_seq,
            "audit": self.chain.seq,
        }
        self.set_time(state["ts_sim"], state["ts_utc"])
        self.metrics.set_state(state["metrics"])
        self.digests = dict(digests)
