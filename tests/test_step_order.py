"""One step's parts run in the order the docs give: each of the four places that write the
order down (docs/concepts.md's "One step", docs/modules.md's `_session/`, the docstrings of
``_session/pipeline.py`` and ``_session/coordinator.py``) names the parts in the order a
traced step calls them.

Bug: all four began "clock tick -> market feed", but the step asks the feed for its bar
first (at the time the step would take, so that a dated feed's bar can set it) and ticks
the clock after; and concepts.md's chain ended "reports -> book -> events -> reconcile ->
checkpoint", leaving out the kill switch's progress and the step hooks, which run between
the reconciliation and the checkpoint (coordinator.py: "reports, book, events,
reconciliation, checkpoint").
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryIdempotencyStore,
    OrderIntent,
    OrderType,
    RiskContext,
    SimClock,
    default_rails,
)
from livesession._session import coordinator, pipeline
from livesession.testing import FaultBroker

from _helpers import Sinks

ROOT = Path(__file__).resolve().parent.parent

# The parts of one step, in order, by the names the three texts give them.
STAGES = (
    "feed",
    "clock tick",
    "bar",
    "reports",
    "runtime checks",
    "strategy",
    "rails",
    "idempotency reserve",
    "broker",
    "reports",
    "kill switch progress",
    "reconcil",
    "step hooks",
    "checkpoint",
)
# What the trace below sees of each call (the runtime checks and the kill switch's progress
# call nothing a test can watch on a step that trips neither).
_SEEN = {
    "feed": "feed",
    "clock": "clock tick",
    "on_market": "bar",
    "poll": "reports",
    "strategy": "strategy",
    "rail": "rails",
    "reserve": "idempotency reserve",
    "submit": "broker",
    "open_orders": "reconcil",
    "hook": "step hooks",
    "checkpoint": "checkpoint",
}


def _texts() -> dict[str, str]:
    concepts = (ROOT / "docs" / "concepts.md").read_text(encoding="utf-8")
    one_step = concepts.split("\n## One step\n", 1)[1].split("\n### ", 1)[0]
    index = (ROOT / "docs" / "modules.md").read_text(encoding="utf-8")
    mapped = index.split("The coordinator keeps the lifecycle verbs", 1)[1].split("\n\n")[0]
    return {
        "docs/concepts.md, One step": one_step,
        "docs/modules.md, _session/": mapped,
        "_session/pipeline.py": pipeline.__doc__ or "",
        "_session/coordinator.py": coordinator.__doc__ or "",
    }


def test_each_text_names_the_parts_in_the_steps_order():
    for where, text in _texts().items():
        at_ = 0
        for stage in STAGES:
            words = r"\s+".join(stage.split())  # a name may break across lines
            found = re.compile(rf"\b{words}").search(text, at_)
            assert found, f"{where} names no {stage!r} after {text[:at_][-60:]!r}"
            at_ = found.end()


def test_a_traced_step_calls_the_parts_in_that_order():
    session = _traced_session()
    session.preflight()
    session.activate()
    session.run_n_steps(1)  # a LIMIT buy below the market rests at the venue
    TRACE.clear()
    session.run_n_steps(1)  # it fills as the bar reaches it, and a market buy follows
    step = list(TRACE)
    session.close()
    seen = [stage for n, stage in enumerate(step) if n == 0 or step[n - 1] != stage]
    assert seen == [stage for stage in STAGES if stage in _SEEN.values()]


TRACE: list[str] = []


def note(call: str) -> None:
    TRACE.append(_SEEN[call])


class Feed(ScriptedFeed):
    def next_bar(self, ts_ns: int) -> Any:
        note("feed")
        return super().next_bar(ts_ns)


class Clock(SimClock):
    def now(self) -> dt.datetime:
        note("clock")
        return super().now()


class Strategy(ScriptedStrategy):
    def on_bar(self, bar: Any, view: Any) -> Any:
        note("strategy")
        return super().on_bar(bar, view)


def _noted(name: str) -> Any:
    """``FaultBroker``'s method ``name``, noted in the trace as it is called."""

    def method(self: FaultBroker, *args: Any) -> Any:
        note(name)
        return getattr(FaultBroker, name)(self, *args)

    return method


class Broker(FaultBroker):
    """A ``FaultBroker`` (a broker of the test's own: it says it is simulated) that notes
    the calls of the step's parts: the bar, the polls, the sends and the reconciliation."""

    simulated = True
    on_market = _noted("on_market")
    poll = _noted("poll")
    submit = _noted("submit")
    open_orders = _noted("open_orders")


class Store(MemoryIdempotencyStore):
    def reserve(self, *args: Any, **kwargs: Any) -> Any:
        note("reserve")
        return super().reserve(*args, **kwargs)


class Checkpoints:
    def __init__(self) -> None:
        self.last: dict[str, Any] | None = None

    def save(self, checkpoint: Any) -> None:
        note("checkpoint")
        self.last = dict(checkpoint)

    def load(self) -> dict[str, Any] | None:
        return self.last


class Watch:
    """A rail of the test's, after the built-in ones: it sees each intent the rails check."""

    rule = "WATCH"

    def __call__(self, intent: OrderIntent, ctx: RiskContext) -> None:
        note("rail")


def _traced_session() -> LiveSessionOrchestrator:
    config = DryrunConfig(run_id="order", strategy_id="scripted", steps=4, checkpoint_every=1)
    resting = buy("0.010", order_type=OrderType.LIMIT, limit_price=Decimal("39990.00"))
    clock = Clock(dt.datetime(2026, 1, 1, tzinfo=dt.UTC))
    sinks = Sinks()
    session = LiveSessionOrchestrator(
        config,
        clock=clock,
        broker=Broker(),
        feed=Feed(["40000.00", "39980.00"], spread="10"),
        strategy=Strategy(at({1: [resting], 2: [buy("0.010")]})),
        idempotency=Store(clock),
        checkpoints=Checkpoints(),
        rails=(*default_rails(config.risk, config.allowed_symbols), Watch()),
        **sinks.kwargs(),
    )
    session.step_hooks.append(lambda _session: note("hook"))
    written = sinks.events.write_line

    def write_line(line: bytes) -> None:
        if orjson.loads(line)["event_type"] == "BAR":
            note("on_market")  # the bar recorded, as the venue saw it: one part
        written(line)

    sinks.events.write_line = write_line  # type: ignore[method-assign]
    return session
