"""The strategy, feed and broker a config names by reference, and what each receives.

A factory is called with keyword arguments: its ``[..._params]`` table as TOML gave it,
plus, for a strategy, ``strategy_id`` (the config's) and, for a feed, ``symbol`` (the
config's). A broker factory receives its ``[broker_params]`` only, a rail factory its
``[rails_params."REF"]`` only. A params table may not
repeat a keyword the session passes itself, nor hold a key of the config's own (``steps``,
``max_order_qty``: written there by mistake) unless the factory names it as a parameter.

Each builder returns the product and its source record (``resolve``): the reference, the
module's file and that file's SHA-256, which ``config.json`` and the evidence keep.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._domain.configfile import misplaced_params, place_of
from .._exceptions import PluginError
from .._risk.rails import RAIL_RULES, Rail, default_rails
from .._support.references import (
    a_,
    call_reference,
    is_reference,
    lookup_failure,
    protocol_members,
)
from .._typing import (
    Broker,
    ConfirmingLookup,
    CountedPositionVenue,
    DeclaredSimulation,
    JournaledVenue,
    MarkableVenue,
    MarketFeed,
    PositionVenue,
    RecoveringVenue,
    RelayedVenue,
    ReplayingVenue,
    ResumableVenue,
    SandboxAware,
    Strategy,
)

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig

__all__ = [
    "broker_from_reference",
    "check_references",
    "check_strategy_id",
    "config_rails",
    "feed_from_reference",
    "lookup_refusal",
    "rail_role",
    "rails_from_references",
    "strategy_from_reference",
]


def _base(cfg: DryrunConfig) -> Path | None:
    return None if cfg.base_dir is None else Path(cfg.base_dir)


def _kwargs(cfg: DryrunConfig, table: str, given: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments of a factory: ``given`` (the session's), and the ``table``'s.

    A key of the table that the session passes (``strategy_id``, ``symbol``) is refused,
    naming the file and line that set it: the config's own key says it. ``check_references``
    calls it too, so it is refused before the run id is looked at, as a misspelt key is.
    """
    params: dict[str, Any] = getattr(cfg, table)
    clash = sorted(set(params) & set(given))
    if clash:
        place = place_of(cfg, f"{table}.{clash[0]}")
        raise PluginError(
            f"{place}{table} may not set {clash[0]!r}: the session passes it from the config "
            f"({clash[0]} = {given[clash[0]]!r}); set it there, not in [{table}]"
        )
    return given | _own(params)


def _own(params: dict[str, Any]) -> dict[str, Any]:
    """A copy of a params table the factory may keep and change as its own.

    A list or a table of the config's (``window = [...]``) was handed to the factory as
    the config holds it: a strategy that kept it and appended to it each bar changed the
    config itself, which every checkpoint then wrote (its ``config`` grown by the bars'
    closes), and which a second session built from the same config was given, changed.
    """
    return copy.deepcopy(params)


def strategy_from_reference(cfg: DryrunConfig) -> tuple[Strategy, dict[str, Any]]:
    """The strategy ``cfg.strategy_factory`` makes: ``factory(strategy_id=..., **params)``."""
    ref = cfg.strategy_factory
    if ref is None:
        raise PluginError("strategy_factory is not set")
    kwargs = _kwargs(cfg, "strategy_params", {"strategy_id": cfg.strategy_id})
    product, record = _made(cfg, "strategy_factory", ref, Strategy, kwargs)
    strategy: Strategy = product
    check_strategy_id(strategy, cfg.strategy_id, made_by=ref)
    return strategy, record


def check_strategy_id(strategy: object, strategy_id: str, *, made_by: str | None = None) -> None:
    """Refuse a strategy whose own ``strategy_id`` is not the config's.

    The run records the config's id (in every event, the client order ids and the lease):
    a strategy calling itself something else would leave evidence naming another strategy.
    """
    own = getattr(strategy, "strategy_id", None)
    if own == strategy_id:
        return
    source = (
        "the strategy given has"
        if made_by is None
        else f"strategy_factory {made_by!r} made a strategy with"
    )
    if not isinstance(own, str):
        raise PluginError(f"{source} strategy_id {own!r}: it must be the config's, {strategy_id!r}")
    raise PluginError(
        f"{source} strategy_id {own!r}, but the config's strategy_id is {strategy_id!r}: "
        f"the run would record the wrong strategy; set strategy_id = {own!r} in the config, "
        "or give the strategy the config's"
    )


def feed_from_reference(cfg: DryrunConfig) -> tuple[MarketFeed, dict[str, Any]]:
    """The feed ``cfg.feed`` names by reference: ``factory(symbol=..., **feed_params)``."""
    if not is_reference(cfg.feed):
        raise PluginError(f"feed {cfg.feed!r} is not a reference")
    kwargs = _kwargs(cfg, "feed_params", {"symbol": cfg.symbol})
    product, record = _made(cfg, "feed", cfg.feed, MarketFeed, kwargs)
    feed: MarketFeed = product
    return feed, record


def broker_from_reference(
    cfg: DryrunConfig, *, journal: Path | None = None
) -> tuple[Broker, dict[str, Any]]:
    """The broker ``cfg.broker`` names by reference: ``factory(**broker_params)``.

    A factory with a ``journal`` parameter also gets ``journal``, the run's venue journal
    (a simulated venue keeps its state there, so a resume finds it as it stood).
    """
    if not is_reference(cfg.broker):
        raise PluginError(f"broker {cfg.broker!r} is not a reference")
    offered = None if journal is None else {"journal": journal}
    product, record = _made(
        cfg, "broker", cfg.broker, Broker, _own(cfg.broker_params), offered=offered
    )
    broker: Broker = product
    return broker, record


def rail_role(at: int) -> str:
    """The role of the config's ``rails[at]`` in a run's ``sources``: ``rails[0]``."""
    return f"rails[{at}]"


def rails_from_references(cfg: DryrunConfig) -> tuple[tuple[Rail, ...], dict[str, Any]]:
    """The desk's own rails ``cfg.rails`` names, and their source records by role.

    Each factory is called as ``factory(**rails_params[REF])``; what it returns must be a
    ``Rail`` whose ``rule`` is a reason code of its own (a built-in rail's would be
    recorded as that rail's). Each record also keeps that ``rule``.
    """
    rails: list[Rail] = []
    sources: dict[str, Any] = {}
    for at, ref in enumerate(cfg.rails):
        role = rail_role(at)
        params = _own(cfg.rails_params.get(ref, {}))
        product, record = _made(cfg, "rails", ref, Rail, params, what=role)
        rule = getattr(product, "rule", None)
        if not isinstance(rule, str) or not rule.strip():
            raise PluginError(
                f"{role} {ref!r} made a rail whose rule is {rule!r}: a rail's rule is its "
                "reason code, a non-empty string (MAX_POSITION)"
            )
        if rule in RAIL_RULES:
            raise PluginError(
                f"{role} {ref!r} made a rail whose rule {rule!r} is a built-in rail's: "
                "its refusals would be recorded as that rail's; give it a rule of its own"
            )
        rails.append(product)
        sources[role] = record | {"rule": rule}
    return tuple(rails), sources


def config_rails(cfg: DryrunConfig, own: tuple[Rail, ...] | None = None) -> tuple[Rail, ...]:
    """The built-in rails, then the desk's own (``own``, or built from ``cfg.rails``)."""
    if own is None:
        own = rails_from_references(cfg)[0] if cfg.rails else ()
    return (*default_rails(cfg.risk, cfg.allowed_symbols), *own)


def check_references(
    cfg: DryrunConfig, *, strategy: bool = True, feed: bool = True, broker: bool = True
) -> None:
    """Refuse a params key no factory of the config takes, before any factory is called.

    Each reference the run will build (its rails; its strategy, feed and broker unless
    False: handed in as objects, or a caller's broker factory) is resolved, its module
    imported, and its signature read, never called: a misspelt ``lookbak`` is refused as
    building it would refuse it, but before a run id already taken is (which the user
    would otherwise change first, to learn of the misspelling only then); so is a key the
    session passes (``strategy_id``, ``symbol``) set in a params table. A factory's own
    checks, a data file's content and a broker's connection wait for the build.
    """
    for at, ref in enumerate(cfg.rails):
        _made(cfg, "rails", ref, Rail, {}, what=rail_role(at), check_only=True)
    if strategy and cfg.strategy_factory is not None:
        _kwargs(cfg, "strategy_params", {"strategy_id": cfg.strategy_id})
        _made(cfg, "strategy_factory", cfg.strategy_factory, Strategy, {}, check_only=True)
    if broker and is_reference(cfg.broker):
        _made(cfg, "broker", cfg.broker, Broker, {}, check_only=True)
    if feed and is_reference(cfg.feed):
        _kwargs(cfg, "feed_params", {"symbol": cfg.symbol})
        _made(cfg, "feed", cfg.feed, MarketFeed, {}, check_only=True)


def _made(
    cfg: DryrunConfig,
    key: str,
    ref: str,
    kind: type,
    kwargs: dict[str, Any],
    *,
    offered: dict[str, Any] | None = None,
    what: str = "",
    check_only: bool = False,
) -> tuple[Any, dict[str, Any]]:
    """What the reference ``ref`` of the config's ``key`` makes, as ``call_reference`` calls it.

    Its refusal names the key, and the file and line that set it (``place_of``). A key of
    its params table that is a config key elsewhere (``steps``, ``max_order_qty``) is
    refused unless the factory names it as a parameter of its own: a ``**kwargs`` would
    take it without a word, and the run would go on as if it were not written
    (``misplaced_params``; ``[strategy]``'s keys are a strategy's own). ``check_only``:
    those checks only, the factory never called (``check_references``).
    """
    table = f"{key.removesuffix('_factory')}_params"  # strategy_factory: strategy_params
    own = "strategy" if table == "strategy_params" else ""
    per_rail = ref if key == "rails" else None  # a rail's own table: [rails_params."REF"]
    refused = {
        name: f"{said}; {what or key} {ref!r} names no parameter {name} (a **kwargs would "
        "take it, and nothing would change): move it, or name it in the factory's signature"
        for name, said in misplaced_params(cfg, table, own=own, ref=per_rail).items()
    }
    place, shown = (table, table) if per_rail is None else (f"{table}.{ref}", f'{table}."{ref}"')
    params = getattr(cfg, table) if per_rail is None else cfg.rails_params.get(ref, {})
    said_as = {name: f"{place_of(cfg, f'{place}.{name}')}{shown}.{name}" for name in params}
    product, record = call_reference(
        ref, _base(cfg), what=what or key, kind=kind, kwargs=kwargs, offered=offered,
        where=place_of(cfg, key), unnamed_refused=refused, params_said=said_as,
        check_only=check_only,
    )  # fmt: skip
    failed = "" if check_only else lookup_refusal(product, kind, protocol=False)
    if failed:
        raise PluginError(f"{what or key} {ref!r} returned {failed}")
    return product, record


def lookup_refusal(plugin: object, kind: type, *, protocol: bool = True) -> str:
    """Why ``plugin``, a ``kind``, cannot be used: a look-up of a name the session reads raised.

    "" when none did. The protocol's members (``protocol``), then the optional ones the
    session looks up on a ``kind`` (``_LOOKED_UP``): ``a ParamFeed: looking up its checked
    raised KeyError: 'checked' (...)``.
    """
    names = (*(protocol_members(kind) if protocol else ()), *_LOOKED_UP.get(kind, ()))
    failed = lookup_failure(plugin, names)
    if not failed:
        return ""
    return (
        f"{a_(type(plugin).__name__)}: {failed} (a __getattr__ or a property must raise "
        "AttributeError for a name it lacks)"
    )


_VENUE_ABILITIES = (
    ConfirmingLookup, CountedPositionVenue, DeclaredSimulation, JournaledVenue, MarkableVenue,
    PositionVenue, RecoveringVenue, RelayedVenue, ReplayingVenue, ResumableVenue, SandboxAware,
)  # fmt: skip
_LOOKED_UP: dict[type, tuple[str, ...]] = {
    MarketFeed: ("checked", "close", "dated", "first_ts_ns", "take_gaps"),
    Broker: tuple(
        sorted({"close", "fetch_ohlcv", "inner"}.union(*map(protocol_members, _VENUE_ABILITIES)))
    ),
}
"""The optional members the session looks up on a plug-in of a protocol, beside its own.

A look-up that raises other than ``AttributeError`` would fail the session where it looks
(a traceback as the run is built): it is refused with the plug-in instead.
"""
