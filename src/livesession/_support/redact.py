"""Redaction: secrets never reach logs, artifacts or messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Final

__all__ = ["REDACTED", "redact", "redact_text"]

REDACTED: Final = "***"
_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|api_?key|apikey|dsn|credential|auth)", re.IGNORECASE
)
_URL_PASSWORD = re.compile(r"(://[^:/@\s]+:)([^@\s]+)(@)")


def redact(value: Any) -> Any:
    """A copy of ``value`` with every secret-looking key's value replaced by ``***``."""
    if isinstance(value, Mapping):
        return {
            k: (REDACTED if isinstance(k, str) and _SECRET_KEY.search(k) else redact(v))
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def redact_text(text: str) -> str:
    """``text`` with passwords in URLs (``scheme://user:pw@host``) replaced by ``***``."""
    if "://" not in text:
        return text
    return _URL_PASSWORD.sub(rf"\g<1>{REDACTED}\g<3>", text)
