"""One webhook attempt's HTTP: an opener that follows no redirect, and the cut at its timeout.

``WebhookAlertSink`` (``webhook.py``) sends each attempt through ``opener()`` with the
attempt's sockets kept in ``attempt.sockets`` (the worker thread's), so that ``cut``, run by
a timer when the attempt outlives its timeout, shuts them: a blocked read returns, however
the answer trickles in (its status line, its headers or its body).
"""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
from typing import Any

__all__ = ["attempt", "cut", "opener", "status_read", "unanswered"]

attempt = threading.local()
"""The worker thread's attempt: its ``sockets`` (what ``cut`` shuts) and its ``cut`` (an Event)."""


def _shut(sock: Any) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)


def _tracked(http_class: Any) -> Any:
    """``http_class``, each connection it makes, and the socket it connects, kept for the cut.

    The connection's socket is shut while it connects (an HTTPS handshake coming in a byte
    at a time); the socket itself once the headers are in, when urllib takes it off the
    connection (``h.sock = None``) and reads the answer's body from it still.
    """

    def connection(host: str, **kwargs: Any) -> Any:
        made = http_class(host, **kwargs)
        kept = getattr(attempt, "sockets", None)
        cutting = getattr(attempt, "cut", None)
        if kept is not None and cutting is not None:
            kept.append(made)
            connect = made.connect

            def connect_kept() -> None:
                connect()
                kept.append(made.sock)
                if cutting.is_set():  # cut while it connected: shut it now
                    _shut(made.sock)

            made.connect = connect_kept
        return made

    return connection


def cut(kept: list[Any], cutting: threading.Event) -> None:
    """End an attempt that outlived its timeout: shut its sockets (a blocked read returns).

    ``kept`` holds the attempt's connections (their socket, while they have one) and sockets.
    """
    cutting.set()
    for made in list(kept):
        sock = made if isinstance(made, socket.socket) else getattr(made, "sock", None)
        if sock is not None:
            _shut(sock)


_READ = 4096
"""The bytes of an answer's body read: a webhook's is a word (``ok``); the rest is left."""


def status_read(answer: Any, cutting: threading.Event) -> int:
    """The answer's status, once its body is read (its first 4096 bytes).

    A read the cut ended returns what came before it, without an error: an answer whose
    body was coming in a byte at a time is no whole answer, so it raises ``OSError`` then.
    So is one whose connection closed before the body its ``Content-Length`` announced
    (``http.client`` returns the bytes that came, without a word, where a chunked body cut
    short raises): it raises ``IncompleteRead``, as the chunked one does.
    """
    import http.client  # noqa: PLC0415 - loaded by the attempt already

    got = answer.read(_READ)
    if cutting.is_set():
        raise ConnectionAbortedError("the attempt was cut at its timeout")
    left = answer.length  # the announced body's bytes not read (None: no Content-Length)
    if left and len(got) < _READ:
        raise http.client.IncompleteRead(got, left)
    return int(answer.status)


@functools.cache
def opener() -> Any:
    """A ``urllib`` opener that follows no redirect, its sockets kept for the cut.

    urllib re-sends a POST answered 301, 302 or 303 as a GET without its body, so the
    webhook would get no alert and its answer to the GET (a 405, a 501) would be logged in
    place of the redirect: a 3xx answer is an ``HTTPError``. The location is not logged
    either: it may hold a token. The socket's timeout bounds each read, not the attempt: a
    webhook (or a proxy) that sends its answer a byte at a time held one attempt, and every
    alert queued behind it, for as long as it went on; ``cut`` ends it at its timeout.

    No proxy, whatever the environment says: urllib's default read ``http_proxy`` and the
    rest once, as the opener was first built, and POSTed every alert, its secret URL whole,
    to that proxy for the life of the process (one set or removed later changed nothing),
    which carried it off the host the URL names (a loopback relay's is the proxy's own).
    Built once, it reads nothing of the environment since.
    """
    import urllib.request  # noqa: PLC0415 - on the worker thread, as in the attempt

    class _NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
            return None

    class _Http(urllib.request.HTTPHandler):
        def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
            return super().do_open(_tracked(http_class), req, **kwargs)

    handlers: list[Any] = [urllib.request.ProxyHandler({}), _NoRedirect, _Http]
    if hasattr(urllib.request, "HTTPSHandler"):  # a Python built without ssl has none

        class _Https(urllib.request.HTTPSHandler):
            def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
                return super().do_open(_tracked(http_class), req, **kwargs)

        handlers.append(_Https)
    return urllib.request.build_opener(*handlers)


def unanswered(exc: Exception) -> bool:
    """Whether the request went out and no answer came (the webhook may have received it).

    ``urlopen`` raises ``URLError`` for what fails before the request is sent (the
    connection, the request itself); what fails while waiting for the answer (a timeout, a
    connection reset) comes through as it is. So does an answer that is no HTTP (a garbled
    status line, ``BadStatusLine``; a header line too long; a body cut short): the request
    went out and was read. ``http.client``'s errors of its own state, or of a URL it
    refused before connecting, are no such answer.
    """
    import http.client  # noqa: PLC0415 - loaded by the attempt already
    import urllib.error  # noqa: PLC0415

    if isinstance(exc, http.client.HTTPException):
        return not isinstance(exc, http.client.InvalidURL | http.client.ImproperConnectionState)
    return isinstance(exc, OSError) and not isinstance(exc, urllib.error.URLError)
