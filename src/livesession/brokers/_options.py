"""What the mock venue is built from: its fill model, grids, seed and journal, checked.

``MockBroker`` and ``RealishBroker`` (which passes them on to the venue it wraps) take
these keywords; ``venue_options`` gives those a session config describes, and
``check_venue_options`` refuses, in one line naming the keyword, what would otherwise
fail a run steps later (a zero tick divides by zero at the first market order).
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Final, TypedDict

import attrs

from .._domain.decimal import ZERO
from . import _venue

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig, FillModelConfig

__all__ = [
    "DEFAULT_PRICE_TICK",
    "DEFAULT_QTY_LOT",
    "FillModel",
    "VenueOptions",
    "check_venue_options",
    "venue_options",
]

DEFAULT_PRICE_TICK: Final = Decimal("0.01")
"""The price grid of a venue built without one (``DryrunConfig``'s default too)."""
DEFAULT_QTY_LOT: Final = Decimal("0.001")
"""The quantity grid of a venue built without one (``DryrunConfig``'s default too)."""


@attrs.frozen(kw_only=True)
class FillModel:
    """How the mock venue treats orders; all times are simulated nanoseconds."""

    latency_ns: int = attrs.field(default=0, validator=_venue.non_negative)
    partial_fill_ratio: Decimal = attrs.field(default=ZERO, validator=_venue.share_of("shares"))
    reject_rate: Decimal = attrs.field(default=ZERO, validator=_venue.share_of("shares"))
    slippage_bps: Decimal = attrs.field(default=ZERO, validator=_venue.fill_slippage)

    @classmethod
    def from_config(cls, config: FillModelConfig) -> FillModel:
        """The fill model a session config's ``fill_model`` table describes."""
        return cls(
            latency_ns=config.latency_ms * 1_000_000,
            partial_fill_ratio=config.partial_fill_ratio,
            reject_rate=config.reject_rate,
            slippage_bps=config.slippage_bps,
        )


class VenueOptions(TypedDict, total=False):
    """``MockBroker``'s keywords; ``RealishBroker`` passes them on to the venue it wraps."""

    seed: int
    fill_model: FillModel | None
    price_tick: Decimal
    qty_lot: Decimal
    journal: Path | None


def venue_options(cfg: DryrunConfig, journal: Path | None) -> VenueOptions:
    """The venue ``cfg`` describes (seed, fill model, tick, lot), journaling to ``journal``."""
    return VenueOptions(
        seed=cfg.seed,
        fill_model=FillModel.from_config(cfg.fill_model),
        price_tick=cfg.price_tick,
        qty_lot=cfg.qty_lot,
        journal=journal,
    )


def check_venue_options(
    seed: object, fill_model: object, price_tick: object, qty_lot: object, journal: object
) -> None:
    """Refuse a ``MockBroker`` keyword of the wrong kind or value, naming it.

    ``TypeError`` for a ``fill_model`` that is no ``FillModel`` or a ``journal`` that is
    no path; ``ValueError`` for a ``seed`` that is no non-negative integer, and a
    ``price_tick`` or ``qty_lot`` that is no positive, finite ``Decimal`` (a float is
    refused: ``0.1`` is not the decimal it looks like).
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"MockBroker(seed=...) must be a non-negative integer, got {seed!r}")
    if fill_model is not None and not isinstance(fill_model, FillModel):
        raise TypeError(
            f"MockBroker(fill_model=...) takes a FillModel or None, got {type(fill_model).__name__}"
        )
    for name, grid, like in (("price_tick", price_tick, "0.01"), ("qty_lot", qty_lot, "0.001")):
        if not (isinstance(grid, Decimal) and grid.is_finite() and grid > 0):
            raise ValueError(
                f"MockBroker({name}=...) must be a positive Decimal (Decimal('{like}')), "
                f"got {grid!r}"
            )
    if journal is not None and not isinstance(journal, (str, os.PathLike)):
        raise TypeError(
            "MockBroker(journal=...) must be a path (a str or an os.PathLike) or None, "
            f"got {type(journal).__name__}"
        )
