"""Session configuration: frozen, keyword-only, validated, loadable from TOML.

Unknown keys are refused so a typo never silently falls back to a default.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs

from .._exceptions import ConfigError
from .clock import parse_utc
from .decimal import to_decimal
from .ids import is_valid_run_id

__all__ = [
    "CLOCK_MODES",
    "DURABILITY_MODES",
    "DryrunConfig",
    "FillModelConfig",
    "RealishConfig",
    "RiskLimits",
    "StrategyConfig",
    "load_config",
]

CLOCK_MODES: Final = ("fixed", "sim", "system")
DURABILITY_MODES: Final = ("none", "step", "event")
HARD_MAX_STEPS: Final = 10_000_000
_MAX_NAME_LEN: Final = 64


def _positive_int(name: str) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")

    return check


def _non_negative_int(name: str) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{name} must be a non-negative integer, got {value!r}")

    return check


def _dec(value: object) -> Decimal:
    """Convert money and quantities; floats are refused (``_build`` names the field)."""
    try:
        return to_decimal(value, field="value")
    except (TypeError, ValueError) as exc:
        raise ConfigError(str(exc)) from None


def _dec_rule(name: str, *, positive: bool = True, maximum: Decimal | None = None) -> Any:
    def check(_inst: object, _attr: object, value: Decimal) -> None:
        if positive and value <= 0:
            raise ConfigError(f"{name} must be greater than zero, got {str(value)!r}")
        if not positive and value < 0:
            raise ConfigError(f"{name} must not be negative, got {str(value)!r}")
        if maximum is not None and value > maximum:
            raise ConfigError(f"{name} must be at most {maximum}, got {str(value)!r}")

    return check


@attrs.frozen(kw_only=True)
class FillModelConfig:
    """How the mock broker fills orders (all in simulated time, all seeded)."""

    latency_ms: int = attrs.field(default=0, validator=_non_negative_int("fill_model.latency_ms"))
    partial_fill_ratio: Decimal = attrs.field(
        default=Decimal(0),
        converter=_dec,
        validator=_dec_rule("fill_model.partial_fill_ratio", positive=False, maximum=Decimal(1)),
    )
    reject_rate: Decimal = attrs.field(
        default=Decimal(0),
        converter=_dec,
        validator=_dec_rule("fill_model.reject_rate", positive=False, maximum=Decimal(1)),
    )
    slippage_bps: Decimal = attrs.field(
        default=Decimal(0),
        converter=_dec,
        validator=_dec_rule("fill_model.slippage_bps", positive=False),
    )


@attrs.frozen(kw_only=True)
class RealishConfig:
    """Faults the ``realish`` broker injects (seeded; rates are shares of calls)."""

    transient_rate: Decimal = attrs.field(
        default=Decimal("0.05"),
        converter=_dec,
        validator=_dec_rule("realish.transient_rate", positive=False, maximum=Decimal(1)),
    )
    timeout_rate: Decimal = attrs.field(
        default=Decimal("0.02"),
        converter=_dec,
        validator=_dec_rule("realish.timeout_rate", positive=False, maximum=Decimal(1)),
    )
    duplicate_ack_rate: Decimal = attrs.field(
        default=Decimal("0.05"),
        converter=_dec,
        validator=_dec_rule("realish.duplicate_ack_rate", positive=False, maximum=Decimal(1)),
    )
    late_fill_rate: Decimal = attrs.field(
        default=Decimal("0.05"),
        converter=_dec,
        validator=_dec_rule("realish.late_fill_rate", positive=False, maximum=Decimal(1)),
    )
    late_fill_ms: int = attrs.field(
        default=90_000, validator=_non_negative_int("realish.late_fill_ms")
    )
    latency_ms: int = attrs.field(default=250, validator=_non_negative_int("realish.latency_ms"))


@attrs.frozen(kw_only=True)
class StrategyConfig:
    """Parameters of the built-in SMA-crossover demo strategy."""

    fast: int = attrs.field(default=5, validator=_positive_int("strategy.fast"))
    slow: int = attrs.field(default=20, validator=_positive_int("strategy.slow"))
    order_qty: Decimal = attrs.field(
        default=Decimal("0.010"), converter=_dec, validator=_dec_rule("strategy.order_qty")
    )
    protect_pct: Decimal = attrs.field(
        default=Decimal(0),
        converter=_dec,
        validator=_dec_rule("strategy.protect_pct", positive=False, maximum=Decimal("0.5")),
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

    max_order_qty: Decimal = attrs.field(
        default=Decimal(1), converter=_dec, validator=_dec_rule("risk.max_order_qty")
    )
    max_order_notional: Decimal = attrs.field(
        default=Decimal(50_000), converter=_dec, validator=_dec_rule("risk.max_order_notional")
    )
    price_collar_pct: Decimal = attrs.field(
        default=Decimal("0.05"), converter=_dec, validator=_dec_rule("risk.price_collar_pct")
    )
    per_trade_risk_pct: Decimal = attrs.field(
        default=Decimal("0.0025"), converter=_dec, validator=_dec_rule("risk.per_trade_risk_pct")
    )
    stop_distance_pct: Decimal = attrs.field(
        default=Decimal("0.02"), converter=_dec, validator=_dec_rule("risk.stop_distance_pct")
    )
    portfolio_heat_pct: Decimal = attrs.field(
        default=Decimal("0.01"), converter=_dec, validator=_dec_rule("risk.portfolio_heat_pct")
    )
    daily_loss_pct: Decimal = attrs.field(
        default=Decimal("0.01"), converter=_dec, validator=_dec_rule("risk.daily_loss_pct")
    )
    max_orders_per_sec: int = attrs.field(
        default=5, validator=_positive_int("risk.max_orders_per_sec")
    )
    max_executions: int = attrs.field(
        default=10_000, validator=_positive_int("risk.max_executions")
    )


def _check_run_id(_inst: object, _attr: object, value: object) -> None:
    if not isinstance(value, str) or not is_valid_run_id(value):
        raise ConfigError(
            f"run_id must be a plain name of 1-64 characters from [A-Za-z0-9_.-] not starting "
            f"with '.', got {value!r}"
        )


def _check_strategy_id(_inst: object, _attr: object, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ConfigError("strategy_id must be a non-empty name")
    if len(value) > _MAX_NAME_LEN or any(ch in value for ch in "\n\r\t"):
        raise ConfigError("strategy_id must be at most 64 characters on one line")


def _check_account(_inst: object, _attr: object, value: object) -> None:
    if not isinstance(value, str) or not is_valid_run_id(value):
        raise ConfigError(
            f"account must be a plain name of 1-64 characters from [A-Za-z0-9_.-] not starting "
            f"with '.', got {value!r}"
        )


def _check_seed(_inst: object, _attr: object, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {value!r}")


def _check_choice(name: str, choices: tuple[str, ...]) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if value not in choices:
            raise ConfigError(f"{name} must be one of {', '.join(choices)}; got {value!r}")

    return check


def _check_allowlist(_inst: object, _attr: object, value: tuple[str, ...]) -> None:
    for symbol in value:
        if not isinstance(symbol, str):
            raise ConfigError(f"allowlist entries must be strings, got {symbol!r}")


def _to_tuple(value: object) -> tuple[str, ...]:
    if isinstance(value, str):
        raise ConfigError('allowlist must be a list of symbols, e.g. ["BTC/USDT"]')
    if not isinstance(value, (list, tuple)):
        raise ConfigError('allowlist must be a list of symbols, e.g. ["BTC/USDT"]')
    return tuple(value)


def _check_broker(_inst: object, _attr: object, value: object) -> None:
    if not isinstance(value, str) or not (
        value in ("mock", "realish") or (value.startswith("ccxt:") and len(value) > len("ccxt:"))
    ):
        raise ConfigError(f"broker must be mock, realish or ccxt:<exchange>, got {value!r}")


def _check_start(_inst: object, _attr: object, value: object) -> None:
    if not isinstance(value, str):
        raise ConfigError("start_time must be an RFC 3339 string such as 2026-01-01T00:00:00Z")
    try:
        parse_utc(value)
    except ValueError as exc:
        raise ConfigError(f"start_time: {exc}") from None


def _fill_model(value: object) -> FillModelConfig:
    result: FillModelConfig = _nested(FillModelConfig, value, "fill_model")
    return result


def _realish(value: object) -> RealishConfig:
    result: RealishConfig = _nested(RealishConfig, value, "realish")
    return result


def _strategy(value: object) -> StrategyConfig:
    result: StrategyConfig = _nested(StrategyConfig, value, "strategy")
    return result


def _risk(value: object) -> RiskLimits:
    result: RiskLimits = _nested(RiskLimits, value, "risk")
    return result


def _nested(cls: type[Any], value: object, name: str) -> Any:
    """Accept an instance of ``cls`` or a mapping of its fields (as TOML gives)."""
    if isinstance(value, cls):
        return value
    if isinstance(value, Mapping):
        return _build(cls, value, prefix=f"{name}.")
    raise ConfigError(f"{name} must be a table")


@attrs.frozen(kw_only=True)
class DryrunConfig:
    """Everything a dry run needs; the same config and seed give the same artifacts.

    ``enabled`` is the live-trading flag. It must stay off: preflight rejects a session
    with ``enabled=True`` unless the caller passes an explicit test override.
    """

    strategy_id: str = attrs.field(default="sma_demo", validator=_check_strategy_id)
    account: str = attrs.field(default="default", validator=_check_account)
    """The account the session trades; the session lease covers (account, strategy_id)."""
    run_id: str = attrs.field(default="demo", validator=_check_run_id)
    seed: int = attrs.field(default=123, validator=_check_seed)
    clock_mode: str = attrs.field(default="sim", validator=_check_choice("clock_mode", CLOCK_MODES))
    max_sink_retries: int = attrs.field(default=0, validator=_non_negative_int("max_sink_retries"))
    steps: int = attrs.field(default=1_000, validator=_positive_int("steps"))
    max_steps: int = attrs.field(default=1_000_000, validator=_positive_int("max_steps"))
    step_interval_ms: int = attrs.field(default=60_000, validator=_positive_int("step_interval_ms"))
    start_time: str = attrs.field(default="2026-01-01T00:00:00Z", validator=_check_start)
    symbol: str = "BTC/USDT"
    allowlist: tuple[str, ...] = attrs.field(
        default=("BTC/USDT",), converter=_to_tuple, validator=_check_allowlist
    )
    initial_price: Decimal = attrs.field(
        default=Decimal("42000.00"), converter=_dec, validator=_dec_rule("initial_price")
    )
    price_tick: Decimal = attrs.field(
        default=Decimal("0.01"), converter=_dec, validator=_dec_rule("price_tick")
    )
    qty_lot: Decimal = attrs.field(
        default=Decimal("0.001"), converter=_dec, validator=_dec_rule("qty_lot")
    )
    initial_cash: Decimal = attrs.field(
        default=Decimal("100000.00"), converter=_dec, validator=_dec_rule("initial_cash")
    )
    volatility_bps: int = attrs.field(default=20, validator=_non_negative_int("volatility_bps"))
    feed: str = "random_walk"
    enabled: bool = False
    broker: str = attrs.field(default="mock", validator=_check_broker)
    durability: str = attrs.field(
        default="none", validator=_check_choice("durability", DURABILITY_MODES)
    )
    checkpoint_every: int = attrs.field(default=100, validator=_positive_int("checkpoint_every"))
    """Steps between checkpoints; a resume re-runs at most this many steps deterministically."""
    stop_max_polls: int = attrs.field(default=100, validator=_positive_int("stop_max_polls"))
    reconcile_grace_ms: int = attrs.field(
        default=300_000, validator=_positive_int("reconcile_grace_ms")
    )
    """How long a difference between book and venue may last before an operator is called."""
    lease_ttl_ms: int = attrs.field(default=30_000, validator=_positive_int("lease_ttl_ms"))
    """How long the session lease stays live without a renewal (wall-clock milliseconds)."""
    fill_model: FillModelConfig = attrs.field(factory=FillModelConfig, converter=_fill_model)
    realish: RealishConfig = attrs.field(factory=RealishConfig, converter=_realish)
    strategy: StrategyConfig = attrs.field(factory=StrategyConfig, converter=_strategy)
    risk: RiskLimits = attrs.field(factory=RiskLimits, converter=_risk)

    def __attrs_post_init__(self) -> None:
        if self.steps > self.max_steps:
            raise ConfigError(
                f"steps ({self.steps}) is above the bound max_steps ({self.max_steps}); "
                "raise max_steps or run fewer steps"
            )
        if self.max_steps > HARD_MAX_STEPS:
            raise ConfigError(f"max_steps must be at most {HARD_MAX_STEPS}")
        if not isinstance(self.enabled, bool):
            raise ConfigError("enabled must be true or false")

    @property
    def step_interval_ns(self) -> int:
        """The simulated time one step advances, in nanoseconds."""
        return self.step_interval_ms * 1_000_000

    @property
    def start(self) -> dt.datetime:
        """The simulated start time."""
        return parse_utc(self.start_time)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible form (decimals as strings), e.g. for the config hash."""
        return attrs.asdict(self, value_serializer=_serialize)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DryrunConfig:
        """Build from a mapping (TOML); unknown keys raise ``ConfigError``."""
        config: DryrunConfig = _build(cls, data, prefix="")
        return config


_NESTED: Final[dict[str, type]] = {
    "fill_model": FillModelConfig,
    "realish": RealishConfig,
    "strategy": StrategyConfig,
    "risk": RiskLimits,
}


def _serialize(_inst: object, _field: object, value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _build(cls: type[Any], data: Mapping[str, Any], *, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{prefix.rstrip('.') or 'config'} must be a table")
    known = {f.name for f in attrs.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix}{unknown[0]!s}; known keys: {', '.join(sorted(known))}"
        )
    kwargs: dict[str, Any] = {}
    types = {f.name: f.type for f in attrs.fields(cls)}
    for key, value in data.items():
        if key in _NESTED and cls is DryrunConfig:
            kwargs[key] = value  # the field's converter builds and names it
        elif types[key] in (Decimal, "Decimal"):
            try:
                kwargs[key] = to_decimal(value, field=f"{prefix}{key}")
            except (TypeError, ValueError) as exc:
                raise ConfigError(str(exc)) from None
        else:
            kwargs[key] = value
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"invalid config: {exc}") from None


def load_config(path: Path | None, overrides: Mapping[str, Any] | None = None) -> DryrunConfig:
    """Read a TOML config file (optional) and apply flat top-level ``overrides``."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {path}") from None
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
        try:
            data = tomllib.loads(raw.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    for key, value in (overrides or {}).items():
        if value is not None:
            data[key] = value
    return DryrunConfig.from_mapping(data)
