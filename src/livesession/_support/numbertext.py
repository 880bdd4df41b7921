"""Numbers as text: the one form a data file, a config and a command line may write one.

A **number** is written with the ASCII digits ``0-9``, an optional sign, at most one
decimal point and an optional exponent (``1e5``, ``8.9E-7``); an **integer** with the
digits and an optional sign. Nothing else Python reads is taken: ``Decimal`` and ``int``
read ``1_0`` as 10, `` 10 `` with its spaces, full-width digits (U+FF10-FF19) and other
scripts' (Arabic-Indic U+0661 U+0660) as 10 too. A digit group separator is never dropped, and no
other script's digits are read. The module imports nothing from the package.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = [
    "digits_hint",
    "integer_form_problem",
    "is_number_text",
    "number_form_problem",
    "unread_hint",
]

_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
"""A number as a data file may write it (with a point: a decimal comma is made one first)."""
_INTEGER: Final = re.compile(r"[+-]?[0-9]+")
_FORM: Final = " (write the digits 0-9, a point, an exponent)"
_TYPESET_MINUS: Final = "\u2212\u2012\u2013\ufe63\uff0d"
"""The minus sign (U+2212) and the dashes typeset text writes for one, which look like ``-``."""


def is_number_text(text: str) -> bool:
    """Whether ``text`` is a number in the one form a data file may write one."""
    return _NUMBER.fullmatch(text) is not None


def number_form_problem(text: str) -> str | None:
    """Why ``text``, which ``Decimal`` reads, is no number a data file may write (None: it is)."""
    if is_number_text(text):
        return None
    hint = digits_hint(text)
    return "not a decimal number" + (hint or _FORM)


def integer_form_problem(text: str) -> str | None:
    """Why ``text`` is no integer as a number is written (None: it is), ``int`` aside."""
    if _INTEGER.fullmatch(text) is not None:
        return None
    return "not an integer" + (digits_hint(text) or " (write the digits 0-9)")


def digits_hint(text: str) -> str:
    """Why text with a ``_``, a space or digits other than ``0-9`` is not read, for the error."""
    if "_" in text and is_number_text(text.replace("_", "")):
        return " (a '_' digit group separator? write numbers without one: it is never dropped)"
    if any(ch.isdigit() and not ch.isascii() for ch in text):
        return " (digits other than 0-9, full-width or another script's: write ASCII digits)"
    if text != text.strip() and is_number_text(text.strip()):
        return " (spaces around it: write the number alone)"
    return ""


def unread_hint(text: str) -> str:
    """What to write instead of ``text``, which ``Decimal`` does not read, for its refusal.

    ``'1,000.50'``, ``'\u22125'`` (a typeset minus sign) and ``'0x10'`` were told "is not a
    decimal number" and no more.
    """
    if "," in text and is_number_text(text.replace(",", "")):
        return " (a thousands separator? write numbers without one)"
    if text[:1] and text[0] in _TYPESET_MINUS and is_number_text("-" + text[1:]):
        return f" (its minus sign is U+{ord(text[0]):04X}, not '-': write -{text[1:]})"
    return digits_hint(text) or _FORM
