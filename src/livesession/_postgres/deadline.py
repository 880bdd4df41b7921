"""A bound on every database call: a stalled server fails the call instead of hanging it.

A server that stops answering (a frozen host or VM, a ``SIGSTOP``-ed postgres, a network
that drops packets) leaves a libpq call waiting for ever: the kernel keeps the TCP
connection up, so neither ``connect_timeout`` nor TCP keepalives notice, and a
server-side ``statement_timeout`` needs a server that runs. ``CallDeadline`` is
client-side: a watchdog thread shuts the connection's socket down once a call has run
for ``timeout_s`` seconds. The driver then fails that call exactly as it fails when the
server drops the connection, and the caller's usual "database went away" path runs
(the stores fail closed, the session stops).

The bound is read from ``LIVESESSION_PG_TIMEOUT`` (seconds) by ``pg_timeout_from_env``.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import threading
import time
from contextlib import contextmanager
from typing import TYPE_CHECKING, Final

from .._exceptions import ConfigError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

__all__ = ["DEFAULT_TIMEOUT_S", "TIMEOUT_ENV_VAR", "CallDeadline", "pg_timeout_from_env"]

TIMEOUT_ENV_VAR: Final = "LIVESESSION_PG_TIMEOUT"
DEFAULT_TIMEOUT_S: Final = 10.0
_MAX_TIMEOUT_S: Final = 3600.0


def pg_timeout_from_env(environ: Mapping[str, str]) -> float:
    """The bound on each database call from ``LIVESESSION_PG_TIMEOUT``, in seconds.

    Unset or blank gives ``DEFAULT_TIMEOUT_S``; anything but a number of seconds above 0
    and at most an hour raises ``ConfigError`` naming the variable.
    """
    text = environ.get(TIMEOUT_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_TIMEOUT_S
    return check_timeout(text, TIMEOUT_ENV_VAR)


def check_timeout(value: object, name: str) -> float:
    """``value`` as seconds in (0, 3600]; ``ConfigError`` naming ``name`` otherwise."""
    try:
        seconds = float(str(value))
    except ValueError:
        seconds = math.nan
    if not 0 < seconds <= _MAX_TIMEOUT_S:  # also refuses nan and inf
        raise ConfigError(
            f"{name} must be a number of seconds above 0 and at most {_MAX_TIMEOUT_S:g}, "
            f"got {value!r}"
        )
    return seconds


class CallDeadline:
    """Shuts down the socket ``fileno()`` names when a call outlives ``timeout_s``.

    ``with deadline.bound():`` around each call; nested bounds count as the outer one.
    ``expired`` tells, after a failed call, that the watchdog cut it. The thread is
    started at the first call and ends with ``stop``.
    """

    def __init__(self, timeout_s: float, fileno: Callable[[], int]) -> None:
        self.timeout_s = check_timeout(timeout_s, "the PostgreSQL call timeout")
        self.expired = False
        self._fileno = fileno
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._depth = 0
        self._stopped = False
        self._thread: threading.Thread | None = None

    @contextmanager
    def bound(self) -> Iterator[None]:
        """Run the block under the bound (the outermost block's start counts)."""
        with self._cond:
            if self._depth == 0:
                self._start()
                self._deadline = time.monotonic() + self.timeout_s
                self._cond.notify()
            self._depth += 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._deadline = None

    def stop(self) -> None:
        """End the watchdog thread; safe to call more than once."""
        with self._cond:
            self._stopped = True
            self._cond.notify()

    def _start(self) -> None:
        if self._thread is None and not self._stopped:
            self._thread = threading.Thread(
                target=self._watch, name="livesession-pg-deadline", daemon=True
            )
            self._thread.start()

    def _watch(self) -> None:
        with self._cond:
            while not self._stopped:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                remaining = self._deadline - time.monotonic()
                if remaining > 0:
                    self._cond.wait(remaining)
                    continue
                self._deadline = None
                self.expired = True
                self._cut()

    def _cut(self) -> None:
        """Shut the socket down: the waiting driver call sees the connection end."""
        with contextlib.suppress(OSError, ValueError):
            duplicate = socket.socket(fileno=os.dup(self._fileno()))
            try:
                duplicate.shutdown(socket.SHUT_RDWR)
            finally:
                duplicate.close()
