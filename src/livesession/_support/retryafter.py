"""``Retry-After``: how long an HTTP answer (a 429, a 503, a 418) asks the client to wait.

Read by the alert webhook and by the ccxt broker.
"""

from __future__ import annotations

import datetime as dt
import email.utils

__all__ = ["retry_after_s"]


def retry_after_s(value: str | None, *, date: str | None = None) -> float | None:
    """``Retry-After``'s seconds from now (a number of seconds or an HTTP date); None: none.

    An HTTP date is read against ``date``, the answer's own ``Date`` header, when it has a
    readable one (the sender's clock against its own: no skew), else against this clock.
    A value that is neither, or a negative number, is no request to wait (None).
    """
    if value is None:
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    when = _http_date(text)
    if when is None:
        return None
    now = _http_date(date) if date is not None else None
    return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())


def _http_date(text: str) -> dt.datetime | None:
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # an HTTP date is GMT; one without a zone is taken as UTC
        when = when.replace(tzinfo=dt.UTC)
    return when
