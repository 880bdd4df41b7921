"""Alert delivery to a webhook: a worker thread, bounded everywhere, logged to alerts.jsonl.

``post`` only puts the alert on a bounded queue (a full queue drops it and counts the
drop), so the step loop never waits for the network. One daemon worker POSTs each alert as
JSON with a timeout per attempt and a bounded number of retries, and appends every attempt
and outcome to ``alerts.jsonl``: wall-clock lines, outside the hash-chained audit, so the
audit stays reproducible whether or not the webhook answers. ``close`` lets the worker
finish what is queued until a deadline (an attempt made while closing ends by it), names
each alert it abandons, and each the full queue dropped, on a line of its own, then writes
a summary line; once it returns the worker starts no attempt and writes nothing.

The URL is a secret: it is held in a ``Secret``, never logged, and removed (with anything
else ``redact_text`` finds) from every error text before it is written anywhere.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._domain.alerts import has_userinfo
from .._domain.clock import SystemClock, format_utc, wall_ns
from .._exceptions import PluginError
from .._support.fsutil import open_append_like
from .._support.retryafter import retry_after_s
from .._support.secrets import REDACTED, redact_text, spellings, url_secrets
from . import names, webhookhttp

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._domain.alerts import Alert
    from .._domain.runtime_config import Secret

__all__ = ["WebhookAlertSink", "refuse_closed_webhook"]

_MAX_ERROR: Final = 300
_COUNTED: Final = {"delivered": "delivered", "gave_up": "failed", "abandoned": "abandoned"}
_GRACE_S: Final = 0.25
"""How long past its deadline ``close`` waits for an attempt the deadline cut short."""
_NAMED_DROPS: Final = 1000
"""The most dropped alerts ``close`` names on lines of their own (the count has them all)."""


def _document(alert: Alert, place: Mapping[str, str]) -> dict[str, Any]:
    """The JSON document of ``alert``, with where its run is (``place``) when given.

    The text named only the run's id (``livesession run shift-01: kill switch fired``), and
    its ``next`` a run directory it did not name: a person paged who had not started the
    run could not tell where it was, on which host, or as whom to ``ack`` it. Of a run an
    application writes (``program``: ``uvicorn``), it says that ``livesession ack`` (which
    ``next`` names) does not reach it.
    """
    document = alert.to_json()
    if place:
        document |= place
        document["text"] += (
            f"; run directory {place['run_dir']} on host {place['host']}, written by user "
            f"{place['user']}"
        )
        program = place.get("program", "livesession")
        if program != "livesession":  # the `next` words' `livesession ack` would be refused
            document["text"] += (
                f" in {program}, an application with its own controls (`livesession stop`, "
                "`kill` and `ack` do not signal it)"
            )
    return document


def refuse_closed_webhook(sink: object) -> None:
    """``PluginError`` for a closed ``WebhookAlertSink`` given to a session.

    Its ``post`` only counts each alert dropped, and a closed sink is not opened again: a
    session given one (after the session that used it closed it) would page nobody, and
    say nothing. Refused before anything is written.
    """
    if isinstance(sink, WebhookAlertSink) and sink.closed:
        raise PluginError(
            "alerts= got a WebhookAlertSink that is closed (the session that used it closed "
            "it, or its close() was called): it would drop every alert, and a closed sink is "
            "not opened again; give each session its own WebhookAlertSink"
        )


_REDIRECTED: Final = " (a redirect, not followed: set the URL it leads to)"
_USERINFO: Final = (
    "the URL holds a user name or password (USER:PASSWORD@HOST): not sent, not even to DNS "
    "as the host urllib would cut from it; put the webhook's token in its path"
)


_RETRY_AFTER_STATUSES: Final = frozenset({429, 503})
"""The answers whose ``Retry-After`` says when to try again (Too Many Requests, Unavailable)."""
_MAX_RETRY_AFTER_S: Final = 30.0
"""The longest ``Retry-After`` waited before a retry: the alerts behind it wait as long."""
_TRANSIENT_4XX: Final = frozenset({408, 425, 429})
"""The 4xx answers a later attempt may get past (Request Timeout, Too Early, Too Many Requests)."""


def _permanent(status: int | None) -> bool:
    """Whether a retry would be refused alike (a 3xx, a 4xx but 408/425/429): none is made."""
    return status is not None and 300 <= status < 500 and status not in _TRANSIENT_4XX  # noqa: PLR2004


class WebhookAlertSink:
    """POSTs each alert to one webhook URL from a worker thread of its own.

    Args:
        url: The webhook (a ``Secret``).
        log_path: Where attempts and outcomes are appended (``alerts.jsonl``); None: nowhere.
        timeout_s: The bound on one attempt (connect, send, answer).
        retries: Attempts after the first failed one.
        backoff_s: The wait before the first retry; it doubles for each further one.
        queue_size: Alerts waiting before new ones are dropped (and counted).
        close_timeout_s: How long ``close`` waits for the queue to drain (default: one
            attempt's timeout and a second); what is not delivered by then is abandoned,
            each alert named on a line of its own, and counted.
        place: Where the run is, for a person who did not start it: ``run_dir``, ``host``
            and ``user`` (whom its process runs as), added to each document and said at
            the end of its ``text``; a run directory's session (``create_run``, the CLI)
            gives them. None: the alert names the run by its id alone.
    """

    def __init__(
        self,
        url: Secret,
        *,
        log_path: str | os.PathLike[str] | None,
        timeout_s: float = 2.0,
        retries: int = 2,
        backoff_s: float = 0.2,
        queue_size: int = 256,
        close_timeout_s: float | None = None,
        place: Mapping[str, str] | None = None,
    ) -> None:
        self._url = url
        self._place = dict(place or {})
        self._log_path = None if log_path is None else Path(log_path)
        self._timeout_s = timeout_s
        self._retries = retries
        self._backoff_s = backoff_s
        self._close_timeout_s = timeout_s + 1.0 if close_timeout_s is None else close_timeout_s
        self._queue_size = queue_size
        self._pending: deque[Alert] = deque()
        self._dropped: list[Alert] = []  # named by close: which alerts the full queue lost
        self._ready = threading.Condition()  # guards _pending: post, the worker, close
        self._log_lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._logging = True
        self._deadline: float | None = None  # time.monotonic() by which closing gives up
        # Whose each alert is: the worker's (taken, in flight) or close's (pending, or in
        # flight once close is done). Taken before _ready, never after it.
        self._settled = threading.Lock()
        self._in_flight: Alert | None = None
        self._asked: float | None = None  # the worker's: the last answer's Retry-After (s)
        self._done = False  # close is done: the worker attempts, counts and writes no more
        self.counts = {"posted": 0, "delivered": 0, "failed": 0, "dropped": 0, "abandoned": 0}
        self._clock = SystemClock()
        self._worker = threading.Thread(target=self._work, name="livesession-alerts", daemon=True)
        self._worker.start()

    # -- the session's side: never blocks --------------------------------------------------

    def post(self, alert: Alert) -> None:
        """Queue ``alert``; when the queue is full, drop it and count the drop."""
        with self._ready:
            if self._closed or len(self._pending) >= self._queue_size:
                self.counts["dropped"] += 1
                if not self._closed and len(self._dropped) < _NAMED_DROPS:
                    self._dropped.append(alert)
                return
            self._pending.append(alert)
            self._ready.notify()
        self.counts["posted"] += 1

    def close(self) -> None:
        """Deliver what is queued within ``close_timeout_s``; abandon the rest; summarise.

        From now on retries follow one another without waiting, so a refused connection
        costs milliseconds per alert, and an attempt waits for its answer only until the
        deadline. Every alert not delivered by then is abandoned on a line of its own: one
        whose request was still out when the deadline passed says ``in_flight`` (the
        webhook may yet receive it). Once this returns, the worker attempts nothing more:
        its late answer changes no count and no line.
        """
        with self._ready:
            if self._closed:
                return
            self._closed = True
            self._deadline = time.monotonic() + self._close_timeout_s
            self._stop.set()  # the worker ends once nothing is pending
            self._ready.notify()
        self._worker.join(self._close_timeout_s + _GRACE_S)
        with self._settled:
            self._done = True
            in_flight, self._in_flight = self._in_flight, None
            with self._ready:
                left = list(self._pending)
                self._pending.clear()
        if in_flight is not None:
            self._abandon(in_flight, in_flight=True)
        for alert in left:
            self._abandon(alert)
        for alert in self._dropped:  # posted to a full queue: never attempted
            self._log(alert, "dropped")
        self._write({"outcome": "closed", **self.counts})
        with self._log_lock:
            self._logging = False

    def drop_unsent(self) -> None:
        """Stop at once, writing nothing more: what is queued is lost, as in a killed process.

        For a run directory's sink whose session was collected without ``close`` (the
        run a crash, which another session may resume and log to): the worker attempts
        nothing more, and ends once an attempt under way has had its answer.
        """
        with self._settled:
            self._done = True
            with self._ready:
                self._closed = True
                self._pending.clear()
                self._stop.set()
                self._ready.notify()
        with self._log_lock:
            self._logging = False

    def _abandon(self, alert: Alert, **fields: Any) -> None:
        self.counts["abandoned"] += 1
        self._log(alert, "abandoned", **fields)

    # -- the worker ------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._pending:
                    if self._stop.is_set():
                        return  # closing, and nothing is left
                    self._ready.wait()
            alert = self._take()
            if alert is None:
                return
            self._deliver(alert)

    def _take(self) -> Alert | None:
        """The next pending alert, now the worker's; None once close is done with them all."""
        with self._settled:
            if self._done:
                return None
            with self._ready:
                self._in_flight = self._pending.popleft()
            return self._in_flight

    def _deliver(self, alert: Alert) -> None:
        body = orjson.dumps(_document(alert, self._place), option=orjson.OPT_SORT_KEYS)
        attempts = self._retries + 1
        last: dict[str, Any] = {}  # the last attempt's error, for an abandoned line
        for attempt in range(1, attempts + 1):
            timeout_s = self._attempt_timeout()
            if timeout_s is None:  # taken as close's deadline passed: no attempt starts
                self._settle(alert, "abandoned", **last)
                return
            status, error, tried = self._try(body, timeout_s, attempt)
            if error is None:
                self._settle(alert, "delivered", http_status=status, **tried)
                return
            if attempt == attempts or _permanent(status):
                self._settle(alert, "gave_up", error=error, **tried)
                return
            if self._attempt_timeout() is None:  # close's deadline passed: no retry
                self._settle(alert, "abandoned", error=error, **tried)
                return
            last = {"error": error, **tried}
            with self._settled:
                if self._done:
                    return
                self._log(alert, "retry", **last)
            if not self._wait_to_retry(self._backoff_s * 2 ** (attempt - 1), self._asked):
                self._settle(alert, "abandoned", **last)  # asked to wait past close's deadline
                return

    def _try(
        self, body: bytes, timeout_s: float, attempt: int
    ) -> tuple[int | None, str | None, dict[str, Any]]:
        """One attempt: the answer's status, the error (None: delivered), the line's fields."""
        started = wall_ns()
        status: int | None = None
        error: str | None = None
        tried: dict[str, Any] = {"attempt": attempt}
        self._asked = None
        try:
            status = self._send(body, timeout_s)
        except Exception as exc:  # noqa: BLE001 - every failure is an outcome, never a crash
            error = self._describe(exc)
            if webhookhttp.unanswered(exc):
                tried["unanswered"] = True
        if status is not None and not 200 <= status < 300:  # noqa: PLR2004
            error = self._refusal(status)
        tried["ms"] = (wall_ns() - started) // 1_000_000
        return status, error, tried

    def _refusal(self, status: int) -> str:
        """``HTTP 429 (Retry-After 2 s)``: the error an answer that is no success makes."""
        said = f"HTTP {status}"
        if 300 <= status < 400:  # noqa: PLR2004
            said += _REDIRECTED
        elif _permanent(status):
            said += " (a refusal a retry will not change: not retried)"
        asked = self._asked
        return said if asked is None else f"{said} (Retry-After {asked:.3g} s)"

    def _wait_to_retry(self, backoff_s: float, asked_s: float | None) -> bool:
        """Wait before the next attempt; False: closing, and ``asked_s`` ends past the deadline.

        The backoff is not waited once closing. A ``Retry-After`` the webhook asked for
        (``asked_s``) is, up to ``_MAX_RETRY_AFTER_S``: an attempt sooner would be refused
        again. While closing only if it ends before close's deadline; else no retry.
        """
        if asked_s is None:
            self._pause(backoff_s, until_close=True)
            return True
        until = time.monotonic() + min(max(asked_s, backoff_s), _MAX_RETRY_AFTER_S)
        self._pause(until - time.monotonic(), until_close=True)
        deadline = self._deadline
        if deadline is None:
            return True
        if until > deadline:
            return False
        self._pause(until - time.monotonic(), until_close=False)
        return True

    def _pause(self, seconds: float, *, until_close: bool) -> None:
        """The worker's one way to wait; ``until_close``: not past the start of ``close``."""
        if seconds <= 0:
            return
        if until_close:
            self._stop.wait(seconds)
        else:
            time.sleep(seconds)

    def _attempt_timeout(self) -> float | None:
        """The bound on the next attempt: ``timeout_s``, or what is left before the deadline.

        None once the deadline has passed: no attempt starts then.
        """
        deadline = self._deadline
        if deadline is None:
            return self._timeout_s
        left = deadline - time.monotonic()
        return min(self._timeout_s, left) if left > 0 else None

    def _settle(self, alert: Alert, outcome: str, **fields: Any) -> None:
        """Record ``alert``'s outcome, unless ``close`` returned meanwhile and named it."""
        with self._settled:
            if self._done:
                return
            self._in_flight = None
            self.counts[_COUNTED[outcome]] += 1
            self._log(alert, outcome, **fields)

    def _send(self, body: bytes, timeout_s: float) -> int:
        # Imported here, on the worker thread: urllib.request costs a CLI run 15 ms at start-up.
        import urllib.error  # noqa: PLC0415
        import urllib.request  # noqa: PLC0415

        url = self._url.reveal()
        if has_userinfo(url):  # a sink built past the config's check: no request at all
            raise ValueError(_USERINFO)
        request = urllib.request.Request(  # noqa: S310 - the scheme is checked: http(s) only
            url,
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "livesession-alerts"},
            method="POST",
        )
        sockets: list[Any] = []
        cut = threading.Event()
        webhookhttp.attempt.sockets, webhookhttp.attempt.cut = sockets, cut
        timer = threading.Timer(timeout_s, webhookhttp.cut, (sockets, cut))
        timer.daemon = True
        timer.start()
        try:
            with webhookhttp.opener().open(request, timeout=timeout_s) as answer:
                return webhookhttp.status_read(answer, cut)
        except urllib.error.HTTPError as exc:  # a 3xx too: redirects are not followed
            exc.close()
            if exc.code in _RETRY_AFTER_STATUSES:
                self._asked = retry_after_s(exc.headers.get("Retry-After"))
            return int(exc.code)
        except Exception:
            if cut.is_set():  # what the cut made of it (a closed connection) is not the cause
                raise TimeoutError(f"timed out: no whole answer within {timeout_s:.3g} s") from None
            raise
        finally:
            timer.cancel()
            webhookhttp.attempt.sockets = webhookhttp.attempt.cut = None

    def _describe(self, exc: BaseException) -> str:
        r"""The error's type and message, with the URL (and any other secret) taken out.

        Every spelling of each secret part of the URL goes (``url_secrets``,
        ``spellings``): ``http.client`` quotes a path with a control character in it by its
        ``repr``, where a tab reads ``\t``, so the path as written is not in the message.
        """
        reason = getattr(exc, "reason", None)  # URLError wraps the socket's error
        if isinstance(reason, BaseException):
            exc = reason
        text = f"{type(exc).__name__}: {exc}"
        forms = {form for part in url_secrets(self._url.reveal()) for form in spellings(part)}
        for secret in sorted(forms, key=len, reverse=True):
            if len(secret) > 1:
                text = text.replace(secret, REDACTED)
        return redact_text(text)[:_MAX_ERROR]

    # -- alerts.jsonl ----------------------------------------------------------------------

    def _log(self, alert: Alert, outcome: str, **fields: Any) -> None:
        self._write(
            {
                "outcome": outcome,
                "code": alert.code,
                "audit_seq": alert.audit_seq,
                "alert_ts": alert.ts,
                **fields,
            }
        )

    def _write(self, record: dict[str, Any]) -> None:
        if self._log_path is None:
            return
        record["wall_ts"] = format_utc(self._clock.now())
        line = orjson.dumps(record, option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE)
        with self._log_lock:
            if not self._logging:
                return
            try:
                like = self._log_path.with_name(names.EVENTS)  # the run's mode, not the umask's
                with os.fdopen(open_append_like(self._log_path, like), "ab") as file:
                    file.write(line)
            except OSError:
                self._logging = False  # the run directory went away: alerts still go out

    @property
    def closed(self) -> bool:
        """Whether ``close`` ran: the sink posts nothing more, and is not opened again."""
        return self._closed

    def __repr__(self) -> str:
        return f"WebhookAlertSink(url={REDACTED}, {self.counts})"
