"""Why a resumed run's process stopped, as the audit records its resume set aside say it.

A resume cuts each file back to its checkpoint and keeps the cut tail in ``<file>.torn``.
A process the system killed leaves no record of why; one that stopped itself, unsealed (a
sink the full disk refused: ``SINK_WRITE_FAILED``), wrote its ``C2_OPERATOR_REQUIRED`` record
before it stopped, and that record is in ``audit.jsonl.torn``. The evidence said "Resumed
after a crash" of both: a reviewer read a full disk as a crash.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._artifacts import names
from .._artifacts.runread import payload, read_records
from .._support.text import md_code, md_text

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["set_aside_lines", "set_aside_stops", "stopped_itself"]

TORN_AUDIT = f"{names.AUDIT}.torn"
"""The audit records the run's resumes set aside."""


def set_aside_stops(run_dir: Path) -> list[dict[str, str]]:
    """Each stop of the process the set-aside audit records name: ``reason`` and ``error``.

    A fault they name (``C2_OPERATOR_REQUIRED``) after a refused write
    (``C2_SINK_WRITE_FAILED``, whose ``error`` it gives): a process that cannot write stops
    itself there. Another fault set aside (a strategy's error, then a crash in its wind-down)
    says nothing of how the process ended: none is said of it. The manifest's ``outcome``
    keeps them (``stopped_itself``), which its document and its run line both read.
    """
    stops: list[dict[str, str]] = []
    error = ""
    for record in read_records(run_dir / TORN_AUDIT):
        body: dict[str, Any] = payload(record)
        code = record.get("code")
        if code == "C2_SINK_WRITE_FAILED":
            error = str(body.get("error") or "")
        elif code == "C2_OPERATOR_REQUIRED" and body.get("reason") and error:
            stops.append({"reason": str(body["reason"]), "error": error})
            error = ""
    return stops


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
