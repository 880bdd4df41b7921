"""A resumed run records what the uninterrupted one would: the session's memory of fills.

The memory a session keeps of the fills it booked, beyond its book, was not in the
checkpoint, and a resumed run judged by what it had booked since the resume.

The ``REDUCE_ONLY_CROSSED`` rule judges a reduce-only fill against the position at the
venue's fill time, from the fills it remembers. Before, that memory was not in the
checkpoint: a run crashed between a reversal and the late report of a protective leg the
venue filled before it, then resumed, judged the leg against the position after the
reversal and pulled a kill switch the uninterrupted run never pulled; a leg the venue
filled on a flat book, reported after a re-entry, read as only closing the re-entry, and
the resumed run missed the kill. Likewise a repeat of a trade id with other numbers (a
venue that rewrote a fill) is no re-delivery: the uninterrupted run faults
(``BROKER_REPORT_INVALID``); before, a run resumed after that fill's record took the
repeat for a re-delivery (``DUPLICATE_REPORT``) and traded on.

Each case here crashes the run after the checkpoint at every step in turn (the broker
raises ``KeyboardInterrupt`` as the next step reaches it: the venue stands where the
checkpoint left it), resumes it with the same venue, and compares ``events.jsonl`` with
the uninterrupted run's, byte for byte.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from _scripted import Script, ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import DryrunConfig
from livesession._domain.model import AckReport, FillReport, Side
from livesession._rundir import create_run, resume_run
from livesession.verify import verify_run
from test_broker_guard import FillsEverything

D = Decimal
STEPS = 12


class Crashing(FillsEverything):
    """``armed``: the next call of a step (the bar, the poll) raises ``KeyboardInterrupt``
    before it changes anything, a crash right after the last checkpoint."""

    armed = False

    def on_market(self, bar: Any) -> None:
        if self.armed:
            raise KeyboardInterrupt
        super().on_market(bar)

    def poll(self, now_ns: int) -> Any:
        if self.armed:
            raise KeyboardInterrupt
        return super().poll(now_ns)


class LateStop(Crashing):
    """Fills market orders at once; the entry's stop rests, and the venue fills it
    ``stop_at`` ns from the strategy's first SELL, reporting it ``polls`` polls later."""

    def __init__(self, *, stop_at: int, polls: int) -> None:
        super().__init__()
        self.stop_at = stop_at
        self.polls = polls
        self.delayed: list[list[Any]] = []  # [polls to go, the stop's fill]

    def submit(self, order: Any, now_ns: int) -> None:
        if order.reduce_only and order.order_type.value != "MARKET":
            self.orders.append(order)  # the stop rests: acknowledged, not filled
            cid = order.client_order_id
            self.owed.append(AckReport(client_order_id=cid, ts_ns=now_ns, venue_order_id="s"))
            return
        sells = [o for o in self.orders if o.side is Side.SELL and not o.reduce_only]
        super().submit(order, now_ns)
        if order.side is Side.SELL and not order.reduce_only and not sells:
            stop = next(o for o in self.orders if o.reduce_only)
            fill = FillReport(
                client_order_id=stop.client_order_id,
                ts_ns=now_ns + self.stop_at,
                trade_id="S1",
                quantity=stop.quantity,
                price=self.close_price,
            )
            self.delayed.append([self.polls, fill])

    def poll(self, now_ns: int) -> Any:
        reports = super().poll(now_ns)
        for item in self.delayed:
            item[0] -= 1
        self.later.extend(fill for left, fill in self.delayed if left <= 0)
        self.delayed = [item for item in self.delayed if item[0] > 0]
        return reports


def _config() -> DryrunConfig:
    return DryrunConfig(
        run_id="late", strategy_id="scripted", steps=STEPS, seed=5, checkpoint_every=1
    )


def _plugins(script: Script) -> dict[str, Any]:
    return {"strategy": ScriptedStrategy(script), "feed": ScriptedFeed(["100"])}


def _events(run_dir: Path) -> bytes:
    verdict = verify_run(run_dir)
    assert verdict.ok, verdict.violations
    return (run_dir / "events.jsonl").read_bytes()


def _kills(events: bytes) -> list[str]:
    lines = map(orjson.loads, events.splitlines())
    return [e["payload"]["reason"] for e in lines if e["event_type"] == "KILL_SWITCH"]


def _uninterrupted(tmp_path: Path, script: Script, broker: Crashing) -> bytes:
    session = create_run(_config(), tmp_path / "whole", broker=broker, **_plugins(script))
    session.run_to_end(STEPS, operator="cli")
    session.close()
    return _events(tmp_path / "whole" / "late")


def _crashed_and_resumed(tmp_path: Path, script: Script, broker: Crashing, step: int) -> bytes:
    """The run crashed right after its checkpoint at ``step``, resumed to its end."""
    base = tmp_path / f"crash-{step}"
    session = create_run(_config(), base, broker=broker, **_plugins(script))
    session.preflight()
    session.activate()
    session.run_n_steps(step)
    broker.armed = True
    with pytest.raises(KeyboardInterrupt):
        session.run_n_steps(1)
    session.close()  # seals nothing: the last checkpoint is the one at ``step``
    broker.armed = False
    resumed = resume_run(base / "late", broker=broker, **_plugins(script))
    resumed.run_to_end(STEPS, operator="cli")
    resumed.close()
    return _events(base / "late")


# Long 0.010 with its stop resting from bar 2.
_REVERSAL = at({2: [buy("0.010", stop_loss_pct=D("0.01"))], 4: [sell("0.020")]})
_REENTRY = at({2: [buy("0.010", stop_loss_pct=D("0.01"))], 4: [sell("0.015")], 5: [buy("0.020")]})


@pytest.mark.parametrize(
    ("script", "stop_at", "polls", "killed"),
    [(_REVERSAL, -1, 2, False), (_REENTRY, 1, 2, True)],
    ids=["no-kill-invented", "no-kill-missed"],
)
def test_a_late_leg_is_judged_after_a_resume_as_without_one(
    tmp_path: Path, script: Script, stop_at: int, polls: int, killed: bool
) -> None:
    """no-kill-invented: the venue filled the stop a nanosecond before the SELL 0.020 that
    reversed the long; reported two polls later it only closed the long. Resumed between
    the two, the stop read as growing the short: a kill. no-kill-missed: the SELL 0.010
    closed the long, the venue filled the stop on the flat book a nanosecond later (a
    crossing) and the strategy bought 0.010 again; reported after the re-entry, a resumed
    run read the stop as only closing it: no kill."""
    whole = _uninterrupted(tmp_path, script, LateStop(stop_at=stop_at, polls=polls))
    assert _kills(whole) == (["REDUCE_ONLY_CROSSED"] if killed else [])
    for step in range(1, 9):
        broker = LateStop(stop_at=stop_at, polls=polls)
        resumed = _crashed_and_resumed(tmp_path, script, broker, step)
        assert (step, _kills(resumed)) == (step, _kills(whole))
        assert resumed == whole, step


class RewritesTrade(Crashing):
    """Fills 0.004 of an order at once (trade ``T1``), the rest never; at its sixth poll
    the venue reports ``T1`` again as 0.006: another trade under the same id."""

    def __init__(self) -> None:
        super().__init__()
        self.polls = 0

    def submit(self, order: Any, now_ns: int) -> None:
        self.orders.append(order)
        cid = order.client_order_id
        self.owed.append(AckReport(client_order_id=cid, ts_ns=now_ns, venue_order_id="p1"))
        self.owed.append(self._fill(cid, "0.004", now_ns))

    def _fill(self, cid: str, quantity: str, now_ns: int) -> FillReport:
        return FillReport(
            client_order_id=cid,
            ts_ns=now_ns,
            trade_id="T1",
            quantity=D(quantity),
            price=self.close_price,
        )

    def poll(self, now_ns: int) -> Any:
        reports = super().poll(now_ns)
        self.polls += 1
        if self.polls == 6:
            reports = [*reports, self._fill(self.orders[0].client_order_id, "0.006", now_ns)]
        return reports


def test_a_trade_id_repeated_with_other_numbers_faults_after_a_resume_too(tmp_path: Path):
    """The uninterrupted run faults at the repeat (the venue holds another position than
    the book); resumed after the first T1 was recorded, the run took the repeat for a
    re-delivery (``DUPLICATE_REPORT``) and traded on. The resume now takes the fills the
    run recorded up to the checkpoint as booked, so it faults alike."""
    script = at({2: [buy("0.010")]})
    whole = _uninterrupted(tmp_path, script, RewritesTrade())
    assert b'"reason":"BROKER_REPORT_INVALID"' in whole
    assert b"DUPLICATE_REPORT" not in whole
    for step in range(1, 7):
        resumed = _crashed_and_resumed(tmp_path, script, RewritesTrade(), step)
        assert (step, b"DUPLICATE_REPORT" in resumed) == (step, False)
        assert resumed == whole, step
