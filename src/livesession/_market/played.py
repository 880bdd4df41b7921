"""A checked CSV file as its feed plays it: each row checked again, its bytes hashed again.

``scan_csv`` checks and hashes the whole file when the feed opens; the feed then reads it
again, row by row, for as long as the run goes on. A file rewritten in place meanwhile, at
the same size (high and low swapped on a later row, a time moved back, a price changed on
the grid), would have the run play bars its check never saw, while ``config.json`` names
the bytes it did (``feed_sha256``). So each row played passes the check's own per-row
checks again (``RowChecker.replaying``: the header, grid, decimal mark, time form and
symbol the check found, each time later than the row before), and the bytes played are
hashed again: at the checked end they must hash to the check's SHA-256, else the file
changed during the run (a change no row's check tells: a price moved on the grid).

A problem is a ``DataFileError`` naming the file's line, as the check's are (the header is
line 1, and blank lines count).
"""

from __future__ import annotations

import hashlib
from typing import IO, TYPE_CHECKING

from .._exceptions import DataFileError

if TYPE_CHECKING:
    from decimal import Decimal
    from pathlib import Path

    from .datafile import CsvLayout

__all__ = ["PlayedFile"]

_RESTORE = "the file changed while the run read it; restore the file the run read"


class PlayedFile:
    """The rows of a checked CSV file, read again from ``stream`` within its checked extent."""

    def __init__(self, stream: IO[bytes], path: Path, layout: CsvLayout) -> None:
        self._stream = stream
        self._path = path
        self._index = layout.index
        self._found = layout.checker
        self._rows = layout.checker.replaying()
        self._sha256 = layout.check.sha256
        self._end = layout.check.size  # the checked extent: rows past it are never read
        self._digest = hashlib.sha256()
        self.line = 0
        """The file's line last read (the header is line 1)."""
        self.seek(layout.data_offset)

    def seek(self, offset: int) -> None:
        """Play on from ``offset``, the start of a row: a run's first, or a resumed run's next.

        The bytes before it are read and hashed again (the bytes a run plays are all of the
        checked ones, once), and the row before it is checked again, the last one played:
        the next row's time must come after its time.
        """
        stream, digest, line = self._stream, hashlib.sha256(), 0
        stream.seek(0)
        last: tuple[bytes, int] | None = None
        while stream.tell() < offset and (raw := stream.readline(offset - stream.tell())):
            digest.update(raw)
            line += 1
            if line > 1 and raw.strip():
                last = (raw, line)
        if stream.tell() != offset:
            raise self._cut_short(line, offset)
        self._digest, self.line, self._rows = digest, line, self._found.replaying()
        if last is not None:
            self._check(*last)

    @property
    def offset(self) -> int:
        """Where the next row starts."""
        return self._stream.tell()

    def next_row(self) -> tuple[dict[str, Decimal], int | None] | None:
        """The next row's numbers and time (None without a time column); None at the end.

        The end is the checked one, where the bytes played must hash as the check's did.
        """
        raw = self._next_line()
        while raw and not raw.strip():
            raw = self._next_line()
        if not raw:
            self._hashed_as_checked()
            return None
        return self._check(raw, self.line)

    def _check(self, raw: bytes, line: int) -> tuple[dict[str, Decimal], int | None]:
        rows = self._rows
        try:
            return rows.row(raw, self._index, line)
        except DataFileError as exc:
            raise DataFileError(
                f"{exc}: {_RESTORE}", path=exc.path, line=exc.line, column=exc.column,
                value=exc.value,
            ) from None  # fmt: skip

    def _next_line(self) -> bytes:
        """The next line of the checked extent (empty past its end), hashed.

        Read to the checked end at most: a last row written without a line end is not
        joined to a row appended after the check. A file that ends before that end was cut
        short (rewritten) while the run read it: the feed's error, never a quiet early end.
        """
        stream = self._stream
        left = self._end - stream.tell()
        if left <= 0:
            return b""
        raw = stream.readline(left)
        self.line += 1
        self._digest.update(raw)
        if not raw.endswith(b"\n") and stream.tell() < self._end:
            raise self._cut_short(self.line, self._end)
        if not raw.endswith(b"\n") and self._row_went_on():
            raise self._error(
                self.line,
                "the last row the check read had no line end, and the file has grown on from "
                "it since: its writer had not finished the row (a volume of 10 for 100), which "
                "is not played; run again once the file's last row is whole",
            )
        return raw

    def _row_went_on(self) -> bool:
        """Whether the file goes on past the checked end within its last row (no line end).

        A last row read without its line end in a file that had not grown yet (its writer
        paused mid-row) may be cut short: if the file now goes on from it, it was.
        """
        stream = self._stream
        went_on = stream.read(1) not in (b"", b"\n", b"\r")
        stream.seek(self._end)
        return went_on

    def _cut_short(self, line: int, end: int) -> DataFileError:
        return self._error(
            line, f"the file now ends before the {end} bytes its check read: {_RESTORE}"
        )

    def _hashed_as_checked(self) -> None:
        """At the checked end: the bytes played must be the bytes the check hashed."""
        played = self._digest.hexdigest()
        if played != self._sha256:
            raise self._error(
                self.line,
                f"the file changed during the run: the {self._end} bytes it played hash to "
                f"{played[:12]}..., not to {self._sha256[:12]}... (feed_sha256), the bytes its "
                "check read; restore the file the run read",
            )

    def _error(self, line: int, problem: str) -> DataFileError:
        return DataFileError(
            f"data file {self._path}, line {line}: {problem}",
            path=self._path,
            line=line,
            column=None,
            value=None,
        )
