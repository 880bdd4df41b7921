"""Whether this host's clock is close enough to the lease's PostgreSQL server's to hold it.

A ``PostgresLease`` keeps its times on each caller's clock (``leases``): a host whose wall
clock is off by more than the lease's slack could take over the lease of a session that
still renews it (its clock ahead), or hold a lease the other hosts read as expired (its
clock behind), and a healthy session then stops ``LEASE_LOST``. Every host talks to the
one server, so each is held to the server's clock: within an eighth of the TTL, two hosts
are within a quarter of it of each other, which leaves half a TTL for the holder's longest
stretch between two renewals (a ccxt broker's pause is held to half the TTL too).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._domain import clock as _clock
from .._exceptions import ConfigError
from .._support.text import span_words

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._domain.config import DryrunConfig
    from ..leases import PostgresLease

__all__ = ["SKEW_FRACTION", "refuse_skewed_clock"]

SKEW_FRACTION: Final = 8
"""A host's clock may be off the server's by less than ``lease_ttl_ms`` over this."""
_NS_PER_MS: Final = 1_000_000


def refuse_skewed_clock(
    lease: PostgresLease, cfg: DryrunConfig, wall_ns: Callable[[], int]
) -> None:
    """``ConfigError`` when ``wall_ns`` (the lease's clock) is too far off the server's.

    The server is read between two readings of ``wall_ns``, so a slow round trip widens
    what is allowed rather than what is refused. A ``LeaseError`` when the server fails.
    """
    before = wall_ns()
    server = lease.server_ns()
    after = wall_ns()
    bound = cfg.lease_ttl_ms * _NS_PER_MS // SKEW_FRACTION
    if before - server > bound:
        off, where, here = before - server, "ahead of", before
    elif server - after > bound:
        off, where, here = server - after, "behind", after
    else:
        return
    raise ConfigError(
        f"this host's clock reads {span_words(round(off / 1e9, 1))} {where} the lease's PostgreSQL "
        f"server's ({_seconds(here)} here, {_seconds(server)} there), "
        f"more than the {span_words(round(bound / 1e9, 1))} allowed (an eighth of "
        f"lease_ttl_ms={cfg.lease_ttl_ms}): the lease of account {cfg.account!r}, strategy "
        f"{cfg.strategy_id!r} is kept on each host's own clock, so this host would take "
        "over the lease of a session that still renews it, or have its own taken while it "
        "runs; nothing was changed: set this host's clock right (NTP) first"
    )


def _seconds(ns: int) -> str:
    """The moment ``ns`` after the epoch in RFC 3339 UTC, to the whole second."""
    return _clock.format_utc(_clock.from_epoch_ns(ns).replace(microsecond=0))
