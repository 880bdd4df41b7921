"""How a run ended, as the evidence states it first: a reviewer's first question.

Read from the run's own records: the ``SESSION_STOPPED`` event (status, state, reason,
steps, equity, PnL), the reason its stop was asked with (``STATE_CHANGED`` by
``request_stop``: the operator's words, which ``SESSION_STOPPED`` leaves out unless the stop
was the seal's), the fault's ``STATE_CHANGED`` detail, the preflight checks that failed,
the final state snapshot (positions and open orders at the seal), the planned steps from
``SESSION_STARTED``, and the operator's actions. A run without ``SESSION_STOPPED`` is said
to be unsealed.

A sealed ``COMPLETED`` may still hide what a reviewer must hear: that trading was HALTED
from some step on (the daily-loss cap, an operator's kill, the execution throttle, a broker
halt: the run then steps on without trading; ``_rundir/halts.py``, which ``burnin`` reads
too), and that the run crashed and was resumed
(``C2_RESUME`` in the audit log, with the step it went on from and the torn bytes it set
aside). Both are told under the status line.

The records' text goes into the document as ``md_text`` or ``md_code`` has it (one
printable line that renders as itself): a fault's detail is a plug-in's exception message.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runread import payload, read_json_object, read_records
from .._artifacts.runtime import GAP_CAUSES, LongestGap, stamped_apart
from .._domain.clock import format_utc_ns
from .._domain.decimal import amount_text, finite_decimal
from .._domain.lifecycle import ended_early
from .._risk.kinds import rails_and_checks
from .._rundir.flattens import FLATTEN_KINDS, WindDownFlattens, flatten_fate, flatten_words
from .._rundir.halts import (
    ACTED_BY,
    MID_WIND_DOWN,
    WOUND_DOWN,
    Halts,
    faulted_in_wind_down,
    halt_text,
    trading_halts,
)
from .._rundir.refused import unsealed_because, unsealed_by
from .._support.text import command, md_code, md_text
from ._operator import actions_in, told_actions
from ._torn import causes_of, mixed, resumes_in, set_aside_lines, set_aside_stops

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from pathlib import Path

    from ..status import RunStatus

__all__ = ["outcome", "outcome_lines", "trading_halts"]

_SENT: Final = frozenset({"SIGNAL_SIGUSR1", "SIGNAL_SIGUSR2", "SIGNAL_SIGTERM"})
"""The signals ``kill``, ``ack`` and ``stop`` send: an operator's, but whose, none records."""
_NO_PERSON: Final = (
    " A signal names no person: only the run's user or root may send it, and the desk's own "
    "record (its shift log, sudo's log) says who did."
)


class _Ending:
    """What ``outcome`` notes of each event as the operator's actions are read from them."""

    def __init__(self) -> None:
        self.stopped: dict[str, Any] | None = None
        self.started: dict[str, Any] | None = None
        self.fault: dict[str, Any] | None = None
        self.stop: dict[str, Any] | None = None
        self.refused: list[dict[str, Any]] = []
        self.halts = Halts()
        self.times: list[int] = []
        """The first and last ``ts_sim`` of the events (the run's own time)."""
        self.clock: LongestGap | None = None
        """The events timed by a clock that is not the run's time (``stamped_apart``)."""
        self.steps = 0
        self.sent = 0
        self.refusals: dict[str, dict[str, Any]] = {}
        """Per rule, the orders a rail (or the session's own check) refused: ``count``, and
        the step (``from_step``) and run time (``at``) of the first."""
        self.flattened = WindDownFlattens()
        """The session's own flatten orders outside a kill (a wind-down's): what the
        strategy still held as the run stopped, which the seal's "flat" would hide."""

    def each(self, events: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """``events``, each noted on its way (one pass, so they may be streamed)."""
        for event in events:
            self._note(event)
            yield event

    def _note(self, event: dict[str, Any]) -> None:
        self.halts.note(event)
        if self.clock is not None:
            self.clock.note(event)
        at = event.get("ts_sim")
        if isinstance(at, int) and not isinstance(at, bool):
            if self.times:
                self.times[1] = at
            else:
                self.times = [at, at]
        kind = event.get("event_type")
        self._count(kind, event)
        if kind == "PREFLIGHT_CHECK" and payload(event).get("passed") is False:
            check = payload(event)
            self.refused.append({k: check.get(k, "") for k in ("check", "reason", "detail")})
        elif kind == "SESSION_STOPPED":
            self.stopped = payload(event)
        elif kind == "SESSION_STARTED" and self.started is None:
            self.started = payload(event)
        elif kind == "STATE_CHANGED":
            trigger = payload(event).get("trigger")
            if trigger == "fault":
                self.fault = payload(event)
            elif trigger == "request_stop":
                self.stop = payload(event)

    def _count(self, kind: object, event: dict[str, Any]) -> None:
        """The steps, the orders sent and the orders refused, each rule's first with its step."""
        if kind == "BAR":
            self.steps += 1
            return
        if kind in FLATTEN_KINDS:
            self.flattened.note(kind, event, self.steps)
        if kind == "ORDER_SUBMITTED":
            self.sent += 1
        elif kind == "RISK_REJECTED":
            at = event.get("ts_sim")
            first = {
                "count": 0,
                "from_step": self.steps,
                "at": format_utc_ns(at) if type(at) is int else None,
            }
            rule = self.refusals.setdefault(str(payload(event).get("rule")), first)
            rule["count"] += 1

    def refused_orders(self) -> dict[str, Any] | None:
        """``refusals``: the orders refused by rule, and how many were sent; None if none."""
        if not self.refusals:
            return None
        return {"by_rule": self.refusals, "orders_sent": self.sent}


def outcome(
    run_dir: Path, events: Iterable[dict[str, Any]], standing: RunStatus | None = None
) -> dict[str, Any]:
    """The manifest's ``outcome``: how the run in ``run_dir`` with ``events`` ended.

    ``events`` is read once, so a stream of them will do (``iter_records``): a long run's
    events need not be held. ``sealed`` is the seal as ``standing`` (the run's status, read
    here unless given) reads it, never the events' ``SESSION_STOPPED`` alone; a seal the
    files do not bear out is ``seal_problem``; a position the venue's fills put in doubt,
    ``position_in_doubt`` (status's words: the seal's book is only the book's then); a
    run that faulted in its wind-down once the book had no order open and was flat,
    ``wound_down``, and one that faulted while an order was open or a position held,
    ``winding_down`` (``faulted_in_wind_down``).
    """
    if standing is None:
        from ..status import run_status  # noqa: PLC0415 - the caller usually has it

        standing = run_status(run_dir)
    ending = _Ending()
    if stamped_apart(read_json_object(run_dir / names.CONFIG)):
        ending.clock = LongestGap()
    actions = actions_in(ending.each(events))
    stopped, started, fault, stop = ending.stopped, ending.started, ending.fault, ending.stop
    refused = ending.refused
    snapshots = read_records(run_dir / names.SNAPSHOTS)  # a line per transition: few
    final = snapshots[-1] if snapshots else {}
    seal, planned = stopped or {}, (started or {}).get("steps_planned")
    # A broken run (verify says how) may hold anything: what is not of its kind is left out.
    positions = final.get("positions")
    orders = final.get("open_orders")
    wind_down = faulted_in_wind_down(seal.get("reason"), snapshots)
    resumes = resumes_in(run_dir)
    found: dict[str, Any] = {
        "sealed": standing.sealed,
        "status": seal.get("status"),
        "fsm_state": seal.get("fsm_state"),
        "reason": seal.get("reason", ""),
        "stop_reason": None if stop is None else stop.get("reason", ""),
        "steps": seal.get("steps"),
        "steps_planned": planned,
        "equity": seal.get("equity"),
        "pnl": seal.get("pnl"),
        "positions": {
            str(symbol): qty
            for symbol, qty in sorted((positions if isinstance(positions, dict) else {}).items())
            if _nonzero(qty)
        },
        "open_orders": list(orders) if isinstance(orders, list) else [],
        "operator_actions": told_actions(actions, planned, when=True),
    }
    # Each is told only when there is one: a run without them keeps the outcome it had.
    extras = {
        "seal_problem": standing.problem,
        # An unsealed run whose sink, store or checkpoint refused a write (a full disk): its
        # metrics.json, or its process's log (status's ``stopped by``); no run record holds it.
        "stopped_by": unsealed_by(standing),
        "position_in_doubt": standing.position_in_doubt,
        # A fault in the wind-down once it had cancelled and flattened (the book's), or
        # while it was under way (an order still open, a position held).
        "wound_down": wind_down == WOUND_DOWN,
        "winding_down": wind_down == MID_WIND_DOWN,
        "refused_by": refused,
        "longest_gap": _gap(ending.clock),
        "halts": ending.halts.found,
        "refusals": ending.refused_orders(),
        "flattened": ending.flattened.found,
        "resumes": resumes,
        # Why the process stopped before a resume, when it stopped itself (a full disk).
        "stopped_itself": set_aside_stops(run_dir, resumes) if resumes else [],
        "time_span": [format_utc_ns(min(ending.times)), format_utc_ns(max(ending.times))]
        if ending.times
        else [],
    }
    found |= {key: value for key, value in extras.items() if value}
    if fault is not None:
        detail = fault.get("detail")
        found["fault"] = {
            "reason": fault.get("reason", ""),
            "detail": detail if isinstance(detail, dict) else {},
        }
    return found


def _gap(clock: LongestGap | None) -> dict[str, Any] | None:
    """``longest_gap``: the longest time by a clock not the run's between two events."""
    if clock is None or clock.longest is None:
        return None
    took, step, at = clock.longest
    return {"ns": took, "step": step, "ts_utc": format_utc_ns(at)}


def outcome_lines(found: dict[str, Any], where: Path, *, data_file: bool = False) -> list[str]:
    """The document's section for ``found``, of the run at ``where`` (its absolute path).

    ``data_file``: the run read a data file (the manifest's ``data``), whose bars keep their
    own times; the line names one only then (a random walk's times are its clock's).
    """
    lines = ["## How the run ended", ""]
    if not found["sealed"]:
        lines.append(f"The run is **not sealed**: {_unsealed(found, where)}.")
        stops = found.get("stopped_itself") or []
        return [*lines, *_halt_lines(found), *_resume_lines(found, stops), ""]
    planned = found["steps_planned"]
    steps = md_text(found["steps"]) + ("" if planned is None else f" of {md_text(planned)}")
    reason = f", reason {md_code(found['reason'])}" if found["reason"] else ""
    stop = found["stop_reason"]
    # Said only of a run that ended early, as the report's header says it: a run that ran
    # all its steps was stopped by their end (`session closed`, `max_steps reached`).
    if stop and stop != found["reason"] and ended_early(found["steps"], planned):
        reason += f", stopped: {md_code(stop)}"
    status, state = md_text(found["status"]), md_code(found["fsm_state"])
    lines.append(f"- **{status}** in {state} after {steps} steps{reason}.")
    span = found.get("time_span")
    if span:
        bars = ": a data file's bars at their own times" if data_file else ""
        lines.append(
            f"- Run time: {md_text(span[0])} to {md_text(span[1])} (UTC, the run's simulated "
            f"time{bars}), its first and last record."
        )
    gap = found.get("longest_gap")
    if gap:
        lines.append(
            f"- Longest time between two records by the clock that stamped them (`ts_utc`): "
            f"{gap['ns'] / 1e9:.1f} s, up to {md_text(gap['ts_utc'])} in step "
            f"{md_text(gap['step'])} ({GAP_CAUSES})."
        )
    lines += [
        f"- Preflight check {md_code(check['check'])} refused it: {md_text(check['detail'])}."
        for check in found.get("refused_by", ())
    ]
    lines += _halt_lines(found) + _refusal_lines(found)
    stops = found.get("stopped_itself") or []
    lines += _resume_lines(found, stops) + set_aside_lines(stops)
    fault = found.get("fault")
    if fault is not None:
        detail = "; ".join(
            f"{md_text(k)}: {md_text(v)}" for k, v in sorted(fault["detail"].items())
        )
        lines.append(f"- Fault {md_code(fault['reason'])}" + (f": {detail}." if detail else "."))
    held = ", ".join(
        f"{md_text(symbol)} {md_text(qty)}" for symbol, qty in found["positions"].items()
    )
    lines += [_flattened_line(order) for order in found.get("flattened", ())]
    orders = [md_text(_order(order)) for order in found["open_orders"]]
    doubt = found.get("position_in_doubt")
    if doubt:  # the venue filled what the book did not take: never plain "flat"
        held = f"{held or 'flat'} in the book (in doubt: {md_text(doubt)}, not booked)"
    lines.append(
        f"- At the seal: position {held or 'flat'}; "
        + (f"{len(orders)} open order(s): {'; '.join(orders)}" if orders else "no open order")
        + f"; equity {_amount(found['equity'])}, PnL {_amount(found['pnl'])}."
    )
    actions = found["operator_actions"]
    lines.append(
        "- Operator actions: "
        + (", ".join(md_code(a) for a in actions) + "." if actions else "none.")
    )
    said = [*actions, found["reason"], found["stop_reason"]]
    for halt in found.get("halts", ()):
        said += [halt.get("reason"), halt.get("reenabled_by")]
    acted = [
        name for name in ACTED_BY if any(text == name or f"'{name}'" in str(text) for text in said)
    ]
    if acted:
        who = "; ".join(f"{md_code(name)} is {md_text(ACTED_BY[name])}" for name in acted)
        sent = not _SENT.isdisjoint(acted)
        lines.append(f"- Who acted: {who}." + (_NO_PERSON if sent else ""))
    return [*lines, ""]


def _flattened_line(order: dict[str, Any]) -> str:
    """A flatten order the session sent as the run wound down, not the strategy's.

    One the venue cancelled, rejected or filled in part says what it left open.
    """
    if fate := flatten_fate(order):
        return (
            "- The session sent a `flatten` order of its own for what the strategy still held "
            f"as the run wound down, {md_text(flatten_words(order))}: {md_text(fate)}."
        )
    return (
        "- The session flattened what the strategy still held as the run wound down: "
        f"{md_text(flatten_words(order))}, a `flatten` order of its own."
    )


def _refusal_lines(found: dict[str, Any]) -> list[str]:
    """The orders the rails refused, by rule, with the step and time of each rule's first.

    A run whose rails refused every order its strategy asked for seals ``COMPLETED`` with
    its PnL 0: the reader of the document's first screen is told so here, not only by the
    rails' table further down.
    """
    refusals = found.get("refusals")
    if not refusals:
        return []
    ranked = sorted(refusals["by_rule"].items(), key=lambda item: -item[1]["count"])
    split = rails_and_checks(ranked)
    said: list[str] = []
    for kind, rules in zip(("Rails", "The session's own order checks"), split, strict=True):
        if not rules:
            continue
        each = "; ".join(
            f"{md_code(rule)} {md_text(it['count'])} time(s), the first in step "
            f"{md_text(it['from_step'])}" + (f" ({md_text(it['at'])})" if it["at"] else "")
            for rule, it in rules
        )
        total = sum(it["count"] for _rule, it in rules)
        asked = "" if said else " the strategy asked for"
        said.append(f"{kind if not said else kind.lower()} refused {total} order(s){asked}: {each}")
    rail = "rule" if split[1] else "rail"
    return [
        (
            f"- {'; '.join(said)}; {md_text(refusals['orders_sent'])} order(s) were sent in all "
            f'(each {rail}: docs/risk.md, "The rails"; the table below counts them).'
        )
    ]


def _unsealed(found: dict[str, Any], where: Path) -> str:
    """Why a run is not sealed, as ``status`` reads the seal."""
    problem = found.get("seal_problem")
    if problem:
        verify = md_code(command("verify", where))
        return f"{md_text(problem)} ({verify} says what is wrong: keep the run as it is)"
    if found.get("stopped_by"):
        said = unsealed_because(md_text(found["stopped_by"]))
        return f"{said} ({md_code(command('status', where))} says what must be so to resume it)"
    if found["status"] is None:
        return "it has no `SESSION_STOPPED` event"
    return (
        "its events hold `SESSION_STOPPED`, but the seal was not finished "
        f"({md_code(command('status', where))} says where the run stands)"
    )


def _nonzero(quantity: object) -> bool:
    value = finite_decimal(quantity)
    return value is None or value != 0  # an unreadable quantity is shown, not hidden


def _order(order: object) -> str:
    """``cid BUY 0/0.010 BTC/USDT``, as the wind-down's own record writes an open order."""
    if not isinstance(order, dict):
        return str(order)
    return (
        f"{order.get('client_order_id')} {order.get('side')} "
        f"{order.get('filled')}/{order.get('quantity')} {order.get('symbol')}"
    )


def _amount(value: object) -> str:
    """An amount the seal records, as the report shows it (``amount_text``): ``226.53``."""
    number = finite_decimal(value, allow_int=True)
    return md_text(value if number is None else amount_text(number))


def _halt_lines(found: dict[str, Any]) -> list[str]:
    """``- Trading **HALTED** from step 40 to the end of the run (...): the daily-loss cap ...``."""
    to_the_end = "to the end of the run (no new order from then on)"
    return [
        f"- Trading **HALTED** "
        f"{halt_text(halt, to_the_end, md_code, md_text, steps=found.get('steps'))}."
        for halt in found.get("halts", ())
    ]


def _resume_lines(found: dict[str, Any], stops: list[dict[str, Any]]) -> list[str]:
    """``- **Resumed** after a crash once: ...``; not ``after a crash`` after a stop.

    When some resumes followed a crash and some a process that stopped itself (``stops``),
    each is said with its own cause: ``from step 50 (...), after a crash; from step 150
    (...), after the process stopped itself unsealed (SINK_WRITE_FAILED), not a crash``; so
    is each when the session log names a refused write before one (its ``stopped_by``).
    """
    resumes = found.get("resumes", ())
    if not resumes:
        return []
    times = "once" if len(resumes) == 1 else f"{len(resumes)} times"
    logged = any("stopped_by" in resume for resume in resumes)  # each names its own line
    if mixed(stops, len(resumes)) or logged:
        causes = causes_of(resumes, stops)
        each = "; ".join(
            f"{_resumed(resume)}, {md_text(cause)}"
            for resume, cause in zip(resumes, causes, strict=True)
        )
        lines = [f"- **Resumed** {times}: {each}."]
        crashes = [r for r, cause in zip(resumes, causes, strict=True) if cause == "after a crash"]
    else:
        each = "; ".join(_resumed(resume) for resume in resumes)
        lines = [f"- **Resumed** {'' if stops else 'after a crash '}{times}: {each}."]
        crashes = [] if stops else list(resumes)
    if any(resume["torn_bytes"] for resume in crashes):
        lines.append(_RESUME_MEANS)
    return lines


_RESUME_MEANS = (
    "- What that means: the process stopped without sealing the run (killed, or its machine "
    "went down), and `livesession resume` went on from the last checkpoint, doing the steps "
    "after it again; the torn bytes are what the stopped process had written past that "
    "checkpoint, kept apart in `<file>.torn`, outside the run's record."
)
"""Said under a crash's resume, once: "torn bytes" and a checkpoint in plain words."""


def _resumed(resume: dict[str, Any]) -> str:
    """``from step 100 (torn bytes set aside: events.jsonl 212 B)``."""
    if resume["checkpoint"] is False:
        text = "from the start (no checkpoint yet)"
    else:
        text = f"from step {md_text(resume['from_step'])}"
    torn = resume["torn_bytes"]
    if torn:
        sizes = ", ".join(f"{md_text(name)} {md_text(size)} B" for name, size in torn.items())
        text += f" (torn bytes set aside in `<file>.torn`: {sizes})"
    return text
