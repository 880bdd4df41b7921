"""Importing a plug-in's module on a search path of its own, without touching ``sys.path``.

A reference imports from the config's base directory, then the installed packages, never
the current directory. That was done by swapping ``sys.path`` for the import, which is
the process's: while a session on one thread imported its plug-in, another thread of the
embedding application could not import a module of its own from the current directory
(or the script's), and an entry it added to ``sys.path`` meanwhile was undone. Here the
search path holds for the importing thread only: ``_ThreadSearchPath``, first in
``sys.meta_path`` from the first reference on, answers top-level imports for a thread
inside ``searching`` as ``sys.path`` set to that path would, and nothing for any other
thread (``None``: the import system goes on as it would without it).
"""

from __future__ import annotations

import contextlib
import importlib.machinery
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from importlib.machinery import ModuleSpec
    from types import ModuleType

__all__ = ["script_directory", "searching"]

_ACTIVE: Final = threading.local()
_INSTALL_LOCK: Final = threading.Lock()


class _ThreadSearchPath:
    """A meta path finder acting only for a thread inside ``searching``."""

    @classmethod
    def find_spec(
        cls,
        name: str,
        path: Sequence[str] | None = None,
        target: ModuleType | None = None,
    ) -> ModuleSpec | None:
        search: list[str] | None = getattr(_ACTIVE, "search", None)
        if search is None or path is not None:  # another thread's import, or a submodule
            return None
        for finder in sys.meta_path:
            if finder is cls:
                continue
            find: Any = getattr(finder, "find_spec", None)
            if find is None:
                continue
            if finder is importlib.machinery.PathFinder:
                spec = importlib.machinery.PathFinder.find_spec(name, search, target)
            else:
                spec = find(name, None, target)
            if spec is not None:
                return spec
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)


@contextlib.contextmanager
def searching(search: list[str]) -> Iterator[None]:
    """In the block, this thread's top-level imports look in ``search`` in place of ``sys.path``."""
    if _ThreadSearchPath not in sys.meta_path:
        with _INSTALL_LOCK:
            if _ThreadSearchPath not in sys.meta_path:
                sys.meta_path.insert(0, _ThreadSearchPath)
    before = getattr(_ACTIVE, "search", None)
    _ACTIVE.search = search
    try:
        yield
    finally:
        _ACTIVE.search = before


def script_directory() -> str | None:
    """The real path of the directory of the script Python runs (``python app.py``), or None.

    Python puts it first on ``sys.path`` so that the script imports the modules beside it
    wherever it is started from; a reference keeps it, even when it is the current
    directory too. None where ``sys.path[0]`` is the current directory by accident
    (``python -c``, ``python -m``, the REPL), and with ``python -P``, which adds nothing.
    """
    if sys.flags.safe_path:
        return None
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:  # -m: a module, not a file
        return None
    file = getattr(main, "__file__", None)
    if not isinstance(file, str):  # -c, the REPL
        return None
    return str(Path(file).resolve().parent)  # a symlinked script's real directory, as Python
