"""Alert delivery to a webhook: a worker thread, bounded everywhere, logged to alerts.jsonl.

``post`` only puts the alert on a bounded queue (a full queue drops it and counts the
drop), so the step loop never waits for the network. One daemon worker POSTs each alert as
JSON with a timeout per attempt and a bounded number of retries, and appends every attempt
and outcome to ``alerts.jsonl``: wall-clock lines, outside the hash-chained audit, so the
audit stays reproducible whether or not the webhook answers. ``close`` lets the worker
finish what is queued for a bounded time, then writes a summary line.

The URL is a secret: it is held in a ``Secret``, never logged, and removed (with anything
else ``redact_text`` finds) from every error text before it is written anywhere.
"""

from __future__ import annotations

import contextlib
import os
import queue
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._domain.clock import SystemClock, format_utc, wall_ns
from .._support.secrets import REDACTED, redact_text, spellings, url_secrets

if TYPE_CHECKING:
    from .._domain.alerts import Alert
    from .._domain.runtime_config import Secret

__all__ = ["WebhookAlertSink"]

_STOP: Final = object()
_MAX_ERROR: Final = 300
_IDLE_S: Final = 0.05


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
            attempt's timeout and a second); what is still queued then is abandoned, counted.
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
    ) -> None:
        self._url = url
        self._log_path = None if log_path is None else Path(log_path)
        self._timeout_s = timeout_s
        self._retries = retries
        self._backoff_s = backoff_s
        self._close_timeout_s = timeout_s + 1.0 if close_timeout_s is None else close_timeout_s
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._log_lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._logging = True
        self.counts = {"posted": 0, "delivered": 0, "failed": 0, "dropped": 0, "abandoned": 0}
        self._clock = SystemClock()
        self._worker = threading.Thread(target=self._work, name="livesession-alerts", daemon=True)
        self._worker.start()

    # -- the session's side: never blocks --------------------------------------------------

    def post(self, alert: Alert) -> None:
        """Queue ``alert``; when the queue is full, drop it and count the drop."""
        if self._closed:
            self.counts["dropped"] += 1
            return
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.counts["dropped"] += 1
            return
        self.counts["posted"] += 1

    def close(self) -> None:
        """Deliver what is queued within ``close_timeout_s``; abandon the rest; summarise.

        From now on retries follow one another without waiting, so a refused connection
        costs milliseconds per alert and only an answer that never comes uses the bound.
        """
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with contextlib.suppress(queue.Full):  # full: the worker ends once it is empty
            self._queue.put_nowait(_STOP)
        self._worker.join(self._close_timeout_s)
        abandoned = 0
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is not _STOP:
                abandoned += 1
                self._log(item, "abandoned")  # type: ignore[arg-type]
        if self._worker.is_alive():
            abandoned += 1  # the one in flight: its outcome is no longer written
        self.counts["abandoned"] = abandoned
        self._write({"outcome": "closed", **self.counts})
        with self._log_lock:
            self._logging = False

    # -- the worker ------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            try:
                item = self._queue.get(timeout=_IDLE_S if self._stop.is_set() else None)
            except queue.Empty:
                return  # closing, and nothing is left
            if item is _STOP:
                return
            self._deliver(item)  # type: ignore[arg-type]

    def _deliver(self, alert: Alert) -> None:
        body = orjson.dumps(alert.to_json(), option=orjson.OPT_SORT_KEYS)
        attempts = self._retries + 1
        for attempt in range(1, attempts + 1):
            started = wall_ns()
            status: int | None = None
            error: str | None = None
            try:
                status = self._send(body)
            except Exception as exc:  # noqa: BLE001 - every failure is an outcome, never a crash
                error = self._describe(exc)
            if status is not None and not 200 <= status < 300:  # noqa: PLR2004
                error = f"HTTP {status}"
            elapsed_ms = (wall_ns() - started) // 1_000_000
            if error is None:
                self.counts["delivered"] += 1
                self._log(alert, "delivered", attempt=attempt, http_status=status, ms=elapsed_ms)
                return
            last = attempt == attempts
            self._log(
                alert, "gave_up" if last else "retry", attempt=attempt, error=error, ms=elapsed_ms
            )
            if not last:
                self._stop.wait(self._backoff_s * 2 ** (attempt - 1))  # no wait once closing
        self.counts["failed"] += 1

    def _send(self, body: bytes) -> int:
        # Imported here, on the worker thread: urllib.request costs a CLI run 15 ms at start-up.
        import urllib.error  # noqa: PLC0415
        import urllib.request  # noqa: PLC0415

        request = urllib.request.Request(  # noqa: S310 - the scheme is checked: http(s) only
            self._url.reveal(),
            data=body,
            headers={"Content-Type": "application/json", "User-Agent": "livesession-alerts"},
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=self._timeout_s) as answer:  # noqa: S310
                answer.read(4096)
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            exc.close()
            return int(exc.code)

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
                with self._log_path.open("ab") as file:
                    file.write(line)
            except OSError:
                self._logging = False  # the run directory went away: alerts still go out

    def __repr__(self) -> str:
        return f"WebhookAlertSink(url={REDACTED}, {self.counts})"
