"""Scripts a test runs as a child ``python -c``, shared by the tests that need the same one."""

from __future__ import annotations

__all__ = ["SLOW_WINDDOWN"]

# A dry run whose wind-down announces itself and then waits (bounded: the
# second signal ends the wait; the bound only ends a test that never sends it) instead of
# finishing, so the test can send the second signal while the wind-down is under way.
SLOW_WINDDOWN = """
import sys, time
from livesession._session import winddown
from livesession import cli

real = winddown.WindDown.wind_down

def slow(self):
    print("winding down", flush=True)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        time.sleep(0.01)
    real(self)

winddown.WindDown.wind_down = slow
sys.exit(cli.main(sys.argv[1:]))
"""
