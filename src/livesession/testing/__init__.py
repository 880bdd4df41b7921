"""The testing kit: put your own strategy through faults, crashes and resumes.

- ``FaultBroker``: a truthful venue behind a scriptable, faulty connection (drop, delay,
  duplicate ack, reject, timeout after recording, partial fills, and more).
- ``run_failure_matrix(strategy_factory, *, examples, steps, seed)``: property-based runs
  of your strategy under fault schedules, checking the session's safety invariants and
  crash-resume equivalence; raises ``AssertionError`` with the shrunk example and seed.
- ``fault_schedules`` and friends (``livesession.testing.strategies``): hypothesis
  strategies for fault schedules.
- ``verify_session`` / ``SessionTracker``: verify what a session wrote, with the
  independent verifier.
- A pytest plugin (``livesession.testing.pytest_plugin``, registered as ``livesession``)
  with fixtures, among them a run factory that verifies every run at teardown.

Hypothesis is needed only by the matrix and the strategies (``livesession[testing]``);
importing this package or the plugin does not import it. Names load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._support.lazy import lazy_exports as _lazy_exports

if TYPE_CHECKING:
    from .faults import ALIASES, ALL_FAULTS, FaultBroker, Trade
    from .matrix import check_case, run_failure_matrix
    from .model import FaultAt, MatrixCase, MatrixReport
    from .pytest_plugin import MemoryRun, RunFactory
    from .strategies import fault_schedules
    from .tracking import SessionTracker, mark_verified, run_dirs, verify_session

_LAZY: dict[str, str] = {
    "ALIASES": ".faults",
    "ALL_FAULTS": ".faults",
    "FaultBroker": ".faults",
    "FaultAt": ".model",
    "MatrixCase": ".model",
    "MatrixReport": ".model",
    "MemoryRun": ".pytest_plugin",
    "RunFactory": ".pytest_plugin",
    "check_case": ".matrix",
    "SessionTracker": ".tracking",
    "Trade": ".faults",
    "fault_schedules": ".strategies",
    "mark_verified": ".tracking",
    "run_dirs": ".tracking",
    "run_failure_matrix": ".matrix",
    "verify_session": ".tracking",
}


# Hidden from type checkers: they read the imports above, so a name the package does not
# export is an error there, not Any (a module's __getattr__ answers every name).
if not TYPE_CHECKING:
    __getattr__, __dir__ = _lazy_exports(__name__, _LAZY, globals())


__all__ = [
    "ALIASES",
    "ALL_FAULTS",
    "FaultAt",
    "FaultBroker",
    "MatrixCase",
    "MatrixReport",
    "MemoryRun",
    "RunFactory",
    "SessionTracker",
    "Trade",
    "check_case",
    "fault_schedules",
    "mark_verified",
    "run_dirs",
    "run_failure_matrix",
    "verify_session",
]
