"""The session lifecycle as data: states, triggers and the one transition table.

Nothing here runs. The state machine, the docs' Mermaid diagram and the verifier are
all built from ``TRANSITIONS``; tests compare each of them with this table.
"""

from __future__ import annotations

import enum
from typing import Final

__all__ = [
    "INITIAL_STATE",
    "SESSION_CLOSED",
    "STATUS_BY_STATE",
    "TERMINAL_STATES",
    "TRANSITIONS",
    "SessionState",
    "SessionStatus",
    "Trigger",
    "ended_early",
    "reported_status",
]


class SessionState(enum.Enum):
    """States of the session's finite state machine (``fsm_state`` in snapshots)."""

    INIT = "INIT"
    PREFLIGHT_OK = "PREFLIGHT_OK"
    DRYRUN_ACTIVE = "DRYRUN_ACTIVE"
    STOPPING = "STOPPING"
    STOPPED = "STOPPED"
    PREFLIGHT_FAILED = "PREFLIGHT_FAILED"
    ERROR_REQUIRES_OPERATOR = "ERROR_REQUIRES_OPERATOR"


class SessionStatus(enum.Enum):
    """The session's status as reported to operators (``status`` in artifacts)."""

    INIT = "INIT"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    REJECTED = "REJECTED"
    FAILED = "FAILED"


class Trigger(enum.Enum):
    """Triggers that move the machine.

    The session's verbs fire them (``preflight()``, ``activate()``, ``request_stop()``, a
    fault, ``acknowledge()``); each moves one state to another by the transition table
    (docs/lifecycle.md), and a snapshot records it as its ``trigger``. One fired in a state
    with no transition for it raises ``InvalidTransition`` and changes nothing.
    """

    PREFLIGHT_PASSED = "preflight_passed"
    PREFLIGHT_FAILED = "preflight_failed"
    ACTIVATE = "activate"
    REQUEST_STOP = "request_stop"
    STOPPED = "stopped"
    FAULT = "fault"
    OPERATOR_ACK = "operator_ack"


S = SessionState
T = Trigger

SESSION_CLOSED: Final = "session closed"
"""The stop reason of a session closed while it could still trade (the run's own end)."""
INITIAL_STATE: Final = S.INIT

#: (trigger, source, destination), one row per legal move.
TRANSITIONS: Final[tuple[tuple[Trigger, SessionState, SessionState], ...]] = (
    (T.PREFLIGHT_PASSED, S.INIT, S.PREFLIGHT_OK),
    (T.PREFLIGHT_FAILED, S.INIT, S.PREFLIGHT_FAILED),
    (T.ACTIVATE, S.PREFLIGHT_OK, S.DRYRUN_ACTIVE),
    (T.REQUEST_STOP, S.PREFLIGHT_OK, S.STOPPING),
    (T.REQUEST_STOP, S.DRYRUN_ACTIVE, S.STOPPING),
    (T.STOPPED, S.STOPPING, S.STOPPED),
    (T.FAULT, S.DRYRUN_ACTIVE, S.ERROR_REQUIRES_OPERATOR),
    (T.FAULT, S.STOPPING, S.ERROR_REQUIRES_OPERATOR),
    (T.OPERATOR_ACK, S.ERROR_REQUIRES_OPERATOR, S.STOPPING),
)

#: States no trigger leaves.
TERMINAL_STATES: Final = frozenset({S.STOPPED, S.PREFLIGHT_FAILED})

#: The status an operator sees in each state.
STATUS_BY_STATE: Final[dict[SessionState, SessionStatus]] = {
    S.INIT: SessionStatus.INIT,
    S.PREFLIGHT_OK: SessionStatus.RUNNING,
    S.DRYRUN_ACTIVE: SessionStatus.RUNNING,
    S.STOPPING: SessionStatus.RUNNING,
    S.STOPPED: SessionStatus.COMPLETED,
    S.PREFLIGHT_FAILED: SessionStatus.REJECTED,
    S.ERROR_REQUIRES_OPERATOR: SessionStatus.FAILED,
}


def reported_status(fsm_state: object, *, failed: bool) -> str:
    """The status an operator sees for a recorded ``fsm_state`` (text, from a checkpoint).

    ``failed`` (the checkpoint's flag) is FAILED whatever the state; a state this version
    does not know is shown as it is.
    """
    if failed:
        return SessionStatus.FAILED.value
    state = str(fsm_state)
    known = {member.value: member for member in SessionState}
    return STATUS_BY_STATE[known[state]].value if state in known else state


def ended_early(steps: object, planned: object) -> bool:
    """Whether a run that took ``steps`` of its ``planned`` steps stopped before their end.

    Only then does the reason its stop was asked with say what ended it (the report's
    header, the evidence's "How the run ended"): a run that ran all its steps stopped
    because they were done, by its own close (``SESSION_CLOSED``) or, when its steps are
    its ``max_steps``, by that bound reached on the last one. A count that is not known
    (a broken run) is taken as early, so whatever reason there is gets said.
    """
    if not isinstance(steps, int) or not isinstance(planned, int):
        return True
    return isinstance(steps, bool) or isinstance(planned, bool) or steps < planned
