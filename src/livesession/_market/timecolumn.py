"""A data file's time column: its times read in one form, in a run's range, increasing.

The first row decides the form (ISO 8601 text, or an epoch number of the unit its magnitude
tells: ``timeforms``); every time must lie where a run's time can (``timerange``: from
1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z) and increase strictly.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._domain.timerange import RANGE_NOTE, outside
from .datafail import fail
from .timeforms import NANO_DIGITS, epoch_unit, finite_number, fraction_digits, text_ns

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["TimeColumn"]


class TimeColumn:
    """Strictly increasing times in one column: ISO 8601 dates and times, or epoch numbers."""

    def __init__(self, path: Path, column: str) -> None:
        self.path = path
        self.column = column
        self.scale: int | None = None  # ns per epoch unit; 0: ISO text (the first row decides)
        self.last: int | None = None
        self.last_text = ""
        self.last_line = 0
        self.first_text: str | None = None
        self.first_ns: int | None = None

    def parse(self, text: str, line: int) -> int:
        """``text`` in nanoseconds since the epoch, in the form of the file's first time."""
        first = self.scale is None
        if self.scale is None:
            number = finite_number(text) if text_ns(text) is None else None
            self.scale = 0 if number is None else epoch_unit(number)[0]
        if self.scale:
            number = finite_number(text)
            if number is not None:
                return int((number * self.scale).to_integral_value())
            form = "an epoch number like the first row's"
        else:
            when = text_ns(text)
            if when is not None:
                return when
            digits = fraction_digits(text)
            if digits > NANO_DIGITS:
                raise fail(
                    self.path, line, self.column, text,
                    f"a fraction of a second of {digits} digits: a run records times to the "
                    f"nanosecond ({NANO_DIGITS} digits at most); write the times to it",
                )  # fmt: skip
            form = (
                "a date or time (ISO 8601, or DD.MM.YYYY) nor an epoch number"
                if first
                else "a date or time like the first row's"
            )
        raise fail(self.path, line, self.column, text, f"not {form}")

    def add(self, text: str, line: int) -> int:
        """``parse``, checked: within a run's range, and later than the row before."""
        when = self.parse(text, line)
        problem = outside(when)
        if problem is not None:
            raise fail(
                self.path, line, self.column, text,
                f"a time {problem}: {RANGE_NOTE}; drop the rows outside that range",
            )  # fmt: skip
        if self.last is not None and not when > self.last:
            why = f"time does not increase (line {self.last_line} has {self.last_text})"
            if when == self.last:
                why += ": the same time twice (a duplicated row?)"
            elif self.last == self.first_ns:
                why += ": the file runs newest first; sort it oldest first"
            raise fail(self.path, line, self.column, text, why)
        if self.first_text is None:
            self.first_text, self.first_ns = text, when
        self.last, self.last_text, self.last_line = when, text, line
        return when
