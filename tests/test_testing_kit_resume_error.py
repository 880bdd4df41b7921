"""A strategy that raises only once resumed is asked about its state, as a difference is.

The failure matrix said ``run killed after step 15 and resumed: the strategy raised
RuntimeError: ... (step 16, at ...)`` and no more, though the uninterrupted run of the same
case went through that step: what the resumed run lacked is what ``set_state`` did not
restore. The finding now asks about it, as a resumed run that differs is asked.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from livesession import SmaCrossover
from livesession.testing import MatrixCase, check_case


class History(SmaCrossover):
    """Keeps its closes outside get_state, and relies on them."""

    def __init__(self) -> None:
        super().__init__(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01"))
        self.closes: list[Decimal] = []
        self.seen = 0

    def on_bar(self, bar, view):  # type: ignore[no-untyped-def]
        self.seen += 1
        self.closes.append(bar.close)
        if len(self.closes) != self.seen:
            msg = f"history lost: {len(self.closes)} closes for {self.seen} bars"
            raise RuntimeError(msg)
        return super().on_bar(bar, view)

    def get_state(self):  # type: ignore[no-untyped-def]
        return {**super().get_state(), "seen": self.seen}

    def set_state(self, state):  # type: ignore[no-untyped-def]
        super().set_state({k: v for k, v in state.items() if k != "seen"})
        self.seen = state["seen"]


class Early(History):
    """Raises on its 4th bar, resumed or not."""

    def on_bar(self, bar, view):  # type: ignore[no-untyped-def]
        if self.seen == 3:
            raise RuntimeError("bad bar")
        return super().on_bar(bar, view)


def test_an_error_only_the_resumed_run_met_asks_about_get_state():
    with pytest.raises(AssertionError) as found:
        check_case(History, MatrixCase(latency_s=0, faults=(), kill_after=5), steps=12)
    said = str(found.value)
    assert said.startswith(
        "run killed after step 5 and resumed: the strategy raised RuntimeError: history lost: "
        "1 closes for 6 bars (step 6, at "
    ), said
    assert said.endswith(
        "; the uninterrupted run did not fail there: does the strategy's get_state hold all "
        "its memory, and its set_state restore it (or is it not deterministic)?"
    ), said


def test_an_error_of_the_uninterrupted_run_is_not_asked_so():
    with pytest.raises(AssertionError) as found:
        check_case(Early, MatrixCase(latency_s=0, faults=(), kill_after=5), steps=12)
    said = str(found.value)
    assert said.startswith("uninterrupted run: the strategy raised RuntimeError: bad bar (step 4")
    assert "get_state" not in said
