"""Why the process before each resume stopped, as the session log says: a refused write.

A process a full disk stopped at its checkpoint (``CheckpointError``), or whose store,
journal or lease refused a write (``StoreFailure`` ...), records nothing of it in the run
(the byte contract holds no such record): its session log's ``session_interrupted`` line
says it, which ``status`` reads while it is the log's last line (``refused.store_refusal``).
A resume writes on after it, so the evidence and ``burnin`` said "resumed after a crash" of
such a run. The CLI's resume logs ``session_resumed`` first (with its ``C2_RESUME``'s
``from_step``, ``checkpoint`` and ``torn_bytes``): the line before it, passing the torn
session's closing lines (``refused.AFTERWORDS``), says how the process before it ended.

Said only when the log's ``session_resumed`` lines are the audit log's ``C2_RESUME``
records one for one: a resume from Python (whose log is the application's), a log rotated
or kept at ``--log-level warning`` leaves some out, and which line came before which
resume is then not known. Nothing is said then: a crash, as when nothing says otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runread import json_object
from .._support.fsutil import refuse_special
from .refused import AFTERWORDS, StoreRefusal, refusal_of

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["refusals_before"]

_MARKS: Final = (
    b'"session_resumed"',
    b'"session_interrupted"',
    *(f'"{event}"'.encode() for event in sorted(AFTERWORDS)),
)
"""The lines parsed; any other is a line of a process that went on (not parsed)."""


def refusals_before(run_dir: Path, resumes: list[dict[str, Any]]) -> list[StoreRefusal]:
    """For each of ``resumes`` (``C2_RESUME``'s, in order), the refusal logged before it.

    ``StoreRefusal()`` for a resume the log says no refusal of (or cannot place); each
    refusal names its line of the log (``says``). ``resumes``: each ``from_step``,
    ``checkpoint`` and ``torn_bytes`` (the non-zero sizes by file), as the evidence reads them.
    """
    nothing = [StoreRefusal() for _ in resumes]
    if not resumes:
        return nothing
    try:
        refuse_special(run_dir / names.SESSION_LOG)  # never a FIFO's wait for its writer
        with (run_dir / names.SESSION_LOG).open("rb") as f:
            logged, before = [], StoreRefusal()
            for number, line in enumerate(f, 1):
                record = json_object(line) if any(mark in line for mark in _MARKS) else None
                event = None if record is None else record.get("event")
                if record is not None and event == "session_resumed":
                    logged.append((_where(record), before))
                if event not in AFTERWORDS:  # a torn session's closing line is passed
                    before = refusal_of(record or {}, number)
    except OSError:  # the session log only: the run reads the same without it
        return nothing
    if [where for where, _ in logged] != [_where(resume) for resume in resumes]:
        return nothing
    return [refusal for _, refusal in logged]


def _where(resume: dict[str, Any]) -> tuple[object, object, dict[str, object]]:
    """A resume's ``from_step``, ``checkpoint`` and non-zero ``torn_bytes``, to compare."""
    torn = resume.get("torn_bytes")
    sizes = {str(k): v for k, v in (torn if isinstance(torn, dict) else {}).items() if v}
    return resume.get("from_step"), resume.get("checkpoint"), sizes
