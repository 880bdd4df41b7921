"""Whether an exception came from a signal handler of the user's own, not from the code it cut.

A strategy may bound its own time with a timer whose handler raises (``signal.alarm`` or
``setitimer`` and a handler raising ``TimeoutError``; celery's soft time limit and
pytest-timeout's signal method work so). Python runs that handler between two of the main
thread's bytecodes, wherever the signal lands: in the strategy, or in the session's own
work after it, writing an event or a checkpoint. Raised there, the exception is neither
the file system's (a ``TimeoutError`` is an ``OSError``: a sink took it for a full disk)
nor the session's own bug (``UNEXPECTED_ERROR``): the step was cut at an arbitrary point,
as a Ctrl-C inside it cuts it, so it tears the session and the run resumes from its last
checkpoint (``raised_in_handler`` tells such an exception apart).
"""

from __future__ import annotations

import signal
from typing import TYPE_CHECKING, Final

from .text import exception_text
from .usercode import users_line

if TYPE_CHECKING:
    from types import CodeType

__all__ = ["handler_raised_said", "raised_in_handler"]

_OURS: Final = "_livesession_ours"
"""What ``signals.ours`` marks the session's own handlers with (theirs say what they do)."""


def raised_in_handler(exc: BaseException) -> bool:
    """Whether ``exc`` was raised from inside a signal handler installed in Python now.

    Told by the traceback: one of its frames runs a handler's code. Python's own Ctrl-C
    handler (``KeyboardInterrupt``) is no Python code, and the session's handlers are left
    out: each takes its own way already.
    """
    codes = _handler_codes()
    if not codes:
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code in codes:
            return True
        tb = tb.tb_next
    return False


def handler_raised_said(exc: BaseException) -> str:
    """``a signal handler raised TimeoutError: too slow (at FILE:LINE in h)``, one line."""
    text = " ".join(exception_text(exc).split())
    where = users_line(exc)
    return (
        f"a signal handler raised {type(exc).__name__}{': ' + text if text else ''}"
        f"{f' (at {where})' if where else ''}"
    )


def _handler_codes() -> set[CodeType]:
    """The code of each Python function installed as a signal's handler, but the session's."""
    codes: set[CodeType] = set()
    for signum in signal.valid_signals():
        try:
            handler = signal.getsignal(signum)
        except (OSError, ValueError):  # pragma: no cover - a signal Python cannot read
            continue
        if handler is None or isinstance(handler, int) or getattr(handler, _OURS, False):
            continue
        func = getattr(handler, "__func__", handler)  # a bound method's function
        code = getattr(func, "__code__", None)
        if code is not None:
            codes.add(code)
    return codes
