"""A relative path resolved once, where an entry point of the API starts.

The current directory is the process's, not a thread's. A host that runs sessions on
threads (a desk's scheduler) may ``os.chdir`` in one thread while another is inside
``create_run(cfg, "runs")``: a relative path resolved again at each use then named one
directory for the run directory's ``mkdir`` and another for its lock and files (the run
refused with ``No such file or directory``, or begun in two places), and a creation that
failed removed ``runs/<run_id>`` wherever the current directory was by then: another
run of that name. ``anchored`` resolves such a path against the current directory once,
as the call starts, so that the whole call works on one directory; its messages then name
that absolute path.

The CLI keeps the paths as the operator typed them (``paths_as_given``): its process's
current directory is its own (a plug-in that calls ``os.chdir`` is refused or put back),
and its messages say ``out/runs/demo-001``, the words the operator wrote, not the
directory they lead to.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .flags import ContextFlag

if TYPE_CHECKING:
    import contextlib

__all__ = ["anchored", "paths_are_as_given", "paths_as_given"]

_AS_GIVEN: Final = ContextFlag("livesession_paths_as_given")
"""Whether the caller (the CLI) keeps its relative paths as given (``paths_as_given``)."""


def paths_as_given() -> contextlib.AbstractContextManager[None]:
    """Within the block (the CLI's commands), ``anchored`` leaves a path as it was given."""
    return _AS_GIVEN.within()


def paths_are_as_given() -> bool:
    """Whether the caller keeps its relative paths as given (within ``paths_as_given``)."""
    return bool(_AS_GIVEN)


def anchored(path: str | os.PathLike[str]) -> Path:
    """``path`` as a ``Path``, resolved against the current directory now if relative.

    Made absolute, not resolved: ``..`` and symbolic links stay as given, for the checks
    after it to judge where they lead. Within ``paths_as_given`` it is left relative.
    """
    given = Path(path)
    return given if _AS_GIVEN else given.absolute()
