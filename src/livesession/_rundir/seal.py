"""Whether a run is sealed, read the one way every tool reads it: from the ends of its files.

``livesession status`` reads the seal here, and so do ``report`` and ``evidence``, so no
tool calls sealed a run that another says is not. The events' ``SESSION_STOPPED`` alone is
no seal (a second Ctrl-C leaves it in a run that is not sealed), and a seal the files do
not bear out (an audit log that lost its closing ``C2_DRYRUN_STOP`` beside a sealed
checkpoint) is a doubt to report, never a seal: ``verify`` says what is wrong, and the run
is kept as it is.

The audit's ``C2_DRYRUN_STOP`` is the seal of the evidence. The seal writes, in order,
``SESSION_STOPPED``, the final snapshot, ``metrics.json`` (counting the stop record ahead)
and ``C2_DRYRUN_STOP``, and only then the sealing checkpoint. A process that ended in
between (killed, or a full disk refused the checkpoint) leaves sealed, whole evidence
beside the checkpoint from before the seal (``Seal.unwritten``): sealed for every tool, and
``resume`` writes the missing checkpoint without touching the evidence (``_rundir.reseal``),
so the audit head an operator was given stays right. Before the stop record there is no
seal, and ``resume`` continues the run from its checkpoint.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._artifacts import names
from .._artifacts.lastline import LOST_NEWLINE, unterminated_record, zero_tail
from .._artifacts.releases import resume_advice
from .._artifacts.runfind import lost_files, lost_said
from .._artifacts.runread import (
    ends_unfit,
    last_whole_line,
    payload,
    read_json_object,
    read_records,
    require_run,
)
from .._domain.lifecycle import SessionState
from .._domain.reasons import LEASE_LOST
from .._exceptions import RunDirectoryError
from .._support.text import command
from .leaselost import lease_backend, reset_of, was_reset
from .sourcefiles import unfound_said
from .supplied import from_python, objects_given

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "TAKEN_OVER",
    "Seal",
    "claimed_seal",
    "describe_seal",
    "held_seal",
    "last_stop",
    "lease_lost_words",
    "lease_reset_words",
    "operator_settles",
    "sealing_checkpoint_unlike",
    "unwritten_says",
]


@attrs.frozen(kw_only=True)
class Seal:
    """The seal a run's files claim, and whether they bear it out."""

    fsm_state: object
    """The state it was sealed in (the sealing checkpoint's, else the last snapshot's)."""
    failed: bool
    """Sealed ``FAILED``."""
    doubt: str = ""
    """"" when the files bear the seal out; else ``the seal is not borne out: ...``."""
    unwritten: bool = False
    """The audit log holds the seal, but ``checkpoint.json`` is still the one from before
    it: the process ended before the seal wrote its checkpoint (``resume`` writes it)."""

    @property
    def whole(self) -> bool:
        """Whether the files bear the seal out: the run is sealed."""
        return not self.doubt


def claimed_seal(
    run_dir: Path,
    checkpoint: dict[str, Any] | None = None,
    snapshot: dict[str, Any] | None = None,
) -> Seal | None:
    """The seal ``run_dir``'s files claim (None: no seal), with what they lack for it.

    Claimed: the sealing checkpoint says so, or the audit log's last whole record is
    ``C2_DRYRUN_STOP`` (the run keeps no checkpoint, as the runbook's four files; or its
    process ended after the stop record and before the sealing checkpoint: ``unwritten``).
    Without either the run is not sealed, and ``resume`` continues it from its checkpoint.
    ``checkpoint`` and ``snapshot`` (the last whole state snapshot) are read here unless
    the caller has them. A run a process is writing now is the caller's to leave out
    (``holder_of``): its audit log ends with the stop record before its seal is done.
    """
    if checkpoint is None:
        checkpoint = read_json_object(run_dir / names.CHECKPOINT)
    if checkpoint.get("sealed") is True:
        state, failed = checkpoint.get("fsm_state"), bool(checkpoint.get("failed"))
        return Seal(fsm_state=state, failed=failed, doubt=_doubt(run_dir, checkpoint))
    stop = last_whole_line(run_dir / names.AUDIT)
    if stop is None or stop.get("code") != "C2_DRYRUN_STOP":
        return None
    if snapshot is None:
        snapshot = last_whole_line(run_dir / names.SNAPSHOTS)
    status = payload(stop).get("status")
    return Seal(
        fsm_state=(snapshot or {}).get("fsm_state"),
        failed=status == "FAILED",
        doubt=_doubt(run_dir, checkpoint, payload(stop).get("steps")),
        unwritten=bool(checkpoint),
    )


def held_seal(
    run_dir: Path,
    checkpoint: dict[str, Any] | None = None,
    snapshot: dict[str, Any] | None = None,
) -> Seal | None:
    """The seal of a run a process holds (``holder_of``): only once it is whole, else None.

    A writer's files move until its sealing checkpoint is written (its audit log ends with
    the stop record before its seal is done): it is live. Once that checkpoint is in and
    the files bear the seal out, the run's records are final, though its process still
    holds the run as its session closes (it hands the last alerts to the webhook, for at
    most ``[alerts]`` ``timeout_ms`` and a second): ``status``, ``verify``, ``report`` and
    ``prom`` read it as the sealed run it is. ``checkpoint`` and ``snapshot`` as for
    ``claimed_seal``.
    """
    if checkpoint is None:
        checkpoint = read_json_object(run_dir / names.CHECKPOINT)
    if checkpoint.get("sealed") is not True:
        return None
    seal = claimed_seal(run_dir, checkpoint, snapshot)
    return seal if seal is not None and seal.whole else None


def last_stop(run_dir: Path) -> dict[str, Any] | None:
    """The run's ``C2_DRYRUN_STOP`` record, if its audit log's last whole record is one.

    None too when the audit log cannot be read: a signal handler asks it (a sealed run's
    process ignores a second stop signal).
    """
    try:
        stop = last_whole_line(run_dir / names.AUDIT)
    except OSError:
        return None
    return stop if stop is not None and stop.get("code") == "C2_DRYRUN_STOP" else None


TAKEN_OVER: Final = (
    "another session took the lease over and owns the venue's open orders and positions: do "
    "not acknowledge this run nor close them by its book; check which session holds the "
    "lease now (the highest fence) and that it runs (RUNBOOK: One session per account and "
    "strategy: the lease)"
)
"""What a run that lost its lease (``LEASE_LOST``) leaves to do: not to close what the venue
holds, which is the new holder's (the CLI's last line, ``stop``'s, a sealed run's)."""


def lease_reset_words(backend: str) -> str:
    """``TAKEN_OVER`` for a run whose lease store was reset under it: no newer holder.

    ``backend`` as ``leaselost.lease_backend`` names it: the PostgreSQL lease table reset,
    the lease file deleted or replaced (``""``: either).
    """
    reset = reset_of(backend)
    return (
        f"{reset.what} under it ({reset.causes}), so another session may hold the lease and "
        "own the venue's open orders and positions: do not acknowledge this run nor close "
        f"them by its book; check which session holds the lease now ({reset.names}) and that "
        "it runs (RUNBOOK: One session per account and strategy: the lease)"
    )


def lease_lost_words(run_dir: Path) -> str:
    """What a run that lost its lease leaves to do, by how its ``C2_LEASE_LOST`` says it.

    ``lease_reset_words`` of the run's backend when the lease's store then held no newer
    token (``refused_by_fence`` null, or not above the run's ``fence``); ``TAKEN_OVER``
    otherwise.
    """
    lost: dict[str, Any] = {}
    with contextlib.suppress(OSError):
        for record in read_records(run_dir / names.AUDIT):
            if record.get("code") == "C2_LEASE_LOST":
                lost = payload(record)
    return lease_reset_words(lease_backend(run_dir)) if was_reset(lost) else TAKEN_OVER


def describe_seal(run_dir: Path, *, advise: bool = False) -> str:
    """What a run no process holds is, as its files' ends say: sealed (how), or unfinished.

    For ``livesession stop``, ``kill`` and ``ack``: the seal ``status`` reads, in one phrase.
    A path that holds no run (missing, a file, no ``events.jsonl``) is said so
    (``require_run``'s words): it said ``unfinished (no C2_DRYRUN_STOP): continue it with
    `livesession resume PATH``` to ``send_control`` of a path that does not exist.
    ``advise``: a run sealed in ``ERROR_REQUIRES_OPERATOR`` adds that no signal settles it
    and what does (an ``ack`` of it is exit 8, which alone reads as nothing to do).
    """
    seal = claimed_seal(run_dir)
    if seal is None:
        try:  # a path that holds no run is said so, as every command says it: none to resume
            require_run(run_dir, unstarted=True, judged=True)
        except RunDirectoryError as exc:
            return str(exc)
        return f"unfinished (no C2_DRYRUN_STOP): {_continued(run_dir)}"
    if seal.doubt:
        return f"{seal.doubt}: `{command('verify', run_dir)}` says more; keep the run as it is"
    said = payload(last_stop(run_dir) or {})
    reason = f" ({said['reason']})" if said.get("reason") else ""
    sealed = f"sealed {said.get('status', '?')}{reason} after {said.get('steps', '?')} steps"
    if advise and seal.fsm_state == SessionState.ERROR_REQUIRES_OPERATOR.value:
        sealed += f" {operator_settles(run_dir, 'no signal')}"
    return f"{sealed}; {unwritten_says(run_dir)}" if seal.unwritten else sealed


def _continued(run_dir: Path) -> str:
    """How an unfinished run is continued: ``livesession resume``, or ``resume_run``.

    ``resume_run`` from Python for a run started with objects, which the command line
    cannot rebuild (``ack`` of it said to continue it with ``livesession resume``).
    """
    objects = objects_given(read_json_object(run_dir / names.CONFIG))
    if objects:
        return from_python(run_dir, objects)
    return unfound_said(run_dir) or resume_advice(run_dir)  # a sweep's code, not searched


def operator_settles(run_dir: Path, nothing: str) -> str:
    """What a run sealed in ``ERROR_REQUIRES_OPERATOR`` is told: a person settles it.

    ``nothing`` is what does not: ``no signal`` (``stop``, ``kill``, ``ack``), ``no resume``.
    A run that lost its lease (``LEASE_LOST``) is not told to close what the venue holds:
    that is the session's that took the lease over (``TAKEN_OVER``).
    """
    if payload(last_stop(run_dir) or {}).get("reason") == LEASE_LOST:
        return f"in ERROR_REQUIRES_OPERATOR: {nothing} settles it; {lease_lost_words(run_dir)}"
    return (
        f"in ERROR_REQUIRES_OPERATOR: {nothing} settles it; check the venue's open orders "
        "and positions and close what is still there by hand "
        f"(`{command('status', run_dir)}` says what the book left; RUNBOOK: When a "
        "session is in ERROR_REQUIRES_OPERATOR)"
    )


def unwritten_says(run_dir: Path) -> str:
    """What a run whose sealing checkpoint was not written is told, with the way to write it."""
    return (
        "its sealing checkpoint was not written after the seal's audit record (the process "
        f"was killed, or the file system refused it): `{command('resume', run_dir)}` writes it "
        "(nothing else changes)"
    )


def _doubt(run_dir: Path, checkpoint: dict[str, Any], steps: object = None) -> str:
    """What the files lack for the seal that is claimed ("" when they bear it out).

    Read from the ends of the files only (a supervisor polls ``status``): every contract
    file, whole, events ending with ``SESSION_STOPPED`` and audit with ``C2_DRYRUN_STOP``;
    and, in a run livesession made, the small files it keeps beside them (``_kept_unfit``).
    ``checkpoint`` is the one read (``{}``: missing or no JSON object), ``steps`` the steps
    the stop record counts.
    """
    if lost := lost_files(run_dir):  # said as every tool says it, and nothing after it
        return f"the seal is not borne out: {lost_said(lost, run_dir)}"
    unsealing: list[str] = []  # the last whole record of events or audit is not the seal's
    last = last_whole_line(run_dir / names.EVENTS) or {}
    if last.get("event_type") != "SESSION_STOPPED" and (run_dir / names.EVENTS).is_file():
        found = last.get("event_type")
        ends = f"its last event is {found}" if found else "no JSON line at its end"
        unsealing.append(
            _unterminated(run_dir, names.EVENTS, "event_type", "SESSION_STOPPED")
            or f"{names.EVENTS} does not end with SESSION_STOPPED ({ends})"
        )
    stop = last_whole_line(run_dir / names.AUDIT) or {}
    if stop.get("code") != "C2_DRYRUN_STOP" and (run_dir / names.AUDIT).is_file():
        unsealing.append(
            _unterminated(run_dir, names.AUDIT, "code", "C2_DRYRUN_STOP")
            or f"{names.AUDIT} does not end with C2_DRYRUN_STOP"
        )
    # Whose last whole record is the seal's, the file must end there: nothing is written
    # after the seal, so a torn or foreign line after it (which ``last_whole_line`` skips)
    # is another hand's; said once, as the end of the file.
    ending = [name for name in (names.EVENTS, names.AUDIT) if not _said(name, unsealing)]
    lacks = [*ends_unfit(run_dir, (names.SNAPSHOTS, *ending)), *unsealing]
    lacks += _no_final_snapshot(run_dir, lacks)
    lacks += _kept_unfit(run_dir, checkpoint, steps)
    if unlike := sealing_checkpoint_unlike(run_dir, checkpoint):
        lacks.append(f"{names.CHECKPOINT} is damaged: {', '.join(unlike)}")
    if not lacks:
        return ""
    if not (run_dir / names.RUN_META).is_file() and not lacks[-1].startswith(names.RUN_META):
        lacks.insert(0, f"no {names.RUN_META}")
    return f"the seal is not borne out: {'; '.join(lacks)}"


def _unterminated(run_dir: Path, name: str, key: str, seal: str) -> str:
    r"""``name`` ends with the seal's record ``seal`` but for its ``\n`` ("" when not so).

    Or it ends in zero bytes, as a copy cut short and zero-filled leaves it.
    """
    zeros = zero_tail(run_dir / name)
    if zeros:
        return f"{name} ends in {zeros:,} zero bytes (a torn copy, cut short and zero-filled)"
    if (unterminated_record(run_dir / name) or {}).get(key) != seal:
        return ""
    return f"{name} ends with {seal}, but without the \\n after it ({LOST_NEWLINE})"


def _no_final_snapshot(run_dir: Path, lacks: list[str]) -> list[str]:
    """What ``state_snapshots.jsonl`` lacks for a seal: the final snapshot the seal writes.

    An emptied file (or one whose last snapshot is not the final one) read ``completed``
    (exit 0) to ``status``, while ``verify`` found the run broken.
    """
    path = run_dir / names.SNAPSHOTS
    if not path.is_file() or _said(names.SNAPSHOTS, lacks):
        return []  # missing, or its end unfit: said already
    last = last_whole_line(path)
    if last is None:
        return [f"{names.SNAPSHOTS} holds no snapshot"]
    trigger = last.get("trigger")
    if trigger == "final":
        return []
    return [f"{names.SNAPSHOTS} does not end with the final snapshot (its last is {trigger!r})"]


def _said(name: str, lacks: list[str]) -> bool:
    """Whether one of ``lacks`` is said of the file ``name`` already."""
    return any(said.startswith(name) for said in lacks)


def _kept_unfit(run_dir: Path, checkpoint: dict[str, Any], steps: object) -> list[str]:
    """What a run livesession made lacks of the files it keeps beside the four artifacts.

    ``run.json`` and ``config.json`` are written before any record, ``checkpoint.json`` as
    the session activates (a run preflight rejected may keep none). A sealed run that lost
    one, or holds one cut or emptied, read ``completed`` (exit 0) to ``status`` while
    ``verify`` found it broken. The runbook's four files (none of the three) keep none.
    """
    kept = (names.RUN_META, names.CONFIG, names.CHECKPOINT)
    if not any((run_dir / name).exists() for name in kept):
        return []
    lacks = [
        f"{name} is {'not a JSON object' if (run_dir / name).exists() else 'missing'}"
        for name in (names.CONFIG, names.RUN_META)
        if not read_json_object(run_dir / name)
    ]
    if checkpoint:
        return lacks
    if (run_dir / names.CHECKPOINT).exists():
        return [f"{names.CHECKPOINT} is not a JSON object", *lacks]
    if isinstance(steps, int) and steps > 0:
        return [f"{names.CHECKPOINT} is missing, but the run recorded {steps} steps", *lacks]
    return lacks


_TRADING: Final = ("ACTIVE", "REDUCING", "HALTED")


def sealing_checkpoint_unlike(run_dir: Path, checkpoint: dict[str, Any] | None = None) -> list[str]:
    """What a sealing ``checkpoint.json`` says that the seal's own records do not ([]: none).

    ``status`` reads a sealed run's steps, reason, trading state and book from it, but the
    audit chain does not hold it: a checkpoint edited or garbled in place (``"steps":
    1900``, ``"fsm_state": "STOPPEX"``) read ``completed`` (exit 0), and verified clean.
    The seal writes the final snapshot, the audit's ``C2_DRYRUN_STOP`` and ``SESSION_STOPPED``
    of the same session just before it: each value is held to theirs, read from the files'
    ends. Only a checkpoint that says it is sealed is held so (``[]`` for any other), and
    only where both sides have the key (a run of another release may lack one), except
    its ``book``: every release's sealing checkpoint has one, so a missing one is damage.
    ``checkpoint`` is read here unless the caller has it.
    """
    if checkpoint is None:
        checkpoint = read_json_object(run_dir / names.CHECKPOINT)
    if checkpoint.get("sealed") is not True:
        return []
    final = last_whole_line(run_dir / names.SNAPSHOTS) or {}
    stop = last_whole_line(run_dir / names.AUDIT) or {}
    stopped = last_whole_line(run_dir / names.EVENTS) or {}
    # Only the seal's own records are held to: a file whose seal is not its last whole line
    # (its final \n lost, its tail cut) is said of that file, not of the checkpoint.
    final = final if final.get("trigger") == "final" else {}
    stop = payload(stop) if stop.get("code") == "C2_DRYRUN_STOP" else {}
    stopped = payload(stopped) if stopped.get("event_type") == "SESSION_STOPPED" else {}
    theirs = {  # each key's first record that says otherwise
        key: (value, where)
        for key, value, where in reversed(
            (
                ("steps", stop.get("steps"), f"{names.AUDIT}'s C2_DRYRUN_STOP"),
                ("steps", final.get("step"), f"{names.SNAPSHOTS}' final snapshot"),
                ("fsm_state", final.get("fsm_state"), f"{names.SNAPSHOTS}' final snapshot"),
                ("reason", stopped.get("reason"), f"{names.EVENTS}' SESSION_STOPPED"),
            )
        )
        if key in checkpoint and value is not None and checkpoint[key] != value
    }
    unlike = [
        f"its {key} {checkpoint[key]!r}, but {where} says {value!r}"
        for key, (value, where) in theirs.items()
    ]
    status = stop.get("status")
    if isinstance(status, str) and bool(checkpoint.get("failed")) != (status == "FAILED"):
        unlike.append(f"its failed {checkpoint.get('failed')!r}, but the seal says {status}")
    if "trading" in checkpoint and checkpoint["trading"] not in _TRADING:
        unlike.append(f"its trading {checkpoint['trading']!r} is no trading state")
    return unlike + _book_unlike(checkpoint.get("book"), final)


def _book_unlike(book: object, final: dict[str, Any]) -> list[str]:
    """Where the sealing checkpoint's book is not the final snapshot's positions and orders."""
    if not final:
        return []
    if not isinstance(book, dict):
        return [f"its book {book!r} is no book"]
    held, at_end = book.get("positions"), final.get("positions")
    unlike = []
    if isinstance(at_end, dict) and not _same_positions(held, at_end):
        unlike.append(f"its positions {held!r}, but the final snapshot's are {at_end!r}")
    open_ids = sorted(
        str((item.get("order") or {}).get("client_order_id"))
        for item in book.get("open") or []
        if isinstance(item, dict)
    )
    ended = final.get("open_orders")
    ended_ids = sorted(_order_id(order) for order in ended) if isinstance(ended, list) else None
    if ended_ids is not None and open_ids != ended_ids:
        unlike.append(f"its open orders {open_ids!r}, but the final snapshot's are {ended_ids!r}")
    return unlike


def _order_id(order: object) -> str:
    """A snapshot's open order's client order id (an object's, or the id alone)."""
    return str(order.get("client_order_id") if isinstance(order, dict) else order)


def _same_positions(held: object, ended: dict[str, Any]) -> bool:
    """One position each symbol (``0.000`` and a missing one are both flat)."""
    if not isinstance(held, dict):
        return False
    try:
        return all(
            Decimal(str(held.get(s, "0"))) == Decimal(str(ended.get(s, "0")))
            for s in {*held, *ended}
        )
    except (InvalidOperation, ValueError):
        return False
