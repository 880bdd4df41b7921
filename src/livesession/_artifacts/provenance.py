"""What ties a report to the run it speaks of: the audit head and the audited start.

The audit head is the SHA-256 of the last line of ``audit.jsonl``: what ``evidence``
records in its manifest and prints, and what a reviewer compares with the head published
apart from the files (docs/artifacts.md, "What the chain proves, and what it does not").
A report read back from a run directory (``burnin`` reads the kill drill of the manifest
found there) is the run's own only when its head is the run's: a manifest copied in from
another run, or written before the run changed, is not. ``evidence`` and ``burnin`` read
it here, one way.

``run.json`` is outside the chain too: its ``version`` is held to the one the audited record
``SESSION_STARTED`` (which ``C2_DRYRUN_START`` copies) names, and a ``run.json`` naming
another was changed after the run. ``evidence`` fails its bundle on it, ``burnin`` its
``verified`` criterion, in the same words (``run_json_changed``).
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from .._support.fsutil import raise_if_refused
from .._support.text import one_line
from . import names
from .runread import iter_records, payload

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["audit_head", "audited_start", "run_json_changed"]


def audit_head(run_dir: Path) -> str | None:
    """The SHA-256 (hex) of the last line of the run's ``audit.jsonl``; None when it has none.

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``: named, exit 2).
    """
    path = run_dir / names.AUDIT
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise_if_refused(exc, path)
        return None  # missing: the run's own flaw, which verify names
    lines = data.splitlines()
    return hashlib.sha256(lines[-1]).hexdigest() if lines else None


def audited_start(run_dir: Path) -> dict[str, Any]:
    """The payload of the run's first event, ``SESSION_STARTED``, which the audit covers.

    ``C2_DRYRUN_START`` copies it and ``verify`` holds the two together, so its ``version``
    and ``config_sha256`` are the run's own: ``run.json``'s ``version`` and ``config_hash``
    are outside the chain (and its ``config_hash`` is another digest, of the whole config,
    ``durability`` and ``checkpoint_every`` included). A reviewer ties the evidence to the
    audit by these, and ``verify`` holds ``config.json`` to the digest. Empty without it.
    """
    first = next(iter_records(run_dir / names.EVENTS), None)
    if first is None or first.get("event_type") != "SESSION_STARTED":
        return {}
    return payload(first)


def run_json_changed(wrote: object, said: object) -> str:
    """What is wrong when ``run.json`` names another version than the audited record ("").

    ``wrote`` is the livesession version the audited record says wrote the run (none when
    it names none: nothing to hold ``run.json`` to), ``said`` the one ``run.json`` says.
    """
    if not isinstance(wrote, str) or said == wrote:
        return ""
    told = f"livesession {one_line(said)}" if isinstance(said, str) else "no version"
    return (
        f"run.json says {told}, but the run's audited record (SESSION_STARTED, "
        f"C2_DRYRUN_START) says livesession {one_line(wrote)} wrote it: run.json was "
        "changed after the run; keep the run as it is and report it"
    )
