r"""A run file whose last record is whole but for the ``\n`` after it.

A crash tears a line as it is written: what it leaves past the last ``\n`` is cut
short, or no JSON at all. A sealed run's file whose last line is a whole record without
its ``\n`` was not left so by the session, which writes each line with its ``\n`` at once:
the file lost its last byte on the way (an editor, or a tool, that strips a file's final
newline). The readers that judge the seal say that, and name the record, rather than
read its file as cut (``the audit log was cut: tampering or a lost tail``) or blame the
checkpoint beside it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import orjson

from .._support.fsutil import raise_if_refused, refuse_special

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["LOST_NEWLINE", "unterminated_record", "zero_tail"]

_TAIL_BYTES: Final = 1 << 16
"""How far back the last line is looked for: a seal's record is far shorter."""

LOST_NEWLINE: Final = (
    "its last byte lost on the way: a copy, or an editor that strips a file's final newline"
)
r"""Why a sealed file's last record lacks its ``\n``, as the readers say it."""


def unterminated_record(path: Path) -> dict[str, Any] | None:
    r"""The last line of ``path`` when it is a whole JSON object with no ``\n`` after it.

    None when the file ends with ``\n``, is empty or missing, when its last line is no JSON
    object (a crash's torn line), or longer than the tail read.

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``); ``NotAFile``
            for a FIFO or a device, refused before a byte is read.
    """
    size, tail = _tail_of(path)
    if not tail or tail.endswith(b"\n") or (b"\n" not in tail and size > len(tail)):
        return None
    try:
        found = orjson.loads(tail.rsplit(b"\n", 1)[-1])
    except orjson.JSONDecodeError:
        return None
    return found if isinstance(found, dict) else None


def zero_tail(path: Path) -> int:
    r"""How many zero bytes ``path`` ends in (within its last 64 KiB); 0 for none or no file.

    A copy cut short and zero-filled to its size (a torn copy) leaves them; the session
    never writes one (each line ends ``\n``).

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``).
    """
    _, tail = _tail_of(path)
    return len(tail) - len(tail.rstrip(b"\0"))


def _tail_of(path: Path) -> tuple[int, bytes]:
    """``path``'s size and its last ``_TAIL_BYTES``; ``(0, b"")`` for a file that is not there.

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``); ``NotAFile``
            for a FIFO or a device, refused before a byte is read.
    """
    try:
        refuse_special(path)
        with path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - _TAIL_BYTES))
            return size, f.read()
    except OSError as exc:
        raise_if_refused(exc, path)
        return 0, b""
