"""The failure matrix's cases: plain data, with no dependency on hypothesis.

The fault names live here too, with the checks every value of a case (and ``FaultBroker``'s
arguments) goes through, so that a case is refused as it is made, naming what is wrong.
"""

from __future__ import annotations

from typing import Final

import attrs

__all__ = [
    "ALIASES",
    "ALL_FAULTS",
    "CANCEL_FAULTS",
    "LATENCIES_S",
    "LOOKUP_FAULTS",
    "REPORT_FAULTS",
    "SUBMIT_FAULTS",
    "TIMES",
    "FaultAt",
    "MatrixCase",
    "MatrixReport",
    "a_fault",
    "an_int",
    "at_least",
    "not_negative",
]

SUBMIT_FAULTS: Final = ("transient", "timeout_before", "timeout_after", "reject", "reject_later")
CANCEL_FAULTS: Final = ("cancel_transient", "cancel_timeout_after", "fill_race")
REPORT_FAULTS: Final = (
    "duplicate_ack",
    "duplicate_fill",
    "split_fill",
    "late_fill",
    "lose_close_report",
)
LOOKUP_FAULTS: Final = ("lookup_down",)
ALL_FAULTS: Final = SUBMIT_FAULTS + CANCEL_FAULTS + REPORT_FAULTS + LOOKUP_FAULTS
"""Every fault a ``FaultBroker`` can arm, by its own name (``ALIASES`` gives others)."""
ALIASES: Final = {
    "drop": "timeout_before",
    "delay": "late_fill",
    "partial_fill": "split_fill",
    "timeout_after_recording": "timeout_after",
}
"""Everyday names of some faults, and the fault each one arms."""

LATENCIES_S: Final = (0, 30, 90)
"""Report latencies the matrix tries, in simulated seconds (below the reconcile grace)."""
TIMES: Final = (1, 1, 2, 6)
"""How many uses a fault is armed for (once is the most likely)."""


def _positive(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    """An attrs validator: an int of at least 1."""
    at_least(attribute.name, value, 1)


def not_negative(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    """An attrs validator: an int, never negative (a delay due before it was sent)."""
    at_least(attribute.name, value, 0)


def _a_fault(_instance: object, attribute: attrs.Attribute[str], value: object) -> None:
    """An attrs validator: a name of ``ALL_FAULTS`` or ``ALIASES``."""
    a_fault(attribute.name, value)


@attrs.frozen(order=True)
class FaultAt:
    """Before step ``step`` (0-based), arm ``fault`` for its next ``times`` uses.

    Each is checked as it is made (as ``FaultBroker.arm`` checks ``fault`` and ``times``):
    ``step`` an int, never negative; ``fault`` a name of ``ALL_FAULTS`` or ``ALIASES``;
    ``times`` an int of at least 1. A ``step`` at or beyond the run's steps is refused by
    ``MatrixCase.fits``, which ``check_case`` calls.
    """

    step: int = attrs.field(validator=not_negative)
    fault: str = attrs.field(validator=_a_fault)
    times: int = attrs.field(default=1, validator=_positive)


def _fault_ats(_instance: object, attribute: attrs.Attribute[object], value: object) -> None:
    """An attrs validator: a tuple (or list) of ``FaultAt``."""
    if not isinstance(value, (tuple, list)):
        msg = f"{attribute.name} must be a tuple of FaultAt, got {value!r} ({type(value).__name__})"
        raise TypeError(msg)
    for n, planned in enumerate(value):
        if not isinstance(planned, FaultAt):
            kind = type(planned).__name__
            msg = f"{attribute.name}[{n}] must be a FaultAt, got {planned!r} ({kind})"
            raise TypeError(msg)


@attrs.frozen
class MatrixCase:
    """One example of the matrix: what the venue does, and when the process is killed."""

    latency_s: int = attrs.field(validator=not_negative)
    """The venue's report latency, in simulated seconds: an int, never negative."""
    faults: tuple[FaultAt, ...] = attrs.field(validator=_fault_ats)
    """The faults to arm, each a ``FaultAt`` before a step below the run's steps."""
    kill_after: int = attrs.field(validator=_positive)
    """The run is killed after this many steps and resumed from its checkpoint: at least 1,
    and below the run's steps (``check_case`` refuses another)."""

    def fits(self, steps: int) -> None:
        """Refuse this case for a run of ``steps`` steps unless each of its steps is in it.

        Raises:
            ValueError: ``kill_after`` is not below ``steps`` (no step would follow the
                kill, so the case would run without its resume), or a fault's ``step`` is
                not (it would never be armed, and the case would pass without it).
        """
        if self.kill_after >= steps:
            msg = (
                f"kill_after must be below steps, got kill_after={self.kill_after} with"
                f" steps={steps}: the run is killed after a step and resumed for those after it"
            )
            raise ValueError(msg)
        for n, planned in enumerate(self.faults):
            if planned.step >= steps:
                msg = (
                    f"a fault's step must be below steps, got faults[{n}].step={planned.step}"
                    f" with steps={steps}: a fault is armed before its step (0-based, the last"
                    f" is {steps - 1}), so {planned!r} would never be armed"
                )
                raise ValueError(msg)


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


def a_fault(name: str, value: object) -> str:
    """The fault ``value``, given for the argument ``name``, arms (an alias's own name).

    Raises:
        TypeError: ``value`` is not a str.
        ValueError: it names no fault of ``ALL_FAULTS`` or ``ALIASES``.
    """
    if not isinstance(value, str):
        msg = f"{name} must be a str, got {value!r} ({type(value).__name__})"
        raise TypeError(msg)
    fault = ALIASES.get(value, value)
    if fault not in ALL_FAULTS:
        msg = f"unknown {name} {value!r}: expected one of {sorted(ALL_FAULTS + tuple(ALIASES))}"
        raise ValueError(msg)
    return fault
