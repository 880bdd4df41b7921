"""The broker a caller's ``broker_factory`` builds: built before the run is written, recorded.

``create_run(cfg, out, broker_factory=fac)`` trades on the broker ``fac`` builds, not on
the one the config's ``broker`` names. As for a broker object handed in (``broker=``),
``config.json`` records it under ``sources.broker``: the factory (``object``: its module
and qualified name; ``file`` and ``sha256``: its module's), ``supplied`` (``from
broker_factory=fac``), the class it built (``built``) and what that declares
(``declared_simulated``). So a reviewer sees which broker the run traded on, preflight
judges it as it judges an object (``user_broker``), the evidence's re-run and kill drill
do not stand the config's broker in for it, and a resume takes the same factory again
(``resume_run(run_dir, broker_factory=fac)``), never the config's broker in its place.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from .._exceptions import PluginError
from .._support.references import not_a, object_record
from .._typing import Broker
from .brokers import BrokerFactory, close_broker, open_broker
from .plugins import with_declaration
from .supplied import FACTORY, by_factory, pass_again, supplied_from

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig
    from .plugins import RunPlugins

__all__ = ["built_by_factory", "factory_name", "named_factory", "refuse_other_factory"]


def factory_name(factory: object) -> str:
    """The name a factory is called by in a record and a refusal (``fac``, ``<lambda>``)."""
    name = getattr(factory, "__name__", None)
    return name if isinstance(name, str) else type(factory).__name__


def _code_of(factory: object) -> object:
    """What a factory's code is known by: the function (a partial's), or a callable's class."""
    target = factory.func if isinstance(factory, functools.partial) else factory
    names = (getattr(target, "__module__", None), getattr(target, "__qualname__", None))
    return target if all(isinstance(name, str) for name in names) else type(target)


def _factory_record(factory: BrokerFactory) -> dict[str, Any]:
    """What ``sources.broker`` records of ``factory`` itself, known without calling it.

    Its code (``object``: module and qualified name), its module's ``file`` and ``sha256``,
    and ``supplied``: all ``check_sources`` and ``refuse_other_factory`` compare.
    """
    return object_record(factory, named=_code_of(factory)) | {
        "supplied": supplied_from(factory_name(factory))
    }


def named_factory(plugins: RunPlugins, factory: BrokerFactory) -> dict[str, Any]:
    """``plugins.sources`` with the caller's ``factory`` named as the broker, not called yet.

    So a resume compares the factory with the one the run recorded before it builds
    anything: another one (which may log in to a venue, or spend on a paid API) is refused
    without being called. As ``plugins.sources`` when no factory of the caller's builds
    the broker (the config's, or a broker handed in).
    """
    if factory is open_broker or plugins.broker is not None:
        return dict(plugins.sources)
    return {**plugins.sources, "broker": _factory_record(factory)}


def built_by_factory(
    cfg: DryrunConfig,
    run_dir: Path,
    plugins: RunPlugins,
    factory: BrokerFactory,
    *,
    named: Mapping[str, Any] | None = None,
) -> RunPlugins:
    """``plugins`` with the broker a caller's ``factory`` builds, and its record.

    ``plugins`` as they are for the config's own broker (``open_broker``) or a broker
    handed in, which replaces the factory. The broker built is the run's (``made``): it
    is closed when the session is not built. A factory that builds no ``Broker`` is a
    ``PluginError`` naming what it built. ``named``: the record ``named_factory`` made of
    ``factory`` already (a resume's), its module's file not hashed a second time.
    """
    if factory is open_broker or plugins.broker is not None:
        return plugins
    broker = factory(cfg, run_dir)
    try:
        if not isinstance(broker, Broker):
            raise PluginError(  # noqa: TRY301 - the broker built is closed below
                f"{FACTORY}={factory_name(factory)} returned {not_a(broker, Broker)}"
            )
        made = type(broker)
        known = _factory_record(factory) if named is None else dict(named)
        record = known | {"built": f"{made.__module__}.{made.__qualname__}"}
        record = with_declaration(broker, record)
    except BaseException:
        close_broker(broker)  # whatever it built is let go of
        raise
    return attrs.evolve(
        plugins,
        broker=broker,
        sources={**plugins.sources, "broker": record},
        made=plugins.made | {"broker"},
    )


def refuse_other_factory(
    run_dir: Path, recorded: Mapping[str, Any], current: Mapping[str, Any], *, run: str
) -> None:
    """Refuse to resume a run a factory built the broker of without that factory again.

    Given no factory, the resumed run would trade on the config's broker (``livesession
    resume`` has none to give); given another, on another venue. The same factory's
    changed code is ``check_sources``'s refusal.
    """
    was, now = recorded.get("broker"), current.get("broker")
    if not isinstance(was, Mapping) or not by_factory(was):
        return
    if isinstance(now, Mapping) and by_factory(now) and now.get("object") == was.get("object"):
        return
    name = str(was.get("supplied")).partition("=")[2]
    raise PluginError(
        f"run {run} was started with a broker {was.get('supplied')} ({was.get('object')}, "
        f"which built {was.get('built')}): {pass_again('broker', was)}, as "
        f"resume_run({str(run_dir)!r}, {FACTORY}={name}) (the command line cannot rebuild it)"
    )
