"""Which file of an unsealed run the system refused, as its ``metrics.json`` says, for ``status``.

A sink that dies (a full disk, a file size limit) leaves its run unsealed, and the process
says so in its one line: ``the states sink failed writing DIR/state_snapshots.jsonl
(OSError: [Errno 28] No space left on device): the run is not sealed; once the file
system has room again, ...``. Its ``metrics.json`` keeps that (``<sink>_sink_failed_at``,
``<sink>_sink_error``), so ``status`` says it too, rather than a bare ``continue it``: a
supervisor or an operator who never saw that line learns which file, and what must be so
before a resume, which would otherwise meet the same refusal. Only while the claim is the
run's last word: a resume since (its ``C2_RESUME``) adds audit records past the
``audit_events`` the claim was written with, and is not said to have failed so.

A full disk mostly refuses ``metrics.json`` too (rewritten whole, beside itself), which then
stays as the last checkpoint wrote it, before the failure. The audit log's newest
``C2_SINK_WRITE_FAILED`` record, past that ``metrics.json`` and with no ``C2_RESUME`` after
it, says which sink died, and the session log's ``sink_failed`` line of that sink (outside
the contract, read when it is there) where and why: also where no ``metrics.json`` was
written yet. An audit log that holds no record (its first refused) leaves the session log's
``sink_failed`` line of the audit sink alone to say it.

A run whose idempotency store (or simulated venue's journal) refused a write mid-run is
torn (``StoreFailure``), as is one whose checkpoint could not be written (``CheckpointError``:
a full disk at ``checkpoint.json``): nothing is sealed, and no run artifact records why (the
byte contract holds no such record). Its session log (``session.log.jsonl``, outside the
contract) ends with the torn session's ``session_interrupted`` record, which names the
store and its error: ``store_refused_says`` reads it from there, for ``status``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final, Protocol

import attrs

from .._artifacts import names
from .._artifacts.runread import events_back, json_object, last_whole_line, read_json_object
from .._support.fsutil import refuse_special
from .._support.oserrors import errno_in, once_fixed
from .._support.text import one_line

__all__ = [
    "StoreRefusal",
    "after_refused",
    "refusal_of",
    "refused_first",
    "refused_stop",
    "refused_write",
    "store_refusal",
    "store_refused_says",
    "unsealed_because",
    "unsealed_by",
]

_FILES: Final = {"audit": names.AUDIT, "events": names.EVENTS, "states": names.SNAPSHOTS}
_ERRNO: Final = re.compile(r"\[Errno (\d+)\]")
_REFUSALS: Final = frozenset({"StoreFailure", "PostgresError", "LeaseError", "CheckpointError"})
"""What tears a session when a store fails: a local store or journal, PostgreSQL (its
idempotency store's connection, or the lease's renewal), a lease file, the checkpoint store
(``cannot write checkpoint DIR/checkpoint.json: No space left on device``)."""
_ROOM_SAID: Final = frozenset({"StoreFailure", "CheckpointError"})
"""Refusals whose words name a full disk, a quota, a file size limit or a read-only file
system as the system said it (``room``): a local file's, not a server's."""
AFTERWORDS: Final = frozenset({"lease_not_released", "plugin_close_failed"})
"""Lines the torn session logs after its ``session_interrupted`` as it closes: the lease
its failed backend would not take back, a plug-in whose ``close()`` raised."""


REFUSED_STOP: Final = "its process stopped on a refused write"
"""How an unsealed run ended when its process logged the refusal that stopped it."""


def unsealed_because(stopped_by: str, crash: str = "it crashed") -> str:
    """Why a run is not sealed, in the words of the evidence's run line, every place says it.

    ``its process stopped on a refused write: cannot write checkpoint DIR/checkpoint.json:
    No space left on device (...)`` when its process logged the refusal (``stopped_by``:
    ``StoreRefusal.says``, ``status``'s ``stopped by``); ``crash`` when it logged none. The
    evidence's run line said the refused write while its determinism line, its steps note
    and the burn-in's ``completed`` said "it crashed" of the same run.
    """
    return f"{REFUSED_STOP}: {stopped_by}" if stopped_by else crash


class Standing(Protocol):
    """What ``unsealed_by`` reads of a run's ``status`` (``RunStatus``)."""

    @property
    def run_dir(self) -> str: ...
    @property
    def resumable(self) -> bool: ...
    @property
    def store_refused(self) -> str: ...
    @property
    def resume_problem(self) -> str | None: ...


def unsealed_by(standing: Standing) -> str:
    """The refused write that stopped an unsealed run no process holds, as every tool names it.

    After ``unsealed_because``'s ``its process stopped on a refused write:``: the sink
    whose refusal its ``metrics.json`` keeps (``refused_write``, which ``status``'s ``next``
    names), else the store, checkpoint or lease its session log's last line names
    (``status``'s ``store_refused``). "" for none known (a crash) and for any other run: a
    sealed or live one. A run ``status`` says cannot be resumed is named so too, beside its
    ``resume_problem``: what stopped it is no less a refused write. The evidence, ``burnin``
    and the report read it here.
    """
    if not standing.resumable and standing.resume_problem is None:
        return ""
    return refused_stop(Path(standing.run_dir), standing.store_refused)


def refused_stop(run_dir: Path, store: str) -> str:
    """The sink's refused write (``refused_write``), else ``store``'s (``StoreRefusal.says``).

    ``unsealed_by`` of a run ``status`` read; the report's header reads it so of a run not
    sealed that no process writes. The sink's file is named by its absolute path, as the
    process named the store's: the evidence's bundle and the report are read elsewhere.
    """
    return refused_write(run_dir.absolute())[0] or store


def after_refused(stopped_by: str) -> str:
    """What a resume came after when the process before it logged the refusal that stopped it.

    ``after its process stopped on a refused write: cannot write checkpoint DIR/checkpoint.json:
    No space left on device (session.log.jsonl's line 5, session_interrupted), not a crash``:
    ``unsealed_because``'s words, which the run said before the resume. ``stopped_by``:
    ``StoreRefusal.says`` of the line (``_rundir.loggedstops``).
    """
    return f"after {unsealed_because(stopped_by)}, not a crash"


def refused_write(run_dir: Path) -> tuple[str, str]:
    """``(what was refused, what must be so)`` of a run whose sink died; ``("", "")`` if none.

    ``the states sink failed at line 5 of DIR/state_snapshots.jsonl (OSError: [Errno 28]
    No space left on device)``, ``the file system has room again`` (``once_fixed``).
    """
    metrics = read_json_object(run_dir / names.METRICS)
    last = last_whole_line(run_dir / names.AUDIT) or {}
    if not last:  # the audit log refused its first record: the session log alone says so
        return _refused_unrecorded(run_dir)
    if not metrics:  # refused at its first write (none before the first checkpoint)
        return _refused_past(run_dir, 0)
    if metrics.get("audit_events") != last.get("seq"):
        return _refused_past(run_dir, metrics.get("audit_events"))
    for sink, file in _FILES.items():
        at, error = metrics.get(f"{sink}_sink_failed_at"), metrics.get(f"{sink}_sink_error")
        if isinstance(at, int) and isinstance(error, str):
            unit = "record" if sink == "audit" else "line"
            code = _ERRNO.search(error)
            said = f"the {sink} sink failed at {unit} {at} of {run_dir / file} ({error})"
            return said, once_fixed(int(code.group(1)) if code else None)
    return _refused_unrecorded(run_dir, "metrics")  # the seal's metrics.json: no record


def _refused_past(run_dir: Path, written: object) -> tuple[str, str]:
    """``refused_write`` of a run whose sink died after its ``metrics.json`` was written.

    ``written``: the audit records that ``metrics.json`` counts, short of the ``seq`` of the
    audit log's newest ``C2_SINK_WRITE_FAILED``. ``("", "")`` when it is not, or a resume
    came since.
    """
    wanted = ("C2_SINK_WRITE_FAILED", "C2_RESUME")
    newest = next(events_back(run_dir / names.AUDIT, wanted, key="code"), None)
    if newest is None or newest["code"] != "C2_SINK_WRITE_FAILED":
        return "", ""
    seq, sinks = newest.get("seq"), (newest.get("payload") or {}).get("sinks")
    if not isinstance(written, int) or not isinstance(seq, int) or written >= seq:
        return "", ""
    files = {**_FILES, "metrics": names.METRICS}  # metrics.json, refused alone, says nothing
    sink = next((sink for sink in sinks or () if sink in files), None)
    if sink is None:
        return "", ""
    file = run_dir / files[sink]
    at, error = _logged_failure(run_dir, sink)
    if not error:
        return f"the {sink} sink failed writing {file} (audit record {seq})", once_fixed(None)
    unit = "record" if sink == "audit" else "line"
    where = f"writing {file}" if at is None else f"at {unit} {at} of {file}"
    code = _ERRNO.search(error)
    once = once_fixed(int(code.group(1)) if code else None)
    return f"the {sink} sink failed {where} ({error})", once


def _refused_unrecorded(run_dir: Path, sink: str = "audit") -> tuple[str, str]:
    """``refused_write`` of a run whose ``sink`` died where no record of the run says so.

    A disk that was all but full as the run started refuses the audit's first record, so
    neither the audit nor ``metrics.json`` says which sink died; the seal's ``metrics.json``
    refused withholds the stop record, and the ``C2_SINK_WRITE_FAILED`` with it. The session
    log's ``sink_failed`` line of ``sink`` says it then, when no process started after it
    (a resume that was killed since has no such ending). ``("", "")`` when it does not.
    """
    at, error = _logged_failure(run_dir, sink, since_start=True)
    if not error:
        return "", ""
    code = _ERRNO.search(error)
    file = run_dir / {**_FILES, "metrics": names.METRICS}[sink]
    where = f"writing {file}" if at is None else f"at record {at} of {file}"
    said = f"the {sink} sink failed {where} ({error})"
    return said, once_fixed(int(code.group(1)) if code else None)


_LOG_TAIL: Final = 64 * 1024
_STARTS: Final = frozenset({"session_started", "session_resumed"})
"""Session log lines a process writes as it starts a run or a resume."""


def _logged_failure(
    run_dir: Path, sink: str, *, since_start: bool = False
) -> tuple[int | None, str]:
    """Where and why the session log's newest ``sink_failed`` line of ``sink`` says it died.

    ``(None, "")``: no such line (``since_start``: none after the log's newest start of a
    session, ``_STARTS``); where is None for ``metrics.json``, written whole.
    """
    try:
        refuse_special(run_dir / names.SESSION_LOG)  # never a FIFO's wait for its writer
        with (run_dir / names.SESSION_LOG).open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(0, size - _LOG_TAIL))
            tail = f.read()
    except OSError:  # the session log only: status reads the run without it
        return None, ""
    lines = tail.split(b"\n")[:-1]  # what follows the last newline is not whole
    for line in reversed(lines[1:] if size > _LOG_TAIL else lines):  # the first may be cut
        found = json_object(line)
        if since_start and found is not None and found.get("event") in _STARTS:
            return None, ""
        if found is None or found.get("event") != "sink_failed" or found.get("sink") != sink:
            continue
        at, error = found.get("audit_record" if sink == "audit" else "line"), found.get("error")
        if isinstance(error, str) and (isinstance(at, int) or sink == "metrics"):
            return at if isinstance(at, int) else None, one_line(error)
        return None, ""
    return None, ""


def refused_first(
    run_dir: Path, said: str, *, braces: bool = False, store: StoreRefusal | None = None
) -> str:
    """``said`` (the advice for an unsealed run: resume it) after the refused write, if any.

    ``braces``: ``said`` is formatted by the caller (``status``'s ``format_map``), so the
    braces of the error are doubled. ``store``: the session log's store refusal as the
    caller read it already (``store_refusal``); None: read here.
    """
    refused, once = refused_write(run_dir)
    if not refused:
        room = (store or store_refusal(run_dir)).room()  # said by ``StoreRefusal.says``
        return f"once {room}: {said}" if room else said
    if braces:
        refused = refused.replace("{", "{{").replace("}", "}}")
    return f"{refused}: the run is not sealed; once {once}: {said}"


@attrs.frozen
class StoreRefusal:
    """The store that refused a write and stopped the run, as its process logged it.

    Read once (``store_refusal``): ``status`` says it (``says``, its ``stopped by`` line)
    and what must be so before a resume (``room``, in its ``next``), where it read the
    session log's last line once for each.
    """

    by: str = ""
    """What refused: ``StoreFailure``, ``PostgresError``, ``LeaseError``, ``CheckpointError``;
    "" for none."""
    error: str = ""
    line: int = 0
    """The session log's line that says it, from 1; 0: its last line (``store_refusal``)."""

    def says(self) -> str:
        """``... refused a write (...) (session.log.jsonl's last line, ...)``; "" for none.

        ``line 5`` rather than ``last line`` for a line a resume's lines follow.
        """
        if not self.error:
            return ""
        where = f"line {self.line}" if self.line else "last line"
        return f"{one_line(self.error)} ({names.SESSION_LOG}'s {where}, session_interrupted)"

    def room(self) -> str:
        """What must be so before a run a local store or journal tore is resumed; "" if unknown.

        Said, as a dead sink's (``once_fixed``), for a full disk, a quota, a file size limit
        or a read-only file system (``errno_in``: the log keeps the error's words, not its
        errno): a resume into it would meet the same refusal. A PostgreSQL server's or a
        lease's refusal, and any other error, keep the bare advice.
        """
        code = errno_in(self.error) if self.by in _ROOM_SAID else None
        return "" if code is None else once_fixed(code)


def store_refused_says(run_dir: Path) -> str:
    """The store that refused a write and stopped the run, as its process logged it; "".

    ``store_refusal(run_dir).says()``.
    """
    return store_refusal(run_dir).says()


def store_refusal(run_dir: Path) -> StoreRefusal:
    """The torn session's store refusal, from the session log's last line (``StoreFailure``).

    A local store or journal's refusal, or a PostgreSQL server (the store's or the lease's)
    or a lease file that failed. Only the session log's last whole line counts (but for a
    ``lease_not_released`` or ``plugin_close_failed`` after it): a process that wrote after
    it (a resume) has its own ending, and a log at ``--log-level error``, or none (a run an
    application made with its own log), says nothing. Not a regular file, unreadable: none
    either (``StoreRefusal()``).
    """
    try:
        last = last_whole_line(run_dir / names.SESSION_LOG, passing=AFTERWORDS)
    except OSError:  # the session log only: status reads the run without it
        return StoreRefusal()
    return refusal_of(last or {})


def refusal_of(record: dict[str, Any], line: int = 0) -> StoreRefusal:
    """The store refusal a session log ``record`` (its ``line``, from 1) says; none for another.

    A ``session_interrupted`` whose ``interrupted_by`` is a store's, the checkpoint's, a
    lease's refusal (``StoreFailure`` ...), with its ``error``: how the process stopped.
    """
    if record.get("event") != "session_interrupted":
        return StoreRefusal()
    by, error = record.get("interrupted_by"), record.get("error")
    if by not in _REFUSALS or not isinstance(error, str):
        return StoreRefusal()
    return StoreRefusal(str(by), error, line)
