"""Each field's docstring in its class's ``__doc__``, so that ``help()`` shows what it means.

A field's docstring is the string written under it in the class body, which editors show
and Python keeps nowhere: ``help(DryrunResult)`` in a REPL or a notebook gave the class's
first lines and the names of its fields, not what ``torn`` or ``position_in_doubt`` says.
``fields_in_doc`` reads them from the class's source once, as the class is made, and adds
them under ``Fields:``. Without the source (a build without ``.py`` files) or without
docstrings (``python -OO``), the class is left as it is.
"""

from __future__ import annotations

import ast
import inspect
import itertools
import textwrap
from typing import TypeVar

__all__ = ["fields_in_doc"]

_Class = TypeVar("_Class", bound=type)


def fields_in_doc(cls: _Class) -> _Class:
    """``cls`` with ``Fields:`` added to its docstring: each field and the string below it."""
    if not cls.__doc__:
        return cls
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError, SyntaxError):  # no source to read: help() as it was
        return cls
    body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
    said = [
        f"{node.target.id}\n{textwrap.indent(inspect.cleandoc(doc.value.value), '    ')}"
        for node, doc in itertools.pairwise(body)
        if isinstance(node, ast.AnnAssign)
        and isinstance(node.target, ast.Name)
        and isinstance(doc, ast.Expr)
        and isinstance(doc.value, ast.Constant)
        and isinstance(doc.value.value, str)
    ]
    if said:
        listed = textwrap.indent("\n".join(said), "    ")
        cls.__doc__ = f"{inspect.cleandoc(cls.__doc__)}\n\nFields:\n\n{listed}\n"
    return cls
