"""The lifecycle table, the machine built from it, and the orchestrator's verbs."""

from __future__ import annotations

import itertools

import pytest

from livesession import InvalidTransition, SessionState, Trigger
from livesession._domain.lifecycle import STATUS_BY_STATE, TERMINAL_STATES, TRANSITIONS
from livesession._domain.machine import LifecycleMachine

LEGAL = {(trigger, source): dest for trigger, source, dest in TRANSITIONS}


def _machine_in(state: SessionState) -> LifecycleMachine:
    machine = LifecycleMachine()
    machine.restore(state)
    return machine


class TestTable:
    def test_built_machine_matches_the_data_table(self):
        """The transitions.Machine holds exactly the rows of the data table, no more."""
        built = LifecycleMachine().built_table()
        expected = sorted((t.value, s.value, d.value) for t, s, d in TRANSITIONS)
        assert built == expected

    def test_no_auto_transitions(self):
        """The machine has no to_<state> shortcuts."""
        machine = LifecycleMachine()
        assert not any(name.startswith("to_") for name in machine._machine.events)

    def test_every_state_has_a_status(self):
        """Each state maps to one operator-facing status."""
        assert set(STATUS_BY_STATE) == set(SessionState)

    def test_terminal_states_have_no_outgoing_rows(self):
        """No row leaves a terminal state."""
        assert not [row for row in TRANSITIONS if row[1] in TERMINAL_STATES]

    @pytest.mark.parametrize(("state", "trigger"), list(itertools.product(SessionState, Trigger)))
    def test_every_state_trigger_pair(self, state, trigger):
        """Legal pairs reach the table's state; illegal ones raise and leave the state unchanged."""
        machine = _machine_in(state)
        expected = LEGAL.get((trigger, state))
        if expected is None:
            with pytest.raises(InvalidTransition) as info:
                machine.fire(trigger)
            assert machine.state is state
            assert info.value.trigger == trigger.value
            assert state.value in str(info.value)
        else:
            assert machine.fire(trigger) is expected
            assert machine.state is expected

    @pytest.mark.parametrize("state", sorted(TERMINAL_STATES, key=lambda s: s.value))
    def test_terminal_states_cannot_be_left(self, state):
        """No trigger moves a terminal state."""
        machine = _machine_in(state)
        for trigger in Trigger:
            with pytest.raises(InvalidTransition):
                machine.fire(trigger)
            assert machine.state is state
