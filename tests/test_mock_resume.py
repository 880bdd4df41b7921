"""A resumed mock venue owes exactly what it owed at the checkpoint.

The venue journals each poll that handed out reports (``deliver``), so a resume rebuilds
it as it stood: a report due by the checkpoint's time but never polled (an OCO leg's ack,
sent while the step's last poll was applied) stays owed. Deliveries after the checkpoint
went to a session that died; a ``resume`` marker voids them for every later resume.
"""

from __future__ import annotations

import sys
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import orjson
import pytest

from livesession._domain.model import AckReport, Bar, FillReport, Order, OrderType, Side
from livesession._exceptions import CheckpointError
from livesession.brokers._venue import DueReports
from livesession.brokers.mock import MockBroker

T = 1_000
PRICE = Decimal("40000.00")
D1 = Decimal(1)


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


def _journal_of_cancels(journal: Path, orders: int) -> None:
    """A venue journal of ``orders`` resting limit orders, each cancelled, none polled."""
    venue = _venue(journal)
    for n in range(orders):
        order = attrs.evolve(
            _order(f"o{n}"), order_type=OrderType.LIMIT, limit_price=Decimal("30000.00")
        )
        venue.submit(order, T + n)
        venue.cancel(order.client_order_id, T + n)
    venue.close()


def _calls_to_rebuild(journal: Path) -> int:
    """The Python function calls a venue makes to rebuild itself from ``journal``."""
    calls = 0

    def count(_frame: object, event: str, _arg: object) -> None:
        nonlocal calls
        calls += event == "call"

    sys.setprofile(count)
    try:
        venue = MockBroker(journal=journal)
    finally:
        sys.setprofile(None)
    venue.close()
    return calls


def test_a_replay_costs_in_proportion_to_the_journal(tmp_path: Path) -> None:
    """Rebuilding a venue from its journal is linear in the run's orders, not quadratic.

    A resume replays the journal before any report is handed out, so every report of the
    run waits at once; each cancel scanned all of them for the order's fills, and a resume
    of a realish run at step 29,000 (22,000 orders) took six minutes. Counted in calls, so
    the measure is the same on any machine: four times the orders, four times the work.
    """
    small, large = tmp_path / "small.jsonl", tmp_path / "large.jsonl"
    _journal_of_cancels(small, 200)
    _journal_of_cancels(large, 800)
    assert _calls_to_rebuild(large) < 5 * _calls_to_rebuild(small)


def test_dropped_fills_are_never_handed_out_and_the_rest_keep_their_order() -> None:
    due = DueReports()
    fill_a = FillReport(client_order_id="a", trade_id="a-1", quantity=D1, price=PRICE, ts_ns=2)
    fill_b = FillReport(client_order_id="b", trade_id="b-1", quantity=D1, price=PRICE, ts_ns=2)
    ack_a = AckReport(client_order_id="a", venue_order_id="m1", ts_ns=1)
    for due_ns, report in ((2, fill_a), (1, ack_a), (2, fill_b), (3, fill_a)):
        due.push(due_ns, report)
    due.drop_fills("a")
    assert len(due) == 2
    due.drop_fills("a")  # nothing more of a's waits
    assert len(due) == 2
    assert due.pop_due(3) == [ack_a, fill_b]
    assert not due
    due.push(5, fill_a)  # a's fills pushed after the drop are handed out
    due.push(6, fill_b)
    due.drop_fills("b")
    due.pop_first(1)  # a replayed delivery takes the first report still waiting: a's fill
    assert not due
    assert due.pop_due(10) == []


def test_a_replay_holds_little_beyond_the_journal_and_the_venue_it_rebuilds(
    tmp_path: Path,
) -> None:
    """The journal's lines are parsed one at a time as they are applied, never all at once.

    A resume at step 70,000 of a minute-bar run (17 MB of journal, 43,000 orders) peaked at
    140 MB in the replay, 82 MB now. Measured apart from what the rebuilt venue holds: the
    journal's bytes and its lines (some 2.3 times its size; all of it parsed, 5.9).
    """
    journal = tmp_path / "venue.jsonl"
    _journal_of_cancels(journal, 500)
    tracemalloc.start()
    try:
        venue = MockBroker(journal=journal)
        kept, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    venue.close()
    assert peak - kept < 3.5 * journal.stat().st_size


def _crashed(tmp_path: Path, broker: str, **factory: Any) -> Path:
    """A run with OCO exits on ``broker``, crashed in step 45 of 60 (checkpoints every 10)."""
    from livesession import DryrunConfig, create_run

    from _helpers import crash_in_step

    config = DryrunConfig.from_mapping(
        {
            "run_id": "once",
            "steps": 60,
            "broker": broker,
            "checkpoint_every": 10,
            "volatility_bps": 60,
            "strategy": {"fast": 2, "slow": 3, "order_qty": "0.010", "protect_pct": "0.002"},
        }
    )
    crash_in_step(create_run(config, tmp_path, **factory), 45, 60)
    return tmp_path / "once"


@pytest.mark.parametrize("broker", ["mock", "realish"])
def test_a_resume_from_a_checkpoint_replays_the_venue_journal_once(
    tmp_path: Path, broker: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The venue replayed its whole journal as it was built, holding every report of the
    run at once (none taken as delivered), then ``resume_at`` threw that away and replayed
    it again to the checkpoint's offset: a resume at step 69,000 of a run with OCO exits
    (25 MB of journal) took 2.2 s more and peaked at 149 MiB, 119 MiB now. Built for a
    resume from a checkpoint, the venue replays once, in ``resume_at``; the run goes on
    as it did."""
    from livesession import resume_run

    run = _crashed(tmp_path, broker)
    journal = run / "broker_journal.jsonl"  # the venue's, realish's too
    requests = sum(1 for line in journal.read_bytes().splitlines() if b'"op":"deliver"' not in line)
    replayed: list[str] = []
    real = MockBroker._replay_request

    def counted(self: MockBroker, entry: dict[str, object]) -> None:
        replayed.append(str(entry["op"]))
        real(self, entry)

    monkeypatch.setattr(MockBroker, "_replay_request", counted)
    session = resume_run(run)
    assert 0 < len(replayed) <= requests  # up to the checkpoint's offset, once
    result = session.run_to_end(60)
    assert (result.state.value, result.steps) == ("STOPPED", 60)


class _Audited:
    """A desk's wrapper around the run's own broker: neither a ``ResumableVenue`` nor a
    ``RelayedVenue``, so a resume never calls the venue's ``resume_at``."""

    simulated = True

    def __init__(self, inner: Any) -> None:
        self.inner, self.kind, self.sent = inner, inner.kind, 0

    def on_market(self, bar: Bar) -> None:
        self.inner.on_market(bar)

    def submit(self, order: Order, now_ns: int) -> None:
        self.sent += 1
        self.inner.submit(order, now_ns)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.inner.cancel(client_order_id, now_ns)

    def poll(self, now_ns: int) -> Any:
        return self.inner.poll(now_ns)

    def open_orders(self) -> Any:
        return self.inner.open_orders()

    def order_by_client_id(self, client_order_id: str) -> Any:
        return self.inner.order_by_client_id(client_order_id)

    def close(self) -> None:
        self.inner.close()


@pytest.mark.parametrize("broker", ["mock", "realish"])
def test_a_venue_no_resume_at_reaches_replays_its_journal_as_it_was_built(
    tmp_path: Path, broker: str
) -> None:
    """Bug in the replay's deferral (above): a caller's ``broker_factory`` that wraps the
    run's journaled venue in a broker of its own (``_Audited``) left the venue it built for
    a resume from a checkpoint empty, since no ``resume_at`` reached it to replay; the
    resumed run failed ``RECONCILE_MISMATCH`` at once (it had gone on to the end). The
    venue replays its whole journal when the resume's catch-up is done, as it was built
    before the deferral: it holds what it held, and the run goes on to the end."""
    from livesession import SessionStatus, resume_run
    from livesession._rundir.brokers import open_broker

    built: list[_Audited] = []

    def audited(cfg: Any, run_dir: Path) -> Any:
        built.append(_Audited(open_broker(cfg, run_dir)))
        return built[-1]

    run = _crashed(tmp_path, broker, broker_factory=audited)
    journal = tmp_path / "as_built.jsonl"
    journal.write_bytes((run / "broker_journal.jsonl").read_bytes())
    as_built = MockBroker(journal=journal)  # the venue a wrapped resume had before
    session = resume_run(run, broker_factory=audited)
    try:
        assert built[-1].open_orders() == as_built.open_orders() != []
    finally:
        as_built.close()
    result = session.run_to_end(60)
    assert (result.state.value, result.steps, result.status) == (
        "STOPPED",
        60,
        SessionStatus.COMPLETED,
    )


def test_an_unexpected_error_at_a_resumes_first_reconcile_fails_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resumed session's first step reconciles the venue before anything else
    (``pipeline.guarded_step``). An error no taxonomy names raised in that pass (here by
    livesession's own mock venue, which no ``GuardedBroker`` wraps) faults the run
    ``UNEXPECTED_ERROR`` as the same error in a step would: the session waits for an
    operator before its first step, the run closes sealed FAILED and verifies, and
    nothing is sent. Without
    ``guarded_reconcile`` around that pass the ``RuntimeError`` escaped ``run_to_end``
    as a traceback with the session still DRYRUN_ACTIVE."""
    from livesession import SessionStatus, resume_run, verify_run

    run = _crashed(tmp_path, "mock")
    session = resume_run(run)
    resumed_at = session.steps_done
    armed = [True]
    listed = MockBroker.open_orders
    submitted: list[str] = []
    submit = MockBroker.submit

    def first_listing_raises(self: MockBroker) -> Any:
        if armed:
            armed.clear()
            raise RuntimeError("the transport broke")
        return listed(self)

    def counted(self: MockBroker, order: Order, now_ns: int) -> None:
        submitted.append(order.client_order_id)
        submit(self, order, now_ns)

    monkeypatch.setattr(MockBroker, "open_orders", first_listing_raises)
    monkeypatch.setattr(MockBroker, "submit", counted)
    result = session.run_to_end(60)
    assert not armed  # the first reconcile listed the venue's open orders
    assert (result.state.value, result.status, result.reason) == (
        "ERROR_REQUIRES_OPERATOR",
        SessionStatus.FAILED,
        "UNEXPECTED_ERROR",
    )
    assert result.steps == resumed_at  # no step ran after the failed pass
    session.close()  # seals it FAILED, as the CLI's resume does
    assert submitted == []
    assert verify_run(run).ok
    stopped = [
        orjson.loads(line)
        for line in (run / "events.jsonl").read_bytes().splitlines()
        if b'"SESSION_STOPPED"' in line
    ]
    assert [(e["payload"]["status"], e["payload"]["reason"]) for e in stopped] == [
        ("FAILED", "UNEXPECTED_ERROR")
    ]
