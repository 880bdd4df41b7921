"""``verify`` holds each event's ``ts_utc`` to the clock ``clock_mode`` names.

``sim`` stamps the simulated time (the line's ``ts_sim``, to the microsecond), ``fixed`` the
config's ``start_time`` on every record. A run re-sealed after a change (event id, the stop
record's digests, the audit chain and head recomputed, as a forger would) with a fill's
``ts_utc`` moved by one second, or a ``fixed`` run's ``BAR`` stamped with another moment,
verified OK: its snapshots and audit copies are held to their events, but nothing held the
events to the clock (nor the first snapshot, at the start). Found by a tamper campaign on
re-sealed runs (``verify --manifest`` and the evidence re-run caught it; ``verify`` alone
did not).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from _forge import copy_of, setting, tampered
from livesession.cli import main
from livesession.verify import verify_run


def _made(out: Path, clock: str) -> Path:
    args = ["dryrun", "--out", str(out), "--run-id", clock, "--steps", "60", "--clock", clock]
    assert main([*args, "-q"]) == 0
    return out / clock


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("stamps")
    return {clock: _made(out, clock) for clock in ("sim", "fixed")}


def _filled(record: dict[str, Any]) -> bool:
    return record["event_type"] == "ORDER_FILLED"


def _bar(record: dict[str, Any]) -> bool:
    return record["event_type"] == "BAR" and record["seq"] > 5


_MOVED = {
    "sim": (_filled, "2026-01-01T00:00:01Z", "but clock_mode 'sim' stamps the simulated time: "),
    "fixed": (
        _bar,
        "2026-01-01T00:05:00Z",
        "but clock_mode 'fixed' stamps every record with the start_time of config.json, 2026-01-01T00:00:00Z",
    ),
}
"""Per clock: the event changed, the ``ts_utc`` it is given and what ``verify`` says of it."""


@pytest.mark.broken_run("an event's ts_utc moved and the run re-sealed: verify must catch it")
@pytest.mark.parametrize("clock", sorted(_MOVED))
def test_a_moved_stamp_is_a_violation(runs: dict[str, Path], tmp_path: Path, clock: str) -> None:
    wanted, stamp, says = _MOVED[clock]
    run = copy_of(runs[clock], tmp_path)
    number = tampered(run, "events.jsonl", wanted, setting("ts_utc", stamp))
    result = verify_run(run)
    assert not result.ok
    assert f"events.jsonl:{number}: ts_utc {stamp} {says}" in "\n".join(result.violations), (
        result.violations
    )


@pytest.mark.parametrize("clock", ["sim", "fixed"])
def test_the_clocks_own_stamps_pass(runs: dict[str, Path], clock: str) -> None:
    assert verify_run(runs[clock]).ok, verify_run(runs[clock]).violations


@pytest.mark.broken_run("the INIT snapshot's ts_utc moved and the run re-sealed")
def test_the_first_snapshots_stamp_is_held_too(runs: dict[str, Path], tmp_path: Path) -> None:
    """Later snapshots are held to their events; the first, at the start, to the clock."""
    run = copy_of(runs["fixed"], tmp_path)
    stamp = "2027-01-01T00:00:00Z"
    tampered(run, "state_snapshots.jsonl", lambda r: r["seq"] == 1, setting("ts_utc", stamp))
    says = _MOVED["fixed"][2]
    assert list(verify_run(run).violations) == [f"state_snapshots.jsonl:1: ts_utc {stamp} {says}"]
