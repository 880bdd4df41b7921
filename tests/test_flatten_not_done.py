"""A wind-down's flatten the venue cancelled or rejected is not said to have closed anything.

Bug: the evidence said "The session flattened what the strategy still held as the run wound
down: SELL 0.010 BTC/USDT ..." of every ``flatten`` order the session sent, one the venue
acknowledged and then cancelled unfilled (a desk's venue) or rejected (``reject_rate``)
included, three times over for a run that ended ``STOP_INCOMPLETE`` holding 0.010; the
report's key metrics said "flattened by the session", and ``DryrunResult.flattened`` and the
``dryrun`` summary "the session flattened SELL 0.010 BTC/USDT as it wound down". A reviewer
was told a position was closed that was not. Each says now what the order did: filled,
partly filled, cancelled or rejected, and what it left open.
"""

from __future__ import annotations

import html
import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import AckReport, CancelReport, DryrunConfig, MockBroker, create_run
from livesession._artifacts import names
from livesession._artifacts.runread import iter_records
from livesession._cli_summary import exposure_line
from livesession._rundir.flattens import WindDownFlattens, flatten_fate
from livesession.evidence._outcome import outcome, outcome_lines
from livesession.report import render_report

if TYPE_CHECKING:
    from pathlib import Path

    from livesession import DryrunResult


class _CancelsFlattens(MockBroker):
    """A desk's venue that acknowledges each reduce-only order and cancels it unfilled."""

    simulated = True

    def __init__(self) -> None:
        super().__init__()
        self._held_back: list[str] = []

    def submit(self, order: Any, now_ns: int) -> None:
        if order.reduce_only:
            self._held_back.append(order.client_order_id)
            return
        super().submit(order, now_ns)

    def poll(self, now_ns: int) -> Any:
        reports = list(super().poll(now_ns))
        for cid in self._held_back:
            reports += [
                AckReport(client_order_id=cid, venue_order_id=f"x{cid[-4:]}", ts_ns=now_ns),
                CancelReport(client_order_id=cid, ts_ns=now_ns),
            ]
        self._held_back.clear()
        return reports


def _held(tmp_path: Path, run_id: str, broker: object = None, **more: Any) -> DryrunResult:
    """An eight-step run that buys 0.010 on bar 3 and never sells: its wind-down flattens."""
    cfg = DryrunConfig.from_mapping(
        {"run_id": run_id, "strategy_id": "scripted", "steps": 8, "durability": "none"} | more
    )
    strategy = ScriptedStrategy(at({3: [buy("0.010")]}))
    feed = ScriptedFeed(["40000.00"] * 8)
    with create_run(cfg, tmp_path, strategy=strategy, feed=feed, broker=broker) as s:
        assert s.preflight()
        s.activate()
        for _ in range(8):
            s.step()
    return s.result()


def _lines(run_dir: Path) -> list[str]:
    return outcome_lines(outcome(run_dir, iter_records(run_dir / names.EVENTS)), run_dir)


def test_a_flatten_the_venue_cancelled_unfilled_is_said_to_have_left_the_position(
    tmp_path: Path,
) -> None:
    result = _held(tmp_path, "c", _CancelsFlattens(), stop_max_polls=3)
    assert (result.status.value, result.reason) == ("FAILED", "STOP_INCOMPLETE"), result
    assert result.positions == {"BTC/USDT": Decimal("0.010")}
    assert result.flattened == ()  # nothing was closed
    assert "flattened" not in exposure_line(result)
    lines = _lines(tmp_path / "c")
    assert not [line for line in lines if "flattened what" in line]
    left = [line for line in lines if "`flatten` order of its own" in line]
    assert len(left) == 3  # one a poll, each cancelled
    assert left[0] == (
        "- The session sent a `flatten` order of its own for what the strategy still held as "
        "the run wound down, SELL 0.010 BTC/USDT after step 8 (2026-01-01T00:08:00Z): "
        "cancelled by the venue unfilled, so it left BTC/USDT 0.010 open."
    )
    page = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", render_report(tmp_path / "c"))).split())
    assert "flattened by the session" not in page
    assert (
        "flatten not done SELL 0.010 BTC/USDT after step 8 (2026-01-01T00:08:00Z), cancelled "
        "by the venue unfilled, so it left BTC/USDT 0.010 open; "
    ) in page


def test_a_rejected_flatten_and_the_one_that_closed_the_position_each_say_what_they_did(
    tmp_path: Path,
) -> None:
    """The mock venue's rejects (run s8, seed 8: the entry fills, the first flatten is rejected)."""
    result = _held(tmp_path, "s8", seed=8, fill_model={"reject_rate": "0.5"})
    assert result.status.value == "COMPLETED", result
    assert result.flattened == ("SELL 0.010 BTC/USDT",)  # the second closed it
    said = [line for line in _lines(tmp_path / "s8") if "`flatten` order of its own" in line]
    assert said == [
        (
            "- The session sent a `flatten` order of its own for what the strategy still held "
            "as the run wound down, SELL 0.010 BTC/USDT after step 8 (2026-01-01T00:08:00Z): "
            "rejected by the venue unfilled, so it left BTC/USDT 0.010 open."
        ),
        (
            "- The session flattened what the strategy still held as the run wound down: SELL "
            "0.010 BTC/USDT after step 8 (2026-01-01T00:09:00Z), a `flatten` order of its own."
        ),
    ]


def test_a_flatten_filled_in_part_says_what_it_left_open() -> None:
    flattens = WindDownFlattens()
    cid = {"client_order_id": "ls1"}
    sent = cid | {"reason": "flatten", "side": "SELL", "quantity": "0.010", "symbol": "BTC/USDT"}
    flattens.note("ORDER_SUBMITTED", {"payload": sent, "ts_sim": 0}, 8)
    flattens.note("ORDER_ACCEPTED", {"payload": cid}, 8)  # not one it reads: passed over
    flattens.note("ORDER_PARTIALLY_FILLED", {"payload": cid | {"filled": "0.004"}}, 8)
    assert flatten_fate(flattens.found[0]) == (
        "not filled when the run sealed after 0.004 filled, so it left BTC/USDT 0.006 open"
    )
    flattens.note("ORDER_CANCELED", {"payload": cid}, 8)
    (order,) = flattens.found
    assert (order["filled"], order["ended"]) == ("0.004", "cancelled")
    assert flatten_fate(order) == (
        "cancelled by the venue after 0.004 filled, so it left BTC/USDT 0.006 open"
    )
    flattens.note("ORDER_SUBMITTED", {"payload": sent | {"client_order_id": "ls2"}}, 9)
    flattens.note("ORDER_FILLED", {"payload": {"client_order_id": "ls2", "filled": "0.010"}}, 9)
    assert flatten_fate(flattens.found[1]) == ""  # it closed what it was sent for
