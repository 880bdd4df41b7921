"""A crashed run's ``livesession resume`` that loads, before it takes the run (``status``).

A ``resume`` loads for a fraction of a second before it takes the writer lock, and one
stopped there (SIGSTOP, Ctrl-Z) stays so until it runs again. ``status`` of the run said
``crashed`` and "continue it: livesession resume DIR": a second resume, racing the first
for the run, when the first wanted only a ``kill -CONT``. It now names the loading resume
(``resuming``), says when it is stopped, and what to do. The verdict stays ``crashed``
(exit 6): nothing holds the run yet.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
from typing import TYPE_CHECKING, Any

from .._support.text import command
from .holderproc import resumes_here, stopped_pid

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

__all__ = ["loading_next", "loading_resume", "loading_says", "one_look"]

_LOOKED: contextvars.ContextVar[list[dict[str, int]] | None] = contextvars.ContextVar(
    "livesession_resumes_looked_at", default=None
)


@contextlib.contextmanager
def one_look() -> Iterator[None]:
    """Within the block, one look at this host's processes serves every run (``list``).

    A look reads every process's command line (some 15 ms for a hundred processes), taken
    for the first crashed run only: a list of none takes none.
    """
    token = _LOOKED.set([])
    try:
        yield
    finally:
        _LOOKED.reset(token)


def loading_resume(run_dir: Path) -> dict[str, Any] | None:
    """A ``livesession resume`` of ``run_dir`` on this host that has not taken it yet.

    ``{"pid", "stopped"}`` (``stopped``: how it is stopped, "" when it runs); None for none.
    """
    looked = _LOOKED.get()
    if looked is None:
        looked = [resumes_here()]
    elif not looked:  # the block's first
        looked.append(resumes_here())
    pid = looked[0].get(os.path.realpath(run_dir))
    return None if pid is None else {"pid": pid, "stopped": stopped_pid(pid)}


def loading_says(loading: dict[str, Any]) -> str:
    """The ``resuming`` line of ``status``."""
    pid, stopped = loading["pid"], loading["stopped"]
    said = f"pid {pid} (livesession resume) loads the run, before it takes it"
    return f"{said}; {stopped}" if stopped else said


def loading_next(loading: dict[str, Any], run_dir: str) -> str:
    """What to do of a crashed run a ``resume`` loads: let it run, or wait for it."""
    pid, stopped = loading["pid"], loading["stopped"]
    if not stopped:
        return f"wait: pid {pid}, a `livesession resume` of the run, takes it next; poll again"
    how = f"`kill -CONT {pid}`"  # SIGSTOP, Ctrl-Z; a debugger's stop (state t) is its own
    how = how if how in stopped else "through its debugger"
    return (
        f"a person must let pid {pid}, a `livesession resume` of the run stopped as it "
        f"loaded, run again: {how} (not another `{command('resume', run_dir)}`, which "
        "would race it for the run)"
    )
