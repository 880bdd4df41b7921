"""``verify`` holds each audit record to what it records: its place in the sequence, the event
it copies, and its time.

Each tamper below changes one audit record (or one line of another file), then recomputes
the hash chain and metrics.json's ``audit_head``, as a forger would: only the record itself
is wrong, and verify must name exactly that.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, LiveSessionOrchestrator
from livesession._domain.config import RiskLimits, StrategyConfig
from livesession.verify import verify_contents

from _helpers import Sinks, session

pytestmark = pytest.mark.broken_run("it tampers with runs' audit records on purpose")

Contents = dict[str, bytes]
AUDIT = "audit.jsonl"


def _contents(sinks: Sinks) -> Contents:
    return {
        "events.jsonl": sinks.events.getvalue(),
        "state_snapshots.jsonl": sinks.states.getvalue(),
        AUDIT: sinks.audit.getvalue(),
        "metrics.json": sinks.metrics.content,
    }


def _completed() -> Contents:
    orch, sinks = session(steps=30)
    orch.run_to_end(30)
    return _contents(sinks)


def _rejected() -> Contents:
    """Refused at preflight: the order size is over the cap (CONFIG_INVALID, with detail)."""
    sinks = Sinks()
    config = DryrunConfig(
        run_id="t",
        steps=30,
        strategy=StrategyConfig(order_qty=Decimal("0.050")),
        risk=RiskLimits(max_order_qty=Decimal("0.040")),
    )
    LiveSessionOrchestrator(config, **sinks.kwargs()).run_to_end(30)
    return _contents(sinks)


def _rails() -> Contents:
    """The rails refuse a buy of 5 over a cap of 1 (C2_REJECT_MAX_ORDER_QTY)."""
    orch, sinks = session(
        steps=30,
        strategy=ScriptedStrategy(at({2: [buy("5")]})),
        feed=ScriptedFeed(["100.00"]),
        risk=RiskLimits(max_order_qty=Decimal(1)),
    )
    orch.run_to_end(30)
    return _contents(sinks)


class _Raising(ScriptedStrategy):
    def on_bar(self, bar: Any, view: Any) -> Any:
        if int(bar.volume) == 4:
            raise RuntimeError("boom at bar 4")
        return super().on_bar(bar, view)


def _strategy_error() -> Contents:
    """A strategy that raises on bar 4, acknowledged as the CLI does: FAILED."""
    orch, sinks = session(steps=30, strategy=_Raising(lambda *_: ()), feed=ScriptedFeed(["1.00"]))
    orch.run_to_end(30, operator="cli")
    return _contents(sinks)


def _rechain(contents: Contents, lines: list[bytes]) -> Contents:
    """``contents`` with these audit lines, their chain and metrics' audit_head made to agree."""
    prev, out = "0" * 64, []
    for line in lines:
        raw = re.sub(rb'"prev_hash":"[0-9a-f]{64}"', f'"prev_hash":"{prev}"'.encode(), line)
        out.append(raw)
        prev = hashlib.sha256(raw).hexdigest()
    metrics = orjson.loads(contents["metrics.json"])
    metrics["audit_head"], metrics["audit_events"] = prev, len(out)
    option = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
    return {
        **contents,
        AUDIT: b"".join(line + b"\n" for line in out),
        "metrics.json": orjson.dumps(metrics, option=option) + b"\n",
    }


def _with_resume(
    contents: Contents, index: int, payload: dict[str, Any], **fields: str
) -> Contents:
    """The run with a ``C2_RESUME`` (``payload``, no order in flight) at audit ``index``.

    Stamped as the first record unless ``fields`` say otherwise, renumbered and re-chained.
    """
    lines = contents[AUDIT].splitlines()
    body = payload | {"in_flight": [], "torn_bytes": {}}
    resume = orjson.loads(lines[0]) | {"code": "C2_RESUME", "payload": body} | fields
    lines.insert(index, orjson.dumps(resume, option=orjson.OPT_SORT_KEYS))
    for number in range(len(lines)):
        lines[number] = re.sub(rb'"seq":\d+', b'"seq":%d' % (number + 1), lines[number])
    return _rechain(contents, lines)


def _tampered(contents: Contents, code: str, change: Callable[[bytes], bytes]) -> Contents:
    """The run with the first audit record of ``code`` changed (its bytes), re-chained."""
    lines = contents[AUDIT].splitlines()
    index = next(i for i, line in enumerate(lines) if f'"code":"{code}"'.encode() in line)
    changed = change(lines[index])
    assert changed != lines[index], "the tamper changed nothing"
    lines[index] = changed
    return _rechain(contents, lines)


def _record(contents: Contents, code: str) -> tuple[int, dict[str, Any]]:
    """The line number and object of the first audit record of ``code``."""
    lines = contents[AUDIT].splitlines()
    return next(
        (n, orjson.loads(line))
        for n, line in enumerate(lines, 1)
        if orjson.loads(line)["code"] == code
    )


def _violations(contents: Contents) -> tuple[str, ...]:
    return verify_contents(contents).violations


@pytest.fixture(scope="module", name="runs")
def _runs() -> dict[str, Contents]:
    runs = {
        "completed": _completed(),
        "rejected": _rejected(),
        "rails": _rails(),
        "strategy_error": _strategy_error(),
    }
    for name, contents in runs.items():
        assert verify_contents(contents).ok, name
    return runs


class TestABadLineKeepsItsPlace:
    """A record that breaks its schema is reported once, not also as a missing record."""

    @pytest.mark.parametrize(
        ("run", "code", "swap", "said"),
        [
            ("completed", "C2_DRYRUN_START", (b'Z"', b'+00:00"'), "audit.jsonl:1: schema: ts:"),
            (
                "completed",
                "C2_DRYRUN_START",
                (b'"seed":123', b'"seed":123.0'),
                "audit.jsonl:1: float at payload.seed",
            ),
            (
                "rails",
                "C2_REJECT_MAX_ORDER_QTY",
                (b'"code":"C2_REJECT_MAX_ORDER_QTY"', b'"code":"c2_reject_max_order_qty"'),
                "audit.jsonl:2: schema: code:",
            ),
        ],
    )
    def test_one_violation_for_one_bad_record(self, runs, run, code, swap, said):
        tampered = _tampered(runs[run], code, lambda raw: raw.replace(*swap, 1))

        (violation,) = _violations(tampered)
        assert violation.startswith(said)

    @pytest.mark.parametrize("name", ["events.jsonl", "state_snapshots.jsonl"])
    def test_the_other_files_count_a_bad_line_too(self, runs, name):
        lines = runs["completed"][name].splitlines(keepends=True)
        lines[3] = lines[3].replace(b'Z"', b'+00:00"', 1)
        tampered = {**runs["completed"], name: b"".join(lines)}

        violations = _violations(tampered)
        assert any(f"{name}:4: schema: ts_utc:" in v for v in violations)
        assert not [v for v in violations if ": seq is " in v]


def _replace(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    return lambda raw: raw.replace(old, new, 1)


class TestRecordsCopyTheirEvents:
    """An audit record that copies an event must equal it: payload and time."""

    @pytest.mark.parametrize(
        ("run", "code", "change", "said"),
        [
            pytest.param(
                "completed",
                "C2_DRYRUN_START",
                _replace(b'"seed":123', b'"seed":124'),
                "audit.jsonl:1: C2_DRYRUN_START's payload is not that of events.jsonl:1",
                id="start-seed",
            ),
            pytest.param(
                "completed",
                "C2_DRYRUN_START",
                lambda raw: re.sub(rb'"config_sha256":"[0-9a-f]', b'"config_sha256":"x', raw),
                "audit.jsonl:1: C2_DRYRUN_START's payload is not that of events.jsonl:1",
                id="start-config",
            ),
            pytest.param(
                "rejected",
                "C2_REJECT_CONFIG_INVALID",
                _replace(b"order_qty 0.050", b"order_qty 0.010"),
                "audit.jsonl:2: C2_REJECT_CONFIG_INVALID's payload is not that of events.jsonl:2",
                id="preflight-detail",
            ),
            pytest.param(
                "rails",
                "C2_REJECT_MAX_ORDER_QTY",
                _replace(b'"quantity":"5.000"', b'"quantity":"1.000"'),
                "audit.jsonl:2: C2_REJECT_MAX_ORDER_QTY's payload is not that of events.jsonl:",
                id="rails-quantity",
            ),
            pytest.param(
                "strategy_error",
                "C2_STRATEGY_ERROR",
                _replace(b"boom at bar 4", b"fine at bar 5"),
                "audit.jsonl:2: C2_STRATEGY_ERROR's payload is not that of events.jsonl:",
                id="strategy-message",
            ),
            pytest.param(
                "strategy_error",
                "C2_STRATEGY_ERROR",
                _replace(b'"ts":"2026-01-01T00:04:00Z"', b'"ts":"2026-01-01T00:03:00Z"'),
                "audit.jsonl:2: ts 2026-01-01T00:03:00Z but events.jsonl:",
                id="copy-ts",
            ),
            pytest.param(
                "rails",
                "C2_REJECT_MAX_ORDER_QTY",
                _replace(b'"code":"C2_REJECT_MAX_ORDER_QTY"', b'"code":"C2_NONSENSE"'),
                "audit.jsonl:2: C2_NONSENSE, but the next audited event is events.jsonl:",
                id="code",
            ),
        ],
    )
    def test_a_changed_copy_is_named(self, runs, run, code, change, said):
        (violation,) = _violations(_tampered(runs[run], code, change))

        assert violation.startswith(said), violation

    def test_a_record_taken_out_and_renumbered_is_found(self, runs):
        """A rejection dropped from the audit, the others renumbered and re-chained."""
        lines = runs["rails"][AUDIT].splitlines()
        del lines[1]
        for seq, number in enumerate(range(1, len(lines)), 2):
            lines[number] = re.sub(rb'"seq":\d+', b'"seq":%d' % seq, lines[number])

        (violation,) = _violations(_rechain(runs["rails"], lines))
        assert violation.startswith("audit.jsonl:2: C2_DRYRUN_STOP, but") or (
            "audited as C2_REJECT_MAX_ORDER_QTY, but audit.jsonl has no record of it" in violation
        ), violation

    def test_a_record_of_no_event_is_found(self, runs):
        """A rejection added to the audit (chained and numbered) copies no event."""
        lines = runs["rails"][AUDIT].splitlines()
        lines.insert(2, lines[1])
        for number in range(len(lines)):
            lines[number] = re.sub(rb'"seq":\d+', b'"seq":%d' % (number + 1), lines[number])

        (violation,) = _violations(_rechain(runs["rails"], lines))
        assert violation == "audit.jsonl:3: C2_REJECT_MAX_ORDER_QTY copies no event of events.jsonl"

    def test_the_verifier_maps_events_to_codes_as_the_writer_does(self):
        """verify keeps its own table of audited events: the same as the recorder's."""
        from livesession._artifacts import recorder
        from livesession.verify import _copies

        assert _copies.COPIED_CODES == recorder._DIRECT_CODES
        cases = [
            *((kind, {}) for kind in [*recorder._DIRECT_CODES, "BAR", "SIGNAL"]),
            ("PREFLIGHT_CHECK", {"check": "config_valid", "passed": False, "reason": "CFG"}),
            ("PREFLIGHT_CHECK", {"check": "clock", "passed": True, "reason": ""}),
            ("RISK_REJECTED", {"rule": "MAX_ORDER_QTY", "reason": "too big"}),
            ("ORDER_REJECTED", {"reason": "INSUFFICIENT_BALANCE"}),
            ("STATE_CHANGED", {"to_state": "ERROR_REQUIRES_OPERATOR"}),
            ("STATE_CHANGED", {"to_state": "STOPPING"}),
        ]
        for kind, payload in cases:
            assert _copies.audit_code(kind, payload) == recorder._audit_for(kind, payload)


class TestRecordsOfTheirOwn:
    """The stop record repeats SESSION_STOPPED; records that copy nothing keep time order."""

    @pytest.mark.parametrize(
        ("change", "said"),
        [
            (
                _replace(b'"steps":30', b'"steps":29'),
                "audit.jsonl:2: stop steps 29 but SESSION_STOPPED (events.jsonl:",
            ),
            (
                _replace(b'"ts":"2026-01-01T00:30:00Z"', b'"ts":"2030-01-01T00:30:00Z"'),
                "audit.jsonl:2: ts 2030-01-01T00:30:00Z but SESSION_STOPPED (events.jsonl:",
            ),
        ],
    )
    def test_the_stop_repeats_session_stopped(self, runs, change, said):
        (violation,) = _violations(_tampered(runs["completed"], "C2_DRYRUN_STOP", change))

        assert violation.startswith(said), violation

    def test_the_stop_reason_is_the_events(self, runs):
        change = _replace(b'"reason":"CONFIG_INVALID","status"', b'"status"')
        (violation,) = _violations(_tampered(runs["rejected"], "C2_DRYRUN_STOP", change))

        assert violation.startswith("audit.jsonl:3: stop reason '' but SESSION_STOPPED"), violation

    @pytest.mark.parametrize(
        ("checkpoint", "from_step", "said"),
        [
            (False, 0, None),
            (True, 0, "checkpoint true, from_step 0"),
            (False, 12, "checkpoint false, from_step 12"),
            (False, False, "checkpoint false, from_step false"),
            (0, 0, "checkpoint 0, from_step 0"),
        ],
    )
    def test_a_resume_before_the_start_started_over(self, runs, checkpoint, from_step, said):
        """A C2_RESUME before C2_DRYRUN_START is a resume from nothing, and says so."""
        payload = {"checkpoint": checkpoint, "from_step": from_step}
        violations = _violations(_with_resume(runs["completed"], 0, payload))
        if said is None:
            assert violations == ()
        else:
            expected = (
                f"audit.jsonl:1: C2_RESUME before C2_DRYRUN_START says {said}: a resume before"
                " the first checkpoint starts over (checkpoint false, from_step 0)"
            )
            assert violations == (expected,)

    @pytest.mark.parametrize(
        ("ts", "said"),
        [
            ("2026-01-01T00:00:00Z", None),
            ("2025-12-31T23:59:59.5Z", "is before line 1's, 2026-01-01T00:00:00Z"),
            ("2026-01-01T00:30:00.5Z", "is after line 3's, 2026-01-01T00:30:00Z"),
        ],
    )
    def test_a_resume_record_lies_between_its_neighbours(self, runs, ts, said):
        """A C2_RESUME stamped outside the records around it is out of time order."""
        payload = {"checkpoint": True, "from_step": 0}
        violations = _violations(_with_resume(runs["completed"], 1, payload, ts=ts))
        if said is None:
            assert violations == ()
        else:
            assert violations == (f"audit.jsonl:2: ts {ts} {said}",)


class TestRedaction:
    """The audit may hide a secret its event shows; it may change nothing else."""

    @pytest.mark.parametrize(
        ("record", "event", "same"),
        [
            ({"message": "login password=***"}, {"message": "login password=hunter2x"}, True),
            ({"api_key": "***"}, {"api_key": 12345}, True),
            ({"note": "***"}, {"note": 12345}, False),
            ({"message": "login password=***"}, {"message": "logout password=hunter2x"}, False),
            ({"message": "a ***"}, {"message": "a "}, False),
            ({"n": [1, "***"]}, {"n": [1, "x"]}, True),
            ({"n": [1]}, {"n": [1, 2]}, False),
            ({"a": 1}, {"a": 1, "b": 2}, False),
        ],
    )
    def test_redacted(self, record, event, same):
        from livesession.verify._copies import _redacted

        assert _redacted(record, event) is same
