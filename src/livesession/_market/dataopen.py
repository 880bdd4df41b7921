"""Opening a data file: a regular file only, or one line saying why not.

Shared by the CSV check (``datafile``), the CSV feed and the Parquet reader.
"""

from __future__ import annotations

import errno
import os
import re
from typing import IO, TYPE_CHECKING, Final

from .._exceptions import DataFileError
from .._support.fsutil import NotAFile, open_regular

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["grew_past", "open_data_file"]


def open_data_file(path: Path) -> IO[bytes]:
    """``path`` opened for reading bytes; a ``DataFileError`` when it cannot be.

    A regular file only: a FIFO made the opening wait for a writer for ever, and a device
    (``csv:/dev/zero``) was read without end; both are refused before a byte is read.
    """
    try:
        return os.fdopen(open_regular(path), "rb")
    except NotAFile as exc:
        raise DataFileError(
            f"data file {path} is not a regular file ({exc.kind}): give the path of a CSV or "
            "Parquet file",
            path=path,
            line=None,
            column=None,
            value=None,
        ) from None
    except ValueError:  # a NUL in the name (``embedded null byte``), which no file has
        raise DataFileError(
            f"cannot open data file {str(path)!r}: its name holds a NUL character (\\x00), "
            "which no file name can",
            path=path,
            line=None,
            column=None,
            value=None,
        ) from None
    except OSError as exc:
        raise DataFileError(
            f"cannot open data file {path}: {exc.strerror}{_unexpanded(path, exc)}",
            path=path,
            line=None,
            column=None,
            value=None,
        ) from None


_VARIABLE: Final = re.compile(r"\$(?:\{[A-Za-z_]\w*\}|[A-Za-z_]\w*)", re.ASCII)
"""A shell's variable in a path (``$DATA``, ``${DATA}``), which a config does not expand."""


def _unexpanded(path: Path, exc: OSError) -> str:
    """What a missing ``path`` is told of how it is read; "" when nothing.

    No ``$DATA`` is expanded, and a blank at a name's start or end (``"csv:goog.csv "``,
    hard to see in the message) is the name's own.
    """
    if exc.errno != errno.ENOENT:
        return ""
    if (found := _VARIABLE.search(str(path))) is not None:
        return (
            f" (a path is read as written: {found.group()} is not expanded, no variable is; "
            "write the path it stands for)"
        )
    blank = next((part for part in path.parts if part != part.strip()), None)
    if blank is not None:
        return f" (a path is read as written: its name {blank!r} begins or ends with a blank)"
    return ""


def grew_past(stream: IO[bytes], read: int) -> bool:
    """Whether the file ``stream`` reads holds more than ``read`` bytes now.

    A line read at the file's end without its line end, in a file that grew since, is a
    row its writer (a downloader appending to today's file) had not finished: its cells
    are cut short (a volume of ``10`` for ``100``). False for a stream that is no file.
    """
    try:
        return os.fstat(stream.fileno()).st_size > read
    except (OSError, AttributeError, ValueError):
        return False
