"""What a ``decimal`` signal raised by a plug-in's arithmetic says, in words.

Every number a strategy hands the session is a ``Decimal``, so its arithmetic errors are
mostly the ``decimal`` module's signals, and their own text names no problem: ``str()`` of
``Decimal(1) / 0`` is ``[<class 'decimal.DivisionByZero'>]``, of ``Decimal("abc")``
``[<class 'decimal.ConversionSyntax'>]``. A run recorded that as the strategy's error, and
the CLI, ``status``, the evidence and the testing kit showed it. ``decimal_words`` gives
the words instead, and the condition when the exception's name is not it:
``DivisionByZero: division by zero``, ``InvalidOperation: a text that is no number
(decimal.ConversionSyntax)``.
"""

from __future__ import annotations

import decimal
from typing import Final

__all__ = ["decimal_words"]

_WORDS: Final = {
    "DivisionByZero": "division by zero",
    "DivisionUndefined": "0 divided by 0",
    "DivisionImpossible": "an integer division whose result has more digits than the precision",
    "ConversionSyntax": "a text that is no number",
    "InvalidOperation": (
        "an operation with no defined result (a NaN compared or quantized, a quantize past "
        "the precision, the square root of a negative number)"
    ),
    "InvalidContext": "an invalid decimal context",
    "Overflow": "a result too large for the exponent range",
    "Underflow": "a result too small for the exponent range",
    "FloatOperation": "a float mixed with a Decimal (make it Decimal(str(x)))",
}


def decimal_words(exc: BaseException) -> str | None:
    """The words for ``exc``, a signal ``decimal`` raised as it does; None for any other.

    Only the form ``decimal`` itself gives (its one argument, the list of the conditions
    that occurred): an exception of a ``decimal`` class raised with a message of its own
    (``raise decimal.InvalidOperation("bad tick")``) keeps it.
    """
    if not isinstance(exc, decimal.DecimalException) or len(exc.args) != 1:
        return None
    (conditions,) = exc.args
    if not isinstance(conditions, list) or not conditions:
        return None
    said = []
    for condition in conditions:
        if not (isinstance(condition, type) and issubclass(condition, decimal.DecimalException)):
            return None
        name = condition.__name__
        words = _WORDS.get(name)
        if words is None:
            said.append(f"decimal.{name}")
        else:  # the condition named when it is not the exception's own name
            said.append(words if name == type(exc).__name__ else f"{words} (decimal.{name})")
    return "; ".join(said)
