"""One broker object serves one open run directory's session at a time.

A broker object answers for the orders it was sent: ``poll`` hands the reports of every
order it knows to whichever session asks, a ccxt broker counts a spot account's trades
from one start (``count_positions_from``: the last session to set it wins), and the
session that closes first closes it. Two sessions given the same object at once (a desk's
one process running its BTC/USDT and ETH/USDT runs, ``create_run(..., broker=broker)``
twice, or a ``broker_factory`` that hands one object out) therefore take each other's
fills: the first to poll faults ``BROKER_REPORT_INVALID``, a fill of an order it never
sent. So the session ``open_session`` builds holds its broker object until it closes (or,
dropped unclosed, is collected: a crashed run that ``resume_run`` continues in the same
process), and another given that object meanwhile is refused with a ``PluginError`` before
its run directory is written.

A session built directly (``LiveSessionOrchestrator(config, broker=...)``) holds nothing:
a test that plays a crash builds the resumed session on the crashed one's venue while the
crashed one is still referenced (``restore_state``).
"""

from __future__ import annotations

import threading
import weakref
from typing import Final

from .._exceptions import PluginError
from .._support.references import a_

__all__ = ["BrokerHold", "hold_broker"]

_LOCK: Final = threading.Lock()
_HELD: Final[dict[int, tuple[weakref.ref[BrokerHold], str]]] = {}
"""``id(broker)`` -> (its hold, the holding run's id). The hold keeps the broker alive, so
the id is the object's for as long as the hold lives."""


class BrokerHold:
    """A session's hold on its broker object; ``close`` lets go of it."""

    def __init__(self, broker: object) -> None:
        self._broker = broker  # alive as long as the hold: its id is not reused meanwhile

    def close(self) -> None:
        """Let go of the broker: it may serve another session now."""
        with _LOCK:
            held = _HELD.get(id(self._broker))
            if held is not None and held[0]() is self:
                del _HELD[id(self._broker)]


def hold_broker(broker: object, run_id: str) -> BrokerHold:
    """Run ``run_id``'s hold on ``broker``; ``PluginError`` when another open session has it."""
    with _LOCK:
        held = _HELD.get(id(broker))
        other = None if held is None or held[0]() is None else held[1]
        if other is None:
            hold = BrokerHold(broker)
            _HELD[id(broker)] = (weakref.ref(hold), run_id)
            return hold
    raise PluginError(
        f"broker= got {a_(type(broker).__name__)} that the session of run {other!r} holds, "
        "still open: a broker object serves one session at a time (it reports every order "
        "it was sent to the session that polls, and the first session to close closes it); "
        f"give each session its own broker, or close() the session of run {other!r} first"
    )
