"""The journals a simulated venue keeps (the venue and attempt journals).

Opened and appended to in whole lines (``open_journal``, ``append_entry``), read for the
client ids a stretch of them sends (``sends_in``), and replayed once on a resume: the
replay a venue would make as it is built deferred to its ``resume_at`` (``replay_deferred``).
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Final, cast

import orjson

from .._domain.decimal import finite_decimal
from .._domain.model import order_from_json
from .._exceptions import StoreFailure
from .._support.fsutil import open_append
from .._support.handlerraised import raised_in_handler
from .._support.oserrors import said_errno
from .._support.underfoot import changed_under
from .._support.wholelines import append_whole, set_aside_torn_line

__all__ = [
    "Journal",
    "append_entry",
    "attempt_problem",
    "defer_replay",
    "open_journal",
    "open_journal_of",
    "read_request",
    "replay_deferred",
    "replay_the_rest",
    "request_problem",
    "sends_in",
]

_FIELD_OF: Final = {
    "submit": "order",
    "deliver": "count",
    "resume": "offset",
    "touch": "cid",
    "cancel": "cid",
    "replay": "cid",
}
"""Each request the venue journals, and the field of its own that its replay reads."""


class _Deferral:
    """The venues built in a ``replay_deferred`` block while it was armed, unreplayed."""

    def __init__(self) -> None:
        self.armed = False
        self.replays: list[Callable[[], None]] = []

    def arm(self) -> None:
        self.armed = True


_DEFERRED: ContextVar[_Deferral | None] = ContextVar(
    "livesession_venue_replay_deferred", default=None
)


@contextlib.contextmanager
def replay_deferred() -> Iterator[Callable[[], None]]:
    """A block in which calling what it yields defers the journal replay of each venue built.

    A resume from a checkpoint rebuilds the venue in ``resume_at``, to the checkpoint's
    offset, starting over (``_reset``): the whole journal replayed as the venue was built
    was work thrown away, and it held every report of the run at once (nothing taken as
    delivered). Such a venue replays in its ``resume_at`` instead, once; one that no
    ``resume_at`` reached replays as it was built when the resume calls ``replay_the_rest``.
    """
    deferral = _Deferral()
    token = _DEFERRED.set(deferral)
    try:
        yield deferral.arm
    finally:
        _DEFERRED.reset(token)


def defer_replay(replay: Callable[[], None]) -> bool:
    """Whether a venue built now leaves its journal's replay to its ``resume_at``.

    If so, ``replay`` (the venue's replay as built, which does nothing once the venue has
    replayed) is kept for ``replay_the_rest``.
    """
    deferral = _DEFERRED.get()
    if deferral is None or not deferral.armed:
        return False
    deferral.replays.append(replay)
    return True


def replay_the_rest() -> None:
    """The resume's venue catch-up is done: each deferred venue not replayed yet replays now.

    That is a venue ``resume_at`` did not reach: one a caller's ``broker_factory`` wrapped
    in a broker that is neither a ``ResumableVenue`` nor a ``RelayedVenue``. It replays its
    whole journal, as it did when it was built, rather than stay empty. A venue built after
    this replays as it is built.
    """
    deferral = _DEFERRED.get()
    if deferral is None:
        return
    replays, deferral.replays, deferral.armed = deferral.replays, [], False
    for replay in replays:
        replay()


class Journal:
    """A journal's descriptor, appended to unbuffered: what a venue writes its lines through.

    A bare descriptor, not a file object: a venue whose session the application never
    closed, still referenced as the interpreter exits (or in a forked child that exits),
    left an unclosed ``FileIO`` that said ``ResourceWarning: unclosed file`` at shutdown
    (``Exception ignored in: <_io.FileIO name=5 mode='ab'>`` under ``-W error``). The
    system closes the descriptor as the process ends; the venue's finalizer, or ``close``,
    before.
    """

    __slots__ = ("at", "fd", "name", "size")

    def __init__(self, fd: int, name: Path) -> None:
        self.fd = fd
        self.name = name
        self.at = name.absolute()
        """Where it is, made absolute once: each append checks the file there is this one."""
        self.size = os.fstat(fd).st_size
        """The journal's length as this process left it: checked before each append."""

    def fileno(self) -> int:
        return self.fd

    def tell(self) -> int:
        """The journal's length: each line was appended at its end (``O_APPEND``)."""
        return os.lseek(self.fd, 0, os.SEEK_CUR)

    def close(self) -> None:
        """Close the descriptor (once: a second call does nothing)."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)


def open_journal(path: Path) -> Journal:
    """``path`` opened to append whole lines, unbuffered; a torn last line is set aside first.

    A torn last line (a process killed inside a write) never arrived, as a replay reads it;
    left in place, the next line appended to it would make one line no replay can read. It
    goes to ``<file>.torn``, as every torn tail of a run does.
    """
    if path.exists():
        set_aside_torn_line(path)
    fd = open_append(path)  # never through a symlink
    try:
        return Journal(fd, path)
    except BaseException:  # a Ctrl-C just then
        os.close(fd)
        raise


def open_journal_of(owner: object, path: Path) -> Journal:
    """``open_journal``, closed when ``owner`` (a venue dropped unclosed) is collected.

    A Ctrl-C as the finalizer was set up left the journal open for the life of the process
    (a ``create_run`` so interrupted took its run directory away, the journal still open):
    it is closed again then.
    """
    log = open_journal(path)
    try:
        weakref.finalize(owner, log.close).atexit = False
    except BaseException:
        log.close()
        raise
    return log


def append_entry(log: Journal, entry: Mapping[str, Any], *, path: Path | None = None) -> None:
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
        changed = changed_under(log.fd, log.at, log.size)
        if changed is not None:  # cut, moved or removed under the run (logrotate, a cleanup)
            raise changed
        append_whole(log.fd, line)
    except OSError as exc:
        if raised_in_handler(exc):  # a user's timer (a TimeoutError), not the file system
            raise
        name = path if path is not None else log.name
        raise StoreFailure(
            f"the simulated venue's journal {name} refused a write ({said_errno(exc)})"
        ) from exc
    log.size += len(line)


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


def request_problem(entry: object) -> str | None:
    """Why ``entry`` (a venue journal line, parsed) is no request the mock venue wrote.

    None when it is one: an ``op`` the venue journals, with the fields its replay reads,
    each of its kind (an order the venue could rebuild, a price that is a decimal's text).
    A line of another file, or one edited, failed the replay with a bare ``KeyError``.
    """
    if not isinstance(entry, dict):
        return "not a JSON object"
    op = entry.get("op")
    field = _FIELD_OF.get(op) if isinstance(op, str) else None
    if field is None:
        return f"an op the venue never journals: {op!r}"
    if not _count(entry.get("now_ns")):
        return f"a {op} without its time, now_ns"
    price = entry.get("price")
    if price is not None and finite_decimal(price) is None:
        return f"a {op} whose price is no decimal: {price!r}"
    return None if _FIELD_CHECKS[field](entry.get(field)) else f"a {op} without its {field}"


def read_request(raw: bytes, path: Path | None, number: int) -> dict[str, Any]:
    """Line ``number`` of the venue journal ``path``, parsed: a request the venue wrote.

    ``ValueError`` naming the file and line (``path:number``) for any other line.
    """
    try:
        entry = orjson.loads(raw)
    except orjson.JSONDecodeError:
        entry = None
    problem = request_problem(entry)
    if problem is not None:
        raise ValueError(f"{path}:{number}: not a line of a venue journal ({problem})")
    return cast("dict[str, Any]", entry)


def attempt_problem(entry: object) -> str | None:
    """Why ``entry`` (an attempt journal line, parsed) is no attempt a realish broker wrote."""
    if not isinstance(entry, dict):
        return "not a JSON object"
    if not (isinstance(entry.get("op"), str) and isinstance(entry.get("cid"), str)):
        return "no attempt: no op and cid"
    return None if _count(entry.get("attempt")) else "an attempt without its number"


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _rebuilds(order: object) -> bool:
    try:
        order_from_json(order)
    except (KeyError, TypeError, ValueError, ArithmeticError):
        return False
    return True


_FIELD_CHECKS: Final[dict[str, Callable[[object], bool]]] = {
    "order": _rebuilds,
    "count": _count,
    "offset": _count,
    "cid": lambda cid: isinstance(cid, str),
}
