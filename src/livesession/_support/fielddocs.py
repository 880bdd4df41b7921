"""Each field's docstring in its class's ``__doc__``, so that ``help()`` shows what it means.

A field's docstring is the string written under it in the class body, which editors show
and Python keeps nowhere: ``help(DryrunResult)`` in a REPL or a notebook gave the class's
first lines and the names of its fields, not what ``torn`` or ``position_in_doubt`` says.
``fields_in_doc`` has them read from the class's source and added under ``Fields:`` the
first time the docstring is read, never as the class is made: reading and parsing the
sources cost every process that imports the session 8 ms at start-up, for ``help()``
alone. Without the source (a build without ``.py`` files) or without docstrings (``python
-OO``), the docstring is the class's own.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from typing import TypeVar

__all__ = ["fields_in_doc"]

_Class = TypeVar("_Class", bound=type)


class _FieldsDoc:
    """A class's ``__doc__`` that lists its fields when first read (``type`` calls ``__get__``)."""

    def __init__(self, doc: str) -> None:
        self._doc = doc
        self._whole: str | None = None

    def __get__(self, instance: object, owner: type | None = None) -> str:
        if self._whole is None:
            self._whole = self._doc if owner is None else _with_fields(owner, self._doc)
        return self._whole


def fields_in_doc(cls: _Class) -> _Class:
    """``cls`` whose docstring, once read, has ``Fields:``: each field and the string below it."""
    if cls.__doc__:
        type.__setattr__(cls, "__doc__", _FieldsDoc(cls.__doc__))
    return cls


def _with_fields(cls: type, doc: str) -> str:
    """``doc`` with the ``Fields:`` section read from ``cls``'s source (``doc`` without one)."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):  # no source to read: help() as it was
        return doc
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    said = [
        f"{node.target.id}\n{textwrap.indent(inspect.cleandoc(text.value.value), '    ')}"
        for node, text in itertools.pairwise(body)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(text, ast.Expr)
        and isinstance(text.value, ast.Constant)
        and isinstance(text.value.value, str)
    ]
    if not said:
        return doc
    listed = textwrap.indent("\n".join(said), "    ")
    return f"{inspect.cleandoc(doc)}\n\nFields:\n\n{listed}\n"
