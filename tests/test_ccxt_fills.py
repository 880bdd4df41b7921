"""What the ccxt broker makes of the venue's trades, odd ones included, and their times.

Whole CLI dry runs on the loopback fake Binance (``_ccxt_route``), each with the trades the
venue lists for an order changed on their way from ccxt to the broker (``fetch_order_trades``
wrapped), so the run takes the operator's path: an odd trade is either booked as the
documented handling says, or refused with ``BROKER_REPORT_INVALID`` naming it; never a
traceback or an ``UNEXPECTED_ERROR``, and the run verifies.

A fill's time is the poll's (the session's ``ts_sim``): the venue's trade time has no field
in the artifact contract (docs/ccxt.md, "Fill times"), so it is recorded nowhere.

Bugs: a trade id the venue listed again with other numbers (a rewritten trade) was dropped
by the broker as a repeat, so the session's own repeat check never saw it and the run
ended in a late ``RECONCILE_MISMATCH`` (``FILL_NOT_SEEN``) instead of naming the trade;
after a resume it still was, for a trade booked before the crash: the resumed broker was
told the booked trade ids, not their numbers. A
string timestamp among integer ones stopped the run with a ``TypeError`` (sorting the
listing), and a quantity that is no number with a ``ValueError`` or ``TypeError``: both
``UNEXPECTED_ERROR``.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession.cli import main
from livesession.report import render_report
from livesession.verify import verify_run

from _ccxt_route import crashed_dryrun, dryrun_args, events, jsonl, route_to, shaped_dryrun
from fake_binance import FakeBinance

pytestmark = pytest.mark.ccxt

STEPS = 60
FILL_FIELDS = {
    "client_order_id",
    "trade_id",
    "symbol",
    "side",
    "quantity",
    "price",
    "filled",
    "remaining",
    "order_event_id",
}
"""An ``ORDER_FILLED`` payload's fields (docs/artifacts.md): no venue time among them."""

Trades = list[dict[str, Any]]


def _in_bnb(trades: Trades, _: int) -> Trades:
    """The venue's trades, each charged a fee in BNB."""
    return [t | {"fee": {"cost": 0.5, "currency": "BNB"}} for t in trades]


def _run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, change: Callable[[Trades, int], Trades]
) -> tuple[int, Path, FakeBinance]:
    """A dry run whose broker sees ``change(trades, answer)`` for each trade listing."""
    fake = FakeBinance()
    answers: list[int] = []

    def changed(fetch: Callable[..., Trades]) -> Callable[..., Trades]:
        def fetch_order_trades(*args: Any, **kwargs: Any) -> Trades:
            answers.append(1)
            return change(fetch(*args, **kwargs), len(answers))

        return fetch_order_trades

    wraps = {"fetch_order_trades": changed}
    code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake, wraps, run_id="fills", steps=STEPS)
    return code, run_dir, fake


def _fills(run_dir: Path) -> list[dict[str, Any]]:
    return [
        e
        for e in jsonl(run_dir / "events.jsonl")
        if e["event_type"] in ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED")
    ]


def _assert_booked(code: int, run_dir: Path, fake: FakeBinance, err: str) -> list[dict[str, Any]]:
    """COMPLETED and verified, flat in the run and at the venue; the run's fill events."""
    assert code == 0, err
    assert verify_run(run_dir).ok
    final = jsonl(run_dir / "state_snapshots.jsonl")[-1]
    assert (final["status"], final["open_orders"]) == ("COMPLETED", [])
    assert all(Decimal(q) == 0 for q in final["positions"].values()), final["positions"]
    assert fake.free("BTC") == Decimal(1)
    fills = _fills(run_dir)
    assert fills
    return fills


def _assert_refused(code: int, run_dir: Path, err: str, problem: str) -> None:
    """Failed BROKER_REPORT_INVALID naming ``problem``, on one line, sealed and verified."""
    assert code == 4, err
    assert "failed: BROKER_REPORT_INVALID" in err, err
    assert problem in err, err
    assert "Traceback" not in err
    assert verify_run(run_dir).ok
    (required,) = [r for r in jsonl(run_dir / "audit.jsonl") if r["code"] == "C2_OPERATOR_REQUIRED"]
    assert required["payload"]["reason"] == "BROKER_REPORT_INVALID"
    assert problem in required["payload"]["detail"]["problem"]


def _halves(trades: Trades, timestamp: Callable[[int], Any]) -> Trades:
    """Each trade as two of half its amount, the second timed ``timestamp(first's time)``."""
    out: Trades = []
    for trade in trades:
        half = trade["amount"] / 2
        out.append(trade | {"amount": half})
        out.append(
            trade
            | {"id": f"{trade['id']}9", "amount": half}
            | {"timestamp": timestamp(trade["timestamp"])}
        )
    return out


class TestFillTimes:
    """A fill is timed by the poll that brought it; the venue's trade time is not recorded."""

    def test_a_fill_is_timed_by_its_poll_and_carries_no_venue_time(
        self, tmp_path, monkeypatch, capsys
    ):
        code, run_dir, fake = _run(tmp_path, monkeypatch, lambda trades, _: trades)
        fills = _assert_booked(code, run_dir, fake, capsys.readouterr().err)
        for fill in fills:
            assert set(fill["payload"]) == FILL_FIELDS
        records = jsonl(run_dir / "events.jsonl")
        for fill in fills:
            # the step's time: that of the BAR the poll followed, not the venue's trade time
            bar = [e for e in records[: fill["seq"]] if e["event_type"] == "BAR"][-1]
            assert fill["ts_sim"] == bar["ts_sim"]

    @pytest.mark.parametrize(
        "timestamp",
        [
            pytest.param(lambda ms: None, id="none"),
            pytest.param(lambda ms: ms + 10**12, id="future"),
            pytest.param(lambda ms: 1, id="before-the-order"),
            pytest.param(str, id="string"),
            pytest.param(float, id="float"),
            pytest.param(lambda ms: True, id="bool"),
        ],
    )
    def test_an_odd_trade_time_is_booked_by_the_poll(
        self, tmp_path, monkeypatch, capsys, timestamp
    ):
        """A trade without a usable time, or timed before the order or in the future, is
        booked: the venue's time only orders the trades of one answer, and none is
        recorded. A string among integers stopped the run with a TypeError."""
        code, run_dir, fake = _run(
            tmp_path, monkeypatch, lambda trades, _: _halves(trades, timestamp)
        )
        fills = _assert_booked(code, run_dir, fake, capsys.readouterr().err)
        assert len(fills) == 8  # four orders, each as two trades
        assert [f["payload"]["quantity"] for f in fills] == ["0.005"] * 8

    def test_a_fee_in_another_currency_is_not_booked(self, tmp_path, monkeypatch, capsys):
        """The book has no fees (in any currency): its cash is the fills' value alone."""
        code, run_dir, fake = _run(tmp_path, monkeypatch, _in_bnb)
        fills = _assert_booked(code, run_dir, fake, capsys.readouterr().err)
        initial = Decimal(orjson.loads((run_dir / "config.json").read_bytes())["initial_cash"])
        cash = [Decimal(p["cash"]) for p in events(run_dir, "POSITION_CHANGED")]
        moved = [Decimal(f["payload"]["quantity"]) * Decimal(f["payload"]["price"]) for f in fills]
        assert len(fills) == len(cash) == 4
        for before, after, fill, value in zip([initial, *cash], cash, fills, moved, strict=False):
            buy = fill["payload"]["side"] == "BUY"
            assert after == (before - value if buy else before + value)  # no fee taken

    def test_the_report_says_the_venues_fees_were_not_booked(self, tmp_path, monkeypatch, capsys):
        """Bug: the report of a run whose venue charged a fee on every trade said, under
        Profit and loss, `fees  not modelled  the venues report none: PnL is gross of fees`:
        the venue reported them, and the book left them out (docs/ccxt.md, "Odd trades"). It
        says so now; a simulated venue's run reads as before."""
        code, run_dir, fake = _run(tmp_path, monkeypatch, _in_bnb)
        _assert_booked(code, run_dir, fake, capsys.readouterr().err)
        text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", render_report(run_dir))).split())
        assert "the venues report none" not in text
        assert (
            "fees not booked a ccxt venue's fees (its trades' fee) are left out of the book: "
            "PnL is gross of fees"
        ) in text


class TestRefusedTrades:
    """A trade the book cannot take as the venue lists it: BROKER_REPORT_INVALID, named."""

    @pytest.mark.broken_run("the run faults BROKER_REPORT_INVALID on purpose")
    def test_a_trade_the_venue_rewrites_under_its_id_is_refused(
        self, tmp_path, monkeypatch, capsys
    ):
        """The first answer lists the trade at half its amount, the next ones as it is: the
        broker dropped the second as a repeat, and the run ended in FILL_NOT_SEEN."""

        def rewritten(trades: Trades, answer: int) -> Trades:
            return [t | {"amount": t["amount"] / 2} for t in trades] if answer == 1 else trades

        code, run_dir, _ = _run(tmp_path, monkeypatch, rewritten)
        problem = (
            "its trade id repeats a fill of the order booked as 0.005 at 30000.00, with other "
            "numbers (0.010 at 30000.00): not a re-delivery"
        )
        _assert_refused(code, run_dir, capsys.readouterr().err, problem)
        assert [f["payload"]["quantity"] for f in _fills(run_dir)] == ["0.005"]
        assert events(run_dir, "RECONCILE_ESCALATED") == []

    def test_a_trade_listed_twice_alike_is_booked_once(self, tmp_path, monkeypatch, capsys):
        """A re-delivery in one answer (the same id, the same numbers) is booked once."""
        code, run_dir, fake = _run(tmp_path, monkeypatch, lambda trades, _: trades + trades)
        fills = _assert_booked(code, run_dir, fake, capsys.readouterr().err)
        assert len(fills) == 4  # four orders, each one trade
        assert events(run_dir, "DUPLICATE_REPORT") == []

    @pytest.mark.broken_run("the run faults BROKER_REPORT_INVALID on purpose")
    def test_a_trade_for_more_than_the_order_is_refused(self, tmp_path, monkeypatch, capsys):
        def tripled(trades: Trades, _: int) -> Trades:
            return [t | {"amount": t["amount"] * 3} for t in trades]

        code, run_dir, _ = _run(tmp_path, monkeypatch, tripled)
        problem = "its quantity 0.030 is more than the 0.010 left of the order"
        _assert_refused(code, run_dir, capsys.readouterr().err, problem)
        assert _fills(run_dir) == []

    @pytest.mark.broken_run("the run faults BROKER_REPORT_INVALID on purpose")
    @pytest.mark.parametrize(
        ("change", "problem"),
        [
            ({"amount": "abc"}, "its quantity is a str ('abc'), not a Decimal"),
            ({"amount": True}, "its quantity is a bool (True), not a Decimal"),
            ({"amount": None}, "its quantity is 0.000, not a positive number"),
            ({"price": "abc"}, "its price is a str ('abc'), not a Decimal"),
            ({"price": 0}, "its price is 0.00, not a positive number"),
        ],
    )
    def test_a_number_that_is_none_or_not_positive_is_refused(
        self, tmp_path, monkeypatch, capsys, change, problem
    ):
        """Before, ``UNEXPECTED_ERROR`` (ValueError, TypeError) from the broker's conversion
        of ``"abc"`` and ``True``."""
        code, run_dir, _ = _run(
            tmp_path, monkeypatch, lambda trades, _: [t | change for t in trades]
        )
        _assert_refused(code, run_dir, capsys.readouterr().err, problem)
        assert _fills(run_dir) == []


class TestTradesOfOtherOrders:
    """A trade the venue lists under another order id is not this order's fill."""

    def test_a_trade_of_another_order_is_not_booked(self, tmp_path, monkeypatch, capsys):
        """Each listing starts with a trade of venue order 99999 (another order on the
        account), earlier than the order's own. Before, it was booked as a fill of the
        order asked about (0.004 of it), and the order's own trade then refused as more
        than the 0.006 left: FAILED ``BROKER_REPORT_INVALID``, a fill in the book that the
        order never had."""

        def with_another(trades: Trades, _: int) -> Trades:
            other = [
                t | {"id": f"9{t['id']}", "order": "99999", "amount": 0.004}
                for t in trades
                if isinstance(t.get("timestamp"), int)
            ]
            return [o | {"timestamp": o["timestamp"] - 1_000} for o in other] + trades

        code, run_dir, fake = _run(tmp_path, monkeypatch, with_another)
        fills = _assert_booked(code, run_dir, fake, capsys.readouterr().err)
        assert [f["payload"]["quantity"] for f in fills] == ["0.010"] * 4
        assert not any(f["payload"]["trade_id"].startswith("9") for f in fills)
        assert events(run_dir, "DUPLICATE_REPORT") == []


class TestRewrittenAcrossAResume:
    """A trade booked before a crash, listed again by the venue after it (``crashed_dryrun``).

    The crashed run's first order (a market buy of 0.010) fills 0.004 and rests, so the
    checkpoint the resume starts from holds it, open, with that fill booked. The resumed
    broker is told its trade id; it was not told the numbers booked under it, so a trade
    the venue rewrote meanwhile was dropped as already seen, and the book kept 0.004 while
    the venue had more: the same refusal as within one process is expected.
    """

    @staticmethod
    def _crashed(fake: FakeBinance, tmp_path: Path) -> tuple[Path, str]:
        """The run killed at its 40th checkpoint, its first order open with 0.004 booked."""
        config = tmp_path / "every_step.toml"
        config.write_text("checkpoint_every = 1\n", encoding="utf-8")
        fake.fill_market_partly("0.004")
        args = dryrun_args(tmp_path, "resumed", STEPS, "--config", str(config))
        assert crashed_dryrun(fake, args, "checkpoint:40") == -9
        run_dir = tmp_path / "resumed"
        (fill,) = _fills(run_dir)
        assert (fill["event_type"], fill["payload"]["quantity"]) == (
            "ORDER_PARTIALLY_FILLED",
            "0.004",
        )
        return run_dir, fill["payload"]["client_order_id"]

    @pytest.mark.broken_run("the run faults BROKER_REPORT_INVALID on purpose")
    def test_a_booked_trade_the_venue_rewrites_is_refused(
        self, fake, tmp_path, monkeypatch, capsys
    ):
        run_dir, cid = self._crashed(fake, tmp_path)
        fake.rewrite_trade(cid, "0.005")
        route_to(fake, monkeypatch)
        capsys.readouterr()
        code = main(["resume", str(run_dir), "-q"])
        problem = (
            "its trade id repeats a fill of the order booked as 0.004 at 30000.00, with other "
            "numbers (0.005 at 30000.00): not a re-delivery"
        )
        _assert_refused(code, run_dir, capsys.readouterr().err, problem)
        assert [f["payload"]["quantity"] for f in _fills(run_dir)] == ["0.004"]
        assert events(run_dir, "RECONCILE_ESCALATED") == []

    def test_a_booked_trade_listed_again_alike_is_taken_once(
        self, fake, tmp_path, monkeypatch, capsys
    ):
        """The rest of the order fills after the crash: the venue lists the booked trade
        again, as it was, beside the new one; only the new one is booked."""
        run_dir, cid = self._crashed(fake, tmp_path)
        fake.fill(cid, "0.006", "30000.00")
        route_to(fake, monkeypatch)
        capsys.readouterr()
        assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
        fills = [f for f in _fills(run_dir) if f["payload"]["client_order_id"] == cid]
        assert [f["payload"]["quantity"] for f in fills] == ["0.004", "0.006"]
        assert len({f["payload"]["trade_id"] for f in fills}) == 2
        assert events(run_dir, "DUPLICATE_REPORT") == []
        _assert_booked(0, run_dir, fake, "")
