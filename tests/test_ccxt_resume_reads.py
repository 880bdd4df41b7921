"""A resume whose lookup of the checkpoint's open orders gets no readable answer.

Bug: a ``ccxt:`` run killed with an order open in its checkpoint's book (a market buy
filled 0.004 of 0.010, the rest resting) was resumed while the venue answered that order's
lookup with a body cut off mid-JSON: ``resume`` exited 2 with ``livesession: error: the read
failed (BadResponse)``, a line naming neither the run nor the order nor that it was not
resumed, after it had cut the run back to its checkpoint (``events.jsonl.torn`` written,
the lease taken and given back). Each lookup of the order is a read like any other: the
one that fails is recorded as ``NO_ANSWER`` in ``C2_RESUME``'s ``in_flight`` (as
``after_checkpoint`` records one), the broker was told of the order, and the session's
polls find it once the venue answers, its fills booked once.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession.cli import main

from _ccxt_route import crashed_dryrun, dryrun_args, events, jsonl, resume_record, route_to

pytestmark = pytest.mark.ccxt

STEPS = 200
KILLED = -9


def _fills(run_dir, cid: str) -> list[str]:
    kinds = ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED")
    found = [e for e in jsonl(run_dir / "events.jsonl") if e["event_type"] in kinds]
    return [e["payload"]["quantity"] for e in found if e["payload"]["client_order_id"] == cid]


@pytest.mark.parametrize("answer", ["cut_off", "http_5xx", "reset"])
def test_a_failed_lookup_of_an_open_order_does_not_end_the_resume(
    fake, tmp_path, monkeypatch, capsys, answer
):
    config = tmp_path / "every_step.toml"
    config.write_text("checkpoint_every = 1\n", encoding="utf-8")
    fake.fill_market_partly("0.004")
    args = dryrun_args(tmp_path, "reads", STEPS, "--config", str(config))
    assert crashed_dryrun(fake, args, "checkpoint:40") == KILLED
    run_dir = tmp_path / "reads"
    (cid,) = fake.created
    assert _fills(run_dir, cid) == ["0.004"]
    fake.fill(cid, "0.006", "30000.00")  # the rest fills while nothing runs
    fake.add_fault(answer, method="GET", path="/api/v3/order", when="after")
    route_to(fake, monkeypatch)
    capsys.readouterr()

    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert resume_record(run_dir)["in_flight"] == [
        {"client_order_id": cid, "venue_status": "NO_ANSWER"}
    ]
    assert fake.pending_faults() == 0
    assert _fills(run_dir, cid) == ["0.004", "0.006"]
    cids = [o["client_order_id"] for o in events(run_dir, "ORDER_SUBMITTED")]
    assert dict(fake.created) == dict.fromkeys(cids, 1)
    final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
    assert (final["status"], final["open_orders"]) == ("COMPLETED", [])
    assert all(Decimal(q) == 0 for q in final["positions"].values()), final["positions"]
    assert fake.free("BTC") == Decimal(1)  # the venue is flat again
    assert main(["verify", str(run_dir)]) == 0
