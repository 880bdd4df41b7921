"""A file's first bytes scanned whole, without cutting them into lines in Python.

A crashed long run's ``events.jsonl`` holds a million lines; reading it line by line in
Python (a regular expression, a hash, a JSON parse each) took ``status`` seconds a run and
``list`` of a month's runs minutes. What a check needs of most of those lines is their
bytes hashed and counted, and the few lines holding a mark: found here by the C-level
``find`` over blocks of whole lines, each byte read once. (Plain reads, not a memory map:
a map of a file another process truncates meanwhile ends the reader with SIGBUS.)
"""

from __future__ import annotations

import hashlib
import os
import stat
from typing import TYPE_CHECKING, Any, Final

import attrs

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["PrefixScan", "marked_lines", "scan_prefix"]

_BLOCK: Final = 1 << 22


@attrs.frozen
class PrefixScan:
    r"""What ``scan_prefix`` found in a file's first bytes (which end a line).

    ``digest``: a hashlib SHA-256 object of them; ``lines``: how many lines they hold;
    ``first``, ``last``: the first and last line (without ``\n``); ``marked``: each line
    holding the mark, once, in order.
    """

    digest: Any
    lines: int
    first: bytes
    last: bytes
    marked: list[bytes]


def _regular(path: Path) -> bool:
    """Whether ``path`` is a regular file (a FIFO would block a read, a directory has none)."""
    return stat.S_ISREG(path.stat().st_mode)


def _holding(chunk: bytes, marks: tuple[bytes, ...]) -> list[bytes]:
    r"""Each line of ``chunk`` (whole lines, each ending ``\n``) holding a mark, once."""
    found: dict[int, int] = {}
    for mark in marks:
        at = chunk.find(mark)
        while at >= 0:
            start, stop = chunk.rfind(b"\n", 0, at) + 1, chunk.find(b"\n", at)
            found[start] = stop
            at = chunk.find(mark, stop)
    return [chunk[start : found[start]] for start in sorted(found)]


def _chunks(path: Path, offset: int, digest: Any) -> Iterator[bytes]:
    r"""``path``'s first ``offset`` bytes in chunks of whole lines (each ending ``\n``).

    ``digest`` (unless None) is updated with every byte read; what follows the last line
    end is left out (a line is joined once from its pieces, however many reads it spans).
    """
    pieces: list[bytes] = []
    with path.open("rb") as handle:
        left = offset
        while left > 0:
            block = handle.read(min(left, _BLOCK))
            if not block:
                return
            left -= len(block)
            if digest is not None:
                digest.update(block)
            end = block.rfind(b"\n") + 1
            if not end:
                pieces.append(block)
                continue
            yield b"".join([*pieces, block[:end]]) if pieces else block[:end]
            pieces = [block[end:]]


def scan_prefix(path: Path, offset: int, mark: bytes) -> PrefixScan | None:
    """``path``'s first ``offset`` bytes hashed, counted and searched for ``mark``.

    None when they are not there to scan whole: no regular file, shorter than ``offset``,
    or ``offset`` not at a line's end. Raises ``OSError`` when it cannot be read.
    """
    if offset <= 0 or not _regular(path):
        return None
    digest, lines, read = hashlib.sha256(), 0, 0
    first = last = b""
    marked: list[bytes] = []
    for chunk in _chunks(path, offset, digest):
        if not read:
            first = chunk[: chunk.find(b"\n")]
        read += len(chunk)
        lines += chunk.count(b"\n")
        last = chunk[chunk.rfind(b"\n", 0, len(chunk) - 1) + 1 : -1]
        marked += _holding(chunk, (mark,))
    if read != offset:
        return None  # cut short, or the offset inside a line
    return PrefixScan(digest, lines, first, last, marked)


def marked_lines(path: Path, offset: int, marks: tuple[bytes, ...]) -> list[bytes] | None:
    r"""The lines in ``path``'s first ``offset`` bytes holding one of ``marks``, in order.

    A line counts when its ``\n`` is within ``offset`` bytes. None when that is not all
    there is to tell (no regular file, or one whose last line has no ``\n`` and ends
    within ``offset``): the caller reads it line by line. Raises ``OSError`` when it
    cannot be read.
    """
    if not _regular(path):
        return None
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if 0 < size <= offset:
            handle.seek(size - 1)
            if handle.read(1) != b"\n":
                return None
    marked: list[bytes] = []
    for chunk in _chunks(path, min(offset, size), None):
        marked += _holding(chunk, marks)
    return marked
