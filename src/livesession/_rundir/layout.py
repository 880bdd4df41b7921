"""What a run directory holds, and its two descriptive files: ``config.json``, ``run.json``.

A run directory holds the four contract artifacts plus ``config.json`` (the effective
configuration, with a data file's SHA-256 and size), ``run.json`` (format, version,
idempotency backend, config hash, the backing, the config file's directory and, for a feed
that reads a file, that file's SHA-256, size and resolved path), ``checkpoint.json``, the
idempotency store, the mock venue's journal, ``session.log.jsonl`` and ``timings.json``.
Local leases live beside the run directories, in ``<out>/.leases/``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.provenance import run_json_disowned
from .._artifacts.releases import other_release, release_of, unlocked_caution
from .._artifacts.runfiles import not_there
from .._artifacts.runread import read_json_object
from .._domain.config import DryrunConfig
from .._domain.ids import is_valid_run_id
from .._domain.lifecycle import reported_status
from .._domain.plugin_fields import DEMO_STRATEGY_ID
from .._exceptions import (
    ConfigError,
    LiveSessionError,
    RunDirectoryError,
    RunExists,
    RunHeld,
    UnrecordablePath,
)
from .._support.fsutil import atomic_write_bytes
from .._support.pathroom import no_room
from .._support.text import command
from .._version import __version__
from .drift import config_changed, drift_from_checkpoint
from .identity import directory_identity

__all__ = [
    "LEASE_DIR",
    "LOCAL_BACKENDS",
    "SOURCES",
    "STORES",
    "Backing",
    "config_hash",
    "free_run_id",
    "lease_path",
    "read_run_config",
    "read_run_meta",
    "refuse_no_room",
    "refuse_other_release",
    "refuse_resume_of_other_release",
    "write_run_files",
]

STORES: Final = ("local", "postgres")
LEASE_DIR: Final = ".leases"
LOCAL_BACKENDS: Final = ("memory", "jsonl", "sqlite")
SOURCES: Final = "sources"
"""The key of ``config.json`` that keeps the plug-ins' source records (not a setting)."""
_KEPT: Final = (
    *(name for kind in names.RESUME_OPENS for name in kind),
    *(names.CONFIG, names.RUN_META, names.TIMINGS, names.VENUE_PAUSE),
    f"{names.IDEMPOTENCY_SQLITE}-journal",
)
"""Every file a run keeps in its directory, for the room their paths need (``no_room``)."""


@attrs.frozen
class Backing:
    """Where a run keeps what must outlive it beyond the run directory."""

    store: str = "local"
    lease: bool = False

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Backing:
        """The backing ``run.json`` recorded (runs from before it was recorded: local)."""
        return cls(store=str(meta.get("store", "local")), lease=bool(meta.get("lease")))


def lease_path(out_dir: Path, account: str, strategy: str) -> Path:
    """The local lease file of (account, strategy) for runs under ``out_dir``."""
    name = f"{urllib.parse.quote(account, safe='')}__{urllib.parse.quote(strategy, safe='')}"
    return out_dir / LEASE_DIR / f"{name}.lease"


def _config_bytes(cfg: DryrunConfig, sources: dict[str, object] | None = None) -> bytes:
    data = cfg.to_dict() | ({SOURCES: sources} if sources else {})
    return orjson.dumps(data, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2) + b"\n"


def config_hash(cfg: DryrunConfig) -> str:
    """SHA-256 of the canonical configuration."""
    return hashlib.sha256(orjson.dumps(cfg.to_dict(), option=orjson.OPT_SORT_KEYS)).hexdigest()


def write_run_files(
    run_dir: Path,
    cfg: DryrunConfig,
    *,
    idempotency_backend: str,
    backing: Backing,
    data: dict[str, object] | None = None,
    sources: dict[str, object] | None = None,
    webhook: bool = False,
) -> None:
    """Write ``config.json`` and ``run.json`` of a new run (each atomically).

    ``sources`` (the plug-ins' source records, ``open_plugins``) go into ``config.json``
    beside the config, under the key ``sources``, only when there are any.

    ``data`` (``data_record``) is the data file the run reads, with its SHA-256: a reviewer
    sees which data ran, and ``resume`` refuses a file that changed since. ``webhook``: the
    run's alerts go to a webhook (``alerts``: ``"webhook"``; the URL is never written), and
    its ``alerts.jsonl`` is made, empty, with the run.
    """
    meta: dict[str, object] = {
        "format": names.RUN_FORMAT,
        "version": __version__,
        "idempotency_backend": idempotency_backend,
        "config_hash": config_hash(cfg),
        "store": backing.store,
        "lease": backing.lease,
    }
    meta |= directory_identity(run_dir)  # a copy's differs: it may not resume (identity)
    if data is not None:
        meta["data"] = data
    if webhook:
        # The run posts its alerts to a webhook (never the URL: a secret). A resume says
        # when its alerts.jsonl is gone, or when it posts none for want of the variable.
        meta["alerts"] = "webhook"
    if cfg.base_dir is not None:
        # Where the config's relative data paths resolve from (config.json keeps them as
        # written): resume and evidence read the same files from any directory.
        meta["config_dir"] = str(cfg.base_dir)
    atomic_write_bytes(run_dir / names.CONFIG, _config_bytes(cfg, sources))
    atomic_write_bytes(
        run_dir / names.RUN_META, orjson.dumps(meta, option=orjson.OPT_SORT_KEYS) + b"\n"
    )
    if webhook:  # there from the start: a resume that finds none knows it was removed
        (run_dir / names.ALERTS).touch()


def refuse_other_release(
    run_dir: Path, meta: dict[str, Any], why: str, doing: str, *, then: str = ""
) -> None:
    """Refuse ``doing`` (``"resume"``) a run another release wrote, naming both versions.

    ``why`` says what this release cannot do with it; the way out is the writing release,
    ``then`` what must be so first (``unlocked_caution``).
    """
    version = other_release(meta)
    if version is not None:
        raise RunDirectoryError(
            f"{run_dir} was written by livesession {version} and this is {__version__}{why}: "
            f"{doing} with livesession {release_of(version)}.x{then}"
        )


def refuse_resume_of_other_release(run_dir: Path, meta: dict[str, Any], why: str) -> None:
    """Refuse to resume a run another release wrote: sealed, there is nothing to resume.

    Its own release would resume a crashed one (``refuse_other_release`` names it), but a
    sealed one (its checkpoint says so, as for a run of this release) by no release: what
    is left is to read it, which this one does. First, a ``run.json`` whose ``version``
    or ``lease`` the run's events deny was changed after the run: no release's run, and
    resumed it would be sealed broken (``run_json_disowned``).
    """
    disowned = run_json_disowned(run_dir, meta)
    if disowned:
        raise RunDirectoryError(f"cannot resume {run_dir}: {disowned}")
    version = other_release(meta)
    if version is None:
        return
    checkpoint = read_json_object(run_dir / names.CHECKPOINT)
    if checkpoint.get("sealed") is not True:
        refuse_other_release(run_dir, meta, why, "resume it", then=unlocked_caution(run_dir))
    status = reported_status(checkpoint.get("fsm_state"), failed=bool(checkpoint.get("failed")))
    raise RunDirectoryError(
        f"nothing to resume: {run_dir} already ended with status {status} (sealed by "
        f"livesession {version}; this {__version__} reads it: {what_reads(run_dir)})"
    )


def what_reads(run_dir: Path) -> str:
    """The commands that read a sealed run, for a line that has nothing to resume."""
    return f"`{command('verify', run_dir)}` checks it, `{command('report', run_dir)}` shows it"


def read_run_meta(run_dir: Path) -> dict[str, Any]:
    """``run.json`` of ``run_dir``, refused when it is not a run of this format."""
    return _read_meta(run_dir)


def _own_sinks(run_dir: Path) -> str:
    """Why ``run_dir``, without ``run.json``, is not taken: a run on an application's sinks.

    The runbook's Python invocation (``run_dryrun`` on files of its own) leaves the four
    contract files and no ``run.json``: ``evidence`` and ``resume`` said only that it is
    not a run directory, where ``status`` says what to do with it. A run whose
    ``config.json`` or ``checkpoint.json`` is there was made by livesession and lost its
    ``run.json`` (a clean-up, a copy): that is said, as ``verify`` says it, not the sinks.
    """
    said = f"{run_dir} is not a livesession run directory (no {names.RUN_META})"
    if not all((run_dir / name).is_file() for name in (names.EVENTS, names.AUDIT)):
        return said
    if made := next((n for n in (names.CONFIG, names.CHECKPOINT) if (run_dir / n).is_file()), ""):
        return (  # as verify says it: livesession made the run, which lost its run.json
            f"{run_dir} is not a livesession run directory as it is: {names.RUN_META} is "
            f"missing, but {made} shows livesession made this run, and it writes "
            f"{names.RUN_META} before any record: the version and config hash it records are "
            f"lost{_restore(run_dir)}"
        )
    return said + (
        ": an application wrote its files on sinks of its own; "
        f"`{command('verify', run_dir)}` checks them, and evidence and resume take a run "
        "that livesession dryrun or create_run made"
    )


def _restore(run_dir: Path) -> str:
    """What to do about a file of ``run_dir`` that livesession wrote and that is now lost."""
    return f"; restore it from a backup (`{command('verify', run_dir)}` says what else is wrong)"


def _read_meta(run_dir: Path) -> dict[str, Any]:
    """``run.json`` of ``run_dir``, refused when it is not a run of this format."""
    if not run_dir.exists():
        raise RunDirectoryError(f"run directory {run_dir}{not_there(run_dir)}")
    if not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir} is not a directory")
    meta_path = run_dir / names.RUN_META
    try:
        meta = orjson.loads(meta_path.read_bytes())
    except FileNotFoundError:
        raise RunDirectoryError(_own_sinks(run_dir)) from None
    except IsADirectoryError:  # the run's own flaw, as a missing file: not the host refusing
        raise RunDirectoryError(
            f"{meta_path} is a directory, not a file{_restore(run_dir)}"
        ) from None
    except orjson.JSONDecodeError as exc:  # why, too: a BOM a copy put there, say
        raise RunDirectoryError(
            f"{meta_path} is corrupt (not JSON: {exc}){_restore(run_dir)}"
        ) from None
    if not isinstance(meta, dict) or meta.get("format") not in names.RUN_FORMATS_READ:
        raise RunDirectoryError(
            f"{run_dir} was written by another livesession version "
            f"(format {meta.get('format') if isinstance(meta, dict) else '?'!r}, "
            f"this is {names.RUN_FORMAT})"
        )
    return meta


def read_run_config(
    run_dir: Path, *, any_release: bool = False
) -> tuple[DryrunConfig, dict[str, Any]]:
    """The config and run metadata of an existing run directory (nothing is changed).

    The plug-ins' source records of ``config.json`` are returned in the metadata, under
    ``sources`` (empty for a run on the built-in strategy, feed and broker).
    ``any_release``: a run another release wrote is read with this release's defaults for
    the keys it added (another config hash), to be described, never run again (``status``).
    """
    meta = _read_meta(run_dir)
    try:
        data = orjson.loads((run_dir / names.CONFIG).read_bytes())
        if isinstance(data, dict):
            # Part of the evidence, outside the config and its hash: callers find it in meta.
            meta[SOURCES] = data.pop(SOURCES, {})
        cfg = DryrunConfig.from_mapping(data)
    except FileNotFoundError:
        raise RunDirectoryError(f"{run_dir} has no {names.CONFIG}{_restore(run_dir)}") from None
    except IsADirectoryError:
        raise RunDirectoryError(
            f"{run_dir / names.CONFIG} is a directory, not a file{_restore(run_dir)}"
        ) from None
    except UnrecordablePath as exc:  # the locale's, or the name's: the file is sound
        raise RunDirectoryError(f"{run_dir / names.CONFIG}: {exc}") from None
    except (orjson.JSONDecodeError, ConfigError) as exc:
        raise RunDirectoryError(
            f"{run_dir / names.CONFIG} is corrupt: {exc}{_restore(run_dir)}"
        ) from None
    if meta.get("config_hash") != config_hash(cfg) and not (any_release and other_release(meta)):
        why = ", which reads its config.json with keys it added (another config hash)"
        if read_json_object(run_dir / names.CHECKPOINT).get("sealed") is True:
            refuse_other_release(run_dir, meta, why, "re-run it (evidence, burnin)")
        caution = unlocked_caution(run_dir)  # unsealed: it may still be written
        refuse_other_release(
            run_dir, meta, why, "re-run it (evidence, burnin) or resume it", then=caution
        )
        drift = drift_from_checkpoint(run_dir, cfg.to_dict())  # names the keys changed
        if drift:
            raise RunDirectoryError(config_changed(run_dir, drift))
        raise RunDirectoryError(f"{run_dir / names.CONFIG} does not match the run's config hash")
    base_dir = meta.get("config_dir")
    if isinstance(base_dir, str) and cfg.base_dir is None:
        cfg = attrs.evolve(cfg, base_dir=base_dir)
    return cfg, meta


def refuse_no_room(run_dir: Path) -> None:
    """Refuse to create ``run_dir`` where the paths of the files a run keeps are too long."""
    if room := no_room(run_dir, _KEPT):
        raise RunDirectoryError(
            f"cannot create run {run_dir}: {room}: put the run where its path is shorter; "
            "nothing was left behind"
        )


def free_run_id(out: Path, cfg: DryrunConfig) -> str:
    """The next free ``<name>-NNN`` in ``out``, named after the strategy that runs.

    ``demo-001`` for the demo strategy under its own name; a strategy of one's own, or the
    demo a config names (``strategy_id = "basket-btc"``, one session of a basket), takes its
    ``strategy_id`` (``breakout-001``, ``basket-btc-001``): the run, its events and its
    evidence never name the demo for it, and a basket's runs are told apart by their names.
    """
    demo = cfg.strategy_factory is None and cfg.strategy_id == DEMO_STRATEGY_ID
    name = "demo" if demo else cfg.strategy_id
    if not is_valid_run_id(f"{name}-000"):
        name = "run"  # a strategy id too long (or odd) to lead a run id
    for n in range(1, 10_000):
        candidate = f"{name}-{n:03d}"
        if not os.path.lexists(out / candidate):  # a dangling symlink is taken too
            return candidate
    raise LiveSessionError(f"no free {name}-NNN run id left in {out}: pass --run-id")


@contextlib.contextmanager
def taken_as(where: str) -> Iterator[None]:
    """Within the block, a run id taken (``RunExists``, ``RunHeld``) is said at ``where``.

    ``where`` is ``config file PATH, line N: `` of the config file that set ``run_id``
    (``place_of``), "" for one given otherwise: of a desk's 200 generated configs, the
    refusal names the one to fix, as a value's refusal does. The type stays, so ``dryrun``
    still moves on from an id it chose, and ``except RunExists:`` still catches it.
    """
    try:
        yield
    except (RunExists, RunHeld) as exc:
        if not where or str(exc).startswith(where):
            raise
        raise type(exc)(f"{where}{exc}") from None
