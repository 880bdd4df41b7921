"""``verify`` holds every equity (and the PnL) to the fills and the last prices, and each
snapshot to the book of its moment.

ARTIFACTS.md: a snapshot's ``equity`` is "the session's book at that moment", and the book's
equity is its cash plus each position at its last price (``Book.equity``). ``verify``
checked the cash of each ``POSITION_CHANGED`` against the fills, but no equity: a run
re-sealed after a change (event id, the stop record's digests, the audit chain and head
recomputed, as a forger would) with a ``POSITION_CHANGED`` or ``SESSION_STOPPED`` equity
(or the PnL) made up, or any snapshot's, verified OK. Found by a checker written from
ARTIFACTS.md alone, run beside ``verify`` on re-sealed runs.

So did a snapshot of a transition with another ``ts_sim``, ``ts_utc``, ``step`` or
``positions`` than its ``STATE_CHANGED``'s moment (only the final snapshot's positions and
step were held to the fills and bars), and a final snapshot with another time than
``SESSION_STOPPED``.
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
    """The demo trading for 300 steps: flat at the end, with positions held on the way."""
    out = tmp_path_factory.mktemp("equity")
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "300", "-q"]) == 0
    return out / "r"


@pytest.fixture(name="run")
def _run(demo_run: Path, tmp_path: Path) -> Path:
    return copy_of(demo_run, tmp_path)


def _payload(key: str, value: str) -> Any:
    def change(record: dict[str, Any]) -> None:
        record["payload"][key] = value

    return change


def test_the_demo_run_verifies(run: Path) -> None:
    assert verify_run(run).ok, verify_run(run).violations


@pytest.mark.broken_run("an equity made up and the run re-sealed: verify must catch it")
@pytest.mark.parametrize(
    ("name", "wanted", "change", "problem"),
    [
        (
            "events.jsonl",
            lambda r: r["event_type"] == "POSITION_CHANGED",
            _payload("equity", "100001.00000"),
            (
                "equity 100001.00000 but the cash 99581.26910 and the positions at their last "
                "prices add up to 100000.00000"
            ),
        ),
        (
            "events.jsonl",
            lambda r: r["event_type"] == "SESSION_STOPPED",
            _payload("equity", "99990.00000"),
            "equity 99990.00000 but the cash 99995.33550",
        ),
        (
            "events.jsonl",
            lambda r: r["event_type"] == "SESSION_STOPPED",
            _payload("pnl", "5.00000"),
            "pnl 5.00000 but the equity 99995.33550 less the initial_cash 100000.00 is -4.66450",
        ),
        (
            "state_snapshots.jsonl",
            lambda r: r["seq"] == 1,
            setting("equity", "90000.00"),
            "equity 90000.00 but the initial_cash of config.json is 100000.00",
        ),
        (
            "state_snapshots.jsonl",
            lambda r: r["fsm_state"] == "STOPPING",
            setting("equity", "99995.335501"),
            (
                "equity 99995.335501 but the fills and the last prices before "
                "events.jsonl:424 add up to 99995.33550"
            ),
        ),
        (
            "state_snapshots.jsonl",
            lambda r: r["trigger"] == "final",
            setting("equity", "99990.00000"),
            "final equity 99990.00000 but the fills and the last prices add up to 99995.33550",
        ),
    ],
)
def test_a_made_up_equity_is_a_violation(
    run: Path, name: str, wanted: Any, change: Any, problem: str
) -> None:
    number = tampered(run, name, wanted, change)
    violations = "\n".join(verify_run(run).violations)
    assert f"{name}:{number}: {problem}" in violations, violations


@pytest.mark.broken_run("a snapshot's moment made up and the run re-sealed: verify must catch it")
@pytest.mark.parametrize(
    ("wanted", "change", "problem"),
    [
        (
            lambda r: r["fsm_state"] == "STOPPING",
            setting("ts_sim", 1767243600000000001),
            "ts_sim 1767243600000000001 but events.jsonl:424 has 1767243600000000000",
        ),
        (
            lambda r: r["fsm_state"] == "DRYRUN_ACTIVE",
            setting("ts_utc", "2026-01-01T00:00:01Z"),
            "ts_utc 2026-01-01T00:00:01Z but events.jsonl:8 has 2026-01-01T00:00:00Z",
        ),
        (
            lambda r: r["fsm_state"] == "STOPPING",
            setting("step", 299),
            "step 299 but 300 BAR events before events.jsonl:424",
        ),
        (
            lambda r: r["fsm_state"] == "PREFLIGHT_OK",
            setting("positions", {"BTC/USDT": "0.010"}),
            "positions {'BTC/USDT': '0.010'} but the fills before events.jsonl:7 add up to {}",
        ),
        (
            lambda r: r["trigger"] == "final",
            setting("ts_sim", 1767243660000000000),
            "ts_sim 1767243660000000000 but events.jsonl:430 has 1767243600000000000",
        ),
    ],
)
def test_a_snapshot_off_its_moment_is_a_violation(
    run: Path, wanted: Any, change: Any, problem: str
) -> None:
    number = tampered(run, "state_snapshots.jsonl", wanted, change)
    violations = "\n".join(verify_run(run).violations)
    assert f"state_snapshots.jsonl:{number}: {problem}" in violations, violations
