"""Reading a config file: a regular file of bounded size, refused before it is read.

``--config /dev/zero`` read until the process ran out of memory (deaf to SIGTERM all the
while), and ``--config`` a FIFO waited for a writer for ever. A config file is a regular
file of at most ``CONFIG_MAX_BYTES``; anything else is a ``ConfigError`` in one line,
before a byte is read.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import attrs

from .._exceptions import ConfigError
from .._support.fsutil import FileTooLarge, NotAFile, read_regular
from .datafeeds import check_recordable_paths

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

__all__ = ["CONFIG_MAX_BYTES", "config_keys", "read_config_file", "refuse_overridden_invalid"]

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


def refuse_overridden_invalid(
    path: Path, cls: type[Any], data: Mapping[str, Any], overrides: Mapping[str, Any]
) -> None:
    """Refuse a value the file ``path`` sets that is invalid on its own, though overridden.

    An override (a flag of ``livesession dryrun``) replaces the file's value, so the whole
    config never met it: ``steps = "-0"`` or ``run_id = "../evil"`` in a file run with
    ``--steps 20 --run-id ok`` went unchecked, and the file stayed wrong for the next run
    made without the flag. Each such value is held to its own key's rules (type, range,
    form: the field's converter and validator), never to the other keys': what depends on
    them (a data file's existence, ``[strategy_params]`` without a ``strategy_factory``)
    is the overriding config's to judge. ``ConfigError`` names the file and the key.
    """
    fields = attrs.fields_dict(cls)
    for key, value in overrides.items():
        field = fields.get(key)
        if value is None or key not in data or field is None:
            continue
        own = data[key]
        try:
            if field.converter is not None:  # a plain function: the config's are
                own = cast("Callable[[Any], Any]", field.converter)(own)
            if field.validator is not None:
                field.validator(None, field, own)
            if key == "feed":  # its path's form: one a run cannot record or open
                check_recordable_paths(own, None)
        except ConfigError as exc:
            raise ConfigError(
                f"config file {path}: {exc} (an override replaces it for this run, but the "
                f"file must be valid on its own: fix or drop {key} there)"
            ) from None
