"""The step pipeline: what one step in DRYRUN_ACTIVE does, in order.

(lease renewal, ``guarded_step``) -> market feed (asked at the step's time) -> clock tick
-> bar (to the venue, ``BAR``) -> broker reports -> runtime checks (book invariants, daily
loss) -> strategy -> per intent: rails, idempotency reserve, broker (a ``CancelIntent``: its
cancel, ``cancels``) -> while HALTED (not by the kill switch), the cancels of what could add
exposure -> reports -> kill switch progress -> reconciliation -> step hooks -> checkpoint.
A step whose feed has run out, or that reaches ``max_steps``, starts the wind-down.

A step counts once its bar is recorded (``BAR``), whatever happens after it in the step,
so a run's final ``step`` always equals its ``BAR`` events.

The feed and the strategy are the caller's code (or data the session reads as it goes):
an exception from ``next_bar`` or ``on_bar`` is caught here, at the step boundary, and
takes one path (``input_failed``): trading HALTED at once, a ``FEED_ERROR`` or
``STRATEGY_ERROR`` event (audit ``C2_FEED_ERROR`` / ``C2_STRATEGY_ERROR``) with the
exception's type and redacted message, open orders cancelled, and a fault with that
reason (ERROR_REQUIRES_OPERATOR). ``SinkFailure`` keeps its own fail-closed path, and
``KeyboardInterrupt`` and ``SystemExit`` are never caught; any other ``BaseException``
(an ``asyncio.CancelledError`` the strategy raises, say) takes the input-failure path.

A feed that raises ``Transient`` (the venue feed, its fetch retries spent) is a failed
broker call instead (``BrokerHealth``, operation ``fetch_ohlcv``) and the step does not
happen; once the broker is unhealthy, a fetch that still fails is a ``FEED_ERROR``. A feed
with ``take_gaps`` (the venue feed) has its ``FEED_GAP`` notes recorded before the bar.
"""

from __future__ import annotations

import traceback
from decimal import getcontext, setcontext
from typing import TYPE_CHECKING, Any, Final, cast

from .._domain.cancels import CancelIntent
from .._domain.decimal import CONTEXT, plain
from .._domain.lifecycle import SessionState
from .._domain.model import Bar, OrderIntent
from .._domain.reasons import (
    BROKER_CALL_FAILED,
    DAILY_LOSS_KILL,
    FEED_ERROR,
    FEED_EXHAUSTED,
    IDEMPOTENCY_CONFLICT,
    MAX_STEPS_REACHED,
    PROTECTION_LOST,
    REDUCE_ONLY_CROSSED,
    STRATEGY_ERROR,
    UNEXPECTED_ERROR,
)
from .._exceptions import (
    INTERRUPTS,
    ConfigError,
    IdempotencyConflict,
    LiveSessionError,
    PluginStateError,
    SinkFailure,
    Transient,
)
from .._market.venue import FETCH_OHLCV
from .._risk.governor import TradingState
from .._support.handlerraised import raised_in_handler
from .._support.logging import get_logger
from .._support.secrets import redact_text
from .._support.text import cut_middle, exception_text, valid_text
from .answers import check_bar, checked_intents
from .cancels import cancel_for_strategy
from .conflicts import conflict_said

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence

    from .assembly import SessionParts
    from .threads import SessionGate

__all__ = [
    "check_step_count",
    "guarded_step",
    "halt_and_fault",
    "input_failed",
    "step_once",
]

_ACTIVE = SessionState.DRYRUN_ACTIVE
_HALTED = TradingState.HALTED
# A step reads ``governor.state`` and ``winddown.kill_started_ns`` themselves, not the
# ``halted`` and ``killing`` properties they stand for: a property read costs about what a
# call does, and a step makes several.
_MESSAGE_MAX: Final = 500


def check_step_count(n: object, *, verb: str = "run_n_steps") -> None:
    """``n`` steps must be a positive int: a typo is refused before the session does anything.

    The count is not held to ``max_steps``: the session stops itself there
    (``MAX_STEPS_REACHED``), so ``run_n_steps(n)`` and ``run_to_end(steps)`` never pass it.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n <= 0:
        raise ConfigError(f"{verb} needs a positive integer, got {n!r}")


def guarded_step(p: SessionParts, *, after_step: Callable[[], None] | None) -> None:
    """One step in DRYRUN_ACTIVE, as the session runs it under its lock.

    The lease is renewed first (a lost lease ends the step before it starts); a resumed
    session's first step reconciles the venue before anything else; a sink failure fails
    the session closed.
    """
    lifecycle = p.lifecycle
    if p.lease is not None and not p.lease.renew():
        return
    recon = p.reconciliation
    if recon.before_next_step:
        recon.before_next_step = False
        lifecycle.guarded(lambda: guarded_reconcile(p))
        if lifecycle.machine.state is not _ACTIVE:  # the reconciler escalated
            return
    try:
        step_once(p, after_step=after_step)
    except SinkFailure as exc:
        lifecycle.fail_closed(exc)
    except IdempotencyConflict as exc:  # a re-run that does not repeat its run: no resume can
        halt_and_fault(p, IDEMPOTENCY_CONFLICT, conflict_said(p, exc))
    except HookRaised as raised:  # the hook's error, as any other a hook raises
        unexpected(p, raised.error)
    except (LiveSessionError, *INTERRUPTS):
        raise  # ours, with its one-line message (a checkpoint the disk refused, say)
    except BaseException as exc:  # the last resort: the run must stay sealable
        if raised_in_handler(exc):  # a user's timer cut the step: it tears, as a Ctrl-C does
            raise
        unexpected(p, exc)


def guarded_reconcile(p: SessionParts, grace_ns: int | None = None) -> None:
    """A pass outside a step (activation's, a resume's first): faults ``UNEXPECTED_ERROR``."""
    try:
        p.reconciliation.reconcile(grace_ns=grace_ns)
    except (LiveSessionError, *INTERRUPTS):
        raise
    except BaseException as exc:  # as in guarded_step: stay sealable
        if raised_in_handler(exc):
            raise
        unexpected(p, exc)


class HookRaised(Exception):
    """A step hook raised a ``LiveSessionError`` that left the session whole (``error``)."""

    def __init__(self, error: LiveSessionError) -> None:
        super().__init__(str(error))
        self.error = error


def run_hooks(gate: SessionGate, hooks: Sequence[Callable[[Any], None]], session: object) -> None:
    """The step hooks, once the step's bar is done: a re-entry point, so a verb acts at once.

    A ``LiveSessionError`` a hook raises and that left the session whole (``run_n_steps``
    called from inside the step, refused; a ``ConfigError`` of the hook's own) is the
    hook's error like any other: ``guarded_step`` faults the session ``UNEXPECTED_ERROR``
    and the run stays sealable. One that tore it (a verb whose store refused a write)
    goes on.
    """
    with gate.reentry():
        for hook in hooks:
            try:
                hook(session)
            except LiveSessionError as exc:
                if gate.torn_by:
                    raise
                raise HookRaised(exc) from exc


def step_once(p: SessionParts, *, after_step: Callable[[], None] | None) -> None:
    """Run one step; ``after_step`` runs once the step's bar is done (the step hooks, if any)."""
    time, lifecycle = p.time, p.lifecycle
    # The bar is read first (at the time the step would take), so that a dated feed's bar
    # sets the step's time; nothing is recorded before the tick.
    bar, failure = _next_bar(p)
    if isinstance(failure, Transient):
        _fetch_failed(p, failure)
        return
    regression = time.next_tick(bar.ts_ns if p.feed_dated and bar is not None else None)
    if regression is not None:
        previous, now = regression
        lifecycle.fault("CLOCK_REGRESSION", {"previous": previous, "now": now})
        return
    if failure is not None:
        input_failed(p, FEED_ERROR, failure, step=time.steps + 1)
        return
    p.broker_health.answered(FETCH_OHLCV)  # the feed answered: its row of failures ends
    if bar is None:
        # No bar, no step: the run ends cleanly after the last bar it had.
        if states_hold(p):
            lifecycle.reason = FEED_EXHAUSTED
            p.winddown.request_stop(FEED_EXHAUSTED)
        return
    if p.feed_gaps is not None:
        _record_gaps(p, p.feed_gaps)
    _on_bar(p, bar)
    if lifecycle.machine.state is not _ACTIVE:
        return
    if after_step is not None:
        after_step()
    p.checkpointer.end_of_step(time.steps)
    if time.steps >= p.config.max_steps and lifecycle.machine.state is _ACTIVE and states_hold(p):
        p.winddown.request_stop(MAX_STEPS_REACHED)


def _record_gaps(p: SessionParts, take_gaps: Callable[[], Iterable[dict[str, Any]]]) -> None:
    """The venue's missing candles (``FEED_GAP``), recorded before the bar after them."""
    for gap in take_gaps():
        p.recorder.emit("FEED_GAP", gap)


def _fetch_failed(p: SessionParts, error: Transient) -> None:
    """A venue feed's fetch failed after its retries: a failed broker call, and no step.

    Once the failures have made the broker unhealthy (trading HALTED), a fetch that still
    fails leaves the session without market data: the feed-error fault calls the operator.
    """
    health = p.broker_health
    tripped = health.tripped
    health.failed(FETCH_OHLCV, error)
    if tripped:
        input_failed(p, FEED_ERROR, error, step=p.time.steps + 1)


def _on_bar(p: SessionParts, bar: Bar) -> None:
    book = p.book
    p.broker.on_market(bar)
    p.recorder.emit("BAR", _bar_payload(bar))
    # Marked once the bar is recorded: a bar the venue raised on never reaches events.jsonl,
    # and the equity a reviewer rebuilds from it must be the one the session seals. A new
    # day's peak starts before: at the equity marked at the closes before its first bar.
    p.governor.open_day(book, p.time.ts_sim)
    book.mark(bar.symbol, bar.close)
    p.time.steps += 1  # the bar is recorded: the step counts, however it ends
    reports = p.reports
    # A quiet step (nothing of the session's open or closing at the venue) does not poll:
    # the venue owes it nothing, so nothing can be late either (the silence clock restarts).
    if reports.owed():
        reported = reports.process()
    else:
        reported = False
        p.broker_health.nothing_owed()
    if _after_reports(p):
        return
    winddown, governor = p.winddown, p.governor
    if (breach := governor.daily_loss_breach(book, p.time.ts_sim)) is not None:
        winddown.kill(DAILY_LOSS_KILL, breach)
    intents: tuple[OrderIntent | CancelIntent, ...] = ()
    if governor.state is not _HALTED:
        decided = _decide(p, bar)
        if decided is None:
            return
        intents = decided
        _act(p, intents)
    # HALTED but not by the kill switch (which cancels everything): no new exposure, so
    # what could still add some (a resting entry) is cancelled, the throttle's halt just
    # made by an intent above included.
    cancelled = governor.state is _HALTED and not governor.kill_halted and winddown.cancel_entries()
    if intents or reported or cancelled or winddown.kill_started_ns is not None:
        # Only a step that called the venue can have more to hear from it before it ends:
        # sent orders, the exits a fill placed, a halt's or a kill's cancels.
        reports.process()
        if _after_reports(p):
            return
    winddown.continue_kill()
    p.reconciliation.reconcile()
    if winddown.kill_started_ns is not None:
        winddown.check_flat()  # the reconciler may just have confirmed the last cancel


def _act(p: SessionParts, intents: tuple[OrderIntent | CancelIntent, ...]) -> None:
    """The strategy's intents, in the order given: orders to the rails, cancels to the venue."""
    execution, winddown = p.execution, p.winddown
    for intent in intents:
        if type(intent) is CancelIntent:
            cancel_for_strategy(p, winddown, intent)
        else:
            execution.handle_intent(cast("OrderIntent", intent))


def _bar_payload(bar: Bar) -> dict[str, str]:
    """The ``BAR`` event's payload: the prices and volume as ``plain`` writes them.

    ``str`` is ``plain`` but for the exponent form (``9.0E-7``, ``1E+2``), which only a
    bar of extreme prices has: the five are written with ``str`` and looked at once.
    """
    open_, high, low = str(bar.open), str(bar.high), str(bar.low)
    close, volume = str(bar.close), str(bar.volume)
    if "E" in open_ or "E" in high or "E" in low or "E" in close or "E" in volume:
        open_, high, low = plain(bar.open), plain(bar.high), plain(bar.low)
        close, volume = plain(bar.close), plain(bar.volume)
    return {
        "symbol": bar.symbol,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": volume,
    }


def _after_reports(p: SessionParts) -> bool:
    """Act on the reports just applied; True when they ended the step.

    One the session could not apply faulted it (``BROKER_REPORT_INVALID``), or the book
    broke an invariant (it faults now). A reduce-only fill that opened, added to or
    flipped exposure pulls the kill switch (``REDUCE_ONLY_CROSSED``): halted, and the
    exposure nobody asked for is flattened. So does a protective leg the venue dropped
    while the position it protects is held (``PROTECTION_LOST``, ``OcoExits.take_lost``).
    """
    if p.lifecycle.machine.state is not _ACTIVE:
        return True
    violation = p.book.invariant_violation()
    if violation is not None:
        p.lifecycle.fault(*violation)
        return True
    if p.reports.take_crossed() and not p.winddown.killing:
        p.winddown.kill(REDUCE_ONLY_CROSSED)
    if p.exits.take_lost() and not p.winddown.killing:
        p.winddown.kill(PROTECTION_LOST)
    return False


def _decide(p: SessionParts, bar: Bar) -> tuple[OrderIntent | CancelIntent, ...] | None:
    """The strategy's intents for ``bar``; None when it raised (the session faulted).

    The intents are taken whole before any is sent, so a strategy that fails half-way
    through (a generator, say) sends none of that bar's intents; likewise when any of them
    is not an ``OrderIntent`` the session can act on (``intent_problem``): a ``TypeError``
    or ``ValueError`` naming it takes the strategy-error path.
    """
    try:
        if p.own_strategy:  # livesession's demo strategy leaves the context as it is
            decided = p.strategy.on_bar(bar, p.book.strategy_view)
        else:
            # In a context of its own (as ``fenced``, without a frame between the two, so
            # the strategy's error keeps its traceback's shape): a change in place ends here.
            step_context = getcontext()
            setcontext(CONTEXT.copy())
            try:
                decided = p.strategy.on_bar(bar, p.book.strategy_view)
            finally:
                setcontext(step_context)
        intents = checked_intents(decided, p.config, p.strategy)
    except (SinkFailure, *INTERRUPTS):
        raise
    except BaseException as exc:  # noqa: BLE001 - any strategy error takes the input-failure path
        input_failed(p, STRATEGY_ERROR, exc, step=p.time.steps)
        return None
    return intents


def _next_bar(p: SessionParts) -> tuple[Bar | None, BaseException | None]:
    """The feed's next bar (None: exhausted), or the exception reading it gave.

    A bar of a feed other than the built-in ones (whose bars are checked where they are
    made) is checked here: one the session cannot use is the feed's error. Its prices, on
    the tick, are then written with the tick's places, as the data files' are.
    """
    try:
        asked = p.time.proposed_tick()
        if p.own_feed:  # livesession's own data feeds leave the context as it is
            bar = p.feed.next_bar(asked)
        else:
            step_context = getcontext()
            setcontext(CONTEXT.copy())  # as ``fenced``: the feed's changes end with its call
            try:
                bar = p.feed.next_bar(asked)
            finally:
                setcontext(step_context)
        if bar is not None and not p.own_feed:
            symbol, tick = p.config.symbol, p.config.price_tick
            if p.feed_dated:
                bar = check_bar(bar, symbol, tick, after_ns=p.time.last_step_ns)
            else:
                bar = check_bar(bar, symbol, tick, asked_ns=asked)
    except (SinkFailure, *INTERRUPTS):
        raise
    except BaseException as exc:  # noqa: BLE001 - any feed error takes the one input-failure path
        return None, exc
    return bar, None


def states_hold(p: SessionParts) -> bool:
    """Whether the feed's and the strategy's states can still be recorded (as a stop begins).

    One that cannot fails the run as at a checkpoint (``input_failed``), instead of being
    sealed COMPLETED without it: a run shorter than ``checkpoint_every`` steps took no
    checkpoint that would have found out.
    """
    if not p.checkpointer.saving:
        return True  # nothing records them: nothing to fail
    for state in p.plugin_states:
        try:
            state.get_state()
        except PluginStateError as exc:
            input_failed(p, exc.reason, exc.cause, step=p.time.steps)
            return False
    return True


def input_failed(p: SessionParts, reason: str, exc: BaseException, *, step: int) -> None:
    """The feed or the strategy raised in ``step``: stop trading and call the operator.

    In order: the ``reason`` event (``FEED_ERROR`` / ``STRATEGY_ERROR``: the exception's
    type, its redacted message and the step), trading HALTED (no new order from here on),
    every open order cancelled, and the fault (ERROR_REQUIRES_OPERATOR, status FAILED).
    The redacted traceback goes to the session log only (it holds file paths, which are
    not part of the run's evidence).
    """
    detail = _described(exc)
    p.recorder.emit(reason, {**detail, "step": step})
    _log_traceback(p, "input_failed", reason, exc)
    p.governor.set_trading(TradingState.HALTED, reason)
    p.winddown.cancel_open()
    p.reports.process()
    _fault(p, reason, detail, exc)


def unexpected(p: SessionParts, exc: BaseException) -> None:
    """An exception nothing else handled ended the step: stop trading and call the operator.

    Code that is not the feed's or the strategy's raised (a step hook, a broker's
    ``on_market``, or a defect of livesession's own). What the step had done may be half
    done, so nothing is wound down automatically: trading HALTED, then the fault
    ``UNEXPECTED_ERROR`` with the exception's type and redacted message (ERROR_REQUIRES_
    OPERATOR); the redacted traceback goes to the session log.
    """
    _log_traceback(p, "unexpected_error", UNEXPECTED_ERROR, exc)
    halt_and_fault(p, UNEXPECTED_ERROR, exc)


def halt_and_fault(p: SessionParts, reason: str, exc: BaseException) -> None:
    """Trading HALTED and the fault ``reason`` with ``exc``'s type and redacted message.

    Nothing is wound down: the step may be half done, or the venue in doubt. The faults
    no retry mends take this path: ``UNEXPECTED_ERROR``; ``BROKER_CALL_FAILED`` (a broker
    call a checkpoint could not wait for, the error naming it: ``journal_offset raised
    OSError: ...``), said once; ``IDEMPOTENCY_CONFLICT`` (a client order id reserved for
    other order parameters: a resumed run that no longer repeats the crashed one, on a
    venue that lost what it held, say; resumed again, it would meet the same key);
    ``CLIENT_ID_IN_USE`` (the venue has an open order of the session's client order id in
    another symbol: another session sends the same ids, and would clash again).
    """
    if p.lifecycle.failed and p.lifecycle.reason == reason == BROKER_CALL_FAILED:
        return  # a later checkpoint (a stop's) failing alike changes nothing
    p.governor.set_trading(TradingState.HALTED, reason)
    _fault(p, reason, _described(exc), exc)


def _described(exc: BaseException) -> dict[str, str]:
    """The exception as a fault records it: its type, and its redacted, cut message."""
    return {"error": type(exc).__name__, "message": error_message(exc)}


def _log_traceback(p: SessionParts, event: str, reason: str, exc: BaseException) -> None:
    """The redacted traceback, cut to 64 Ki characters, to the session log only (not evidence)."""
    text = redact_text(valid_text("".join(traceback.format_exception(exc))))
    get_logger().error(event, run_id=p.config.run_id, reason=reason, traceback=cut_middle(text))


def _fault(p: SessionParts, reason: str, detail: dict[str, str], exc: BaseException) -> None:
    """ERROR_REQUIRES_OPERATOR with ``detail``; the result's one line is ``Type: message``.

    ``exc`` is kept in memory (``SessionInspection.fault_cause``): the testing kit names
    the line that raised from its traceback.
    """
    error, message = detail["error"], detail["message"]
    summary = f"{error}: {message}" if message else error
    p.lifecycle.fault(reason, detail, summary=summary, cause=exc)


def error_message(exc: BaseException) -> str:
    """``exc``'s message as the run records it: redacted, then cut to 500 characters.

    Redacted before it is cut, so a cut can never leave part of a secret unrecognised. A
    lone surrogate (an undecodable byte of a file name) is backslash-escaped (``valid_text``):
    no JSON line could hold it, and the strategy's error would be lost with the line.
    """
    message = redact_text(valid_text(exception_text(exc)))
    if len(message) > _MESSAGE_MAX:
        message = message[: _MESSAGE_MAX - 1] + "\u2026"
    return message
