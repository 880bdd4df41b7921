"""``quantizer``: the per-step rounding equals ``quantize``, value and text, for any step."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from livesession._domain.decimal import quantize, quantizer

D = Decimal

STEPS = [
    D("1E-8"),
    D("0.0001"),
    D("0.01"),
    D("1"),
    D("1E+1"),
    D("100"),
    D("0.05"),
    D("0.25"),
    D("5"),
]
decimals = st.decimals(
    min_value=D("-1E+12"), max_value=D("1E+12"), allow_nan=False, allow_infinity=False, places=8
)


def _same(a: Decimal, b: Decimal) -> bool:
    return a == b and str(a) == str(b) and a.as_tuple() == b.as_tuple()


@given(cash=decimals, qty=decimals, price=decimals, step=st.sampled_from(STEPS))
@example(cash=D("0"), qty=D("-0.001"), price=D("4"), step=D("0.01"))  # a negative zero
@example(cash=D("0.005"), qty=D("0"), price=D("1"), step=D("0.01"))  # a tie, rounded to even
@example(cash=D("0.015"), qty=D("0"), price=D("1"), step=D("0.01"))  # the other tie
def test_quantizer_equals_quantize_for_arithmetic_results(cash, qty, price, step):
    """Equity as the book computes it (cash + qty x price): the same Decimal, same text."""
    value = cash + qty * price
    assert _same(quantizer(step)(value), quantize(value, step))


@pytest.mark.parametrize("step", [D("0.01"), D("1E-8")])
def test_a_result_too_long_for_the_context_takes_the_formula(step):
    """28 significant digits after rounding: Decimal.quantize refuses, the formula rounds."""
    value = D("12345678901234567890123456.78")  # 28 digits; at 1E-8 the result would need 34
    if step == D("1E-8"):
        with pytest.raises(InvalidOperation):
            value.quantize(step)
    assert _same(quantizer(step)(value), quantize(value, step))


def test_steps_that_are_not_powers_of_ten_use_the_formula():
    to_nickel = quantizer(D("0.05"))
    assert str(to_nickel(D("1.024"))) == str(quantize(D("1.024"), D("0.05"))) == "1.00"
    assert str(to_nickel(D("1.026"))) == "1.05"
