"""Where hypothesis keeps its files while the failure matrix searches: a scratch directory.

``database=None`` keeps hypothesis's example database off, not the rest of its storage:
while it draws, hypothesis reads the constants of every local module (the application's,
its strategy's) and caches them under ``.hypothesis/constants/`` in the current directory,
so a failure matrix run inside an application's own test suite left a ``.hypothesis/``
folder in the application's working directory. The matrix's search now keeps its storage
in a scratch directory, removed when the search ends, and gives back whatever home
directory the application's suite had set (``set_hypothesis_home_dir``, or none, which
leaves ``HYPOTHESIS_STORAGE_DIRECTORY`` and the default to hypothesis).
"""

from __future__ import annotations

import contextlib
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["scratch_storage"]

_HOME = "__hypothesis_home_directory"
"""Hypothesis's module global for the home directory set (None: not set yet)."""


@contextlib.contextmanager
def scratch_storage() -> Iterator[None]:
    """Hypothesis's storage in a scratch directory for the block; the one set before after it."""
    from hypothesis import configuration  # noqa: PLC0415 - hypothesis only when it runs

    before = vars(configuration).get(_HOME)
    with tempfile.TemporaryDirectory(prefix="livesession-hypothesis-") as scratch:
        configuration.set_hypothesis_home_dir(scratch)
        try:
            yield
        finally:
            configuration.set_hypothesis_home_dir(before)
