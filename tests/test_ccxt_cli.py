"""Whole CLI dry runs (``livesession dryrun --broker ccxt:binance``) against the loopback fake.

``livesession.cli.main`` runs in-process. The credentials come from the environment (the
fake's test key and secret), and ``_rundir._ccxt_broker`` is wrapped so that the broker it
builds carries a ``LoopbackRoute`` to ``fake_binance.FakeBinance`` on 127.0.0.1, no client
rate limit, a short timeout and recorded (not slept) lookup pauses. Nothing else changes:
the run takes the same path as an operator's, preflight venue checks included, and the
conftest guard fails any connection that is not loopback.

The strategy prices come from the simulated feed while the fake fills at its own mark, so
money differs from a mock run; positions, orders and the checks do not.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

import orjson

import livesession
from livesession._rundir import brokers as _rundir
from livesession.brokers.ccxt.convert import _on_grid
from livesession.cli import main
from livesession.verify import verify_run

from _ccxt_route import CHILD_CLI
from fake_binance import (
    HOLD_S,
    TEST_API_KEY,
    TEST_API_SECRET,
    TESTNET_PREFIX,
    FakeBinance,
    LoopbackRoute,
)

pytestmark = pytest.mark.ccxt

STEPS = 200
SEED = 1  # its walk ends the 200 steps long: the stop has a position to flatten
"""Enough bars for seven strategy signals, and a position still open at the stop."""
TIMEOUT_MS = 300
REVOKED_KEY = "revoked-binance-test-key-0002"
FOUR_ARTIFACTS = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")
VENUE_CHECKS = (
    "venue_sandbox_verified",
    "venue_markets_loaded",
    "venue_symbols_listed",
    "venue_balance_fetch",
    "venue_run_id_unused",
)
ORDER_PATH = "/api/v3/order"


@dataclass
class Venue:
    """The fake exchange a CLI run trades with, and what the wrapped factory saw."""

    fake: FakeBinance
    route: LoopbackRoute
    waits: list[int] = field(default_factory=list)
    brokers: int = 0


@dataclass(frozen=True)
class VenueFailure:
    """A preflight venue failure: how it is provoked and what it must be reported as."""

    check: str
    reason: str
    key: str = TEST_API_KEY
    """The API key the run presents (the fake knows only its test key)."""
    config: str = ""
    """A config file's text, when the failure needs one."""
    detail: str = ""
    """The failed check's detail (one line for a person)."""


@pytest.fixture(name="venue")
def _venue(fake, monkeypatch):
    """Credentials in the environment and every ccxt broker of a run routed to the fake."""
    monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("LIVESESSION_BINANCE_API_SECRET", TEST_API_SECRET)
    venue = Venue(fake=fake, route=LoopbackRoute(fake.port))
    original = _rundir._ccxt_broker

    def loopback_broker(cfg: Any, **options: Any) -> Any:
        venue.brokers += 1
        test_options = {
            "session_hook": lambda session: session.mount(TESTNET_PREFIX, venue.route),
            "enable_rate_limit": False,
            "timeout_ms": TIMEOUT_MS,
            "lookup_interval_ns": 1_000,
            "wait_ns": venue.waits.append,
        }
        return original(cfg, **(test_options | options))

    monkeypatch.setattr(_rundir, "_ccxt_broker", loopback_broker)
    return venue


def _dryrun(out: Path, run_id: str, *extra: str, broker: str = "ccxt:binance") -> int:
    return main(
        [
            "dryrun",
            "--broker",
            broker,
            "--out",
            str(out),
            "--run-id",
            run_id,
            "--steps",
            str(STEPS),
            "--seed",
            str(SEED),
            "-q",
            *extra,
        ]
    )


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _events(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in _jsonl(run_dir / "events.jsonl") if e["event_type"] == event_type]


def _audit_codes(run_dir: Path) -> list[str]:
    return [record["code"] for record in _jsonl(run_dir / "audit.jsonl")]


def _submitted(run_dir: Path) -> list[tuple[str, str, str, str]]:
    return [
        (o["client_order_id"], o["side"], o["quantity"], o["reason"])
        for o in _events(run_dir, "ORDER_SUBMITTED")
    ]


def _assert_verified(run_dir: Path) -> None:
    for name in FOUR_ARTIFACTS:
        assert (run_dir / name).stat().st_size > 0, name
    result = verify_run(run_dir)
    assert result.violations == ()
    assert result.ok


def _assert_no_secret(run_dir: Path, *secrets: str) -> None:
    files = [p for p in sorted(run_dir.rglob("*")) if p.is_file()]
    assert files
    for path in files:
        data = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in data, f"{secret[:8]}... in {path.name}"


def _assert_flat_and_completed(run_dir: Path) -> None:
    final = _jsonl(run_dir / "state_snapshots.jsonl")[-1]
    assert (final["status"], final["fsm_state"]) == ("COMPLETED", "STOPPED")
    assert final["open_orders"] == []
    assert all(Decimal(qty) == 0 for qty in final["positions"].values()), final["positions"]
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    assert metrics["status"] == "COMPLETED"


def _assert_each_order_once(venue: Venue, run_dir: Path) -> list[str]:
    """Every submitted order was created exactly once at the fake, and nothing else was."""
    cids = [cid for cid, *_ in _submitted(run_dir)]
    assert len(cids) == len(set(cids))
    assert dict(venue.fake.created) == dict.fromkeys(cids, 1)
    filled = {f["client_order_id"] for f in _events(run_dir, "ORDER_FILLED")}
    assert filled == set(cids)
    return cids


class TestCompletedRun:
    """A CLI dry run on the loopback exchange ends COMPLETED and passes the verifier."""

    def test_writes_the_four_artifacts_and_passes_verify(self, venue, tmp_path, capsys):
        """Exit 0, verified artifacts, venue checks passed, each order created once, flat."""
        run_dir = tmp_path / "venue"
        code = _dryrun(tmp_path, "venue", "--log-level", "debug")
        captured = capsys.readouterr()

        assert code == 0, captured.err
        assert venue.brokers == 1
        _assert_verified(run_dir)
        _assert_flat_and_completed(run_dir)

        checks = {
            c["check"]: (c["passed"], c["reason"]) for c in _events(run_dir, "PREFLIGHT_CHECK")
        }
        assert set(VENUE_CHECKS) <= set(checks)
        assert all(passed for passed, _reason in checks.values()), checks
        assert _audit_codes(run_dir) == ["C2_DRYRUN_START", "C2_DRYRUN_STOP"]

        cids = _assert_each_order_once(venue, run_dir)
        assert len(cids) >= 2
        assert venue.fake.count("POST", ORDER_PATH) == len(cids)
        assert _submitted(run_dir)[-1][3] == "flatten"  # the stop flattened the open position
        assert venue.fake.free("BTC") == Decimal(1)  # and the venue's balance is back too
        assert venue.fake.bad_signatures == 0
        assert venue.fake.count("GET", "/api/v3/account") == 1  # one preflight pass
        # ccxt's floats (0.01, 30000.0) reach the artifacts on the session's lot and tick.
        for fill in _events(run_dir, "ORDER_FILLED"):
            assert (fill["quantity"], fill["price"]) == ("0.010", "30000.00"), fill
        assert venue.route.hosts
        assert set(venue.route.hosts) == {"testnet.binance.vision"}
        assert len(venue.route.hosts) == len(venue.fake.requests)

        _assert_no_secret(run_dir, TEST_API_KEY, TEST_API_SECRET)
        for stream in (captured.out, captured.err):
            assert TEST_API_KEY not in stream
            assert TEST_API_SECRET not in stream

    def test_same_decisions_and_checks_as_a_mock_run(self, venue, tmp_path):
        """A mock run of the same config submits the same orders and verifies the same way."""
        venue_dir, mock_dir = tmp_path / "venue" / "same", tmp_path / "mock" / "same"
        assert _dryrun(venue_dir.parent, "same") == 0
        assert _dryrun(mock_dir.parent, "same", broker="mock") == 0
        assert venue.brokers == 1
        for run_dir in (venue_dir, mock_dir):
            _assert_verified(run_dir)
            _assert_flat_and_completed(run_dir)
        assert _submitted(venue_dir) == _submitted(mock_dir)
        venue_counts = dict(verify_run(venue_dir).counts)
        mock_counts = dict(verify_run(mock_dir).counts)
        # Only the five venue preflight checks are extra events.
        assert venue_counts.pop("events.jsonl") == mock_counts.pop("events.jsonl") + 5
        assert venue_counts == mock_counts
        venue_checks = [c["check"] for c in _events(venue_dir, "PREFLIGHT_CHECK")]
        mock_checks = [c["check"] for c in _events(mock_dir, "PREFLIGHT_CHECK")]
        assert venue_checks == mock_checks + list(VENUE_CHECKS)


class TestFaultsMidRun:
    """Faults at the venue during a run are absorbed without ever duplicating an order."""

    def test_timeout_after_recording_and_rate_limits(self, venue, tmp_path):
        """A read timeout on a recorded order, 429s and a 5xx still end COMPLETED, no dup."""
        fake = venue.fake
        # The first order is recorded, then its answer comes too late: outcome unknown.
        fake.add_fault("delay", when="after", delay_s=HOLD_S)
        # The second order is refused with a 429 before the venue applies it.
        fake.add_fault("http_429")
        # Reads fail too: the first reconciliation and the first order poll.
        fake.add_fault("http_429", method="GET", path="/api/v3/openOrders")
        fake.add_fault("http_5xx", method="GET", path=ORDER_PATH)
        run_dir = tmp_path / "faulty"

        assert _dryrun(tmp_path, "faulty") == 0
        assert fake.pending_faults() == 0
        _assert_verified(run_dir)
        _assert_flat_and_completed(run_dir)
        cids = _assert_each_order_once(venue, run_dir)
        # One POST per order, plus the one the 429 refused; the timed-out one was looked up.
        assert fake.count("POST", ORDER_PATH) == len(cids) + 1
        assert _submitted(run_dir)[-1][3] == "flatten"
        accepted = [a["client_order_id"] for a in _events(run_dir, "ORDER_ACCEPTED")]
        assert accepted == cids
        _assert_no_secret(run_dir, TEST_API_KEY, TEST_API_SECRET)

    def test_error_before_recording_is_never_resent_blindly(self, venue, tmp_path):
        """A 503 before the venue applied an order: COMPLETED, verified, flat, no duplicate."""
        fake = venue.fake
        fake.add_fault("http_5xx")
        run_dir = tmp_path / "refused"

        assert _dryrun(tmp_path, "refused") == 0
        assert fake.pending_faults() == 0
        _assert_verified(run_dir)
        _assert_flat_and_completed(run_dir)
        first = _submitted(run_dir)[0][0]
        # Whether it was resent once or given up, the first order exists at most once.
        assert fake.created[first] <= 1
        cids = [cid for cid, *_ in _submitted(run_dir)]
        assert set(fake.created) <= set(cids)
        assert all(count == 1 for count in fake.created.values())


# The CLI in a child process (``CHILD_CLI``), its ccxt broker routed to the fake at the port
# in argv[1] (with the client timeout in argv[2]) as the ``venue`` fixture routes this
# process's brokers, so a crash point can kill it.


def _crashed_dryrun(venue: Venue, out: Path, run_id: str, crash_at: str) -> int:
    """A CLI dry run on the fake in a child process, killed at ``crash_at``; its exit code."""
    paths = [str(Path(__file__).parent), str(Path(livesession.__file__).parents[1])]
    env = os.environ | {
        "LIVESESSION_CRASH_AT": crash_at,
        "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]),
    }
    args = ["dryrun", "--broker", "ccxt:binance", "--out", str(out), "--run-id", run_id]
    args += ["--steps", str(STEPS), "--seed", str(SEED), "-q"]
    done = subprocess.run(
        [sys.executable, "-c", CHILD_CLI, str(venue.fake.port), str(TIMEOUT_MS), *args],
        env=env,
        capture_output=True,
        check=False,
        timeout=300,  # a hang guard only: the crash point kills it
    )
    return done.returncode


class TestCrashAndResume:
    """A run killed after the venue got an order resumes, tracks that order and finishes."""

    def test_an_order_sent_before_the_crash_is_filled_in_the_resumed_book(self, venue, tmp_path):
        """Killed after the send, before ORDER_SUBMITTED: the resume finds the order at the
        venue, records its ack and fill, and ends COMPLETED and flat, with no order twice."""
        run_dir = tmp_path / "crashed"
        assert _crashed_dryrun(venue, tmp_path, "crashed", "after_send:1") == -9
        assert _events(run_dir, "ORDER_SUBMITTED") == []
        (sent,) = venue.fake.created  # the venue has it, the run's record does not

        assert main(["resume", str(run_dir), "-q"]) == 0
        _assert_verified(run_dir)
        _assert_flat_and_completed(run_dir)
        cids = _assert_each_order_once(venue, run_dir)
        assert cids[0] == sent
        assert [a["client_order_id"] for a in _events(run_dir, "ORDER_ACCEPTED")] == cids
        assert _audit_codes(run_dir) == ["C2_DRYRUN_START", "C2_RESUME", "C2_DRYRUN_STOP"]
        assert venue.fake.free("BTC") == Decimal(1)  # the venue is flat again too


class TestFillGrid:
    """ccxt's floats reach the session on its lot and tick, never rounded."""

    @pytest.mark.parametrize(
        ("value", "step", "expected"),
        [
            ("0.01", "0.001", "0.010"),
            ("30000.0", "0.01", "30000.00"),
            ("0.0015", "0.001", "0.0015"),  # off the grid: kept as the venue said
            ("1E+30", "0.001", "1E+30"),  # beyond the precision: kept
            ("30", "1E+1", "30"),  # a positive exponent: kept
            ("0.01", None, "0.01"),
        ],
    )
    def test_on_grid(self, value, step, expected):
        """Only the representation changes, and only for multiples of the step."""
        result = _on_grid(Decimal(value), None if step is None else Decimal(step))
        assert str(result) == expected
        assert result == Decimal(value)


class TestPreflightVenueFailure:
    """A venue check that fails rejects the session before any order exists."""

    @pytest.mark.parametrize(
        "case",
        [
            pytest.param(
                VenueFailure(
                    key=REVOKED_KEY,
                    check="venue_balance_fetch",
                    reason="AUTH",
                    detail="the venue's balances could not be fetched (AUTH)",
                ),
                id="auth",
            ),
            pytest.param(
                VenueFailure(
                    config='allowlist = ["BTC/USDT", "SOL/USDT"]\n',
                    check="venue_symbols_listed",
                    reason="SYMBOL_NOT_LISTED",
                    detail="SOL/USDT of the allowlist is not listed by the venue",
                ),
                id="symbol",
            ),
        ],
    )
    def test_exits_3_with_the_reason(self, venue, tmp_path, monkeypatch, case):
        """Exit 3, audit C2_REJECT_<REASON>, no ORDER_SUBMITTED and nothing sent."""
        key, check, reason = case.key, case.check, case.reason
        monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", key)
        extra: list[str] = []
        if case.config:
            path = tmp_path / "venue.toml"
            path.write_text(case.config, encoding="utf-8")
            extra = ["--config", str(path)]
        run_dir = tmp_path / "rejected"

        assert _dryrun(tmp_path, "rejected", *extra) == 3
        _assert_verified(run_dir)
        checks = {
            c["check"]: (c["passed"], c["reason"]) for c in _events(run_dir, "PREFLIGHT_CHECK")
        }
        assert checks[check] == (False, reason)
        assert [name for name, (passed, _r) in checks.items() if not passed] == [check]
        (failed,) = (c for c in _events(run_dir, "PREFLIGHT_CHECK") if c["check"] == check)
        assert failed["detail"] == case.detail
        assert _audit_codes(run_dir) == ["C2_DRYRUN_START", f"C2_REJECT_{reason}", "C2_DRYRUN_STOP"]
        assert _events(run_dir, "ORDER_SUBMITTED") == []
        final = _jsonl(run_dir / "state_snapshots.jsonl")[-1]
        assert (final["status"], final["fsm_state"]) == ("REJECTED", "PREFLIGHT_FAILED")
        assert venue.fake.count("POST", ORDER_PATH) == 0
        assert not venue.fake.created
        _assert_no_secret(run_dir, key, TEST_API_SECRET)
