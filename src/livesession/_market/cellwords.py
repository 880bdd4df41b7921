"""What a price or volume cell that is no number looks like, and what to do, for the check.

Spreadsheets and their exports write cells no bar can be made of: an error a formula gave
(``#VALUE!``, ``#DIV/0!``), a dash standing for no value (``-``, ``—``), a number formatted
as money (``$1.50``, ``1,5 €``, ``1.50 USD``) or as a percentage (``1.5%``), a zero-width
space or a byte order mark a copy left in a cell that shows empty. Told only
"not a decimal number", the user looked at a value they read as a number, or as no value.
``cell_words`` names the kind of cell and the way out; a cell of no such kind gets "" and
keeps the general words. Only the data file's check says them: a run that meets such a row
(the file changed while it played) says what it said before.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

__all__ = ["cell_words", "number_words"]

_SHEET_ERROR: Final = re.compile(r"#[A-Z][A-Z0-9_/.]*[!?]?", re.IGNORECASE)
"""A spreadsheet's error value: ``#VALUE!``, ``#REF!``, ``#NAME?``, ``#DIV/0!``, ``#NUM!``."""
_DASHES: Final = frozenset("-\u2010\u2011\u2012\u2013\u2014\u2015\u2212")
"""A hyphen-minus, the Unicode dashes and the minus sign: a placeholder, alone or repeated."""
_CODE: Final = re.compile(r"([A-Z]{3})\s*[-+0-9.,]|[0-9.,]\s*([A-Z]{3})")
"""A number written beside a currency's ISO code: ``USD 1.50``, ``1.50 USD``."""
_INVISIBLE: Final = frozenset("\u200b\u200c\u200d\u2060\ufeff")
"""The zero-width characters and the byte order mark: a cell of them alone shows empty."""
_AS_NUMBERS: Final = "format the cells as numbers, not {}, before saving"


_INFINITE: Final = frozenset({"inf", "infinity", "+inf", "-inf", "+infinity", "-infinity"})
"""How Python, pandas and C write an infinite float (``inf``, ``-inf``, ``Infinity``)."""
_MINUS: Final = re.compile(r"[\u2212\u2012\u2013\ufe63\uff0d][0-9.]")
"""A minus sign (U+2212) or a dash standing for one before a number, as typeset text has it."""
_FORM: Final = " (write the digits 0-9, a point, an exponent: 1.0842, 1e-05, 2.5E+3)"


def number_words(said: str) -> str:
    """``said`` of a cell Decimal cannot read, and how a number is written when it says no more.

    ``0x1F``, ``1.2.3`` or ``x`` was told "not a decimal number" and no more: what to write
    instead is the form a number takes here.
    """
    return said + _FORM if said == "not a decimal number" else said


def cell_words(text: str, column: str) -> str:
    """What the cell ``text`` of ``column`` looks like and what to do ("" when none is told)."""
    if text.lower() in _INFINITE:  # an export's float that overflowed or divided by zero
        return (
            "not a finite number (a division by zero or an overflow, where the export computed "
            "it?): correct the row, or drop it"
        )
    if _MINUS.match(text):  # never "-": no price is below 0, nor a volume
        what = unicodedata.name(text[0], "a dash")
        never = "a volume is never below 0" if column == "volume" else "a price is above 0"
        return (
            f"a minus sign written as U+{ord(text[0]):04X} {what} (typeset text's), not '-'; "
            f"and {never}: correct the row, or drop it"
        )
    if _SHEET_ERROR.fullmatch(text):
        return (
            "a spreadsheet's error value (a formula that failed): correct the formula in the "
            "sheet and export again, or drop the row"
        )
    hidden = next((ch for ch in text if unicodedata.category(ch) == "Cf"), None)
    shown = text.strip("".join(_INVISIBLE | {hidden or ""}))
    if (text and set(text) <= _DASHES) or (hidden and not shown):
        what = "a placeholder dash" if hidden is None else _invisible(hidden)
        return f"{what}, no value: drop the row, or fill in its {column}"
    return _beside(text, hidden)


def _beside(text: str, hidden: str | None) -> str:
    """What is written beside the number: a currency, a percent sign, an invisible character."""
    if hidden is not None:  # a zero-width space, a byte order mark pasted with the number
        return f"{_invisible(hidden)} in it: write the number alone"
    sign = next((ch for ch in text if unicodedata.category(ch) == "Sc"), None)
    code = None if sign is not None else _CODE.search(text)
    if sign is not None or code is not None:
        what = f"sign ({sign})" if code is None else f"code ({code.group(1) or code.group(2)})"
        money = _AS_NUMBERS.format("currency")
        return f"a currency {what} beside the number: write the number alone ({money})"
    if text.endswith("%") and len(text) > 1:
        return f"a percent sign: write the number alone ({_AS_NUMBERS.format('percentages')})"
    return ""


def _invisible(char: str) -> str:
    return f"an invisible character (U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})"
