"""The bundle's two verdicts, said apart: whether the evidence verifies, and how the run ended.

A bundle's checks passing (the files keep the contract, the re-run matches, no secret) says
the record is sound, not that the run went well: a run whose strategy raised is good
evidence of that failure. Said as one ``PASS`` beside a run that ``FAILED``, a reviewer read
it as the strategy's pass. So the evidence is ``VERIFIED`` or ``NOT VERIFIED``, and the run
``COMPLETED``, ``KILLED`` (the kill switch halted it to the end), ``STOPPED BY OPERATOR``
(before its planned steps), ``STOPPED EARLY`` (its program closed it), ``FAILED`` (with its
reason), ``REJECTED`` (by preflight) or ``NOT SEALED`` (crashed): each in one plain line,
which the document, the command's output and its ``--json`` all say in the same words.
"""

from __future__ import annotations

from typing import Any, Final

from .._domain.lifecycle import SESSION_CLOSED, ended_early
from .._domain.reasons import FEED_EXHAUSTED
from .._risk.kinds import rails_and_checks
from .._rundir.halts import (
    ACTED_BY,
    MID_WIND_DOWN,
    WOUND_DOWN,
    halt_text,
    last_turn,
    left_for_an_operator,
)
from .._rundir.nextwords import reason_next
from .._rundir.refused import unsealed_because
from .._rundir.resumes import resumed_from
from .._support.text import one_line
from ._torn import causes_of, mixed, stopped_itself

__all__ = ["EVIDENCE_NOT_VERIFIED", "EVIDENCE_VERIFIED", "evidence_said", "run_ended"]

EVIDENCE_VERIFIED: Final = "VERIFIED"
EVIDENCE_NOT_VERIFIED: Final = "NOT VERIFIED"
_OF_THE_RECORD: Final = (
    "the run's files are intact and every check of the bundle passed: this says the record "
    "is sound, not that the run went well"
)


def evidence_said(ok: bool, problems: list[str] | tuple[str, ...]) -> tuple[str, str]:
    """``("VERIFIED", why)`` or ``("NOT VERIFIED", the problems)``: the evidence's verdict."""
    if ok:
        return EVIDENCE_VERIFIED, _OF_THE_RECORD
    return EVIDENCE_NOT_VERIFIED, "; ".join(problems)


def run_ended(
    found: dict[str, Any], resume_problem: str | None = None, *, run_dir: str = "RUN_DIR"
) -> dict[str, str]:
    """How the run in the manifest's ``outcome`` ``found`` ended: ``ended`` and ``said``.

    ``ended`` is the word (``FAILED``), ``said`` one printable line that starts with it
    (``FAILED: STRATEGY_ERROR (RuntimeError: model file corrupt) after 30 of 60 steps; ...``).
    ``resume_problem``: why ``resume`` cannot continue an unsealed run where it is (status's
    words: a reviewer's read-only copy, another user's run), said instead of "resume it".
    A run its reason decides the next step of (a strategy's error) ends with status's
    (``reason_next``), its commands naming ``run_dir``.
    A sealed run that crashed and was resumed says so at the end of the line (``; resumed
    after a crash 2 times, from step 100 and step 200``): a reviewer reading only this line (the
    ``run`` line of ``evidence``, ``verify --manifest``'s) took it for a run that never crashed.
    """
    ended, words = _ended(found, resume_problem, run_dir)
    if found.get("sealed"):
        words += _resumed(found.get("resumes") or [], found.get("stopped_itself") or [])
    return {"ended": ended, "said": one_line(f"{ended}: {words}")}


def _resumed(resumes: list[dict[str, Any]], stops: list[dict[str, str]]) -> str:
    """``; resumed after a crash once, from step 100``, or nothing for a run never resumed.

    Not ``after a crash`` when the process stopped itself (``stops``, a full disk), as the
    document's "How the run ended" says it: ``; resumed once, from step 200, after the
    process stopped itself unsealed (SINK_WRITE_FAILED), not a crash``; nor when the
    session log names the refused write that stopped it (the resume's ``stopped_by``):
    ``; resumed once, from step 100, after its process stopped on a refused write: ...``.
    """
    if not resumes:
        return ""
    steps = [resumed_from(resume) for resume in resumes]
    times = "once" if len(resumes) == 1 else f"{len(resumes)} times"
    where = steps[0] if len(steps) == 1 else ", ".join(steps[:-1]) + f" and {steps[-1]}"
    causes = causes_of(resumes, stops)
    if len(resumes) == 1 and causes[0] != "after a crash":  # a refused write the log names
        return f"; resumed once, from {where}, {causes[0]}"
    if mixed(stops, len(resumes)) or any("stopped_by" in resume for resume in resumes):
        each = (f"from {step} {cause}" for step, cause in zip(steps, causes, strict=True))
        return f"; resumed {times}: {', '.join(each)}"
    if stops:
        return f"; resumed {times}, from {where}, {stopped_itself(stops)}"
    return f"; resumed after a crash {times}, from {where}"


def _steps(found: dict[str, Any]) -> str:
    planned = found.get("steps_planned")
    return f"{found.get('steps')}" + ("" if planned is None else f" of {planned}")


def _ended(found: dict[str, Any], resume_problem: str | None, run_dir: str) -> tuple[str, str]:
    steps = _steps(found)
    if not found.get("sealed"):
        return "NOT SEALED", _unsealed(found, resume_problem)
    status, state = found.get("status"), found.get("fsm_state")
    if status == "REJECTED":
        refused = "; ".join(
            f"{check.get('check')}: {check.get('detail')}" for check in found.get("refused_by", ())
        )
        refused = refused or str(found.get("reason"))
        return "REJECTED", f"preflight refused it ({refused}); nothing traded"
    if status == "FAILED":
        return "FAILED", _failed(found, steps, state, run_dir)
    if status != "COMPLETED":
        return str(status), f"in {state} after {steps} steps"
    ended, words = _completed(found, steps)
    return ended, words + _lifted(found) + _refused(found)


def _unsealed(found: dict[str, Any], resume_problem: str | None) -> str:
    problem = found.get("seal_problem")
    if problem:
        return f"{problem} (keep the run as it is)"
    if resume_problem:  # "resume it" would fail here: status's way out instead
        stopped = unsealed_because(
            str(found.get("stopped_by") or ""), "it crashed or was cut short"
        )
        again = "then write its evidence again"
        return f"{stopped}, and cannot be resumed here: {resume_problem}; {again}"
    if found.get("stopped_by"):  # a full disk, as its process logged it: not a crash
        return (
            f"{unsealed_because(str(found['stopped_by']))}: resume it once that is put "
            "right, then write its evidence again"
        )
    return "it crashed or was cut short: resume it, then write its evidence again"


def _failed(found: dict[str, Any], steps: str, state: object, run_dir: str) -> str:
    reason = found.get("reason") or "no reason recorded"
    fault = found.get("fault") or {}
    detail = fault.get("detail") or {}
    why = ": ".join(str(detail[key]) for key in ("error", "message") if detail.get(key))
    said = f"{reason}" + (f" ({why})" if why else "") + f" after {steps} steps; "
    if state == "ERROR_REQUIRES_OPERATOR":
        at = WOUND_DOWN if found.get("wound_down") else ""
        return said + left_for_an_operator(
            reason, MID_WIND_DOWN if found.get("winding_down") else at
        )
    said += f"wound down (cancelled, flattened) and sealed FAILED in {state}"
    then = reason_next("FAILED", reason, run_dir)  # status's next step for it
    return said + (f"; next: {then}" if then else "")


def _lifted(found: dict[str, Any]) -> str:
    """``; trading HALTED and re-enabled: from step 40 until ops re-enabled it ...``, or "".

    A run an operator killed and then re-enabled said ``COMPLETED: ran its steps``, where the
    document's "How the run ended" and the report's header told the halt: a reviewer reading
    only this line (``evidence``'s ``run`` line) saw no kill.
    """
    lifted = [halt for halt in found.get("halts", ()) if halt.get("until_step") is not None]
    if not lifted:
        return ""
    many = f" {len(lifted)} times, the first" if len(lifted) > 1 else ""
    return f"; trading HALTED and re-enabled{many}: {halt_text(lifted[0], '')}"


def _refused(found: dict[str, Any]) -> str:
    """``; rails refused 157 order(s) (PER_TRADE_RISK 157), 0 sent``, or "" when none was.

    A run whose rails refused every order its strategy asked for said ``COMPLETED: ran its
    steps``, where the document's "How the run ended" and the report's header told the
    refusals: a reviewer reading only this line saw a run that traded.
    """
    refusals = found.get("refusals")
    if not refusals:
        return ""
    ranked = sorted(refusals["by_rule"].items(), key=lambda item: -item[1]["count"])
    said = [
        f"{kind} refused {sum(it['count'] for _rule, it in rules)} order(s) ("
        + ", ".join(f"{rule} {it['count']}" for rule, it in rules)
        + ")"
        for kind, rules in zip(
            ("rails", "the session's own order checks"), rails_and_checks(ranked), strict=True
        )
        if rules
    ]
    return f"; {' and '.join(said)}, {refusals['orders_sent']} sent"


def _completed(found: dict[str, Any], steps: str) -> tuple[str, str]:
    sealed = f"sealed COMPLETED after {steps} steps"
    kills = [
        halt
        for halt in found.get("halts", ())
        if halt.get("event") == "KILL_SWITCH" and halt.get("until_step") is None
    ]
    stop = found.get("stop_reason") or found.get("reason") or ""
    early = ended_early(found.get("steps"), found.get("steps_planned"))
    stopped = ""
    if early and stop and stop != FEED_EXHAUSTED:
        who = ACTED_BY.get(stop)
        stopped = f"stopped with {stop!r}" + (f" ({who})" if who else "")
    if kills:
        kill = kills[0]
        turned, at = last_turn(kill), kill.get("from_step")
        last = turned == found.get("steps")  # after the last step: none lost
        # A kill inside its step, before the strategy's turn (the daily-loss cap at the bar,
        # a report), took that step too: not "after" it, as burnin's note counts it.
        when = f"after step {at}" if turned == at else f"at step {at}, before its strategy's turn"
        killed = (
            f"{kill.get('by')} {when} (KILL_SWITCH reason "
            f"{kill.get('reason')}); trading HALTED "
            + ("after the run's last step" if last else "to the end: no new order from then on")
        )
        return "KILLED", f"{killed}; " + (f"{stopped}; " if stopped else "") + sealed
    if stopped and stop == SESSION_CLOSED:
        return "STOPPED EARLY", f"its program closed the session; {sealed}"
    if stopped:
        return "STOPPED BY OPERATOR", f"{stopped}; {sealed}"
    if early and stop == FEED_EXHAUSTED:
        return "COMPLETED", f"the feed ran out; {sealed}"
    halted = [halt for halt in found.get("halts", ()) if halt.get("until_step") is None]
    if halted:
        halt = halted[0]
        by = f"from step {halt.get('from_step')} to the end by {halt.get('by')}"
        return "COMPLETED", f"{sealed}, trading HALTED {by}"
    return "COMPLETED", f"ran its steps; {sealed}"
