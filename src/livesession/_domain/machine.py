"""Build the strict ``transitions.Machine`` from the data-only lifecycle table.

``transitions`` logs every state's callbacks through stdlib logging (logger
``transitions.core``: INFO twice per transition, DEBUG more), which an application's
``logging.basicConfig`` would print. The library is silent until ``configure_logging``: a
filter on that logger drops the records of livesession's machine (named ``livesession``),
and nothing else; an application's own machines log as they did. ``transitions`` also adds
a process-wide warnings filter when it is imported; it is imported under
``warnings.catch_warnings()``, so the application's filters stay as they were.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any, Final

with warnings.catch_warnings():  # its import adds a filter of its own: not the app's business
    from transitions import Machine, MachineError

from .._exceptions import InvalidTransition
from .lifecycle import INITIAL_STATE, TRANSITIONS, SessionState, Trigger

__all__ = ["LifecycleMachine"]

_NAME: Final = "livesession"
_PREFIX: Final = f"{_NAME}: "
"""How ``transitions`` starts each message about a machine with a name."""


def _not_ours(record: logging.LogRecord) -> bool:
    """Whether a ``transitions`` record is about another machine than livesession's."""
    return not record.getMessage().startswith(_PREFIX)


logging.getLogger("transitions.core").addFilter(_not_ours)


class _Model:
    """The object ``transitions`` moves; it carries only ``state``."""

    state: str


class LifecycleMachine:
    """The session's state machine: fire a trigger, or get ``InvalidTransition``.

    Built with ``auto_transitions=False`` (no ``to_*`` shortcuts),
    ``ignore_invalid_triggers=False`` and no queueing, so an illegal trigger raises and
    leaves the state unchanged, and terminal states cannot be left.
    """

    def __init__(self) -> None:
        self.state: SessionState = INITIAL_STATE
        """The current state: read several times a step, so an attribute, set only where the
        state changes (``fire``, ``restore``)."""
        self._model = _Model()
        self._machine = Machine(
            model=self._model,
            states=[state.value for state in SessionState],
            initial=INITIAL_STATE.value,
            transitions=[
                {"trigger": trigger.value, "source": source.value, "dest": dest.value}
                for trigger, source, dest in TRANSITIONS
            ],
            auto_transitions=False,
            ignore_invalid_triggers=False,
            queued=False,
            send_event=False,
            name=_NAME,  # its log records say so, and are dropped (``_not_ours``)
        )

    def fire(self, trigger: Trigger) -> SessionState:
        """Fire ``trigger``; return the new state or raise ``InvalidTransition``."""
        before = self._model.state
        try:
            fired: Any = getattr(self._model, trigger.value)()
        except MachineError:
            raise InvalidTransition(trigger.value, before) from None
        if fired is not True:  # pragma: no cover - transitions returns True on success
            raise InvalidTransition(trigger.value, before)
        self.state = SessionState(self._model.state)
        return self.state

    def restore(self, state: SessionState) -> None:
        """Put the machine back into ``state`` (resume from a checkpoint only)."""
        self._machine.set_state(state.value, model=self._model)
        self.state = SessionState(self._model.state)

    def may_fire(self, trigger: Trigger) -> bool:
        """Whether ``trigger`` is legal in the current state."""
        return bool(self._machine.get_transitions(trigger.value, source=self._model.state))

    def built_table(self) -> list[tuple[str, str, str]]:
        """The (trigger, source, dest) rows of the built machine, for drift tests."""
        rows: list[tuple[str, str, str]] = []
        for trigger, event in self._machine.events.items():
            for source, transitions in event.transitions.items():
                rows.extend((trigger, source, str(t.dest)) for t in transitions)
        return sorted(rows)
