"""The sections a reviewer asks for first: identity, limits and checks, PnL, trades, events.

Each function takes the run (and, for PnL, the replayed book) and returns HTML; every
piece of text from the run is escaped. The config is shown field by field, never whole:
only the fields named here appear, so nothing a config may hold for a venue (parameters
of a broker) reaches the report.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts.runread import payload
from .._artifacts.runtime import GAP_CAUSES
from .._domain.decimal import amount_text, finite_decimal, plain
from .._market.timeforms import epoch_unit, finite_number, text_ns
from .._rundir.supplied import by_factory
from .._support.references import IN_PROCESS
from .._support.text import natural_key
from ._book import MAX_TRADES_SHOWN
from ._svg import FLAG_COLOURS, escape, utc_text

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ._book import Book
    from ._reading import ReportRun
    from ._series import Flag

__all__ = [
    "MAX_TRADES_SHOWN",
    "amount",
    "data_gaps",
    "identity",
    "limits_and_checks",
    "money",
    "notable_events",
    "profit_and_loss",
    "span_text",
    "table",
    "trades",
    "verdict",
]

_MAX_EVENTS_SHOWN: Final = 300

_LIMIT_FIELDS: Final = (
    ("symbol", "symbol"),
    ("allowlist", "allowlist"),
    ("initial_cash", "initial cash"),
    ("steps", "steps planned"),
    ("max_steps", "max steps"),
    ("step_interval_ms", "step interval (ms)"),
    ("price_tick", "price tick"),
    ("qty_lot", "quantity lot"),
    ("enabled", "live trading enabled"),
)


def table(
    header: tuple[str, ...], rows: Sequence[Sequence[str]], numeric: frozenset[int], caption: str
) -> str:
    """An HTML table with its ``caption``; the columns in ``numeric`` are right-aligned.

    The caption names the table to a screen reader's table list and on paper, where a
    table broken over pages is far from its heading; each header cell is a column's.
    """
    head = "".join(f'<th scope="col">{escape(h)}</th>' for h in header)
    body = "\n".join(
        "<tr>"
        + "".join(
            f'<td class="num">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return (
        f"<table>\n<caption>{escape(caption)}</caption>\n<thead><tr>{head}</tr></thead>\n"
        f"<tbody>\n{body}\n</tbody>\n</table>"
    )


def _compact(value: object) -> str:
    """A config value as one line: text as it is, anything else as compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:
        return str(value)


def _started(run: ReportRun) -> dict[str, Any]:
    return next((payload(e) for e in run.events if e.get("event_type") == "SESSION_STARTED"), {})


def _venue_faults(config: dict[str, Any]) -> list[tuple[str, str]]:
    """The faults a simulated venue was told to inject, so a reviewer sees what was a drill.

    The ``[fill_model]`` of the ``mock`` and ``realish`` venues (rejects, partial fills,
    latency, slippage) and the ``[realish]`` network faults; none for any other broker.
    """
    broker = config.get("broker")
    rows: list[tuple[str, str]] = []
    tables = {"mock": ("fill_model",), "realish": ("fill_model", "realish")}
    for table in tables.get(broker, ()) if isinstance(broker, str) else ():
        value = config.get(table)
        if isinstance(value, dict):
            rows.append((f"venue faults [{table}]", _compact(value)))
    return rows


def identity(run: ReportRun) -> str:
    """What ran: config hashes, seed, broker, strategy and its code, data and its hash."""
    config, meta, started = run.config, run.run_meta, _started(run)
    missing = "(not recorded)"
    sources = config.get("sources")
    sources = sources if isinstance(sources, dict) else {}

    def source(role: str) -> dict[str, Any]:
        found = sources.get(role)
        return found if isinstance(found, dict) else {}

    def given(role: str, otherwise: object) -> str:
        """An object the run was given in ``role`` (``sources``), else what the config says."""
        record = source(role)
        if by_factory(record):  # a broker a caller's factory built
            return f"{record['object']} ({record['supplied']}, which built {record.get('built')})"
        if "object" in record:
            return f"{record['object']} (an {record.get('supplied', IN_PROCESS)})"
        return str(otherwise)

    strategy_ref = config.get("strategy_factory") or source("strategy").get("ref")
    # The built-in strategy's parameters are the ``strategy`` table; a plug-in's are its own,
    # and an object's are its own too, recorded nowhere.
    strategy_params = config.get("strategy_params" if strategy_ref else "strategy")
    if "object" in source("strategy"):
        strategy_params = "the object's own (not recorded)"
    # Without config.json nothing says which strategy ran, nor what data it read.
    built_in = "built-in SMA crossover (no reference)" if config else missing
    no_params = "(none)" if config else missing
    data = meta.get("data") if isinstance(meta.get("data"), dict) else {}
    rows = [
        ("run id", run.run_id),
        ("strategy id", run.strategy_id),
        # The digest the audit chain covers first (verify holds config.json to it); then
        # run.json's, of the whole config (durability and checkpoint_every too).
        ("config sha256 (audited)", str(started.get("config_sha256", missing))),
        ("full config hash", str(meta.get("config_hash", missing))),
        ("seed", str(config.get("seed", started.get("seed", missing)))),
        ("broker", given("broker", config.get("broker", started.get("broker", missing)))),
        ("clock", given("clock", config.get("clock_mode", started.get("clock_mode", missing)))),
        ("version", str(meta.get("version", started.get("version", missing)))),
        (
            "strategy",
            given("strategy", strategy_ref or built_in),
        ),
        ("strategy parameters", _compact(strategy_params) if strategy_params else no_params),
        *([] if "object" in source("broker") else _venue_faults(config)),
    ]
    # The desk's own, rails[2] before rails[10].
    rails = sorted((role for role in sources if role.startswith("rails[")), key=natural_key)
    for role in ("strategy", "feed", "broker", "clock", *rails):
        record = source(role)
        if record:
            where = record.get("ref") or record.get("object") or record.get("module") or role
            rows.append((f"{role} code", f"{where} sha256 {record.get('sha256', missing)}"))
    rows.append(("feed", given("feed", config.get("feed", missing))))
    if data:
        rows.append(
            (
                "data file",
                (
                    f"{data.get('path', missing)} sha256 {data.get('sha256', missing)} "
                    f"({data.get('rows', '?')} rows, "
                    f"{_data_span(data.get('first_time'), data.get('last_time'))})"
                ),
            )
        )
    elif config.get("feed_sha256"):
        rows.append(("data file", f"sha256 {config['feed_sha256']}"))
    else:
        rows.append(("data file", "none: the feed reads no file" if config else missing))
    note = (
        ""
        if config
        else '<p class="empty">config.json is missing: the identity is read from the events.</p>'
    )
    return table(("field", "value"), rows, frozenset(), "Identity of the run") + note


def _data_span(first: object, last: object) -> str:
    """A data file's first and last times, in UTC as every time of the report, then as written.

    ``run.json`` keeps them as the file writes them (``2026-03-29T00:30:00+01:00``, an epoch
    number, a day-first date): shown bare, they read as another zone's times beside the
    report's UTC, and an epoch number (``1772442000``) as no time a reviewer can read. An
    epoch number is read in the unit its magnitude says, as the data file was.
    """
    written = f"{first if first is not None else '?'} to {last if last is not None else '?'}"
    ends = [_written_ns(end) for end in (first, last)]
    if ends[0] is None or ends[1] is None:
        return f"{written}, as the file writes them"
    return f"{utc_text(ends[0])} to {utc_text(ends[1])} UTC; written {written}"


def _written_ns(end: object) -> int | None:
    """A data file's time as ``run.json`` keeps it (a date or time, or an epoch number)."""
    if not isinstance(end, str):
        return None
    found = text_ns(end)
    number = finite_number(end) if found is None else None
    if number is None or number < 0:
        return found
    scale, _ = epoch_unit(number)
    return int(number * scale)


def limits_and_checks(run: ReportRun) -> str:
    """The risk limits and run limits from the config, and each preflight check's result.

    What fired (the rails, the kill switch, the session's own order checks) follows it:
    ``_fired.fired_tables``.
    """
    config = run.config
    found = config.get("risk")
    risk: dict[str, Any] = found if isinstance(found, dict) else {}
    rows = [(f"risk.{key}", _compact(value)) for key, value in sorted(risk.items())]
    rows += [(label, _compact(config[key])) for key, label in _LIMIT_FIELDS if key in config]
    if isinstance(run.run_meta.get("data"), dict):  # a data file: the bars set the pace
        rows = [
            (label, f"{value} (a data file's bars keep their own times)")
            if label == "step interval (ms)"
            else (label, value)
            for label, value in rows
        ]
    limits = (
        "<h3>Limits</h3>\n"
        + table(("limit", "value"), rows, frozenset(), "Limits the run was held to")
        if rows
        else '<p class="empty">No limits recorded (config.json is missing).</p>'
    )
    checks = [
        (
            utc_text(ts + run.utc_offset_ns),
            str(fields.get("check", "")),
            "passed" if fields.get("passed") is True else "FAILED",
            str(fields.get("reason", "")),
            str(fields.get("detail", "")),
        )
        for ts, fields in run.of_type("PREFLIGHT_CHECK")
    ]
    preflight = (
        "<h3>Preflight checks</h3>\n"
        + table(
            ("time (UTC)", "check", "result", "reason", "detail"),
            checks,
            frozenset(),
            "Preflight checks, in the order they ran",
        )
        if checks
        else '<p class="empty">No preflight checks recorded.</p>'
    )
    return limits + "\n" + preflight + "\n"


def money(value: Decimal) -> str:
    """``value`` with thousands separators and at least two places, never rounded.

    A run under a coarse tick or on small quantities makes and loses fractions of a cent
    (0.143 at 10.15 marked at 10.05 lost 0.0143): shown to the cent, it would read -0.01
    here while the run's ``SESSION_STOPPED`` says -0.01430. Places past the second are
    kept where they are not zero.
    """
    return amount_text(value, grouped=True)


def percent(value: Decimal) -> str:
    """A percentage to three places, or to three significant digits when it is smaller.

    Rounded half-even. To three places alone a drawdown of 7.55 on a peak of 100,010 read
    ``0.008 %`` and one of 0.30 ``0.000 %`` beside its amount: ``0.00755 %``, ``0.000300 %``.
    """
    if not value:
        return "0.000"
    places = max(3, 2 - value.adjusted())
    return f"{value:.{places}f}"


def amount(value: object, missing: str = "(unknown)") -> str:
    """An amount the run wrote (decimal text, or an integer) as ``money`` shows one.

    The one formatter of amounts in the report, so the final snapshot's equity in Key
    metrics (``99947.08240`` in the file) reads as Profit and loss does (``99,947.0824``).
    A value that is no number is shown as it is; ``missing`` stands for none.
    """
    if value is None:
        return missing
    number = finite_decimal(value, allow_int=True)
    return str(value) if number is None else money(number)


def profit_and_loss(run: ReportRun, book: Book) -> str:
    """Totals of the replayed book: equity, realised and unrealised PnL, drawdown."""
    at = (
        utc_text(book.max_drawdown_at + run.utc_offset_ns)
        if book.max_drawdown_at is not None
        else "-"
    )
    rows = [
        ("start equity", money(book.start_equity), f"from {book.start_source}"),
        (
            "final equity (marked at the last close)"
            if run.sealed
            else f"equity at step {run.steps_recorded:,} (not sealed; marked at its close)",
            money(book.final_equity),
            "",
        ),
        ("net PnL", money(book.final_equity - book.start_equity), "realised + unrealised"),
        ("realised PnL", money(book.final_realised), "average cost, gross of fees"),
        ("unrealised PnL", money(book.final_unrealised), "open position at the last close"),
        _fees(run.config),
        ("peak equity", money(book.peak), ""),
        ("max drawdown", f"{money(book.max_drawdown)} ({percent(book.max_drawdown_pct)} %)", at),
        ("fills", str(book.trade_count), ""),
        ("closing fills (won)", f"{book.closing} ({book.wins})", ""),
    ]
    return table(("measure", "value", "note"), rows, frozenset({1}), "Profit and loss")


def _fees(config: dict[str, Any]) -> tuple[str, str, str]:
    """The fees row: a ccxt venue charges fees the book leaves out; a simulated one none."""
    broker, sources = config.get("broker"), config.get("sources")
    given = isinstance(sources, dict) and isinstance(sources.get("broker"), dict)
    if isinstance(broker, str) and broker.startswith("ccxt:") and not given:
        note = "a ccxt venue's fees (its trades' fee) are left out of the book"
        return ("fees", "not booked", f"{note}: PnL is gross of fees")
    return ("fees", "not modelled", "the venues report none: PnL is gross of fees")


def trades(run: ReportRun, book: Book) -> str:
    """Every fill (first and last ``MAX_TRADES_SHOWN / 2`` of a long run), in event order."""
    if not book.trades:
        return '<p class="empty">No fills.</p>'
    shown = book.trades
    half = MAX_TRADES_SHOWN // 2
    offset = run.utc_offset_ns

    def row(t: Any) -> tuple[str, ...]:
        return (
            str(t.seq),
            utc_text(t.ts_sim + offset),
            t.symbol,
            t.side,
            plain(t.quantity),
            plain(t.price),
            "" if t.realised is None else money(t.realised),
            plain(t.position_after),
            t.why,
            t.client_order_id,
        )

    header = (
        "seq", "time (UTC)", "symbol", "side", "qty", "price", "realised PnL",
        "position after", "order: why, terms", "client order id",
    )  # fmt: skip
    numeric = frozenset({0, 4, 5, 6, 7})
    if book.skipped is None:
        return table(header, [row(t) for t in shown], numeric, "Trades, in time order")
    skipped = book.trade_count - len(shown)
    first, last = book.skipped
    return (
        table(header, [row(t) for t in shown[:half]], numeric, "The first trades")
        + f'\n<p class="empty">... {skipped} fills between seq {first} and '
        f"{last} not listed (all {book.trade_count} are in events.jsonl; "
        "the charts and totals include them) ...</p>\n"
        + table(header, [row(t) for t in shown[-half:]], numeric, "The last trades")
    )


def notable_events(run: ReportRun, flags: Sequence[Flag]) -> str:
    """Resumes, kills, halts, operator actions and faults on one list, in time order."""
    counts = Counter(flag.kind for flag in flags if flag.counted)
    legend = (
        '<p class="legend">'
        + "".join(
            f'<span style="color:{colour}">┆ {escape(kind)} ({counts[kind]})</span>'
            for kind, colour in FLAG_COLOURS.items()
        )
        + "</p>"
    )
    if not flags:
        nothing = "No resume, kill switch, halt, operator action or fault."
        return legend + f'\n<p class="empty">{nothing}</p>'
    rows = [
        (utc_text(flag.ts_sim + run.utc_offset_ns), flag.kind, flag.label)
        for flag in flags[:_MAX_EVENTS_SHOWN]
    ]
    more = len(flags) - len(rows)
    tail = f'<p class="empty">... and {more} more.</p>' if more > 0 else ""
    caption = "Resumes, kills, halts, operator actions and faults, in time order"
    return legend + "\n" + table(("time (UTC)", "kind", "what"), rows, frozenset(), caption) + tail


def data_gaps(run: ReportRun) -> str:
    """Where the bars skip time, and the data file's bars the run never played.

    A gap in the run's data, or a closed market; the bars after the last of a run whose
    planned steps ran out before its file did (``unplayed``).
    """
    said = (run.tallies.bar_gaps, run.unplayed)
    return "".join(f'<p class="sub">Data: {escape(line)}</p>\n' for line in said if line)


def span_text(run: ReportRun) -> str:
    """The run's first and last time, in UTC."""
    start, end = run.span
    if not run.tallies.first and not run.snapshots:
        return "no records"
    offset = run.utc_offset_ns
    text = f"{utc_text(start + offset)} to {utc_text(end + offset)} UTC"
    clock = run.clock_span
    if clock is None:
        return text
    text = (
        f"{text}, the run's simulated time, as every time in this report; its clock "
        f"stamped the records from {utc_text(clock[0])} to {utc_text(clock[1])} UTC"
    )
    longest = run.tallies.longest_gap
    if longest is None:
        return text
    took, step, at = longest
    return (
        f"{text}; the longest time by it between two records {took / 1e9:.1f} s, up to "
        f"{utc_text(at)} UTC in step {step} ({GAP_CAUSES})"
    )


MAX_VIOLATIONS_SHOWN: Final = 50
"""The most violations the Verification section lists; the rest are counted."""


def verdict(
    problems: tuple[str, ...],
    *,
    full: bool,
    total: int,
    live: int | None = None,
    summary: str = "",
) -> str:
    """The verdict: ``total`` problems, the first of ``problems`` listed, the rest counted.

    ``problems`` is the verifier's list (at most 50 a file, then a line per file saying how
    many more): what is not listed here is counted from ``total``, every problem found.
    ``live``: the checkpoint step a live run was checked up to (it has no stop record yet).
    ``summary``: the verifier's own verdict (``incomplete run: ...; continue it with ...``),
    said in place of ``does not match the contract`` when it is more than a broken run's.
    """
    if not problems:
        if full:
            return (
                '<p class="ok"><strong>Verified:</strong> the four artifacts agree with each '
                "other, the audit chain and the contract.</p>"
            )
        if live is not None:
            return (
                '<p class="ok"><strong>Integrity checked:</strong> up to the last checkpoint '
                f"(step {live:,}), the audit chain is whole and that checkpoint's metrics.json "
                "agrees with the events, snapshots and audit read. The run is live: it has no "
                "stop record yet, so no digests close over the files.</p>"
            )
        return (
            '<p class="ok"><strong>Integrity checked:</strong> the audit chain is whole and '
            "closes over the bytes of the events and snapshots read here.</p>"
        )
    # A line per file for those not listed comes after 50 listed: the shown are all listed.
    shown = problems[:MAX_VIOLATIONS_SHOWN]
    items = "\n".join(f"<li>{escape(v)}</li>" for v in shown)
    more = total - len(shown)
    tail = f"<p>... and {more:,} more.</p>" if more > 0 else ""
    what = "does not match the contract" if full else "is broken or incomplete"
    said = f"this run {what}."
    if summary and not summary.startswith("broken run:"):
        said = escape(summary)  # a crash to resume, a seal's record lost: verify's words
    return (
        f'<p class="bad"><strong>{total:,} violation(s):</strong> {said}</p>\n'
        f'<ul class="violations">\n{items}\n</ul>{tail}'
    )
