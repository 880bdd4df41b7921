"""Broker faults are events, and an unhealthy broker halts trading.

Scenarios drive the CLI (``dryrun --broker realish`` with high fault rates, then ``verify``
and ``prom``) and the API (a venue that fails every call; a venue whose polls go silent),
and verify every run they make. Unit tests pin ``BrokerHealth`` and the report handling of
duplicates.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import DryrunConfig, TradingState, Transient
from livesession._cli_summary import exposure_line
from livesession._rundir import create_run
from livesession._session.assembly import reconcile_grace_ns
from livesession.cli import main
from livesession.report import render_report
from livesession.status import run_status
from livesession.testing import FaultBroker
from livesession.verify import verify_run

from crash_harness import cli

_REALISH_FAULTS = (
    '[realish]\ntransient_rate = "0.3"\ntimeout_rate = "0.2"\nduplicate_ack_rate = "0.3"\n'
    'late_fill_rate = "0.5"\nlate_fill_ms = 600000\nlatency_ms = 250\n'
    '[fill_model]\npartial_fill_ratio = "0.5"\nreject_rate = "0.1"\n'
)


def _events(run_dir: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]


def _of(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in _events(run_dir) if e["event_type"] == event_type]


def _codes(run_dir: Path) -> list[str]:
    lines = (run_dir / "audit.jsonl").read_bytes().splitlines()
    return [orjson.loads(line)["code"] for line in lines]


def _verified(run_dir: Path) -> None:
    result = verify_run(run_dir)
    assert result.ok, result


# -- the realish venue through the CLI ------------------------------------------------------


def test_realish_faults_are_events_counted_everywhere(tmp_path: Path) -> None:
    """Retries, unknown outcomes and duplicates: events, audit, metrics, prom, report."""
    pytest.importorskip("prometheus_client")
    config = tmp_path / "run.toml"
    config.write_text(_REALISH_FAULTS, encoding="utf-8")
    out = tmp_path / "runs"
    done = cli(
        "dryrun", "--out", out, "--run-id", "rf", "--config", config, "-q",
        "--seed", "41", "--steps", "600", "--broker", "realish", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = out / "rf"
    assert cli("verify", run, cwd=tmp_path).returncode == 0
    _verified(run)

    retried = _of(run, "BROKER_CALL_RETRIED")
    assert retried
    assert {r["operation"] for r in retried} == {"submit"}
    assert all(r["attempt"] >= 1 and r["error"] in {"Transient", "OutcomeUnknown"} for r in retried)
    unknown = _of(run, "ORDER_OUTCOME_UNKNOWN")
    resolved = _of(run, "ORDER_OUTCOME_RESOLVED")
    assert unknown
    # The realish venue always answers lookups: every timeout is resolved at once.
    assert [u["client_order_id"] for u in unknown] == [r["client_order_id"] for r in resolved]
    duplicates = _of(run, "DUPLICATE_REPORT")
    assert duplicates
    assert {d["report"] for d in duplicates} == {"ACK"}

    metrics = orjson.loads((run / "metrics.json").read_bytes())
    assert metrics["broker_retries"] == {"submit": len(retried)}
    assert metrics["outcomes_unknown"] == len(unknown)
    assert metrics["outcomes_resolved"] == len(resolved)
    assert metrics["duplicate_reports"] == len(duplicates)
    codes = _codes(run)
    assert codes.count("C2_BROKER_CALL_RETRY") == len(retried)
    assert codes.count("C2_ORDER_OUTCOME_UNKNOWN") == len(unknown)

    prom = tmp_path / "m.prom"
    assert cli("prom", run, "--output", prom, cwd=tmp_path).returncode == 0
    text = prom.read_text(encoding="utf-8")
    assert f'trader_retries_total{{kind="submit",run_id="rf"}} {float(len(retried))}' in text

    html = tmp_path / "r.html"
    assert cli("report", run, "--output", html, cwd=tmp_path).returncode == 0
    page = html.read_text(encoding="utf-8")
    assert f"{len(retried)} (submit {len(retried)})" in page
    assert "duplicate reports" in page


def test_no_faults_no_fields(tmp_path: Path) -> None:
    """A run without venue faults writes no broker-fault fields, and verify agrees."""
    out = tmp_path / "runs"
    done = cli("dryrun", "--out", out, "--run-id", "m", "-q", "--steps", "200", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    metrics = orjson.loads((out / "m" / "metrics.json").read_bytes())
    assert not {"broker_retries", "outcomes_unknown", "duplicate_reports"} & set(metrics)
    _verified(out / "m")


# -- an unhealthy venue through the API -------------------------------------------------------


class DeadVenue(FaultBroker):
    """A ``FaultBroker`` whose connection can die: then every call raises ``Transient``."""

    simulated = True  # a broker of the test's own declares itself (preflight)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dead = False
        self.dead_poll = False
        self.down = ""  # the one kind of call (a method's name) that fails, if any
        self.calls_while_dead = 0
        self.calls_before_halt = 0
        self.halted: Any = lambda: False

    def _check(self, *, poll: bool = False, call: str = "") -> None:
        if self.dead or (poll and self.dead_poll) or (call and call == self.down):
            self.calls_while_dead += 1
            if not self.halted():
                self.calls_before_halt += 1
            raise Transient("connection reset")

    def submit(self, order: Any, now_ns: int) -> None:
        self._check(call="submit")
        super().submit(order, now_ns)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self._check()
        super().cancel(client_order_id, now_ns)

    def poll(self, now_ns: int) -> Any:
        self._check(poll=True)
        return super().poll(now_ns)

    def open_orders(self) -> Any:
        self._check(call="open_orders")
        return super().open_orders()

    def order_by_client_id(self, client_order_id: str) -> Any:
        self._check()
        return super().order_by_client_id(client_order_id)


def _session(tmp_path: Path, venue: DeadVenue, **cfg: Any) -> Any:
    config = DryrunConfig(run_id="dead", seed=7, steps=400, strategy={"fast": 2, "slow": 5}, **cfg)
    return create_run(
        config, tmp_path / "runs", idempotency_backend="jsonl", broker_factory=lambda *_: venue
    )


def _dead_after_20(tmp_path: Path, **cfg: Any) -> tuple[Any, DeadVenue]:
    """A session that steps 20 bars, then on a venue gone dead until trading HALTED."""
    venue = DeadVenue()
    orch = _session(tmp_path, venue, **cfg)
    assert orch.preflight()
    orch.activate()
    orch.run_n_steps(20)
    venue.halted = lambda: orch.trading_state is TradingState.HALTED
    venue.dead = True
    while orch.trading_state is not TradingState.HALTED:
        orch.step()
    return orch, venue


def test_a_dead_broker_halts_trading_and_reenable_resumes(tmp_path: Path) -> None:
    """Five failed calls in a row: HALTED, BROKER_UNHEALTHY, C2_OPERATOR_REQUIRED."""
    orch, venue = _dead_after_20(tmp_path)
    assert venue.calls_before_halt == 5  # halted at the fifth failed call
    orch.run_n_steps(30)  # halted: no sends, the failures go on without a second alarm
    assert orch.trading_state is TradingState.HALTED
    submitted = orch.recorder.metrics.count("ORDER_SUBMITTED")
    venue.dead = False
    orch.reenable_trading("ops-1")
    assert orch.trading_state is TradingState.ACTIVE
    orch.run_n_steps(100)
    assert orch.recorder.metrics.count("ORDER_SUBMITTED") > submitted  # trading again
    orch.close()
    run = tmp_path / "runs" / "dead"
    (unhealthy,) = _of(run, "BROKER_UNHEALTHY")
    assert unhealthy["reason"] == "CONSECUTIVE_FAILURES"
    assert unhealthy["failures"] == 5
    assert {"from": "ACTIVE", "to": "HALTED", "reason": "BROKER_UNHEALTHY"} in _of(
        run, "TRADING_STATE_CHANGED"
    )
    codes = _codes(run)
    assert codes.index("C2_OPERATOR_REQUIRED") < codes.index("C2_OPERATOR_REENABLE")
    _verified(run)
    metrics = orjson.loads((run / "metrics.json").read_bytes())
    assert metrics["broker_unhealthy"] == 1
    assert metrics["events_by_type"]["TRADING_REENABLED"] == 1


def test_a_live_run_s_status_says_why_it_halted_after_a_checkpoint_holds_the_halt(
    tmp_path: Path,
) -> None:
    """Bug: status said `HALTED; since TRADING_STATE_CHANGED (BROKER_UNHEALTHY), ...` only
    until the next checkpoint; once the checkpoint held the halt it said `HALTED` with no
    word of why. The event that made the halt, before the checkpoint, says it still."""
    orch, venue = _dead_after_20(tmp_path, checkpoint_every=10)
    run = tmp_path / "runs" / "dead"
    said = run_status(run).trading_as_of
    assert said.startswith("since TRADING_STATE_CHANGED (BROKER_UNHEALTHY), run time "), said
    orch.run_n_steps(25)  # two checkpoints since: they hold the halt
    checkpoint = orjson.loads((run / "checkpoint.json").read_bytes())
    assert (checkpoint["trading"], checkpoint["steps"]) == ("HALTED", orch.steps_done)
    found = run_status(run)
    assert (found.trading, found.trading_as_of) == ("HALTED", said)
    (line,) = [row for row in found.lines() if row.startswith("trading")]
    assert line.endswith(f"re-enables trading); {said}"), line
    venue.dead = False
    orch.close()
    _verified(run)


def test_a_sealed_run_s_status_says_a_broker_halt_halted_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: status of a sealed run whose broker halt lasted to its end said only `HALTED at
    the end`, without why, where the evidence says `by a broker halt (...)`. It says what
    halted it now, in the evidence's words (one reader of the halt for both)."""
    orch, venue = _dead_after_20(tmp_path)
    venue.dead = False  # the halt stays: no operator re-enables trading
    orch.run_to_end(400)
    orch.close()
    run = tmp_path / "runs" / "dead"
    assert main(["status", str(run)]) == 0
    (line,) = [row for row in capsys.readouterr().out.splitlines() if row.startswith("trading")]
    assert line == (
        "trading     HALTED at the end by a broker halt (the venue failed or fell silent): "
        "new orders were refused from the halt on"
    )
    assert main(["evidence", str(run), "--out", str(tmp_path / "ev")]) == 0
    assert "by a broker halt (the venue failed or fell silent)" in capsys.readouterr().out
    _verified(run)


def test_silence_halts_trading(tmp_path: Path) -> None:
    """Polls fail while other calls answer: no successful poll for broker_silence_ms.

    The silence clock runs while the venue owes the session a report (an order open): a
    quiet step does not poll, so the halt comes once an order is sent and never heard of.
    """
    venue = DeadVenue()
    orch = _session(
        tmp_path,
        venue,
        broker_silence_ms=300_000,
        broker_max_consecutive_failures=50,
        reconcile_grace_ms=3_600_000,  # the fills the silent polls hide are no escalation yet
    )
    assert orch.preflight()
    orch.activate()
    orch.run_n_steps(10)
    venue.dead_poll = True
    dead_from = orch.recorder.event_seq
    for _ in range(60):
        if orch.trading_state is TradingState.HALTED:
            break
        orch.step()
    assert orch.trading_state is TradingState.HALTED
    venue.dead_poll = False
    orch.close()
    run = tmp_path / "runs" / "dead"
    (unhealthy,) = _of(run, "BROKER_UNHEALTHY")
    assert unhealthy["reason"] == "SILENCE"
    assert unhealthy["operation"] == "poll"
    assert unhealthy["silent_ns"] >= 300_000 * 1_000_000
    events = [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]
    halt_at = next(e for e in events if e["event_type"] == "BROKER_UNHEALTHY")
    owed = [
        e for e in events
        if e["event_type"] == "ORDER_SUBMITTED" and dead_from < e["seq"] < halt_at["seq"]
    ]  # fmt: skip
    assert owed  # an order was sent while the polls were dead, and never heard of
    assert halt_at["ts_sim"] - owed[0]["ts_sim"] >= 300_000 * 1_000_000 - 60 * 1_000_000_000
    _verified(run)


@pytest.mark.parametrize(
    ("down", "operation"), [("submit", "submit"), ("open_orders", "reconcile")]
)
def test_a_venue_that_keeps_failing_one_kind_of_call_halts_trading(
    tmp_path: Path, down: str, operation: str
) -> None:
    """Bug: any answer ended the one row of failures, so a venue whose every send failed
    (each order's five attempts, answered polls and queries between) or whose open-orders
    query failed every step while its polls answered never halted: the run sealed with
    hundreds of failed calls and no BROKER_UNHEALTHY. Now each kind keeps its own row.

    The open-orders query fails once the venue owes a report that takes a day
    (``latency_ns``): so every step polls, and the poll answers."""
    venue = DeadVenue(latency_ns=86_400 * 10**9 if down == "open_orders" else 0)
    orch = _session(
        tmp_path, venue, broker_max_consecutive_failures=6, reconcile_grace_ms=3_600_000_000
    )
    assert orch.preflight()
    orch.activate()
    while down == "open_orders" and not orch.recorder.metrics.count("ORDER_SUBMITTED"):
        orch.step()
    venue.down = down
    venue.halted = lambda: orch.trading_state is TradingState.HALTED
    orch.run_n_steps(100)
    assert orch.trading_state is TradingState.HALTED
    assert venue.calls_before_halt == 6
    venue.down = ""
    orch.close()
    run = tmp_path / "runs" / "dead"
    (unhealthy,) = _of(run, "BROKER_UNHEALTHY")
    assert (unhealthy["reason"], unhealthy["failures"]) == ("CONSECUTIVE_FAILURES", 6)
    assert (unhealthy["operation"], unhealthy["error"]) == (operation, "Transient")
    assert {"from": "ACTIVE", "to": "HALTED", "reason": "BROKER_UNHEALTHY"} in _of(
        run, "TRADING_STATE_CHANGED"
    )
    _verified(run)


def test_a_rejection_is_an_answer(tmp_path: Path) -> None:
    """Venue rejections never count as failures: many rejects, no halt."""
    venue = DeadVenue()
    venue.arm("reject", times=100)
    orch = _session(tmp_path, venue)
    orch.run_to_end(400)
    run = tmp_path / "runs" / "dead"
    assert len(_of(run, "ORDER_REJECTED")) > 5
    assert not _of(run, "BROKER_UNHEALTHY")
    _verified(run)


def test_duplicates_and_late_fills_are_recorded(tmp_path: Path) -> None:
    """A duplicate ack, a duplicate fill and a fill that raced a cancel, each as what it is."""
    venue = DeadVenue(latency_ns=1)
    venue.arm("duplicate_ack", times=3)
    venue.arm("duplicate_fill", times=3)
    orch = _session(tmp_path, venue)
    orch.run_to_end(400)
    run = tmp_path / "runs" / "dead"
    kinds = {(d["report"], d["order"]) for d in _of(run, "DUPLICATE_REPORT")}
    assert {report for report, _ in kinds} == {"ACK", "FILL"}
    metrics = orjson.loads((run / "metrics.json").read_bytes())
    assert metrics["duplicate_reports"] == len(_of(run, "DUPLICATE_REPORT"))
    _verified(run)


def test_health_state_is_checkpointed(tmp_path: Path) -> None:
    """The failure count and the last poll ride in the checkpoint."""
    venue = DeadVenue()
    orch = _session(tmp_path, venue)
    assert orch.preflight()
    orch.activate()
    orch.run_n_steps(5)
    venue.dead = True
    orch.run_n_steps(1)
    state = orch.get_state()
    health = state["broker_health"]
    assert health["failures"] >= 1
    assert health["tripped"] is False or health["failures"] >= 5
    venue.dead = False
    orch.close()
    _verified(tmp_path / "runs" / "dead")


def test_config_fields() -> None:
    cfg = DryrunConfig()
    assert cfg.broker_max_consecutive_failures == 5
    assert cfg.broker_silence_ms == 600_000
    with pytest.raises(Exception, match="broker_max_consecutive_failures"):
        DryrunConfig(broker_max_consecutive_failures=0)
    assert DryrunConfig(broker_silence_ms=0).broker_silence_ms == 0


def _late_fills_outlast_the_wind_down(tmp_path: Path) -> tuple[Path, Any, Any]:
    """A realish run whose every fill reports ten simulated hours late: STOP_INCOMPLETE."""
    cfg = DryrunConfig.from_mapping(
        {
            "run_id": "late",
            "seed": 3,
            "steps": 60,
            "stop_max_polls": 3,
            "broker": "realish",
            "strategy": {"fast": 2, "slow": 5},
            "realish": {
                "transient_rate": "0",
                "timeout_rate": "0",
                "duplicate_ack_rate": "0",
                "late_fill_rate": "1",
                "late_fill_ms": 36_000_000,
            },
        }
    )
    session = create_run(cfg, tmp_path / "runs", idempotency_backend="jsonl")
    venue = session.broker
    result = session.run_to_end(cfg.steps)
    return tmp_path / "runs" / "late", result, venue


def test_a_wind_down_out_of_polls_names_the_fills_a_late_report_owes(tmp_path: Path) -> None:
    """STOP_INCOMPLETE with a fill the venue made but reports late: never "flat" alone.

    Every fill reports ten simulated hours late, longer than the wind-down's polls: the
    run ends with the venue long while the book is flat with the order open. The venue
    reports its position, so the fault, the result, ``status``, the summary line and the
    stderr line all say the venue's fill is not booked, as after ``FILL_NOT_SEEN``.
    """
    run, result, venue = _late_fills_outlast_the_wind_down(tmp_path)
    assert result.reason == "STOP_INCOMPLETE"
    assert not any(result.positions.values())  # the book: flat, the order open
    assert len(result.open_orders) == 1
    (cid,) = result.open_orders
    held = venue.positions()["BTC/USDT"]  # the venue: the order filled, its report owed
    assert held == Decimal("0.010")
    said = f"the venue's fills of {cid}: 0.010 filled at the venue, 0 in the book (FILL_NOT_SEEN)"
    assert result.position_in_doubt == said
    assert f"in_doubt={said}" in result.detail
    assert exposure_line(result) == (
        f"flat in the book, 1 open order; in doubt: {said} (not booked)"
    )
    assert run_status(run).position_in_doubt == said
    fault = [p for p in _of(run, "STATE_CHANGED") if p["reason"] == "STOP_INCOMPLETE"]
    assert fault[-1]["detail"]["in_doubt"] == said
    _verified(run)


@pytest.mark.parametrize("broker", ["realish", "mock"])
def test_the_report_says_which_faults_the_venue_was_told_to_inject(
    tmp_path: Path, broker: str
) -> None:
    """A reviewer of a drill sees its fault rates beside the seed, not only in config.json."""
    realish = {"realish": {"transient_rate": "0.5", "late_fill_ms": 1000}}
    cfg = DryrunConfig.from_mapping(
        {
            "run_id": broker,
            "steps": 5,
            "broker": broker,
            "fill_model": {"reject_rate": "0.25"},
            **(realish if broker == "realish" else {}),
        }
    )
    session = create_run(cfg, tmp_path / "runs", idempotency_backend="jsonl")
    session.run_to_end(cfg.steps)
    text = html.unescape(re.sub(r"<[^>]+>", " ", render_report(tmp_path / "runs" / broker)))
    assert re.search(
        r'venue faults \[fill_model\]\s+\{"latency_ms":0,"partial_fill_ratio":"0",'
        r'"reject_rate":"0\.25","slippage_bps":"0"\}',
        text,
    )
    network = re.search(r"venue faults \[realish\]\s+(\{[^}]*\})", text)
    if broker == "mock":
        assert network is None  # the mock injects no network fault
        return
    assert network is not None
    assert orjson.loads(network.group(1)) == {
        "duplicate_ack_rate": "0.05",
        "late_fill_ms": 1000,
        "late_fill_rate": "0.05",
        "latency_ms": 250,
        "timeout_rate": "0.02",
        "transient_rate": "0.5",
    }


@pytest.mark.parametrize("verb", ["ack", "kill", "stop"])
def test_a_signal_to_a_run_sealed_for_an_operator_says_what_settles_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    """`ack` (as for a halt) of a run sealed in ERROR_REQUIRES_OPERATOR said only `nothing
    holds DIR: sealed FAILED (STOP_INCOMPLETE) after 60 steps`, exit 8, which reads as
    nothing to do. The line now says no signal settles it, and what does."""
    run, result, _ = _late_fills_outlast_the_wind_down(tmp_path)
    assert result.state.value == "ERROR_REQUIRES_OPERATOR"
    capsys.readouterr()
    # stop: stopped already, as it ended (FAILED: 4); kill, ack: nothing holds it (8)
    assert main([verb, str(run)]) == (4 if verb == "stop" else 8)
    (line,) = capsys.readouterr().err.splitlines()
    said = f"{run} is stopped already" if verb == "stop" else f"nothing holds {run}"
    assert line == (
        f"livesession: {verb}: {said}: sealed FAILED (STOP_INCOMPLETE) after 60 "
        "steps in ERROR_REQUIRES_OPERATOR: no signal settles it; check the venue's open orders "
        f"and positions and close what is still there by hand (`livesession status {run}` "
        "says what the book left; RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR)"
    )


def test_resume_of_a_run_sealed_for_an_operator_says_what_settles_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`resume` of it said `nothing to resume: ... already ended with status FAILED`, as of
    a run that needs nothing; it now says a person settles it, and how (exit 2 still)."""
    run, _, _ = _late_fills_outlast_the_wind_down(tmp_path)
    capsys.readouterr()
    assert main(["resume", str(run)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "livesession: error: nothing to resume: run late already ended with status FAILED in "
        "ERROR_REQUIRES_OPERATOR: no resume settles it; check the venue's open orders and "
        f"positions and close what is still there by hand (`livesession status {run}` says "
        "what the book left; RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR) "
        f"(`livesession verify {run}` checks it, `livesession report {run}` shows it)"
    )


def test_the_grace_is_never_shorter_than_the_delays_the_config_announces() -> None:
    """docs/config.md `reconcile_grace_ms`: a realish late fill is no difference while it is
    on its way, so the grace takes the announced delays when they are longer."""
    realish = DryrunConfig.from_mapping(
        {
            "broker": "realish",
            "reconcile_grace_ms": 60_000,
            "fill_model": {"latency_ms": 100},
            "realish": {"late_fill_ms": 600_000, "latency_ms": 250},
        }
    )
    step = realish.step_interval_ms
    assert reconcile_grace_ns(realish) == (step + 2 * 100 + 600_000 + 2 * 250) * 1_000_000
    mock = DryrunConfig(reconcile_grace_ms=60_000)
    assert reconcile_grace_ns(mock) == 60_000 * 1_000_000  # one step of 60 s: as long


def test_partial_fills_split_resting_orders_too_as_the_docs_say() -> None:
    """Bug (docs): docs/config.md said ``[fill_model]`` ``partial_fill_ratio`` is the share
    of *market* orders that fill in two parts, and docs/embedding.md's example ``every
    market order fills in two parts``; the mock venue splits any order's execution by it:
    a resting ``LIMIT`` entry, a ``STOP``, a protective leg. A desk that set it to exercise
    its market exits found its limit entries partly filled (``ORDER_PARTIALLY_FILLED``),
    their legs waiting for the rest."""
    from livesession import LiveSessionOrchestrator, MemoryLineSink

    config = DryrunConfig.from_mapping(
        {
            "run_id": "halves",
            "steps": 400,
            "strategy": {"protect_pct": "0.002"},
            "fill_model": {"partial_fill_ratio": "1"},
        }
    )
    events = MemoryLineSink()
    session = LiveSessionOrchestrator(config, event_sink=events, audit_sink=MemoryLineSink())
    session.run_to_end(config.steps)
    records = [orjson.loads(line) for line in events.lines]
    kinds = {
        e["payload"]["client_order_id"]: e["payload"]["order_type"]
        for e in records
        if e["event_type"] == "ORDER_SUBMITTED"
    }
    split = {
        kinds[e["payload"]["client_order_id"]]
        for e in records
        if e["event_type"] == "ORDER_PARTIALLY_FILLED"
    }
    assert {"MARKET", "LIMIT"} <= split  # an entry, and a take profit, each in two parts
    docs = Path(__file__).resolve().parents[1] / "docs"
    (row,) = [
        line
        for line in (docs / "config.md").read_text(encoding="utf-8").splitlines()
        if line.startswith("| `[fill_model]` `partial_fill_ratio`")
    ]
    assert "share of market orders" not in row, row
    assert "resting ones" in row, row
    assert "every market order" not in (docs / "embedding.md").read_text(encoding="utf-8")
