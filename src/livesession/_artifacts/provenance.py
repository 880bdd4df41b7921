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
``verified`` criterion, in the same words (``run_json_changed``), and ``resume`` refuses
such a run, as it does one whose ``lease`` the events deny (``run_json_disowned``): it
trusts both, and would seal a run ``verify`` calls broken.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._support.fsutil import raise_if_refused
from .._support.text import one_line
from . import names
from .releases import other_release
from .runread import iter_records, payload

if TYPE_CHECKING:
    from collections.abc import Mapping
    from pathlib import Path

_CHANGED: Final = "run.json was changed after the run; keep the run as it is and report it"

__all__ = ["audit_head", "audited_start", "run_json_changed", "run_json_disowned"]


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
        f"C2_DRYRUN_START) says livesession {one_line(wrote)} wrote it: {_CHANGED}"
    )


def run_json_disowned(run_dir: Path, meta: Mapping[str, Any]) -> str:
    """What ``run.json`` says of its ``version`` and ``lease`` that the run's events deny ("").

    ``resume`` continues a run of its own release by ``version`` and takes the lease when
    ``lease`` says the run took one; ``verify`` holds both to the events (the audited
    ``SESSION_STARTED``, the preflight's ``session_lease`` check), as ``run_json_changed``
    does the version. Only the events up to the preflight's end are read, and the audit's
    first record after any ``C2_RESUME``: when its ``C2_DRYRUN_START`` names another version
    than ``SESSION_STARTED`` (``verify`` holds the two to each other), one of them was
    changed, not ``run.json``, and that is what is said.

    Raises:
        OSError: the host refused to read ``events.jsonl`` (``raise_if_refused``).
    """
    started, lease_checked, passed = _preflight(run_dir)
    if started is None:
        return ""  # not a run of this writer's, or none yet: the resume's checks say so
    audited = _audited_start(run_dir)
    if audited is not None and started.get("version") != audited.get("version"):
        told = [one_line(str(record.get("version"))) for record in (started, audited)]
        return (  # not run.json: one of the two records was changed
            f"events.jsonl's SESSION_STARTED says livesession {told[0]}, the audit log's "
            f"C2_DRYRUN_START livesession {told[1]}: the run's files were changed after the "
            "run; keep the run as it is and report it"
        )
    changed = run_json_changed(started.get("version"), meta.get("version"))
    if changed or other_release(dict(meta)) is not None:
        return changed  # another release's run: refused as such, by its own rules
    lease = meta.get("lease")
    if lease_checked and lease is not True:
        said = orjson.dumps(lease).decode() if lease is not None else "no lease"
        return (
            f"run.json says lease {said}, but the run's events record its session_lease "
            f"preflight check, so it took the lease: {_CHANGED}"
        )
    if passed and lease is True and not lease_checked:
        return (
            "run.json says lease true, but the run passed its preflight with no "
            f"session_lease check in its events, so it took none: {_CHANGED}"
        )
    return ""


def _preflight(run_dir: Path) -> tuple[dict[str, Any] | None, bool, bool]:
    """What the run's first events say: ``SESSION_STARTED``, the lease check, the outcome.

    ``SESSION_STARTED``'s payload (None: the first event is not one), whether the preflight
    checked the ``session_lease``, and whether it passed (``PREFLIGHT_OK``).
    """
    started: dict[str, Any] | None = None
    lease_checked = False
    for record in iter_records(run_dir / names.EVENTS):
        kind, body = record.get("event_type"), payload(record)
        if started is None:
            if kind != "SESSION_STARTED":
                break
            started = body
        elif kind == "PREFLIGHT_CHECK":
            lease_checked = lease_checked or body.get("check") == "session_lease"
        else:  # the preflight's end (or something else: no more to learn)
            passed = kind == "STATE_CHANGED" and body.get("to_state") == "PREFLIGHT_OK"
            return started, lease_checked, passed
    return started, lease_checked, False


def _audited_start(run_dir: Path) -> dict[str, Any] | None:
    """The payload of the audit log's ``C2_DRYRUN_START`` (None: none yet).

    Its first record, after the ``C2_RESUME`` records of resumes that started the run over
    (before its first checkpoint), as ``verify`` reads the audit's opening.
    """
    for record in iter_records(run_dir / names.AUDIT):
        if record.get("code") != "C2_RESUME":
            return payload(record) if record.get("code") == "C2_DRYRUN_START" else None
    return None
