"""The lease as one row of a PostgreSQL table, for sessions on several hosts."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._postgres import PgConnection
from .._postgres.deadline import DEFAULT_TIMEOUT_S
from .._postgres.fence import LEASE, LEASE_STORE
from .grant import PairLease, acquire_expiry, check_ns

if TYPE_CHECKING:
    from .._domain.lease import LeaseStore
    from .._postgres.dsn import Dsn
    from .grant import LeaseGrant

__all__ = ["PostgresLease"]

_LEASE_TABLE: Final = LEASE.name
# One statement decides: insert the first row, or take the row over when it is free,
# expired or ours. ON CONFLICT DO UPDATE locks the row and re-checks WHERE against its
# latest version, so of racing acquirers exactly one sees a row it may take.
_ACQUIRE: Final = f"""
INSERT INTO {_LEASE_TABLE} AS l (account, strategy, holder, token, expires_ns)
VALUES (%(account)s, %(strategy)s, %(holder)s, 1, %(expires)s)
ON CONFLICT (account, strategy) DO UPDATE
    SET holder = EXCLUDED.holder, token = l.token + 1, expires_ns = EXCLUDED.expires_ns
    WHERE l.holder IS NULL OR l.expires_ns <= %(now)s OR l.holder = EXCLUDED.holder
RETURNING token
"""  # noqa: S608 - constant table name
_RENEW: Final = f"""
UPDATE {_LEASE_TABLE} SET expires_ns = GREATEST(expires_ns, %(expires)s)
WHERE account = %(account)s AND strategy = %(strategy)s
    AND holder = %(holder)s AND token = %(token)s
"""  # noqa: S608 - constant table name
_ROW: Final = f"""
SELECT token, holder FROM {_LEASE_TABLE} WHERE account = %(account)s AND strategy = %(strategy)s
"""  # noqa: S608 - constant table name
_HOLDER: Final = f"""
SELECT holder FROM {_LEASE_TABLE}
WHERE account = %(account)s AND strategy = %(strategy)s AND expires_ns > %(now)s
"""  # noqa: S608 - constant table name
_HOLDING: Final = f"""
SELECT holder, expires_ns FROM {_LEASE_TABLE}
WHERE account = %(account)s AND strategy = %(strategy)s AND expires_ns > %(now)s
"""  # noqa: S608 - constant table name
_SERVER_NOW: Final = "SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint"
_RELEASE: Final = f"""
UPDATE {_LEASE_TABLE} SET holder = NULL, expires_ns = 0
WHERE account = %(account)s AND strategy = %(strategy)s
    AND holder = %(holder)s AND token = %(token)s
"""  # noqa: S608 - constant table name


class PostgresLease(PairLease):
    """The lease as one row of ``livesession_lease``; for sessions on several hosts.

    Each call is one autocommit statement, so a grant or renewal is committed (with
    ``synchronous_commit = on``) before it is returned. ``now_ns`` comes from the caller,
    not from the database clock: tests stay deterministic, at the price that every host
    must keep its clock in sync (NTP) and ``ttl_ns`` must cover the worst skew
    (``server_ns`` reads the server's clock, for a caller to compare with its own). Database
    failures raise ``LeaseError``, and so does a call the server does not answer within
    ``timeout_s`` seconds; the connection string never appears in a message.
    """

    def __init__(
        self, dsn: Dsn, account: str, strategy: str, *, timeout_s: float = DEFAULT_TIMEOUT_S
    ) -> None:
        """The lease of (``account``, ``strategy``) in ``dsn``'s ``livesession_lease``.

        Connects at once and creates the table when absent. Needs the ``postgres`` extra.

        Args:
            dsn: the connection string, as ``PostgresIdempotencyStore`` takes it (a str
                or a ``Secret``; never shown).
            account: the venue account the lease guards, a non-empty str.
            strategy: the strategy id on that account, a non-empty str: one live session
                per (account, strategy).
            timeout_s: how long one call waits for the server before it fails, seconds
                above 0 and at most 3600; ``10.0`` by default.

        Raises:
            ValueError: an ``account`` or ``strategy`` that is no non-empty str.
            ConfigError: a ``timeout_s`` out of its range.
            LeaseError: a connection string that is none, a server that cannot be reached
                or refuses, redacted to one line.
            MissingExtra: psycopg is not installed.
        """
        super().__init__(account, strategy)
        self._pg = PgConnection(dsn, LEASE, timeout_s=timeout_s)

    def acquire(self, holder_id: str, now_ns: int, ttl_ns: int) -> LeaseGrant | None:
        """See ``SessionLease.acquire``."""
        expires = acquire_expiry(holder_id, now_ns, ttl_ns)
        params = self._params(holder=holder_id, expires=expires, now=now_ns)
        with self._pg.translate(f"acquiring the lease {self._pair()}"):
            row = self._pg.execute(_ACQUIRE, params).fetchone()
        if row is None:
            return None
        return self._grant(holder_id, int(row[0]), ttl_ns, expires)

    def renew(self, grant: LeaseGrant, now_ns: int) -> bool:
        """See ``SessionLease.renew``; ``Fenced`` when the lease table was reset under it.

        A renewal is refused (False) once a newer holder took the lease, or the grant was
        released. One refused because the row is no longer this grant's and neither
        explains it (the row gone, an older token, this one for another holder: the table
        truncated, the row deleted, the database recreated or restored) raises ``Fenced``,
        saying so, as a fenced store's write does: no session need have taken it over.
        """
        expires = self._renewal_expiry(grant, now_ns)
        params = self._params(holder=grant.holder_id, token=grant.token, expires=expires)
        with self._pg.translate(f"renewing the lease {self._pair()}"):
            if self._pg.execute(_RENEW, params).rowcount == 1:
                return True
            row = self._pg.execute(_ROW, self._params()).fetchone()
        return self._refused_renewal(grant, (None, None) if row is None else (row[0], row[1]))

    def release(self, grant: LeaseGrant) -> None:
        """See ``SessionLease.release``."""
        self._check_grant(grant)
        params = self._params(holder=grant.holder_id, token=grant.token)
        with self._pg.translate(f"releasing the lease {self._pair()}"):
            self._pg.execute(_RELEASE, params)

    def holder(self, now_ns: int) -> str | None:
        """Who holds the pair at ``now_ns`` (None: nobody, or an expired lease)."""
        with self._pg.translate(f"reading the lease {self._pair()}"):
            row = self._pg.execute(_HOLDER, self._params(now=now_ns)).fetchone()
        return None if row is None or row[0] is None else str(row[0])

    def holding(self, now_ns: int) -> tuple[str, int] | None:
        """See ``PairLease.holding``."""
        check_ns("now_ns", now_ns)
        with self._pg.translate(f"reading the lease {self._pair()}"):
            row = self._pg.execute(_HOLDING, self._params(now=now_ns)).fetchone()
        return None if row is None or row[0] is None else (str(row[0]), int(row[1]))

    def server_ns(self) -> int:
        """The database server's wall clock, in ns since the Unix epoch (to the microsecond).

        Never used for the lease itself, whose times are the caller's: a caller compares it
        with its own clock, to refuse a host whose clock is too far off the server's.
        """
        with self._pg.translate(f"reading the server's clock for the lease {self._pair()}"):
            row = self._pg.execute(_SERVER_NOW).fetchone()
        return 0 if row is None else int(row[0]) * 1000

    def close(self) -> None:
        """Close the connection (the lease stays as it is); safe to call more than once."""
        self._pg.close()

    def _where(self) -> str:
        return self._pg.target

    def _store(self) -> LeaseStore:
        return LEASE_STORE

    def _pair(self) -> str:
        return f"({self._account!r}, {self._strategy!r})"

    def _params(self, **values: object) -> dict[str, object]:
        return {"account": self._account, "strategy": self._strategy, **values}
