"""``quantize`` picks the multiple of the step exactly, whatever the value's digits.

``value / step`` in the context is rounded to 28 digits before it is rounded to an integer:
a value just below a multiple whose quotient needs more digits became the multiple above it,
so an order's quantity (``ROUND_DOWN``: never more than the strategy asked) could be more.
"""

from __future__ import annotations

import math
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Decimal,
    localcontext,
)
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livesession._domain.decimal import DIGITS, excess_digits, fewer_digits, quantize

D = Decimal
ROUNDINGS = [
    ROUND_DOWN,
    ROUND_UP,
    ROUND_FLOOR,
    ROUND_CEILING,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_HALF_DOWN,
]


def _reference(value: Decimal, step: Decimal, rounding: str) -> Fraction:
    """The multiple of ``step`` ``rounding`` gives, in exact rational arithmetic."""
    q = Fraction(value) / Fraction(step)
    low = math.floor(q)
    frac = q - low
    toward_zero = math.trunc(q)
    if frac == 0:
        n = low
    elif rounding == ROUND_DOWN:
        n = toward_zero
    elif rounding == ROUND_UP:
        n = low + 1 if q > 0 else low
    elif rounding == ROUND_FLOOR:
        n = low
    elif rounding == ROUND_CEILING:
        n = low + 1
    elif frac != Fraction(1, 2):
        n = low + 1 if frac > Fraction(1, 2) else low
    elif rounding == ROUND_HALF_EVEN:
        n = low if low % 2 == 0 else low + 1
    elif rounding == ROUND_HALF_UP:  # away from zero
        n = low + 1 if q > 0 else low
    else:  # ROUND_HALF_DOWN: toward zero
        n = low if q > 0 else low + 1
    return n * Fraction(step)


@pytest.mark.parametrize(
    ("value", "step", "rounding", "expected"),
    [
        # 31 digits, just below 0.3: the quotient 299.99...9 was rounded to 300 first.
        ("0.2999999999999999999999999999999", "0.001", ROUND_DOWN, "0.299"),
        # 28 digits, but at a lot of 0.005 the quotient needs 29.
        ("0.9999999999999999999999999999", "0.005", ROUND_DOWN, "0.995"),
        ("-0.2999999999999999999999999999999", "0.001", ROUND_CEILING, "-0.299"),
        ("0.3000000000000000000000000000001", "0.001", ROUND_CEILING, "0.301"),
        ("0.3000000000000000000000000000001", "0.001", ROUND_FLOOR, "0.300"),
        ("0.0004999999999999999999999999999999", "0.001", ROUND_HALF_EVEN, "0.000"),
        ("0.0015000000000000000000000000000001", "0.001", ROUND_HALF_DOWN, "0.002"),
        ("0.29999999999999998889776975374843459576368331909", "0.001", ROUND_DOWN, "0.299"),
    ],
)
def test_a_value_of_many_digits_is_rounded_once(value, step, rounding, expected):
    assert str(quantize(D(value), D(step), rounding)) == expected


@given(
    whole=st.integers(min_value=-(10**6), max_value=10**6),
    tail=st.integers(min_value=-(10**30), max_value=10**30),
    step=st.sampled_from([D("0.001"), D("0.005"), D("0.01"), D("0.25"), D("1E-8"), D("5")]),
    rounding=st.sampled_from(ROUNDINGS),
)
def test_quantize_equals_exact_rounding(whole, tail, step, rounding):
    """A multiple of the step moved by up to a few of its 10^-30ths: rounded exactly."""
    with localcontext(prec=60):  # the value is exact, all its digits kept
        value = D(whole) * step + D(tail).scaleb(-36)
    got = quantize(value, step, rounding)
    assert Fraction(got) == _reference(value, step, rounding)
    assert got.as_tuple().exponent == step.as_tuple().exponent


@given(
    st.decimals(allow_nan=False, allow_infinity=False)
    | st.builds(
        D, st.from_regex(r"-?[0-9]{1,40}(\.[0-9]{0,40})?(E[+-]?[0-9]{1,3})?", fullmatch=True)
    ),
    st.integers(min_value=1, max_value=45),
)
def test_fewer_digits_is_the_coefficients_count(value: Decimal, limit: int) -> None:
    # Its text is only a quick bound (every coefficient digit is in it): the answer is the
    # digit count's, for leading zeros (0.000123), exponents (1.5E+7) and long values alike.
    assert fewer_digits(value, limit) is (len(value.as_tuple().digits) < limit)
    assert (excess_digits(value) is None) is (len(value.as_tuple().digits) <= DIGITS)
