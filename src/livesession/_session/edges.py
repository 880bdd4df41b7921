"""What a caller may inject into a session, and the refusal of an edge of the wrong kind.

Each edge is checked when the session is built, before anything is built from it: an edge
of the wrong kind (``clock=5``) would otherwise be found out steps later, as a bare
``AttributeError`` in the middle of a run, or never (an alert sink that is not one posts
nothing). ``create_run`` and ``resume_run`` check theirs with ``check_edges`` too, before
they write anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Final, TypedDict

from .._artifacts.webhook import refuse_closed_webhook
from .._domain.config import DryrunConfig
from .._domain.retry import RetryPolicy
from .._exceptions import ConfigError, PluginError
from .._support.crash import ARMING_PROBLEM
from .._support.oserrors import cwd_gone
from .._support.references import a_, not_a, uncallable
from .._typing import (
    AlertSink,
    Broker,
    CheckpointStore,
    Clock,
    IdempotencyStore,
    MarketFeed,
    SessionLease,
    Strategy,
)

if TYPE_CHECKING:
    from .._risk.checks import AnyCheck
    from .._risk.rails import Rail

__all__ = [
    "SessionEdges",
    "check_config",
    "check_edges",
    "check_path",
    "edge_refusal",
    "unexpected_keywords",
]


class SessionEdges(TypedDict, total=False):
    """What a caller may inject, by keyword; each edge left out (or None) takes the default.

    ``LiveSessionOrchestrator(config, **edges)`` takes these keywords; ``assemble`` fills
    the rest from the config: the clock ``clock_mode`` names, the mock broker, the feed and
    strategy the config names, memory sinks and stores, the default rails and checks.
    """

    clock: Clock | None
    broker: Broker | None
    feed: MarketFeed | None
    strategy: Strategy | None
    event_sink: object | None
    state_sink: object | None
    audit_sink: object | None
    metrics_sink: object | None
    idempotency: IdempotencyStore | None
    checkpoints: CheckpointStore | None
    rails: Sequence[Rail] | None
    checks: Sequence[AnyCheck] | None
    """Preflight checks of the caller's: run after the built-in ones, never instead of them."""
    retry_policy: RetryPolicy | None
    live_override: bool
    lease: SessionLease | None
    lease_clock: Clock | None
    lease_holder: str | None
    alerts: AlertSink | None


_KINDS: Final[Mapping[str, type]] = {
    "clock": Clock,
    "broker": Broker,
    "feed": MarketFeed,
    "strategy": Strategy,
    "idempotency": IdempotencyStore,
    "checkpoints": CheckpointStore,
    "retry_policy": RetryPolicy,
    "live_override": bool,
    "lease": SessionLease,
    "lease_clock": Clock,
    "lease_holder": str,
    "alerts": AlertSink,
}
"""The kind of each edge checked by its type; the sinks are checked where they are wrapped
(``as_line_sink``: a sink or a writable file object), the rails and checks below."""

_CALLABLES: Final = {"rails": "Rail", "checks": "Check"}


def edge_refusal(name: str, value: object, kind: type) -> PluginError:
    """The one-line refusal of ``value`` given as the edge ``name`` where a ``kind`` belongs.

    ``clock= got an int, not a Clock: it lacks now``.
    """
    if getattr(kind, "_is_protocol", False):
        return PluginError(f"{name}= got {not_a(value, kind)}")
    return PluginError(f"{name}= got {a_(type(value).__name__)}, not {a_(kind.__name__)}")


def check_config(config: object) -> None:
    """Refuse (``ConfigError``) a ``config`` that is not a ``DryrunConfig``, saying what would do.

    A settings dict or a config file's name given where the config goes used to die of
    ``'dict' object has no attribute 'run_id'`` in ``create_run``. A crash harness's
    variable that arms nothing (``LIVESESSION_CRASH_AT=before_send:x``) is refused here
    too, before the run, not by its crash point in the middle of it.
    """
    if ARMING_PROBLEM is not None:
        raise ConfigError(ARMING_PROBLEM)
    if isinstance(config, DryrunConfig):
        return
    said = f"config must be a DryrunConfig, got {type(config).__name__}"
    if isinstance(config, (str, os.PathLike)):
        said += f": read the config file with load_config({os.fspath(config)!r})"
    elif isinstance(config, Mapping):
        said += ": build one from its settings with DryrunConfig.from_mapping(...)"
    raise ConfigError(said)


def check_path(name: str, value: object) -> None:
    """Refuse (``ConfigError``) a ``name`` argument that is no path (a str or an os.PathLike).

    A relative one in a process whose working directory was removed leads nowhere: refused
    naming it (it was a bare ``FileNotFoundError`` naming no file), as the CLI refuses it.
    """
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(
            f"{name} must be a path (a str or an os.PathLike), got {type(value).__name__}"
        )
    text = os.fspath(value)
    gone = cwd_gone(text) if isinstance(text, str) else None
    if gone is not None:
        raise ConfigError(f"{name}: {gone}")


def unexpected_keywords(
    name: str, unknown: Sequence[str], takes: Sequence[str], why: str = ""
) -> TypeError:
    """The one refusal of keywords ``name`` does not take, naming those it does take.

    ``create_run got unexpected keyword argument(s): ['brokr']; it takes clock, ...``:
    ``LiveSessionOrchestrator`` (and ``open_session`` in memory) say it as ``create_run``
    and ``resume_run`` do. ``why`` follows the keywords (`` (event_sink: ...)``).
    """
    return TypeError(
        f"{name} got unexpected keyword argument(s): {list(unknown)}{why}; "
        f"it takes {', '.join(takes)}"
    )


def check_edges(edges: Mapping[str, object]) -> None:
    """Refuse an unknown edge (``TypeError``) or one of the wrong kind (``PluginError``).

    An edge that is None takes its default and is not checked.
    """
    unknown = sorted(set(edges) - SessionEdges.__optional_keys__)
    if unknown:
        raise unexpected_keywords(
            "LiveSessionOrchestrator", unknown, list(SessionEdges.__annotations__)
        )
    for name, value in edges.items():
        kind = _KINDS.get(name)
        if value is None:
            continue
        if kind is not None and not isinstance(value, kind):
            raise edge_refusal(name, value, kind)
        wrong = "" if kind is None else uncallable(value, kind)
        if wrong:  # the first step's call would fail, its run already started
            raise PluginError(f"{name}= got {a_(type(value).__name__)}: {wrong}")
        if name == "alerts":
            refuse_closed_webhook(value)
        if name in _CALLABLES:
            _check_callables(name, value, _CALLABLES[name])


def _check_callables(name: str, value: object, what: str) -> None:
    """``rails`` and ``checks``: a sequence (a list, a tuple) of callables.

    The items of an iterable that is no sequence (a generator) are left unchecked: looking
    at them here would use them up.
    """
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise PluginError(f"{name}= got {a_(type(value).__name__)}, not a sequence of {what}")
    if not isinstance(value, Sequence):
        return
    for position, item in enumerate(value, start=1):
        if not callable(item):
            raise PluginError(
                f"{name}= item {position} is {a_(type(item).__name__)}, not {a_(what)} (a callable)"
            )
