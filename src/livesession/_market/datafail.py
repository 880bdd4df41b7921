"""How a data file's problem is told: one line naming the file, line, column and value.

The ``DataFileError`` carries them too. Shared by the whole-file check (``datafile``) and
its time column (``timecolumn``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._exceptions import DataFileError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["as_written", "fail", "show", "unfinished"]

_SHOWN: Final = 40  # longest value quoted in a message


def show(value: str) -> str:
    """``value`` quoted for a message, cut after ``_SHOWN`` characters."""
    return repr(value if len(value) <= _SHOWN else value[:_SHOWN] + "...")


def fail(
    path: Path, line: int, column: str | None, value: str | None, problem: str
) -> DataFileError:
    """The error of ``problem`` at ``line`` (and ``column``, ``value``) of the file ``path``."""
    where = f"data file {path}, line {line}"
    if column is not None:
        where += f", column {column}"
    if value is not None:
        where += f", value {show(value)}"
    return DataFileError(f"{where}: {problem}", path=path, line=line, column=column, value=value)


def unfinished(error: DataFileError) -> DataFileError:
    """``error``, of the file's last line, which has no line end: said to be maybe unfinished.

    A downloader appending to the file may not have written the rest of it yet (a row cut
    after ``1.0``: "missing value"); a last line without a line end may also be whole.
    """
    return DataFileError(
        f"{error}; this last line has no line end: if the file is still being written, run "
        "again once the row is whole",
        path=error.path,
        line=error.line,
        column=error.column,
        value=error.value,
    )


def as_written(error: DataFileError, names: list[str], written: list[str]) -> DataFileError:
    """``error`` naming its column as the header writes it (``Date(UTC)``, not ``date(utc)``).

    ``names`` are the header's names as matched (lower case), ``written`` its cells as
    written, in the same places; a time split in two columns is named by both
    (``date time``: ``Date Time``). Only a check's errors are said so: a row that turns bad
    while a run plays the file is the run's ``FEED_ERROR``, recorded as before.
    """
    column = error.column
    parts = [] if column is None else [column] if column in names else column.split()
    if column is None or not parts or not set(parts) <= set(names):
        return error
    name = " ".join(written[names.index(part)] for part in parts)  # a split time: Date Time
    where = f"data file {error.path}, line {error.line}, column "
    said = str(error)
    if name == column or not said.startswith(where + column):
        return error
    return DataFileError(
        f"{where}{name}{said[len(where) + len(column) :]}",
        path=error.path,
        line=error.line,
        column=name,
        value=error.value,
    )
