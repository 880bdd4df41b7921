"""A flag set for the length of a ``with`` block, per thread and per asyncio task."""

from __future__ import annotations

import contextlib
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["ContextFlag"]


class ContextFlag:
    """Off, except within ``with flag.within():`` in this thread or task (nesting is fine).

    For a caller to tell code it calls how it is called (the CLI, a throwaway re-run)
    without threading an argument through every call between them.
    """

    def __init__(self, name: str) -> None:
        self._var: ContextVar[bool] = ContextVar(name, default=False)

    def __bool__(self) -> bool:
        return self._var.get()

    @contextlib.contextmanager
    def within(self) -> Iterator[None]:
        """The flag is on within the block, and as it was before once the block ends."""
        token = self._var.set(True)
        try:
            yield
        finally:
            self._var.reset(token)
