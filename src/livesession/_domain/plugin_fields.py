"""Config fields of the plug-ins: the broker and feed specs, factory references, params.

A strategy, feed or broker may plug in by reference (``package.module:callable``) with its
keyword arguments in a ``[*_params]`` table; the built-in kinds keep their names (``mock``,
``realish``, ``ccxt:<exchange>``; ``random_walk``, ``venue``, ``csv:PATH``, ``parquet:PATH``). Kept
apart from ``config.py`` so that the session's settings and the plug-in rules each read
on their own.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any, Final

import attrs

from .._exceptions import ConfigError
from .._support.references import a_, is_reference
from .._support.secrets import (
    environment_secret_in,
    find_secrets,
    names_a_credential,
    take_environment_secrets,
)
from .datafeeds import DATA_FEEDS
from .fields import INT_MAX, array_of_tables
from .runtime_config import CCXT_EXCHANGES

__all__ = [
    "DEMO_STRATEGY_ID",
    "MAX_PARAMS_DEPTH",
    "PLUGIN_KEYS",
    "TOO_DEEP_TO_READ",
    "check_broker",
    "check_factory",
    "check_feed",
    "check_strategy_id",
    "default_strategy_id",
    "params_field",
    "params_table",
    "rail_params_field",
    "rails_field",
    "refuse_demo_table",
    "refuse_secret",
    "refuse_stray_rail_params",
]

_MAX_NAME_LEN: Final = 64
MAX_PARAMS_DEPTH: Final = 32
"""How deep arrays and tables may nest in a params value: 300 levels stopped the config
hash (orjson holds 255), 20,000 dotted keys this check's own recursion."""
TOO_DEEP_TO_READ: Final = (
    "nests arrays or inline tables too deep to read (Python's recursion limit; a params "
    f"value may nest {MAX_PARAMS_DEPTH} levels): flatten it"
)
"""What a config file whose nesting stopped the TOML reader itself is told, after its name."""
DEMO_STRATEGY_ID: Final = "sma_demo"
"""The built-in demo strategy's name."""

PLUGIN_KEYS: Final = (
    "strategy_factory",
    "strategy_params",
    "feed_params",
    "broker_params",
    "rails",
    "rails_params",
    "base_dir",
)
"""The config keys that appear in ``config.json`` only when a run uses plug-ins."""


def check_broker(_inst: object, _attr: object, value: object) -> None:
    """``mock``, ``realish``, ``ccxt:<exchange>`` or a reference."""
    if not isinstance(value, str) or not (
        value in ("mock", "realish")
        or (value.startswith("ccxt:") and len(value) > len("ccxt:"))
        or is_reference(value)
    ):
        raise ConfigError(
            "broker must be mock, realish, ccxt:<exchange> or package.module:callable, "
            f"got {value!r}"
        )
    if value.startswith("ccxt:") and value.removeprefix("ccxt:") not in CCXT_EXCHANGES:
        # Caught here, with the key's name, not at the broker's start as an unknown "mode".
        venues = ", ".join(f"ccxt:{name}" for name in CCXT_EXCHANGES)
        raise ConfigError(
            f"broker must be mock, realish, {venues} or package.module:callable, got {value!r}"
        )


def check_feed(_inst: object, _attr: object, value: object) -> None:
    """``random_walk``, ``venue``, a data file (``csv:``/``parquet:``) or a reference.

    ``CSV:goog.csv`` reads as a reference (module ``CSV``), and was refused when the run was
    made as ``cannot import 'CSV:goog.csv': No module named 'CSV'``: it is told the kind's
    case instead.
    """
    kind = next(
        (k for k in DATA_FEEDS if isinstance(value, str) and value[: len(k)].lower() == k), ""
    )
    if isinstance(value, str) and kind and not value.startswith(kind) and len(value) > len(kind):
        raise ConfigError(
            f"feed {value!r}: a data file's kind is written in lower case: write "
            f"{kind}{value[len(kind) :]}"
        )
    if not isinstance(value, str) or not (
        value in ("random_walk", "venue")
        or any(value.startswith(kind) and len(value) > len(kind) for kind in DATA_FEEDS)
        or is_reference(value)
    ):
        raise ConfigError(
            "feed must be random_walk, venue, csv:<path>, parquet:<path> or "
            "package.module:callable, "
            f"got {value!r}{_as_data_file(value) or _as_reference(value)}"
        )
    refuse_secret("feed", value)  # a DSN pasted for a data file's path


def _as_data_file(value: object) -> str:
    """`` (a data file? ...)``: a feed given as a file's path, without ``csv:``; or ""."""
    if not isinstance(value, str):
        return ""
    kind = next((k for k in DATA_FEEDS if value.lower().endswith(f".{k.rstrip(':')}")), None)
    return f" (a data file? name its kind first: {kind}{value})" if kind else ""


def _as_reference(value: object) -> str:
    """`` (did you mean 'pkg.mod:make'? ...)``: a reference written with a dot for its colon."""
    if not isinstance(value, str) or ":" in value or "." not in value:
        return ""
    module, _, name = value.rpartition(".")
    fixed = f"{module}:{name}"
    if not is_reference(fixed):
        return ""
    return f" (did you mean {fixed!r}? a colon comes before the callable)"


def check_factory(_inst: object, _attr: object, value: str | None) -> None:
    """None (the demo) or a reference."""
    if value is not None and not is_reference(value):
        raise ConfigError(
            "strategy_factory must be a reference package.module:callable, "
            f"got {value!r}{_as_reference(value)}"
        )


def check_strategy_id(_inst: object, _attr: object, value: object) -> None:
    """A name of one line, at most 64 characters; empty: not given (``default_strategy_id``)."""
    if not isinstance(value, str) or (value and not value.strip()):
        raise ConfigError("strategy_id must be a non-empty name")
    if len(value) > _MAX_NAME_LEN or any(ch in value for ch in "\n\r\t"):
        raise ConfigError("strategy_id must be at most 64 characters on one line")
    refuse_secret("strategy_id", value)


def refuse_secret(name: str, value: str) -> None:
    """Refuse a free-text value the evidence's secret scan would find (not shown again).

    ``strategy_id`` and the allowlist's entries are names of any text (an allowlist entry is
    judged by preflight, whose ``REJECTED`` run records it): a DSN or key pasted there went
    into ``config.json``, every record and the checkpoints in plain text.
    """
    found = _secret_kinds(name.partition("[")[0], value)
    if found:
        raise ConfigError(
            f"{name} looks like a secret ({', '.join(found)}; value not shown): a run records "
            "it in config.json and its records, which reviewers read"
        )


def _secret_kinds(key: str, value: str) -> list[str]:
    """What the evidence's secret scan would find in ``value`` recorded under ``key``.

    The kinds its rules find, and the value of one of the environment's secrets (a
    sandbox key pasted for an account: the scan searches every file for those values).
    Before, only the rules were asked: a run id or an account holding the value of
    ``$LIVESESSION_BINANCE_API_KEY`` was taken, written into ``config.json``, the
    checkpoints and the run directory's name, and only the evidence found it.
    """
    found = find_secrets(json.dumps({key: value}))
    take_environment_secrets()  # as they are now: the config is read before any session
    leaked = environment_secret_in(value.encode("utf-8", "replace"))
    if leaked is not None:
        found.append(f"the value of ${leaked[0]}")
    return found


def default_strategy_id(factory: str | None) -> str:
    """The name of a strategy whose config gives none: the demo's, or its factory's module.

    ``mydesk.breakout:make_strategy`` names ``breakout``: a strategy of one's own is never
    recorded (and leased) under the demo's name.
    """
    if factory is None:
        return DEMO_STRATEGY_ID
    return factory.partition(":")[0].rpartition(".")[2]


def refuse_demo_table(factory: str | None, *, changed: bool) -> None:
    """Refuse a ``[strategy]`` table beside ``strategy_factory``.

    It sets the demo's parameters, which a strategy of one's own never reads.
    """
    if factory is not None and changed:
        raise ConfigError(
            f"[strategy] sets the demo strategy's parameters, but strategy_factory {factory!r} "
            "runs another: give its keyword arguments in [strategy_params]"
        )


def _plain_value(name: str, value: object, depth: int = 0) -> None:
    """TOML values a factory receives as they are; what JSON cannot give back is refused.

    A run records its params tables in ``config.json`` and its checkpoints, and ``resume``
    and the evidence build the run from there: so dates (JSON keeps none), NaN and infinity
    (written as null), integers beyond 64 bits (the hash and ``config.json`` cannot hold
    them), a table's key that is not a string and arrays or tables nested more than
    ``MAX_PARAMS_DEPTH`` deep (``depth``: how many hold ``value``) are refused. A value the
    evidence's secret scan would find, written as ``config.json`` writes it
    (``"api_secret": "..."``), is refused too: reviewers read those files.
    """
    if isinstance(value, (list, tuple, Mapping)) and depth >= MAX_PARAMS_DEPTH:
        raise ConfigError(
            f"{name} nests arrays or tables more than {MAX_PARAMS_DEPTH} levels deep: "
            "flatten it, or write it as a string the factory parses"
        )
    if isinstance(value, str):
        _plain_text(name, value)
        return
    if isinstance(value, (int, float)):  # a bool is an int
        _plain_number(name, value)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _plain_value(name, item, depth + 1)
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(
                    f"{name} has the key {key!r}, {a_(type(key).__name__)}: a table's keys "
                    "must be strings (JSON's are)"
                )
            _plain_value(f"{name}.{key}", item, depth + 1)
        return
    raise ConfigError(
        f"{name} must be a string, number, boolean, array or table, got {type(value).__name__}"
    )


def _plain_text(name: str, value: str) -> None:
    """Refuse a string the evidence's secret scan would find, or a credential by its name.

    A header such as ``Authorization = "Basic ..."`` or ``Cookie = "sid=..."`` has no form
    a rule knows: its name says it (``names_a_credential``).
    """
    key = name.rpartition(".")[2]
    found = _secret_kinds(key, value)
    if not found and names_a_credential(key, value):
        found = ["its name"]
    if found:
        table = name.partition(".")[0]
        raise ConfigError(
            f"{name} looks like a secret ({', '.join(found)}): a run records {table} in "
            "config.json and its checkpoints, which reviewers read; have the factory "
            "read it from the environment instead (os.environ)"
        )


def _plain_number(name: str, value: float) -> None:
    """A float that is finite, an int of 64 bits: what ``config.json`` gives back as it was.

    Written, NaN and infinity would become null (a resume would refuse the run as corrupt),
    and a larger int stops the config hash (orjson holds 64 bits).
    """
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(
            f"{name} must be a finite number, got {value!r}: config.json would record it "
            "as null (JSON has no NaN or infinity); write a string and convert it in the factory"
        )
    if isinstance(value, int) and not -INT_MAX - 1 <= value <= INT_MAX:
        raise ConfigError(
            f"{name} must be from {-INT_MAX - 1} to {INT_MAX} (a 64-bit integer: config.json "
            f"and the config hash must hold it), got {value}; write a larger one as a string"
        )


def params_table(name: str, value: object) -> dict[str, Any]:
    """``value`` as the params table ``name``: keyword names to plain TOML values."""
    if not isinstance(value, Mapping):
        raise ConfigError(
            f"{name} must be a table of keyword arguments{array_of_tables(name, value)}"
        )
    for key, item in value.items():
        if not isinstance(key, str) or not key.isidentifier():
            raise ConfigError(f"{name} key {key!r} is not a keyword argument name")
        _plain_value(f"{name}.{key}", item)
    return dict(value)


def params_field(name: str) -> Any:
    """A ``[*_params]`` table: keyword names to plain TOML values, passed as they are.

    Left out of the config's hash (a dict has none), not of its equality: equal configs
    still hash alike, and a config is a set member or a cache key as a frozen value is.
    """
    return attrs.field(factory=dict, converter=lambda value: params_table(name, value), hash=False)


def _rails(value: object) -> tuple[str, ...]:
    """``rails``: a list of distinct references (each a factory of one rail)."""
    if isinstance(value, str) or not isinstance(value, (list, tuple)):
        raise ConfigError(
            f'rails must be a list of references, e.g. ["desk.rails:max_position"], got {value!r}'
        )
    for at, ref in enumerate(value):
        if not is_reference(ref):
            raise ConfigError(
                f"rails[{at}] must be a reference package.module:callable, got {ref!r}"
            )
        if ref in value[:at]:
            raise ConfigError(
                f"rails[{at}] repeats {ref!r}: each rail is listed once (its params are "
                f'[rails_params."{ref}"])'
            )
    return tuple(value)


def rails_field() -> Any:
    """``rails``: the desk's own rails, by reference, checked after the built-in ones."""
    return attrs.field(factory=tuple, converter=_rails)


def rail_params_field() -> Any:
    """``[rails_params."package.module:callable"]``: each rail factory's keyword arguments."""

    def convert(value: object) -> dict[str, dict[str, Any]]:
        if not isinstance(value, Mapping):
            raise ConfigError(
                "rails_params must be a table of tables, one per rail reference"
                f"{array_of_tables('rails_params', value)}"
            )
        tables: dict[str, dict[str, Any]] = {}
        for ref, table in value.items():
            name = f"rails_params.{json.dumps(str(ref))}"
            if not isinstance(table, Mapping):
                raise ConfigError(
                    f"{name} must be a table of the rail factory's keyword arguments, "
                    f'e.g. [rails_params."{ref}"]'
                )
            tables[ref] = params_table(name, table)
        return tables

    return attrs.field(factory=dict, converter=convert, hash=False)  # as params_field


def refuse_stray_rail_params(rails: tuple[str, ...], params: Mapping[str, Any]) -> None:
    """Refuse a ``[rails_params."REF"]`` table whose reference ``rails`` does not list."""
    for ref in params:
        if ref not in rails:
            raise ConfigError(
                f"rails_params has a table for {ref!r}, but rails does not list it: add it "
                "to rails, or drop the table"
            )
