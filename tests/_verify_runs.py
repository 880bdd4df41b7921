"""Every run a test makes is verified when the test ends (a pytest plugin).

The checking lives in the testing kit (``livesession.testing``): its pytest plugin's
``verifying`` tracks every session a test builds (``LiveSessionOrchestrator``) and, at
teardown, verifies each one through its sinks (a session still open is closed first, as
its user would) and every run directory under the test's ``tmp_path`` (which covers runs
made by the CLI in a subprocess), with the independent verifier (``verify_run``).

A run that fails verify fails the test that made it. A test that breaks a run on purpose
says so with ``@pytest.mark.broken_run("why")``; a test that verifies its runs itself in a
loop (the failure matrix) calls ``mark_verified`` for each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from livesession.testing import mark_verified, run_dirs, verify_session
from livesession.testing.pytest_plugin import verifying

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = ["mark_verified", "run_dirs", "verify_every_run", "verify_session"]


@pytest.fixture(autouse=True)
def verify_every_run(request: pytest.FixtureRequest) -> Iterator[None]:
    """Track the sessions a test builds; verify them and its run directories at teardown."""
    for _ in verifying(request):
        yield
