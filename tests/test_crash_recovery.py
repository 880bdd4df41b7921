"""Crash recovery: SIGKILL the CLI at labelled crash points, resume it, and compare.

The sweep runs well over 200 kills (seeded, deterministic plans: every label at spread
hit counts, then random labels and hit counts, often killing the resume as well) on
mock runs with the sqlite and jsonl idempotency backends and on realish runs. Run with
``-s`` to see how many crash points and kills it exercised.
"""

from __future__ import annotations

import dataclasses
import os
import time
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from livesession.brokers.mock import MockBroker

import crash_harness
from _helpers import campaign
from crash_harness import (
    KILLED,
    LABELS,
    PROFILES,
    CrashPlan,
    PlanResult,
    SweepReport,
    check_verifier,
    cli,
    dryrun,
    dryrun_stopped_at,
    execute,
    read_jsonl,
    run_baseline,
    scratch_dir,
    sweep,
)

SWEEP_SEED = 20260101
MIN_KILLS = 200
DEEP = os.environ.get("LIVESESSION_CRASH_CAMPAIGN") == "deep"
"""``nox -s crash``: five times the random plans, and every label killed three times on each
profile (the normal run: once or twice on the realish and jsonl ones)."""
RANDOM_PLANS = {
    name: count * (5 if DEEP else 1)
    for name, count in {
        "mock-sqlite": 10,
        "mock-jsonl": 10,
        "realish-sqlite": 4,
        "realish-jsonl": 4,
    }.items()
}
PER_LABEL = (
    dict.fromkeys(RANDOM_PLANS, 3)
    if DEEP
    else {"mock-sqlite": 3, "mock-jsonl": 2, "realish-sqlite": 1, "realish-jsonl": 1}
)


@pytest.fixture(name="work", scope="module")
def _work(tmp_path_factory):
    with scratch_dir(tmp_path_factory.mktemp("crash")) as path:
        yield path


@pytest.fixture(name="report", scope="module")
def _report(work, tmp_path_factory):
    started = time.perf_counter()
    report = sweep(
        work / "sweep",
        seed=SWEEP_SEED,
        random_count=RANDOM_PLANS,
        per_label=PER_LABEL,
        keep_failed=tmp_path_factory.mktemp("failed-plans"),
    )
    # The sweep's size is part of the evidence: shown with -s.
    print(f"\n{report.summary()} in {time.perf_counter() - started:.1f} s")  # noqa: T201
    return report


@pytest.fixture(name="baseline", scope="module")
def _baseline(work):
    return run_baseline(PROFILES["mock-sqlite"], work / "points" / "baseline")


def _violations(report: SweepReport, *categories: str) -> list[str]:
    tags = tuple(f"[{c}]" for c in categories)
    return [v for v in report.violations if v.startswith(tags)]


def _one(work: Path, baseline: Path, name: str, *kills: str) -> PlanResult:
    plan = CrashPlan(PROFILES["mock-sqlite"], kills, "point")
    return execute(plan, work / "points" / name, baseline, verify=True)


class TestCrashSweep:
    """Hundreds of kills and resumes end in the same evidence as uninterrupted runs."""

    def test_exercises_at_least_200_kills(self, report):
        """The sweep kills the CLI at least 200 times and resumes every run."""
        print(f"\ncrash points exercised: {report.kills} kills, {report.resumes} resumes")  # noqa: T201
        assert report.kills >= MIN_KILLS, f"only {report.kills} kills: {report.summary()}"
        assert report.resumes >= report.kills, report.summary()

    def test_every_label_is_killed(self, report):
        """Every crash point label, torn writes and the checkpoint tmp file included, fires."""
        assert set(report.kills_by_label()) == set(LABELS), report.summary()

    def test_resumes_are_killed_too(self, report):
        """Many plans kill a resume as well as the first run."""
        assert sum(r.kills >= 2 for r in report.results) >= 20, report.summary()

    def test_every_resume_completes(self, report):
        """Each resume exits 0 in the end; each armed process dies by SIGKILL or completes."""
        assert _violations(report, "exit", "resume") == [], report.summary()

    def test_no_client_order_id_reaches_the_venue_twice(self, report):
        """The venue journal holds at most one submit per client order id in every run."""
        assert _violations(report, "duplicate") == [], report.summary()

    def test_audit_chain_verifies(self, report):
        """Every audit chain verifies, and the verifier finds nothing new after a resume."""
        assert _violations(report, "chain", "verify") == [], report.summary()
        assert sum(r.verified for r in report.results) >= 10

    def test_mock_runs_match_the_uninterrupted_run(self, report):
        """Events and snapshots are byte-identical; audit and metrics differ only by resumes."""
        assert _violations(report, "identical", "audit", "metrics") == [], report.summary()

    def test_no_temporary_files_remain(self, report):
        """No half-replaced checkpoint or metrics file is left in a completed run."""
        assert _violations(report, "tmp") == [], report.summary()

    def test_each_profile_is_crashed(self, report):
        """Both durable idempotency backends and both simulated brokers are crashed."""
        by_profile = report.kills_by_profile()
        assert set(by_profile) == set(PROFILES), report.summary()
        assert all(n >= 10 for n in by_profile.values()), report.summary()

    def test_realish_runs_recover(self, report):
        """Realish runs resume to completion with no duplicate sends and a valid chain."""
        realish = [r for r in report.results if r.plan.profile.broker == "realish"]
        assert sum(r.kills for r in realish) >= 20
        assert [v for r in realish for v in r.violations] == []


class TestCrashPoints:
    """Single kills at chosen points leave what the recovery design promises."""

    def test_kill_before_send_sends_the_order_once(self, work, baseline):
        """A kill after the key is reserved but before the send sends the order once on resume."""
        result = _one(work, baseline, "before_send", "before_send:5")
        assert result.exit_codes == [KILLED, 0]
        assert result.violations == []

    def test_kill_after_send_adopts_the_order(self, work, baseline):
        """A kill after the venue has the order adopts it on resume instead of resending."""
        result = _one(work, baseline, "after_send", "after_send:5")
        assert result.exit_codes == [KILLED, 0]
        assert result.violations == []

    def test_kill_inside_checkpoint_replace_keeps_the_old_checkpoint(self, work, baseline):
        """A kill between the durable tmp file and the rename leaves the old checkpoint intact."""
        out = work / "points" / "checkpoint_tmp"
        profile = PROFILES["mock-sqlite"]
        proc = dryrun(profile, out, crash_at="checkpoint_tmp:40")
        assert proc.returncode == KILLED
        run_dir = out / profile.name
        tmp_files = sorted(run_dir.glob(".*.tmp"))
        assert [p.name.split(".")[1] for p in tmp_files] == ["checkpoint"]
        checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
        assert checkpoint["format"] == "livesession-checkpoint/1"
        assert cli("resume", run_dir, "-q").returncode == 0
        assert list(run_dir.glob(".*.tmp")) == []
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert (run_dir / name).read_bytes() == (baseline / name).read_bytes()

    def test_torn_line_is_kept_aside(self, work, baseline):
        """A half-written events line moves to events.jsonl.torn and the run still matches."""
        out = work / "points" / "torn_events"
        profile = PROFILES["mock-sqlite"]
        assert dryrun(profile, out, crash_at="torn_events:120").returncode == KILLED
        run_dir = out / profile.name
        torn_tail = (run_dir / "events.jsonl").read_bytes().rsplit(b"\n", 1)[1]
        assert torn_tail
        assert cli("resume", run_dir, "-q").returncode == 0
        assert (run_dir / "events.jsonl.torn").read_bytes().endswith(torn_tail)
        assert (run_dir / "events.jsonl").read_bytes() == (baseline / "events.jsonl").read_bytes()

    def test_kill_before_the_first_checkpoint_starts_over(self, work, baseline):
        """A run killed during preflight resumes from the start, its C2_RESUME properly stamped."""
        result = _one(work, baseline, "preflight", "write_events:3")
        assert result.exit_codes == [KILLED, 0]
        assert result.violations == []
        run_dir = work / "points" / "preflight" / PROFILES["mock-sqlite"].name
        (resume,) = [r for r in read_jsonl(run_dir / "audit.jsonl") if r["code"] == "C2_RESUME"]
        assert resume["payload"]["checkpoint"] is False
        assert resume["ts"] == "2026-01-01T00:00:00Z"

    @pytest.mark.parametrize(
        "kills",
        [("checkpoint:1",), ("checkpoint_tmp:3",), ("checkpoint:1", "checkpoint:1")],
        ids=["at-the-checkpoint", "in-its-tmp-file", "and-its-resume-too"],
    )
    def test_kill_after_the_start_record_before_the_first_checkpoint(self, work, baseline, kills):
        """C2_DRYRUN_START and the preflight's lines on disk, no checkpoint: it verifies.

        The first checkpoint writes the sinks out, then checkpoint.json: a kill between the
        two leaves a whole, chained C2_DRYRUN_START and no checkpoint. The resume starts
        over: that line goes to audit.jsonl.torn with the rest, and C2_RESUME (checkpoint
        false) opens the audit log, before the START the resumed session writes again; the
        run equals the uninterrupted one (events, snapshots, audit beyond C2_RESUME), and
        verify and evidence pass it. The harness used to excuse a verifier finding about
        that opening as a known gap; it fails the plan now.
        """
        name = "started-" + "-".join(k.replace(":", "") for k in kills)
        result = _one(work, baseline, name, *kills)
        assert result.exit_codes == [KILLED] * len(kills) + [0]
        assert result.violations == []
        assert result.verified
        run_dir = work / "points" / name / PROFILES["mock-sqlite"].name
        first_set_aside = read_jsonl(run_dir / "audit.jsonl.torn")[0]
        assert first_set_aside["code"] == "C2_DRYRUN_START"
        assert (first_set_aside["seq"], first_set_aside["prev_hash"]) == (1, "0" * 64)
        records = read_jsonl(run_dir / "audit.jsonl")
        opening = ["C2_RESUME"] * len(kills) + ["C2_DRYRUN_START"]
        assert [r["code"] for r in records[: len(kills) + 1]] == opening
        assert all(r["payload"]["checkpoint"] is False for r in records[: len(kills)])
        evidence = cli("evidence", run_dir, "--out", run_dir.parent / "evidence", "--json")
        assert evidence.returncode == 0, evidence.stdout + evidence.stderr
        assert orjson.loads(evidence.stdout)["evidence"] == "VERIFIED"

    def test_killed_resume_is_resumed_again(self, work, baseline):
        """A resume killed while writing C2_RESUME is itself resumed to the same evidence."""
        result = _one(work, baseline, "double", "write_events:200", "write_audit:1")
        assert result.exit_codes == [KILLED, KILLED, 0]
        assert result.violations == []

    def test_kill_during_final_flatten_with_zero_latency(self, work):
        """A kill in the final wind-down, after the flatten order reached the venue, resumes."""
        profile = dataclasses.replace(PROFILES["mock-sqlite"], name="flatten", seed=3)
        base = run_baseline(profile, work / "points" / "flatten-baseline")
        events = read_jsonl(base / "events.jsonl")
        submits = [e for e in events if e["event_type"] == "ORDER_SUBMITTED"]
        assert submits[-1]["payload"]["reason"] == "flatten", "seed 3 must end with a flatten"
        plan = CrashPlan(profile, (f"after_send:{len(submits)}",), "point")
        result = execute(plan, work / "points" / "flatten", base)
        # The flatten's reports are due at the checkpoint's own time (latency 0) and were
        # never polled: the resumed venue still owes them (its journal records deliveries).
        assert result.exit_codes == [KILLED, 0]
        assert result.violations == []


def test_a_finding_about_the_audit_opening_fails_the_plan(work, baseline, monkeypatch):
    """No verifier finding is a known gap any more: one about the audit's opening fails.

    The harness kept ``the first record is C2_RESUME, not C2_DRYRUN_START`` as a note and
    passed the plan, so a verifier or a resume that broke the opening of a run resumed
    from nothing would go unseen by the sweep.
    """
    finding = "audit.jsonl:: the first record is C2_RESUME, not C2_DRYRUN_START"
    crashed = work / "points" / "opening-finding"
    monkeypatch.setattr(
        crash_harness,
        "verifier_findings",
        lambda _verify, run: set() if run == baseline else {finding},
    )
    result = PlanResult(CrashPlan(PROFILES["mock-sqlite"], ("checkpoint:1",), "point"))
    check_verifier(result, crashed, baseline)
    assert result.violations == [f"[verify] {result.plan.name}: {finding}"]


class TestRealishReplay:
    """A realish send retried or timed out before a kill is replayed with its faults and waits."""

    @pytest.mark.parametrize(
        ("name", "kill"),
        [
            # seed 5: the first order times out (ORDER_OUTCOME_UNKNOWN, lookup AT_VENUE)
            ("realish-jsonl", "after_send:1"),
            # seed 8: the second order times out (ORDER_OUTCOME_UNKNOWN: a lookup and its wait)
            ("realish-sqlite", "after_send:2"),
            ("realish-jsonl", "checkpoint:143"),
            # the first resume is killed before it replays the send: the second replays it
            ("realish-jsonl", "after_send:19+before_send:1"),
        ],
    )
    def test_resumed_realish_run_equals_the_uninterrupted_one(self, work, name, kill):
        """Killed after a faulty send, the resumed realish run is byte-identical."""
        profile = PROFILES[name]
        assert profile.exact, "realish runs are compared byte for byte"
        where = work / "realish" / f"{name}-{kill.replace(':', '-').replace('+', '_')}"
        base = run_baseline(profile, where / "baseline")
        kills = tuple(kill.split("+"))
        plan = CrashPlan(profile, kills, "point")
        result = execute(plan, where / "crashed", base, verify=True)
        assert result.exit_codes == [KILLED] * len(kills) + [0]
        assert result.violations == []
        assert (where / "crashed" / name / "broker_journal.attempts.jsonl").exists()


@pytest.mark.parametrize("sent", campaign([3, 7, 11], [7]))
def test_a_crash_after_exits_were_sent_resumes_to_the_same_bytes(tmp_path: Path, sent: int):
    """The sends made after the checkpoint are taken again as they were made, not before.

    The mock venue replayed the crashed session's later sends before the resumed one made
    them: the take-profit and stop-loss legs a fill placed had their acks already due, so
    the resumed run recorded them a bar early (its evidence failed), and after a weekend gap
    longer than the reconcile grace the resume escalated a venue that had run ahead.
    """
    config = tmp_path / "oco.toml"
    config.write_text(
        'run_id = "oco"\nsteps = 400\ncheckpoint_every = 25\n'
        '[strategy]\nfast = 3\nslow = 8\nprotect_pct = "0.002"\n',
        encoding="utf-8",
    )
    assert cli("dryrun", "-c", config, "--out", tmp_path / "straight", "-q").returncode == 0
    out = tmp_path / "runs"
    killed = cli("dryrun", "-c", config, "--out", out, "-q", crash_at=f"after_send:{sent}")
    assert killed.returncode == KILLED
    resumed = cli("resume", out / "oco", "-q")
    assert resumed.returncode == 0, resumed.stderr
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        assert (out / "oco" / name).read_bytes() == (
            tmp_path / "straight" / "oco" / name
        ).read_bytes()
    journal = (out / "oco" / "broker_journal.jsonl").read_bytes()
    assert b'"op":"replay"' in journal  # the later sends were set aside, then taken again


@pytest.mark.parametrize("broker", ["mock", "realish"])
def test_a_crash_inside_a_stop_wind_down_resumes_to_the_venue_s_book(tmp_path: Path, broker):
    """A stop's flatten sent after the checkpoint, then a crash: it never reached the venue.

    The realish venue replayed it at the resume all the same (its checkpoint recorded only
    the attempt journal's offset): the venue was flat, the resumed book held 0.010, every
    reduce-only sell after was cancelled at the venue, and the run sealed FAILED with
    STOP_INCOMPLETE. Like the mock, it now sets the sends made after the checkpoint aside.
    The stop itself is checkpointed before its wind-down, so the resumed session finishes
    the stop (it used to trade on to step 400): it sends that flatten again, once, and the
    run is the uninterrupted stop, byte for byte.
    """
    config = tmp_path / "wd.toml"
    config.write_text(
        f'run_id = "wd"\nsteps = 400\ncheckpoint_every = 25\nbroker = "{broker}"\n',
        encoding="utf-8",
    )
    # Stopped at step 100 (its 5th checkpoint) holding a position: killed after the flatten.
    straight = tmp_path / "straight"
    assert dryrun_stopped_at(config, straight, pause_at="checkpoint:5", crash_at="") == 0
    out = tmp_path / "runs"
    assert (
        dryrun_stopped_at(config, out, pause_at="checkpoint:5", crash_at="after_flatten") == KILLED
    )
    run_dir = out / "wd"
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    assert (checkpoint["steps"], checkpoint["fsm_state"]) == (100, "STOPPING")
    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == 0, resumed.stderr
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        assert (run_dir / name).read_bytes() == (straight / "wd" / name).read_bytes()
    recorded = [
        e["payload"]["client_order_id"]
        for e in read_jsonl(run_dir / "events.jsonl")
        if e["event_type"] == "ORDER_SUBMITTED"
    ]
    journal = read_jsonl(run_dir / "broker_journal.jsonl")
    sent = [e["order"]["client_order_id"] for e in journal if e["op"] == "submit"]
    # The wind-down's flatten reached the venue's journal, was set aside at the resume,
    # and the resumed wind-down sent it again: once at the venue, once in the events.
    assert sorted(sent) == sorted(recorded)
    flatten = recorded[-1]
    assert any(e["op"] == "resume" and e["aside"] for e in journal)
    venue = MockBroker(journal=run_dir / "broker_journal.jsonl")  # the venue, rebuilt
    try:
        held = {symbol: qty for symbol, qty in venue.positions().items() if qty}
        assert venue.order_by_client_id(flatten) is not None
    finally:
        venue.close()
    book = orjson.loads((run_dir / "checkpoint.json").read_bytes())["book"]["positions"]
    assert held == {symbol: Decimal(qty) for symbol, qty in book.items() if Decimal(qty)}
    assert cli("verify", run_dir).returncode == 0
    evidence = cli("evidence", run_dir, "--out", tmp_path / "evidence")
    assert evidence.returncode == 0, evidence.stderr
    assert "\nevidence  VERIFIED: the run's files are intact " in evidence.stdout
    assert evidence.stdout.endswith(
        "\nrun       STOPPED BY OPERATOR: stopped with 'SIGNAL_SIGTERM' (the signal livesession "
        "stop sends, as a service manager stopping it does); sealed COMPLETED after 100 of 400 "
        "steps; resumed after a crash once, from step 100\n"
    )
