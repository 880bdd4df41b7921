"""A test hook: the collaborators of a kind built within a block, on any thread.

A test asks for a session's collaborator (its gate, its parts) by building the session
inside ``built(kind)``, and then drives and inspects it through the collaborator's own
interface, never through the session's private attributes. A collaborator that takes part
calls ``note(self)`` as it is built; with no block open that is one dictionary lookup.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["built", "note"]

_T = TypeVar("_T")

_WATCHING: dict[type, list[list[object]]] = {}
"""The lists the open ``built`` blocks fill, by the kind each watches."""


@contextmanager
def built(kind: type[_T]) -> Iterator[list[_T]]:
    """The ``kind`` objects built in the block (each ``note``s itself), in order."""
    found: list[_T] = []
    _WATCHING.setdefault(kind, []).append(found)  # type: ignore[arg-type]
    try:
        yield found
    finally:
        _WATCHING[kind].remove(found)  # type: ignore[arg-type]


def note(made: object) -> None:
    """``made`` was just built: each open ``built`` block of its kind gets it."""
    for found in _WATCHING.get(type(made), ()):
        found.append(made)
