"""A crash loop: resumes killed before their first checkpoint, each resumed again.

Each resume audits ``C2_RESUME``; one killed before its next checkpoint used to have that
record cut into ``audit.jsonl.torn`` with the rest of its tail by the resume after it. Three
resumes left one record, ``verify`` said OK, and the evidence said "Resumed after a crash
once" with the bytes of one cut of three, while the ``.torn`` files held them all (the
RUNBOOK's supervisor allows five resumes in a crash loop: exactly when it happens). Now
every resume whose ``C2_RESUME`` reached the file stays in the chain, and the records'
``torn_bytes`` add up to the ``.torn`` files' sizes. Crashes come from the crash hook
(``LIVESESSION_CRASH_AT``), never from wall time.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from _helpers import campaign
from crash_harness import KILLED, cli, comparable_audit, read_jsonl

ARTIFACTS = ("events.jsonl", "state_snapshots.jsonl", "audit.jsonl")
_SIZES = re.compile(r"([a-z_]+\.jsonl) (\d+) B")


def _config(tmp_path: Path, durability: str) -> Path:
    config = tmp_path / "loop.toml"
    config.write_text(
        f'run_id = "loop"\nsteps = 400\ncheckpoint_every = 50\ndurability = "{durability}"\n',
        encoding="utf-8",
    )
    return config


def _crash_loop(config: Path, out: Path, *resume_kills: str) -> Path:
    """A dryrun killed after its second checkpoint, each resume killed as given, then one more."""
    killed = cli("dryrun", "-c", config, "--out", out, "-q", crash_at="write_events:200")
    assert killed.returncode == KILLED, killed.stderr
    run_dir = out / "loop"
    for crash_at in resume_kills:
        resumed = cli("resume", run_dir, "-q", crash_at=crash_at)
        assert resumed.returncode == KILLED, f"{crash_at}: {resumed.stderr}"
    finished = cli("resume", run_dir, "-q")
    assert finished.returncode == 0, finished.stderr
    return run_dir


def _resumes(run_dir: Path) -> list[dict]:
    return [r["payload"] for r in read_jsonl(run_dir / "audit.jsonl") if r["code"] == "C2_RESUME"]


def _torn_sizes(run_dir: Path) -> dict[str, int]:
    """The bytes each artifact's ``.torn`` file holds (the files that have one)."""
    return {
        name: (run_dir / f"{name}.torn").stat().st_size
        for name in ARTIFACTS
        if (run_dir / f"{name}.torn").exists()
    }


def _torn_totals(resumes: list[dict]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for resume in resumes:
        for name, size in resume["torn_bytes"].items():
            totals[name] = totals.get(name, 0) + size
    return totals


@pytest.mark.parametrize("durability", campaign(["step", "none"], ["step"]))
def test_every_resume_of_a_crash_loop_is_in_the_audit_and_the_evidence(
    tmp_path: Path, durability: str
) -> None:
    """Two resumes killed before their first checkpoint: three records, every torn byte."""
    config = _config(tmp_path, durability)
    straight = cli("dryrun", "-c", config, "--out", tmp_path / "straight", "-q")
    assert straight.returncode == 0, straight.stderr
    # The first resume is killed at its first event (its C2_RESUME must be in the file by
    # then), the second 20 events in, both long before the checkpoint at step 150.
    run_dir = _crash_loop(config, tmp_path / "runs", "write_events:1", "write_events:20")

    resumes = _resumes(run_dir)
    assert len(resumes) == 3
    assert [(r["checkpoint"], r["from_step"]) for r in resumes] == [(True, 100)] * 3
    torn = _torn_sizes(run_dir)
    # Durability "none" holds lines until a checkpoint: a killed process leaves no tail.
    assert (torn.get("events.jsonl", 0) > 0) is (durability == "step")
    assert _torn_totals(resumes) == torn
    # The resumed run is the uninterrupted one: its audit differs by the C2_RESUME records.
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        assert (run_dir / name).read_bytes() == (tmp_path / "straight" / "loop" / name).read_bytes()
    assert comparable_audit(run_dir / "audit.jsonl") == comparable_audit(
        tmp_path / "straight" / "loop" / "audit.jsonl"
    )
    verified = cli("verify", run_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr

    evidence = cli("evidence", run_dir, "--out", tmp_path / "evidence")
    assert evidence.returncode == 0, evidence.stdout + evidence.stderr
    (document,) = (tmp_path / "evidence").glob("EV-*.md")
    (line,) = [x for x in document.read_text(encoding="utf-8").splitlines() if "Resumed" in x]
    assert line.startswith("- **Resumed** after a crash 3 times: from step 100")
    told: dict[str, int] = {}
    for name, size in _SIZES.findall(line):
        told[name] = told.get(name, 0) + int(size)
    assert told == torn


def test_a_resume_killed_before_its_record_has_its_cut_counted_by_the_next(
    tmp_path: Path,
) -> None:
    """Killed after it cut the tail aside but before C2_RESUME: the next record counts it."""
    run_dir = _crash_loop(_config(tmp_path, "step"), tmp_path / "runs", "write_audit:1")
    (resume,) = _resumes(run_dir)
    torn = _torn_sizes(run_dir)
    assert torn.get("events.jsonl", 0) > 0  # cut by the killed resume, none by the last
    assert resume["torn_bytes"] == torn


def test_resumes_before_the_first_checkpoint_all_open_the_audit(tmp_path: Path) -> None:
    """A run and its first resume killed during start-up: both resumes stay, before START."""
    config = _config(tmp_path, "step")
    out = tmp_path / "runs"
    assert cli("dryrun", "-c", config, "--out", out, "-q", crash_at="write_events:3").returncode
    run_dir = out / "loop"
    assert cli("resume", run_dir, "-q", crash_at="write_events:3").returncode == KILLED
    finished = cli("resume", run_dir, "-q")
    assert finished.returncode == 0, finished.stderr
    codes = [r["code"] for r in read_jsonl(run_dir / "audit.jsonl")]
    assert codes[:3] == ["C2_RESUME", "C2_RESUME", "C2_DRYRUN_START"]
    assert codes.count("C2_RESUME") == 2
    assert [r["checkpoint"] for r in _resumes(run_dir)] == [False, False]
    # Nothing restored: each says it started over, from step 0, with no order in flight.
    assert [(r["from_step"], r["in_flight"]) for r in _resumes(run_dir)] == [(0, []), (0, [])]
    assert _torn_totals(_resumes(run_dir)) == _torn_sizes(run_dir)
    verified = cli("verify", run_dir)
    assert verified.returncode == 0, verified.stdout + verified.stderr
