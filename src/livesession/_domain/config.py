"""Session configuration: frozen, keyword-only, validated, loadable from TOML.

Unknown keys are refused so a typo never silently falls back to a default.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from .._exceptions import ConfigError
from .._support.charnames import foreign_note
from .._support.references import is_reference
from .alerts import AlertsConfig, alerts_config
from .clock import parse_utc, parse_utc_ns
from .configfile import (
    in_file,
    located,
    parse_config,
    read_config_file,
    refuse_overridden_invalid,
    said_plainly,
)
from .datafeeds import (
    DEFAULT_TICK,
    check_recordable_paths,
    check_sha256,
    check_size,
    check_symbol,
    data_path,
    default_symbol,
    from_cwd,
    home_expanded,
    refuse_pin_without_data,
)
from .decimal import plain, with_context
from .fields import count, decimal_field, positive_int, recorded_decimals, true_or_false
from .gridbounds import check_grids
from .ids import is_valid_run_id
from .plugin_fields import (
    PLUGIN_KEYS,
    check_broker,
    check_factory,
    check_feed,
    check_strategy_id,
    default_strategy_id,
    params_field,
    rail_params_field,
    rails_field,
    refuse_demo_table,
    refuse_secret,
    refuse_stray_rail_params,
)
from .tables import (
    NESTED,
    FillModelConfig,
    RealishConfig,
    RiskLimits,
    StrategyConfig,
    build_table,
    fill_model_table,
    realish_table,
    risk_table,
    strategy_table,
)
from .timerange import (
    check_run_end,
    check_start,
    check_step_interval,
    check_steps,
    rfc3339_letters,
)

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
DURABLE_CHECKPOINT_EVERY: Final = 100
NONDURABLE_CHECKPOINT_EVERY: Final = 1_000
MAX_LEASE_TTL_MS: Final = 86_400_000
"""The longest ``lease_ttl_ms``: one day. A crashed session's lease keeps every other
session of its account and strategy, and its own resume, out until it expires."""
UNRECORDED_KEYS: Final = ("base_dir", "checkpoint_every", "durability")
"""Keys of ``config.json`` that ``recorded_sha256`` leaves out: they never change what a run
records, and differ where the same run is re-made (another directory, the evidence re-run,
another durability and so another default ``checkpoint_every``)."""


def _default_checkpoint_every(config: DryrunConfig) -> int:
    """``checkpoint_every`` when not given: see the field."""
    return NONDURABLE_CHECKPOINT_EVERY if config.durability == "none" else DURABLE_CHECKPOINT_EVERY


def _plain_name(name: str) -> Any:
    """A validator for names that become file names (run ids, accounts).

    One that looks like a secret (``--run-id`` given an API key) is refused as a
    ``strategy_id`` is: every record of the run holds it, and the evidence scan finds it.
    """

    def check(_inst: object, _attr: object, value: object) -> None:
        if not isinstance(value, str) or not is_valid_run_id(value):
            raise ConfigError(
                f"{name} must be a plain name of 1-64 characters from [A-Za-z0-9_.-] not "
                f"starting with '.', got {value!r}{foreign_note(value)}"
            )
        refuse_secret(name, value)

    return check


def _check_choice(name: str, choices: tuple[str, ...]) -> Any:
    def check(_inst: object, _attr: object, value: object) -> None:
        if value not in choices:
            raise ConfigError(
                f"{name} must be one of {', '.join(choices)}; got {value!r}{foreign_note(value)}"
            )

    return check


def _check_allowlist(_inst: object, _attr: object, value: tuple[str, ...] | None) -> None:
    for at, symbol in enumerate(value or ()):
        if not isinstance(symbol, str):
            raise ConfigError(f"allowlist entries must be strings, got {symbol!r}")
        refuse_secret(f"allowlist[{at}]", symbol)


def _to_tuple(value: Sequence[str] | None) -> tuple[str, ...] | None:
    if value is None:
        return None  # no allowlist given: the feed's symbol (``allowed_symbols``)
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(f'allowlist must be a list of symbols, e.g. ["BTC/USDT"], got {value!r}')
    return tuple(value)


def check_ccxt_symbols(broker: str, symbol: str, allowlist: tuple[str, ...] | None) -> None:
    """A ``ccxt:`` broker's symbols are ccxt's ``BASE/QUOTE``; ``ConfigError`` naming the key.

    The venue's own market id (``BTCUSDT``) names no ccxt market: the broker would refuse
    it as it is built, in words of its own (``symbols must be a non-empty list``).
    """
    named = [("symbol", symbol)] + [(f"allowlist[{i}]", s) for i, s in enumerate(allowlist or ())]
    for key, value in named:
        if "/" not in value:
            raise ConfigError(
                f"{key} {value!r} is no ccxt market: {broker} trades a symbol written "
                "BASE/QUOTE, as ccxt writes it (BTC/USDT)"
            )


@attrs.frozen(kw_only=True)
class DryrunConfig:
    """Everything a dry run needs; the same config and seed give the same artifacts.

    ``enabled`` is the live-trading flag. It must stay off: preflight rejects a session
    with ``enabled=True`` unless the caller passes an explicit test override.
    """

    strategy_id: str = attrs.field(default="", validator=check_strategy_id)
    """The strategy's name in events and lease. Empty: ``sma_demo`` for the demo, else the
    module of ``strategy_factory`` (``desk.breakout:make``: breakout), then held here."""
    account: str = attrs.field(default="default", validator=_plain_name("account"))
    """The account the session trades; the session lease covers (account, strategy_id)."""
    run_id: str = attrs.field(default="demo", validator=_plain_name("run_id"))
    seed: int = count("seed", 123, positive=False)
    clock_mode: str = attrs.field(default="sim", validator=_check_choice("clock_mode", CLOCK_MODES))
    max_sink_retries: int = count("max_sink_retries", 0, positive=False)
    steps: int = count("steps", 1_000)
    max_steps: int = count(
        "max_steps", 1_000_000, maximum=HARD_MAX_STEPS, why=" (the most steps any run takes)"
    )
    step_interval_ms: int = attrs.field(default=60_000, validator=check_step_interval)
    """The simulated time one step advances: at most 31 days (``timerange``)."""
    start_time: str = attrs.field(
        default="2026-01-01T00:00:00Z", converter=rfc3339_letters, validator=check_start
    )
    symbol: str = attrs.field(default="", validator=check_symbol)
    """The traded symbol, and the feed's. Empty: a data file's stem (``goog.csv``: GOOG),
    else BTC/USDT; the config then holds the symbol it resolved to."""
    allowlist: tuple[str, ...] | None = attrs.field(
        default=None, converter=_to_tuple, validator=_check_allowlist
    )
    """The symbols orders may trade; None (not given): the feed's symbol."""
    initial_price: Decimal = decimal_field("initial_price", "42000.00")
    price_tick: Decimal = decimal_field("price_tick", 0, positive=False)
    """The price grid. 0 (the default): for a data file, inferred from its prices when the
    feed opens (the config then records it); otherwise 0.01."""
    qty_lot: Decimal = decimal_field("qty_lot", "0.001")
    initial_cash: Decimal = decimal_field("initial_cash", "100000.00")
    volatility_bps: int = count("volatility_bps", 20, positive=False)
    feed: str = attrs.field(default="random_walk", validator=check_feed)
    feed_sha256: str | None = attrs.field(default=None, validator=check_sha256)
    """The SHA-256 of the data file a ``csv:``/``parquet:`` feed reads. A new run records
    it; given, the file must match (a run refuses other data)."""
    feed_bytes: int | None = attrs.field(default=None, validator=check_size)
    """The data file's size in bytes, recorded with ``feed_sha256``."""
    enabled: bool = attrs.field(default=False, validator=true_or_false("enabled"))
    broker: str = attrs.field(default="mock", validator=check_broker)
    durability: str = attrs.field(
        default="none", validator=_check_choice("durability", DURABILITY_MODES)
    )
    checkpoint_every: int = attrs.field(
        default=attrs.Factory(_default_checkpoint_every, takes_self=True),
        validator=positive_int("checkpoint_every"),
    )
    """Steps between checkpoints; a resume re-runs at most this many steps deterministically.
    Default: 100 with durable sinks (``step``/``event``), where the syncs cost far more; 1,000
    with durability ``none``, where a checkpoint (two files replaced) costs as much as
    about a hundred steps."""
    stop_max_polls: int = count("stop_max_polls", 100)
    reconcile_grace_ms: int = count("reconcile_grace_ms", 300_000)
    """How long a difference between book and venue may last before an operator is called."""
    broker_max_consecutive_failures: int = count("broker_max_consecutive_failures", 5)
    """Failed broker calls in a row (transient errors, timeouts) that halt trading."""
    broker_silence_ms: int = count("broker_silence_ms", 600_000, positive=False)
    """Simulated time without a successful poll, while the venue owes the session a report
    (an order open or closing), that halts trading (0: never)."""
    lease_ttl_ms: int = count(
        "lease_ttl_ms",
        30_000,
        maximum=MAX_LEASE_TTL_MS,
        why=" (one day: a crashed session's lease locks its account and strategy out that long)",
    )
    """How long the session lease stays live without a renewal (wall-clock milliseconds)."""
    fill_model: FillModelConfig = attrs.field(factory=FillModelConfig, converter=fill_model_table)
    realish: RealishConfig = attrs.field(factory=RealishConfig, converter=realish_table)
    strategy: StrategyConfig = attrs.field(factory=StrategyConfig, converter=strategy_table)
    risk: RiskLimits = attrs.field(factory=RiskLimits, converter=risk_table)
    alerts: AlertsConfig = attrs.field(factory=AlertsConfig, converter=alerts_config)
    """The ``[alerts]`` table (never in ``to_dict``: the webhook URL is a secret)."""
    strategy_factory: str | None = attrs.field(default=None, validator=check_factory)
    """A reference ``package.module:callable`` to the strategy's factory (None: the demo)."""
    strategy_params: dict[str, Any] = params_field("strategy_params")
    feed_params: dict[str, Any] = params_field("feed_params")
    broker_params: dict[str, Any] = params_field("broker_params")
    rails: tuple[str, ...] = rails_field()
    """The desk's own rails, references ``package.module:callable``, after the built-in ones."""
    rails_params: dict[str, dict[str, Any]] = rail_params_field()
    """``[rails_params."REF"]``: the keyword arguments of each ``rails`` factory."""
    base_dir: str | None = None
    """The config file's directory (set by ``load_config``): references resolve from it."""

    def __attrs_post_init__(self) -> None:
        check_recordable_paths(self.feed, self.base_dir)
        for table, used in (
            ("strategy_params", self.strategy_factory is not None),
            ("feed_params", is_reference(self.feed)),
            ("broker_params", is_reference(self.broker)),
        ):
            if getattr(self, table) and not used:
                role = table.removesuffix("_params")
                raise ConfigError(
                    f"{table} is given, but {'strategy_factory' if role == 'strategy' else role} "
                    "is no package.module:callable reference"
                )
        refuse_stray_rail_params(self.rails, self.rails_params)
        refuse_demo_table(self.strategy_factory, changed=self.strategy != StrategyConfig())
        if self.realish != RealishConfig() and self.broker != "realish":
            # A fault drill that forgot --broker realish would look like a clean drill.
            raise ConfigError(
                f"[realish] is given, but broker is {self.broker!r}: its faults are the realish "
                'broker\'s; set broker = "realish" (--broker realish), or drop [realish]'
            )
        if self.feed == "venue" and not self.broker.startswith("ccxt:"):
            raise ConfigError(
                f"feed 'venue' takes the venue's own bars: it needs a ccxt:<exchange> broker, "
                f"not {self.broker!r}"
            )
        if not self.strategy_id:
            object.__setattr__(self, "strategy_id", default_strategy_id(self.strategy_factory))
        if not self.symbol:
            object.__setattr__(self, "symbol", default_symbol(self.feed))
        if self.broker.startswith("ccxt:"):
            check_ccxt_symbols(self.broker, self.symbol, self.allowlist)
        if not self.price_tick and data_path(self.feed) is None:
            object.__setattr__(self, "price_tick", DEFAULT_TICK)
        check_grids(self)  # again once a data file's tick is inferred (``fit_to_feed``)
        check_steps(self.steps, self.max_steps, limit=HARD_MAX_STEPS)
        check_run_end(
            self.start_time,
            max_steps=self.max_steps,
            stop_max_polls=self.stop_max_polls,
            step_interval_ms=self.step_interval_ms,
        )
        for name, value in recorded_decimals(self).items():  # "1E+6" as config.json has it
            object.__setattr__(self, name, value)

    @property
    def step_interval_ns(self) -> int:
        """The simulated time one step advances, in nanoseconds."""
        return self.step_interval_ms * 1_000_000

    @property
    def start(self) -> dt.datetime:
        """The simulated start time (to the microsecond: ``start_ns`` holds it all)."""
        return parse_utc(self.start_time)

    @property
    def start_ns(self) -> int:
        """The simulated start time in nanoseconds since the epoch, as ``start_time`` says."""
        return parse_utc_ns(self.start_time)

    @property
    def references(self) -> bool:
        """Whether a strategy, feed, broker or rail plugs in by reference."""
        return (
            self.strategy_factory is not None
            or is_reference(self.feed)
            or is_reference(self.broker)
            or bool(self.rails)
        )

    @property
    def allowed_symbols(self) -> tuple[str, ...]:
        """The allowlist, or (none given) the feed's symbol."""
        return (self.symbol,) if self.allowlist is None else self.allowlist

    def data_file(self) -> Path | None:
        """The data file a ``csv:``/``parquet:`` feed reads, resolved from ``base_dir``.

        An absolute path through ``..`` (the command line's ``csv:../data/x.csv``, recorded
        made absolute from the directory it ran in) names the file of that directory's
        parent, as the kernel resolves it: its directories up to the last ``..`` are
        resolved (``os.path.realpath``), so the file is found once that directory is gone.
        """
        path = data_path(self.feed)
        if path is None:
            return None
        resolved = home_expanded(path)
        parts = resolved.parts
        if resolved.is_absolute() and ".." in parts:  # the file's name kept as given
            last = len(parts) - parts[::-1].index("..")
            return Path(os.path.realpath(Path(*parts[:last]))).joinpath(*parts[last:])
        if not resolved.is_absolute() and self.base_dir is not None:
            resolved = Path(self.base_dir) / resolved
        return resolved

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible form (decimals as strings), e.g. for the config hash.

        The plug-in keys appear only when used, so a config without references keeps the
        form (and hash) it had before they existed; ``base_dir`` (the config file's
        directory) is written only with references, which resolve from it (a data file's
        path stays as written: ``run.json`` records where it resolves from). The allowlist
        is written out (a config read back names it), and ``feed_sha256`` / ``feed_bytes``
        only when a data file is recorded.
        """
        data: dict[str, Any] = attrs.asdict(self, value_serializer=_serialize, filter=_kept)
        data["allowlist"] = list(self.allowed_symbols)
        for key in PLUGIN_KEYS:
            if not data[key]:
                del data[key]
        if not self.references:
            data.pop("base_dir", None)
        return data

    def recorded_sha256(self) -> str:
        """SHA-256 of this config as ``config.json`` records it: ``SESSION_STARTED`` carries it.

        The audit chain then covers the config a run traded under (its risk limits above
        all), and ``verify`` recomputes it from ``config.json`` (docs/artifacts.md). Left out
        are what never changes what a run records and may differ where the same run is
        re-made: ``base_dir`` (where the config file sits), ``durability`` (when bytes reach
        the disk; the evidence's re-run writes with none) and ``checkpoint_every`` (how often
        the state is saved; its default follows the durability).
        """
        data = {k: v for k, v in self.to_dict().items() if k not in UNRECORDED_KEYS}
        return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> DryrunConfig:
        """Build from a mapping (TOML); unknown keys raise ``ConfigError``."""
        try:
            config: DryrunConfig = build_table(cls, data, prefix="")
        except ConfigError as exc:
            raise said_plainly(exc, {"": cls, "alerts": AlertsConfig, **NESTED}) from None
        return config


def _kept(field: attrs.Attribute[Any], value: object) -> bool:
    """What ``to_dict`` writes: not an unrecorded data file's identity, nor the alerts.

    Nor a limit left off: a config without it keeps the form (and hash) it had before it.
    """
    if field.name == "alerts":
        return False
    return value is not None or field.name not in _WRITTEN_WHEN_SET


_WRITTEN_WHEN_SET: Final = frozenset({"feed_sha256", "feed_bytes", "max_position_notional"})


def _serialize(_inst: object, _field: object, value: object) -> object:
    if isinstance(value, Decimal):
        return plain(value)
    if isinstance(value, tuple):
        return list(value)
    return value


@with_context
def load_config(
    path: str | os.PathLike[str] | None, overrides: Mapping[str, Any] | None = None
) -> DryrunConfig:
    """Read a TOML config file (optional) and apply flat top-level ``overrides``.

    ``path`` is a str or a path object (``"desk.toml"``, ``Path("desk.toml")``).
    ``base_dir`` becomes the config file's directory (absolute): plug-in references and
    relative data paths (``feed = "csv:data/goog.csv"``) resolve from there, whatever the
    current directory. It cannot be set in the file. Without a file, and in an overriding
    ``feed`` (the command line's), data paths resolve from the current directory.

    ``overrides`` maps top-level keys to values, as ``livesession dryrun``'s flags do: each
    replaces the file's value of its key, and a table's keys are set one by one
    (``{"risk": {"max_order_qty": "0.5"}}`` changes that limit and keeps the file's other
    ``[risk]`` limits: a table replaced whole silently put them back to their defaults,
    loosening limits the desk had set). A value of None overrides nothing (an unset flag).
    A ``path`` that is no path, or ``overrides`` that is no mapping, is a ``ConfigError``
    naming it; so is an override of ``base_dir``, which a file cannot set either (a
    session's own ``DryrunConfig(base_dir=...)`` may).
    """
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise ConfigError(
            f"load_config's path must be a path (a str or an os.PathLike) or None, "
            f"got {type(path).__name__}"
        )
    if overrides is not None and not isinstance(overrides, Mapping):
        raise ConfigError(
            "load_config's overrides must be a mapping of config keys to values "
            f"({{'steps': 500}}), got {type(overrides).__name__}"
        )
    data: dict[str, Any] = {}
    text, own = "", data  # the file's text, and what it sets
    changes = {key: value for key, value in (overrides or {}).items() if value is not None}
    if "base_dir" in changes:  # as a file's: the directory its references resolve from
        raise ConfigError(
            "load_config's overrides set base_dir, which is not a setting: it is the config "
            "file's directory (DryrunConfig(base_dir=...) sets it in Python)"
        )
    if path is not None:
        path = Path(path)
        # A regular file of at most 16 MiB, UTF-8 TOML, or refused.
        data, text = parse_config(path, read_config_file(path))
        if "base_dir" in data:
            raise ConfigError(
                f"config file {path}: base_dir is not a setting (it is the file's directory)"
            )
        data["base_dir"] = str(path.resolve().parent)
        refuse_overridden_invalid(path, DryrunConfig, data, changes, text)
        own = dict(data)
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}  # the keys of the file's table it leaves out stay
        else:
            data[key] = from_cwd(value) if key == "feed" else value
    try:
        config = DryrunConfig.from_mapping(data)
        refuse_pin_without_data(config.feed, config.feed_sha256, config.feed_bytes)
    except ConfigError as exc:
        raise exc if path is None else in_file(exc, path, text, own, changes) from None
    return config if path is None else located(config, path, text, own, changes)
