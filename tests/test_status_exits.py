"""`status` of a crashed run with a protective pair open says which leg is which."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, create_run, resume_run
from livesession._rundir.standing import book
from livesession._rundir.statuswords import describe_orders
from livesession.cli import main
from livesession.status import Verdict, run_status

PROTECT = {"take_profit_pct": Decimal("0.01"), "stop_loss_pct": Decimal("0.01")}


class _ProtectedThenCrashes(ScriptedStrategy):
    """Buys 0.010 with a stop and a take profit on bar 1; Ctrl-C inside bar 4."""

    def __init__(self, *, crash: bool = True) -> None:
        super().__init__(at({1: [buy("0.010", **PROTECT)]}))
        self.crash = crash

    def on_bar(self, bar: object, view: object) -> object:  # type: ignore[override]
        if self.crash and int(bar.volume) == 4:  # type: ignore[attr-defined]
            raise KeyboardInterrupt
        return super().on_bar(bar, view)  # type: ignore[arg-type]


def test_a_crashed_run_names_each_open_leg_its_type_and_price(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Crashed with its entry's legs resting, a run said `open orders 2: ls... SELL 0.010
    BTC/USDT; ls... SELL 0.010 BTC/USDT`: the operator deciding whether to resume could not
    tell the stop from the take profit, nor that they were one pair protecting the position.
    Each order now says its type, price and the entry whose leg it is."""
    cfg = DryrunConfig(
        run_id="legs", strategy_id="scripted", steps=50, durability="step", checkpoint_every=1
    )
    strategy = _ProtectedThenCrashes()
    session = create_run(cfg, tmp_path, feed=ScriptedFeed(["40000.00"]), strategy=strategy)
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(50)
    run_dir = tmp_path / "legs"
    legs = run_status(run_dir).open_orders
    assert sorted((o["order_type"], o["limit_price"]) for o in legs) == [
        ("LIMIT", "40400.00"),
        ("STOP", "39600.00"),
    ]
    entry = legs[0]["oco_group"]
    assert main(["status", str(run_dir)]) == 6
    text = capsys.readouterr().out
    line = next(row for row in text.splitlines() if row.startswith("open orders"))
    for leg in legs:
        kind = f"{leg['order_type']} {leg['limit_price']}"
        said = f"{leg['client_order_id']} SELL 0.010 BTC/USDT ({kind}, protective leg of {entry})"
        assert said in line
    resumed = resume_run(
        run_dir, feed=ScriptedFeed(["40000.00"]), strategy=_ProtectedThenCrashes(crash=False)
    )
    with resumed:
        resumed.run_to_end(50)
    assert run_status(run_dir).verdict is Verdict.COMPLETED


def test_a_leg_partly_filled_and_its_sibling_being_cancelled_say_so() -> None:
    """After a crash between a leg's partial fill and its sibling's cancel, the line said
    both legs `BUY 10.000` against a short of 5: it now says what filled and what was asked."""
    order = {"symbol": "XYZ", "side": "BUY", "quantity": "10.000", "reduce_only": True}
    checkpoint = {
        "book": {
            "positions": {"XYZ": "-5.000"},
            "open": [
                {
                    "cancel_requested": True,
                    "filled": "0",
                    "order": order
                    | {"client_order_id": "tp1", "order_type": "LIMIT", "limit_price": "113.31"},
                },
                {
                    "filled": "5.000",
                    "order": order
                    | {"client_order_id": "sl1", "order_type": "STOP", "limit_price": "116.78"},
                },
            ],
        }
    }
    _, orders = book(checkpoint, None)
    assert describe_orders(orders, "") == (
        "2: tp1 BUY 10.000 XYZ (LIMIT 113.31, reduce-only, cancel asked); "
        "sl1 BUY 10.000 XYZ (STOP 116.78, reduce-only, 5.000 filled)"
    )
