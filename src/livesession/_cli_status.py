"""The text ``livesession status`` prints of a run: one ``label  value`` line each.

``RunStatus.lines`` (``status``) is the way in; what it says is read there.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ._artifacts import names
from ._rundir.alertlog import delivered_words
from ._rundir.halts import faulted_in_wind_down_in, wind_down_next, wind_down_words
from ._rundir.holderproc import embedding_program, pending_said
from ._rundir.loading import loading_next, loading_says
from ._rundir.nextwords import bundle_next
from ._rundir.refused import unsealed_because
from ._rundir.starting import start_again
from ._rundir.statusnext import credentials_said, lease_wait, next_advice, webhook_said
from ._rundir.statuswords import (
    describe_lease,
    describe_orders,
    describe_positions,
    describe_trading,
)
from ._rundir.supplied import from_python, resume_call
from ._support.text import age_words, command, path_text
from ._verdict import Verdict

if TYPE_CHECKING:
    from collections.abc import Mapping

    from ._rundir.refused import StoreRefusal
    from .status import RunStatus

__all__ = ["next_step", "resumable_from", "status_lines", "writer_cell"]


_NEXT: Final = {
    Verdict.COMPLETED: "verify before handing it over: `{verify}`, then `{evidence}` (status "
    "reads only the ends of the files)",
    Verdict.NOT_A_RUN: "check the path: a run directory holds run.json, or events and audit",
    Verdict.REJECTED: "fix what the reason names and start a new run (this one stays as evidence)",
    Verdict.FAILED: "read audit.jsonl for C2_OPERATOR_REQUIRED and its reason; run verify",
    Verdict.NEEDS_OPERATOR: "a person must look (RUNBOOK: When a session is in "
    "ERROR_REQUIRES_OPERATOR): check the venue's open orders and positions",
    Verdict.CRASHED: "continue it: {resume}",
    Verdict.RUNNING: "nothing: a writer holds it (one writer per run); poll again later",
}
_COMPLETED: Final = _NEXT[Verdict.COMPLETED]
_UNSTARTED: Final = {  # a run killed while it started: after run.json, or before it
    Verdict.CRASHED: "start it over: {resume} (it recorded nothing, and sent nothing)",
    Verdict.NOT_A_RUN: "start it again with its own config: {dryrun} takes the directory over",
}


def status_lines(found: RunStatus) -> list[str]:
    """What ``livesession status`` prints of ``found``: one ``label  value`` line each."""
    rows = [("run", f"{found.run_id or '?'} ({path_text(found.run_dir)})")]
    rows.append(("verdict", f"{found.verdict.label} (exit {found.exit_code})"))
    if found.verdict is Verdict.NOT_A_RUN or found.unread:  # no state, no position known
        rows.append(("problem", found.problem))
        return _aligned([*rows, *([("next", found.next_step())] if found.unread else [])])
    if found.problem:
        rows.append(("problem", found.problem))
    unstarted = found.killed_while_starting or found.starting
    state = f"none: {unstarted}" if unstarted else f"{found.state or '?'} ({found.status or '?'})"
    rows.append(("state", state))
    rows += _why(found)
    if found.unwritten_checkpoint:
        rows.append(("checkpoint", found.unwritten_checkpoint))
    if found.store_refused:
        rows.append(("stopped by", found.store_refused))
    if found.trading is not None:
        rows.append(("trading", _trading(found, found.trading)))
    rows += [("steps", _steps(found)), *([("resumed", found.resumed)] if found.resumed else [])]
    rows += [("set aside", found.set_aside)] if found.set_aside else []
    if found.heartbeat_utc is not None and found.heartbeat_age_s is not None:
        every = found.checkpoint_every
        cadence = "" if every is None else f"; every {every} steps"
        written = f"({age_words(found.heartbeat_age_s)}, checkpoint.json written{cadence})"
        rows.append(("heartbeat", f"{found.heartbeat_utc} {written}"))
    rows += _writer(found)
    if found.resuming is not None:  # crashed, and a resume loads it
        rows.append(("resuming", loading_says(found.resuming)))
    unsealed = found.verdict in {Verdict.CRASHED, Verdict.NEEDS_OPERATOR}
    # Not for a doubtful seal (see "problem"), nor a run that may be live (``unlocked``).
    if unsealed and not (found.writer or found.problem or found.unlocked):
        rows.append(("resumable", _resumable(found)))
    rows.append(("lease", describe_lease(found.lease)))
    held = describe_positions(found.positions, found.positions_as_of)
    if found.position_in_doubt:  # the venue reported a fill the book did not take
        held = f"{held} in the book; in doubt: {found.position_in_doubt} (not booked)"
    rows.append(("position", held))
    orders = (found.open_orders, found.open_orders_as_of, found.open_orders_after_checkpoint)
    rows.append(("open orders", describe_orders(*orders)))
    rows += alerts_rows(found)
    rows.append(("next", found.next_step()))
    return _aligned(rows)


def alerts_rows(found: RunStatus) -> list[tuple[str, str]]:
    """The ``alerts`` line of a run with ``alerts.jsonl``: a page that never went out."""
    counts = found.alerts
    if counts is None:
        return []
    errors = path_text(str(Path(found.run_dir) / names.ALERTS))
    return [("alerts", delivered_words(counts, errors_in=errors))]


def _writer(found: RunStatus) -> list[tuple[str, str]]:
    """The writer line, and what a writer of a sealed run still does (``closing``)."""
    writer = found.writer
    if writer is None:
        return [("writer", "none")]
    stopped = f"; {writer['stopped']}" if writer.get("stopped") else ""
    if held := pending_said(writer.get("pending") or []):  # ``stop`` of it: "stays pending"
        stopped += f"; {held}"
    said = f"pid {writer['pid']} on {writer['host']} since {writer['since']} ({writer['command']})"
    if user := writer.get("runs_as"):  # another user's: this one's stop, kill, ack are refused
        said += f"; runs as {user}: stop, kill and ack only as {user} (or root)"
    if unseen := writer.get("unseen"):  # another container's: they cannot reach it from here
        said += (
            f"; {unseen}: the writer runs in another PID namespace (another container) or on "
            "another machine of that name: stop, kill and ack only from there"
        )
    return [
        ("writer", f"{said}{stopped}"),
        *([("closing", found.closing)] if found.closing else []),
    ]


def writer_cell(found: RunStatus) -> str:
    """``list``'s ``WRITER``: ``pid N``, ``-`` for none, as the ``writer`` line names it.

    With what ``status`` says of it apart: ``pid N, stop pending`` for a stop it took and
    acts on at its next step boundary (the ``stop`` line, ``stop_pending``), ``pid N,
    stopped`` for a process stopped (``kill -STOP``, Ctrl-Z: the ``writer`` line's ``is
    stopped``). Read as ``status`` reads them: no lock taken, no signal sent.
    """
    writer = found.writer
    if writer is None:
        return "-"
    pending = ", stop pending" if found.stop_pending else ""
    stopped = ", stopped" if writer.get("stopped") else ""
    return f"pid {writer['pid']}{pending}{stopped}"


def _trading(found: RunStatus, trading: str) -> str:
    """The trading line: a run that goes on (held and unsealed, or crashed) may be acked.

    A crashed run started with objects is continued from Python alone, and re-enabled there.
    """
    crashed = found.verdict is Verdict.CRASHED
    unsealed = (found.writer is not None and not found.sealed) or crashed
    writer = found.writer or {}
    objects = found.objects if crashed and found.writer is None else {}
    return describe_trading(
        trading,
        run_dir=found.run_dir,
        live=unsealed,
        state=found.state,
        killed=found.kill_halted,
        halted_by=found.halted_by,
        as_of=found.trading_as_of,
        sealed=found.sealed,
        as_user=writer.get("runs_as", ""),
        program=embedding_program(str(writer.get("command") or "")),
        from_python=resume_call(found.run_dir, objects) if objects else "",
    )


def _why(found: RunStatus) -> list[tuple[str, str]]:
    """The seal's reason, or the one its caller gave the stop of a run sealed with none.

    For a live run, a stop its writer took inside a step, which nothing on disk says yet.
    """
    pending = [("stop", f"pending: {found.stop_pending}")] if found.stop_pending else []
    if found.reason:
        return [("reason", found.reason), *pending]
    return [("stopped", f"as asked: {found.stop_asked!r}")] if found.stop_asked else pending


def _steps(found: RunStatus) -> str:
    """The steps line. A run whose config keeps checkpoints says so before its first.

    Only a run without a config (the runbook's four files) keeps none.
    """
    planned = f" of {found.steps_planned}" if found.steps_planned is not None else ""
    if found.starting:
        return "none yet"
    if found.killed_while_starting:  # resume starts it over, unless "resumable" says no
        over = f"; `{command('resume', found.run_dir)}` starts it over"
        return f"none{planned}: it recorded nothing{over if found.resumable else ''}"
    steps = "none yet" if found.steps is None else str(found.steps)
    if found.unwritten_checkpoint:
        return f"{steps}{planned} at the seal (its audit log's C2_DRYRUN_STOP)"
    if found.heartbeat_utc:
        return f"{steps}{planned} at the last checkpoint"
    if found.checkpoint_every is not None:
        return (
            f"{steps}{planned} at the last snapshot (no checkpoint yet: one every "
            f"{found.checkpoint_every} steps)"
        )
    return f"{steps}{planned} at the last snapshot (the run keeps no checkpoint)"


def _resumable(found: RunStatus) -> str:
    """``yes``, with the damage past the checkpoint a crash does not explain; or why not."""
    if not found.resumable:
        return f"no: {found.resume_problem or 'the run is sealed'}"
    yes = "yes"
    if found.objects:  # `livesession resume` refuses it: it cannot rebuild the objects
        yes = f"yes, from Python: {resume_call(found.run_dir, found.objects)}"
    if not found.damaged_tail:
        return yes
    return (
        f"{yes}; past its checkpoint, {found.damaged_tail}: more than a crash leaves (a torn "
        "last line), which resume sets aside with the rest of the tail "
        f"({found.damaged_tail.split(':', 1)[0]}.torn)"
    )


def next_step(
    found: RunStatus, *, store: StoreRefusal | None, kept: Mapping[str, Any] | None = None
) -> str:
    """What a person or supervisor does next of ``found``, in one line (``RunStatus.next_step``).

    ``store``: what its ``store_refused`` was read from (None: read then); ``kept``: the
    checkpoint's ``config`` as ``status`` read it (None: read then).

    A run whose sealing checkpoint was not written is told first how to write it.
    """
    if found.resuming is not None:  # crashed, and a resume loads it: wait, or let it run
        return loading_next(found.resuming, found.run_dir)
    then = f"a person must look: {found.unlocked}" if found.unlocked else _next(found, store, kept)
    if found.verdict is Verdict.CRASHED and not found.unlocked:
        then += credentials_said(found.credentials) + webhook_said(found.alerts_env)
    writer = found.writer or {}
    running = found.writer is not None and not writer.get("stopped")
    if found.stop_pending and running and found.verdict is Verdict.RUNNING:
        pid = writer["pid"]  # the second stop signal ends it unsealed, as a crash
        then = (
            "nothing: it stops at its next step boundary and seals the run; poll again later "
            f"(`kill -TERM {pid}` ends it at once, resumable from its last checkpoint)"
        )
    if found.closing and running:
        pid = writer["pid"]  # evidence refuses it till then (it hashes alerts.jsonl)
        then = f"wait until pid {pid} lets the run go (writer none), then {then}"
    if not found.unwritten_checkpoint:
        return then
    return f"`{command('resume', found.run_dir)}` writes its sealing checkpoint; {then}"


def _not_resumable(store_refused: str, problem: str) -> str:
    """What a person looks at in a run no resume can continue: what stopped it, and why.

    A full disk's refused write (``store_refused``) is said as such, not as a crash.
    """
    if store_refused:
        stopped = unsealed_because(store_refused)
        return f"a person must look: {stopped}, and it cannot be resumed ({problem})"
    return f"a person must look: the run crashed and cannot be resumed ({problem})"


def _next(found: RunStatus, store: StoreRefusal | None, kept: Mapping[str, Any] | None) -> str:
    if found.writer is not None and found.writer.get("stopped"):
        return (
            "a person must let the writer run again (see writer): stopped, it steps no "
            "further and acts on no `livesession stop`, `kill` or `ack`"
        )
    if found.problem and found.verdict is Verdict.NEEDS_OPERATOR:
        return (
            f"a person must look: `{command('verify', found.run_dir)}` says what is wrong; "
            "keep the run as it is"
        )
    if found.verdict is Verdict.NEEDS_OPERATOR and found.resume_problem and not found.writer:
        return _not_resumable(found.store_refused, found.resume_problem)
    if found.verdict is Verdict.CRASHED and found.objects:
        return from_python(found.run_dir, found.objects)
    lease = found.lease
    if found.verdict is Verdict.CRASHED and lease is not None and lease["held"] is not False:
        return lease_wait(lease, found.run_id, found.run_dir)
    unstarted = found.killed_while_starting and found.verdict in _UNSTARTED
    said = _UNSTARTED[found.verdict] if unstarted else _NEXT[found.verdict]
    at = ""
    if found.verdict is Verdict.NEEDS_OPERATOR:  # faulted in its wind-down: how far
        at = faulted_in_wind_down_in(Path(found.run_dir), found.reason)
        said = wind_down_next(found.reason, at) or said
    if found.verdict is Verdict.CRASHED and found.damaged_tail:
        said = f"keep a copy of the run and report the damage past its checkpoint, then {said}"
    words = wind_down_words(found.reason, at) if at else ""
    bundle = bundle_next(Path(found.run_dir), found.run_id) if said is _COMPLETED else None
    if bundle:  # said whole: its paths' braces are no fields of the format below
        said = bundle.replace("{", "{{").replace("}", "}}")
    said = next_advice(
        found.verdict.name,
        found.reason,
        said,
        found.steps_planned,
        found.run_dir,
        wind_down=words,
        store=store,
        kept=kept,
    )
    return said.format_map(
        {verb: command(verb, found.run_dir) for verb in ("verify", "evidence", "resume")}
        | {"dryrun": start_again(Path(found.run_dir))}
    )


def resumable_from(found: RunStatus) -> str | None:
    """``--json``'s ``resumable_from``: how a resumable run is resumed; None for any other.

    ``python`` for a run started with objects (``objects``), which only ``resume_run``
    given them again continues (``livesession resume`` refuses it); else ``command line``.
    """
    if not found.resumable:
        return None
    return "python" if found.objects else "command line"


def _aligned(rows: list[tuple[str, str]]) -> list[str]:
    return [f"{label:<12}{value}" for label, value in rows]
