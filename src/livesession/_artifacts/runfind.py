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
from .packed import archive_said, compressed_copies
from .runfiles import first_writes_left, renamed_by_case

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "RUN_MARKERS",
    "archive_said",
    "is_run_dir",
    "killed_while_starting",
    "lost_files",
    "lost_said",
    "named_otherwise",
    "runs_inside",
    "unrecorded",
]

#: What makes a directory a run: the runbook's own invocation writes only the four contract
#: artifacts, and a crashed run may lack metrics.json or state snapshots, but every run that
#: got as far as recording anything has these two.
RUN_MARKERS: Final = (names.EVENTS, names.AUDIT)
_PAST_ITS_START: Final = (names.CHECKPOINT, names.METRICS, names.TIMINGS)
"""Files no run killed while it started has: each is written once it ran (or ended)."""
_NAMED_RUNS: Final = 3
_FIRST_LINE_BYTES: Final = 1 << 16
"""The most a torn first line may hold (a first record is a few hundred bytes)."""


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
    both there, empty, or one holding part of its first line (``unrecorded``). No session
    traded (orders come after the first checkpoint), so nothing was sent: ``resume``
    starts it over from nothing.

    A run that left what only a run past its start writes (``metrics.json``, written with
    a checkpoint; ``timings.json``, when its command ended; a state snapshot) was not
    killed so: its records were removed (a clean-up, an ``rm -r`` cut short or read
    half way), and starting it over would replace a run that ran.
    """
    if not (path / names.RUN_META).is_file() or any(
        (path / name).exists() for name in _PAST_ITS_START
    ):
        return False
    return all(
        unrecorded(path / name)
        for name in (*RUN_MARKERS, names.SNAPSHOTS)
        if (path / name).is_file()
    )


def unrecorded(path: Path) -> str:
    """``empty`` or ``torn`` when the file holds no whole line, "" when it holds one.

    A kill as the first line was written out leaves part of it and no newline: no record,
    as an empty file holds none. More than ``_FIRST_LINE_BYTES`` without a newline (or a
    file that cannot be read) is taken as recorded, so a damaged run is never started over.
    """
    try:
        with path.open("rb") as handle:
            head = handle.read(_FIRST_LINE_BYTES + 1)
    except OSError:
        return ""
    if not head:
        return "empty"
    return "torn" if b"\n" not in head and len(head) <= _FIRST_LINE_BYTES else ""


def lost_files(path: Path) -> list[str]:
    """``events.jsonl`` or ``audit.jsonl`` (or both) when a run with ``run.json`` lacks it.

    Such a directory is a run (as ``status`` and ``list`` judge it) that lost a file on
    the way; [] for any other. A run killed while it started (``killed_while_starting``)
    lacks them too, and lost nothing: it never wrote them.
    """
    if not (path / names.RUN_META).is_file() or killed_while_starting(path):
        return []
    return [name for name in RUN_MARKERS if not (path / name).exists()]


def lost_said(lost: list[str], run_dir: Path) -> str:
    """What every tool says of a run that lost ``lost`` (``lost_files``): the loss, what to do.

    Compressed where they lie (``events.jsonl.gz``), they are not lost: that is said instead.
    """
    said = (
        f"{' and '.join(lost)} {'is' if len(lost) == 1 else 'are'} missing from a run "
        f"livesession made ({names.RUN_META} is there)"
    )
    lost_way = ": lost on the way, or removed; get the run's own copy"
    return f"{said}{compressed_copies(run_dir, lost) or lost_way}"


def named_otherwise(run_dir: Path, missing: list[str]) -> str:
    """``missing`` run files there in another case (``renamed_by_case``), or compressed."""
    return renamed_by_case(run_dir, missing) or compressed_copies(run_dir, missing)


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
