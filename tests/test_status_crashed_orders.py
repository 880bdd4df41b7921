"""`status` of a crashed run says the orders its events after the checkpoint show open."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import CancelIntent, DryrunConfig, OrderType, create_run, resume_run
from livesession._domain.ids import client_order_id
from livesession._rundir.ordersafter import OrdersAfter
from livesession.cli import main
from livesession.status import Verdict, run_status

PROTECT = {"take_profit_pct": Decimal("0.01"), "stop_loss_pct": Decimal("0.01")}
_BID = client_order_id("died", "scripted", 1)
"""The client order id of the run's first order (its first bid, below)."""


class _CrashesAt(ScriptedStrategy):
    """Its script's intents, and a Ctrl-C inside bar ``crash`` (0: never)."""

    def __init__(self, script: dict[int, list[Any]], crash: int = 0) -> None:
        super().__init__(at(script))
        self.crash = crash

    def on_bar(self, bar: object, view: object) -> object:  # type: ignore[override]
        if int(bar.volume) == self.crash:  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return super().on_bar(bar, view)  # type: ignore[arg-type]


def _crashed(tmp_path: Path, script: dict[int, list[Any]], crash: int, every: int) -> Path:
    """A run of ``script`` that crashed inside bar ``crash``, checkpointed every ``every``."""
    cfg = DryrunConfig(
        run_id="died", strategy_id="scripted", steps=50, durability="step", checkpoint_every=every
    )
    strategy = _CrashesAt(script, crash)
    session = create_run(cfg, tmp_path, feed=ScriptedFeed(["40000.00"]), strategy=strategy)
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(50)
    return tmp_path / "died"


def _resumed_to_the_end(run_dir: Path, script: dict[int, list[Any]]) -> None:
    """Resume the crashed run to its end (no crash), so it seals and verifies."""
    resumed = resume_run(run_dir, feed=ScriptedFeed(["40000.00"]), strategy=_CrashesAt(script))
    with resumed:
        resumed.run_to_end(50)
    assert run_status(run_dir).verdict is Verdict.COMPLETED


def _said(capsys: pytest.CaptureFixture[str], run_dir: Path) -> tuple[dict[str, Any], str]:
    """``status --json``'s object and ``status``'s ``open orders`` line (both exit 6)."""
    assert main(["status", "--json", str(run_dir)]) == 6
    found = json.loads(capsys.readouterr().out)
    assert main(["status", str(run_dir)]) == 6
    text = capsys.readouterr().out
    return found, next(row for row in text.splitlines() if row.startswith("open orders"))


def test_a_crash_after_its_exits_were_placed_names_them_open(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Crashed with its entry filled and its stop and take profit resting, all after its
    step-0 checkpoint, a run said `open orders none; as of the last checkpoint (step 0)`:
    the operator deciding whether to resume, or to go to the venue by hand, was not told of
    the two orders the process had sent and never seen closed. It says them now."""
    script = {1: [buy("0.010", **PROTECT)]}
    run_dir = _crashed(tmp_path, script, crash=4, every=100)
    found, line = _said(capsys, run_dir)
    assert found["open_orders"] == []  # the checkpoint's: what resume restores
    assert found["open_orders_as_of"] == (
        "as of the last checkpoint (step 0); events after it show 2 open"
    )
    legs = found["open_orders_after_checkpoint"]
    assert sorted((o["order_type"], o["limit_price"], o["side"]) for o in legs) == [
        ("LIMIT", "40400.00", "SELL"),
        ("STOP", "39600.00", "SELL"),
    ]
    assert line.startswith(
        "open orders none; as of the last checkpoint (step 0); events after it show 2 open: "
    ), line
    for leg in legs:
        kind = f"{leg['order_type']} {leg['limit_price']}"
        said = f"{leg['client_order_id']} SELL 0.010 BTC/USDT ({kind}, protective leg of "
        assert said in line
    assert "BUY" not in line  # the entry filled: closed
    _resumed_to_the_end(run_dir, {})


def test_quotes_sent_and_cancelled_after_the_checkpoint_are_said_as_they_stood(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Quoting both sides, the checkpoint (step 2) holds a bid and an ask; the strategy then
    cancels the bid and quotes a new one before the crash. The line said the checkpoint's
    two alone: the events show the new bid and the ask open, the old bid closed."""

    def bid(price: str) -> Any:
        return buy("0.010", order_type=OrderType.LIMIT, limit_price=Decimal(price))

    ask = sell("0.010", order_type=OrderType.LIMIT, limit_price=Decimal(41000))
    script: dict[int, list[Any]] = {1: [bid("39000"), ask], 3: [bid("39500")]}
    script[3].insert(0, CancelIntent(client_order_id=_BID, reason="stale"))
    run_dir = _crashed(tmp_path, script, crash=4, every=2)
    found, line = _said(capsys, run_dir)
    kept = {o["client_order_id"]: o for o in found["open_orders"]}
    assert kept[_BID]["side"] == "BUY"
    assert sorted(o["limit_price"] for o in kept.values()) == ["39000.00", "41000.00"]
    now = found["open_orders_after_checkpoint"]
    assert [(o["side"], o["limit_price"]) for o in now] == [
        ("SELL", "41000.00"),
        ("BUY", "39500.00"),
    ]
    assert now[0] == kept[now[0]["client_order_id"]]  # the ask, as the checkpoint holds it
    assert _BID not in line.split("events after it show", 1)[1]
    assert found["open_orders_as_of"].endswith("; events after it show 2 open")
    _resumed_to_the_end(run_dir, script)


def test_orders_after_a_checkpoint_fed_newest_first() -> None:
    """A fill after the checkpoint says what filled; a drop, a full fill and an expiry
    close; an order sent and closed after it is not open; one sent in doubt says so, and one
    whose cancel the venue took, with no ORDER_CANCELED yet, says its cancel was asked."""
    kept = [{"client_order_id": c, "side": "BUY", "filled": "0"} for c in ("k1", "k2", "k3", "k4")]
    orders = OrdersAfter()
    for kind, fields in [  # newest first
        ("STRATEGY_CANCEL", {"client_order_id": "k2", "outcome": "SENT"}),
        ("ORDER_EXPIRED", {"client_order_id": "k4"}),
        ("ORDER_SUBMITTED", {"client_order_id": "s2", "side": "SELL", "send_outcome": "UNKNOWN"}),
        ("RECONCILED", {"action": "DROPPED", "client_order_id": "k3"}),
        ("RECONCILED", {"action": "ADOPTED", "client_order_id": "k2"}),
        ("ORDER_FILLED", {"client_order_id": "s1", "filled": "1", "remaining": "0"}),
        ("ORDER_PARTIALLY_FILLED", {"client_order_id": "k1", "filled": "0.5", "remaining": "1"}),
        ("ORDER_SUBMITTED", {"client_order_id": "s1", "side": "SELL"}),
        ("POSITION_CHANGED", {"symbol": "XYZ", "position": "1"}),
    ]:
        orders.feed(kind, fields)
    found = orders.open_at_end(kept)
    assert [(o["client_order_id"], o["filled"]) for o in found] == [
        ("k1", "0.5"),
        ("k2", "0"),
        ("s2", "0"),
    ]
    assert found[-1]["in_doubt"] is True
    assert [o["client_order_id"] for o in found if o.get("cancel_requested")] == ["k2"]


def test_orders_past_a_checkpoint_too_far_to_read_are_said_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """More written after the checkpoint than status reads: its open orders are the
    checkpoint's, and the line says the events after it were not read, as the position's
    does, never that nothing was sent since."""
    from livesession._artifacts import runread

    script = {1: [buy("0.010", **PROTECT)]}
    run_dir = _crashed(tmp_path, script, crash=4, every=100)
    monkeypatch.setattr(runread, "_SCAN_CHUNK", 64)
    monkeypatch.setattr(runread, "_SCAN_BUDGET", 64)
    found, line = _said(capsys, run_dir)
    assert found["open_orders_after_checkpoint"] is None
    assert found["open_orders_as_of"] == (
        "as of the last checkpoint (step 0); the events after it were not read"
    )
    assert line == (
        "open orders none; as of the last checkpoint (step 0); the events after it were not read"
    )
    monkeypatch.undo()
    _resumed_to_the_end(run_dir, {})
