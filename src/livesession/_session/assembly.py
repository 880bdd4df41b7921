"""Building a session: the defaults for the edges a caller left out, and the wiring.

``assemble`` is the one construction path: ``LiveSessionOrchestrator(config, ...)``, the
runbook's ``run_dryrun`` and the run directory's ``create_run``/``resume_run`` all go
through it. It fills every edge the caller left out with the config's default (the clock
``clock_mode`` names, the mock broker, the feed and strategy the config names, memory sinks
and stores, the built-in rails then the config's ``rails``, the checks) and connects the
collaborators through callables, so none reaches into another.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TypeVar

import attrs

from .._artifacts.alerts import AlertTap, tap_alerts
from .._artifacts.recorder import Recorder
from .._artifacts.sinks import line_sink_edge, metrics_sink_edge
from .._domain import clock as _clock
from .._domain.config import DryrunConfig
from .._domain.decimal import with_context
from .._domain.reasons import (
    BROKER_CALL_FAILED,
    CLIENT_ID_IN_USE,
    FEED_ERROR,
    LEASE_LOST,
    STRATEGY_ERROR,
)
from .._domain.retry import RetryPolicy
from .._exceptions import ConfigError
from .._market.datapin import pin_data
from .._market.strategies import SmaCrossover
from .._market.venue import VenueFeed
from .._risk.checks import AnyCheck, session_checks
from .._risk.governor import TradingGovernor
from .._risk.rails import gated
from .._support.built import note
from .._support.references import is_reference
from .._support.secrets import redact_text, take_environment_secrets
from .._version import __version__
from ..brokers.mock import MockBroker, venue_options
from ..stores.memory import MemoryIdempotencyStore
from . import plugins
from .book import Book
from .broker_guard import guard_broker
from .broker_health import BrokerHealth
from .checkpoint import (
    Checkpointer,
    Keyed,
    StateOwner,
    VenueOffsets,
    gather,
    restore,
)
from .context import SessionContext
from .edges import SessionEdges, check_config, check_edges
from .execution import Execution
from .exits import OcoExits
from .feedsetup import OWN_FEEDS, default_feed, fit_to_feed
from .lease_keeper import LeaseKeeper, refuse_other_pair, watch_fences
from .lifecycle import SessionLifecycle
from .pipeline import halt_and_fault, input_failed
from .plugstate import PlugInState
from .reconciliation import Reconciliation
from .reports import ReportRouter
from .timekeeper import Timekeeper
from .winddown import WindDown

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from .._exceptions import Fenced
    from .._typing import (
        Broker,
        Clock,
        Fenceable,
        IdempotencyStore,
        MarketFeed,
        Strategy,
    )

__all__ = [
    "SessionEdges",
    "SessionParts",
    "assemble",
    "default_broker",
    "default_feed",
    "default_strategy",
    "fit_to_feed",
    "make_clock",
    "reconcile_grace_ns",
]

_NS_PER_MS: Final = 1_000_000
_T = TypeVar("_T")


@attrs.frozen(kw_only=True, eq=False)
class SessionParts(SessionContext):
    """One session's collaborators, wired together; the coordinator drives them."""

    feed: MarketFeed
    strategy: Strategy
    idempotency: IdempotencyStore
    checks: tuple[AnyCheck, ...]
    live_override: bool
    audit_present: bool
    lifecycle: SessionLifecycle
    execution: Execution
    exits: OcoExits
    reports: ReportRouter
    winddown: WindDown
    reconciliation: Reconciliation
    checkpointer: Checkpointer
    lease: LeaseKeeper | None
    broker_health: BrokerHealth
    alerts: AlertTap | None
    feed_dated: bool = attrs.field(init=False)
    """Whether the feed's bars carry their own times (``dated``): they set the step's time."""
    feed_gaps: Callable[[], Iterable[dict[str, Any]]] | None = attrs.field(init=False)
    """The feed's ``take_gaps`` (the venue feed's missing candles), or None."""

    plugin_states: tuple[PlugInState, PlugInState] = attrs.field(init=False)
    """The feed's and the strategy's checkpoint keys (their states are the caller's code)."""

    @plugin_states.default
    def _plugin_states(self) -> tuple[PlugInState, PlugInState]:
        return (
            PlugInState("feed", self.feed, reason=FEED_ERROR),
            PlugInState("strategy", self.strategy, reason=STRATEGY_ERROR),
        )

    own_feed: bool = attrs.field(init=False)
    """Whether the feed is one of livesession's data feeds, not a subclass (``OWN_FEEDS``):
    its bars are checked where they are made. A subclass's ``next_bar`` may be its own, so
    its bars are checked as any caller's feed's are, and its calls fenced."""
    own_strategy: bool = attrs.field(init=False)
    """Whether the strategy is livesession's demo ``SmaCrossover``, not a subclass. Neither
    changes the decimal context, so the step calls them in its own, without a fence."""

    @own_feed.default
    def _own_feed(self) -> bool:
        return type(self.feed) in OWN_FEEDS

    @own_strategy.default
    def _own_strategy(self) -> bool:
        return type(self.strategy) is SmaCrossover

    @feed_dated.default
    def _dated(self) -> bool:
        return getattr(self.feed, "dated", False) is True

    @feed_gaps.default
    def _gaps(self) -> Callable[[], Iterable[dict[str, Any]]] | None:
        take_gaps = getattr(self.feed, "take_gaps", None)
        return take_gaps if callable(take_gaps) else None

    venue_offsets: VenueOffsets = attrs.field(init=False)
    """The venue's journal offsets, asked of the broker at each checkpoint."""

    @venue_offsets.default
    def _venue_offsets(self) -> VenueOffsets:
        return VenueOffsets(self.broker)

    @with_context
    def checkpoint_state(self) -> dict[str, Any]:
        """The whole checkpoint, gathered from the collaborators that own each key.

        Raises ``CheckpointError`` when the broker cannot say its journal offset.
        """
        head = {
            "version": __version__,
            **self.venue_offsets.get_state(),
            "config": self.config.to_dict(),
        }
        state = gather(head, self._owners())
        state["recorder"] = self.recorder.get_state()
        return state

    @with_context
    def restore(
        self, state: dict[str, Any], digests: dict[str, Any], *, plugins: bool = True
    ) -> None:
        """Restore a checkpoint made by ``checkpoint_state`` (the run's digests beside it).

        ``plugins=False``: the feed's and the strategy's states were restored already
        (``resume`` tries them before it changes anything), so they are not handed theirs
        a second time.
        """
        owners = self._owners()
        restore(state, owners if plugins else owners[: -len(self.plugin_states)])
        self.recorder.set_state(state["recorder"], digests)

    def settle(self, *, torn: str = "", error: str = "") -> None:
        """The run's end once the seal is written: the sealing checkpoint, then the alert.

        A seal over a contract file the disk refused (a full disk) seals nothing: the last
        checkpoint stays, and resume continues from it once there is room again. Neither
        does a session ``torn`` (by ``error``) that never sealed. The seal's alert goes out
        only for a run sealed on disk (the audit's ``C2_DRYRUN_STOP``); any other posts
        ``RUN_UNSEALED``. A refused sealing checkpoint leaves the run sealed all the same:
        the alert names it (but for a lost lease: its new holder may own the checkpoint).
        So does a seal whose sync failed (EIO) after its stop record reached the file.
        """
        unsynced = self.lifecycle.unsynced
        sealed = not torn and (not self.recorder.dead or bool(unsynced))
        unwritten = ""
        if sealed:
            self.checkpointer.save_quiet()
            refused = self.checkpointer.seal_refused
            kept_none = self.checkpointer.kept_none  # nothing for resume to write: unsaid
            if refused is not None and self.lifecycle.reason != LEASE_LOST and not kept_none:
                unwritten = redact_text(f"{type(refused).__name__}: {refused}")
        if self.alerts is not None:
            self.alerts.settle(
                sealed=sealed, torn=torn, error=error, unwritten=unwritten, unsynced=unsynced
            )

    def _owners(self) -> tuple[StateOwner, ...]:
        """Every owner of checkpoint keys, the plug-ins' last."""
        return (
            self.lifecycle,
            self.time,
            self.execution,
            self.governor,
            self.winddown,
            self.reports,
            self.reconciliation,
            self.exits,
            self.broker_health,
            Keyed("book", self.book),
            *self.plugin_states,
        )


def make_clock(config: DryrunConfig) -> Clock:
    """The clock a config's ``clock_mode`` names."""
    if config.clock_mode == "fixed":
        return _clock.FixedClock(config.start)
    if config.clock_mode == "system":
        return _clock.SystemClock()
    return _clock.SimClock.at_ns(config.start_ns)


def default_broker(cfg: DryrunConfig, *, journal: Path | None = None) -> Broker:
    """The simulated broker ``cfg`` names, mock or realish (its venue journal at ``journal``).

    A broker named by reference (``package.module:callable``) is built by its factory.
    """
    if is_reference(cfg.broker):
        return plugins.broker_from_reference(cfg)[0]
    if cfg.broker == "realish":
        from ..brokers.realish import RealishBroker  # noqa: PLC0415 - loaded when chosen

        return RealishBroker.from_config(cfg, journal=journal)
    if cfg.broker != "mock":
        raise ConfigError(
            f"broker {cfg.broker!r} is not built by a session alone: pass it as broker= "
            f"(make_ccxt_broker({cfg.broker!r}, ...)), or create_run(config, out_dir) builds it"
        )
    return MockBroker(**venue_options(cfg, journal))


def default_strategy(cfg: DryrunConfig) -> Strategy:
    """The SMA-crossover demo configured by ``cfg``, or the ``strategy_factory``'s product."""
    if cfg.strategy_factory is not None:
        return plugins.strategy_from_reference(cfg)[0]
    sc = cfg.strategy
    return SmaCrossover(
        strategy_id=cfg.strategy_id,
        fast=sc.fast,
        slow=sc.slow,
        order_qty=sc.order_qty,
        protect_pct=sc.protect_pct,
    )


def reconcile_grace_ns(cfg: DryrunConfig) -> int:
    """How long a difference between book and venue may last before it is escalated.

    ``reconcile_grace_ms``, but never shorter than the report delays the config itself
    announces (the mock's latency, twice for a split fill; the realish broker's late fills
    and latency) plus one step: reports still in flight are no discrepancy.
    """
    slowest = 2 * cfg.fill_model.latency_ms + cfg.step_interval_ms
    if cfg.broker == "realish":
        slowest += cfg.realish.late_fill_ms + 2 * cfg.realish.latency_ms
    return max(cfg.reconcile_grace_ms, slowest) * _NS_PER_MS


def replay_window_ns(cfg: DryrunConfig, retry: RetryPolicy) -> int:
    """How far a resumed session may be behind the venue it reconnects to.

    The venue kept everything up to the crash, which may lie as far as a checkpoint
    interval, a whole wind-down and a retry budget past the checkpoint; until the re-run
    has caught up, the venue shows outcomes whose reports are still to come.
    """
    steps = cfg.checkpoint_every + cfg.stop_max_polls + 1
    return steps * cfg.step_interval_ns + retry.max_elapsed_ns


@with_context
def assemble(
    config: DryrunConfig, edges: SessionEdges, *, seal: Callable[[], None]
) -> SessionParts:
    """Build and wire one session's collaborators from ``config`` and ``edges``.

    ``seal`` is the coordinator's own last step, which the wind-down calls back into.
    Collaborators call each other both ways (a fill places exits, exits send orders, the
    reconciler closes orders the reports would have closed), so the callables handed to
    the first ones built refer to later ones by name: lambdas, bound when first called.
    """
    check_config(config)  # a dict, a config file's name: refused, saying what would do
    check_edges(edges)  # an edge of the wrong kind is refused before anything is built
    take_environment_secrets()  # redaction adds the environment's secrets, as they are now
    e = edges
    if e.get("strategy") is not None:
        plugins.check_strategy_id(e.get("strategy"), config.strategy_id)
    feed = _or_default(e.get("feed"), lambda: default_feed(config))
    if isinstance(feed, VenueFeed) and not feed.attached:
        raise ConfigError(
            "feed 'venue' journals the venue's bars in a run directory: use create_run"
        )
    cfg = pin_data(fit_to_feed(config, feed), feed)  # hashed with its data file's SHA-256
    refuse_other_pair(e.get("lease"), cfg.account, cfg.strategy_id)
    recorder = Recorder(
        run_id=cfg.run_id,
        strategy_id=cfg.strategy_id,
        events=line_sink_edge(e, "event_sink"),
        states=line_sink_edge(e, "state_sink"),
        audit=line_sink_edge(e, "audit_sink"),
        metrics=metrics_sink_edge(e, "metrics_sink"),
        max_sink_retries=cfg.max_sink_retries,
        sync_each_line=cfg.durability == "event",
    )
    start_ns = cfg.start_ns
    broker = guard_broker(_or_default(e.get("broker"), lambda: default_broker(cfg)))
    idem: IdempotencyStore = _or_default(
        e.get("idempotency"),
        lambda: MemoryIdempotencyStore(_clock.SimClock.at_ns(start_ns), ttl_ns=None),
    )
    given_lease = e.get("lease")
    checkpoints = e.get("checkpoints")

    def lease_fenced(exc: Fenced) -> None:  # the keeper is built below
        if lease is not None:
            lease.fenced(exc)

    # Shared stores carry the lease's fencing token, and their refused writes lose it.
    fenced: list[Fenceable] = []
    if given_lease is not None:
        idem, checkpoints = watch_fences(idem, checkpoints, fenced, lease_fenced)
    retry = e.get("retry_policy") or RetryPolicy(seed=cfg.seed)
    book = Book(initial_cash=cfg.initial_cash)
    time = Timekeeper(
        _or_default(e.get("clock"), lambda: make_clock(cfg)),
        recorder,
        start_ns=start_ns,
        interval_ns=cfg.step_interval_ns,
    )
    governor = TradingGovernor(recorder, daily_loss_pct=cfg.risk.daily_loss_pct, start_ns=start_ns)
    lifecycle = SessionLifecycle(recorder, book, steps=lambda: time.steps, halt=governor.halt)
    tap = None
    if (alerts := e.get("alerts")) is not None:  # follows the audit; closed with the recorder
        tap = tap_alerts(recorder, alerts, lambda: (lifecycle.state.value, lifecycle.status.value))
    ctx = SessionContext(
        config=cfg,
        recorder=recorder,
        book=book,
        broker=broker,
        time=time,
        governor=governor,
        may_send=_always if given_lease is None else (lambda: lease is None or lease.current()),
        may_trade=_always if given_lease is None else (lambda: lease is None or lease.live()),
    )
    health = BrokerHealth(
        ctx,
        max_failures=cfg.broker_max_consecutive_failures,
        silence_ns=cfg.broker_silence_ms * _NS_PER_MS,
        start_ns=start_ns,
    )
    execution = Execution(
        ctx,
        idempotency=idem,
        rails=gated(_or_default(e.get("rails"), lambda: plugins.config_rails(cfg))),
        retry=retry,
        protect=lambda cid, protection: exits.watch(cid, protection),  # noqa: PLW0108
        health=health,
        id_in_use=lambda exc: halt_and_fault(parts, CLIENT_ID_IN_USE, exc),
    )
    exits = OcoExits(
        ctx,
        fsm_state=lambda: lifecycle.state,
        send=lambda order, seq, reason, links: execution.send(
            order, seq, reason=reason, links=links
        ),
        request_cancel=lambda cid: winddown.request_cancel(cid),  # noqa: PLW0108
        grace_ns=reconcile_grace_ns(cfg),
    )
    reports = ReportRouter(
        ctx,
        exits=exits,
        adopt=lambda cid, evidence: reconciliation.adopt(cid, evidence),  # noqa: PLW0108
        after_poll=lambda: winddown.check_flat() if winddown.killing else None,
        health=health,
        fault=lifecycle.fault,
        sent=lambda cid: idem.get(cid) is not None,
    )
    reconciliation = Reconciliation(
        ctx,
        idempotency=idem,
        exits=exits,
        reports=reports,
        request_cancel=lambda cid: winddown.request_cancel(cid),  # noqa: PLW0108
        resolved=execution.outcome_resolved,
        fault=lifecycle.fault,
        grace_ns=reconcile_grace_ns(cfg),
        replay_window_ns=replay_window_ns(cfg, retry),
        health=health,
    )
    winddown = WindDown(
        ctx,
        lifecycle=lifecycle,
        process_reports=reports.process,
        flatten=lambda: execution.flatten(reconciliation.not_at_venue()),
        reconcile=reconciliation.reconcile,
        escalated_orders=reconciliation.escalated_orders,
        doubt_pending=reconciliation.doubt_pending,
        pending=reconciliation.pending_keys,
        seal=seal,
        health=health,
    )
    checkpointer = Checkpointer(
        checkpoints,
        recorder=recorder,
        durability=cfg.durability,
        every=cfg.checkpoint_every,
        state=lambda: parts.checkpoint_state(),  # noqa: PLW0108
        plugin_failed=lambda exc: input_failed(parts, exc.reason, exc.cause, step=parts.time.steps),
        venue_failed=lambda exc: halt_and_fault(parts, BROKER_CALL_FAILED, exc),
    )

    def lease_lost() -> None:
        governor.halt()
        checkpointer.seal_only()

    lease = (
        None
        if given_lease is None
        else LeaseKeeper(
            given_lease,
            recorder=recorder,
            clock=_or_default(e.get("lease_clock"), _clock.SystemClock),
            holder=e.get("lease_holder") or cfg.run_id,
            account=cfg.account,
            strategy=cfg.strategy_id,
            ttl_ms=cfg.lease_ttl_ms,
            on_lost=lease_lost,
            fault=lifecycle.fault,
            guarded=lifecycle.guarded,
            steps=lambda: time.steps,
            fenced=fenced,
        )
    )
    parts = SessionParts(
        **attrs.asdict(ctx, recurse=False),
        feed=feed,
        strategy=_or_default(e.get("strategy"), lambda: default_strategy(cfg)),
        idempotency=idem,
        checks=session_checks(e.get("checks")),
        live_override=e.get("live_override", False),
        audit_present=e.get("audit_sink") is not None,
        lifecycle=lifecycle,
        execution=execution,
        exits=exits,
        reports=reports,
        winddown=winddown,
        reconciliation=reconciliation,
        checkpointer=checkpointer,
        lease=lease,
        broker_health=health,
        alerts=tap,
    )
    note(parts)  # a test's ``built(SessionParts)`` gets them
    return parts


def _always() -> bool:
    return True


def _or_default(value: _T | None, make: Callable[[], _T]) -> _T:
    """The edge the caller gave, or the default ``make`` builds."""
    return make() if value is None else value
