"""Whether a resume's idempotency store still holds the keys the run reserved.

A resume leans on the run's idempotency store: a key the crashed process reserved comes
back ``created=False``, so the re-run looks the order up instead of sending it again, and
on a venue it does not rewind every key the checkpoint does not account for is looked up
before the first step (``aftercheckpoint``). A store that lost the run's keys answers
every key as new: ``LIVESESSION_PG_DSN`` pointing at another database or schema than the
run used (a standby host configured apart), a namespace deleted, or a local
``idempotency.sqlite`` / ``idempotency.jsonl`` removed from the run directory, or put back
as another file (an empty one, an older copy, one copied without its ``-wal``). The resume
would then send again what the crashed process sent, and take its lease in a table no
other holder of the pair looks at.

So before anything changes, every client order id of an ``ORDER_SUBMITTED`` up to the
checkpoint (each was reserved before it was recorded) must be in the store.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._exceptions import PostgresError, RunDirectoryError
from .._support.oserrors import said
from .._support.signals import scratch_directory
from .._support.text import one_line
from ..stores._factory import JSONL_FILE_NAME, SQLITE_FILE_NAME
from ..stores.jsonl import JsonlIdempotencyStore
from ..stores.sqlite import SqliteIdempotencyStore
from .aftercheckpoint import recorded_orders
from .backing import pg_dsn, pg_timeout
from .layout import LOCAL_BACKENDS, STORES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._domain.config import DryrunConfig

__all__ = ["check_keys_kept", "check_store_opens"]

_LOCAL_FILES: Final = {"sqlite": SQLITE_FILE_NAME, "jsonl": JSONL_FILE_NAME}
_LOCAL_STORES: Final = {"sqlite": SqliteIdempotencyStore, "jsonl": JsonlIdempotencyStore}
_SHOWN: Final = 3
_SQLITE_HEADER: Final = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file (an empty file is a new database)."""
_BACKENDS: Final = (*LOCAL_BACKENDS, "postgres")
_DELETED: Final = (
    "restore them from a backup of the database, then resume again; without them the run "
    "cannot go on: settle its orders at the venue by hand and start a new run"
)
_POSTGRES_FIX: Final = (
    # None of them there: another database or schema, or the run's keys all deleted.
    (
        "point LIVESESSION_PG_DSN at the database (and schema) the run used, then resume "
        "again; if it names that one, the run's keys were deleted there (livesession_"
        f"idempotency truncated, the database recreated or restored from an older backup): "
        f"{_DELETED}"
    ),
    # Some of them there: the run's own database, which lost the rest.
    (
        "the run's own database lost them (rows of livesession_idempotency deleted, or the "
        f"database restored from an older backup): {_DELETED}"
    ),
)


def _recorded_backend(run_dir: Path, meta: Mapping[str, Any]) -> str:
    """The idempotency backend ``run.json`` records, refused when it names none it can be.

    This release writes ``idempotency_backend`` and ``store`` into every run (``postgres``
    both, or neither): one missing or unknown (an edit, a damaged file) fell back to
    ``sqlite`` on a local store, where a JSON Lines or PostgreSQL run's keys are not, and a
    resume would have sent again what the crashed process sent. A run of an older format
    is read as before.
    """
    backend, store = meta.get("idempotency_backend"), meta.get("store")
    paired = backend in _BACKENDS and store in STORES
    if meta.get("format") != names.RUN_FORMAT or (
        paired and (backend == "postgres") == (store == "postgres")
    ):
        return str(backend)
    said = ", ".join(
        f"{key} {one_line(str(meta[key]))[:40] if key in meta else 'missing'}"
        for key in ("idempotency_backend", "store")
    )
    raise RunDirectoryError(
        f"{run_dir / names.RUN_META} does not say where the run kept its client order ids "
        f"({said}), so a resume could send again what was sent; nothing was changed: "
        "restore run.json from a backup"
    )


def check_keys_kept(
    cfg: DryrunConfig,
    run_dir: Path,
    meta: Mapping[str, Any],
    events_offset: int,
    *,
    server: bool = True,
) -> None:
    """``RunDirectoryError`` when the run's store lacks a key the run recorded as submitted.

    ``meta`` is ``run.json``; its ``idempotency_backend`` ``memory`` keeps no key past
    its process, so there is nothing to check. ``server=False`` (``status`` and
    ``verify``, which need no DSN) leaves a PostgreSQL store unasked; a local file is read
    all the same, from a copy (``_local_keys``), so that they do not call a run resumable
    that the resume then refuses. Reads only: nothing in the run directory is written.
    """
    backend = _recorded_backend(run_dir, meta)
    if events_offset <= 0 or (
        backend not in _LOCAL_FILES and (backend != "postgres" or not server)
    ):
        return  # no checkpoint yet (the run starts over), or no store to ask
    path = run_dir / _LOCAL_FILES.get(backend, "")
    there = backend != "postgres" and path.exists()
    submitted = recorded_orders(run_dir / names.ARTIFACTS["events"], events_offset)
    if not submitted:
        return
    if backend == "postgres":
        try:
            where, held = _postgres_keys(cfg)
        except PostgresError as exc:  # the server gone, the role refused: redacted already
            raise PostgresError(
                f"cannot resume run {cfg.run_id}: its idempotency keys could not be read "
                f"({exc}); nothing was changed: resume again once the server answers "
                "(or LIVESESSION_PG_DSN names it rightly)"
            ) from None
    elif there:
        kept = _local_keys(backend, path, cfg.run_id)
        if kept is None:
            return  # a file the store cannot read: its own open refuses it, saying why
        where, held = str(path), kept
    else:
        where, held = f"{path} (missing)", set()
    missing = sorted(submitted - held)
    if not missing:
        return
    shown = ", ".join(repr(cid) for cid in missing[:_SHOWN])
    more = f" and {len(missing) - _SHOWN} more" if len(missing) > _SHOWN else ""
    fix = (
        _POSTGRES_FIX[len(missing) < len(submitted)]
        if backend == "postgres"
        else "put the run's own idempotency file back, then resume again"
    )
    raise RunDirectoryError(
        f"cannot resume run {cfg.run_id}: its idempotency store {where} lacks "
        f"{len(missing)} of the {len(submitted)} client order id(s) the run recorded as "
        f"submitted before its checkpoint ({shown}{more}), so a resume would send again "
        f"what was sent; nothing was changed: {fix}"
    )


def _local_keys(backend: str, path: Path, run_id: str) -> set[str] | None:
    """The keys the local store file at ``path`` holds, read without changing the run.

    Read by the store's own class from a copy of the file (and a SQLite database's
    ``-wal``) in a scratch directory: SQLite, even read-only, makes a ``-shm`` and ``-wal``
    beside a database closed cleanly, a JSON Lines store cuts a torn last line, and a resume
    refused for any reason changes nothing. None when the run's file cannot be read or the
    store refuses it (not a database, a damaged line): the store's own open judges such a
    file. An empty file holds none.

    Raises:
        RunDirectoryError: the copy could not be made where it goes (no temporary directory
            this user may write, a full one): the keys cannot be checked. None was returned,
            and a resume in a container whose root file system is read-only went on unchecked.
    """
    try:
        with scratch_directory("livesession-keys-") as scratch:
            copy = scratch / path.name
            try:
                shutil.copyfile(path, copy)
                wal = path.with_name(f"{path.name}-wal")
                if wal.is_file():
                    shutil.copyfile(wal, copy.with_name(wal.name))
            except OSError as exc:
                if _in_scratch(exc, scratch):
                    raise
                return None  # the run's own file refused: its store's open says why
            return _stored_keys(backend, copy)
    except OSError as exc:  # the scratch directory, or the copy in it, refused
        raise RunDirectoryError(
            f"cannot resume run {run_id}: {path} cannot be checked for the client order ids "
            "the run recorded as submitted (it is read from a copy in a temporary directory): "
            f"{_refused(exc)}; nothing was changed"
        ) from None


def _stored_keys(backend: str, copy: Path) -> set[str] | None:
    """The keys the store file ``copy`` holds; None when the store refuses it."""
    try:
        store = _LOCAL_STORES[backend](copy, durable=False)
        try:
            return {record.key for record in store.reservations()}
        finally:
            store.close()
    except (OSError, RunDirectoryError):
        return None


def _in_scratch(error: OSError, scratch: Path) -> bool:
    """Whether ``error`` names a file in ``scratch`` (the copy's side of a copy)."""
    named = (error.filename2, error.filename)
    return any(isinstance(name, str) and Path(name).parent == scratch for name in named)


def _refused(error: OSError) -> str:
    """``said``'s words of ``error``, after the file it names when it names one."""
    named = error.filename2 or error.filename
    return f"{named}: {said(error)}" if named else said(error)


def _postgres_keys(cfg: DryrunConfig) -> tuple[str, set[str]]:
    """The store's description and the keys its namespace (the run id) holds."""
    from ..stores.postgres import PostgresIdempotencyStore  # noqa: PLC0415 - optional extra

    store = PostgresIdempotencyStore(pg_dsn(), namespace=cfg.run_id, timeout_s=pg_timeout())
    try:
        return repr(store), {record.key for record in store.reservations()}
    finally:
        store.close()


def check_store_opens(run_dir: Path, meta: Mapping[str, Any]) -> None:
    """``RunDirectoryError`` when a resume could not open the run's local SQLite store.

    A resume refuses a run whose ``idempotency.sqlite`` SQLite cannot open (``cannot open
    idempotency database ...: file is not a database``), and records nothing of it: no
    run file, no session log line says why. ``status`` said ``crashed``,
    ``resumable yes`` and ``continue it``, which met the same refusal again. Told without
    opening it (``status``): a directory in the file's place, or a file that does not begin
    as a SQLite database does. Raises ``OSError`` when the host refused to read it.
    """
    path = run_dir / SQLITE_FILE_NAME
    if meta.get("idempotency_backend") != "sqlite" or not path.exists():
        return
    why = "it is a directory" if path.is_dir() else ""
    if not why and path.stat().st_size:  # an empty file opens as a new database
        with path.open("rb") as handle:
            if handle.read(len(_SQLITE_HEADER)) != _SQLITE_HEADER:
                why = "file is not a database (it does not begin as a SQLite database does)"
    if why:
        raise RunDirectoryError(
            f"cannot open idempotency database {path}: {why}, so a resume refuses the run: "
            "put the run's own idempotency file back, then resume again"
        )
