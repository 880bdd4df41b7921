"""Fenced writes: a store write that checks the lease's fencing token in the same statement.

The lease table lives here, below both its users: ``PostgresLease`` (which grants the
tokens) and the PostgreSQL stores (which refuse a write once the lease has a newer one).

A fenced write is one statement of the form::

    WITH lease AS (SELECT token FROM livesession_lease
                   WHERE account = ... AND strategy = ... FOR SHARE),
         w AS (<the write> WHERE NOT EXISTS (SELECT 1 FROM lease WHERE token > <mine>)
               RETURNING 1)
    SELECT (SELECT token FROM lease), (SELECT count(*) FROM w)

``FOR SHARE`` is what makes it a fence rather than a hint. A takeover (``acquire``) updates
the lease row, so it waits for every write that holds the share lock, and a write that
meets a takeover in progress waits for it and then reads the row's newest version
(READ COMMITTED re-reads a locked row after the locker commits). So a write either
commits before the new token exists or sees it and writes nothing: never after it.

The write also needs the row to be its grant's: the writer's token and the writer as
holder. A row gone, or holding an older token, or the same one for another holder or for
none (released), means the table was reset under the writer (a ``TRUNCATE`` or ``DELETE``
of ``livesession_lease``, the database recreated or restored): the next holder starts
again at token 1, at or below the writer's, and "no newer token" alone let both write. A
session writes nothing once it released its grant.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import attrs

from .._domain.lease import LeaseStore, lease_refusal
from .._exceptions import LeaseError
from .connection import PgTable

if TYPE_CHECKING:
    from .._domain.lease import LeaseGrant
    from .connection import PgConnection

__all__ = [
    "FENCE_COLUMN",
    "LEASE",
    "LEASE_STORE",
    "LEASE_TABLE",
    "StoreFence",
    "fenced_statement",
    "fenced_table",
    "insert_statements",
    "update_statements",
    "write_maybe_fenced",
]

LEASE: Final = PgTable(
    name="livesession_lease",
    columns={
        "account": "text NOT NULL",
        "strategy": "text NOT NULL",
        "holder": "text",
        "token": "bigint NOT NULL",
        "expires_ns": "bigint NOT NULL",
    },
    primary_key="account, strategy",
    purpose="the session lease",
    error=LeaseError,
)
LEASE_TABLE: Final = LEASE.name
LEASE_STORE: Final = LeaseStore(
    name=LEASE_TABLE,
    record="row",
    reset="the table was reset under it (truncated, the row deleted, or the database "
    "recreated or restored)",
)
"""The lease table as a refused write or renewal names it."""
FENCE_COLUMN: Final = {"fence": "bigint"}
"""The column every fenced table carries: the token of the write that last touched a row
(NULL for a write made without a lease). Added to tables made by an older version."""


def fenced_table(table: PgTable) -> PgTable:
    """``table`` with ``FENCE_COLUMN`` last, added on open to a table that lacks it."""
    return attrs.evolve(table, columns={**table.columns, **FENCE_COLUMN}, added=FENCE_COLUMN)


def fenced_statement(write: str, *, then: str = "") -> str:
    """``write`` (an INSERT or UPDATE ending in its WHERE clause) as one fenced statement.

    ``write`` must end where ``AND EXISTS (...)`` may follow: the caller writes its
    own ``WHERE`` (``WHERE true`` for an ``INSERT ... SELECT``); ``then`` follows the
    fence (an ``ON CONFLICT`` clause). Parameters ``%(account)s``, ``%(strategy)s``,
    ``%(token)s`` and ``%(holder)s`` are the fence's. It writes only while the lease row
    holds the writer's token with the writer as holder, and returns one row:
    the lease's current token and holder (NULL without a lease row) and the rows written.
    """
    return f"""
WITH lease AS (
    SELECT token, holder FROM {LEASE_TABLE}
    WHERE account = %(account)s AND strategy = %(strategy)s
    FOR SHARE
), w AS (
    {write} AND EXISTS (
        SELECT 1 FROM lease
        WHERE token = %(token)s AND holder = %(holder)s)
    {then} RETURNING 1
)
SELECT (SELECT token FROM lease), (SELECT holder FROM lease), (SELECT count(*) FROM w)
"""  # noqa: S608 - constant table names; values are bound parameters


def insert_statements(
    table: str, columns: tuple[str, ...], *, key: str = "", update: str = ""
) -> tuple[str, str]:
    """An INSERT of ``columns`` (bound by name), plain and fenced, for ``write_maybe_fenced``.

    Without ``update`` an existing row is left alone (``ON CONFLICT DO NOTHING``); with
    it, the row with the same ``key`` gets ``update`` (and, fenced, the write's fence).
    """
    names = ", ".join(columns)
    values = ", ".join(f"%({column})s" for column in columns)
    if update:
        conflict = f"ON CONFLICT ({key}) DO UPDATE SET {update}"
        fenced_conflict = f"{conflict}, fence = EXCLUDED.fence"
    else:
        conflict = fenced_conflict = "ON CONFLICT DO NOTHING"
    # The table and column names are the stores' constants; values are bound parameters.
    plain = f"INSERT INTO {table} ({names}) VALUES ({values}) {conflict}"  # noqa: S608
    fenced = fenced_statement(
        f"INSERT INTO {table} ({names}, fence) SELECT {values}, %(token)s WHERE true",
        then=fenced_conflict,
    )
    return plain, fenced


def update_statements(table: str, assignments: str, where: str) -> tuple[str, str]:
    """An UPDATE, plain and fenced (which also records its fence), for ``write_maybe_fenced``."""
    # The table and clauses are the stores' constants; values are bound parameters.
    plain = f"UPDATE {table} SET {assignments} WHERE {where}"  # noqa: S608
    fenced = fenced_statement(f"UPDATE {table} SET {assignments}, fence = %(token)s WHERE {where}")  # noqa: S608
    return plain, fenced


@attrs.frozen
class StoreFence:
    """The lease whose token a store's writes carry: (account, strategy), token and holder."""

    account: str
    strategy: str
    token: int
    holder: str

    @classmethod
    def of(cls, grant: LeaseGrant) -> StoreFence:
        """The fence of a lease grant."""
        return cls(grant.account, grant.strategy, grant.token, grant.holder_id)

    def params(self) -> dict[str, object]:
        """The fence's statement parameters, by field name (``%(token)s`` and the rest)."""
        return attrs.asdict(self)

    def check(self, row: tuple[object, ...] | None, action: str) -> int:
        """The rows a fenced statement wrote; ``Fenced`` when the lease is not this grant's.

        Refused: a newer token (another holder took over), or a row that is gone, holds an
        older token, or this one for another holder or none (the lease table was reset).
        """
        newest, holder, written = row if row is not None else (None, None, 0)
        if newest == self.token and holder == self.holder:
            return written if isinstance(written, int) else 0
        pair = (self.account, self.strategy)
        raise lease_refusal(pair, self.token, (newest, holder), action, LEASE_STORE)


def write_maybe_fenced(
    pg: PgConnection,
    fence: StoreFence | None,
    statements: tuple[str, str],
    params: dict[str, object],
    action: str,
) -> int:
    """Run ``statements[1]`` (fenced) with ``fence``, or ``statements[0]`` without one.

    Returns the rows written. The unfenced statement is the plain write of a store used
    without a lease: it needs no lease table and locks nothing.
    """
    plain, fenced = statements
    if fence is None:
        return int(pg.execute(plain, params).rowcount)
    return fence.check(pg.execute(fenced, {**params, **fence.params()}).fetchone(), action)
