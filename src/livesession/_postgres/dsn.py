"""The PostgreSQL connection string: where it comes from, and how to show it safely.

The DSN may hold a password, so nothing shows it as is: ``pg_dsn_from_env`` returns it in a
``Secret`` (``str`` and ``repr`` are ``***``, as for the exchange credentials), reprs and
messages name the server with ``describe_dsn``, and the server's error text passes through
``redact_dsn_text``. Every function here, and every PostgreSQL backend, takes the DSN as a
``Secret`` or as a plain ``str``.
"""

from __future__ import annotations

import urllib.parse
from typing import TYPE_CHECKING, Final

from .._domain.runtime_config import Secret
from .._exceptions import ConfigError
from .._support.secrets import (
    MIN_ENV_SECRET,
    REDACTED,
    password_pieces,
    redact_text,
    secret_values,
    uri_password,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DSN_ENV_VAR",
    "Dsn",
    "describe_dsn",
    "dsn_text",
    "parse_dsn",
    "pg_dsn_from_env",
    "redact_dsn_text",
]

DSN_ENV_VAR: Final = "LIVESESSION_PG_DSN"
Dsn = str | Secret
"""A connection string as the backends take it: a ``Secret`` (``pg_dsn_from_env``) or a str."""


def pg_dsn_from_env(environ: Mapping[str, str]) -> Secret:
    """The connection string in ``LIVESESSION_PG_DSN``; ``ConfigError`` when unset or blank.

    Pass ``os.environ`` (or any mapping, in tests). The value comes back in a ``Secret``
    (its ``str`` and ``repr`` are ``***``): pass it to a PostgreSQL store or lease as it
    is; ``reveal()`` gives the text, for a driver of one's own. It is only parsed when a
    backend connects.
    """
    dsn = environ.get(DSN_ENV_VAR, "").strip()
    if not dsn:
        raise ConfigError(
            f"{DSN_ENV_VAR} is not set: export it as a PostgreSQL connection URI, "
            "e.g. postgresql://livesession@127.0.0.1:5432/livesession"
        )
    return Secret(dsn)


def dsn_text(dsn: Dsn) -> str:
    """The connection string itself, for the driver (``dsn`` a ``Secret`` or a str)."""
    return dsn.reveal() if isinstance(dsn, Secret) else dsn


def redact_dsn_text(text: str, dsn: Dsn) -> str:
    """``text`` on one line with every trace of ``dsn``'s password replaced by ``***``.

    Removes the password literal (raw and URL-encoded), any ``scheme://user:pw@`` userinfo
    and any ``password=...`` pair, so it is safe even when ``dsn`` cannot be parsed.
    """
    one_line = " ".join(text.split())
    for secret in sorted(_password_literals(dsn_text(dsn)), key=len, reverse=True):
        one_line = one_line.replace(secret, REDACTED)
    return redact_text(one_line)


def describe_dsn(dsn: Dsn) -> str:
    """``user@host:port/dbname`` for reprs and messages, never the password.

    Parts missing from ``dsn`` are left out; an unparsable ``dsn`` reads ``<unparsable>``.
    """
    params = parse_dsn(dsn_text(dsn))
    if params is None:
        return "<unparsable>"
    user = params.get("user", "")
    host = params.get("host", "") or params.get("hostaddr", "")
    port = params.get("port", "")
    text = f"{user}@" if user else ""
    text += host + (f":{port}" if port else "")
    dbname = params.get("dbname", "")
    # A password with an unescaped "/" or "@" is read in part as the host, port or
    # database: what libpq made of it is shown with the password's pieces taken out.
    return redact_dsn_text(text + (f"/{dbname}" if dbname else ""), dsn)


def _password_literals(dsn: str) -> set[str]:
    found: set[str] = set()
    params = parse_dsn(dsn)
    if params is not None and params.get("password"):
        found.add(params["password"])
    # The patterns work on any text, so they find the password even in a DSN libpq rejects.
    for raw in secret_values(dsn):
        found.update({raw, urllib.parse.unquote(raw)})
    # A URI's password as written, to the last "@", and its pieces where an unescaped "/"
    # or "@" cut it: libpq reads them as the host, port or database (``uri_password``).
    password = uri_password(dsn)
    if password:
        found.update({password, urllib.parse.unquote(password)})
        found.update(password_pieces(password, shortest=MIN_ENV_SECRET))
    return found


def parse_dsn(dsn: str) -> dict[str, str] | None:
    """The libpq parameters of ``dsn``, or None when it cannot be parsed (or no psycopg)."""
    try:
        from psycopg.conninfo import conninfo_to_dict  # noqa: PLC0415 - optional extra
    except ImportError:
        return None
    try:
        params = conninfo_to_dict(dsn)
    except Exception:  # noqa: BLE001 - any parse failure means "cannot describe"
        return None
    return {str(key): str(value) for key, value in params.items() if value is not None}
