"""The failure matrix's "re-run it:" line: Python that reproduces one failing case.

The line is one statement sequence, imports first, that ``exec`` runs as it stands (or a
user pastes into a test): ``import functools, desk.strats; from livesession.testing import
MatrixCase, check_case; check_case(functools.partial(desk.strats.make, qty='0.01'),
MatrixCase(...), steps=40, config={...})``. Every argument the matrix was given is in it,
each named by what reproduces it: a module-level function or class by its module and
qualified name, a ``functools.partial`` of one with its arguments, a config by its plain
values. What has no such name (a lambda, a closure, anything in ``__main__``, a value
whose ``repr`` is no Python) stands in the line as its parameter's name, and the line
says to pass the same object; so does a config in which a secret shows, which the line
never prints.
"""

from __future__ import annotations

import decimal
import enum
import functools
import importlib
import math
import types
from typing import TYPE_CHECKING, Any, Final

from .._support.secrets import redact_text
from .._support.text import printable_line

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from .model import MatrixCase

__all__ = ["factory_name", "matrix_rerun_line", "rerun_line"]

_KIT: Final = "livesession.testing"
_PLAIN: Final = (str, int, bool, type(None))
"""Types whose ``repr`` is their source (exactly these: a subclass's may not be)."""
_UNNAMED: Final = (
    "no import names it, as one would a module-level function or class, or a"
    " functools.partial of one"
)
"""Said of a factory with no name: the notes hold no colon, which ends them."""
_ARGUMENT_CHARS: Final = 60
"""The most of one argument's ``repr`` a factory's name shows."""


class _Source:
    """Python source for values, and the modules it imports to run."""

    def __init__(self) -> None:
        self.modules: set[str] = set()
        self._containers: dict[type, Callable[[Any], str | None]] = {
            list: self._sequence,
            tuple: self._sequence,
            dict: self._mapping,
            functools.partial: self._partial,
        }

    def value(self, value: Any) -> str | None:
        """Source whose value equals ``value``; None when there is none."""
        kind = type(value)
        if isinstance(value, enum.Enum):  # before int and str: an IntEnum is both
            owner = self.name(kind)
            return None if owner is None else f"{owner}.{value.name}"
        if kind in _PLAIN or (kind is float and math.isfinite(value)):
            return repr(value)
        if kind is decimal.Decimal:
            self.modules.add("decimal")
            return f"decimal.Decimal({str(value)!r})"
        build = self._containers.get(kind)
        return self.name(value) if build is None else build(value)

    def _sequence(self, values: list[Any] | tuple[Any, ...]) -> str | None:
        items = [self.value(item) for item in values]
        if any(item is None for item in items):
            return None
        inside = ", ".join(str(item) for item in items)
        if isinstance(values, list):
            return f"[{inside}]"
        return f"({inside},)" if len(items) == 1 else f"({inside})"

    def _mapping(self, values: dict[Any, Any]) -> str | None:
        pairs = []
        for key, item in values.items():
            key_source, item_source = self.value(key), self.value(item)
            if key_source is None or item_source is None:
                return None
            pairs.append(f"{key_source}: {item_source}")
        return f"{{{', '.join(pairs)}}}"

    def _partial(self, made: functools.partial[Any]) -> str | None:
        parts = [self.value(made.func), *(self.value(arg) for arg in made.args)]
        parts += [
            None if (source := self.value(item)) is None else f"{key}={source}"
            for key, item in made.keywords.items()
        ]
        if any(part is None for part in parts):
            return None
        self.modules.add("functools")
        return f"functools.partial({', '.join(str(part) for part in parts)})"

    def name(self, value: object) -> str | None:
        """``module.qualname`` of a module-level function or class (or a method of one).

        None unless importing the module and following the name gives ``value`` back.
        """
        module = getattr(value, "__module__", None)
        qualname = getattr(value, "__qualname__", None)
        if not isinstance(module, str) or not isinstance(qualname, str):
            return None
        if module == "__main__" or "<" in qualname:
            return None
        try:
            found: Any = importlib.import_module(module)
            for part in qualname.split("."):
                found = getattr(found, part)
        except (ImportError, AttributeError):
            return None
        if found is not value and found != value:
            return None
        self.modules.add(module)
        return f"{module}.{qualname}"


def factory_name(factory: object) -> str:
    """How a finding's first line names a factory, on one printable line, redacted.

    A function or class by its qualified name; a ``functools.partial`` by its function and
    arguments (each ``repr`` cut short), never by its own ``repr``, which shows the
    function's address; anything else by its type. A secret among the arguments (an API key
    bound to the factory) shows as a secret rule redacts it, as the run records it.
    """
    if isinstance(factory, functools.partial):
        shown = [factory_name(factory.func)]
        shown += [_short(arg) for arg in factory.args]
        shown += [f"{key}={_short(value)}" for key, value in factory.keywords.items()]
        text = f"functools.partial({', '.join(shown)})"
    else:
        qualname = getattr(factory, "__qualname__", None)
        text = qualname if isinstance(qualname, str) else f"a {type(factory).__name__}"
    return printable_line(redact_text(text))


def _short(value: object) -> str:
    """``value``'s ``repr``, cut short; a function, a class or a partial by its name."""
    if isinstance(value, type | types.FunctionType | functools.partial):
        return factory_name(value)
    try:
        text = repr(value)
    except Exception:  # noqa: BLE001 - the argument's own __repr__ failed: it is still shown
        return "<repr() failed>"
    return text if len(text) <= _ARGUMENT_CHARS else text[: _ARGUMENT_CHARS - 1] + "\u2026"


def rerun_line(
    strategy_factory: Callable[[], object],
    case: MatrixCase,
    steps: int,
    config: Mapping[str, Any] | None,
    feed_factory: Callable[[], object] | None,
) -> str:
    """The message's ``re-run it`` line for ``case`` and the matrix's arguments."""
    kit = sorted({"MatrixCase", "check_case", *(["FaultAt"] if case.faults else [])})
    given = [repr(case), f"steps={steps}"]
    return _line(
        "check_case",
        kit,
        given,
        strategy_factory=strategy_factory,
        config=config,
        feed_factory=feed_factory,
    )


def matrix_rerun_line(
    strategy_factory: Callable[[], object],
    steps: int,
    config: Mapping[str, Any] | None,
    feed_factory: Callable[[], object] | None,
) -> str:
    """The ``re-run it`` line of a finding across processes: the matrix, with one example.

    That check runs the fault-free case only, which one example runs as any number does.
    """
    given = ["examples=1", f"steps={steps}"]
    kit = ["run_failure_matrix"]
    return _line(
        "run_failure_matrix",
        kit,
        given,
        strategy_factory=strategy_factory,
        config=config,
        feed_factory=feed_factory,
    )


def _line(
    func: str,
    kit: list[str],
    given: list[str],
    *,
    strategy_factory: Callable[[], object],
    config: Mapping[str, Any] | None,
    feed_factory: Callable[[], object] | None,
) -> str:
    """``re-run it: <imports>; func(strategy_factory, *given, config=..., feed_factory=...)``."""
    modules: set[str] = set()
    notes: list[str] = []

    def argument(role: str, value: object, *, secret: bool = False) -> str:
        source = _Source()
        said = source.value(value)
        if said is not None and not secret and redact_text(said) == said:
            modules.update(source.modules)
            return said
        what = "mapping" if role == "config" else "object"
        if said is not None:
            why = "it holds a secret"
        elif role == "config":
            why = "not all of it is plain data"
        else:
            why = _UNNAMED
        notes.append(f"{role} is the {what} you passed ({why})")
        return role

    arguments = [argument("strategy_factory", strategy_factory), *given]
    if config:
        plain = dict(config)
        # The alerts table's webhook URL is a secret no pattern knows (it is never recorded).
        arguments.append(f"config={argument('config', plain, secret='alerts' in plain)}")
    if feed_factory is not None:
        arguments.append(f"feed_factory={argument('feed_factory', feed_factory)}")
    needed = sorted(modules - {_KIT})
    imports = f"import {', '.join(needed)}; " if needed else ""
    call = f"{imports}from {_KIT} import {', '.join(kit)}; {func}({', '.join(arguments)})"
    if not notes:
        return f"re-run it: {call}"
    return f"re-run it, where {'; '.join(notes)}: {call}"
