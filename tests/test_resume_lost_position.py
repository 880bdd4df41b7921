"""A resume on a desk's venue object that lost the position the run held says so, sends nothing.

Bug: a desk's ``MockBroker`` subclass handed to ``create_run(..., broker=obj)`` keeps its
orders and position in memory, with no journal. Its process crashed after a step that sold
the position bought before the checkpoint; ``resume_run(run_dir, broker=Venue())`` with a
fresh object went on trading for the rest of the run, then sent 54 ``flatten`` orders, one a
poll, for a position the venue said it did not hold (each cancelled, the evidence saying
"The session flattened what the strategy still held ..." 54 times), and only then ended
``RECONCILE_MISMATCH (discrepancies=1, kinds=POSITION_MISMATCH)``, words that do not say the
venue lost what it held. A venue a resume rewinds to the checkpoint is never ahead of the
run: its other position is escalated after the grace alone, in the words the idempotency
conflict uses, and no flatten goes out for a position the venue says it does not have.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from _ownvenue import killed_after
from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MockBroker,
    resume_run,
)
from livesession._typing import PositionVenue, ResumableVenue

from crash_harness import cli

_TO_DO = (
    "no resume can finish it: settle the venue by hand and start a new run (a simulated venue "
    "of your own keeps what it holds in the run's venue journal: docs/plugins.md)"
)
_LOST = (
    "message=a venue that lost what it held at the crash: BTC/USDT flat at the venue, 0.010 "
    f"in the run; {_TO_DO}"
)


class Venue(MockBroker):
    """A desk's simulated venue, in memory only."""

    simulated = True


def _resumed(
    tmp_path: Path, crash_after: int, grace_ms: int = 300_000
) -> tuple[Any, list[dict[str, Any]], Path]:
    """A run on a ``Venue`` object killed after step ``crash_after`` (its checkpoint the step
    before, long 0.010), resumed on a fresh one: the result, the events after the resume, and
    the run directory."""
    cfg = DryrunConfig.from_mapping(
        {
            "run_id": "desk",
            "steps": 60,
            "checkpoint_every": 1,
            "durability": "none",
            "reconcile_grace_ms": grace_ms,
            "strategy": {"fast": 2, "slow": 5},
        }
    )
    run_dir = killed_after(tmp_path, cfg, at_step=crash_after, broker=Venue())
    before = len((run_dir / "events.jsonl").read_text().splitlines())
    with resume_run(run_dir, broker=Venue()) as session:
        assert session.book.positions["BTC/USDT"] == Decimal("0.010")  # the checkpoint's
        result = session.run_to_end(cfg.steps)
    rows = (run_dir / "events.jsonl").read_text().splitlines()
    return result, [json.loads(row) for row in rows[before:]], run_dir


def _flattens(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        e
        for e in events
        if e["event_type"] == "ORDER_SUBMITTED" and e["payload"]["reason"] == "flatten"
    ]


def test_a_venue_that_lost_the_position_fails_the_resumed_run_saying_so(tmp_path: Path):
    result, events, run_dir = _resumed(tmp_path, 6)
    assert (result.status.value, result.reason) == ("FAILED", "RECONCILE_MISMATCH"), result
    assert result.detail == f"discrepancies=1, kinds=POSITION_MISMATCH, {_LOST}", result.detail
    assert result.steps < 12  # after the grace (5 steps), not the rest of the run's 60
    assert not _flattens(events)
    faulted = [e for e in events if e["event_type"] == "STATE_CHANGED"][-1]["payload"]
    assert f"message={faulted['detail']['message']}" == _LOST  # the evidence holds the words
    status = cli("status", run_dir)
    assert status.returncode == 5  # needs an operator
    (next_line,) = [row for row in status.stdout.splitlines() if row.startswith("next")]
    assert next_line.endswith(
        f"as the run's fault says (audit.jsonl's C2_OPERATOR_REQUIRED), {_TO_DO}"
    )


def test_a_wind_down_sends_no_flatten_for_a_position_the_venue_does_not_hold(tmp_path: Path):
    """Crashed near the end: the resumed run's wind-down meets the venue's flat position
    within the grace (10 steps here, the run long from step 54 on)."""
    result, events, _ = _resumed(tmp_path, 55, grace_ms=600_000)
    assert not _flattens(events)
    assert result.flattened == ()
    assert (result.status.value, result.reason) == ("FAILED", "RECONCILE_MISMATCH"), result
    assert _LOST in result.detail


class _Forgetful(MockBroker):
    """A desk's venue whose account says it holds nothing (an outage reset it)."""

    simulated = True

    def positions(self) -> dict[str, Decimal]:
        return {}


def _killed_long(run_id: str, broker: Any) -> LiveSessionOrchestrator:
    """An in-memory session on ``broker``, long 0.010 from step 5, killed, 10 steps on."""
    cfg = DryrunConfig.from_mapping(
        {"run_id": run_id, "steps": 60, "strategy": {"fast": 2, "slow": 5}}
    )
    session = LiveSessionOrchestrator(cfg, broker=broker, audit_sink=MemoryLineSink())
    session.preflight()
    session.activate()
    session.run_n_steps(5)
    assert session.kill("op").outcome.value == "APPLIED"
    session.run_n_steps(10)
    return session


def test_a_kill_sends_no_flatten_for_a_position_the_venue_says_it_does_not_hold():
    """Not only on a resume: the kill switch's flatten asks the venue too. The book keeps
    the position, and the reconciler names the difference once its grace is over."""
    session = _killed_long("k", _Forgetful())
    result = session.result()
    assert result.orders_submitted == 1  # the entry only: no flatten
    assert (result.reason, result.detail) == (
        "RECONCILE_MISMATCH",
        "discrepancies=1, kinds=POSITION_MISMATCH",  # not a resume: nothing said lost
    )
    assert (
        result.position_in_doubt == "the venue holds BTC/USDT 0, the book 0.010 (POSITION_MISMATCH)"
    )
    session.close()


class _LaggingVenue:
    """A venue no resume rewinds (as a real one, ccxt's), whose account says it holds
    nothing: its word may only lag behind a fill. The orders go to a simulated venue."""

    simulated = True
    kind = "mock"

    def __init__(self) -> None:
        self._venue = MockBroker()

    def on_market(self, bar: Any, /) -> None:
        self._venue.on_market(bar)

    def submit(self, order: Any, now_ns: int, /) -> None:
        self._venue.submit(order, now_ns)

    def cancel(self, client_order_id: str, now_ns: int, /) -> None:
        self._venue.cancel(client_order_id, now_ns)

    def poll(self, now_ns: int, /) -> Any:
        return self._venue.poll(now_ns)

    def open_orders(self) -> Any:
        return self._venue.open_orders()

    def order_by_client_id(self, client_order_id: str, /) -> Any:
        return self._venue.order_by_client_id(client_order_id)

    def close(self) -> None:
        self._venue.close()

    def positions(self) -> dict[str, Decimal]:
        return {}


def test_a_kill_still_sends_the_flatten_to_a_venue_no_resume_rewinds():
    """A real venue's positions may lag the fills the session has: holding the flatten back
    there would leave the position open, so only a rewound (simulated) venue's word is
    taken, and a venue that is not one gets its reduce-only flatten."""
    broker = _LaggingVenue()
    assert not isinstance(broker, ResumableVenue)
    assert isinstance(broker, PositionVenue)
    session = _killed_long("k2", broker)
    result = session.result()
    assert result.orders_submitted == 2  # the entry, and the flatten
    assert result.positions == {"BTC/USDT": Decimal("0.000")}  # it filled: flat
    session.close()
