"""Preflight: the session's first records and its startup checks.

``SESSION_STARTED`` and the first snapshot open the run; then every check runs and is
recorded as ``PREFLIGHT_CHECK`` (the default checks, the caller's extra ones, and the
lease when the session has one). A sink that fails here fails the preflight.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import attrs

from .._domain.ids import record_code
from .._domain.lifecycle import SessionState, Trigger
from .._exceptions import INTERRUPTS, InvalidTransition, SinkFailure
from .._market.strategies import SmaCrossover
from .._risk.checks import CheckResult, PreflightContext, UserBrokerCheck
from .._support.logging import get_logger
from .._support.text import one_line
from .._typing import SandboxAware, VenueKind
from .._version import __version__
from .broker_guard import GuardedBroker
from .desk import check_answer

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from .._risk.checks import AnyCheck, Check
    from .assembly import SessionParts

__all__ = [
    "CLOCK_INVALID",
    "CLOSED_BEFORE_PREFLIGHT",
    "close_unstarted",
    "ready_to_activate",
    "refuse_again",
    "refused_call",
    "run_checks",
    "run_preflight",
]

CLOSED_BEFORE_PREFLIGHT: Final = "CLOSED_BEFORE_PREFLIGHT"
"""The rejection of a session closed before its preflight ran (nothing was traded)."""
CLOCK_INVALID: Final = "CLOCK_INVALID"
"""The rejection of a session whose clock gave no time at the start (it raised, or returned
no timezone-aware datetime): its records carry the session's start time instead."""


_FIRST: Final = {
    SessionState.INIT: "preflight() and activate() it first (run_to_end does both)",
    SessionState.PREFLIGHT_OK: "activate() it first",
    SessionState.DRYRUN_ACTIVE: "it is active already",
    SessionState.STOPPING: "the session is stopping: it steps no more",
    SessionState.STOPPED: "the session has stopped: it steps no more",
    SessionState.PREFLIGHT_FAILED: (
        "its preflight failed, so it never trades (result().reason says why): close() it"
    ),
    SessionState.ERROR_REQUIRES_OPERATOR: (
        "a fault waits for an operator (result().detail says which): acknowledge() it, "
        "or close() it"
    ),
}
"""What a caller of ``step``, ``run_n_steps`` or ``activate`` must do first, by state."""
_CLOSED_FIRST: Final = (
    f"it was closed before its preflight ran (sealed REJECTED, {CLOSED_BEFORE_PREFLIGHT}), "
    "so it never trades"
)
"""Why a session closed before its preflight (by another thread, say) refuses its owner."""


def refused_call(call: str, state: SessionState, reason: str = "") -> InvalidTransition:
    """``call()`` (``step``, ``run_n_steps``, ``activate``) refused in ``state``, saying why.

    ``trigger 'step' is not allowed in state INIT`` named a machine's trigger the caller
    never saw, and not what to do instead. ``reason``: the session's (its rejection's).
    """
    why = _CLOSED_FIRST if reason.startswith(CLOSED_BEFORE_PREFLIGHT) else _FIRST[state]
    if call == "activate" and state is SessionState.INIT:
        why = "activate() follows a passed preflight(), so run that first"
    return InvalidTransition(call, state.value, why=why, call=True)


def ready_to_activate(state: SessionState, *, quietly: bool, reason: str = "") -> bool:
    """Whether ``activate`` may go on from ``state`` (PREFLIGHT_OK); else ``refused_call``.

    ``quietly`` (``run_to_end``): False instead, for a session another thread stopped or
    closed during its preflight.
    """
    if state is SessionState.PREFLIGHT_OK:
        return True
    if quietly:
        return False
    raise refused_call("activate", state, reason)


def refuse_again(state: SessionState, reason: str) -> None:
    """Refuse ``preflight()`` outside INIT, naming the call (not ``preflight_passed``)."""
    if reason.startswith(CLOSED_BEFORE_PREFLIGHT):
        raise refused_call("preflight", state, reason)
    if state is not SessionState.INIT:
        raise InvalidTransition("preflight", state.value, why="it runs once, from INIT", call=True)


def run_preflight(
    p: SessionParts, *, extra_checks: Sequence[Check], seal: Callable[[], None]
) -> bool:
    """INIT to PREFLIGHT_OK when every check passes (True), else PREFLIGHT_FAILED, sealed."""
    lifecycle = p.lifecycle
    clock_problem = p.time.open()
    if p.config.allowlist is None:
        listed = ", ".join(p.config.allowed_symbols)
        get_logger().info(
            "preflight_note",
            run_id=p.config.run_id,
            check="allowlist_valid",
            detail=f"no allowlist given: the feed's symbols [{listed}]",
        )
    if others := [s for s in p.config.allowed_symbols if s != p.config.symbol]:
        get_logger().warning(
            "preflight_note",
            run_id=p.config.run_id,
            check="allowlist_valid",
            detail=unpriced_symbols(p.config.symbol, others),
        )
    failed = run_checks(p, extra_checks=extra_checks, clock_problem=clock_problem)
    if failed:
        lifecycle.reason = ",".join(r.reason for r in failed)
        lifecycle.detail = "; ".join(r.detail for r in failed if r.detail)
        lifecycle.guarded(lambda: lifecycle.transition(Trigger.PREFLIGHT_FAILED, lifecycle.reason))
        seal()
        return False
    lifecycle.guarded(lambda: lifecycle.transition(Trigger.PREFLIGHT_PASSED, "all checks passed"))
    return lifecycle.may_fire(Trigger.ACTIVATE)


def close_unstarted(p: SessionParts) -> None:
    """Open the run of a session closed before preflight, and reject it (PREFLIGHT_FAILED).

    The run is whole (its start, the one failed check, the seal that follows) and says
    that nothing was checked or traded, rather than a stop with no start. A clock that
    gives no time now is a second failed check (``CLOCK_INVALID``): close never raises.
    """
    lifecycle = p.lifecycle
    checks = [
        CheckResult(
            name="preflight_ran",
            passed=False,
            reason=CLOSED_BEFORE_PREFLIGHT,
            detail="the session was closed before its preflight ran",
        )
    ]
    clock_problem = p.time.open()
    if clock_problem:
        checks.append(_clock_check(clock_problem))
    lifecycle.reason = ",".join(check.reason for check in checks)
    lifecycle.detail = "; ".join(check.detail for check in checks)
    rec = p.recorder
    try:
        rec.emit("SESSION_STARTED", _start_payload(p))
        lifecycle.snapshot("start", SessionState.INIT)
        for check in checks:
            _record(p, [], check)
    except SinkFailure:
        lifecycle.failed = True
    lifecycle.guarded(lambda: lifecycle.transition(Trigger.PREFLIGHT_FAILED, lifecycle.reason))


def run_checks(
    p: SessionParts, *, extra_checks: Sequence[Check], clock_problem: str = ""
) -> list[CheckResult]:
    """Open the run and run every check; the failed ones (empty when all passed).

    ``clock_problem`` is why the clock gave no time (``Timekeeper.open``): the run is then
    rejected on that one check, the others are not run.
    """
    rec = p.recorder
    results: list[CheckResult] = []
    try:
        rec.emit("SESSION_STARTED", _start_payload(p))
        p.lifecycle.snapshot("start", SessionState.INIT)
        if clock_problem:
            _record(p, results, _clock_check(clock_problem))
            return [r for r in results if not r.passed]
        broker = p.broker
        checks: tuple[AnyCheck, ...] = (*p.checks, *extra_checks)
        ctx = PreflightContext(
            config=p.config,
            broker=broker,
            audit_sink_present=p.audit_present,
            live_override=p.live_override,
            sandbox_verified=_sandbox_verified(broker),
            demo_strategy=_runs_the_demo(p),
            own_broker=not isinstance(broker, GuardedBroker),
            user_broker_checked=any(isinstance(check, UserBrokerCheck) for check in checks),
        )
        for check in checks:
            _record(p, results, check_answer(check, ctx))  # one that raised: failed
        if p.lease is not None:
            _record(p, results, p.lease.preflight())
        if "audit" in rec.dead:
            results.append(
                CheckResult(
                    name="audit_sink_writable",
                    passed=False,
                    reason="AUDIT_SINK_UNWRITABLE",
                    detail="the audit sink failed its first writes",
                )
            )
    except SinkFailure as exc:
        p.lifecycle.sink_failed_in_preflight(exc)
        results.append(
            CheckResult(
                name="sinks_writable",
                passed=False,
                reason="SINK_WRITE_FAILED",
                # As a sink lost later says it (``events sink failed at line 1 (OSError:
                # ...)``), not the exception's words: this session never traded to stop.
                detail=rec.failure_summary(),
            )
        )
    return [r for r in results if not r.passed]


def _sandbox_verified(broker: object) -> bool:
    """Whether the broker says, with a plain True, that it is a verified sandbox.

    Only a True counts: a broker whose ``sandbox_verified`` raises (it asks the venue) or
    answers anything else is not verified, and preflight refuses it rather than raise.
    """
    try:
        return isinstance(broker, SandboxAware) and broker.sandbox_verified is True
    except INTERRUPTS:
        raise
    except BaseException:  # noqa: BLE001 - a caller's code: not verified, whatever it raised
        return False


def _runs_the_demo(p: SessionParts) -> bool:
    """Whether the session's strategy is the demo its config's ``[strategy]`` table sets up.

    A ``strategy_factory`` refuses that table, so its product never is, whatever its class;
    nor is a strategy of the caller's, even an ``SmaCrossover``, trading another quantity.
    """
    strategy, cfg = p.strategy, p.config
    return (
        cfg.strategy_factory is None
        and isinstance(strategy, SmaCrossover)
        and strategy.order_qty == cfg.strategy.order_qty
    )


def _clock_check(problem: str) -> CheckResult:
    """The failed check of a clock that gave no time at the start (``problem`` says how)."""
    return CheckResult(name="clock_valid", passed=False, reason=CLOCK_INVALID, detail=problem)


def _record(p: SessionParts, results: list[CheckResult], result: CheckResult) -> None:
    if not result.passed:  # a check of the caller's may give free text: the audit needs a code
        result = attrs.evolve(result, reason=record_code(result.reason, default="CHECK_FAILED"))
    if result.detail:  # and a detail of many lines, or with controls: the record has one line
        result = attrs.evolve(result, detail=one_line(result.detail))
    results.append(result)
    payload: dict[str, Any] = {
        "check": result.name,
        "passed": result.passed,
        "reason": result.reason,
    }
    if result.detail:  # why it failed, or what a passing check decided (e.g. the allowlist)
        payload["detail"] = result.detail
    p.recorder.emit("PREFLIGHT_CHECK", payload)


def _start_payload(p: SessionParts) -> dict[str, Any]:
    cfg = p.config
    return {
        "seed": cfg.seed,
        "symbol": cfg.symbol,
        "broker": str(p.broker.kind) if isinstance(p.broker, VenueKind) else "unknown",
        "clock_mode": cfg.clock_mode,
        "steps_planned": cfg.steps,
        "max_steps": cfg.max_steps,
        "version": __version__,
        "config_sha256": cfg.recorded_sha256(),
    }


def unpriced_symbols(symbol: str, others: Sequence[str]) -> str:
    """What an allowlist naming symbols beyond the feed's means: none of them trades."""
    named = ", ".join(others)
    return (
        f"the allowlist names {named} beside the feed's symbol {symbol}: a session trades "
        f"only its feed's symbol, so an order for {named} will be refused (NO_MARKET_PRICE); "
        'a basket runs one session per symbol (docs/concepts.md, "One symbol a session")'
    )
