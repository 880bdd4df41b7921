"""Create a new run directory and the session that writes into it."""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._artifacts import names
from .._artifacts.releases import resume_advice, written_by_other_release
from .._artifacts.runfiles import first_writes_left
from .._artifacts.runread import is_run_dir, read_json_object
from .._domain.configfile import place_of
from .._domain.decimal import with_context
from .._domain.runtime_config import Secret
from .._exceptions import ConfigError, PluginError, RunDirectoryError, RunExists
from .._session.assembly import fit_to_feed
from .._session.edges import check_config, check_path
from .._session.plugins import check_references
from .._support.anchor import anchored
from .._support.filemode import NEW_DIR_MODE
from .._support.flags import ContextFlag
from .._support.madedir import in_made_dir
from .._support.oserrors import said, way_out
from .._support.references import IN_PROCESS, a_
from .._support.text import command
from .alerting import choose_alerts
from .backing import pg_dsn, pg_timeout
from .brokers import BrokerFactory, open_broker
from .data import check_data_opens, data_record, pin_data
from .factory import built_by_factory, factory_name
from .layout import LOCAL_BACKENDS, STORES, Backing, refuse_no_room, taken_as, write_run_files
from .lock import RunLock, held_refusal, holder_soon, living_holder, writer_command
from .memoryids import refuse_memory_ids
from .plugins import (
    PlugIns,
    RunPlugins,
    apply_references,
    check_call,
    handed,
    open_plugins,
    with_clock,
)
from .seal import claimed_seal
from .session import open_session
from .standing import objects_given
from .starting import killed_before_writing
from .supplied import from_python, resume_call, supplied_from
from .venue import check_venue_interval

if TYPE_CHECKING:
    from typing import Unpack

    from .._domain.config import DryrunConfig
    from .._session.coordinator import LiveSessionOrchestrator
    from .._typing import AlertSink, Clock

__all__ = ["advising_the_cli", "create_run", "from_the_command_line"]


_FOR_THE_CLI: Final = ContextFlag("livesession_create_run_for_the_cli")
"""Whether ``create_run`` is called by the CLI's ``dryrun``: its refusals then advise
``--run-id`` and ``livesession resume``; a Python caller's advise ``run_id`` and
``resume_run``."""


def advising_the_cli() -> contextlib.AbstractContextManager[None]:
    """Within the block, ``create_run``'s refusals give the CLI's advice (``dryrun``)."""
    return _FOR_THE_CLI.within()


def _broken_link(path: Path) -> str:
    """What is wrong with the first symlink on ``path`` that leads nowhere ("" for none).

    ``mkdir`` takes a dangling or looping symlink for something that is there (EEXIST):
    the refusal names the link and where it points, not a run directory that is not there.
    """
    for part in (*reversed(path.parents), path):
        if not part.is_symlink():
            continue
        try:
            part.stat()
        except OSError as exc:
            # The run directory itself is never made through a link: its own is in the way.
            fix = "choose another --run-id, or remove it" if part == path else ""
            if exc.errno == errno.ELOOP:
                what = f"{part} is a symlink loop ({exc.strerror})"
                return f"{what}: {fix or 'point it at a directory'}"
            target = part.readlink()
            if exc.errno == errno.ENOENT:
                # Where the link leads, from here: a relative target is the link's folder's,
                # and through a chain of links the missing end is what to create.
                end = part.resolve() if (part.parent / target).is_symlink() else None
                lead = f", leading to {end}" if end else ""
                missing = end or Path(os.path.normpath(part.parent / target))
                what = (
                    f"{part} is a broken symlink: it points to {target}{lead}, which does not exist"
                )
                return f"{what}: {fix or f'create {missing}, or point {part} at a directory'}"
            return f"{part} is a symlink to {target}, which cannot be reached ({exc.strerror})"
    return ""


def _refuse_existing(run_dir: Path) -> bool:
    """An existing run directory is never written again by ``create_run``.

    While a process holds it the refusal names that process (``RunHeld``: the CLI's exit 3,
    as for a second ``resume``); otherwise it is a finished or crashed run, which only
    ``resume`` may continue. Neither case touches the directory (the lock is only queried).
    A file where the directory would go is refused as not a run directory. The advice is
    for where the call came from (``advising_the_cli``): another ``--run-id`` and
    ``livesession resume`` for the CLI, another ``run_id`` and ``resume_run`` for Python.

    True (no refusal) for a directory holding nothing but a ``writer.lock`` no process
    holds: a run killed while it started, before it wrote anything (``_rundir.starting``),
    which ``create_run`` takes over. False: there is no directory.
    """
    if not run_dir.exists():
        return False
    cli = bool(_FOR_THE_CLI)
    another = "choose another --run-id" if cli else "choose another run_id"
    if not run_dir.is_dir():  # a file there: no lock file to ask, no run to name
        raise RunExists(
            f"run directory {run_dir} already exists and is not a run directory (it is a "
            f"file): {another}, or remove it"
        )
    created = (run_dir / names.RUN_META).exists()
    # A directory without run.json may be one another dryrun made a moment ago and is
    # about to lock: wait for its lock before saying what the directory holds.
    holder = living_holder(run_dir) if created else holder_soon(run_dir)
    if holder is not None:
        raise held_refusal(
            run_dir,
            holder,
            # Its end does not free the id: the run stays there, sealed (or resumable).
            advice=f"{another}; waiting will not free this one, which stays that run's",
            own="choose another run_id: this one is that session's",
        )
    if not created and killed_before_writing(run_dir):
        return True
    if not created:
        raise RunExists(
            f"run directory {run_dir} already exists but holds no run (no {names.RUN_META}): "
            f"{another}, or remove the directory"
        )
    if claimed_seal(run_dir) is not None:  # as status reads the seal
        listing = f" (`{command('list', run_dir.parent)}` shows the runs there)" if cli else ""
        raise RunExists(
            f"run directory {run_dir} already exists and holds a finished run: {another}{listing}"
        )
    raise RunExists(
        f"run directory {run_dir} already exists: {another}, or {_continue(run_dir, cli=cli)}"
    )


def _continue(run_dir: Path, *, cli: bool) -> str:
    """How to continue the crashed run in ``run_dir``, from where the call came.

    A run started with objects supplied in-process (``strategy=Mine()``) is continued only
    by ``resume_run`` given them again: ``livesession resume`` cannot build them. They are
    named as ``livesession status`` names them (``strategy=<a desk.Mine>``).
    """
    if written_by_other_release(run_dir):  # this release cannot continue it
        return resume_advice(run_dir, verb="continue a crashed run")
    objects = objects_given(read_json_object(run_dir / names.CONFIG))
    verb = "continue a crashed run" if cli else "continue the crashed run"
    if objects:  # the call names them: only it continues the run
        return from_python(run_dir, objects, verb=verb)
    if not cli:
        return f"{verb} with {resume_call(run_dir, objects)}"
    return f"{verb} with `{command('resume', run_dir)}`"


def from_the_command_line(run_dir: Path, said: str) -> str:
    """``livesession resume``'s word on a refusal ``said`` of a run started with objects.

    ``resume_run`` refuses such a run given nothing (``pass the same object as strategy=
    again``), which on the command line names a keyword no flag takes: the call from Python
    that continues it is added, as ``status`` names it (``said`` alone otherwise).
    """
    objects = objects_given(read_json_object(run_dir / names.CONFIG))
    if not objects or "the command line cannot rebuild" in said:
        return said
    call = resume_call(run_dir, objects)
    return f"{said}, as {call} from Python (the command line cannot rebuild it)"


@with_context
def create_run(
    cfg: DryrunConfig,
    out_dir: str | os.PathLike[str],
    *,
    idempotency_backend: str = "sqlite",
    clock: Clock | None = None,
    broker_factory: BrokerFactory = open_broker,
    live_override: bool = False,
    store: str = "local",
    lease: bool = False,
    lease_clock: Clock | None = None,
    alerts: AlertSink | bool = True,
    **given: Unpack[PlugIns],
) -> LiveSessionOrchestrator:
    """Create ``out_dir/<run_id>/`` (never overwriting one) and a session writing into it.

    ``cfg`` is a ``DryrunConfig`` (a dict or a config file's name is a ``ConfigError``
    saying what would do: ``load_config(path)``), and ``out_dir`` a path: a ``str`` or any
    ``os.PathLike`` (a ``pathlib.Path``). An argument of the wrong kind (``clock=5``,
    ``alerts="yes"``) raises ``PluginError`` naming it, before anything is written.

    ``alerts``: ``True`` posts the run's alerts to the webhook ``LIVESESSION_ALERT_WEBHOOK_URL``
    or the config's ``[alerts] webhook_url`` names (the environment wins; none: no alerts),
    logging each delivery to ``alerts.jsonl``; an ``AlertSink`` gets them instead; ``False``
    sends none.

    ``strategy``, ``feed`` and ``broker`` plug in the run's own pieces, each as an object
    or as a reference ``"package.module:callable"``. A reference is the same as the config
    naming it (``strategy_factory``, ``feed``, ``broker``): it goes into ``config.json``
    and its hash, and resolves from ``cfg.base_dir`` (the config file's directory) and
    then the installed packages. An object has no reference: ``config.json`` records its
    class and the SHA-256 of the class's file ("object supplied in-process"), and
    ``resume_run`` then needs the same kind of object passed again. A broker given here
    replaces ``broker_factory``. A ``broker_factory`` of the caller's is recorded as such
    an object is (``from broker_factory=fac``: the factory, its file's SHA-256, and the
    class it built), and ``resume_run`` then needs the same factory passed again. Every
    plug-in is built before anything is written: a bad reference raises ``PluginError``
    and leaves no directory behind. A params key a factory takes no parameter for (a
    misspelt ``lookbak``) is refused before the run id is looked at (``RunExists``).

    ``idempotency_backend="memory"`` is for the ``mock`` and ``realish`` venues, which a
    resume rebuilds as they stood: with any other broker (``ccxt:``, a reference, an
    object, a ``broker_factory``) it raises ``ConfigError`` before anything is written, as
    ``dryrun`` refuses it. The ids a resume needs to ask the venue about would die with the
    process, and the orders the venue has would be sent again.

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
    check_config(cfg)
    check_path("out_dir", out_dir)
    check_call(
        create_run,
        given,
        clock=clock,
        lease_clock=lease_clock,
        live_override=live_override,
        broker_factory=broker_factory,
    )
    taken = place_of(cfg, "run_id")  # the file and line that set it, before a new config
    out_dir = anchored(out_dir)  # one directory for the whole call: another thread may chdir
    run_dir = out_dir / cfg.run_id
    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir} is not a directory: runs go to OUT/<run_id>/")
    _refuse_inside_a_run(out_dir, cli=bool(_FOR_THE_CLI))
    idempotency_backend, backing = _checked_backing(idempotency_backend, store, lease)
    alert_choice = choose_alerts(cfg, alerts)  # a bad webhook URL is refused here
    cfg = apply_references(cfg, **given)
    refuse_memory_ids(
        cfg,
        idempotency_backend,
        own_broker=_broker_given(given.get("broker"), broker_factory),
        cli=bool(_FOR_THE_CLI),
    )
    check_venue_interval(cfg)  # a venue feed's candle length, known without a request
    # A params key no factory takes (a misspelt ``lookbak``) is refused before the run id
    # is looked at (a user would change a taken one first, to learn of the misspelling only
    # then): each reference the run builds is imported and its signature read, none called.
    objects = {role for role in ("strategy", "feed", "broker") if handed(given.get(role))}
    check_references(
        cfg,
        strategy="strategy" not in objects,
        feed="feed" not in objects,
        broker="broker" not in objects and broker_factory is open_broker,
    )
    if "feed" not in objects:  # a data file not there, as a misspelt parameter: before the id
        check_data_opens(cfg)
    made: list[Path] = []  # the directories on the way to the run made here (``--out``'s too)
    taken_over = _claimed(out_dir, run_dir, made, taken)  # once the call and config are good
    ours = not taken_over  # made here; one taken over is ours once its lock is, and checked
    lock: RunLock | None = None
    plugins: RunPlugins | None = None
    try:
        # Ours from the first byte to the seal: no second writer can open this run.
        lock = RunLock.acquire(run_dir, writer_command("dryrun"), cfg.run_id)
        if taken_over:
            _taken_over(run_dir, lock)
            ours = True
        # Plug-ins are built, and a data file is checked whole and hashed, before anything
        # of the run is written: a bad reference or data file leaves nothing behind. A
        # broker factory that takes a ``journal`` gets the run's venue journal.
        plugins = open_plugins(
            cfg,
            **given,
            journal=run_dir / names.JOURNAL,
            own_factory=broker_factory is not open_broker,
        )
        feed_obj = plugins.feed
        # A dated file starts the run at its first bar, a data file's price grid is
        # inferred when not given, and its SHA-256 and size go into the config (a config
        # that names another SHA-256 is refused).
        cfg = pin_data(fit_to_feed(cfg, feed_obj), feed_obj)
        # A caller's broker_factory builds the broker now, to be recorded as an object is:
        # once nothing refuses the run before it is written, and given the config the run
        # records (a resume gives it that one too).
        plugins = built_by_factory(cfg, run_dir, plugins, broker_factory)
        write_run_files(
            run_dir,
            cfg,
            idempotency_backend=idempotency_backend,
            backing=backing,
            data=data_record(cfg, feed_obj),
            sources=with_clock(plugins.sources, clock, cfg),
            webhook=isinstance(alert_choice, Secret),
        )
        session = open_session(
            cfg,
            run_dir,
            plugins,
            lock=lock,
            idempotency_backend=idempotency_backend,
            clock=clock,
            broker_factory=broker_factory,
            append=False,
            live_override=live_override,
            backing=backing,
            lease_clock=lease_clock,
            alerts=alert_choice,
        )
    except BaseException as exc:
        if plugins is not None:
            plugins.close()
        if lock is not None:
            lock.release()
        # Nothing half-written: the directory is ours (created exclusively above, or taken
        # over), and what was opened in it is closed again (a process out of descriptors
        # could not remove it). One another process took over first is left to it.
        if ours:
            _remove_made(run_dir)
        for directory in reversed(made):  # each still empty; one another run is in stays
            with contextlib.suppress(OSError):
                directory.rmdir()
        if isinstance(exc, OSError):
            where = f" ({exc.filename})" if exc.filename else ""
            advice = way_out(exc.errno)
            left = f"{run_dir} is left behind: remove it" if run_dir.exists() else ""
            raise RunDirectoryError(
                f"cannot create run {run_dir}: {exc.strerror or exc}{where}"
                f"{': ' + advice if advice else ''}; {left or 'nothing was left behind'}"
            ) from exc
        raise
    return session


def _refuse_inside_a_run(out_dir: Path, *, cli: bool) -> None:
    """Refuse an ``out_dir`` that is a run directory, or inside one: nothing is written.

    ``--out out/runs/demo-001`` made ``out/runs/demo-001/demo-001/``: a run that ``list``
    never shows, among another run's files. Judged where the path leads (``..`` and
    symlinks followed); a directory not made yet is judged by the nearest one that is.
    """
    placed = Path(os.path.realpath(out_dir))
    run = next((p for p in (placed, *placed.parents) if is_run_dir(p)), None)
    if run is None:
        return
    flag = "--out" if cli else "out_dir"
    itself = run == placed
    where = f"the run directory {out_dir}" if itself else f"inside the run {run}"
    parent = out_dir.parent if itself and out_dir.name not in ("", "..") else run.parent
    raise RunDirectoryError(
        f"{flag} {out_dir} is {where}: a run made there would be hidden among that run's "
        f"files; nothing was written: give the directory that holds the runs, {flag} {parent}"
    )


def _remove_made(run_dir: Path) -> None:
    """Remove the run directory a failed creation made, and what it wrote there.

    ``rmtree`` opens the directory to list it; a process out of file descriptors cannot,
    so the files a creation writes are then unlinked by name (no descriptor needed).
    """
    shutil.rmtree(run_dir, ignore_errors=True)
    if not run_dir.is_dir():
        return
    made = (names.WRITER_LOCK, names.CONFIG, names.RUN_META, *names.ARTIFACTS.values())
    for name in (*made, names.METRICS, names.CHECKPOINT, names.JOURNAL, names.SESSION_LOG):
        with contextlib.suppress(OSError):
            (run_dir / name).unlink()
    with contextlib.suppress(OSError):
        run_dir.rmdir()


def _claimed(out_dir: Path, run_dir: Path, made: list[Path], where: str) -> bool:
    """``_make_run_dir`` once ``_refuse_existing`` lets the run id be.

    ``where`` names the config file and line that set the run id (``taken_as``).
    """
    with taken_as(where):
        _refuse_existing(run_dir)
        refuse_no_room(run_dir)  # a path a temporary file's name would take past PATH_MAX
        return _make_run_dir(out_dir, run_dir, made)


def _make_run_dir(out_dir: Path, run_dir: Path, made: list[Path]) -> bool:
    """Create ``run_dir`` exclusively (never a second writer), and ``out_dir`` if need be.

    Each directory made on the way to it is added to ``made``, for a failed creation to
    take away again, as ``create_run`` does: a refused data file or plug-in left ``out/``.

    True: the directory was there, holding only the ``writer.lock`` of a run killed while it
    started, and is taken over (``_taken_over`` checks it again once the lock is ours).
    A creation beside it that failed (another thread's, another process's) removes the
    ``out_dir`` it made, when still empty, between this one's making it and its run
    directory: ``out_dir`` is made again then (``in_made_dir``), not a refusal.
    """
    try:
        in_made_dir(out_dir, made, lambda: run_dir.mkdir(NEW_DIR_MODE), remake=True)
    except FileExistsError:
        broken = _broken_link(run_dir)  # a dangling --out is no run directory that exists
        if broken:
            raise RunDirectoryError(f"cannot create run directory {run_dir}: {broken}") from None
        if _refuse_existing(run_dir):
            return True
        raise RunExists(f"run directory {run_dir} already exists") from None
    except OSError as exc:
        why = said(exc)
        if exc.errno in (errno.EACCES, errno.EPERM):  # a directory to create in: its parent's
            why += f": make {Path(exc.filename or run_dir).parent} writable"
        raise RunDirectoryError(f"cannot create run directory {run_dir}: {why}") from None
    return False


def _taken_over(run_dir: Path, lock: RunLock) -> None:
    """Once the lock of a directory taken over is ours: it still holds the lock file alone.

    Or with what a writer killed as it wrote ``config.json`` and ``run.json`` left beside
    it, which goes: they are written anew.

    Another ``dryrun`` may have taken it over between the look and the lock, and written
    a run there since (then ended): that run is never written over, nor removed.
    """
    left = first_writes_left(run_dir)
    if left is not None:
        for name in left:  # what a writer killed as it wrote them left: written anew
            (run_dir / name).unlink(missing_ok=True)
        return
    lock.abandon()  # the lock file as that run left it
    raise RunExists(
        f"run directory {run_dir} was taken over by another process while this one started: "
        "choose another run id"
    )


def _broker_given(broker: object, broker_factory: BrokerFactory) -> str | None:
    """The broker given in-process, named for a refusal (None: the config's ``broker``)."""
    if broker is not None and not isinstance(broker, str):
        return f"{type(broker).__name__} (an {IN_PROCESS})"
    if broker is None and broker_factory is not open_broker:
        return supplied_from(factory_name(broker_factory))
    return None


def _checked_backing(idempotency_backend: str, store: str, lease: bool) -> tuple[str, Backing]:
    """The run's idempotency backend and backing, refused before anything is created."""
    if not isinstance(lease, bool):  # "no" would take a lease
        raise PluginError(f"lease= got {a_(type(lease).__name__)}, not a bool")
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
        pg_timeout()  # and so is a bad LIVESESSION_PG_TIMEOUT
    return idempotency_backend, backing
