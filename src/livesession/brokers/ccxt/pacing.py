"""The pause a venue asks for (``Retry-After``), honoured before the broker's next request.

A venue that refuses a request as over its rate limit (HTTP 429, ccxt's
``RateLimitExceeded`` / ``DDoSProtection``), bans the address for ignoring that (HTTP 418)
or is unavailable (HTTP 503) says in ``Retry-After`` how long to send nothing: seconds, or
an HTTP date (read against the answer's own ``Date``). ccxt does not read it, and the
session's retry backoff runs on simulated time, so the broker's next request followed at
once: a refused order was sent five times within a second of a 429 asking for 30 s, and
Binance bans an address (418) that keeps sending after a 429.

``VenuePause`` keeps the end of the pause asked for, on the broker's clock (``clock_ns``),
and before the next request waits (``wait_ns``) for what is left of it, up to ``max_ns``
(``MAX_PAUSE_NS``; a run passes half its ``lease_ttl_ms`` when that is less: the wait
comes after the session's last look at its lease, before a send). A longer pause (a ban)
sends nothing: that request fails ``Transient`` at once, naming how long the venue still
asked for, and the session counts it toward the broker's health (``BROKER_UNHEALTHY``)
without a request reaching the venue. The error the refused answer raised says the pause
in its message: the session log's line of it.

A venue that throttles without saying how long (OKX and Bybit send a 429 without
``Retry-After``) gets a pause of the broker's own choosing: ``BACKOFF_FIRST_NS`` after such
a 429, doubled for each one that follows within the pause's own length of the last one's
end, up to ``BACKOFF_MAX_NS`` (and never more than ``max_ns``: it is always waited, never
refused). Before, the resend followed at once, spaced only by ccxt's throttle.

Given a ``KeptPause`` (a run's broker: ``venue_pause.json`` in its run directory), the
pause is also kept on the wall clock, and a broker built later (a resume's, in another
process) starts with what is left of it: waited, or refused unsent, before its first request.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..._exceptions import BrokerError, OutcomeUnknown, Rejected, Transient
from ..._support.optional import import_optional
from ..._support.retryafter import retry_after_s
from .errors import _chain
from .keptpause import KeptPause

__all__ = [
    "BACKOFF_FIRST_NS",
    "BACKOFF_MAX_NS",
    "MAX_PAUSE_NS",
    "Paced",
    "VenuePause",
    "retry_after_ns",
]

MAX_PAUSE_NS: Final = 60_000_000_000
"""The longest the broker waits before one request for a pause the venue asked for (60 s),
by default (``make_ccxt_broker``'s ``max_pause_ns``)."""
_NS_PER_S: Final = 1_000_000_000
_TOO_MANY: Final = 429
BACKOFF_FIRST_NS: Final = _NS_PER_S
"""The pause after a 429 that says not how long (no ``Retry-After``): 1 s."""
BACKOFF_MAX_NS: Final = 30 * _NS_PER_S
"""The longest such pause (doubled for each 429 in a row): 30 s, or ``max_ns`` when less."""


def retry_after_ns(exc: BaseException) -> tuple[int, int] | None:
    """The pause (ns) and HTTP status of the answer behind ``exc`` that has ``Retry-After``.

    None when no answer in its chain has one that can be read (``retry_after_s``: a number
    of seconds, or an HTTP date, read against the answer's own ``Date``).
    """
    for link in _chain(exc):
        response = getattr(link, "response", None)
        headers = getattr(response, "headers", None)
        status = getattr(response, "status_code", None)
        if headers is None or not isinstance(status, int):
            continue
        asked = retry_after_s(headers.get("Retry-After"), date=headers.get("Date"))
        if asked is not None:
            return int(asked * _NS_PER_S), status
    return None


def throttled(exc: BaseException) -> bool:
    """Whether ``exc`` is the venue's refusal as over its rate limit.

    HTTP 429, or what ccxt maps a venue's rate-limit code to (``RateLimitExceeded``).
    """
    ccxt = import_optional("ccxt", "ccxt")
    return any(
        isinstance(link, ccxt.RateLimitExceeded)
        or getattr(getattr(link, "response", None), "status_code", None) == _TOO_MANY
        for link in _chain(exc)
    )


def _s(ns: int) -> str:
    """``ns`` in whole seconds, rounded up (``30 s``)."""
    return f"{-(-ns // _NS_PER_S)} s"


class VenuePause:
    """The end of the last pause a venue asked for, and the wait for it before a request."""

    def __init__(
        self,
        venue: str,
        *,
        wait_ns: Callable[[int], None],
        clock_ns: Callable[[], int],
        max_ns: int = MAX_PAUSE_NS,
        kept: KeptPause | None = None,
    ) -> None:
        self._venue = venue
        self._max_ns = max_ns
        self._wait_ns = wait_ns
        self._clock_ns = clock_ns
        self._until_ns: int | None = None
        self._why = ""
        self._backoff: tuple[int, int] | None = None  # the last backoff: its end, its length
        self._kept = kept
        heard = None if kept is None else kept.load(venue)
        if heard is not None:  # a pause an earlier process heard (a crashed run's)
            self._until_ns = clock_ns() + heard[0]
            self._why = heard[1]

    def asked(self) -> str:
        """What is left of the pause asked for, in words; ``""`` when none is left."""
        left = 0 if self._until_ns is None else self._until_ns - self._clock_ns()
        if left <= 0:
            return ""
        if self._why.startswith("backing off"):
            return f"no request to {self._venue} for {_s(left)} more ({self._why})"
        return f"{self._venue} asked for no request for {_s(left)} more ({self._why})"

    def before_request(self, client_order_id: str | None = None) -> None:
        """Wait for what is left of the pause asked for; ``Transient`` when over the bound."""
        if self._until_ns is None:
            return
        left = self._until_ns - self._clock_ns()
        if left > self._max_ns:
            raise Transient(
                f"{self.asked()}, longer than the broker waits before one "
                f"({_s(self._max_ns)}): not sent",
                client_order_id=client_order_id,
            )
        if left > 0:
            self._wait_ns(left)
        self._until_ns = None

    def heard(self, exc: BaseException, error: BrokerError) -> BrokerError:
        """Keep the pause ``exc``'s answer asked for; ``error`` (``exc`` classified), saying it."""
        asked = retry_after_ns(exc)
        if asked is None:
            return self._back_off(error) if throttled(exc) else error
        pause, status = asked
        self._keep(pause, f"Retry-After {_s(pause)} on HTTP {status}")
        if pause > self._max_ns:
            then = f"more than the {_s(self._max_ns)} the broker waits: none is sent till it ends"
        else:
            then = "the next request waits for it"
        return _saying(
            error, f"{error}; the venue asked for a pause of {_s(pause)} (Retry-After): {then}"
        )

    def _keep(self, pause: int, why: str) -> None:
        until = self._clock_ns() + pause
        if self._until_ns is None or until > self._until_ns:
            self._until_ns = until
            self._why = why
            if self._kept is not None:
                self._kept.save(self._venue, pause, why)

    def _back_off(self, error: BrokerError) -> BrokerError:
        """A 429 without ``Retry-After``: a pause of the broker's own, doubled when repeated."""
        now = self._clock_ns()
        last = self._backoff
        repeated = last is not None and now < last[0] + last[1]
        pause = min(2 * last[1] if last and repeated else BACKOFF_FIRST_NS, BACKOFF_MAX_NS)
        pause = min(pause, self._max_ns)
        if pause <= 0:
            return error
        self._backoff = (now + pause, pause)
        self._keep(pause, f"backing off {_s(pause)} after HTTP 429 without Retry-After")
        again = "again " if last and repeated else ""
        return _saying(
            error,
            f"{error}; rate limited {again}without Retry-After: the broker backs off, "
            f"the next request waits {_s(pause)} (doubled for each 429 in a row, up to "
            f"{_s(min(BACKOFF_MAX_NS, self._max_ns))})",
        )


def _saying(error: BrokerError, said: str) -> BrokerError:
    """``error`` (of its class, reason and client order id kept) with the message ``said``."""
    cid = error.client_order_id
    if isinstance(error, Rejected):
        return Rejected(said, reason=error.reason, client_order_id=cid)
    if isinstance(error, OutcomeUnknown):
        return OutcomeUnknown(said, client_order_id=cid)
    return Transient(said, client_order_id=cid)


class Paced:
    """Mixin of the ccxt broker: the waits before its requests (the broker's attributes)."""

    _pause: VenuePause
    _wait_ns: Callable[[int], None]
    _lookup_interval_ns: int

    def _guard(self) -> None:
        raise NotImplementedError

    def _ready(self, cid: str | None = None) -> None:
        """Before a request: the sandbox gate, then the pause the venue asked for."""
        self._guard()
        self._pause.before_request(cid)

    def pause(self) -> None:
        """Wait ``lookup_interval_ns`` (with ``wait_ns``): between two tries of a read."""
        self._wait_ns(self._lookup_interval_ns)

    def venue_pause(self) -> str:
        """What is left of a pause the venue asked for (``Retry-After``), in words; or ``""``.

        A failed preflight read says it (``binance asked for no request for 25 s more
        (Retry-After 30 s on HTTP 429)``): the venue was not unavailable, it was asked less.
        """
        return self._pause.asked()
