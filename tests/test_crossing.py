"""``ReduceOnlyWatch``: a reduce-only fill judged at the venue's fill time (``ts_ns``).

The session-level cases (a leg reported steps after the reversal it preceded, a venue
filling a reduce-only order beyond the position) are in test_broker_guard.py.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import FillModelConfig
from livesession._session.crossing import ReduceOnlyWatch, only_closes

from _helpers import session

D = Decimal
SYM = "BTC/USDT"


def _watch(*fills: tuple[str, str, object, bool]) -> bool:
    """Apply (before, after, ts_ns, reduce_only) fills in report order; then judge them."""
    watch = ReduceOnlyWatch()
    for before, after, ts_ns, reduce_only in fills:
        watch.fill(SYM, D(before), D(after), ts_ns, reduce_only=reduce_only)
    return watch.take()


def test_a_leg_timed_before_the_reversal_it_is_reported_after_only_closes():
    # long 10; the sell of 20 (timed 200) reported first, the stop (timed 100) after it
    assert not _watch(("10", "-10", 200, False), ("-10", "-20", 100, True))


def test_a_leg_timed_after_the_reversal_crosses():
    assert _watch(("10", "-10", 200, False), ("-10", "-20", 300, True))


def test_a_leg_judged_a_look_later_is_still_placed_by_its_time():
    watch = ReduceOnlyWatch()
    watch.fill(SYM, D("10"), D("-10"), 200, reduce_only=False)
    assert not watch.take()
    watch.fill(SYM, D("-10"), D("-20"), 100, reduce_only=True)
    assert not watch.take()


def test_fills_of_one_time_read_either_way():
    # the stop and the reversal timed alike: the stop may have closed the long first
    assert not _watch(("10", "-10", 100, False), ("-10", "-20", 100, True))
    # a buy from flat and a reduce-only sell timed alike: the buy may have come first
    assert not _watch(("0", "1", 100, False), ("1", "0", 100, True))
    # both legs at one time, each closing the long 10: twice it is more than it held
    assert _watch(("0", "10", 50, False), ("10", "0", 100, True), ("0", "-10", 100, True))


def test_a_reduce_only_fill_on_a_flat_book_crosses():
    assert _watch(("0", "-5", 100, True))


def test_a_time_that_is_no_integer_is_read_as_after_the_latest():
    assert not _watch(("10", "4", 100, True), ("4", "0", None, True))
    assert _watch(("10", "-10", 200, False), ("-10", "-20", None, True))
    assert _watch(("10", "-10", 200, False), ("-10", "-20", True, True))


def test_a_position_moved_by_nothing_it_saw_starts_a_new_line():
    # the book's position is not where the last fill left it (a resume): judged from it
    watch = ReduceOnlyWatch()
    watch.fill(SYM, D("0"), D("10"), 300, reduce_only=False)
    watch.fill(SYM, D("-10"), D("-20"), 100, reduce_only=True)
    assert watch.take()


def test_the_fills_forgotten_are_the_earliest_timed_not_the_first_reported():
    """A fill is judged against those timed at or after it, so the watch keeps the latest
    timed: a fill reported first but timed last (a buy at t=10^9) outlives a thousand and
    more fills timed before it, and a reduce-only sell timed between them is judged on the
    position then (0: the late buy had not happened), a crossing. Forgetting the first
    reported (a deque of the last 1,024) read it as closing the buy's long."""
    fills: list[tuple[str, str, object, bool]] = [("0", "1", 10**9, False)]
    for ts in range(1, 1101):  # +1 and -1 in turn (the book, the late buy in it: 2, then 1)
        before, after = ("1", "2") if ts % 2 else ("2", "1")
        fills.append((before, after, ts, False))
    fills.append(("1", "0", 2_000, True))
    assert _watch(*fills)


def test_a_look_with_no_reduce_only_fill_judges_nothing():
    watch = ReduceOnlyWatch()
    watch.fill(SYM, D("0"), D("1"), 100, reduce_only=False)
    assert not watch.take()
    watch.fill(SYM, D("1"), D("2"), 50, reduce_only=True)  # a crossing, timed earlier
    assert watch.take()
    assert not watch.take()  # judged once


@pytest.mark.parametrize(
    ("position", "change", "closes"),
    [
        ("10", "-4", True),
        ("10", "-10", True),  # closed whole
        ("10", "-11", False),  # flipped short
        ("10", "1", False),
        ("0.5", "-0.5", True),
        ("0.5", "-0.25", True),
        ("0.5", "0.25", False),
        ("-10", "4", True),
        ("-10", "10", True),
        ("-10", "11", False),
        ("-10", "-1", False),
        ("-0.5", "0.5", True),
        ("-0.5", "0.25", True),
        ("-0.5", "-0.25", False),
        ("0", "1", False),  # a flat book has nothing to close
        ("0", "-1", False),
        ("10", "0", False),  # nothing closed
        ("-10", "0", False),
    ],
)
def test_only_closes_means_closing_some_and_opening_nothing(position, change, closes):
    assert only_closes(D(position), D(change)) is closes


def test_the_latest_timed_fills_are_kept_up_to_1024():
    """What a checkpoint holds of a symbol: its last 1,024 fills by time, no more."""
    watch = ReduceOnlyWatch()
    _past_the_kept(watch, 1100)
    kept = watch.get_state()[SYM]["fills"]
    assert [fill[0] for fill in kept] == list(range(1101 - 1024, 1101))


def _past_the_kept(watch: ReduceOnlyWatch, last: int) -> None:
    """Fills timed 1..``last`` from long 1, -1 and +1 in turn (flat after each odd time,
    long 1 after each even): the earliest beyond 1,024 are forgotten."""
    for ts in range(1, last + 1):
        before, after = ("1", "0") if ts % 2 else ("0", "1")
        watch.fill(SYM, D(before), D(after), ts, reduce_only=False)


def test_a_fill_timed_among_the_earliest_kept_is_judged_against_them():
    """Time 1 forgotten, a reduce-only sell timed 3 is judged against the sell timed 3 too,
    which it may have come before (closing the long 1 of time 2): it only closes."""
    watch = ReduceOnlyWatch()
    _past_the_kept(watch, 1025)
    watch.fill(SYM, D("0"), D("-1"), 3, reduce_only=True)
    assert not watch.take()


def test_a_time_that_is_no_integer_follows_the_latest_kept():
    first = ReduceOnlyWatch()
    first.fill(SYM, D("1"), D("0"), None, reduce_only=True)
    assert first.get_state()[SYM]["fills"] == [[0, "-1", True]]  # none before it: time 0
    watch = ReduceOnlyWatch()
    _past_the_kept(watch, 1025)
    watch.fill(SYM, D("0"), D("1"), None, reduce_only=True)
    assert watch.get_state()[SYM]["fills"][-1] == [1026, "1", True]


def test_a_crossing_is_said_once():
    watch = ReduceOnlyWatch()
    watch.fill(SYM, D("0"), D("-5"), 100, reduce_only=True)  # on a flat book: a crossing
    assert watch.take()
    watch.fill(SYM, D("-5"), D("-2"), 200, reduce_only=True)  # closes some of the short
    assert not watch.take()
    assert watch.get_state()[SYM]["unjudged"] == []


def test_a_close_and_reverse_in_one_bar_on_a_mock_that_splits_fills_crosses_nothing():
    """Long 0.010, one bar: SELL 0.010 reduce-only, then SELL 0.010. Each fills in two parts
    a latency apart. The mock closed the long with the first whole, then opened the short:
    its fills are timed so (the reduce-only order's second part no later than the reversal's
    first), not interleaved to read as a reduce-only fill that opened the short."""
    script = at({1: [buy("0.010")], 3: [sell("0.010", reduce_only=True), sell("0.010")]})
    orch, sinks = session(
        feed=ScriptedFeed(["40000.00"] * 6),
        strategy=ScriptedStrategy(script),
        fill_model=FillModelConfig(partial_fill_ratio=D(1), latency_ms=1000),
        steps=6,
    )
    orch.preflight()
    orch.activate()
    orch.run_n_steps(6)
    assert [e["payload"]["reason"] for e in sinks.events_of("KILL_SWITCH")] == []
    assert orch.book.positions[SYM] == D("-0.010")
