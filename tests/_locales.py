"""A Latin-1 locale for a child process: compiled into the test's own directory.

No host has one installed by default, and a reviewer's or an operator's machine may run
under one (``LC_ALL=de_DE.ISO-8859-1``): the tests that hold the tools to what they say of
a non-ASCII path there start their CLI children with this environment.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from pathlib import Path


def latin_1_locale(tmp_path: Path) -> dict[str, str]:
    """The environment of a Latin-1 locale compiled into ``tmp_path`` (skips without ``localedef``).

    ``PYTHONUTF8=0``: the child must not be put in UTF-8 mode by an environment that sets it.
    """
    localedef = shutil.which("localedef")
    if localedef is None:
        pytest.skip("localedef compiles the Latin-1 locale")
    (tmp_path / "locales").mkdir()
    made = subprocess.run(
        [localedef, "-i", "C", "-f", "ISO-8859-1", str(tmp_path / "locales" / "C.ISO-8859-1")],
        capture_output=True,
        check=False,
        timeout=60,
    )
    if made.returncode not in (0, 1):  # 1: made, with warnings
        pytest.skip(f"localedef could not compile a Latin-1 locale: {made.stderr!r}")
    return {"LOCPATH": str(tmp_path / "locales"), "LC_ALL": "C.ISO-8859-1", "PYTHONUTF8": "0"}
