"""A resume finds the orders the crashed process sent after its checkpoint, on a real venue.

Before, a ``ccxt:`` run killed after a market BUY filled at the venue (step 28), its last
checkpoint at step 0, found that order again only when the re-run reached the same intent
and sent the same client order id. A resumed run stopped or killed at once, halted first
(503s on the venue's open orders), or whose strategy went another way sealed COMPLETED
"flat, no open orders", exit 0, verify OK, while the venue held the +0.010 BTC the run had
opened. Now every key of the idempotency store the checkpoint does not account for is
looked up before the first step (``C2_RESUME``'s ``after_checkpoint``), and what the venue
has is tracked by the wind-down (or once the re-run is past the crash), so its fills
reach the book and the wind-down flattens them; a re-run that reaches the intent sends and
tracks it once, as before.

The venue is the loopback ``fake_binance.FakeBinance`` (``_ccxt_route``), and, for a
broker of the caller's, an in-memory venue that outlives the crashed session's broker.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from _ownvenue import OwnBroker, Venue, crashed_run
from livesession import (
    Bar,
    DryrunConfig,
    OrderIntent,
    OrderType,
    SessionState,
    SessionStatus,
    Side,
    VenueOrderStatus,
)
from livesession._artifacts import names
from livesession._rundir import resume_run
from livesession._rundir import session as rundir_session
from livesession.status import Verdict, run_status
from livesession.verify import verify_run
from livesession.verify._schemas import Schemas

from _ccxt_route import (
    about,
    events,
    jsonl,
    killed_after_its_first_order,
    resume_record,
    resumed_then_stopped,
    route_to,
)

D = Decimal
STEPS = 60
"""The first order is sent at step 28 (seed 1); the only checkpoint is the one at step 0."""
KILLED = -9


@pytest.fixture(name="crashed")
def _crashed(fake, tmp_path, monkeypatch):
    """A ccxt run killed right after its first order (filled at the venue) was sent.

    Its last checkpoint is at step 0: the order's records were cut off with the crash.
    Returns the run directory and the order's client order id; this process's brokers
    are routed to the fake.
    """
    run_dir, sent = killed_after_its_first_order(fake, tmp_path, "crashed")
    route_to(fake, monkeypatch)
    return run_dir, sent


def _final(run_dir) -> dict[str, Any]:
    return jsonl(run_dir / "state_snapshots.jsonl")[-1]


def _assert_flat_and_verified(run_dir, fake) -> None:
    final = _final(run_dir)
    assert (final["status"], final["open_orders"]) == ("COMPLETED", [])
    assert all(D(q) == 0 for q in final["positions"].values()), final["positions"]
    assert fake.free("BTC") == D(1)  # the venue is flat again
    verdict = verify_run(run_dir)
    assert verdict.ok, verdict.violations


class TestTheResumedRunEndsBeforeTheReRunGetsThere:
    """Stopped, killed or halted before the re-run reaches the crashed order's step."""

    def test_a_stop_at_once_adopts_the_order_and_flattens_it(self, crashed, fake):
        run_dir, sent = crashed
        result = resumed_then_stopped(run_dir, sent)  # looked up, adopted, flattened
        assert (result.status, result.steps, result.orders_submitted) == (
            SessionStatus.COMPLETED,
            0,
            2,
        )
        (found,) = about(run_dir, "ORDER_SUBMITTED", sent)
        assert (found["reason"], found["send_outcome"], found["side"]) == (
            "resume",
            "UNKNOWN",
            "BUY",
        )
        # Booked before the flatten: the book held the venue's position, then sold it.
        held = [p["position"] for p in events(run_dir, "POSITION_CHANGED")]
        assert held == ["0.010", "0.000"]
        assert fake.created[sent] == 1
        _assert_flat_and_verified(run_dir, fake)

    def test_a_kill_at_once_flattens_it_too(self, crashed, fake):
        run_dir, sent = crashed
        session = resume_run(run_dir)
        session.kill("operator")
        (kill,) = events(run_dir, "KILL_SWITCH")
        assert kill["open_orders"] == 1  # the order the resume found
        session.close()
        assert [f["quantity"] for f in about(run_dir, "ORDER_FILLED", sent)] == ["0.010"]
        assert len(events(run_dir, "KILL_SWITCH_FLAT")) == 1
        _assert_flat_and_verified(run_dir, fake)

    def test_a_run_halted_before_the_step_ends_flat(self, crashed, fake):
        """503s on the open orders trip broker health at once: HALTED, nothing is sent;
        the run's end winds down what the venue holds."""
        run_dir, sent = crashed
        for _ in range(40):
            fake.add_fault("http_5xx", method="GET", path="/api/v3/openOrders")
        session = resume_run(run_dir)
        result = session.run_to_end(STEPS)
        assert result.status is SessionStatus.COMPLETED
        assert [e["reason"] for e in events(run_dir, "BROKER_UNHEALTHY")] == [
            "CONSECUTIVE_FAILURES"
        ]
        sent_by_the_re_run = [o for o in events(run_dir, "ORDER_SUBMITTED") if "intent_seq" in o]
        assert [o["reason"] for o in sent_by_the_re_run] == ["flatten"]  # halted: no entry
        assert [o["reason"] for o in about(run_dir, "ORDER_SUBMITTED", sent)] == ["resume"]
        assert [f["quantity"] for f in about(run_dir, "ORDER_FILLED", sent)] == ["0.010"]
        _assert_flat_and_verified(run_dir, fake)


class TestTheReRunReachesTheOrder:
    """The re-run reaches the crashed order's intent: it is sent once and tracked once."""

    def test_sent_once_tracked_once(self, crashed, fake):
        run_dir, sent = crashed
        session = resume_run(run_dir)
        assert resume_record(run_dir)["after_checkpoint"] == [
            {"client_order_id": sent, "venue_status": "FILLED"}
        ]
        result = session.run_to_end(STEPS)
        assert result.status is SessionStatus.COMPLETED
        assert fake.created[sent] == 1  # never sent twice
        (submitted,) = about(run_dir, "ORDER_SUBMITTED", sent)
        assert submitted["intent_seq"] == 1  # the re-run's own record, as without the lookup
        assert about(run_dir, "RECONCILED", sent) == []
        assert len(about(run_dir, "ORDER_ACCEPTED", sent)) == 1
        assert [f["quantity"] for f in about(run_dir, "ORDER_FILLED", sent)] == ["0.010"]
        cids = [o["client_order_id"] for o in events(run_dir, "ORDER_SUBMITTED")]
        assert len(cids) == len(set(cids))
        assert dict(fake.created) == dict.fromkeys(cids, 1)
        _assert_flat_and_verified(run_dir, fake)


class TestTheVenueDoesNotAnswer:
    """A lookup without an answer: the order is in doubt, never "flat"."""

    def test_in_doubt_and_never_flat(self, crashed, fake):
        run_dir, sent = crashed
        for _ in range(400):
            fake.add_fault("http_5xx", method="GET", path="/api/v3/order")
        session = resume_run(run_dir)
        assert resume_record(run_dir)["after_checkpoint"] == [
            {"client_order_id": sent, "venue_status": "NO_ANSWER"}
        ]
        session.request_stop("operator")
        session.close()
        result = session.result()
        assert result.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert (result.status, result.reason) == (SessionStatus.FAILED, "STOP_INCOMPLETE")
        assert result.open_orders == (sent,)
        (found,) = about(run_dir, "ORDER_SUBMITTED", sent)
        assert found["send_outcome"] == "UNKNOWN"
        assert len(about(run_dir, "ORDER_OUTCOME_UNKNOWN", sent)) == 1
        assert [o["client_order_id"] for o in _final(run_dir)["open_orders"]] == [sent]
        standing = run_status(run_dir)
        assert standing.verdict is Verdict.NEEDS_OPERATOR
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations


# -- a broker of the caller's -------------------------------------------------------------


class BuyOnce:
    """Buys 0.010 at bar 10 and holds (``limit``: bids 3 % below the market instead)."""

    strategy_id = "buy_once"

    def __init__(self, *, limit: bool = False) -> None:
        self.n = 0
        self.limit = limit

    def on_bar(self, bar: Bar, view: Any) -> list[OrderIntent]:
        self.n += 1
        if self.n != 10:
            return []
        if not self.limit:
            return [OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=D("0.010"))]
        bid = OrderIntent(
            symbol=bar.symbol,
            side=Side.BUY,
            quantity=D("0.010"),
            order_type=OrderType.LIMIT,
            limit_price=(bar.close * D("0.97")).quantize(D("0.01")),
        )
        return [bid]

    def get_state(self) -> dict[str, Any]:
        return {"n": self.n}

    def set_state(self, state: Any) -> None:
        self.n = int(state["n"])


def _crash_own_run(tmp_path, venue: Venue, *, limit: bool = False):
    """A run on ``OwnBroker`` that dies at step 12, after its order (bar 10) was sent."""
    cfg = DryrunConfig(run_id="own", strategy_id="buy_once", steps=40, checkpoint_every=1000)
    run_dir = crashed_run(tmp_path, cfg, venue, BuyOnce(limit=limit), at_step=12)
    assert venue.position == (0 if limit else D("0.010"))
    (sent,) = venue.created
    return run_dir, sent


class TestABrokerOfTheCallers:
    """The same on a broker that is neither the ccxt one nor a rewound simulation."""

    def test_a_stop_at_once_flattens_what_the_venue_holds(self, tmp_path):
        venue = Venue()
        run_dir, sent = _crash_own_run(tmp_path, venue)
        session = resume_run(run_dir, broker=OwnBroker(venue), strategy=BuyOnce())
        assert resume_record(run_dir)["after_checkpoint"] == [
            {"client_order_id": sent, "venue_status": "FILLED"}
        ]
        session.request_stop("operator")
        session.close()
        assert venue.position == 0  # flattened at the venue
        assert venue.created[sent] == 1
        assert [f["quantity"] for f in about(run_dir, "ORDER_FILLED", sent)] == ["0.010"]
        final = _final(run_dir)
        assert (final["status"], final["positions"]) == ("COMPLETED", {"BTC/USDT": "0.000"})
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations

    def test_the_re_run_reaches_it_sent_once(self, tmp_path):
        venue = Venue()
        run_dir, sent = _crash_own_run(tmp_path, venue)
        session = resume_run(run_dir, broker=OwnBroker(venue), strategy=BuyOnce())
        assert resume_record(run_dir)["after_checkpoint"] == [
            {"client_order_id": sent, "venue_status": "FILLED"}
        ]
        session.run_to_end(40)
        assert venue.created[sent] == 1
        assert len(about(run_dir, "ORDER_SUBMITTED", sent)) == 1
        assert len(about(run_dir, "ORDER_FILLED", sent)) == 1
        assert venue.position == 0
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations

    def test_tracked_by_a_kill_the_re_run_sends_nothing_again(self, tmp_path):
        """A resting bid the kill found, tracked and cancelled: when the re-run reaches its
        intent (the kill flattened nothing, so it has the same client order id), the
        order is neither sent again nor tracked twice."""
        venue = Venue()
        run_dir, sent = _crash_own_run(tmp_path, venue, limit=True)
        assert venue.orders[sent].status is VenueOrderStatus.NEW
        session = resume_run(run_dir, broker=OwnBroker(venue), strategy=BuyOnce(limit=True))
        session.kill("operator")
        assert venue.orders[sent].status is VenueOrderStatus.CANCELED
        session.reenable_trading("operator")
        session.run_to_end(40)
        assert venue.created == {sent: 1}
        (submitted,) = about(run_dir, "ORDER_SUBMITTED", sent)
        assert submitted["reason"] == "resume"  # the kill's record, not the re-run's
        assert len(about(run_dir, "ORDER_CANCELED", sent)) == 1
        # The re-run reached its intent (a SIGNAL of intent 1) and sent nothing for it.
        assert [signal["intent_seq"] for signal in events(run_dir, "SIGNAL")] == [1]
        assert _final(run_dir)["open_orders"] == []
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations

    def test_a_store_that_cannot_list_its_keys_is_said(self, tmp_path, monkeypatch):
        """A store without ``reservations``: ``after_checkpoint`` is null, as before."""
        venue = Venue()
        run_dir, _sent = _crash_own_run(tmp_path, venue)
        opened = rundir_session.open_store

        def unlisted(*args: Any, **kwargs: Any) -> Any:
            return _Unlisted(opened(*args, **kwargs))

        monkeypatch.setattr(rundir_session, "open_store", unlisted)
        session = resume_run(run_dir, broker=OwnBroker(venue), strategy=BuyOnce())
        assert resume_record(run_dir)["after_checkpoint"] is None
        session.run_to_end(40)
        verdict = verify_run(run_dir)
        assert verdict.ok, verdict.violations


class _Unlisted:
    """An idempotency store of the caller's: no ``reservations``."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def reserve(self, key: str, fingerprint: str) -> Any:
        return self._inner.reserve(key, fingerprint)

    def complete(self, key: str, outcome: str) -> None:
        self._inner.complete(key, outcome)

    def get(self, key: str) -> Any:
        return self._inner.get(key)

    def close(self) -> None:
        self._inner.close()


class TestTheRecord:
    """``C2_RESUME``'s ``after_checkpoint`` is held to its shape by the verifier's schema."""

    GOOD = (
        None,
        [],
        [{"client_order_id": "ls1", "venue_status": "FILLED"}],
        [{"client_order_id": "ls1", "venue_status": "NO_ANSWER"}],
    )
    BAD = (
        [{"client_order_id": "ls1"}],
        [{"client_order_id": "ls-1", "venue_status": "FILLED"}],
        [{"client_order_id": "ls1", "venue_status": "FILLED\n"}],
        [{"client_order_id": "ls1", "venue_status": "FILLED", "more": 1}],
        "FILLED",
    )

    def test_the_audit_schema(self):
        def errors(after: object) -> list[str]:
            record = {
                "schema": "C2_AUDIT_V1",
                "run_id": "r",
                "seq": 2,
                "ts": "2026-01-01T00:00:00Z",
                "code": "C2_RESUME",
                "payload": {"from_step": 0, "checkpoint": True, "after_checkpoint": after},
                "prev_hash": "0" * 64,
            }
            return Schemas.get().errors(names.AUDIT, record)

        assert [after for after in self.GOOD if errors(after)] == []
        assert [after for after in self.BAD if not errors(after)] == []
