"""PostgreSQL backends: idempotency reservations and checkpoints shared across processes.

Use them when more than one process (or host) must agree on which client order ids were
reserved: ``reserve`` is an ``INSERT ... ON CONFLICT DO NOTHING`` (then, for a key that
already existed, a ``SELECT``), each committed with ``synchronous_commit = on`` before it
returns, so a granted key is durable and granted to exactly one caller. psycopg 3 is
imported only when a backend is opened (``pip install 'livesession[postgres]'``).

Tables are created when absent, under a transaction-scoped advisory lock, so several
processes may start at once. The connection string (it may hold a password) never appears
in a message, a repr or a log: errors carry the server's reason with the password removed.
"""

from __future__ import annotations

import re
import urllib.parse
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import orjson

from livesession._exceptions import (
    CheckpointError,
    ConfigError,
    IdempotencyConflict,
    LiveSessionError,
    PostgresError,
)
from livesession._support.optional import import_optional
from livesession.stores._record import Reservation, check_key, check_text, unknown_key

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    import psycopg

__all__ = [
    "DSN_ENV_VAR",
    "PostgresCheckpointStore",
    "PostgresError",
    "PostgresIdempotencyStore",
    "describe_dsn",
    "pg_dsn_from_env",
    "redact_dsn_text",
]

DSN_ENV_VAR: Final = "LIVESESSION_PG_DSN"
_REDACTED: Final = "***"
_CONNECT_TIMEOUT_S: Final = 10
# One lock id for every livesession DDL statement: b"lvsessdd" read as a big-endian int.
_DDL_LOCK_ID: Final = 7815561082913907812
_URL_USERINFO = re.compile(r"(://[^:/@\s]*:)([^@\s]*)(@)")
_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", re.IGNORECASE)


# --- configuration and redaction -----------------------------------------------------------


def pg_dsn_from_env(environ: Mapping[str, str]) -> str:
    """The connection string in ``LIVESESSION_PG_DSN``; ``ConfigError`` when unset or blank.

    Pass ``os.environ`` (or any mapping, in tests). The value is returned as is; it is
    only parsed when a backend connects.
    """
    dsn = environ.get(DSN_ENV_VAR, "").strip()
    if not dsn:
        raise ConfigError(
            f"{DSN_ENV_VAR} is not set: export it as a PostgreSQL connection URI, "
            "e.g. postgresql://livesession@127.0.0.1:5432/livesession"
        )
    return dsn


def redact_dsn_text(text: str, dsn: str) -> str:
    """``text`` on one line with every trace of ``dsn``'s password replaced by ``***``.

    Removes the password literal (raw and URL-encoded), any ``scheme://user:pw@`` userinfo
    and any ``password=...`` pair, so it is safe even when ``dsn`` cannot be parsed.
    """
    one_line = " ".join(text.split())
    for secret in sorted(_password_literals(dsn), key=len, reverse=True):
        one_line = one_line.replace(secret, _REDACTED)
    one_line = _URL_USERINFO.sub(rf"\g<1>{_REDACTED}\g<3>", one_line)
    return _KV_PASSWORD.sub(rf"\g<1>{_REDACTED}", one_line)


def describe_dsn(dsn: str) -> str:
    """``user@host:port/dbname`` for reprs and messages, never the password.

    Parts missing from ``dsn`` are left out; an unparsable ``dsn`` reads ``<unparsable>``.
    """
    params = _parse_dsn(dsn)
    if params is None:
        return "<unparsable>"
    user = params.get("user", "")
    host = params.get("host", "") or params.get("hostaddr", "")
    port = params.get("port", "")
    text = f"{user}@" if user else ""
    text += host + (f":{port}" if port else "")
    dbname = params.get("dbname", "")
    return text + (f"/{dbname}" if dbname else "")


def _password_literals(dsn: str) -> set[str]:
    found: set[str] = set()
    params = _parse_dsn(dsn)
    if params is not None and params.get("password"):
        found.add(params["password"])
    # The patterns work on any text, so they find the password even in a DSN libpq rejects.
    raws = [match.group(2) for match in _URL_USERINFO.finditer(dsn)]
    raws += [match.group(2).strip("'") for match in _KV_PASSWORD.finditer(dsn)]
    for raw in raws:
        if raw:
            found.update({raw, urllib.parse.unquote(raw)})
    return found


def _parse_dsn(dsn: str) -> dict[str, str] | None:
    """The libpq parameters of ``dsn``, or None when it cannot be parsed (or no psycopg)."""
    try:
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - optional extra
    except ImportError:
        return None
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - any parse failure means "cannot describe"
        return None
    return {str(key): str(value) for key, value in params.items() if value is not None}


# --- one connection, errors translated ----------------------------------------------------


class _Pg:
    """One autocommit connection with ``synchronous_commit = on``; errors come out redacted.

    Shared by the stores here and by ``PostgresLease``. ``error`` is the library exception
    raised for every database failure, so each caller keeps its own contract.
    """

    def __init__(self, dsn: str, *, error: type[LiveSessionError], purpose: str) -> None:
        self._psycopg = import_optional("psycopg", "postgres")
        self._closed = False
        self._dsn = dsn
        self._error = error
        self.target = describe_dsn(dsn)
        params = _parse_dsn(dsn)
        if params is None:
            raise error(
                f"cannot use PostgreSQL for {purpose}: the connection string is not a valid "
                f"URI or key=value list (check {DSN_ENV_VAR})"
            )
        extra: dict[str, Any] = {"autocommit": True, "application_name": "livesession"}
        if "connect_timeout" not in params:
            extra["connect_timeout"] = _CONNECT_TIMEOUT_S
        with self.translate(f"connecting for {purpose}"):
            self._conn: psycopg.Connection[Any] = self._psycopg.connect(dsn, **extra)
        try:
            # One cursor for every statement: callers read each result before the next.
            self._cursor: psycopg.Cursor[Any] = self._conn.cursor()
            with self.translate("setting synchronous_commit"):
                # A durable reservation is the point: never accept the server's "off".
                self._cursor.execute("SET synchronous_commit = on")
        except BaseException:
            self.close()
            raise

    def execute(
        self, query: str, params: Sequence[object] | Mapping[str, object] | None = None
    ) -> psycopg.Cursor[Any]:
        """Run one statement (its own transaction, outside ``ensure_table``).

        Returns the shared cursor: read its result before the next call. Raises
        ``ValueError`` once closed.
        """
        if self._closed:
            raise ValueError(f"the PostgreSQL connection to {self.target} is closed")
        return self._cursor.execute(query, params)

    @contextmanager
    def translate(self, action: str) -> Iterator[None]:
        """Turn any psycopg error inside into ``self._error`` with a redacted one-line text."""
        try:
            yield
        except self._psycopg.Error as exc:
            reason = redact_dsn_text(str(exc), self._dsn) or type(exc).__name__
            # `from None`: the original exception's text is exactly what must not leak.
            raise self._error(
                f"PostgreSQL at {self.target} failed while {action}: {reason}"
            ) from None

    def ensure_table(self, table: str, ddl: str) -> None:
        """Create ``table`` with ``ddl`` unless it exists; safe when processes race.

        ``CREATE TABLE IF NOT EXISTS`` alone can still fail with a unique violation on
        ``pg_type`` when two sessions create the same table at once; the advisory lock
        makes them take turns. Existing tables need no CREATE privilege.
        """
        with self.translate(f"creating table {table}"):
            row = self.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if row is not None and row[0]:
                return
            with self._conn.transaction():
                self.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_ID,))
                self.execute(ddl)

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._closed = True
        self._conn.close()


# --- idempotency --------------------------------------------------------------------------

_IDEMPOTENCY_TABLE: Final = "livesession_idempotency"
_IDEMPOTENCY_DDL: Final = f"""
CREATE TABLE IF NOT EXISTS {_IDEMPOTENCY_TABLE} (
    namespace    text        NOT NULL,
    key          text        NOT NULL,
    fingerprint  text        NOT NULL,
    outcome      text,
    reserved_at  timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (namespace, key)
)
"""


class PostgresIdempotencyStore:
    """Reservations in table ``livesession_idempotency``, one ``namespace`` per session.

    ``reserve`` inserts with ``ON CONFLICT DO NOTHING`` and reads the row back only when
    it already existed, so among concurrent callers (processes, hosts) exactly one gets
    ``created=True``. Each statement commits on its own before the call returns. Keys are
    never expired here: delete old namespaces (``reserved_at``) once past any recovery
    window. Database failures raise ``PostgresError``; the connection is not re-opened.
    One connection per store; use a store from one thread at a time.
    """

    def __init__(self, dsn: str, *, namespace: str) -> None:
        self._namespace = check_text("namespace", namespace)
        self._pg = _Pg(dsn, error=PostgresError, purpose="idempotency reservations")
        try:
            self._pg.ensure_table(_IDEMPOTENCY_TABLE, _IDEMPOTENCY_DDL)
        except BaseException:
            self._pg.close()
            raise

    def reserve(self, key: str, fingerprint: str) -> Reservation:
        """Reserve ``key`` for ``fingerprint``; see ``IdempotencyStore.reserve``."""
        check_key(key)
        check_text("fingerprint", fingerprint)
        with self._pg.translate(f"reserving idempotency key {key!r}"):
            inserted = self._pg.execute(
                f"INSERT INTO {_IDEMPOTENCY_TABLE} (namespace, key, fingerprint) "  # noqa: S608 - constant table name
                "VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
                (self._namespace, key, fingerprint),
            )
            if inserted.rowcount == 1:
                return Reservation(key=key, fingerprint=fingerprint, created=True)
            # The conflicting row is committed (ON CONFLICT waits for its inserter), and
            # this new statement's snapshot sees it. Rows are never deleted by a store.
            existing = self._select(key)
        if existing is None:
            raise PostgresError(
                f"idempotency key {key!r} conflicted on insert but cannot be read back: "
                f"was it deleted from {_IDEMPOTENCY_TABLE} while in use?"
            )
        if existing.fingerprint != fingerprint:
            raise IdempotencyConflict(
                f"idempotency key {key!r} is already reserved with different order parameters"
            )
        return existing

    def complete(self, key: str, outcome: str) -> None:
        """Record ``outcome`` for a reserved key; a later call replaces it."""
        check_key(key)
        check_text("outcome", outcome)
        with self._pg.translate(f"completing idempotency key {key!r}"):
            updated = self._pg.execute(
                f"UPDATE {_IDEMPOTENCY_TABLE} SET outcome = %s, completed_at = now() "  # noqa: S608 - constant table name
                "WHERE namespace = %s AND key = %s",
                (outcome, self._namespace, key),
            )
        if updated.rowcount != 1:
            raise unknown_key(key)

    def get(self, key: str) -> Reservation | None:
        """The record for ``key`` (``created`` is False), or None."""
        check_key(key)
        with self._pg.translate(f"reading idempotency key {key!r}"):
            return self._select(key)

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._pg.close()

    def __repr__(self) -> str:
        return f"PostgresIdempotencyStore({self._pg.target!r}, namespace={self._namespace!r})"

    def _select(self, key: str) -> Reservation | None:
        row = self._pg.execute(
            f"SELECT fingerprint, outcome FROM {_IDEMPOTENCY_TABLE} "  # noqa: S608 - constant table name
            "WHERE namespace = %s AND key = %s",
            (self._namespace, key),
        ).fetchone()
        if row is None:
            return None
        return Reservation(key=key, fingerprint=row[0], outcome=row[1])


# --- checkpoints --------------------------------------------------------------------------

_CHECKPOINT_TABLE: Final = "livesession_checkpoint"
_CHECKPOINT_DDL: Final = f"""
CREATE TABLE IF NOT EXISTS {_CHECKPOINT_TABLE} (
    run_key  text        PRIMARY KEY,
    body     text        NOT NULL,
    saved_at timestamptz NOT NULL DEFAULT now()
)
"""


class PostgresCheckpointStore:
    """The latest checkpoint of one run (``run_key``), one row in ``livesession_checkpoint``.

    ``save`` replaces the row in a single upsert committed with ``synchronous_commit = on``:
    a reader sees the old checkpoint or the new one, never a mix, and a saved one survives
    a server crash. The body is JSON text (orjson, sorted keys). ``load`` raises
    ``CheckpointError`` when the stored text is not a JSON object, and every database
    failure is a ``CheckpointError`` too.
    """

    def __init__(self, dsn: str, *, run_key: str) -> None:
        self._run_key = check_text("run_key", run_key)
        self._pg = _Pg(dsn, error=CheckpointError, purpose="checkpoints")
        try:
            self._pg.ensure_table(_CHECKPOINT_TABLE, _CHECKPOINT_DDL)
        except BaseException:
            self._pg.close()
            raise

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        """Replace the stored checkpoint atomically and durably."""
        try:
            body = orjson.dumps(dict(checkpoint), option=orjson.OPT_SORT_KEYS).decode()
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise CheckpointError(f"checkpoint is not JSON-serialisable: {exc}") from None
        with self._pg.translate(f"saving the checkpoint of run {self._run_key!r}"):
            self._pg.execute(
                f"INSERT INTO {_CHECKPOINT_TABLE} AS c (run_key, body) VALUES (%s, %s) "  # noqa: S608 - constant table name
                "ON CONFLICT (run_key) DO UPDATE SET body = EXCLUDED.body, saved_at = now()",
                (self._run_key, body),
            )

    def load(self) -> dict[str, Any] | None:
        """The stored checkpoint, or None when this run has none."""
        with self._pg.translate(f"loading the checkpoint of run {self._run_key!r}"):
            row = self._pg.execute(
                f"SELECT body FROM {_CHECKPOINT_TABLE} WHERE run_key = %s",  # noqa: S608 - constant table name
                (self._run_key,),
            ).fetchone()
        if row is None:
            return None
        try:
            loaded = orjson.loads(row[0])
        except orjson.JSONDecodeError as exc:
            raise CheckpointError(
                f"the checkpoint of run {self._run_key!r} in {_CHECKPOINT_TABLE} is corrupt "
                f"({exc}): delete that row to start the run afresh"
            ) from None
        if not isinstance(loaded, dict):
            raise CheckpointError(
                f"the checkpoint of run {self._run_key!r} in {_CHECKPOINT_TABLE} is not a "
                f"JSON object: delete that row to start the run afresh"
            )
        return loaded

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._pg.close()

    def __repr__(self) -> str:
        return f"PostgresCheckpointStore({self._pg.target!r}, run_key={self._run_key!r})"
