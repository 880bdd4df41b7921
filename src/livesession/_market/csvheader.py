"""A CSV data file's header: its separator, its column names and the required columns' places.

The header is the file's first line. It needs ``open,high,low,close,volume`` in any case,
separated by ``,``, ``;`` or a tab (the first of these that finds them all: ``csvforms``);
other columns are allowed, and a name in angle brackets is read without them (MetaTrader
writes ``<DATE>,<TIME>,<OPEN>,...``; its numbers are written with decimal points). A file
that has no header (empty, a blank first line, Excel's ``sep=;`` line, a comment or title
line before it, or a first line of numbers, as Binance's kline files and MetaTrader 4's
exports have), is compressed, is UTF-16 or is not UTF-8 is refused at line 1, naming why
and what to write.
"""

from __future__ import annotations

import csv
import re
from typing import TYPE_CHECKING, Final

from .._support.text import iconv_command
from .csvforms import compressed, cr_line_ends, header_splits, line_too_long, no_header, utf16
from .datafail import fail as _fail

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "PRICE_COLUMNS",
    "REQUIRED_COLUMNS",
    "column_index",
    "column_name",
    "not_utf8",
    "read_header",
]

PRICE_COLUMNS: Final = ("open", "high", "low", "close")
REQUIRED_COLUMNS: Final = (*PRICE_COLUMNS, "volume")


def not_utf8(exc: UnicodeDecodeError, path: Path | None = None) -> str:
    """Why a line is not UTF-8, and what to do; with ``path`` (the check), how to convert it.

    A file saved as Latin-1 or Windows-1252 (an older spreadsheet's "CSV", a European
    Windows export: ``café`` as the one byte 0xe9) is the common case: ``iconv`` converts
    it, from Windows-1252 when the byte is one of its own (0x80-0x9f: ``€`` is 0x80).
    """
    if path is None:  # a row changed while a run played the file: its FEED_ERROR as before
        return (
            f"not UTF-8 text (byte {exc.start + 1} of the line): save the file as UTF-8 (a "
            'spreadsheet\'s "CSV UTF-8")'
        )
    byte = exc.object[exc.start]
    said = f"not UTF-8 text (byte {exc.start + 1} of the line, 0x{byte:02x})"
    return (
        f"{said}: a file saved as Latin-1 or Windows-1252? Convert it, "
        f'{iconv_command(path, byte)}, or save it as UTF-8 (a spreadsheet\'s "CSV UTF-8")'
    )


def read_header(path: Path, raw: bytes) -> tuple[str, list[str], dict[str, int], bool, list[str]]:
    """The separator, the column names (lower case) and the required columns' places.

    And whether the file writes decimal points, as MetaTrader's (its names in ``<>``) does,
    and the names as the header writes them (``Date(UTC)``, ``<OPEN>``), which errors say.
    """
    packed = no_header(raw) or compressed(raw, path.name) or line_too_long(raw) or utf16(raw)
    if packed is not None:
        raise _fail(path, 1, None, None, packed)
    try:
        text = raw.decode("utf-8-sig")
        cut = header_splits(text)
    except UnicodeDecodeError as exc:
        raise _fail(path, 1, None, None, not_utf8(exc, path)) from None
    except csv.Error as exc:
        problem = cr_line_ends(text) or f"the header is not a CSV line ({exc})"
        raise _fail(path, 1, None, None, problem) from None
    splits = [(d, [column_name(cell) for cell in cells]) for d, cells in cut]
    # The first separator that finds the most required columns (``,`` when none finds any).
    delimiter, names = max(splits, key=lambda split: len(set(REQUIRED_COLUMNS) & set(split[1])))
    if not set(REQUIRED_COLUMNS) <= set(names):
        if any(_numbers(cells) for _, cells in cut):
            raise _fail(path, 1, None, text.strip(), _headless(max((c for _, c in cut), key=len)))
        # A comment, or one cell naming no column (a space-separated header is a header).
        words = set(re.findall(r"[a-z]+", text.lower()))
        if text.lstrip().startswith("#") or (
            all(len(cells) <= 1 for _, cells in cut) and not words & set(REQUIRED_COLUMNS)
        ):
            raise _fail(path, 1, None, text.strip(), _BEFORE_HEADER)
    separated = ", separated by ',', ';' or a tab"
    cells = next(cells for d, cells in cut if d == delimiter)
    written = [cell.strip() for cell in cells]
    index = column_index(path, names, text.strip(), separated, written)
    points = all(_METATRADER.fullmatch(cell) for cell in written)
    return delimiter, names, index, points, written


_METATRADER: Final = re.compile(r"<[^<>]*>")
"""A column name as MetaTrader writes it (``<OPEN>``)."""
_DATA: Final = re.compile(r"[+-]?([0-9]+\.[0-9]+|[0-9]{9,})([eE][+-]?[0-9]+)?")
"""A price written with a point, or an epoch time: no column's name."""
_HEADLESS: Final = (
    "no header: the first line is a row of numbers, not the column names (Binance's kline "
    "files have none): add a line before it naming the columns, at least open, high, low, "
    "close and volume (Binance's: open_time,open,high,low,close,volume,close_time,"
    "quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore)"
)
_DATE_AND_TIME: Final = (
    re.compile(r"\d{4}[.-]\d{2}[.-]\d{2}|\d{2}\.\d{2}\.\d{4}"),
    re.compile(r"\d{1,2}:\d{2}(:\d{2})?"),
)
"""A date and a time of day in two cells, as MetaTrader 4 writes a bar's (``2026.03.02,09:00``)."""
_MT4_NAMES: Final = "date,time,open,high,low,close,volume"
_KRAKEN_NAMES: Final = "timestamp,open,high,low,close,volume,trades"
_BEFORE_HEADER: Final = (
    "the first line is no header (a comment, a title or an address before the header, as "
    "CryptoDataDownload's files open with theirs): the header open,high,low,close,volume "
    "must be the first line: delete the lines before it (`tail -n +2 in.csv > out.csv` "
    "deletes one)"
)


def _headless(cells: list[str]) -> str:
    """Why a first line of bars is no header, and the names to add before it.

    Binance's names for a row of its klines; Kraken's for its OHLCVT's seven values, an
    epoch time first; MetaTrader 4's for its seven, a date and a time first (neither
    writes a header).
    """
    parts = [cell.strip() for cell in cells]
    if len(parts) == len(_MT4_NAMES.split(",")):
        if all(form.fullmatch(part) for form, part in zip(_DATE_AND_TIME, parts, strict=False)):
            return _headless_as("MetaTrader 4's exports", "MetaTrader 4's", _MT4_NAMES)
        if parts[0].isdigit():
            return _headless_as("Kraken's OHLCVT files", "Kraken's", _KRAKEN_NAMES)
    return _HEADLESS


def _headless_as(files: str, whose: str, names: str) -> str:
    return (
        f"no header: the first line is a row of numbers, not the column names ({files} "
        "have none): add a line before it naming the columns, at least open, high, low, "
        f"close and volume ({whose}: {names})"
    )


def column_name(cell: str) -> str:
    """A column's name as read: lower case, without MetaTrader's ``<>``."""
    name = cell.strip().lower()
    return name[1:-1].strip() if _METATRADER.fullmatch(name) else name


def _numbers(cells: list[str]) -> bool:
    """Whether a first line's ``cells`` are a row of bars: four prices or times at least."""
    return sum(bool(_DATA.fullmatch(cell.strip())) for cell in cells) >= len(REQUIRED_COLUMNS) - 1


def column_index(
    path: Path, names: list[str], shown: str, separated: str, written: list[str]
) -> dict[str, int]:
    """Where each required column is among ``names`` (lower case); ``shown``: the header.

    ``written``: the names as the header writes them, in the same places, which errors say.
    """
    for column in REQUIRED_COLUMNS:
        if column not in names:
            volumes = "" if column != "volume" else _volumes(names, written)
            raise _fail(
                path, 1, column, shown,
                "the header lacks this column (it needs open, high, low, close and volume, in "
                f"any case{separated}){volumes}",
            )  # fmt: skip
    for position, name in enumerate(names):
        if name and names.index(name) != position:
            raise _fail(path, 1, written[position], shown, "the header repeats this column")
    return {column: names.index(column) for column in REQUIRED_COLUMNS}


_VOLUMES: Final = (
    ": MetaTrader writes <TICKVOL> (ticks) and <VOL> (the exchange's, 0 on most FX): rename "
    "the one to play <VOLUME>"
)


_NO_VOLUME: Final = (
    ": a file of prices alone (an FX or index export) needs one: add a volume column, 0 on "
    "every row if the market reports none (awk -F, -v OFS=, "
    "'{sub(/\\r$/, \"\"); print $0, NR == 1 ? \"volume\" : 0}' in.csv > out.csv; -F';' "
    "-v OFS=';' for a ';' file)"
)


def _volumes(names: list[str], written: list[str]) -> str:
    """The header's volumes of other names (``Volume BTC``, ``Volume USDT``): which to rename."""
    if "tickvol" in names:
        return _VOLUMES
    others = [shown for name, shown in zip(names, written, strict=True) if name.startswith("vol")]
    if not others:
        return _NO_VOLUME
    return f": it has {', '.join(others)}: rename the one to play volume"
