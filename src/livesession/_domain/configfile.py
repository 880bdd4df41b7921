"""Reading a config file: a regular file of bounded size, refused before it is read.

``--config /dev/zero`` read until the process ran out of memory (deaf to SIGTERM all the
while), and ``--config`` a FIFO waited for a writer for ever. A config file is a regular
file of at most ``CONFIG_MAX_BYTES``; anything else is a ``ConfigError`` in one line,
before a byte is read.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Final

from .._exceptions import ConfigError
from .._support.fsutil import FileTooLarge, NotAFile, read_regular

__all__ = ["CONFIG_MAX_BYTES", "config_keys", "read_config_file"]

CONFIG_MAX_BYTES: Final = 16 << 20
"""16 MiB: a config of a few hundred lines is some kilobytes; more is not a config."""


def read_config_file(path: Path) -> bytes:
    """The bytes of the config file ``path``; ``ConfigError`` naming what is wrong with it."""
    try:
        return read_regular(path, CONFIG_MAX_BYTES)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path}") from None
    except (NotAFile, IsADirectoryError) as exc:
        kind = exc.kind if isinstance(exc, NotAFile) else "a directory"
        raise ConfigError(
            f"config file {path} is not a regular file ({kind}): give the path of a TOML file"
        ) from None
    except FileTooLarge as exc:
        raise ConfigError(
            f"config file {path} is {exc.size} bytes, more than the {CONFIG_MAX_BYTES} (16 MiB) "
            "a config file may have: is it the right file?"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None


def config_keys(path: Path) -> set[str]:
    """The top-level keys the config file ``path`` sets; none when it is no config file.

    For the CLI, which looks at what the file sets before ``load_config`` reads it: the
    file is read as ``load_config`` reads it (a FIFO or ``/dev/zero`` is refused, not
    read), and ``load_config`` says what is wrong with it.
    """
    try:
        return set(tomllib.loads(read_config_file(path).decode("utf-8-sig")))
    except (ConfigError, UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        return set()
