"""Resume a crashed run from its last checkpoint.

Everything is validated first (checkpoint, audit chain, artifact sizes, venue journals,
the data file: the bytes the run read, with the SHA-256 ``run.json`` recorded; rows
appended to a CSV file since are not read), and the feed and the
strategy are given their checkpointed states (their ``set_state`` is the caller's code),
while nothing on disk has changed; only then are the artifacts cut back to the
checkpoint's offsets (the torn tails move to ``<file>.torn``; the audit log keeps the
``C2_RESUME`` records right after the checkpoint's, see ``resumecut``), the session
restored, the venue journal replayed and ``C2_RESUME`` audited and written out. A refusal
after the cut puts the tails back first (``uncut``): the run is as the crash left it.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runfiles import refuse_odd_files
from .._domain import clock as _clock
from .._domain.decimal import with_context
from .._domain.lifecycle import SessionState, reported_status
from .._exceptions import LeaseError, RunDirectoryError
from .._session.aftercheckpoint import recover_orders
from .._session.assembly import make_clock
from .._session.coordinator import restore_resumed
from .._session.edges import check_path
from .._support.anchor import anchored
from .._support.logging import get_logger
from .._support.oserrors import said, unwritable_run
from .._support.tmpfiles import remove_dead_tmp
from ..brokers._journal import replay_deferred
from ..brokers.mock import MockBroker
from .aftercheckpoint import looked_up_open, recorded_fills, sent_after
from .alerting import choose_alerts
from .backing import close_lease, lease_not_held, take_lease
from .beforecheckpoint import ResumeRead
from .brokers import BrokerFactory, close_broker, early_broker, open_broker, own_credentials_taken
from .catchup import told_at_resume, venue_catch_up
from .data import check_data_unchanged
from .drift import check_config_kept
from .factory import built_by_factory, named_factory, refuse_other_factory
from .identity import copy_problem, linked_problem
from .keptkeys import check_keys_kept
from .layout import (
    STORES,
    Backing,
    read_run_config,
    read_run_meta,
    refuse_resume_of_other_release,
    what_reads,
)
from .lock import RunLock, refuse_if_held, writer_command
from .plugins import (
    PlugIns,
    RunPlugins,
    apply_references,
    check_call,
    open_plugins,
    restore_plugins,
    with_clock,
)
from .reseal import reseal
from .resumable import OTHER_RELEASE, check_memory_on_a_venue, load_checkpoint
from .resumeclock import refuse_clock_behind
from .resumecut import (
    AuditCut,
    check_journals,
    cut_back,
    refuse_while_evidence_reads,
    validate_artifacts,
)
from .resumerecord import go_on_after, record_at_once
from .seal import operator_settles
from .session import let_go_refused, open_session
from .sourcefiles import refuse_unfound_sources
from .supplied import check_sources
from .uncut import put_back_refused

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Unpack

    from .._domain.config import DryrunConfig
    from .._domain.runtime_config import Secret
    from .._session.coordinator import LiveSessionOrchestrator
    from .._typing import AlertSink, Broker, Clock, SessionLease

__all__ = ["resume_run", "say_resumed"]


@with_context
def resume_run(
    run_dir: str | os.PathLike[str],
    *,
    clock: Clock | None = None,
    broker_factory: BrokerFactory = open_broker,
    lease_clock: Clock | None = None,
    alerts: AlertSink | bool = True,
    **given: Unpack[PlugIns],
) -> LiveSessionOrchestrator:
    """Reopen a crashed run at its last checkpoint, ready to continue.

    ``run_dir`` is a ``str`` or ``os.PathLike``; the keywords are checked as ``create_run``
    checks them (``PluginError`` naming one of the wrong kind, nothing changed).

    ``alerts`` as for ``create_run``; the config file is not read again, so a resumed run's
    webhook comes from ``LIVESESSION_ALERT_WEBHOOK_URL`` (the URL is never in the run
    directory).

    The run's plug-ins are built again: references from its ``config.json`` (a reference
    passed here must be the one recorded), objects passed again as ``strategy``, ``feed``
    or ``broker`` when the run was created with objects, and the same ``broker_factory``
    when a factory of the caller's built its broker. A referenced module whose source
    file's SHA-256 differs from the one recorded, or a missing or different object, raises
    ``PluginError`` with nothing changed; so does a feed's or strategy's ``set_state`` that
    raises on the state the checkpoint holds (they are restored before anything changes).

    Validates everything first and changes nothing on disk when anything is wrong (a run
    file that is a symlink, a FIFO or a device is refused before anything is read, and so is
    one with a second name, a hard-linked copy's (``linked_problem``); so is a
    ``config.json`` changed since the run began, and a copy of a run on a venue that
    outlives its directory: ``drift``, ``identity``). A run with a lease takes it next:
    ``LeaseHeld`` while another live session holds it, with nothing changed and nothing
    built (its ``broker_factory`` is not called). Then cuts each artifact back to the
    checkpoint's offset (the tail goes to ``<file>.torn``; the audit log keeps the
    ``C2_RESUME`` records of earlier resumes killed before their first checkpoint), restores
    the session, lets the venue journal replay, and audits ``C2_RESUME``, written out before
    this returns (and ``C2_LEASE_ACQUIRED`` with the new fencing token). Refused after the
    cut (a desk venue's ``mark`` raising, say), it puts the tails back first, and says so
    (``uncut``): the run stays cut back only when that cannot be done, its error says why.
    """
    check_path("run_dir", run_dir)
    check_call(
        resume_run, given, clock=clock, lease_clock=lease_clock, broker_factory=broker_factory
    )
    run_dir = anchored(run_dir)  # one directory for the whole call: another thread may chdir
    refuse_odd_files(run_dir)  # a symlink there: the resume appended to what it led to
    if linked := linked_problem(run_dir):  # before the lock: writer.lock may be shared too
        raise RunDirectoryError(f"cannot resume {run_dir} (nothing was changed): {linked}")
    refuse_resume_of_other_release(run_dir, read_run_meta(run_dir), OTHER_RELEASE)  # before config
    try:
        cfg, meta = read_run_config(run_dir)
    except RunDirectoryError as exc:  # a config.json edited (and run.json not): as below
        raise RunDirectoryError(f"cannot resume {run_dir} (nothing was changed): {exc}") from None
    # As recorded (before references become objects): an edited config.json, or a copy.
    refused = check_config_kept(run_dir, cfg) or copy_problem(run_dir, cfg, meta)
    cfg = apply_references(cfg, **given, recorded=meta.get("sources") or {})
    alert_choice = choose_alerts(cfg, alerts)  # a bad webhook URL is refused here
    # said so, not `cannot open writer.lock` (nor, for its database, once files were cut)
    if unwritable := unwritable_run(run_dir, *names.RESUME_OPENS):
        # A sealed run has nothing to resume, writable or not: not `remount ... continues it`.
        # Its checkpoint is final (replaced atomically), so it is read before the lock.
        checkpoint = None
        with contextlib.suppress(RunDirectoryError):  # unreadable: the refusal below stands
            checkpoint = load_checkpoint(run_dir)
        _refuse_ended_or_changed(run_dir, cfg, checkpoint, "")
        refuse_if_held(run_dir)  # another user's live run: not `give this user write ...`
        raise RunDirectoryError(f"cannot resume {run_dir} (nothing was changed): {unwritable}")
    # One writer per run: nothing below reads files a live writer may be appending to, or
    # changes anything, before the lock is ours.
    try:
        lock = RunLock.acquire(run_dir, writer_command("resume"), cfg.run_id)
    except OSError as exc:  # a file system without locks: `No locks available` alone, before
        raise RunDirectoryError(
            f"cannot resume {run_dir} (nothing was changed): {said(exc)}"
        ) from None
    try:
        refuse_while_evidence_reads(run_dir)  # it would hash files this cuts and writes
        with replay_deferred() as defer_replay:
            session = _reopen(
                run_dir,
                cfg,
                meta,
                refused=refused,
                lock=lock,
                clock=clock,
                broker_factory=broker_factory,
                lease_clock=lease_clock,
                given=given,
                alerts=alert_choice,
                defer_replay=defer_replay,
            )
    except BaseException:
        lock.abandon()  # refused: the run directory is as it was, lock file included
        raise
    return session


def _open_again(
    cfg: DryrunConfig, meta: dict[str, Any], given: PlugIns, run_dir: Path, *, own_factory: bool
) -> RunPlugins:
    """The run's plug-ins built again, a module resume cannot find said first."""
    refuse_unfound_sources(cfg, meta.get("sources") or {}, given)  # not the import's words
    return open_plugins(
        cfg,
        **given,
        journal=run_dir / names.JOURNAL,
        data_bytes=cfg.feed_bytes,
        own_factory=own_factory,
    )


def _reopen(
    run_dir: Path,
    cfg: DryrunConfig,
    meta: dict[str, Any],
    *,
    refused: str,
    lock: RunLock,
    clock: Clock | None,
    broker_factory: BrokerFactory,
    lease_clock: Clock | None,
    given: PlugIns,
    alerts: AlertSink | Secret | None,
    defer_replay: Callable[[], None],
) -> LiveSessionOrchestrator:
    checkpoint = load_checkpoint(run_dir)
    _refuse_ended_or_changed(run_dir, cfg, checkpoint, refused)
    if checkpoint is not None:  # _venue_catch_up rebuilds the venue once, to the checkpoint
        defer_replay()
    # Sealed by its audit log, the checkpoint left unwritten: that checkpoint, and no more.
    reseal(run_dir, checkpoint, durable=cfg.durability != "none")
    check_memory_on_a_venue(cfg, meta)
    offsets, audit_cut, read = validate_artifacts(run_dir, checkpoint)
    check_journals(run_dir, checkpoint, cfg.broker, meta.get("sources") or {})
    refuse_clock_behind(run_dir, cfg, meta, checkpoint, clock=clock)  # else CLOCK_REGRESSION
    backing = Backing.from_meta(meta)
    if backing.store not in STORES:
        raise RunDirectoryError(f"{run_dir / names.RUN_META} names an unknown store")
    # The plug-ins are built again (a data file is checked again, as far as the run read
    # it: rows appended since are not played): the same code and the same data as when the
    # run started, or nothing is changed.
    plugins = _open_again(cfg, meta, given, run_dir, own_factory=broker_factory is not open_broker)
    broker: Broker | None = None
    lease: SessionLease | None = None  # opened, not taken (take_lease closes what it refuses)
    try:
        # A caller's broker factory is named, not called: another one never runs.
        recorded = meta.get("sources") or {}
        given_now = with_clock(named_factory(plugins, broker_factory), clock, cfg)
        refuse_other_factory(run_dir, recorded, given_now, run=cfg.run_id)
        check_sources(recorded, given_now, run=cfg.run_id)  # a caller's clock is given again
        check_data_unchanged(
            run_dir,
            meta,
            plugins.feed,
            cfg_sha256=cfg.feed_sha256,
            given="object" in given_now.get("feed", {}),
        )
        if checkpoint is not None:  # the plug-ins' own code, tried while nothing has changed
            plugins = restore_plugins(cfg, plugins, checkpoint)
        # The store must still hold the keys the run sent under, or orders go out twice.
        check_keys_kept(cfg, run_dir, meta, offsets["events"])
        lease = lease_not_held(cfg, run_dir, backing, lease_clock)  # held by another: refused
        # Every check that builds nothing passed: the recorded factory builds the broker,
        # once (before the lease is taken, as the config's ccxt broker: a refusal leaves it).
        named = given_now.get("broker")  # the factory's record: its file hashed once
        plugins = built_by_factory(cfg, run_dir, plugins, broker_factory, named=named)
        own_credentials_taken(plugins.broker, plugins.sources.get("broker"))  # a ccxt one's
        broker = early_broker(cfg, run_dir, broker_factory, own=plugins.broker is not None)
        if broker is not None:
            broker_factory = lambda _cfg, _dir: broker  # noqa: E731 - built: used once
        grant = take_lease(cfg, lease, lease_clock)
    except BaseException:
        plugins.close()
        close_broker(broker)
        close_lease(lease)
        raise
    try:
        session = _resume_session(
            cfg,
            run_dir,
            meta=meta,
            checkpoint=checkpoint,
            offsets=offsets,
            audit_cut=audit_cut,
            read=read,
            lock=lock,
            clock=clock,
            broker_factory=broker_factory,
            lease=lease,
            lease_clock=lease_clock,
            plugins=plugins,
            alerts=alerts,
        )
    except BaseException:
        plugins.close()  # the broker built for the session: closed as it was let go of
        if lease is not None:
            with contextlib.suppress(LeaseError):
                if grant is not None:
                    lease.release(grant)
            lease.close()
        raise
    if grant is not None:
        # Before the first checkpoint the run starts over: preflight audits the grant after
        # C2_DRYRUN_START (only C2_RESUME may come before it).
        session.adopt_lease(grant, audit=checkpoint is not None)
    return session


def _refuse_ended_or_changed(
    run_dir: Path, cfg: DryrunConfig, checkpoint: dict[str, Any] | None, refused: str
) -> None:
    """A sealed run has nothing to resume; ``refused``: why an unsealed one is not resumed.

    A ``config.json`` changed since the run began (``check_config_kept``), or a copy of
    the run on a venue that outlives it (``copy_problem``).
    """
    if checkpoint is not None and checkpoint.get("sealed"):
        state = checkpoint.get("fsm_state")
        status = reported_status(state, failed=bool(checkpoint.get("failed")))
        person = state == SessionState.ERROR_REQUIRES_OPERATOR.value
        said = f" {operator_settles(run_dir, 'no resume')}" if person else ""
        raise RunDirectoryError(
            f"nothing to resume: run {cfg.run_id} already ended with status {status}{said} "
            f"({what_reads(run_dir)})"
        )
    if refused:
        raise RunDirectoryError(f"cannot resume {run_dir} (nothing was changed): {refused}")


def _resume_session(
    cfg: DryrunConfig,
    run_dir: Path,
    *,
    meta: dict[str, Any],
    checkpoint: dict[str, Any] | None,
    offsets: dict[str, int],
    audit_cut: AuditCut,
    read: ResumeRead | None,
    lock: RunLock,
    clock: Clock | None,
    broker_factory: BrokerFactory,
    lease: SessionLease | None,
    lease_clock: Clock | None,
    plugins: RunPlugins,
    alerts: AlertSink | Secret | None,
) -> LiveSessionOrchestrator:
    # Validated: from here on the run directory is changed, until a refusal puts it back.
    cut = cut_back(run_dir, offsets, audit_cut.torn, cfg.run_id)
    with put_back_refused(cut):
        remove_dead_tmp(run_dir)  # never a live report's or prom's
        session = open_session(
            cfg,
            run_dir,
            plugins,
            lock=lock,
            idempotency_backend=str(meta.get("idempotency_backend", "sqlite")),
            clock=clock,
            broker_factory=broker_factory,
            append=True,
            lease=lease,
            lease_clock=lease_clock,
            alerts=alerts,
        )
        try:
            _restore(
                session,
                cfg,
                run_dir,
                checkpoint=checkpoint,
                offsets=offsets,
                audit_cut=audit_cut,
                read=read,
                clock=clock,
                torn=cut.torn,
            )
        except BaseException:
            let_go_refused(session)  # now, not when it is collected: no file, no broker kept
            raise
    return session


def _restore(
    session: LiveSessionOrchestrator,
    cfg: DryrunConfig,
    run_dir: Path,
    *,
    checkpoint: dict[str, Any] | None,
    offsets: dict[str, int],
    audit_cut: AuditCut,
    read: ResumeRead | None,
    clock: Clock | None,
    torn: dict[str, int],
) -> None:
    """Give the built ``session`` the checkpoint, bring its venue to it, audit C2_RESUME."""
    broker = session.broker
    in_flight: list[dict[str, str]] = []
    after: dict[str, Any] = {}
    hold_found: Callable[[], None] = lambda: None  # noqa: E731 - replaced below
    undigested = False  # a checkpoint of an earlier build's, with no digests to check by
    if checkpoint is not None and read is not None:
        undigested = not read.digested
        # The digests of the bytes up to the checkpoint, taken as they were checked.
        with told_at_resume(broker, cfg.run_id, "count_positions_from"):  # a desk's: one line
            parts = restore_resumed(session, checkpoint, read.digests)  # see restore_plugins
        # The trade ids booked before, with their numbers: a repeat is judged as without a
        # crash, by the session and by a real venue's new broker, told of the book's orders.
        fills = recorded_fills(run_dir / names.ARTIFACTS["events"], offsets["events"])
        with told_at_resume(broker, cfg.run_id, "recover"):
            recover_orders(parts, fills)
        venue_catch_up(broker, checkpoint, cfg.run_id)
        # A venue not rewound still has what was sent after the checkpoint: look it up.
        after, hold_found = sent_after(parts, run_dir, offsets["events"])
        in_flight = looked_up_open(broker, session.iter_open_orders())
    else:
        if isinstance(broker, MockBroker):
            broker.resume_at(-1)
        # Nothing restored the recorder's time: stamp C2_RESUME from the session's clock at
        # the start, as its first record would be (an empty ``ts`` breaks the audit schema).
        now = (clock if clock is not None else make_clock(cfg)).now()
        session.recorder.set_time(session.ts_sim, _clock.format_utc(now))
    go_on_after(session.recorder, audit_cut)
    from_step = 0 if checkpoint is None else checkpoint["steps"]
    session.recorder.audit(
        "C2_RESUME",
        {
            "from_step": from_step,
            "torn_bytes": torn,
            "in_flight": in_flight,
            "checkpoint": checkpoint is not None,
            **after,
        },
    )
    hold_found()  # after C2_RESUME: what the venue has, held for the session to track
    record_at_once(session.recorder, run_dir, sync=cfg.durability != "none")
    _RESUMED[session] = (
        {
            "from_step": from_step,
            "checkpoint": checkpoint is not None,
            "torn_bytes": torn,
            "in_flight": len(in_flight),
        },
        undigested,
    )
    say_resumed(session)


_RESUMED: Final[weakref.WeakKeyDictionary[LiveSessionOrchestrator, tuple[dict[str, Any], bool]]] = (
    weakref.WeakKeyDictionary()
)
"""Where each resumed session continues, as its ``C2_RESUME`` says, and whether its
checkpoint held no digests to check the files by (for ``say_resumed``)."""


def say_resumed(session: LiveSessionOrchestrator) -> None:
    """Log ``session_resumed`` (info: where it continues) for a resumed ``session``.

    And ``checkpoint_without_digests`` (a warning) if its checkpoint held no digests.

    ``resume_run`` logs them as it resumes; the CLI, whose session log opens only once the
    resume is made (a refused one writes nothing), says them again there.
    """
    resumed, undigested = _RESUMED.get(session, ({}, False))
    if resumed:
        get_logger().info("session_resumed", run_id=session.config.run_id, **resumed)
    if undigested:
        get_logger().warning(
            "checkpoint_without_digests",
            run_id=session.config.run_id,
            detail="the checkpoint was written by an earlier build and holds no SHA-256 of "
            "the events and snapshots: the record before it was checked line by line only",
        )
