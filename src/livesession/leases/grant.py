"""What every lease backend checks before it makes or honours a grant."""

from __future__ import annotations

from typing import Final

from .._domain.lease import LeaseGrant, LeaseStore, lease_refusal

__all__ = ["LeaseGrant", "PairLease", "acquire_expiry", "check_ns", "check_text"]

_MAX_NS: Final = 2**63 - 1  # a signed 64-bit column holds every ns value in use


def check_text(name: str, value: object) -> str:
    """``value`` when it is a non-empty string; otherwise raise ``ValueError``."""
    if not isinstance(value, str) or not value:
        raise ValueError(f"lease {name} must be a non-empty string, got {value!r}")
    return value


def check_ns(name: str, value: object, *, positive: bool = False) -> int:
    """``value`` when it is an int of nanoseconds that fits a signed 64-bit column."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"lease {name} must be an int of nanoseconds, got {value!r}")
    low = 1 if positive else 0
    if not low <= value <= _MAX_NS:
        raise ValueError(f"lease {name} must be between {low} and 2**63-1, got {value}")
    return value


def acquire_expiry(holder_id: str, now_ns: int, ttl_ns: int) -> int:
    """The expiry of a grant made now; validates the arguments."""
    check_text("holder_id", holder_id)
    check_ns("now_ns", now_ns)
    check_ns("ttl_ns", ttl_ns, positive=True)
    return check_ns("now_ns + ttl_ns", now_ns + ttl_ns)


class PairLease:
    """What every lease backend shares: its (account, strategy) pair and the grants for it.

    A backend subclasses it, calls ``__init__`` with the pair, and names where the lease
    lives (``_where``) for its repr.
    """

    def __init__(self, account: str, strategy: str) -> None:
        self._account = check_text("account", account)
        self._strategy = check_text("strategy", strategy)

    @property
    def account(self) -> str:
        """The account of the pair this lease is for."""
        return self._account

    @property
    def strategy(self) -> str:
        """The strategy of the pair this lease is for."""
        return self._strategy

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self._where()!r}, account={self._account!r}, "
            f"strategy={self._strategy!r})"
        )

    def _where(self) -> str:
        """Where the lease lives, for the repr (never a password)."""
        raise NotImplementedError

    def holding(self, now_ns: int) -> tuple[str, int] | None:
        """Who holds the pair at ``now_ns`` and until when: ``(holder_id, expires_ns)``.

        None when nobody does (free, or expired). For messages: a refused resume names the
        holder and when its lease expires. Raises ``LeaseError`` when the store fails, and
        ``TypeError`` or ``ValueError`` for a ``now_ns`` ``acquire`` would refuse.
        """
        raise NotImplementedError

    def confirms(self, grant: LeaseGrant, now_ns: int) -> bool:
        """Whether ``grant`` still holds the pair at ``now_ns``, by a check cheaper than ``renew``.

        A session asks it before each order and cancel it sends between two renewals (the
        renewal is due only once a quarter TTL has passed): a store changed under the grant
        in between (a lease file deleted or put back from an older copy, and another session
        taking the freed pair) is found there, before the send. True means the grant holds;
        False only that this check cannot say so, and the caller renews (``renew`` decides:
        True, False, or ``Fenced``). It writes nothing and raises nothing.

        This default answers True: the backend has no check cheaper than its renewal.
        ``PostgresLease`` keeps it: a round trip costs what a renewal does, and its fenced
        stores refuse an order's reservation, in the statement that writes it, once the
        lease row is not the grant's.
        """
        del grant, now_ns
        return True

    def _grant(self, holder_id: str, token: int, ttl_ns: int, expires_ns: int) -> LeaseGrant:
        return LeaseGrant(
            account=self._account,
            strategy=self._strategy,
            holder_id=holder_id,
            token=token,
            ttl_ns=ttl_ns,
            expires_ns=expires_ns,
        )

    def _renewal_expiry(self, grant: LeaseGrant, now_ns: int) -> int:
        """The expiry a renewal of ``grant`` at ``now_ns`` asks for; checks both."""
        self._check_grant(grant)
        return check_ns("now_ns + ttl_ns", check_ns("now_ns", now_ns) + grant.ttl_ns)

    def _refused_renewal(self, grant: LeaseGrant, seen: tuple[object, object]) -> bool:
        """A renewal of ``grant`` that found ``seen`` (token, holder) in the store: False.

        False once a newer holder took the lease, or the grant was released (a grant given
        back is not renewed back to life). Raises ``Fenced`` when the store was reset under
        the grant instead (its record gone, an older token, this one for another holder:
        ``_store`` says how it can be), as a fenced store's refused write does: no session
        need have taken it over, and the keeper records the loss with that token.
        """
        newest, holder = seen
        if isinstance(newest, int) and newest > grant.token:
            return False  # another holder took it over
        if newest == grant.token and holder in {None, grant.holder_id}:
            return False  # released (or this grant's after all, changed since the write)
        pair = (self._account, self._strategy)
        raise lease_refusal(pair, grant.token, seen, "renewing the lease", self._store())

    def _store(self) -> LeaseStore:
        """Where the lease lives, as a refused renewal names it and how it can be reset."""
        raise NotImplementedError

    def _check_grant(self, grant: LeaseGrant) -> None:
        """Refuse a grant made for another pair (``ValueError``)."""
        if (grant.account, grant.strategy) != (self._account, self._strategy):
            raise ValueError(f"grant for ({grant.account!r}, {grant.strategy!r}) used on {self!r}")
