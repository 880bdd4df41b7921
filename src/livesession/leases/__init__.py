"""Single-active-session leases: one live session per (account, strategy).

``FileLease`` serves sessions on one host; ``PostgresLease`` sessions on several. Both grant
a ``LeaseGrant`` whose fencing token grows on every takeover.
"""

from __future__ import annotations

from .lease import FileLease, LeaseGrant, PostgresLease, SessionLease

__all__ = ["FileLease", "LeaseGrant", "PostgresLease", "SessionLease"]
