"""How the recorder calls a sink, says its error, and where the crash harness kills it.

Apart from the recorder so that it stays one module: all are small and have no state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import INTERRUPTS
from .._support.crash import CRASH_COUNT as _CRASH_COUNT
from .._support.crash import CRASH_LABEL as _CRASH_LABEL
from .._support.crash import crash_hits as _crash_hits
from .._support.crash import crashpoint
from .._support.handlerraised import raised_in_handler
from .._support.secrets import redact_text
from .._support.text import valid_text

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._typing import LineSink

__all__ = ["attempt", "cause_of", "crash_at_write"]


def attempt(action: Callable[[], None]) -> BaseException | None:
    """Call a sink's ``action``: None, or what it raised, ``BaseException``s too.

    A sink is the caller's code: whatever it raises (a ``CancelledError``, a
    ``GeneratorExit``) is its failure, which the fail-closed policy takes, as for a plug-in
    (``INTERRUPTS``); Ctrl-C and ``sys.exit`` go on, and so does what a signal handler of
    the user's raised as the signal landed in the write (``raised_in_handler``: a strategy's
    time limit): no sink failed, and the file system has nothing to be put right.
    """
    try:
        action()
    except INTERRUPTS:
        raise
    except BaseException as exc:  # any sink error goes through the policy
        if raised_in_handler(exc):
            raise
        return exc
    return None


def crash_at_write(name: str, sink: LineSink, line: bytes) -> None:
    """Crash-harness only: die before writing ``line`` to ``name``'s sink, or half-way."""
    crashpoint(f"write_{name}")
    if f"torn_{name}" == _CRASH_LABEL:
        _torn_write(sink, line)


def _torn_write(sink: LineSink, line: bytes) -> None:
    """Crash-harness only: write half of ``line``, flush, and die at the armed count."""
    label = f"torn_{_CRASH_LABEL.removeprefix('torn_')}"
    if _crash_hits.get(label, 0) + 1 >= _CRASH_COUNT:
        sink.write_line(line[: len(line) // 2])
        sink.flush()
    crashpoint(label)


def cause_of(error: BaseException) -> str:
    """A sink's error as the run records it (``OSError: disk gone``), redacted.

    A sink of the host's own may quote its connection string or credentials in its error,
    and this text goes to metrics.json, the session log and the session's result.
    """
    text = valid_text(str(error))
    return redact_text(f"{type(error).__name__}: {text}") if text else type(error).__name__
