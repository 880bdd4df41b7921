"""A strategy installed as a package (a desk's wheel) is the user's code to the kit's findings.

Bug: the failure matrix names the line of the user's code that raised (the innermost frame
outside livesession and the standard library). In a virtual environment the installed
packages are inside the standard library's directory as ``sysconfig`` gives it
(``platstdlib`` is the environment's ``lib/python3.X``), as they are in a Python installed
without one, so a strategy installed there that raised was reported as one that returned
what the session cannot act on (``the strategy returned what the session cannot act on
(step 2): bad close ... (on_bar is at .../site-packages/desk/alpha.py:9)``): its error's
type left out, no line of the raise, and its exception not chained for pytest to print.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import attrs

from livesession import SmaCrossover
from livesession.testing import run_failure_matrix

_DESK = textwrap.dedent(
    """
    from decimal import Decimal


    class Alpha:
        strategy_id = "alpha"

        def on_bar(self, bar, view):
            if bar.close > 0:
                raise RuntimeError("alpha blew up")
            return ()

        def get_state(self):
            return {}

        def set_state(self, state):
            pass


    def make():
        return Alpha()
    """
)
_MATRIX = (
    "from livesession.testing import run_failure_matrix\n"
    "import desk_alpha\n"
    "try:\n"
    "    run_failure_matrix(desk_alpha.make, examples=1, steps=4, seed=0, cross_process=False)\n"
    "except AssertionError as exc:\n"
    "    print(str(exc).splitlines()[0])\n"
    "    print(repr(exc.__cause__))\n"
)


def test_a_strategy_installed_in_a_virtual_environment_that_raises_is_named_raising(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(tmp_path / "venv")], check=True
    )
    python = tmp_path / "venv" / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    installed = Path(site) / "desk_alpha.py"  # as `pip install` of the desk's wheel puts it
    installed.write_text(_DESK, encoding="utf-8")
    # livesession and its dependencies from this environment, the desk from its own.
    here = [entry for entry in sys.path if entry and Path(entry).is_dir()]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(here)}
    proc = subprocess.run(
        [str(python), "-c", _MATRIX], capture_output=True, text=True, env=env, check=False
    )
    assert proc.returncode == 0, proc.stderr
    finding, cause = proc.stdout.splitlines()
    raised = 1 + _DESK.splitlines().index('            raise RuntimeError("alpha blew up")')
    assert finding.endswith(
        "uninterrupted run: the strategy raised RuntimeError: alpha blew up"
        f" (step 1, at {installed}:{raised} in on_bar)"
    ), finding
    assert cause == "RuntimeError('alpha blew up')"


@attrs.frozen
class Params:
    window: int = 3


class Misspells(SmaCrossover):
    """Asks a library (attrs, installed) for what it refuses: the error is raised in there."""

    def on_bar(self, bar, view):  # type: ignore[no-untyped-def]
        attrs.evolve(Params(), windw=4)  # the line to name
        return super().on_bar(bar, view)


def misspells() -> Misspells:
    from decimal import Decimal

    return Misspells(strategy_id="sma", fast=2, slow=3, order_qty=Decimal("0.01"))


def test_the_users_own_line_comes_before_the_installed_library_that_raised():
    assert (
        Path(attrs.__file__)
        .resolve()
        .is_relative_to(Path(sysconfig.get_paths()["purelib"]).resolve())
    )
    try:
        run_failure_matrix(misspells, examples=1, steps=4, seed=0, cross_process=False)
    except AssertionError as exc:
        finding = str(exc).splitlines()[0]
    line = next(
        n for n, text in enumerate(Path(__file__).read_text().splitlines(), 1) if "windw=4" in text
    )
    assert f"(step 1, at {Path(__file__)}:{line} in on_bar)" in finding, finding
