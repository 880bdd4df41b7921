"""A pause a venue asked for, kept in a file beside the run so that a resume honours it.

``VenuePause`` keeps the end of a pause on the broker's monotonic clock, which a new
process does not share: a run killed during a ban (HTTP 418, ``Retry-After: 600``) and
resumed at once sent its first request into it (Binance lengthens a ban for requests made
during it). ``KeptPause`` writes the end on the wall clock (``wall_ns``, Unix ns) to one
small JSON file, ``venue_pause.json`` in a run's directory, each time a longer pause is
heard, and the broker of the next process reads it when built. Best effort both ways: a
file that cannot be written or read (missing, not this venue's, not JSON) keeps no pause.
It is no run artifact: outside the byte contract, never read by ``verify``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from pathlib import Path

import orjson

__all__ = ["KeptPause"]


class KeptPause:
    """The end of a venue's pause in ``path``, on the wall clock ``wall_ns``."""

    def __init__(self, path: Path, *, wall_ns: Callable[[], int]) -> None:
        self._path = Path(path)
        self._wall_ns = wall_ns

    def save(self, venue: str, left_ns: int, why: str) -> None:
        """Keep that ``venue`` asked for no request for ``left_ns`` more (``why``)."""
        record = {"pause_ns": left_ns, "until_ns": self._wall_ns() + left_ns, "venue": venue}
        data = orjson.dumps(record | {"why": why}, option=orjson.OPT_SORT_KEYS) + b"\n"
        tmp = self._path.with_name(f".{self._path.name}.tmp")
        with contextlib.suppress(OSError):
            tmp.write_bytes(data)
            tmp.replace(self._path)

    def load(self, venue: str) -> tuple[int, str] | None:
        """What is left (ns) of ``venue``'s pause kept, and why; None when none is left.

        Never more than the pause was when heard (a wall clock set back does not lengthen it).
        """
        try:
            record = orjson.loads(self._path.read_bytes())
            until, pause, why = record["until_ns"], record["pause_ns"], record["why"]
            if record["venue"] != venue or not isinstance(why, str):
                return None
            left = min(int(until) - self._wall_ns(), int(pause))
        except (OSError, ValueError, TypeError, KeyError):
            return None
        return (left, why) if left > 0 else None
