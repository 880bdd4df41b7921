"""The operator verbs: what each does in each state, and what it says when it does nothing.

A verb never raises for the state the session is in: a second stop, a kill after the stop
or an acknowledgement with nothing to acknowledge changes nothing and returns a
``VerbResult`` that says so (``ALREADY`` or ``NOT_APPLICABLE``). The coordinator calls
these through ``under_lock``: under the session lock (``threads.SessionGate``), or, called
from inside a step (a signal handler), once the step ends (``DEFERRED``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Concatenate, ParamSpec

from .._domain.lifecycle import SESSION_CLOSED, SessionState, Trigger
from .._domain.reasons import INPUT_FAULTS, LEASE_LOST
from .._exceptions import ConfigError
from .._risk.governor import TradingState
from .._support.calledfrom import called_from
from .pipeline import check_step_count, states_hold
from .threads import VerbOutcome, VerbResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from .assembly import SessionParts
    from .threads import SessionGate

__all__ = [
    "acknowledge",
    "check_run_to_end",
    "check_said",
    "kill",
    "reduce_only",
    "reenable_trading",
    "request_stop",
    "stop_for_close",
    "under_lock",
]

S = SessionState
_MAY_TRADE = (S.PREFLIGHT_OK, S.DRYRUN_ACTIVE)
_CHECKPOINTED = (*_MAY_TRADE, S.STOPPING)
"""The states in which an applied verb is checkpointed before it returns: a kill of a
session resumed STOPPING too (it was lost to a crash, the resumed run ACTIVE again)."""


def _result(p: SessionParts, verb: str, outcome: VerbOutcome, message: str) -> VerbResult:
    return VerbResult(verb=verb, outcome=outcome, state=p.lifecycle.state, message=message)


def _applied(p: SessionParts, verb: str, what: str) -> VerbResult:
    return _result(
        p, verb, VerbOutcome.APPLIED, f"{what}; the session is {p.lifecycle.state.value}"
    )


def _already(p: SessionParts, verb: str, message: str) -> VerbResult:
    return _result(p, verb, VerbOutcome.ALREADY, message)


def _not_applicable(p: SessionParts, verb: str, message: str) -> VerbResult:
    return _result(p, verb, VerbOutcome.NOT_APPLICABLE, message)


def _not_preflighted(verb: str) -> str:
    """Why ``verb`` does nothing in INIT, and what to call instead.

    Nothing of an INIT session is checkpointed (a crash starts the run over from INIT), so
    a verb there could not be kept: it waits for the preflight, or ``close`` ends the run.
    """
    return (
        f"the session is INIT: {verb}() does nothing before the preflight (nothing of an "
        "INIT session is kept: a crash starts it over): close() it to keep it from ever "
        "trading (sealed REJECTED, CLOSED_BEFORE_PREFLIGHT), or preflight() it first"
    )


def _unless_trading(p: SessionParts, verb: str) -> VerbResult | None:
    """NOT_APPLICABLE unless the session may trade (PREFLIGHT_OK or DRYRUN_ACTIVE)."""
    state = p.lifecycle.state
    if state is S.INIT:
        return _not_applicable(p, verb, _not_preflighted(verb))
    return (
        None if state in _MAY_TRADE else _not_applicable(p, verb, f"the session is {state.value}")
    )


def request_stop(
    p: SessionParts, reason: str, *, sealed_as: bool = False, wind_down: bool = True
) -> VerbResult:
    """Stop: cancel open orders, flatten, final snapshot, STOPPED (bounded).

    ``sealed_as``: ``reason`` is also the one the seal records (the CLI's signal stops).
    A trading session is checkpointed once it is STOPPING, before the wind-down sends
    anything: a crash in the wind-down then resumes the stop (``close`` finishes it, with
    the stop's reason), where it used to resume the trading the operator had stopped.
    Without ``wind_down`` the session is left there, STOPPING and checkpointed, as such a
    crash leaves it (the evidence re-run of a run whose operator acted in the resumed stop).
    """
    lifecycle = p.lifecycle
    state = lifecycle.state
    if state in (S.STOPPING, S.STOPPED):
        return _already(p, "request_stop", f"the session is {state.value}")
    if state is S.INIT:
        return _not_applicable(p, "request_stop", _not_preflighted("request_stop"))
    if not lifecycle.may_fire(Trigger.REQUEST_STOP):
        hint = ": acknowledge it first" if state is S.ERROR_REQUIRES_OPERATOR else ""
        return _not_applicable(p, "request_stop", f"the session is {state.value}{hint}")
    if state is S.DRYRUN_ACTIVE:
        lifecycle.guarded(lambda: states_hold(p))
        if lifecycle.state is S.ERROR_REQUIRES_OPERATOR:  # a state that cannot be recorded
            why = f"{lifecycle.reason}: the session is {lifecycle.state.value}"
            return _not_applicable(p, "request_stop", why)
    lifecycle.guarded(lambda: lifecycle.transition(Trigger.REQUEST_STOP, reason))
    if sealed_as and lifecycle.in_(S.STOPPING):
        lifecycle.reason = reason
    if state is S.DRYRUN_ACTIVE and lifecycle.in_(S.STOPPING):
        # Durable before the wind-down: a crash in it resumes the stop, not the trading.
        lifecycle.guarded(p.checkpointer.save)
    if wind_down:
        lifecycle.guarded(p.winddown.wind_down)
    return _applied(p, "request_stop", "stopped")


def stop_for_close(p: SessionParts) -> None:
    """What ``close`` does to a session that has not stopped: stop it, or finish its stop.

    A session resumed STOPPING was checkpointed by ``request_stop`` before its wind-down,
    and the process died in it: the wind-down goes on, and the seal keeps the stop's reason.
    """
    state = p.lifecycle.state
    if state in _MAY_TRADE:
        request_stop(p, SESSION_CLOSED)
    elif state is S.STOPPING:
        p.lifecycle.guarded(p.winddown.wind_down)


def kill(p: SessionParts, reason: str) -> VerbResult:
    """Kill switch: HALTED, cancel everything, flatten, audit ``C2_KILL_SWITCH``.

    Before the activation (PREFLIGHT_OK) there is nothing to cancel or flatten: the kill
    halts trading and is recorded and checkpointed as any other, so the session activates
    HALTED and steps to its end without trading, unless an operator re-enables it.
    """
    state = p.lifecycle.state
    if state is S.INIT:
        return _not_applicable(p, "kill", _not_preflighted("kill"))
    if state not in _CHECKPOINTED:
        return _not_applicable(p, "kill", f"the session is {state.value}: nothing to kill")
    if p.winddown.killing:
        return _already(p, "kill", "the kill switch is already flattening the session")
    if p.governor.halted and not p.book.open and p.winddown.is_flat():
        return _already(p, "kill", "trading is HALTED and the book is flat")
    p.lifecycle.guarded(lambda: _kill_held(p, reason, held=state is not S.PREFLIGHT_OK))
    return _applied(p, "kill", "kill switch tripped: trading HALTED")


def _kill_held(p: SessionParts, reason: str, *, held: bool) -> None:
    """The kill, checkpointed (``held``) between its trip and what it sends, as a stop is.

    A crash in the kill's cancels or its flatten resumed from the checkpoint before the
    kill, and the run traded ACTIVE again; now it resumes HALTED and flattens. Before the
    activation nothing is sent, and the verb's own checkpoint holds the kill.
    """
    p.winddown.trip(reason)
    if held:
        p.checkpointer.save()
    p.winddown.carry_out_kill()


def acknowledge(p: SessionParts, operator: str) -> VerbResult:
    """Operator acknowledges ERROR_REQUIRES_OPERATOR: STOPPING, cancel, flatten, STOPPED."""
    lifecycle = p.lifecycle
    state = lifecycle.state
    if state is not S.ERROR_REQUIRES_OPERATOR:
        return _not_applicable(p, "acknowledge", _nothing_to_acknowledge(p))
    if lifecycle.sealed:
        # Sealed in ERROR_REQUIRES_OPERATOR (run_to_end without an operator, or close): the
        # evidence is closed, so nothing can be recorded or wound down any more.
        return _not_applicable(
            p,
            "acknowledge",
            "the run is sealed FAILED in ERROR_REQUIRES_OPERATOR: nothing can be wound down "
            "any more; check the venue's open orders and positions by hand (RUNBOOK)",
        )
    if lifecycle.reason == LEASE_LOST:
        return _not_applicable(
            p,
            "acknowledge",
            "this session lost its lease (LEASE_LOST): the new holder owns the venue's "
            "orders, so this one must not cancel or flatten; close it instead",
        )
    lifecycle.guarded(lambda: p.recorder.emit("OPERATOR_ACK", {"operator": operator}))
    lifecycle.guarded(
        lambda: lifecycle.transition(Trigger.OPERATOR_ACK, f"acknowledged by {operator}")
    )
    if lifecycle.in_(S.STOPPING):
        lifecycle.guarded(lambda: p.reconciliation.drop_escalated(operator))
    lifecycle.guarded(p.winddown.wind_down)
    return _applied(p, "acknowledge", f"acknowledged by {operator}")


def _nothing_to_acknowledge(p: SessionParts) -> str:
    """Why ``acknowledge`` does nothing outside ERROR_REQUIRES_OPERATOR, and what may be meant.

    A halt (a kill, an unhealthy broker) or REDUCING is lifted by ``reenable_trading``, as
    the CLI's ``livesession ack`` does: the two names invite taking one for the other.
    """
    state = p.lifecycle.state
    said = f"nothing to acknowledge: the session is {state.value}"
    if state not in _MAY_TRADE or p.governor.state is TradingState.ACTIVE:
        return said
    return (
        f"{said}, trading {p.governor.state.value} (acknowledge() answers "
        "ERROR_REQUIRES_OPERATOR): reenable_trading() sets trading ACTIVE again, as "
        "`livesession ack` does"
    )


def reduce_only(p: SessionParts, reason: str) -> VerbResult:
    """Trading state REDUCING: only orders that reduce exposure pass from now on."""
    if (refused := _unless_trading(p, "reduce_only")) is not None:
        return refused
    if p.governor.halted:
        return _not_applicable(p, "reduce_only", "trading is HALTED: reenable_trading lifts a halt")
    if p.governor.state is TradingState.REDUCING:
        return _already(p, "reduce_only", "trading is already REDUCING")
    p.lifecycle.guarded(lambda: p.governor.set_trading(TradingState.REDUCING, reason))
    return _applied(p, "reduce_only", "trading REDUCING")


def reenable_trading(p: SessionParts, operator: str) -> VerbResult:
    """Operator sets trading ACTIVE again (after REDUCING, a throttle, a kill, a broker)."""
    if (refused := _unless_trading(p, "reenable_trading")) is not None:
        return refused
    if p.winddown.killing:
        return _not_applicable(
            p,
            "reenable_trading",
            "the kill switch is still flattening: re-enable trading after KILL_SWITCH_FLAT",
        )
    if p.governor.state is TradingState.ACTIVE:
        return _already(p, "reenable_trading", "trading is already ACTIVE")
    p.broker_health.reset()  # a fresh budget of broker failures
    p.lifecycle.guarded(lambda: p.governor.reenable(operator))
    return _applied(p, "reenable_trading", f"trading re-enabled by {operator}")


_P = ParamSpec("_P")


def under_lock(
    gate: SessionGate,
    parts: Callable[[], SessionParts],
    verb: Callable[Concatenate[SessionParts, _P], VerbResult],
    *args: _P.args,
    **kwargs: _P.kwargs,
) -> VerbResult:
    """``verb(parts, *args, **kwargs)`` under the session lock; nothing if an interrupt tore it.

    Called from inside the session's own work (a signal handler in the middle of a step), it
    is deferred to the end of that work and says so (``DEFERRED``). A verb applied to a
    session that may trade (``PREFLIGHT_OK`` too: a reduce-only before the activation, which
    a crash before the first checkpoint lost, the resumed run starting over from INIT and
    trading) or is stopping (a kill of a session resumed STOPPING) is checkpointed before it
    returns (from a step hook: at the step's end), so that what it did survives a crash
    once the caller has seen it done.
    A reason (or operator) that is not a ``str`` is refused first: nothing changes.
    """
    check_said(verb.__name__, args[0] if args else None)
    if gate.deferring(lambda: under_lock(gate, parts, verb, *args, **kwargs)):
        where, until = gate.interruption()
        return VerbResult(
            verb=verb.__name__,
            outcome=VerbOutcome.DEFERRED,
            state=parts().lifecycle.state,
            message=f"called {where} ({called_from()}): it takes effect when {until}",
        )
    in_step = gate.inside()  # a step hook's verb: the step is under way
    with gate.hold():
        p = parts()
        name = verb.__name__
        torn = gate.torn_result(name, p.lifecycle.state, p.config.run_id, p.time.steps)
        if torn is not None:
            return torn
        result = verb(p, *args, **kwargs)
        if result.applied and p.lifecycle.state in _CHECKPOINTED:
            # Durable before it is confirmed (a stop saved its own; an ack: the seal).
            p.lifecycle.guarded(lambda: p.checkpointer.operator_acted(in_step=in_step))
        return result


_BY_OPERATOR = ("acknowledge", "reenable_trading")
"""The verbs whose text names the operator; the others' is the reason."""


def check_run_to_end(steps: object, operator: object) -> None:
    """``run_to_end``'s arguments, checked before it runs a step.

    ``steps`` is a positive int, and ``operator`` None or text: it acknowledges a fault at
    the end, as ``acknowledge`` would, and a run must not fail there for a typo.
    """
    check_step_count(steps, verb="run_to_end")
    if operator is not None:
        check_said("run_to_end", operator, name="operator")


def input_fault(p: SessionParts) -> bool:
    """Whether the session waits for an operator over a fault of its inputs.

    ``INPUT_FAULTS``: the strategy or the feed raised. The book and the venue still agree,
    so ``run_to_end``'s ``operator`` may acknowledge it (cancel, flatten, stop); any other
    fault waits for a person.
    """
    lifecycle = p.lifecycle
    return (
        lifecycle.state is SessionState.ERROR_REQUIRES_OPERATOR and lifecycle.reason in INPUT_FAULTS
    )


def check_said(verb: str, said: object, *, name: str = "") -> None:
    """The reason or operator a verb records must be text, or the verb changes nothing.

    ``kill(5)`` recorded ``"reason": 5``, ``kill(None)`` ``null``; and ``reduce_only(exc)``
    (an exception, an object) went REDUCING, then raised orjson's ``TypeError`` as its
    ``TRADING_STATE_CHANGED`` was written: the run's later refusals said ``trading is
    REDUCING`` with no record of when or why.
    """
    if isinstance(said, str):
        return
    name = name or ("operator" if verb in _BY_OPERATOR else "reason")
    raise ConfigError(
        f"{verb}({name}=...) needs a str, got {type(said).__name__}: nothing was changed "
        f"(the {name} is recorded as text: pass str() of it)"
    )
