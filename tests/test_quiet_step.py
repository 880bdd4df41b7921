"""A step that has nothing to do does nothing: a quiet step asks the venue once.

A step polls the venue for reports, then runs the strategy; only a step that then called
the venue (sent an order, or applied a report whose handling can call it, or is killing)
polls a second time before it ends. A quiet step costs one poll.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import MockBroker
from livesession._domain.model import BrokerReport

from _helpers import session


class CountingBroker(MockBroker):
    """The mock venue, counting polls per simulated time (one time per step)."""

    def __init__(self) -> None:
        super().__init__()
        self.polls: list[int] = []

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        self.polls.append(now_ns)
        return super().poll(now_ns)


def _polls_per_step(script: dict[int, list]) -> tuple[list[int], dict[str, list[dict]]]:
    broker = CountingBroker()
    orch, sinks = session(
        feed=ScriptedFeed(["40000.00"] * 12),
        strategy=ScriptedStrategy(at(script)),
        broker=broker,
        steps=12,
    )
    orch.preflight()
    orch.activate()
    before = len(broker.polls)
    orch.run_n_steps(10)
    during = broker.polls[before:]
    per_step = [during.count(t) for t in sorted(set(during))]
    stepped = {kind: sinks.events_of(kind) for kind in ("BAR", "ORDER_SUBMITTED", "ORDER_FILLED")}
    orch.request_stop()
    return per_step, stepped


def test_quiet_steps_poll_once_and_a_step_that_sends_polls_again() -> None:
    per_step, events = _polls_per_step({3: [buy("0.010")], 7: [buy("0.010")]})
    assert len(per_step) == 10
    # Steps 3 and 7 sent an order: a second poll hears its ack and fill in the same step.
    assert per_step == [1, 1, 2, 1, 1, 1, 2, 1, 1, 1]
    submitted, filled = events["ORDER_SUBMITTED"], events["ORDER_FILLED"]
    assert len(submitted) == len(filled) == 2
    bars = events["BAR"]
    # Each fill is recorded in the step of its order, before the next bar.
    for order, fill in zip(submitted, filled, strict=True):
        next_bars = [b for b in bars if b["seq"] > order["seq"]]
        assert not next_bars or fill["seq"] < next_bars[0]["seq"]
        assert Decimal(fill["payload"]["quantity"]) == Decimal("0.010")


def test_a_run_with_nothing_to_do_polls_once_a_step() -> None:
    per_step, _ = _polls_per_step({})
    assert per_step == [1] * 10
