"""Venue answers that are no amount or no order, fed through the loopback venue.

Whole CLI dry runs on the loopback fake Binance (``_ccxt_route``), a ccxt call's answer
changed on its way to the broker. Each must end with a classified outcome the operator
can act on, and the run must verify.

Bugs: a balance of ``NaN``, ``Infinity`` or below zero passed the preflight's
``balance_fetch`` (only a balance ccxt gave as ``"abc"`` failed it, as
``BALANCE_UNAVAILABLE``, "could not be fetched"): the run started on a venue whose
account answer was no account. A ``fetch_order`` answering a list, None or a string (as
some venues' ccxt parsers do for an order they list twice, or not at all) stopped the run
``UNEXPECTED_ERROR`` (``AttributeError: 'list' object has no attribute 'get'``), sealed
FAILED without a wind-down, where a read's answer of the wrong type is ``Transient``
(docs/concepts.md, "Failure handling").
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
            "amount (not a number, NaN, below zero)"
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
