"""Whether a crashed run can be resumed, asked without changing it; and its checkpoint read.

``resume_run`` asks all of this and more before it changes anything; ``status`` and
``verify`` ask the read-only part (``resume_problem``) to say whether a crashed run is
resumable, and what its checkpoint says (``checkpoint_summary``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runfiles import refuse_odd_files
from .._artifacts.runfind import lost_files, lost_said
from .._exceptions import CheckpointError, LiveSessionError, RunDirectoryError
from .._support.fsutil import raise_if_refused
from .._support.oserrors import unwritable_run
from ..stores import FileCheckpointStore
from .data import check_resume_data
from .drift import check_config_kept
from .identity import copy_problem, linked_problem
from .keptkeys import check_keys_kept, check_store_opens
from .layout import read_run_config, read_run_meta, refuse_resume_of_other_release
from .resumeclock import refuse_clock_behind
from .resumecut import check_journals, validate_artifacts
from .sourcefiles import check_source_files

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig

__all__ = [
    "OTHER_RELEASE",
    "check_memory_on_a_venue",
    "checked_checkpoint",
    "checkpoint_summary",
    "load_checkpoint",
    "resume_problem",
]

OTHER_RELEASE: Final = ", which continues only runs of its own release"


def load_checkpoint(run_dir: Path, read: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """The run's checkpoint, validated; None when the run never reached one.

    ``read``: the JSON object the caller read from the file already (None or ``{}``: read
    here, where a file that is missing, not JSON or no object is said as it is).
    """
    if read:
        return checked_checkpoint(run_dir, read)
    try:
        checkpoint = FileCheckpointStore(run_dir / names.CHECKPOINT).load()
    except CheckpointError as exc:
        raise RunDirectoryError(str(exc)) from None
    return checked_checkpoint(run_dir, checkpoint)


def checked_checkpoint(run_dir: Path, checkpoint: object) -> dict[str, Any] | None:
    """``checkpoint`` (read from ``run_dir``) if it is one this release continues from.

    None for None (the run never reached one); what ``load_checkpoint`` refuses raises
    ``RunDirectoryError`` as there: for a tool that read the file already.
    """
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


def checkpoint_summary(run_dir: Path) -> dict[str, Any]:
    """What the checkpoint says, for operators (never raises on a missing one)."""
    try:
        checkpoint = load_checkpoint(run_dir)
    except LiveSessionError as exc:
        return {"error": str(exc)}
    if checkpoint is None:
        return {"checkpoint": False}
    return {"checkpoint": True, "steps": checkpoint["steps"], "state": checkpoint["fsm_state"]}


def resume_problem(run_dir: Path, checkpoint: dict[str, Any] | None = None) -> str | None:
    """Why ``resume_run`` would refuse ``run_dir`` on its files, or None when it would not.

    The read-only half of a resume's checks, for ``livesession status`` (never run it on a
    live run: a writer's files change under it): the config, the checkpoint, the audit
    chain and artifact sizes up to the checkpoint, the venue journals, the data file's
    bytes and the plug-ins' source files (hashed, never imported), that a local
    idempotency file is there, is a store and holds the keys the run recorded as submitted
    (read from a copy), and that the run directory can be written. What only the
    resume itself can learn (a lease another session holds, the keys a PostgreSQL store
    holds) is not checked. ``checkpoint``: the JSON object the caller read from the
    run's ``checkpoint.json`` (None: read here), so that a heavy one is parsed once.

    Raises:
        OSError: the host refused to read a file of the run (``raise_if_refused``): that
            is no reason of the run's, and ``status`` says it rather than a verdict.
    """
    try:
        if lost := lost_files(run_dir):  # as ``resume`` refuses it: removed, not unwritten
            raise RunDirectoryError(lost_said(lost, run_dir))
        refuse_odd_files(run_dir)
        refuse_resume_of_other_release(run_dir, read_run_meta(run_dir), OTHER_RELEASE)
        cfg, meta = read_run_config(run_dir)
        checkpoint = load_checkpoint(run_dir, checkpoint)
        if checkpoint is not None and checkpoint.get("sealed"):
            return f"run {cfg.run_id} is sealed: nothing to resume"
        if refused := (
            linked_problem(run_dir)
            or check_config_kept(run_dir, cfg, checkpoint)
            or copy_problem(run_dir, cfg, meta)
        ):
            return refused
        check_memory_on_a_venue(cfg, meta)
        offsets, _, _ = validate_artifacts(run_dir, checkpoint)
        check_journals(run_dir, checkpoint, cfg.broker, meta.get("sources") or {})
        refuse_clock_behind(run_dir, cfg, meta, checkpoint)
        check_keys_kept(cfg, run_dir, meta, offsets["events"], server=False)
        check_store_opens(run_dir, meta)
        check_resume_data(run_dir, cfg, meta)
        check_source_files(cfg, meta.get("sources") or {})
    except OSError as exc:
        raise_if_refused(exc, run_dir)
        return str(exc)
    except LiveSessionError as exc:
        return str(exc)
    except (KeyError, TypeError, ValueError) as exc:  # a checkpoint of the wrong shape
        return f"{run_dir / names.CHECKPOINT} is corrupt ({type(exc).__name__})"
    # last: what the run's own files lack is said first
    return unwritable_run(run_dir, *names.RESUME_OPENS)


def check_memory_on_a_venue(cfg: DryrunConfig, meta: dict[str, Any]) -> None:
    """Refuse a real venue's run whose client order ids died with the crashed process.

    ``create_run`` refuses such a run now; one created before cannot be resumed safely:
    the resume would take the orders it sent for unsent and send them again.
    """
    if meta.get("idempotency_backend") != "memory" or not cfg.broker.startswith("ccxt:"):
        return
    raise RunDirectoryError(
        f"run {cfg.run_id} kept its client order ids in memory (idempotency backend "
        f"'memory'), and they died with the crashed process: resuming it on {cfg.broker} "
        "could send orders the venue already has a second time; nothing was changed: "
        "settle the venue's orders and positions by hand and start a new run with sqlite"
    )
