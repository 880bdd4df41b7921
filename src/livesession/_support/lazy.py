"""Lazy exports (PEP 562): a package's public names load on first use.

``import livesession`` and ``import livesession.testing`` stay cheap: each package lists
which submodule owns each public name, and the submodule is imported only when a name is
first read. The value is then cached in the package's namespace, so later reads are plain
attribute lookups.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(
    package: str, table: Mapping[str, str], namespace: dict[str, Any]
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, loading names from ``table``.

    ``table`` maps each public name to the (relative) module that defines it; ``namespace``
    is the package's ``globals()``, where a loaded name is cached and ``__all__`` is read.
    """

    def __getattr__(name: str) -> Any:  # noqa: N807 - the module hook's own name
        module = table.get(name)
        if module is None:
            msg = f"module {package!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(module, package), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807 - the module hook's own name
        return sorted(set(namespace) | set(namespace.get("__all__", ())))

    return __getattr__, __dir__
