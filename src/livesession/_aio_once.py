"""One ``async with`` block per ``open_session(...)`` call: a second entry is refused in one line.

``contextlib.asynccontextmanager`` answers a second entry with ``AttributeError:
'_AsyncGeneratorContextManager' object has no attribute 'args'``, naming its own internals.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Generic, NoReturn, ParamSpec, TypeVar

from ._exceptions import LiveSessionError

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractAsyncContextManager
    from types import TracebackType

__all__ = ["OpenOnce", "once"]

_T = TypeVar("_T")
_P = ParamSpec("_P")

AGAIN = (
    "this open_session(...) was entered already: each call opens one session, for one async "
    "with block, and that block's end closes it; call open_session(...) again for another "
    "block (nothing was changed)"
)
"""Why a second ``async with`` of one ``open_session(...)`` is refused."""

NOT_ASYNC = (
    "open_session(...) is an async context manager: use `async with open_session(...) as "
    "session:` inside a coroutine (a notebook cell may use it at top level), or "
    "create_run(...) for a session without asyncio (nothing was built)"
)
"""Why a plain ``with open_session(...)`` is refused."""


class OpenOnce(Generic[_T]):
    """What ``open_session(...)`` returns: an async context manager entered once only."""

    __slots__ = ("_entered", "_opening")

    def __init__(self, opening: AbstractAsyncContextManager[_T]) -> None:
        self._opening = opening
        self._entered = False

    def __repr__(self) -> str:
        return f"open_session(...) ({'entered' if self._entered else 'not entered yet'})"

    def __enter__(self) -> NoReturn:
        # `with` instead of `async with`: Python's own refusal named this private class.
        raise TypeError(NOT_ASYNC)

    def __exit__(self, *exc: object) -> None:  # pragma: no cover - __enter__ always raises
        return None

    async def __aenter__(self) -> _T:
        if self._entered:
            raise LiveSessionError(AGAIN)
        self._entered = True
        return await self._opening.__aenter__()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> bool | None:
        return await self._opening.__aexit__(exc_type, exc, traceback)


def once(opener: Callable[_P, AbstractAsyncContextManager[_T]]) -> Callable[_P, OpenOnce[_T]]:
    """``opener`` (an ``asynccontextmanager``), its result entered once only."""

    @functools.wraps(opener)
    def opened(*args: _P.args, **kwargs: _P.kwargs) -> OpenOnce[_T]:
        return OpenOnce(opener(*args, **kwargs))

    return opened
