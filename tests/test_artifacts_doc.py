"""docs/artifacts.md lists what the code writes (every event type, every audit code), and
says how livesession reads the contract where the code goes further.

An independent verifier reads our files by that page (and the contract it summarises). Its
event table had no ``TRADING_STATE_CHANGED``, and its list of audit codes read as closed
while the session wrote ``C2_TRADING_STATE``, ``C2_LEASE_*`` and others too. These tests
read what the source can emit and audit, so the page cannot drift from it again.
"""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

import orjson

from _scripted import ScriptedFeed, ScriptedStrategy
from livesession import DryrunConfig, LiveSessionOrchestrator
from livesession._artifacts import recorder
from livesession._domain.reasons import INPUT_FAULTS
from livesession.verify import _copies

from _helpers import Sinks, session

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "livesession"
PAGE = ROOT / "docs" / "artifacts.md"


def _section(title: str) -> str:
    text = PAGE.read_text(encoding="utf-8")
    return text.split(f"\n## {title}", 1)[1].split("\n## ", 1)[0]


def _first_cells(title: str) -> dict[str, str]:
    """Each name in backticks in a table row's first cell, with the rest of its row."""
    rows: dict[str, str] = {}
    for line in _section(title).splitlines():
        if line.startswith("| `"):
            first, rest = line.split("|")[1], "|".join(line.split("|")[2:])
            for name in re.findall(r"`([A-Z0-9_<>]+)`", first):
                rows[name] = rest
    return rows


def _strings(node: ast.expr, constants: dict[str, str]) -> set[str] | None:
    """The strings an argument can be: a literal, a module constant, or either of an ``if``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return {node.value}
    if isinstance(node, ast.Name) and node.id in constants:
        return {constants[node.id]}
    if isinstance(node, ast.IfExp):
        body, orelse = _strings(node.body, constants), _strings(node.orelse, constants)
        return None if body is None or orelse is None else body | orelse
    return None


@functools.cache
def _trees() -> tuple[tuple[Path, ast.Module], ...]:
    return tuple((p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(SRC.rglob("*.py")))


def _written(method: str) -> tuple[set[str], list[str]]:
    """First arguments of every ``<x>.<method>(...)`` call in the source, and those unread."""
    found: set[str] = set()
    unread: list[str] = []
    for path, tree in _trees():
        constants = {
            target.id: node.value.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Assign | ast.AnnAssign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr == method
                and node.args
            ):
                strings = _strings(node.args[0], constants)
                if strings is None:
                    unread.append(f"{path.relative_to(SRC)}:{node.lineno}")
                else:
                    found |= strings
    return found, unread


def _event_types() -> set[str]:
    found, unread = _written("emit")
    # ``input_failed`` emits its ``reason``: the strategy's or the feed's error.
    assert {place.split(":")[0] for place in unread} <= {"_session/pipeline.py"}, unread
    return found | set(INPUT_FAULTS)


def _audit_codes() -> set[str]:
    found, unread = _written("audit")
    # The recorder audits the code ``_audit_for`` maps each event to.
    assert {place.split(":")[0] for place in unread} <= {"_artifacts/recorder.py"}, unread
    return (
        found
        | set(recorder._DIRECT_CODES.values())
        | {"C2_REJECT_<REASON>", "C2_OPERATOR_REQUIRED"}  # _audit_for's own
    )


class TestEventTable:
    def test_every_event_type_the_code_emits_is_in_the_table(self):
        assert set(_first_cells("events.jsonl")) == _event_types()


class TestAuditCodes:
    def test_every_code_the_code_writes_is_listed(self):
        assert set(_first_cells("audit.jsonl")) == _audit_codes()

    def test_the_writer_audits_each_code_the_way_the_page_says(self):
        """A copied code's row names the event it copies; a record of no event says so."""
        rows = _first_cells("audit.jsonl")
        for event_type, code in recorder._DIRECT_CODES.items():
            assert f"`{event_type}`" in rows[code].split("|")[0], code
        for code in ("PREFLIGHT_CHECK", "RISK_REJECTED", "ORDER_REJECTED"):
            assert f"`{code}`" in rows["C2_REJECT_<REASON>"].split("|")[0]
        assert "`STATE_CHANGED` to `ERROR_REQUIRES_OPERATOR`" in rows["C2_OPERATOR_REQUIRED"]
        own = {code for code, row in rows.items() if row.split("|")[0].strip().startswith("no")}
        assert own | {"C2_DRYRUN_STOP"} == _copies.OWN_CODES

    def test_the_verifier_knows_every_code(self):
        """verify's own table: every code is a copy of an event, or one of its own kind."""
        copied = set(_copies.COPIED_CODES.values()) | {"C2_REJECT_<REASON>"}
        assert copied | {"C2_OPERATOR_REQUIRED"} | _copies.OWN_CODES == _audit_codes()


class TestStatusRule:
    def test_the_page_says_failed_is_sticky_beside_the_contracts_rule(self):
        """The contract's status rule, and the project's reading of it, side by side."""
        section = " ".join(_section("state_snapshots.jsonl").split())

        assert "Status follows the state: INIT before preflight;" in section
        assert "FAILED at ERROR_REQUIRES_OPERATOR or on a fail-closed sink failure." in section
        assert "livesession reads it with `FAILED` sticky" in section
        assert "`ERROR_REQUIRES_OPERATOR`/`FAILED` → `STOPPING`/`FAILED` → `STOPPED`/`FAILED`" in (
            section
        )

    def test_an_acknowledged_fault_stays_failed_as_the_page_says(self):
        """A strategy error acknowledged as the CLI does: FAILED in every snapshot after it."""

        class Raising(ScriptedStrategy):
            def on_bar(self, bar: object, view: object) -> object:
                if self.bars == 3:
                    raise RuntimeError("boom")
                return super().on_bar(bar, view)  # type: ignore[arg-type]

        orch, sinks = session(steps=20, strategy=Raising(lambda *_: ()), feed=ScriptedFeed(["1"]))
        orch.run_to_end(20, operator="cli")
        moves = [(s["fsm_state"], s["status"]) for s in sinks.snapshots()]

        fault = moves.index(("ERROR_REQUIRES_OPERATOR", "FAILED"))
        assert moves[fault:] == [
            ("ERROR_REQUIRES_OPERATOR", "FAILED"),
            ("STOPPING", "FAILED"),
            ("STOPPED", "FAILED"),
            ("STOPPED", "FAILED"),  # the final snapshot
        ]


class TestClientOrderIds:
    def test_the_page_gives_the_contracts_range_and_what_livesession_writes(self):
        from livesession._domain.ids import client_order_id

        said = " ".join(_section("Common rules").split())
        made = client_order_id("run", "strategy", 7, "take_profit")

        assert re.fullmatch(r"ls[0-9a-f]{30}", made)
        assert "1-32 characters of `[A-Za-z0-9]`" in said
        assert "every id livesession makes has all 32 (`ls` and 30 lower-case hex digits)" in said


class TestOtherFiles:
    def test_every_file_a_run_writes_is_on_the_page(self):
        """ "Other files" left out ``metrics.ndjson``, which every CLI run of 1,000 steps or
        more writes: each file a run writes (``runfiles``) is named on the page."""
        from livesession._artifacts import names, runfiles

        text = PAGE.read_text(encoding="utf-8")
        other = _section("Other files (not part of the determinism set)")
        for name in sorted(runfiles._NAMES - set(names.CONTRACT)):
            said = f"`{name}`" in other or (
                name.startswith("idempotency.") and "`idempotency.*`" in other
            )
            assert said, name
        for name in names.CONTRACT:
            assert f"`{name}`" in text, name

    def test_every_file_a_realish_run_leaves_is_on_the_page(self, tmp_path):
        """ "Other files" named the venue's ``broker_journal.jsonl`` but not the realish
        venue's attempt journal beside it, ``broker_journal.attempts.jsonl``, which every
        run on that venue leaves: a file in the run directory the page did not account
        for. Each file such a run leaves is named there."""
        from livesession import create_run
        from livesession._artifacts import names

        config = DryrunConfig.from_mapping({"run_id": "realish", "steps": 30, "broker": "realish"})
        with create_run(config, tmp_path, alerts=False) as run:
            run.run_to_end(30)
        other = _section("Other files (not part of the determinism set)")
        for path in sorted((tmp_path / "realish").iterdir()):
            said = (
                path.name in names.CONTRACT  # each has a section of its own
                or f"`{path.name}`" in other
                or (path.name.startswith("idempotency.") and "`idempotency.*`" in other)
            )
            assert said, path.name

    def test_the_stop_reasons_of_every_stop_signal_are_in_the_session_stopped_row(self):
        """The SESSION_STOPPED row named SIGNAL_SIGTERM and SIGNAL_SIGINT; SIGHUP stops a
        CLI run too, recorded ``SIGNAL_SIGHUP``."""
        from livesession import control

        row = _first_cells("events.jsonl (`C2_DRYRUN_V1`)")["SESSION_STOPPED"]
        for signum in control.STOP_SIGNALS:
            assert f"`SIGNAL_{signum.name}`" in row, signum.name


class TestPayloadFields:
    # Rows that describe their payload in words rather than field by field.
    _IN_WORDS = frozenset({"SESSION_STARTED", "SINK_WRITE_RETRIED", "SINK_WRITE_FAILED"})

    def test_every_field_an_order_event_carries_is_in_its_row(self):
        """The ORDER_SUBMITTED row listed no ``limit_price``, which every LIMIT and STOP order
        (a protective leg, a strategy's limit order) carries: a reviewer reading the table
        could not tell a leg's price was recorded. Each payload key of a run that places
        market, limit and stop orders is now named in its event's row."""
        config = DryrunConfig.from_mapping(
            {"run_id": "t", "steps": 600, "strategy": {"protect_pct": "0.002"}}
        )
        sinks = Sinks()
        orch = LiveSessionOrchestrator(config, **sinks.kwargs())
        orch.run_to_end(600)
        rows = _first_cells("events.jsonl (`C2_DRYRUN_V1`)")
        keys: dict[str, set[str]] = {}
        for line in sinks.events.lines:
            event = orjson.loads(line)
            keys.setdefault(event["event_type"], set()).update(event["payload"])
        order_types = {
            orjson.loads(line)["payload"].get("order_type")
            for line in sinks.events.lines
            if b'"ORDER_SUBMITTED"' in line
        }
        assert {"MARKET", "LIMIT", "STOP"} <= order_types, order_types
        missing = {
            event_type: sorted(k for k in fields if f"`{k}`" not in rows[event_type])
            for event_type, fields in keys.items()
            if event_type not in self._IN_WORDS
        }
        assert {t: m for t, m in missing.items() if m} == {}


class TestRequiredFields:
    def test_every_field_a_schema_requires_is_named_in_its_section(self):
        """Bug: "metrics.json" listed every field it holds but ``schema`` and ``run_id``,
        which its JSON schema requires (an independent writer leaving them out fails
        ``verify``). Each section names every field its artifact's schema requires."""
        import json

        from livesession._artifacts import names

        for artifact in names.CONTRACT:
            stem = artifact.split(".", 1)[0]
            schema = json.loads((SRC / "schemas" / f"{stem}.schema.json").read_text())
            section = PAGE.read_text(encoding="utf-8").split(f"\n## {artifact} (", 1)[1]
            section = section.split("\n## ", 1)[0]
            missing = [key for key in schema["required"] if f"`{key}`" not in section]
            assert not missing, (artifact, missing)
