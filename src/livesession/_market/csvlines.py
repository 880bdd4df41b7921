"""A CSV data file's lines as its check reads them: each one ``LONGEST_LINE + 1`` bytes at most.

And the start of a zip archive (a workbook saved as ``.csv``), whose first "line" is read
on past its end to see its first entry's name.
"""

from __future__ import annotations

from typing import IO, TYPE_CHECKING, Final

from .csvforms import LONGEST_LINE

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ZIP", "ZIP_NAMES", "lines", "upto"]


def lines(stream: IO[bytes], left: int | None) -> Iterator[bytes]:
    """The lines ``stream`` reads on, to its end or for ``left`` bytes at most.

    A line is read ``LONGEST_LINE + 1`` bytes at most: a longer one is refused there.
    """
    while (left is None or left > 0) and (raw := stream.readline(upto(left))):
        if left is not None:
            left -= len(raw)
        yield raw


ZIP: Final = b"PK\x03\x04"
ZIP_NAMES: Final = 128
"""A zip archive's start, and the bytes read past its first line to see its first entry's
name (``[Content_Types].xml``: a workbook, whatever the file is called)."""


def upto(left: int | None) -> int:
    """The most bytes to read as one line: ``LONGEST_LINE + 1``, or ``left`` if fewer."""
    return LONGEST_LINE + 1 if left is None else min(left, LONGEST_LINE + 1)
