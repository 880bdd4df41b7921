"""A lease grant: proof that one session held the (account, strategy) lease.

Plain data at the bottom of the package, so the ``SessionLease`` protocol, the backends
in ``leases/`` and the session's lease keeper all speak of the same thing.
"""

from __future__ import annotations

import attrs

from .._exceptions import Fenced

__all__ = ["LeaseGrant", "LeaseStore", "lease_refusal"]


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


@attrs.frozen(kw_only=True)
class LeaseStore:
    """Where a backend keeps the lease, as a refusal names it and how it can be reset.

    Attributes:
        name: The store, as a message names it (``livesession_lease``, ``the lease file X``).
        record: What it holds for one pair (``row``, ``entry``).
        reset: How it was reset under a holder, said after "so" (``the table was reset under
            it (truncated, ...)``).
    """

    name: str
    record: str
    reset: str


def lease_refusal(
    pair: tuple[str, str], token: int, seen: tuple[object, object], action: str, store: LeaseStore
) -> Fenced:
    """The ``Fenced`` for ``action`` refused: ``store`` no longer holds the grant of ``token``.

    ``pair`` is the (account, strategy); ``seen`` the token and holder ``store`` holds for
    it (None: nothing). A newer token is a takeover; a record that is gone, holds an older
    token, or this one for another holder or for none means the store was reset under the
    grant (``store.reset``).
    """
    newest, holder = seen
    account, strategy = pair
    pair_words = f"the lease of account {account!r}, strategy {strategy!r}"
    if isinstance(newest, int) and newest > token:
        why = f"{pair_words} has a newer holder (fence {newest} > {token})"
    else:
        now = (
            f"has no {store.record} for it"
            if not isinstance(newest, int)
            else f"holds fence {newest} for {holder!r}"
            if holder is not None
            else f"holds fence {newest}, released"
        )
        why = (
            f"{pair_words} is no longer this session's (fence {token}): {store.name} {now}, "
            f"so {store.reset} and another session may take it"
        )
    return Fenced(
        f"refused {action}: {why}; this session lost its lease (LEASE_LOST) and must stop",
        fence=token,
        newest=newest if isinstance(newest, int) else None,
    )
