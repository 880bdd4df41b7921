"""Burn-in acceptance: does a session meet the paper burn-in criteria before going live?

Each criterion is read from the run's own events, through the causal links they carry
(``signal_id``, ``order_event_id``, ``fill_event_id``; see docs/artifacts.md):

- ``completed``: the session was sealed ``COMPLETED``, judged as ``livesession status``
  judges the seal (the audit's ``C2_DRYRUN_STOP``, with the files bearing it out): a session
  that failed, was rejected, crashed unsealed or whose seal is in doubt is no successful
  paper session, whatever its counts;
- ``verified``: ``verify`` finds no violation (``run_burnin`` runs it): counts read from
  files that break the artifact contract prove nothing;
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

The kill drill (``kill_drill``, run by ``evidence``) re-runs the run's config on its
simulated venue in a temporary directory until it holds a position, trips the kill switch
and measures the wall time until ``KILL_SWITCH_FLAT``. A run on the system clock that
tripped its own kill switch measured it already (its ``time_to_flat_ns`` is wall time).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.runread import iter_records, payload, require_run
from .._domain.model import FILL_EVENT_TYPES
from .._exceptions import RunHeld
from .._rundir.lock import holder_of
from .._support.fsutil import atomic_write_bytes
from .._support.text import md_code, md_text, valid_payload
from ..status import RunStatus, Verdict, run_status
from ._drill import kill_drill, measured_flatten

if TYPE_CHECKING:
    from collections.abc import Iterable

    from ..verify import VerifyResult

__all__ = [
    "BurninResult",
    "Thresholds",
    "evaluate_run",
    "kill_drill",
    "render_markdown",
    "run_burnin",
]

MET: Final = "pass"
NOT_MET: Final = "FAIL"
SKIPPED: Final = "not measured"
_MAX_DEPTH: Final = 8
"""How many OCO generations a trade may trace through (a leg of a leg...)."""


@attrs.frozen(kw_only=True)
class Thresholds:
    """The criteria's numbers; the defaults are the paper burn-in protocol's."""

    min_signals: int = 50
    min_decisions: int = 3
    min_oco: int = 1
    max_flatten_s: float = 2.0


@attrs.frozen(kw_only=True)
class BurninResult:
    """The verdict over every session given, and where each report went."""

    ok: bool
    sessions: tuple[dict[str, Any], ...]
    reports: tuple[Path, ...]

    def failures(self) -> list[str]:
        """``run_id: criterion`` for each failed criterion."""
        return [
            f"{s['run_id']}: {c['name']}"
            for s in self.sessions
            for c in s["criteria"]
            if c["result"] == NOT_MET
        ]


def evaluate_run(
    run_dir: Path,
    thresholds: Thresholds,
    *,
    drill: dict[str, Any] | None = None,
    verification: VerifyResult | None = None,
) -> dict[str, Any]:
    """The burn-in verdict of one session: each criterion with its value and result.

    ``verification`` (``verify_run``'s result) adds the ``verified`` criterion.
    """
    # One pass over a stream of the events: a long run's are never all held at once.
    chain = _Chain(iter_records(run_dir / names.EVENTS))
    t = thresholds
    measured = drill if drill and drill.get("status") in ("measured", "not_flat") else None
    measured = measured or measured_flatten(run_dir, chain.flat_ns)
    criteria = [
        _completed(run_status(run_dir), chain.stopped),
        _at_least("signals", chain.signals, t.min_signals, "SIGNAL events"),
        _at_least("decisions", len(chain.decisions), t.min_decisions, "signals sent as orders"),
        _at_least("oco_lifecycle", chain.full_oco, t.min_oco, "full OCO lifecycles"),
        _flatten(measured, t.max_flatten_s),
        _none(
            "unique_client_order_ids",
            chain.duplicates,
            "client order ids submitted more than once",
        ),
        _none("no_orphan_oco", chain.orphans, "OCO legs left working after a sibling filled"),
        _complete_chain(chain),
    ]
    if verification is not None:
        criteria.insert(1, _verified(verification))
    applicable = [c for c in criteria if c["result"] != SKIPPED]
    run_id = chain.run_id if chain.any_event else run_dir.name
    return {
        "run_id": run_id,
        "run_dir": str(run_dir),
        "ok": all(c["result"] == MET for c in applicable),
        "criteria": criteria,
        "counts": {
            "signals": chain.signals,
            "risk_rejected": chain.risk_rejected,
            "orders": len(chain.orders),
            "trades": chain.trades,
        },
        "kill_drill": measured or {"status": "not_measured"},
    }


def _completed(standing: RunStatus, stopped: dict[str, Any] | None) -> dict[str, Any]:
    """Whether the session ended well: sealed COMPLETED, as ``status`` reads the seal.

    The events' last ``SESSION_STOPPED`` alone is not a seal: a run stopped by a second
    signal left it in its events but no ``C2_DRYRUN_STOP`` in its audit log.
    """
    base = {"name": "completed", "threshold": "sealed COMPLETED"}
    if standing.problem:  # a seal the files do not bear out
        return base | {"value": None, "result": NOT_MET, "detail": standing.problem}
    if standing.verdict is Verdict.CRASHED or standing.resume_problem is not None:
        resume = standing.resume_problem
        return base | {
            "value": None,
            "result": NOT_MET,
            "detail": "the run is not sealed "
            + (f"and cannot be resumed ({resume})" if resume else "(it crashed: ")
            + ("" if resume else "`livesession resume` finishes it)"),
        }
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


def _verified(result: VerifyResult) -> dict[str, Any]:
    """Whether ``verify`` finds the run's files as the artifact contract says."""
    return {
        "name": "verified",
        "value": result.total,
        "threshold": "0 violations",
        "result": MET if result.ok else NOT_MET,
        "detail": "verify finds no violation"
        if result.ok
        else f"{result.total} violation(s): {result.summary} (`livesession verify` lists them)",
    }


def _at_least(name: str, value: int, minimum: int, what: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": value,
        "threshold": f">= {minimum}",
        "result": MET if value >= minimum else NOT_MET,
        "detail": f"{value} {what}",
    }


def _none(name: str, found: list[str], what: str) -> dict[str, Any]:
    return {
        "name": name,
        "value": len(found),
        "threshold": "0",
        "result": NOT_MET if found else MET,
        "detail": f"{len(found)} {what}" + (f": {', '.join(found[:5])}" if found else ""),
    }


def _flatten(drill: dict[str, Any] | None, limit: float) -> dict[str, Any]:
    base = {"name": "flatten", "threshold": f"<= {limit:g} s wall time"}
    if drill is None:
        return base | {
            "value": None,
            "result": SKIPPED,
            "detail": "no wall-time kill drill for this run (run `livesession evidence`, or "
            "`burnin --drill`): skipped, not passed",
        }
    wall_s = float(drill["wall_s"])
    flat = drill["status"] == "measured"
    ok = flat and wall_s <= limit
    tail = "" if flat else " and never reached flat"
    return base | {
        "value": wall_s,
        "result": MET if ok else NOT_MET,
        "detail": f"kill switch to flat in {wall_s:.6f} s{tail} ({drill.get('source', 'drill')})",
    }


def _complete_chain(chain: _Chain) -> dict[str, Any]:
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


class _Chain:
    """One pass over a run's events: what the criteria count, through the causal links."""

    def __init__(self, events: Iterable[dict[str, Any]]) -> None:
        self.any_event = False
        self.run_id: object = None
        """The first event's ``run_id``."""
        self.stopped: dict[str, Any] | None = None
        """The last ``SESSION_STOPPED`` event."""
        self.flat_ns: int | None = None
        """The first ``KILL_SWITCH_FLAT``'s ``time_to_flat_ns`` (wall time on a system clock)."""
        self.signals = 0
        self.risk_rejected = 0
        self.trades = 0
        self.decisions: set[str] = set()
        self.orders: dict[str, dict[str, Any]] = {}  # ORDER_SUBMITTED event id -> payload
        self.fills: dict[str, dict[str, Any]] = {}  # fill event id -> payload
        self._signal_ids: set[str] = set()
        self._submitted: Counter[str] = Counter()
        self._legs: dict[str, list[str]] = {}
        self._ended: dict[str, str] = {}
        self._leg_parent: dict[str, str] = {}
        self._fill_events: list[tuple[str, dict[str, Any]]] = []
        for event in events:
            self._note(event)
            self._read(event)
        self.duplicates = sorted(cid for cid, n in self._submitted.items() if n > 1)
        self.full_oco, self.orphans = self._oco(self._legs, self._ended, self._leg_parent)
        self.complete, self.exits, self.broken = self._trace(self._fill_events)

    def _note(self, event: dict[str, Any]) -> None:
        """What the criteria need besides the chain: the run, its seal, its kill to flat."""
        kind = event.get("event_type")
        if not self.any_event:
            self.any_event, self.run_id = True, event.get("run_id")
        if kind == "SESSION_STOPPED":
            self.stopped = event
        elif kind == "KILL_SWITCH_FLAT" and self.flat_ns is None:
            ns = payload(event).get("time_to_flat_ns")
            self.flat_ns = ns if isinstance(ns, int) else None

    def _read(self, event: dict[str, Any]) -> None:
        kind, fields, eid = event.get("event_type"), payload(event), str(event.get("event_id"))
        cid = str(fields.get("client_order_id", ""))
        if kind == "SIGNAL":
            self.signals += 1
            self._signal_ids.add(eid)
        elif kind == "RISK_REJECTED":
            self.risk_rejected += 1
        elif kind == "ORDER_SUBMITTED":
            self._submitted[cid] += 1
            self.orders[eid] = fields
            if "signal_id" in fields:
                self.decisions.add(str(fields["signal_id"]))
            group = fields.get("oco_group")
            if isinstance(group, str):
                self._legs.setdefault(group, []).append(cid)
                self._leg_parent[cid] = str(fields.get("fill_event_id", ""))
        elif kind == "ORDER_REJECTED" and "signal_id" in fields:
            self.decisions.add(str(fields["signal_id"]))
        ended = self._ended
        if kind in FILL_EVENT_TYPES:
            self.trades += 1
            self.fills[eid] = fields
            self._fill_events.append((eid, fields))
            if kind == "ORDER_FILLED":
                ended[cid] = "filled"
            else:
                ended.setdefault(cid, "partial")
        elif kind in ("ORDER_CANCELED", "ORDER_REJECTED") and ended.get(cid) != "filled":
            ended[cid] = "cancelled" if kind == "ORDER_CANCELED" else "rejected"

    def _oco(
        self, legs: dict[str, list[str]], ended: dict[str, str], leg_parent: dict[str, str]
    ) -> tuple[int, list[str]]:
        full = 0
        orphans: list[str] = []
        for group, cids in sorted(legs.items()):
            hit = [cid for cid in cids if ended.get(cid) in ("filled", "partial")]
            if not hit:
                continue
            rest = [cid for cid in cids if cid not in hit]
            orphans += [cid for cid in rest if cid not in ended]
            parents = [self.fills.get(leg_parent.get(cid, "")) for cid in cids]
            from_entry = all(p is not None and p.get("client_order_id") == group for p in parents)
            if (
                from_entry
                and any(ended.get(c) == "filled" for c in hit)
                and all(ended.get(c) == "cancelled" for c in rest)
            ):
                full += 1
        return full, orphans

    def _trace(self, fills: list[tuple[str, dict[str, Any]]]) -> tuple[int, int, list[str]]:
        """How many trades reach a signal, how many a flatten order, and which break."""
        complete = exits = 0
        broken: list[str] = []
        for eid, fields in fills:
            root = self._root(fields, depth=0)
            if root == "signal":
                complete += 1
            elif root == "exit":
                exits += 1
            else:
                broken.append(f"{fields.get('trade_id', eid)} ({root})")
        return complete, exits, broken

    def _root(self, fill: dict[str, Any], *, depth: int) -> str:
        order = self.orders.get(str(fill.get("order_event_id")))
        if order is None:
            return "no order_event_id" if "order_event_id" not in fill else "unknown order"
        if order.get("client_order_id") != fill.get("client_order_id"):
            return "order_event_id names another order"
        if "signal_id" in order:
            return "signal" if order["signal_id"] in self._signal_ids else "unknown signal"
        if "fill_event_id" in order:
            parent = self.fills.get(str(order["fill_event_id"]))
            if parent is None or depth > _MAX_DEPTH:
                return "unknown entry fill"
            return self._root(parent, depth=depth + 1)
        return "exit" if order.get("reduce_only") else "order without signal"


def run_burnin(
    run_dirs: list[Path],
    thresholds: Thresholds,
    *,
    out_dir: Path | None = None,
    drill: bool = False,
) -> BurninResult:
    """Evaluate every run and write its report (markdown and JSON).

    Runs a process is writing now are refused (``RunHeld``) before anything is written; a
    path that is not a run is refused (``RunDirectoryError``) the same way.
    """
    for run_dir in run_dirs:
        require_run(run_dir)
        holder = holder_of(run_dir)
        if holder is not None:
            raise RunHeld(
                f"{run_dir} is being written by {holder.describe()}: burn-in is judged on a "
                "finished run, so nothing was written"
            )
    from ..verify import verify_run  # noqa: PLC0415 - jsonschema is loaded only here

    sessions = [  # valid_payload: a path that is not UTF-8 (bad\xffname) in burnin.json and .md
        valid_payload(
            evaluate_run(
                d, thresholds, drill=kill_drill(d) if drill else None, verification=verify_run(d)
            )
        )
        for d in run_dirs
    ]
    reports: list[Path] = []
    for run_dir, session in zip(run_dirs, sessions, strict=True):
        target = out_dir or run_dir
        target.mkdir(parents=True, exist_ok=True)
        stem = names.BURNIN if out_dir is None else f"{session['run_id']}-{names.BURNIN}"
        document = {"thresholds": attrs.asdict(thresholds), **session}
        atomic_write_bytes(
            target / f"{stem}.json",
            orjson.dumps(document, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2),
        )
        md = target / f"{stem}.md"
        atomic_write_bytes(md, render_markdown(session).encode("utf-8"))
        reports.append(md)
    return BurninResult(
        ok=all(s["ok"] for s in sessions), sessions=tuple(sessions), reports=tuple(reports)
    )


def render_markdown(session: dict[str, Any], *, level: int = 1) -> str:
    """The burn-in report of one session, for a person."""
    head = "#" * level
    lines = [
        f"{head} Burn-in acceptance: run {md_code(session['run_id'])}",
        "",
        f"Result: **{'PASS' if session['ok'] else 'FAIL'}**"
        + (
            ""
            if session["ok"]
            else " (failed: "
            + ", ".join(c["name"] for c in session["criteria"] if c["result"] == NOT_MET)
            + ")"
        ),
        "",
        "| criterion | threshold | value | result | detail |",
        "| --- | --- | --- | --- | --- |",
    ]
    for c in session["criteria"]:
        value = "—" if c["value"] is None else md_text(c["value"])
        lines.append(
            f"| {c['name']} | {c['threshold']} | {value} | {c['result']} | {md_text(c['detail'])} |"
        )
    lines.append("")
    return "\n".join(lines)
