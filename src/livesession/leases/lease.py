r"""A single-active-session lease per (account, strategy), with a fencing token.

At most one session trades an (account, strategy) pair at a time. A session ``acquire``\\s
the lease at preflight, ``renew``\\s it every step and ``release``\\s it when it stops.
Every successful ``acquire`` hands out a fencing token strictly greater than any token
handed out before for that pair, so a session that lost its lease (paused, partitioned,
too slow to renew) is recognisable by its smaller token wherever the token is recorded.

Rules every backend follows:

- A lease is live while ``now_ns < expires_ns``. ``acquire`` succeeds when the pair is
  free, released, expired, or already held by the same ``holder_id``; the token goes up
  by one each time. Otherwise it returns None.
- ``renew`` succeeds (and moves the expiry to ``now_ns + ttl_ns``, never backwards) while
  the stored holder and token are the grant's. It fails for good once another holder took
  over, once the grant was released, or once a newer grant superseded it. A lease that
  expired but was taken by no one can still be renewed: nobody else held it in between,
  since a taker would have raised the token.
- ``release`` frees the lease only when the grant still holds it; the token stays, so the
  next holder gets a larger one.

Time is passed in as ``now_ns`` (nanoseconds since the Unix epoch, UTC) and never read
here: every holder of one pair must use the same time base (wall-clock epoch time, not a
per-boot monotonic counter), and clock skew between hosts eats into ``ttl_ns``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, Protocol, runtime_checkable

import attrs
import orjson

from .._exceptions import LeaseError
from .._support.fsutil import atomic_write_bytes
from ..stores.postgres import _Pg

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["FileLease", "LeaseGrant", "PostgresLease", "SessionLease"]

_MAX_NS: Final = 2**63 - 1  # a signed 64-bit column holds every ns value in use


@attrs.frozen(kw_only=True)
class LeaseGrant:
    """Proof that ``holder_id`` held the (account, strategy) lease when it was granted.

    Attributes:
        account: The account the lease covers.
        strategy: The strategy the lease covers.
        holder_id: Who holds it; unique per running session.
        token: The fencing token: larger than every token granted before for this pair.
        ttl_ns: How long each acquire or renew keeps the lease live.
        expires_ns: When the lease expires unless renewed (as of the acquire).
    """

    account: str
    strategy: str
    holder_id: str
    token: int
    ttl_ns: int
    expires_ns: int


@runtime_checkable
class SessionLease(Protocol):
    """**Protocol:** a single-active-session lease for one (account, strategy) pair."""

    def acquire(self, holder_id: str, now_ns: int, ttl_ns: int) -> LeaseGrant | None:
        """A grant with a new, larger fencing token; None while another holder has it."""
        ...

    def renew(self, grant: LeaseGrant, now_ns: int) -> bool:
        """Extend the lease to ``now_ns + grant.ttl_ns``; False once the grant lost it."""
        ...

    def release(self, grant: LeaseGrant) -> None:
        """Free the lease if ``grant`` still holds it; otherwise do nothing."""
        ...

    def close(self) -> None:
        """Release files and connections (not the lease)."""
        ...


def _check_text(name: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"lease {name} must be a non-empty string, got {value!r}")
    return value


def _check_ns(name: str, value: object, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"lease {name} must be an int of nanoseconds, got {value!r}")
    low = 1 if positive else 0
    if not low <= value <= _MAX_NS:
        raise ValueError(f"lease {name} must be between {low} and 2**63-1, got {value}")
    return value


def _check_acquire(holder_id: str, now_ns: int, ttl_ns: int) -> int:
    """The expiry of a grant made now; validates the arguments."""
    _check_text("holder_id", holder_id)
    _check_ns("now_ns", now_ns)
    _check_ns("ttl_ns", ttl_ns, positive=True)
    return _check_ns("now_ns + ttl_ns", now_ns + ttl_ns)


# --- PostgreSQL ---------------------------------------------------------------------------

_LEASE_TABLE: Final = "livesession_lease"
_LEASE_DDL: Final = f"""
CREATE TABLE IF NOT EXISTS {_LEASE_TABLE} (
    account    text   NOT NULL,
    strategy   text   NOT NULL,
    holder     text,
    token      bigint NOT NULL,
    expires_ns bigint NOT NULL,
    PRIMARY KEY (account, strategy)
)
"""
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
_RELEASE: Final = f"""
UPDATE {_LEASE_TABLE} SET holder = NULL, expires_ns = 0
WHERE account = %(account)s AND strategy = %(strategy)s
    AND holder = %(holder)s AND token = %(token)s
"""  # noqa: S608 - constant table name


class PostgresLease:
    """The lease as one row of ``livesession_lease``; for sessions on several hosts.

    Each call is one autocommit statement, so a grant or renewal is committed (with
    ``synchronous_commit = on``) before it is returned. ``now_ns`` comes from the caller,
    not from the database clock: tests stay deterministic, at the price that every host
    must keep its clock in sync (NTP) and ``ttl_ns`` must cover the worst skew. Database
    failures raise ``LeaseError``; the connection string never appears in a message.
    """

    def __init__(self, dsn: str, account: str, strategy: str) -> None:
        self._account = _check_text("account", account)
        self._strategy = _check_text("strategy", strategy)
        self._pg = _Pg(dsn, error=LeaseError, purpose="the session lease")
        try:
            self._pg.ensure_table(_LEASE_TABLE, _LEASE_DDL)
        except BaseException:
            self._pg.close()
            raise

    def acquire(self, holder_id: str, now_ns: int, ttl_ns: int) -> LeaseGrant | None:
        """See ``SessionLease.acquire``."""
        expires = _check_acquire(holder_id, now_ns, ttl_ns)
        params = self._params(holder=holder_id, expires=expires, now=now_ns)
        with self._pg.translate(f"acquiring the lease {self._pair()}"):
            row = self._pg.execute(_ACQUIRE, params).fetchone()
        if row is None:
            return None
        return LeaseGrant(
            account=self._account,
            strategy=self._strategy,
            holder_id=holder_id,
            token=int(row[0]),
            ttl_ns=ttl_ns,
            expires_ns=expires,
        )

    def renew(self, grant: LeaseGrant, now_ns: int) -> bool:
        """See ``SessionLease.renew``."""
        self._check_grant(grant)
        expires = _check_ns("now_ns + ttl_ns", _check_ns("now_ns", now_ns) + grant.ttl_ns)
        params = self._params(holder=grant.holder_id, token=grant.token, expires=expires)
        with self._pg.translate(f"renewing the lease {self._pair()}"):
            renewed: bool = self._pg.execute(_RENEW, params).rowcount == 1
        return renewed

    def release(self, grant: LeaseGrant) -> None:
        """See ``SessionLease.release``."""
        self._check_grant(grant)
        params = self._params(holder=grant.holder_id, token=grant.token)
        with self._pg.translate(f"releasing the lease {self._pair()}"):
            self._pg.execute(_RELEASE, params)

    def close(self) -> None:
        """Close the connection (the lease stays as it is); safe to call more than once."""
        self._pg.close()

    def __repr__(self) -> str:
        return (
            f"PostgresLease({self._pg.target!r}, account={self._account!r}, "
            f"strategy={self._strategy!r})"
        )

    def _pair(self) -> str:
        return f"({self._account!r}, {self._strategy!r})"

    def _params(self, **values: object) -> dict[str, object]:
        return {"account": self._account, "strategy": self._strategy, **values}

    def _check_grant(self, grant: LeaseGrant) -> None:
        if (grant.account, grant.strategy) != (self._account, self._strategy):
            raise ValueError(f"grant for ({grant.account!r}, {grant.strategy!r}) used on {self!r}")


# --- one host: a file ---------------------------------------------------------------------


class FileLease:
    """The lease in a JSON file, for sessions on one host (a local filesystem, not NFS).

    ``path`` holds ``{"leases": {account: {strategy: {holder, token, expires_ns}}}}`` and
    may serve many pairs. Every call takes an exclusive ``flock`` on ``<path>.lock`` (a
    file that is never replaced), reads ``path``, and writes the new state with an atomic,
    fsynced replace before unlocking. ``flock`` belongs to the open file, so two
    ``FileLease`` objects exclude each other even inside one process. A file that cannot
    be parsed raises ``LeaseError``: nothing is overwritten.
    """

    def __init__(self, path: Path | str, account: str, strategy: str) -> None:
        self._path = Path(path)
        self._lock_path = self._path.with_name(self._path.name + ".lock")
        self._account = _check_text("account", account)
        self._strategy = _check_text("strategy", strategy)

    def acquire(self, holder_id: str, now_ns: int, ttl_ns: int) -> LeaseGrant | None:
        """See ``SessionLease.acquire``."""
        expires = _check_acquire(holder_id, now_ns, ttl_ns)
        with self._locked() as state:
            entry = self._entry(state)
            holder = entry.get("holder")
            if holder is not None and holder != holder_id and now_ns < entry["expires_ns"]:
                return None
            token = entry.get("token", 0) + 1
            self._write(state, {"holder": holder_id, "token": token, "expires_ns": expires})
        return LeaseGrant(
            account=self._account,
            strategy=self._strategy,
            holder_id=holder_id,
            token=token,
            ttl_ns=ttl_ns,
            expires_ns=expires,
        )

    def renew(self, grant: LeaseGrant, now_ns: int) -> bool:
        """See ``SessionLease.renew``."""
        self._check_grant(grant)
        expires = _check_ns("now_ns + ttl_ns", _check_ns("now_ns", now_ns) + grant.ttl_ns)
        with self._locked() as state:
            entry = self._entry(state)
            if not self._held_by(entry, grant):
                return False
            if expires > entry["expires_ns"]:
                self._write(state, {**entry, "expires_ns": expires})
        return True

    def release(self, grant: LeaseGrant) -> None:
        """See ``SessionLease.release``."""
        self._check_grant(grant)
        with self._locked() as state:
            entry = self._entry(state)
            if self._held_by(entry, grant):
                self._write(state, {"holder": None, "token": entry["token"], "expires_ns": 0})

    def close(self) -> None:
        """Nothing stays open between calls; safe to call more than once."""

    def __repr__(self) -> str:
        return (
            f"FileLease({str(self._path)!r}, account={self._account!r}, "
            f"strategy={self._strategy!r})"
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise LeaseError(f"cannot open the lease lock {self._lock_path}: {exc}") from None
        try:
            # Held for one read and one small write: blocking is bounded in practice.
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._read()
        finally:
            os.close(fd)  # closing the descriptor drops the flock

    def _read(self) -> dict[str, Any]:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {"leases": {}}
        except OSError as exc:
            raise LeaseError(f"cannot read the lease file {self._path}: {exc}") from None
        try:
            state = orjson.loads(raw)
        except orjson.JSONDecodeError:
            state = None
        if not (isinstance(state, dict) and isinstance(state.get("leases"), dict)):
            raise LeaseError(
                f"the lease file {self._path} is corrupt: remove it once no session runs"
            )
        return state

    def _entry(self, state: dict[str, Any]) -> dict[str, Any]:
        pairs = state["leases"].get(self._account, {})
        entry = pairs.get(self._strategy, {}) if isinstance(pairs, dict) else None
        if isinstance(entry, dict) and (not entry or _valid_entry(entry)):
            return dict(entry)
        raise LeaseError(
            f"the lease file {self._path} has a corrupt entry for {self._account!r}, "
            f"{self._strategy!r}: remove it once no session runs"
        )

    def _write(self, state: dict[str, Any], entry: dict[str, Any]) -> None:
        state["leases"].setdefault(self._account, {})[self._strategy] = entry
        try:
            atomic_write_bytes(
                self._path, orjson.dumps(state, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
            )
        except OSError as exc:
            raise LeaseError(f"cannot write the lease file {self._path}: {exc}") from None

    def _check_grant(self, grant: LeaseGrant) -> None:
        if (grant.account, grant.strategy) != (self._account, self._strategy):
            raise ValueError(f"grant for ({grant.account!r}, {grant.strategy!r}) used on {self!r}")

    @staticmethod
    def _held_by(entry: dict[str, Any], grant: LeaseGrant) -> bool:
        return entry.get("holder") == grant.holder_id and entry.get("token") == grant.token


def _valid_entry(entry: dict[str, Any]) -> bool:
    token, expires_ns, holder = entry.get("token"), entry.get("expires_ns"), entry.get("holder")
    return (
        isinstance(token, int)
        and not isinstance(token, bool)
        and isinstance(expires_ns, int)
        and not isinstance(expires_ns, bool)
        and (holder is None or (isinstance(holder, str) and bool(holder)))
    )
