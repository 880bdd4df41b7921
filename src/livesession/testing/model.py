"""The failure matrix's cases: plain data, with no dependency on hypothesis."""

from __future__ import annotations

from typing import Final

import attrs

__all__ = [
    "LATENCIES_S",
    "TIMES",
    "FaultAt",
    "MatrixCase",
    "MatrixReport",
    "an_int",
    "at_least",
    "not_negative",
]

LATENCIES_S: Final = (0, 30, 90)
"""Report latencies the matrix tries, in simulated seconds (below the reconcile grace)."""
TIMES: Final = (1, 1, 2, 6)
"""How many uses a fault is armed for (once is the most likely)."""


@attrs.frozen(order=True)
class FaultAt:
    """Before step ``step`` (0-based), arm ``fault`` for its next ``times`` uses."""

    step: int
    fault: str
    times: int = 1


def _positive(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    """An attrs validator: an int of at least 1."""
    at_least(attribute.name, value, 1)


def not_negative(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    """An attrs validator: an int, never negative (a delay due before it was sent)."""
    at_least(attribute.name, value, 0)


@attrs.frozen
class MatrixCase:
    """One example of the matrix: what the venue does, and when the process is killed."""

    latency_s: int = attrs.field(validator=not_negative)
    """The venue's report latency, in simulated seconds: an int, never negative."""
    faults: tuple[FaultAt, ...]
    kill_after: int = attrs.field(validator=_positive)
    """The run is killed after this many steps and resumed from its checkpoint: at least 1,
    and below the run's steps (``check_case`` refuses another)."""


@attrs.frozen
class MatrixReport:
    """What ``run_failure_matrix`` ran: examples (shrinking included), steps and time."""

    seed: int
    examples: int
    session_steps: int
    seconds: float
    resumes: int = 0
    """Examples whose second run was killed and resumed (see ``run_failure_matrix``)."""
    cross_process: bool = False
    """Whether the fault-free reference also ran in a child process and matched it (and
    its kills, resumed in a second child process, matched it too)."""

    @property
    def examples_per_second(self) -> float:
        """Examples run per second of wall time."""
        return self.examples / self.seconds if self.seconds else 0.0


def an_int(name: str, value: object) -> int:
    """``value``, given for the argument ``name``; a ``TypeError`` unless it is an int.

    A bool is not one here either.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        msg = f"{name} must be an int, got {value!r} ({type(value).__name__})"
        raise TypeError(msg)
    return value


def at_least(name: str, value: object, least: int) -> None:
    """Refuse ``value`` for the argument ``name`` unless it is an int of ``least`` or more.

    Raises:
        TypeError: ``value`` is not an int (a bool is not one here either).
        ValueError: it is below ``least``.
    """
    if an_int(name, value) < least:
        bound = "must not be negative" if least == 0 else f"must be at least {least}"
        msg = f"{name} {bound}, got {value}"
        raise ValueError(msg)
