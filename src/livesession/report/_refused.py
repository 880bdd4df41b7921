"""The report header's lines for the orders the rails refused, and for why a run resumed.

A run whose rails refused every order its strategy asked for seals ``COMPLETED`` with a
PnL of 0, and its header said only ``status COMPLETED · 400 of 400 steps``: the refusals
were counted far below, in the rails' table. The header says them (by rule, from when)
and how many orders were sent, as the evidence's "How the run ended" does. Its
``Resumed 2 times, ...`` said how often a run was resumed, never why: a crash (the
process stopped without sealing), or a process that stopped itself unsealed (a write the
system refused), which the evidence tells apart (``evidence._torn``). A run not sealed that
no process writes is said stopped: by a crash, or by the write the system refused. And
its key metrics said ``final positions flat`` of a run whose strategy still held a
position at its last bar, which the session's wind-down sold: a row says the session's
flatten, as the evidence does (``_rundir/flattens.py``).
"""

from __future__ import annotations

from html import escape
from typing import TYPE_CHECKING

from .._artifacts import names
from .._artifacts.releases import release_of, unlocked_writer
from .._artifacts.runread import read_json_object
from .._domain.clock import format_utc_ns
from .._risk.kinds import rails_and_checks
from .._rundir.flattens import flatten_fate, flatten_words
from .._rundir.refused import refused_stop, store_refusal, unsealed_because
from .._version import __version__
from ..evidence._torn import mixed, resumes_in, set_aside_stops

if TYPE_CHECKING:
    from ._reading import ReportRun

__all__ = ["flattened_rows", "refused_line", "resumed_why", "stopped_unsealed"]

_CRASH = "the process stopped without sealing the run (a crash, or a kill)"


def refused_line(run: ReportRun) -> str:
    """``<p class="sub">Rails refused ...</p>``; "" when no rail or order check refused one.

    The rails (limits) and the session's own order checks (``QTY_BELOW_LOT`` ...) are
    said apart: a run its checks refused asked for orders no venue takes.
    """
    refused = run.tallies.rails
    if not refused:
        return ""
    ranked = sorted(refused.items(), key=lambda kv: -kv[1][0])
    said: list[str] = []
    rail = "rule" if rails_and_checks(ranked)[1] else "rail"
    for kind, rules in zip(
        ("Rails", "The session's own order checks"), rails_and_checks(ranked), strict=True
    ):
        if not rules:
            continue
        each = "; ".join(
            f"{rule} {count:,} time(s) from {format_utc_ns(first)}"
            for rule, (count, first, _last) in rules
        )
        total = sum(count for _rule, (count, _first, _last) in rules)
        asked = "" if said else " the strategy asked for"
        said.append(
            f"{kind if not said else kind.lower()} refused {total:,} order(s){asked}: {each}"
        )
    sent = run.tallies.kinds.get("ORDER_SUBMITTED", 0)
    return (
        f'<p class="sub">{escape("; ".join(said))}; {sent:,} order(s) were sent in all (each '
        f"{rail} under Limits, preflight checks and rails)</p>\n"
    )


def resumed_why(run: ReportRun) -> str:
    """``<p class="sub">Why: ...</p>`` under a resumed run's line; "" for a run never resumed.

    Each resume after its own stop: a crash, a process that stopped itself (``audit.jsonl.torn``),
    or one the session log says a refused write stopped (``unsealed_because``, the words the
    header said of the run before its resume).
    """
    if not run.resumed:
        return ""
    resumes = resumes_in(run.run_dir)
    stops = set_aside_stops(run.run_dir, resumes)
    itself = "stopped itself, unsealed (a write the system refused: see audit.jsonl.torn)"
    set_aside = {stop.get("resume") for stop in stops}
    whys = [
        f"its process {itself}"
        if n in set_aside
        else unsealed_because(resume.get("stopped_by", ""), _CRASH)
        for n, resume in enumerate(resumes, 1)
    ]
    why = whys[0] if whys else _CRASH
    if any("stopped_by" in resume for resume in resumes) and len(set(whys)) > 1:
        why = "; ".join(f"before resume {n}, {each}" for n, each in enumerate(whys, 1))
    elif mixed(stops, len(resumes)):  # each resume's own cause, counted
        crashes = whys.count(_CRASH)
        why = f"{_CRASH} before {crashes} resume(s), and {itself} before {len(whys) - crashes}"
    return (
        f'<p class="sub">Why: {escape(why)}, and livesession resume went on from the last '
        "checkpoint, doing the steps after it again</p>\n"
    )


def flattened_rows(run: ReportRun) -> list[tuple[str, str]]:
    """The key metrics' row for the session's own flatten as the run wound down, if any."""
    found = run.tallies.flattens.found
    if not found:
        return []
    fates = [(order, flatten_fate(order)) for order in found]
    rows = []
    if closed := [flatten_words(order) for order, fate in fates if not fate]:
        said = "; ".join(closed)
        rows.append(
            ("flattened by the session", f"{said}: what the strategy held as the run wound down")
        )
    if left := [f"{flatten_words(order)}, {fate}" for order, fate in fates if fate]:
        said = "; ".join(left)
        rows.append(("flatten not done", f"{said}: what the strategy held as the run wound down"))
    return rows


def stopped_unsealed(run: ReportRun) -> str:
    """A run not sealed that no process writes: stopped, never running, as ``status`` says.

    Its badge is the status its last record holds (``RUNNING``), and a live run's line
    names who writes it: without this one, a run killed -9 read as a run still going. A
    run whose sink, store or checkpoint the system refused (a full disk) is said so, as
    ``status`` says it (``refused_write``, its ``stopped by``), not as a crash: in the
    evidence's words (``unsealed_because``), which said ``on a refused write, ...`` here.
    """
    if run.sealed or run.seal_doubt:
        return ""
    # The checkpoint's own step: metrics.json is rewritten just before it, so a run killed
    # between the two has metrics a checkpoint ahead of where a resume continues.
    steps = read_json_object(run.run_dir / names.CHECKPOINT).get("steps")
    at = f" (step {steps:,})" if isinstance(steps, int) and not isinstance(steps, bool) else ""
    if version := unlocked_writer(run.run_dir):
        return (
            '<p class="sub bad">Not sealed (no <code>C2_DRYRUN_STOP</code>), and not known to '
            f"have stopped: livesession {escape(version)} wrote it and takes no "
            f"<code>{names.WRITER_LOCK}</code>, so whether a process still writes it cannot be "
            "told. Look for that process on its host first; once none does, livesession "
            f"{escape(release_of(version))}.x continues it from its last checkpoint"
            f"{escape(at)} (this {__version__} continues only runs of its own release).</p>\n"
        )
    refused = refused_stop(run.run_dir, store_refusal(run.run_dir).says())
    how = (
        f"it stopped without sealing after the last step recorded: "
        f"{escape(unsealed_because(refused))}"
        if refused
        else "it stopped without sealing (a crash, a kill, a power cut) after the last step "
        "recorded"
    )
    return (
        '<p class="sub bad">Not running: no process writes this run and it is not sealed (no '
        f"<code>C2_DRYRUN_STOP</code>): {how}. <code>livesession status RUN_DIR</code> says "
        "whether <code>livesession resume RUN_DIR</code> continues it from its last "
        f"checkpoint{escape(at)}.</p>\n"
    )
