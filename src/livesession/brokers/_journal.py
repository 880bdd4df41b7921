"""The line format of the journals a simulated venue keeps (the venue and attempt journals)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import IO, Any

import orjson

from .._exceptions import StoreFailure
from .._support.fsutil import open_append
from .._support.oserrors import said_errno
from .._support.wholelines import append_whole, set_aside_torn_line

__all__ = ["append_entry", "open_journal", "replay_deferred", "replay_is_deferred", "sends_in"]

_DEFERRED: ContextVar[bool] = ContextVar("livesession_venue_replay_deferred", default=False)


@contextlib.contextmanager
def replay_deferred() -> Iterator[Callable[[], None]]:
    """A block in which calling what it yields defers the journal replay of each venue built.

    A resume from a checkpoint rebuilds the venue in ``resume_at``, to the checkpoint's
    offset, starting over (``_reset``): the whole journal replayed as the venue was built
    was work thrown away, and it held every report of the run at once (nothing taken as
    delivered). Such a venue replays in its ``resume_at`` instead, once.
    """
    token = _DEFERRED.set(False)

    def defer() -> None:
        _DEFERRED.set(True)

    try:
        yield defer
    finally:
        _DEFERRED.reset(token)


def replay_is_deferred() -> bool:
    """Whether a venue built now leaves its journal's replay to its ``resume_at``."""
    return _DEFERRED.get()


def open_journal(path: Path) -> IO[bytes]:
    """``path`` opened to append whole lines, unbuffered; a torn last line is set aside first.

    A torn last line (a process killed inside a write) never arrived, as a replay reads it;
    left in place, the next line appended to it would make one line no replay can read. It
    goes to ``<file>.torn``, as every torn tail of a run does.
    """
    if path.exists():
        set_aside_torn_line(path)
    return os.fdopen(open_append(path), "ab", buffering=0)  # never through a symlink


def append_entry(log: IO[bytes], entry: Mapping[str, Any], *, path: Path | None = None) -> None:
    """Append ``entry`` to ``log`` as one JSON line with sorted keys, whole or not at all.

    The venue is another system: its journals must survive our process being killed (each
    line goes to the OS at once), not a power cut of our machine, so no fsync here. A line
    the file system refuses (a full disk, a file size limit) is taken back, so the journal
    holds whole lines only, and ``StoreFailure`` names the journal: the request never
    reached the venue, and the run stops unsealed where it is, for ``resume`` once there
    is room. (A buffered line left half written went out with the next one, or when the
    journal was closed: one line no replay could read, or an error naming no file.)
    """
    line = orjson.dumps(entry, option=orjson.OPT_SORT_KEYS) + b"\n"
    try:
        append_whole(log.fileno(), line)
    except OSError as exc:
        name = path if path is not None else getattr(log, "name", "?")
        raise StoreFailure(
            f"the simulated venue's journal {name} refused a write ({said_errno(exc)})"
        ) from exc


def sends_in(data: bytes) -> set[str]:
    """The client order ids sent (``submit``) or sent again (``replay``) in journal bytes."""
    sent: set[str] = set()
    for raw in data.splitlines(keepends=True):
        if not raw.endswith(b"\n"):
            continue  # a torn last request never arrived
        entry = orjson.loads(raw)
        if entry["op"] == "submit":
            sent.add(entry["order"]["client_order_id"])
        elif entry["op"] == "replay":
            sent.add(entry["cid"])
    return sent
