"""When trading went HALTED in a run, by what, and until when: read from its events.

A sealed ``COMPLETED`` may hide that trading was HALTED from some step on (the daily-loss
cap, an operator's kill, the execution throttle, a broker halt: the run then steps on
without trading). ``evidence`` tells it under its status line, ``burnin`` in its report:
both read it here, and say it in the words of ``halt_text``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.releases import before_0_2, written_by_other_release
from .._artifacts.runread import events_back, newest_event, payload, read_records
from .._domain.lifecycle import SessionState, Trigger
from .._domain.reasons import (
    DAILY_LOSS_KILL,
    PROTECTION_LOST,
    RECONCILE_MISMATCH,
    REDUCE_ONLY_CROSSED,
    STOP_INCOMPLETE,
)
from .._session.coordinator import ONE_SHOT_OPERATOR
from .._support.text import one_line
from .livecut import TRADING_EVENTS
from .statuswords import (
    DIFFERED_MID_WIND_DOWN,
    FAULTED_MID_WIND_DOWN,
    FAULTED_WOUND_DOWN,
    UNCONFIRMED_WIND_DOWN,
    WOUND_DOWN_THEN_DIFFERED,
    nonzero,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping
    from pathlib import Path

__all__ = [
    "ACTED_BY",
    "HALTED_BY",
    "MID_WIND_DOWN",
    "SELF_KILLS",
    "WOUND_DOWN",
    "Halts",
    "faulted_in_wind_down",
    "faulted_in_wind_down_in",
    "halt_cause",
    "halt_text",
    "halted_at_end",
    "halted_by_in",
    "kill_reasons",
    "killed_by_in",
    "last_turn",
    "left_for_an_operator",
    "trading_halts",
    "wind_down_next",
    "wind_down_words",
]

ACTED_BY: Final = {
    ONE_SHOT_OPERATOR: (
        "the livesession CLI itself, not a person: after a strategy or feed error it "
        "acknowledges the fault to cancel, flatten and stop the run"
    ),
    "SIGNAL_SIGUSR1": "the signal livesession kill sends",
    "SIGNAL_SIGUSR2": "the signal livesession ack sends",
    "SIGNAL_SIGTERM": "the signal livesession stop sends, as a service manager stopping it does",
    "SIGNAL_SIGINT": "Ctrl-C in the run's terminal",
    "SIGNAL_SIGHUP": "the hang-up of the run's terminal closing",
    "SIGNAL_SIGXCPU": "the soft CPU-time limit (ulimit -S -t) the run reached",
}
"""Who an operator name or a reason the CLI's signals record stands for, in words."""

_KILLED_BY: Final = {
    DAILY_LOSS_KILL: "the daily-loss cap pulled the kill switch",
    REDUCE_ONLY_CROSSED: "a reduce-only fill that added exposure pulled the kill switch",
    PROTECTION_LOST: "the venue dropped the protective exit of a held position, which pulled "
    "the kill switch",
}
"""Kills the session pulls itself; any other kill is an operator's."""
SELF_KILLS: Final = frozenset(_KILLED_BY)
"""The reasons of the kills the session pulls itself: the evidence's re-run pulls them too,
and takes any other as an operator's action to replay."""
HALTED_BY: Final = {
    "EXECUTION_THROTTLE": "the execution throttle",
    "BROKER_UNHEALTHY": "a broker halt (the venue failed or fell silent)",
}
"""What halted trading, in words, by the reason of its ``TRADING_STATE_CHANGED``."""


WOUND_DOWN: Final = "wound down"
"""``faulted_in_wind_down``: the wind-down had cancelled and flattened (the book's) when the
run faulted."""
MID_WIND_DOWN: Final = "mid wind-down"
"""``faulted_in_wind_down``: the wind-down was under way, an order still open or a position
held, when the run faulted."""
_LOOK: Final = "a person must look (RUNBOOK: When a session is in ERROR_REQUIRES_OPERATOR): "
_NAMED: Final = f"(RECONCILE_ESCALATED in {names.EVENTS} names it)"
_ESCALATED_NEXT: Final = {
    WOUND_DOWN: f"{_LOOK}the run was wound down (its orders cancelled, the book flat), then "
    f"found the venue holding what the book does not {_NAMED}: check the venue's open orders "
    "and positions",
    MID_WIND_DOWN: f"{_LOOK}the run was winding down, its orders not all cancelled or the book "
    f"not flat, when it found the venue holding what the book does not {_NAMED}: check the "
    "venue's open orders and positions, its own among them",
}
"""``status``'s next step for a run the reconciler escalated in its wind-down."""


def wind_down_words(reason: object, at: str) -> str:
    """How a run sealed in ERROR_REQUIRES_OPERATOR by ``reason`` got there, after the state.

    ``at`` is ``faulted_in_wind_down``'s. A stop out of polls (``STOP_INCOMPLETE``) wound
    down unconfirmed; a reconciler's escalation in the wind-down found the venue holding
    what the book does not, once it was wound down or while it was under way; any other
    fault in the wind-down (a report the book cannot apply, a lost lease, a sink, a
    broker call) came during it, before it was done. "" for a fault with no wind-down: each
    surface says that in its own words (``without a wind-down``, ``not wound down``). The
    CLI's last line, ``status``, the report's header and the evidence all say these words.
    """
    if reason == STOP_INCOMPLETE:
        return UNCONFIRMED_WIND_DOWN
    if reason == RECONCILE_MISMATCH:
        return {WOUND_DOWN: WOUND_DOWN_THEN_DIFFERED, MID_WIND_DOWN: DIFFERED_MID_WIND_DOWN}.get(
            at, ""
        )
    return {WOUND_DOWN: FAULTED_WOUND_DOWN, MID_WIND_DOWN: FAULTED_MID_WIND_DOWN}.get(at, "")


def wind_down_next(reason: object, at: str) -> str:
    """``status``'s next step for a run that faulted in its wind-down ("" for any other run).

    A reconciler's escalation says what it found; any other fault, ``wind_down_words``.
    """
    if reason == RECONCILE_MISMATCH:
        return _ESCALATED_NEXT.get(at, "")
    words = wind_down_words(reason, at) if at else ""
    if not words:
        return ""
    own = ", its own among them" if at == MID_WIND_DOWN else ""
    return (
        f"{_LOOK}the run faulted ({reason}) {words}: check the venue's open orders and "
        f"positions{own}"
    )


def left_for_an_operator(reason: object, at: str = "") -> str:
    """``left in ERROR_REQUIRES_OPERATOR, ...``: how a run sealed there was left, in words.

    A fault outside a wind-down seals the run without one (``not wound down``); a stop (or
    the run's end) that ran out of polls did wind down, but the venue did not confirm it:
    its cancels and flatten may be there, or not. ``at`` (``faulted_in_wind_down``): the
    fault came in a wind-down, said in ``wind_down_words``. A reconciler's escalation once
    the wind-down had cancelled and flattened (``WOUND_DOWN``) found the venue holding
    what the book does not. Either way a person looks at the venue.
    """
    words = wind_down_words(reason, at)
    if reason == RECONCILE_MISMATCH and at == WOUND_DOWN:
        return (
            f"left in ERROR_REQUIRES_OPERATOR {words}: a person must look "
            "at the venue's open orders and positions"
        )
    how = f" {words}" if words else ", not wound down"
    return (
        f"left in ERROR_REQUIRES_OPERATOR{how}: the venue may still hold its orders and "
        "position (a person must look)"
    )


def faulted_in_wind_down(reason: object, snapshots: Iterable[Mapping[str, Any]]) -> str:
    """Whether the run's fault came in its wind-down, and how far the wind-down had got.

    ``snapshots`` are the run's ``state_snapshots.jsonl`` records (one per transition): the
    fault's own says the state it left (``from_state`` ``STOPPING``: a stop, the run's end or
    an acknowledgement was winding down) and the book it left. ``WOUND_DOWN`` when that book
    had no open order and was flat (a reconciler's escalation then found the venue holding
    what the book does not; any other fault came before the wind-down was done);
    ``MID_WIND_DOWN`` when an order was still open or a position held. "" for a fault from
    any other state, for ``STOP_INCOMPLETE`` (a wind-down out of polls, said in its own
    words) and when the fault's snapshot is missing (a snapshot sink that failed).
    """
    if not reason or reason == STOP_INCOMPLETE:
        return ""
    fault: Mapping[str, Any] = {}
    for record in snapshots:
        if record.get("trigger") == Trigger.FAULT.value:
            fault = record
    if fault.get("from_state") != SessionState.STOPPING.value:
        return ""
    positions, orders = fault.get("positions"), fault.get("open_orders")
    flat = isinstance(positions, dict) and not any(
        nonzero(str(quantity)) for quantity in positions.values()
    )
    return WOUND_DOWN if orders == [] and flat else MID_WIND_DOWN


def faulted_in_wind_down_in(run_dir: Path, reason: object) -> str:
    """``faulted_in_wind_down`` of the run in ``run_dir``, read from its snapshots.

    "" when they cannot be read: the words then stay those of a run not wound down.
    """
    if not reason or reason == STOP_INCOMPLETE:
        return ""  # no file to read
    try:
        snapshots = read_records(run_dir / names.SNAPSHOTS)
    except OSError:
        return ""
    return faulted_in_wind_down(reason, snapshots)


def trading_halts(events: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each time trading went HALTED: from which step, by what, and until when.

    ``from_step`` is the steps (``BAR`` events) the run had taken when it halted; a halt an
    operator lifted (``TRADING_REENABLED``) has ``until_step`` and ``reenabled_by``, one
    that lasted to the run's end has them None. A kill while already HALTED starts nothing.
    """
    halts = Halts()
    for event in events:
        halts.note(event)
    return halts.found


def halt_text(
    halt: Mapping[str, Any],
    to_the_end: str,
    code: Callable[[object], str] = str,
    text: Callable[[object], str] = str,
    *,
    steps: object = None,
) -> str:
    """One halt of ``trading_halts`` in words, after "trading HALTED ".

    ``from step 40 until ops re-enabled it after step 52: the daily-loss cap pulled the kill
    switch (KILL_SWITCH reason DAILY_LOSS)``; a halt no operator lifted lasted
    ``to_the_end``. ``code`` writes what the run recorded as names (the operator, the event,
    the reason), ``text`` the cause: a Markdown document passes its own. ``steps``: the
    steps the run took, when known: a halt at its end is said plainly (``halted_at_end``).
    """
    at = halt["from_step"]
    if halt["until_step"] is None:
        span = f"from step {at} {to_the_end}"
        turned = last_turn(halt)
        if type(steps) is int and type(turned) is int and steps - turned <= 1:
            span = halted_at_end(turned, steps)
    else:
        who = code(halt["reenabled_by"]) if halt["reenabled_by"] else "an operator"
        span = f"from step {at} until {who} re-enabled it after step {halt['until_step']}"
    said = f" reason {code(halt['reason'])}" if halt["reason"] else ""
    return f"{span}: {text(halt['by'])} ({code(halt['event'])}{said})"


def last_turn(halt: Mapping[str, Any]) -> Any:
    """The last step whose strategy was asked for orders before ``halt``.

    ``from_step``, the steps taken when it halted, but for a halt that comes inside a step
    before its strategy is asked, which ``Halts`` records as ``last_turn``: the daily-loss
    cap at the step's bar, a protective exit the venue dropped or a reduce-only fill that
    crossed at its reports (a halt after a ``SIGNAL`` of its step came at the strategy's
    turn or later). The step whose bar or reports halted it went without a new order too
    (``from_step`` less one). Said as ``after the run's last step (3 of 3), so no step went
    without a new order`` of a cap reached on the last bar, and ``3 of its 6 steps without
    a new order`` of one reached on bar 3 of 6, which cost 4. A halt read without
    ``last_turn`` (a manifest an older release wrote) is judged by the daily-loss cap alone.
    """
    turned = halt.get("last_turn")
    if type(turned) is int:
        return turned
    at = halt["from_step"]
    at_the_bar = halt.get("event") == "KILL_SWITCH" and halt.get("reason") == DAILY_LOSS_KILL
    return at - 1 if at_the_bar and type(at) is int else at


def halted_at_end(at: int, steps: int) -> str:
    """A halt no one lifted, from step ``at`` of a run of ``steps``, at (or one short of) its end.

    ``after the run's last step (60 of 60), so no step went without a new order``, ``for
    the run's last step only (step 60 of 60 went without a new order)``. Said as ``from
    step 60 to the end of the run (0 of its 60 steps without a new order)``, which was true
    but read as a halt that cost the run nothing only after some thought.
    """
    if steps - at <= 0:
        return f"after the run's last step ({at} of {steps}), so no step went without a new order"
    return f"for the run's last step only (step {steps} of {steps} went without a new order)"


def halt_cause(event: dict[str, Any]) -> str | None:
    """What halted trading, in words, by ``event`` (None: not an event that halts it).

    A ``KILL_SWITCH`` is the kill switch's, pulled by the session itself or an operator; a
    ``TRADING_STATE_CHANGED`` to HALTED is said by its reason (``HALTED_BY``). ``Halts``
    (``evidence``, ``burnin``) and ``halted_by_in`` (``status``) say what halted it so.
    """
    kind, body = event.get("event_type"), payload(event)
    reason = str(body.get("reason", ""))
    if kind == "KILL_SWITCH":
        return _KILLED_BY.get(reason, "an operator's kill")
    if kind == "TRADING_STATE_CHANGED" and body.get("to") == "HALTED":
        return HALTED_BY.get(reason, reason or "(no reason recorded)")
    return None


def halted_by_in(run_dir: Path, trading: object, *, killed: bool) -> str:
    """What halted the trading of the run in ``run_dir`` when not the kill switch, in words.

    ``status`` of a run no process holds: trading ``HALTED`` not by the kill switch (whose
    words are its own) was halted by the newest trading event, a ``TRADING_STATE_CHANGED``
    (``a broker halt (the venue failed or fell silent)``, as ``evidence`` says it). Read
    from the end of ``events.jsonl`` back, within ``newest_event``'s budget; "" for any
    other state, a newest trading event of another kind, or none found.
    """
    if trading != "HALTED" or killed:
        return ""
    event, _ = newest_event(run_dir / names.EVENTS, TRADING_EVENTS)
    if event is not None and event.get("event_type") == "KILL_SWITCH" and unflagged(run_dir):
        return killed_by_in(run_dir)
    if event is None or event.get("event_type") != "TRADING_STATE_CHANGED":
        return ""
    return halt_cause(event) or ""


def unflagged(run_dir: Path) -> bool:
    """Whether a release that kept no ``kill_halted`` in its checkpoint wrote ``run_dir``.

    0.1.x cleared ``kill_started_ns`` once the kill switch had the book flat, so its sealed
    run halted by the daily-loss cap read as HALTED by nothing (``list``: ``STOPPED``);
    its newest trading event, the ``KILL_SWITCH``, says what halted it.
    """
    return before_0_2(written_by_other_release(run_dir))


def kill_reasons(run_dir: Path) -> list[str]:
    """The reasons of the run's kills (``C2_KILL_SWITCH``), each once, sorted: ``DAILY_LOSS``.

    ``dryrun``'s ``trading`` line names what pulled the kill switch, which ``kill switch
    1`` alone left to guess (an operator, the daily-loss cap, a reduce-only fill); read
    from ``audit.jsonl``, a few records a run.
    """
    return sorted(set(_kills(run_dir)))


def killed_by_in(run_dir: Path) -> str:
    """What pulled the kill switch that halted the run in ``run_dir``, for ``status``.

    ``the kill switch (DAILY_LOSS)``: the newest kill's reason (the run's halt at its end is
    its last kill's), as the report names it (``KILLED: trading HALTED by the kill switch
    (DAILY_LOSS)``); ``the kill switch`` when the audit log records none within the last
    ``events_back`` budget (a live run is polled: the whole log is not read each time).
    """
    # The newest only, read back from the end within a budget: status polls a live run too.
    kills = events_back(run_dir / names.AUDIT, ("C2_KILL_SWITCH",), key="code")
    newest = next(kills, None)
    if newest is None:
        return "the kill switch"
    return f"the kill switch ({one_line(str(payload(newest).get('reason') or '?'))})"


def _kills(run_dir: Path) -> list[str]:
    """The reasons of the run's ``C2_KILL_SWITCH`` records, in the audit log's order."""
    records = read_records(run_dir / names.AUDIT)
    kills = [r for r in records if r.get("code") == "C2_KILL_SWITCH"]
    return [str(payload(record).get("reason") or "?") for record in kills]


class Halts:
    """``trading_halts``, one event at a time (for a reader's one pass over the events).

    ``evidence`` and ``burnin`` note each event as they stream them.
    """

    def __init__(self) -> None:
        self.found: list[dict[str, Any]] = []
        self._bars = 0
        self._signalled = -1
        """The step of the latest ``SIGNAL``: its strategy had been asked for orders."""
        self._current: dict[str, Any] | None = None

    def note(self, event: dict[str, Any]) -> None:
        kind, body = event.get("event_type"), payload(event)
        if kind == "BAR":
            self._bars += 1
            return
        if kind == "SIGNAL":
            self._signalled = self._bars
            return
        current = self._current
        if kind == "TRADING_REENABLED" and current is not None:
            current |= {"until_step": self._bars, "reenabled_by": str(body.get("operator", ""))}
            self._current = None
            return
        if current is not None:
            return
        by = halt_cause(event)
        if by is None:
            return
        reason = str(body.get("reason", ""))
        # An operator's kill comes between steps; the session's own halts come inside the
        # step whose bar it is: before its strategy is asked (at the bar, at the venue's
        # reports) unless a SIGNAL of that step came first (the throttle, a send that failed).
        operators = kind == "KILL_SWITCH" and reason not in SELF_KILLS
        asked = operators or self._signalled == self._bars
        self._current = {
            "from_step": self._bars,
            "last_turn": self._bars if asked else max(self._bars - 1, 0),
            "event": kind,
            "reason": reason,
            "by": by,
            "until_step": None,
            "reenabled_by": None,
        }
        self.found.append(self._current)
