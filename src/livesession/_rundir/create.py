"""Create a new run directory and the session that writes into it."""

from __future__ import annotations

import contextlib
import shutil
from typing import TYPE_CHECKING

from .._exceptions import ConfigError, RunDirectoryError
from .._session.assembly import default_feed, fit_to_feed
from .backing import pg_dsn
from .brokers import BrokerFactory, open_broker
from .data import close_feed, data_record, pin_data
from .layout import LOCAL_BACKENDS, STORES, Backing, write_run_files
from .lock import RunLock, writer_command
from .session import open_session

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig
    from .._session.coordinator import LiveSessionOrchestrator
    from .._typing import Clock, MarketFeed

__all__ = ["create_run"]


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

    The config's feed is built first: a data file (``feed = "csv:<path>"`` or
    ``"parquet:<path>"``, relative paths from ``cfg.base_dir``) is checked whole and hashed
    before anything is created (a ``DataFileError`` names the first bad line). Its SHA-256
    and size go into ``config.json`` (a config that names another SHA-256 is refused) and,
    with its path, into ``run.json``; a dated file's first time becomes ``start_time``, and
    a grid inferred from its prices ``price_tick``.
    """
    run_dir = out_dir / cfg.run_id
    if run_dir.exists():
        raise RunDirectoryError(
            f"run directory {run_dir} already exists: choose another --run-id or move it away"
        )
    if idempotency_backend not in LOCAL_BACKENDS:
        raise ConfigError(
            f"unknown idempotency backend {idempotency_backend!r}: choose memory, jsonl or sqlite"
        )
    if store not in STORES:
        raise ConfigError(f"unknown store {store!r}: choose local or postgres")
    backing = Backing(store=store, lease=lease or store == "postgres")
    if store == "postgres":
        idempotency_backend = "postgres"
        pg_dsn()  # a missing LIVESESSION_PG_DSN is refused before anything is created
    # The feed's data file (if any) is checked whole and hashed before anything is created.
    cfg, feed = _open_feed(cfg)
    created_out = not out_dir.exists()
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
    except FileExistsError:
        close_feed(feed)
        raise RunDirectoryError(f"run directory {run_dir} already exists") from None
    except OSError as exc:
        close_feed(feed)
        raise RunDirectoryError(f"cannot create run directory {run_dir}: {exc.strerror}") from None
    lock: RunLock | None = None
    try:
        # Ours from the first byte to the seal: no second writer can open this run.
        lock = RunLock.acquire(run_dir, writer_command("dryrun"))
        write_run_files(
            run_dir,
            cfg,
            idempotency_backend=idempotency_backend,
            backing=backing,
            data=data_record(cfg, feed),
        )
        session = open_session(
            cfg,
            run_dir,
            idempotency_backend=idempotency_backend,
            clock=clock,
            broker_factory=broker_factory,
            append=False,
            live_override=live_override,
            backing=backing,
            lease_clock=lease_clock,
            feed=feed,
        )
    except BaseException:
        close_feed(feed)
        if lock is not None:
            lock.release()
        # Nothing half-written: the directory is ours (created exclusively above).
        shutil.rmtree(run_dir, ignore_errors=True)
        if created_out:
            with contextlib.suppress(OSError):
                out_dir.rmdir()
        raise
    session.close_with(lock)
    return session


def _open_feed(cfg: DryrunConfig) -> tuple[DryrunConfig, MarketFeed]:
    """The config's feed, and ``cfg`` as the run records it.

    A dated file starts the run at its first bar, a data file's price grid is inferred when
    not given, and its SHA-256 and size go into the config (a config that names another
    SHA-256 is refused).
    """
    feed = default_feed(cfg)
    try:
        return pin_data(fit_to_feed(cfg, feed), feed), feed
    except BaseException:
        close_feed(feed)
        raise
