"""Whose code a traceback's frame is, and the line of the user's own that raised.

A plug-in's error is named by the innermost frame of the user's code in its traceback
(``users_line``): code neither livesession's nor the standard library's, the desk's source
tree first, else an installed package (the desk's own wheel, or a library it called). The
testing kit's findings, the CLI's failure line and every refusal of a plug-in that raised
(as it was imported, built or restored) name it so.
"""

from __future__ import annotations

import site
import sysconfig
import traceback
from pathlib import Path
from typing import Final

__all__ = ["users_line"]

_OWN: Final = Path(__file__).resolve().parents[1]
"""livesession's own code: a frame there is never the line to look at."""
_INSTALLED: Final = tuple(
    {
        *(sysconfig.get_paths()[name] for name in ("purelib", "platlib")),
        *getattr(site, "getsitepackages", list)(),
        site.getusersitepackages(),
    }
)
"""Where installed packages live: a desk's own (its wheel installed) or a library it calls.
In a virtual environment, and in a Python installed without one, they are inside the
standard library's directory (``platstdlib``), so they are told apart from it first."""
_STDLIB: Final = tuple({sysconfig.get_paths()[name] for name in ("stdlib", "platstdlib")})


def users_line(cause: BaseException) -> str | None:
    """``file:line in function`` of the innermost frame of the user's code (None: none).

    The user's code is neither livesession's nor the standard library's: first a frame in
    none of the installed packages (the desk's source tree), else one in an installed
    package (the desk's package installed, or a library it called).
    """
    frames = [
        (_whose(frame.filename), frame)
        for frame in reversed(traceback.extract_tb(cause.__traceback__))
        if not frame.filename.startswith("<frozen ")
    ]
    for wanted in ("source", "installed"):
        for whose, frame in frames:
            if whose == wanted:
                return f"{frame.filename}:{frame.lineno} in {frame.name}"
    return None


def _whose(filename: str) -> str:
    """Whose code ``filename`` is: ``livesession``, ``installed``, ``stdlib`` or ``source``."""
    try:
        resolved = Path(filename).resolve()
    except (OSError, RuntimeError, ValueError):
        return "source"
    if resolved.is_relative_to(_OWN):
        return "livesession"
    for kind, roots in (("installed", _INSTALLED), ("stdlib", _STDLIB)):
        if any(resolved.is_relative_to(Path(root).resolve()) for root in roots):
            return kind
    return "source"
