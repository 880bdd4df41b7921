"""A lease grant: proof that one session held the (account, strategy) lease.

Plain data at the bottom of the package, so the ``SessionLease`` protocol, the backends
in ``leases/`` and the session's lease keeper all speak of the same thing.
"""

from __future__ import annotations

import attrs

__all__ = ["LeaseGrant"]


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
