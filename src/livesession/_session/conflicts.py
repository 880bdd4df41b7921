"""What an idempotency conflict met in a step means, in the words the run records.

A key is reserved again with other order parameters when the run no longer repeats what it
did before under the same client order ids: a resumed run on a venue that lost what it held
at the crash (a desk's simulated venue keeping its orders in memory, with no journal), or a
strategy whose ``get_state`` leaves memory out. The store's error names the key only; the
fault says what happened, what the venue and the run hold when they differ, and what to do.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

from .._domain.decimal import ZERO, plain
from .._exceptions import IdempotencyConflict
from .._support.signals import STOPS_RAISED
from .._typing import PositionVenue

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from .context import SessionContext

__all__ = ["conflict_said", "lost_said", "settle_said"]

_NAMED: Final = 3
"""Symbols named where the venue and the run differ; the rest are counted."""

_WHAT: Final = (
    "the run sent another order under a client order id it used before, so it no longer "
    "repeats what it did"
)
_TO_DO: Final = (
    "no resume can finish it: settle the venue by hand and start a new run (a simulated "
    "venue of your own keeps what it holds in the run's venue journal: docs/plugins.md)"
)


def conflict_said(p: SessionContext, exc: IdempotencyConflict) -> IdempotencyConflict:
    """``exc`` with what it means: why a run meets it, the venue's difference, what to do."""
    differs = _differences(p)
    why = (
        f"a venue that lost what it held at the crash: {differs}"
        if differs
        else "a resumed run on a venue that lost what it held at the crash, or a strategy "
        "whose get_state leaves memory out"
    )
    return IdempotencyConflict(f"{exc}: {_WHAT} ({why}); {_TO_DO}")


def _differences(p: SessionContext) -> str:
    """``BTC/USDT flat at the venue, 0.010 in the run``; empty when they agree or are unknown.

    Only a venue that reports its positions (``PositionVenue``) is asked, once, at the fault:
    a venue that cannot answer then (its own error) tells nothing, and the words stay general.
    """
    broker = p.broker
    if not isinstance(broker, PositionVenue):
        return ""
    try:
        venue = dict(broker.positions())
    except STOPS_RAISED:
        raise
    except Exception:  # noqa: BLE001 - a venue's error only leaves the words general
        return ""
    run = p.book.positions
    return _apart(
        (symbol, there, here)
        for symbol in sorted(set(venue) | set(run))
        if (there := venue.get(symbol, ZERO)) != (here := run.get(symbol, ZERO))
    )


def lost_said(apart: Iterable[tuple[str, Decimal, Decimal]]) -> str:
    """What a resumed run's venue that does not hold the run's position means, and what to do.

    ``apart``: by symbol, what the venue and the run hold (``BTC/USDT``, 0, 0.010), as the
    reconciler found them apart (``POSITION_MISMATCH``) on a venue a resume rewinds to the
    checkpoint, which is never ahead of the run: it lost what it held at the crash.
    """
    return f"a venue that lost what it held at the crash: {_apart(apart)}; {_TO_DO}"


def settle_said(detail: Mapping[str, Any]) -> str:
    """What a run whose fault's ``detail`` ends in this module's words leaves to do; "" if not.

    ``no resume can finish it: settle the venue by hand ...``: as ``lost_said`` and
    ``conflict_said`` end the fault's message, for ``status`` to say as the next step.
    """
    message = detail.get("message")
    return _TO_DO if isinstance(message, str) and message.endswith(_TO_DO) else ""


def _apart(apart: Iterable[tuple[str, Decimal, Decimal]]) -> str:
    """``BTC/USDT flat at the venue, 0.010 in the run``: the first symbols, the rest counted."""
    items = list(apart)
    said = [
        f"{symbol} {_held(there)} at the venue, {_held(here)} in the run"
        for symbol, there, here in items[:_NAMED]
    ]
    if len(items) > _NAMED:
        said.append(f"{len(items) - _NAMED} more symbols")
    return ", ".join(said)


def _held(quantity: Decimal) -> str:
    return "flat" if not quantity else plain(quantity)
