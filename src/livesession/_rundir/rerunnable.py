"""What a re-run from a run's config could not repeat: its wall clock, or its venue.

``evidence``'s determinism re-run and its kill drill (``burnin --drill`` too) run the run's
config again in a scratch directory. A run stamped by the system clock carries the wall
time each record was written at, and a run on a venue that is not simulated would send its
orders there again: neither is re-run, and the verdict (``not_applicable``) says which of
the two it was, not "system clock or external venue".
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .memoryids import REBUILT_VENUES

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig

__all__ = ["simulated_venue", "unrepeatable"]


def simulated_venue(cfg: DryrunConfig, sources: dict[str, Any]) -> bool:
    """The built-in simulated venues, or a user's broker that declared itself simulated."""
    record = sources.get("broker")
    if isinstance(record, dict):
        return record.get("declared_simulated") is True
    return cfg.broker in REBUILT_VENUES


def unrepeatable(cfg: DryrunConfig, sources: dict[str, Any]) -> str:
    """Why a re-run from ``cfg`` could not repeat the run (its clock, its venue); "" if none."""
    if cfg.clock_mode == "system":
        return (
            "the system clock stamped its records (clock_mode system) with the wall time "
            "each was written at, which a re-run cannot repeat"
        )
    if simulated_venue(cfg, sources):
        return ""
    if isinstance(sources.get("broker"), dict):
        return (
            f"its broker {cfg.broker} does not declare itself simulated, so a re-run could "
            "send its orders to a real venue"
        )
    return (
        f"it traded on {cfg.broker}, an external venue, where a re-run would send its orders again"
    )
