"""PostgreSQL plumbing shared by the PostgreSQL stores and the PostgreSQL lease.

``dsn`` reads the connection string from the environment and keeps its password out of
every message; ``connection`` is the one connection class both backends use.
"""

from __future__ import annotations

from .connection import PgConnection
from .dsn import DSN_ENV_VAR, describe_dsn, pg_dsn_from_env, redact_dsn_text

__all__ = ["DSN_ENV_VAR", "PgConnection", "describe_dsn", "pg_dsn_from_env", "redact_dsn_text"]
