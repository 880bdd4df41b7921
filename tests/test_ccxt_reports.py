"""What the ccxt broker makes of the venue's answers it cannot take as they are.

Whole CLI dry runs on the loopback fake Binance (``_ccxt_route``), each with the answer the
prober's repro script gave (``/tmp/p33b/repro``), so the run takes the operator's path.

Bugs: a cut-off answer to an order (``malformed_ack.py``) was taken for an ack with an empty
venue order id, so no fill was ever matched to it and the run said flat while the venue was
long. A venue trade without a trade id (``trade_no_id.py``) was booked with trade id
"None", and a second one dropped as its repeat: the run said flat while the venue was long.
A trade the venue listed under another symbol (``wrong_symbol.py``) was booked to the
order's symbol without a word: ccxt puts the symbol asked for in place of a market id it
does not list.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession.cli import main
from livesession.verify import verify_run

from _ccxt_route import (
    crashed_dryrun,
    dryrun,
    dryrun_args,
    events,
    jsonl,
    route_to,
    shaped_dryrun,
)
from fake_binance import FakeBinance

pytestmark = pytest.mark.ccxt

STEPS = 60
ORDER_PATH = "/api/v3/order"


def _started(fake: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> FakeBinance:
    fake.start()
    route_to(fake, monkeypatch)
    return fake


def _assert_flat_everywhere(fake: FakeBinance, run_dir: Any) -> None:
    """COMPLETED, verified, flat in the run and at the venue, each order created once."""
    assert verify_run(run_dir).ok
    final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
    assert (final["status"], final["open_orders"]) == ("COMPLETED", [])
    assert all(Decimal(q) == 0 for q in final["positions"].values()), final["positions"]
    assert fake.free("BTC") == Decimal(1)  # where the venue's account started
    cids = [o["client_order_id"] for o in events(run_dir, "ORDER_SUBMITTED")]
    assert dict(fake.created) == dict.fromkeys(cids, 1)


def _completed_dryrun(
    fake: FakeBinance, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_id: str
) -> tuple[Path, list[int]]:
    """``dryrun`` on ``fake`` (started and stopped here), COMPLETED and flat everywhere:
    its run directory and the lookup pauses it asked for."""
    fake.start()
    waits = route_to(fake, monkeypatch)
    try:
        code = dryrun(tmp_path, run_id, STEPS)
    finally:
        fake.stop()
    assert code == 0
    _assert_flat_everywhere(fake, tmp_path / run_id)
    return tmp_path / run_id, waits


class TestCutOffAck:
    """An answer to an order without the venue's order id is no ack: the order is looked up."""

    def test_the_order_is_looked_up_and_its_fill_booked(self, tmp_path, monkeypatch):
        fake = FakeBinance()
        fake.add_fault("cut_off", when="after")  # the first order is made, its answer cut
        run_dir, _ = _completed_dryrun(fake, tmp_path, monkeypatch, "cut")
        accepted = events(run_dir, "ORDER_ACCEPTED")
        assert accepted
        assert all(a["venue_order_id"] for a in accepted), accepted
        first = accepted[0]["client_order_id"]
        assert events(run_dir, "ORDER_FILLED")[0]["client_order_id"] == first
        assert events(run_dir, "RECONCILE_ESCALATED") == []


class TestTradeWithoutId:
    """A venue trade without a trade id is an invalid report: the session faults."""

    @pytest.mark.broken_run("the run faults BROKER_REPORT_INVALID on purpose")
    def test_the_run_fails_broker_report_invalid(self, tmp_path, monkeypatch, capsys):
        fake = _started(FakeBinance(), monkeypatch)
        fake.drop_trade_ids()
        try:
            code = dryrun(tmp_path, "noid", STEPS)
        finally:
            fake.stop()
        err = capsys.readouterr().err
        run_dir = tmp_path / "noid"
        assert code == 4
        assert "failed: BROKER_REPORT_INVALID" in err
        assert "its trade_id is '', not a non-empty string" in err
        assert verify_run(run_dir).ok
        fills = events(run_dir, "ORDER_FILLED") + events(run_dir, "ORDER_PARTIALLY_FILLED")
        assert fills == []  # nothing booked under a made-up id
        (required,) = [
            r for r in jsonl(run_dir / "audit.jsonl") if r["code"] == "C2_OPERATOR_REQUIRED"
        ]
        assert required["payload"]["reason"] == "BROKER_REPORT_INVALID"
        assert required["payload"]["detail"]["trade_id"] == ""


class TestTradeUnderAnotherSymbol:
    """A trade of the order the venue lists under another symbol is an invalid report."""

    @pytest.mark.broken_run("the run faults BROKER_REPORT_INVALID on purpose")
    def test_the_run_fails_broker_report_invalid_naming_both(self, tmp_path, monkeypatch, capsys):
        fake = _started(FakeBinance(), monkeypatch)
        fake.misreport_trades("SOLUSDT")  # the first order's trades, once
        try:
            code = dryrun(tmp_path, "wsym", STEPS)
        finally:
            fake.stop()
        err = capsys.readouterr().err
        run_dir = tmp_path / "wsym"
        problem = "the venue reported it under symbol 'SOLUSDT', not the order's 'BTC/USDT'"
        assert code == 4
        assert "failed: BROKER_REPORT_INVALID" in err
        assert problem in err
        assert verify_run(run_dir).ok
        assert events(run_dir, "ORDER_FILLED") == []  # not booked to BTC/USDT
        (required,) = [
            r for r in jsonl(run_dir / "audit.jsonl") if r["code"] == "C2_OPERATOR_REQUIRED"
        ]
        assert required["payload"]["detail"]["problem"] == problem


class _LateFake(FakeBinance):
    """The first order is made, but the venue shows it to none of its next ``looks`` reads
    (a venue whose order reads lag behind its matching engine)."""

    def __init__(self, looks: int) -> None:
        super().__init__()
        self._looks = looks

    def _new_order(self, params: dict[str, str]) -> Any:
        reply = super()._new_order(params)
        if self._looks and reply.status == 200:  # the order was made
            self._hidden[params["newClientOrderId"]] = self._looks  # under the fake's lock
            self._looks = 0
        return reply


class TestOrderSeenLate:
    """A 503 after the venue made the order, which its reads show only from the fourth on."""

    def test_the_order_found_late_is_tracked_and_its_fill_booked(self, tmp_path, monkeypatch):
        """The session looks one attempt at a time: the first look that found nothing made
        the broker forget the order, so the fourth, which found it, tracked nothing. The
        session took it as at the venue, but no ack or fill was ever reported, and the run
        failed ``RECONCILE_MISMATCH`` (``FILL_NOT_SEEN``) with the venue's fill unbooked. The
        looks went out back to back, too: ``lookup_interval_ns`` apart now."""
        fake = _LateFake(looks=3)
        fake.add_fault("http_5xx", when="after")
        run_dir, waits = _completed_dryrun(fake, tmp_path, monkeypatch, "late")
        [resolved] = events(run_dir, "ORDER_OUTCOME_RESOLVED")
        assert resolved["resolution"] == "AT_VENUE"
        first = resolved["client_order_id"]
        assert events(run_dir, "ORDER_FILLED")[0]["client_order_id"] == first
        assert events(run_dir, "RECONCILE_ESCALATED") == []
        assert waits == [1_000] * 3  # between the looks: one found nothing, then two more

    def test_an_order_the_reads_show_late_is_never_sent_twice(self, tmp_path, monkeypatch):
        """The reads show the order from the eighth look on. The session confirmed its
        absence with six looks of one attempt each, where only the broker's ``lookup``
        (its ``lookup_attempts``) confirms one, and sent the id again: the venue made the
        market order twice, and the run completed flat with the venue long."""
        fake = _LateFake(looks=7)
        fake.add_fault("http_5xx", when="after")
        run_dir, _ = _completed_dryrun(fake, tmp_path, monkeypatch, "later")
        [resolved] = events(run_dir, "ORDER_OUTCOME_RESOLVED")
        assert resolved["resolution"] == "AT_VENUE"

    def test_an_order_sent_before_a_crash_the_reads_show_late_is_never_sent_again(
        self, tmp_path, monkeypatch, capsys
    ):
        """Killed after the send, before the run recorded it; the venue's reads show the
        order from the third look on. The resume asked one look at a time, took two that
        found nothing for an absence and sent the id again: the venue made it twice."""
        fake = FakeBinance().start()
        run_dir = tmp_path / "crashed"
        args = dryrun_args(tmp_path, "crashed", STEPS)
        try:
            assert crashed_dryrun(fake, args, "after_send:1") == -9
            (sent,) = fake.created
            fake.hide(sent, lookups=2)
            route_to(fake, monkeypatch)
            code = main(["resume", str(run_dir), "-q"])
        finally:
            fake.stop()
        assert code == 0, capsys.readouterr().err
        _assert_flat_everywhere(fake, run_dir)
        assert fake.created[sent] == 1


class TestForeignOrderAcrossAResume:
    def test_an_order_placed_while_the_run_was_down_is_escalated(
        self, tmp_path, monkeypatch, capsys
    ):
        """Killed at a checkpoint; someone else places a limit order in the run's symbol
        while it is down. The resume's hold for reconciliation outlasted the rest of the
        run: it sealed COMPLETED with the difference pending in checkpoint.json, and no
        event, audit record or log line named it. Now escalated at the wind-down."""
        fake = FakeBinance().start()
        run_dir = tmp_path / "crashed"
        try:
            assert (
                crashed_dryrun(fake, dryrun_args(tmp_path, "crashed", STEPS), "checkpoint:2") == -9
            )
            fake.place("foreignLmt1", "0.020", "20000.00")
            route_to(fake, monkeypatch)
            code = main(["resume", str(run_dir), "-q"])
        finally:
            fake.stop()
        item = _escalated_alone(run_dir, code, capsys)
        assert (item["kind"], item["client_order_id"]) == ("ORDER_UNKNOWN_LOCALLY", "foreignLmt1")

    def test_a_market_fill_made_while_the_run_was_down_is_escalated(
        self, tmp_path, monkeypatch, capsys
    ):
        """Killed at a checkpoint; someone else's market buy of 0.020 BTC fills in the run's
        symbol while it is down. A spot broker reported no positions and the order was never
        open, so no pass saw it: the resume sealed COMPLETED flat with the venue 0.020 long.
        Now the account's trades since the run began are its position (POSITION_MISMATCH)."""
        fake = FakeBinance().start()
        run_dir = tmp_path / "crashed"
        try:
            assert (
                crashed_dryrun(fake, dryrun_args(tmp_path, "crashed", STEPS), "checkpoint:2") == -9
            )
            fake.trade_foreign("foreignMkt1", "0.020")
            route_to(fake, monkeypatch)
            code = main(["resume", str(run_dir), "-q"])
        finally:
            fake.stop()
        _assert_long_by_foreign(_escalated_alone(run_dir, code, capsys))


class TestForeignFillDuringTheRun:
    def test_a_market_fill_made_while_the_run_is_up_is_escalated(
        self, tmp_path, monkeypatch, capsys
    ):
        """Someone else's market buy of 0.020 BTC fills in the run's symbol mid-run: the run
        completed flat with the venue 0.020 long. Now escalated (POSITION_MISMATCH)."""
        fake = FakeBinance()
        looks = []

        def foreign_after_ten(fetch_open_orders: Any) -> Any:
            def listed(*args: Any, **kwargs: Any) -> Any:
                looks.append(1)
                if len(looks) == 10:
                    fake.trade_foreign("foreignMkt1", "0.020")
                return fetch_open_orders(*args, **kwargs)

            return listed

        code, run_dir = shaped_dryrun(
            tmp_path, monkeypatch, fake, {"fetch_open_orders": foreign_after_ten}, run_id="up"
        )
        assert len(looks) > 10
        _assert_long_by_foreign(_escalated_alone(run_dir, code, capsys))


def _escalated_alone(run_dir: Path, code: int, capsys: Any) -> dict[str, Any]:
    """The one difference the run (exit ``code``) escalated, failing it for an operator."""
    err = capsys.readouterr().err
    assert code == 4, err
    assert verify_run(run_dir).ok
    (escalated,) = events(run_dir, "RECONCILE_ESCALATED")
    (item,) = escalated["discrepancies"]
    codes = [record["code"] for record in jsonl(run_dir / "audit.jsonl")]
    assert codes[-3:] == ["C2_RECONCILE_ESCALATED", "C2_OPERATOR_REQUIRED", "C2_DRYRUN_STOP"]
    final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
    assert (final["status"], final["fsm_state"]) == ("FAILED", "ERROR_REQUIRES_OPERATOR")
    return item


def _assert_long_by_foreign(item: dict[str, Any]) -> None:
    """A POSITION_MISMATCH of BTC/USDT: the venue 0.020 longer than the book."""
    assert (item["kind"], item["symbol"]) == ("POSITION_MISMATCH", "BTC/USDT"), item
    book = Decimal(item["local_position"]) + Decimal(item["fills_in_flight"])
    assert Decimal(item["venue_position"]) - book == Decimal("0.020"), item


class TestCheckpointWithoutTheStart:
    def test_a_resume_from_a_checkpoint_without_it_compares_no_positions(
        self, tmp_path, monkeypatch, capsys
    ):
        """A checkpoint without ``reconcile.positions_since`` (a run checkpointed before the
        broker counted its trades), its book holding 0.004 of a market buy that rests: the
        resume cannot count the trades from the run's start, and counted from its own would
        call the book's 0.004 a difference. It compares no positions instead."""
        fake = FakeBinance().start()
        config = tmp_path / "every_step.toml"
        config.write_text("checkpoint_every = 1\n", encoding="utf-8")
        fake.fill_market_partly("0.004")
        run_dir = tmp_path / "older"
        try:
            args = dryrun_args(tmp_path, "older", STEPS, "--config", str(config))
            assert crashed_dryrun(fake, args, "checkpoint:40") == -9
            checkpoint = run_dir / "checkpoint.json"
            state = orjson.loads(checkpoint.read_bytes())
            assert state["book"]["positions"] == {"BTC/USDT": "0.004"}
            del state["reconcile"]["positions_since"]
            checkpoint.write_bytes(orjson.dumps(state, option=orjson.OPT_SORT_KEYS))
            route_to(fake, monkeypatch)
            code = main(["resume", str(run_dir), "-q"])
        finally:
            fake.stop()
        assert code == 0, capsys.readouterr().err
        assert events(run_dir, "RECONCILE_ESCALATED") == []
