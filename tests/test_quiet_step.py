"""A step that has nothing to do does nothing: a quiet step does not poll the venue.

A step polls the venue for reports only while it owes the session one (an order of the
session's open or closing, or reports waiting); after the strategy, a step that called the
venue (sent an order, applied a report whose handling can call it, or is killing) polls
again before it ends. A quiet step costs no poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import MockBroker
from livesession._domain.model import BrokerReport
from livesession.brokers.mock import FillModel

from _helpers import session


class CountingBroker(MockBroker):
    """The mock venue, counting polls per simulated time (one time per step)."""

    simulated = True  # a broker of the test's own declares itself (preflight)

    def __init__(self, latency_ms: int = 0) -> None:
        super().__init__(fill_model=FillModel(latency_ns=latency_ms * 1_000_000))
        self.polls: list[int] = []

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        self.polls.append(now_ns)
        return super().poll(now_ns)


def _polls_per_step(
    script: dict[int, list], latency_ms: int = 0
) -> tuple[dict[int, int], dict[str, list[dict]]]:
    """Polls by step number (steps without a poll left out) over steps 1 to 10."""
    broker = CountingBroker(latency_ms)
    orch, sinks = session(
        feed=ScriptedFeed(["40000.00"] * 12),
        strategy=ScriptedStrategy(at(script)),
        broker=broker,
        steps=12,
    )
    orch.preflight()
    orch.activate()
    start, interval = orch.ts_sim, orch.config.step_interval_ms * 1_000_000
    before = len(broker.polls)
    orch.run_n_steps(10)
    during = broker.polls[before:]
    per_step = {(t - start) // interval: during.count(t) for t in sorted(set(during))}
    stepped = {kind: sinks.events_of(kind) for kind in ("BAR", "ORDER_SUBMITTED", "ORDER_FILLED")}
    orch.request_stop()
    return per_step, stepped


def test_quiet_steps_do_not_poll_and_a_step_that_sends_polls_once() -> None:
    per_step, events = _polls_per_step({3: [buy("0.010")], 7: [buy("0.010")]})
    # Steps 3 and 7 sent an order: the poll after it hears its ack and fill in the same
    # step (latency 0), so the next step owes nothing again.
    assert per_step == {3: 1, 7: 1}
    submitted, filled = events["ORDER_SUBMITTED"], events["ORDER_FILLED"]
    assert len(submitted) == len(filled) == 2
    bars = events["BAR"]
    # Each fill is recorded in the step of its order, before the next bar.
    for order, fill in zip(submitted, filled, strict=True):
        next_bars = [b for b in bars if b["seq"] > order["seq"]]
        assert not next_bars or fill["seq"] < next_bars[0]["seq"]
        assert Decimal(fill["payload"]["quantity"]) == Decimal("0.010")


def test_a_run_with_nothing_to_do_never_polls() -> None:
    per_step, _ = _polls_per_step({})
    assert per_step == {}


def test_an_order_the_venue_has_not_answered_is_polled_for_every_step() -> None:
    """With a report latency, the order stays open: each step owes, so each step polls."""
    per_step, events = _polls_per_step({3: [buy("0.010")]}, latency_ms=150_000)
    # Sent at step 3, its fill is due 2.5 steps later: steps 4 and 5 poll for it; step 6
    # hears it and polls again after the strategy (applying a report may call the venue);
    # from step 7 nothing is owed.
    assert per_step == {3: 1, 4: 1, 5: 1, 6: 2}
    assert len(events["ORDER_FILLED"]) == 1
