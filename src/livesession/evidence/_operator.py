"""The operator's actions a run recorded, and the re-run that takes them at the same steps.

A run's bytes follow from its config, its data and what its operator did: a SIGTERM that
stopped it after step 8,248, a ``livesession kill``, an acknowledgement, trading re-enabled.
The determinism re-run replays those actions, read back from the run's own events, at the
step boundaries where the run took them; without them a re-run of a stopped run would go
on to the config's ``steps`` and could never match.

Each action is recognised by the event its verb records, and the step boundary by the
``BAR`` events before it (verbs run between steps, never inside one):

- ``STATE_CHANGED`` by ``request_stop`` out of DRYRUN_ACTIVE: a stop (a signal, the API, a
  close), unless the pipeline stopped itself (the feed ran out, ``max_steps``); its reason
  is also the seal's when the run's ``SESSION_STOPPED`` says so (the CLI's signal stops);
- ``KILL_SWITCH``: a kill, unless the session pulled it itself (``_rundir/halts.py``'s
  ``SELF_KILLS``: the daily-loss cap, a reduce-only fill that added exposure, a
  protective leg the venue dropped);
- ``OPERATOR_ACK``, ``TRADING_REENABLED``, and ``TRADING_STATE_CHANGED`` to REDUCING;
- the ``PREFLIGHT_CHECK`` of a session closed before its preflight ran: ``close``.

A verb called between the preflight and the activation (an operator's stop, ``close`` or
``reduce_only`` from another thread while ``run_to_end`` ran the preflight, or an
application that preflighted a session and closed it unactivated) is taken there too, before
the re-run activates the session, and the session is activated only if it is still
PREFLIGHT_OK after them, as ``run_to_end`` does.

A verb taken in a stop's wind-down before the wind-down recorded anything of its own (a
kill of a run resumed STOPPING after a crash in the wind-down, or of a stop from another
thread as it began) is taken there too: the re-run stops without winding down
(``stop_before_wind_down``, as the crash left the run), takes the verb, and winds down
after it. A verb taken in a wind-down after the wind-down had sent or recorded anything
(``placeable`` False) has no such place in the re-run: ``unplaceable`` says so, and the
re-run does not claim a mismatch of the plug-ins for it.

An action is taken at its boundary, or, when the session is not yet where it can apply
(an acknowledgement of a fault that ends the step after that boundary), at the next one or
once the steps are over. The re-run is no judge of the actions: the byte comparison is.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._artifacts.runread import iter_records, payload
from .._domain.clock import format_utc_ns
from .._domain.lifecycle import SESSION_CLOSED, SessionState
from .._domain.reasons import FEED_EXHAUSTED, MAX_STEPS_REACHED
from .._exceptions import LiveSessionError
from .._rundir.halts import SELF_KILLS
from .._session.heldstop import stop_before_wind_down
from .._session.preflight import CLOSED_BEFORE_PREFLIGHT
from .._support.oserrors import scratch_way_out

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path

    from .._session.coordinator import LiveSessionOrchestrator
    from .._session.threads import VerbResult

__all__ = [
    "OperatorAction",
    "actions_in",
    "progress_to",
    "recorded_actions",
    "replay",
    "told_actions",
    "unplaceable",
]

S = SessionState
_ACTIVE: Final = S.DRYRUN_ACTIVE.value
_STOPPABLE: Final = frozenset({S.PREFLIGHT_OK.value, _ACTIVE})
"""The states ``request_stop`` stops from (the lifecycle's ``request_stop`` transitions)."""
_SELF_STOPS: Final = frozenset({FEED_EXHAUSTED, MAX_STEPS_REACHED})
"""Stops the step pipeline makes itself, so a re-run makes them too."""

_OPERATOR_VERBS: Final = {"OPERATOR_ACK": "acknowledge", "TRADING_REENABLED": "reenable_trading"}
"""Events an operator's verb records with the operator's name."""


@attrs.frozen
class OperatorAction:
    """One verb the run's operator called, between ``after_step`` and the next step."""

    after_step: int
    verb: str
    argument: str
    sealed_as: bool = False
    before_activation: bool = False
    """Taken between the preflight and the activation (``after_step`` is then 0)."""
    at_ns: int | None = attrs.field(default=None, eq=False)
    """The run's (simulated) time of the event that recorded it: a reviewer's "when"."""
    winds_down: bool = True
    """A stop's: False when the run took another verb in its wind-down before the wind-down
    recorded anything (the stop is then held STOPPING for it: ``stop_before_wind_down``)."""
    placeable: bool = True
    """False for a verb the run took in a wind-down already under way: no re-run takes it
    there (the wind-down runs from start to end within one verb)."""

    def take(self, session: LiveSessionOrchestrator) -> VerbResult:
        """Call the verb on ``session``."""
        if self.verb == "request_stop" and not self.winds_down:
            return stop_before_wind_down(session, self.argument, sealed_as=self.sealed_as)
        if self.verb == "request_stop":
            return session.request_stop(self.argument, sealed_as=self.sealed_as)
        verb = getattr(session, self.verb)
        result: VerbResult = verb(self.argument)
        return result

    def describe(self) -> str:
        """``request_stop('SIGNAL_SIGTERM') after step 8248`` (``told_actions`` adds when)."""
        if self.verb == "close":
            return "close() before the preflight"
        if self.before_activation:
            return f"{self.verb}({self.argument!r}) before activation"
        return f"{self.verb}({self.argument!r}) after step {self.after_step}"


def told_actions(
    actions: Iterable[OperatorAction], steps: int | None, *, when: bool = False
) -> list[str]:
    """``actions`` as a reviewer is told them; with ``when``, each at its run time.

    The close that ends a run of ``steps`` planned steps once they are done is the run's own
    end, not an operator's action.
    """
    return [
        action.describe()
        + ("" if action.at_ns is None or not when else f" at {format_utc_ns(action.at_ns)}")
        for action in actions
        if not (action.argument == SESSION_CLOSED and action.after_step == steps)
    ]


def recorded_actions(events: Path) -> tuple[OperatorAction, ...]:
    """The operator's actions in the run whose events file is ``events``, in order.

    Read a line at a time: the evidence re-run holds this while it runs the whole session
    again, and a million steps of events as a list would be gigabytes.
    """
    return actions_in(iter_records(events))


def actions_in(events: Iterable[dict[str, Any]]) -> tuple[OperatorAction, ...]:
    """The operator's actions among a run's ``events`` (its records, read), in order."""
    bars = 0
    found: list[OperatorAction] = []
    sealed_reason = ""
    activated = False
    winding = _WindDown()
    for event in events:
        kind, body = event.get("event_type"), payload(event)
        if kind == "BAR":
            bars += 1
        elif kind == "SESSION_STOPPED":
            sealed_reason = str(body.get("reason") or "")
        elif kind == "STATE_CHANGED" and body.get("trigger") == "activate":
            activated = True
        action = None if kind == "BAR" else _action(kind, body)
        if action is None:
            winding.saw(kind, body, len(found) - 1)
            continue
        early = not activated and action[0] != "close"
        at = event.get("ts_sim")
        at_ns = at if isinstance(at, int) and not isinstance(at, bool) else None
        taken = OperatorAction(bars, *action, before_activation=early, at_ns=at_ns)
        found.append(winding.place(taken, found))
        winding.saw(kind, body, len(found) - 1)
    return tuple(
        attrs.evolve(action, sealed_as=action.argument == sealed_reason)
        if action.verb == "request_stop" and sealed_reason
        else action
        for action in found
    )


@attrs.define
class _WindDown:
    """Where a run's events stand in a stop's wind-down, read in order (``actions_in``)."""

    under_way: bool = False
    stop: int | None = None
    """The index (among the actions found) of the operator's stop being wound down."""
    recorded: bool = False
    """Whether the wind-down (or a verb taken in it) recorded an event of its own yet."""

    def saw(self, kind: object, body: dict[str, Any], last: int) -> None:
        """Take in an event; ``last`` is the index of the last action found (-1: none)."""
        if kind == "STATE_CHANGED" and body.get("to_state") == S.STOPPING.value:
            asked = body.get("trigger") == "request_stop" and body.get("from_state") in _STOPPABLE
            self.under_way, self.recorded = True, False
            self.stop = last if asked and last >= 0 else None
        elif kind == "STATE_CHANGED" and body.get("from_state") == S.STOPPING.value:
            self.under_way, self.stop = False, None
        elif self.under_way:
            self.recorded = True

    def place(self, action: OperatorAction, found: list[OperatorAction]) -> OperatorAction:
        """``action``, taken in the wind-down under way: its stop held for it, or unplaceable."""
        if not self.under_way:
            return action
        if self.stop is not None and not self.recorded and found[self.stop].verb == "request_stop":
            found[self.stop] = attrs.evolve(found[self.stop], winds_down=False)
            return action
        return attrs.evolve(action, placeable=False)


def unplaceable(actions: Iterable[OperatorAction]) -> str:
    """Why the re-run cannot take the run's operator actions where it took them, or "".

    A verb the run took in a wind-down already under way (after it had recorded an event of
    its own) has no place in a re-run: the wind-down runs there within the stop's own verb.
    """
    late = [action.describe() for action in actions if not action.placeable]
    if not late:
        return ""
    return (
        f"the run's operator called {', '.join(late)} while a stop's wind-down was under way "
        "(after it had recorded events of its own), and the re-run cannot take a verb inside "
        "a wind-down, so it was not compared: this says nothing against the run or its "
        "plug-ins (verify checks the run's record on its own)"
    )


def _action(kind: object, body: dict[str, Any]) -> tuple[str, str] | None:
    """The verb and its argument that recorded this event, or None for the session's own."""
    reason = str(body.get("reason", ""))
    if kind == "STATE_CHANGED":
        asked = body.get("trigger") == "request_stop" and body.get("from_state") in _STOPPABLE
        return ("request_stop", reason) if asked and reason not in _SELF_STOPS else None
    if kind == "KILL_SWITCH":
        return None if reason in SELF_KILLS else ("kill", reason)
    by_operator = _OPERATOR_VERBS.get(str(kind))
    if by_operator is not None:
        return by_operator, str(body.get("operator", ""))
    if kind == "TRADING_STATE_CHANGED" and body.get("to") == "REDUCING":
        return "reduce_only", reason
    if kind == "PREFLIGHT_CHECK" and reason == CLOSED_BEFORE_PREFLIGHT:
        return "close", ""
    return None


def replay(
    session: LiveSessionOrchestrator,
    steps: int,
    actions: tuple[OperatorAction, ...],
    stepped: Callable[[int], None] | None = None,
) -> None:
    """Run ``session`` to ``steps`` as the CLI does, taking ``actions`` where they were taken.

    The session is then closed; a fault is acknowledged only where the run recorded it.
    ``stepped`` is told the steps done after each step (the re-run's sign of progress).
    A re-run whose files the system refused (its sinks died: a small ``TMPDIR`` filled)
    raises: its files stopped short, and compared all the same a sound run was ``MISMATCH``
    (``BAR (seq 704) in the run, nothing (the file ends) in the re-run``).
    """
    _replayed(session, steps, actions, stepped)
    refused = session.recorder.failure_summary()
    if refused:
        way = scratch_way_out(session.recorder.errnos.values())
        raise LiveSessionError(
            f"the re-run's files were refused ({refused}), so it says nothing of the run: "
            f"{way}, then run evidence again"
        )


def _replayed(
    session: LiveSessionOrchestrator,
    steps: int,
    actions: tuple[OperatorAction, ...],
    stepped: Callable[[int], None] | None,
) -> None:
    due = list(actions)

    def take_due(done: int | None) -> None:
        """Take the actions due by ``done`` steps (None: all that are left)."""
        while due and (done is None or due[0].after_step <= done):
            if not due[0].take(session) and done is not None:
                return  # not applicable yet: at the next boundary, or once the steps end
            due.pop(0)

    if due and due[0].verb == "close":  # closed before its preflight ran
        session.close()
        return
    if session.state is S.INIT and not session.preflight():
        session.close()
        return
    while due and due[0].before_activation:  # between the preflight and the activation
        due.pop(0).take(session)
    if session.state is S.PREFLIGHT_OK:
        session.activate()
    take_due(session.steps_done)
    while session.steps_done < steps and session.state is S.DRYRUN_ACTIVE:
        session.step()
        take_due(session.steps_done)
        if stepped is not None:
            stepped(session.steps_done)
    _stop_before_ack(session, due)
    take_due(None)
    session.close()


def _stop_before_ack(session: LiveSessionOrchestrator, due: list[OperatorAction]) -> None:
    """Stop the session as ``run_to_end`` does before its acknowledgement, if one is due.

    An acknowledgement left once the steps are done, of a session still DRYRUN_ACTIVE, is
    the CLI's of a fault the stop's state check raised (a ``get_state`` refused after the
    last checkpoint): ``close()`` would raise it only after the acknowledgement was tried.
    """
    if due and due[0].verb == "acknowledge" and session.state is S.DRYRUN_ACTIVE:
        session.request_stop(SESSION_CLOSED)


_PROGRESS_EVERY_S: Final = 1.0


def progress_to(path: Path | None) -> Callable[[int], None] | None:
    """Write the steps done to ``path``, at most once a second: the re-run gets on.

    The parent's sign of progress (``Rerun._joined``). The re-run's run files are no such
    sign: written without fsync, they are held in 64 KiB (a few hundred steps) before any
    byte reaches them.
    """
    if path is None:
        return None
    said = [time.monotonic()]

    def stepped(done: int) -> None:
        now = time.monotonic()
        if now - said[0] >= _PROGRESS_EVERY_S:
            said[0] = now
            path.write_bytes(b"%d\n" % done)

    return stepped
