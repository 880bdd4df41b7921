"""Resume a crashed run from its last checkpoint.

Everything is validated first (checkpoint, audit chain, artifact sizes, venue journals,
the data file: whole, and with the SHA-256 ``run.json`` recorded), and the feed and the
strategy are given their checkpointed states (their ``set_state`` is the caller's code),
while nothing on disk has changed; only then are the artifacts cut back to the
checkpoint's offsets (the torn tails move to ``<file>.torn``), the session restored, the
venue journal replayed and ``C2_RESUME`` audited.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._artifacts.audit_chain import GENESIS_HASH
from .._domain import clock as _clock
from .._domain.lifecycle import reported_status
from .._exceptions import (
    AuditCorruption,
    CheckpointError,
    LeaseError,
    LiveSessionError,
    PluginError,
    RunDirectoryError,
)
from .._session.assembly import make_clock
from .._session.coordinator import restore_resumed
from .._support.fsutil import file_digest, truncate_to
from .._support.references import check_sources
from .._typing import MarkableVenue, RelayedVenue, ResumableVenue
from ..brokers.mock import MockBroker
from ..stores import FileCheckpointStore
from .alerting import choose_alerts
from .backing import take_lease
from .brokers import BrokerFactory, open_broker
from .data import check_data_unchanged, check_run_data
from .layout import STORES, Backing, read_run_config
from .lock import RunLock, writer_command
from .plugins import (
    PlugIns,
    RunPlugins,
    apply_references,
    check_arguments,
    open_plugins,
    refuse_unknown,
    restore_plugins,
)
from .session import open_session

if TYPE_CHECKING:
    from typing import Unpack

    from .._domain.config import DryrunConfig
    from .._domain.runtime_config import Secret
    from .._session.coordinator import LiveSessionOrchestrator
    from .._typing import AlertSink, Broker, Clock, SessionLease

__all__ = ["checkpoint_summary", "load_checkpoint", "resume_problem", "resume_run"]


def _check_audit_prefix(path: Path, offset: int, head: str, seq: int) -> None:
    """The audit lines up to ``offset`` form a chain ending in ``head`` with ``seq`` lines."""
    try:
        with path.open("rb") as f:
            data = f.read(offset)
    except FileNotFoundError:
        raise AuditCorruption(f"{path} is missing") from None
    if len(data) < offset:
        raise AuditCorruption(
            f"{path} is shorter ({len(data)} bytes) than its checkpoint says ({offset} bytes)"
        )
    prev = GENESIS_HASH
    lines = data.split(b"\n")[:-1] if data else []
    for number, line in enumerate(lines, start=1):
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise AuditCorruption(f"{path}:{number}: corrupt audit line (not JSON)") from None
        if (
            not isinstance(record, dict)
            or record.get("prev_hash") != prev
            or record.get("seq") != number
        ):
            raise AuditCorruption(f"{path}:{number}: audit chain broken (prev_hash or seq)")
        prev = hashlib.sha256(line).hexdigest()
    if len(lines) != seq or prev != head:
        raise AuditCorruption(f"{path}: audit head does not match the checkpoint")


def _prefix_digest(path: Path, offset: int) -> Any:
    digest = hashlib.sha256()
    remaining = offset
    with path.open("rb") as f:
        while remaining:
            chunk = f.read(min(remaining, 1 << 20))
            if not chunk:
                raise RunDirectoryError(f"{path} is shorter than its checkpoint says")
            digest.update(chunk)
            remaining -= len(chunk)
    return digest


def load_checkpoint(run_dir: Path) -> dict[str, Any] | None:
    """The run's checkpoint, validated; None when the run never reached one."""
    try:
        checkpoint = FileCheckpointStore(run_dir / names.CHECKPOINT).load()
    except CheckpointError as exc:
        raise RunDirectoryError(str(exc)) from None
    if checkpoint is None:
        return None
    if not isinstance(checkpoint, dict) or checkpoint.get("format") != names.CHECKPOINT_FORMAT:
        fmt = checkpoint.get("format") if isinstance(checkpoint, dict) else None
        raise RunDirectoryError(
            f"{run_dir / names.CHECKPOINT} was written by another version (format {fmt!r}, "
            f"this is {names.CHECKPOINT_FORMAT})"
        )
    required = ("recorder", "book", "feed", "strategy", "fsm_state", "steps", "ts_sim")
    missing = [key for key in required if key not in checkpoint]
    if missing:
        raise RunDirectoryError(f"{run_dir / names.CHECKPOINT} is corrupt: missing {missing[0]}")
    return checkpoint


def _check_journals(run_dir: Path) -> None:
    """Every whole line of the venue's journals is a JSON object (a torn last one may not be).

    The broker replays them only after the artifacts were cut back, so a damaged journal
    must be found here, while nothing has been changed yet.
    """
    for path in sorted(run_dir.glob(f"{Path(names.JOURNAL).stem}*.jsonl")):
        for number, line in enumerate(path.read_bytes().split(b"\n")[:-1], start=1):
            try:
                entry = orjson.loads(line)
            except orjson.JSONDecodeError:
                entry = None
            if not isinstance(entry, dict):
                raise RunDirectoryError(
                    f"{path}:{number}: corrupt journal line (not a JSON object): the record of "
                    "what reached the venue is damaged, so the run cannot be resumed safely"
                )


_BAR_FIELD: Final = b'"event_type":"BAR"'


def _check_never_stepped(run_dir: Path) -> None:
    """A run without a checkpoint must be one killed during start-up, before its first.

    The first checkpoint is written when the session activates, before its first bar: a run
    with bars in its events, or anything in its venue journal, had one, and lost it (a slip,
    a bad restore). Starting it over would cut its history away and tell the venue's orders
    and positions nothing: refused, with nothing changed.
    """
    events = run_dir / names.ARTIFACTS["events"]
    stepped = False
    with contextlib.suppress(FileNotFoundError), events.open("rb") as handle:
        stepped = any(_BAR_FIELD in line for line in handle)
    journals = [p for p in run_dir.glob(f"{Path(names.JOURNAL).stem}*.jsonl") if p.stat().st_size]
    if stepped or journals:
        what = f"{events.name} records steps" if stepped else f"{journals[0].name} records orders"
        raise RunDirectoryError(
            f"{run_dir / names.CHECKPOINT} is missing, but {what}: the run had a checkpoint "
            "and lost it, so it cannot be resumed (starting it over would discard its history "
            "and ignore what reached the venue); restore checkpoint.json from a backup"
        )


def _validate_artifacts(run_dir: Path, checkpoint: dict[str, Any] | None) -> dict[str, int]:
    """The artifact offsets to cut back to, after checking the files can be resumed."""
    offsets = {"events": 0, "states": 0, "audit": 0}
    if checkpoint is None:
        _check_never_stepped(run_dir)
    else:
        rec_state = checkpoint["recorder"]
        offsets = dict(rec_state["offsets"])
        _check_audit_prefix(
            run_dir / names.ARTIFACTS["audit"],
            offsets["audit"],
            rec_state["audit_head"],
            rec_state["audit_seq"],
        )
        for name in ("events", "states"):
            path = run_dir / names.ARTIFACTS[name]
            size = path.stat().st_size if path.exists() else -1
            if size < offsets[name]:
                raise RunDirectoryError(
                    f"{path} is shorter than its checkpoint says: the run directory is damaged"
                )
    return offsets


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

    ``run_dir`` is a path: a ``str`` or any ``os.PathLike`` (a ``pathlib.Path``). An argument
    of the wrong kind (``clock=5``, ``alerts="yes"``) raises ``PluginError`` naming it,
    before anything is written.

    ``alerts`` as for ``create_run``; the config file is not read again, so a resumed run's
    webhook comes from ``LIVESESSION_ALERT_WEBHOOK_URL`` (the URL is never in the run
    directory).

    The run's plug-ins are built again: references from its ``config.json`` (a reference
    passed here must be the one recorded), objects passed again as ``strategy``, ``feed``
    or ``broker`` when the run was created with objects. A referenced module whose source
    file's SHA-256 differs from the one recorded, or a missing or different object, raises
    ``PluginError`` with nothing changed; so does a feed's or strategy's ``set_state`` that
    raises on the state the checkpoint holds (they are restored before anything changes).

    Validates everything first and changes nothing on disk when anything is wrong. A run
    with a lease takes it next (``LeaseHeld`` while another live session holds it, still
    with nothing changed). Then cuts each artifact back to the checkpoint's offset (the
    tail goes to ``<file>.torn``), restores the session, lets the venue journal replay,
    and audits ``C2_RESUME`` (and ``C2_LEASE_ACQUIRED`` with the new fencing token).
    """
    refuse_unknown(resume_run, given)
    check_arguments(clock=clock, lease_clock=lease_clock, broker_factory=broker_factory)
    run_dir = Path(run_dir)
    cfg, meta = read_run_config(run_dir)
    cfg = apply_references(cfg, **given, recorded=meta.get("sources") or {})
    alert_choice = choose_alerts(cfg, alerts)  # a bad webhook URL is refused here
    # One writer per run: nothing below reads files a live writer may be appending to, or
    # changes anything, before the lock is ours.
    lock = RunLock.acquire(run_dir, writer_command("resume"))
    try:
        session = _reopen(
            run_dir,
            cfg,
            meta,
            lock=lock,
            clock=clock,
            broker_factory=broker_factory,
            lease_clock=lease_clock,
            given=given,
            alerts=alert_choice,
        )
    except BaseException:
        lock.abandon()  # refused: the run directory is as it was, lock file included
        raise
    return session


def _reopen(
    run_dir: Path,
    cfg: DryrunConfig,
    meta: dict[str, Any],
    *,
    lock: RunLock,
    clock: Clock | None,
    broker_factory: BrokerFactory,
    lease_clock: Clock | None,
    given: PlugIns,
    alerts: AlertSink | Secret | None,
) -> LiveSessionOrchestrator:
    checkpoint = load_checkpoint(run_dir)
    if checkpoint is not None and checkpoint.get("sealed"):
        status = reported_status(checkpoint.get("fsm_state"), failed=bool(checkpoint.get("failed")))
        raise RunDirectoryError(
            f"nothing to resume: run {cfg.run_id} already ended with status {status}"
        )
    offsets = _validate_artifacts(run_dir, checkpoint)
    _check_journals(run_dir)
    backing = Backing.from_meta(meta)
    if backing.store not in STORES:
        raise RunDirectoryError(f"{run_dir / names.RUN_META} names an unknown store")
    # The plug-ins are built again (a data file is checked whole again): the same code and
    # the same file as when the run started, or nothing is changed.
    plugins = open_plugins(cfg, **given, journal=run_dir / names.JOURNAL)
    try:
        check_sources(meta.get("sources") or {}, plugins.sources, run=cfg.run_id)
        check_data_unchanged(run_dir, meta, plugins.feed, cfg_sha256=cfg.feed_sha256)
        if checkpoint is not None:  # the plug-ins' own code, tried while nothing has changed
            plugins = restore_plugins(cfg, plugins, checkpoint)
        lease, grant = take_lease(cfg, run_dir, backing, lease_clock)
    except BaseException:
        plugins.close()
        raise
    try:
        session = _resume_session(
            cfg,
            run_dir,
            meta=meta,
            checkpoint=checkpoint,
            offsets=offsets,
            lock=lock,
            clock=clock,
            broker_factory=broker_factory,
            lease=lease,
            lease_clock=lease_clock,
            plugins=plugins,
            alerts=alerts,
        )
    except BaseException:
        plugins.close()
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


def _venue_catch_up(broker: Broker, checkpoint: dict[str, Any]) -> None:
    """Bring a replayed simulated venue to the checkpoint: delivered reports, mark prices."""
    if isinstance(broker, RelayedVenue):
        # The venue's own journal too: what the crashed session sent after the checkpoint
        # is set aside, and what the resumed one does not send again never happened.
        broker.resume_at(
            checkpoint["ts_sim"],
            checkpoint.get("broker_journal_offset"),
            checkpoint.get("venue_journal_offset"),
        )
    elif isinstance(broker, ResumableVenue):
        broker.resume_at(checkpoint["ts_sim"], checkpoint.get("broker_journal_offset"))
    # The venue journal holds prices only from when requests arrived; the session's last
    # bar price is newer (a stop right after the checkpoint must not fill at an old price).
    if isinstance(broker, MarkableVenue):
        for symbol, price in sorted(checkpoint["book"]["last_price"].items()):
            broker.mark(symbol, Decimal(price))


def _resume_session(
    cfg: DryrunConfig,
    run_dir: Path,
    *,
    meta: dict[str, Any],
    checkpoint: dict[str, Any] | None,
    offsets: dict[str, int],
    lock: RunLock,
    clock: Clock | None,
    broker_factory: BrokerFactory,
    lease: SessionLease | None,
    lease_clock: Clock | None,
    plugins: RunPlugins,
    alerts: AlertSink | Secret | None,
) -> LiveSessionOrchestrator:
    # Validated: from here on the run directory is changed.
    torn: dict[str, int] = {}
    for name, file_name in names.ARTIFACTS.items():
        path = run_dir / file_name
        if not path.exists():
            path.touch()
        try:
            tail = truncate_to(path, offsets[name])
        except OSError as exc:
            raise RunDirectoryError(
                f"cannot resume {run_dir}: cutting {file_name} back to its checkpoint failed "
                f"({exc.strerror or exc}); nothing was lost (a cut tail is kept in "
                f"{file_name}.torn first): fix that, then resume again"
            ) from exc
        if tail:
            torn[file_name] = len(tail)
    for stale in run_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
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
    broker = session.broker
    in_flight: list[dict[str, str]] = []
    if checkpoint is not None:
        digests = {
            "events": _prefix_digest(run_dir / names.ARTIFACTS["events"], offsets["events"]),
            "states": _prefix_digest(run_dir / names.ARTIFACTS["states"], offsets["states"]),
        }
        restore_resumed(session, checkpoint, digests)  # the plug-ins': restore_plugins
        _venue_catch_up(broker, checkpoint)
        for order in session.iter_open_orders():
            venue = broker.order_by_client_id(order.client_order_id)
            in_flight.append(
                {
                    "client_order_id": order.client_order_id,
                    "venue_status": "UNKNOWN" if venue is None else venue.status.value,
                }
            )
    else:
        if isinstance(broker, MockBroker):
            broker.resume_at(-1)
        # Nothing restored the recorder's time: stamp C2_RESUME from the session's clock at
        # the start, as its first record would be (an empty ``ts`` breaks the audit schema).
        now = (clock if clock is not None else make_clock(cfg)).now()
        session.recorder.set_time(session.ts_sim, _clock.format_utc(now))
    session.recorder.audit(
        "C2_RESUME",
        {
            "from_step": 0 if checkpoint is None else checkpoint["steps"],
            "torn_bytes": torn,
            "in_flight": in_flight,
            "checkpoint": checkpoint is not None,
        },
    )
    return session


def checkpoint_summary(run_dir: Path) -> dict[str, Any]:
    """What the checkpoint says, for operators (never raises on a missing one)."""
    try:
        checkpoint = load_checkpoint(run_dir)
    except LiveSessionError as exc:
        return {"error": str(exc)}
    if checkpoint is None:
        return {"checkpoint": False}
    return {"checkpoint": True, "steps": checkpoint["steps"], "state": checkpoint["fsm_state"]}


def resume_problem(run_dir: Path) -> str | None:
    """Why ``resume_run`` would refuse ``run_dir`` on its files, or None when it would not.

    The read-only half of a resume's checks, for ``livesession status`` (never run it on a
    live run: a writer's files change under it): the config, the checkpoint, the audit
    chain and artifact sizes up to the checkpoint, the venue journals, the data file's
    bytes and the plug-ins' source files (hashed, never imported). What only the resume
    itself can learn (a lease another session holds) is not checked.
    """
    try:
        cfg, meta = read_run_config(run_dir)
        checkpoint = load_checkpoint(run_dir)
        if checkpoint is not None and checkpoint.get("sealed"):
            return f"run {cfg.run_id} is sealed: nothing to resume"
        _validate_artifacts(run_dir, checkpoint)
        _check_journals(run_dir)
        check_run_data(run_dir, cfg, meta)
        _check_source_files(cfg.run_id, meta.get("sources") or {})
    except (LiveSessionError, OSError) as exc:
        return str(exc)
    except (KeyError, TypeError, ValueError) as exc:  # a checkpoint of the wrong shape
        return f"{run_dir / names.CHECKPOINT} is corrupt ({type(exc).__name__})"
    return None


def _check_source_files(run_id: str, sources: dict[str, Any]) -> None:
    """Refuse, as ``resume`` would (``check_sources``), a plug-in whose source file changed.

    The recorded file is hashed where it was; nothing is imported (``status`` runs no code
    of the run's). A plug-in given as an object has no file to look at here.
    """
    current: dict[str, Any] = {}
    for role, record in sources.items():
        if not isinstance(record, dict) or "object" in record or not record.get("file"):
            current[role] = record
            continue
        try:
            digest = file_digest(Path(record["file"]))[0]
        except OSError as exc:
            raise PluginError(
                f"the source of {role} {record.get('ref')!r} cannot be read "
                f"({record['file']}: {exc.strerror}): restore the code the run started with"
            ) from None
        current[role] = {**record, "sha256": digest}
    check_sources(sources, current, run=run_id)
