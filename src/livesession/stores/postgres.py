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

from typing import TYPE_CHECKING, Any, Final

import orjson

from .._exceptions import CheckpointError, PostgresError
from .._postgres import (
    DSN_ENV_VAR,
    PgConnection,
    describe_dsn,
    pg_dsn_from_env,
    redact_dsn_text,
)
from ._record import (
    Reservation,
    Stored,
    check_complete,
    check_key,
    check_reserve,
    check_text,
    decode_checkpoint,
    reserved_before,
    stored_record,
    unknown_key,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

# The DSN helpers live in ``livesession._postgres`` (the lease uses them too); they stay
# importable from here, where the PostgreSQL backends have always documented them.
__all__ = [
    "DSN_ENV_VAR",
    "PostgresCheckpointStore",
    "PostgresError",
    "PostgresIdempotencyStore",
    "describe_dsn",
    "pg_dsn_from_env",
    "redact_dsn_text",
]


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
        self._pg = PgConnection(
            dsn,
            error=PostgresError,
            purpose="idempotency reservations",
            table=_IDEMPOTENCY_TABLE,
            ddl=_IDEMPOTENCY_DDL,
        )

    def reserve(self, key: str, fingerprint: str) -> Reservation:
        """Reserve ``key`` for ``fingerprint``; see ``IdempotencyStore.reserve``."""
        check_reserve(key, fingerprint)
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
            row = self._select(key)
        if row is None:
            raise PostgresError(
                f"idempotency key {key!r} conflicted on insert but cannot be read back: "
                f"was it deleted from {_IDEMPOTENCY_TABLE} while in use?"
            )
        return reserved_before(key, fingerprint, row)

    def complete(self, key: str, outcome: str) -> None:
        """Record ``outcome`` for a reserved key; a later call replaces it."""
        check_complete(key, outcome)
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
            return stored_record(key, self._select(key))

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._pg.close()

    def __repr__(self) -> str:
        return f"PostgresIdempotencyStore({self._pg.target!r}, namespace={self._namespace!r})"

    def _select(self, key: str) -> Stored | None:
        """The key's (fingerprint, outcome) row, or None."""
        row: Stored | None = self._pg.execute(
            f"SELECT fingerprint, outcome FROM {_IDEMPOTENCY_TABLE} "  # noqa: S608 - constant table name
            "WHERE namespace = %s AND key = %s",
            (self._namespace, key),
        ).fetchone()
        return row


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
        self._pg = PgConnection(
            dsn,
            error=CheckpointError,
            purpose="checkpoints",
            table=_CHECKPOINT_TABLE,
            ddl=_CHECKPOINT_DDL,
        )

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
        where = f"the checkpoint of run {self._run_key!r} in {_CHECKPOINT_TABLE}"
        return decode_checkpoint(
            row[0],
            not_json=lambda exc: (
                f"{where} is corrupt ({exc}): delete that row to start the run afresh"
            ),
            not_object=f"{where} is not a JSON object: delete that row to start the run afresh",
        )

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._pg.close()

    def __repr__(self) -> str:
        return f"PostgresCheckpointStore({self._pg.target!r}, run_key={self._run_key!r})"
