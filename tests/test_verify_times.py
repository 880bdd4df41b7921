"""``verify`` holds every ``ts_utc`` (and audit ``ts``) to RFC 3339: a moment of the calendar.

The schema only gives the shape (``dddd-dd-ddTdd:dd:dd[.f]Z``): a run re-sealed after a
change (event id, the stop record's digests, the audit chain and head recomputed, as a
forger would) with a ``BAR``'s ``ts_utc`` of ``2026-02-30T00:00:00Z``, a snapshot's of
``2026-01-01T24:00:00Z``, a month 13, a minute 60 or a day 00 verified OK, though
ARTIFACTS.md says "RFC 3339 UTC with Z", whose grammar admits none of them. Found by a
checker written from ARTIFACTS.md alone, run beside ``verify`` on re-sealed runs. A leap
second (``23:59:60``), which RFC 3339 allows, is a time (only not the ``sim`` clock's).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _forge import copy_of, setting, tampered
from livesession.cli import main
from livesession.verify import verify_run


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("times")
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "40", "-q"]) == 0
    return out / "r"


@pytest.fixture(name="run")
def _run(demo_run: Path, tmp_path: Path) -> Path:
    return copy_of(demo_run, tmp_path)


@pytest.mark.broken_run("a time made impossible and the run re-sealed: verify must catch it")
@pytest.mark.parametrize(
    "stamp",
    [
        "2026-02-30T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-00T00:00:00Z",
        "2026-01-01T00:00:61.5Z",
        "2026-01-01T12:00:60Z",
    ],
)
@pytest.mark.parametrize(
    ("name", "key", "wanted"),
    [
        ("events.jsonl", "ts_utc", lambda r: r["event_type"] == "BAR"),
        ("state_snapshots.jsonl", "ts_utc", lambda r: r["seq"] == 2),
        ("audit.jsonl", "ts", lambda r: r["code"] == "C2_DRYRUN_STOP"),
    ],
)
def test_an_impossible_time_is_a_violation(
    run: Path, name: str, key: str, wanted: Any, stamp: str
) -> None:
    number = tampered(run, name, wanted, setting(key, stamp))
    violations = list(verify_run(run).violations)
    assert f"{name}:{number}: {key} {stamp} is no moment of the calendar" in "\n".join(
        violations
    ), violations


@pytest.mark.broken_run("a snapshot stamped with a leap second the sim clock never reads")
def test_a_leap_second_is_a_time(run: Path) -> None:
    """RFC 3339 allows 23:59:60: no calendar violation; only the clock's reading is not it."""
    stamp = "2025-12-31T23:59:60Z"
    tampered(run, "state_snapshots.jsonl", lambda r: r["seq"] == 1, setting("ts_utc", stamp))
    violations = list(verify_run(run).violations)
    assert not any("no moment of the calendar" in v for v in violations), violations
    says = "but clock_mode 'sim' stamps the simulated time: ts_sim 1767225600000000000 is "
    assert violations == [f"state_snapshots.jsonl:1: ts_utc {stamp} {says}2026-01-01T00:00:00Z"], (
        violations
    )
