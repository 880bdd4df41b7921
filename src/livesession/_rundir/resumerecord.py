"""A resume's own record, continuing the audit chain and written out at once.

The chain goes on after the kept ``C2_RESUME`` records, and the resume's ``C2_RESUME`` is
written out before the session's first step (``resume``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._exceptions import RunDirectoryError, SinkFailure
from .._support.oserrors import errno_of, once_fixed

if TYPE_CHECKING:
    from pathlib import Path

    from .._artifacts.recorder import Recorder
    from .resumecut import AuditCut

__all__ = ["go_on_after", "record_at_once"]


def go_on_after(recorder: Recorder, cut: AuditCut) -> None:
    """Continue the audit chain after the ``C2_RESUME`` records the cut kept.

    The recorder stands where the checkpoint left it (or at the start, without one); the
    earlier resumes' records come after that.
    """
    state = recorder.get_state()
    if state["audit_seq"] == cut.seq and state["audit_head"] == cut.head:
        return
    state.update(
        audit_seq=cut.seq,
        audit_head=cut.head,
        offsets={**state["offsets"], "audit": cut.offset},
    )
    recorder.set_state(state, recorder.digests)


def record_at_once(recorder: Recorder, run_dir: Path, *, sync: bool) -> None:
    """Write ``C2_RESUME`` out now (synced unless the run's durability is ``none``).

    Held in the sink's buffer, it reached the file only at the first step's end: a resume
    killed sooner left no record of itself. Once in the file, the next resume keeps it.
    """
    try:
        recorder.flush(sync=sync)
    except SinkFailure as exc:
        recorder.close()  # now, not whenever the session is collected, after the lock is let go
        cause = exc.__cause__
        why = (cause.strerror if isinstance(cause, OSError) else None) or cause or exc
        raise RunDirectoryError(
            f"cannot resume {run_dir}: writing its C2_RESUME record failed ({why}): once "
            f"{once_fixed(errno_of(exc))}, resume again"
        ) from exc
