"""Ctrl-C and SIGTERM during ``run_to_end`` and ``run_n_steps`` in the main thread.

Held to the step boundary (``DeferredInterrupt``), so that neither tears a session: see
``threads`` for the session lock and what tears a session.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any, Final, Protocol

from .._support.signals import ours

if TYPE_CHECKING:
    from collections.abc import Callable
    from types import FrameType
    from typing import Self

    from .threads import VerbResult

__all__ = ["SIGTERM_STOP", "DeferredInterrupt"]


class _Stoppable(Protocol):
    """What ``DeferredInterrupt`` stops and closes on SIGTERM (the coordinator)."""

    def request_stop(self, reason: str = ..., *, sealed_as: bool = ...) -> VerbResult:
        """Stop the session (cancel, flatten, STOPPED)."""
        ...

    def close(self) -> None:
        """Seal the run."""
        ...


SIGTERM_STOP: Final = "SIGNAL_SIGTERM"
"""The stop (and seal) reason of a SIGTERM that ``DeferredInterrupt`` took, as the CLI's."""


class DeferredInterrupt:
    """Ctrl-C and SIGTERM in the middle of a bulk run act at a step boundary, never inside.

    Installed by ``run_to_end`` and ``run_n_steps`` in the main thread, over Python's own
    handlers only (an application's or the CLI's own handlers are left alone):

    - SIGINT: a first one that arrives while ``inside()`` (a step holds the session lock)
      is held, and ``check()`` raises it as ``KeyboardInterrupt`` at the step boundary;
      outside a step, or a second time, it is raised at once, as Python would. With
      ``closes`` (``run_to_end``) the session is closed as the interrupt leaves the block:
      a whole session is sealed, a torn one (the second Ctrl-C) is not.
    - SIGTERM, whose default would kill the process wherever it is and leave the run
      unsealed: ``check()`` stops the session at the step boundary (reason
      ``SIGNAL_SIGTERM``, as the CLI's), leaving the block closes it (the seal), and then
      the signal is raised again with its default action, so the process ends as it would
      have, with its run sealed. A second SIGTERM ends the process at once.
    """

    def __init__(
        self, inside: Callable[[], bool], session: _Stoppable, *, closes: bool = False
    ) -> None:
        self._inside = inside
        self._session = session
        self._closes = closes
        self.pending = False
        self.terminating = False
        self._installed: list[tuple[signal.Signals, Any, Any]] = []

    def __enter__(self) -> Self:
        if threading.current_thread() is not threading.main_thread():
            return self
        for signum, default, handler in (
            (signal.SIGINT, signal.default_int_handler, self._on_sigint),
            (signal.SIGTERM, signal.SIG_DFL, self._on_sigterm),
        ):
            if signal.getsignal(signum) is default:
                mine = ours(handler)  # a forked child (a strategy's pool) gets the default
                signal.signal(signum, mine)
                self._installed.append((signum, default, mine))
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        for signum, default, mine in self._installed:
            if signal.getsignal(signum) is mine:  # not one the application put in since
                signal.signal(signum, default)
        self._installed = []
        if self._closes and exc_type is KeyboardInterrupt:
            self._session.close()  # run_to_end's promise; a torn session seals nothing
        if self.terminating:
            if exc_type is None:
                self._session.close()  # sealed before the process goes
            signal.raise_signal(signal.SIGTERM)  # the default action: the process ends

    def _on_sigint(self, signum: int, frame: FrameType | None) -> None:
        if self.pending or not self._inside():
            signal.default_int_handler(signum, frame)
        self.pending = True

    def _on_sigterm(self, _signum: int, _frame: FrameType | None) -> None:
        if self.terminating:  # a second one: now, as the default would
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.raise_signal(signal.SIGTERM)
        self.terminating = True

    def check(self) -> None:
        """At a step boundary: raise a held Ctrl-C, or stop the session for a SIGTERM."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt
        if self.terminating:
            self._session.request_stop(SIGTERM_STOP, sealed_as=True)
