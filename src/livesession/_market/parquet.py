"""Bars replayed from a Parquet file (the ``parquet`` extra: ``pyarrow``).

The file is hashed and checked whole when the feed opens, by the same rules as a CSV file
(``datafile.py``): the columns ``open,high,low,close,volume`` in any case, an optional
time column (named ``timestamp``, ``time``, ``datetime``, ``date``, ``open_time`` or
``ts``, or the index pandas writes, ``__index_level_0__``), prices on the ``price_tick``
grid and never rounded, times strictly increasing. A message's "line N" counts as a CSV
export of the same table would: the header is line 1, the first row line 2; a row's message
names the table's row beside it, from 0 (``_with_row``).

Values become the text their type prints: a decimal column its digits, a float column its
shortest round-trip text at its own width (``repr``: ``1.0716``, as the program that wrote
it printed it; a float32 column's ``1.0842``, not its float64 ``1.0842000246047974``), a
timestamp column an ISO 8601 time in UTC (a timestamp without a timezone is UTC), a date
column an ISO 8601 date. Unlike the CSV feed, the table is held in memory while it plays,
as Arrow holds it; its cells are made text ``_CHUNK`` rows at a time (``_RowTexts``), never
all at once (a million rows' texts took some 750 MB).

The file is decoded on the calling thread, through ``ParquetFile.read(use_threads=False)``,
which starts no thread of Arrow's (``read_table`` goes through Arrow's datasets, which start
its I/O pool even so). A pool once started is torn down at interpreter exit with a worker
still joinable in some 1 exit in 10 on a loaded machine: ``std::terminate`` ("terminate
called without an active exception"), the process aborted by SIGABRT after the command had
printed its result, its exit code lost.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._domain.clock import from_epoch_ns
from .._domain.model import Bar
from .._exceptions import DataFileError
from .._support.optional import import_optional
from .checkshown import rows_shown
from .csvheader import REQUIRED_COLUMNS, column_index
from .datacheck import DataFileCheck
from .datafail import as_written
from .datafile import RowChecker, checker_result
from .dataopen import open_data_file
from .datavalues import check_replay_args, check_tick
from .feeds import row_bar
from .timeforms import time_text

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["ParquetReplayFeed", "check_parquet"]

PANDAS_INDEX: Final = "__index_level_0__"
_NS_PER: Final = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}
_CHUNK: Final = 1_024
"""The rows made text at a time, by the check and by the feed as it plays."""


def _text(value: object) -> str:
    """The text a cell's value prints (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
        return moment.astimezone(dt.UTC).isoformat()
    return str(value)


def _column_texts(pa: Any, column: Any) -> list[str]:
    """One column's cells as text; timestamps through integers (no precision lost to Python).

    A float32 cell is its own shortest round-trip text (Arrow's cast to string), in the form
    ``repr`` gives a float64 (``100.0``, ``1e-07``): Python holds it as the float64 of the
    same value, whose ``repr`` has the float32's error in it (``1.0842000246047974``).
    """
    kind = column.type
    if pa.types.is_timestamp(kind):
        scale = _NS_PER[kind.unit]
        ints = column.cast(pa.int64()).to_pylist()
        return ["" if n is None else from_epoch_ns(n * scale).isoformat() for n in ints]
    if pa.types.is_float32(kind):
        shortest = column.cast(pa.string()).to_pylist()
        return ["" if text is None else repr(float(text)) for text in shortest]
    return [_text(value) for value in column.to_pylist()]


class _RowTexts:
    """A table's rows as the texts of their cells, made ``_CHUNK`` rows at a time."""

    def __init__(self, pa: Any, table: Any) -> None:
        self._pa = pa
        self._table = table
        self._start = 0
        self._chunk: list[list[str]] = []

    def __len__(self) -> int:
        return int(self._table.num_rows)

    def __getitem__(self, row: int) -> list[str]:
        """Row ``row``'s cells (0 <= row < len): its chunk made text once, kept till the next."""
        if not self._start <= row < self._start + len(self._chunk):
            self._start = row - row % _CHUNK
            part = self._table.slice(self._start, _CHUNK)
            columns = [_column_texts(self._pa, part.column(i)) for i in range(part.num_columns)]
            self._chunk = [list(cells) for cells in zip(*columns, strict=True)]
        return self._chunk[row - self._start]


def _read(
    path: str | os.PathLike[str], tick: Decimal | None
) -> tuple[DataFileCheck, _RowTexts, RowChecker]:
    check_tick(tick)  # a float, a str, 0: refused before the file is opened
    path = Path(path)
    pa = import_optional("pyarrow", "parquet")
    pq = import_optional("pyarrow.parquet", "parquet")
    with open_data_file(path) as stream:
        data = stream.read()
    try:  # on this thread alone: no Arrow thread pool started (see the module's docstring)
        table = pq.ParquetFile(pa.BufferReader(data)).read(use_threads=False)
    except (pa.ArrowException, OSError, ValueError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataFileError(
            f"data file {path} is not a Parquet file ({first})",
            path=path,
            line=None,
            column=None,
            value=None,
        ) from None
    written = ["" if n == PANDAS_INDEX else str(n).strip() for n in table.column_names]
    if "" in written and written.index("") != 0:  # the pandas index, moved to the front
        position = written.index("")
        table = table.select([position, *(i for i in range(len(written)) if i != position)])
        written = [written[position], *(n for i, n in enumerate(written) if i != position)]
    names = [name.lower() for name in written]
    index = column_index(path, names, ",".join(table.column_names), "", written)
    rows = _RowTexts(pa, table)
    checker = RowChecker(path, names, tick)
    report = rows_shown(len(rows), len(data))  # a terminal's bar, as a CSV file's check draws
    try:
        for number in range(len(rows)):
            checker.check(rows[number], index, number + 2)
            if report is not None:
                report(number + 1)
    except DataFileError as exc:
        raise _with_row(as_written(exc, names, written)) from None
    if not rows:
        raise DataFileError(
            f"data file {path}: no data rows", path=path, line=2, column=None, value=None
        )
    sha256 = hashlib.sha256(data).hexdigest()
    check = checker_result(checker, names, written, sha256=sha256, size=len(data), rows=len(rows))
    return check, rows, checker


def _with_row(exc: DataFileError) -> DataFileError:
    """``exc`` naming the table's row beside its line: a Parquet file has no lines.

    Its "line N" counts as a CSV export of the table would (the header line 1), which is
    not where pandas (``df.iloc``) or pyarrow find the row: the message names that row too,
    counted from 0 as they count it (``line 22 (row 20 of the table, from 0)``).
    """
    where = f"data file {exc.path}, line {exc.line}"
    message = str(exc)
    if exc.line is None or exc.line < 2 or not message.startswith(where):  # noqa: PLR2004
        return exc
    said = f"{where} (row {exc.line - 2} of the table, from 0){message[len(where) :]}"
    return DataFileError(said, path=exc.path, line=exc.line, column=exc.column, value=exc.value)


def check_parquet(path: str | os.PathLike[str], *, tick: Decimal | None) -> DataFileCheck:
    """Check the whole Parquet file at ``path`` against ``tick`` and hash it.

    As ``check_csv``: ``tick=None`` infers the price grid instead; a tick that is neither
    None nor a positive ``Decimal`` is a ``ConfigError``; the first problem of the file
    raises ``DataFileError`` (a ``ConfigError``) naming it. Needs the ``parquet`` extra
    (``MissingExtra`` without pyarrow).
    """
    return _read(path, tick)[0]


class ParquetReplayFeed:
    """Bars replayed from a Parquet file: the CSV feed's rules, on a columnar file.

    ``checked`` holds the file's SHA-256 and size; with a time column the feed is
    ``dated`` and each bar carries the file's own time.
    """

    def __init__(
        self, path: str | os.PathLike[str], *, symbol: str, tick: Decimal | None, lot: Decimal
    ) -> None:
        """Check and read the Parquet file at ``path`` to replay it as ``symbol``'s bars.

        Needs the ``parquet`` extra (``pip install 'livesession[parquet]'``).

        Args:
            path: the data file, a str or an ``os.PathLike`` (relative: from the current
                directory), with the columns ``open``, ``high``, ``low``, ``close``,
                ``volume`` (and a time column for ``dated`` bars).
            symbol: the market the bars are of, a non-empty str; a file with a ``symbol``
                column of another symbol is refused.
            tick: the price grid, a positive ``Decimal`` (``Decimal("0.01")``), or ``None``
                to infer it from the prices; required, no default.
            lot: the session's quantity grid (``Decimal("0.001")``); volumes are never
                rounded to it. Required.

        Raises:
            MissingExtra: pyarrow is not installed.
            ConfigError: a ``tick`` that is neither ``None`` nor a positive ``Decimal``, a
                ``symbol`` that is no non-empty str, a ``lot`` that is no positive
                ``Decimal``.
            DataFileError: a file that cannot be opened or read, or that is no bars file
                (a missing column, a bad value, prices off the ``tick``), in one line naming
                the file, row and column.
        """
        check_replay_args("ParquetReplayFeed", symbol, lot)
        self.symbol = symbol
        self._path = Path(path)
        self._lot = lot
        self.checked, self._rows, checker = _read(path, tick)
        try:
            self.checked.refuse_other_symbol(symbol)
        except DataFileError as exc:
            raise _with_row(exc) from None
        self._tick = checker.found_tick  # given, or inferred from the prices
        self._numbers = tuple((column, checker.names.index(column)) for column in REQUIRED_COLUMNS)
        self._times = checker.times
        self._time_index, self._day_index = checker.time_index, checker.day_index
        self.dated = self._times is not None
        """Whether bars carry the file's own times (a time column), not the session's."""
        self.first_ts_ns = self.checked.first_ns
        self._row = 0

    @property
    def price_tick(self) -> Decimal:
        """The grid this feed's prices are on: the tick given, or the one its data infer."""
        return self._tick

    def next_bar(self, ts_ns: int) -> Bar | None:
        """The next row as a bar, or None after the last."""
        if self._row >= len(self._rows):
            return None
        cells = self._rows[self._row]
        self._row += 1
        if self._times is not None and self._time_index is not None:
            text = time_text(cells, self._time_index, self._day_index)
            ts_ns = self._times.parse(text, self._row + 1)
        # On the grid: checked up front.
        values = {column: Decimal(cells[at]) for column, at in self._numbers}
        return row_bar(self.symbol, ts_ns, values, tick=self._tick, lot=self._lot)

    def get_state(self) -> dict[str, Any]:
        """The number of rows played."""
        return {"row": self._row}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Go back to a saved row."""
        self._row = int(state["row"])

    def close(self) -> None:
        """Nothing to close: the table was read whole."""

    def __repr__(self) -> str:
        return f"ParquetReplayFeed({str(self._path)!r}, symbol={self.symbol!r})"
