"""Optional dependencies: imported only where they are used, with a one-line error.

Extras (``ccxt``, ``postgres``, ``observability``) stay out of ``import livesession``; the
adapter or tool that needs one calls ``import_optional`` when it is first used. A missing
module raises ``MissingExtra``, whose message names the extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Final

from .._exceptions import MissingExtra
from .text import one_line

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["import_optional"]

_SAID: Final = 200
"""At most this much of a failed import's message goes into the one line."""


def import_optional(module: str, extra: str) -> ModuleType:
    """Import ``module`` from the ``livesession[extra]`` extra, or raise ``MissingExtra``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # Not installed: the module itself (or its package) is what could not be found.
        # Anything else is an installed module whose own import failed: saying "not
        # installed" of it sent the user to install what pip says is there already.
        if isinstance(exc, ModuleNotFoundError) and _part_of(exc.name, module):
            raise MissingExtra(module, extra) from None
        said = one_line(f"{type(exc).__name__}: {exc}")
        raise MissingExtra(module, extra, broken=said[:_SAID]) from None


def _part_of(name: str | None, module: str) -> bool:
    """Whether ``name`` (a module not found) is ``module`` or a package above it."""
    return name is None or module == name or module.startswith(f"{name}.")
