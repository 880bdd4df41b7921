"""What a report of a batch says of the batch: the sessions judged with it, and its notes.

``burnin`` over a week of paper sessions prints the batch's verdict and notes (runs of
different configs, strategies or code; the failure paths no session went through) on
stdout only, and each session's ``burnin.md`` named its own run alone: a committee handed
the files could not tell which sessions the burn-in was, that one of them ran other code,
or what the week left to other evidence. Each report of a batch of two or more sessions
carries the batch (``burnin.json``: ``batch``; ``burnin.md``: its own section).
"""

from __future__ import annotations

from typing import Any

from .._support.text import md_code, md_text

__all__ = ["batch_lines", "batch_record"]


def batch_record(
    sessions: list[dict[str, Any]], notes: list[str], not_exercised: list[str]
) -> dict[str, Any]:
    """The batch as each of its reports records it (``sessions`` as the reports have them)."""
    return {
        "verdict": "PASS" if all(s["ok"] for s in sessions) else "FAIL",
        "sessions": [
            {
                "run_id": s["run_id"],
                "run_dir": s.get("run_dir"),
                "verdict": s["verdict"],
                "audit_head": s.get("audit_head"),
            }
            for s in sessions
        ],
        "notes": list(notes),
        "not_exercised": list(not_exercised),
    }


def batch_lines(batch: object, level: int) -> list[str]:
    """The batch as a section of a session's report (no batch: no lines)."""
    if not isinstance(batch, dict):
        return []
    sessions = batch["sessions"]
    skipped = [s for s in sessions if s["verdict"] not in {"PASS", "FAIL"}]
    unmeasured = (
        f" ({len(skipped)} of them with a criterion not measured, never passed: see its result)"
        if skipped
        else ""
    )
    lines = [
        "",
        f"{'#' * level} The burn-in this session was judged in",
        "",
        (
            f"{len(sessions)} sessions judged together by one `livesession burnin`; "
            f"no criterion failed in any: **{batch['verdict']}**{unmeasured}."
            if batch["verdict"] == "PASS"
            else f"{len(sessions)} sessions judged together by one `livesession burnin`; "
            f"a criterion failed in at least one: **{batch['verdict']}**."
        ),
        "",
        "| run | result | audit head | run directory |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {md_code(s['run_id'])} | {md_text(s['verdict'])} | {md_code(s['audit_head'])} "
        f"| {md_code(s['run_dir'])} |"
        for s in sessions
    ]
    said = [f"Note: {md_text(note)}." for note in batch["notes"]]
    if batch["not_exercised"]:
        said.append(
            "Failure paths no session of the burn-in went through: "
            f"{md_text(', '.join(batch['not_exercised']))}."
        )
    return [*lines, *([""] if said else []), *said]
