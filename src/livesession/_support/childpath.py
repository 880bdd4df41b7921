"""The import path a child process of this interpreter shares with its parent.

The evidence's determinism re-run and the testing kit's cross-process reference run start
``python -m`` a module of ours, which must import the same livesession and the same
plug-ins as the parent. ``PYTHONPATH`` carries the parent's ``sys.path``, but it is split
on ``os.pathsep``: an entry holding one (``/srv/desk:v2/strategies``, on POSIX) cannot be
written there, and came to the child as two entries that import nothing (the re-run then
failed with ``No module named ...``). Such entries go to the child in
``LIVESESSION_PARENT_SYS_PATH`` as well (JSON, every entry whole), and the child puts them
back with ``adopt_parent_path`` before it imports a plug-in. Relative entries are made
absolute, so that they name the same directories wherever the child runs.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Final

__all__ = ["PARENT_SYS_PATH", "adopt_parent_path", "another_hash_seed", "child_env"]

PARENT_SYS_PATH: Final = "LIVESESSION_PARENT_SYS_PATH"
"""The environment variable that carries the parent's ``sys.path`` as a JSON list."""
HASH_SEEDS: Final = 2**32
"""``PYTHONHASHSEED`` takes 0 to 4294967295."""


def another_hash_seed() -> int | None:
    """A ``PYTHONHASHSEED`` other than the one this environment fixes; None if it fixes none.

    A child that is to show whether a run repeats in another process must hash ``str`` and
    ``bytes`` otherwise than the run did: inheriting a fixed seed (``PYTHONHASHSEED=0``, as
    CI and many desks set it), it ordered a set as the run had, and a strategy deciding by
    that order repeated there and nowhere else. Unset (or ``random``), each process draws
    its own, and so does the child.
    """
    mine = os.environ.get("PYTHONHASHSEED", "")
    return (int(mine) + 1) % HASH_SEEDS if mine.isdigit() else None


def _parent_entries() -> list[str]:
    """This process's ``sys.path``, absolute, without the empty entry (the cwd).

    Made absolute as ``site`` makes the child's own entries: links are kept, not resolved.
    """
    entries = (entry for entry in sys.path if entry and isinstance(entry, str))
    return [os.path.abspath(entry) for entry in entries]  # noqa: PTH100 - as site does


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` for a child that imports what this process imports, with ``extra``.

    ``PYTHONPATH`` holds the entries it can carry (so the child finds livesession before
    any code of ours runs); ``PARENT_SYS_PATH`` holds them all, for ``adopt_parent_path``.
    """
    entries = _parent_entries()
    carried = os.pathsep.join(entry for entry in entries if os.pathsep not in entry)
    return {
        **os.environ,
        "PYTHONPATH": carried,
        PARENT_SYS_PATH: json.dumps(entries),
        **extra,
    }


def adopt_parent_path() -> None:
    """In the child: put the parent's entries ``PYTHONPATH`` could not carry into ``sys.path``.

    Each goes in before the first entry that followed it in the parent's path (the
    parent's order), or at the end. Nothing to do without ``PARENT_SYS_PATH``, or when the
    variable is not a JSON list of text (a child started by hand).
    """
    try:
        parent = json.loads(os.environ.get(PARENT_SYS_PATH, "[]"))
    except ValueError:
        return
    if not isinstance(parent, list) or not all(isinstance(entry, str) for entry in parent):
        return
    for at, entry in enumerate(parent):
        if entry in sys.path:
            continue
        after = (later for later in parent[at + 1 :] if later in sys.path)
        following = next(after, None)
        index = len(sys.path) if following is None else sys.path.index(following)
        sys.path.insert(index, entry)
