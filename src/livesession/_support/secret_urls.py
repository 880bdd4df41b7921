"""What of a URL or a connection string is its credential, as text may show part of it.

``url_secrets`` (a webhook's path and its pieces) and ``dsn_secrets`` (a PostgreSQL DSN's
password, ``user:password`` and the pieces of a password cut at an unescaped ``/`` or
``@``) give the values ``secrets`` redacts and the evidence's scan searches for; they are
re-exported there.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote, urlsplit

__all__ = ["AFTER_HOST", "dsn_secrets", "password_pieces", "uri_password", "url_secrets"]

_URL_PIECES: Final = re.compile(r"[/?&=#;:@\s\x00-\x1f\x7f]+")
AFTER_HOST: Final = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#]*", re.IGNORECASE)
"""A URL's scheme and host (with any userinfo and port): what follows may be a credential."""


def url_secrets(url: str, *, shortest: int = 8) -> list[str]:
    """What of a URL is its credential (a webhook's path), as text may show part of it.

    The URL, its path with the query (as written: ``urlsplit`` drops tabs and newlines, a
    message quoting the path keeps them), the path and the query, and each piece of those
    (between ``/``, ``?``, ``&``, ``=``, whitespace and control characters) of at least
    ``shortest`` characters: a message that quotes only a part still loses the token.
    """
    found = {url}
    host = AFTER_HOST.match(url)
    if host is not None:
        found.add(url[host.end() :])
    try:
        parts = urlsplit(url)
    except ValueError:  # an invalid IPv6 host: the text as written is all there is
        parts = None
    if parts is not None:
        found |= {parts.path + ("?" + parts.query if parts.query else ""), parts.path, parts.query}
    for text in list(found - {url}):
        found |= {piece for piece in _URL_PIECES.split(text) if len(piece) >= shortest}
    return sorted((text for text in found if len(text) > 1), key=lambda t: (-len(t), t))


_DSN_PASSWORD: Final = re.compile(
    r"(?:^|\s)password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s']\S*)", re.IGNORECASE
)
_QUERY_PASSWORD: Final = re.compile(r"(?:^|&)password=([^&#]*)", re.IGNORECASE)


def dsn_secrets(dsn: str, *, shortest: int = 8) -> list[str]:
    """What of a PostgreSQL connection string is its credential, as text may show part of it.

    The DSN as written; the userinfo of a URL (``user:password``: a driver's message
    quotes it with the host, ``user:password@127.0.0.1``), raw and percent-decoded; and the
    password alone (URL userinfo, ``?password=`` in its query, or ``password=...`` of the
    key=value form, quoted or not), raw and percent-decoded, when it has at least
    ``shortest`` characters: a shorter one alone would match innocent text.
    """
    found = {dsn}
    passwords: set[str] = set()
    try:
        parts = urlsplit(dsn)
    except ValueError:  # an invalid IPv6 host: the key=value search below still runs
        parts = None
    if parts is not None and parts.scheme and parts.netloc:
        userinfo, at, _host = parts.netloc.rpartition("@")
        _user, colon, password = userinfo.partition(":")
        if at and colon and password:
            found |= {userinfo, unquote(userinfo)}
            passwords.add(password)
        passwords |= {match.group(1) for match in _QUERY_PASSWORD.finditer(parts.query)}
    passwords |= {p for p in [uri_password(dsn)] if p}
    for match in _DSN_PASSWORD.finditer(dsn):
        value = match.group(1)
        if value.startswith("'"):  # libpq quoting: backslash escapes ' and \
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        passwords.add(value)
    found |= {form for p in passwords for form in (p, unquote(p)) if len(form) >= shortest}
    # A password cut at an unescaped "/", "?", "#" or "@" is read in pieces (as the port,
    # the host, the database): each long piece is one too.
    found |= {piece for p in passwords for piece in password_pieces(p, shortest=shortest)}
    return sorted((text for text in found if text), key=lambda t: (-len(t), t))


_URI_DELIMITERS: Final = re.compile(r"[/?#@\[\]]+")


def password_pieces(password: str, *, shortest: int = 8) -> set[str]:
    """The pieces of ``password`` between URI delimiters, each of ``shortest`` or more."""
    return {piece for piece in _URI_DELIMITERS.split(password) if len(piece) >= shortest}


def uri_password(dsn: str) -> str | None:
    """The password of a URI as written, its userinfo running to the last ``@``; or None.

    A host holds no ``@``, but a password may hold an unescaped ``/``, ``?``, ``#`` or
    ``@``: ``urlsplit`` ends the userinfo at the first of those, and libpq at a ``/`` or
    the first ``@`` and reads the rest as the host, port or database
    (``postgresql://u:ab/cd@host/db``: host ``u``, port ``ab``, database ``cd@host/db``),
    so neither gives the password whole. None for a URI without a password, and for a
    ``key=value`` string.
    """
    _scheme, sep, rest = dsn.partition("://")
    userinfo, at, _host = rest.rpartition("@")
    if not (sep and at):
        return None
    _user, colon, password = userinfo.partition(":")
    return password if colon and password else None
