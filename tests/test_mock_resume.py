"""A resumed mock venue owes exactly what it owed at the checkpoint.

The venue journals each poll that handed out reports (``deliver``), so a resume rebuilds
it as it stood: a report due by the checkpoint's time but never polled (an OCO leg's ack,
sent while the step's last poll was applied) stays owed. Deliveries after the checkpoint
went to a session that died; a ``resume`` marker voids them for every later resume.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from livesession._domain.model import Bar, Order, Side
from livesession._exceptions import CheckpointError
from livesession.brokers.mock import MockBroker

T = 1_000
PRICE = Decimal("40000.00")


def _venue(journal: Path) -> MockBroker:
    venue = MockBroker(journal=journal)
    venue.on_market(
        Bar(symbol="BTC/USDT", ts_ns=0, open=PRICE, high=PRICE, low=PRICE, close=PRICE,
            volume=Decimal(1))
    )  # fmt: skip
    return venue


def _order(cid: str) -> Order:
    return Order(client_order_id=cid, symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.010"))


def _cids(reports: object) -> list[str]:
    return [report.client_order_id for report in reports]  # type: ignore[attr-defined]


def _resumed(journal: Path, now: int, offset: int) -> MockBroker:
    venue = MockBroker(journal=journal)
    try:
        venue.resume_at(now, offset)
    except CheckpointError:
        venue.close()
        raise
    return venue


def test_a_report_due_but_never_polled_stays_owed(tmp_path: Path) -> None:
    journal = tmp_path / "venue.jsonl"
    venue = _venue(journal)
    venue.submit(_order("a"), T)
    assert _cids(venue.poll(T)) == ["a", "a"]  # ack and fill, polled before the checkpoint
    venue.submit(_order("b"), T)  # due at T too, but the step polled no more
    offset = venue.journal_offset()
    venue.close()
    resumed = _resumed(journal, T, offset)
    try:
        assert _cids(resumed.poll(T)) == ["b", "b"]
    finally:
        resumed.close()


def test_deliveries_after_the_checkpoint_are_owed_again_on_every_resume(tmp_path: Path) -> None:
    journal = tmp_path / "venue.jsonl"
    venue = _venue(journal)
    venue.submit(_order("a"), T)
    offset = venue.journal_offset()  # checkpoint: a's reports not yet polled
    assert _cids(venue.poll(T)) == ["a", "a"]  # polled, then the session died
    venue.close()
    for _life in range(2):  # two resumes from the same checkpoint, each dying after a poll
        resumed = _resumed(journal, T, offset)
        try:
            assert _cids(resumed.poll(T)) == ["a", "a"]
        finally:
            resumed.close()
    # A checkpoint taken by a resumed session: what it polled is no longer owed.
    resumed = _resumed(journal, T, offset)
    resumed.poll(T)
    resumed.submit(_order("c"), 2 * T)
    later = resumed.journal_offset()
    resumed.close()
    final = _resumed(journal, 2 * T, later)
    try:
        assert _cids(final.poll(2 * T)) == ["c", "c"]
    finally:
        final.close()
    ops = [orjson.loads(line)["op"] for line in journal.read_bytes().splitlines()]
    assert ops.count("resume") == 4
    assert ops.count("deliver") == 5


def test_a_journal_that_delivers_more_than_owed_is_refused(tmp_path: Path) -> None:
    journal = tmp_path / "venue.jsonl"
    venue = _venue(journal)
    venue.submit(_order("a"), T)
    venue.poll(T)
    venue.close()
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines) + lines[-1])  # the delivery, twice
    with pytest.raises(CheckpointError, match="delivers 2 reports where 0 are owed"):
        _resumed(journal, T, journal.stat().st_size)
