"""The reasons a session records when it stops, faults or pulls its kill switch.

Each is written into a run (the ``reason`` of ``SESSION_STOPPED``, of ``KILL_SWITCH`` and
of a fault's ``C2_OPERATOR_REQUIRED``) and read back by ``status``, the report, the
evidence and burn-in. They live here, below the session and its readers, so that no
reader spells one again. ``verify`` keeps its own words on purpose: it reads runs as an
independent checker would.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BROKER_CALL_FAILED",
    "BROKER_REPORT_INVALID",
    "CLIENT_ID_IN_USE",
    "DAILY_LOSS_KILL",
    "FEED_ERROR",
    "FEED_EXHAUSTED",
    "HALTED_TO_FAULT",
    "IDEMPOTENCY_CONFLICT",
    "INPUT_FAULTS",
    "LEASE_LOST",
    "MAX_STEPS_REACHED",
    "PROTECTION_LOST",
    "RECONCILE_MISMATCH",
    "REDUCE_ONLY_CROSSED",
    "STOP_INCOMPLETE",
    "STRATEGY_ERROR",
    "UNEXPECTED_ERROR",
]

# Why a run stopped of itself before ``steps``.
FEED_EXHAUSTED: Final = "FEED_EXHAUSTED"
"""The stop reason of a run whose feed ran out of bars before ``steps``."""
MAX_STEPS_REACHED: Final = "max_steps reached"
"""The stop reason of a run that reached ``max_steps`` (its safety bound) before ``steps``."""

# Why the kill switch fired.
DAILY_LOSS_KILL: Final = "DAILY_LOSS"
"""The reason of the kill the daily-loss cap trips (``KILL_SWITCH``)."""
REDUCE_ONLY_CROSSED: Final = "REDUCE_ONLY_CROSSED"
"""The kill switch's reason when a reduce-only fill opened, added to or flipped exposure."""
PROTECTION_LOST: Final = "PROTECTION_LOST"
"""The kill switch's reason when the venue dropped a protective leg of a held position."""

# Why a session faulted (ERROR_REQUIRES_OPERATOR).
FEED_ERROR: Final = "FEED_ERROR"
"""The fault reason (and event type) of a feed whose ``next_bar`` raised."""
STRATEGY_ERROR: Final = "STRATEGY_ERROR"
"""The fault reason (and event type) of a strategy whose ``on_bar`` raised."""
INPUT_FAULTS: Final = frozenset({FEED_ERROR, STRATEGY_ERROR})
"""Faults of the session's inputs: its book and the venue still agree, so an operator
(or the one-shot CLI on the operator's behalf) may wind it down at the last good price."""
UNEXPECTED_ERROR: Final = "UNEXPECTED_ERROR"
"""The fault reason of an exception nothing else handled during a step."""
BROKER_CALL_FAILED: Final = "BROKER_CALL_FAILED"
"""The fault reason of a broker call that failed where no retry could wait for it (the
journal offset a checkpoint records)."""
IDEMPOTENCY_CONFLICT: Final = "IDEMPOTENCY_CONFLICT"
"""The fault reason of an order whose client order id was reserved for other parameters."""
CLIENT_ID_IN_USE: Final = "CLIENT_ID_IN_USE"
"""The fault reason (and the venue's refusal of the order) when the venue has an open order
under the session's client order id in a symbol the order is not for: another session sends
the same ids (one of the same run id and strategy id, from another ``--out`` or host)."""
HALTED_TO_FAULT: Final = INPUT_FAULTS | {
    UNEXPECTED_ERROR,
    BROKER_CALL_FAILED,
    IDEMPOTENCY_CONFLICT,
    CLIENT_ID_IN_USE,
}
"""The reasons whose trading halt is the first half of a fault (``halt_and_fault``,
``input_failed``): ``ERROR_REQUIRES_OPERATOR`` follows at once, and an operator's ``ack``
then acknowledges the fault (cancel, flatten, stop), never re-enables trading."""
BROKER_REPORT_INVALID: Final = "BROKER_REPORT_INVALID"
"""The fault reason for a fill the session cannot apply as the venue reported it: the
book refused it, so the position is in doubt."""
RECONCILE_MISMATCH: Final = "RECONCILE_MISMATCH"
"""The fault of a reconciler's escalation: with the venue's fills unseen, in doubt too."""
STOP_INCOMPLETE: Final = "STOP_INCOMPLETE"
"""The fault of a wind-down out of polls: its ``in_doubt`` names fills not reported yet."""
LEASE_LOST: Final = "LEASE_LOST"
"""The fault reason of a session whose lease another holder took: it halts trading as the
kill switch does."""
