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
in its message: the session log's line of it. A pause is held ``KEPT_MAX_NS`` (3 days) at
most, in the process as in the pause file (``retry_after_ns``).

A venue that throttles without saying how long (OKX and Bybit send a 429 without
``Retry-After``) gets a pause of the broker's own choosing: ``BACKOFF_FIRST_NS`` after such
a 429, doubled for each one that follows within the pause's own length of the last one's
end, up to ``BACKOFF_MAX_NS`` (and never more than ``max_ns``: it is always waited, never
refused). Before, the resend followed at once, spaced only by ccxt's throttle. A ban
(HTTP 418) without ``Retry-After`` backs off the longest at once (``BACKOFF_MAX_NS``):
Binance's shortest ban is 2 minutes, and each request made during one lengthens it, so the
1 s start of a 429's would send five into it within 30 s. Before, it paused nothing.

Given a ``KeptPause`` (a run's broker: ``venue_pause.json`` in its run directory), the
pause is also kept on the wall clock, and a broker built later (a resume's, in another
process) starts with what is left of it: waited, or refused unsent, before its first request,
and with its backoff (a 429 right after a resume doubles the last one, as it would have in
the killed process). A file that is there but cannot be believed (``PauseUnreadable``) is
said in one line (the log's ``venue_pause_unreadable``, and the pause's own words) and
gets the longest backoff: waited once, never refused, then the file is written anew.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ..._exceptions import BrokerError, OutcomeUnknown, Rejected, Transient
from ..._support.logging import get_logger, logs_on
from ..._support.optional import import_optional
from ..._support.retryafter import retry_after_s
from .errors import _chain
from .keptpause import KEPT_MAX_NS, Kept, KeptPause, PauseUnreadable

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
_BANNED: Final = 418
BACKOFF_FIRST_NS: Final = _NS_PER_S
"""The pause after a 429 that says not how long (no ``Retry-After``): 1 s."""
BACKOFF_MAX_NS: Final = 30 * _NS_PER_S
"""The longest such pause (doubled for each 429 in a row): 30 s, or ``max_ns`` when less."""


def retry_after_ns(exc: BaseException) -> tuple[int, int] | None:
    """The pause (ns) and HTTP status of the answer behind ``exc`` that has ``Retry-After``.

    None when no answer in its chain has one that can be read (``retry_after_s``: a number
    of seconds, or an HTTP date, read against the answer's own ``Date``). A pause longer
    than ``KEPT_MAX_NS`` (3 days, the longest the pause file keeps) is that long: a venue
    asking for 10**12 s (or more digits than a float holds) does not stop the broker for good.
    """
    for link in _chain(exc):
        response = getattr(link, "response", None)
        headers = getattr(response, "headers", None)
        status = getattr(response, "status_code", None)
        if headers is None or not isinstance(status, int):
            continue
        asked = retry_after_s(headers.get("Retry-After"), date=headers.get("Date"))
        if asked is not None:
            return int(min(asked * _NS_PER_S, KEPT_MAX_NS)), status
    return None


def throttled(exc: BaseException) -> bool:
    """Whether ``exc`` is the venue's refusal as over its rate limit.

    HTTP 429, or what ccxt maps a venue's rate-limit code to (``RateLimitExceeded``).
    """
    ccxt = import_optional("ccxt", "ccxt")
    return _status_in(exc, _TOO_MANY) or any(
        isinstance(link, ccxt.RateLimitExceeded) for link in _chain(exc)
    )


def _status_in(exc: BaseException, status: int) -> bool:
    """Whether an answer in ``exc``'s chain has the HTTP ``status``."""
    return any(
        getattr(getattr(link, "response", None), "status_code", None) == status
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
        run_id: str = "",
    ) -> None:
        self._venue = venue
        self._run_id = run_id  # the run its log lines name ("": a broker of no run's)
        self._max_ns = max_ns
        self._wait_ns = wait_ns
        self._clock_ns = clock_ns
        self._until_ns: int | None = None
        self._why = ""
        self._backoff: tuple[int, int] | None = None  # the last backoff: its end, its length
        self._kept = kept
        self._unread = ""
        try:
            heard = None if kept is None else kept.load(venue)
        except PauseUnreadable as exc:  # neither none (a ban may be on) nor forever
            pause = min(BACKOFF_MAX_NS, max_ns)
            why = f"{exc}: the longest backoff, {_s(pause)}, in case a pause was on"
            self._unread = why
            self._keep(pause, why)
            self._say_unread()
            return
        if heard is not None:  # a pause an earlier process heard (a crashed run's)
            now = clock_ns()
            self._until_ns = now + heard.left_ns
            self._why = heard.why
            if heard.backoff is not None:
                self._backoff = (now + heard.backoff[0], heard.backoff[1])

    def asked(self) -> str:
        """What is left of the pause asked for, in words; ``""`` when none is left."""
        left = 0 if self._until_ns is None else self._until_ns - self._clock_ns()
        if left <= 0:
            return ""
        if not self._why.startswith("Retry-After"):  # a pause of the broker's own
            return f"no request to {self._venue} for {_s(left)} more ({self._why})"
        return f"{self._venue} asked for no request for {_s(left)} more ({self._why})"

    def before_request(self, client_order_id: str | None = None) -> None:
        """Wait for what is left of the pause asked for; ``Transient`` when over the bound."""
        self._say_unread()
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
            banned = _status_in(exc, _BANNED)
            return self._back_off(error, banned) if banned or throttled(exc) else error
        pause, status = asked
        self._keep(pause, f"Retry-After {_s(pause)} on HTTP {status}")
        asked_for = f"{_s(pause)} (Retry-After)"
        if pause == KEPT_MAX_NS:  # capped: the venue may have asked for far longer
            asked_for = f"{_s(pause)} or more (Retry-After; the broker keeps {_s(pause)} at most)"
        if pause > self._max_ns:
            then = f"more than the {_s(self._max_ns)} the broker waits: none is sent till it ends"
        else:
            then = "the next request waits for it"
        return _saying(error, f"{error}; the venue asked for a pause of {asked_for}: {then}")

    def _say_unread(self) -> None:
        """Log why the pause file was not believed, once, as soon as a log is on.

        A resume's CLI opens the run's log after its first requests: it is said before the
        first request after that.
        """
        if self._unread and logs_on():
            get_logger().warning(
                "venue_pause_unreadable",
                run_id=self._run_id,
                venue=self._venue,
                reason=self._unread,
            )
            self._unread = ""

    def close(self) -> None:
        """Remove the pause file when nothing is left in it (no pause, no backoff to double)."""
        now = self._clock_ns()
        backoff = self._backoff
        paused = self._until_ns is not None and self._until_ns > now
        doubles = backoff is not None and now < backoff[0] + backoff[1]
        if self._kept is not None and not paused and not doubles:
            self._kept.remove()

    def _keep(self, pause: int, why: str) -> None:
        """Keep a pause heard (when it ends later than the one kept), and write the file."""
        now = self._clock_ns()
        until = now + pause
        if self._until_ns is None or until > self._until_ns:
            self._until_ns = until
            self._why = why
        if self._kept is not None:
            backoff = self._backoff
            self._kept.save(
                self._venue,
                Kept(
                    self._until_ns - now,
                    self._why,
                    None if backoff is None else (backoff[0] - now, backoff[1]),
                ),
            )

    def _back_off(self, error: BrokerError, banned: bool = False) -> BrokerError:
        """A 429 (or a 418) without ``Retry-After``: a pause of the broker's own.

        After a 429, doubled when repeated; after a ban (418), the longest at once.
        """
        now = self._clock_ns()
        last = self._backoff
        repeated = last is not None and now < last[0] + last[1]
        longest = min(BACKOFF_MAX_NS, self._max_ns)
        if banned:  # Binance's shortest ban is 2 minutes: 1 s would send into it
            pause = longest
        else:
            pause = min(2 * last[1] if last and repeated else BACKOFF_FIRST_NS, longest)
        if pause <= 0:
            return error
        self._backoff = (now + pause, pause)
        status = _BANNED if banned else _TOO_MANY
        self._keep(pause, f"backing off {_s(pause)} after HTTP {status} without Retry-After")
        if banned:
            said = (
                "banned (HTTP 418) without Retry-After: the broker backs off its longest, "
                f"the next request waits {_s(pause)}"
            )
        else:
            said = (
                f"rate limited {'again ' if last and repeated else ''}without Retry-After: the "
                f"broker backs off, the next request waits {_s(pause)} (doubled for each 429 "
                f"in a row, up to {_s(longest)})"
            )
        return _saying(error, f"{error}; {said}")


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
