"""One PostgreSQL connection as every livesession backend uses it.

Autocommit with ``synchronous_commit = on``, one table created on open (safely when
processes race), and every psycopg error turned into the caller's own exception with the
password removed. psycopg 3 is imported only when a connection is opened.
"""

from __future__ import annotations

import math
import os
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._support.optional import import_optional
from .deadline import DEFAULT_TIMEOUT_S, TIMEOUT_ENV_VAR, CallDeadline
from .dsn import DSN_ENV_VAR, Dsn, describe_dsn, dsn_text, parse_dsn, redact_dsn_text
from .shape import COLUMNS_QUERY, UNIQUE_KEYS_QUERY, shape_differences

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    import psycopg

    from .._exceptions import LiveSessionError

__all__ = ["PgConnection", "PgTable"]

_MIN_CONNECT_TIMEOUT_S: Final = 2  # libpq waits at least 2 s (1 is read as 2)
_IDLE_TIMEOUT_SINCE: Final = 140000  # PostgreSQL 14 brought idle_session_timeout
_NO_IDLE_TIMEOUT: Final = "-c idle_session_timeout=0"
_OPTION_REFUSED: Final = (
    'unrecognized configuration parameter "idle_session_timeout"',  # PostgreSQL before 14
    "unsupported startup parameter",  # a pooler that passes no options (PgBouncer)
)
"""What a server or pooler that will not take ``_NO_IDLE_TIMEOUT`` at connect says."""
# One lock id for every livesession DDL statement: b"lvsessdd" read as a big-endian int.
_DDL_LOCK_ID: Final = 7815561082913907812


@attrs.frozen(kw_only=True)
class PgTable:
    """A table a ``PgConnection`` is opened for, created on open unless it exists.

    ``columns`` maps each column's name to its SQL type and constraints; ``added`` holds
    those of them a table made by an older version may lack (added on open). ``purpose``
    names what the table is for in messages, and ``error`` is the library exception every
    failure of a connection opened for it raises, so each user keeps its own contract.
    """

    name: str
    columns: Mapping[str, str]
    purpose: str
    error: type[LiveSessionError]
    primary_key: str = ""
    added: Mapping[str, str] = attrs.field(factory=dict)

    @property
    def ddl(self) -> str:
        """``CREATE TABLE IF NOT EXISTS`` the table, with its columns and primary key."""
        lines = [f"{name} {kind}" for name, kind in self.columns.items()]
        if self.primary_key:
            lines.append(f"PRIMARY KEY ({self.primary_key})")
        body = ",\n    ".join(lines)
        return f"CREATE TABLE IF NOT EXISTS {self.name} (\n    {body}\n)\n"


class PgConnection:
    """One autocommit connection with ``synchronous_commit = on``; errors come out redacted.

    No ``idle_session_timeout`` (PostgreSQL 14 on) ends it between calls. Shared by the
    PostgreSQL stores and by ``PostgresLease``. Every database failure raises
    ``table.error``, so each caller keeps its own contract. ``table`` is created on open
    unless it exists, and each of its ``added`` columns a table made by an older version
    lacks is added; a failure closes the connection again. Each call after connecting must
    answer within ``timeout_s`` seconds (``CallDeadline``): one that does not fails as if
    the server had dropped the connection, and the connection is closed for good.
    """

    def __init__(
        self,
        dsn: Dsn,
        table: PgTable,
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self._deadline = CallDeadline(timeout_s, self._socket)
        self._psycopg = import_optional("psycopg", "postgres")
        self._closed = False
        self._dsn = dsn
        self._error = table.error
        self.target = describe_dsn(dsn)
        params = parse_dsn(dsn_text(dsn))
        if params is None:
            raise table.error(
                f"cannot use PostgreSQL for {table.purpose}: the connection string is not a valid "
                f"URI or key=value list (check {DSN_ENV_VAR})"
            )
        if "@" in params.get("host", "") or "@" in params.get("dbname", ""):
            # A password's "/" or second "@" ended libpq's userinfo early: part of the
            # password would be the host (looked up in DNS), the port or the database.
            raise table.error(
                f"cannot use PostgreSQL for {table.purpose}: the password in the connection "
                "string holds a '/' or '@' that is not percent-encoded, which would be read "
                "as part of the host, port or database (and sent to DNS as a host name): "
                f"write '/' as %2F and '@' as %40 (check {DSN_ENV_VAR}; value not shown)"
            )
        extra: dict[str, Any] = {"autocommit": True, "application_name": "livesession"}
        if _waits_for_ever(params.get("connect_timeout")):
            # The call bound, in libpq's whole seconds: a connect is a call too.
            extra["connect_timeout"] = max(_MIN_CONNECT_TIMEOUT_S, math.ceil(timeout_s))
        with self.translate(f"connecting for {table.purpose}"):
            # libpq reads PGOPTIONS only for a connection string without options: kept too.
            options = params.get("options", os.environ.get("PGOPTIONS", ""))
            self._conn: psycopg.Connection[Any] = self._connect(options, extra)
        try:
            # One cursor for every statement: callers read each result before the next.
            self._cursor: psycopg.Cursor[Any] = self._conn.cursor()
            with self.translate("setting synchronous_commit"):
                # A durable reservation is the point: never accept the server's "off".
                self.execute("SET synchronous_commit = on")
            if not self._idle_off and self._conn.info.server_version >= _IDLE_TIMEOUT_SINCE:
                with self.translate("setting idle_session_timeout"):
                    # A server that took no startup options (``_connect``).
                    self.execute("SET idle_session_timeout = 0")
            self.ensure_table(table)
        except BaseException:
            self.close()
            raise

    def _connect(self, options: str, extra: dict[str, Any]) -> psycopg.Connection[Any]:
        """Connect with ``idle_session_timeout`` off from the connection's start.

        The connection idles between calls for as long as a run lasts (the lease's renewals
        a quarter TTL apart, a namespace's advisory lock held throughout): a server's idle
        timeout would end every run. Set by a statement after connecting, a role's very
        short timeout (100 ms, on a loaded machine) closed the connection before the
        statement arrived; in the startup options, after the connection string's own
        ``options`` (the last ``-c`` wins), it is off from the start. A server without the
        setting (before PostgreSQL 14) or a pooler that passes no options refuses that
        connection: it is opened again without it (``_idle_off`` False: set by a statement
        where the server has it).
        """
        conninfo = dsn_text(self._dsn)
        self._idle_off = True
        conn: psycopg.Connection[Any]
        try:
            conn = self._psycopg.connect(
                conninfo, **extra, options=f"{options} {_NO_IDLE_TIMEOUT}".lstrip()
            )
        except self._psycopg.OperationalError as exc:
            if not any(said in str(exc) for said in _OPTION_REFUSED):
                raise
            self._idle_off = False
            conn = self._psycopg.connect(conninfo, **extra)
        return conn

    def execute(
        self, query: str, params: Sequence[object] | Mapping[str, object] | None = None
    ) -> psycopg.Cursor[Any]:
        """Run one statement (its own transaction, outside ``ensure_table``).

        Returns the shared cursor: read its result before the next call. Raises
        ``ValueError`` once closed.
        """
        if self._closed:
            raise ValueError(f"the PostgreSQL connection to {self.target} is closed")
        with self._deadline.bound():
            return self._cursor.execute(query, params)

    @contextmanager
    def translate(self, action: str) -> Iterator[None]:
        """Turn any psycopg error inside into ``self._error`` with a redacted one-line text."""
        try:
            yield
        except self._psycopg.Error as exc:
            reason = redact_dsn_text(_reason(exc), self._dsn) or type(exc).__name__
            if self._deadline.expired:
                reason = (
                    f"no answer within {self._deadline.timeout_s:g} s ({TIMEOUT_ENV_VAR}), "
                    "so the connection was closed: is the server or the network stalled?"
                )
            # `from None`: the original exception's text is exactly what must not leak.
            raise self._error(
                f"PostgreSQL at {self.target} failed while {action}: {reason}"
            ) from None

    def ensure_table(self, table: PgTable) -> None:
        """Create ``table`` unless it exists; safe when processes race.

        ``CREATE TABLE IF NOT EXISTS`` alone can still fail with a unique violation on
        ``pg_type`` when two sessions create the same table at once; the advisory lock
        makes them take turns. Existing tables need no CREATE privilege: each of their
        ``added`` columns they lack is added, and one of another shape (made by hand, or
        by another release) is refused naming each difference (``shape``).
        """
        name = table.name
        with self.translate(f"creating table {name}"):
            row = self.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
            if row is not None and row[0]:
                self._ensure_columns(table.name, table.added)
                self._check_shape(table)
                return
            try:
                with self._deadline.bound(), self._conn.transaction():
                    self.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_ID,))
                    self.execute(table.ddl)
            except self._psycopg.errors.InvalidSchemaName:
                raise self._error(
                    f"PostgreSQL at {self.target} cannot create table {name}: no schema on "
                    f"the connection's search_path exists; create the schema, or name an "
                    f"existing one in {DSN_ENV_VAR} (options=-csearch_path=...)"
                ) from None

    def _ensure_columns(self, table: str, columns: Mapping[str, str]) -> None:
        """Add the ``columns`` a table from an older version lacks (nullable, no default).

        Nothing runs when every column is there, so a table a DBA keeps up to date needs
        no ALTER privilege; otherwise ``ADD COLUMN IF NOT EXISTS`` under the DDL lock.
        """
        if not columns:
            return
        with self.translate(f"adding columns to table {table}"):
            row = self.execute(
                "SELECT coalesce(array_agg(attname::text), '{}') FROM pg_attribute "
                "WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped",
                (table,),
            ).fetchone()
            present = set(row[0]) if row is not None else set()
            missing = [name for name in columns if name not in present]
            if not missing:
                return
            with self._deadline.bound(), self._conn.transaction():
                self.execute("SELECT pg_advisory_xact_lock(%s)", (_DDL_LOCK_ID,))
                for name in missing:
                    # Constant names and types from this package, never user input.
                    self.execute(
                        f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {name} {columns[name]}"
                    )

    def _check_shape(self, table: PgTable) -> None:
        """Raise ``table.error`` when the existing ``table`` is not one the statements fit."""
        name = table.name
        with self.translate(f"reading the columns of table {name}"):
            columns = self.execute(COLUMNS_QUERY, (name,)).fetchall()
            keys = [row[0] for row in self.execute(UNIQUE_KEYS_QUERY, (name,)).fetchall()]
        differences = shape_differences(table, columns, keys)
        if differences:
            raise self._error(
                f"PostgreSQL at {self.target} has a table {name} that is not the one this "
                f"release uses (made by hand, or by another release): {'; '.join(differences)}; "
                f"make it as the CREATE TABLE in docs/postgres.md does, or name another "
                f"schema in {DSN_ENV_VAR} (options=-csearch_path=...)"
            )

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._closed = True
        self._deadline.stop()
        if hasattr(self, "_conn"):
            self._conn.close()

    def _socket(self) -> int:
        """The connection's socket for the watchdog; -1 once there is none."""
        conn = getattr(self, "_conn", None)
        try:
            return -1 if conn is None or conn.closed else int(conn.pgconn.socket)
        except self._psycopg.Error:
            return -1


def _waits_for_ever(connect_timeout: str | None) -> bool:
    """Whether a DSN's ``connect_timeout`` lets a connect wait on a silent server for ever.

    None (not given) and an integer of 0 or less (libpq: "wait indefinitely"; psycopg
    makes that 130 s, and as long again for each address of the host) do; a positive one is
    the DSN's own choice, and one that is no integer is left to the driver, which refuses
    it in its own words.
    """
    if connect_timeout is None:
        return True
    try:
        return int(connect_timeout.strip()) <= 0
    except ValueError:
        return False


def _reason(exc: psycopg.Error) -> str:
    """The server's message without the statement and caret psycopg adds (``LINE 1: ...``).

    Its detail and hint follow it; an error of the client (no server message) as it is.
    """
    diag = exc.diag
    primary = diag.message_primary
    if not primary:
        return str(exc)
    detail = f" ({diag.message_detail})" if diag.message_detail else ""
    hint = f"; {diag.message_hint}" if diag.message_hint else ""
    return f"{primary}{detail}{hint}"
