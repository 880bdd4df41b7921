"""The line format of the journals a simulated venue keeps (the venue and attempt journals)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

import orjson

__all__ = ["append_entry"]


def append_entry(log: IO[bytes], entry: Mapping[str, Any]) -> None:
    """Append ``entry`` to ``log`` as one JSON line with sorted keys, and flush it.

    The venue is another system: its journals must survive our process being killed (a
    flush hands the line to the OS), not a power cut of our machine, so no fsync here.
    """
    log.write(orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n")
    log.flush()
