"""Each broker declares exactly the optional abilities the session looks for.

The session asks ``isinstance(broker, <ability>)`` before it uses one, so a broker that
lost an ability (or gained one) would change what a run does: a checkpoint's
``broker_journal_offset``, a resume's catch-up, how an unknown outcome is confirmed, and
whether preflight lets a real venue trade.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from livesession._domain.model import VenueOrder
from livesession._typing import (
    Broker,
    ConfirmingLookup,
    CountedPositionVenue,
    JournaledVenue,
    MarkableVenue,
    PositionVenue,
    RecoveringVenue,
    RelayedVenue,
    ReplayingVenue,
    ResumableVenue,
    SandboxAware,
    VenueKind,
)
from livesession.brokers.mock import MockBroker
from livesession.brokers.realish import RealishBroker

ABILITIES = (
    ConfirmingLookup,
    JournaledVenue,
    MarkableVenue,
    PositionVenue,
    RecoveringVenue,
    RelayedVenue,
    ReplayingVenue,
    ResumableVenue,
    SandboxAware,
)


def _abilities(broker: object) -> set[type]:
    return {ability for ability in ABILITIES if isinstance(broker, ability)}


def test_mock_broker_is_a_journaled_resumable_markable_replaying_venue(tmp_path):
    """It replays too (``ReplayingVenue``): a resumed session's sends made again after the
    checkpoint are taken as they were made, not recovered from a venue that ran ahead."""
    for broker in (MockBroker(), MockBroker(journal=tmp_path / "venue.jsonl")):
        try:
            assert isinstance(broker, Broker)
            assert isinstance(broker, VenueKind)
            assert _abilities(broker) == {
                JournaledVenue,
                PositionVenue,
                ReplayingVenue,
                ResumableVenue,
                MarkableVenue,
            }
        finally:
            broker.close()


def test_realish_broker_resumes_marks_and_replays_its_attempts(tmp_path):
    """A ``JournaledVenue`` (its checkpoints record the attempt journal's length) that
    replays the sends a resumed session makes again (``ReplayingVenue``), and a
    ``RelayedVenue``: its checkpoints record the venue journal's length too, so a resume
    sets aside the venue's requests after the checkpoint, as the mock does."""
    for broker in (RealishBroker(), RealishBroker(journal=tmp_path / "venue.jsonl")):
        try:
            assert isinstance(broker, Broker)
            assert _abilities(broker) == {
                JournaledVenue,
                PositionVenue,
                RelayedVenue,
                ReplayingVenue,
                ResumableVenue,
                MarkableVenue,
            }
        finally:
            broker.close()


def test_the_abilities_are_structural():
    """A broker need not inherit an ability: having the method is enough (tests rely on it)."""

    class _ConfirmingVenue(MockBroker):
        def lookup(self, client_order_id: str, attempts: int | None = None) -> VenueOrder | None:
            return self.order_by_client_id(client_order_id)

    class _Named:
        kind = "custom"

    class _Verified:
        sandbox_verified = True

    assert ConfirmingLookup in _abilities(_ConfirmingVenue())
    assert isinstance(_Named(), VenueKind)
    assert not isinstance(object(), VenueKind)
    assert _abilities(_Named()) == set()
    assert _abilities(_Verified()) == {SandboxAware}


@pytest.mark.ccxt
def test_ccxt_broker_confirms_lookups_recovers_orders_and_knows_its_sandbox():
    """It recovers too (``RecoveringVenue``): a resumed session tells it which orders the
    crashed process sent, so their fills are reported. And it reports positions: a spot
    account's net trades since the session began (``CountedPositionVenue``), so a fill of
    an order the session never sent is a difference."""
    pytest.importorskip("ccxt")
    from livesession._domain.runtime_config import RuntimeConfig
    from livesession.brokers.ccxt import CcxtSandboxBroker, make_ccxt_broker

    env = {"LIVESESSION_BINANCE_API_KEY": "k", "LIVESESSION_BINANCE_API_SECRET": "s"}
    config = RuntimeConfig.from_env(env, mode="ccxt:binance")
    broker = make_ccxt_broker("binance", runtime_config=config, price_tick=Decimal("0.01"))
    try:
        assert isinstance(broker, CcxtSandboxBroker)
        assert isinstance(broker, Broker)
        assert broker.kind == "ccxt_sandbox"
        assert _abilities(broker) == {
            ConfirmingLookup,
            PositionVenue,
            RecoveringVenue,
            SandboxAware,
        }
        assert isinstance(broker, CountedPositionVenue)
        assert broker.positions_since is None  # read from the venue at the first count
        assert broker.sandbox_verified is True
    finally:
        broker.close()
