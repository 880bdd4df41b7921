"""What a run's files say of the effect of ``stop``, ``kill`` or ``ack`` once sent.

``control.send_control`` signals the run's holder, then asks one of these, poll after poll,
until it answers: ``stopped_effect``, ``killed_effect`` and ``acked_effect`` read the run's
events, checkpoint and seal, and say what the action did (a ``ControlOutcome``), or None
while it has not shown yet. An action the holder recorded but no checkpoint holds is not
confirmed: a crash then would undo it, and the line says so (``lost_effect``).
"""

from __future__ import annotations

import signal
from pathlib import Path
from typing import TYPE_CHECKING, Final

import attrs

from ._artifacts import names
from ._artifacts.releases import resume_advice
from ._cli_summary import left_at_venue
from ._rundir.livecut import checkpointed_stop
from ._rundir.lock import holder_of
from ._rundir.onestop import sealed_but_held
from ._rundir.refused import refused_first
from ._rundir.seal import describe_seal, last_stop
from ._rundir.starting import killed_before_writing, no_run_yet
from ._support.text import command, path_text

if TYPE_CHECKING:
    from os import PathLike

    from ._rundir.lock import Holder
    from ._rundir.watch import RunWatch

__all__ = [
    "ACK_SIGNAL",
    "KILL_SIGNAL",
    "OPERATOR_CONTROL",
    "ControlOutcome",
    "acked_effect",
    "describe_run",
    "holder_ended",
    "killed_effect",
    "lost_effect",
    "reason_of",
    "stopped_effect",
]

KILL_SIGNAL: Final = signal.SIGUSR1
ACK_SIGNAL: Final = signal.SIGUSR2
OPERATOR_CONTROL: Final = "operator_control"
"""The session log's event of an operator's control as the holder took it."""
_ENDS: Final = " finishes the stop (winds down and seals; it trades no more)"


def reason_of(signum: int) -> str:
    """``SIGNAL_SIGTERM``: how a signal is named as a reason or an operator."""
    return f"SIGNAL_{signal.Signals(signum).name}"


@attrs.frozen
class ControlOutcome:
    """What an operator command found or did: one line to print, and what kind of result."""

    kind: str
    """``done``, ``nothing`` (nothing to do), ``not_held``, ``refused``, ``failed`` or
    ``timeout``."""
    line: str


def describe_run(run_dir: str | PathLike[str]) -> str:
    """What a run's files say about it when no process holds it (sealed, or unfinished)."""
    return describe_seal(Path(run_dir))


def holder_ended(watch: RunWatch, holder: Holder) -> bool:
    return (now := holder_of(watch.run_dir)) is None or now.pid != holder.pid


def stopped_effect(watch: RunWatch, holder: Holder, who: str) -> ControlOutcome | None:
    if not holder_ended(watch, holder):
        watch.waiting = sealed_but_held(watch.run_dir)
        return None
    run_dir, stop = watch.run_dir, last_stop(watch.run_dir)
    if not run_dir.exists() or no_run_yet(run_dir):  # stopped while it started
        return _stopped_starting(run_dir, who)
    if stop is None:
        # Nothing holds the run now and it is unfinished: 8, as for any such run, never 4
        # (sealed FAILED: nothing to resume), which would keep a supervisor from resuming it.
        seen = checkpointed_stop(run_dir, watch.since(names.EVENTS))
        if seen is not None and not seen[1]:  # the crash took the stop: it trades on
            return lost_effect(watch, who, f"the stop ({seen[0]})", "stop")
        then = resume_advice(run_dir)
        if seen is not None:
            then = f"a checkpoint holds the stop ({seen[0]}): `{command('resume', run_dir)}`{_ENDS}"
        then = refused_first(run_dir, then)  # a file refused: what must be so first
        return ControlOutcome(
            "not_held", f"{who} ended without sealing {path_text(run_dir)}: {then}"
        )
    state = describe_run(watch.run_dir)
    payload = stop.get("payload", {})
    if isinstance(payload, dict) and payload.get("status") == "COMPLETED":
        return ControlOutcome(
            "done", f"stopped: {who} wound down and {state}: {path_text(watch.run_dir)}"
        )
    return ControlOutcome("failed", f"stopped: {who} {state}; {left_at_venue(watch.run_dir)}")


def _stopped_starting(run_dir: Path, who: str) -> ControlOutcome:
    """A writer stopped before it wrote its run: it removes its directory on the way out."""
    left = killed_before_writing(run_dir)
    if left:  # it died there some other way, leaving its lock file
        return ControlOutcome("not_held", f"{who} ended: {path_text(run_dir)} is {left}")
    return ControlOutcome(
        "done",
        f"stopped: {who} ended while it started (before it wrote the run): it recorded "
        f"nothing and sent nothing, and removed {path_text(run_dir)}",
    )


def killed_effect(watch: RunWatch, holder: Holder, who: str) -> ControlOutcome | None:
    # Ended or not, asked first: the files read after it are the holder's last. Asked after
    # them, a holder that checkpointed its action and ended in between was said to lose it.
    ended = holder_ended(watch, holder)
    tripped = watch.events("KILL_SWITCH")
    if tripped:
        flat = watch.events("KILL_SWITCH_FLAT")
        payload = tripped[0].get("payload", {})
        opened = payload.get("open_orders", "?") if isinstance(payload, dict) else "?"
        # As many cancelled as the venue confirmed: an order may fill before its cancel lands.
        orders = f"{opened} open order(s) at the kill, {len(watch.events('ORDER_CANCELED'))}"
        kept = watch.checkpointed("KILL_SWITCH")
        if not (flat and kept) and not ended:
            # Wait (bounded by the caller's timeout) for flat, and for the checkpoint that
            # holds the kill: confirmed before it, a crash would resume trading.
            watch.waiting = _unkept("the kill switch tripped", kept=kept, flat=bool(flat))
            return None
        if not kept:
            return lost_effect(watch, who, "the kill switch (KILL_SWITCH)", "kill")
        if not flat:  # it ended before the venue confirmed every cancel: sealed, or a crash
            said = f"kill switch tripped in {who}: trading HALTED, {orders} cancelled, not flat"
            said = f"{said} when it ended"
            if last_stop(watch.run_dir) is None:  # unfinished: resumed HALTED, it flattens
                held = "a checkpoint holds the kill, so it resumes HALTED and flattens: resume it"
                advice = resume_advice(watch.run_dir, verb=held)
                return ControlOutcome("not_held", f"{said}, unsealed: {advice}")
            return ControlOutcome(
                "timeout", f"{said}: check the venue's own open orders and positions"
            )
        then = f"`{command('ack', watch.run_dir)}` re-enables trading"
        if ended and last_stop(watch.run_dir) is not None:  # sealed: nothing to re-enable
            then = f"then {who} ended: {describe_run(watch.run_dir)}"
        return ControlOutcome(
            "done",
            f"kill switch tripped in {who}: trading HALTED, {orders} cancelled, "
            f"{_flattened(watch)}flat (KILL_SWITCH_FLAT); {then}",
        )
    kill = "the kill switch (KILL_SWITCH)"
    return _answered(watch, who, reason_of(KILL_SIGNAL), ended=ended, what=kill, action="kill")


def acked_effect(watch: RunWatch, holder: Holder, who: str) -> ControlOutcome | None:
    ended = holder_ended(watch, holder)  # asked first, as for a kill
    for event, done in (
        ("TRADING_REENABLED", f"trading re-enabled (ACTIVE) by {who}"),
        ("OPERATOR_ACK", f"acknowledged by {who}: it winds down and stops"),
    ):
        if not watch.events(event):
            continue
        if watch.checkpointed(event):
            return ControlOutcome("done", done)
        if ended:
            return lost_effect(watch, who, f"the acknowledgement ({event})", "ack")
        watch.waiting = _unkept(f"{event} was recorded", kept=False, flat=True)
        return None  # until a checkpoint holds it: a crash before would undo it
    ack = "the acknowledgement"
    return _answered(watch, who, reason_of(ACK_SIGNAL), ended=ended, what=ack, action="ack")


def _flattened(watch: RunWatch) -> str:
    """``flattened SELL 0.010 BTC/USDT, `` for what the kill's flatten sold or bought, else "".

    Without it, a kill that closed a position read ``0 cancelled, flat``, as of a book that
    held nothing (the dry run's own line says ``the session flattened SELL ...``).
    """
    sent = [event.get("payload") for event in watch.events("ORDER_SUBMITTED")]
    closed = [
        f"{order['side']} {order['quantity']} {order['symbol']}"
        for order in sent
        if isinstance(order, dict) and order.get("reason") == "flatten"
    ]
    return f"flattened {', '.join(closed)}, " if closed else ""


def _unkept(seen: str, *, kept: bool, flat: bool) -> str:
    """What an effect seen in the events still lacks before it is confirmed."""
    lacks = [] if flat else ["not flat yet"]
    if not kept:
        lacks.append("no checkpoint holds it yet (a crash now would undo it)")
    return f"{seen}, but {' and '.join(lacks)}"


def lost_effect(watch: RunWatch, who: str, what: str, action: str) -> ControlOutcome:
    """The holder ended before a checkpoint held ``what``: a resume goes on without it."""
    run_dir = watch.run_dir
    return ControlOutcome(
        "not_held",
        f"{who} ended before a checkpoint held {what}, so the run resumes without it: "
        + refused_first(
            run_dir, f"`{command('resume', run_dir)}`, then `{command(action, run_dir)}` again"
        ),
    )


def _answered(
    watch: RunWatch, who: str, sig: str, *, ended: bool, what: str, action: str
) -> ControlOutcome | None:
    """The holder's own answer to ``sig`` in its session log, or, once it ended, the end.

    A holder that ended leaving the run unfinished, its action nowhere in the events, ended
    before a checkpoint held ``what``, as surely as one whose crash took the checkpoint:
    the resume goes on without it (``lost_effect``). ``ended first: unfinished ...:
    continue it`` said nothing of the kill the resumed run no longer had.
    """
    answer = watch.answer(OPERATOR_CONTROL, sig)
    if answer is not None and answer != "done":
        kind = "nothing" if answer.startswith("nothing") else "refused"
        return ControlOutcome(kind, f"{who}: {answer}")
    if not ended:
        return None
    run_dir = watch.run_dir
    if run_dir.exists() and not no_run_yet(run_dir) and last_stop(run_dir) is None:
        return lost_effect(watch, who, what, action)
    return ControlOutcome("not_held", f"{who} ended first: {describe_run(run_dir)}")
