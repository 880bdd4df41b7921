"""The session's own flatten orders as a run wound down: what the strategy still held.

A run whose strategy holds a position at its last bar seals flat: the wind-down sends a
``flatten`` order of its own (``ORDER_SUBMITTED`` with ``reason`` ``flatten`` and no
``signal_id``, which a strategy's order always has) and the seal's snapshot shows no
position. Told only "flat", a reviewer reads that the strategy ended flat. The evidence
(``outcome.flattened``) and the report read these orders here, the CLI's summary from the
session (``DryrunResult.flattened``), and all three say them in ``flatten_words``. A kill's
flatten is not among them: the kill switch's own line tells it.
"""

from __future__ import annotations

from typing import Any, Final

from .._artifacts.runread import payload
from .._domain.clock import format_utc_ns

__all__ = ["FLATTEN_KINDS", "WindDownFlattens", "flatten_words"]

FLATTEN_KINDS: Final = frozenset({"ORDER_SUBMITTED", "KILL_SWITCH", "KILL_SWITCH_FLAT"})
"""The events ``WindDownFlattens.note`` reads; a pass may hand it only these."""


class WindDownFlattens:
    """Noted one event at a time (``note``): the wind-down's flatten orders, in order."""

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []
        """Each order's ``side``, ``quantity``, ``symbol``, the steps before it
        (``after_step``) and its run time (``at``, UTC text)."""
        self._killing = False

    def note(self, kind: object, event: dict[str, Any], steps: int) -> None:
        """One event of kind ``kind``, ``steps`` bars into the run."""
        if kind == "ORDER_SUBMITTED" and not self._killing:
            order = payload(event)
            if order.get("reason") == "flatten" and "signal_id" not in order:
                at = event.get("ts_sim")
                said = {key: order.get(key) for key in ("side", "quantity", "symbol")}
                at_utc = format_utc_ns(at) if type(at) is int else None
                self.found.append(said | {"after_step": steps, "at": at_utc})
        elif kind in ("KILL_SWITCH", "KILL_SWITCH_FLAT"):  # a kill's flatten is told with it
            self._killing = kind == "KILL_SWITCH"


def flatten_words(order: dict[str, Any]) -> str:
    """``SELL 0.010 BTC/USDT after step 8 (2026-01-01T00:08:00Z)``, or without the step."""
    what = " ".join(str(order.get(key)) for key in ("side", "quantity", "symbol"))
    if order.get("after_step") is None:
        return what
    return f"{what} after step {order.get('after_step')} ({order.get('at')})"
