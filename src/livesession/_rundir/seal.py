"""Whether a run is sealed, read the one way every tool reads it: from the ends of its files.

``livesession status`` reads the seal here, and so do ``report`` and ``evidence``, so no
tool calls sealed a run that another says is not. The events' ``SESSION_STOPPED`` alone is
no seal (a second Ctrl-C leaves it in a run that is not sealed), and a seal the files do
not bear out (an audit log that lost its closing ``C2_DRYRUN_STOP`` beside a sealed
checkpoint) is a doubt to report, never a seal: ``verify`` says what is wrong, and the run
is kept as it is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs

from .._artifacts import names
from .._artifacts.runread import ends_unfit, last_whole_line, read_json_object

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["Seal", "claimed_seal"]


@attrs.frozen(kw_only=True)
class Seal:
    """The seal a run's files claim, and whether they bear it out."""

    fsm_state: object
    """The state it was sealed in (the sealing checkpoint's, else the last snapshot's)."""
    failed: bool
    """Sealed ``FAILED``."""
    doubt: str = ""
    """"" when the files bear the seal out; else ``the seal is not borne out: ...``."""

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

    Claimed: the sealing checkpoint says so, or (a run with no checkpoint store, such as the
    runbook's four files) the audit log's last whole record is ``C2_DRYRUN_STOP``. A run with
    a checkpoint that is not the sealing one is not sealed, whatever its audit log ends with
    (a full disk refused the sealing checkpoint, or the process died just before it):
    ``resume`` continues such a run from its checkpoint. ``checkpoint`` and ``snapshot``
    (the last whole state snapshot) are read here unless the caller has them. A run a
    process is writing now is the caller's to leave out (``holder_of``).
    """
    if checkpoint is None:
        checkpoint = read_json_object(run_dir / names.CHECKPOINT)
    if checkpoint.get("sealed") is True:
        state, failed = checkpoint.get("fsm_state"), bool(checkpoint.get("failed"))
    elif checkpoint:
        return None
    else:
        stop = last_whole_line(run_dir / names.AUDIT)
        if stop is None or stop.get("code") != "C2_DRYRUN_STOP":
            return None
        if snapshot is None:
            snapshot = last_whole_line(run_dir / names.SNAPSHOTS)
        payload = stop.get("payload") if isinstance(stop.get("payload"), dict) else {}
        status = payload.get("status") if isinstance(payload, dict) else None
        state, failed = (snapshot or {}).get("fsm_state"), status == "FAILED"
    return Seal(fsm_state=state, failed=failed, doubt=_doubt(run_dir))


def _doubt(run_dir: Path) -> str:
    """What the files lack for the seal that is claimed ("" when they bear it out).

    Read from the ends of the files only (a supervisor polls ``status``): every contract
    file, whole, events ending with ``SESSION_STOPPED`` and audit with ``C2_DRYRUN_STOP``.
    """
    lacks = ends_unfit(run_dir, (names.SNAPSHOTS,))  # the ends of the others: below
    last = last_whole_line(run_dir / names.EVENTS) or {}
    if last.get("event_type") != "SESSION_STOPPED" and (run_dir / names.EVENTS).is_file():
        found = last.get("event_type")
        ends = f"its last event is {found}" if found else "no JSON line at its end"
        lacks.append(f"{names.EVENTS} does not end with SESSION_STOPPED ({ends})")
    stop = last_whole_line(run_dir / names.AUDIT) or {}
    if stop.get("code") != "C2_DRYRUN_STOP" and (run_dir / names.AUDIT).is_file():
        lacks.append(f"{names.AUDIT} does not end with C2_DRYRUN_STOP")
    if not lacks:
        return ""
    if not (run_dir / names.RUN_META).is_file():
        lacks.insert(0, f"no {names.RUN_META}")
    return f"the seal is not borne out: {'; '.join(lacks)}"
