"""An idempotency store in SQLite, safe for several processes on one host.

The database runs in WAL mode with ``synchronous=FULL``, and every statement commits on its
own, so a key is durable before ``reserve`` returns. ``reserve`` is ``INSERT OR IGNORE``
followed, when the row already existed, by a ``SELECT``: the database decides which caller
created a key, so two processes racing for the same key never both get ``created=True``.
Writers wait for each other up to ``busy_timeout_ms`` instead of failing at once.

Not for network file systems (SQLite's locking needs a local disk).
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypeVar

from .._exceptions import RunDirectoryError, StoreFailure
from .._support.filemode import NEW_FILE_MODE
from .._support.fsutil import NotAFile, refuse_special
from .._support.oserrors import fd_shortage, said
from ._record import RecordStore, Stored

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["SqliteIdempotencyStore"]

_T = TypeVar("_T")

DEFAULT_BUSY_TIMEOUT_MS = 30_000
_SQLITE_IOERR = 10
_SQLITE_FULL = 13
_SQLITE_CANTOPEN = 14
_FILES_OPEN = 4
"""Files SQLite holds open at once for a store in WAL mode: the database, its write-ahead
log, its shared memory, and the directory while it syncs a new file's entry."""
_MAX_PATHNAME = 512
"""The longest path SQLite's POSIX layer opens, in bytes (its ``MAX_PATHNAME``)."""
_JOURNAL_SUFFIX = "-journal"
"""The longest suffix SQLite adds to a database's path, which must fit in ``_MAX_PATHNAME``."""
_ROOM_BYTES = 1 << 20
"""Less free space than this where SQLite said ``disk I/O error``: the disk is full."""
_NEAR_LIMIT = 1 << 16
"""A file this close to the file size limit: SQLite's next write (a page, a WAL frame)
would pass it."""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS idempotency (
    key TEXT PRIMARY KEY NOT NULL,
    fingerprint TEXT NOT NULL,
    outcome TEXT
) WITHOUT ROWID
"""


def connect(
    path: Path, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS, durable: bool = True
) -> sqlite3.Connection:
    """An autocommit connection to ``path`` with the store's pragmas applied.

    Every statement is its own transaction (WAL). With ``durable`` (the default) it is
    synced before it returns (``synchronous=FULL``); without, it survives the process being
    killed but not a power cut (``synchronous=OFF``, for ``durability = "none"`` runs).
    Exposed so that benchmarks and tools measure and inspect exactly what the store uses.
    """
    # Not bound to the opening thread: a session's owner thread uses it, and so may a
    # verb from another thread (a stop's flatten, a close), one at a time under the
    # session lock, so the connection is never used by two threads at once.
    connection = sqlite3.connect(
        path, timeout=busy_timeout_ms / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = connection.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        connection.execute(f"PRAGMA synchronous = {'FULL' if durable else 'OFF'}")
    except BaseException:
        connection.close()
        raise
    if str(mode).lower() != "wal":
        connection.close()
        raise sqlite3.OperationalError(f"{path}: SQLite refused WAL mode (got {mode!r})")
    return connection


def _disk_full(path: Path, error: sqlite3.Error) -> str:
    """What to say when ``error`` came of a full disk ("" when it did not, as far as known).

    SQLite says ``database or disk is full`` (SQLITE_FULL) when it knows, but a write that
    fails with ENOSPC while it opens a file comes back as a plain ``disk I/O error``
    (SQLITE_IOERR): then the free space on the file's disk decides.
    """
    code = getattr(error, "sqlite_errorcode", None)
    primary = code & 0xFF if isinstance(code, int) else None
    if primary not in (_SQLITE_FULL, _SQLITE_IOERR):
        return ""
    try:
        free = shutil.disk_usage(path.parent).free
    except OSError:
        free = None
    if primary == _SQLITE_IOERR and (free is None or free >= _ROOM_BYTES):
        return ""
    room = "" if free is None else f" ({free} bytes free in {path.parent})"
    return f"the disk is full{room}: make room, then run again"


def size_limit(path: Path) -> OSError | None:
    """The file size limit (``ulimit -f``) ``path``'s database met, as far as can be told.

    SQLite says a plain ``disk I/O error`` for a write past the process's ``RLIMIT_FSIZE``
    (EFBIG: Python ignores SIGXFSZ), as it does for a failing disk. The limit is taken for
    the cause when the database or its write-ahead log is within ``_NEAR_LIMIT`` bytes of it
    (a write that would pass it); None when no limit is set, or the files are far below.
    """
    try:
        import resource  # noqa: PLC0415 - POSIX only
    except ImportError:  # pragma: no cover - not POSIX
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    if soft == resource.RLIM_INFINITY:
        return None
    sizes = [0]
    for file in (path, path.with_name(f"{path.name}-wal")):
        try:
            sizes.append(file.stat().st_size)
        except OSError:
            continue
    if max(sizes) + _NEAR_LIMIT < soft:
        return None
    return OSError(errno.EFBIG, f"a file size limit (`ulimit -f`) of {soft} bytes")


def _io_error(path: Path, error: BaseException | None) -> str:
    """What a ``disk I/O error`` (SQLITE_IOERR) opening ``path`` came of ("" for another).

    A file size limit when it can be told (``size_limit``); else the likely causes, that
    one among them (a full disk is told by ``_disk_full`` first).
    """
    code = getattr(error, "sqlite_errorcode", None)
    if not isinstance(code, int) or code & 0xFF != _SQLITE_IOERR:
        return ""
    limit = size_limit(path)
    if limit is not None:
        return f": {limit.strerror}: raise it (or run without it), then run again"
    return (
        " (likely causes: a file size limit, `ulimit -f`; a failing disk, which the kernel "
        "log names; a file that is no SQLite database on a local disk)"
    )


def _not_opened(path: Path, error: sqlite3.Error) -> str:
    """Why SQLite could not open ``path``, where the system can tell (its error does not).

    ``unable to open database file`` (SQLITE_CANTOPEN) hides the errno: a process out of
    file descriptors (WAL mode holds the database, its log and its shared memory open), a
    directory it may not write, or one whose file system has no inode left for the files
    WAL mode makes beside it (the database made, its ``-wal`` or ``-shm`` not). Only when
    none is the cause is the file itself suspect: another program's, or on a network disk.
    """
    code = getattr(error, "sqlite_errorcode", None)
    if isinstance(code, int) and code & 0xFF == _SQLITE_CANTOPEN:
        files = (path, *(path.with_name(f"{path.name}{end}") for end in ("-wal", "-shm")))
        refused = fd_shortage(_FILES_OPEN) or next(filter(None, map(_write_refused, files)), None)
        if refused is not None:
            return f" ({said(refused)})"
        too_long = _too_long(path)
        if too_long:
            return f" ({too_long})"
    return " (is it a SQLite file on a local disk?)"


def _too_long(path: Path) -> str:
    """Why SQLite opens no database at ``path``, when its path is too long ("" when not).

    SQLite's POSIX layer takes a path of at most ``_MAX_PATHNAME`` bytes, the suffix of its
    journal (``-journal``, the longest) included, and it measures the absolute path with
    its symlinks resolved: past that it says only ``unable to open database file``, for a
    path the system itself takes (``PATH_MAX`` is 4096). A run directory deep enough meets it.
    """
    try:
        size = len(os.fsencode(os.path.realpath(path)))
    except (OSError, ValueError):
        return ""
    if size + len(_JOURNAL_SUFFIX) <= _MAX_PATHNAME:
        return ""
    return (
        f"its path is {size} bytes, its symlinks resolved, and SQLite opens none longer than "
        f"{_MAX_PATHNAME - len(_JOURNAL_SUFFIX)}: put the run where its path is shorter, or "
        "keep its client order ids in a JSONL file (`--idempotency-backend jsonl`, "
        "idempotency_backend='jsonl' from Python)"
    )


def _write_refused(path: Path) -> OSError | None:
    """The error opening ``path`` to write meets now (a new file: one in its directory)."""
    try:
        if path.exists():
            os.close(os.open(path, os.O_RDWR))
        else:  # an unnamed file, gone when closed: nothing is left in the directory
            tempfile.TemporaryFile(dir=path.parent).close()
    except OSError as exc:
        return exc
    return None


_NO_FILE: Final = ":memory:"


def _create(path: Path) -> None:
    """Make a new database file under the umask, as every other file of a run is made.

    SQLite makes one ``0644`` before the umask (and its ``-wal`` and ``-shm`` take the
    database's mode): under ``umask 002`` the group could not write it, and so could not
    resume a run its other files let it. A file already there (or a link) is left as it is,
    and a refusal is SQLite's to say; so is ``:memory:``, SQLite's name for no file (which
    the store refuses: it needs WAL), where a file of that name was left behind.
    """
    if str(path) == _NO_FILE:
        return
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
    with contextlib.suppress(OSError):
        os.close(os.open(path, flags, NEW_FILE_MODE))


class SqliteIdempotencyStore(RecordStore):
    """Reservations in one SQLite table; one connection per store object.

    Several store objects, in one process or several, may share a file. Each object is used
    by one thread at a time (a session serializes its calls under the session lock), not
    necessarily the thread that opened it. A file that SQLite cannot open
    or that is not a database raises ``RunDirectoryError`` naming it. A writer that cannot
    get its turn within ``busy_timeout_ms`` gets ``sqlite3.OperationalError``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
        durable: bool = True,
    ) -> None:
        self.path = Path(path)
        self._connection: sqlite3.Connection | None = None
        try:  # a FIFO, a device: SQLite's own word for it would blame the disk
            refuse_special(self.path)
        except NotAFile as exc:
            raise RunDirectoryError(
                f"cannot open idempotency database {self.path}: {exc.strerror}"
            ) from exc
        _create(self.path)
        try:
            self._connection = connect(self.path, busy_timeout_ms=busy_timeout_ms, durable=durable)
            self._connection.execute(_SCHEMA)
        except sqlite3.Error as error:
            self.close()
            full = _disk_full(self.path, error)
            why = f": {full}" if full else _io_error(self.path, error)
            why = why or _not_opened(self.path, error)
            raise RunDirectoryError(
                f"cannot open idempotency database {self.path}: {error}{why}"
            ) from error
        except BaseException:
            self.close()
            raise

    refused_writes = (OSError, sqlite3.OperationalError)
    """A full disk or quota (``disk I/O error``, ``database or disk is full``), or a writer
    that could not get its turn within ``busy_timeout_ms`` (``database is locked``)."""

    def _store_write(self, write: Callable[[str, str], _T], key: str, value: str) -> _T:
        """As the base class; a ``disk I/O error`` past a file size limit says so.

        Its ``StoreFailure`` is then raised from the limit's ``OSError`` (EFBIG), so that
        the CLI's way out is to raise the limit, not to make room on the disk.
        """
        try:
            return super()._store_write(write, key, value)
        except StoreFailure as exc:
            limit = size_limit(self.path) if _io_error(self.path, exc.__cause__) else None
            if limit is None:
                raise
            raise StoreFailure(f"{exc} under {limit.strerror}") from limit

    def _insert(self, key: str, fingerprint: str) -> Stored | None:
        connection = self._open_connection()
        inserted = connection.execute(
            "INSERT OR IGNORE INTO idempotency (key, fingerprint) VALUES (?, ?)",
            (key, fingerprint),
        ).rowcount
        if inserted == 1:
            return None
        row = self._lookup(key)
        if row is None:  # pragma: no cover - rows are never deleted
            raise RuntimeError(f"idempotency key {key!r} vanished from {self.path}")
        return row

    def _set_outcome(self, key: str, outcome: str) -> bool:
        updated = (
            self._open_connection()
            .execute("UPDATE idempotency SET outcome = ? WHERE key = ?", (outcome, key))
            .rowcount
        )
        return bool(updated == 1)

    def _lookup(self, key: str) -> Stored | None:
        row: Stored | None = (
            self._open_connection()
            .execute("SELECT fingerprint, outcome FROM idempotency WHERE key = ?", (key,))
            .fetchone()
        )
        return row

    def _every(self) -> list[tuple[str, Stored]]:
        rows = self._open_connection().execute("SELECT key, fingerprint, outcome FROM idempotency")
        return [(key, (fingerprint, outcome)) for key, fingerprint, outcome in rows]

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        connection, self._connection = self._connection, None
        if connection is not None:
            connection.close()

    def __repr__(self) -> str:
        return f"SqliteIdempotencyStore({str(self.path)!r})"

    def _open_connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise ValueError(f"idempotency store {self.path} is closed")
        return self._connection
