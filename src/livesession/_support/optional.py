"""Optional dependencies: imported only where they are used, with a one-line error.

Extras (``ccxt``, ``postgres``, ``observability``) stay out of ``import livesession``; the
adapter or tool that needs one calls ``import_optional`` when it is first used. A missing
module raises ``MissingExtra``, whose message names the extra to install.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .._exceptions import MissingExtra

if TYPE_CHECKING:
    from types import ModuleType

__all__ = ["import_optional"]


def import_optional(module: str, extra: str) -> ModuleType:
    """Import ``module`` from the ``livesession[extra]`` extra, or raise ``MissingExtra``."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(module, extra) from None
