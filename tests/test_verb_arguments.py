"""A verb's reason (or operator) is text: anything else is refused before anything changes.

A host's handler that passes what it has (``session.kill(exc)``, ``request_stop(None)``,
a number) recorded it as it was (``"reason": 5``, ``null``), or, for what JSON cannot hold,
changed the trading state and then raised orjson's ``TypeError`` while recording it: the
run's later refusals said ``trading is REDUCING`` with no record of when or why.
"""

from __future__ import annotations

from typing import Any

import pytest

from livesession import ConfigError, SessionState, TradingState

from _helpers import session

_VERBS = {
    "request_stop": "reason",
    "kill": "reason",
    "reduce_only": "reason",
    "acknowledge": "operator",
    "reenable_trading": "operator",
}


@pytest.mark.parametrize("verb", sorted(_VERBS))
@pytest.mark.parametrize(
    "said", [5, None, ValueError("venue down"), object()], ids=["int", "none", "exc", "object"]
)
def test_a_verb_given_no_text_changes_nothing(verb: str, said: Any) -> None:
    orch, sinks = session(steps=50)
    orch.preflight()
    orch.activate()
    orch.run_n_steps(3)
    if verb == "reenable_trading":
        orch.kill("desk")  # something to re-enable
    before = (len(sinks.events.lines), len(sinks.audit.lines), orch.state, orch.trading_state)
    with pytest.raises(ConfigError) as refused:
        getattr(orch, verb)(said)
    assert str(refused.value) == (
        f"{verb}({_VERBS[verb]}=...) needs a str, got {type(said).__name__}: nothing was "
        f"changed (the {_VERBS[verb]} is recorded as text: pass str() of it)"
    )
    after = (len(sinks.events.lines), len(sinks.audit.lines), orch.state, orch.trading_state)
    assert after == before
    orch.run_to_end(50)
    orch.close()
    assert orch.state is SessionState.STOPPED


def test_text_is_recorded_as_given() -> None:
    orch, sinks = session(steps=50)
    orch.preflight()
    orch.activate()
    orch.run_n_steps(3)
    assert orch.reduce_only("desk: venue degraded")
    assert orch.trading_state is TradingState.REDUCING
    orch.close()
    (changed,) = sinks.events_of("TRADING_STATE_CHANGED")
    assert changed["payload"]["reason"] == "desk: venue degraded"


class _Fails:
    strategy_id = "s"

    def on_bar(self, bar: Any, view: Any) -> list[Any]:
        raise RuntimeError("indicator window is empty")

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


def test_run_to_end_refuses_an_operator_that_is_no_text_before_a_step() -> None:
    """It acknowledges a fault at the end: it used to run the session there, then raise."""
    orch, sinks = session(steps=50, strategy=_Fails())
    with pytest.raises(ConfigError, match=r"^run_to_end\(operator=\.\.\.\) needs a str, got int"):
        orch.run_to_end(50, operator=5)  # type: ignore[arg-type]
    assert (orch.state, orch.steps_done, sinks.events.lines) == (SessionState.INIT, 0, [])
    result = orch.run_to_end(50, operator="ops")
    assert (result.status.value, result.reason, orch.state) == (
        "FAILED",
        "STRATEGY_ERROR",
        SessionState.STOPPED,
    )
