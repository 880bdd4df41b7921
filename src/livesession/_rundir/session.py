"""The one place a run directory's session is built, for a new run and a resumed one."""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import attrs

from .._artifacts import names
from .._artifacts.sinks import FileLineSink, FileMetricsSink
from .._artifacts.webhook import WebhookAlertSink
from .._domain.config import DryrunConfig
from .._domain.runtime_config import Secret
from .._session.assembly import SessionEdges
from .._session.coordinator import LiveSessionOrchestrator, give_strategy
from .._session.plugins import config_rails
from .._session.torn import resumes_in
from .._support.logging import get_logger
from .._typing import AlertSink, Clock, Closable, SessionLease
from ..stores import FileCheckpointStore
from .alerting import open_alerts
from .backing import holder_id, open_lease, open_store
from .brokerhold import hold_broker
from .brokers import BrokerFactory, add_venue_checks
from .layout import Backing
from .lock import _HELD, RunLock
from .plugins import RunPlugins, add_broker_check, given_broker
from .shellrefs import remember
from .venue import attach_venue

__all__ = ["let_go_refused", "open_session", "runs_held"]

_C = TypeVar("_C", bound=Closable)


def open_session(
    cfg: DryrunConfig,
    run_dir: Path,
    plugins: RunPlugins,
    *,
    lock: RunLock,
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
    the session fails, as are the broker, artifact files and store opened for it (so that
    no descriptor is held past the failure); a lease passed in (resume took it) stays the
    caller's. The run's ``plugins`` (``open_plugins``: its feed, already checked, its
    strategy, and a broker of its own, which replaces ``broker_factory``) are the
    session's from then on; it closes the strategy as it closes when the strategy was made
    from the config (``plugins.made``), never one the caller handed in. ``alerts``
    (``choose_alerts``): the session's alert sink, or the webhook URL to build one for.

    The session holds the run directory's ``lock`` until it closes, and lets go of it last.
    One an application drops without ``close()`` (its handler raised) lets go of its
    artifact files, its lease's connection and then the lock when it is garbage-collected:
    the run is then an ordinary crashed run that ``resume_run`` continues, in this process
    too.
    """
    # Fixed now: a plug-in that calls os.chdir() mid-run must not move where the session
    # writes (a relative run directory would then name another place, or none).
    given, run_dir = run_dir, run_dir.absolute()  # what its words name: as the caller gave it
    durable = cfg.durability != "none"
    owned = lease is None
    if lease is None:
        lease = open_lease(cfg, run_dir, backing if backing is not None else Backing(), lease_clock)
    alert_sink: AlertSink | None = None
    opened: list[Closable] = []  # closed again when the session is not built
    try:
        alert_sink = open_alerts(cfg, run_dir, alerts)
        if plugins.broker is not None:
            broker_factory = given_broker(plugins.broker)
        broker = broker_factory(cfg, run_dir)
        held = hold_broker(broker, cfg.run_id)  # another open session's: refused, left open
        opened.extend((held, broker))
        feed = plugins.feed
        attach_venue(feed, broker, cfg, run_dir)  # the venue's bars, journaled in the run
        events, states, audit = (
            _kept(opened, FileLineSink(run_dir / names.ARTIFACTS[name], append=append))
            for name in ("events", "states", "audit")
        )
        store = open_store(idempotency_backend, cfg, run_dir, durable=durable, fresh=not append)
        idempotency = _kept(opened, store)
        files: list[Closable] = [events, states, audit, idempotency]
        edges = SessionEdges(
            clock=clock,
            broker=broker,
            event_sink=events,
            state_sink=states,
            audit_sink=audit,
            metrics_sink=FileMetricsSink(run_dir / names.METRICS, durable=durable),
            idempotency=idempotency,
            checkpoints=_Checkpoints(
                run_dir / names.CHECKPOINT, durable=durable, lock=lock, run_id=cfg.run_id
            ),
            live_override=live_override,
            lease=lease,
            lease_clock=lease_clock,
            lease_holder=holder_id(cfg),
            feed=feed,
            strategy=plugins.strategy,
            alerts=alert_sink,
            # The built-in rails, then the desk's own the config names (built once, above).
            rails=config_rails(cfg, plugins.rails) if plugins.rails else None,
        )
        session = LiveSessionOrchestrator(cfg, **edges)
        add_venue_checks(session)
        add_broker_check(session, plugins.sources)
    except BaseException:
        # Out of file descriptors, say: what was opened is closed, so that the caller can
        # remove the run directory it made and the error names the cause, not a later one.
        for thing in reversed(opened):
            with contextlib.suppress(Exception):
                thing.close()
        if owned and lease is not None:
            lease.close()
        close_alerts = getattr(alert_sink, "close", None)
        if callable(close_alerts) and alert_sink is not alerts:  # the webhook opened here
            close_alerts()  # (a sink of the application's may serve its other sessions)
        raise
    if "strategy" in plugins.made:  # made from the config here: the session closes it
        give_strategy(session)
    session.close_with(held)
    session.close_with(lock)
    # Only what the run directory opened for it, never a plug-in (which may refer to the
    # session, and would keep it alive for ever): the finalizer holds no path back to it.
    # The lease is the run's too (opened here, or by the resume): its connection is closed,
    # its grant kept, as a crash keeps it (a PostgreSQL one's watchdog thread refers to the
    # connection, so it would never be collected). So is the webhook sink opened here, whose
    # worker thread refers to it: stopped, its queue lost, as a crash loses it.
    webhook = None
    if isinstance(alert_sink, WebhookAlertSink) and alert_sink is not alerts:  # not the app's
        webhook = _Unsent(alert_sink)
    collected = weakref.finalize(session, _let_go, (*files, lease, webhook), lock)
    collected.atexit = False
    own = broker if plugins.broker is None else None  # the config's venue, built just above
    _BUILT[session] = _Built(collected, (*files, webhook, held, own))
    remember(run_dir, session)  # for a refusal's words: where this process still holds it
    resumes_in(session, given)  # a torn session's words: the commands that resume its run
    return session


class _Checkpoints(FileCheckpointStore):
    """The session's checkpoints: each puts back a ``writer.lock`` deleted meanwhile."""

    def __init__(self, path: Path, *, durable: bool, lock: RunLock, run_id: str) -> None:
        super().__init__(path, durable=durable)
        self._lock = lock
        self._run_id = run_id

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        super().save(checkpoint)
        if self._lock.renew():
            get_logger().warning(
                "writer_lock_put_back",
                run_id=self._run_id,
                run_dir=str(self._lock.run_dir),
                detail=f"{names.WRITER_LOCK} was removed while this process writes the run; "
                "put back at the checkpoint (do not delete it)",
            )


def _kept(opened: list[Closable], thing: _C) -> _C:
    """``thing``, added to ``opened`` (what building the session opened, in order)."""
    opened.append(thing)
    return thing


class _Unsent:
    """A run's webhook sink, for its collected session: closing it drops what it holds."""

    def __init__(self, sink: WebhookAlertSink) -> None:
        self._sink = sink

    def close(self) -> None:
        self._sink.drop_unsent()


def _let_go(files: Sequence[Closable | None], lock: RunLock) -> None:
    """Close a dropped session's files and lease, then its run's lock (its collection)."""
    try:
        for file in files:
            with contextlib.suppress(Exception):  # nobody is left to tell
                if file is not None:
                    file.close()
    finally:
        lock.release()


@attrs.frozen
class _Built:
    """What ``open_session`` opened for a session, for ``let_go_refused``."""

    collected: weakref.finalize[..., LiveSessionOrchestrator]
    """Lets go of the session's files, lease and lock when it is collected."""
    opened: tuple[Closable | None, ...]
    """Its artifact files and store, its webhook, its hold on the broker, a broker of its own."""


_BUILT: weakref.WeakKeyDictionary[LiveSessionOrchestrator, _Built] = weakref.WeakKeyDictionary()


def let_go_refused(session: LiveSessionOrchestrator) -> None:
    """Let go at once of a session the resume built and then refused, writing nothing more.

    Its artifact files and idempotency store are closed, its webhook's queue dropped, its
    hold on the broker let go and a broker it built from the config closed. Left to the
    garbage collector (a refused session is in reference cycles), each refused
    ``resume_run`` of an application kept six descriptors of the run open, and a broker
    object passed to the next ``resume_run`` was refused as held by the session of the
    run, "still open", a session the caller never had to close. The lease and the writer
    lock stay the caller's: ``resume_run`` releases the one and puts the other back.
    """
    built = _BUILT.pop(session, None)
    if built is None or built.collected.detach() is None:
        return
    for thing in built.opened:
        with contextlib.suppress(Exception):  # the refusal is what the caller is told
            if thing is not None:
                thing.close()


def runs_held() -> list[Path]:
    """The run directories whose writer lock this process still holds, sorted.

    A session lets its run's lock go only once its last artifact byte is written: none
    held means every run this process opened is closed, its files and its seal written.
    """
    return sorted(lock.run_dir for lock in list(_HELD) if lock.held)
