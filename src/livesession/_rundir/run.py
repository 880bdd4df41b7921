"""Run directories: create a run, and resume a crashed one from its checkpoint.

A run directory holds the four contract artifacts plus ``config.json`` (the effective
configuration), ``checkpoint.json``, the idempotency store, the mock venue's journal,
``session.log.jsonl`` and ``timings.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import urllib.parse
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.audit_chain import GENESIS_HASH
from .._artifacts.sinks import FileLineSink, FileMetricsSink
from .._domain import clock as _clock
from .._domain.config import DryrunConfig
from .._exceptions import (
    AuditCorruption,
    CheckpointError,
    ConfigError,
    LeaseError,
    LeaseHeld,
    LiveSessionError,
    RunDirectoryError,
)
from .._risk.checks import CheckResult, PreflightContext
from .._session.assembly import default_broker, make_clock
from .._session.coordinator import LiveSessionOrchestrator
from .._support.fsutil import atomic_write_bytes, truncate_to
from .._typing import Broker, Clock, IdempotencyStore, MarkableVenue, ResumableVenue
from .._version import __version__
from ..brokers.mock import MockBroker
from ..leases.lease import FileLease, LeaseGrant, PostgresLease, SessionLease
from ..stores import FileCheckpointStore, open_idempotency_store

__all__ = [
    "STORES",
    "BrokerFactory",
    "LeaseHeld",
    "create_run",
    "open_broker",
    "resume_run",
]

STORES: Final = ("local", "postgres")
LEASE_DIR: Final = ".leases"
_LOCAL_BACKENDS: Final = ("memory", "jsonl", "sqlite")


@attrs.frozen
class _Backing:
    """Where a run keeps what must outlive it beyond the run directory."""

    store: str = "local"
    lease: bool = False


def lease_path(out_dir: Path, account: str, strategy: str) -> Path:
    """The local lease file of (account, strategy) for runs under ``out_dir``."""
    name = f"{urllib.parse.quote(account, safe='')}__{urllib.parse.quote(strategy, safe='')}"
    return out_dir / LEASE_DIR / f"{name}.lease"


def _holder_id(cfg: DryrunConfig) -> str:
    """Unique per running process, so a resume waits for a live holder's lease to expire."""
    return f"{cfg.run_id}@{socket.gethostname()}:{os.getpid()}"


def _pg_dsn() -> str:
    from ..stores.postgres import pg_dsn_from_env  # noqa: PLC0415 - only for --store postgres

    return pg_dsn_from_env(os.environ)


def _open_lease(cfg: DryrunConfig, run_dir: Path, backing: _Backing) -> SessionLease | None:
    if backing.store == "postgres":
        return PostgresLease(_pg_dsn(), cfg.account, cfg.strategy_id)
    if not backing.lease:
        return None
    path = lease_path(run_dir.parent, cfg.account, cfg.strategy_id)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirectoryError(f"cannot create the lease directory {path.parent}: {exc}") from None
    return FileLease(path, cfg.account, cfg.strategy_id)


BrokerFactory = Callable[[DryrunConfig, Path], Broker]


def open_broker(cfg: DryrunConfig, run_dir: Path) -> Broker:
    """The broker ``cfg.broker`` names, with its venue journal in ``run_dir``."""
    if cfg.broker == "mock":
        return default_broker(cfg, journal=run_dir / names.JOURNAL)
    if cfg.broker == "realish":
        from ..brokers.realish import RealishBroker  # noqa: PLC0415 - adapter loaded when chosen

        return RealishBroker.from_config(cfg, journal=run_dir / names.JOURNAL)
    if cfg.broker.startswith("ccxt:"):
        return _ccxt_broker(cfg)
    return default_broker(cfg)


def _ccxt_broker(cfg: DryrunConfig, **options: Any) -> Broker:
    """A verified-sandbox CCXT broker; credentials come only from the environment."""
    from .._domain.runtime_config import RuntimeConfig  # noqa: PLC0415 - only for ccxt runs
    from ..brokers.ccxt import make_ccxt_broker  # noqa: PLC0415 - optional extra

    runtime = RuntimeConfig.from_env(mode=cfg.broker)
    grid = {"price_tick": cfg.price_tick, "qty_lot": cfg.qty_lot}
    return make_ccxt_broker(
        cfg.broker, runtime_config=runtime, symbols=cfg.allowlist, **(grid | options)
    )


@attrs.define
class _VenuePreflight:
    """A sandbox venue's preflight, asked once and shared by its four session checks.

    Each check reports its own line, but all four come from one pass over the venue: one
    balance request, not four, and no check judged on a later answer than its neighbours.
    """

    broker: Any
    results: list[tuple[str, bool, str]] | None = None

    def get(self) -> list[tuple[str, bool, str]]:
        if self.results is None:
            from ..brokers.ccxt import ccxt_preflight_checks  # noqa: PLC0415 - optional

            self.results = ccxt_preflight_checks(self.broker)
        return self.results


@attrs.frozen
class _VenueCheck:
    """One of a sandbox venue's preflight checks, as a session ``Check``."""

    name: str
    preflight: _VenuePreflight

    def __call__(self, _ctx: PreflightContext, /) -> CheckResult:
        for name, passed, reason in self.preflight.get():
            if name == self.name:
                return CheckResult(name=f"venue_{name}", passed=passed, reason=reason)
        return CheckResult(name=f"venue_{self.name}", passed=False, reason="CHECK_MISSING")


_VENUE_CHECKS: Final = ("sandbox_verified", "markets_loaded", "symbols_listed", "balance_fetch")


def _config_bytes(cfg: DryrunConfig) -> bytes:
    return orjson.dumps(cfg.to_dict(), option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def config_hash(cfg: DryrunConfig) -> str:
    """SHA-256 of the canonical configuration."""
    return hashlib.sha256(orjson.dumps(cfg.to_dict(), option=orjson.OPT_SORT_KEYS)).hexdigest()


def create_run(
    cfg: DryrunConfig,
    out_dir: Path,
    *,
    idempotency_backend: str = "sqlite",
    clock: Clock | None = None,
    broker_factory: BrokerFactory = open_broker,
    live_override: bool = False,
    store: str = "local",
    lease: bool = False,
    lease_clock: Clock | None = None,
) -> LiveSessionOrchestrator:
    """Create ``out_dir/<run_id>/`` (never overwriting one) and a session writing into it.

    ``store="postgres"`` keeps idempotency keys in PostgreSQL (namespace: the run id) and
    takes a ``PostgresLease``; the DSN comes only from ``LIVESESSION_PG_DSN``. With
    ``store="local"`` the session takes no lease unless ``lease=True`` (a ``FileLease``
    under ``out_dir/.leases/``): a lease audits its fencing token, which changes the audit
    log of every run, so it is opt-in. The choice is recorded in ``run.json`` for resume.
    """
    run_dir = out_dir / cfg.run_id
    if run_dir.exists():
        raise RunDirectoryError(
            f"run directory {run_dir} already exists: choose another --run-id or move it away"
        )
    if idempotency_backend not in _LOCAL_BACKENDS:
        raise ConfigError(
            f"unknown idempotency backend {idempotency_backend!r}: choose memory, jsonl or sqlite"
        )
    if store not in STORES:
        raise ConfigError(f"unknown store {store!r}: choose local or postgres")
    backing = _Backing(store=store, lease=lease or store == "postgres")
    if store == "postgres":
        idempotency_backend = "postgres"
        _pg_dsn()  # a missing LIVESESSION_PG_DSN is refused before anything is created
    created_out = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
    except FileExistsError:
        raise RunDirectoryError(f"run directory {run_dir} already exists") from None
    except OSError as exc:
        raise RunDirectoryError(f"cannot create run directory {run_dir}: {exc.strerror}") from None
    try:
        atomic_write_bytes(run_dir / names.CONFIG, _config_bytes(cfg))
        atomic_write_bytes(
            run_dir / names.RUN_META,
            orjson.dumps(
                {
                    "format": names.RUN_FORMAT,
                    "version": __version__,
                    "idempotency_backend": idempotency_backend,
                    "config_hash": config_hash(cfg),
                    "store": backing.store,
                    "lease": backing.lease,
                },
                option=orjson.OPT_SORT_KEYS,
            )
            + b"\n",
        )
        return _open_session(
            cfg,
            run_dir,
            idempotency_backend=idempotency_backend,
            clock=clock,
            broker_factory=broker_factory,
            append=False,
            live_override=live_override,
            backing=backing,
            lease_clock=lease_clock,
        )
    except BaseException:
        # Nothing half-written: the directory is ours (created exclusively above).
        shutil.rmtree(run_dir, ignore_errors=True)
        if created_out:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise


def _open_session(
    cfg: DryrunConfig,
    run_dir: Path,
    *,
    idempotency_backend: str,
    clock: Clock | None,
    broker_factory: BrokerFactory,
    append: bool,
    live_override: bool = False,
    backing: _Backing | None = None,
    lease: SessionLease | None = None,
    lease_clock: Clock | None = None,
) -> LiveSessionOrchestrator:
    sim = _clock.SimClock(cfg.start)
    durable = cfg.durability != "none"
    backing = backing if backing is not None else _Backing()
    owned = lease is None  # a lease passed in (resume) stays the caller's on failure
    if lease is None:
        lease = _open_lease(cfg, run_dir, backing)
    try:
        return _build_session(
            cfg,
            run_dir,
            idempotency_backend=idempotency_backend,
            clock=clock,
            broker_factory=broker_factory,
            append=append,
            live_override=live_override,
            lease=lease,
            lease_clock=lease_clock,
            sim=sim,
            durable=durable,
        )
    except BaseException:
        if owned and lease is not None:
            lease.close()
        raise


def _open_store(
    backend: str, cfg: DryrunConfig, run_dir: Path, *, sim: _clock.SimClock, durable: bool
) -> IdempotencyStore:
    if backend == "postgres":
        from ..stores.postgres import PostgresIdempotencyStore  # noqa: PLC0415 - optional extra

        return PostgresIdempotencyStore(_pg_dsn(), namespace=cfg.run_id)
    return open_idempotency_store(backend, run_dir, clock=sim, durable=durable)


def _build_session(
    cfg: DryrunConfig,
    run_dir: Path,
    *,
    idempotency_backend: str,
    clock: Clock | None,
    broker_factory: BrokerFactory,
    append: bool,
    live_override: bool,
    lease: SessionLease | None,
    lease_clock: Clock | None,
    sim: _clock.SimClock,
    durable: bool,
) -> LiveSessionOrchestrator:
    session = LiveSessionOrchestrator(
        cfg,
        clock=clock,
        broker=broker_factory(cfg, run_dir),
        event_sink=FileLineSink(run_dir / names.ARTIFACTS["events"], append=append),
        state_sink=FileLineSink(run_dir / names.ARTIFACTS["states"], append=append),
        audit_sink=FileLineSink(run_dir / names.ARTIFACTS["audit"], append=append),
        metrics_sink=FileMetricsSink(run_dir / names.METRICS, durable=durable),
        idempotency=_open_store(idempotency_backend, cfg, run_dir, sim=sim, durable=durable),
        checkpoints=FileCheckpointStore(run_dir / names.CHECKPOINT, durable=durable),
        live_override=live_override,
        lease=lease,
        lease_clock=lease_clock,
        lease_holder=_holder_id(cfg),
    )
    if session.broker.kind == "ccxt_sandbox":
        preflight = _VenuePreflight(session.broker)
        session.extra_checks.extend(_VenueCheck(name, preflight) for name in _VENUE_CHECKS)
    return session


def read_run_config(run_dir: Path) -> tuple[DryrunConfig, dict[str, Any]]:
    """The config and run metadata of an existing run directory (nothing is changed)."""
    if not run_dir.exists():
        raise RunDirectoryError(f"run directory {run_dir} does not exist")
    if not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir} is not a directory")
    meta_path = run_dir / names.RUN_META
    try:
        meta = orjson.loads(meta_path.read_bytes())
    except FileNotFoundError:
        raise RunDirectoryError(
            f"{run_dir} is not a livesession run directory (no {names.RUN_META})"
        ) from None
    except orjson.JSONDecodeError:
        raise RunDirectoryError(f"{meta_path} is corrupt (not JSON)") from None
    if not isinstance(meta, dict) or meta.get("format") != names.RUN_FORMAT:
        raise RunDirectoryError(
            f"{run_dir} was written by another livesession version "
            f"(format {meta.get('format') if isinstance(meta, dict) else '?'!r}, "
            f"this is {names.RUN_FORMAT})"
        )
    try:
        data = orjson.loads((run_dir / names.CONFIG).read_bytes())
        cfg = DryrunConfig.from_mapping(data)
    except FileNotFoundError:
        raise RunDirectoryError(f"{run_dir} has no {names.CONFIG}") from None
    except (orjson.JSONDecodeError, ConfigError) as exc:
        raise RunDirectoryError(f"{run_dir / names.CONFIG} is corrupt: {exc}") from None
    if meta.get("config_hash") != config_hash(cfg):
        raise RunDirectoryError(f"{run_dir / names.CONFIG} does not match the run's config hash")
    return cfg, meta


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


def _validate_artifacts(run_dir: Path, checkpoint: dict[str, Any] | None) -> dict[str, int]:
    """The artifact offsets to cut back to, after checking the files can be resumed."""
    offsets = {"events": 0, "states": 0, "audit": 0}
    if checkpoint is not None:
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
    run_dir: Path,
    *,
    clock: Clock | None = None,
    broker_factory: BrokerFactory = open_broker,
    lease_clock: Clock | None = None,
) -> LiveSessionOrchestrator:
    """Reopen a crashed run at its last checkpoint, ready to continue.

    Validates everything first and changes nothing on disk when anything is wrong. A run
    with a lease takes it next (``LeaseHeld`` while another live session holds it, still
    with nothing changed). Then cuts each artifact back to the checkpoint's offset (the
    tail goes to ``<file>.torn``), restores the session, lets the venue journal replay,
    and audits ``C2_RESUME`` (and ``C2_LEASE_ACQUIRED`` with the new fencing token).
    """
    cfg, meta = read_run_config(run_dir)
    checkpoint = load_checkpoint(run_dir)
    if checkpoint is not None and checkpoint.get("sealed"):
        raise RunDirectoryError(
            f"nothing to resume: run {cfg.run_id} already ended with status "
            f"{'FAILED' if checkpoint.get('failed') else checkpoint['fsm_state']}"
        )
    offsets = _validate_artifacts(run_dir, checkpoint)
    _check_journals(run_dir)
    backing = _Backing(store=str(meta.get("store", "local")), lease=bool(meta.get("lease")))
    if backing.store not in STORES:
        raise RunDirectoryError(f"{run_dir / names.RUN_META} names an unknown store")
    lease, grant = _take_lease(cfg, run_dir, backing, lease_clock)
    try:
        session = _resume_session(
            cfg,
            run_dir,
            meta=meta,
            checkpoint=checkpoint,
            offsets=offsets,
            clock=clock,
            broker_factory=broker_factory,
            lease=lease,
            lease_clock=lease_clock,
        )
    except BaseException:
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


def _take_lease(
    cfg: DryrunConfig, run_dir: Path, backing: _Backing, lease_clock: Clock | None
) -> tuple[SessionLease | None, LeaseGrant | None]:
    lease = _open_lease(cfg, run_dir, backing)
    if lease is None:
        return None, None
    try:
        now_ns = _clock.epoch_ns((lease_clock or _clock.SystemClock()).now())
        grant = lease.acquire(_holder_id(cfg), now_ns, cfg.lease_ttl_ms * 1_000_000)
    except BaseException:
        lease.close()
        raise
    if grant is None:
        lease.close()
        raise LeaseHeld(
            f"cannot resume run {cfg.run_id}: another live session holds the lease of account "
            f"{cfg.account!r}, strategy {cfg.strategy_id!r} (LEASE_HELD); nothing was changed. "
            f"Stop that session, or wait for its lease to expire (lease_ttl_ms="
            f"{cfg.lease_ttl_ms}) and resume again"
        )
    return lease, grant


def _venue_catch_up(broker: Broker, checkpoint: dict[str, Any]) -> None:
    """Bring a replayed simulated venue to the checkpoint: delivered reports, mark prices."""
    if isinstance(broker, ResumableVenue):
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
    clock: Clock | None,
    broker_factory: BrokerFactory,
    lease: SessionLease | None,
    lease_clock: Clock | None,
) -> LiveSessionOrchestrator:
    # Validated: from here on the run directory is changed.
    torn: dict[str, int] = {}
    for name, file_name in names.ARTIFACTS.items():
        path = run_dir / file_name
        if not path.exists():
            path.touch()
        tail = truncate_to(path, offsets[name])
        if tail:
            torn[file_name] = len(tail)
    for stale in run_dir.glob(".*.tmp"):
        stale.unlink(missing_ok=True)
    session = _open_session(
        cfg,
        run_dir,
        idempotency_backend=str(meta.get("idempotency_backend", "sqlite")),
        clock=clock,
        broker_factory=broker_factory,
        append=True,
        lease=lease,
        lease_clock=lease_clock,
    )
    broker = session.broker
    in_flight: list[dict[str, str]] = []
    if checkpoint is not None:
        digests = {
            "events": _prefix_digest(run_dir / names.ARTIFACTS["events"], offsets["events"]),
            "states": _prefix_digest(run_dir / names.ARTIFACTS["states"], offsets["states"]),
        }
        session.restore_state(checkpoint, digests)
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
