"""Property: an open position is covered by live legs, or its gap is recorded and ends.

Hypothesis draws sessions whose strategy only opens protected market entries (one side a
session, so each OCO group covers what its own entry opened) against a ``FaultBroker``
that rejects, times out, drops, splits, delays and loses reports, and a venue that
cancels a resting leg or fills part of it of its own accord. After every step it reads
the run as a reviewer would, from ``events.jsonl`` alone, and checks docs/risk.md,
"Protected positions":

- at the end of a step, the position is covered: the legs still live (submitted, neither
  rejected, cancelled nor filled) cover it, each OCO group for the most any of its legs
  has left; or
- it is uncovered for at most ``ENTRY_WINDOW`` steps (an entry's fills arriving, a leg's
  drop before its kill), and longer only with the reason recorded: a ``KILL_SWITCH``, or
  the legs refused while trading is HALTED (``RISK_REJECTED`` rule ``TRADING_STATE``);
- a kill ends flat (``KILL_SWITCH_FLAT``) within ``KILL_BOUND`` steps;
- the stop at the end leaves the run flat, and the run verifies.

The ``ci`` profile's examples take a few seconds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
import orjson
from hypothesis import event, given
from hypothesis import strategies as st

from _scripted import ScriptedFeed, ScriptedStrategy, buy, sell
from livesession import SessionState, TradingState
from livesession.testing import FaultBroker, mark_verified, verify_session

from _helpers import session

D = Decimal
ZERO = D(0)
STEPS = 24
ENTRY_WINDOW = 3
"""Steps a position may rest uncovered with nothing recorded: a late fill's delay (two
steps of 60 s) before the entry is done, and the step the legs are placed on."""
KILL_BOUND = 30
"""Steps from a kill to flat, whatever the faults (the failure matrix's bound)."""
PROTECT = {"take_profit_pct": D("0.004"), "stop_loss_pct": D("0.004")}
CLOSES = ("39800.00", "39900.00", "40000.00", "40100.00", "40200.00")
VENUE_FAULTS = (
    "reject",
    "reject_later",
    "transient",
    "timeout_before",
    "timeout_after",
    "lookup_down",
    "split_fill",
    "late_fill",
    "duplicate_fill",
    "duplicate_ack",
    "lose_close_report",
    "cancel_transient",
)
VENUE_ACTS = ("venue_cancels_a_leg", "venue_fills_part_of_a_leg")


@attrs.define
class Reading:
    """The run as its events say, read line by line."""

    position: Decimal = ZERO
    legs: dict[str, tuple[str, Decimal]] = attrs.Factory(dict)
    kill_at: int | None = None
    halted_refusal: bool = False
    read: int = 0

    def take(self, lines: list[bytes], step: int) -> None:
        for line in lines[self.read :]:
            self._event(orjson.loads(line), step)
        self.read = len(lines)

    def _event(self, event: dict[str, Any], step: int) -> None:
        kind, p = event["event_type"], event["payload"]
        cid = p.get("client_order_id")
        if kind == "ORDER_SUBMITTED" and p.get("oco_group"):
            self.legs[cid] = (p["oco_group"], D(p["quantity"]))
        elif kind in ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED") and cid in self.legs:
            group, left = self.legs[cid]
            self.legs[cid] = (group, left - D(p["quantity"]))
            if kind == "ORDER_FILLED":
                del self.legs[cid]
        elif kind in ("ORDER_CANCELED", "ORDER_REJECTED"):
            self.legs.pop(cid, None)
        elif kind == "POSITION_CHANGED":
            self.position = D(p["position"])
        elif kind == "KILL_SWITCH":
            self.kill_at = step if self.kill_at is None else self.kill_at
        elif kind == "KILL_SWITCH_FLAT":
            self.kill_at = None
        elif kind == "RISK_REJECTED" and p.get("leg") and p["rule"] == "TRADING_STATE":
            self.halted_refusal = True

    def cover(self) -> Decimal:
        groups: dict[str, Decimal] = {}
        for group, left in self.legs.values():
            groups[group] = max(groups.get(group, D(0)), left)
        return sum(groups.values(), D(0))


def _venue_act(broker: FaultBroker, act: str) -> None:
    """The venue acts on the first leg it holds open, of its own accord."""
    legs = sorted(c for c, v in broker._open.items() if v.order.oco_group)
    if not legs:
        return
    venue = broker._open[legs[0]]
    if act == "venue_cancels_a_leg":
        broker._cancel(venue, broker.now_ns)
        return
    rest = venue.order.quantity - venue.filled
    part = (rest / 2).quantize(D("0.001"))
    if part > 0:
        price = venue.order.limit_price or D(CLOSES[2])
        broker._execute(venue, part, price, broker.now_ns)


@st.composite
def _schedules(draw: st.DrawFn) -> tuple[bool, list[tuple[str, str, int]]]:
    long = draw(st.booleans())
    step = st.tuples(
        st.sampled_from(("enter", "enter", "none", "none", "ack")),
        st.sampled_from(("none", "none", *VENUE_FAULTS, *VENUE_ACTS)),
        st.integers(0, len(CLOSES) - 1),
    )
    return long, draw(st.lists(step, min_size=STEPS, max_size=STEPS))


@given(_schedules())
def test_an_open_position_is_covered_or_its_gap_is_recorded_and_ends(schedule):
    long, steps = schedule
    plan = {n + 1: action for n, (action, _, _) in enumerate(steps)}
    entry = buy if long else sell
    broker = FaultBroker()

    def script(n: int, _bar: object, _view: object) -> tuple[Any, ...]:
        return (entry("0.005", **PROTECT),) if plan.get(n) == "enter" else ()

    orch, sinks = session(
        feed=ScriptedFeed([CLOSES[c] for _, _, c in steps] + [CLOSES[2]] * 60),
        strategy=ScriptedStrategy(script),
        broker=broker,
        steps=200,
        reconcile_grace_ms=300_000,
        stop_max_polls=60,
    )
    orch.preflight()
    orch.activate()
    reading = Reading()
    uncovered = longest = 0
    for n, (action, fault, _) in enumerate(steps, start=1):
        if orch.state is not SessionState.DRYRUN_ACTIVE:
            break
        if (
            action == "ack"
            and orch.trading_state is TradingState.HALTED
            and reading.kill_at is None
        ):
            orch.reenable_trading("desk")
        if fault in VENUE_ACTS:
            _venue_act(broker, fault)
        elif fault != "none":
            broker.arm(fault)
        orch.step()
        reading.take(sinks.events.lines, n)
        if abs(reading.position) > reading.cover():
            uncovered += 1
            longest = max(longest, uncovered)
        else:
            uncovered, reading.halted_refusal = 0, False
        recorded = reading.kill_at is not None or reading.halted_refusal
        assert uncovered <= ENTRY_WINDOW or recorded, (
            f"step {n}: position {reading.position} under legs for {reading.cover()}, "
            f"uncovered {uncovered} steps with nothing recorded"
        )
        if reading.kill_at is not None:
            assert n - reading.kill_at <= KILL_BOUND, f"step {n}: killed at {reading.kill_at}"
    event(f"kills: {len(sinks.events_of('KILL_SWITCH'))}")
    event(f"longest uncovered: {longest}")
    broker.armed.clear()  # the venue recovers: the stop must be able to flatten
    if orch.state is SessionState.DRYRUN_ACTIVE:
        orch.request_stop("end of the schedule")
    reading.take(sinks.events.lines, len(steps))
    assert reading.position == 0 or orch.state is not SessionState.STOPPED
    assert verify_session(orch) == []
    mark_verified(orch)
