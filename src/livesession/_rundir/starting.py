"""A run directory that holds no run yet: a writer starting in it, or one killed so.

``create_run`` makes ``OUT/<run_id>/`` and takes its ``writer.lock`` first (one writer from
the first byte), then checks the data file whole and builds the plug-ins (a file of two
million rows takes minutes), and only then writes ``config.json`` and ``run.json``. Until
then the directory holds the lock file alone. While the writer lives, ``status`` calls it
running (``STARTING``); a writer killed there (SIGKILL, the OOM killer, a power cut: SIGTERM
and Ctrl-C remove the directory) leaves the lock file alone, held by no process. Nothing of
the run was written, and nothing was sent: ``status`` says so (``killed_before_writing``),
and ``dryrun`` with the same run id takes such a directory over (``create_run``), never
while a process holds its lock and never when anything else is in it. A writer killed as
it wrote ``config.json`` and ``run.json`` (each a temporary file made durable, then renamed)
leaves beside the lock file ``config.json``, or a temporary file of either, and no
``run.json``: no more a run, and taken over alike (``first_writes_left``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._artifacts import names
from .._artifacts.packed import has_compressed
from .._artifacts.runfiles import first_writes_left
from .._artifacts.runfind import killed_while_starting
from .._artifacts.runread import require_run
from .._exceptions import RunDirectoryError, RunHeld
from .._support.text import command, option
from .lock import holder_of, holder_soon, is_held

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

__all__ = [
    "STARTING",
    "is_starting",
    "killed_before_writing",
    "no_run_shown",
    "no_run_yet",
    "require_written",
    "start_again",
    "starting_says",
    "writer_starting",
]

STARTING: Final = (
    f"starting: no {names.RUN_META} yet (it checks its data file and builds its plug-ins "
    "before it writes the run)"
)
"""What a directory a writer holds, before it wrote ``run.json``, is (``status``)."""


RECORDING: Final = (
    f"starting: {names.RUN_META} written, nothing recorded yet (it opens its broker and stores, "
    "preflights and activates before its first records are written out)"
)
"""What a directory a writer holds, with ``run.json`` but no records yet, is (``status``): its
first records reach the files once it is activated, so a slow venue's preflight or
activation keeps it here too."""

_REMAINS: Final = (*names.CONTRACT, names.CHECKPOINT)
"""Files a run writes after ``run.json`` (``no_run_shown``)."""


def starting_says(run_dir: Path, *, no_run: bool) -> str:
    """What the directory a live writer holds is before its first records ("" after them).

    ``no_run``: it holds no run yet (``writer.lock`` alone, or about to). A run with
    ``run.json`` but no records, which ``killed_while_starting`` would call killed, is one
    still opening while its writer lives.
    """
    if no_run:
        return STARTING
    return RECORDING if killed_while_starting(run_dir) else ""


def no_run_yet(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds ``writer.lock`` and no run: at most ``first_writes_left``."""
    return first_writes_left(run_dir) is not None


def no_run_shown(path: Path) -> bool:
    """Whether ``list`` shows ``path``, which holds no run: a writer starting, or a run's remains.

    What is left of a run whose ``run.json`` and ``audit.jsonl`` were removed (a file a run
    writes only once ``run.json`` is in place) is no run, but ``list`` shows it (``not_a_run``,
    naming what is missing) rather than leave it out of a fleet's count. A directory of the
    desk's own, with none of these files, is left out. So is a run whose file names a copy
    changed the case of (``EVENTS.JSONL``: a case-folding file system), which ``status``
    explains (``renamed_by_case``): it was left out of the list without a word.
    """
    if no_run_yet(path) or any((path / name).exists() for name in _REMAINS):
        return True
    if has_compressed(path, (*_REMAINS, names.RUN_META)):  # compressed where it lies
        return True
    wanted = {name.lower() for name in (*_REMAINS, names.RUN_META)}
    try:
        return any(entry.name.lower() in wanted for entry in path.iterdir())
    except OSError:  # not to be read: nothing more is known of it than before
        return False


def is_starting(run_dir: Path) -> bool:
    """Whether a writer holds ``run_dir`` before it wrote the run (``no_run_yet``)."""
    return no_run_yet(run_dir) and is_held(run_dir)


def writer_starting(run_dir: Path) -> bool:
    """Whether a live writer holds ``run_dir`` before its first records were written.

    ``is_starting`` (no run yet), or ``RECORDING``: ``run.json`` written and no records in
    the files yet (``killed_while_starting`` would call it killed), as a session preflights
    and activates on a slow venue before its first flush. ``stop`` signals such a writer.
    """
    if is_starting(run_dir):
        return True
    return killed_while_starting(run_dir) and is_held(run_dir)


def killed_before_writing(run_dir: Path) -> str:
    """What a directory a writer was killed in before it wrote the run is ("" for another).

    Only ``writer.lock`` there (and ``first_writes_left``), and no process holding it.
    """
    left = first_writes_left(run_dir)
    if left is None or is_held(run_dir):
        return ""
    if left:
        return (
            f"a run killed while it started, before it wrote {names.RUN_META}: only "
            f"{names.WRITER_LOCK}, held by no process, and what it was writing "
            f"({', '.join(left)}) are there (it recorded nothing, and sent nothing)"
        )
    return (
        f"a run killed while it started, before it wrote anything: only {names.WRITER_LOCK} "
        "is there, held by no process (killed while it checked its data file or built its "
        "plug-ins; it recorded nothing, and sent nothing)"
    )


def start_again(run_dir: Path) -> str:
    """The ``dryrun`` that starts such a run again, taking the directory over.

    Its config's own options follow (``...``): the directory holds no config to name them.
    """
    return f"{command('dryrun --out', run_dir.parent)} {option('--run-id', run_dir.name)} ..."


def require_written(
    path: Path,
    *,
    unstarted: bool = False,
    judged: bool = False,
    lost: bool = False,
    check: Callable[..., Path] = require_run,
) -> Path:
    """``require_run``; a directory a live writer holds before it recorded anything is said so.

    From making the directory to writing its first records a ``dryrun`` holds a directory
    that ``require_run`` alone calls empty, not a run (``writer.lock`` alone), or a run
    killed while it started ("start it over with `livesession resume`"): wrong while that
    process lives. Raises ``RunHeld`` naming the process instead (exit 3 where a live run
    is refused: ``resume``, ``evidence``, ``burnin``; exit 2 for the readers). ``check`` is
    ``require_run`` as the caller names it; ``lost``: a run that lost a file is taken
    (``require_run``).
    """
    try:
        return check(path, unstarted=unstarted, judged=judged, lost=lost)
    except RunHeld:
        raise
    except RunDirectoryError:
        try:  # an empty directory: made a moment ago, its lock taken next
            empty = path.is_dir() and next(path.iterdir(), None) is None
            holder = holder_soon(path) if empty else holder_of(path) if path.is_dir() else None
        except OSError:
            holder = None
        if holder is None:
            raise
    raise RunHeld(
        f"{path} is being written by {holder.describe()}: it is starting and has recorded "
        f"nothing yet, so there is no run to read; nothing was changed "
        f"(`{command('status', path)}` says when it runs)"
    ) from None
