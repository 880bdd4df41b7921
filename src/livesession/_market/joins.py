"""A data file joined from several, as a desk keeps its bars a file a month: what shows it.

A period's file is its months' files joined. ``cat`` of files that each open with a header
puts each later header among the rows, and files that overlap (an export whose range ends
at the next month's first bar, included) write that bar twice, at the join. Each is refused
saying so and how to join the files instead (docs/data.md, "A period in several files").
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from .csvheader import REQUIRED_COLUMNS, column_name

__all__ = ["JOIN", "JOINED", "header_again", "same_time_twice"]

JOIN: Final = (
    "`awk 'FNR == 1 {if (NR == 1) print; next} $0 != last {print} {last = $0}' "
    "jan.csv feb.csv > both.csv` keeps the first file's header and drops a row that repeats "
    "the row before it"
)
"""The join docs/data.md gives for files with a header each, as a refusal says it."""
JOINED: Final = 'to join files: docs/data.md, "A period in several files"'
"""Where the joins of files with a header each, and of files without one, are given."""


def header_again(cells: Sequence[str], names: Sequence[str]) -> str | None:
    """Why a row that names the columns (in any case, a BOM before them) is no row.

    The header again, or another header (of other columns: an export of other settings),
    as files joined with ``cat`` leave them. None for any other row: its values are checked
    as a row's.
    """
    found = [column_name(cell.lstrip("\ufeff")) for cell in cells]
    if found == list(names):
        return (
            "the header again, among the rows (files joined with `cat`, each with its "
            f"header?): keep only the first file's: {JOIN}"
        )
    if not set(REQUIRED_COLUMNS) <= set(found):
        return None
    return (
        "a header among the rows, of other columns than line 1's (files joined with `cat`, "
        "exported with other columns?): export every file with the same columns, then join "
        f"them keeping only the first file's header: {JOIN}"
    )


def same_time_twice(same_row: bool, line: int, *, fix: bool) -> str:
    """The hint for a row at the time of the row before it (line ``line``).

    ``same_row``: the two are the same bar, written twice; else two bars of one time.
    ``fix``: what to do is said (a file checked before a run), or not (one changed since).
    """
    if same_row:
        said = ": the same row twice (a bar written twice, as files joined that overlap write it)"
        return said + (f": delete one of the two lines ({JOINED})" if fix else "")
    said = f": the same time twice, on rows that differ (line {line} is another bar of it)"
    return said + (": keep the right one, delete the other" if fix else "")
