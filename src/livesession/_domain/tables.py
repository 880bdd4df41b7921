"""The config's nested tables: ``[fill_model]``, ``[realish]``, ``[strategy]``, ``[risk]``.

Each is frozen and keyword-only, built from a TOML table (``build_table``: unknown keys
refused, so a typo never falls back to a default) or given as an instance. Kept apart from
``config.py`` so that the session's own settings read on their own.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Final, TypeVar

import attrs

from .._exceptions import ConfigError
from .fields import (
    array_of_tables,
    count,
    decimal_field,
    optional_decimal_field,
    risk_share,
    share,
)

__all__ = [
    "MAX_DELAY_MS",
    "MAX_SLIPPAGE_BPS",
    "NESTED",
    "FillModelConfig",
    "RealishConfig",
    "RiskLimits",
    "StrategyConfig",
    "build_table",
    "fill_model_table",
    "realish_table",
    "risk_table",
    "strategy_table",
]

MAX_SLIPPAGE_BPS: Final = Decimal(1_000)
"""The most ``fill_model.slippage_bps`` may be: 10 %, far beyond any market order's slip
(the venue never fills a sell below one tick)."""
MAX_DELAY_MS: Final = 86_400_000
"""The most a simulated venue's delay (``[fill_model]`` ``latency_ms``, ``[realish]``
``latency_ms`` and ``late_fill_ms``) may be: one day of
simulated time. A venue's report later than that is a lost one, and a run waiting for it
(its wind-down, its reconciler) would never see it arrive."""
_DELAY_WHY: Final = " (one day: a report later than that never arrives)"
_C = TypeVar("_C")


@attrs.frozen(kw_only=True)
class FillModelConfig:
    """How the mock broker fills orders (all in simulated time, all seeded)."""

    latency_ms: int = count(
        "fill_model.latency_ms", 0, positive=False, maximum=MAX_DELAY_MS, why=_DELAY_WHY
    )
    partial_fill_ratio: Decimal = share("fill_model.partial_fill_ratio", 0)
    reject_rate: Decimal = share("fill_model.reject_rate", 0)
    slippage_bps: Decimal = decimal_field(
        "fill_model.slippage_bps",
        0,
        positive=False,
        maximum=MAX_SLIPPAGE_BPS,
        why=" (10 %; at 10000 a sell would fill at a price of zero)",
    )
    """Basis points a market order fills away from the last price (against the order).

    The slipped price is rounded to the tick against the order as well (a buy up, a sell
    down), so a slippage is never rounded away.
    """


@attrs.frozen(kw_only=True)
class RealishConfig:
    """Faults the ``realish`` broker injects (seeded; rates are shares of submits or orders)."""

    transient_rate: Decimal = share("realish.transient_rate", "0.05")
    timeout_rate: Decimal = share("realish.timeout_rate", "0.02")
    duplicate_ack_rate: Decimal = share("realish.duplicate_ack_rate", "0.05")
    late_fill_rate: Decimal = share("realish.late_fill_rate", "0.05")
    late_fill_ms: int = count(
        "realish.late_fill_ms", 90_000, positive=False, maximum=MAX_DELAY_MS, why=_DELAY_WHY
    )
    latency_ms: int = count(
        "realish.latency_ms", 250, positive=False, maximum=MAX_DELAY_MS, why=_DELAY_WHY
    )


@attrs.frozen(kw_only=True)
class StrategyConfig:
    """Parameters of the built-in SMA-crossover demo strategy."""

    fast: int = count("strategy.fast", 5)
    slow: int = count("strategy.slow", 20)
    order_qty: Decimal = decimal_field("strategy.order_qty", "0.010")
    protect_pct: Decimal = decimal_field(
        "strategy.protect_pct", 0, positive=False, maximum=Decimal("0.5")
    )
    """Distance of the protective OCO exits (take profit and stop) from the entry; 0 is off."""

    def __attrs_post_init__(self) -> None:
        if self.fast >= self.slow:
            raise ConfigError(
                f"strategy.fast ({self.fast}) must be smaller than strategy.slow ({self.slow})"
            )


@attrs.frozen(kw_only=True)
class RiskLimits:
    """Limits of the safety rails; defaults are the day-1 caps."""

    max_order_qty: Decimal = decimal_field("risk.max_order_qty", 1)
    max_order_notional: Decimal = decimal_field("risk.max_order_notional", 50_000)
    price_collar_pct: Decimal = risk_share("risk.price_collar_pct", "0.05")
    per_trade_risk_pct: Decimal = risk_share("risk.per_trade_risk_pct", "0.0025")
    stop_distance_pct: Decimal = risk_share("risk.stop_distance_pct", "0.02")
    portfolio_heat_pct: Decimal = risk_share("risk.portfolio_heat_pct", "0.01")
    daily_loss_pct: Decimal = risk_share("risk.daily_loss_pct", "0.01")
    max_orders_per_sec: int = count("risk.max_orders_per_sec", 5)
    max_executions: int = count("risk.max_executions", 10_000)
    max_position_notional: Decimal | None = optional_decimal_field("risk.max_position_notional")
    """The most a symbol's position may be worth (its quantity times the order's price) once
    an order adding to it filled, with the other orders open on its side; None: no cap."""


def fill_model_table(value: FillModelConfig | Mapping[str, object]) -> FillModelConfig:
    return _nested(FillModelConfig, value, "fill_model")


def realish_table(value: RealishConfig | Mapping[str, object]) -> RealishConfig:
    return _nested(RealishConfig, value, "realish")


def strategy_table(value: StrategyConfig | Mapping[str, object]) -> StrategyConfig:
    return _nested(StrategyConfig, value, "strategy")


def risk_table(value: RiskLimits | Mapping[str, object]) -> RiskLimits:
    return _nested(RiskLimits, value, "risk")


def _nested(cls: type[_C], value: object, name: str) -> _C:
    """Accept an instance of ``cls`` or a mapping of its fields (as TOML gives)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        built: _C = build_table(cls, value, prefix=f"{name}.")
        return built
    raise ConfigError(f"{name} must be a table, got {value!r}{array_of_tables(name, value)}")


NESTED: Final[dict[str, type]] = {
    "fill_model": FillModelConfig,
    "realish": RealishConfig,
    "strategy": StrategyConfig,
    "risk": RiskLimits,
}


def build_table(cls: type[Any], data: Mapping[str, Any], *, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a table")
    known = {f.name for f in attrs.fields(cls)}
    unknown = sorted(set(data) - known, key=str)  # str: a key from Python may be an int
    if unknown:
        # base_dir is the config file's own directory, never written in it.
        raise ConfigError.unknown_key(
            str(unknown[0]), known - {"base_dir"}, table=prefix.rstrip(".")
        )
    try:  # each field's converter and validator names it in its message
        return cls(**data)
    except TypeError as exc:
        raise ConfigError(f"invalid config: {exc}") from None
