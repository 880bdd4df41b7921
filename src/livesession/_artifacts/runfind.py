"""What a directory a tool was given is, when it is not plainly one run.

A run (``is_run_dir``); a directory of runs, or a run's lock alone, which an operator gave
for a run (``runs_inside`` hints which); or a run livesession made that lost
``events.jsonl`` or ``audit.jsonl`` on the way (``lost_files``): its ``run.json`` is there,
so it is a run, and every tool says the loss in the same words (``lost_said``), not
``not a run``, which reads as a wrong path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._support.text import command
from . import names
from .runfiles import first_writes_left

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "RUN_MARKERS",
    "is_run_dir",
    "killed_while_starting",
    "lost_files",
    "lost_said",
    "runs_inside",
]

#: What makes a directory a run: the runbook's own invocation writes only the four contract
#: artifacts, and a crashed run may lack metrics.json or state snapshots, but every run that
#: got as far as recording anything has these two.
RUN_MARKERS: Final = (names.EVENTS, names.AUDIT)
_NAMED_RUNS: Final = 3


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` holds a run: its ``run.json``, or both ``RUN_MARKERS``.

    The one test of what counts as a run, so that ``list`` and the hints that count runs
    agree (a run killed before its first event has ``run.json`` alone).
    """
    return (path / names.RUN_META).is_file() or all((path / name).is_file() for name in RUN_MARKERS)


def killed_while_starting(path: Path) -> bool:
    """Whether ``path`` is a run killed after ``run.json`` was written, before it recorded.

    ``create_run`` writes ``config.json`` and ``run.json``, then builds the broker (a ccxt
    import takes seconds) and opens the recorder's files: a kill in between leaves a run
    with no ``events.jsonl`` or ``audit.jsonl`` (or one of them, empty) and no checkpoint.
    So does a kill just after they were opened, before their first lines were written out:
    both there, empty. No session traded (orders come after the first checkpoint), so
    nothing was sent: ``resume`` starts it over from nothing.
    """
    if not (path / names.RUN_META).is_file() or (path / names.CHECKPOINT).exists():
        return False
    try:
        sizes = [(path / name).stat().st_size for name in RUN_MARKERS if (path / name).is_file()]
    except OSError:
        return False
    return not any(sizes)


def lost_files(path: Path) -> list[str]:
    """``events.jsonl`` or ``audit.jsonl`` (or both) when a run with ``run.json`` lacks it.

    Such a directory is a run (as ``status`` and ``list`` judge it) that lost a file on
    the way; [] for any other. A run killed while it started (``killed_while_starting``)
    lacks them too, and lost nothing: it never wrote them.
    """
    if not (path / names.RUN_META).is_file() or killed_while_starting(path):
        return []
    return [name for name in RUN_MARKERS if not (path / name).exists()]


def lost_said(lost: list[str]) -> str:
    """What every tool says of a run that lost ``lost`` (``lost_files``): the loss, what to do."""
    return (
        f"{' and '.join(lost)} {'is' if len(lost) == 1 else 'are'} missing from a run "
        f"livesession made ({names.RUN_META} is there): lost on the way, or removed; get the "
        "run's own copy"
    )


def runs_inside(path: Path) -> str:
    """A hint when ``path``, not a run itself, is a directory of runs, or a run's lock alone.

    An operator who types ``OUT`` for ``OUT/<run_id>`` learns which runs it holds.
    """
    try:
        if (left := first_writes_left(path)) is not None:  # create_run locks, checks, writes
            held = (
                f"only {names.WRITER_LOCK}" if not left else ", ".join([names.WRITER_LOCK, *left])
            )
            doing = "checking its data file" if not left else "writing its first files"
            return (
                f"; it holds {held}: a dryrun starting ({doing}), or killed while it did "
                f"(`{command('status', path)}` says which)"
            )
        runs = sorted(
            child.name
            for child in path.iterdir()
            if not child.name.startswith(".") and child.is_dir() and is_run_dir(child)
        )
    except OSError:
        return ""
    if not runs:
        return ""
    named = ", ".join(runs[:_NAMED_RUNS]) + (", ..." if len(runs) > _NAMED_RUNS else "")
    return (
        f"; it is a directory of {len(runs)} run(s) ({named}): give one of them, "
        f"e.g. {path / runs[0]} (`{command('list', path)}` shows them all)"
    )
