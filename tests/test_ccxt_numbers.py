"""A venue's number too long to quote: the refusal quotes it short, in one line.

A fill the loopback fake Binance reports (through ccxt, wrapped on its way to the broker,
as in tests/test_ccxt_shapes.py) with a price of ``1e999999`` was refused
(``BROKER_REPORT_INVALID``, as it must be), but the refusal wrote the price out in full:
a line of a megabyte on stderr and in events.jsonl, audit.jsonl and session.log.jsonl
(``1e999999999`` would have been a gigabyte). A number of many digits went the same way.
The refusal now quotes such a number in exponent form, cut to 60 characters.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")

from livesession._domain.model import FillReport
from livesession._session.reports import fill_problem
from livesession.verify import verify_run

from _ccxt_route import events, shaped_dryrun
from fake_binance import FakeBinance

pytestmark = pytest.mark.ccxt

LONGEST_LINE = 4_000
"""Longer than any line such a run writes (an events line of a fault is under 1,000)."""


def _trades_with(field: str, value: str) -> Callable[..., Any]:
    """A wrap of ``fetch_order_trades`` whose trades say ``value`` for ``field``."""

    def wrap(call: Callable[..., Any]) -> Callable[..., Any]:
        def changed(*args: Any, **kwargs: Any) -> Any:
            return [trade | {field: value} for trade in call(*args, **kwargs)]

        return changed

    return wrap


@pytest.mark.parametrize(
    "case",
    [
        pytest.param(("price", "1e999999", "its price 1E+999999 is"), id="price-huge-exponent"),
        pytest.param(("price", "3" * 50_000 + ".5", "its price 3333"), id="price-many-digits"),
        pytest.param(("amount", "1e-999999", "its quantity 1E-999999 is"), id="qty-tiny"),
    ],
)
def test_the_refusal_quotes_the_number_short(tmp_path, monkeypatch, capsys, case):
    """The run fails BROKER_REPORT_INVALID, verifies, and no line it writes is long."""

    field, value, quoted = case
    fake = FakeBinance()
    code, run_dir = shaped_dryrun(
        tmp_path, monkeypatch, fake, {"fetch_order_trades": _trades_with(field, value)}
    )
    err = capsys.readouterr().err
    assert code == 4, err
    assert "BROKER_REPORT_INVALID" in err
    assert quoted in err
    assert len(err) < LONGEST_LINE, len(err)
    assert verify_run(run_dir).ok
    assert set(fake.created.values()) == {1}  # each order sent once
    assert len(events(run_dir, "ORDER_FILLED")) == 0  # the fill was not booked
    for path in sorted(run_dir.iterdir()):
        if path.suffix in (".jsonl", ".json"):
            longest = max(map(len, path.read_text(encoding="utf-8").splitlines()), default=0)
            assert longest < LONGEST_LINE, (path.name, longest)


def test_fill_problem_quotes_a_number_of_ten_million_digits_short():
    fill = FillReport(
        client_order_id="c1",
        trade_id="t1",
        quantity=Decimal("0.010"),
        price=Decimal("1e9999999"),
        ts_ns=0,
        symbol="BTC/USDT",
    )
    problem = fill_problem(fill, Decimal("0.010"), lot=Decimal("0.001"), tick=Decimal("0.01"))
    assert problem == "its price 1E+9999999 is not a multiple of the price_tick 0.01"


_ABSENT: Any = object()
"""For ``_orders_filled``: no ``filled`` key at all."""


def _orders_filled(value: object) -> Callable[..., Any]:
    """A wrap of ``fetch_order`` whose order says ``value`` for ``filled`` (none: ``_ABSENT``)."""

    def wrap(call: Callable[..., Any]) -> Callable[..., Any]:
        def changed(*args: Any, **kwargs: Any) -> Any:
            order = call(*args, **kwargs) | {"filled": value}
            if value is _ABSENT:
                del order["filled"]
            return order

        return changed

    return wrap


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity", "sNaN"])
def test_an_order_filled_no_number_names_the_value(tmp_path, monkeypatch, capsys, value):
    """An order's ``filled`` of NaN stopped the run ``InvalidOperation: [<class ...>]``.

    It named neither the field nor the value; ``-Infinity`` failed the run far from its
    cause (``RECONCILE_MISMATCH``, ``QUANTITY_MISMATCH``) and ``Infinity`` was taken. Each
    now stops the run naming what ccxt returned, as ``"abc"`` did; each order sent once,
    and the run verifies.
    """
    fake = FakeBinance()
    wraps = {"fetch_order": _orders_filled(value)}
    code, run_dir = shaped_dryrun(tmp_path, monkeypatch, fake, wraps)
    err = capsys.readouterr().err
    assert code == 4, err
    assert f"ccxt returned '{value}' as an order's filled quantity, not a number" in err
    assert "InvalidOperation" not in err
    assert verify_run(run_dir).ok
    assert set(fake.created.values()) == {1}


@pytest.mark.parametrize(
    ("value", "said"),
    [pytest.param(None, "'filled' None", id="none"), (_ABSENT, "no 'filled' field")],
)
def test_an_order_read_without_filled_names_the_field(tmp_path, monkeypatch, capsys, value, said):
    """An order read whose ``filled`` is None or missing was taken as 0 filled: the market
    order, ``closed``, counted as filled without a fill to report, and the run failed
    ``RECONCILE_MISMATCH`` calling the order ``ORDER_MISSING_AT_VENUE``, though the venue
    had it. The run now stops naming the missing field, as for a NaN; it verifies."""
    fake = FakeBinance()
    code, run_dir = shaped_dryrun(
        tmp_path, monkeypatch, fake, {"fetch_order": _orders_filled(value)}
    )
    err = capsys.readouterr().err
    assert code == 4, err
    assert f"without its filled quantity ({said}): how much of it filled is not known" in err
    assert "ORDER_MISSING_AT_VENUE" not in err
    assert events(run_dir, "RECONCILE_ESCALATED") == []
    assert verify_run(run_dir).ok
    assert set(fake.created.values()) == {1}
