"""The attrs fields and validators of the session config: integers, decimals and shares.

Kept apart from ``config.py``, which holds the tables themselves. Each validator raises
``ConfigError`` naming the field and the value, and for a bound, what it is for.
"""

from __future__ import annotations

import functools
from decimal import Decimal
from typing import Any, Final

import attrs

from .._exceptions import ConfigError
from .decimal import (
    DIGITS,
    excess_digits,
    float_refused,
    integer_digits,
    places,
    plain,
    to_decimal,
    written_digits,
)

__all__ = [
    "INT_MAX",
    "array_of_tables",
    "count",
    "decimal_field",
    "non_negative_int",
    "optional_decimal_field",
    "positive_int",
    "recorded_decimals",
    "risk_share",
    "share",
    "true_or_false",
    "unquoted",
]

INT_MAX: Final = 2**63 - 1
"""The largest integer a config may hold: what a JSON reader can take as a 64-bit integer
(the config is written to ``config.json`` and hashed; orjson refuses anything larger)."""
_INT_MAX_WHY: Final = " (the largest 64-bit integer)"


def positive_int(name: str, *, maximum: int | None = None, why: str = "") -> Any:
    """A validator: an int greater than zero (and at most ``maximum``, ``why`` it is the bound)."""

    def check(_inst: object, _attr: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(
                f"{name} must be a positive integer, got {value!r}{unquoted(name, value)}"
            )
        _check_most(name, value, maximum, why)

    return check


def non_negative_int(name: str, *, maximum: int | None = None, why: str = "") -> Any:
    """A validator: an int of zero or more (and at most ``maximum``, ``why`` it is the bound)."""

    def check(_inst: object, _attr: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(
                f"{name} must be a non-negative integer, got {value!r}{unquoted(name, value)}"
            )
        _check_most(name, value, maximum, why)

    return check


def array_of_tables(name: str, value: object) -> str:
    """What a table ``name`` given as TOML's array of tables (``[[risk]]``) is told; else "".

    ``[[risk]]`` (two pairs of brackets) read as a list of tables said ``risk must be a
    table, got [{'max_order_qty': '2'}]``, with no word of the brackets.
    """
    if not isinstance(value, list) or not value or not all(isinstance(v, dict) for v in value):
        return ""
    return f": [[{name}]] is an array of tables; write the header [{name}], in one pair of brackets"


def unquoted(name: str, value: object) -> str:
    """What an integer ``name`` written as a string or a float (``"5"``, ``5.0``) is told.

    ``seed = "5"`` said ``seed must be a non-negative integer, got '5'``, which it looks
    like: the note says the quotes (or the point) are what is wrong, and what to write.
    "" for any other value.
    """
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return f": a string; write it unquoted, {name.rpartition('.')[2]} = {int(value)}"
    if isinstance(value, float) and value.is_integer() and value > 0:
        return f": a float; write it without a point, {name.rpartition('.')[2]} = {int(value)}"
    return ""


def _check_most(name: str, value: int, maximum: int | None, why: str) -> None:
    """Refuse an int above its own bound, or above ``INT_MAX`` where it has none."""
    if maximum is None:
        maximum, why = INT_MAX, _INT_MAX_WHY
    if value > maximum:
        raise ConfigError(f"{name} must be at most {maximum}{why}, got {value}")


def _dec(name: str) -> Any:
    """A converter to Decimal for the field ``name``: floats are refused, the field named."""

    def convert(value: object) -> Decimal:
        try:
            return to_decimal(value, field=name)
        except (TypeError, ValueError) as exc:
            error = ConfigError(str(exc))
            if isinstance(value, float):  # a file's ``0.010``: say its places, not 0.01's
                error.as_written = functools.partial(_float_as_written, name, value)
            raise error from None

    return convert


def _float_as_written(name: str, value: float, written: str) -> str | None:
    """The refusal of the float ``value`` of ``name``, the file writing it ``written``.

    None when ``written`` is not that float (the value of an inline table's key, whose
    line writes the table).
    """
    try:
        same = float(written.replace("_", "")) == value
    except ValueError:
        same = False
    return float_refused(name, value, written) if same else None


def _dec_rule(name: str, *, positive: bool, maximum: Decimal | None, why: str) -> Any:
    def check(_inst: object, _attr: object, value: Decimal) -> None:
        problem = excess_digits(value)
        if problem is not None:
            raise ConfigError(f"{name} {plain(value)!r} has {problem}; give at most {DIGITS}")
        _check_written(name, value)
        if positive and value <= 0:
            raise ConfigError(f"{name} must be greater than zero, got {str(value)!r}")
        if not positive and value.is_signed():  # "-0" too: recorded with its sign
            zero = "" if value else " (write 0)"
            raise ConfigError(f"{name} must not be negative, got {str(value)!r}{zero}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be at most {maximum}{why}, got {str(value)!r}")

    return check


def _check_written(name: str, value: Decimal) -> None:
    """Refuse ``value`` whose digits written out are more than Decimal keeps.

    Its coefficient may be short (``1E+30``, ``1E-40``: one significant digit), but the
    first sum it enters is written out: ``initial_cash = "1E+30"`` lost 18.73 of cash to
    the first fill's rounding, and ``"1E+100000"`` went into ``config.json`` as 100,001
    digits. The value is named as Decimal writes it (never the 100,001 digits).
    """
    digits = written_digits(value)
    if digits > DIGITS:
        raise ConfigError(
            f"{name} {str(value)!r} has {digits} digits written out ({integer_digits(value)} "
            f"before the point, {places(value)} after), more than the {DIGITS} Decimal "
            f"arithmetic keeps: the run would round it; give at most {DIGITS}"
        )


def decimal_field(
    name: str,
    default: str | int,
    *,
    positive: bool = True,
    maximum: Decimal | None = None,
    why: str = "",
) -> Any:
    """An attrs field holding a Decimal: floats refused, checked against its bounds.

    ``why`` follows the maximum in the message: what the bound is for.
    """
    return attrs.field(
        default=Decimal(default),
        converter=_dec(name),
        validator=_dec_rule(name, positive=positive, maximum=maximum, why=why),
    )


def optional_decimal_field(name: str) -> Any:
    """An attrs field holding a Decimal greater than zero, or None (not given: off).

    For a limit that holds only when a desk sets it; a config that leaves it out records
    nothing of it (``DryrunConfig.to_dict``), so its runs keep the bytes they had.
    """
    convert = _dec(name)
    check = _dec_rule(name, positive=True, maximum=None, why="")

    def converter(value: object) -> Decimal | None:
        return None if value is None else convert(value)

    def validator(inst: object, attr: object, value: Decimal | None) -> None:
        if value is not None:
            check(inst, attr, value)

    return attrs.field(default=None, converter=converter, validator=validator)


def share(name: str, default: str | int) -> Any:
    """A Decimal field between 0 and 1 inclusive (a rate or a ratio)."""
    return decimal_field(name, default, positive=False, maximum=Decimal(1))


def risk_share(name: str, default: str) -> Any:
    """A Decimal field above 0 and at most 1: a share of equity or of a price (``_pct``).

    Written as a share, not in percent: ``0.05`` is 5 %. A 5 meant as 5 % would be 500 %, a
    cap that never binds, so anything above 1 is refused.
    """
    return decimal_field(name, default, maximum=Decimal(1), why=" (a share: 0.05 is 5 %)")


def count(
    name: str, default: int, *, positive: bool = True, maximum: int | None = None, why: str = ""
) -> Any:
    """An int field, greater than zero (or, with ``positive=False``, at least zero).

    ``maximum`` bounds it; ``why`` says what for, in the message.
    """
    bound = positive_int if positive else non_negative_int
    check = bound(name, maximum=maximum, why=why)
    return attrs.field(default=default, validator=check)


def true_or_false(name: str) -> Any:
    """A validator: a bool (TOML's ``true``/``false``; ``"false"``, quoted, is a string)."""

    def check(_inst: object, _attr: object, value: object) -> None:
        if not isinstance(value, bool):
            quote = " (unquoted)" if isinstance(value, str) else ""
            raise ConfigError(f"{name} must be true or false{quote}, got {value!r}")

    return check


def recorded_decimals(table: Any) -> dict[str, Any]:
    """The fields of ``table`` (a config or one of its tables) to set as ``config.json`` has them.

    ``config.json`` writes a positive exponent out (``plain``: ``"1E+6"`` is ``"1000000"``),
    which reads back with other places: a ``qty_lot`` of ``1E+6`` made a notional
    ``13230.00`` where the same config read from ``config.json`` (by ``resume`` and the
    evidence's re-run) made ``13230.00000000``, and the evidence found the run not its
    config's. Asked once the values are checked, so a refusal names a value as written; a
    table among them is a new one (``attrs.evolve``), the caller's left as it is.
    """
    changes: dict[str, Any] = {}
    for field in attrs.fields(type(table)):
        value = getattr(table, field.name)
        if isinstance(value, Decimal):
            exponent = value.as_tuple().exponent
            # Its rule held it to DIGITS written out: no table's value is written out unbounded.
            if isinstance(exponent, int) and exponent > 0 and written_digits(value) <= DIGITS:
                changes[field.name] = Decimal(plain(value))
        elif attrs.has(type(value)):
            inner = recorded_decimals(value)
            if inner:
                changes[field.name] = attrs.evolve(value, **inner)
    return changes
