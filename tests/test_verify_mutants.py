"""What ``verify`` must say that no other test held it to, found by mutating the verifier.

Each test breaks a run on purpose (or a part of the verifier, where the promise is about a
crash: "a check that crashes is reported, never raised") and holds ``verify`` to what it
says of it. Each was written against a mutant of ``verify/_checks.py`` or ``verify/_replay.py``
that passed every verify test (``tools/mutants.py``); those of ``verify/_links.py`` are with
the other causal-link tests, in tests/test_burnin.py.
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import DryrunConfig, create_run
from livesession._domain.lifecycle import Trigger
from livesession.verify import _checks, _reading, verify_run

from _runfactory import RunBuilder, build_run

pytestmark = pytest.mark.broken_run("it breaks runs, or the verifier, on purpose")


def _events(run: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]


def _write_metrics(run: Path, metrics: dict[str, Any]) -> None:
    option = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2
    (run / "metrics.json").write_bytes(orjson.dumps(metrics, option=option) + b"\n")


def _line_of(run: Path, field: str) -> int:
    lines = (run / "metrics.json").read_bytes().splitlines()
    return next(
        n for n, line in enumerate(lines, 1) if line.strip().startswith(f'"{field}"'.encode())
    )


def started() -> RunBuilder:
    builder = RunBuilder()
    builder.start()
    builder.preflight()
    builder.move(Trigger.ACTIVATE)
    return builder


class TestACrashIsReported:
    """A check or a reading that crashes is a violation: the run is never called OK."""

    def test_a_reading_that_crashes_is_said_of_the_run_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        run = build_run(tmp_path / "r")

        def crash(*args: object, **kwargs: object) -> None:
            raise ValueError("broken on purpose")

        monkeypatch.setattr(_reading.RunFiles, "read", crash)
        result = verify_run(run, live=None)

        assert not result.ok  # the checks after it, with nothing read, are said too
        said = "(run directory): could not be checked: ValueError: broken on purpose"
        assert result.violations[0] == said

    def test_a_check_that_crashes_is_said_of_its_file(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        run = build_run(tmp_path / "r")

        def crash(*args: object, **kwargs: object) -> None:
            raise RuntimeError("broken on purpose")

        monkeypatch.setattr(_checks, "check_config", crash)
        result = verify_run(run, live=None)

        assert not result.ok
        assert result.violations == (
            "config.json: could not be checked: RuntimeError: broken on purpose",
        )


class TestTheFinalBook:
    """The final snapshot's book against what the fills add up to."""

    def test_a_position_in_a_symbol_no_fill_touched_is_said(self, tmp_path: Path) -> None:
        """A short of 1 ETHUSDT in the final snapshot, which no fill made: the fills add up
        to 0 of it (a mutant took a symbol never filled as -1, and this short agreed)."""
        builder = started()
        builder.bar("100.00")
        builder.move(Trigger.REQUEST_STOP)
        builder.move(Trigger.STOPPED)
        builder.positions["ETHUSDT"] = Decimal(-1)
        builder.stop()
        run = builder.write(tmp_path / "r")

        violations = verify_run(run, live=None).violations
        assert "final position -1 of 'ETHUSDT' but the fills add up to 0" in "\n".join(violations)


class TestTheAuditChain:
    """The chain is checked past a line that is no record."""

    def test_the_line_after_one_that_is_no_record_is_still_held_to_the_chain(
        self, tmp_path: Path
    ) -> None:
        """Audit line 2 replaced by JSON that is no record: line 3 no longer chains to it,
        and that is said as well (a mutant stopped checking the chain at line 2)."""
        run = build_run(tmp_path / "r")
        audit = run / "audit.jsonl"
        lines = audit.read_bytes().splitlines(keepends=True)
        lines[1] = b'{"broken":"on purpose"}\n'
        audit.write_bytes(b"".join(lines))

        violations = verify_run(run, live=None).violations
        assert "audit.jsonl:3: prev_hash does not match the previous line" in violations

    def test_a_broken_link_in_a_crlf_file_is_still_said(self, tmp_path: Path) -> None:
        """Windows line endings explain a chain that hashes each line with its ``\\r``;
        they do not explain a ``prev_hash`` that is no line's hash at all (a mutant took
        any line ending in ``\\r`` as chained)."""
        run = build_run(tmp_path / "r")
        audit = run / "audit.jsonl"
        lines = audit.read_bytes().splitlines()
        record = orjson.loads(lines[2])
        record["prev_hash"] = "a" * 64
        lines[2] = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        audit.write_bytes(b"".join(line + b"\r\n" for line in lines))

        violations = verify_run(run, live=None).violations
        assert "audit.jsonl:3: prev_hash does not match the previous line" in violations
        assert "audit.jsonl:2: prev_hash does not match the previous line" not in violations


@pytest.fixture(name="faulty_run", scope="module")
def _faulty_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A realish venue whose calls fail often: the session retries its sends."""
    config = DryrunConfig.from_mapping(
        {
            "run_id": "retried",
            "seed": 41,
            "steps": 300,
            "broker": "realish",
            "strategy": {"fast": 2, "slow": 5},
            "realish": {"transient_rate": "0.3", "timeout_rate": "0.2"},
            "broker_max_consecutive_failures": 1_000,
        }
    )
    out = tmp_path_factory.mktemp("retried")
    create_run(config, out, idempotency_backend="jsonl").run_to_end(config.steps)
    return out / "retried"


class TestBrokerRetries:
    """``broker_retries`` in metrics.json is the count of BROKER_CALL_RETRIED by operation."""

    def test_a_run_with_retries_verifies(self, faulty_run: Path) -> None:
        retried = [e for e in _events(faulty_run) if e["event_type"] == "BROKER_CALL_RETRIED"]
        metrics = orjson.loads((faulty_run / "metrics.json").read_bytes())

        assert retried, "the venue's faults made no retry: choose another seed"
        assert metrics["broker_retries"] == {"submit": len(retried)}
        assert verify_run(faulty_run, live=None).violations == ()

    def test_a_retry_count_changed_is_said(self, faulty_run: Path, tmp_path: Path) -> None:
        run = tmp_path / "retried"
        shutil.copytree(faulty_run, run)
        metrics = orjson.loads((run / "metrics.json").read_bytes())
        real = metrics["broker_retries"]["submit"]
        metrics["broker_retries"]["submit"] = real + 1
        _write_metrics(run, metrics)

        violations = "\n".join(verify_run(run, live=None).violations)
        assert (
            f'broker_retries is {{"submit":{real + 1}}}, the run says {{"submit":{real}}}'
            in violations
        )

    def test_broker_retries_left_out_is_said(self, faulty_run: Path, tmp_path: Path) -> None:
        """The run retried, metrics.json says nothing of it: said of the file as a whole."""
        run = tmp_path / "retried"
        shutil.copytree(faulty_run, run)
        metrics = orjson.loads((run / "metrics.json").read_bytes())
        real = metrics.pop("broker_retries")["submit"]
        _write_metrics(run, metrics)

        violations = verify_run(run, live=None).violations
        assert f'metrics.json:1: broker_retries is missing, the run says {{"submit":{real}}}' in (
            violations
        )


class TestCrashedOrBroken:
    """Whether the audit log ends as a crash leaves it (incomplete) or was changed (broken)."""

    def test_a_torn_line_after_the_seal_is_a_broken_run_not_a_crash(self, tmp_path: Path) -> None:
        """Bytes after ``C2_DRYRUN_STOP``: the run was sealed, so no crash tore them
        (a mutant judged the seal without the last whole line, and said incomplete)."""
        run = build_run(tmp_path / "r")
        audit = run / "audit.jsonl"
        audit.write_bytes(audit.read_bytes() + b'{"schema":"C2_AU')

        result = verify_run(run, live=None)
        assert result.summary.startswith("broken run: ")
        assert "audit.jsonl:5: C2_DRYRUN_STOP is not the last record" in result.violations

    def test_an_audit_log_of_one_torn_line_is_a_crash_at_its_first_write(
        self, tmp_path: Path
    ) -> None:
        """Only the first record's first bytes: the run crashed as it began (a mutant took
        a log with no whole line for a broken one)."""
        run = build_run(tmp_path / "r")
        audit = run / "audit.jsonl"
        audit.write_bytes(audit.read_bytes()[:30])

        result = verify_run(run, live=None)
        assert result.summary.startswith("incomplete run: no C2_DRYRUN_STOP")


class TestMetrics:
    """metrics.json's fields against what the other files add up to."""

    def test_broker_retries_written_empty_is_said(self, tmp_path: Path) -> None:
        """``broker_retries`` is written only once non-zero; the schema lets ``{}`` by, the
        verifier does not (a mutant dropped the "written but zero" check)."""
        run = build_run(tmp_path / "r")
        metrics = orjson.loads((run / "metrics.json").read_bytes())
        _write_metrics(run, {**metrics, "broker_retries": {}})

        line = _line_of(run, "broker_retries")
        assert verify_run(run, live=None).violations == (
            f"metrics.json:{line}: broker_retries is written but zero",
        )
