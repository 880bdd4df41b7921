"""A CSV data file checked whole, and hashed, in one pass before a run uses it.

``check_csv`` reads every byte once: it feeds them to SHA-256 and parses each row. The
first problem stops the check with a ``DataFileError`` naming the file, the line, the
column and the value, so that a run never starts on data it would trip over later:

- the header lacks one of ``open,high,low,close,volume`` (or repeats a column);
- a row is not CSV, not UTF-8, has more or fewer values than the header, or an empty one;
- a value is not a finite decimal number; a price is not positive; a volume is negative;
- a price is off the ``price_tick`` grid (prices are never rounded: set ``price_tick``);
- ``high < low``, or ``open``/``close`` outside ``[low, high]`` (a bar no market prints);
- a time column (``timestamp``, ``time``, ``datetime``, ``date``, ``open_time`` or ``ts``,
  the first one the header has) is not RFC 3339 / ISO 8601 (or, consistently, an epoch
  number), or does not increase strictly. Times without an offset are taken as UTC.

Volumes are market volumes, not order quantities: they are not checked against the lot.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import IO, Final

import attrs

from .._exceptions import DataFileError

__all__ = ["PRICE_COLUMNS", "REQUIRED_COLUMNS", "DataFileCheck", "check_csv", "scan_csv"]

PRICE_COLUMNS: Final = ("open", "high", "low", "close")
REQUIRED_COLUMNS: Final = (*PRICE_COLUMNS, "volume")
TIME_COLUMNS: Final = ("timestamp", "time", "datetime", "date", "open_time", "ts")
_SHOWN: Final = 40  # longest value quoted in a message


@attrs.frozen
class DataFileCheck:
    """What a whole-file check found: the file's SHA-256, its size and its rows."""

    path: Path
    sha256: str
    size: int
    rows: int
    time_column: str | None = None
    first_time: str | None = None
    last_time: str | None = None

    def record(self, feed: str) -> dict[str, object]:
        """The record ``run.json`` keeps of the data a run read (``feed`` as configured)."""
        return {
            "feed": feed,
            "sha256": self.sha256,
            "bytes": self.size,
            "rows": self.rows,
            "time_column": self.time_column,
            "first_time": self.first_time,
            "last_time": self.last_time,
        }


@attrs.frozen
class CsvLayout:
    """Where a checked file's data starts, and which cell holds each required column."""

    check: DataFileCheck
    data_offset: int
    index: dict[str, int]


def _show(value: str) -> str:
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def _fail(
    path: Path, line: int, column: str | None, value: str | None, problem: str
) -> DataFileError:
    where = f"data file {path}, line {line}"
    if column is not None:
        where += f", column {column}"
    if value is not None:
        where += f", value {_show(value)}"
    return DataFileError(f"{where}: {problem}", path=path, line=line, column=column, value=value)


def _finest_tick(value: Decimal) -> str:
    exponent = value.normalize().as_tuple().exponent
    places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    return str(Decimal(1).scaleb(-places))


class _Times:
    """Strictly increasing times in one column: RFC 3339 / ISO 8601 or epoch numbers."""

    def __init__(self, path: Path, column: str) -> None:
        self.path = path
        self.column = column
        self.epoch: bool | None = None
        self.last: dt.datetime | Decimal | None = None
        self.last_text = ""
        self.last_line = 0
        self.first_text: str | None = None

    @staticmethod
    def _iso(text: str) -> dt.datetime | None:
        try:
            when = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)

    @staticmethod
    def _number(text: str) -> Decimal | None:
        try:
            number = Decimal(text)
        except InvalidOperation:
            return None
        return number if number.is_finite() else None

    def _parse(self, text: str, line: int) -> dt.datetime | Decimal:
        if self.epoch is None:  # the first row decides the form
            self.epoch = self._iso(text) is None and self._number(text) is not None
        when = self._number(text) if self.epoch else self._iso(text)
        if when is None:
            form = (
                "an epoch number like the first row's"
                if self.epoch
                else ("an RFC 3339 / ISO 8601 time")
            )
            raise _fail(self.path, line, self.column, text, f"not {form}")
        return when

    def add(self, text: str, line: int) -> None:
        when = self._parse(text, line)
        if self.last is not None and not when > self.last:  # type: ignore[operator]
            raise _fail(
                self.path,
                line,
                self.column,
                text,
                f"time does not increase (line {self.last_line} has {self.last_text})",
            )
        if self.first_text is None:
            self.first_text = text
        self.last, self.last_text, self.last_line = when, text, line


def _header(path: Path, raw: bytes) -> tuple[list[str], dict[str, int]]:
    if not raw.strip():
        raise _fail(path, 1, None, None, "no header: expected open,high,low,close,volume")
    try:
        text = raw.decode("utf-8-sig")
        names = [name.strip().lower() for name in next(csv.reader([text], strict=True), [])]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise _fail(
            path, 1, None, None, f"the header is not a CSV line of UTF-8 text ({exc})"
        ) from None
    for column in REQUIRED_COLUMNS:
        if column not in names:
            raise _fail(path, 1, column, text.strip(), "the header lacks this column")
    for position, name in enumerate(names):
        if name and names.index(name) != position:
            raise _fail(path, 1, name, text.strip(), "the header repeats this column")
    return names, {column: names.index(column) for column in REQUIRED_COLUMNS}


class _Rows:
    """The per-row checks, over one header and one price grid."""

    def __init__(self, path: Path, names: list[str], tick: Decimal) -> None:
        self.path = path
        self.names = names
        self.tick = tick
        self.time_column = next((n for n in names if n in TIME_COLUMNS), None)
        self.times = None if self.time_column is None else _Times(path, self.time_column)

    def cells(self, raw: bytes, line: int) -> list[str]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _fail(self.path, line, f"byte {exc.start + 1}", None, "not UTF-8 text") from None
        try:
            cells = next(csv.reader([text], strict=True))
        except csv.Error as exc:
            raise _fail(
                self.path, line, None, text.rstrip("\r\n"), f"not a CSV row ({exc})"
            ) from None
        if len(cells) < len(self.names):
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

    def _numbers(self, cells: list[str], index: dict[str, int], line: int) -> dict[str, Decimal]:
        values: dict[str, Decimal] = {}
        for column in REQUIRED_COLUMNS:
            text = cells[index[column]]
            if not text:
                raise _fail(self.path, line, column, text, "empty value")
            try:
                value = Decimal(text)
            except InvalidOperation:
                raise _fail(self.path, line, column, text, "not a decimal number") from None
            if not value.is_finite():
                raise _fail(self.path, line, column, text, "not a finite number")
            values[column] = value
        return values

    def check(self, cells: list[str], index: dict[str, int], line: int) -> None:
        values = self._numbers(cells, index, line)
        for column in PRICE_COLUMNS:
            self._price(values[column], cells[index[column]], column, line)
        if values["volume"] < 0:
            raise _fail(self.path, line, "volume", cells[index["volume"]], "negative volume")
        low, high = values["low"], values["high"]
        if high < low:
            raise _fail(self.path, line, "high", cells[index["high"]], f"high is below low {low}")
        for column in ("open", "close"):
            if not low <= values[column] <= high:
                raise _fail(
                    self.path, line, column, cells[index[column]],
                    f"{column} is outside [low {low}, high {high}]",
                )  # fmt: skip
        if self.times is not None and self.time_column is not None:
            text = cells[self.names.index(self.time_column)]
            if not text:
                raise _fail(self.path, line, self.time_column, text, "empty value")
            self.times.add(text, line)

    def _price(self, value: Decimal, text: str, column: str, line: int) -> None:
        if value <= 0:
            raise _fail(self.path, line, column, text, "a price must be positive")
        if value % self.tick != 0:
            raise _fail(
                self.path, line, column, text,
                f"price {text} is off the price_tick grid {self.tick} (prices are never "
                f'rounded): set price_tick = "{_finest_tick(value)}" or finer',
            )  # fmt: skip


def scan_csv(stream: IO[bytes], path: Path, *, tick: Decimal) -> CsvLayout:
    """Check and hash the whole file ``stream`` reads (from its start; it ends at its end)."""
    digest = hashlib.sha256()
    raw = stream.readline()
    digest.update(raw)
    names, index = _header(path, raw)
    data_offset = len(raw)
    size, rows, line = data_offset, 0, 1
    checker = _Rows(path, names, tick)
    for raw in stream:
        digest.update(raw)
        size += len(raw)
        line += 1
        if not raw.strip():
            continue  # blank lines are skipped, by the check and by the feed
        checker.check(checker.cells(raw, line), index, line)
        rows += 1
    if rows == 0:
        raise _fail(path, 2, None, None, "no data rows after the header")
    times = checker.times
    check = DataFileCheck(
        path=path,
        sha256=digest.hexdigest(),
        size=size,
        rows=rows,
        time_column=checker.time_column,
        first_time=None if times is None else times.first_text,
        last_time=None if times is None else times.last_text,
    )
    return CsvLayout(check=check, data_offset=data_offset, index=index)


def open_data_file(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes; a ``DataFileError`` when it cannot be."""
    try:
        return path.open("rb")
    except OSError as exc:
        raise DataFileError(
            f"cannot open data file {path}: {exc.strerror}",
            path=path,
            line=None,
            column=None,
            value=None,
        ) from None


def check_csv(path: Path | str, *, tick: Decimal) -> DataFileCheck:
    """Check the whole CSV file at ``path`` against ``tick`` and hash it, in one pass.

    Raises ``DataFileError`` (a ``ConfigError``) naming the file, line, column and value of
    the first problem. The header needs ``open,high,low,close,volume``; other columns are
    allowed, and a time column is checked to increase strictly.
    """
    path = Path(path)
    with open_data_file(path) as stream:
        return scan_csv(stream, path, tick=tick).check
