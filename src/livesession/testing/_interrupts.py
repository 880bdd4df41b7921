"""A plug-in that raises ``KeyboardInterrupt`` or ``SystemExit``: a finding, not the end.

A session lets both pass untouched (they tear it: its run is left unsealed at its last
checkpoint), so a strategy raising one in ``on_bar``, or a feed in ``next_bar``, aborted the
whole failure matrix, and under pytest the whole test session with it, with nothing said
about the plug-in. In the matrix the plug-in's own interrupt is its defect:
``interruptible_strategy`` hands the session the strategy, and ``interruptible_feed`` the
feed, each turning such an exception raised by its code into an ``Exception``
(``StrategyInterrupt``, ``FeedInterrupt``), which the session takes as any error of that
plug-in (``STRATEGY_ERROR`` / ``FEED_ERROR``, the run sealed) and the matrix reports.
Their ``get_state`` alike; their ``set_state``, which a resume calls, raises
``SetStateFailed`` for any error, which the matrix reports too.

The operator's own Ctrl-C still interrupts: while a matrix run steps, ``CtrlC`` watches
SIGINT (in the main thread, over Python's own handler only), and a ``KeyboardInterrupt``
that the signal raised passes through as before. Where it cannot watch (another handler is
installed), the interrupt passes through too: it might be the operator's.
"""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any, Final, Self, TypeVar

from .._exceptions import INTERRUPTS
from .._typing import Closable

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from types import FrameType

    from .._domain.model import Bar, OrderIntent
    from .._typing import MarketFeed, Strategy, StrategyView

__all__ = [
    "CtrlC",
    "FeedInterrupt",
    "Interruptible",
    "SetStateFailed",
    "StrategyInterrupt",
    "interruptible_feed",
    "interruptible_strategy",
]

_T = TypeVar("_T")
_INSTEAD: Final = {
    "on_bar": "return the intents",
    "next_bar": "return the bar (None when the feed is exhausted)",
    "get_state": "return the state",
}
"""What the method should have done instead of interrupting."""


class StrategyInterrupt(Exception):
    """The strategy's ``on_bar`` raised ``KeyboardInterrupt`` or ``SystemExit`` (chained)."""


class FeedInterrupt(Exception):
    """The feed's ``next_bar`` raised ``KeyboardInterrupt`` or ``SystemExit`` (chained)."""


class SetStateFailed(Exception):
    """A plug-in's ``set_state`` raised (``cause``, chained) on the state a resume gave it."""

    def __init__(self, owner: str, cause: BaseException) -> None:
        super().__init__(f"the {owner}'s set_state raised {type(cause).__name__}")
        self.owner = owner
        self.cause = cause


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

    def plugins(self, exc: BaseException) -> bool:
        """Whether ``exc``, raised out of a plug-in's method, is its own, not Ctrl-C."""
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


def _guarded(
    ctrl_c: CtrlC, kind: type[Exception], method: str, call: Callable[..., _T], *args: Any
) -> _T:
    """``call(*args)``; ``kind`` for an interrupt the plug-in raised, not the operator's."""
    try:
        return call(*args)
    except INTERRUPTS as exc:
        if not ctrl_c.plugins(exc):
            raise
        error = kind(
            f"{method} raised {_raised(exc)}, which would tear a session (its run left unsealed"
            f" at its last checkpoint, and the process interrupted): {_INSTEAD[method]}, or "
            "raise an Exception"
        )
        # Its traceback ends at the plug-in's own line, which the finding names.
        raise error.with_traceback(exc.__traceback__) from exc


def _restored(ctrl_c: CtrlC, owner: str, plugin: MarketFeed | Strategy, state: Any) -> None:
    """``plugin.set_state(state)``; ``SetStateFailed`` for its error (or its own interrupt)."""
    try:
        plugin.set_state(state)
    except INTERRUPTS as exc:
        if not ctrl_c.plugins(exc):
            raise
        raise SetStateFailed(owner, exc) from exc
    except Exception as exc:
        raise SetStateFailed(owner, exc) from exc


class _Guarded:
    """A plug-in as the matrix's session sees it: its own interrupts are its errors.

    Its ``get_state`` raises ``kind`` for one, its ``set_state`` ``SetStateFailed`` for any
    error; whatever else the session reads of it is the plug-in's own, read through.
    """

    kind: type[Exception]
    owner: str

    def __init__(self, plugin: Any, ctrl_c: CtrlC) -> None:
        self._plugin = plugin
        self._ctrl_c = ctrl_c

    def get_state(self) -> dict[str, Any]:
        """The plug-in's own; ``kind`` for an interrupt it raised."""
        state: dict[str, Any] = _guarded(
            self._ctrl_c, self.kind, "get_state", self._plugin.get_state
        )
        return state

    def set_state(self, state: Mapping[str, Any]) -> None:
        """The plug-in's own; ``SetStateFailed`` when it raises."""
        _restored(self._ctrl_c, self.owner, self._plugin, state)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._plugin, name)


class Interruptible(_Guarded):
    """The strategy as the matrix's session sees it: its interrupts are its errors."""

    kind, owner = StrategyInterrupt, "strategy"

    def __init__(self, strategy: Strategy, ctrl_c: CtrlC) -> None:
        super().__init__(strategy, ctrl_c)
        self.strategy_id = strategy.strategy_id

    def on_bar(self, bar: Bar, view: StrategyView) -> Sequence[OrderIntent]:
        """The strategy's ``on_bar``; ``StrategyInterrupt`` for an interrupt it raised."""
        intents: Sequence[OrderIntent] = _guarded(
            self._ctrl_c, StrategyInterrupt, "on_bar", self._plugin.on_bar, bar, view
        )
        return intents


class _Feed(_Guarded):
    """The user's feed as the matrix's session sees it: its interrupts are its errors.

    What else the session reads of a feed (``dated``, ``first_ts_ns``, ``take_gaps``...)
    is the feed's own, read through.
    """

    kind, owner = FeedInterrupt, "feed"

    def __init__(self, feed: MarketFeed, ctrl_c: CtrlC) -> None:
        super().__init__(feed, ctrl_c)
        self.symbol = feed.symbol

    def next_bar(self, ts_ns: int) -> Bar | None:
        """The feed's ``next_bar``; ``FeedInterrupt`` for an interrupt it raised."""
        bar: Bar | None = _guarded(
            self._ctrl_c, FeedInterrupt, "next_bar", self._plugin.next_bar, ts_ns
        )
        return bar

    def __repr__(self) -> str:
        return repr(self._plugin)


class _Closes(_Guarded):
    """A plug-in holding a resource: the session closes it, as it would the plug-in itself."""

    def close(self) -> None:
        """The plug-in's own."""
        self._plugin.close()


class _ClosableFeed(_Feed, _Closes):
    """A feed holding a resource (``close``)."""


class _ClosableStrategy(Interruptible, _Closes):
    """A strategy holding a resource (``close``)."""


def interruptible_strategy(strategy: Strategy, ctrl_c: CtrlC) -> Interruptible:
    """``strategy`` as the matrix's session gets it: its own interrupts are its errors."""
    if isinstance(strategy, Closable):
        return _ClosableStrategy(strategy, ctrl_c)
    return Interruptible(strategy, ctrl_c)


def interruptible_feed(feed: MarketFeed, ctrl_c: CtrlC) -> MarketFeed:
    """``feed`` as the matrix's session gets it: its own interrupts are its errors.

    livesession's own feeds are handed over as they are: the session treats them by their
    type (their bars checked where they are made), and they raise no interrupt.
    """
    if type(feed).__module__.split(".")[0] == "livesession":
        return feed
    return _ClosableFeed(feed, ctrl_c) if isinstance(feed, Closable) else _Feed(feed, ctrl_c)
