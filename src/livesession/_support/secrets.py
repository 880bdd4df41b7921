"""The one set of secret patterns: redaction and the evidence secret scan both use it.

``redact`` / ``redact_text`` clean what reaches logs, audit payloads and messages;
``find_secrets`` reports which kinds of secret a text still holds (the evidence bundle's
scan). Both read the same ``RULES``, so whatever the scan flags, redaction removes, and a
redacted text scans clean (a value that is exactly ``***`` is never a finding).

A secret known by its value (a webhook URL, an environment variable) is removed, or
searched for, in every spelling text may give it (``spellings``, ``url_secrets``): an
error quotes it by ``repr``, a JSON line escapes it again. The environment's secrets
(``environment_secrets``: the values of secret-named variables, and the alert webhook's)
are one list for both: the evidence scan searches every file for them, and
``redact_text`` removes them from what it cleans (a strategy that reads its key from the
environment, as docs/plugins.md recommends, and quotes it in an exception). Redaction
reads them from the secrets it has taken from the environment: at its first use and again
as each session is built (``take_environment_secrets``). That set only grows: a secret once
taken stays redacted for the life of the process, even after its variable is gone (a host
that pops a credential once read, then builds another session, still has the first
session's plug-in holding it).

Each rule's capture groups hold only the secret value (everything else is non-capturing),
so redaction replaces exactly that span and keeps the context (``password=***``,
``postgresql://user:***@host``) readable.
"""

from __future__ import annotations

import functools
import itertools
import json
import os
import re
from collections.abc import Mapping
from typing import Any, Final, NamedTuple
from urllib.parse import quote

from .secret_urls import AFTER_HOST, dsn_secrets, password_pieces, uri_password, url_secrets

__all__ = [
    "ALERT_ENV",
    "MIN_ENV_SECRET",
    "OWN_NAME",
    "REDACTED",
    "RULES",
    "SecretRule",
    "dsn_secrets",
    "environment_secret_in",
    "environment_secrets",
    "find_secrets",
    "is_secret_name",
    "may_hold_secret",
    "names_a_credential",
    "password_pieces",
    "redact",
    "redact_text",
    "redact_url",
    "redact_url_echoes",
    "secret_values",
    "spellings",
    "take_environment_secrets",
    "uri_password",
    "url_secrets",
]

REDACTED: Final = "***"
ALERT_ENV: Final = "LIVESESSION_ALERT_WEBHOOK_URL"
"""The environment variable with the alert webhook's URL (its path is the token); it wins
over ``[alerts] webhook_url``."""
MIN_ENV_SECRET: Final = 8
"""The shortest value (and spelling) of an environment secret that is searched for: a
shorter one (``1``, ``true``, ``prod``) is in any text, and no credential is that short."""
OWN_NAME: Final = "livesession"
"""The product's name, which every run directory holds without any secret (``run.json``'s
``format``, ``writer.lock``'s command, ``checkpoint.json``) and so does the CLI's advice
(``livesession list runs``): a secret's spelling that is part of it cannot be told apart
from it, and is not searched for alone. Before, a DSN whose password is the default role's
name failed the evidence of every clean run (``value of $LIVESESSION_PG_DSN`` in three
files) and redaction made the CLI's advice ``*** list runs``; the DSN whole, and its
``user:password``, are still searched for."""
_MIN_URL_PIECE: Final = 12  # a piece of a webhook path long enough to be its token


class SecretRule(NamedTuple):
    """One kind of secret in free text; every capture group is the secret value."""

    kind: str
    pattern: re.Pattern[str]


_SECRET_WORD: Final = re.compile(
    r"(?:secret|password|passwd|passphrase|token|apikey|dsn|credential|auth)s?$"
    r"|^secret|^authorization$"
)
"""A part of a name that says its value is a secret: one that ends in a secret word
(``PGPASSWORD``, ``accessToken``, ``OAUTH``), or starts with ``secret`` (``SECRETKEY``)."""
_SECRET_PAIRS: Final = frozenset({("api", "key"), ("private", "key"), ("secret", "key")})
_NAME_PART: Final = re.compile(r"[a-z0-9]+")
_CAMEL: Final = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")

# A name that ends in a secret word, after any prefixes: LIVESESSION_BINANCE_API_SECRET,
# client_secret, db.password, --password. The name must end at the separator, so SECRET_SANTA
# and api_key_count are not names of secrets. It starts where an identifier starts (no \b:
# "_" is a word character), so a long identifier is one attempt, not one per character.
_ASSIGNED_NAME: Final = (
    r"(?<![a-z0-9_.-])[_.-]*(?:[a-z0-9]+[_.-])*"
    r"(?:api[_-]?key|api[_-]?secret|secret(?:[_-]?key)?|private[_-]?key|access[_-]?key"
    r"|password|passwd|passphrase|token)"
)
# Placeholders and references are not secrets: password=none, api_key=${API_KEY}, <your key>;
# nor is a value already redacted, even where an escape follows it in a JSON line
# (``password=***\n``, ``token=***\"``).
_NOT_A_VALUE: Final = (
    r"(?!(?:none|null|nil|true|false|unset|empty|required|optional|redacted)(?![\w-]))"
    r"(?![$<{%])(?!\*\*\*(?:\\[\\\"/bfnrtu]|[\s\"',;&<>]|$))"
)
_ASSIGNED: Final = (
    rf"{_ASSIGNED_NAME}[\"']?[ \t]*[:=][ \t]*"
    rf"(?:\"{_NOT_A_VALUE}([^\"\n]{{4,}})\"|'{_NOT_A_VALUE}([^'\n]{{4,}})'"
    rf"|{_NOT_A_VALUE}([^\s\"',;&<>]{{4,}}))"
)
# The scheme starts where a word starts and the password stops at "/", so a long text costs
# one pass, not one per character (a "/" in a password is percent-encoded in a valid URL).
_URL_USERINFO: Final = r"(?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://[^\s:/@\"'<>]*:([^\s/@\"'<>]+)@"
# A bearer token must look like one (a digit, symbol or inner dot), so prose such as
# "Bearer authentication." is not a token; after an Authorization header anything is.
_OPAQUE_VALUE: Final = r"[\w~+/-](?:[\w.~+/-]*[\w~+/-])?=*"
_BEARER: Final = (
    r"authorization[\"']?[ \t]*[:=][ \t]*[\"']?bearer[ \t]+([^\s\"',;]+)"
    rf"|\bbearer[ \t]+((?=[\w.~+/-]*?(?:[\d_~+/-]|\.[\w~+/-])){_OPAQUE_VALUE})"
)
# The path of a webhook URL is its credential: Slack, Discord and Teams by host, any other
# ".../hooks/<token>" or ".../webhooks/<token>" when the rest is long and has a digit. The
# path stops at the next "://" and at most eight segments lead to "hooks", so a text full of
# URLs costs one pass, not one per URL.
_PATH_CHAR: Final = r"(?:(?!://)[^\s\"'<>?#])"
_WEBHOOK: Final = (
    r"https?://(?:hooks\.slack\.com/(?:services|workflows|triggers)/"
    r"|(?:[\w-]+\.)?discord(?:app)?\.com/api/webhooks/"
    rf"|[\w.-]+\.webhook\.office\.com/webhookb2/)({_PATH_CHAR}+)"
    r"|https?://[^\s/\"'<>]+/(?:[^\s\"'<>?#/]*/){0,8}(?:webhooks?|hooks)/"
    rf"((?={_PATH_CHAR}*?\d){_PATH_CHAR}{{16,}})"
)
# A request's signature (an HMAC of it, as ccxt quotes a signed URL in its errors:
# ``...&signature=3f9a...``, or a venue's header ``X-BAPI-SIGN: ...``) lets the request be
# sent again while its timestamp is fresh. Only a value that looks like one (16 or more
# characters of hex or base64, a digit among them) is one: prose ("its signature: a
# callable") is not.
_SIGNATURE: Final = (
    r"(?<![a-z0-9_.-])[_.-]*(?:[a-z0-9]+[_.-])*(?:signature|sign)[\"']?[ \t]*[:=][ \t]*[\"']?"
    r"((?=[a-z0-9+/_-]*\d)[a-z0-9+/_-]{16,}=*)"
)
# The whole block when the text holds one, else the header and the rest of its line.
_PRIVATE_KEY: Final = (
    r"(?-i:-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----)"
    r"(.*?)(?:(?-i:-----END [A-Z0-9 ]*PRIVATE KEY-----)|\Z)"
)

# Tokens whose own prefix says what they are, wherever they stand: GitHub (ghp_, gho_,
# ghu_, ghs_, ghr_, github_pat_), Slack (xoxb-, xoxp-, ...), Stripe-style live keys
# (sk_live_, rk_live_) and JSON Web Tokens (three base64url parts, the first two "eyJ").
_BY_PREFIX: Final = (
    r"(?<![\w-])("
    r"gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|[sr]k_live_[A-Za-z0-9]{16,}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"
    r")"
)

_FLAGS: Final = re.IGNORECASE | re.DOTALL
RULES: Final = (
    SecretRule("private_key", re.compile(_PRIVATE_KEY, _FLAGS)),
    SecretRule("aws_access_key", re.compile(r"\b(AKIA[0-9A-Z]{16})\b")),
    SecretRule("assigned_secret", re.compile(_ASSIGNED, _FLAGS)),
    SecretRule("url_password", re.compile(_URL_USERINFO, _FLAGS)),
    SecretRule("bearer_token", re.compile(_BEARER, _FLAGS)),
    SecretRule("webhook_url", re.compile(_WEBHOOK, _FLAGS)),
    SecretRule("request_signature", re.compile(_SIGNATURE, _FLAGS)),
    SecretRule("provider_token", re.compile(_BY_PREFIX)),  # case matters: no IGNORECASE
)
"""Every kind of secret found in free text, in the order findings are reported."""

# Every rule needs one of these substrings (in any case), so a text without any skips the
# rules: the audit chain redacts every payload string, and most hold none of them. Searching
# the lowered text is about five times faster than an IGNORECASE search.
# A signature's trigger is its name and the ":" or "=" after it: "sign" alone is in every
# SIGNAL event's text.
_TRIGGER: Final = re.compile(
    r"secret|passw|passphrase|token|key|bearer|://|-----begin|akia|gh[pousr]_|github_pat_|xox"
    r"|k_live_|eyj|sign(?:ature)?[\"']?[ \t]*[:=]"
)
_SHORTEST: Final = len("a://:x@")


@functools.lru_cache(maxsize=4096)  # a run's keys are few and asked of every payload
def is_secret_name(name: str) -> bool:
    """Whether a mapping key or environment variable called ``name`` holds a secret.

    Judged by the parts of the name (split at ``_``, ``-``, ``.`` and camelCase), not by a
    word anywhere in it: ``GIT_AUTHOR_NAME`` and ``XAUTHORITY`` are no secrets. Each is
    redacted from every artifact line, so a name taken for a secret by mistake would make a
    run's bytes depend on the machine it ran on.
    """
    parts = _NAME_PART.findall(_CAMEL.sub("_", name).lower())
    return any(_SECRET_WORD.search(part) for part in parts) or any(
        pair in _SECRET_PAIRS for pair in itertools.pairwise(parts)
    )


_NUMBER: Final = re.compile(r"[+-]?[\d_]+(?:\.\d+)?")
"""A number written as a string (``max_tokens = "512"``): no credential."""
_PLACEHOLDER: Final = re.compile(
    r"(?:none|null|nil|true|false|unset|empty|required|optional|redacted|\*\*\*)|[$<{%].*",
    re.IGNORECASE | re.DOTALL,
)


def names_a_credential(name: str, value: str) -> bool:
    """Whether ``name`` = ``value`` is a credential by its name alone: a header or key.

    The name ends in a secret word or pair (``Authorization``, ``Proxy-Authorization``,
    ``X-Auth``, ``clientSecret``, ``credentials``, ``private_key``) or is a ``Cookie``, and
    the value is no placeholder (``none``, ``${API_KEY}``, ``<your key>``, ``***``), no
    number and at least 4 characters long. The
    rules find a value by its form (``password=...``, ``Bearer ...``); an
    ``Authorization: Basic ...`` header or a cookie has none. Only the last part of the
    name counts: ``auth_mode`` and ``token_bucket`` name no credential.
    """
    parts = _NAME_PART.findall(_CAMEL.sub("_", name).lower())
    text = value.strip()
    if not parts or len(text) < 4 or _PLACEHOLDER.fullmatch(text) or _NUMBER.fullmatch(text):  # noqa: PLR2004
        return False
    last = parts[-1]
    return (
        bool(_SECRET_WORD.search(last))
        or last in {"cookie", "cookies"}
        or (len(parts) > 1 and (parts[-2], last) in _SECRET_PAIRS)
    )


def redact(value: Any) -> Any:
    """A copy of ``value``: secret-named keys' values and secrets in strings become ``***``."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and is_secret_name(k) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """``text`` with the value of every secret any rule finds replaced by ``***``.

    The environment's secrets (``environment_secrets``) are replaced too, in every spelling,
    wherever they stand: a key quoted bare (``login refused for key Hx7p...``) matches no rule.
    """
    for form in _environment_forms():
        if form in text:
            text = text.replace(form, REDACTED)
    if not may_hold_secret(text):
        return text
    for rule in RULES:
        text = rule.pattern.sub(_redact_match, text)
    return text


_QUOTED_URL: Final = re.compile(
    r"(?<![\w\\])(['\"])([a-z][a-z0-9+.-]*://[^/?#\s'\"]*)[/?#](?:(?!\1)[^\n])*\1",
    re.IGNORECASE,
)
"""A quoted URL with a path, query or fragment: ``'https://hooks.example/abc123'``."""


def redact_url_echoes(text: str) -> str:
    """``redact_text(text)``, and each quoted URL's path, query and fragment replaced too.

    A refusal echoes the value it refuses (``got 'https://...'``): a URL's path may be its
    credential though no rule knows it (a webhook's token, ``https://hooks.example/abc123``),
    and the scheme and host are enough to say which URL was meant. Only a quoted value (as
    ``repr`` quotes it) is cut, not a URL the message itself names.
    """
    text = redact_text(text)
    if "://" not in text:
        return text
    return _QUOTED_URL.sub(lambda m: f"{m[1]}{redact_url(m[0][1:-1])}{m[1]}", text)


def redact_url(url: str) -> str:
    """``url`` as its scheme and host: ``https://hooks.example/***``.

    Its path, query and fragment may be its credential; a password before the host is
    ``***`` too (``redact_text``).
    """
    host = AFTER_HOST.match(url)
    if host is None or host.end() == len(url):
        return redact_text(url)
    return f"{redact_text(url[: host.end()])}/{REDACTED}"


def environment_secrets(env: Mapping[str, str]) -> list[tuple[str, list[str]]]:
    r"""Each secret of the environment ``env``, by name, in every spelling text may show it.

    A variable named like a secret (``is_secret_name``: ``MYDESK_API_SECRET``,
    ``PGPASSWORD``, ``..._TOKEN``, ``..._DSN``) holds one, and so does the alert webhook's
    (``ALERT_ENV``): its path is the token, which an error may quote alone
    (``url_secrets``). A connection string (a name ending in ``DSN``, as
    ``LIVESESSION_PG_DSN``) is one whole, and so are its password and ``user:password``
    alone (``dsn_secrets``): a driver's error quotes those without the rest. A value
    shorter than ``MIN_ENV_SECRET`` is none. Each is given as
    written and escaped (``spellings``: a tab quoted by ``repr`` in a JSON line is
    ``\\t``), every spelling at least ``MIN_ENV_SECRET`` long and none part of
    ``OWN_NAME``.
    """
    found: list[tuple[str, list[str]]] = []
    for name, value in sorted(env.items()):
        if len(value.strip()) < MIN_ENV_SECRET:
            continue
        if name == ALERT_ENV:
            secrets = url_secrets(value.strip(), shortest=_MIN_URL_PIECE)
        elif name.upper().endswith("DSN"):
            secrets = dsn_secrets(value.strip(), shortest=MIN_ENV_SECRET)
        elif is_secret_name(name):
            # Trimmed: a program reading it (a plug-in's key) strips the newline a secret
            # file leaves, or the \r of a .env file with Windows line ends; the value as
            # written holds the trimmed one, so text quoting either loses it.
            secrets = [value.strip()]
        else:
            continue
        forms = {form for secret in secrets for form in spellings(secret)}
        searched = (form for form in forms if len(form) >= MIN_ENV_SECRET and form not in OWN_NAME)
        found.append((name, sorted(searched)))
    return found


_ENVIRONMENT: dict[str, tuple[str, ...]] = {}
"""``redact_text``'s secrets taken from the environment (key ``forms``): every spelling of
every secret taken so far, longest first."""
_NAMED: dict[bytes, str] = {}
"""Each spelling taken (UTF-8, as a file holds it), to the variable it spells the value of
(the first one taken with it)."""


def take_environment_secrets(env: Mapping[str, str] | None = None) -> None:
    """Add the environment's secrets, as they are now, to those ``redact_text`` removes.

    Taken at its first use, and by each session as it is built: a variable set since then
    (an application that reads its secrets from a vault at start-up) is seen by the next
    session. Nothing taken is ever dropped: a session that read a variable's value keeps
    it (its strategy's key) after the host removed the variable, and building another
    session must not switch redaction of that value off for the first one.
    ``env``: ``os.environ`` by default.
    """
    spelled = environment_secrets(os.environ if env is None else env)
    forms = {form for _name, forms in spelled for form in forms}
    for name, named in spelled:
        for form in named:
            _NAMED.setdefault(form.encode("utf-8", "replace"), name)
    forms.update(_ENVIRONMENT.get("forms", ()))
    _ENVIRONMENT["forms"] = tuple(sorted(forms, key=lambda form: (-len(form), form)))


def _environment_forms() -> tuple[str, ...]:
    forms = _ENVIRONMENT.get("forms")
    if forms is None:
        take_environment_secrets()
        forms = _ENVIRONMENT["forms"]
    return forms


def environment_secret_in(data: bytes) -> tuple[str, bytes] | None:
    """The environment's secret ``data`` holds: the variable's name and the spelling found.

    The secrets are those ``redact_text`` removes (taken as each session is built), in
    every spelling: the values the evidence's secret scan searches a run's files for. None
    when it holds none (nearly always: a substring search per spelling).
    """
    _environment_forms()  # taken at the first use, as for redact_text
    for form, name in _NAMED.items():
        if form in data:
            return name, form
    return None


def find_secrets(text: str) -> list[str]:
    """The kinds (``RULES`` order, each once) of unredacted secret in ``text``."""
    if not may_hold_secret(text):
        return []
    return [
        rule.kind
        for rule in RULES
        if any(_secret(match) != REDACTED for match in rule.pattern.finditer(text))
    ]


def secret_values(text: str) -> list[str]:
    """Every unredacted secret value in ``text`` (for callers that scrub a literal)."""
    if not may_hold_secret(text):
        return []
    values = (_secret(match) for rule in RULES for match in rule.pattern.finditer(text))
    return [value for value in values if value and value != REDACTED]


def may_hold_secret(text: str) -> bool:
    """Whether any rule could find a secret in ``text`` (a cheap test before the rules).

    False for a text is False for every part of it, so one call on a whole file can stand
    for a call on each of its lines.
    """
    return len(text) >= _SHORTEST and _TRIGGER.search(text.lower()) is not None


def _secret(match: re.Match[str]) -> str:
    return next((group for group in match.groups() if group is not None), "")


def _redact_match(match: re.Match[str]) -> str:
    index = next(i for i, group in enumerate(match.groups(), start=1) if group is not None)
    start, end = match.start(index) - match.start(), match.end(index) - match.start()
    whole = match.group()
    return whole[:start] + REDACTED + whole[end:]


def spellings(value: str) -> list[str]:
    r"""``value`` and the escaped forms text may show it in, longest first.

    An exception quotes a value by ``repr`` (a tab as ``\t``), a JSON line escapes that
    again (``\\t``), a URL percent-encodes it (``%09``): a secret replaced or searched for
    only as written survives in each of those. Two rounds of escaping are covered.
    """
    forms = {value}
    for _ in range(2):
        forms |= {escaped for form in forms for escaped in _escaped(form)}
    return sorted(forms, key=lambda form: (-len(form), form))


def _escaped(text: str) -> tuple[str, ...]:
    return (
        repr(text)[1:-1],
        ascii(text)[1:-1],
        json.dumps(text)[1:-1],
        json.dumps(text, ensure_ascii=False)[1:-1],
        quote(text, safe="/"),
        quote(text, safe=""),
    )
