"""Hypothesis strategies for fault schedules (needs ``hypothesis``: ``livesession[testing]``).

A fault schedule is a tuple of ``FaultAt``: before step ``step`` the ``FaultBroker`` arms
``fault`` for its next ``times`` uses. ``matrix_cases`` adds what the failure matrix varies
besides: the venue's report latency and the step after which the process is killed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._support.optional import import_optional
from .faults import ALL_FAULTS
from .model import LATENCIES_S, TIMES, FaultAt, MatrixCase

import_optional("hypothesis", "testing")  # MissingExtra, naming the extra, when it is absent

from hypothesis import strategies as st  # noqa: E402 - after the check above

if TYPE_CHECKING:
    from hypothesis.strategies import SearchStrategy

__all__ = ["fault_at", "fault_names", "fault_schedules", "matrix_cases"]


def fault_names(names: tuple[str, ...] = ALL_FAULTS) -> SearchStrategy[str]:
    """One fault name (of ``names``)."""
    return st.sampled_from(names)


def fault_at(steps: int, names: tuple[str, ...] = ALL_FAULTS) -> SearchStrategy[FaultAt]:
    """One fault armed before one of ``steps`` steps, for 1, 2 or 6 uses."""
    return st.builds(
        FaultAt,
        step=st.integers(min_value=0, max_value=steps - 1),
        fault=fault_names(names),
        times=st.sampled_from(TIMES),
    )


def fault_schedules(
    steps: int, *, max_faults: int = 8, names: tuple[str, ...] = ALL_FAULTS
) -> SearchStrategy[tuple[FaultAt, ...]]:
    """Up to ``max_faults`` faults over ``steps`` steps, in step order (shrinks to none)."""
    return st.lists(fault_at(steps, names), max_size=max_faults).map(
        lambda faults: tuple(sorted(faults))
    )


def matrix_cases(steps: int, *, max_faults: int = 8) -> SearchStrategy[MatrixCase]:
    """A latency, a fault schedule and a kill step (after step 1 .. ``steps - 1``)."""
    return st.builds(
        MatrixCase,
        latency_s=st.sampled_from(LATENCIES_S),
        faults=fault_schedules(steps, max_faults=max_faults),
        kill_after=st.integers(min_value=1, max_value=max(1, steps - 1)),
    )
