"""Code handed in that its module no longer holds: made before an ``importlib.reload``.

``importlib.reload`` runs a module's file again and binds its names to new classes and
functions; an object made before it keeps its old class, and so the code the file held
then. A run given such an object would run that code and record the file's SHA-256 as
it is now (a notebook's habit: edit the strategy, reload, pass the object made before).
``stale`` tells such code from code that is the same as the module's now (a reload of an
unchanged file, or IPython's autoreload, which patches the old class with the new code).
"""

from __future__ import annotations

from typing import Final

__all__ = ["stale"]

_MISSING: Final = object()
_PER_CLASS: Final = frozenset({"__dict__", "__weakref__"})
"""Attributes every class has of its own (descriptors), never its code."""


def stale(code: object, module: object) -> bool:
    """Whether ``code`` (a class or a function) differs from what ``module`` now binds to its name.

    False for what the module binds under its name, for code with no such name (made in a
    function, or the name gone) or whose name holds no code now (a singleton, ``Desk =
    Desk()``), for code of ``__main__``, and for code the same as the module's (function by
    function, value by value).
    """
    qualname = getattr(code, "__qualname__", None)
    if module is None or not isinstance(qualname, str) or "<locals>" in qualname:
        return False
    if getattr(module, "__name__", None) == "__main__":  # a script's or a shell's own: a
        return False  # class typed again at the prompt is redefined there, never reloaded
    now: object = module
    try:
        for part in qualname.split("."):
            now = getattr(now, part, _MISSING)
    except Exception:  # noqa: BLE001 - a module's own __getattr__: no name known
        return False
    if now is code or now is _MISSING:
        return False
    if not isinstance(now, type) and getattr(now, "__code__", None) is None:
        return False  # the name holds no code: an instance bound to its class's name, say
    return not _same(code, now, set())


def _same(old: object, new: object, seen: set[tuple[int, int]]) -> bool:
    """Whether ``old`` and ``new`` are the same code and values (``seen``: pairs compared)."""
    if old is new or (id(old), id(new)) in seen:
        return True
    seen.add((id(old), id(new)))
    if isinstance(old, type) and isinstance(new, type):
        return _same_class(old, new, seen)
    if isinstance(old, (staticmethod, classmethod)) and type(old) is type(new):
        return _same(old.__func__, new.__func__, seen)
    if isinstance(old, property) and isinstance(new, property):
        return all(
            _same(getattr(old, part), getattr(new, part), seen) for part in ("fget", "fset", "fdel")
        )
    code = getattr(old, "__code__", None)
    if code is not None:
        return (
            code == getattr(new, "__code__", None)
            and _equal(getattr(old, "__defaults__", None), getattr(new, "__defaults__", None))
            and _equal(getattr(old, "__kwdefaults__", None), getattr(new, "__kwdefaults__", None))
        )
    return _equal(old, new)


def _same_class(old: type, new: type, seen: set[tuple[int, int]]) -> bool:
    if type(old) is not type(new) or len(old.__mro__) != len(new.__mro__):
        return False
    for mine, theirs in zip(old.__mro__, new.__mro__, strict=True):
        if mine is theirs:
            continue
        if mine.__qualname__ != theirs.__qualname__:
            return False
        names = set(vars(mine)) - _PER_CLASS
        if names != set(vars(theirs)) - _PER_CLASS:
            return False
        if not all(_same(vars(mine)[name], vars(theirs)[name], seen) for name in names):
            return False
    return True


def _equal(old: object, new: object) -> bool:
    """``old == new``, False when the comparison raises or answers no bool (an array)."""
    try:
        answer = old == new
    except Exception:  # noqa: BLE001 - a value of the user's that cannot be compared
        return False
    return answer is True
