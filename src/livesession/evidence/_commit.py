"""The git commit livesession itself runs from: the evidence manifest's ``git_commit``.

Only a checkout of livesession has one, and only when the package ``git`` is asked about
is that checkout's ``src/livesession``. An installed wheel has no commit: asked from its
folder, git walks up to whatever repository holds the environment (a project's ``.venv``
inside the project's own clone, as the README sets one up) and answers for that project,
so the manifest named the project's commit as livesession's. Such an answer is dropped:
no commit (null; the document's ``no git commit``) rather than another repository's.

Git prints the checkout's path as the bytes of its name: they are read as Python reads file
names (``os.fsdecode``), not as the locale's text, which under ``LC_ALL=C`` with
``PYTHONUTF8=0`` refused a checkout at ``/home/jürgen/...`` with a ``UnicodeDecodeError``
that ended ``evidence`` in a traceback, exit 1 (NOT VERIFIED).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Final

_PACKAGE: Final = Path(__file__).resolve().parent.parent
"""The ``livesession`` package folder this module was loaded from."""

__all__ = ["git_commit"]


def git_commit(package: Path = _PACKAGE) -> str | None:
    """The commit of the checkout ``package`` is the ``src/livesession`` of; else None."""
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--show-toplevel", "HEAD"],  # noqa: S607 - read-only query
            capture_output=True,
            check=False,
            timeout=5,
            cwd=package,
        )
        lines = os.fsdecode(proc.stdout).splitlines() if proc.returncode == 0 else []
        if len(lines) != 2 or not lines[1].strip():  # noqa: PLR2004 - the top and the commit
            return None
        ours = (Path(lines[0]) / "src" / "livesession").resolve() == package.resolve()
    except (OSError, subprocess.SubprocessError):
        return None
    return lines[1].strip() if ours else None
