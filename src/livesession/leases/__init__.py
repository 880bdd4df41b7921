r"""Single-active-session leases: one live session per (account, strategy), fenced.

``FileLease`` (``file``) serves sessions on one host; ``PostgresLease`` (``postgres``)
sessions on several. Both grant a ``LeaseGrant`` (``grant``) and keep the
``SessionLease`` protocol (in ``livesession._typing``).

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

from .._typing import SessionLease
from .file import FileLease
from .grant import LeaseGrant
from .postgres import PostgresLease

__all__ = ["FileLease", "LeaseGrant", "PostgresLease", "SessionLease"]
