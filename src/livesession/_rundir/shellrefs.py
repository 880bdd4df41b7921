"""Where this process still refers to the session that holds a run: for the refusal's words.

A second ``create_run`` or ``resume_run`` of a run this very process holds is refused
(``RunHeld``) while the session that holds it lives. In an interactive shell the user
often holds it without knowing: ``del session`` leaves the copies the shell kept, IPython's
output history (``Out[3]``, ``_3``, ``_``), the plain REPL's ``_`` (in ``builtins``), and
the traceback of the last error shown (``sys.last_traceback``: its frames hold the session
that raised). The refusal names those places, and a name to ``close()`` it by, so the user
knows what to do instead of being told to drop references they cannot see.

Only the run directories' sessions are remembered, weakly: remembering one never keeps it
alive. The places are read, never changed, and only when a refusal is being worded.

A keeper of sessions that is no part of the program (the testing kit's ``SessionTracker``,
which keeps every session a test builds to verify it at the end) registers with
``keep_sessions``: before refusing, ``let_go_kept`` asks it to keep weakly the sessions
writing the run, so one its test dropped is collected, as it would be outside the kit.
"""

from __future__ import annotations

import builtins
import os
import sys
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Final

__all__ = ["keep_sessions", "let_go_kept", "referred_as", "remember"]

_FORGET_LAST_ERROR: Final = (
    "sys.last_exc = sys.last_value = sys.last_traceback = None"
    if sys.version_info >= (3, 12)
    else "sys.last_value = sys.last_traceback = None"
)
"""What lets go of the last error a shell showed (and the frames its traceback holds)."""
_SESSIONS: Final[weakref.WeakValueDictionary[str, object]] = weakref.WeakValueDictionary()
_KEEPERS: Final[list[Callable[[Path], None]]] = []


def keep_sessions(let_go: Callable[[Path], None], *, keeping: bool = True) -> None:
    """Register ``let_go`` (``keeping=False``: no longer), called by ``let_go_kept``."""
    if keeping:
        _KEEPERS.append(let_go)
    elif let_go in _KEEPERS:
        _KEEPERS.remove(let_go)


def let_go_kept(run_dir: Path) -> None:
    """Ask each registered keeper to keep the sessions writing ``run_dir`` weakly from now on."""
    for let_go in _KEEPERS:
        let_go(Path(_key(run_dir)))


def _key(run_dir: Path) -> str:
    return os.path.realpath(run_dir)


def remember(run_dir: Path, session: object) -> None:
    """Remember (weakly) that ``session`` is the one writing ``run_dir``."""
    _SESSIONS[_key(run_dir)] = session


def referred_as(run_dir: Path) -> str:
    """`` (still referred to as `s`, `Out[3]` and `_`: `s.close()` seals it)``, or ``""``.

    Names each place of ``__main__`` (an interactive shell's namespace), its output history
    ``Out``, ``builtins._`` and the last traceback shown that refers to the session writing
    ``run_dir`` (or to its ``AsyncSession``: ``await a.close()``); ``""`` when there is
    none, or none is found. Places are compared by identity only: nothing of the user's is
    called.
    """
    session = _SESSIONS.get(_key(run_dir))
    if session is None:
        return ""
    try:
        return _places(session)
    except Exception:  # noqa: BLE001 - the refusal is worded all the same, without them
        return ""


def _places(session: object) -> str:
    held = _held_in_main(session)
    last = getattr(builtins, "_", None)
    if _holds(last, session) and "_" not in [name for name, _ in held]:
        held.append(("_", last))  # IPython keeps `_` in its namespace too: one `_` is named
    shown = " (the last value the shell showed)"
    places = [f"`{name}`{shown if name == '_' else ''}" for name, _ in held]
    if _in_last_traceback(session):
        places.append("the traceback of the last error shown (sys.last_traceback)")
    if not places:
        return ""
    close = ""
    if held:
        name, value = held[0]
        close = f": `{'' if value is session else 'await '}{name}.close()` seals it"
    else:  # the last error's traceback alone: nothing to call close() on
        close = f": `{_FORGET_LAST_ERROR}` lets go of it, a crash at its last checkpoint"
    return f" (still referred to as {_join(places)}{close})"


def _holds(value: object, session: object) -> bool:
    """Whether ``value`` is ``session``, or the ``AsyncSession`` of it (``open_session``)."""
    if value is session:
        return True
    kind = type(value)  # aio's class, told by name: aio builds on this layer, not under it
    ours = (kind.__module__, kind.__qualname__) == ("livesession.aio", "AsyncSession")
    return ours and getattr(value, "_session", None) is session


def _held_in_main(session: object) -> list[tuple[str, object]]:
    main = sys.modules.get("__main__")
    space = getattr(main, "__dict__", None)
    if not isinstance(space, dict):
        return []
    held = [(name, value) for name, value in list(space.items()) if _holds(value, session)]
    history = space.get("Out")
    if isinstance(history, dict):  # IPython's output history: every value a cell showed
        held += [(f"Out[{n!r}]", v) for n, v in list(history.items()) if _holds(v, session)]
    # A name of the user's first (`s`), then the history's, then the shell's own (`_`, `_3`).
    return sorted(held, key=lambda place: (place[0].startswith("_"), place[0].startswith("Out")))


def _in_last_traceback(session: object) -> bool:
    tb: TracebackType | None = getattr(sys, "last_traceback", None)
    while tb is not None:
        frame = tb.tb_frame  # a cell's own frame: its locals are the namespace, named above
        if frame.f_code.co_name != "<module>" and any(
            value is session for value in list(frame.f_locals.values())
        ):
            return True
        tb = tb.tb_next
    return False


def _join(names: list[str]) -> str:
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
