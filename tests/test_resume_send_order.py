"""A resume books the orders the crashed process sent after its checkpoint in send order.

Before, a run killed after it bought 0.010 and sold it again (both filled at the venue,
both after its last checkpoint) had the two orders found by the resume looked up, recorded
and tracked by client order id, a hash: when the sale's id sorted first, its fill was
booked first, and the run recorded ``POSITION_CHANGED`` ``-0.010``, a short the session
never held, before the purchase's fill brought it back to ``0.000``. The run ended flat
and verified. Now they go in the order the session sent them (by intent), on a broker of
the caller's that reports an order once a lookup finds it, and on the ccxt broker, which
reports on an order from the lookup that found it on.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import orjson
import pytest

from _ownvenue import OwnBroker, Venue, crashed_run
from livesession import Bar, DryrunConfig, OrderIntent, Side
from livesession._domain.ids import client_order_id
from livesession._domain.model import Order
from livesession._rundir import resume_run
from livesession._session.aftercheckpoint import in_send_order
from livesession.verify import verify_run

D = Decimal
BOUGHT, SOLD = "0.010", "0.000"


class BuyThenSell:
    """Buys 0.010 at bar 10 and sells it again (reduce-only) at bar 12."""

    strategy_id = "buy_then_sell"

    def __init__(self) -> None:
        self.n = 0

    def on_bar(self, bar: Bar, view: Any) -> list[OrderIntent]:
        self.n += 1
        if self.n == 10:
            return [OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=D("0.010"))]
        if self.n == 12:
            sell = OrderIntent(
                symbol=bar.symbol, side=Side.SELL, quantity=D("0.010"), reduce_only=True
            )
            return [sell]
        return []

    def get_state(self) -> dict[str, Any]:
        return {"n": self.n}

    def set_state(self, state: Any) -> None:
        self.n = int(state["n"])


def _jsonl(path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _events(run_dir, event_type: str) -> list[dict[str, Any]]:
    return [e["payload"] for e in _jsonl(run_dir / "events.jsonl") if e["event_type"] == event_type]


def _sold_first(run_id: str, strategy_id: str) -> tuple[str, str]:
    """The purchase's and the sale's ids (intents 1 and 2): the sale's sorts first."""
    bought, sold = (client_order_id(run_id, strategy_id, seq) for seq in (1, 2))
    assert sold < bought  # what made the resume book the sale first
    return bought, sold


def _assert_booked_in_send_order(run_dir, bought: str, sold: str) -> None:
    # Never short: before, the sale's fill came first and recorded -0.010.
    assert [p["position"] for p in _events(run_dir, "POSITION_CHANGED")] == [BOUGHT, SOLD]
    filled = [f["client_order_id"] for f in _events(run_dir, "ORDER_FILLED")]
    assert filled == [bought, sold]
    snapshots = _jsonl(run_dir / "state_snapshots.jsonl")
    assert all(D(q) >= 0 for s in snapshots for q in s["positions"].values())
    assert _events(run_dir, "REDUCE_ONLY_CROSSED") == []
    (resumed,) = [r for r in _jsonl(run_dir / "audit.jsonl") if r["code"] == "C2_RESUME"]
    assert resumed["payload"]["after_checkpoint"] == [
        {"client_order_id": bought, "venue_status": "FILLED"},
        {"client_order_id": sold, "venue_status": "FILLED"},
    ]
    found = [o for o in _events(run_dir, "ORDER_SUBMITTED") if o["reason"] == "resume"]
    assert [(o["client_order_id"], o["side"]) for o in found] == [(bought, "BUY"), (sold, "SELL")]
    verdict = verify_run(run_dir)
    assert verdict.ok, verdict.violations


def test_a_broker_of_the_callers(tmp_path):
    """Reports come as the lookups find the orders: the lookups go in send order too."""
    run_id = "order"
    bought, sold = _sold_first(run_id, BuyThenSell.strategy_id)
    venue = Venue()
    cfg = DryrunConfig(
        run_id=run_id, strategy_id=BuyThenSell.strategy_id, steps=40, checkpoint_every=1000
    )
    run_dir = crashed_run(tmp_path, cfg, venue, BuyThenSell(), at_step=14)
    assert set(venue.created) == {bought, sold}
    assert venue.position == 0

    session = resume_run(run_dir, broker=OwnBroker(venue), strategy=BuyThenSell())
    session.request_stop("operator")
    session.close()
    assert venue.position == 0
    _assert_booked_in_send_order(run_dir, bought, sold)


def test_the_ccxt_broker(fake, tmp_path, monkeypatch):
    """The seeded demo buys, then sells to close; killed after the sale was sent."""
    pytest.importorskip("ccxt")
    from _ccxt_route import crashed_dryrun, dryrun_args, route_to

    run_id = "r5"
    run_dir = tmp_path / run_id
    assert crashed_dryrun(fake, dryrun_args(tmp_path, run_id, 200), "after_send:2") == -9
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    assert (checkpoint["steps"], checkpoint["book"]["positions"]) == (0, {})
    strategy_id = orjson.loads((run_dir / "config.json").read_bytes())["strategy_id"]
    bought, sold = _sold_first(run_id, strategy_id)
    assert {cid: fake.order_status(cid) for cid in fake.created} == {
        bought: "FILLED",
        sold: "FILLED",
    }
    route_to(fake, monkeypatch)
    session = resume_run(run_dir)
    session.request_stop("operator")
    session.close()
    assert fake.free("BTC") == D(1)
    _assert_booked_in_send_order(run_dir, bought, sold)


class TestInSendOrder:
    """``in_send_order``: by intent, then leg; an id of no intent of the run last."""

    RUN, STRATEGY = "order", "s"

    def _sorted(self, cids: list[str], last_seq: int) -> list[str]:
        orders = [
            Order(client_order_id=cid, symbol="BTC/USDT", side=Side.BUY, quantity=D(1))
            for cid in cids
        ]
        ordered = in_send_order(orders, self.RUN, self.STRATEGY, last_seq)
        return [order.client_order_id for order in ordered]

    def test_intents_then_legs_an_earlier_entrys_legs_included(self):
        def cid(seq: int, leg: str = "main") -> str:
            return client_order_id(self.RUN, self.STRATEGY, seq, leg)

        # Intent 3 was the checkpoint's last: its entry filled after it, and its legs went.
        sent = [cid(3, "sl"), cid(3, "tp"), cid(4), cid(5, "flatten"), cid(9), "lsnotanid"]
        assert self._sorted(sorted(sent), last_seq=3) == sent
        assert self._sorted(list(reversed(sent)), last_seq=3) == sent
