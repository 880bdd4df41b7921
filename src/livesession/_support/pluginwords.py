"""Plug-in wording: what a plug-in raised, what it is not, and what a protocol asks for.

``raised`` names a plug-in's failure in one line, ``a_`` and ``not_a`` say what a value is
(and lacks) in words, ``protocol_members`` lists the names a protocol asks for and
``lookup_failure`` finds the first of them whose look-up raised other than
``AttributeError``. The references (``references``) and every refusal of a plug-in share them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .signals import STOPS_RAISED
from .text import exception_text, one_line

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["a_", "lookup_failure", "not_a", "protocol_members", "raised"]


def lookup_failure(value: object, names: Iterable[str]) -> str:
    """How looking up one of ``names`` on ``value`` raised, or "".

    ``hasattr`` (and ``isinstance`` with a protocol) takes ``AttributeError`` for "lacks
    it" and lets any other error through: a ``__getattr__`` reading a dict
    (``self.params[name]``) raises ``KeyError``. The first such name, in the order given:
    ``looking up its get_state raised KeyError: 'get_state'``.
    """
    for name in names:
        try:
            hasattr(value, name)
        except STOPS_RAISED:
            raise
        except BaseException as exc:  # noqa: BLE001 - the plug-in's own code failed
            return f"looking up its {name} {raised(exc)}"
    return ""


def raised(exc: BaseException) -> str:
    """What a plug-in's import or factory raised, in one line: ``raised ValueError: ...``.

    A ``SystemExit`` (``sys.exit("lookback must be at least 2")``, ``raise SystemExit(0)``,
    argparse refusing the process's arguments) is a failure like any other there, not the
    CLI's own exit: it is named with its code, ``raised SystemExit('lookback ...')``, as a
    ``SystemExit`` inside a step is. A stop (``KeyboardInterrupt``, ``SignalStop``) is never
    caught. An error with no message is named alone (``raised MemoryError``).
    """
    if isinstance(exc, SystemExit):
        return f"raised SystemExit({exc.code!r})"
    said = one_line(exception_text(exc))
    return f"raised {type(exc).__name__}{f': {said}' if said else ''}"


def a_(name: str) -> str:
    """``name`` with its indefinite article: ``a str``, ``an int``, ``an AlertSink``."""
    return f"{'an' if name[:1].lower() in 'aeiou' else 'a'} {name}"


def not_a(value: object, kind: type) -> str:
    """``value`` is not a ``kind`` (a protocol), in words: what it is, and what it lacks.

    ``a ChannelBreakout, not a Strategy: it lacks get_state, set_state``.
    """
    if value is None:
        return f"None, not {a_(kind.__name__)} (does the factory end with `return`?)"
    lacks = [name for name in protocol_members(kind) if not hasattr(value, name)]
    missing = f": it lacks {', '.join(lacks)}" if lacks else ""
    return f"{a_(type(value).__name__)}, not {a_(kind.__name__)}{missing}"


def protocol_members(kind: type) -> list[str]:
    """The public names a protocol asks for (methods, properties and attributes), sorted."""
    names: set[str] = set()
    for cls in kind.__mro__:
        if cls.__module__ in ("builtins", "typing", "typing_extensions"):
            continue
        names.update(vars(cls))
        names.update(vars(cls).get("__annotations__", {}))
    return sorted(name for name in names if not name.startswith("_"))
