"""Burn-in acceptance: does a session meet the paper burn-in criteria before going live?

Each criterion is read from the run's own events, through the causal links they carry
(``signal_id``, ``order_event_id``, ``fill_event_id``; see docs/artifacts.md):

- ``completed``: the session was sealed ``COMPLETED``, judged as ``livesession status``
  judges the seal (the audit's ``C2_DRYRUN_STOP``, with the files bearing it out): a session
  that failed, was rejected, crashed unsealed or whose seal is in doubt is no successful
  paper session, whatever its counts;
- ``verified``: ``verify`` finds no violation (``run_burnin`` runs it): counts read from
  files that break the artifact contract prove nothing; and ``run.json`` (outside the
  chain) names the version the audited record does, as ``evidence`` holds it;
- ``signals``: at least ``min_signals`` SIGNAL events;
- ``decisions``: at least ``min_decisions`` signals the rails let through, so that an order
  was planned for them (an ``ORDER_SUBMITTED``, or an ``ORDER_REJECTED`` for a send that
  failed, naming the signal);
- ``oco_lifecycle``: at least ``min_oco`` full OCO lifecycles: an entry filled, its legs
  placed naming that fill, one leg filled and every sibling cancelled;
- ``flatten``: the kill switch flat within ``max_flatten_s`` seconds of wall time, as the
  kill drill measured it. Simulated time is not wall time, so a run without a wall-time
  measurement reports it *not measured* and the criterion is skipped, never passed;
- ``unique_client_order_ids``: no client order id submitted twice;
- ``no_orphan_oco``: no OCO leg left working once a sibling filled;
- ``complete_chain``: at least one chain signal -> decision -> order -> trade, and every
  trade traces back through its links (to a signal, or to the kill switch or wind-down
  for a flatten order, which has none).

The kill drill (``kill_drill``, run by ``evidence`` and by ``burnin --drill``, each named as
the measurement's source) re-runs the run's config on its
simulated venue in a temporary directory until it holds a position, trips the kill switch
and measures the wall time until ``KILL_SWITCH_FLAT``. A run on the system clock that
tripped its own kill switch measured it already: the
wall clock's time from its ``KILL_SWITCH`` record to ``KILL_SWITCH_FLAT`` (their ``ts_utc``;
``time_to_flat_ns`` is run time).
The drill ``evidence`` recorded in ``manifest.json`` counts only when that manifest is this
run's (its ``run_id`` and ``audit_head``) and its ``wall_s`` a number of seconds >= 0.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.provenance import audit_head, audited_start, run_json_changed
from .._artifacts.runread import iter_records, read_json_object
from .._artifacts.unplayed import file_rows
from .._exceptions import ConfigError, RunHeld
from .._rundir.lock import holder_of
from .._rundir.refused import unsealed_by
from .._rundir.starting import require_written
from .._support.fsutil import atomic_write_set
from .._support.text import json_path, md_cell, md_code, md_text, valid_payload, valid_text
from .._support.tmpfiles import remove_dead_tmp_of
from ..status import RunStatus, run_status
from ._batch import batch_notes, labels, refuse_duplicates, report_paths, run_id_of
from ._chain import Chain
from ._criteria import (
    MET,
    NOT_MET,
    SKIPPED,
    at_least,
    complete_chain,
    completed,
    flatten,
    none_of,
    verified,
)
from ._drill import UNMEASURED, burnin_drill, evidence_mismatch, kill_drill, measured_flatten
from ._review import path_lines, paths_said, provenance, read_and_ran
from ._together import batch_lines, batch_record

if TYPE_CHECKING:
    from collections.abc import Callable

    from ..verify import VerifyResult

__all__ = [
    "MET",
    "NOT_MET",
    "SKIPPED",
    "BurninResult",
    "Thresholds",
    "evaluate_run",
    "kill_drill",
    "paths_said",
    "render_markdown",
    "run_burnin",
]


_MAX_COUNT: Final = 2**63 - 1
"""The largest count a threshold may ask for: burnin.json holds 64-bit integers only."""


def _count(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNT:
        raise ConfigError(
            f"{_named(attribute)} must be a whole number from 0 to {_MAX_COUNT} (the largest "
            f"64-bit integer), got {value!r}"
        )


def _seconds(_instance: object, attribute: attrs.Attribute[float], value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 <= value < math.inf  # nan is refused too: no comparison holds
    ):
        raise ConfigError(
            f"{_named(attribute)} must be a finite number of seconds >= 0, got {value!r}"
        )


def _named(attribute: attrs.Attribute[Any]) -> str:
    """``burn-in threshold min_oco (--min-oco)``: the field, and the flag that sets it."""
    return f"burn-in threshold {attribute.name} (--{attribute.name.replace('_', '-')})"


@attrs.frozen(kw_only=True)
class Thresholds:
    """The criteria's numbers; the defaults are the paper burn-in protocol's.

    Refused (``ConfigError``) when no report could hold them: a count below 0 or past the
    largest 64-bit integer, a time that is negative, infinite or nan.
    """

    min_signals: int = attrs.field(default=50, validator=_count)
    min_decisions: int = attrs.field(default=3, validator=_count)
    min_oco: int = attrs.field(default=1, validator=_count)
    max_flatten_s: float = attrs.field(default=2.0, validator=_seconds)


@attrs.frozen(kw_only=True)
class BurninResult:
    """The verdict over every session given, and where each report went."""

    ok: bool
    sessions: tuple[dict[str, Any], ...]
    reports: tuple[Path, ...]
    notes: tuple[str, ...] = ()
    """What the batch's reader must hear beyond each verdict (runs of different configs)."""

    def failures(self) -> list[str]:
        """``run_id: criterion`` for each failed criterion."""
        return [
            f"{s['run_id']}: {c['name']}"
            for s in self.sessions
            for c in s["criteria"]
            if c["result"] == NOT_MET
        ]

    def not_measured(self) -> list[str]:
        """``run_id: criterion`` for each criterion skipped, not measured (never passed)."""
        return [f"{s['run_id']}: {name}" for s in self.sessions for name in s["not_measured"]]

    def not_exercised(self) -> list[str]:
        """The failure paths no session of the batch went through, in the reports' order."""
        paths = [p for s in self.sessions for p in s["failure_paths"]]
        done = {p["path"] for p in paths if p["exercised"]}
        return list(dict.fromkeys(p["path"] for p in paths if p["path"] not in done))


def evaluate_run(
    run_dir: Path,
    thresholds: Thresholds,
    *,
    drill: dict[str, Any] | None = None,
    verification: VerifyResult | None = None,
    named: Path | None = None,
    standing: RunStatus | None = None,
) -> dict[str, Any]:
    """The burn-in verdict of one session: each criterion with its value and result.

    ``verification`` (``verify_run``'s result) adds the ``verified`` criterion, which also
    holds ``run.json``'s version to the audited record's (``run_json_changed``). ``named``
    is the path the criteria's advice names (a report's: the run's absolute path); None
    names none, as the command's output says it. ``standing``: the run's status, as the
    caller read it already (None: read here; a heavy checkpoint is parsed once).
    """
    judged = _judge(run_dir, thresholds, drill=drill, verification=verification, standing=standing)
    return judged(named)


def _judge(
    run_dir: Path,
    thresholds: Thresholds,
    *,
    drill: dict[str, Any] | None,
    verification: VerifyResult | None,
    standing: RunStatus | None = None,
    evidence_said: bool = False,
) -> Callable[[Path | None], dict[str, Any]]:
    """``evaluate_run`` for any ``named``, the run read once: the output's and the reports'.

    ``evidence_said``: a note says what this run's ``manifest.json`` found of its determinism
    re-run when it did not match (``burnin``'s; ``evidence``, writing a new one, reads none).
    """
    # One pass over a stream of the events: a long run's are never all held at once.
    chain = Chain(iter_records(run_dir / names.EVENTS))
    t = thresholds
    measured = drill if drill and drill.get("status") in ("measured", "not_flat") else None
    run_id = chain.run_id if chain.any_event else run_dir.name
    head = audit_head(run_dir)
    started = audited_start(run_dir)
    # A drill run now decides: one that measured nothing is not made up for by the figure
    # an older manifest.json records (the run's own kill on the system clock still counts).
    found = measured or measured_flatten(
        run_dir,
        chain.flat_ns,
        run_id=run_id,
        head=head,
        already_flat=chain.already_flat,
        manifest_drill=drill is None,
    )
    # A drill that measured nothing (the evidence's own, or this run's manifest's) says why.
    measured = found or (drill if drill and drill.get("status") in UNMEASURED else None)
    standing = run_status(run_dir) if standing is None else standing
    # What it read and ran, and the failure paths it went through: said, never judged.
    review = provenance(run_dir) | {"failure_paths": chain.paths.listed(run_dir, measured)}
    changed, meta = "", read_json_object(run_dir / names.RUN_META)
    repeats = evidence_mismatch(run_dir, run_id=run_id, head=head) if evidence_said else ""
    if verification is not None:
        version = meta.get("version")
        changed = run_json_changed(started.get("version"), version)

    def session(named: Path | None) -> dict[str, Any]:
        criteria = [
            completed(standing, chain.stopped, named),
            at_least("signals", chain.signals, t.min_signals, "SIGNAL events"),
            at_least("decisions", len(chain.decisions), t.min_decisions, "signals sent as orders"),
            at_least("oco_lifecycle", chain.full_oco, t.min_oco, "full OCO lifecycles"),
            flatten(measured, t.max_flatten_s, named),
            none_of(
                "unique_client_order_ids",
                chain.duplicates,
                "client order ids submitted more than once",
                unchecked="" if chain.orders else "no order submitted",
            ),
            none_of(
                "no_orphan_oco",
                chain.orphans,
                "OCO legs left working after a sibling filled",
                unchecked="" if chain.oco_placed else "no OCO leg placed",
            ),
            complete_chain(chain),
        ]
        if verification is not None:
            criteria.insert(1, verified(verification, named, changed))
        ok = all(c["result"] in (MET, SKIPPED) for c in criteria)
        skipped = [c["name"] for c in criteria if c["result"] == SKIPPED]
        return {
            "run_id": run_id,
            # A report is read elsewhere: it names the run as its advice does (``named``,
            # absolute), never as the path was typed (``.``, ``out/x``); the output keeps it.
            "run_dir": json_path(named or run_dir),
            # What was accepted: the audited config and version, the strategy, the audit head
            # (which a reviewer compares with the one published at hand-over).
            "strategy_id": chain.strategy_id,
            "config_hash": started.get("config_sha256"),
            "run_version": started.get("version"),
            "audit_head": head,
            "ok": ok,
            "verdict": _verdict(ok, skipped),
            "not_measured": skipped,
            "notes": chain.ended(unsealed_by(standing), file_rows(meta))
            + ([repeats] if repeats else []),
            "criteria": criteria,
            "counts": {
                "signals": chain.signals,
                "risk_rejected": chain.risk_rejected,
                "orders": len(chain.orders),
                "trades": chain.trades,
            },
            "kill_drill": measured or {"status": "not_measured"},
            **review,
        }

    return session


def _verdict(ok: bool, skipped: list[str]) -> str:
    """``PASS``, ``FAIL``, or ``PASS (flatten not measured)``: a skipped criterion never passed.

    Exit 0 says that no criterion failed; the word says whether every one was measured.
    """
    if not ok:
        return "FAIL"
    return "PASS" + (f" ({', '.join(skipped)} not measured)" if skipped else "")


def run_burnin(
    run_dirs: list[Path],
    thresholds: Thresholds,
    *,
    out_dir: Path | None = None,
    drill: bool = False,
) -> BurninResult:
    """Evaluate every run and write its report (markdown and JSON).

    Runs a process is writing now are refused (``RunHeld``) before anything is written; a
    path that is not a run is refused (``RunDirectoryError``) the same way, and so is a batch
    that would count one session twice (one directory given twice, or a copy: the same
    audit head) or in which two runs would write one report (``UsageError``: ``--out``
    names reports by run id, and two runs may share one).
    """
    for run_dir in run_dirs:
        require_written(run_dir)  # a dryrun starting there: RunHeld
        holder = holder_of(run_dir)
        if holder is not None:
            raise RunHeld(
                f"{run_dir} is being written by {holder.describe()}: burn-in is judged on a "
                "finished run, so nothing was written"
            )
    refuse_duplicates(run_dirs)
    run_ids = [run_id_of(d) for d in run_dirs]
    paths = report_paths(run_dirs, run_ids, out_dir)
    from ..verify import verify_run  # noqa: PLC0415 - jsonschema is loaded only here
    from ..verify._runmeta import version_said_elsewhere  # noqa: PLC0415

    # run.json's version is the verified criterion's, said once (evaluate_run).
    with version_said_elsewhere():
        judged = [
            _judge(
                d,
                thresholds,
                drill=burnin_drill(d) if drill else None,
                verification=verify_run(d),
                evidence_said=True,
            )
            for d in run_dirs
        ]
    # valid_payload: a path not UTF-8 (bad\xffname) in burnin.json and .md. The output's
    # advice names no run; the reports', read elsewhere, the run's absolute path.
    sessions = [valid_payload(judge(None)) for judge in judged]
    documented = [valid_payload(j(d.resolve())) for j, d in zip(judged, run_dirs, strict=True)]
    # read before anything is written
    named = labels(run_dirs, run_ids)  # a run id, or the directory where two share it
    differ = batch_notes(run_dirs, named)
    notes = tuple(valid_text(note) for note in differ if note)  # a directory not UTF-8
    result = BurninResult(
        ok=all(s["ok"] for s in sessions),
        sessions=tuple(sessions),
        reports=tuple(md for _, md in paths),
        notes=notes,
    )
    if len(run_dirs) > 1:  # each report says the batch it was judged in (_together.py)
        batch = valid_payload(batch_record(documented, list(notes), result.not_exercised()))
        documented = [{**session, "batch": batch} for session in documented]
    reports: list[tuple[Path, bytes]] = []
    for (json_file, md), session in zip(paths, documented, strict=True):
        document = {"thresholds": attrs.asdict(thresholds), **session}
        data = orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
        reports += [(json_file, data), (md, render_markdown(session).encode("utf-8"))]
    # Every report or none (a full disk): no .json without its .md. An --out another burnin's
    # up-front check made and took away as this one wrote is made again (in_made_dir).
    for path, _ in reports:  # what a killed burnin left beside them (tmpfiles.py)
        remove_dead_tmp_of(path)
    atomic_write_set(reports, remake=True)
    return result


def render_markdown(session: dict[str, Any], *, level: int = 1) -> str:
    """The burn-in report of one session, for a person."""
    head = "#" * level
    lines = [
        f"{head} Burn-in acceptance: run {md_code(session['run_id'])}",
        "",
        f"Result: **{session['verdict']}**" + _failed(session),
        "",
        (
            f"Strategy {md_code(session['strategy_id'])}, "
            f"config hash {md_code(session['config_hash'])}, "
            f"livesession {md_text(session['run_version'])}, "
            f"audit head {md_code(session['audit_head'])}."
        ),
        "",
        *_run_lines(session),
        *(f"Note: {md_text(note)}." for note in session["notes"]),
        *([""] if session["notes"] else []),
        "| criterion | threshold | value | result | detail |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in session["criteria"]:
        value = "—" if c["value"] is None else md_text(c["value"])
        lines.append(
            f"| {c['name']} | {c['threshold']} | {value} | {c['result']} | {md_cell(c['detail'])} |"
        )
    lines += path_lines(session.get("failure_paths"), level + 1)
    lines += batch_lines(session.get("batch"), level + 1)
    lines.append("")
    return "\n".join(lines)


def _run_lines(session: dict[str, Any]) -> list[str]:
    """Where the run is, and what it read and ran (a session without them, none)."""
    said = [f"Run directory {md_code(session['run_dir'])}."] if "run_dir" in session else []
    said += read_and_ran(session)
    return [*said, ""] if said else []


def _failed(session: dict[str, Any]) -> str:
    """`` (failed: signals; flatten not measured)`` after a FAIL; nothing after a PASS."""
    if session["ok"]:
        return ""
    failed = ", ".join(c["name"] for c in session["criteria"] if c["result"] == NOT_MET)
    skipped = "".join(f"; {name} not measured" for name in session["not_measured"])
    return f" (failed: {failed}{skipped})"
