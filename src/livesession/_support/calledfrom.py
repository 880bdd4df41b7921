"""Which of a caller's plug-ins a thread is in now, for the words of a verb it defers.

A verb called from inside the session's own work is deferred (``DEFERRED``), and its
message says who called it where the library knows: inside a desk's rail, or an alert
sink's ``post``. Anywhere else (a signal handler Python ran in the middle of a step, say)
it cannot tell, and says so. The module imports nothing from the package.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["called_from", "calling"]

_NOW: Final[ContextVar[str | None]] = ContextVar("livesession_calling", default=None)
_UNKNOWN: Final = "by a signal handler or a callback, say"


@contextmanager
def calling(what: str) -> Iterator[None]:
    """The calling thread is in ``what`` (``a rail``, ``an alert sink's post``) until it ends."""
    token = _NOW.set(what)  # a context's: another thread's calls are not this one's
    try:
        yield
    finally:
        _NOW.reset(token)


def called_from() -> str:
    """Who called a verb now, as far as the library knows: ``from within a rail``, or a guess."""
    what = _NOW.get()
    return _UNKNOWN if what is None else f"from within {what}"
