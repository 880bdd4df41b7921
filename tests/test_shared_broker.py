"""One broker object given to two open sessions at once (a desk's one Python process).

A broker object reports every order it was sent to whichever session polls it, and the
first session to close closes it. Two per-symbol sessions sharing one ``MockBroker`` with
a latency took each other's fills: the first to poll faulted ``BROKER_REPORT_INVALID`` (a
fill of an order it never sent), ``ERROR_REQUIRES_OPERATOR``. The second session is now
refused before anything is written; once the first closed, the object serves the next
(a resume in the same process gives it again). Every run directory made here is verified
at teardown (the conftest).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livesession import (
    DryrunConfig,
    MockBroker,
    PluginError,
    SessionStatus,
    create_run,
)
from livesession.brokers.mock import FillModel

STEPS = 120
LATENCY_NS = 30_000_000_000  # half a bar: a report waits for the next step's poll


def _config(run_id: str, symbol: str) -> DryrunConfig:
    return DryrunConfig.from_mapping(
        {
            "run_id": run_id,
            "strategy_id": f"basket-{run_id}",
            "steps": STEPS,
            "symbol": symbol,
            "allowlist": ["BTC/USDT", "ETH/USDT"],
        }
    )


def _broker() -> MockBroker:
    return MockBroker(fill_model=FillModel(latency_ns=LATENCY_NS))


HELD = "broker= got a MockBroker that the session of run 'btc' holds, still open: a broker object"


def test_a_second_open_session_is_refused_the_broker_before_anything_is_written(
    tmp_path: Path,
) -> None:
    broker = _broker()
    btc = create_run(_config("btc", "BTC/USDT"), tmp_path, broker=broker)
    with pytest.raises(PluginError, match=HELD) as refused:
        create_run(_config("eth", "ETH/USDT"), tmp_path, broker=broker)
    assert "close() the session of run 'btc' first" in str(refused.value)
    assert not (tmp_path / "eth").exists()
    assert btc.run_to_end(STEPS).status is SessionStatus.COMPLETED
    btc.close()
    # Closed, the object serves the next session (as a resume in the same process asks).
    eth = create_run(_config("eth", "ETH/USDT"), tmp_path, broker=broker)
    assert eth.run_to_end(STEPS).status is SessionStatus.COMPLETED
    eth.close()


def test_a_factory_handing_out_one_broker_is_refused_the_second_time(tmp_path: Path) -> None:
    one = _broker()

    def desk_venue(cfg: DryrunConfig, run_dir: Path) -> MockBroker:
        return one

    btc = create_run(_config("btc", "BTC/USDT"), tmp_path, broker_factory=desk_venue)
    with pytest.raises(PluginError, match=HELD):
        create_run(_config("eth", "ETH/USDT"), tmp_path, broker_factory=desk_venue)
    assert not (tmp_path / "eth").exists()
    assert btc.run_to_end(STEPS).status is SessionStatus.COMPLETED  # its venue left open
    btc.close()


def test_two_sessions_each_with_its_own_broker_trade_side_by_side(tmp_path: Path) -> None:
    """What a desk does instead: interleaved steps, one broker each, both sealed COMPLETED."""
    sessions = [
        create_run(_config(run_id, symbol), tmp_path, broker=_broker())
        for run_id, symbol in (("btc", "BTC/USDT"), ("eth", "ETH/USDT"))
    ]
    for session in sessions:
        session.preflight()
        session.activate()
    for _ in range(STEPS):
        for session in sessions:
            session.step()
    for session in sessions:
        assert session.run_to_end(STEPS).status is SessionStatus.COMPLETED
        session.close()
