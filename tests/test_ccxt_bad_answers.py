"""Venue answers that are no amount or no order, fed through the loopback venue.

Whole CLI dry runs on the loopback fake Binance (``_ccxt_route``), a ccxt call's answer
changed on its way to the broker. Each must end with a classified outcome the operator
can act on, and the run must verify.

Bugs: a balance of ``NaN``, ``Infinity`` or below zero passed the preflight's
``balance_fetch`` (only a balance ccxt gave as ``"abc"`` failed it, as
``BALANCE_UNAVAILABLE``, "could not be fetched"): the run started on a venue whose
account answer was no account. A ``fetch_order`` answering a list, None or a string (a
venue's answer that ccxt's parser passed on as it came) stopped the run
``UNEXPECTED_ERROR`` (``AttributeError: 'list' object has no attribute 'get'``), sealed
FAILED without a wind-down, where a read's answer of the wrong type is ``Transient``
(docs/failures.md, "Broker calls"); a ``fetch_open_orders`` answering None, or a
list of other things than orders, raised out of the CLI's ``dryrun`` as it activated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession.verify import verify_run

from _ccxt_route import Wrap, events, shaped_dryrun
from fake_binance import FakeBinance

pytestmark = pytest.mark.ccxt


def _answers(change: Callable[[Any], Any]) -> Wrap:
    """A wrap of a ccxt call whose answer ``change`` rewrites."""

    def wrap(call: Callable[..., Any]) -> Callable[..., Any]:
        def changed(*args: Any, **kwargs: Any) -> Any:
            return change(call(*args, **kwargs))

        return changed

    return wrap


def _usdt(value: object) -> Wrap:
    return _answers(lambda b: b | {"total": b["total"] | {"USDT": value}})


@pytest.mark.parametrize(
    "value",
    [float("nan"), "NaN", float("inf"), "-Infinity", "-5", "abc", [1]],
    ids=["nan", "NaN-text", "inf", "minus-inf", "negative", "abc", "list"],
)
def test_a_balance_that_is_no_amount_fails_preflight(tmp_path, monkeypatch, capsys, value):
    code, run_dir = shaped_dryrun(
        tmp_path, monkeypatch, FakeBinance(), {"fetch_balance": _usdt(value)}
    )
    err = capsys.readouterr().err
    assert code == 3, err
    assert err.splitlines() == [
        (
            "livesession: rejected: BALANCE_INVALID: the venue answered a balance that is no "
            f"amount (not a number, NaN, below zero); sealed REJECTED, nothing traded: {run_dir}"
        )
    ]
    assert events(run_dir, "ORDER_SUBMITTED") == []
    assert verify_run(run_dir).ok


@pytest.mark.parametrize("value", ["0", "0.00000001", None], ids=["zero", "dust", "none"])
def test_a_balance_of_zero_or_none_passes(tmp_path, monkeypatch, capsys, value):
    """Zero is an amount (an asset emptied); None is ccxt's "not given" (docs/ccxt.md)."""
    code, run_dir = shaped_dryrun(
        tmp_path, monkeypatch, FakeBinance(), {"fetch_balance": _usdt(value)}
    )
    assert code == 0, capsys.readouterr().err
    assert verify_run(run_dir).ok


@pytest.mark.parametrize(
    "change",
    [lambda o: [o], lambda o: None, lambda o: "closed"],
    ids=["a-list", "none", "a-string"],
)
def test_an_order_read_that_is_no_order_is_a_failed_read(tmp_path, monkeypatch, capsys, change):
    """Every ``fetch_order`` answers no order: each poll's read fails ``Transient``, the
    broker is unhealthy, trading halts and the stop, which cannot see the order's end,
    fails ``STOP_INCOMPLETE`` for the operator; never ``UNEXPECTED_ERROR``."""
    fake = FakeBinance()
    code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake, {"fetch_order": _answers(change)})
    err = capsys.readouterr().err
    assert code == 4, err
    assert "failed: STOP_INCOMPLETE" in err
    assert "Error" not in err
    assert verify_run(run_dir).ok
    [unhealthy] = events(run_dir, "BROKER_UNHEALTHY")
    assert (unhealthy["operation"], unhealthy["error"]) == ("poll", "Transient")
    reasons = [c["reason"] for c in events(run_dir, "STATE_CHANGED")]
    assert reasons[-1] == "STOP_INCOMPLETE"
    assert "UNEXPECTED_ERROR" not in reasons


@pytest.mark.parametrize(
    "change",
    [lambda o: None, lambda o: [None], lambda o: {"BTC/USDT": []}],
    ids=["none", "a-list-of-none", "a-dict"],
)
def test_an_open_orders_read_that_is_no_list_of_orders_is_a_failed_read(
    tmp_path, monkeypatch, capsys, change
):
    """Every ``fetch_open_orders`` answers no list of orders: each reconciliation pass
    fails ``Transient`` and is skipped, nothing is sent unreconciled, and the run ends
    sealed. Before, the first pass, at activation, raised ``TypeError`` or
    ``AttributeError`` out of the CLI's ``dryrun``."""
    code, run_dir = shaped_dryrun(
        tmp_path, monkeypatch, FakeBinance(), {"fetch_open_orders": _answers(change)}
    )
    assert code == 0, capsys.readouterr().err
    assert verify_run(run_dir).ok
    assert events(run_dir, "ORDER_SUBMITTED") == []
    [unhealthy] = events(run_dir, "BROKER_UNHEALTHY")
    assert (unhealthy["operation"], unhealthy["error"]) == ("reconcile", "Transient")


def _cut_off_dryrun(tmp_path, monkeypatch, path: str, times: int = 1) -> tuple[int, Any, Any]:
    """A dry run whose first ``times`` answers to ``GET path`` are cut off mid-JSON (HTTP
    200): ccxt hands the broker the body's text, which its parsers take apart character
    by character or choke on."""
    fake = FakeBinance()
    for _ in range(times):
        fake.add_fault("cut_off", method="GET", path=path)
    code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake)
    assert fake.pending_faults() == 0
    assert max(fake.created.values(), default=0) <= 1
    return code, run_dir, fake


@pytest.mark.parametrize(
    "path", ["/api/v3/openOrders", "/api/v3/order", "/api/v3/myTrades", "/api/v3/exchangeInfo"]
)
def test_a_read_answer_cut_off_is_a_failed_read(tmp_path, monkeypatch, capsys, path):
    """One read answered with JSON cut off mid-way fails that read (``Transient``): it is
    asked again and the run trades on, as after a 503. Before, the open orders' at
    activation raised ``AttributeError`` out of ``dryrun`` (the run sealed COMPLETED with
    no step), the trades' was booked as one fill without a trade id per character of the
    body (``BROKER_REPORT_INVALID``, FAILED), and the markets' as no market at all
    (``SYMBOL_NOT_LISTED``, rejected)."""
    code, run_dir, _ = _cut_off_dryrun(tmp_path, monkeypatch, path)
    err = capsys.readouterr().err
    assert code == 0, err
    assert err == ""
    assert verify_run(run_dir).ok
    assert len(events(run_dir, "ORDER_FILLED")) > 0
    assert events(run_dir, "BROKER_UNHEALTHY") == []


def test_a_balance_answer_cut_off_is_no_balance(tmp_path, monkeypatch, capsys):
    """A balance answer cut off every time is no balance (``BALANCE_UNAVAILABLE`` once
    the preflight's tries are spent), not a pass: before, ccxt's text of the body passed
    ``balance_fetch`` as an account holding nothing."""
    code, run_dir, fake = _cut_off_dryrun(tmp_path, monkeypatch, "/api/v3/account", times=3)
    err = capsys.readouterr().err
    assert code == 3, err
    assert err.splitlines()[0].startswith("livesession: rejected: BALANCE_UNAVAILABLE"), err
    assert fake.count("GET", "/api/v3/account") == 3
    assert events(run_dir, "ORDER_SUBMITTED") == []
    assert verify_run(run_dir).ok


def _raw_answer(path: str, answer: object) -> Wrap:
    """A wrap of the exchange's ``fetch`` whose first answer to ``GET path`` is ``answer``
    (JSON the venue sent, of another shape than ccxt's parser expects)."""

    def wrap(fetch: Callable[..., Any]) -> Callable[..., Any]:
        left = [1]

        def answered(url: str, method: str = "GET", *args: Any) -> Any:
            got = fetch(url, method, *args)
            if method == "GET" and path in url and left:
                left.pop()
                return answer
            return got

        return answered

    return wrap


@pytest.mark.parametrize("answer", [[1, 2], {"BTCUSDT": "open"}], ids=["numbers", "texts"])
def test_open_orders_a_parser_chokes_on_are_a_failed_read(tmp_path, monkeypatch, capsys, answer):
    """ccxt's parser raising on the venue's open orders (``TypeError: argument of type
    'int' is not iterable``) is a failed read, ``Transient``: the activation's reconcile
    pass is skipped and the run trades on. Before, the error escaped ``dryrun`` as a
    traceback and the session, closed on its way out, sealed COMPLETED with no step."""
    code, run_dir = shaped_dryrun(
        tmp_path, monkeypatch, FakeBinance(), {"fetch": _raw_answer("/openOrders", answer)}
    )
    err = capsys.readouterr().err
    assert code == 0, err
    assert err == ""
    assert verify_run(run_dir).ok
    assert len(events(run_dir, "ORDER_FILLED")) > 0


def test_a_preflight_read_is_tried_three_times_in_all(tmp_path, monkeypatch, capsys):
    """docs/ccxt.md, "Preflight": three tries in all. Two balance answers cut off, the
    third whole: ``balance_fetch`` passes on the third request and the run trades."""
    code, run_dir, fake = _cut_off_dryrun(tmp_path, monkeypatch, "/api/v3/account", times=2)
    assert code == 0, capsys.readouterr().err
    assert fake.count("GET", "/api/v3/account") == 3
    assert verify_run(run_dir).ok


@pytest.mark.broken_run("the run faults UNEXPECTED_ERROR on purpose")
def test_an_unexpected_error_at_activation_fails_the_run(tmp_path, monkeypatch, capsys):
    """The venue's open orders raising what no taxonomy names (a ``RuntimeError``) once,
    at the activation's reconcile pass: the run faults ``UNEXPECTED_ERROR`` as a step
    would, sealed FAILED, exit 4, one line. Before, the error escaped ``dryrun`` as a
    traceback (exit 1), and the session, closed on its way out, wound down and sealed
    the run COMPLETED: ``status`` said "completed (exit 0)"."""

    def once(call: Callable[..., Any]) -> Callable[..., Any]:
        calls: list[int] = []

        def first_raises(*args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                raise RuntimeError("the transport broke")
            return call(*args, **kwargs)

        return first_raises

    code, run_dir = shaped_dryrun(tmp_path, monkeypatch, FakeBinance(), {"fetch_open_orders": once})
    err = capsys.readouterr().err
    assert code == 4, err
    assert err.count("\n") == 1, err
    assert "failed: UNEXPECTED_ERROR (RuntimeError: the transport broke)" in err
    assert verify_run(run_dir).ok
    [stopped] = events(run_dir, "SESSION_STOPPED")
    assert (stopped["status"], stopped["reason"]) == ("FAILED", "UNEXPECTED_ERROR")
    assert events(run_dir, "ORDER_SUBMITTED") == []


@pytest.mark.parametrize(
    "field",
    [{"filled": "zzz"}, {"filled": "NaN"}, {"status": "open", "filled": [1]}],
    ids=["filled-abc", "filled-nan", "filled-a-list"],
)
def test_a_create_answer_with_a_number_that_is_none_is_looked_up(
    tmp_path, monkeypatch, capsys, field
):
    """The venue took the order, but its answer to the create says no number for
    ``filled``: the order is no ack (its state comes from a read) and is looked up, as an
    answer without the venue's id is. Before, the ``ValueError`` left ``submit`` after the
    send: the run stopped ``UNEXPECTED_ERROR`` without a wind-down, the book flat and the
    order open in doubt while the venue had filled it."""
    fake = FakeBinance()
    wraps = {"create_order": _answers(lambda o: o | field)}
    code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake, wraps)
    err = capsys.readouterr().err
    assert code == 0, err
    assert verify_run(run_dir).ok
    submitted = [o["client_order_id"] for o in events(run_dir, "ORDER_SUBMITTED")]
    assert dict(fake.created) == dict.fromkeys(submitted, 1)
    unknown = [u["client_order_id"] for u in events(run_dir, "ORDER_OUTCOME_UNKNOWN")]
    resolved = events(run_dir, "ORDER_OUTCOME_RESOLVED")
    assert unknown == [r["client_order_id"] for r in resolved]
    assert {r["resolution"] for r in resolved} == {"AT_VENUE"}
    filled = {f["client_order_id"] for f in events(run_dir, "ORDER_FILLED")}
    assert filled == set(submitted)
    assert fake.free("BTC") == 1  # flat at the venue, as the book is


def test_a_trade_listed_once_without_its_amount_is_counted_when_listed_whole(
    tmp_path, monkeypatch, capsys
):
    """The account's trades, read for the venue's position, list the run's fill once with
    ``amount`` None: that read fails (the reconciler's pass is skipped) and the next one
    counts it. Before, it was counted as 0 under its trade id and its whole listing later
    skipped as seen: the run failed ``RECONCILE_MISMATCH`` (``POSITION_MISMATCH``, the
    venue said to hold 0 while it held the run's buy)."""
    spoiled: list[int] = []

    def once_without_amount(trades: Any) -> Any:
        if trades and not spoiled:
            spoiled.append(len(trades))
            return [trade | {"amount": None} for trade in trades]
        return trades

    def positions_read(call: Callable[..., Any]) -> Callable[..., Any]:
        def changed(symbol: str, *args: Any, **kwargs: Any) -> Any:
            answer = call(symbol, *args, **kwargs)
            # the position's read asks (symbol, since, limit); an order's trades add params
            return once_without_amount(answer) if len(args) == 2 and not kwargs else answer

        return changed

    code, run_dir = shaped_dryrun(
        tmp_path, monkeypatch, FakeBinance(), {"fetch_my_trades": positions_read}
    )
    assert code == 0, capsys.readouterr().err
    assert spoiled  # the spoiled answer was given
    assert events(run_dir, "RECONCILE_ESCALATED") == []
    assert verify_run(run_dir).ok
