"""The SQLite store's connection: its durability, the threads that use it, what it holds.

A session's owner thread opens the store, and a verb from another thread (a stop's flatten,
a close) may use it, one at a time under the session lock; ``durable=False`` (a
``durability = "none"`` run) asks SQLite for no sync; a file SQLite refuses leaves nothing
of the store open, even while the refusal is kept.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from livesession._exceptions import RunDirectoryError, StoreFailure
from livesession.stores import SqliteIdempotencyStore
from livesession.stores import sqlite as sqlite_module
from livesession.stores.sqlite import connect, size_limit

from store_contract import FP_A

_FULL, _OFF = 2, 0  # PRAGMA synchronous


def _synchronous(store: SqliteIdempotencyStore) -> int:
    return int(store._open_connection().execute("PRAGMA synchronous").fetchone()[0])


def test_a_store_opened_in_one_thread_serves_another(tmp_path: Path) -> None:
    store = SqliteIdempotencyStore(tmp_path / "s.sqlite")
    answers: list[object] = []

    def use() -> None:
        try:
            answers.append(store.reserve("k1", FP_A).created)
            store.complete("k1", "FILLED")
            answers.append(store.get("k1"))
        except BaseException as exc:  # handed to the test
            answers.append(exc)

    worker = threading.Thread(target=use)
    worker.start()
    worker.join()
    try:
        assert answers[0] is True, answers
        assert store.get("k1") == answers[1]
        assert store.get("k1").outcome == "FILLED"
    finally:
        store.close()


@pytest.mark.parametrize(("durable", "synchronous"), [(True, _FULL), (False, _OFF)])
def test_durable_decides_whether_sqlite_syncs(
    tmp_path: Path, durable: bool, synchronous: int
) -> None:
    store = SqliteIdempotencyStore(tmp_path / "s.sqlite", durable=durable)
    try:
        assert _synchronous(store) == synchronous
    finally:
        store.close()


def test_connect_syncs_unless_told_not_to(tmp_path: Path) -> None:
    """What benchmarks and tools measure is what a store opened without arguments uses."""
    connection = connect(tmp_path / "s.sqlite")
    try:
        assert connection.execute("PRAGMA synchronous").fetchone()[0] == _FULL
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        connection.close()


def _open_on(path: Path) -> list[str]:
    """The descriptors of this process open on ``path``."""
    fds = Path("/proc/self/fd")
    return [fd.name for fd in fds.iterdir() if os.path.realpath(fd) == str(path.resolve())]


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux /proc")
def test_a_file_sqlite_refuses_is_not_held_open_by_the_refusal(tmp_path: Path) -> None:
    """The refusal keeps the failed connection's frame in its traceback: the connection
    is closed before it is raised, so the file is not held open while the error is kept."""
    path = tmp_path / "idempotency.sqlite"
    path.write_bytes(b"this is not a database, just text" * 100)
    with pytest.raises(RunDirectoryError) as refused:
        SqliteIdempotencyStore(path)
    assert refused.value.__cause__ is not None  # the refusal, with its traceback, is kept
    assert _open_on(path) == []


_NEAR = 1 << 16  # a file this close to the limit: SQLite's next write would pass it


@pytest.mark.parametrize(
    ("soft", "wal", "named"),
    [
        (_NEAR, None, True),  # no file yet: the first write passes the limit
        (_NEAR + 1, None, False),
        (1 << 20, (1 << 20) - _NEAR, True),  # the log a write away from it
        (1 << 20, (1 << 20) - _NEAR - 1, False),
    ],
    ids=["no file, limit near", "no file, limit a byte farther", "log near", "log farther"],
)
def test_a_limit_is_named_only_within_a_write_of_the_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, soft: int, wal: int | None, named: bool
) -> None:
    """A log measured though its database is gone; a byte past the margin is no cause."""
    resource = pytest.importorskip("resource")
    monkeypatch.setattr(resource, "getrlimit", lambda _: (soft, soft))
    path = tmp_path / "idempotency.sqlite"
    if wal is not None:
        path.with_name("idempotency.sqlite-wal").write_bytes(b"\0" * wal)
    limit = size_limit(path)
    if named:
        assert limit is not None
        assert (limit.errno, limit.strerror) == (
            errno.EFBIG,
            f"a file size limit (`ulimit -f`) of {soft} bytes",
        )
    else:
        assert limit is None


def test_a_new_database_is_made_under_the_umask(tmp_path: Path) -> None:
    """Under ``umask 002`` the group may write the database and the files SQLite makes
    beside it (they take the database's mode), as it may every other file of a run."""
    old = os.umask(0o002)
    try:
        store = SqliteIdempotencyStore(tmp_path / "s.sqlite")
        store.reserve("k1", FP_A)
    finally:
        os.umask(old)
    try:
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()}
    finally:
        store.close()
    assert modes == {"s.sqlite": 0o664, "s.sqlite-wal": 0o664, "s.sqlite-shm": 0o664}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux /proc")
def test_a_database_locked_past_the_timeout_is_not_held_open_by_the_refusal(
    tmp_path: Path,
) -> None:
    """Opened, but its table not made in time: the connection is closed all the same.

    (SQLite keeps a closed connection's descriptor while another connection of the process
    holds a lock on the file, since closing it would drop that lock: so the writer goes
    first.)
    """
    path = tmp_path / "idempotency.sqlite"
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("BEGIN IMMEDIATE")  # another process's write, under way
        with pytest.raises(RunDirectoryError, match="database is locked") as refused:
            SqliteIdempotencyStore(path, busy_timeout_ms=0)
    finally:
        writer.close()
    assert refused.value.__cause__ is not None  # the refusal, with its traceback, is kept
    assert _open_on(path) == []


def test_a_write_another_writer_holds_up_past_the_timeout_is_refused_as_such(
    tmp_path: Path,
) -> None:
    """No file size limit is blamed where SQLite said the database is locked."""
    path = tmp_path / "idempotency.sqlite"
    store = SqliteIdempotencyStore(path, busy_timeout_ms=0)
    writer = sqlite3.connect(path, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        with pytest.raises(StoreFailure) as refused:
            store.reserve("k1", FP_A)
        writer.execute("ROLLBACK")
        assert store.reserve("k1", FP_A).created  # nothing was kept of the refused write
    finally:
        writer.close()
        store.close()
    assert str(refused.value) == (
        f"the idempotency store {store!r} refused a write (OperationalError: database is locked)"
    )


class _Interrupted:
    """A connection whose statements are interrupted (Ctrl-C while the table is made)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection

    def execute(self, *_args: object) -> None:
        raise KeyboardInterrupt

    def close(self) -> None:
        self._connection.close()


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux /proc")
def test_an_open_interrupted_leaves_nothing_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened = sqlite_module.connect
    monkeypatch.setattr(
        sqlite_module, "connect", lambda *args, **kwargs: _Interrupted(opened(*args, **kwargs))
    )
    path = tmp_path / "idempotency.sqlite"
    with pytest.raises(KeyboardInterrupt) as interrupted:
        SqliteIdempotencyStore(path)
    assert interrupted.value.__traceback__ is not None  # kept, with the store in a frame
    assert _open_on(path) == []


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="Linux /proc")
def test_close_lets_go_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "idempotency.sqlite"
    store = SqliteIdempotencyStore(path)
    store.reserve("k1", FP_A)
    assert _open_on(path) != []
    store.close()
    assert _open_on(path) == []
    with pytest.raises(ValueError, match="closed"):
        store.reserve("k2", FP_A)
