"""The report as a reviewer reads it: PnL marked to market, trades, identity, marks, UTC.

Issue 16 point 6: the equity line moved only at fills, there was no PnL, drawdown or trade
list, no config, seed, limits or rails, no resume on the timeline, and long runs read
``+1.67e+03h`` on a solid block. Each test here would fail if one of those came back.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import re
import shutil
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from _eurusd import EURUSD_TOML, eurusd_csv
from livesession import MockBroker
from livesession._domain.lifecycle import Trigger
from livesession.report import render_report
from livesession.report._book import replay_book
from livesession.report._reading import ReportRun
from livesession.report._series import Point
from livesession.report._svg import WIDTH, duration, thin

from _reviewrun import build_review_run
from _runfactory import RunBuilder, build_run

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
PLOT_COLUMNS = WIDTH - 100  # the chart's plot width: its margins are 80 and 20 pixels
TIME_CHARTS = 5  # price, position, equity, drawdown, PnL


def _events(run: Path) -> list[dict]:
    return [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]


def _titles(document: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<title>([^<]*)</title>", document)]


def _polyline_sizes(document: str) -> list[int]:
    return [len(p.split()) for p in re.findall(r'<polyline points="([^"]*)"', document)]


def _held_through_a_move(run_dir: Path) -> Path:
    """0.05 BTC bought at 42,000 and held while the price rises 10 % in ten bars."""
    builder = RunBuilder()
    builder.start()
    builder.preflight()
    builder.move(Trigger.ACTIVATE)
    builder.bar("42000.00")
    builder.fill(builder.order("BUY", "0.050"), "0.050")
    for step in range(1, 11):
        builder.bar(f"{42000 + 420 * step}.00")
    builder.move(Trigger.REQUEST_STOP)
    builder.move(Trigger.STOPPED)
    builder.stop()
    return builder.write(run_dir)


class TestMarkedToMarket:
    """Equity follows the price at every bar, not only at fills."""

    def test_held_position_moves_equity(self, tmp_path):
        """A position held through a 10 % move: equity rises at every bar by 0.05 x 420."""
        book = replay_book(ReportRun.load(_held_through_a_move(tmp_path / "r")))

        values = [p.value for p in book.equity]
        assert len(values) == 11  # one mark per bar
        steps = [round(b - a, 6) for a, b in itertools.pairwise(values)]
        assert steps == [21.0] * 10
        assert book.final_unrealised == Decimal("210.000")
        assert book.final_realised == 0
        assert book.final_equity == book.start_equity + Decimal("210.000")

    def test_pnl_table_and_charts(self, tmp_path):
        """The PnL table shows the unrealised gain; equity, drawdown and PnL are drawn."""
        document = render_report(_held_through_a_move(tmp_path / "r"))
        text = html.unescape(re.sub(r"<[^>]+>", " ", document))

        assert re.search(r"unrealised PnL\s+210\.00", text)
        assert re.search(r"net PnL\s+210\.00", text)
        for heading in (
            "Equity, marked to market at every bar",
            "Drawdown from the running peak",
            "Realised and unrealised PnL",
        ):
            assert f"<h3>{heading}</h3>" in document

    def test_realised_pnl_per_closing_trade(self, tmp_path):
        """Average cost: 0.010 bought at 42,050.50, 0.004 sold at 42,225.50 realises 0.70."""
        run = build_run(tmp_path / "r")
        book = replay_book(ReportRun.load(run))

        assert [t.realised for t in book.trades] == [None, None, Decimal("0.70000")]
        assert [str(t.position_after) for t in book.trades] == ["0.004", "0.010", "0.006"]
        final = orjson.loads((run / "state_snapshots.jsonl").read_bytes().splitlines()[-1])
        assert book.final_equity.quantize(Decimal("0.01")) == Decimal(final["equity"])
        assert book.final_equity == book.start_equity + book.final_realised + (
            book.final_unrealised
        )

    def test_drawdown(self, tmp_path):
        """The largest fall from a peak: the run's 40-point dips on 0.006 held."""
        book = replay_book(ReportRun.load(build_run(tmp_path / "r")))

        assert book.max_drawdown > 0
        assert min(p.value for p in book.drawdown) == pytest.approx(-float(book.max_drawdown))
        assert all(p.value <= 0 for p in book.drawdown)


class TestTradeList:
    """Every fill is listed with side, quantity, price and realised PnL."""

    def test_rows(self, tmp_path):
        """Three fills, the closing one with its realised PnL."""
        document = render_report(build_run(tmp_path / "r"))
        section = document.split("<h2>Trades</h2>")[1].split("</section>")[0]
        rows = re.findall(r"<tr>(.*?)</tr>", section)
        cells = [re.findall(r"<td[^>]*>([^<]*)</td>", row) for row in rows if "<td" in row]

        assert [c[3:8] for c in cells] == [
            ["BUY", "0.004", "42050.50", "", "0.004"],
            ["BUY", "0.006", "42050.50", "", "0.010"],
            ["SELL", "0.004", "42225.50", "0.70", "0.006"],
        ]
        assert [c[1] for c in cells] == [
            "2026-01-01 00:03:00",
            "2026-01-01 00:03:00",
            "2026-01-01 00:10:00",
        ]


class TestNoFees:
    """No fees are modelled (a fill report has none, the events none): the report says its
    PnL is gross of fees, and takes no fee from a fill."""

    def test_a_fee_field_in_a_fill_changes_nothing(self, tmp_path):
        builder = RunBuilder()
        builder.start()
        builder.preflight()
        builder.move(Trigger.ACTIVATE)
        builder.bar("100.00")
        builder.fill(builder.order("BUY", "1.000"), "1.000", extra={"fee": "5.00"})
        builder.bar("100.00")
        builder.move(Trigger.REQUEST_STOP)
        builder.move(Trigger.STOPPED)
        builder.stop()
        run = builder.write(tmp_path / "r")
        book = replay_book(ReportRun.load(run))
        assert (book.final_equity, book.final_realised) == (book.start_equity, 0)

    def test_the_pnl_table_says_gross_of_fees(self, tmp_path):
        text = re.sub(
            r"\s+",
            " ",
            html.unescape(re.sub(r"<[^>]+>", " ", render_report(build_run(tmp_path / "r")))),
        )
        assert "realised PnL 0.70 average cost, gross of fees" in text
        assert "fees not modelled the venues report none: PnL is gross of fees" in text
        assert "net of fees" not in text


class DeskSim(MockBroker):
    """A broker of the desk's own: the mock venue, declared simulated."""

    simulated = True


class TestIdentity:
    """Config hash, seed, broker, strategy reference and code hash, data hash."""

    def test_plugin_strategy_on_a_data_file(self, tmp_path):
        """A real run of examples/mydesk on a CSV file: every hash is the file's own."""
        shutil.copytree(EXAMPLES / "mydesk", tmp_path / "mydesk")
        eurusd_csv(tmp_path / "eurusd.csv", 150)
        toml = EURUSD_TOML.split("[strategy]")[0] + (
            'run_id = "ident"\nseed = 77\nstrategy_factory = "mydesk.breakout:make_strategy"\n'
            '[strategy_params]\nlookback = 5\nqty = "1000"\n[risk]\nmax_order_qty = "100000"\n'
        )
        (tmp_path / "run.toml").write_text(toml, encoding="utf-8")
        # In a process of its own: another test may have imported `mydesk` from examples/.
        done = subprocess.run(
            [sys.executable, "-m", "livesession.cli", "dryrun", "-c", "run.toml", "--out", "runs"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        run = tmp_path / "runs" / "ident"

        text = html.unescape(re.sub(r"<[^>]+>", " ", render_report(run)))

        meta = orjson.loads((run / "run.json").read_bytes())
        code = hashlib.sha256((tmp_path / "mydesk" / "breakout.py").read_bytes()).hexdigest()
        data = hashlib.sha256((tmp_path / "eurusd.csv").read_bytes()).hexdigest()
        assert re.search(rf"full config hash\s+{meta['config_hash']}", text)
        started = orjson.loads((run / "events.jsonl").read_bytes().splitlines()[0])
        audited = started["payload"]["config_sha256"]
        assert re.search(rf"config sha256 \(audited\)\s+{audited}", text)
        assert re.search(r"seed\s+77\b", text)
        assert re.search(r"broker\s+mock\b", text)
        assert re.search(r"strategy\s+mydesk\.breakout:make_strategy", text)
        assert f"mydesk.breakout:make_strategy sha256 {code}" in text
        assert re.search(r'strategy parameters\s+\{"lookback":5,"qty":"1000"\}', text)
        assert f"sha256 {data}" in text
        assert re.search(r"risk\.max_order_qty\s+100000", text)
        stopped = next(e for e in _events(run) if e["event_type"] == "SESSION_STOPPED")
        final = Decimal(stopped["payload"]["equity"])
        assert re.search(rf"final equity \(marked at the last close\)\s+{final:,.2f}", text)

    def test_objects_supplied_in_process_are_named_not_the_configs_pieces(self, tmp_path):
        """Bug: a run built with objects (``create_run(cfg, out, strategy=SmaCrossover(fast=2,
        ...), feed=RandomWalkFeed(seed=9, ...), broker=..., clock=SimClock(...))``) had its
        identity say ``strategy built-in SMA crossover (no reference)`` with the config's
        ``[strategy]`` parameters, ``broker mock`` with the config's ``[fill_model]``,
        ``feed random_walk`` and ``clock sim``: pieces and settings the run never used. Each
        row names the object now, as ``config.json``'s ``sources`` record it."""
        import datetime as dt

        from livesession import (
            DryrunConfig,
            FillModel,
            RandomWalkFeed,
            SimClock,
            SmaCrossover,
            create_run,
        )

        cfg = DryrunConfig(run_id="objects", steps=60)
        session = create_run(
            cfg,
            tmp_path,
            alerts=False,
            strategy=SmaCrossover(
                strategy_id=cfg.strategy_id, fast=2, slow=3, order_qty=Decimal("0.002")
            ),
            feed=RandomWalkFeed(
                symbol=cfg.symbol,
                seed=9,
                initial_price=cfg.initial_price,
                tick=cfg.price_tick,
                lot=cfg.qty_lot,
            ),
            broker=DeskSim(fill_model=FillModel(slippage_bps=Decimal(5))),
            clock=SimClock(dt.datetime(2027, 1, 1, tzinfo=dt.UTC)),
        )
        with session:
            assert session.run_to_end(60).status.value == "COMPLETED"
        document = render_report(tmp_path / "objects")
        section = document.split("<h2>Identity</h2>")[1].split("</section>", maxsplit=1)[0]
        rows = dict(re.findall(r"<tr><td>([^<]*)</td><td[^>]*>([^<]*)</td>", section))
        supplied = "(an object supplied in-process)"
        assert rows["strategy"] == f"livesession._market.strategies.SmaCrossover {supplied}"
        assert rows["strategy parameters"] == "the object&#x27;s own (not recorded)"
        assert rows["feed"] == f"livesession._market.feeds.RandomWalkFeed {supplied}"
        assert rows["broker"] == f"{__name__}.DeskSim {supplied}"
        assert rows["clock"] == f"livesession._domain.clock.SimClock {supplied}"
        assert not [name for name in rows if name.startswith("venue faults")]

    def test_missing_config_is_said(self, tmp_path):
        """A run without config.json says the identity is read from the events."""
        text = render_report(build_run(tmp_path / "r"))

        assert "config.json is missing" in text

    def test_missing_config_claims_no_strategy_nor_data_file(self, tmp_path):
        """Bug: a run written without config.json (sinks a desk app opened itself, as the
        RUNBOOK's Python invocation does), its strategy a desk's own object, had its
        identity say ``strategy built-in SMA crossover (no reference)``, ``strategy
        parameters (none)`` and ``data file none: the feed reads no file``: nothing of the
        run says so. Without config.json those rows say ``(not recorded)``."""
        document = render_report(build_run(tmp_path / "r", strategy_id="desk_alpha"))
        section = document.split("<h2>Identity</h2>")[1].split("</section>", maxsplit=1)[0]
        rows = dict(re.findall(r"<tr><td>([^<]*)</td><td[^>]*>([^<]*)</td>", section))
        assert rows["strategy id"] == "desk_alpha"
        for row in ("strategy", "strategy parameters", "data file"):
            assert rows[row] == "(not recorded)", (row, rows[row])


class TestMarks:
    """Rails, kills, resumes and operator events are marked where they happened."""

    def test_real_run_with_rails_kill_and_resume(self, tmp_path):
        """Every rail block counted in a marker; the kill and the resume flag every chart."""
        run = build_review_run(tmp_path / "out")
        document = render_report(run)
        events = _events(run)
        rails = sum(1 for e in events if e["event_type"] == "RISK_REJECTED")
        assert rails > 10  # the run is what it claims to be

        counted = 0
        for title in _titles(document):
            if title.startswith("RISK_REJECTED"):
                counted += 1
            elif " rail blocks here" in title:
                counted += int(title.split()[0])
        assert counted == rails
        assert document.count('class="flag-kill"') == 2 * TIME_CHARTS  # trip and flat
        assert document.count('class="flag-resume"') == TIME_CHARTS
        text = html.unescape(re.sub(r"<[^>]+>", " ", document))
        assert re.search(r"MAX_ORDER_NOTIONAL\s+\d+\s+2026-01-01", text)
        assert "kill switch: DAILY_LOSS" in text
        assert re.search(r"2026-01-01 01:40:00\s+resume\s+C2_RESUME from step 100", text)
        assert re.search(r"2026-01-01 07:08:00\s+kill\s+KILL_SWITCH: reason DAILY_LOSS", text)
        assert "config_valid" in text  # the preflight checks are listed

    def test_operator_and_fault(self, tmp_path):
        """A fault and the operator's acknowledgement are flagged, in time order."""
        builder = RunBuilder()
        builder.start()
        builder.preflight()
        builder.move(Trigger.ACTIVATE)
        for step in range(6):
            builder.bar(f"{42000 + step}.00")
            if step == 2:
                builder.fill(builder.order("BUY", "0.010"), "0.010")
        builder.move(Trigger.FAULT)
        builder.bar("42010.00")
        builder.copy("C2_OPERATOR_ACK", builder.event("OPERATOR_ACK", {"operator": "alice"}))
        builder.move(Trigger.OPERATOR_ACK)
        builder.move(Trigger.STOPPED)
        builder.stop()
        document = render_report(builder.write(tmp_path / "r"))

        assert document.count('class="flag-fault"') == TIME_CHARTS
        assert document.count('class="flag-operator"') == TIME_CHARTS
        text = html.unescape(re.sub(r"<[^>]+>", " ", document))
        fault = text.index("fault  DRYRUN_ACTIVE -> ERROR_REQUIRES_OPERATOR")
        assert fault < text.index("operator  OPERATOR_ACK: operator alice")


class TestTimeAxes:
    """Absolute UTC, never an offset like ``+1.67e+03h``."""

    def test_short_run(self, tmp_path):
        """Twelve minutes: clock times, and the span in the caption."""
        document = render_report(build_run(tmp_path / "r"))
        axis = re.findall(r'text-anchor="middle">([^<]*)</text>', document)

        assert axis
        assert all(re.fullmatch(r"\d\d:\d\d", label) for label in axis), axis
        assert "UTC, 2026-01-01 00:00:00 to 2026-01-01 00:12:00" in document
        assert not re.search(r">\+[\d.]+(?:e[+-]?\d+)?(?:s|min|h)<", document)

    def test_long_run(self, tmp_path):
        """2,000 five-minute bars (about a week): dates, rounded, at most seven per axis."""
        builder = RunBuilder()
        builder.start()
        builder.preflight()
        builder.move(Trigger.ACTIVATE)
        for step in range(2000):
            builder.bar(f"{42000 + (step % 50)}.00")
            builder.ts_ns += 4 * 60 * 10**9
        builder.move(Trigger.REQUEST_STOP)
        builder.move(Trigger.STOPPED)
        builder.stop()
        document = render_report(builder.write(tmp_path / "r"))
        chart = document.split("<h3>Equity, marked to market")[1].split("</svg>")[0]
        axis = re.findall(r'text-anchor="middle">([^<]*)</text>', chart)

        assert 3 <= len(axis) <= 7
        assert all(re.fullmatch(r"2026-01-\d\d", label) for label in axis), axis
        text = html.unescape(re.sub(r"<[^>]+>", " ", document))
        assert not re.search(r"\d\.?\d*e[+-]\d", text)  # no 1.67e+03h anywhere
        assert re.search(r"simulated span\s+6d 22h 40min", text)

    @pytest.mark.parametrize(
        ("seconds", "text"),
        [(42, "42s"), (600, "10min"), (19_200, "5h 20min"), (6_000_000, "69d 10h 40min")],
    )
    def test_duration(self, seconds, text):
        """Spans read in days, hours and minutes, never in scientific notation."""
        assert duration(seconds * 10**9) == text


class TestLongRuns:
    """Thinned to the pixel, without losing a spike or a marker."""

    def test_thin_keeps_extremes(self):
        """100,000 points to two per column; the one spike and both ends stay."""
        points = [Point(ts_sim=i, value=float(i % 7)) for i in range(100_000)]
        points[61_234] = Point(ts_sim=61_234, value=1_000.0)
        points[77_777] = Point(ts_sim=77_777, value=-1_000.0)

        kept = thin(points, (0, 99_999), 1000)

        assert len(kept) <= 2 * 1000 + 2
        assert points[61_234] in kept
        assert points[77_777] in kept
        assert kept[0] == points[0]
        assert kept[-1] == points[-1]
        assert [p.ts_sim for p in kept] == sorted(p.ts_sim for p in kept)

    def test_many_bars_and_rails(self, tmp_path):
        """3,000 bars with a rail block every other: lines thinned, every block counted."""
        builder = RunBuilder()
        builder.start()
        builder.preflight()
        builder.move(Trigger.ACTIVATE)
        for step in range(3000):
            builder.bar(f"{42000 + (step * 37) % 900}.00")
            if step % 2 == 0:
                builder.risk_reject("max_notional", "BUY", "5.000")
        builder.move(Trigger.REQUEST_STOP)
        builder.move(Trigger.STOPPED)
        builder.stop()
        document = render_report(builder.write(tmp_path / "r"))

        assert max(_polyline_sizes(document)) <= 2 * PLOT_COLUMNS + 2
        counted = sum(
            int(t.split()[0]) if " rail blocks here" in t else 1
            for t in _titles(document)
            if t.startswith("RISK_REJECTED") or " rail blocks here" in t
        )
        assert counted == 1500
        assert len(document.encode()) < 300_000
