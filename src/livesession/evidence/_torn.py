"""Why a resumed run's process stopped, as the audit records its resume set aside say it.

A resume cuts each file back to its checkpoint and keeps the cut tail in ``<file>.torn``.
A process the system killed leaves no record of why; one that stopped itself, unsealed (a
sink the full disk refused: ``SINK_WRITE_FAILED``), wrote its ``C2_OPERATOR_REQUIRED`` record
before it stopped, and that record is in ``audit.jsonl.torn``. The evidence said "Resumed
after a crash" of both: a reviewer read a full disk as a crash. One a full disk stopped at
its checkpoint, or whose store refused a write, logged it in its session log (outside the
run's record) before the resume's lines: each resume's ``stopped_by`` (``resumes_in``).
"""

from __future__ import annotations

from itertools import accumulate
from typing import TYPE_CHECKING, Any

from .._artifacts import names
from .._artifacts.runread import json_object, payload, read_bytes
from .._rundir.loggedstops import refusals_before
from .._rundir.refused import after_refused
from .._support.fsutil import raise_if_refused
from .._support.text import md_code, md_text

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "after_stop",
    "causes_of",
    "mixed",
    "resume_causes",
    "resumes_in",
    "set_aside_lines",
    "set_aside_stops",
    "stopped_itself",
]

TORN_AUDIT = f"{names.AUDIT}.torn"
"""The audit records the run's resumes set aside."""


def set_aside_stops(run_dir: Path, resumes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each stop of the process the set-aside audit records name: ``reason``, ``error``, ``resume``.

    A fault they name (``C2_OPERATOR_REQUIRED``) after a refused write
    (``C2_SINK_WRITE_FAILED``, whose ``error`` it gives): a process that cannot write stops
    itself there. Another fault set aside (a strategy's error, then a crash in its wind-down)
    says nothing of how the process ended: none is said of it. ``resume`` is the number
    (from 1) of the ``C2_RESUME`` that set the record aside, told by the audit bytes each
    resume counts (``torn_bytes``, in order): a resume without a stop followed a crash. The
    manifest's ``outcome`` keeps them (``stopped_itself``), which its document and its run
    line both read. ``resumes``: the run's, as ``resumes_in`` read them (the bytes each cut).
    """
    stops: list[dict[str, Any]] = []
    error = ""
    try:
        data = read_bytes(run_dir / TORN_AUDIT)
    except OSError as exc:
        raise_if_refused(exc, run_dir / TORN_AUDIT)
        return []
    sizes = [resume["torn_bytes"].get(names.AUDIT, 0) for resume in resumes]
    ends = list(accumulate(size if type(size) is int and size > 0 else 0 for size in sizes))
    start = 0
    for line in data.split(b"\n"):
        at, start = start, start + len(line) + 1
        record = json_object(line)
        if record is None:
            continue
        body: dict[str, Any] = payload(record)
        code = record.get("code")
        if code == "C2_SINK_WRITE_FAILED":
            error = str(body.get("error") or "")
        elif code == "C2_OPERATOR_REQUIRED" and body.get("reason") and error:
            resume = next((n for n, end in enumerate(ends, 1) if at < end), len(ends) or 1)
            stops.append({"reason": str(body["reason"]), "error": error, "resume": resume})
            error = ""
    return stops


def resumes_in(run_dir: Path) -> list[dict[str, Any]]:
    """The run's resumes (``C2_RESUME``): the step each went on from, the torn bytes cut.

    And ``stopped_by`` when the session log says a refused write stopped the process
    before it (``loggedstops``: ``StoreRefusal.says``, with the log's line).
    """
    try:
        data = (run_dir / names.AUDIT).read_bytes()
    except OSError:
        return []  # verify says what is missing
    found: list[dict[str, Any]] = []
    for line in data.splitlines():
        if b'"C2_RESUME"' not in line:
            continue  # most records: not parsed
        record = json_object(line)
        if record is None or record.get("code") != "C2_RESUME":
            continue
        body = payload(record)
        torn = body.get("torn_bytes")
        found.append(
            {
                "from_step": body.get("from_step"),
                "checkpoint": body.get("checkpoint"),
                "torn_bytes": {
                    str(name): size
                    for name, size in sorted((torn if isinstance(torn, dict) else {}).items())
                    if size
                },
            }
        )
    for resume, refusal in zip(found, refusals_before(run_dir, found), strict=True):
        if refusal.says():
            resume["stopped_by"] = refusal.says()
    return found


def after_stop(stops: list[dict[str, Any]], number: int, stopped_by: object = "") -> str:
    """What the resume ``number`` (from 1) came after: the stop it set aside, or a crash.

    ``stopped_by``: the refused write the session log says stopped the process before it
    (``resumes_in``), said in ``after_refused``'s words when no stop was set aside.
    """
    reasons = [stop["reason"] for stop in stops if stop.get("resume") == number]
    if reasons:
        said = ", ".join(dict.fromkeys(reasons))
        return f"after the process stopped itself unsealed ({said}), not a crash"
    if stopped_by and isinstance(stopped_by, str):
        return after_refused(stopped_by)
    return "after a crash"


def causes_of(resumes: list[dict[str, Any]], stops: list[dict[str, Any]]) -> list[str]:
    """What each of ``resumes`` (the manifest's, ``resumes_in``) came after, in order."""
    return [
        after_stop(stops, n, resume.get("stopped_by", "")) for n, resume in enumerate(resumes, 1)
    ]


def resume_causes(run_dir: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """The run's stops (``set_aside_stops``), and what each resume came after, in order.

    The audit log is read once for both (``resumes_in``).
    """
    resumes = resumes_in(run_dir)
    stops = set_aside_stops(run_dir, resumes)
    return stops, causes_of(resumes, stops)


def mixed(stops: list[dict[str, Any]], resumes: int) -> bool:
    """Whether some of ``resumes`` came after a crash, and some after the process stopped."""
    after = {stop.get("resume") for stop in stops}
    return bool(stops) and not all(n in after for n in range(1, resumes + 1))


def set_aside_lines(stops: list[dict[str, str]]) -> list[str]:
    """``- Before a resume, the process stopped itself ...: `SINK_WRITE_FAILED` (...)``, or none."""
    return [
        f"- Before a resume, the process stopped itself unsealed, not by a crash: "
        f"{md_code(stop['reason'])} ({md_text(stop['error'])}), as the audit records the "
        f"resume set aside say (`{TORN_AUDIT}`)."
        for stop in stops
    ]


def stopped_itself(stops: list[dict[str, str]]) -> str:
    """``after the process stopped itself unsealed (SINK_WRITE_FAILED), not a crash``, or "".

    The run line's words for the stops the document tells (``set_aside_lines``): the line
    said "resumed after a crash" where the document said the process stopped itself.
    """
    if not stops:
        return ""
    reasons = ", ".join(dict.fromkeys(stop["reason"] for stop in stops))
    return f"after the process stopped itself unsealed ({reasons}), not a crash"
