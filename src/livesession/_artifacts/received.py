"""A manifest as ``evidence`` wrote it, undoing what a copy converted on its way.

``evidence`` writes ``manifest.json`` with no byte order mark and no carriage return. A
bundle handed over through git's ``core.autocrlf``, a transfer in text mode or an editor
arrives with one or both: ``verify --manifest`` and ``burnin`` read it as it was written, and
say what was converted.
"""

from __future__ import annotations

from typing import Final

__all__ = ["as_written"]

_BOM: Final = b"\xef\xbb\xbf"


def as_written(data: bytes) -> tuple[bytes, str]:
    r"""The manifest's bytes as ``evidence`` wrote them, and what a copy changed ("": none).

    ``evidence`` writes no byte order mark and no carriage return (a ``\r`` in a value is
    escaped): a manifest that starts with the mark, or whose every line ends with ``\r\n``,
    was converted on its way (git's ``core.autocrlf``, a transfer in text mode, an editor),
    and its SHA-256 is not the one the desk published. The reviewer, told a difference means
    the files are not the run's, was given only that one. Any other ``\r`` is left as it is.
    """
    said = []
    if data.startswith(_BOM):
        data = data[len(_BOM) :]
        said.append("it starts with a UTF-8 byte order mark")
    if b"\r\n" in data and data.count(b"\r") == data.count(b"\r\n") == data.count(b"\n"):
        data = data.replace(b"\r\n", b"\n")
        said.append("its lines end with \\r\\n")
    return data, " and ".join(said)
