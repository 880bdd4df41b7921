"""Tables that were already there: a store or lease opening one of another shape refuses it.

A table made by hand or by another release was taken as it was. Without its primary key,
``reserve``'s ``ON CONFLICT DO NOTHING`` never conflicted and every reservation of a key
said it was new (a resume, or a second process, sent the order again); a missing column or
an ``integer`` token failed the first write that met it, mid-run. Needs a server, like
tests/test_postgres.py; each test works in a schema of its own.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from livesession._exceptions import CheckpointError, LeaseError
from livesession._postgres.fence import LEASE
from livesession.leases import PostgresLease
from livesession.stores.postgres import (
    PostgresCheckpointStore,
    PostgresError,
    PostgresIdempotencyStore,
)
from test_postgres import (  # noqa: F401 - the server fixtures
    _admin,
    _pg_dsn,
    _schema_dsn,
)

from store_contract import FP_A

pytestmark = pytest.mark.postgres

DOCS = Path(__file__).resolve().parent.parent / "docs" / "postgres.md"
_OPEN = {
    "idempotency": (lambda dsn: PostgresIdempotencyStore(dsn, namespace="n"), PostgresError),
    "checkpoint": (lambda dsn: PostgresCheckpointStore(dsn, run_key="r"), CheckpointError),
    "lease": (lambda dsn: PostgresLease(dsn, "acct", "strat"), LeaseError),
}
_IDEMPOTENCY_COLUMNS = (
    "namespace text NOT NULL, key text NOT NULL, fingerprint text NOT NULL, outcome text, "
    "reserved_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz, fence bigint"
)
_LEASE_COLUMNS = "account text, strategy text, holder text, token bigint, expires_ns bigint"


@pytest.mark.parametrize(
    ("backend", "ddl", "said"),
    [
        (
            "idempotency",
            f"CREATE TABLE livesession_idempotency ({_IDEMPOTENCY_COLUMNS})",
            "it has no primary key or unique index on (namespace, key)",
        ),
        (
            "idempotency",
            (
                "CREATE TABLE livesession_idempotency (namespace text, key text, fingerprint text, "
                "outcome text, fence bigint, PRIMARY KEY (namespace, key))"
            ),
            "it lacks column(s) reserved_at, completed_at",
        ),
        (
            "idempotency",
            (
                f"CREATE TABLE livesession_idempotency ({_IDEMPOTENCY_COLUMNS}, "
                "UNIQUE (namespace, key) DEFERRABLE INITIALLY DEFERRED)"
            ),
            "it has no primary key or unique index on (namespace, key)",
        ),
        (
            "idempotency",
            (
                "CREATE TABLE livesession_idempotency (namespace text, key text, fingerprint text, "
                "outcome text, reserved_at timestamptz NOT NULL, completed_at timestamptz, "
                "fence bigint, PRIMARY KEY (namespace, key))"
            ),
            "its column reserved_at has no default (DEFAULT now())",
        ),
        (
            "checkpoint",
            (
                "CREATE TABLE livesession_checkpoint (run_key text PRIMARY KEY, body jsonb NOT NULL, "
                "saved_at timestamptz NOT NULL DEFAULT now(), fence bigint)"
            ),
            "its column body is jsonb, not text",
        ),
        (
            "lease",
            f"CREATE TABLE livesession_lease ({_LEASE_COLUMNS})",
            "it has no primary key or unique index on (account, strategy)",
        ),
        (
            "lease",
            (
                "CREATE TABLE livesession_lease (account varchar(8), strategy text, holder text, "
                "token bigint, expires_ns bigint, PRIMARY KEY (account, strategy))"
            ),
            "its column account is character varying(8), not text",
        ),
        (
            "lease",
            (
                "CREATE TABLE livesession_lease (account text, strategy text, holder text, "
                "token integer, expires_ns bigint, PRIMARY KEY (account, strategy))"
            ),
            "its column token is integer, not bigint",
        ),
        (
            "lease",
            (
                f"CREATE TABLE livesession_lease ({_LEASE_COLUMNS}, site text NOT NULL, "
                "PRIMARY KEY (account, strategy))"
            ),
            "its column site is NOT NULL without a default",
        ),
        (
            "lease",
            (
                "CREATE TABLE livesession_lease (account text, strategy text, holder text NOT NULL, "
                "token bigint, expires_ns bigint, PRIMARY KEY (account, strategy))"
            ),
            "its column holder is NOT NULL, where the statements write NULL",
        ),
    ],
    ids=[
        "no-primary-key",
        "columns-missing",
        "deferred-unique",
        "no-default",
        "another-type",
        "lease-no-primary-key",
        "bounded-varchar",
        "lease-integer-token",
        "extra-not-null",
        "holder-not-null",
    ],
)
def test_a_table_of_another_shape_is_refused_on_open(schema_dsn, backend, ddl, said):
    """One line naming the table, each difference and where the right statement is."""
    _admin(schema_dsn, ddl)
    open_backend, error = _OPEN[backend]
    with pytest.raises(error) as caught:
        open_backend(schema_dsn).close()
    message = str(caught.value)
    assert "\n" not in message
    assert " that is not the one this release uses (made by hand, or by another release): " in (
        message
    )
    assert f": {said};" in message or f"; {said};" in message, message
    assert message.endswith(
        "make it as the CREATE TABLE in docs/postgres.md does, or name another "
        "schema in LIVESESSION_PG_DSN (options=-csearch_path=...)"
    )


def test_a_table_without_its_key_no_longer_grants_a_key_twice(schema_dsn):
    """The harm the check prevents: two reservations of one key both ``created=True``."""
    _admin(schema_dsn, f"CREATE TABLE livesession_idempotency ({_IDEMPOTENCY_COLUMNS})")
    with pytest.raises(PostgresError, match="no primary key or unique index on"):
        PostgresIdempotencyStore(schema_dsn, namespace="n").close()
    assert _admin(schema_dsn, "SELECT count(*) FROM livesession_idempotency") == [(0,)]


def test_tables_made_as_the_docs_say_with_more_columns_open(schema_dsn):
    """A DBA's tables from the docs' statements open; extra nullable or defaulted columns too."""
    for table in ("livesession_idempotency", "livesession_checkpoint", "livesession_lease"):
        ddl = _docs_ddl(table).replace("IF NOT EXISTS ", "")
        if table == "livesession_lease":  # varchar without a length holds any text
            ddl = ddl.replace("holder text", "holder varchar")
        _admin(schema_dsn, ddl.replace("\n)", ",\n    note text,\n    n int NOT NULL DEFAULT 0\n)"))
    backends = [open_backend(schema_dsn) for open_backend, _ in _OPEN.values()]
    try:
        store, checkpoints, lease = backends
        grant = lease.acquire("a", 1, 10**9)
        assert grant is not None
        store.fence_with(grant)
        checkpoints.fence_with(grant)
        assert store.reserve("k1", FP_A).created
        assert not store.reserve("k1", FP_A).created
        checkpoints.save({"steps": 1})
        assert checkpoints.load() == {"steps": 1}
    finally:
        for backend in backends:
            backend.close()


def test_the_docs_show_each_tables_statement():
    """docs/postgres.md holds the CREATE TABLE each backend runs, as it runs it."""
    for table in (PostgresIdempotencyStore._TABLE, PostgresCheckpointStore._TABLE, LEASE):
        assert _docs_ddl(table.name) == table.ddl


def _docs_ddl(table: str) -> str:
    """The CREATE TABLE of ``table`` as docs/postgres.md shows it, unindented."""
    text = DOCS.read_text(encoding="utf-8")
    start = text.index(f"  CREATE TABLE IF NOT EXISTS {table} (\n")
    end = text.index("\n  )\n", start) + len("\n  )\n")
    return textwrap.dedent(text[start:end])
