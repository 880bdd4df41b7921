"""A strategy that raises ``KeyboardInterrupt`` or ``SystemExit`` in ``on_bar``: a finding.

A session lets both pass untouched (they tear it: its run is left unsealed at its last
checkpoint), so such a strategy aborted the whole failure matrix, and under pytest the whole
test session with it, with nothing said about the strategy. In the matrix the strategy's
own interrupt is its defect: ``Interruptible`` hands the session the strategy, and turns
such an exception raised by ``on_bar`` into ``StrategyInterrupt``, which the session takes
as any strategy error (``STRATEGY_ERROR``, the run sealed) and the matrix reports.

The operator's own Ctrl-C still interrupts: while a matrix run steps, ``CtrlC`` watches
SIGINT (in the main thread, over Python's own handler only), and a ``KeyboardInterrupt``
that the signal raised passes through as before. Where it cannot watch (another handler is
installed), the interrupt passes through too: it might be the operator's.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any, Self

from .._exceptions import INTERRUPTS

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from types import FrameType

    from .._domain.model import Bar, OrderIntent
    from .._typing import Strategy, StrategyView

__all__ = ["CtrlC", "Interruptible", "StrategyInterrupt"]


class StrategyInterrupt(Exception):
    """The strategy's ``on_bar`` raised ``KeyboardInterrupt`` or ``SystemExit`` (chained)."""


class CtrlC:
    """Whether the operator pressed Ctrl-C while a matrix run stepped (``watching``)."""

    def __init__(self) -> None:
        self.pressed = False
        self.known = threading.current_thread() is not threading.main_thread()
        """Whether a ``KeyboardInterrupt`` can be told from Ctrl-C: off the main thread no
        signal raises one; in it, while this watches SIGINT."""
        self._handler: Any = None

    def __enter__(self) -> Self:
        if self.known or signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
            return self

        def pressed(signum: int, frame: FrameType | None) -> None:
            self.pressed = True
            signal.default_int_handler(signum, frame)

        signal.signal(signal.SIGINT, pressed)
        self._handler, self.known = pressed, True
        return self

    def __exit__(self, *exc: object) -> None:
        handler, self._handler = self._handler, None
        if handler is not None:
            self.known = False
            if signal.getsignal(signal.SIGINT) is handler:  # not one put in since
                signal.signal(signal.SIGINT, signal.default_int_handler)

    def strategys(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised out of ``on_bar``, is the strategy's own, not Ctrl-C."""
        if not self.known:
            return False
        return not (isinstance(exc, KeyboardInterrupt) and self.pressed)


def _raised(exc: BaseException) -> str:
    """``KeyboardInterrupt``, or ``SystemExit(3)`` with its code."""
    if not isinstance(exc, SystemExit):
        return type(exc).__name__
    try:
        return f"SystemExit({exc.code!r})"
    except Exception:  # noqa: BLE001 - the code's own __repr__ failed: the exit is still named
        return "SystemExit(<repr() failed>)"


class Interruptible:
    """The strategy as the matrix's session sees it: its interrupts are its errors."""

    def __init__(self, strategy: Strategy, ctrl_c: CtrlC) -> None:
        self._strategy = strategy
        self._ctrl_c = ctrl_c
        self.strategy_id = strategy.strategy_id

    def on_bar(self, bar: Bar, view: StrategyView) -> Sequence[OrderIntent]:
        """The strategy's ``on_bar``; ``StrategyInterrupt`` for an interrupt it raised."""
        try:
            return self._strategy.on_bar(bar, view)
        except INTERRUPTS as exc:
            if not self._ctrl_c.strategys(exc):
                raise
            said = _raised(exc)
            error = StrategyInterrupt(
                f"on_bar raised {said}, which would tear a session (its run left unsealed at "
                "its last checkpoint, and the process interrupted): return the intents, or "
                "raise an Exception"
            )
            # Its traceback ends at the strategy's own line, which the finding names.
            raise error.with_traceback(exc.__traceback__) from exc

    def get_state(self) -> dict[str, Any]:
        """The strategy's own."""
        return self._strategy.get_state()

    def set_state(self, state: Mapping[str, Any]) -> None:
        """The strategy's own."""
        self._strategy.set_state(state)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._strategy, name)
