r"""Whether a sealed file that no longer matches its seal's digest was changed on the way.

``C2_DRYRUN_STOP`` holds the SHA-256 of ``events.jsonl`` and ``state_snapshots.jsonl`` as
the seal left them. A reviewer's copy that does not match them was either changed on the
way, as copies change text files (git's ``core.autocrlf``, a transfer in text mode, an
editor's byte order mark or its stripped final newline; a copy cut short and zero-filled
to its size), or changed after the seal otherwise: by hand, or damaged in its records.
The first kind is told by undoing what such a copy does and hashing the result: when it
matches the seal, the records are the run's and only the bytes moved; the second is said
as such, so that a reviewer knows which to report.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, BinaryIO, Final

from .._support.fsutil import raise_if_refused, refuse_special

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["transit_said"]

_CHUNK: Final = 1 << 20
_BOM: Final = b"\xef\xbb\xbf"


def transit_said(path: Path | bytes | None, sealed: object, *, other: bool = True) -> str:
    """What ``path``'s mismatch with the ``sealed`` digest is, said after the violation.

    ``, but does with ...: changed on the way ...`` when undoing a copy's
    conversion gives the sealed bytes; ``: its last N bytes are zeros ...`` for a file
    zero-filled at its end; else ``: changed after the seal ...`` ("" with ``other``
    False: a manifest's digest, which may be the side that changed). ``path`` may be the
    file's bytes (a run given as bytes); "" when it cannot be read again (None, or the host
    refused it), which its own violation says.
    """
    if path is None:
        return ""
    if isinstance(path, bytes):
        undone, zeros = _undone(io.BytesIO(path))
    else:
        try:
            refuse_special(path)
            with path.open("rb") as stream:
                undone, zeros = _undone(stream)
        except OSError as exc:
            raise_if_refused(exc, path)
            return ""
    digest, what = undone
    if what and digest == sealed:
        return (
            f", but does with {', '.join(what)}: changed on the way (taken for text), not in "
            "its records; get a byte-exact copy"
        )
    if zeros:
        return f": its last {zeros:,} bytes are zeros (a torn copy, cut short and zero-filled)"
    if not other:
        return ""
    return (
        ": changed after the seal, not by a copy's conversion: by hand, or damage; keep the "
        "run as it is and report it"
    )


def _undone(stream: BinaryIO) -> tuple[tuple[str, list[str]], int]:
    r"""The SHA-256 of the bytes with a copy's conversions undone, which ones, trailing NULs.

    Undone: a leading UTF-8 byte order mark, ``\r\n`` line ends, a missing final ``\n``.
    """
    digest = hashlib.sha256()
    what: list[str] = []
    head = stream.read(len(_BOM))
    if head == _BOM:
        what.append("its BOM removed")
        head = b""
    crlf, pending, tail, zeros = False, head, b"", 0
    while chunk := stream.read(_CHUNK):
        stripped = len(chunk) - len(chunk.rstrip(b"\0"))
        zeros = zeros + stripped if stripped == len(chunk) else stripped
        chunk = pending + chunk
        pending = b"\r" if chunk.endswith(b"\r") else b""
        whole = chunk[: len(chunk) - len(pending)]
        chunk = whole.replace(b"\r\n", b"\n")
        crlf = crlf or len(chunk) != len(whole)
        digest.update(chunk)
        tail = chunk[-1:] or tail
    digest.update(pending)
    tail = pending or tail
    if crlf:
        what.append("\\r\\n as \\n")
    if tail and tail != b"\n":
        digest.update(b"\n")
        what.append("its final \\n back")
    return (digest.hexdigest(), what), zeros
