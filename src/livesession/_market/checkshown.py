"""A data file's check shown as it goes: a caller's ``progress(done, total)`` of its bytes.

A desk's file of five million rows took over a minute to check before its run started,
and nothing was said meanwhile. The CLI shows a bar on a terminal (``_cli_bar``) for the
block it checks a file in (``showing_check``); ``scan_csv`` reports through ``shown``
every ``EVERY`` lines, a Parquet file's check through ``rows_shown`` every ``EVERY``
rows, and neither at all when no caller asked (a library's check, a run's own feed, a
test): the run's files never hold any of it.
"""

from __future__ import annotations

import contextlib
import contextvars
import io
import os
from typing import IO, TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

__all__ = ["EVERY", "rows_shown", "showing_check", "shown"]

EVERY: Final = 8192
"""Lines between two reports: a few a second at the check's pace, none for a small file."""

_PROGRESS: contextvars.ContextVar[Callable[[int, int | None], None] | None] = (
    contextvars.ContextVar("livesession_check_progress", default=None)
)


@contextlib.contextmanager
def showing_check(progress: Callable[[int, int | None], None] | None) -> Iterator[None]:
    """Within the block, a data file's check reports ``progress(bytes done, total)``."""
    token = _PROGRESS.set(progress)
    try:
        yield
    finally:
        _PROGRESS.reset(token)


def shown(
    lines: Iterator[bytes], stream: IO[bytes], done: int, size: int | None
) -> Iterator[bytes]:
    """``lines`` as they are, reported on every ``EVERY`` lines when a caller asked.

    ``done``: the bytes read before them (the header); ``size``: the bytes to check, the
    file's size when None (None again when the stream has none: the bar counts alone).
    """
    progress = _PROGRESS.get()
    if progress is None:
        return lines
    return _reported(lines, progress, done, size if size is not None else _size(stream))


def rows_shown(rows: int, size: int) -> Callable[[int], None] | None:
    """``report(row)`` for a file read whole, then checked row by row (Parquet); or None.

    On every ``EVERY``-th row it reports that share of the file's ``size`` bytes: the bar
    is one of bytes, as a CSV file's. None when no caller asked.
    """
    progress = _PROGRESS.get()
    if progress is None or rows <= 0:
        return None

    def report(row: int) -> None:
        if row and not row % EVERY:
            progress(size * row // rows, size)

    return report


def _reported(
    lines: Iterator[bytes],
    progress: Callable[[int, int | None], None],
    done: int,
    total: int | None,
) -> Iterator[bytes]:
    for count, raw in enumerate(lines, 1):
        done += len(raw)
        if not count % EVERY:
            progress(done, total)
        yield raw


def _size(stream: IO[bytes]) -> int | None:
    try:
        return os.fstat(stream.fileno()).st_size
    except (OSError, io.UnsupportedOperation, AttributeError):
        return None
