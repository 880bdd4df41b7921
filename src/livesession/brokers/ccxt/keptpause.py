"""A pause a venue asked for, kept in a file beside the run so that a resume honours it.

``VenuePause`` keeps the end of a pause on the broker's monotonic clock, which a new
process does not share: a run killed during a ban (HTTP 418, ``Retry-After: 600``) and
resumed at once sent its first request into it (Binance lengthens a ban for requests made
during it). ``KeptPause`` writes the end on the wall clock (``wall_ns``, Unix ns) to one
small JSON file, ``venue_pause.json`` in a run's directory, each time the broker hears a
pause (and its own backoff after a 429 without ``Retry-After``: its end and length, so
that a resume doubles it as the killed process would have), atomically
(``atomic_write_bytes``), and the broker of the next process reads it when built. A file
that cannot be written keeps no pause; one with nothing left in it is removed when read
(and when its broker closes). It is no run artifact: outside the byte contract, never read
by ``verify``.

A file that is there but cannot be believed (not JSON, a field missing or of another type,
a negative number, a pause longer than ``KEPT_MAX_NS``, not a regular file) raises
``PauseUnreadable``, naming the problem in one line: the broker then waits a pause of its
own (``pacing``), neither none (a ban may be on) nor the file's (it may never end).
"""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Final, NamedTuple

import orjson

from ..._support.fsutil import atomic_write_bytes, read_regular

__all__ = ["KEPT_MAX_NS", "Kept", "KeptPause", "PauseUnreadable"]

KEPT_MAX_NS: Final = 3 * 24 * 3600 * 1_000_000_000
"""The longest pause kept (3 days, Binance's longest ban): a longer one is kept as this
long, and a file holding a longer one is not believed (``PauseUnreadable``)."""
_LIMIT: Final = 4096  # bytes: the file holds one small object


class PauseUnreadable(Exception):
    """A pause file that is there but cannot be believed; the message says why, in one line."""


class Kept(NamedTuple):
    """What a pause file holds, from now: what is left of the pause, why, and the backoff."""

    left_ns: int
    """What is left of the pause (0 or less: it has ended)."""
    why: str
    backoff: tuple[int, int] | None
    """The broker's last backoff: its end from now (negative: it has ended), its length."""


class KeptPause:
    """The end of a venue's pause in ``path``, on the wall clock ``wall_ns``."""

    def __init__(self, path: Path, *, wall_ns: Callable[[], int]) -> None:
        self._path = Path(path)
        self._wall_ns = wall_ns

    def save(self, venue: str, kept: Kept) -> None:
        """Keep that ``venue`` asked for no request for ``kept.left_ns`` more, and the backoff."""
        now = self._wall_ns()
        left = max(0, min(kept.left_ns, KEPT_MAX_NS))
        record: dict[str, object] = {
            "pause_ns": left,
            "until_ns": now + left,
            "venue": venue,
            "why": kept.why,
        }
        if kept.backoff is not None:
            end, length = kept.backoff
            record |= {"backoff_ns": length, "backoff_until_ns": now + end}
        with contextlib.suppress(OSError):
            if not self._special():
                atomic_write_bytes(
                    self._path, orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"
                )

    def remove(self) -> None:
        """Remove the file (best effort): nothing is left in it."""
        with contextlib.suppress(OSError):
            if not self._special():
                self._path.unlink(missing_ok=True)

    def _special(self) -> bool:
        """Whether the path is there and no regular file (a FIFO: never written, nor removed)."""
        try:
            return not stat.S_ISREG(self._path.lstat().st_mode)
        except FileNotFoundError:
            return False

    def load(self, venue: str) -> Kept | None:
        """What is left of ``venue``'s pause kept; None when none is (the file is then removed).

        Never more than the pause was when written (a wall clock set back does not lengthen
        it), so an end far in the future is bounded by it. ``PauseUnreadable`` when the file
        is there but cannot be believed; None when it is another venue's.
        """
        try:
            record = orjson.loads(read_regular(self._path, _LIMIT))
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise PauseUnreadable(f"{self._path.name}: {exc.strerror or exc}") from None
        except orjson.JSONDecodeError:
            raise PauseUnreadable(f"{self._path.name} is not JSON") from None
        if not isinstance(record, dict):
            raise PauseUnreadable(f"{self._path.name} is no JSON object")
        if record.get("venue") != venue:
            return None
        why = record.get("why")
        if not isinstance(why, str):
            raise PauseUnreadable(f"{self._path.name}: its why is not text")
        now = self._wall_ns()
        pause, until = self._ns(record, "pause_ns"), self._ns(record, "until_ns")
        left = min(until - now, pause)
        backoff = None
        if "backoff_ns" in record or "backoff_until_ns" in record:
            length = self._ns(record, "backoff_ns")
            end = min(self._ns(record, "backoff_until_ns") - now, length)
            backoff = (end, length) if end + length > 0 else None
        if left <= 0 and backoff is None:
            self.remove()  # over: nothing in it for a broker built later either
            return None
        return Kept(left, why, backoff)

    def _ns(self, record: dict[str, object], key: str) -> int:
        """``record[key]``: a whole number of ns from 0 to ``KEPT_MAX_NS`` (an end: from 0)."""
        value = record.get(key)
        high = None if key.endswith("until_ns") else KEPT_MAX_NS
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or value < 0
            or (high is not None and value > high)
        ):
            bound = "0 or more" if high is None else "from 0 to 3 days"
            raise PauseUnreadable(
                f"{self._path.name}: its {key} is no whole number of ns {bound} (got {value!r:.40})"
            )
        return value
