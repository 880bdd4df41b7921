"""A clean-room verifier of a run directory, written from the artifact contract alone.

It reads the four contract files (events.jsonl, state_snapshots.jsonl, metrics.json,
audit.jsonl) of a run directory and checks every rule the contract states that a reader of
the files can check. It was written from the contract page only, without the project's own
verifier or writers, so that it shares none of their reading: it depends on the standard
library and orjson alone, and imports nothing from livesession.

Where the contract can be read two ways, the stricter reading is checked, and the
ambiguity is named next to the check (see AMBIGUITIES).

    report = verify_run(run_dir, secrets=["the-api-secret"])
    assert report.ok, report.errors
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

EVENTS = "events.jsonl"
SNAPSHOTS = "state_snapshots.jsonl"
METRICS = "metrics.json"
AUDIT = "audit.jsonl"
CONTRACT_FILES = (EVENTS, SNAPSHOTS, METRICS, AUDIT)

EVENTS_SCHEMA = "C2_DRYRUN_V1"
STATE_SCHEMA = "C2_STATE_V1"
METRICS_SCHEMA = "C2_DRYRUN_METRICS_V1"
AUDIT_SCHEMA = "C2_AUDIT_V1"

EVENT_FIELDS = frozenset(
    {"schema", "seq", "event_id", "run_id", "strategy_id", "event_type", "ts_sim", "ts_utc"}
    | {"payload"}
)
SNAPSHOT_FIELDS = frozenset(
    {"schema", "seq", "run_id", "strategy_id", "ts_sim", "ts_utc", "status", "fsm_state"}
    | {"trigger", "from_state", "step", "positions", "open_orders", "equity"}
)
AUDIT_FIELDS = frozenset({"schema", "run_id", "seq", "ts", "code", "payload", "prev_hash"})
METRICS_REQUIRED = frozenset(
    {"schema", "run_id", "status", "steps", "events_emitted", "audit_events"}
    | {"state_snapshots", "sink_retries", "orders_submitted", "fills", "rejects_by_reason"}
    | {"audit_head"}
)
METRIC_COUNTS = ("steps", "events_emitted", "audit_events", "state_snapshots")
METRIC_COUNTS_MORE = ("sink_retries", "orders_submitted", "fills")
# The metrics fields a resume may change: the page says metrics.json "differs only in
# audit-derived fields"; these are the fields derived from audit.jsonl.
AUDIT_DERIVED_METRICS = frozenset({"audit_events", "audit_head"})

STATUS_OF_STATE = {
    "INIT": "INIT",
    "PREFLIGHT_OK": "RUNNING",
    "DRYRUN_ACTIVE": "RUNNING",
    "STOPPING": "RUNNING",
    "STOPPED": "COMPLETED",
    "PREFLIGHT_FAILED": "REJECTED",
    "ERROR_REQUIRES_OPERATOR": "FAILED",
}
STATUSES = frozenset({"INIT", "RUNNING", "COMPLETED", "REJECTED", "FAILED"})
END_STATUSES = frozenset({"COMPLETED", "REJECTED", "FAILED"})
END_STATES = frozenset({"STOPPED", "PREFLIGHT_FAILED", "ERROR_REQUIRES_OPERATOR"})

RUN_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}")
# RFC 3339, UTC, `Z`. The page's example has whole seconds; RFC 3339 allows a fraction, and
# our runs write one (microseconds) when simulated time is not on a whole second (a venue's
# latency). The RFC's reading is checked; see AMBIGUITIES.
TS_UTC = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d+)?Z"
)
HEX24 = re.compile(r"[0-9a-f]{24}")
HEX64 = re.compile(r"[0-9a-f]{64}")
CLIENT_ORDER_ID = re.compile(r"[A-Za-z0-9]{1,32}")
EVENT_TYPE = re.compile(r"[A-Z][A-Z0-9_]*")
AUDIT_CODE = re.compile(r"C2_[A-Z0-9_]+")
DECIMAL = re.compile(r"-?\d+(\.\d+)?")
ZERO_HASH = "0" * 64

AMBIGUITIES = (
    (
        "ts_utc/ts: RFC 3339 allows fractional seconds; the example has none. The stricter "
        "reading (none) fails realish runs (ts_utc 00:22:00.054530Z). Checked: RFC 3339's."
    ),
    "audit `ts` is 'RFC 3339' without 'UTC with Z'. Checked: the same form as ts_utc.",
    (
        "stable_id's 'canonical JSON': the common rule's orjson sort-keys form, or RFC 8785. "
        "Checked: orjson sort-keys (the two agree for ints, strings and ASCII keys)."
    ),
    "Tables list fields; extra fields are not forbidden. Checked: exactly the listed fields.",
    "event_type is an open list ('e.g.'). Checked: upper-case identifier.",
    (
        "'orders carry client_order_id': checked on every ORDER_* event's payload, and the id's "
        "shape wherever a key client_order_id appears in any contract file."
    ),
    (
        "Client order ids are 'deterministic from (run_id, strategy_id, intent sequence, leg)': "
        "the formula is not given. Checked: the shape, and that no two ORDER_SUBMITTED events "
        "carry the same id (one intent leg, one order; a resend is not a new submission)."
    ),
    "ts_sim never decreasing: checked per file (events, snapshots), not across the two.",
    "snapshots' from_state: 'what moved it'. Checked: equals the previous line's fsm_state.",
    (
        "Status follows the state, FAILED 'at ERROR_REQUIRES_OPERATOR or on a fail-closed sink "
        "failure': read strictly, a run acknowledged out of ERROR_REQUIRES_OPERATOR is RUNNING at "
        "STOPPING and COMPLETED at STOPPED; our runs keep FAILED to the seal. Checked: FAILED "
        "first at ERROR_REQUIRES_OPERATOR (any state after C2_SINK_WRITE_FAILED), then sticky."
    ),
    (
        "metrics.state_snapshots: checked = lines in state_snapshots.jsonl; steps = the last "
        "snapshot's step; status = the last snapshot's status and the stop record's."
    ),
    (
        "'every other metrics field is derivable from events.jsonl' gives no formulas. Checked: "
        "orders_submitted = ORDER_SUBMITTED events, fills = ORDER_FILLED + ORDER_PARTIALLY_FILLED, "
        "sink_retries = C2_SINK_WRITE_RETRY records, rejects_by_reason = the C2_REJECT_<REASON> "
        "records by reason (from audit.jsonl, not events.jsonl); other fields are not checked."
    ),
    "'closes with C2_DRYRUN_STOP': checked exactly one, last; and C2_DRYRUN_START at seq 1.",
    (
        "Torn tails are defined for audit.jsonl only; a crashed run's events/snapshots may end "
        "torn too. Checked: a torn tail is an error in a finished run, a note in a crashed one."
    ),
    (
        "metrics.json at a checkpoint lags the JSONL files of a crashed run: its counts are "
        "checked as <= the lines, not =, when the run did not finish."
    ),
    (
        "manifest.json's field names are not given: checked that the SHA-256 of each contract "
        "file and the audit head appear among its string values, when the run finished."
    ),
)


@dataclass
class Report:
    """What the verifier found in one run directory."""

    run_dir: Path
    errors: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    finished: bool = False
    status: str | None = None
    resumes: int = 0
    audit_codes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no rule was broken."""
        return not self.errors

    def error(self, where: str, what: str) -> None:
        """Record a broken rule."""
        self.errors.append(f"{where}: {what}")


@dataclass
class _Lines:
    """The whole lines of a JSON Lines file, its raw bytes, and its torn tail."""

    raw: list[bytes]
    objects: list[dict[str, Any]]
    torn: bytes | None


def stable_id(*parts: Any) -> str:
    """SHA-256 of the canonical JSON of the list `parts`, first 24 hex chars."""
    canonical = orjson.dumps(list(parts), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:24]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _floats(value: Any, path: str = "$") -> Iterable[str]:
    if isinstance(value, float):
        yield path
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _floats(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _floats(item, f"{path}[{index}]")


def _values_of(value: Any, key: str) -> Iterable[Any]:
    if isinstance(value, dict):
        for name, item in value.items():
            if name == key:
                yield item
            yield from _values_of(item, key)
    elif isinstance(value, list):
        for item in value:
            yield from _values_of(item, key)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _read_lines(path: Path, report: Report) -> _Lines:
    data = path.read_bytes()
    pieces = data.split(b"\n")
    whole, tail = pieces[:-1], pieces[-1]
    torn: bytes | None = tail or None
    objects: list[dict[str, Any]] = []
    raw: list[bytes] = []
    for number, line in enumerate(whole, 1):
        where = f"{path.name}:{number}"
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError:
            if number == len(whole) and torn is None:
                torn = line + b"\n"  # a last line that is not JSON is torn too
                break
            report.error(where, "not JSON (a bad line before the last is corruption)")
            continue
        if not isinstance(obj, dict):
            report.error(where, "not a JSON object")
            continue
        if orjson.dumps(obj, option=orjson.OPT_SORT_KEYS) != line:
            report.error(where, "not in the sorted-keys, no-spaces form")
        for place in _floats(obj):
            report.error(where, f"a float at {place}")
        raw.append(line)
        objects.append(obj)
    return _Lines(raw, objects, torn)


def _check_common(obj: dict[str, Any], where: str, schema: str, report: Report) -> None:
    if obj.get("schema") != schema:
        report.error(where, f"schema {obj.get('schema')!r}, expected {schema!r}")
    run_id = obj.get("run_id")
    if not isinstance(run_id, str) or not RUN_ID.fullmatch(run_id):
        report.error(where, f"run_id {run_id!r} is not 1-64 of [A-Za-z0-9_.-], not .-led")
    if not _is_int(obj.get("seq")):
        report.error(where, "seq is not an integer")


def _check_seq(objects: Sequence[dict[str, Any]], name: str, report: Report) -> None:
    for index, obj in enumerate(objects, 1):
        if obj.get("seq") != index:
            report.error(f"{name}:{index}", f"seq {obj.get('seq')!r}, expected {index}")
            return


def _check_times(objects: Sequence[dict[str, Any]], name: str, report: Report) -> None:
    last = None
    for index, obj in enumerate(objects, 1):
        where = f"{name}:{index}"
        ts_utc = obj.get("ts_utc")
        if not isinstance(ts_utc, str) or not TS_UTC.fullmatch(ts_utc):
            report.error(where, f"ts_utc {ts_utc!r} is not RFC 3339 UTC with Z")
        ts_sim = obj.get("ts_sim")
        if not _is_int(ts_sim):
            report.error(where, f"ts_sim {ts_sim!r} is not an integer")
            continue
        if last is not None and ts_sim < last:
            report.error(where, f"ts_sim {ts_sim} goes back from {last}")
        last = ts_sim


def _check_order_ids(obj: Any, where: str, report: Report) -> None:
    for value in _values_of(obj, "client_order_id"):
        if not isinstance(value, str) or not CLIENT_ORDER_ID.fullmatch(value):
            report.error(where, f"client_order_id {value!r} is not 1-32 of [A-Za-z0-9]")


def _check_same(objects: Sequence[dict[str, Any]], key: str, name: str, report: Report) -> None:
    values = {obj.get(key) for obj in objects}
    if len(values) > 1:
        report.error(name, f"more than one {key}: {sorted(map(str, values))}")


def _check_events(events: _Lines, report: Report) -> None:
    for index, obj in enumerate(events.objects, 1):
        where = f"{EVENTS}:{index}"
        _check_common(obj, where, EVENTS_SCHEMA, report)
        if set(obj) != EVENT_FIELDS:
            report.error(where, f"fields {sorted(set(obj) ^ EVENT_FIELDS)} differ from the table")
        event_type, payload = obj.get("event_type"), obj.get("payload")
        if not isinstance(event_type, str) or not EVENT_TYPE.fullmatch(event_type):
            report.error(where, f"event_type {event_type!r}")
        if not isinstance(obj.get("strategy_id"), str):
            report.error(where, "strategy_id is not a string")
        if not isinstance(payload, dict):
            report.error(where, "payload is not an object")
        elif (
            isinstance(event_type, str)
            and event_type.startswith("ORDER_")
            and "client_order_id" not in payload
        ):
            report.error(where, f"{event_type} payload carries no client_order_id")
        expected = stable_id(
            obj.get("run_id"), obj.get("strategy_id"), event_type, obj.get("seq"), payload
        )
        if obj.get("event_id") != expected:
            report.error(where, f"event_id {obj.get('event_id')!r}, stable_id gives {expected}")
        _check_order_ids(obj, where, report)
    submitted = Counter(
        str(obj["payload"].get("client_order_id"))
        for obj in events.objects
        if obj.get("event_type") == "ORDER_SUBMITTED" and isinstance(obj.get("payload"), dict)
    )
    twice = sorted(cid for cid, count in submitted.items() if count > 1)
    if twice:
        report.error(EVENTS, f"client_order_id submitted more than once: {twice[:3]}")
    _check_seq(events.objects, EVENTS, report)
    _check_times(events.objects, EVENTS, report)
    _check_same(events.objects, "run_id", EVENTS, report)
    _check_same(events.objects, "strategy_id", EVENTS, report)


def _check_snapshot_fields(obj: dict[str, Any], where: str, report: Report) -> None:
    _check_common(obj, where, STATE_SCHEMA, report)
    if set(obj) != SNAPSHOT_FIELDS:
        report.error(where, f"fields {sorted(set(obj) ^ SNAPSHOT_FIELDS)} differ from the table")
    if obj.get("status") not in STATUSES:
        report.error(where, f"status {obj.get('status')!r} is not a session status")
    if obj.get("fsm_state") not in STATUS_OF_STATE:
        report.error(where, f"fsm_state {obj.get('fsm_state')!r} is not a state")
    for key in ("trigger", "from_state", "strategy_id"):
        if not isinstance(obj.get(key), str):
            report.error(where, f"{key} is not a string")
    if not _is_int(obj.get("step")) or obj["step"] < 0:
        report.error(where, f"step {obj.get('step')!r} is not a count")
    equity = obj.get("equity")
    if not isinstance(equity, str) or not DECIMAL.fullmatch(equity):
        report.error(where, f"equity {equity!r} is not a decimal string")
    _check_order_ids(obj, where, report)


def _check_snapshots(snaps: _Lines, report: Report, sink_failed: bool) -> None:
    previous: dict[str, Any] = {}
    failed_before = False
    for index, obj in enumerate(snaps.objects, 1):
        where = f"{SNAPSHOTS}:{index}"
        _check_snapshot_fields(obj, where, report)
        status, state = obj.get("status"), obj.get("fsm_state")
        expected = STATUS_OF_STATE.get(str(state), status)
        if status != expected and not (status == "FAILED" and (failed_before or sink_failed)):
            report.error(where, f"status {status!r} at {state}, expected {expected}")
        if failed_before and status != "FAILED":
            report.error(where, f"status {status!r} after FAILED")
        failed_before = failed_before or status == "FAILED"
        if previous and obj.get("from_state") != previous.get("fsm_state"):
            report.error(
                where,
                f"from_state {obj.get('from_state')!r} is not the previous state "
                f"{previous.get('fsm_state')!r}",
            )
        steps = (previous.get("step"), obj.get("step"))
        if all(_is_int(step) for step in steps) and steps[1] < steps[0]:
            report.error(where, "step goes back")
        previous = obj
    _check_seq(snaps.objects, SNAPSHOTS, report)
    _check_times(snaps.objects, SNAPSHOTS, report)
    _check_same(snaps.objects, "run_id", SNAPSHOTS, report)
    _check_same(snaps.objects, "strategy_id", SNAPSHOTS, report)


def _check_audit(audit: _Lines, report: Report) -> None:
    previous_hash = ZERO_HASH
    for index, (line, obj) in enumerate(zip(audit.raw, audit.objects, strict=True), 1):
        where = f"{AUDIT}:{index}"
        _check_common(obj, where, AUDIT_SCHEMA, report)
        if set(obj) != AUDIT_FIELDS:
            report.error(where, f"fields {sorted(set(obj) ^ AUDIT_FIELDS)} differ from the table")
        ts, code = obj.get("ts"), obj.get("code")
        if not isinstance(ts, str) or not TS_UTC.fullmatch(ts):
            report.error(where, f"ts {ts!r} is not RFC 3339 UTC with Z")
        if not isinstance(code, str) or not AUDIT_CODE.fullmatch(code):
            report.error(where, f"code {code!r}")
        if not isinstance(obj.get("payload"), dict):
            report.error(where, "payload is not an object")
        if obj.get("prev_hash") != previous_hash:
            report.error(where, f"prev_hash {obj.get('prev_hash')!r}, chain gives {previous_hash}")
        previous_hash = hashlib.sha256(line).hexdigest()
        _check_order_ids(obj, where, report)
        report.audit_codes.append(str(code))
    _check_seq(audit.objects, AUDIT, report)
    _check_same(audit.objects, "run_id", AUDIT, report)
    codes = report.audit_codes
    report.resumes = codes.count("C2_RESUME")
    if codes and codes[0] != "C2_DRYRUN_START":
        report.error(f"{AUDIT}:1", f"starts with {codes[0]}, not C2_DRYRUN_START")
    stops = [i for i, code in enumerate(codes, 1) if code == "C2_DRYRUN_STOP"]
    if len(stops) > 1 or (stops and stops[-1] != len(codes)):
        report.error(AUDIT, f"C2_DRYRUN_STOP at lines {stops} of {len(codes)}: once, last")
    report.finished = bool(stops) and stops[-1] == len(codes)


def _check_stop(run_dir: Path, audit: _Lines, snaps: _Lines, report: Report) -> None:
    payload = audit.objects[-1].get("payload")
    where = f"{AUDIT}:{len(audit.objects)} C2_DRYRUN_STOP"
    if not isinstance(payload, dict):
        return
    report.status = payload.get("status")
    if report.status not in END_STATUSES:
        report.error(where, f"status {report.status!r} is not an end status")
    digests = payload.get("digests")
    if not isinstance(digests, dict) or set(digests) != {EVENTS, SNAPSHOTS}:
        report.error(where, f"digests {digests!r} do not name exactly {EVENTS}, {SNAPSHOTS}")
    else:
        for name in (EVENTS, SNAPSHOTS):
            actual = hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
            if digests[name] != actual:
                report.error(where, f"digest of {name} {digests[name]!r}, file has {actual}")
    if snaps.objects:
        last = snaps.objects[-1]
        if last.get("status") != report.status:
            report.error(
                SNAPSHOTS, f"last status {last.get('status')!r}, stop says {report.status}"
            )
        if last.get("fsm_state") not in END_STATES:
            report.error(SNAPSHOTS, f"last fsm_state {last.get('fsm_state')!r} is not an end state")
    else:
        report.error(SNAPSHOTS, "a finished run has no snapshot")


def _metrics_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if keys != sorted(keys) or len(set(keys)) != len(keys):
        raise ValueError(f"keys not sorted or repeated: {keys}")
    return dict(pairs)


def _load_metrics(path: Path, report: Report) -> dict[str, Any] | None:
    import json  # the standard parser, for its object_pairs_hook (keys sorted, no repeats)

    try:
        metrics = json.loads(path.read_bytes().decode("utf-8"), object_pairs_hook=_metrics_hook)
    except (ValueError, UnicodeDecodeError) as exc:
        report.error(METRICS, f"not one sorted-keys JSON object: {exc}")
        return None
    if not isinstance(metrics, dict):
        report.error(METRICS, "not a JSON object")
        return None
    for place in _floats(metrics):
        report.error(METRICS, f"a float at {place}")
    missing = METRICS_REQUIRED - set(metrics)
    if missing:
        report.error(METRICS, f"missing {sorted(missing)}")
    if metrics.get("schema") != METRICS_SCHEMA:
        report.error(METRICS, f"schema {metrics.get('schema')!r}")
    for key in METRIC_COUNTS + METRIC_COUNTS_MORE:
        if key in metrics and (not _is_int(metrics[key]) or metrics[key] < 0):
            report.error(METRICS, f"{key} {metrics[key]!r} is not a count")
    rejects = metrics.get("rejects_by_reason")
    if not isinstance(rejects, dict) or not all(_is_int(v) for v in rejects.values()):
        report.error(METRICS, f"rejects_by_reason {rejects!r} is not an object of counts")
    return metrics


def _check_metrics(
    run_dir: Path, lines: dict[str, _Lines], report: Report
) -> dict[str, Any] | None:
    metrics = _load_metrics(run_dir / METRICS, report)
    if metrics is None:
        return None
    events, snaps, audit = lines[EVENTS], lines[SNAPSHOTS], lines[AUDIT]
    counted = {
        "events_emitted": len(events.objects),
        "audit_events": len(audit.objects),
        "state_snapshots": len(snaps.objects),
    }
    ids = {obj.get("run_id") for obj in events.objects + snaps.objects + audit.objects}
    if ids - {metrics.get("run_id")}:
        report.error(METRICS, f"run_id {metrics.get('run_id')!r}; the files say {sorted(ids)}")
    for key, count in counted.items():
        claimed = metrics.get(key)
        if report.finished and claimed != count:
            report.error(METRICS, f"{key} {claimed!r}, the file has {count} lines")
        elif _is_int(claimed) and claimed > count:  # a checkpoint's metrics lag the files
            report.error(METRICS, f"{key} {claimed} > {count} lines")
    if not report.finished:
        return metrics
    head = hashlib.sha256(audit.raw[-1]).hexdigest() if audit.raw else None
    if metrics.get("audit_head") != head:
        report.error(METRICS, f"audit_head {metrics.get('audit_head')!r}, last line is {head}")
    if metrics.get("status") != report.status:
        report.error(METRICS, f"status {metrics.get('status')!r}, stop says {report.status!r}")
    if snaps.objects and metrics.get("steps") != snaps.objects[-1].get("step"):
        report.error(METRICS, f"steps {metrics.get('steps')!r}, last snapshot's step differs")
    _check_derived(metrics, events, report)
    return metrics


def _check_derived(metrics: dict[str, Any], events: _Lines, report: Report) -> None:
    types = [obj.get("event_type") for obj in events.objects]
    derived: dict[str, Any] = {
        "orders_submitted": types.count("ORDER_SUBMITTED"),
        "fills": types.count("ORDER_FILLED") + types.count("ORDER_PARTIALLY_FILLED"),
        "sink_retries": report.audit_codes.count("C2_SINK_WRITE_RETRY"),
        "rejects_by_reason": dict(
            Counter(
                code.removeprefix("C2_REJECT_")
                for code in report.audit_codes
                if code.startswith("C2_REJECT_")
            )
        ),
    }
    for key, value in derived.items():
        if metrics.get(key) != value:
            report.error(METRICS, f"{key} {metrics.get(key)!r}, the files give {value!r}")


def _check_manifest(run_dir: Path, metrics: dict[str, Any] | None, report: Report) -> None:
    path = run_dir / "manifest.json"
    if not path.exists() or not report.finished:
        return
    try:
        strings = set(_strings(orjson.loads(path.read_bytes())))
    except orjson.JSONDecodeError:
        report.error("manifest.json", "not JSON")
        return
    for name in CONTRACT_FILES:
        digest = hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
        if digest not in strings:
            report.error("manifest.json", f"does not carry the SHA-256 of {name} ({digest})")
    if metrics is not None and metrics.get("audit_head") not in strings:
        report.error("manifest.json", "does not carry the audit head")


def check_redaction(run_dir: Path, secrets: Iterable[str], report: Report) -> None:
    """No secret, raw or JSON-escaped, appears in any file of the run directory."""
    needles = []
    for secret in secrets:
        needles.append(secret.encode())
        needles.append(orjson.dumps(secret)[1:-1])
    for path in sorted(p for p in run_dir.rglob("*") if p.is_file()):
        data = path.read_bytes()
        for needle in needles:
            if needle and needle in data:
                report.error(str(path.relative_to(run_dir)), "carries a secret")


def verify_run(
    run_dir: Path, *, secrets: Iterable[str] = (), finished: bool | None = None
) -> Report:
    """Check one run directory; `finished` True or False holds the run to having ended."""
    report = Report(Path(run_dir))
    missing = [name for name in CONTRACT_FILES if not (report.run_dir / name).is_file()]
    if missing:
        report.error(str(report.run_dir), f"missing {missing}")
        check_redaction(report.run_dir, secrets, report)
        return report
    lines = {
        name: _read_lines(report.run_dir / name, report) for name in (EVENTS, SNAPSHOTS, AUDIT)
    }
    _check_events(lines[EVENTS], report)
    _check_audit(lines[AUDIT], report)
    _check_snapshots(lines[SNAPSHOTS], report, "C2_SINK_WRITE_FAILED" in report.audit_codes)
    if report.finished:
        _check_stop(report.run_dir, lines[AUDIT], lines[SNAPSHOTS], report)
        for name, found in lines.items():
            if found.torn is not None:
                report.error(name, f"a finished run ends with a torn line {found.torn[:40]!r}")
    else:
        for name, found in lines.items():
            if found.torn is not None:
                report.notes.append(f"{name}: torn tail {found.torn[:40]!r}")
        report.notes.append("the audit log does not close with C2_DRYRUN_STOP")
    if finished is not None and finished != report.finished:
        report.error(AUDIT, f"finished is {report.finished}, expected {finished}")
    metrics = _check_metrics(report.run_dir, lines, report)
    _check_manifest(report.run_dir, metrics, report)
    check_redaction(report.run_dir, secrets, report)
    return report


def differing_files(run_a: Path, run_b: Path, names: Sequence[str] = CONTRACT_FILES) -> list[str]:
    """The contract files whose bytes differ between two run directories."""
    return [name for name in names if (run_a / name).read_bytes() != (run_b / name).read_bytes()]


def compare_resumed(uninterrupted: Path, resumed: Path, resumes: int) -> list[str]:
    """What breaks the resume rule between an uninterrupted run and a crashed-and-resumed one.

    events.jsonl and state_snapshots.jsonl byte-identical; audit.jsonl the same records
    (schema, run_id, ts, code, payload) plus one C2_RESUME per resume; metrics.json
    different only in audit-derived fields.
    """
    problems = [
        f"{name} differs" for name in differing_files(uninterrupted, resumed, (EVENTS, SNAPSHOTS))
    ]
    keep = ("schema", "run_id", "ts", "code", "payload")

    def records(run: Path) -> list[dict[str, Any]]:
        lines = (run / AUDIT).read_bytes().splitlines()
        return [{k: v for k, v in orjson.loads(line).items() if k in keep} for line in lines]

    plain, again = records(uninterrupted), records(resumed)
    added = [r for r in again if r["code"] == "C2_RESUME"]
    if len(added) != resumes:
        problems.append(f"{len(added)} C2_RESUME records, expected {resumes}")
    if [r for r in plain if r["code"] != "C2_RESUME"] != [
        r for r in again if r["code"] != "C2_RESUME"
    ]:
        plain_codes = [r["code"] for r in plain]
        again_codes = [r["code"] for r in again if r["code"] != "C2_RESUME"]
        problems.append(f"audit records differ besides C2_RESUME: {plain_codes} vs {again_codes}")
    metrics_a = orjson.loads((uninterrupted / METRICS).read_bytes())
    metrics_b = orjson.loads((resumed / METRICS).read_bytes())
    changed = {k for k in set(metrics_a) | set(metrics_b) if metrics_a.get(k) != metrics_b.get(k)}
    if changed - AUDIT_DERIVED_METRICS:
        problems.append(f"metrics.json differs in {sorted(changed - AUDIT_DERIVED_METRICS)}")
    return problems
