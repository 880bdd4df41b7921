"""A CSV data file checked whole, and hashed, in one pass before a run uses it.

``check_csv`` reads every byte once: it feeds them to SHA-256 and parses each row. The
first problem stops the check with a ``DataFileError`` naming the file, the line, the
column and the value, so that a run never starts on data it would trip over later:

- the header lacks one of ``open,high,low,close,volume`` (or repeats a column);
- a row is not CSV, not UTF-8, has more or fewer values than the header, or an empty one;
- a value is not a finite decimal number; a price is not positive (``-0`` neither), or
  is more than 28 digits from the tick; a volume is negative (``-0`` too: it would be
  recorded with its sign), or other than 0 and more than 28 digits from 1;
- a price is off the ``price_tick`` grid (prices are never rounded: set ``price_tick``);
  without a tick the grid is inferred instead: the finest decimal step among the prices
  as written (``1.07160`` has five places: ``0.00001``; whole numbers: ``1``);
- ``high < low``, or ``open``/``close`` outside ``[low, high]`` (a bar no market prints);
- a time column (the first of ``timestamp``, ``time``, ``datetime``, ``date``,
  ``open_time`` or ``ts``, in that order and any case, that the header has; else an
  unnamed first column, as pandas writes the index) holds a value that is not a time
  (the forms of ``timeforms``: ISO 8601, ``DD.MM.YYYY``, or, as the first row decides, an
  epoch number), lies outside the times a run can record (``timerange``:
  1970-01-01T00:00:00Z to 2262-04-11T23:47:16Z), or does not increase strictly. A
  ``date`` and a ``time`` column (and no other) whose first ``time`` is a time of day are
  one time, split in two (``timeforms.time_text``);
- a file without a time column writes a time in a column of another name (``Datum``):
  its bars would play on the session's grid, at times the data never had.

The separator and the decimal mark are those of ``csvforms``: a spreadsheet's ``;`` and
decimal commas read as well as the usual ``,`` and points.

Volumes are market volumes, not order quantities: they are not checked against the lot.
"""

from __future__ import annotations

import csv
import hashlib
import os
from decimal import Decimal
from pathlib import Path
from typing import IO, Final

import attrs

from .._domain.decimal import with_context
from .._exceptions import DataFileError
from .cellwords import cell_words, number_words
from .checkshown import shown
from .csvforms import DecimalMark, line_too_long, not_a_row, split
from .csvheader import PRICE_COLUMNS, REQUIRED_COLUMNS, not_utf8, read_header
from .csvlines import ZIP, ZIP_NAMES, lines, upto
from .datacheck import DataFileCheck, same_symbol
from .datafail import as_written, show, unfinished
from .datafail import fail as _fail
from .dataopen import grew_past, open_data_file
from .datavalues import PriceGrid, blank_row, check_tick, missing_value, read_number, volume_problem
from .joins import header_again
from .quickrow import quick_row
from .timecolumn import UNNAMED_TIME, TimeColumn, last_line
from .timeforms import is_time_of_day, time_text, unread_time

__all__ = [
    "PRICE_COLUMNS",
    "REQUIRED_COLUMNS",
    "SPLIT_TIME",
    "DataFileCheck",
    "RowChecker",
    "TimeColumn",
    "check_csv",
    "same_symbol",
    "scan_csv",
]

TIME_COLUMNS: Final = ("timestamp", "time", "datetime", "date", "open_time", "ts")
SYMBOL_COLUMNS: Final = ("symbol", "ticker")
"""A column naming each row's instrument (the first of these the header has), optional."""
_COMMENT: Final = (
    "a comment line ('#'), which a data file may not hold: delete such lines "
    "(`grep -v '^#' in.csv > out.csv`)"
)
_TWO_LEVELS: Final = (
    "a second header line (yfinance writes its columns in two levels, Price and Ticker, and "
    "a Date line after them): write one header line, with `yf.download(..., "
    "multi_level_index=False)`, or `df.columns = df.columns.droplevel('Ticker')` before "
    "`df.to_csv(...)`"
)
_NO_ROWS: Final = (
    "no data rows after the header (an export of a range with no bars?): export the bars again"
)
_KNOWN_COLUMNS: Final = frozenset((*REQUIRED_COLUMNS, *TIME_COLUMNS, *SYMBOL_COLUMNS))
SPLIT_TIME: Final = "date time"
"""The name errors give a time split in a ``date`` and a ``time`` column."""


@attrs.frozen
class CsvLayout:
    """Where a checked file's data starts, and which cell holds each required column.

    ``checker`` is the one its rows passed: the time column's form, the separator and the
    decimal mark it found (``RowChecker.replaying`` checks the rows again as they play).
    """

    check: DataFileCheck
    data_offset: int
    index: dict[str, int]
    checker: RowChecker


_NO_VOLUME: Final = " (0 where the market reports none, as an FX pair's or an index's bars)"
_NOT_ABOVE_ZERO: Final = (
    " (a position, its PnL and the rails' notionals are valued at prices above 0: a market "
    "quoted at or below 0, as WTI crude oil futures were on 2020-04-20, cannot be played there)"
)


class RowChecker:
    """The per-row checks, over one header and one price grid."""

    def __init__(
        self, path: Path, names: list[str], tick: Decimal | None, delimiter: str = ","
    ) -> None:
        self.path = path
        self.names = names
        self.tick = tick
        self.delimiter = delimiter
        self.mark = DecimalMark(delimiter)  # the rows tell it
        self.first_row = True
        self.grid = PriceGrid(tick)
        self.fix = ": correct the row, or drop it"  # a bad bar's; none as a run plays the file
        # The first of TIME_COLUMNS the header has (their order, not the header's: a
        # ``date,timestamp`` file is read from ``timestamp``), as docs/data.md says.
        named = next((n for n in TIME_COLUMNS if n in names), None)
        if named is not None:
            self.time_index: int | None = names.index(named)
            self.time_column: str | None = named
        elif names and not names[0]:  # an unnamed first column, as pandas' to_csv writes
            self.time_index, self.time_column = 0, UNNAMED_TIME
        else:
            self.time_index, self.time_column = None, None
        self.times = None if self.time_column is None else TimeColumn(path, self.time_column)
        self.day_index: int | None = None
        others = [n for n in names if n in TIME_COLUMNS and n not in ("date", "time")]
        # A time split in "date" and "time": the first row decides (``_split_time``).
        self._split = (
            (names.index("date"), names.index("time"))
            if "date" in names and "time" in names and not others
            else None
        )
        self.symbol_column = next((n for n in names if n in SYMBOL_COLUMNS), None)
        self.symbol: str | None = None  # the first row's, which every row must repeat
        self.symbol_line = 0

    def cells(self, raw: bytes, line: int) -> list[str]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(
                self.path, line, None, None, not_utf8(exc, self.path if self.fix else None)
            ) from None
        try:
            cells = split(text, self.delimiter)
        except csv.Error as exc:
            raise _fail(self.path, line, None, text.rstrip("\r\n"), not_a_row(text, exc)) from None
        again = header_again(cells, self.names)
        if again is not None:
            raise _fail(self.path, line, None, text.strip(), again)
        if len(cells) < len(self.names):
            if text.lstrip().startswith("#"):
                raise _fail(self.path, line, None, text.strip(), _COMMENT)
            missing = self.names[len(cells)]
            raise _fail(
                self.path, line, missing, "",
                f"missing value (the row has {len(cells)} values, the header {len(self.names)})",
            )  # fmt: skip
        if len(cells) > len(self.names):
            raise _fail(
                self.path, line, f"#{len(self.names) + 1}", cells[len(self.names)],
                f"extra value (the row has {len(cells)} values, the header {len(self.names)})",
            )  # fmt: skip
        return [cell.strip() for cell in cells]

    def row_ns(self, raw: bytes | None) -> int | None:
        """The time of the row ``raw``, or None (no row, or one whose time cannot be read)."""
        if raw is None or self.times is None or self.time_index is None:
            return None
        try:
            cells = self.cells(raw, 0)
            return self.times.parse(time_text(cells, self.time_index, self.day_index), 0)
        except DataFileError:
            return None

    def _numbers(self, cells: list[str], index: dict[str, int], line: int) -> dict[str, Decimal]:
        values: dict[str, Decimal] = {}
        misread = self.mark.tell({c: cells[index[c]] for c in REQUIRED_COLUMNS}, line)
        if misread is not None:
            raise _fail(self.path, *misread)
        for column in REQUIRED_COLUMNS:
            text = cells[index[column]]
            missing = missing_value(text, column)
            if missing is not None:
                none_reported = _NO_VOLUME * bool(self.fix and column == "volume")
                raise _fail(
                    self.path, line, column, text, blank_row(cells) or missing + none_reported
                )
            try:
                value = read_number(
                    text, decimal_comma=bool(self.mark.comma), delimiter=self.delimiter
                )
            except ValueError as exc:  # the check says what the cell looks like (``cell_words``)
                said = (self.fix and (cell_words(text, column) or number_words(str(exc)))) or str(
                    exc
                )
                raise _fail(self.path, line, column, text, said) from None
            values[column] = value
        return values

    def check(
        self, cells: list[str], index: dict[str, int], line: int
    ) -> tuple[dict[str, Decimal], int | None]:
        """Check one row (``cells``, line ``line``): its numbers, and its time if it has one.

        The symbol comes first: the first row of a second symbol is what to refuse in a file
        of several ("long" format), not its time (each symbol's times start over, or repeat
        the first's) nor its prices (off the first one's grid).
        """
        if self.symbol_column is not None:
            self._one_symbol(cells[self.names.index(self.symbol_column)], line)
        if self.first_row and self.names[0] == "price" and cells[0].lower() == "ticker":
            raise _fail(self.path, line, None, self.delimiter.join(cells), _TWO_LEVELS)
        if self.first_row and self.times is None:  # the first row, undated
            self._no_unread_time(cells, line)
        self.first_row = False
        values = self._numbers(cells, index, line)
        for column in PRICE_COLUMNS:
            text = cells[index[column]]
            problem = self.grid.problem(values[column], text, line, column)
            if problem is not None:  # a price of 0 or less is a bad bar; one off the grid is told
                fix = (_NOT_ABOVE_ZERO + self.fix) * bool(self.fix and values[column] <= 0)
                raise _fail(self.path, line, column, text, problem + fix)
        problem = volume_problem(values["volume"])
        if problem is not None:
            fix = self.fix * (problem == "negative volume")
            raise _fail(self.path, line, "volume", cells[index["volume"]], problem + fix)
        low, high = values["low"], values["high"]
        if high < low:
            said = f"high is below low {low}{self.fix}"
            raise _fail(self.path, line, "high", cells[index["high"]], said)
        for column in ("open", "close"):
            if not low <= values[column] <= high:
                raise _fail(
                    self.path, line, column, cells[index[column]],
                    f"{column} is outside [low {low}, high {high}]{self.fix}",
                )  # fmt: skip
        return values, self.time_of(cells, line)

    def row(
        self, raw: bytes, index: dict[str, int], line: int
    ) -> tuple[dict[str, Decimal], int | None]:
        """``check`` of the line ``raw``: a common row read fast (``quick_row``), as alike."""
        quick = quick_row(self, raw, index, line)
        return self.check(self.cells(raw, line), index, line) if quick is None else quick

    def time_of(self, cells: list[str], line: int) -> int | None:
        """The time of a row whose other values passed (None: the file has no time column)."""
        if self._split is not None:
            self._split_time(cells)
        if self.times is None or self.time_index is None:
            return None
        for at in (self.day_index, self.time_index):
            if at is not None and not cells[at]:
                raise _fail(self.path, line, self.names[at], "", "empty value")
        return self.times.add(time_text(cells, self.time_index, self.day_index), line, cells)

    def replaying(self) -> RowChecker:
        """A checker of the rows this one passed, for a feed to check them again as it plays.

        No row seen yet, and what this one found: the grid (a price off it was written
        since: ``PriceGrid.found``), the decimal mark, the time column's form and the symbol.
        """
        again = RowChecker(self.path, self.names, self.found_tick, self.delimiter)
        again.grid.found, again.fix = True, ""  # a row changed since its check: restore it
        again.mark.comma, again._split, again.first_row = bool(self.mark.comma), None, False
        again.time_index, again.day_index = self.time_index, self.day_index
        again.time_column = self.time_column
        again.times = None if self.times is None else self.times.replaying()
        again.symbol, again.symbol_line = self.symbol, self.symbol_line
        return again

    def _split_time(self, cells: list[str]) -> None:
        """At the first row: a ``time`` of day beside a ``date`` makes one time of the two."""
        assert self._split is not None  # noqa: S101 - the caller checked
        day, time = self._split
        self._split = None
        if self.times is not None and is_time_of_day(cells[time]):
            self.day_index, self.time_index, self.time_column = day, time, SPLIT_TIME
            self.times.column = SPLIT_TIME

    def _no_unread_time(self, cells: list[str], line: int) -> None:
        """Refuse a file whose times sit in a column of another name (``Datum``, ``Fecha``).

        Its bars would play on the session's grid and the run would record times the data
        never had: a time in any form, or any value of a column named as times (``Gmt time``,
        ``Open time``); a number under another name is no time (an id, a count).
        """
        for name, text in zip(self.names, cells, strict=True):
            if name in _KNOWN_COLUMNS or not unread_time(name, text):
                continue
            raise _fail(
                self.path, line, name, text,
                f"a time in a column not read as the bars' time: name it {TIME_COLUMNS[0]} "
                f"(or {', '.join(TIME_COLUMNS[1:])}) to replay the bars at the file's times, "
                "or drop the column to play them on the session's grid",
            )  # fmt: skip

    def _one_symbol(self, text: str, line: int) -> None:
        """A file is one instrument's bars: every row's symbol is the first row's."""
        if not text:
            raise _fail(self.path, line, self.symbol_column, text, "empty value")
        if self.symbol is None:
            self.symbol, self.symbol_line = text, line
        elif not same_symbol(text, self.symbol):
            raise _fail(
                self.path, line, self.symbol_column, text,
                f"a second symbol (line {self.symbol_line} has {self.symbol}): a data file "
                "holds one instrument's bars, and a session trades one symbol: write each "
                "symbol's rows, under the header, to a file of its own and run a session on "
                'each (docs/concepts.md, "One symbol a session")',
            )  # fmt: skip

    def result(self, *, sha256: str, size: int, rows: int) -> DataFileCheck:
        """What the check of a whole file found, once every row passed.

        Without a tick given, the largest price is held to the grid inferred from all of
        them, as a given tick holds each price as it comes.
        """
        untold = self.mark.untold()
        if untold is not None:
            raise _fail(self.path, *untold)
        too_far = self.grid.largest_problem()
        if too_far is not None:
            text, line, column, problem = too_far
            raise _fail(self.path, line, column, text, problem)
        times = self.times
        return DataFileCheck(
            path=self.path,
            sha256=sha256,
            size=size,
            rows=rows,
            time_column=self.time_column,
            first_time=None if times is None else times.first_text,
            last_time=None if times is None else times.last_text,
            first_ns=None if times is None else times.first_ns,
            last_ns=None if times is None else times.last,
            price_tick=self.found_tick,
            tick_from=self._tick_from(),
            symbol=self.symbol,
            symbol_column=self.symbol_column,
            symbol_line=self.symbol_line,
        )

    @property
    def found_tick(self) -> Decimal:
        """The tick given, or inferred: the finest decimal step of the prices as written."""
        return self.grid.found_tick

    def _tick_from(self) -> str | None:
        """Where an inferred tick comes from, for a refusal at it (``DataFileCheck.tick_from``)."""
        if self.tick is not None or self.grid.finest is None:
            return None
        text, line, column = self.grid.finest
        return f"line {line}, column {column}, value {show(text)}"


@with_context
def scan_csv(
    stream: IO[bytes], path: Path, *, tick: Decimal | None, size: int | None = None
) -> CsvLayout:
    """Check and hash the whole file ``stream`` reads (from its start; it ends at its end).

    ``size``: its first ``size`` bytes only, the bytes a run read and recorded
    (``feed_bytes``): a resumed run checks and plays those, and rows appended to the file
    since are neither (a shorter file is read to its end: the caller compares the hash).
    Without ``size``, a last line without its line end in a file grown since is a row still
    being written: the check ends before it.
    """
    digest = hashlib.sha256()
    raw = stream.readline(upto(size))
    if raw.startswith(ZIP):  # refused; its first "line" may end before the entry's name
        raw += stream.read(ZIP_NAMES)  # (a 0x0A in its time or CRC): a workbook's is there
    digest.update(raw)
    delimiter, names, index, points, written = read_header(path, raw)
    data_offset = len(raw)
    size_read, rows, line = data_offset, 0, 1
    checker = RowChecker(path, names, tick, delimiter)
    checker.mark.comma = False if points else checker.mark.comma  # MetaTrader's: points
    if checker.times is not None:  # the last row's time, asked when the second goes back
        checker.times.last_row = lambda: checker.row_ns(last_line(stream, size))
    for raw in shown(
        lines(stream, None if size is None else size - data_offset), stream, data_offset, size
    ):
        line += 1
        if (too_long := line_too_long(raw)) is not None:
            raise _fail(path, line, None, None, too_long)
        if size is None and not raw.endswith(b"\n") and grew_past(stream, size_read + len(raw)):
            break  # a row still being written: neither checked nor played (``grew_past``)
        digest.update(raw)
        size_read += len(raw)
        if not raw.strip():
            continue  # blank lines are skipped, by the check and by the feed
        try:
            checker.row(raw, index, line)
        except DataFileError as exc:
            said = exc if raw.endswith(b"\n") else unfinished(exc)
            raise as_written(said, names, written) from None
        rows += 1
    if rows == 0:
        raise _fail(path, 2, None, None, _NO_ROWS)
    return CsvLayout(
        check=checker_result(
            checker, names, written, sha256=digest.hexdigest(), size=size_read, rows=rows
        ),
        data_offset=data_offset,
        index=index,
        checker=checker,
    )


def checker_result(
    checker: RowChecker, names: list[str], written: list[str], *, sha256: str, size: int, rows: int
) -> DataFileCheck:
    """``checker.result``, its column named as the header writes it (``written``).

    As a row's error names it; the symbol column too, which a symbol not the session's is
    refused by.
    """
    try:
        check = checker.result(sha256=sha256, size=size, rows=rows)
    except DataFileError as exc:
        raise as_written(exc, names, written) from None
    symbol = check.symbol_column
    shown = symbol if symbol is None else written[names.index(symbol)]
    return attrs.evolve(check, symbol_column=shown)


def check_csv(path: str | os.PathLike[str], *, tick: Decimal | None) -> DataFileCheck:
    """Check the whole CSV file at ``path`` against ``tick`` and hash it, in one pass.

    ``tick=None`` infers the price grid instead (``DataFileCheck.price_tick``). A tick that
    is neither None nor a positive ``Decimal`` (a float, a str, 0) is a ``ConfigError``
    naming it, before the file is opened.

    Raises ``DataFileError`` (a ``ConfigError``) naming the file, line, column and value of
    the first problem. The header needs ``open,high,low,close,volume``; other columns are
    allowed, and a time column is checked to increase strictly.
    """
    check_tick(tick)
    path = Path(path)
    with open_data_file(path) as stream:
        return scan_csv(stream, path, tick=tick).check
