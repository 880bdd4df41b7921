"""A reviewer's recomputation: every figure from events.jsonl alone, compared with the tools.

The recomputation here shares no code with the package: exact fractions (no Decimal
context, no float), average cost by its definition, equity marked at every bar's close.
It is held against what the report shows (its book and its text), ``metrics.json``, the
final state snapshot, ``SESSION_STOPPED``, every ``POSITION_CHANGED`` and ``status``, over
generated runs: a strategy that goes long, adds, flips short, reduces and goes flat on a
moving price, on a venue that fills in parts, slips and rejects, and on the realish venue's
faults (resent submits, duplicate acks, late fills); and over three UTC days on
a tick of 0.5, where the daily-loss cap fires at the step a reviewer finds the day's fall
from its own peak (``_daily_loss_breaches``) and ``livesession prom`` counts the last day.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from _scripted import SYMBOL, ScriptedFeed, ScriptedStrategy
from livesession import DryrunConfig, OrderIntent, Side, create_run
from livesession.report import render_report
from livesession.report._book import replay_book
from livesession.report._reading import ReportRun
from livesession.status import run_status

FILLS = ("ORDER_FILLED", "ORDER_PARTIALLY_FILLED")


def _lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def _decimal(value: Fraction, places: int) -> Decimal:
    """``value`` rounded half-even to ``places`` (exactly, from the fraction)."""
    scaled = value * 10**places
    down = scaled.numerator // scaled.denominator
    rest = scaled - down
    if rest > Fraction(1, 2) or (rest == Fraction(1, 2) and down % 2):
        down += 1
    return Decimal(down).scaleb(-places)


class _Reviewer:
    """The book a reviewer keeps while reading the events, one at a time."""

    def __init__(self, cash: Fraction, tick: Fraction) -> None:
        self.cash, self.tick = cash, tick
        self.position: dict[str, Fraction] = {}
        self.average: dict[str, Fraction] = {}
        self.close: dict[str, Fraction] = {}
        self.realised = Fraction(0)
        self.trades: list[Fraction | None] = []
        self.mismatches: list[tuple[int, str, str, Fraction]] = []
        self.marks: list[tuple[int, Fraction]] = []
        self.step_ts = 0

    def equity(self) -> Fraction:
        held = (q * self.close[s] for s, q in self.position.items() if q)
        return self.cash + sum(held, Fraction(0))

    def bar(self, ts_sim: int, fields: dict[str, Any], first: bool) -> None:
        if not first:  # the step before this bar ended
            self.marks.append((self.step_ts, self.equity()))
        self.close[fields["symbol"]] = Fraction(fields["close"])
        self.step_ts = ts_sim

    def fill(self, fields: dict[str, Any]) -> None:
        symbol, price = fields["symbol"], Fraction(fields["price"])
        quantity = Fraction(fields["quantity"])
        signed = quantity if fields["side"] == "BUY" else -quantity
        held = self.position.get(symbol, Fraction(0))
        cost = self.average.get(symbol, Fraction(0))
        realised = None
        if held and (held > 0) != (signed > 0):
            realised = min(quantity, abs(held)) * (price - cost) * (1 if held > 0 else -1)
            self.realised += realised
        after = held + signed
        if not after:
            cost = Fraction(0)
        elif realised is None:
            cost = (abs(held) * cost + quantity * price) / abs(after)
        elif (after > 0) != (held > 0):
            cost = price
        self.position[symbol], self.average[symbol] = after, cost
        self.cash -= signed * price
        self.trades.append(realised)

    def position_changed(self, seq: int, fields: dict[str, Any]) -> None:
        symbol = fields["symbol"]
        want = {
            "position": self.position[symbol],
            "cash": self.cash,
            "equity": self.equity(),
            "avg_price": round(self.average[symbol] / self.tick) * self.tick,  # half-even
        }
        self.mismatches += [
            (seq, name, fields[name], value)
            for name, value in want.items()
            if Fraction(fields[name]) != value
        ]


def recompute(run_dir: Path) -> dict[str, Any]:
    """The run's figures from its events and the config's cash, as a reviewer works them."""
    config = orjson.loads((run_dir / "config.json").read_bytes())
    start = Fraction(config["initial_cash"])
    book = _Reviewer(start, Fraction(config["price_tick"]))
    by_type: dict[str, int] = {}
    rejects: dict[str, int] = {}
    stopped: dict[str, Any] = {}
    for event in _lines(run_dir / "events.jsonl"):
        kind, fields = event["event_type"], event["payload"]
        by_type[kind] = by_type.get(kind, 0) + 1
        if kind == "BAR":
            book.bar(event["ts_sim"], fields, by_type[kind] == 1)
        elif kind in FILLS:
            book.fill(fields)
        elif kind == "POSITION_CHANGED":
            book.position_changed(event["seq"], fields)
        elif kind in ("RISK_REJECTED", "ORDER_REJECTED"):
            reason = str(fields.get("rule") or fields.get("reason"))
            rejects[reason] = rejects.get(reason, 0) + 1
        elif kind == "SESSION_STOPPED":
            stopped = fields
    marks = [*book.marks, (book.step_ts, book.equity())]
    peaks = list(itertools.accumulate((mark for _, mark in marks), max))
    fall, peak, at = max(  # the first of equal falls
        ((peak - mark, peak, -ts) for (ts, mark), peak in zip(marks, peaks, strict=True)),
        key=lambda item: (item[0], item[2]),
    )
    return {
        "start": start,
        "stopped": stopped,
        "steps": by_type.get("BAR", 0),
        "events_by_type": by_type,
        "orders_submitted": by_type.get("ORDER_SUBMITTED", 0),
        "fills": sum(by_type.get(kind, 0) for kind in FILLS),
        "rejects_by_reason": rejects,
        "positions": book.position,
        "equity": book.equity(),
        "realised": book.realised,
        "trades": book.trades,
        "mismatches": book.mismatches,
        "peak": max(peaks),
        "max_drawdown": fall,
        "max_drawdown_pct": fall / peak * 100 if fall else Fraction(0),
        "max_drawdown_at": -at if fall else None,
    }


def _shown(document: str) -> dict[str, str]:
    """The Profit and loss table as the reader sees it: measure -> value."""
    section = document.split("<h2>Profit and loss</h2>")[1].split("</section>", maxsplit=1)[0]
    rows = re.findall(r"<tr><td>([^<]*)</td><td[^>]*>([^<]*)</td>", section)
    return {html.unescape(name): html.unescape(value) for name, value in rows}


def _money(text: str) -> Fraction:
    return Fraction(Decimal(text.replace(",", "")))


def assert_agrees(run_dir: Path) -> dict[str, Any]:
    """Every figure the tools show of ``run_dir`` is the one recomputed from its events."""
    want = recompute(run_dir)
    assert want["mismatches"] == []
    grid = Fraction(1, 10**5)  # a fill's amount: a quantity of 3 places times a price of 2
    metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
    for name in ("steps", "orders_submitted", "fills", "rejects_by_reason", "events_by_type"):
        assert metrics[name] == want[name], name

    final = _lines(run_dir / "state_snapshots.jsonl")[-1]
    stopped = want["stopped"]
    pnl = want["equity"] - want["start"]
    assert Fraction(final["equity"]) == Fraction(stopped["equity"]) == want["equity"]
    assert Fraction(stopped["pnl"]) == pnl
    held = want["positions"]
    assert {s: Fraction(q) for s, q in final["positions"].items()} == held
    assert {s: Fraction(q) for s, q in run_status(run_dir).positions.items()} == held

    book = replay_book(ReportRun.load(run_dir))
    realised, unrealised = Fraction(book.final_realised), Fraction(book.final_unrealised)
    assert Fraction(book.final_equity) == want["equity"]
    assert realised + unrealised == pnl  # to the last digit
    closing = [r for r in want["trades"] if r is not None]
    assert book.closing == len(closing)
    assert book.trade_count == want["fills"]
    # Average cost realises fractions; the report's cost is rounded to the grid at each
    # partial close, half a unit at a time, and the position's last close takes the rest.
    assert abs(realised - want["realised"]) <= len(closing) * grid / 2
    if book.skipped is None:  # every fill listed (a long run lists its first and last 200)
        assert sum(t.realised for t in book.trades if t.realised is not None) == realised
        for trade, exact in zip(book.trades, want["trades"], strict=True):
            assert (trade.realised is None) == (exact is None)
    if not any(want["positions"].values()):
        assert realised == want["realised"] == pnl
    assert Fraction(book.peak) == want["peak"]
    assert Fraction(book.max_drawdown) == want["max_drawdown"]
    assert book.max_drawdown_at == want["max_drawdown_at"]

    shown = _shown(render_report(run_dir))
    assert _money(shown["final equity (marked at the last close)"]) == want["equity"]
    assert _money(shown["net PnL"]) == pnl
    assert _money(shown["realised PnL"]) + _money(shown["unrealised PnL"]) == pnl
    assert _money(shown["peak equity"]) == want["peak"]
    amount, percent = re.fullmatch(r"(\S+) \((\S+) %\)", shown["max drawdown"]).groups()
    assert _money(amount) == want["max_drawdown"]
    places = -Decimal(percent).as_tuple().exponent
    assert Decimal(percent) == _decimal(want["max_drawdown_pct"], places)
    assert not want["max_drawdown"] or Decimal(percent)  # never 0 % beside a fall
    assert shown["fills"] == str(want["fills"])
    return want


def _to_targets(targets: dict[int, str]) -> ScriptedStrategy:
    """Trade to ``targets[n]`` on bar n (a net position), once no order is open."""

    def script(n: int, _bar: Any, view: Any) -> Sequence[OrderIntent]:
        if n not in targets or view.has_open_orders(SYMBOL):
            return ()
        delta = Decimal(targets[n]) - view.position(SYMBOL)
        if not delta:
            return ()
        side = Side.BUY if delta > 0 else Side.SELL
        return (OrderIntent(symbol=SYMBOL, side=side, quantity=abs(delta)),)

    return ScriptedStrategy(script)


def _run(
    out: Path, run_id: str, closes: list[str], targets: dict[int, str], fills: dict[str, str]
) -> Path:
    cfg = DryrunConfig(
        run_id=run_id, strategy_id="scripted", steps=len(closes), seed=7, fill_model=fills
    )
    strategy = _to_targets(targets)
    with create_run(cfg, out, feed=ScriptedFeed(closes), strategy=strategy) as session:
        assert session.preflight()
        session.activate()
        session.run_to_end(len(closes))
    return out / run_id


_TARGETS = st.sampled_from(["0", "0.001", "0.003", "0.007", "0.010", "-0.002", "-0.005", "-0.011"])


@st.composite
def _runs(draw: st.DrawFn) -> tuple[list[str], dict[int, str], dict[str, str]]:
    """A price walk of up to 40 bars, targets on some bars, and how the venue fills."""
    moves = draw(st.lists(st.integers(-4000, 4000), min_size=8, max_size=40))
    closes = [f"{Decimal(4_000_000 + total) / 100:.2f}" for total in itertools.accumulate(moves)]
    bars = draw(st.lists(st.integers(1, len(closes)), unique=True, min_size=1, max_size=12))
    targets = {n: draw(_TARGETS) for n in bars}
    fills = {
        "partial_fill_ratio": draw(st.sampled_from(["0", "0.5", "1"])),
        "slippage_bps": draw(st.sampled_from(["0", "3", "7"])),
        "reject_rate": draw(st.sampled_from(["0", "0.2"])),
    }
    return closes, targets, fills


class TestRecomputed:
    """What a reviewer recomputes from events.jsonl is what every tool says."""

    @settings(max_examples=20)
    @given(run=_runs())
    def test_generated_runs(self, tmp_path_factory, run):
        closes, targets, fills = run
        assert_agrees(_run(tmp_path_factory.mktemp("runs"), "gen", closes, targets, fills))

    def test_a_flat_book_realises_what_the_cash_made(self, tmp_path):
        """0.001 at 40,000.00 and 0.002 at 40,000.05 (average 40,000.0333...), sold in two.

        The average has no end: worked with it, the realised PnL of a flat book carried
        Decimal's 28-digit tail past the cash's change (0.00096000000000000000000001 for
        0.00096), and the report showed it so.
        """
        closes = ["40000.00", "40000.05", "40000.03", "40001.00", "40000.01"]
        targets = {1: "0.001", 2: "0.003", 3: "0.001", 4: "0"}
        want = assert_agrees(_run(tmp_path, "flat", closes, targets, {}))
        book = replay_book(ReportRun.load(tmp_path / "flat"))
        assert [t.realised for t in book.trades] == [
            None,
            None,
            Decimal("-0.00001"),
            Decimal("0.00097"),
        ]
        assert Fraction(book.final_realised) == want["equity"] - want["start"]

    def test_a_small_drawdown_is_not_read_as_none(self, tmp_path):
        """A fall of 0.01 on a peak of 100,000: 0.0000100 %, where 0.000 % was shown."""
        closes = ["40000.00", "40000.00", "39990.00", "39990.00"]
        run = _run(tmp_path, "dd", closes, {1: "0.001", 3: "0"}, {})
        assert_agrees(run)
        assert _shown(render_report(run))["max drawdown"] == "0.01 (0.0000100 %)"

    def test_an_average_on_a_half_tick_is_rounded_once(self, tmp_path):
        """0.005 at 10,000.09, 0.009 at 10,000.06 and 0.004 at 10,000.00 average exactly
        10,000.055, written on the even tick, 10,000.06. Carried at Decimal's 28 digits, the
        second average (10,000.0707142857...) left the third a hair below the half
        (10,000.05499999999999999999999), and it was written 10,000.05."""
        closes = ["10000.09", "10000.06", "10000.00", "10000.00"]
        run = _run(tmp_path, "half", closes, {1: "0.005", 2: "0.014", 3: "0.018"}, {})
        assert_agrees(run)
        averages = [
            event["payload"]["avg_price"]
            for event in _lines(run / "events.jsonl")
            if event["event_type"] == "POSITION_CHANGED"
        ]
        assert averages[:3] == ["10000.09", "10000.07", "10000.06"]


_DAY_NS = 86_400 * 10**9


def _daily_loss_breaches(run_dir: Path) -> list[int]:
    """The steps at which the daily-loss cap must pull the kill switch, as config.md says.

    Days are UTC days of simulated time; a day's peak starts at the equity marked at the
    closes before its first bar (the initial cash on the first day) and rises with the
    equity at each bar's close (the orders this test sends fill within their own step, so
    that equity holds the fills of the steps before). A breach is a fall from the peak of
    ``daily_loss_pct`` or more while a position is held.
    """
    config = orjson.loads((run_dir / "config.json").read_bytes())
    cap = Fraction(config["risk"]["daily_loss_pct"])
    book = _Reviewer(Fraction(config["initial_cash"]), Fraction(config["price_tick"]))
    day, peak, steps, breaches = None, Fraction(0), 0, []
    for event in _lines(run_dir / "events.jsonl"):
        kind, fields = event["event_type"], event["payload"]
        if kind == "BAR":
            steps += 1
            if event["ts_sim"] // _DAY_NS != day:
                day, peak = event["ts_sim"] // _DAY_NS, book.equity() if steps > 1 else book.cash
            book.bar(event["ts_sim"], fields, steps == 1)
            equity = book.equity()
            if equity > peak:
                peak = equity
            elif (peak - equity) / peak >= cap and any(book.position.values()):
                breaches.append(steps)
        elif kind in FILLS:
            book.fill(fields)
    return breaches


def _prom(run_dir: Path) -> dict[str, Fraction]:
    """The run's Prometheus textfile: each family's first sample, by name."""
    from livesession.prom import render_textfile

    samples: dict[str, Fraction] = {}
    for line in render_textfile(run_dir).splitlines():
        if line and not line.startswith("#"):
            samples.setdefault(line.split("{")[0], Fraction(Decimal(line.rsplit(" ", 1)[1])))
    return samples


class TestFaultyVenue:
    def test_a_realish_venue_s_run(self, tmp_path):
        """Duplicate acks, late fills, timeouts and resent submits: the same figures."""
        closes = [f"{40_000 + 37 * (n % 9) - 11 * n}.{n % 100:02d}" for n in range(60)]
        targets = {1: "0.010", 8: "0.003", 15: "-0.007", 22: "-0.002", 30: "0.011", 41: "0"}
        cfg = DryrunConfig(
            run_id="faulty",
            strategy_id="scripted",
            steps=len(closes),
            seed=3,
            broker="realish",
            realish={"transient_rate": "0.3", "timeout_rate": "0.2", "late_fill_rate": "0.3"},
            fill_model={"partial_fill_ratio": "0.5", "slippage_bps": "5"},
        )
        with create_run(
            cfg, tmp_path, feed=ScriptedFeed(closes), strategy=_to_targets(targets)
        ) as s:
            assert s.preflight()
            s.activate()
            s.run_to_end(len(closes))
        events = _lines(tmp_path / "faulty" / "events.jsonl")
        kinds = {e["event_type"] for e in events}
        assert {"BROKER_CALL_RETRIED", "ORDER_PARTIALLY_FILLED"} <= kinds
        assert_agrees(tmp_path / "faulty")


class TestAcrossDays:
    """A run over three UTC days, on a tick of 0.5, whose daily-loss cap fires on the second."""

    # Bars every 3 hours from 15:00 UTC: day 1 is bars 1-3, day 2 bars 4-11, day 3 12-19.
    # Long 0.25 from bar 1: day 1 peaks at 100,200 (bar 2) and ends 180 below it, under the
    # cap of 0.2 %; bar 4 (00:00) stands 202.50 below day 1's peak, but day 2's starts at
    # day 1's last close (100,020); day 2 peaks at 100,100 (bar 5) and bar 7 falls 202.50.
    CLOSES = ("40000.0", "40800.0", "40080.0", "39990.0", "40400.0", "40200.0", "39590.0")

    def _run(self, out: Path) -> Path:
        cfg = DryrunConfig(
            run_id="days",
            strategy_id="scripted",
            steps=20,
            max_steps=20,
            seed=7,
            price_tick="0.5",
            step_interval_ms=3 * 3_600_000,
            start_time="2026-01-01T12:00:00Z",  # the first bar is a step later
            risk={"daily_loss_pct": "0.002"},
        )
        strategy = _to_targets({1: "0.250"})
        feed = ScriptedFeed([*self.CLOSES, "39800.5"])
        with create_run(cfg, out, feed=feed, strategy=strategy) as session:
            assert session.preflight()
            session.activate()
            session.run_to_end(20)
        return out / "days"

    def test_the_cap_fires_where_a_reviewer_finds_the_day_s_fall(self, tmp_path):
        run = self._run(tmp_path)
        want = assert_agrees(run)
        assert _daily_loss_breaches(run)[:1] == [7]
        kills = []
        steps = 0
        for event in _lines(run / "events.jsonl"):
            steps += event["event_type"] == "BAR"
            if event["event_type"] == "KILL_SWITCH":
                kills.append((steps, event["payload"]["reason"]))
        assert kills == [(7, "DAILY_LOSS")]
        # The kill's flatten sold at bar 7's close: 0.25 bought at 40,000.0, sold at 39,590.0.
        assert want["realised"] == want["equity"] - want["start"] == Fraction("-102.5")
        assert not any(want["positions"].values())

    def test_prometheus_counts_the_day_from_its_first_bar(self, tmp_path):
        """trader_daily_pnl is the last day's change (none: flat since the kill), not the run's."""
        run = self._run(tmp_path)
        want = recompute(run)
        samples = _prom(run)
        assert samples["trader_equity"] == want["equity"]
        assert samples["trader_daily_pnl"] == 0
        assert samples["trader_positions_open"] == samples["trader_portfolio_heat"] == 0
        filled = want["events_by_type"]["ORDER_FILLED"]
        assert samples["trader_orders_filled_total"] == filled
        assert samples["trader_orders_placed_total"] == want["orders_submitted"]
