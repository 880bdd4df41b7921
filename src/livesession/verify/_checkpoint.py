"""``checkpoint.json`` as one verification reads it: its bytes read, and parsed, once.

Several checks hold a run to its checkpoint (the digests of the files up to it,
``_prefix``; the files a run keeps and the sealing checkpoint, ``_kept``). Each read and
parsed the file itself: five times over, which a strategy's heavy state (a checkpoint of
tens of megabytes) made most of ``verify``'s time and memory. One ``KeptCheckpoint`` is
made for each verification and handed to them; it is never shared between two, so a
checkpoint changed between two verifications (or by a test) is read again. Each answer
is what that check's own read gave before: the same document, the same ``{}`` for a
file that is missing, not JSON or not an object, and the same ``OSError`` raised again for
a file the host refused or that is no regular file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson

from .._artifacts import names
from .._artifacts.runread import read_bytes
from .._support.fsutil import raise_if_refused

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["KeptCheckpoint"]


class KeptCheckpoint:
    """The ``checkpoint.json`` of ``run_dir`` (None: a run given as bytes, which has none)."""

    def __init__(self, run_dir: Path | None) -> None:
        self.path = None if run_dir is None else run_dir / names.CHECKPOINT
        self._raw: bytes | OSError | None = None
        self._parsed: tuple[Any, orjson.JSONDecodeError | None] | None = None

    def raw(self) -> bytes:
        """The file's bytes, read at the first call.

        Raises:
            OSError: it could not be read (missing too): the same error at each call.
        """
        if self._raw is None:
            if self.path is None:
                self._raw = FileNotFoundError(f"no {names.CHECKPOINT}")
            else:
                try:
                    self._raw = read_bytes(self.path)
                except OSError as exc:
                    self._raw = exc
        if isinstance(self._raw, OSError):
            raise self._raw
        return self._raw

    def parsed(self) -> Any:
        """The JSON value the bytes hold, parsed at the first call.

        Raises:
            OSError: as ``raw``.
            orjson.JSONDecodeError: they are not JSON (the same error at each call).
        """
        raw = self.raw()
        if self._parsed is None:
            try:
                self._parsed = (orjson.loads(raw), None)
            except orjson.JSONDecodeError as exc:
                self._parsed = (None, exc)
        value, error = self._parsed
        if error is not None:
            raise error
        return value

    def document(self) -> dict[str, Any]:
        """The JSON object in the file; ``{}`` when it is missing, not JSON or not an object.

        As ``runread.read_json_object`` reads it.

        Raises:
            OSError: the host refused to read the file (``raise_if_refused``).
        """
        try:
            value = self.parsed()
        except OSError as exc:
            if self.path is None:
                return {}
            raise_if_refused(exc, self.path)
            return {}
        except orjson.JSONDecodeError:
            return {}
        return value if isinstance(value, dict) else {}
