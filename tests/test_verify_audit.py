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
