"""A strategy's ``decimal`` error is said in words, not as ``decimal``'s list of classes.

Every number a strategy hands the session is a ``Decimal``, so its arithmetic errors are
mostly ``decimal``'s signals, whose own text names no problem: a run recorded
``STRATEGY_ERROR (DivisionByZero: [<class 'decimal.DivisionByZero'>])``, and the CLI, the
evidence and the testing kit showed it so.
"""

from __future__ import annotations

import decimal
from decimal import Decimal

import pytest

from livesession import SessionStatus, SmaCrossover
from livesession._support.decimalwords import decimal_words
from livesession._support.text import exception_text
from livesession.testing import MatrixCase, check_case


def _raised(compute) -> BaseException:
    try:
        compute()
    except decimal.DecimalException as exc:
        return exc
    raise AssertionError("nothing raised")  # pragma: no cover


@pytest.mark.parametrize(
    ("compute", "said"),
    [
        (lambda: Decimal(1) / Decimal(0), "division by zero"),
        (lambda: Decimal(0) / Decimal(0), "0 divided by 0 (decimal.DivisionUndefined)"),
        (lambda: Decimal("1,5"), "a text that is no number (decimal.ConversionSyntax)"),
        (
            lambda: Decimal("NaN") < 1,
            (
                "an operation with no defined result (a NaN compared or quantized, a quantize past "
                "the precision, the square root of a negative number)"
            ),
        ),
        (lambda: Decimal(10) ** Decimal("1e100"), "a result too large for the exponent range"),
    ],
)
def test_decimal_s_own_signals_are_said_in_words(compute, said):
    exc = _raised(compute)
    assert str(exc).startswith("[<class 'decimal.")  # what was recorded and shown
    assert exception_text(exc) == said


def test_a_message_of_one_s_own_is_kept():
    assert decimal_words(decimal.InvalidOperation("tick 0.005 is off the grid")) is None
    assert exception_text(decimal.InvalidOperation("tick 0.005 is off the grid")) == (
        "tick 0.005 is off the grid"
    )
    assert exception_text(decimal.InvalidOperation()) == ""
    assert decimal_words(ZeroDivisionError("division by zero")) is None


class Scaled(SmaCrossover):
    """Scales by the bars left before its 5th, a Decimal division by zero there."""

    def on_bar(self, bar, view):
        self.count = getattr(self, "count", 0) + 1
        self.scale = Decimal(1) / Decimal(5 - self.count)
        return super().on_bar(bar, view)


def scaled() -> Scaled:
    return Scaled(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01"))


def test_the_run_records_it_and_the_kit_says_it_in_words(run_factory):
    run = run_factory.run(steps=10, strategy=scaled())
    assert run.orch.status is SessionStatus.FAILED
    (error,) = run.events_of("STRATEGY_ERROR")
    assert (error["payload"]["error"], error["payload"]["message"]) == (
        "DivisionByZero",
        "division by zero",  # was "[<class 'decimal.DivisionByZero'>]"
    )
    with pytest.raises(AssertionError) as found:
        check_case(scaled, MatrixCase(latency_s=0, faults=(), kill_after=2), steps=10)
    assert "the strategy raised DivisionByZero: division by zero (step 5, at " in str(found.value)
