"""The report as one HTML document: the sections, their tables (its CSS: _style)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.outmode import run_mode_file
from .._domain.decimal import finite_decimal, plain, with_context
from .._rundir.alertlog import alerts_row
from .._rundir.statuswords import describe_orders
from .._support.outfile import write_output
from ._book import Book
from ._fired import fired_tables
from ._integrity import CHECKED, CHECKED_LIVE
from ._reading import ReportRun, sealed_open_orders, ts_sim_of
from ._refused import flattened_rows, refused_line, resumed_why, stopped_unsealed
from ._sections import (
    amount,
    data_gaps,
    identity,
    limits_and_checks,
    money,
    notable_events,
    profit_and_loss,
    span_text,
    table,
    trades,
    verdict,
)
from ._series import Flag, flags
from ._style import CSS
from ._svg import (
    PRICE_LEGEND,
    SELL,
    SERIES_COLOURS,
    STATUS_COLOURS,
    TIMELINE_ALT,
    WIDTH,
    chart,
    duration,
    escape,
    svg_open,
    utc_text,
)

if TYPE_CHECKING:
    from collections.abc import Callable
    from os import PathLike

    from ..verify import VerifyResult

__all__ = ["render_report", "write_report"]

_NOT_SEALED: Final = "NOT SEALED"
_NOT_VERIFIED: Final = "NOT VERIFIED"
_STATUS_COLOURS: Final = {
    **STATUS_COLOURS,
    _NOT_SEALED: STATUS_COLOURS["REJECTED"],
    _NOT_VERIFIED: STATUS_COLOURS["REJECTED"],
}
_OTHER_STATUS: Final = ("#f3f4f6", "#374151")


@with_context
def render_report(
    run_dir: str | PathLike[str],
    *,
    verify: bool | VerifyResult = False,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """The HTML report of the run in ``run_dir``: one self-contained document.

    Never fetches anything and contains no script; missing or broken artifacts are
    shown as such instead of raising. By default the report makes its own integrity
    checks in the one pass it reads the run with (the audit chain, the digests it closes
    with, contiguous ``seq``); ``verify=True`` runs the full verifier too (slower), and a
    ``VerifyResult`` the caller already has is shown as it is. ``progress`` is told
    ``(bytes read, bytes in all)`` of events.jsonl while the run is read.
    """
    return _render(ReportRun.load(Path(run_dir), verify=verify, progress=progress))


def _render(run: ReportRun) -> str:
    book = run.book
    marks = flags(run)
    sections = (
        _header(run),
        _section("Verification", _verification(run)),
        _section("Identity", identity(run)),
        _section("Limits, preflight checks and rails", limits_and_checks(run) + fired_tables(run)),
        _section("Key metrics", _metrics_table(run)),
        _section("Profit and loss", profit_and_loss(run, book)),
        _section("Price, orders and fills", _price_charts(run, marks)),
        _section("Position and equity", _position_and_equity(run, book, marks)),
        _section("Trades", trades(run, book)),
        _section("Resumes, kills and operator events", notable_events(run, marks)),
        _section("State timeline", _state_timeline(run)),
        _section("Rejects by reason", _rejects_table(run)),
    )
    title = f"livesession run {run.run_id}"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        # No script, no URL, nothing fetched (docs/report.md): the browser holds the page to it.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(sections)
        + "\n<footer>Drawn from the run's artifacts. Time axes are UTC (simulated time of the "
        "run); long runs are thinned to the lowest and highest point per pixel column, and "
        "every reject, rail block, kill, halt, resume and operator event keeps its own mark."
        "</footer>\n</body>\n</html>\n"
    )


@with_context
def write_report(
    run_dir: str | PathLike[str],
    path: str | PathLike[str],
    *,
    verify: bool | VerifyResult = False,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """Write ``render_report(run_dir, ...)`` to ``path`` atomically (temporary file, rename).

    A symlink at ``path`` is followed, and stays: the file it leads to is replaced, or a
    pipe, a terminal, ``/dev/stdout`` is written through (``_support.outfile``).
    Returns what the report says of a live run ("" for one no process is writing).
    """
    run = ReportRun.load(Path(run_dir), verify=verify, progress=progress)
    # Into the run directory: the run's mode, not the umask's (_artifacts.outmode).
    like = run_mode_file(Path(run_dir), Path(path).parent)
    write_output(Path(path), _render(run).encode("utf-8"), like=like)
    return run.live


def _section(title: str, body: str) -> str:
    return f"<section>\n<h2>{escape(title)}</h2>\n{body}\n</section>"


def _badge(status: str) -> str:
    fill, stroke = _STATUS_COLOURS.get(status, _OTHER_STATUS)
    return (
        f'<span class="badge" style="background:{fill};border-color:{stroke};color:{stroke}">'
        f"{escape(status)}</span>"
    )


_LIFTED: Final = 5
"""The halts an operator lifted that the header says one by one (the section lists all)."""


def _header(run: ReportRun) -> str:
    ending, lifted = run.ending, run.lifted_halts
    return (
        f"<header>\n<h1>Run <code>{escape(run.run_id)}</code></h1>\n"
        f'<p class="sub">strategy <code>{escape(run.strategy_id)}</code> &middot; status '
        f"{_badge(run.status)}"
        + ("" if run.sealed else f" {_badge(_NOT_SEALED)}")
        + (f" &middot; {escape(ending)}" if ending else "")
        + "</p>\n"
        + _broken(run)
        + f'<p class="sub">{escape(span_text(run))}</p>\n'
        + data_gaps(run)
        + refused_line(run)
        + (
            f'<p class="sub">Resumed {escape(run.resumed)} (each is listed under Resumes, kills '
            "and operator events)</p>\n"
            if run.resumed
            else ""
        )
        + resumed_why(run)
        + "".join(
            f'<p class="sub">Halted and re-enabled: {escape(h)}</p>\n' for h in lifted[:_LIFTED]
        )
        + (
            f'<p class="sub">... and {len(lifted) - _LIFTED:,} more.</p>\n'
            if len(lifted) > _LIFTED
            else ""
        )
        + (_doubt(run.seal_doubt) if run.seal_doubt else "")
        + (f'<p class="sub">Next: {escape(run.next_step)}</p>\n' if run.next_step else "")
        + (
            f'<p class="sub">{escape(run.live[:1].upper() + run.live[1:])}.</p>\n'
            if run.live
            else stopped_unsealed(run)
        )
        + "</header>"
    )


def _broken(run: ReportRun) -> str:
    """A sealed run whose files fail the checks, said at the top: its badge alone read well.

    A run not sealed has its own badge, and its Verification section says what it lacks.
    """
    total = run.verified.total if run.verified is not None else run.integrity.total
    if not run.sealed or not total:
        return ""
    return (
        f'<p class="sub bad">{_badge(_NOT_VERIFIED)} {total:,} violation(s), listed under '
        "Verification: these files are not the run as it sealed them, or break the contract; "
        "read them before any figure below.</p>\n"
    )


def _doubt(doubt: str) -> str:
    """A seal the files do not bear out, said as ``status`` says it, and what to do."""
    return (
        f'<p class="sub bad">{escape(doubt[:1].upper() + doubt[1:])}: a person must look '
        "(<code>livesession verify RUN_DIR</code> says what is wrong); keep the run as it "
        "is.</p>\n"
    )


def _verification(run: ReportRun) -> str:
    full = (
        "Full verification (schemas, event ids, lifecycle, metrics, positions) is "
        "<code>livesession verify RUN_DIR</code>, or <code>livesession report RUN_DIR "
        "--verify</code> to run it inside the report."
    )
    if run.verified is not None:
        verified = run.verified
        return verdict(
            verified.violations, full=True, total=verified.total, summary=verified.summary
        )
    if run.live_steps == 0:
        return (
            "<p><strong>Not checked yet:</strong> a live run is read and checked up to its "
            f"last checkpoint, and this one has none yet.</p>\n<p>{full}</p>"
        )
    live = run.live_steps is not None
    checked = "\n".join(f"<li>{escape(c)}</li>" for c in (CHECKED_LIVE if live else CHECKED))
    missing = (
        '<p class="empty">Not fully verified: jsonschema, which livesession depends on for '
        "the JSON schemas, is missing from this environment: install it "
        "(<code>pip install jsonschema</code>).</p>\n"
        if run.no_schemas
        else ""
    )
    return (
        missing
        + verdict(
            run.integrity.problems, full=False, total=run.integrity.total, live=run.live_steps
        )
        + f"\n<p>What this report checked, in the one pass it reads the run with:</p>\n"
        f"<ul>\n{checked}\n</ul>\n<p>{full}</p>"
    )


def _metrics_table(run: ReportRun) -> str:
    """The counts as the events give them, a count metrics.json says otherwise flagged.

    A sealed run's equity and positions are its final snapshot's; an unsealed run's are
    the replayed book's at its last recorded step, and never called final.
    """
    kinds = Counter(run.tallies.kinds)
    counted = run.tallies.counted()
    lines = run.integrity.lines
    start, end = run.span
    rows = [
        ("status", run.status if run.sealed else f"{run.status} (not sealed)"),
        ("steps (bars)", _count(run, "steps", counted["steps"])),
        ("events", _count(run, "events_emitted", lines.get(names.EVENTS, 0))),
        ("state snapshots", _count(run, "state_snapshots", lines.get(names.SNAPSHOTS, 0))),
        ("audit records", _count(run, "audit_events", lines.get(names.AUDIT, 0))),
        ("signals", str(kinds["SIGNAL"])),
        ("orders submitted", _count(run, "orders_submitted", counted["orders_submitted"])),
        ("fills", _count(run, "fills", counted["fills"])),
        ("risk blocks", str(kinds["RISK_REJECTED"])),
        ("broker rejects", str(kinds["ORDER_REJECTED"])),
        *([("strategy cancels", run.tallies.cancels_text())] if kinds["STRATEGY_CANCEL"] else []),
        ("sink retries", _count(run, "sink_retries", counted["sink_retries"])),
        ("broker retries", _broker_retries(run)),
        (
            "unknown outcomes (resolved)",
            f"{kinds['ORDER_OUTCOME_UNKNOWN']} ({kinds['ORDER_OUTCOME_RESOLVED']})",
        ),
        ("duplicate reports", str(kinds["DUPLICATE_REPORT"])),
        ("late fills (after cancel)", _count(run, "late_fills", counted["late_fills"], 0)),
        ("broker unhealthy halts", str(kinds["BROKER_UNHEALTHY"])),
        *alerts_row(run.run_dir),
        *_holdings(run),
        *flattened_rows(run),
        ("simulated span", duration(end - start)),
        ("audit head", run.integrity.sha256.get("audit head") or "(none)"),
    ]
    return table(("metric", "value"), rows, frozenset(), "Key metrics")


def _count(run: ReportRun, field: str, value: int, absent: int | None = None) -> str:
    """``value`` from the files, with what metrics.json says when that is something else.

    ``absent`` is what a field metrics.json leaves out stands for (``late_fills`` is
    written once non-zero); with None a left-out field claims nothing.
    """
    claimed = run.metrics.get(field, absent)
    if claimed is None or claimed == value:
        return str(value)
    if not run.sealed and not run.seal_doubt:  # a seal in doubt wrote its metrics.json
        return f"{value} (metrics.json, of the last checkpoint, says {claimed})"
    return f"{value} (metrics.json says {claimed})"


def _holdings(run: ReportRun) -> list[tuple[str, str]]:
    """Equity and positions: the seal's, or (not sealed) the events' at the last step."""
    if not run.sealed:
        book = run.book
        at = f"step {run.steps_recorded:,}"
        held = ", ".join(f"{s} {plain(q)}" for s, q in book.final_positions.items() if q)
        return [
            (f"equity at {at} (not sealed; marked at its close)", money(book.final_equity)),
            (f"positions at {at} (not sealed; from the fills)", held or "flat"),
        ]
    final = run.snapshots[-1] if run.snapshots else {}
    found = final.get("positions")
    positions: dict[str, Any] = found if isinstance(found, dict) else {}
    held = ", ".join(
        f"{s} {q}" for s, q in sorted(positions.items()) if finite_decimal(q, allow_int=True) != 0
    )
    doubt = (
        run.position_in_doubt and f" in the book; in doubt: {run.position_in_doubt} (not booked)"
    )
    orders = sealed_open_orders(run, final)  # what the seal left, as `status` says
    return [
        ("final equity", amount(final.get("equity"))),
        ("final positions", (held or "flat") + doubt),
        (
            "final open orders",
            describe_orders(orders, "") if orders is not None else "(not recorded)",
        ),
    ]


def _broker_retries(run: ReportRun) -> str:
    """Retried broker calls, in total and per operation (``submit 3, lookup 1``)."""
    per = run.tallies.retries
    if not per:
        return "0"
    return f"{sum(per.values())} (" + ", ".join(f"{op} {n}" for op, n in sorted(per.items())) + ")"


def _rejects_table(run: ReportRun) -> str:
    counts = run.tallies.rejects
    if not counts:
        return '<p class="empty">No rejects.</p>'
    rows = [(source, reason, str(n)) for (source, reason), n in sorted(counts.items())]
    return table(("source", "reason", "count"), rows, frozenset({2}), "Rejects by reason")


def _state_timeline(run: ReportRun) -> str:
    snaps = run.snapshots
    if not snaps:
        return '<p class="empty">No state snapshots.</p>'
    box_w, gap, top, box_h = 176, 22, 30, 46
    width = max(WIDTH, len(snaps) * (box_w + gap))
    parts = [svg_open(width, top + box_h + 44, TIMELINE_ALT, arrow=True)]
    for index, snap in enumerate(snaps):
        x = index * (box_w + gap) + 2
        status = str(snap.get("status", ""))
        fill, stroke = _STATUS_COLOURS.get(status, _OTHER_STATUS)
        state = str(snap.get("fsm_state", "?"))
        trigger = str(snap.get("trigger", "?"))
        tooltip = f"#{snap.get('seq')} {trigger}: {snap.get('from_state')} -> {state} ({status})"
        parts.append(
            f'<g><title>{escape(tooltip)}</title><rect x="{x}" y="{top}" width="{box_w}" '
            f'height="{box_h}" rx="6" fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{x + 6}" y="{top + 18}" class="strong">{escape(_clip(state, 26))}</text>'
            f'<text x="{x + 6}" y="{top + 36}">{escape(status)}</text></g>'
        )
        parts.append(f'<text x="{x}" y="{top - 10}">{escape(_clip(trigger, 24))}</text>')
        when = f"step {snap.get('step', '?')} · {utc_text(ts_sim_of(snap) + run.utc_offset_ns)}"
        parts.append(f'<text x="{x}" y="{top + box_h + 16}">{escape(when)}</text>')
        if index:
            ax = x - gap + 2
            parts.append(
                f'<path d="M{ax} {top + box_h / 2}h{gap - 8}" stroke="#6b7280" '
                f'marker-end="url(#arrow)"/>'
            )
    parts.append("</svg>")
    rows = [
        (
            str(s.get("seq", "")),
            utc_text(ts_sim_of(s) + run.utc_offset_ns),
            str(s.get("trigger", "")),
            f"{s.get('from_state', '')} → {s.get('fsm_state', '')}",
            str(s.get("status", "")),
            str(s.get("step", "")),
            amount(s.get("equity"), ""),
        )
        for s in snaps
    ]
    listed = table(
        ("seq", "time (UTC)", "trigger", "transition", "status", "step", "equity"),
        rows,
        frozenset({0, 5, 6}),
        "State snapshots, in order",
    )
    return "\n".join(parts) + "\n" + listed


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _price_charts(run: ReportRun, marks: list[Flag]) -> str:
    prices = run.closes
    if not prices:
        return '<p class="empty">No bars in this run.</p>'
    markers = run.markers
    charts = []
    for symbol in sorted(prices):
        drawn = chart(
            f"Close of {symbol}",
            [(symbol, SERIES_COLOURS[0], prices[symbol])],
            markers.get(symbol, []),
            run.span,
            utc_offset_ns=run.utc_offset_ns,
            flags=marks,
        )
        charts.append(f"<h3>{escape(symbol)}</h3>\n{drawn}")
    return "\n".join(charts) + "\n" + PRICE_LEGEND


def _position_and_equity(run: ReportRun, book: Book, marks: list[Flag]) -> str:
    by_symbol = book.positions
    offset = run.utc_offset_ns
    parts = []
    if by_symbol:
        lines = [
            (symbol, SERIES_COLOURS[i % len(SERIES_COLOURS)], series)
            for i, (symbol, series) in enumerate(sorted(by_symbol.items()))
        ]
        parts.append(
            "<h3>Position (net quantity)</h3>\n"
            + chart("Position", lines, [], run.span, utc_offset_ns=offset, flags=marks)
        )
        parts.append(_legend([(s, c) for s, c, _ in lines]))
    else:
        parts.append('<p class="empty">No fills, so no position.</p>')
    if not book.equity:
        parts.append('<p class="empty">No bars, so no equity marked to market.</p>')
        return "\n".join(parts)
    parts.append(
        "<h3>Equity, marked to market at every bar</h3>\n"
        + chart(
            "Equity",
            [("equity", "#0f766e", book.equity)],
            [],
            run.span,
            utc_offset_ns=offset,
            flags=marks,
        )
    )
    parts.append(
        "<h3>Drawdown from the running peak</h3>\n"
        + chart(
            "Drawdown",
            [("drawdown", SELL, book.drawdown)],
            [],
            run.span,
            utc_offset_ns=offset,
            flags=marks,
            zero_line=True,
        )
    )
    pnl = [("realised PnL", SERIES_COLOURS[0], book.realised)]
    pnl.append(("unrealised PnL", SERIES_COLOURS[1], book.unrealised))
    parts.append(
        "<h3>Realised and unrealised PnL</h3>\n"
        + chart("PnL", pnl, [], run.span, utc_offset_ns=offset, flags=marks, zero_line=True)
    )
    parts.append(_legend([(name, colour) for name, colour, _ in pnl]))
    return "\n".join(parts)


def _legend(entries: list[tuple[str, str]]) -> str:
    return (
        '<p class="legend">'
        + "".join(f'<span style="color:{c}">━ {escape(s)}</span>' for s, c in entries)
        + "</p>"
    )
