"""A run's plug-ins: built before anything is written, recorded, and checked on resume.

``create_run`` and ``resume_run`` take a strategy, feed and broker as objects or as
references (``package.module:callable``); a reference passed there is the same as the
config naming it. A desk's own rails come from the config's ``rails`` only (references:
a resume and the evidence's re-run build them again), each recorded as ``rails[N]``.
``open_plugins`` builds them all before a run directory exists (so a bad reference leaves
nothing behind) and returns their source records, which ``config.json``
keeps under ``sources``: per role, the reference, the module file and its SHA-256, or, for
an object supplied in-process, its class and the SHA-256 of the class's file.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypedDict

import attrs

from .._domain.clock import FixedClock, SimClock
from .._domain.plugin_fields import default_strategy_id
from .._exceptions import DataFileError, PluginError
from .._risk.checks import UserBrokerCheck
from .._session.assembly import default_feed, default_strategy, make_clock
from .._session.closing import close_plugin
from .._session.edges import SessionEdges, check_edges, unexpected_keywords
from .._session.pipeline import error_message
from .._session.plugins import (
    broker_from_reference,
    check_strategy_id,
    feed_from_reference,
    lookup_refusal,
    rails_from_references,
    strategy_from_reference,
)
from .._session.stateorder import own_state
from .._support.references import (
    IN_PROCESS,
    a_,
    is_reference,
    not_a,
    object_record,
    resolve,
    uncallable,
)
from .._support.signals import STOPS_RAISED
from .._support.text import one_line
from .._support.usercode import users_line
from .._typing import Broker, DeclaredSimulation, MarketFeed, Strategy
from .brokers import BrokerFactory
from .data import changed_or, placed
from .seal import last_stop
from .sourcefiles import refuse_unfound_sources
from .supplied import by_factory, check_sources, pass_again

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig
    from .._risk.rails import Rail
    from .._session.coordinator import LiveSessionOrchestrator

__all__ = [
    "PlugIns",
    "RunPlugins",
    "add_broker_check",
    "apply_references",
    "check_call",
    "check_recorded_sources",
    "given_broker",
    "handed",
    "not_rebuilt",
    "open_plugins",
    "restore_plugins",
    "with_clock",
    "with_declaration",
]

CLOCK: Final = "clock"
"""The role a clock given in-process (``create_run(..., clock=...)``) is recorded under."""
_KINDS: Final = {"strategy": Strategy, "feed": MarketFeed, "broker": Broker}
_KEYS: Final = {"strategy": "strategy_factory", "feed": "feed", "broker": "broker"}
"""The config key of each role a run records the source of."""


class PlugIns(TypedDict, total=False):
    """The run's own pieces, as ``create_run`` and ``resume_run`` take them.

    Each is an object, or a reference ``"package.module:callable"`` (None: the config's).
    """

    strategy: Strategy | str | None
    feed: MarketFeed | str | None
    broker: Broker | str | None


@attrs.frozen(kw_only=True)
class RunPlugins:
    """What a run plugs in: None where the config's built-in default applies."""

    strategy: Strategy | None
    feed: MarketFeed
    broker: Broker | None
    sources: dict[str, dict[str, Any]]
    rails: tuple[Rail, ...] = ()
    """The desk's own rails the config's ``rails`` names (checked after the built-in ones)."""
    made: frozenset[str] = frozenset()
    """The roles (``strategy``, ``broker``) the run builds from its config (a reference, or
    the built-in one), or by a caller's ``broker_factory``, rather than take as an object:
    the run's own, closed by it. An object handed in stays its caller's (``_session.closing``)."""

    def close(self) -> None:
        """Close what was built when the session is never built (it owns them otherwise).

        A feed is closed either way (a session that was never built does not own it); a
        strategy and a broker only when they were built here: one handed in stays its
        caller's. A plug-in's ``close()`` that raises never hides why the run was not built.
        """
        close_plugin("feed", self.feed)
        _close_made(self.made, self.strategy, self.broker)


def apply_references(
    cfg: DryrunConfig,
    *,
    strategy: object = None,
    feed: object = None,
    broker: object = None,
    recorded: Mapping[str, Any] | None = None,
) -> DryrunConfig:
    """``cfg`` with the references (strings) among the arguments written into it.

    On resume the config is the run's, and ``recorded`` its plug-ins' source records
    (``config.json``'s ``sources``): a reference must be the one it recorded. A strategy
    reference renames a strategy the config did not name (``default_strategy_id``).
    """
    changes: dict[str, Any] = {}
    for role, field, value in (
        ("strategy", "strategy_factory", strategy),
        ("feed", "feed", feed),
        ("broker", "broker", broker),
    ):
        if not isinstance(value, str):
            continue
        if role == "strategy" and not is_reference(value):
            raise PluginError(f"strategy {value!r} is not a reference package.module:callable")
        if recorded is not None and getattr(cfg, field) != value:
            raise PluginError(
                f"run {cfg.run_id} was started with "
                f"{_started_with(role, field, getattr(cfg, field), recorded.get(role))}"
                f", not {value!r}{_again(role, recorded.get(role))}"
            )
        changes[field] = value
        if role == "strategy" and cfg.strategy_id == default_strategy_id(cfg.strategy_factory):
            # The name was not the config's own choice: the strategy given names it.
            changes["strategy_id"] = default_strategy_id(value)
    return attrs.evolve(cfg, **changes) if changes else cfg


def check_call(
    call: Callable[..., object],
    given: Mapping[str, object],
    *,
    broker_factory: object,
    **edges: object,
) -> None:
    """Refuse a bad call of ``call`` (``create_run``, ``resume_run``) before it does anything.

    A keyword it does not take is a ``TypeError`` (``_refuse_unknown``); an argument of the
    wrong kind a ``PluginError`` or ``ValueError`` (``_check_arguments``).
    """
    _refuse_unknown(call, given)
    _check_arguments(broker_factory=broker_factory, **edges)


_BUILT_IN_ONLY: Final = ("rails", "checks")
"""Edges a run directory never takes from its caller as objects: a resume could not get
them back (a desk's rails come by reference, from the config's ``rails``)."""


def _refuse_unknown(call: Callable[..., object], given: Mapping[str, object]) -> None:
    """Refuse a keyword ``call`` (``create_run``, ``resume_run``) does not take: ``TypeError``.

    Its ``**given`` gathers the plug-ins; anything else there (``event_sink=``, an edge of
    ``LiveSessionOrchestrator`` passed by mistake) was refused in the name of the private
    helper it reached. The refusal names the call the caller made and what it does take.
    """
    unknown = sorted(set(given) - PlugIns.__optional_keys__)
    if not unknown:
        return
    name = getattr(call, "__name__", "the call")
    keywords = inspect.signature(call).parameters.values()
    takes = [p.name for p in keywords if p.kind is inspect.Parameter.KEYWORD_ONLY]
    takes += list(PlugIns.__annotations__)
    edges = [key for key in unknown if key in SessionEdges.__optional_keys__]
    own = [key for key in edges if key in _BUILT_IN_ONLY]
    edges = [key for key in edges if key not in _BUILT_IN_ONLY]
    why = (
        f" ({', '.join(edges)}: {'edges' if len(edges) > 1 else 'an edge'} of "
        "LiveSessionOrchestrator, which a run directory sets up itself)"
        if edges
        else ""
    )
    if "rails" in own:  # a desk's own rails: never silently left out, never half-taken
        why += (
            " (rails: a run directory takes a desk's own rails from the config's rails key, "
            "by reference, so that resume and the evidence's re-run build the same ones: "
            'docs/plugins.md, "Rails of your own")'
        )
    if "checks" in own:
        why += (
            " (checks: a run directory runs the built-in checks only, so that resume and the "
            "evidence's re-run hold the same ones; yours go to LiveSessionOrchestrator: "
            "docs/embedding.md)"
        )
    raise unexpected_keywords(name, unknown, takes, why)


def _check_arguments(*, broker_factory: object, **edges: object) -> None:
    """Refuse a ``create_run``/``resume_run`` argument of the wrong kind, before anything.

    ``edges`` (``clock``, ``lease_clock``, ``live_override``) are checked as the session
    checks them (``check_edges``): ``clock=5`` would otherwise fail the run at its first
    step, its directory half-written. ``broker_factory`` must be callable.
    """
    check_edges(edges)
    if not callable(broker_factory):
        raise PluginError(
            f"broker_factory= got {a_(type(broker_factory).__name__)}, not a callable "
            "(cfg, run_dir) -> Broker"
        )


def _started_with(role: str, field: str, value: object, record: object) -> str:
    """What a run was started with in ``role``, in words (``strategy_factory None`` is not).

    ``a strategy object supplied in-process (desk.Momentum)``, ``the built-in strategy``,
    or ``feed 'random_walk'``.
    """
    if isinstance(record, Mapping) and "object" in record:
        return f"a {role} {record.get('supplied', IN_PROCESS)} ({record['object']})"
    if value is None:
        return f"the built-in {role}"
    return f"{field} {value!r}"


def _again(role: str, record: object) -> str:
    """What to pass instead, for a run started with an object: the same object again."""
    if isinstance(record, Mapping) and "object" in record:
        return f": {pass_again(role, record)}"
    return ""


def _given(role: str, value: object) -> dict[str, Any]:
    failed = lookup_refusal(value, _KINDS[role])
    if failed:
        raise PluginError(f"{role}= got {failed}")
    if not isinstance(value, _KINDS[role]):
        raise PluginError(f"{role}= got {not_a(value, _KINDS[role])}")
    wrong = uncallable(value, _KINDS[role])
    if wrong:
        raise PluginError(f"{role}= got {a_(type(value).__name__)}: {wrong}")
    return object_record(value)


def with_declaration(broker: object, record: dict[str, Any]) -> dict[str, Any]:
    """``record`` with what ``broker`` declares (``DeclaredSimulation``; None: nothing)."""
    simulated = broker.simulated if isinstance(broker, DeclaredSimulation) else None
    return record | {"declared_simulated": simulated if isinstance(simulated, bool) else None}


def open_plugins(
    cfg: DryrunConfig,
    *,
    strategy: object = None,
    feed: object = None,
    broker: object = None,
    journal: Path | None = None,
    data_bytes: int | None = None,
    own_factory: bool = False,
) -> RunPlugins:
    """Build the run's strategy, broker and feed (objects given, or from the config).

    Strings among the arguments must already be in ``cfg`` (``apply_references``). A broker
    factory that takes a ``journal`` gets ``journal``, the run's venue journal; with
    ``own_factory`` (a caller's ``broker_factory`` builds the broker) none is built. A CSV file
    the config names is read for ``data_bytes`` bytes only when given (``default_feed``:
    a resume reads no further than the run did).
    """
    sources: dict[str, dict[str, Any]] = {}
    made = frozenset(
        role for role, given in (("strategy", strategy), ("broker", broker)) if not handed(given)
    )
    built_strategy: Strategy | None = None
    built_broker: Broker | None = None
    rails: tuple[Rail, ...] = ()
    try:
        if cfg.rails:  # first: a rail refused leaves no strategy or broker to close
            rails, own = rails_from_references(cfg)
            sources.update(own)
        if handed(strategy):
            sources["strategy"] = _given("strategy", strategy)
            check_strategy_id(strategy, cfg.strategy_id)
            built_strategy = strategy  # type: ignore[assignment]  # checked by _given
        elif cfg.strategy_factory is not None:
            built_strategy, sources["strategy"] = strategy_from_reference(cfg)
        if handed(broker):
            sources["broker"] = with_declaration(broker, _given("broker", broker))
            built_broker = broker  # type: ignore[assignment]  # checked by _given
        elif is_reference(cfg.broker) and not own_factory:
            built_broker, record = broker_from_reference(cfg, journal=journal)
            sources["broker"] = with_declaration(built_broker, record)
        built_feed = _feed(cfg, feed, sources, data_bytes)
    except BaseException:
        _close_made(made, built_strategy, built_broker)
        raise
    return RunPlugins(
        strategy=built_strategy,
        feed=built_feed,
        broker=built_broker,
        sources=sources,
        rails=rails,
        made=made,
    )


def _feed(
    cfg: DryrunConfig, feed: object, sources: dict[str, dict[str, Any]], data_bytes: int | None
) -> MarketFeed:
    """``open_plugins``'s feed: the object given, the reference's product, or the config's."""
    if handed(feed):
        sources["feed"] = _given("feed", feed)
        return feed  # type: ignore[return-value]  # checked by _given
    if is_reference(cfg.feed):
        built, sources["feed"] = feed_from_reference(cfg)
        return built
    try:
        return default_feed(cfg, data_bytes=data_bytes)
    except DataFileError as exc:
        raise changed_or(cfg, placed(cfg, exc), read=data_bytes) from None


def handed(value: object) -> bool:
    """Whether ``value`` is an object the caller handed in (not a reference, not None)."""
    return value is not None and not isinstance(value, str)


def _close_made(made: frozenset[str], strategy: Strategy | None, broker: Broker | None) -> None:
    """Close the strategy and the broker that are the run's own (``made``), never raising."""
    if "strategy" in made:
        close_plugin("strategy", strategy)
    if broker is not None and "broker" in made:
        with contextlib.suppress(Exception):
            broker.close()


def restore_plugins(
    cfg: DryrunConfig, plugins: RunPlugins, checkpoint: dict[str, Any]
) -> RunPlugins:
    """``plugins`` with the feed's and the strategy's checkpointed states restored.

    Their ``set_state`` is the caller's code, and one may raise (a strategy that now
    expects a key its old state lacks), ``SystemExit`` too: ``resume`` calls this before
    it changes anything, so such a failure is ``PluginError`` naming the plug-in and the
    error, with the run directory as it was. The built-in strategy is built here, to be
    tried likewise; the session then restores the rest of the checkpoint, not these again.
    """
    strategy = plugins.strategy if plugins.strategy is not None else default_strategy(cfg)
    for role, owner in (("feed", plugins.feed), ("strategy", strategy)):
        state = own_state(checkpoint, role)  # an edited checkpoint: CheckpointError
        try:
            owner.set_state(state)
        except STOPS_RAISED:
            raise
        except BaseException as exc:  # noqa: BLE001 - the caller's code: any error refuses
            # sys.exit() too: as from a factory, a refusal (exit 2), never the CLI's own exit
            said, line = error_message(exc), users_line(exc)
            raise PluginError(
                f"cannot resume run {cfg.run_id}: the {role}'s set_state raised "
                f"{type(exc).__name__}{f': {said}' if said else ''}"
                f"{'' if line is None else f' (at {one_line(line)})'} on the state its "
                f"checkpoint holds; nothing was changed: make set_state read that state "
                "(the code the run started with did), then resume again"
            ) from None
    return attrs.evolve(plugins, strategy=strategy)


def check_recorded_sources(cfg: DryrunConfig, recorded: dict[str, Any], run_dir: Path) -> bool:
    """Whether the run can be re-run from its config alone (no in-process objects).

    A referenced module whose source changed since the run raises ``PluginError``; one
    left unchanged where the run recorded it, but not searched, is refused in ``status``'s
    words (``refuse_unfound_sources``), not the import's, or, the run sealed, how to name
    its directory to the command.
    """
    if any("object" in record for record in recorded.values()):
        return False
    refuse_unfound_sources(cfg, recorded, {}, sealed=last_stop(run_dir) is not None)
    base = None if cfg.base_dir is None else Path(cfg.base_dir)
    current = {}
    for role, record in recorded.items():
        try:
            current[role] = resolve(str(record["ref"]), base)[1]
        except PluginError as exc:  # named by its key, as a new run's refusal is
            raise PluginError(f"{_KEYS.get(role, role)}: {exc}") from None
    check_sources(recorded, current, run=cfg.run_id)
    return True


def given_broker(broker: Broker) -> BrokerFactory:
    """A ``BrokerFactory`` handing out the one broker the run was given or built."""

    def factory(_cfg: DryrunConfig, _run_dir: Path) -> Broker:
        return broker

    return factory


def add_broker_check(session: LiveSessionOrchestrator, sources: dict[str, Any]) -> None:
    """Give a session on a user's broker the ``user_broker`` preflight check."""
    if "broker" in sources:
        session.extra_checks.append(UserBrokerCheck(sources["broker"]))


def with_clock(sources: Mapping[str, Any], clock: object, cfg: DryrunConfig) -> dict[str, Any]:
    """``sources`` and, when the caller gave one of its own, the record of its clock (``clock``).

    A clock of the caller's stamps the run's records instead of the one ``clock_mode``
    names: ``config.json`` says so (its class and file, as of any object supplied
    in-process), so the evidence does not re-run it with the config's clock, and a resume
    takes the same kind of clock again (``check_sources``). The very clock the config names
    given (``SimClock`` at its ``start_time`` for ``sim``) is none of the caller's own.
    """
    own = clock is not None and not _configs_clock(clock, cfg)
    return {**sources, CLOCK: object_record(clock)} if own else dict(sources)


def _configs_clock(clock: object, cfg: DryrunConfig) -> bool:
    """Whether ``clock`` is the clock ``cfg``'s ``clock_mode`` names (``make_clock``).

    The same built-in class, at the same moment (``SimClock``, ``FixedClock``), or the
    system clock: a re-run stamps as it does.
    """
    made = make_clock(cfg)
    if type(clock) is not type(made):
        return False
    if isinstance(clock, SimClock | FixedClock) and isinstance(made, SimClock | FixedClock):
        return clock.monotonic_ns() == made.monotonic_ns()  # at the same moment
    return True  # the system clock


def not_rebuilt(sources: Mapping[str, Any]) -> str:
    """Why a run started with objects supplied in-process cannot be re-run from its record."""
    objects = [
        role for role, record in sources.items() if isinstance(record, dict) and "object" in record
    ]
    if objects == [CLOCK]:
        return (
            f"the run was stamped by a clock of the caller's ({sources[CLOCK]['object']}), "
            "which a re-run cannot rebuild"
        )
    if objects == ["broker"] and by_factory(sources["broker"]):
        broker = sources["broker"]
        return (
            f"the run traded on a broker {broker['supplied']} ({broker['object']}), which a "
            "re-run cannot rebuild"
        )
    return "a plug-in was an object supplied in-process"
