"""Tests for ``livesession.verify`` and the JSON schemas it checks against."""

from __future__ import annotations

import collections
import hashlib
import json
import random
import re
import subprocess
import sys
from pathlib import Path

import attrs
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from livesession._domain.ids import stable_id
from livesession._domain.lifecycle import SessionState, SessionStatus, Trigger
from livesession.cli import main
from livesession.report import render_report
from livesession.verify import ARTIFACT_NAMES, read_records, verify_run

from _runfactory import SCENARIOS, RunBuilder, build_run, canonical

# This module breaks runs on purpose (it hands the verifier mutated, torn and foreign runs); the verify-every-run check skips them.
pytestmark = pytest.mark.broken_run("it hands the verifier mutated, torn and foreign runs")

SCHEMA_DIR = Path(__file__).parents[1] / "src" / "livesession" / "schemas"
# `file:line: what`, or `file: what` for the file as a whole: never a line 0.
VIOLATION_LINE = re.compile(r"^[^\s:]+(:[1-9]\d*)?: \S.*$")
MUTATION_COUNT = 1200
TOO_DEEP = (
    "nested too deep: arrays and objects more than 254 levels within each other (a record "
    "of the contract nests a few)"
)
MUTATION_OPS = ("flip", "delete", "duplicate", "swap", "truncate")


def violations_of(run_dir: Path) -> str:
    return "\n".join(verify_run(run_dir).violations)


def started(**kwargs: str) -> RunBuilder:
    builder = RunBuilder(**kwargs)
    builder.start()
    builder.preflight()
    builder.move(Trigger.ACTIVATE)
    return builder


def finish(builder: RunBuilder, run_dir: Path) -> Path:
    builder.move(Trigger.REQUEST_STOP)
    builder.move(Trigger.STOPPED)
    builder.stop()
    return builder.write(run_dir)


def renumber(builder: RunBuilder) -> None:
    """Give the builder's events contiguous seqs and matching ids again."""
    for seq, event in enumerate(builder.events, 1):
        event["seq"] = seq
        event["event_id"] = stable_id(
            event["run_id"], event["strategy_id"], event["event_type"], seq, event["payload"]
        )


def rewrite_jsonl(path: Path, index: int, change) -> None:
    lines = path.read_bytes().splitlines()
    record = orjson.loads(lines[index])
    change(record)
    lines[index] = canonical(record)
    path.write_bytes(b"".join(line + b"\n" for line in lines))


def _seq_violations(tmp_path: Path, bars: int, change) -> list[str]:
    """The ``seq`` violations of a run of ``bars`` bars whose events.jsonl lines ``change``
    rearranged (digests left as they were: only the seq lines are looked at)."""
    builder = started()
    for _ in range(bars):
        builder.bar("100.00")
    run = finish(builder, tmp_path / "r")
    lines = (run / "events.jsonl").read_bytes().splitlines(keepends=True)
    (run / "events.jsonl").write_bytes(b"".join(change(lines)))
    return [v for v in verify_run(run).violations if ": seq is " in v]


@pytest.fixture(name="good_run")
def _good_run(tmp_path):
    return build_run(tmp_path / "run")


class TestGoodRuns:
    """Runs that follow the contract verify cleanly."""

    @pytest.mark.parametrize("scenario", SCENARIOS)
    def test_every_scenario_passes(self, tmp_path, scenario):
        """A completed, rejected, failed or resumed run has no violations."""
        result = verify_run(build_run(tmp_path / scenario, scenario=scenario))

        assert result.violations == ()
        assert result.ok

    def test_counts(self, good_run):
        """Counts report the lines of each artifact and what the events add up to."""
        counts = verify_run(good_run).counts

        assert counts["events.jsonl"] == len(
            good_run.joinpath("events.jsonl").read_bytes().splitlines()
        )
        assert counts["bars"] == 12
        assert counts["orders_submitted"] == 3
        assert counts["fills"] == 3
        assert counts["metrics.json"] == 1

    def test_compact_metrics(self, tmp_path):
        """metrics.json may be compact instead of indented."""
        assert verify_run(build_run(tmp_path / "r", metrics_indent=False)).ok

    def test_accepts_str(self, good_run):
        """The run directory may be given as a string."""
        assert verify_run(str(good_run)).ok

    def test_hostile_strategy_id(self, tmp_path):
        """Markup and quotes in the strategy id are data, not a violation."""
        run = build_run(tmp_path / "r", strategy_id="<script>alert('x')</script>&\"")

        assert verify_run(run).ok

    def test_result_is_frozen(self, good_run):
        """A result cannot be changed after the fact."""
        result = verify_run(good_run)

        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            result.ok = False  # type: ignore[misc]
        with pytest.raises(TypeError):
            result.counts["bars"] = 0  # type: ignore[index]

    def test_read_records_is_lenient(self, good_run):
        """read_records skips lines that are not JSON objects and tolerates a missing file."""
        path = good_run / "events.jsonl"
        path.write_bytes(path.read_bytes() + b"garbage\n[1]\n")

        assert len(read_records(path)) == 40
        assert read_records(good_run / "absent.jsonl") == []


class TestSchemas:
    """The shipped schemas are valid and agree with the lifecycle table."""

    @pytest.mark.parametrize("name", ["events", "state_snapshots", "metrics", "audit"])
    def test_valid_draft_2020_12(self, name):
        """Each schema is a valid draft 2020-12 schema, strict at the top level but metrics'."""
        import jsonschema

        schema = orjson.loads((SCHEMA_DIR / f"{name}.schema.json").read_bytes())

        jsonschema.Draft202012Validator.check_schema(schema)
        # metrics.json's fields are "at least" those listed (the contract): others may follow.
        assert schema["additionalProperties"] is (name == "metrics")

    @pytest.mark.parametrize(
        ("number", "change", "said"),
        [
            (2, {"trigger": "start"}, ["trigger 'start' after the first snapshot"]),
            (
                5,
                {"trigger": "final"},
                [
                    "a 'final' snapshot that is not the last",
                    "the final snapshot changes the state",
                ],
            ),
            (6, {"step": 1}, ["step goes back to 1"]),
            (6, {"ts_sim": 60_000_000_000}, ["ts_sim goes back to 60000000000"]),
        ],
        ids=["start-again", "final-early", "step-back", "time-back"],
    )
    def test_a_snapshot_out_of_its_place_is_said(self, tmp_path, number, change, said):
        """The snapshots' own moves: 'start' only first, 'final' only last and keeping the
        state, the step never going back."""
        builder = started()
        builder.bar("100.00")
        builder.bar("101.00")
        run = finish(builder, tmp_path / "r")
        path = run / "state_snapshots.jsonl"
        lines = path.read_bytes().splitlines()
        snap = {**orjson.loads(lines[number - 1]), **change}
        lines[number - 1] = orjson.dumps(snap, option=orjson.OPT_SORT_KEYS)
        path.write_bytes(b"\n".join(lines) + b"\n")
        found = violations_of(run)
        for line in said:
            assert f"state_snapshots.jsonl:{number}: {line}" in found

    def test_snapshot_enums_follow_lifecycle(self):
        """States, statuses and triggers in the snapshot schema are those of _lifecycle."""
        schema = orjson.loads((SCHEMA_DIR / "state_snapshots.schema.json").read_bytes())
        defs = schema["$defs"]

        assert set(defs["fsm_state"]["enum"]) == {s.value for s in SessionState}
        assert set(defs["status"]["enum"]) == {s.value for s in SessionStatus}
        assert set(schema["properties"]["trigger"]["enum"]) == {t.value for t in Trigger} | {
            "start",
            "final",
        }

    def test_a_preflight_detail_is_one_line_of_text(self, tmp_path):
        """PREFLIGHT_CHECK and its C2_REJECT_* record may carry ``detail``: text, one line."""
        from livesession.verify._schemas import Schemas as _Schemas

        run_dir = build_run(tmp_path / "r", scenario="preflight_failed")
        lines = [orjson.loads(x) for x in (run_dir / "events.jsonl").read_bytes().splitlines()]
        event = next(e for e in lines if e["event_type"] == "PREFLIGHT_CHECK")
        audit = [orjson.loads(x) for x in (run_dir / "audit.jsonl").read_bytes().splitlines()]
        record = next(a for a in audit if "check" in a["payload"])
        fast = _Schemas.get()
        for detail, ok in (("order_qty 0.050 > max_order_qty 0.040", True), ("", False),
                           ("two\nlines", False), (7, False)):  # fmt: skip
            with_detail = {**event, "payload": {**event["payload"], "detail": detail}}
            assert (not fast.errors("events.jsonl", with_detail)) is ok, detail
            rec = {**record, "payload": {**record["payload"], "detail": detail}}
            assert (not fast.errors("audit.jsonl", rec)) is ok, detail
        rail = {**record, "code": "C2_REJECT_ALLOWLIST", "payload": {"rule": "ALLOWLIST"}}
        assert not fast.errors("audit.jsonl", rail)  # a rail's reject has no preflight detail

    def test_fast_validation_agrees_with_schema_files(self, tmp_path):
        """Inlined refs and per-event-type branches give the raw schema files' verdicts."""
        import jsonschema

        from livesession.verify._schemas import Schemas as _Schemas

        raw = jsonschema.Draft202012Validator(
            orjson.loads((SCHEMA_DIR / "events.schema.json").read_bytes())
        )
        events = [
            orjson.loads(line)
            for scenario in SCENARIOS
            for line in (build_run(tmp_path / scenario, scenario=scenario) / "events.jsonl")
            .read_bytes()
            .splitlines()
        ]
        types = [*sorted({e["event_type"] for e in events}), "UNKNOWN_TYPE"]
        variants = []
        for event in events:
            variants.append(event)
            variants.append({**event, "payload": {}})
            variants.extend({**event, "event_type": other} for other in types)
            variants.append({**event, "event_type": 7})
        fast = _Schemas.get()

        verdicts = [(raw.is_valid(v), not fast.errors("events.jsonl", v)) for v in variants]

        assert all(a == b for a, b in verdicts)
        assert {a for a, _ in verdicts} == {True, False}

    def test_integer_written_as_float(self, good_run):
        """A count written as 1.0 is a float, which the schema alone would accept."""
        rewrite_jsonl(good_run / "events.jsonl", 0, lambda r: r.update(seq=1.0))

        assert "events.jsonl:1: float at seq" in violations_of(good_run)

    def test_trailing_newline_in_pattern(self, good_run):
        """A hash with a trailing newline does not slip past a `$` anchored pattern."""
        rewrite_jsonl(good_run / "audit.jsonl", 0, lambda r: r.update(prev_hash="0" * 64 + "\n"))

        assert "audit.jsonl:1: schema: prev_hash" in violations_of(good_run)


class TestBrokenFiles:
    """Missing, empty, torn and garbage files are violations, never crashes."""

    def test_missing_directory(self, tmp_path):
        """A directory that does not exist fails with every artifact missing."""
        result = verify_run(tmp_path / "nope")

        assert not result.ok
        for name in ARTIFACT_NAMES:
            assert f"{name}: missing" in result.violations

    @pytest.mark.parametrize("kind", ["missing", "a file"])
    def test_no_directory_is_summed_up_as_the_cli_says_it(self, tmp_path, capsys, kind):
        """Bug: ``verify_run`` of a path that does not exist said ``broken run: 5
        violation(s) of the artifact contract``, a defect to report, where ``livesession
        verify`` says ``run directory ... does not exist``. The result (it still raises
        nothing) now sums it up in the CLI's words; a file in its place likewise."""
        path = tmp_path / "nope"
        if kind == "a file":
            path.write_text("not a run")
        result = verify_run(path)

        assert not result.ok
        assert main(["verify", str(path)]) == 2
        assert capsys.readouterr().err == f"livesession: error: {result.summary}\n"
        expected = {
            "missing": f"run directory {path} does not exist",
            "a file": f"{path} is not a directory (a run is a directory holding events.jsonl "
            "and audit.jsonl)",
        }
        assert result.summary == expected[kind]
        assert result.render(path)[0] == result.summary

    @pytest.mark.parametrize("name", ARTIFACT_NAMES)
    def test_missing_file(self, good_run, name):
        """Each artifact must be present."""
        (good_run / name).unlink()

        assert f"{name}: missing" in verify_run(good_run).violations

    @pytest.mark.parametrize("name", ARTIFACT_NAMES)
    def test_empty_file(self, good_run, name):
        """An empty artifact is reported as such."""
        (good_run / name).write_bytes(b"")

        assert f"{name}: empty file" in verify_run(good_run).violations

    def test_torn_audit_line(self, good_run):
        """A last line without its newline is torn."""
        path = good_run / "audit.jsonl"
        path.write_bytes(path.read_bytes()[:-1])

        assert "audit.jsonl:5: last line does not end with \\n (torn line)" in violations_of(
            good_run
        )

    def test_directory_in_place_of_a_file(self, good_run):
        """An artifact that cannot be read is a violation."""
        (good_run / "events.jsonl").unlink()
        (good_run / "events.jsonl").mkdir()

        assert "events.jsonl: cannot be read" in violations_of(good_run)

    @given(garbage=st.binary(max_size=300), name=st.sampled_from(ARTIFACT_NAMES))
    def test_garbage_never_crashes(self, tmp_path_factory, garbage, name):
        """Any bytes in any artifact give a failed result, not an exception."""
        run = build_run(tmp_path_factory.mktemp("g") / "r")
        (run / name).write_bytes(garbage)

        result = verify_run(run)

        assert not result.ok
        assert all(VIOLATION_LINE.match(v) for v in result.violations)

    def test_deep_nesting(self, good_run):
        """Deeply nested JSON is reported, not a recursion error."""
        (good_run / "metrics.json").write_bytes(b"[" * 5000 + b"]" * 5000)

        assert "metrics.json:1: not valid JSON" in violations_of(good_run)

    def test_a_million_deep_is_named_not_a_crash(self, good_run):
        """orjson before 3.9.15 recursed without a limit: the process died (SIGSEGV)."""
        (good_run / "metrics.json").write_bytes(b"[" * 1_000_000 + b"]" * 1_000_000)

        done = subprocess.run(
            [sys.executable, "-m", "livesession", "verify", str(good_run)],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

        assert done.returncode == 1, done
        assert "metrics.json:1: not valid JSON" in done.stdout + done.stderr

    @pytest.mark.parametrize("depth", [255, 1000])
    @pytest.mark.parametrize("name", ["events.jsonl", "state_snapshots.jsonl", "audit.jsonl"])
    def test_a_line_nested_past_what_orjson_writes_is_one_violation_naming_it(
        self, good_run, name, depth
    ):
        """Before: a line nested 255 to 1,024 deep (orjson reads 1,024 levels, writes 254)
        gave ``(run directory): could not be checked: TypeError: Recursion limit reached``
        and knock-on ``KeyError: 'state_snapshots.jsonl'`` / ``'audit.jsonl'``, never
        naming the line."""
        path = good_run / name
        lines = path.read_bytes().splitlines(keepends=True)
        record = orjson.loads(lines[1])
        record["payload"] = None
        deep = canonical(record).replace(b"null", b"[" * depth + b"]" * depth)
        lines[1] = deep + b"\n"
        path.write_bytes(b"".join(lines))

        violations = verify_run(good_run).violations

        said = [v for v in violations if v.startswith(f"{name}:2: ")]
        assert said == [f"{name}:2: {TOO_DEEP}"]
        assert not [v for v in violations if "could not be checked" in v], violations

    def test_metrics_nested_past_what_orjson_writes_is_one_violation(self, good_run):
        path = good_run / "metrics.json"
        metrics = orjson.loads(path.read_bytes())
        metrics["zz_extra"] = None
        text = orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS)
        path.write_bytes(text.replace(b"null", b"[" * 300 + b"]" * 300) + b"\n")

        violations = verify_run(good_run).violations

        assert [v for v in violations if v.startswith("metrics.json")] == [
            f"metrics.json:1: {TOO_DEEP}"
        ]
        assert not [v for v in violations if "could not be checked" in v], violations

    def test_config_nested_past_what_orjson_writes_is_one_violation(self):
        from livesession.verify._config import check_config
        from livesession.verify._result import Violations

        report = Violations()
        check_config(report, b'{"strategy_params":{"x":' + b"[" * 300 + b"]" * 300 + b"}}", "0")

        assert report.lines == [f"config.json: {TOO_DEEP}"]

    def test_long_garbage_is_capped(self, good_run):
        """A huge bad file lists at most 50 violations for it and says how many more."""
        (good_run / "events.jsonl").write_bytes(b"x\n" * 500)

        lines = [v for v in verify_run(good_run).violations if v.startswith("events.jsonl")]

        assert len(lines) == 51
        assert lines[-1] == "events.jsonl: 450 more violations not listed"


class TestFormat:
    """Lines must be canonical JSON without floats."""

    def test_spaces(self, good_run):
        """A line with spaces is not canonical."""
        path = good_run / "events.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        lines[2] = (
            orjson.dumps(orjson.loads(lines[2]), option=orjson.OPT_SORT_KEYS).replace(b'":', b'": ')
            + b"\n"
        )
        path.write_bytes(b"".join(lines))

        assert "events.jsonl:3: not in canonical form" in violations_of(good_run)

    def test_unsorted_keys(self, good_run):
        """A line with unsorted keys is not canonical."""
        path = good_run / "state_snapshots.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        record = orjson.loads(lines[0])
        lines[0] = orjson.dumps(dict(reversed(record.items()))) + b"\n"
        path.write_bytes(b"".join(lines))

        assert "state_snapshots.jsonl:1: not in canonical form" in violations_of(good_run)

    @pytest.mark.parametrize("name", ["events.jsonl", "state_snapshots.jsonl", "audit.jsonl"])
    def test_crlf_line_endings_are_named_once(self, good_run, name):
        """Windows line endings: the contract ends every line with \\n. Each line was
        reported "not in canonical form (sorted keys, no spaces)", which named neither the
        \\r nor its cause (and the audit chain broke at every line for it too)."""
        path = good_run / name
        lines = path.read_bytes().splitlines()
        path.write_bytes(b"".join(line + b"\r\n" for line in lines))

        found = [v for v in verify_run(good_run).violations if v.startswith(name)]

        said = (
            f"{name}:1: ends with \\r\\n, not \\n, as {len(lines)} of its {len(lines)} lines "
            "do: the contract ends every line with \\n alone (a file converted to Windows line "
            "endings?)"
        )
        assert found == [said]

    def test_a_crlf_line_is_still_held_to_canonical_form(self, good_run):
        """The \\r is said once; a line that is also not canonical is said as such."""
        path = good_run / "events.jsonl"
        lines = path.read_bytes().splitlines()
        lines[2] = lines[2].replace(b'":', b'": ')
        path.write_bytes(b"".join(line + b"\r\n" for line in lines))

        found = [v for v in verify_run(good_run).violations if v.startswith("events.jsonl")]

        assert found[0].startswith("events.jsonl:1: ends with \\r\\n, not \\n, as ")
        assert found[1:] == ["events.jsonl:3: not in canonical form (sorted keys, no spaces)"]

    def test_float_price(self, tmp_path):
        """A float anywhere in a payload is refused, with its path."""
        builder = started()
        builder.event(
            "BAR",
            {
                "symbol": "BTCUSDT",
                "open": "1",
                "high": "1",
                "low": "1",
                "close": 1.5,
                "volume": "1",
            },
        )
        run = finish(builder, tmp_path / "r")

        assert "float at payload.close" in violations_of(run)

    @pytest.mark.parametrize(
        "dumped",
        [
            lambda m: json.dumps(m, sort_keys=True, indent=4),  # no final newline either
            lambda m: json.dumps(m, sort_keys=True, indent="\t") + "\r\n",
            lambda m: json.dumps(m, sort_keys=True, separators=(" , ", " : ")) + "\n\n",
        ],
    )
    def test_metrics_pretty_printed_any_way(self, good_run, dumped):
        """metrics.json is one JSON object, "pretty-printing allowed, keys sorted" (the
        contract): indent=4 without a final newline was refused as not canonical."""
        path = good_run / "metrics.json"
        path.write_text(dumped(orjson.loads(path.read_bytes())), encoding="utf-8")

        assert verify_run(good_run).ok, verify_run(good_run).violations

    def test_metrics_fields_beyond_the_contract_s(self, good_run):
        """The contract lists its fields as "at least": others are allowed (were refused as
        "Additional properties are not allowed"), those it requires are still required and
        recomputed."""
        path = good_run / "metrics.json"
        metrics = orjson.loads(path.read_bytes())
        metrics.update(approved_by="risk desk", zzz_note={"b": 1})
        path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS) + b"\n")
        assert verify_run(good_run).ok, verify_run(good_run).violations

        metrics["steps"] = 11
        path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS) + b"\n")
        assert violations_of(good_run) == "metrics.json:1: steps is 11, the run says 12"

        del metrics["fills"]
        path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS) + b"\n")
        assert violations_of(good_run) == (
            "metrics.json:1: schema: (top level): 'fills' is a required property"
        )

    @pytest.mark.parametrize(
        ("text", "said"),
        [
            (lambda raw: raw.replace(b'"audit_events"', b'"zz"'), "'audit_head' after 'zz'"),
            (lambda raw: raw.replace(b'"BAR"', b'"ZZZ"', 1), "'ORDER_ACCEPTED' after 'ZZZ'"),
            (lambda raw: raw.replace(b"{", b'{"steps": 12,', 1), "key 'steps' twice"),
        ],
    )
    def test_metrics_keys_must_be_sorted(self, good_run, text, said):
        """At every level, and a key written twice is out of order too."""
        path = good_run / "metrics.json"
        path.write_bytes(text(path.read_bytes()))

        found = [v for v in verify_run(good_run).violations if "keys not sorted" in v]
        assert len(found) == 1, verify_run(good_run).violations
        assert found[0].startswith("metrics.json: keys not sorted: ")
        assert said in found[0]

    def test_violation_lines(self, good_run):
        """Every violation reads `file:line: what` (`file: what` for a whole file), one line."""
        (good_run / "audit.jsonl").write_bytes(b"\x00\xff\n{\n")
        (good_run / "events.jsonl").write_bytes(b'{"a":1}\n')

        result = verify_run(good_run)

        assert result.violations
        assert all(VIOLATION_LINE.match(v) for v in result.violations), result.violations


class TestEvents:
    """Events are numbered, identified and ordered as the contract says."""

    def test_wrong_event_id(self, tmp_path):
        """An event id that is not stable_id(...) is reported even when digests agree."""
        builder = started()
        builder.events[2]["event_id"] = "0" * 24
        run = finish(builder, tmp_path / "r")

        event = builder.events[2]
        expected = stable_id(
            event["run_id"], event["strategy_id"], event["event_type"], 3, event["payload"]
        )

        assert violations_of(run) == f"events.jsonl:3: event_id {'0' * 24} != {expected}"

    def test_a_lost_event_is_one_violation_not_one_per_line_after_it(self, tmp_path):
        """One missing record is reported once, with the gap, however long the run goes on."""
        seq_lines = _seq_violations(tmp_path, 50, lambda lines: lines[:5] + lines[6:])

        assert seq_lines == ["events.jsonl:6: seq is 7, expected 6 (1 record(s) missing or moved)"]

    def test_swapped_and_repeated_events_are_named_where_they_are(self, tmp_path):
        """Two swapped records are two violations; a repeated one is one."""

        def swap_and_repeat(lines: list[bytes]) -> list[bytes]:
            lines[8], lines[9] = lines[9], lines[8]
            lines.insert(15, lines[14])
            return lines

        seq_lines = _seq_violations(tmp_path, 20, swap_and_repeat)

        assert seq_lines == [
            "events.jsonl:9: seq is 10, expected 9 (1 record(s) missing or moved)",
            "events.jsonl:10: seq is 9, expected 11 (repeated or out of order)",
            "events.jsonl:16: seq is 15, expected 16 (repeated or out of order)",
        ]

    def test_time_goes_back(self, tmp_path):
        """ts_sim never decreases."""
        builder = started()
        builder.bar("100.00")
        builder.ts_ns = 0
        builder.event("SIGNAL", {"symbol": "BTCUSDT", "side": "BUY", "reason": "x"})
        run = finish(builder, tmp_path / "r")

        assert "events.jsonl:8: ts_sim goes back to 0" in violations_of(run)

    def test_duplicate_client_order_id(self, tmp_path):
        """Two ORDER_SUBMITTED events never share a client order id."""
        builder = started()
        builder.bar("100.00")
        builder.order("BUY", "0.010")
        builder.intents = 0
        builder.open_orders.clear()
        builder.order("BUY", "0.010")
        builder.open_orders.clear()
        run = finish(builder, tmp_path / "r")

        assert "submitted twice" in violations_of(run)

    def test_fill_without_order(self, tmp_path):
        """A fill of an order that was never submitted is reported."""
        builder = started()
        builder.bar("100.00")
        builder.open_orders["lsdeadbeef"] = {"symbol": "BTCUSDT", "side": "BUY"}
        builder.fill("lsdeadbeef", "0.010")
        run = finish(builder, tmp_path / "r")

        assert "fill of lsdeadbeef, which was never submitted" in violations_of(run)

    def test_a_trade_filled_twice_a_fill_of_nothing_and_of_the_other_side(self, tmp_path):
        """A trade id an order filled by twice, a fill of quantity 0 and a fill whose side
        is not its order's are each said."""
        builder = started()
        builder.bar("100.00")
        coid = builder.order("BUY", "0.010")
        builder.fill(coid, "0.004", last=False)
        builder.trades -= 1  # the next fill carries the same trade id
        builder.fill(coid, "0", last=False)
        builder.fill(coid, "0.006", extra={"side": "SELL"})
        found = violations_of(finish(builder, tmp_path / "r"))

        assert f"trade_id 't1' of {coid} filled twice" in found
        assert "fill quantity 0 is not positive" in found
        assert "fill side 'SELL' != order's 'BUY'" in found

    def test_late_fills_are_counted_once_each(self, tmp_path):
        """A fill after a cancel counts one late fill, which metrics.json must carry."""
        builder = started()
        builder.bar("100.00")
        coid = builder.order("BUY", "0.010")
        builder.fill(coid, "0.010", extra={"after_cancel": True})
        found = violations_of(finish(builder, tmp_path / "r"))

        assert "late_fills is missing, the run says 1" in found

    def test_overfill(self, tmp_path):
        """An order never fills more than its quantity."""
        builder = started()
        builder.bar("100.00")
        coid = builder.order("BUY", "0.010")
        builder.fill(coid, "0.008", last=False)
        builder.fill(coid, "0.008")
        run = finish(builder, tmp_path / "r")

        assert f"{coid} filled 0.016 of 0.010" in violations_of(run)

    def test_position_event_disagrees_with_fills(self, tmp_path):
        """POSITION_CHANGED reports the position the fills add up to."""
        builder = started()
        builder.bar("100.00")
        builder.event(
            "POSITION_CHANGED", {"symbol": "BTCUSDT", "position": "1.000", "avg_price": "100.00"}
        )
        run = finish(builder, tmp_path / "r")

        assert "position 1.000 of 'BTCUSDT' but the fills so far add up to 0" in violations_of(run)

    def test_cash_that_no_fill_supports(self, tmp_path):
        """Cash moves only by fills: a jump between two POSITION_CHANGED (a checkpoint's cash
        edited before a resume: the resumed run then sealed a PnL of 1002.02 for 2.02 of
        trading, and verify said OK) is reported."""
        builder = started()
        builder.bar("100.00")
        builder.fill(builder.order("BUY", "0.010"), "0.010")
        builder.cash += 1000
        builder.bar("101.00")
        builder.fill(builder.order("SELL", "0.010"), "0.010")
        run = finish(builder, tmp_path / "r")

        assert (
            "cash 11000.01000 but the last cash recorded and the fills since add up to 10000.01000"
        ) in violations_of(run)

    def test_first_event(self, tmp_path):
        """The first event is SESSION_STARTED."""
        builder = started()
        builder.events.pop(0)
        renumber(builder)
        run = finish(builder, tmp_path / "r")

        assert "events.jsonl:1: the first event is not SESSION_STARTED" in violations_of(run)


class TestSnapshots:
    """Snapshots follow the lifecycle table and the book."""

    def test_illegal_transition(self, tmp_path):
        """A move that is not in TRANSITIONS is reported."""
        builder = RunBuilder()
        builder.start()
        builder.preflight()
        builder.move(Trigger.REQUEST_STOP, to_state="STOPPED")
        builder.stop()
        run = builder.write(tmp_path / "r")

        assert "illegal transition PREFLIGHT_OK --request_stop--> STOPPED" in violations_of(run)

    def test_wrong_status(self, tmp_path):
        """The status follows the state."""
        builder = started()
        builder.move(Trigger.REQUEST_STOP)
        builder.snapshots[-1]["status"] = "COMPLETED"
        builder.move(Trigger.STOPPED)
        builder.stop()
        run = builder.write(tmp_path / "r")

        assert "status COMPLETED in state STOPPING, expected RUNNING" in violations_of(run)

    def test_failed_is_sticky(self, tmp_path):
        """Once FAILED, later snapshots stay FAILED."""
        builder = started()
        builder.move(Trigger.FAULT)
        builder.failed = False
        builder.move(Trigger.OPERATOR_ACK)
        builder.move(Trigger.STOPPED)
        builder.stop()
        run = builder.write(tmp_path / "r")

        assert "status RUNNING after FAILED, which is sticky" in violations_of(run)

    def test_final_positions_must_match_fills(self, tmp_path):
        """The final snapshot holds what the fills add up to."""
        builder = started()
        builder.bar("100.00")
        coid = builder.order("BUY", "0.010")
        builder.fill(coid, "0.010")
        builder.move(Trigger.REQUEST_STOP)
        builder.move(Trigger.STOPPED)
        builder.positions["BTCUSDT"] = builder.positions["BTCUSDT"] * 2
        builder.stop()
        run = builder.write(tmp_path / "r")

        assert "final position 0.020 of 'BTCUSDT' but the fills add up to 0.010" in violations_of(
            run
        )

    def test_state_changed_events_match(self, tmp_path):
        """Each transition snapshot has its STATE_CHANGED event."""
        builder = started()
        builder.events = [e for e in builder.events if e["event_type"] != "STATE_CHANGED"]
        renumber(builder)
        run = finish(builder, tmp_path / "r")

        assert "transitions differ from the STATE_CHANGED events" in violations_of(run)

    def test_run_not_ended(self, tmp_path):
        """A run whose last snapshot is still RUNNING did not end."""
        builder = started()
        builder.stop()
        run = builder.write(tmp_path / "r")

        assert "the run ended with status RUNNING" in violations_of(run)

    def test_foreign_run_id(self, tmp_path):
        """Every snapshot belongs to the run of the events."""
        builder = started()
        builder.snapshots[1]["run_id"] = "other-run"
        run = finish(builder, tmp_path / "r")

        assert "state_snapshots.jsonl:2: run_id 'other-run' != 'run-test-1'" in violations_of(run)


class TestAuditAndMetrics:
    """The audit chain, its closing digests and the metrics recompute."""

    def test_chain_break(self, good_run):
        """A changed audit line breaks the next line's prev_hash."""
        rewrite_jsonl(good_run / "audit.jsonl", 1, lambda r: r["payload"].update(rule="other"))

        assert "audit.jsonl:3: prev_hash does not match the previous line" in violations_of(
            good_run
        )

    def test_events_changed_after_stop(self, good_run):
        """An events.jsonl that differs from the stop record's digest is reported."""
        rewrite_jsonl(
            good_run / "events.jsonl", 5, lambda r: r.update(ts_utc="2026-01-01T00:00:01Z")
        )

        assert "audit.jsonl:5: digest of events.jsonl does not match the file" in violations_of(
            good_run
        )

    def test_no_stop_record(self, good_run):
        """The audit log closes with C2_DRYRUN_STOP."""
        path = good_run / "audit.jsonl"
        path.write_bytes(b"".join(path.read_bytes().splitlines(keepends=True)[:-1]))

        assert (
            "audit.jsonl:4: the last record is C2_REJECT_INSUFFICIENT_BALANCE, not a stop"
            in violations_of(good_run)
        )

    def test_stop_status(self, tmp_path):
        """The stop record's status is the final snapshot's."""
        builder = started()
        builder.move(Trigger.REQUEST_STOP)
        builder.move(Trigger.STOPPED)
        builder.stop()
        builder.status = "FAILED"
        run = builder.write(tmp_path / "r")

        assert "stop status FAILED but final snapshot COMPLETED" in violations_of(run)

    @pytest.mark.parametrize(
        ("field", "value"),
        [
            ("steps", 11),
            ("events_emitted", 41),
            ("audit_events", 4),
            ("state_snapshots", 5),
            ("sink_retries", 0),
            ("orders_submitted", 2),
            ("fills", 2),
            ("rejects_by_reason", {"max_notional": 1}),
            ("events_by_type", {"BAR": 12}),
            ("status", "FAILED"),
            ("run_id", "other"),
            ("audit_head", "a" * 64),
        ],
    )
    def test_metrics_recomputed(self, good_run, field, value):
        """Every metrics field is compared with what the other files say."""
        path = good_run / "metrics.json"
        metrics = orjson.loads(path.read_bytes())
        metrics[field] = value
        path.write_bytes(
            orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
        )

        assert f": {field} is " in violations_of(good_run)

    def test_events_by_type_is_optional(self, good_run):
        """metrics.json may leave out events_by_type, which is only checked when present."""
        path = good_run / "metrics.json"
        metrics = orjson.loads(path.read_bytes())
        del metrics["events_by_type"]
        path.write_bytes(
            orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"
        )

        assert verify_run(good_run).ok

    def test_resumed_run_keeps_other_artifacts(self, tmp_path):
        """A resumed run differs from an uninterrupted one only in audit-derived data."""
        plain = build_run(tmp_path / "plain")
        resumed = build_run(tmp_path / "resumed", scenario="resumed")

        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert (plain / name).read_bytes() == (resumed / name).read_bytes()
        assert verify_run(resumed).ok


def _allowed_metrics(original: bytes, mutated: bytes) -> bool:
    """``mutated`` is a metrics.json the contract allows in place of ``original``.

    The contract's metrics.json is "one JSON object (pretty-printing allowed, keys sorted)"
    with "at least" the fields it lists: a mutation that only changes the layout (the final
    newline cut off) or the name of a field it does not list (``events_by_type`` made
    ``evends_by_type``: an extra field, the optional one absent) changes nothing a verifier
    may hold the file to. Every listed field keeps its value, and the keys stay sorted.
    """
    try:
        before, after = orjson.loads(original), orjson.loads(mutated)
    except orjson.JSONDecodeError:
        return False
    required = orjson.loads((SCHEMA_DIR / "metrics.schema.json").read_bytes())["required"]
    return list(after) == sorted(after) and all(
        field in after and after[field] == before[field] for field in required
    )


def mutate(data: bytes, op: str, rng: random.Random) -> tuple[bytes, str]:
    """Apply one mutation ``op`` to ``data``; the result always differs from ``data``."""
    lines = data.splitlines(keepends=True)
    if op == "swap":
        pairs = [
            (i, j)
            for i in range(len(lines))
            for j in range(i + 1, len(lines))
            if lines[i] != lines[j]
        ]
        if not pairs:
            op = "flip"
        else:
            i, j = rng.choice(pairs)
            lines[i], lines[j] = lines[j], lines[i]
            return b"".join(lines), f"swap lines {i + 1} and {j + 1}"
    if op == "delete":
        i = rng.randrange(len(lines))
        del lines[i]
        return b"".join(lines), f"delete line {i + 1}"
    if op == "duplicate":
        i = rng.randrange(len(lines))
        lines.insert(i, lines[i])
        return b"".join(lines), f"duplicate line {i + 1}"
    if op == "truncate":
        cut = rng.randrange(len(data))
        return data[:cut], f"truncate at byte {cut}"
    position, mask = rng.randrange(len(data)), rng.randrange(1, 256)
    flipped = bytearray(data)
    flipped[position] ^= mask
    return bytes(flipped), f"xor byte {position} with {mask:#04x}"


class TestMutations:
    """Any change to any artifact of a good run is detected."""

    @pytest.mark.slow
    def test_seeded_random_mutations(self, tmp_path):
        """Every one of 1,200 seeded mutations across all four artifacts gives a violation,
        but a metrics.json the contract allows (its layout or an optional field's name)."""
        originals = {
            scenario: {
                name: (
                    build_run(tmp_path / "good" / scenario, scenario=scenario) / name
                ).read_bytes()
                for name in ARTIFACT_NAMES
            }
            for scenario in SCENARIOS
        }
        rng = random.Random(20260101)
        undetected: list[str] = []
        allowed: list[str] = []
        """Mutations of metrics.json that leave a file the contract allows (see below)."""
        tally: collections.Counter[str] = collections.Counter()
        for index in range(MUTATION_COUNT):
            scenario = SCENARIOS[(index // 20) % len(SCENARIOS)]
            name = ARTIFACT_NAMES[index % len(ARTIFACT_NAMES)]
            op = MUTATION_OPS[(index // len(ARTIFACT_NAMES)) % len(MUTATION_OPS)]
            files = dict(originals[scenario])
            files[name], description = mutate(files[name], op, rng)
            assert files[name] != originals[scenario][name], description
            run = tmp_path / "m" / f"{index:04d}"
            run.mkdir(parents=True)
            for file_name, content in files.items():
                (run / file_name).write_bytes(content)
            if verify_run(run).ok:
                undetected.append(f"{scenario} {name}: {description}")
                if name == "metrics.json" and _allowed_metrics(
                    originals[scenario][name], files[name]
                ):
                    allowed.append(undetected.pop())
            tally[f"{name} {description.split()[0]}"] += 1

        detected = MUTATION_COUNT - len(undetected) - len(allowed)
        print(f"\nverify: {MUTATION_COUNT} seeded mutations, {detected} detected")  # noqa: T201 - the count is part of the report
        assert sum(tally.values()) == MUTATION_COUNT >= 1000
        assert len(tally) == len(ARTIFACT_NAMES) * len(MUTATION_OPS)
        assert undetected == []
        assert len(allowed) <= 5, allowed  # 3 with this seed


class TestResumedBeforeFirstCheckpoint:
    def test_leading_resume_records_are_accepted(self, tmp_path):
        """A run resumed before its first checkpoint may open its audit with C2_RESUME."""
        from livesession.cli import main

        out = tmp_path / "runs"
        assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "30", "-q"]) == 0
        audit = out / "r" / "audit.jsonl"
        lines = audit.read_bytes().splitlines()
        records = [orjson.loads(line) for line in lines]
        resume = {
            "code": "C2_RESUME",
            "payload": {"checkpoint": False, "from_step": 0, "in_flight": [], "torn_bytes": {}},
            "prev_hash": "0" * 64,
            "run_id": "r",
            "schema": "C2_AUDIT_V1",
            "seq": 1,
            "ts": records[0]["ts"],
        }
        rebuilt = [resume, *records]
        out_lines = []
        prev = "0" * 64
        for seq, record in enumerate(rebuilt, start=1):
            record["seq"] = seq
            record["prev_hash"] = prev
            line = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            prev = hashlib.sha256(line).hexdigest()
            out_lines.append(line)
        audit.write_bytes(b"\n".join(out_lines) + b"\n")
        metrics_path = out / "r" / "metrics.json"
        metrics = orjson.loads(metrics_path.read_bytes())
        metrics["audit_events"] = len(out_lines)
        metrics["audit_head"] = prev
        metrics_path.write_bytes(orjson.dumps(metrics, option=orjson.OPT_SORT_KEYS) + b"\n")
        result = verify_run(out / "r")
        assert result.ok, result.violations

    def test_resume_records_do_not_excuse_a_missing_start(self, tmp_path):
        """After leading C2_RESUME records, the next record must still be C2_DRYRUN_START."""
        from livesession.cli import main

        out = tmp_path / "runs"
        assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "30", "-q"]) == 0
        audit = out / "r" / "audit.jsonl"
        records = [orjson.loads(line) for line in audit.read_bytes().splitlines()]
        records[0]["code"] = "C2_RESUME"
        records.insert(1, dict(records[0]))
        prev = "0" * 64
        lines = []
        for seq, record in enumerate(records, start=1):
            record["seq"] = seq
            record["prev_hash"] = prev
            line = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
            prev = hashlib.sha256(line).hexdigest()
            lines.append(line)
        audit.write_bytes(b"\n".join(lines) + b"\n")
        result = verify_run(out / "r")
        assert any("not C2_DRYRUN_START" in v for v in result.violations)


@pytest.fixture(scope="module", name="resumed")
def _resumed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run crashed and resumed through the CLI (``_reviewrun``): sealed, with a .torn."""
    from _reviewrun import build_review_run

    return build_review_run(tmp_path_factory.mktemp("torn"))


class TestTornFiles:
    """A sealed run's C2_RESUME records add up to its ``<file>.torn`` files' sizes.

    The bytes a resume cut away are outside the chain, but each resume counts them
    (``torn_bytes``): a ``.torn`` file removed or grown after the run, or one put into a
    run that never resumed, verified OK and the evidence said PASS.
    """

    @pytest.fixture(name="run")
    def _run(self, resumed: Path, tmp_path: Path) -> Path:
        import shutil

        return Path(shutil.copytree(resumed, tmp_path / "review"))

    def test_the_resumed_run_verifies(self, run: Path):
        assert (run / "events.jsonl.torn").stat().st_size > 0
        assert verify_run(run).ok

    @pytest.mark.parametrize("change", ["removed", "grown", "stray"])
    def test_a_changed_torn_file_is_named(self, run: Path, change: str):
        torn = run / ("audit.jsonl.torn" if change == "stray" else "events.jsonl.torn")
        size = torn.stat().st_size if torn.exists() else 0
        if change == "removed":
            torn.unlink()
        else:
            with torn.open("ab") as handle:
                handle.write(b'{"seq":1}\n')

        (violation,) = verify_run(run).violations
        said = "missing" if change == "removed" else f"{size + 10:,} bytes"
        assert violation.startswith(f"{torn.name}: {said}, but the run's C2_RESUME records set ")
        text = " ".join(render_report(run).split())  # the report's own pass says it too
        assert "Integrity checked:" not in text
        assert f"{torn.name}: {said}, but the run" in text


class TestConfigRecorded:
    """``SESSION_STARTED`` records the config's digest; verify holds config.json to it.

    config.json was outside every check: its risk limits could be rewritten after the run
    (a daily-loss cap of 50 %, an order size of 1,000) and verify, and report --verify,
    said OK.
    """

    def _run(self, out: Path, **fields: object) -> Path:
        from livesession import DryrunConfig, create_run

        config = DryrunConfig(run_id="recorded", steps=40, durability="none", **fields)
        create_run(config, out).run_to_end(40)
        return out / "recorded"

    def test_a_limit_changed_after_the_run_is_found(self, tmp_path: Path):
        run = self._run(tmp_path)
        assert verify_run(run).ok
        config = run / "config.json"
        written = config.read_bytes()
        config.write_bytes(written.replace(b'"max_order_qty": "1"', b'"max_order_qty": "1000"'))
        assert written != config.read_bytes()
        (violation,) = verify_run(run).violations
        assert violation.startswith("config.json: not the config the run recorded as it")
        config.write_bytes(b"{not json")
        assert "config.json: not JSON" in violations_of(run)
        config.write_bytes(written)
        assert verify_run(run).ok

    @pytest.mark.parametrize("name", ["config.json", "checkpoint.json", "run.json"])
    def test_a_file_the_run_kept_beside_the_chain_removed_is_found(self, tmp_path, name):
        """None of the three is in the audit chain: a sealed run without its config.json
        (the limits the run traded under), run.json or checkpoint.json verified OK,
        evidence said PASS (or refused the run) and the report "Integrity checked". A run
        livesession made keeps them (the checkpoint once its events record a bar); a run
        written by sinks keeps none."""
        run = self._run(tmp_path)
        (run / name).unlink()

        result = verify_run(run)
        (violation,) = result.violations
        assert violation.startswith(f"{name}: missing, but ")
        assert result.summary == "broken run: 1 violation(s) of the artifact contract"
        for other in ("config.json", "checkpoint.json", "run.json"):  # as sinks leave a run
            (run / other).unlink(missing_ok=True)
        assert verify_run(run).ok

    @pytest.mark.parametrize("name", ["config.json", "checkpoint.json", "run.json"])
    def test_a_directory_in_the_place_of_a_kept_file_is_found(self, tmp_path, name):
        """A sealed run whose run.json, config.json or checkpoint.json a tool replaced with a
        directory verified OK (found over a desk's out/runs), while status called it
        needs_operator and resume refused it: the file's content is lost as if removed."""
        run = self._run(tmp_path)
        kept = (run / name).read_bytes()
        (run / name).unlink()
        (run / name).mkdir()

        (violation,) = verify_run(run).violations
        assert violation.startswith(f"{name}: missing ({name} is a directory, not a file), but ")
        (run / name).rmdir()
        (run / name).write_bytes(kept)
        assert verify_run(run).ok

    @pytest.mark.parametrize(
        ("written", "said"),
        [
            (b"", "run.json: empty file: the version and config hash it records are lost"),
            (b"{not json", "run.json: not JSON ("),
            (b"[1]\n", "run.json: not a JSON object: "),
            (b'{"format": "livesession-run/3"}', "run.json: format 'livesession-run/3', which"),
            (b"", "checkpoint.json: empty file: the state resume continues from and status "),
            (b"{", "checkpoint.json: not JSON ("),
        ],
    )
    def test_a_run_json_no_release_reads_is_found(self, tmp_path, written, said):
        """An empty or corrupt run.json (or one of a format this release does not read),
        or checkpoint.json, verified OK, while evidence, burnin and resume refused the run:
        `run.json is corrupt (not JSON)`, `written by another livesession version`,
        `checkpoint ... is not valid JSON`."""
        run = self._run(tmp_path)
        (run / said.partition(":")[0]).write_bytes(written)

        (violation,) = verify_run(run).violations
        assert violation.startswith(said), violation

    @pytest.mark.parametrize(
        ("key", "value"), [("checkpoint_every", 7), ("durability", "event"), ("base_dir", "/x")]
    )
    def test_a_key_only_run_json_s_hash_holds_is_found(self, tmp_path, key, value):
        """config_sha256 leaves out where the config sat and how the run saved its state;
        run.json's config_hash holds them, and resume and evidence refuse a config.json
        that does not match it (base_dir says where evidence finds the plug-ins' code),
        where verify said OK."""
        run = self._run(tmp_path)
        path = run / "config.json"
        config = orjson.loads(path.read_bytes())
        config[key] = value
        path.write_bytes(orjson.dumps(config, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2))

        (violation,) = verify_run(run).violations
        assert violation.startswith("config.json: not the config run.json records (config_hash ")

    def test_a_crashed_run_without_its_checkpoint_is_not_sent_to_resume(self, tmp_path):
        """verify told such a run to `livesession resume DIR`, which refuses it
        (checkpoint.json is missing, but events.jsonl records steps)."""
        run = self._run(tmp_path)
        audit = run / "audit.jsonl"
        audit.write_bytes(audit.read_bytes()[:-20])  # the stop record cut
        (run / "checkpoint.json").unlink()

        result = verify_run(run)
        assert result.summary.startswith(
            "incomplete run: no C2_DRYRUN_STOP, and checkpoint.json is missing though "
            "events.jsonl records steps: resume cannot continue it"
        )
        assert "livesession resume" not in result.summary

    def test_where_the_config_file_sits_and_the_durability_are_not_recorded(self, tmp_path: Path):
        """The same run from a config file in two directories, written with two
        durabilities, records the same bytes (the evidence re-run writes with none)."""
        import subprocess
        import sys

        example = Path(__file__).parents[1] / "examples"
        digests = []
        for place in ("a", "b/deeper"):
            folder = tmp_path / place
            folder.mkdir(parents=True)
            (folder / "desk.toml").write_bytes((example / "mydesk.toml").read_bytes())
            (folder / "mydesk").mkdir()
            for source in (example / "mydesk").glob("*.py"):
                (folder / "mydesk" / source.name).write_bytes(source.read_bytes())
            subprocess.run(
                [sys.executable, "-m", "livesession.cli", "dryrun", "-q",
                 "--config", str(folder / "desk.toml"), "--out", str(folder / "runs")],
                check=True, cwd=tmp_path, timeout=120,
            )  # fmt: skip
            run = folder / "runs" / "mydesk"
            assert verify_run(run).ok
            assert orjson.loads((run / "config.json").read_bytes())["base_dir"] == str(folder)
            started = orjson.loads((run / "events.jsonl").read_bytes().splitlines()[0])
            assert len(started["payload"]["config_sha256"]) == 64
            digests.append(hashlib.sha256((run / "events.jsonl").read_bytes()).hexdigest())
        assert digests[0] == digests[1]
