"""What a run keeps beyond its directory: its idempotency store and its lease.

``store="local"`` keeps idempotency keys in the run directory and takes a ``FileLease``
under ``<out>/.leases/`` only when asked; ``store="postgres"`` keeps the keys in
PostgreSQL and always takes a ``PostgresLease``. The DSN comes only from
``LIVESESSION_PG_DSN``.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runread import read_json_object, read_records
from .._domain import clock as _clock
from .._domain.config import DryrunConfig
from .._exceptions import (
    ConfigError,
    LeaseError,
    LeaseHeld,
    LiveSessionError,
    RunDirectoryError,
)
from .._support.filemode import NEW_DIR_MODE
from .._support.optional import import_optional
from .._typing import Clock, IdempotencyStore, SessionLease
from ..leases import FileLease, LeaseGrant, PostgresLease
from ..stores import open_idempotency_store
from .drift import config_ran_with
from .layout import Backing, lease_path
from .leaselost import reset_of, was_reset
from .leaseskew import refuse_skewed_clock

if TYPE_CHECKING:
    from .._domain.runtime_config import Secret
    from ..stores.postgres import PostgresIdempotencyStore

__all__ = [
    "close_lease",
    "holder_id",
    "lease_not_held",
    "lease_standing",
    "open_lease",
    "open_store",
    "pg_dsn",
    "pg_timeout",
    "postgres_holder",
    "take_lease",
]

_LEASE_CODES: Final = frozenset({"C2_LEASE_ACQUIRED", "C2_LEASE_LOST"})
_LEASE_ERROR: Final = "C2_LEASE_ERROR"


def holder_id(cfg: DryrunConfig) -> str:
    """Unique per running process, so a resume waits for a live holder's lease to expire."""
    return f"{cfg.run_id}@{socket.gethostname()}:{os.getpid()}"


def pg_dsn() -> Secret:
    """The PostgreSQL DSN from the environment (a ``Secret``); ``ConfigError`` when unset."""
    from .._postgres import pg_dsn_from_env  # noqa: PLC0415 - only for --store postgres

    # The extra first, as a ccxt broker's: not "set LIVESESSION_PG_DSN", then "no psycopg".
    import_optional("psycopg", "postgres")
    return pg_dsn_from_env(os.environ)


def pg_timeout() -> float:
    """The bound on each PostgreSQL call (``LIVESESSION_PG_TIMEOUT``); ``ConfigError`` if bad."""
    from .._postgres.deadline import pg_timeout_from_env  # noqa: PLC0415 - as pg_dsn

    return pg_timeout_from_env(os.environ)


def open_lease(
    cfg: DryrunConfig, run_dir: Path, backing: Backing, lease_clock: Clock | None
) -> FileLease | PostgresLease | None:
    """The lease the run's backing asks for (not yet acquired), or None for no lease.

    A PostgreSQL lease on the wall clock (no ``lease_clock``) is refused (``ConfigError``,
    closed) when this host's clock is too far off the server's (``refuse_skewed_clock``).
    """
    if backing.store == "postgres":
        lease = PostgresLease(pg_dsn(), cfg.account, cfg.strategy_id, timeout_s=pg_timeout())
        if lease_clock is None:
            try:
                refuse_skewed_clock(lease, cfg, lambda: _lease_now(None))
            except BaseException:
                lease.close()
                raise
        return lease
    if not backing.lease:
        return None
    path = lease_path(run_dir.parent, cfg.account, cfg.strategy_id)
    try:
        path.parent.mkdir(NEW_DIR_MODE, parents=True, exist_ok=True)
    except OSError as exc:
        raise RunDirectoryError(f"cannot create the lease directory {path.parent}: {exc}") from None
    return FileLease(path, cfg.account, cfg.strategy_id)


def lease_not_held(
    cfg: DryrunConfig, run_dir: Path, backing: Backing, lease_clock: Clock | None
) -> FileLease | PostgresLease | None:
    """The run's lease for a resume, opened (not taken) once no other session holds it.

    ``LeaseHeld`` (the lease closed) while another holder's lease is live: so a resume
    refused for it builds nothing first (a caller's ``broker_factory`` may log in to a
    venue). It only reads the lease; ``take_lease`` takes it, and is refused as before when
    another session takes it in between. None for a run with no lease.
    """
    try:
        lease = open_lease(cfg, run_dir, backing, lease_clock)
    except LeaseError as exc:  # a server gone before the lease's connection was made
        raise _not_taken(cfg, exc) from exc
    except ConfigError as exc:  # this host's clock too far off the server's
        raise ConfigError(f"cannot resume run {cfg.run_id}: {exc}") from None
    if lease is None:
        return None
    try:
        now_ns = _lease_now(lease_clock)
        held = lease.holding(now_ns)
    except LeaseError as exc:  # as acquire's: a full disk under the lease file, a server gone
        lease.close()
        raise _not_taken(cfg, exc) from exc
    except BaseException:
        lease.close()
        raise
    if held is not None and held[0] != holder_id(cfg):  # as acquire judges it
        lease.close()
        raise LeaseHeld(_lease_held(cfg, held))
    return lease


def take_lease(
    cfg: DryrunConfig, lease: FileLease | PostgresLease | None, lease_clock: Clock | None
) -> LeaseGrant | None:
    """Acquire the run's ``lease`` for a resume; ``LeaseHeld`` while another holds it.

    ``lease`` is closed when it is not taken.
    """
    if lease is None:
        return None
    try:
        now_ns = _lease_now(lease_clock)
        grant = lease.acquire(holder_id(cfg), now_ns, cfg.lease_ttl_ms * 1_000_000)
    except LeaseError as exc:  # a full disk under the lease file, a server gone
        lease.close()
        raise _not_taken(cfg, exc) from exc
    except BaseException:
        lease.close()
        raise
    if grant is None:
        try:
            held = lease.holding(now_ns)
        except LeaseError:
            held = None  # the message goes without the holder: the refusal is what matters
        finally:
            lease.close()
        raise LeaseHeld(_lease_held(cfg, held))
    return grant


def close_lease(lease: SessionLease | None) -> None:
    """Close ``lease`` (opened by ``lease_not_held``, not taken); None: nothing to close."""
    if lease is not None:
        lease.close()


def _lease_now(lease_clock: Clock | None) -> int:
    return _clock.epoch_ns((lease_clock or _clock.SystemClock()).now())


def _not_taken(cfg: DryrunConfig, exc: LeaseError) -> LeaseError:
    return LeaseError(
        f"cannot resume run {cfg.run_id}: its lease could not be taken ({exc}); nothing "
        "was changed: resume again once the lease's store takes writes"
    )


def _lease_held(cfg: DryrunConfig, held: tuple[str, int] | None) -> str:
    """Why a resume cannot take the lease, naming its holder and when its lease expires.

    A process killed with its lease (SIGKILL, a lost host) keeps it until it expires: the
    "live session" in the way is then most often this run's own process before the crash
    (its holder id starts with the run id), and the way out is to wait, not to stop it.
    ``held``: the lease's holder and expiry, None when they could not be read.
    """
    pair = f"account {cfg.account!r}, strategy {cfg.strategy_id!r}"
    ttl = f"lease_ttl_ms={cfg.lease_ttl_ms}"
    head = f"cannot resume run {cfg.run_id}"
    if held is None:
        return (
            f"{head}: another live session holds the lease of {pair} (LEASE_HELD); nothing was "
            f"changed. It may be this run's own process before the crash, whose lease holds "
            f"until it expires ({ttl}): stop that session, or wait and resume again"
        )
    holder, expires_ns = held
    until = _clock.format_utc(_clock.from_epoch_ns(expires_ns))
    elsewhere = _other_host(holder, cfg.run_id)
    if elsewhere:
        return (
            f"{head}: the lease of {pair} is still held by {holder}, this run's own process on "
            f"another host, {elsewhere}, which cannot be asked from here whether it still runs: "
            f"killed, it keeps the lease until it expires, at {until} ({ttl}); running, it "
            f"renews the lease and resume is refused again (LEASE_HELD); nothing was changed: "
            f"make sure it no longer runs on {elsewhere}, then resume again after {until}"
        )
    if _of_run(holder, cfg.run_id):
        return (
            f"{head}: the lease of {pair} is still held by {holder}, most likely this run's own "
            f"process before the crash: a holder that ended without letting it go (killed, or "
            f"torn by a refused write) keeps it until it expires, at {until} ({ttl}) "
            f"(LEASE_HELD); nothing was changed: resume again after {until}"
        )
    return (
        f"{head}: another live session ({holder}) holds the lease of {pair} until {until}, "
        f"unless it renews it (LEASE_HELD); nothing was changed. Stop that session, or wait "
        f"for its lease to expire ({ttl}) and resume again"
    )


def _of_run(holder: object, run_id: str) -> bool:
    """Whether ``holder`` is a ``holder_id`` of run ``run_id`` (``<run_id>@<host>:<pid>``)."""
    return isinstance(holder, str) and holder.startswith(f"{run_id}@")


def _other_host(holder: str, run_id: str) -> str:
    """The host of ``holder``, a ``holder_id`` of this run on another host than this one.

    "" for another run's holder, one of this host, or one not of ``<run_id>@<host>:<pid>``.
    """
    if not _of_run(holder, run_id):
        return ""
    host, sep, pid = holder.removeprefix(f"{run_id}@").rpartition(":")
    if not sep or not pid.isdigit() or host in ("", socket.gethostname()):
        return ""
    return host


def open_store(
    backend: str, cfg: DryrunConfig, run_dir: Path, *, durable: bool, fresh: bool = False
) -> IdempotencyStore:
    """The run's idempotency store: ``postgres`` (namespace: the run id) or a local one.

    ``fresh``: for a new run, whose PostgreSQL namespace must hold no key yet.
    """
    if backend == "postgres":
        from ..stores.postgres import PostgresIdempotencyStore  # noqa: PLC0415 - optional extra

        store = PostgresIdempotencyStore(pg_dsn(), namespace=cfg.run_id, timeout_s=pg_timeout())
        if fresh:
            _refuse_a_used_namespace(store, cfg.run_id)
        return store
    # Only the memory store reads this clock: simulated time from the session's start.
    sim = _clock.SimClock.at_ns(cfg.start_ns)
    return open_idempotency_store(backend, run_dir, clock=sim, durable=durable)


def _refuse_a_used_namespace(store: PostgresIdempotencyStore, run_id: str) -> None:
    """``ConfigError`` (the store closed) when a new run's namespace is in use or holds keys.

    The namespace is the run id, which is unique only within one ``--out`` directory: a run
    of the same id on another host, or one whose directory was removed, left them. Its
    client order ids are this run's too (they derive from the run id), so each order would
    look reserved already and be taken for the other run's (found at the venue, or in
    doubt and never sent), and the other run's resume would meet this one's outcomes. A
    run of the id starting or running elsewhere may have none yet: the store holds the
    namespace first (``hold_namespace``), for as long as this run's connection lasts.
    """
    try:
        in_use = not store.hold_namespace()
        held = 0 if in_use else len(store.reservations())
    except BaseException:
        store.close()  # the server failed: the error says so, and no connection is left
        raise
    if in_use:
        store.close()
        raise ConfigError(
            f"run id {run_id!r} is in use in PostgreSQL: another run of that id holds "
            f"{store!r} (starting or running on another host): start it with another "
            f"--run-id (run ids must be unique across every host sharing the database)"
        )
    if not held:
        return
    store.close()
    raise ConfigError(
        f"run id {run_id!r} is taken in PostgreSQL: {store!r} already holds {held} "
        f"idempotency key(s) of another run of that id (on another host, or one whose run "
        f"directory was removed), whose client order ids this run would reuse: start it "
        f"with another --run-id (run ids must be unique across every host sharing the "
        f"database)"
    )


def lease_standing(
    run_dir: Path,
    meta: dict[str, Any],
    cfg: DryrunConfig | None,
    now_ns: int,
    *,
    sealed: bool = False,
) -> dict[str, Any] | None:
    """The run's lease as ``livesession status`` reports it (None: the run takes none).

    No ``cfg`` (its ``config.json`` does not read: edited after the run began, say): by
    the config the checkpoint ran with, and ``run.json`` read alone; such a run's lease
    was said to be ``none (the run takes no lease)``.

    The local lease file's entry; for PostgreSQL (not queried: status needs no DSN), with
    no lease file, or for a ``sealed`` run that gave its lease back and another run holds
    now, the last lease record the run audited. A ``sealed`` run whose last record is its
    grant released the lease at the seal: no holder is named then.
    """
    if cfg is None:
        cfg = config_ran_with(read_json_object(run_dir / names.CHECKPOINT))
        meta = read_json_object(run_dir / names.RUN_META)
        if cfg is None:
            return None
    store = meta.get("store")
    if store != "postgres" and not meta.get("lease"):
        return None
    account, strategy, ttl_ms = cfg.account, cfg.strategy_id, cfg.lease_ttl_ms
    code, payload, failed = _last_lease_record(run_dir)
    backend = "postgres" if store == "postgres" else "file"
    lost = _how_lost(payload, backend) if code == "C2_LEASE_LOST" else None  # its own loss
    # The seal releases the lease unaudited (or it expires): its last grant holds no more.
    # (A loss names who holds it now.)
    released = sealed and code == "C2_LEASE_ACQUIRED"
    if store != "postgres":
        path = lease_path(run_dir.parent, account, strategy)
        entry = read_json_object(path).get("leases", {}).get(account, {}).get(strategy)
        # A sealed run's lease file may name a later run of the pair: that run's, not its own.
        holder = entry.get("holder") if isinstance(entry, dict) else None
        later = released and isinstance(holder, str) and not _of_run(holder, cfg.run_id)
        if isinstance(entry, dict) and not later:
            expires = entry.get("expires_ns")
            live = isinstance(expires, int) and bool(entry.get("holder")) and expires > now_ns
            return {
                "backend": "file",
                "holder": entry.get("holder"),
                "fence": entry.get("token"),
                "held": live,
                "expires_utc": _clock.format_utc(_clock.from_epoch_ns(expires))
                if live and isinstance(expires, int)
                else None,
                "ttl_ms": ttl_ms,
                "source": str(path),
                "lost": lost,
                "unavailable": failed,
            }
    # PostgreSQL (not queried: status needs no DSN), or no lease file: what the run audited.
    return {
        "backend": backend,
        "holder": payload.get("holder") if code == "C2_LEASE_ACQUIRED" and not released else None,
        "released": released,
        "fence": payload.get("fence"),
        "held": None,
        "expires_utc": None,
        "ttl_ms": ttl_ms,
        "source": f"{names.AUDIT} ({code or 'no lease record'})",
        "lost": lost,
        "unavailable": failed,
    }


def _last_lease_record(run_dir: Path) -> tuple[str, dict[str, Any], str]:
    """The run's last lease record: its code and payload (``""`` and ``{}``: none).

    And the error of a ``C2_LEASE_ERROR`` after it (the store failed at preflight; ``""``).
    """
    last: dict[str, Any] = {}
    failed = ""
    for record in read_records(run_dir / names.AUDIT):
        if record.get("code") in _LEASE_CODES:
            last, failed = record, ""
        elif record.get("code") == _LEASE_ERROR and isinstance(record.get("payload"), dict):
            failed, last = str(record["payload"].get("error") or ""), {"code": _LEASE_ERROR}
    payload = last.get("payload")
    return str(last.get("code", "")), payload if isinstance(payload, dict) else {}, failed


def _how_lost(payload: dict[str, Any], backend: str) -> str:
    """How a ``C2_LEASE_LOST`` says the run lost its lease, for ``status``.

    ``backend``: the run's lease backend (``leaselost.lease_backend``), which says what a
    reset of its store is.
    """
    head = f"this run lost it at fence {payload.get('fence')}"
    if payload.get("error"):
        return f"{head}: its backend failed ({payload['error']}), so maybe no session holds it"
    if "refused_by_fence" not in payload:
        return f"{head}: another session took it over (its renewal was refused)"
    newer = payload["refused_by_fence"]
    if not was_reset(payload):
        return f"{head}: another session took it over (fence {newer} refused this run's write)"
    reset = reset_of(backend)
    found = "was gone" if newer is None else f"held fence {newer}, not for this run"
    return (
        f"{head}: {reset.what} under it (its {reset.record} {found} when this run "
        f"{reset.found}: {reset.causes}), so another session may hold it"
    )


def postgres_holder(run_dir: Path) -> tuple[str, str] | None:
    """The holder of the run's (account, strategy) in PostgreSQL and until when (UTC).

    None when unknown (no live holder, or the server failed: the rejection is what matters).
    """
    import time  # noqa: PLC0415 - only for this line

    config = read_json_object(run_dir / names.CONFIG)
    account, strategy = config.get("account"), config.get("strategy_id")
    if not isinstance(account, str) or not isinstance(strategy, str):
        return None
    try:
        lease = PostgresLease(pg_dsn(), account, strategy, timeout_s=pg_timeout())
        try:
            held = lease.holding(time.time_ns())
        finally:
            lease.close()
    except LiveSessionError:
        return None  # the line goes without it: the rejection is what matters
    return None if held is None else (held[0], _clock.format_utc(_clock.from_epoch_ns(held[1])))
