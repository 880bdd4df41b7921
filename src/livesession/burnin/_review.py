"""What a reviewer reads beside the burn-in verdict: what the run ran on, what it went through.

A verdict says that a session behaved. A governance review asks too on which data and code
(the data file's SHA-256, each plug-in's source SHA-256, as ``config.json`` holds them under
the audited config hash) and which of the ways a session fails it went through: a safety
rail refusing an order, the kill switch, the strategy or the feed raising, the venue failing
(a call retried, a send in doubt, an order rejected, a broker unhealthy, a reconcile; not
the cancel of a leg whose position the book closed itself), a crash resumed, a stop signal.
Each path is listed, exercised (how often, by what) or not exercised in this session: a
path the session never went through is shown safe by nothing in it. None is a criterion:
the verdict and the exit code do not change.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runread import iter_records, payload, read_json_object
from .._domain.reasons import DAILY_LOSS_KILL
from .._risk.kinds import ORDER_CHECKS
from .._rundir.supplied import by_factory
from .._support.references import IN_PROCESS
from .._support.text import md_code, md_text

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "NOT_EXERCISED",
    "FailurePaths",
    "path_lines",
    "paths_said",
    "provenance",
    "read_and_ran",
]

NOT_EXERCISED: Final = "not exercised in this session"
_BROKER: Final = (
    "BROKER_CALL_RETRIED",
    "ORDER_OUTCOME_UNKNOWN",
    "ORDER_REJECTED",
    "DUPLICATE_REPORT",
    "BROKER_UNHEALTHY",
    "RECONCILED",
    "RECONCILE_ESCALATED",
)
"""The events of a venue that failed, refused, repeated itself or disagreed with the book."""
SUPPLIED: Final = f"(an {IN_PROCESS})"
"""How a plug-in given as an object (``config.json`` ``sources``: no reference) is said."""


def provenance(run_dir: Path) -> dict[str, Any]:
    """``data`` (the feed; a data file's SHA-256 and size) and ``code`` (each plug-in's).

    As ``config.json`` holds them (``verify`` holds it to the audited config hash): a
    plug-in's reference and source SHA-256.
    """
    config = read_json_object(run_dir / names.CONFIG)
    found = config.get("sources")
    sources = {
        str(role): record
        for role, record in sorted((found if isinstance(found, dict) else {}).items())
        if isinstance(record, dict)
    }
    code = {
        role: {"ref": record.get("ref"), "sha256": record.get("sha256")}
        | ({"object": record["object"]} if "object" in record else {})
        | ({"supplied": record["supplied"]} if by_factory(record) else {})
        for role, record in sources.items()
    }
    feed = sources.get("feed", {})  # an object given is the feed, not the config's
    data = {
        "feed": f"{feed['object']} {SUPPLIED}" if "object" in feed else config.get("feed"),
        "sha256": config.get("feed_sha256"),
        "bytes": config.get("feed_bytes"),
    }
    return {"data": data, "code": code}


class FailurePaths:
    """The failure paths a run's events show, noted one event at a time (``note``)."""

    def __init__(self) -> None:
        self._kinds: Counter[str] = Counter()
        self._rules: Counter[str] = Counter()
        self._kills: Counter[str] = Counter()
        self._stop: str | None = None

    def note(self, event: dict[str, Any]) -> None:
        kind = str(event.get("event_type"))
        fields = payload(event)
        if kind == "RECONCILED" and _upkeep(fields):
            return
        self._kinds[kind] += 1
        if kind == "RISK_REJECTED":
            self._rules[str(fields.get("rule"))] += 1
        elif kind == "KILL_SWITCH":
            self._kills[str(fields.get("reason"))] += 1
        elif kind == "SESSION_STOPPED" or fields.get("trigger") == "request_stop":
            # The stop asked (STATE_CHANGED), or the seal's reason: a signal the CLI took.
            self._stop = _signal(fields.get("reason")) or self._stop

    def listed(self, run_dir: Path, drill: dict[str, Any] | None) -> list[dict[str, Any]]:
        """Each path, exercised or not: ``path``, ``exercised``, ``count``, ``detail``.

        ``drill`` is the kill drill the flatten criterion read (None: none), named when the
        session's own kill switch never tripped.
        """
        audit = iter_records(run_dir / names.AUDIT)
        resumes = sum(1 for record in audit if record.get("code") == "C2_RESUME")
        broker = Counter({kind: self._kinds[kind] for kind in _BROKER})
        kills = self._kills
        drilled = drill is not None and drill.get("status") in ("measured", "not_flat")
        errors = self._kinds["STRATEGY_ERROR"], self._kinds["FEED_ERROR"]
        stops = 1 if self._stop else 0
        return [
            self._rails(),
            _path(
                "kill_switch",
                kills,
                "kill switch trip(s), by reason: {}",
                " (the flatten criterion's kill drill tripped it on a re-run)" if drilled else "",
            ),
            # The record names an error type either way: a raise, or what the session refused.
            _path(
                "strategy_error",
                errors[0],
                "STRATEGY_ERROR(s): the strategy raised, or gave what the session cannot act on",
            ),
            _path(
                "feed_error",
                errors[1],
                "FEED_ERROR(s): the feed raised, or gave a bar the session cannot use",
            ),
            _path("broker_fault", broker, "venue event(s) of a fault: {}"),
            _path("crash_resume", resumes, _resumed_after(run_dir) if resumes else ""),
            _path("stop_signal", stops, f"stop by {self._stop}"),
        ]

    def _rails(self) -> dict[str, Any]:
        """The rail path: orders refused (``RISK_REJECTED``) and daily-loss kills.

        Each is said as what it was: a kill the cap pulled refused no order.
        """
        refused, pulled = self._rules, self._kills[DAILY_LOSS_KILL]
        checks = Counter({rule: n for rule, n in refused.items() if rule in ORDER_CHECKS})
        if not pulled and not checks:
            return _path("rail", refused, "order(s) refused by a safety rail: {}")
        if not pulled:  # the session's own order checks are no rail: said apart
            rails = refused - checks
            by_rails = f"{rails.total()} by a safety rail ({_by(rails)}), " if rails else ""
            said = f"{by_rails}{checks.total()} by the session's own order checks ({_by(checks)})"
            path = _path("rail", refused, "")
            return path | {"detail": f"{path['count']} order(s) refused: {said}"}
        path = _path("rail", refused + Counter({DAILY_LOSS_KILL: pulled}), "")
        kills = (
            f"the daily-loss cap pulled the kill switch {pulled} time(s) "
            f"({DAILY_LOSS_KILL} {pulled})"
        )
        orders = f"{refused.total()} order(s) refused ({_by(refused)}); " if refused else ""
        return path | {"detail": f"{path['count']} safety rail firing(s): {orders}{kills}"}


def _resumed_after(run_dir: Path) -> str:
    """``resume(s) after a crash (C2_RESUME in the audit)``, or after the process stopped itself.

    As the evidence says it (its manifest's ``outcome.stopped_itself``, its run line): a
    process a full disk stopped (``SINK_WRITE_FAILED``, in the audit records a resume set
    aside; a checkpoint or store its session log names) did not crash. The row said "after
    a crash" of any resume.
    """
    # The evidence imports burnin: its reading is imported when a resume is to be said.
    from ..evidence._torn import resume_causes  # noqa: PLC0415

    causes = resume_causes(run_dir)[1]
    if len(set(causes)) > 1:  # some after a crash, some after a stop: each counted
        each = ", ".join(f"{n} {cause}" for cause, n in Counter(causes).items())
        return f"resume(s): {each} (C2_RESUME in the audit)"
    return f"resume(s) {causes[0] if causes else 'after a crash'} (C2_RESUME in the audit)"


def _upkeep(fields: dict[str, Any]) -> bool:
    """Whether a reconcile is the book's own upkeep, no venue fault.

    A protective leg cancelled because its position is gone: the strategy, or a flatten,
    closed it while the leg rested.
    """
    return fields.get("kind") == "ORPHAN_OCO_SIBLING" and fields.get("why") == "position_gone"


def _signal(reason: object) -> str | None:
    return reason if isinstance(reason, str) and reason.startswith("SIGNAL_") else None


def _by(counts: Counter[str]) -> str:
    return ", ".join(f"{name} {n}" for name, n in sorted(counts.items()) if n)


def _path(name: str, found: int | Counter[str], what: str, instead: str = "") -> dict[str, Any]:
    """``{"path", "exercised", "count", "detail"}``, the detail ``what`` after the count.

    ``found``: the count, or the counts by kind, which fill ``what``'s ``{}``; ``instead``
    follows ``not exercised`` when there are none.
    """
    count = found if isinstance(found, int) else found.total()
    if not count:
        return {"path": name, "exercised": False, "count": 0, "detail": NOT_EXERCISED + instead}
    by = "" if isinstance(found, int) else _by(found)
    return {"path": name, "exercised": True, "count": count, "detail": f"{count} {what.format(by)}"}


def read_and_ran(session: dict[str, Any]) -> list[str]:
    """``Data file `csv:x.csv`, SHA-256 `...`, 900 bytes.`` and a line per plug-in's code."""
    data, code = session.get("data"), session.get("code")
    lines = []
    if isinstance(data, dict):
        if data.get("sha256") is None:
            lines.append(f"Feed {md_code(data.get('feed'))} (no data file).")
        else:
            lines.append(
                f"Data file {md_code(data.get('feed'))}, SHA-256 {md_code(data.get('sha256'))}, "
                f"{md_text(data.get('bytes'))} bytes."
            )
    if isinstance(code, dict):
        lines += [
            f"Code of the {md_text(role)}: {_code(record)}, source SHA-256 "
            f"{md_code(record.get('sha256'))}."
            for role, record in sorted(code.items())
            if isinstance(record, dict)
        ]
        if not code:
            lines.append("Code: livesession's own (no plug-in).")
    return lines


def _code(record: dict[str, Any]) -> str:
    """A plug-in's reference, or the class of an object given in-process, as Markdown.

    A broker a caller's factory built: the factory, and how it was given (``from
    broker_factory=fac``).
    """
    if by_factory(record):
        return f"{md_code(record['object'])} ({md_text(record['supplied'])})"
    if record.get("ref") is None and "object" in record:
        return f"{md_code(record['object'])} {SUPPLIED}"
    return md_code(record.get("ref"))


def path_lines(paths: object, level: int) -> list[str]:
    """The failure paths as a section of the report: each exercised, or not (none: no lines)."""
    if not isinstance(paths, list):
        return []
    lines = [
        "",
        f"{'#' * level} Failure paths",
        "",
        (
            "Which of the ways a session fails this one went through. A path it did not go "
            "through is shown safe by nothing in this report: exercise it in another paper "
            "session (`livesession kill`, `livesession stop`, a crash and `livesession "
            "resume`) or with the testing kit's failure matrix (broker faults, crash and "
            "resume)."
        ),
        "",
        "| failure path | exercised | detail |",
        "| --- | --- | --- |",
    ]
    for path in paths:
        said = "yes" if path.get("exercised") else "no"
        lines.append(f"| {md_text(path.get('path'))} | {said} | {md_text(path.get('detail'))} |")
    return lines


def paths_said(paths: list[dict[str, Any]]) -> str:
    """``exercised: rail 3, crash_resume 1; not exercised: kill_switch, ...`` on one line."""
    done = [f"{p['path']} {p['count']}" for p in paths if p["exercised"]]
    left = [str(p["path"]) for p in paths if not p["exercised"]]
    return "; ".join(
        [
            *([f"exercised: {', '.join(done)}"] if done else []),
            *([f"not exercised: {', '.join(left)}"] if left else []),
        ]
    )
