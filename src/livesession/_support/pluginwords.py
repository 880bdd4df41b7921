"""Plug-in wording: what a plug-in raised, what it is not, and what a protocol asks for.

``raised`` names a plug-in's failure in one line, ``a_`` and ``not_a`` say what a value is
(and lacks) in words, ``protocol_members`` lists the names a protocol asks for and
``lookup_failure`` finds the first of them whose look-up raised other than
``AttributeError``, and ``uncallable`` the first method the session could not call as it
calls it (a wrong signature). The references (``references``) and every refusal of a
plug-in share them.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Final

from .signals import STOPS_RAISED
from .text import exception_text, one_line
from .usercode import users_line

if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = [
    "a_",
    "defined_at",
    "lookup_failure",
    "not_a",
    "protocol_members",
    "raised",
    "uncallable",
]


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
    caught. An error with no message is named alone (``raised MemoryError``). The line of
    the plug-in's own code that raised follows, when one did (``raised KeyError: 'lookback'
    (at /desk/alpha.py:31 in __init__)``): nothing else names it, since nothing of the run
    is written yet, its traceback in no log.
    """
    line = users_line(exc)
    at = "" if line is None else f" (at {one_line(line)})"
    if isinstance(exc, SystemExit):
        return f"raised SystemExit({exc.code!r}){at}"
    said = one_line(exception_text(exc))
    return f"raised {type(exc).__name__}{f': {said}' if said else ''}{at}"


_LETTERS_SAID_WITH_A_VOWEL: Final = frozenset("AEFHILMNORSX")
"""Capitals whose name, read as a letter, starts with a vowel: ``an S``, ``an RSI``."""


def a_(name: str) -> str:
    """``name`` with its indefinite article: ``a str``, ``an int``, ``an AlertSink``.

    A name that starts with a capital read as a letter (one letter, or an initialism:
    ``S``, ``RSIStrategy``, ``URLFeed``) takes the article of the letter's name: ``an S``,
    ``an RSIStrategy``, ``a URLFeed``; a strategy class named ``S`` was ``a S``.
    """
    spelt = name[:1].isupper() and (len(name) == 1 or name[1:2].isupper())
    if spelt:
        return f"{'an' if name[0] in _LETTERS_SAID_WITH_A_VOWEL else 'a'} {name}"
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


def uncallable(value: object, kind: type) -> str:
    """How the session's call of one of ``kind``'s methods on ``value`` would fail, or "".

    The session calls each method a protocol names with the arguments it names, by position
    (``on_bar(bar, view)``, ``next_bar(ts_ns)``, ``set_state(state)``): a plug-in whose
    method cannot take them (``def on_bar(self, bar)``, a forgotten ``self``, an attribute
    that is no method) failed its first step with the call's own ``TypeError``, which names
    no line of the plug-in's, after the run had started. ``its on_bar takes (bar), but the
    session calls on_bar(bar, view) (on_bar is at desk/alpha.py:24)``. A method whose
    signature cannot be read (one of C) is taken as it is.
    """
    for name, wanted in _methods(kind).items():
        method = getattr(value, name, None)
        called = f"the session calls {name}({', '.join(wanted)})"
        if not callable(method):
            what = "None" if method is None else a_(type(method).__name__)
            return f"its {name} is {what}, not a method: {called}"
        try:
            signature = inspect.signature(method)
        except (TypeError, ValueError):  # no signature to read: the call says what it says
            continue
        try:
            signature.bind(*wanted)
        except TypeError:
            bare = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
            takes = signature.replace(parameters=bare, return_annotation=signature.empty)
            where = defined_at(value, name)
            at = "" if where is None else f" ({name} is at {where})"
            return f"its {name} takes {takes}, but {called}{at}"
    return ""


def _methods(kind: type) -> dict[str, list[str]]:
    """Each method ``kind`` (a protocol) names, with the arguments the session passes it."""
    methods: dict[str, list[str]] = {}
    for cls in reversed(kind.__mro__):
        if cls.__module__ in ("builtins", "typing", "typing_extensions"):
            continue
        for name, member in vars(cls).items():
            if not name.startswith("_") and inspect.isfunction(member):
                methods[name] = list(inspect.signature(member).parameters)[1:]
    return dict(sorted(methods.items()))


def defined_at(plugin: object, method: str) -> str | None:
    """``file:line`` where the plug-in's ``method`` is defined (None: no Python code)."""
    code = getattr(getattr(type(plugin), method, None), "__code__", None)
    if code is None:
        return None
    return f"{code.co_filename}:{code.co_firstlineno}"
