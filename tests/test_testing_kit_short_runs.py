"""The failure matrix checks the steps it is asked for, or says why it cannot.

Bug: a run that stopped itself before ``steps`` (the config's ``max_steps`` below it, a feed
that ran out of bars) was checked for the steps it ran and passed, the rest never run: kills
and faults drawn past its end were never reached, and nothing said so. And a config giving
``max_steps`` alone was refused for the matrix's own ``steps`` default (``steps (100000) is
above the bound max_steps (20)``), a number the caller never wrote.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import pytest

from livesession import Bar, SmaCrossover
from livesession.testing import MatrixCase, check_case, run_failure_matrix

from _helpers import zigzag_bar


def sma() -> SmaCrossover:
    return SmaCrossover(strategy_id="sma_demo", fast=2, slow=3, order_qty=Decimal("0.010"))


class ShortFeed:
    """A zigzag of ``bars`` bars, then none (a data file's end)."""

    symbol = "BTC/USDT"

    def __init__(self, bars: int) -> None:
        self.limit = bars
        self.bars = 0

    def next_bar(self, ts_ns: int) -> Bar | None:
        if self.bars >= self.limit:
            return None
        self.bars += 1
        return zigzag_bar(self.symbol, self.bars, ts_ns)

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.bars = state["bars"]


def test_a_max_steps_below_steps_is_refused_naming_both():
    with pytest.raises(ValueError) as caught:
        run_failure_matrix(sma, examples=2, steps=40, seed=0, config={"max_steps": 20})
    assert str(caught.value) == (
        "steps=40, but each run stops itself after step 20 (the config's max_steps is 20):"
        " the matrix would check 20 steps of each run, not 40, and never reach the kills"
        " and faults it draws past them; raise max_steps to 40 or more, or pass steps=20"
    )


def test_a_feed_that_runs_out_before_steps_is_refused_naming_where():
    with pytest.raises(ValueError) as caught:
        run_failure_matrix(
            sma,
            examples=2,
            steps=40,
            seed=0,
            feed_factory=functools.partial(ShortFeed, 15),
            cross_process=False,
        )
    assert str(caught.value) == (
        "steps=40, but each run stops itself after step 15 (FEED_EXHAUSTED: the feed gave"
        " no bar after it): the matrix would check 15 steps of each run, not 40, and never"
        " reach the kills and faults it draws past them; give the feed more bars, or pass"
        " steps=15"
    )


def test_check_case_refuses_a_run_that_stops_itself_alike():
    case = MatrixCase(latency_s=0, faults=(), kill_after=5)
    with pytest.raises(ValueError, match=r"^steps=10, but each run stops itself after step 6 "):
        check_case(sma, case, steps=10, config={"max_steps": 6})


def test_a_max_steps_alone_at_or_above_steps_runs_every_step():
    report = run_failure_matrix(
        sma, examples=2, steps=20, seed=0, config={"max_steps": 20}, cross_process=False
    )
    assert report.resumes > 0
    done, resumed = check_case(
        sma, MatrixCase(latency_s=0, faults=(), kill_after=10), steps=20, config={"max_steps": 20}
    )
    assert resumed
    assert done >= 2 * 20  # both runs ran every step


def test_a_feed_with_bars_enough_passes():
    report = run_failure_matrix(
        sma,
        examples=2,
        steps=20,
        seed=0,
        feed_factory=functools.partial(ShortFeed, 20),
        cross_process=False,
    )
    assert report.examples >= 2
