"""The latest checkpoint of a run, in one JSON file replaced atomically."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from .._exceptions import CheckpointError
from .._support.fsutil import atomic_write_bytes, open_regular
from .._support.handlerraised import raised_in_handler
from ._record import decode_checkpoint

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["FileCheckpointStore"]

_DUMP_OPTIONS = orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2 | orjson.OPT_APPEND_NEWLINE


class FileCheckpointStore:
    """A ``CheckpointStore`` in one JSON file (sorted keys, two-space indent).

    ``save`` writes a temporary file, fsyncs it, renames it over the checkpoint and fsyncs
    the directory: the file holds the previous checkpoint or the new one, never a mix.
    The same mapping always gives the same bytes. Values must be JSON types (str, int,
    bool, None, lists and string-keyed mappings); store Decimals as strings.
    """

    def __init__(self, path: str | os.PathLike[str], *, durable: bool = True) -> None:
        self.path = Path(path)
        self._durable = durable

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        """Replace the stored checkpoint; raises ``CheckpointError`` when it cannot."""
        try:
            content = orjson.dumps(dict(checkpoint), option=_DUMP_OPTIONS)
        except (TypeError, orjson.JSONEncodeError) as error:
            raise CheckpointError(
                f"cannot write checkpoint {self.path}: {error} (use only JSON types; "
                "store Decimals as strings)"
            ) from None
        try:
            atomic_write_bytes(self.path, content, durable=self._durable)
        except OSError as error:
            if raised_in_handler(error):  # a user's timer, not the disk: it tears the session
                raise
            raise CheckpointError(
                f"cannot write checkpoint {self.path}: {error.strerror or error}"
            ) from error

    def load(self) -> dict[str, Any] | None:
        """The stored checkpoint, or None when there is no file yet.

        Raises ``CheckpointError`` with a one-line message naming the file when the file
        cannot be read, is not JSON, or does not hold a JSON object.
        """
        try:  # a FIFO or a device is refused (NotAFile), never waited on nor read
            with os.fdopen(open_regular(self.path), "rb") as stream:
                content = stream.read()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise CheckpointError(
                f"cannot read checkpoint {self.path}: {error.strerror or error}"
            ) from error
        return decode_checkpoint(
            content,
            not_json=lambda error: (
                f"checkpoint {self.path} is not valid JSON (line {error.lineno}, column "
                f"{error.colno}): restore it from a backup or start a new run directory"
            ),
            not_object=(
                f"checkpoint {self.path} does not hold a JSON object: restore it from a "
                "backup or start a new run directory"
            ),
        )

    def __repr__(self) -> str:
        return f"FileCheckpointStore({str(self.path)!r})"
