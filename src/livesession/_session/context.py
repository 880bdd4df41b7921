"""What every collaborator of a session works with, handed to each as one object.

The config, the artifact recorder, the book, the broker, simulated time and the trading
governor are shared by execution, reports, exits, wind-down and reconciliation alike; each
collaborator receives this context instead of the same six arguments, and keeps its own
state to itself.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._artifacts.recorder import Recorder
    from .._domain.config import DryrunConfig
    from .._risk.governor import TradingGovernor
    from .._typing import Broker
    from .book import Book
    from .timekeeper import Timekeeper

__all__ = ["SessionContext"]


@attrs.frozen(kw_only=True)
class SessionContext:
    """The session's shared edges (each owned by its own object, queried through it)."""

    config: DryrunConfig
    recorder: Recorder
    book: Book
    broker: Broker
    time: Timekeeper
    governor: TradingGovernor
    may_send: Callable[[], bool] = attrs.field(default=lambda: True)
    """Asked right before each send to the venue (an order, a resend, a cancel): False once
    the session's lease is lost, which it confirms with the lease's own cheap check (see
    ``LeaseKeeper.current``). Always True without a lease."""
    may_trade: Callable[[], bool] = attrs.field(default=lambda: True)
    """Asked before an intent is taken up, and before an order's key is reserved: False
    once the session's lease is lost, by the lease clock alone (see ``LeaseKeeper.live``);
    ``may_send`` confirms it before the send. Always True without a lease."""
