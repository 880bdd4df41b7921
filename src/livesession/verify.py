"""Check a run directory against the artifact contract, without trusting the writer.

``verify_run`` reads the four contract artifacts (``events.jsonl``,
``state_snapshots.jsonl``, ``metrics.json``, ``audit.jsonl``) as raw bytes and recomputes
everything it can: the canonical form of every line, the JSON schemas, the audit hash
chain and the digests it closes with, event ids, sequence numbers, the lifecycle
transitions, the metrics and the positions implied by the fills.

It shares no code with the session that wrote the run: only the lifecycle table
(``_lifecycle``), ``stable_id`` and the JSON schemas shipped in ``livesession/schemas``.
It never raises on bad input: whatever it cannot read or check becomes a violation.
"""

from __future__ import annotations

import hashlib
import types
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from ._artifacts import names
from ._domain.ids import stable_id
from ._domain.lifecycle import STATUS_BY_STATE, TRANSITIONS, SessionState, SessionStatus
from ._support.optional import import_optional

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    import jsonschema

__all__ = ["ARTIFACT_NAMES", "VerifyResult", "read_records", "verify_run"]

EVENTS: Final = names.EVENTS
SNAPSHOTS: Final = names.SNAPSHOTS
METRICS: Final = names.METRICS
AUDIT: Final = names.AUDIT

#: The four contract artifacts, in the order they are checked.
ARTIFACT_NAMES: Final = (EVENTS, SNAPSHOTS, METRICS, AUDIT)

_SCHEMA_FILES: Final = {
    EVENTS: "events.schema.json",
    SNAPSHOTS: "state_snapshots.schema.json",
    METRICS: "metrics.schema.json",
    AUDIT: "audit.schema.json",
}
_GENESIS_HASH: Final = "0" * 64
_FILL_TYPES: Final = frozenset({"ORDER_FILLED", "ORDER_PARTIALLY_FILLED"})
_ENDED_STATUSES: Final = frozenset(
    {SessionStatus.COMPLETED.value, SessionStatus.REJECTED.value, SessionStatus.FAILED.value}
)
_LEGAL_MOVES: Final = frozenset((t.value, src.value, dst.value) for t, src, dst in TRANSITIONS)
_STATUS_OF: Final = {state.value: status.value for state, status in STATUS_BY_STATE.items()}
_FAILED: Final = SessionStatus.FAILED.value
_MAX_PER_FILE: Final = 50
_MAX_SCHEMA_ERRORS_PER_LINE: Final = 3
_MAX_MESSAGE: Final = 200
_MAX_VALUE: Final = 80


def _as_mapping(value: Mapping[str, int]) -> Mapping[str, int]:
    return types.MappingProxyType(dict(sorted(value.items())))


@attrs.frozen(kw_only=True)
class VerifyResult:
    """The outcome of ``verify_run``.

    ``ok`` is true exactly when ``violations`` is empty. Each violation is one line,
    ``<file>:<line>: <what>``; line 0 means the file as a whole. ``counts`` holds what
    was read (lines per artifact, bars, orders submitted, fills), read-only.
    """

    ok: bool
    violations: tuple[str, ...]
    counts: Mapping[str, int] = attrs.field(converter=_as_mapping, hash=False)


def verify_run(run_dir: Path | str) -> VerifyResult:
    """Verify the run in ``run_dir`` against ARTIFACTS.md; never raises on bad artifacts.

    Raises:
        MissingExtra: ``jsonschema`` is not installed (``livesession[observability]``).
    """
    run = _Verifier(Path(run_dir), _Schemas.get())
    run.run()
    return VerifyResult(ok=not run.report.lines, violations=run.report.finish(), counts=run.counts)


def read_records(path: Path) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file, skipping anything that is not one.

    Lenient on purpose (for reports and metrics of runs that may be incomplete); use
    ``verify_run`` to learn whether a run is intact. A missing file gives ``[]``.
    """
    try:
        raw = path.read_bytes()
    except OSError:
        return []
    records: list[dict[str, Any]] = []
    for line in raw.split(b"\n"):
        if not line:
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            records.append(obj)
    return records


# --- reading -------------------------------------------------------------------------


@attrs.define
class _Line:
    """One line of a JSON Lines artifact: its number, raw bytes and, if valid, the object."""

    number: int
    raw: bytes
    obj: dict[str, Any] | None


class _Report:
    """Collects violations, at most ``_MAX_PER_FILE`` listed per file."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._per_file: Counter[str] = Counter()

    def add(self, name: str, line: int, message: str) -> None:
        self._per_file[name] += 1
        if self._per_file[name] <= _MAX_PER_FILE:
            self.lines.append(f"{name}:{line}: {_one_line(message)}")

    def finish(self) -> tuple[str, ...]:
        hidden = [
            f"{name}:0: {count - _MAX_PER_FILE} more violations not listed"
            for name, count in sorted(self._per_file.items())
            if count > _MAX_PER_FILE
        ]
        return (*self.lines, *hidden)


def _one_line(message: str) -> str:
    text = message.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def _first_float(obj: object) -> str | None:
    """The path of the first float in ``obj``, or None; iterative, so depth cannot crash it."""
    stack: list[tuple[str, object]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float):
            return path or "(top level)"
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), v) for key, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return None


class _Schemas:
    """Validators for the four artifacts, built once per process from the shipped schemas.

    Same verdicts as validating against the schema files as they are, only faster: local
    ``$ref``s are inlined, and an event is checked against the events schema with only
    the ``if``/``then`` branches of its own ``event_type`` (the others cannot apply).
    """

    _instance: _Schemas | None = None

    def __init__(self) -> None:
        module = import_optional("jsonschema", "observability")
        folder = Path(__file__).parent / "schemas"
        self._validator_class = module.Draft202012Validator
        self._full: dict[str, jsonschema.protocols.Validator] = {}
        self._by_event_type: dict[str, jsonschema.protocols.Validator] = {}
        for artifact, file_name in _SCHEMA_FILES.items():
            schema = orjson.loads((folder / file_name).read_bytes())
            inlined = _inline_refs(schema, schema.get("$defs", {}))
            self._full[artifact] = self._validator_class(inlined)
            if artifact == EVENTS:
                self._specialise_events(inlined)

    @classmethod
    def get(cls) -> _Schemas:
        # Every time: the extra may have gone since the first call.
        import_optional("jsonschema", "observability")
        if cls._instance is None:
            cls._instance = cls()
        return cls._instance

    def _specialise_events(self, schema: dict[str, Any]) -> None:
        branches: list[dict[str, Any]] = schema.get("allOf", [])
        event_types = {t for branch in branches for t in _branch_event_types(branch)}
        for event_type in sorted(event_types):
            kept = [b for b in branches if event_type in _branch_event_types(b)]
            self._by_event_type[event_type] = self._validator_class({**schema, "allOf": kept})
        plain = {key: value for key, value in schema.items() if key != "allOf"}
        self._by_event_type[""] = self._validator_class(plain)

    def errors(self, artifact: str, obj: dict[str, Any]) -> list[str]:
        """Up to three schema errors of ``obj``, as readable strings; [] when valid."""
        validator = self._full[artifact]
        event_type = obj.get("event_type")
        if artifact == EVENTS and isinstance(event_type, str):
            validator = self._by_event_type.get(event_type, self._by_event_type[""])
        found = sorted(validator.iter_errors(obj), key=lambda e: [str(p) for p in e.absolute_path])
        return [
            f"schema: {'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
            for e in found[:_MAX_SCHEMA_ERRORS_PER_LINE]
        ]


def _branch_event_types(branch: dict[str, Any]) -> list[str]:
    """The event types an ``if: {properties: {event_type: {enum: [...]}}}`` branch is for."""
    enum: list[str] = (
        branch.get("if", {}).get("properties", {}).get("event_type", {}).get("enum", [])
    )
    return enum


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """``node`` with every ``{"$ref": "#/$defs/name"}`` replaced by the definition."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            target = _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
            siblings = {k: _inline_refs(v, defs) for k, v in node.items() if k != "$ref"}
            return {"allOf": [target], **siblings} if siblings else target
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


# --- the checks ----------------------------------------------------------------------


class _Verifier:
    """One verification: reads the artifacts once, then runs each check in turn."""

    def __init__(self, run_dir: Path, schemas: _Schemas) -> None:
        self.run_dir = run_dir
        self.schemas = schemas
        self.report = _Report()
        self.raw: dict[str, bytes | None] = {}
        self.lines: dict[str, list[_Line]] = {}
        self.metrics: dict[str, Any] | None = None
        self.metrics_fields: frozenset[str] = frozenset()
        self.metrics_text: list[str] = []
        self.counts: dict[str, int] = {}
        self.identity: tuple[str, str] | None = None
        self.replay: _Replay | None = None
        self.final_snapshot: dict[str, Any] | None = None
        self.audit_status: str | None = None

    def run(self) -> None:
        checks: tuple[tuple[str, Callable[[], None]], ...] = (
            ("(run directory)", self._read_all),
            (EVENTS, self._check_events),
            (SNAPSHOTS, self._check_snapshots),
            (AUDIT, self._check_audit),
            (METRICS, self._check_metrics),
        )
        for name, check in checks:
            try:
                check()
            except Exception as exc:  # noqa: BLE001 - a verifier reports, it never crashes
                self.report.add(name, 0, f"could not be checked: {type(exc).__name__}: {exc}")

    # reading

    def _read_all(self) -> None:
        if not self.run_dir.is_dir():
            self.report.add(str(self.run_dir), 0, "run directory does not exist")
        for name in ARTIFACT_NAMES:
            try:
                raw = (self.run_dir / name).read_bytes()
            except FileNotFoundError:
                self.report.add(name, 0, "missing")
                raw = None
            except OSError as exc:
                self.report.add(name, 0, f"cannot be read: {type(exc).__name__}")
                raw = None
            self.raw[name] = raw
            if raw is None:
                self.lines[name] = []
            elif name == METRICS:
                self._read_metrics(raw)
            else:
                self.lines[name] = self._read_jsonl(name, raw)
            self.counts[name] = len(self.lines.get(name, ()))
        self.counts[METRICS] = int(self.metrics is not None)

    def _read_jsonl(self, name: str, raw: bytes) -> list[_Line]:
        if not raw:
            self.report.add(name, 0, "empty file")
            return []
        chunks = raw.split(b"\n")
        if chunks[-1]:
            self.report.add(name, len(chunks), "last line does not end with \\n (torn line)")
        else:
            chunks.pop()
        return [self._parse_line(name, number, chunk) for number, chunk in enumerate(chunks, 1)]

    def _parse_line(self, name: str, number: int, raw: bytes) -> _Line:
        obj = self._parse_object(name, number, raw)
        if obj is None:
            return _Line(number, raw, None)
        if orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) != raw:
            self.report.add(name, number, "not in canonical form (sorted keys, no spaces)")
        errors = self.schemas.errors(name, obj)
        for error in errors:
            self.report.add(name, number, error)
        return _Line(number, raw, None if errors else obj)

    def _parse_object(self, name: str, number: int, raw: bytes) -> dict[str, Any] | None:
        if not raw:
            self.report.add(name, number, "empty line")
            return None
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self.report.add(name, number, f"not valid JSON: {exc}")
            return None
        if not isinstance(obj, dict):
            self.report.add(name, number, f"not a JSON object but {type(obj).__name__}")
            return None
        float_at = _first_float(obj)
        if float_at is not None:
            self.report.add(name, number, f"float at {float_at}: numbers must be ints or strings")
            return None
        return obj

    def _read_metrics(self, raw: bytes) -> None:
        if not raw:
            self.report.add(METRICS, 0, "empty file")
            return
        obj = self._parse_object(METRICS, 1, raw)
        if obj is None:
            return
        self.metrics_text = raw.decode("utf-8", errors="replace").split("\n")
        compact = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        indented = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
        if raw not in (compact + b"\n", indented + b"\n"):
            self.report.add(
                METRICS,
                0,
                "not in canonical form (sorted keys, compact or 2-space indent, one final \\n)",
            )
        errors = self.schemas.errors(METRICS, obj)
        for error in errors:
            self.report.add(METRICS, 1, error)
        if not errors:
            self.metrics = obj
            self.metrics_fields = frozenset(obj)

    # events

    def _check_events(self) -> None:
        lines = self.lines[EVENTS]
        valid = _valid(lines)
        if lines and lines[0].obj is not None and lines[0].obj["event_type"] != "SESSION_STARTED":
            self.report.add(EVENTS, 1, "the first event is not SESSION_STARTED")
        if valid:
            self.identity = (valid[0][1]["run_id"], valid[0][1]["strategy_id"])
        last_ts = -1
        replay = _Replay(self.report)
        for number, event in valid:
            self._check_header(EVENTS, number, event)
            if event["ts_sim"] < last_ts:
                self.report.add(EVENTS, number, f"ts_sim goes back to {event['ts_sim']}")
            last_ts = max(last_ts, event["ts_sim"])
            expected_id = stable_id(
                event["run_id"],
                event["strategy_id"],
                event["event_type"],
                event["seq"],
                event["payload"],
            )
            if event["event_id"] != expected_id:
                self.report.add(EVENTS, number, f"event_id {event['event_id']} != {expected_id}")
            if event["event_type"] == "SESSION_STOPPED" and number != len(lines):
                self.report.add(EVENTS, number, "SESSION_STOPPED is not the last event")
            replay.apply(number, event["event_type"], event["payload"])
        self.replay = replay
        self.counts.update(
            bars=replay.kinds["BAR"],
            orders_submitted=replay.kinds["ORDER_SUBMITTED"],
            fills=replay.fills,
        )

    def _check_header(self, name: str, number: int, record: dict[str, Any]) -> None:
        if record["seq"] != number:
            self.report.add(name, number, f"seq is {record['seq']}, expected {number}")
        if self.identity is None:
            return
        run_id, strategy_id = self.identity
        if record["run_id"] != run_id:
            self.report.add(name, number, f"run_id {record['run_id']!r} != {run_id!r}")
        if "strategy_id" in record and record["strategy_id"] != strategy_id:
            self.report.add(
                name, number, f"strategy_id {record['strategy_id']!r} != {strategy_id!r}"
            )

    # state snapshots

    def _check_snapshots(self) -> None:
        lines = self.lines[SNAPSHOTS]
        if not lines:
            return
        transitions: list[tuple[str, str, str]] = []
        previous: dict[str, Any] | None = None
        failed = False
        for line in lines:
            snap = line.obj
            if snap is None:
                previous = None
                continue
            self._check_header(SNAPSHOTS, line.number, snap)
            is_final = line.number == len(lines)
            if line.number == 1:
                self._check_first_snapshot(snap)
            else:
                self._check_snapshot_move(line.number, snap, previous, is_final, transitions)
            self._check_snapshot_status(line.number, snap, failed=failed, is_final=is_final)
            failed = failed or snap["status"] == _FAILED
            previous = snap
        self.final_snapshot = lines[-1].obj
        if self.final_snapshot is not None and self.final_snapshot["trigger"] != "final":
            self.report.add(SNAPSHOTS, len(lines), "the last snapshot's trigger is not 'final'")
        if self.replay is not None and transitions != self.replay.state_changes:
            self.report.add(
                SNAPSHOTS, 0, "transitions differ from the STATE_CHANGED events in events.jsonl"
            )
        self._check_final_book(len(lines))

    def _check_first_snapshot(self, snap: dict[str, Any]) -> None:
        initial = SessionState.INIT.value
        found = (snap["trigger"], snap["from_state"], snap["fsm_state"], snap["status"])
        if found != ("start", initial, initial, initial):
            self.report.add(SNAPSHOTS, 1, "the first snapshot is not INIT/INIT/start/INIT")

    def _check_snapshot_move(
        self,
        number: int,
        snap: dict[str, Any],
        previous: dict[str, Any] | None,
        is_final: bool,
        transitions: list[tuple[str, str, str]],
    ) -> None:
        trigger, source, state = snap["trigger"], snap["from_state"], snap["fsm_state"]
        if previous is not None:
            self._check_snapshot_order(number, snap, previous)
        if trigger == "start":
            self.report.add(SNAPSHOTS, number, "trigger 'start' after the first snapshot")
        elif trigger == "final":
            if not is_final:
                self.report.add(SNAPSHOTS, number, "a 'final' snapshot that is not the last")
            if source != state:
                self.report.add(SNAPSHOTS, number, "the final snapshot changes the state")
        else:
            transitions.append((trigger, source, state))
            if (trigger, source, state) not in _LEGAL_MOVES:
                self.report.add(
                    SNAPSHOTS, number, f"illegal transition {source} --{trigger}--> {state}"
                )

    def _check_snapshot_order(
        self, number: int, snap: dict[str, Any], previous: dict[str, Any]
    ) -> None:
        if snap["from_state"] != previous["fsm_state"]:
            self.report.add(
                SNAPSHOTS,
                number,
                f"from_state {snap['from_state']} but the state was {previous['fsm_state']}",
            )
        if snap["ts_sim"] < previous["ts_sim"]:
            self.report.add(SNAPSHOTS, number, f"ts_sim goes back to {snap['ts_sim']}")
        if snap["step"] < previous["step"]:
            self.report.add(SNAPSHOTS, number, f"step goes back to {snap['step']}")

    def _check_snapshot_status(
        self, number: int, snap: dict[str, Any], *, failed: bool, is_final: bool
    ) -> None:
        # FAILED is sticky: once reached (or set by a fail-closed stop) it stays.
        status, expected = snap["status"], _STATUS_OF[snap["fsm_state"]]
        if failed and status != _FAILED:
            self.report.add(SNAPSHOTS, number, f"status {status} after FAILED, which is sticky")
        elif status != expected and not (status == _FAILED and (failed or is_final)):
            self.report.add(
                SNAPSHOTS,
                number,
                f"status {status} in state {snap['fsm_state']}, expected {expected}",
            )

    def _check_final_book(self, number: int) -> None:
        final, replay = self.final_snapshot, self.replay
        if final is None:
            return
        if final["status"] not in _ENDED_STATUSES:
            self.report.add(SNAPSHOTS, number, f"the run ended with status {final['status']}")
        if replay is None:
            return
        for symbol in sorted(set(replay.positions) | set(final["positions"])):
            held = Decimal(final["positions"].get(symbol, "0"))
            replayed = replay.positions.get(symbol, Decimal(0))
            if held != replayed:
                self.report.add(
                    SNAPSHOTS,
                    number,
                    f"final position {held} of {symbol!r} but the fills add up to {replayed}",
                )
        bars = replay.kinds["BAR"]
        if final["step"] != bars:
            self.report.add(SNAPSHOTS, number, f"final step {final['step']} but {bars} BAR events")
        stopped = replay.stopped_status
        if stopped is not None and stopped != final["status"]:
            self.report.add(
                EVENTS, 0, f"SESSION_STOPPED says {stopped}, the final snapshot {final['status']}"
            )

    # audit

    def _check_audit(self) -> None:
        lines = self.lines[AUDIT]
        if not lines:
            return
        for index, line in enumerate(lines):
            expected_prev = (
                _GENESIS_HASH if index == 0 else hashlib.sha256(lines[index - 1].raw).hexdigest()
            )
            record = line.obj
            if record is None:
                continue
            if record["prev_hash"] != expected_prev:
                self.report.add(AUDIT, line.number, "prev_hash does not match the previous line")
            self._check_header(AUDIT, line.number, record)
            if record["code"] == "C2_DRYRUN_STOP" and line.number != len(lines):
                self.report.add(AUDIT, line.number, "C2_DRYRUN_STOP is not the last record")
        last = lines[-1].obj
        # A run resumed before its first checkpoint starts over, so C2_RESUME records may
        # come before C2_DRYRUN_START; nothing else may.
        opening = next(
            (line for line in lines if line.obj is None or line.obj["code"] != "C2_RESUME"), None
        )
        opening_code = None if opening is None or opening.obj is None else opening.obj["code"]
        if opening is not None and opening_code not in (None, "C2_DRYRUN_START"):
            self.report.add(
                AUDIT, opening.number, f"the first record is {opening_code}, not C2_DRYRUN_START"
            )
        if last is None:
            return
        if last["code"] != "C2_DRYRUN_STOP":
            self.report.add(AUDIT, len(lines), f"the last record is {last['code']}, not a stop")
            return
        self._check_stop_record(len(lines), last["payload"])

    def _check_stop_record(self, number: int, payload: dict[str, Any]) -> None:
        for name in (EVENTS, SNAPSHOTS):
            raw = self.raw.get(name)
            if raw is not None and payload["digests"][name] != hashlib.sha256(raw).hexdigest():
                self.report.add(AUDIT, number, f"digest of {name} does not match the file")
        final = self.final_snapshot
        if final is not None and payload["status"] != final["status"]:
            self.report.add(
                AUDIT,
                number,
                f"stop status {payload['status']} but final snapshot {final['status']}",
            )
        self.audit_status = payload["status"]

    # metrics

    def _check_metrics(self) -> None:
        metrics = self.metrics
        if metrics is None:
            return
        for field, value in sorted(self._expected_metrics().items()):
            if metrics[field] != value:
                self.report.add(
                    METRICS,
                    self._metrics_line(field),
                    f"{field} is {_short(metrics[field])}, the run says {_short(value)}",
                )

    def _expected_metrics(self) -> dict[str, object]:
        """Every metrics field this verifier can recompute from the other three files."""
        expected: dict[str, object] = {
            "events_emitted": len(self.lines[EVENTS]),
            "state_snapshots": len(self.lines[SNAPSHOTS]),
            "audit_events": len(self.lines[AUDIT]),
        }
        if self.lines[AUDIT]:
            expected["audit_head"] = hashlib.sha256(self.lines[AUDIT][-1].raw).hexdigest()
        if self.replay is not None:
            kinds = self.replay.kinds
            expected.update(
                steps=kinds["BAR"],
                orders_submitted=kinds["ORDER_SUBMITTED"],
                fills=self.replay.fills,
                sink_retries=kinds["SINK_WRITE_RETRIED"],
                rejects_by_reason=dict(sorted(self.replay.rejects.items())),
            )
            if "events_by_type" in self.metrics_fields:
                expected["events_by_type"] = dict(sorted(kinds.items()))
        if self.identity is not None:
            expected["run_id"] = self.identity[0]
        if self.final_snapshot is not None:
            expected["status"] = self.final_snapshot["status"]
        elif self.audit_status is not None:
            expected["status"] = self.audit_status
        return expected

    def _metrics_line(self, field: str) -> int:
        needle = f'"{field}":'
        for number, text in enumerate(self.metrics_text, 1):
            if needle in text:
                return number
        return 1


class _Replay:
    """Replays orders and fills from the events, reporting what does not add up."""

    def __init__(self, report: _Report) -> None:
        self.report = report
        self.kinds: Counter[str] = Counter()
        self.rejects: Counter[str] = Counter()
        self.positions: dict[str, Decimal] = {}
        self.state_changes: list[tuple[str, str, str]] = []
        self.stopped_status: str | None = None
        self._orders: dict[str, dict[str, Any]] = {}
        self._filled: dict[str, Decimal] = {}
        self._trade_ids: set[str] = set()

    @property
    def fills(self) -> int:
        return sum(self.kinds[kind] for kind in _FILL_TYPES)

    def apply(self, number: int, kind: str, payload: dict[str, Any]) -> None:
        self.kinds[kind] += 1
        if kind in _FILL_TYPES:
            self._fill(number, payload)
        elif kind == "ORDER_SUBMITTED":
            self._submit(number, payload)
        elif kind == "POSITION_CHANGED":
            self._position(number, payload)
        elif kind in ("RISK_REJECTED", "ORDER_REJECTED"):
            self.rejects[str(payload.get("rule") or payload.get("reason") or "UNKNOWN")] += 1
        elif kind == "PREFLIGHT_CHECK" and payload["passed"] is False:
            self.rejects[str(payload.get("reason", "UNKNOWN"))] += 1
        elif kind == "STATE_CHANGED":
            self.state_changes.append(
                (payload["trigger"], payload["from_state"], payload["to_state"])
            )
        elif kind == "SESSION_STOPPED":
            self.stopped_status = payload["status"]

    def _submit(self, number: int, order: dict[str, Any]) -> None:
        coid = order["client_order_id"]
        if coid in self._orders:
            self.report.add(EVENTS, number, f"client_order_id {coid} submitted twice")
        else:
            self._orders[coid] = order

    def _position(self, number: int, payload: dict[str, Any]) -> None:
        replayed = self.positions.get(payload["symbol"], Decimal(0))
        if Decimal(payload["position"]) != replayed:
            self.report.add(
                EVENTS,
                number,
                f"position {payload['position']} of {payload['symbol']!r} "
                f"but the fills so far add up to {replayed}",
            )

    def _fill(self, number: int, fill: dict[str, Any]) -> None:
        coid, quantity = fill["client_order_id"], Decimal(fill["quantity"])
        if fill["trade_id"] in self._trade_ids:
            self.report.add(EVENTS, number, f"trade_id {fill['trade_id']!r} filled twice")
        self._trade_ids.add(fill["trade_id"])
        if quantity <= 0:
            self.report.add(EVENTS, number, f"fill quantity {fill['quantity']} is not positive")
        order = self._orders.get(coid)
        if order is None:
            self.report.add(EVENTS, number, f"fill of {coid}, which was never submitted")
        else:
            for field in ("symbol", "side"):
                if fill[field] != order[field]:
                    self.report.add(
                        EVENTS, number, f"fill {field} {fill[field]!r} != order's {order[field]!r}"
                    )
            self._filled[coid] = self._filled.get(coid, Decimal(0)) + quantity
            if self._filled[coid] > Decimal(order["quantity"]):
                self.report.add(
                    EVENTS, number, f"{coid} filled {self._filled[coid]} of {order['quantity']}"
                )
        sign = 1 if fill["side"] == "BUY" else -1
        symbol = fill["symbol"]
        self.positions[symbol] = self.positions.get(symbol, Decimal(0)) + sign * quantity


def _valid(lines: list[_Line]) -> list[tuple[int, dict[str, Any]]]:
    return [(line.number, line.obj) for line in lines if line.obj is not None]


def _short(value: object) -> str:
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."
