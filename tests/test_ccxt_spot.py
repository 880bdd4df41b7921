"""The ccxt broker's positions on a spot account: its trades since the session began.

``SpotTrades`` on a stand-in exchange (no ccxt, no network): every trade counted once, a
full answer followed by the next page, each later count asking only from the latest trade.
The loopback runs (a foreign fill while a run is down, and while it runs) are in
test_ccxt_reports.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from livesession.brokers.ccxt.spot import SpotTrades

START_MS = 1_000


class _Account:
    """Trades of BTC/USDT, one per ms from ``START_MS`` on; answers pages as ccxt would."""

    def __init__(self, buys: int, sells: int = 0) -> None:
        self.trades: list[dict[str, Any]] = [
            {
                "id": str(n),
                "timestamp": START_MS + n,
                "side": "buy" if n < buys else "sell",
                "amount": 0.001,
            }
            for n in range(buys + sells)
        ]
        self.asked: list[tuple[int, int]] = []

    def fetch_time(self) -> int:
        return START_MS

    def fetch_my_trades(self, symbol: str, since: int, limit: int) -> list[dict[str, Any]]:
        assert symbol == "BTC/USDT"
        self.asked.append((since, limit))
        return [t for t in self.trades if t["timestamp"] >= since][:limit]


def _count(trades: SpotTrades, account: _Account) -> dict[str, Decimal]:
    return trades.positions(account, lambda call: call(), ("BTC/USDT",), Decimal("0.001"))  # type: ignore[arg-type]


def test_every_trade_counts_once_across_pages_and_counts():
    account = _Account(buys=1200, sells=200)
    trades = SpotTrades()
    assert _count(trades, account) == {"BTC/USDT": Decimal("1.000")}
    assert trades.since_ms == START_MS  # the venue's time at the first count
    assert [since for since, _ in account.asked] == [START_MS, START_MS + 499, START_MS + 998]
    account.asked.clear()
    account.trades.append({"id": "x", "timestamp": START_MS + 2000, "side": "buy", "amount": 0.5})
    assert _count(trades, account) == {"BTC/USDT": Decimal("1.500")}
    assert account.asked == [(START_MS + 1399, 500)]  # only from the latest it had


def test_a_resumed_count_starts_at_the_checkpointed_start():
    account = _Account(buys=3)
    trades = SpotTrades()
    trades.start_at(START_MS + 1)  # the trade at START_MS came before the run
    assert _count(trades, account) == {"BTC/USDT": Decimal("0.002")}


@pytest.mark.parametrize("amount", [None, "NaN", "-0.001", 0])
def test_a_trade_listed_without_its_amount_is_counted_once_it_has_one(amount):
    """A trade listed once with no amount above zero fails that count (the broker raises
    it as a failed read, ``Transient``) and is counted when it is listed whole. Before, it
    was counted as 0 under its id, and its listing with the amount was skipped as seen:
    the venue's position read 0 while it held the fill (``POSITION_MISMATCH``)."""
    account = _Account(buys=2)
    whole = account.trades[1]
    account.trades[1] = whole | {"amount": amount}
    trades = SpotTrades()
    with pytest.raises(ValueError, match="not a number above zero"):
        _count(trades, account)
    account.trades[1] = whole
    assert _count(trades, account) == {"BTC/USDT": Decimal("0.002")}
