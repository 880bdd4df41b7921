"""PostgreSQL backends: idempotency reservations and checkpoints shared across processes.

Use them when more than one process (or host) must agree on which client order ids were
reserved: ``reserve`` is an ``INSERT ... ON CONFLICT DO NOTHING`` (then, for a key that
already existed, a ``SELECT``), each committed with ``synchronous_commit = on`` before it
returns, so a granted key is durable and granted to exactly one caller. psycopg 3 is
imported only when a backend is opened (``pip install 'livesession[postgres]'``).

Tables are created when absent, under a transaction-scoped advisory lock, so several
processes may start at once (a table from an older version gets its ``fence`` column).

Fencing: once a store is given a lease grant (``fence_with``), every write carries that
grant's fencing token and is refused, in the same statement, when the (account,
strategy) lease is no longer that grant's (a newer token, or the lease table reset under
it): ``Fenced`` is raised and nothing is written
(see ``livesession._postgres.fence``). The connection string (it may hold a password) never appears
in a message, a repr or a log: errors carry the server's reason with the password removed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar, Final

import orjson

from .._exceptions import CheckpointError, PostgresError
from .._postgres import (
    DSN_ENV_VAR,
    PgConnection,
    describe_dsn,
    pg_dsn_from_env,
    redact_dsn_text,
)
from .._postgres.connection import PgTable
from .._postgres.deadline import DEFAULT_TIMEOUT_S
from .._postgres.fence import (
    LEASE,
    StoreFence,
    fenced_table,
    insert_statements,
    update_statements,
    write_maybe_fenced,
)
from ._record import RecordStore, Stored, check_text, decode_checkpoint

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._domain.lease import LeaseGrant
    from .._postgres.dsn import Dsn

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

_IDEMPOTENCY: Final = fenced_table(
    PgTable(
        name="livesession_idempotency",
        columns={
            "namespace": "text NOT NULL",
            "key": "text NOT NULL",
            "fingerprint": "text NOT NULL",
            "outcome": "text",
            "reserved_at": "timestamptz NOT NULL DEFAULT now()",
            "completed_at": "timestamptz",
        },
        primary_key="namespace, key",
        purpose="idempotency reservations",
        error=PostgresError,
    )
)
_IDEMPOTENCY_TABLE: Final = _IDEMPOTENCY.name
_RESERVE: Final = insert_statements(_IDEMPOTENCY_TABLE, ("namespace", "key", "fingerprint"))
_COMPLETE: Final = update_statements(
    _IDEMPOTENCY_TABLE,
    "outcome = %(outcome)s, completed_at = now()",
    "namespace = %(namespace)s AND key = %(key)s",
)

# The table's oid names the deployment (its schema); hashtextextended keeps one 64-bit key.
_HOLD_NAMESPACE: Final = (
    "SELECT pg_try_advisory_lock(hashtextextended(to_regclass(%s)::oid::text || '/' || %s, 0))"
)


class _FencedStore:
    """What both stores share: their table's connection, and writes fenced once leased."""

    _TABLE: ClassVar[PgTable]

    def __init__(self, dsn: Dsn, timeout_s: float) -> None:
        self._pg = PgConnection(dsn, self._TABLE, timeout_s=timeout_s)
        self._fence: StoreFence | None = None

    def fence_with(self, grant: LeaseGrant) -> None:
        """Carry ``grant``'s fencing token on every write from now on.

        A write is then refused with ``Fenced`` (nothing written) once the lease of
        ``grant``'s (account, strategy) is no longer the grant's (a newer token, or its row
        reset). Creates the lease table when
        absent (a ``PostgresLease`` on the same database has made it already).
        """
        with self._pg.translate("opening the lease table for fenced writes"):
            self._pg.ensure_table(LEASE)
        self._fence = StoreFence.of(grant)

    def close(self) -> None:
        """Close the connection; safe to call more than once."""
        self._pg.close()

    def _write_maybe_fenced(
        self, statements: tuple[str, str], params: dict[str, object], action: str
    ) -> int:
        """Run one write, fenced once ``fence_with`` gave a grant; the rows it wrote."""
        return write_maybe_fenced(self._pg, self._fence, statements, params, action)


class PostgresIdempotencyStore(_FencedStore, RecordStore):
    """Reservations in table ``livesession_idempotency``, one ``namespace`` per session.

    ``reserve`` inserts with ``ON CONFLICT DO NOTHING`` and reads the row back only when
    it already existed, so among concurrent callers (processes, hosts) exactly one gets
    ``created=True``. Each statement commits on its own before the call returns. Keys are
    never expired here: delete old namespaces (``reserved_at``) once past any recovery
    window. Database failures raise ``PostgresError``; the connection is not re-opened.
    A call the server does not answer within ``timeout_s`` seconds fails the same way.
    One connection per store; use a store from one thread at a time. Fenced (after
    ``fence_with``): ``reserve`` and ``complete`` raise ``Fenced`` once a newer lease holder
    exists.
    """

    _TABLE = _IDEMPOTENCY

    def __init__(self, dsn: Dsn, *, namespace: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Connect to ``dsn`` and create ``livesession_idempotency`` there when absent.

        Needs the ``postgres`` extra (``pip install 'livesession[postgres]'``).

        Args:
            dsn: the connection string, a str (``"postgresql://user@host:5432/db"``, or
                libpq's ``key=value`` form) or the ``Secret`` ``pg_dsn_from_env`` reads
                from ``LIVESESSION_PG_DSN``. It may hold a password: no message, repr or
                artifact shows it. Its ``options=-c search_path=...`` picks the schema.
            namespace: whose keys these are (a run directory uses its run id), a
                non-empty str; two sessions that must never share a key take two.
            timeout_s: how long one call waits for the server before it fails, seconds
                above 0 and at most 3600; ``10.0`` by default.

        Raises:
            TypeError: a ``namespace`` that is no str. ValueError: an empty one.
            ConfigError: a ``timeout_s`` out of its range.
            PostgresError: a connection string that is none, a server that cannot be
                reached or refuses (the role, the schema), redacted to one line.
            MissingExtra: psycopg is not installed.
        """
        self._namespace = check_text("namespace", namespace)
        super().__init__(dsn, timeout_s)

    def hold_namespace(self) -> bool:
        """Hold this store's namespace for as long as its connection lasts; False when held.

        A session-level advisory lock keyed by the table (so a schema of its own is a
        deployment of its own) and the namespace: a new run holds its run id with it, so
        that another host starting a run of the same id meanwhile, before either has
        reserved a key, is refused. It ends with the connection (a killed process's too).
        """
        with self._pg.translate("holding the idempotency namespace"):
            row = self._pg.execute(_HOLD_NAMESPACE, (_IDEMPOTENCY_TABLE, self._namespace))
            held = row.fetchone()
        return bool(held is not None and held[0])

    def _insert(self, key: str, fingerprint: str) -> Stored | None:
        with self._pg.translate(f"reserving idempotency key {key!r}"):
            if self._write(
                _RESERVE,
                f"reserving idempotency key {key!r}",
                key=key,
                fingerprint=fingerprint,
            ):
                return None
            # The conflicting row is committed (ON CONFLICT waits for its inserter), and
            # this new statement's snapshot sees it. Rows are never deleted by a store.
            row = self._select(key)
        if row is None:
            raise PostgresError(
                f"idempotency key {key!r} conflicted on insert but cannot be read back: "
                f"was it deleted from {_IDEMPOTENCY_TABLE} while in use?"
            )
        return row

    def _set_outcome(self, key: str, outcome: str) -> bool:
        action = f"completing idempotency key {key!r}"
        with self._pg.translate(action):
            updated = self._write(_COMPLETE, action, key=key, outcome=outcome)
        return updated == 1

    def _unknown_key(self, key: str) -> KeyError:
        # Shared and kept for ever, a key missing here was more likely deleted by hand.
        return KeyError(
            f"idempotency key {key!r} is not in {_IDEMPOTENCY_TABLE} (namespace "
            f"{self._namespace!r}): never reserved, or deleted from the table while in use "
            "(a TRUNCATE or DELETE by hand, the database recreated)"
        )

    def _lookup(self, key: str) -> Stored | None:
        with self._pg.translate(f"reading idempotency key {key!r}"):
            return self._select(key)

    def _every(self) -> list[tuple[str, Stored]]:
        with self._pg.translate("listing the idempotency keys"):
            rows = self._pg.execute(
                f"SELECT key, fingerprint, outcome FROM {_IDEMPOTENCY_TABLE} "  # noqa: S608 - constant table name
                "WHERE namespace = %s",
                (self._namespace,),
            ).fetchall()
        return [(key, (fingerprint, outcome)) for key, fingerprint, outcome in rows]

    def __repr__(self) -> str:
        return f"PostgresIdempotencyStore({self._pg.target!r}, namespace={self._namespace!r})"

    def _write(self, statements: tuple[str, str], action: str, **values: object) -> int:
        """Run one write, fenced once ``fence_with`` gave a grant; the rows it wrote."""
        return self._write_maybe_fenced(
            statements, {"namespace": self._namespace, **values}, action
        )

    def _select(self, key: str) -> Stored | None:
        """The key's (fingerprint, outcome) row, or None."""
        row: Stored | None = self._pg.execute(
            f"SELECT fingerprint, outcome FROM {_IDEMPOTENCY_TABLE} "  # noqa: S608 - constant table name
            "WHERE namespace = %s AND key = %s",
            (self._namespace, key),
        ).fetchone()
        return row


# --- checkpoints --------------------------------------------------------------------------

_CHECKPOINT: Final = fenced_table(
    PgTable(
        name="livesession_checkpoint",
        columns={
            "run_key": "text PRIMARY KEY",
            "body": "text NOT NULL",
            "saved_at": "timestamptz NOT NULL DEFAULT now()",
        },
        purpose="checkpoints",
        error=CheckpointError,
    )
)
_CHECKPOINT_TABLE: Final = _CHECKPOINT.name
_SAVE: Final = insert_statements(
    _CHECKPOINT_TABLE,
    ("run_key", "body"),
    key="run_key",
    update="body = EXCLUDED.body, saved_at = now()",
)


class PostgresCheckpointStore(_FencedStore):
    """The latest checkpoint of one run (``run_key``), one row in ``livesession_checkpoint``.

    ``save`` replaces the row in a single upsert committed with ``synchronous_commit = on``:
    a reader sees the old checkpoint or the new one, never a mix, and a saved one survives
    a server crash. The body is JSON text (orjson, sorted keys). ``load`` raises
    ``CheckpointError`` when the stored text is not a JSON object, and every database
    failure is a ``CheckpointError`` too.
    """

    _TABLE = _CHECKPOINT

    def __init__(self, dsn: Dsn, *, run_key: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        """Connect to ``dsn`` and create ``livesession_checkpoint`` there when absent.

        Needs the ``postgres`` extra (``pip install 'livesession[postgres]'``).

        Args:
            dsn: the connection string, as ``PostgresIdempotencyStore`` takes it (a str
                or a ``Secret``; never shown).
            run_key: whose checkpoint this is (one row per key), a non-empty str; a
                session resumed from it must use the same key.
            timeout_s: how long one call waits for the server before it fails, seconds
                above 0 and at most 3600; ``10.0`` by default.

        Raises:
            TypeError: a ``run_key`` that is no str. ValueError: an empty one.
            ConfigError: a ``timeout_s`` out of its range.
            CheckpointError: a connection string that is none, a server that cannot be
                reached or refuses, redacted to one line.
            MissingExtra: psycopg is not installed.
        """
        self._run_key = check_text("run_key", run_key, "checkpoint")
        super().__init__(dsn, timeout_s)

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        """Replace the stored checkpoint atomically and durably (fenced after ``fence_with``)."""
        try:
            body = orjson.dumps(dict(checkpoint), option=orjson.OPT_SORT_KEYS).decode()
        except (TypeError, orjson.JSONEncodeError) as exc:
            raise CheckpointError(f"checkpoint is not JSON-serialisable: {exc}") from None
        action = f"saving the checkpoint of run {self._run_key!r}"
        with self._pg.translate(action):
            self._write_maybe_fenced(_SAVE, {"run_key": self._run_key, "body": body}, action)

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

    def __repr__(self) -> str:
        return f"PostgresCheckpointStore({self._pg.target!r}, run_key={self._run_key!r})"
