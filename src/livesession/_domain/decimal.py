"""Money and quantities: ``Decimal`` only, quantised; floats are refused at the boundary."""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable
from decimal import (
    ROUND_CEILING,
    ROUND_DOWN,
    ROUND_FLOOR,
    ROUND_HALF_DOWN,
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    ROUND_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    getcontext,
    localcontext,
    setcontext,
)
from typing import Final, ParamSpec, TypeVar, cast

from .._support.numbertext import number_form_problem, unread_hint

__all__ = [
    "CONTEXT",
    "DIGITS",
    "ZERO",
    "amount_text",
    "callers_context_kept",
    "callers_context_kept_in",
    "enter_context",
    "excess_digits",
    "fenced",
    "finite_decimal",
    "float_refused",
    "int_as_decimal",
    "integer_digits",
    "long_number_problem",
    "number_hint",
    "optional_int_as_decimal",
    "places",
    "plain",
    "quantize",
    "quantizer",
    "quoted",
    "to_decimal",
    "to_places",
    "with_context",
    "written_digits",
]

ZERO = Decimal(0)
_SHOWN: Final = 60
"""How much of a value's ``repr`` a message quotes (a table's can be long)."""
DIGITS: Final = 28
"""The significant digits Decimal arithmetic keeps (the default context's precision).

A value with more is rounded by the first sum or product it enters (a data file's price
123456789012345678901234567.05 was recorded as ...567.0), so such a value is refused where
it comes in: a config field (``fields.decimal_field``) or a data file (``datafile``).
"""


CONTEXT: Final = Context(
    prec=DIGITS,
    rounding=ROUND_HALF_EVEN,
    Emin=-999_999,
    Emax=999_999,
    capitals=1,
    clamp=0,
    flags=[],
    traps=[InvalidOperation, DivisionByZero, Overflow],
)
"""The decimal context livesession computes in, whatever the calling thread's: Python's default.

Decimal arithmetic rounds to the context of the thread that does it, and an application
may set its own (``getcontext().prec = 6``, ``traps[Inexact] = True``): a run computed in
it failed (``DivisionImpossible``) or wrote other bytes (an equity of ``100000.0000``, not
``100000.00000``), and its evidence's re-run, in a fresh process, did not match. So each
entry point computes in a copy of this one (``with_context``; a session's verbs and steps
under its lock, ``SessionGate``), and gives the caller's own back when it returns. Every
field is given: ``Context()`` would copy the rest from ``decimal.DefaultContext``, which an
application may have changed too.
"""

_P = ParamSpec("_P")
_R = TypeVar("_R")
_C = TypeVar("_C")


def with_context(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """``func`` computing in a copy of ``CONTEXT``; the caller's context is back after it.

    For the library's entry points (``create_run``, ``verify_run``, ``check_csv``...): the
    plug-ins they call (a strategy, a feed) compute in it too.
    """

    @functools.wraps(func)
    def in_context(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with localcontext(CONTEXT):
            return func(*args, **kwargs)

    return in_context


def callers_context_kept(func: Callable[_P, _R]) -> Callable[_P, _R]:
    """``func`` in a copy of its caller's context, which it gives back as it found it.

    For the library's own calls into a library that sets the context in place: ccxt's
    ``decimal_to_precision`` (every order it sends) sets ``rounding = ROUND_HALF_UP`` and
    traps ``Underflow`` on the calling thread, so a ``CcxtSandboxBroker`` called outside a
    session (whose broker calls are ``fenced``) left its caller rounding half up.
    """

    @functools.wraps(func)
    def kept(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with localcontext():
            return func(*args, **kwargs)

    return kept


def callers_context_kept_in(*methods: str) -> Callable[[type[_C]], type[_C]]:
    """A class decorator: each of ``methods`` of the class is ``callers_context_kept``."""

    def kept(cls: type[_C]) -> type[_C]:
        for name in methods:
            setattr(cls, name, callers_context_kept(getattr(cls, name)))
        return cls

    return kept


def fenced(func: Callable[_P, _R], *args: _P.args, **kwargs: _P.kwargs) -> _R:
    """``func(*args, **kwargs)`` in a copy of ``CONTEXT`` of its own: a plug-in's call.

    A strategy, feed or broker that changes its context in place (``getcontext().prec =
    8``, ``rounding = ROUND_DOWN``, ``setcontext``) changes it for the rest of its own call
    only: the session's arithmetic after it (fills, cash, equity) never rounds to it. Left
    in place, it made a run fault (``DivisionImpossible``) or record a cash its fills do
    not add up to, which verify refuses.
    """
    callers = getcontext()
    setcontext(CONTEXT.copy())  # what ``localcontext(CONTEXT)`` does, in half the time
    try:
        return func(*args, **kwargs)
    finally:
        setcontext(callers)


def enter_context() -> Context:
    """Make a copy of ``CONTEXT`` the calling thread's; the context it had, to ``setcontext``.

    ``with_context`` for work entered and left in two calls (a session's lock).
    """
    callers = getcontext()
    setcontext(CONTEXT.copy())
    return callers


def fewer_digits(value: Decimal, limit: int) -> bool:
    """Whether ``value`` has fewer than ``limit`` significant digits.

    Its text (``str``) holds every digit of its coefficient, so a text shorter than
    ``limit`` answers without ``as_tuple`` (which builds a named tuple: twice the cost).
    """
    return len(str(value)) < limit or len(value.as_tuple().digits) < limit


def excess_digits(value: Decimal) -> str | None:
    """Why ``value`` cannot be taken as it is (more than ``DIGITS`` significant digits), or None."""
    if fewer_digits(value, DIGITS + 1):
        return None
    count = len(value.as_tuple().digits)
    return (
        f"{count} significant digits, more than the {DIGITS} Decimal arithmetic keeps: "
        "the run would round it"
    )


def long_number_problem(owner: str, value: Decimal) -> str | None:
    """``owner``'s ``value`` has more than ``DIGITS`` digits: the problem and what to do, or None.

    A plug-in's number is taken as given, never rounded to fit: ``Decimal(0.3)``, made from
    a float, is that float's binary value, 0.29999999999999998889... (54 digits), which at a
    lot of 0.001 is an order of 0.299, not the 0.3 meant. Said so, with the float's text.
    """
    problem = excess_digits(value)
    if problem is None:
        return None
    shown = _cut(str(value))
    near = float(value)
    made = (
        f", Decimal({near!r}), the binary value of the float {near!r}: make it from the "
        "float's text, Decimal(str(x)), or round it to the grid first"
        if math.isfinite(near) and Decimal(near) == value
        else ": round it to the grid first (Decimal.quantize)"
    )
    return f"{owner} has {problem}; got {shown}{made}"


def number_hint(value: object) -> str:
    """What to write for ``value``, a number of another type where a Decimal belongs, or "".

    A float (numpy's ``float64`` is one; ``float32`` has ``__float__``) becomes the Decimal
    of its text, never ``Decimal(x)``, its binary value; an integer of another type (numpy's
    ``int64``, with ``__index__``) its ``int``. NaN and the infinities are no number at all.
    """
    kind = type(value)
    if isinstance(value, (int, Decimal)) or "bool" in kind.__name__:  # numpy's bool_ too
        return ""
    if isinstance(value, str):
        return ": give Decimal(x), the text's Decimal"
    if hasattr(kind, "__index__"):
        return ": give int(x)"
    if isinstance(value, float) or hasattr(kind, "__float__"):
        return _float_hint(value)
    return ""


def _float_hint(value: object) -> str:
    try:
        finite = math.isfinite(cast("float", value))
    except Exception:  # noqa: BLE001 - a __float__ of the caller's: no hint then
        return ""
    if not finite:
        return ": NaN and the infinities are no number the run can act on"
    return (
        ": make it from the number's text, Decimal(str(x)), not Decimal(x), which takes a "
        "float's binary value"
    )


def integer_digits(value: Decimal) -> int:
    """The digits ``value`` writes before the point: ``1E+30`` has 31, ``0.5`` none."""
    return max(value.adjusted() + 1, 0) if value else 0


def places(value: Decimal) -> int:
    """The digits ``value`` writes after the point: ``0.010`` has 3, ``1E+2`` (100) none.

    The places of a grid (``price_tick``, ``qty_lot``) are those every price or quantity
    on it is written with (``grid.to_places``).
    """
    exponent = value.as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


def written_digits(value: Decimal, at_places: int = 0) -> int:
    """The digits ``value`` has written out with at least ``at_places`` places.

    Its integer digits and its places, not its coefficient: ``1E+30`` (one significant
    digit) is ``1000000000000000000000000000000`` (31) once a sum or a product meets it,
    and ``1E-30`` is ``0.000000000000000000000000000001`` (30). A sum keeps the places of
    the finer term, so a price on a tick of 0.01 needs its integer digits and 2 more.
    """
    return integer_digits(value) + max(places(value), at_places)


def amount_text(value: Decimal, *, grouped: bool = False) -> str:
    """An amount of money as the tools show it: at least two places, never rounded.

    Places past the second are kept where they are not zero: under a fine tick a run
    records ``226.5300000000`` (its tick's places times its lot's), shown ``226.53``; a
    fraction of a cent stays (``0.0143``). ``grouped``: with thousands separators (the
    report's). The run's files keep what they record; only what is shown is so.
    """
    exponent = value.normalize().as_tuple().exponent
    places = max(2, -exponent) if isinstance(exponent, int) else 2
    return f"{value:{',' if grouped else ''}.{places}f}"


def plain(value: Decimal | int) -> str:
    """``value`` as the artifacts write a decimal: ``str(value)``, never in exponent form.

    ``str`` writes a value below 1e-6 or with a positive exponent as ``9.0E-7`` or ``1E+2``
    (a coin priced under a millionth, a data file's ``1e5``), which the contract's decimal
    strings do not allow; those are written out in full: ``0.00000090`` (the same digits
    and places), ``100000``. Every other value is exactly ``str(value)``.
    """
    text = str(value)
    return format(value, "f") if "E" in text else text


def quoted(value: object) -> str:
    """``value`` as a message quotes a number it was given: ``plain`` when that is short.

    A Decimal whose plain form has more than ``_SHOWN`` characters is written as ``str``
    has it (``1E+999999``), cut to ``_SHOWN``, as is anything else's ``repr``: a venue's
    fill priced ``1e999999`` was quoted written out, a megabyte in one line of stderr, the
    events, the audit chain and the session log (``1e999999999``, a gigabyte).
    """
    if isinstance(value, Decimal) and value.is_finite() and written_digits(value) < _SHOWN:
        return plain(value)
    return _cut(str(value) if isinstance(value, Decimal) else repr(value))


def _cut(text: str) -> str:
    """``text`` as a message quotes it: whole up to ``_SHOWN`` characters, else cut there."""
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def to_decimal(value: object, *, field: str) -> Decimal:
    """Convert a str, int or Decimal to a finite Decimal; refuse floats and bools.

    Each refusal names the field and the value: a float as it was read (already rounded,
    which is why it is refused), a boolean as TOML writes it, anything else by its type. A
    string is held to a data file's form of a number (``numbertext``): ``"1_0"``, spaces
    and other scripts' digits, which ``Decimal`` reads, are refused.
    """
    if isinstance(value, bool):
        msg = (
            f"{field}: {str(value).lower()} is a boolean, not a number; "
            'write the number as a string, e.g. "42000.50"'
        )
        raise TypeError(msg)
    if isinstance(value, float):
        raise TypeError(float_refused(field, value))
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, (int, str)):
        try:
            result = Decimal(value)
        except InvalidOperation:
            msg = f"{field}: {value!r} is not a decimal number{unread_hint(str(value))}"
            raise ValueError(msg) from None
        # "1_0" (10), " 10 ", Arabic-Indic digits: Decimal reads them, a data file may not.
        loose = number_form_problem(value) if isinstance(value, str) else None
        if loose is not None:
            msg = f"{field}: {value!r} is {loose}"
            raise ValueError(msg)
    else:
        msg = f"{field}: expected a decimal string, got {_shown(value)}"
        raise TypeError(msg)
    if not result.is_finite():
        msg = f"{field}: {value!r} is not a finite number"
        raise ValueError(msg)
    return result


def float_refused(field: str, value: float, written: str | None = None) -> str:
    """The refusal of the float ``value`` given for ``field``, saying the string to write.

    That string is ``written``, the float as the config file writes it (``0.010``: its
    places, and digits a float cannot hold), else the float's own digits; ``0`` for a zero
    (``"-0.0"`` is refused where a value may be 0) and an example for ``nan`` or ``inf``.
    """
    example = repr(value) if written is None else written.replace("_", "")
    if not math.isfinite(value):
        example = "42000.50"
    elif not value:
        example = "0"
    return (
        f"{field}: floats are not accepted for money or quantities (a float is rounded "
        f'when it is read), got {value!r}: write it as a string, e.g. "{example}"'
    )


def _shown(value: object) -> str:
    """``value`` in a message: its type and (cut to ``_SHOWN`` characters) its repr.

    A date or time (TOML reads ``2026-01-01`` unquoted as one) is written as TOML has it.
    """
    if isinstance(value, (dt.date, dt.time)):
        return f"the TOML {type(value).__name__} {value.isoformat()} (unquoted)"
    text = repr(value)
    text = text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."
    return f"{type(value).__name__} {text}"


def quantize(value: Decimal, step: Decimal, rounding: str = ROUND_HALF_EVEN) -> Decimal:
    """Round ``value`` to a multiple of ``step``, keeping step's exponent.

    Banker's rounding unless ``rounding`` says otherwise (``ROUND_CEILING``: up to the
    step, ``ROUND_FLOOR``: down, as a price moved against an order is; ``ROUND_DOWN``: an
    order's quantity, never more than the strategy asked for).

    The result is written with the step's places whatever the form of ``value``: the
    formula alone keeps the places of a value that has fewer (``1E-2`` at a lot of 0.001
    gave ``0.01``, ``101.1`` at a tick of 0.01 ``101.1``), and the artifacts write every
    price and quantity with the tick's and the lot's places (``0.010``, ``101.10``).

    The multiple is chosen exactly, whatever the digits: ``value / step`` in the context
    would be rounded to 28 digits first, so a quantity just below a lot's multiple (a
    strategy's ``0.29999...9`` of 31 digits at a lot of 0.001, or 28 digits at a lot of
    0.005, whose quotient needs 29) became the multiple above it, more than was asked.
    """
    quotient = value / step
    if fewer_digits(quotient, getcontext().prec):  # exact: a rounded one has them all
        return to_places(quotient.to_integral_value(rounding=rounding) * step, step)
    with localcontext(CONTEXT) as exact:
        # Enough digits for the whole quotient and the remainder: both are then exact.
        exact.prec = max(DIGITS, _quotient_digits(value, step))
        whole, rest = divmod(value, step)  # truncated toward zero; rest has value's sign
        carry = _carry(whole, rest, step, rounding)
        if carry:
            whole += carry
    return to_places(whole * step, step)


def _quotient_digits(value: Decimal, step: Decimal) -> int:
    """Digits that hold ``value // step`` and ``value % step`` exactly, with one to spare."""
    whole = max(value.adjusted() - step.adjusted() + 1, 1)
    exponents = [value.as_tuple().exponent, step.as_tuple().exponent]
    lowest = min(e for e in exponents if isinstance(e, int))
    rest = max(step.adjusted() - lowest + 1, 1) if value.adjusted() >= step.adjusted() else 0
    return max(whole, rest, len(value.as_tuple().digits)) + 2


def _carry(whole: Decimal, rest: Decimal, step: Decimal, rounding: str) -> int:
    """What rounding adds to ``whole``, the quotient truncated toward zero: -1, 0 or 1."""
    if not rest:
        return 0
    sign = -1 if rest < 0 else 1
    if rounding == ROUND_DOWN:
        return 0
    if rounding in (ROUND_UP, ROUND_CEILING, ROUND_FLOOR):
        up = rounding == ROUND_UP or (rounding == ROUND_CEILING) == (sign > 0)
        return sign if up else 0
    twice = abs(rest) * 2
    if twice != step:
        return sign if twice > step else 0
    if rounding == ROUND_HALF_EVEN:
        return sign if whole % 2 else 0
    if rounding in (ROUND_HALF_UP, ROUND_HALF_DOWN):
        return sign if rounding == ROUND_HALF_UP else 0
    raise ValueError(f"quantize does not round {rounding}")


def to_places(value: Decimal, step: Decimal) -> Decimal:
    """``value``, a multiple of ``step``, written with step's places: the value is unchanged.

    Only the form changes (``41000`` becomes ``41000.00`` at a tick of 0.01, ``1E-2``
    ``0.010`` at a lot of 0.001); the caller knows ``value`` is on the grid (a data file's
    price, checked; a result of ``quantize``), so nothing is rounded. A value that would
    need more digits than Decimal keeps at those places is left as it is.
    """
    try:
        return value.quantize(step)
    except InvalidOperation:
        return value


def quantizer(step: Decimal) -> Callable[[Decimal], Decimal]:
    """``quantize(value, step)`` as a function of ``value``, for a step used again and again.

    For a power of ten (``0.01``, ``1``) it is ``Decimal.quantize``, a third of the cost:
    for a value of at most the context's precision (28 digits: any result of Decimal
    arithmetic) dividing by the step is exact, so the formula rounds once, half-even, at
    the step's exponent, exactly as ``Decimal.quantize`` does; a result too long for the
    context falls back to the formula. Other steps get the formula itself.
    """
    sign, digits, exponent = step.as_tuple()
    if sign or digits != (1,) or not isinstance(exponent, int):
        return lambda value: quantize(value, step)

    def to_step(value: Decimal) -> Decimal:
        try:
            return value.quantize(step, rounding=ROUND_HALF_EVEN)
        except InvalidOperation:
            return quantize(value, step)

    return to_step


def int_as_decimal(value: Decimal | int) -> Decimal:
    """An ``int`` (a quantity of 10 shares, a limit price of 100) as the ``Decimal`` it is.

    Anything else is kept as given, for the check of what a strategy returned to name
    (``intent_problem``: a float, a bool, numpy's ``int64``).
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return cast("Decimal", value)


def optional_int_as_decimal(value: Decimal | int | None) -> Decimal | None:
    """``int_as_decimal`` of a value that may be None (no limit price)."""
    return None if value is None else int_as_decimal(value)


def finite_decimal(value: object, *, allow_int: bool = False) -> Decimal | None:
    """``value`` as a finite Decimal, or None.

    The contract writes decimals as strings; ``allow_int`` also takes a JSON integer
    (never a bool), for the report, which draws whatever number it is given.
    """
    if isinstance(value, bool) or not isinstance(value, (str, int) if allow_int else str):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
