"""A desk's basket on one venue account: one session per symbol (``ccxt:binance`` fake)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

import orjson

from livesession._domain.ids import client_order_id
from livesession.cli import main

from _ccxt_route import dryrun_args, route_to
from fake_binance import FakeBinance

pytestmark = pytest.mark.ccxt

OTHER_SESSION_ORDER = "ls-eth-session-order-0001"


def _events(run_dir: Path, event_type: str) -> list[dict]:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    return [e["payload"] for e in map(orjson.loads, lines) if e["event_type"] == event_type]


def test_another_symbols_session_on_the_account_is_not_this_sessions_difference(
    fake: FakeBinance, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A desk puts its basket in every session's allowlist and runs one session per
    symbol on one account. The BTC/USDT session's reconciler saw the ETH/USDT session's
    open order (ccxt lists the open orders of each allowlisted symbol) as its own
    difference, ORDER_UNKNOWN_LOCALLY, and sealed FAILED (RECONCILE_MISMATCH), though it
    can never trade ETH/USDT (NO_MARKET_PRICE)."""
    route_to(fake, monkeypatch)
    with fake._lock:
        fake._new_order(
            {
                "symbol": "ETHUSDT",
                "newClientOrderId": OTHER_SESSION_ORDER,
                "type": "LIMIT",
                "side": "BUY",
                "quantity": "0.010",
                "price": "1500.00",
                "timeInForce": "GTC",
            }
        )
    config = tmp_path / "btc.toml"
    config.write_text('allowlist = ["BTC/USDT", "ETH/USDT"]\n', encoding="utf-8")
    code = main(dryrun_args(tmp_path / "runs", "btc", 120, "--config", str(config)))
    run_dir = tmp_path / "runs" / "btc"
    assert _events(run_dir, "RECONCILE_ESCALATED") == []
    assert code == 0
    assert fake.order_status(OTHER_SESSION_ORDER) == "NEW"  # the wind-down left it alone


def test_a_session_of_the_same_run_id_and_strategy_on_another_symbol_fails_naming_it(
    fake: FakeBinance,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Two sessions of one run id and one ``strategy_id``, each its own symbol and
    ``--out``, send the same client order ids. The venue refused this session's first order
    ``Duplicate order sent.`` while the other's ETH/USDT order of that id rested; looked up
    in BTC/USDT only, it was retried, sent in doubt and trading halted BROKER_UNHEALTHY,
    the only trace a session log line. Now the one look at the account's open orders finds
    the id in ETH/USDT: the run fails CLIENT_ID_IN_USE naming it, nothing sent twice."""
    route_to(fake, monkeypatch)
    first = client_order_id("basket-001", "sma_demo", 1)
    with fake._lock:
        fake._new_order(
            {
                "symbol": "ETHUSDT",
                "newClientOrderId": first,
                "type": "LIMIT",
                "side": "BUY",
                "quantity": "0.010",
                "price": "1500.00",
                "timeInForce": "GTC",
            }
        )
    code = main(dryrun_args(tmp_path / "runs" / "btc", "basket-001", 60))
    err = capsys.readouterr().err
    run_dir = tmp_path / "runs" / "btc" / "basket-001"

    assert code == 4, err
    (line,) = err.splitlines()
    assert line.startswith(
        "livesession: failed: CLIENT_ID_IN_USE (Rejected: the venue has an open order under "
        f"client order id {first} in ETH/USDT, "
    ), line
    assert "one strategy_id a symbol" in line
    (rejected,) = _events(run_dir, "ORDER_REJECTED")
    assert (rejected["client_order_id"], rejected["reason"]) == (first, "CLIENT_ID_IN_USE")
    assert _events(run_dir, "BROKER_UNHEALTHY") == []
    assert _events(run_dir, "ORDER_SUBMITTED") == []
    assert fake.created[first] == 1  # the other session's order only
    assert fake.order_status(first) == "NEW"
