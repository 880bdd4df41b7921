"""The one place a run directory's session is built, for a new run and a resumed one."""

from __future__ import annotations

import contextlib
from pathlib import Path

from .._artifacts import names
from .._artifacts.sinks import FileLineSink, FileMetricsSink
from .._domain.config import DryrunConfig
from .._domain.runtime_config import Secret
from .._session.assembly import SessionEdges
from .._session.coordinator import LiveSessionOrchestrator
from .._typing import AlertSink, Clock, SessionLease
from ..stores import FileCheckpointStore
from .alerting import open_alerts
from .backing import holder_id, open_lease, open_store
from .brokers import BrokerFactory, add_venue_checks
from .layout import Backing
from .plugins import RunPlugins, add_broker_check, given_broker
from .venue import attach_venue

__all__ = ["open_session"]


def open_session(
    cfg: DryrunConfig,
    run_dir: Path,
    plugins: RunPlugins,
    *,
    idempotency_backend: str,
    clock: Clock | None,
    broker_factory: BrokerFactory,
    append: bool,
    live_override: bool = False,
    backing: Backing | None = None,
    lease: SessionLease | None = None,
    lease_clock: Clock | None = None,
    alerts: AlertSink | Secret | None = None,
) -> LiveSessionOrchestrator:
    """A session writing into ``run_dir``: its sinks, stores, broker and lease.

    ``append`` continues the artifacts (resume) instead of starting them. Without a
    ``lease`` the one ``backing`` asks for is opened here, and closed again when building
    the session fails; a lease passed in (resume took it) stays the caller's. The run's ``plugins``
    (``open_plugins``: its feed, already checked, its strategy, and a broker of its own,
    which replaces ``broker_factory``) are the session's from then on. ``alerts``
    (``choose_alerts``): the session's alert sink, or the webhook URL to build one for.
    """
    durable = cfg.durability != "none"
    owned = lease is None
    if lease is None:
        lease = open_lease(cfg, run_dir, backing if backing is not None else Backing())
    alert_sink: AlertSink | None = None
    try:
        alert_sink = open_alerts(cfg, run_dir, alerts)
        if plugins.broker is not None:
            broker_factory = given_broker(plugins.broker)
        broker = broker_factory(cfg, run_dir)
        feed = plugins.feed
        try:
            attach_venue(feed, broker, cfg, run_dir)  # the venue's bars, journaled in the run
        except BaseException:
            with contextlib.suppress(Exception):
                broker.close()
            raise
        edges = SessionEdges(
            clock=clock,
            broker=broker,
            event_sink=FileLineSink(run_dir / names.ARTIFACTS["events"], append=append),
            state_sink=FileLineSink(run_dir / names.ARTIFACTS["states"], append=append),
            audit_sink=FileLineSink(run_dir / names.ARTIFACTS["audit"], append=append),
            metrics_sink=FileMetricsSink(run_dir / names.METRICS, durable=durable),
            idempotency=open_store(idempotency_backend, cfg, run_dir, durable=durable),
            checkpoints=FileCheckpointStore(run_dir / names.CHECKPOINT, durable=durable),
            live_override=live_override,
            lease=lease,
            lease_clock=lease_clock,
            lease_holder=holder_id(cfg),
            feed=feed,
            strategy=plugins.strategy,
            alerts=alert_sink,
        )
        session = LiveSessionOrchestrator(cfg, **edges)
        add_venue_checks(session)
        add_broker_check(session, plugins.sources)
    except BaseException:
        if owned and lease is not None:
            lease.close()
        close_alerts = getattr(alert_sink, "close", None)
        if callable(close_alerts):  # a webhook's worker thread
            close_alerts()
        raise
    return session
