"""Data-file feeds in a config: their paths, the symbol they imply, and field checks.

``csv:PATH`` and ``parquet:PATH`` name a data file; a config that names no symbol takes
the file's stem, and a config that names no tick has it inferred from the data when the
feed opens. Kept apart from ``config.py``: rules about data, not about the session.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from .._exceptions import ConfigError, DataFileError, UnrecordablePath
from .._support.oserrors import cwd_gone, working_dir
from .._support.references import is_reference
from .._support.secrets import find_secrets
from .._support.text import surrogate_at, valid_text
from .fields import unquoted
from .ids import SYMBOL_FORMS, is_valid_symbol, symbol_note

__all__ = [
    "DATA_FEEDS",
    "DEFAULT_SYMBOL",
    "DEFAULT_TICK",
    "check_recordable_paths",
    "check_sha256",
    "check_size",
    "check_symbol",
    "data_path",
    "default_symbol",
    "from_cwd",
    "refuse_pin_without_data",
    "stem_not_allowed",
]

DATA_FEEDS: Final = ("csv:", "parquet:")
"""The feeds that read a data file: ``csv:PATH`` and ``parquet:PATH``."""
DEFAULT_SYMBOL: Final = "BTC/USDT"
"""The symbol of a config that names none and reads no data file (the random walk's)."""
DEFAULT_TICK: Final = Decimal("0.01")
"""The price grid of a config that names none and reads no data file."""
_SHA256_LEN: Final = 64
_LOCALE_HINT: Final = defaultdict(
    lambda: ", or run under a UTF-8 locale (LC_ALL=C.UTF-8) if the name is UTF-8", {"utf-8": ""}
)
"""What a path that is not UTF-8 text may also need: a locale that reads names as UTF-8."""


def check_symbol(_inst: object, _attr: object, value: object) -> None:
    """A symbol is empty (not given) or ``SYMBOL_FORMS``."""
    if not isinstance(value, str) or (value and not is_valid_symbol(value)):
        note = symbol_note(value) if isinstance(value, str) else ""
        raise ConfigError(f"symbol must be {SYMBOL_FORMS}; got {value!r}{note}")


def check_sha256(_inst: object, _attr: object, value: Any) -> None:
    """``feed_sha256`` is None or 64 lower-case hex digits."""
    if value is not None and not (
        isinstance(value, str) and len(value) == _SHA256_LEN and value == value.lower()
        and all(ch in "0123456789abcdef" for ch in value)
    ):  # fmt: skip
        raise ConfigError(f"feed_sha256 must be 64 lower-case hex digits, got {value!r}")


def check_size(_inst: object, _attr: object, value: Any) -> None:
    """``feed_bytes`` is None or a non-negative int."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ConfigError(
            f"feed_bytes must be a non-negative integer, got {value!r}"
            f"{unquoted('feed_bytes', value)}"
        )


def data_path(feed: str) -> str | None:
    """The path in a data-file feed (``csv:PATH``, ``parquet:PATH``), as written; else None."""
    for prefix in DATA_FEEDS:
        if feed.startswith(prefix) and len(feed) > len(prefix):
            return feed[len(prefix) :]
    return None


def home_expanded(path: str) -> Path:
    """``path`` with a leading ``~`` or ``~user`` made that home directory, as a shell does.

    ``DataFileError`` (one line) when this system gives no home for it (``~nosuchuser``, or
    ``~`` with ``HOME`` unset and no entry for this user): ``Path.expanduser`` raised a bare
    ``RuntimeError`` there, a traceback out of ``dryrun``.
    """
    try:
        return Path(path).expanduser()
    except RuntimeError:
        who = path.split("/", 1)[0]
        msg = (
            f"data file {path}: this system gives no home directory for {who}"
            " (no such user, or HOME unset): write the path out in full"
        )
        raise DataFileError(msg, path=Path(path), line=None, column=None, value=None) from None


def default_symbol(feed: str) -> str:
    """The symbol of a config that names none: a data file's stem, else the demo pair.

    A stem holding a dot (``BRK.B.csv``, ``GOOG.daily.csv``) reads as a ticker with a dot
    or as one with a suffix after it: neither is guessed, the symbol is asked for.
    """
    path = data_path(feed)
    if path is None:
        return DEFAULT_SYMBOL
    name = Path(path).name
    stem = name.split(".")[0].upper()
    if not is_valid_symbol(stem):
        raise ConfigError(
            f"data file {name} does not name a symbol: set symbol "
            f"({SYMBOL_FORMS}) in the config, or --symbol on the command line"
        )
    whole = name.rpartition(".")[0] or name  # all but its extension, if it has one
    if whole.upper() != stem:
        raise ConfigError(
            f"data file {name} does not name a symbol plainly: its stem reads as "
            f"{whole.upper()}, or as {stem} with {whole[len(stem) :]!r} after it: set symbol "
            f"({SYMBOL_FORMS}) in the config, or --symbol on the command line"
        )
    return stem


def stem_not_allowed(feed: str, symbol: str, allowed: tuple[str, ...]) -> str:
    """Why a data file's stem is the symbol an allowlist naming BTC/USDT refuses ("": not so).

    livesession 0.1.x traded BTC/USDT whatever a config's data file was named, and a desk's
    config written for it names that pair in its ``allowlist``; this release names the
    symbol after the file when the config sets none, and preflight refused the run
    (``symbol 'BARS' is not in allowlist [BTC/USDT]``) saying nothing of where BARS came from.
    """
    if symbol in allowed or DEFAULT_SYMBOL not in allowed or data_path(feed) is None:
        return ""
    try:
        if default_symbol(feed) != symbol:
            return ""
    except ConfigError:  # a symbol given, beside a file whose name is none
        return ""
    return (
        f"; {symbol} is the data file's stem, the symbol of a config that sets none "
        f"(livesession 0.1.x traded {DEFAULT_SYMBOL} then): set symbol = "
        f'"{DEFAULT_SYMBOL}" in the config, or --symbol {DEFAULT_SYMBOL}'
    )


def from_cwd(feed: object) -> object:
    """A data feed given on the command line, its relative path made absolute from the cwd.

    ``ConfigError`` naming the feed when the current directory was removed. A path that
    looks like a secret is left as given, for the config to refuse: joined, ``Path`` spells
    ``postgresql://`` with one ``/``, which the secret rules no longer find.
    """
    path = data_path(feed) if isinstance(feed, str) else None
    if path is None or path.startswith("~") or Path(path).is_absolute() or find_secrets(path):
        return feed
    assert isinstance(feed, str)  # noqa: S101 - narrowed for mypy (data_path took a str)
    cwd = working_dir()
    if cwd is None:
        raise ConfigError(f"feed {feed}: {cwd_gone(path)}")
    return feed[: len(feed) - len(path)] + str(cwd / path)


def refuse_pin_without_data(feed: str, sha256: str | None, size: int | None) -> None:
    """Refuse ``feed_sha256`` / ``feed_bytes`` given with a feed that reads no data file.

    They pin the file of a ``csv:``/``parquet:`` feed; with the demo walk or the venue's
    bars they would pin nothing, yet ``config.json`` would record them as the run's data.
    A feed given by reference may read one: its run refuses them when it reads none
    (``pin_data``).
    """
    if data_path(feed) is not None or is_reference(feed):
        return
    for key, value in (("feed_sha256", sha256), ("feed_bytes", size)):
        if value is not None:
            raise ConfigError(
                f"{key} is given ({value!r}), but feed {feed!r} reads no data file: {key} "
                "pins the file of a csv:PATH or parquet:PATH feed; drop it, or name the file "
                "in feed"
            )


def check_recordable_paths(feed: str, base_dir: str | None) -> None:
    r"""Refuse a data file's path, or the config file's directory, that a run cannot hold.

    A run records both (``config.json``, ``run.json``: UTF-8 JSON), and opens the file by
    its name. A name with a byte that is not UTF-8 (``r\xe9sultats``, as a Latin-1 system
    wrote it; or any byte beyond ASCII under a locale that reads names as ASCII, ``LANG=C``
    with ``PYTHONUTF8=0``) comes as a lone surrogate, which no JSON holds: the run died of
    ``TypeError: str is not valid UTF-8`` as it wrote ``config.json``. A name the file name
    encoding cannot write (``dätä`` from the TOML under an ASCII locale) died of
    ``UnicodeEncodeError`` as the file was opened. Both are refused here, naming the path,
    and so is one holding a NUL character (``csv:/data/a\u0000b.csv`` in a TOML file),
    which no file name holds: the run died of ``ValueError: embedded null byte`` as the
    file was opened.
    """
    path = data_path(feed)
    for what, value in (("data file", path), ("config file's directory", base_dir)):
        if value is None:
            continue
        if "\0" in value:
            raise UnrecordablePath(
                f"the {what} {value!r} holds a NUL character (\\x00), which no file name "
                "can: give the file's path as it is written on disk"
            )
        encoding = sys.getfilesystemencoding()
        if surrogate_at(value) is not None:
            raise UnrecordablePath(
                f"the {what} {valid_text(value)} is not UTF-8 text as this process reads file "
                f"names ({encoding}), and a run records the path in its files, which hold "
                f"UTF-8 only: rename it (or the directory it is in){_LOCALE_HINT[encoding]}"
            )
        try:
            os.fsencode(value)
        except UnicodeEncodeError:
            raise UnrecordablePath(
                f"the {what} {value} cannot be named to the file system in this process's "
                f"file name encoding ({encoding}, a locale such as LANG=C without UTF-8): run "
                "under a UTF-8 locale (LC_ALL=C.UTF-8), or rename it to ASCII"
            ) from None
