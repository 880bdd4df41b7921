"""The burn-in criteria, each judged from what the run's events and files say.

Each criterion is a dict: its ``name``, the ``threshold`` it needs, the ``value`` the run
has, the ``result`` (``MET``, ``NOT_MET`` or ``SKIPPED``) and a ``detail`` in words.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Final, TypeGuard

import orjson

from .._artifacts.runread import payload
from .._rundir.refused import unsealed_because, unsealed_by
from .._support.secrets import redact_text
from .._support.text import command
from ..status import RunStatus, Verdict

if TYPE_CHECKING:
    from pathlib import Path

    from ..verify import VerifyResult
    from ._chain import Chain

__all__ = [
    "MET",
    "NOT_MET",
    "SKIPPED",
    "at_least",
    "complete_chain",
    "completed",
    "flatten",
    "none_of",
    "quoted",
    "verified",
]

MET: Final = "pass"
NOT_MET: Final = "FAIL"
SKIPPED: Final = "not measured"
_SHOWN: Final = 80
"""How much of a value read from a manifest a line quotes."""


def _command(bare: str, named: Path | None, flag: str = "") -> str:
    """A command the advice names, in backticks.

    ``bare`` (``livesession resume``) as the command's output says it; in a report, read
    elsewhere, the command naming the run's absolute path ``named``.
    """
    if named is None:
        return f"`{bare}{flag}`"
    return f"`{command(bare.rsplit(' ', 1)[-1], named)}{flag}`"


def completed(
    standing: RunStatus, stopped: dict[str, Any] | None, named: Path | None
) -> dict[str, Any]:
    """Whether the session ended well: sealed COMPLETED, as ``status`` reads the seal.

    ``named``: the path the advice names (``_command``).

    The events' last ``SESSION_STOPPED`` alone is not a seal: a run stopped by a second
    signal left it in its events but no ``C2_DRYRUN_STOP`` in its audit log.
    """
    base = {"name": "completed", "threshold": "sealed COMPLETED"}
    if standing.problem:  # a seal the files do not bear out
        return base | {"value": None, "result": NOT_MET, "detail": standing.problem}
    if standing.verdict is Verdict.CRASHED or standing.resume_problem is not None:
        resume = standing.resume_problem
        if resume:
            detail = f"the run is not sealed and cannot be resumed ({resume})"
        else:  # a refused write its process logged, said as the evidence's run line says it
            refused = unsealed_by(standing)
            again = " once that is put right" if refused else ""
            detail = (
                f"the run is not sealed ({unsealed_because(refused)}: "
                f"{_command('livesession resume', named)} finishes it{again})"
            )
        return base | {"value": None, "result": NOT_MET, "detail": detail}
    fields = payload(stopped or {})
    status = fields.get("status") or standing.status
    reason = fields.get("reason") or standing.reason
    because = f" ({reason})" if reason else ""
    ok = status == "COMPLETED" and standing.verdict is Verdict.COMPLETED
    return base | {
        "value": status,
        "result": MET if ok else NOT_MET,
        "detail": f"the session ended {status} in {fields.get('fsm_state') or standing.state}"
        + because,
    }


def verified(result: VerifyResult, named: Path | None, changed: str = "") -> dict[str, Any]:
    """Whether ``verify`` finds the run's files as the artifact contract says.

    ``changed`` is what ``run_json_changed`` says of ``run.json`` (outside the contract and
    the chain): a version edited there fails the criterion as it fails ``evidence``, and
    counts as one more problem in the value. ``named``: the path the advice names.
    """
    detail = "verify finds no violation"
    if not result.ok:
        listed = f"{_command('livesession verify', named)} lists them"
        detail = f"{result.total} violation(s): {result.summary} ({listed})"
    if changed:
        detail = changed if result.ok else f"{detail}; {changed}"
    return {
        "name": "verified",
        "value": result.total + (1 if changed else 0),
        "threshold": "0 violations",
        "result": MET if result.ok and not changed else NOT_MET,
        "detail": detail,
    }


def at_least(name: str, value: int, minimum: int, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "threshold": f">= {minimum}",
        "result": MET if value >= minimum else NOT_MET,
        "detail": f"{value} {what}",
    }


def none_of(name: str, found: list[str], what: str, *, unchecked: str = "") -> dict[str, Any]:
    """A criterion that ``found`` is empty.

    ``unchecked``: why the run held nothing to check (no order submitted), said in the
    detail: a pass then checked nothing, and says so.
    """
    detail = f"{len(found)} {what}" + (f": {', '.join(found[:5])}" if found else "")
    return {
        "name": name,
        "value": len(found),
        "threshold": "0",
        "result": NOT_MET if found else MET,
        "detail": f"nothing to check ({unchecked})" if unchecked and not found else detail,
    }


def flatten(drill: dict[str, Any] | None, limit: float, named: Path | None) -> dict[str, Any]:
    """The kill switch flat within ``limit`` seconds of wall time, as a drill measured it.

    A drill that does not count (``invalid``: another run's manifest) or whose ``wall_s``
    is no finite number of seconds >= 0 fails, naming why: a hand-edited manifest saying
    ``-5`` or nothing at all measured nothing. ``named``: the path the advice names.
    """
    base = {"name": "flatten", "threshold": f"<= {limit:g} s wall time"}
    drills = _command("livesession evidence", named), _command("burnin", named, " --drill")
    if drill is None or drill.get("status") in ("not_measured", "not_applicable"):
        detail = "no wall-time kill drill for this run (run {}, or {})".format(*drills)
        if drill is not None:  # a drill ran and measured nothing: running it again would not
            where = f" in {drill['recorded_in']}" if drill.get("recorded_in") else ""
            detail = (
                f"the kill drill{where} measured nothing: {drill.get('reason') or drill['status']}"
            )
        return base | {"value": None, "result": SKIPPED, "detail": f"{detail}: skipped, not passed"}
    source = _source(drill)
    wall_s = drill.get("wall_s")
    if drill["status"] == "invalid" or not _seconds(wall_s):
        said = quoted(wall_s)
        why = drill.get("reason") or f"its wall_s is {said}, no number of seconds >= 0"
        return base | {
            "value": None,
            "result": NOT_MET,
            "detail": f"the kill drill ({source}) does not count: {why} (run "
            "{} again, or {})".format(*drills),
        }
    flat = drill["status"] == "measured"
    ok = flat and wall_s <= limit
    tail = "" if flat else " and never reached flat"
    return base | {
        "value": wall_s,
        "result": MET if ok else NOT_MET,
        "detail": f"kill switch to flat in {wall_s:.6f} s{tail} ({source})",
    }


def _source(drill: dict[str, Any]) -> str:
    """Who measured it, and where it was read: ``evidence kill drill (...) in manifest.json``."""
    recorded = drill.get("recorded_in")
    said = [str(drill["source"])] if drill.get("source") else []
    return " ".join([*said, *([f"in {recorded}"] if recorded else [])]) or "a kill drill"


def _seconds(value: object) -> TypeGuard[float]:
    """Whether ``value`` is a number of seconds: finite and >= 0 (a bool is no number)."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= 0
    )


def complete_chain(chain: Chain) -> dict[str, Any]:
    ok = chain.complete >= 1 and not chain.broken
    detail = (
        f"{chain.complete} trades trace back to their signal, {chain.exits} to a flatten "
        f"order; {len(chain.broken)} do not"
    )
    if chain.broken:
        detail += ": " + ", ".join(chain.broken[:5])
    return {
        "name": "complete_chain",
        "value": chain.complete,
        "threshold": ">= 1 and none broken",
        "result": MET if ok else NOT_MET,
        "detail": detail,
    }


def quoted(value: object) -> str:
    """What a hand-edited manifest holds, as JSON writes it: one line, redacted, cut short.

    A float as Python writes it (``inf``, which JSON would write ``null``).
    """
    said = repr(value) if isinstance(value, float) else orjson.dumps(value, default=repr).decode()
    said = redact_text(said)
    return said if len(said) <= _SHOWN else f"{said[: _SHOWN - 3]}..."
