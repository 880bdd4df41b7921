"""SQLite's ``disk I/O error`` under a file size limit (``ulimit -f``) is said to be that.

Bug: under ``ulimit -f 2`` ``livesession dryrun`` said ``cannot open idempotency database
.../idempotency.sqlite: disk I/O error (is it a SQLite file on a local disk?)``: SQLite
reports a write past ``RLIMIT_FSIZE`` (EFBIG, SIGXFSZ ignored) as a plain I/O error, and the
line sent the operator to the file's format. A store that met the limit mid-run said
``refused a write (OperationalError: disk I/O error): the run is not sealed; once the file
system has room again``. The limit is now named where it can be told (the process has one,
and the database or its log is at it), and listed among the likely causes where it cannot.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from livesession._exceptions import RunDirectoryError
from livesession.stores import sqlite as store

from _helpers import cli_under

resource = pytest.importorskip("resource")  # POSIX


def test_a_database_that_cannot_be_created_under_ulimit_f_names_the_limit(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = cli_under(
        "dryrun", "--out", out, "--run-id", "z", "--steps", "30", "-q",
        limit=(resource.RLIMIT_FSIZE, 2048),
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"livesession: error: cannot open idempotency database {out / 'z'}/idempotency.sqlite: "
        "disk I/O error: a file size limit (`ulimit -f`) of 2048 bytes: raise it (or run "
        "without it), then run again\n"
    )
    assert not out.exists()  # refused while the run was created: nothing is left


def _io_error() -> sqlite3.OperationalError:
    error = sqlite3.OperationalError("disk I/O error")
    error.sqlite_errorcode = 10  # SQLITE_IOERR
    return error


def _refused(path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    def connect(*_args: object, **_kwargs: object) -> sqlite3.Connection:
        raise _io_error()

    monkeypatch.setattr(store, "connect", connect)
    with pytest.raises(RunDirectoryError) as refused:
        store.SqliteIdempotencyStore(path)
    return str(refused.value)


def test_without_a_limit_the_likely_causes_are_listed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (resource.RLIM_INFINITY,) * 2)
    path = tmp_path / "idempotency.sqlite"
    assert _refused(path, monkeypatch) == (
        f"cannot open idempotency database {path}: disk I/O error (likely causes: a file size "
        "limit, `ulimit -f`; a failing disk, which the kernel log names; a file that is no "
        "SQLite database on a local disk)"
    )


def test_a_limit_far_above_the_files_is_not_taken_for_the_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1 << 30, 1 << 30))
    assert "(likely causes: a file size limit" in _refused(tmp_path / "i.sqlite", monkeypatch)


def test_a_limit_the_database_is_at_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(resource, "getrlimit", lambda _: (1 << 20, 1 << 20))
    path = tmp_path / "idempotency.sqlite"
    path.with_name("idempotency.sqlite-wal").write_bytes(b"\0" * ((1 << 20) - 100))
    assert _refused(path, monkeypatch) == (
        f"cannot open idempotency database {path}: disk I/O error: a file size limit "
        f"(`ulimit -f`) of {1 << 20} bytes: raise it (or run without it), then run again"
    )


def test_memory_is_refused_without_leaving_a_file_of_that_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: the store made its file under the umask before SQLite opened it, and did so for
    ``:memory:`` too, SQLite's name for no file: the store refuses it (it needs WAL), and a
    file ``:memory:`` was left in the working directory."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RunDirectoryError, match="refused WAL mode"):
        store.SqliteIdempotencyStore(Path(":memory:"))
    assert list(tmp_path.iterdir()) == []
