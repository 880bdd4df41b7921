"""Tests for ``livesession.prom``: Prometheus text and exporter derived from a run."""

from __future__ import annotations

import decimal
import os
import shutil
import subprocess
import sys
import wsgiref.util
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from _pages import operator_flat
from livesession._artifacts.runread import RunCut, iter_records, read_records
from livesession._domain.ids import stable_id
from livesession._exceptions import MissingExtra
from livesession._prom_view import _DAY_NS, _LatestEquity
from livesession.prom import (
    make_exporter,
    make_registry,
    render_textfile,
    write_textfile,
)

from _helpers import peak_memory
from _runfactory import build_run, canonical, grown_run

ROOT = Path(__file__).resolve().parent.parent
parser = pytest.importorskip("prometheus_client.parser")


def families(text: str) -> dict:
    return {family.name: family for family in parser.text_string_to_metric_families(text)}


def sample_values(text: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
    }


def run_values(text: str, run_id: str = "run-test-1") -> dict[tuple[str, tuple], float]:
    """``sample_values``, every sample's ``run_id`` label checked and left out of its key."""
    values = {}
    for family in parser.text_string_to_metric_families(text):
        for sample in family.samples:
            labels = dict(sample.labels)
            assert labels.pop("run_id", None) == run_id, (sample.name, sample.labels)
            values[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return values


def scrape(app) -> tuple[str, bytes]:
    environ: dict = {}
    wsgiref.util.setup_testing_defaults(environ)
    statuses: list[str] = []
    body = b"".join(app(environ, lambda status, headers, exc_info=None: statuses.append(status)))
    return statuses[0], body


@pytest.fixture(name="run")
def _run(tmp_path):
    return build_run(tmp_path / "run")


class TestRenderTextfile:
    """The text exposition is valid, trader_-named and derived from the events."""

    def test_parses_and_names(self, run):
        """The output parses and every metric is named trader_*."""
        names = families(render_textfile(run))

        assert names
        assert all(name.startswith("trader_") for name in names)

    def test_expected_metrics(self, run):
        """Every documented metric is present."""
        names = set(families(render_textfile(run)))

        assert names == {
            "trader_run_info",
            "trader_run_verdict",
            "trader_trading_state",
            "trader_heartbeat_timestamp_seconds",
            "trader_steps",
            "trader_signals",
            "trader_decisions",
            "trader_orders_placed",
            "trader_orders_filled",
            "trader_risk_blocks",
            "trader_retries",
            "trader_positions_open",
            "trader_portfolio_heat",
            "trader_daily_pnl",
            "trader_equity",
            "trader_step_duration_seconds",
        }

    def test_values_follow_events(self, run):
        """Counters and gauges equal what the factory run did."""
        values = run_values(render_textfile(run))

        assert values[("trader_signals_total", ())] == 4
        assert values[("trader_decisions_total", ())] == 4
        assert values[("trader_orders_placed_total", ())] == 3
        assert values[("trader_orders_filled_total", ())] == 2
        assert values[("trader_risk_blocks_total", (("rule", "MAX_NOTIONAL"),))] == 1
        assert values[("trader_retries_total", (("kind", "sink_write"),))] == 1
        assert values[("trader_positions_open", ())] == 1
        assert values[("trader_equity", ())] == pytest.approx(10001.81)
        assert values[("trader_daily_pnl", ())] == pytest.approx(1.81)
        assert 0 < values[("trader_portfolio_heat", ())] < 1
        assert values[("trader_step_duration_seconds_count", ())] == 12
        assert values[("trader_step_duration_seconds_bucket", (("le", "0.0005"),))] == 5
        assert values[("trader_step_duration_seconds_sum", ())] == pytest.approx(0.0071)

    def test_run_info(self, run):
        """The info metric names the run, strategy and status."""
        labels = dict(sample_values(render_textfile(run)))

        assert (
            "trader_run_info",
            (("run_id", "run-test-1"), ("status", "COMPLETED"), ("strategy_id", "sma_cross")),
        ) in labels

    def test_deterministic(self, run):
        """The same run renders to the same text."""
        assert render_textfile(run) == render_textfile(str(run))

    def test_without_timings(self, tmp_path):
        """A run without timings.json has an empty histogram."""
        run = build_run(tmp_path / "r", timings=False)

        values = run_values(render_textfile(run))

        assert values[("trader_step_duration_seconds_count", ())] == 0
        assert values[("trader_step_duration_seconds_sum", ())] == 0

    @pytest.mark.parametrize(
        ("content", "count"),
        [
            (b"", 0),
            (b"not json", 0),
            (b"[1, 2]", 0),
            (b'{"step_duration": "x"}', 0),
            (b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [1, 2], "count": 3}}', 0),
            (
                b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [1], "count": 3, "sum_s": 1}}',
                0,
            ),
            (
                b'{"step_duration": {"buckets_s": [1, 0.1], "counts": [1, 2], "count": 3, "sum_s": 1}}',
                0,
            ),
            (
                b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [2, 1], "count": 3, "sum_s": 1}}',
                0,
            ),
            (
                b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [1, 4], "count": 3, "sum_s": 1}}',
                0,
            ),
            (
                b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [true, 2], "count": 3, "sum_s": 1}}',
                0,
            ),
            (
                b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [1, 2], "count": 3, "sum_s": -1}}',
                0,
            ),
            (
                b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [1, 2.5], "count": 3, "sum_s": 1}}',
                0,
            ),
            (
                b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [1, 2], "count": 1e400, "sum_s": 1}}',
                0,
            ),
            (
                b'{"step_duration": {"buckets_s": [0.1, 1], "counts": [1, 2], "count": 3, "sum_s": 1.5}}',
                3,
            ),
        ],
    )
    def test_bad_timings(self, run, content, count):
        """Whatever timings.json holds, only a histogram of whole counts rising with its
        rising bounds is observed; anything else is an empty one."""
        (run / "timings.json").write_bytes(content)

        values = run_values(render_textfile(run))

        assert values[("trader_step_duration_seconds_count", ())] == count
        assert values[("trader_step_duration_seconds_sum", ())] == (1.5 if count else 0)

    def test_global_registry_untouched(self, run):
        """Rendering never registers anything in prometheus_client's global registry."""
        from prometheus_client import REGISTRY, generate_latest

        render_textfile(run)
        make_registry(run)

        assert b"trader_" not in generate_latest(REGISTRY)

    def test_hostile_strategy_id(self, tmp_path):
        """Quotes, backslashes and newlines in labels are escaped and still parse."""
        hostile = 'evil"\\\n<b>'
        run = build_run(tmp_path / "r", strategy_id=hostile)

        values = run_values(render_textfile(run))

        info = [labels for name, labels in values if name == "trader_run_info"]
        assert dict(info[0])["strategy_id"] == hostile

    def test_missing_run(self, tmp_path):
        """A directory without artifacts renders zeros instead of failing."""
        values = run_values(render_textfile(tmp_path), tmp_path.name)

        assert values[("trader_equity", ())] == 0
        assert values[("trader_signals_total", ())] == 0

    def test_no_run_is_the_exporters_not_a_run_and_the_clis_refusal(self, tmp_path, capsys):
        """RUNBOOK "Metrics for Prometheus": the exporter says ``not_a_run`` of a path that
        holds no run (a dryrun killed while it started leaves only ``writer.lock``), and
        ``livesession prom`` refuses it, exit 2 and one line, writing no textfile."""
        from livesession.cli import main

        started = tmp_path / "day1"
        started.mkdir()
        (started / "writer.lock").write_bytes(b"")
        values = run_values(render_textfile(started), "day1")
        assert values[("trader_run_verdict", (("verdict", "not_a_run"),))] == 1
        output = tmp_path / "day1.prom"
        capsys.readouterr()

        assert main(["prom", str(started), "--output", str(output)]) == 2

        assert capsys.readouterr().err.count("\n") == 1
        assert not output.exists()

    @pytest.mark.broken_run("it appends garbage lines to a run")
    def test_garbage_lines_skipped(self, run):
        """Lines that are not JSON objects are skipped."""
        path = run / "events.jsonl"
        path.write_bytes(path.read_bytes() + b"\x00garbage\n[]\n")

        assert run_values(render_textfile(run))[("trader_signals_total", ())] == 4

    @pytest.mark.broken_run("it damages a line in the middle of a sealed run's events")
    def test_a_damaged_middle_line_is_verifys_to_find_as_runbook_says(self, run, capsys):
        """RUNBOOK "Metrics for Prometheus" said `needs_operator` "for one whose files are
        damaged", but the verdict is status's, which reads only the ends of the files: a
        sealed run with a line in the middle of events.jsonl that is not JSON is
        `completed` to status and prom (which skips the line), and only verify finds it.
        The page says so now, as the tools do it (they read the ends by design)."""
        from livesession.cli import main
        from livesession.status import Verdict, run_status
        from livesession.verify import verify_run

        path = run / "events.jsonl"
        lines = path.read_bytes().splitlines(keepends=True)
        middle = len(lines) // 2
        lines[middle] = b"\x00garbage\n"
        path.write_bytes(b"".join(lines))

        assert run_status(run).verdict is Verdict.COMPLETED
        values = run_values(render_textfile(run))
        assert values[("trader_run_verdict", (("verdict", "completed"),))] == 1
        assert values[("trader_run_verdict", (("verdict", "needs_operator"),))] == 0
        assert not verify_run(run).ok
        assert main(["verify", str(run)]) == 1
        capsys.readouterr()
        runbook = operator_flat()
        assert "`needs_operator` for one whose files are damaged" not in runbook
        assert (
            "A line damaged in the middle of a sealed run's `events.jsonl` is not met: `status`"
            " says `completed`, and `prom`, which reads every line for its counters, skips a"
            " line that is not JSON without a word"
        ) in runbook


class TestDecisions:
    """trader_decisions_total counts the strategy's decisions, never the session's orders."""

    def test_flatten_orders_and_protective_legs_are_not_decisions(self, tmp_path):
        """Bug: the wind-down's flatten order counted as a decision (HELP: "Order intents
        decided (placed or risk-blocked)"): one intent, two decisions. Only the outcomes
        linked to a SIGNAL count, not a filled entry's legs nor a flatten order."""
        from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
        from livesession import DryrunConfig
        from livesession._rundir import create_run

        cfg = DryrunConfig(run_id="dec", strategy_id="scripted", steps=12)
        strategy = ScriptedStrategy(
            at(
                {
                    2: [buy("0.010", stop_loss_pct=Decimal("0.5"), take_profit_pct=Decimal("0.5"))],
                    4: [buy("5")],
                }
            )
        )
        feed = ScriptedFeed(["40000.00"])
        create_run(cfg, tmp_path, feed=feed, strategy=strategy).run_to_end(12)
        events = list(iter_records(tmp_path / "dec" / "events.jsonl"))
        placed = [e["payload"]["reason"] for e in events if e["event_type"] == "ORDER_SUBMITTED"]
        assert len(placed) == 4, placed  # the entry, its two legs, the wind-down's flatten
        assert placed[-1] == "flatten"
        assert sum(e["event_type"] == "RISK_REJECTED" for e in events) == 1
        values = run_values(render_textfile(tmp_path / "dec"), "dec")

        assert values[("trader_signals_total", ())] == 2
        assert values[("trader_decisions_total", ())] == 2  # the entry, and the blocked intent
        assert values[("trader_orders_placed_total", ())] == 4


class TestDailyPnl:
    def test_daily_pnl_counts_the_day_from_the_previous_close(self, tmp_path):
        """Long 1 bought at 100 on day 1, marked at 110 when the day ends, 130 when the run
        ends on day 2: the day's PnL is 20, what the position made since the day began.
        Before, it was measured from the day's first record that carries an equity (here
        the stop's snapshot, at the last bar), so it read 0 while the position had made 20
        that day: the move before a day's first fill was never in it."""
        from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
        from livesession import DryrunConfig
        from livesession._rundir import create_run

        cfg = DryrunConfig(
            run_id="days",
            strategy_id="scripted",
            steps=7,
            max_steps=7,
            step_interval_ms=6 * 3600 * 1000,
        )
        # Bars at 06:00, 12:00, 18:00 of day 1, then 00:00 to 18:00 of day 2.
        closes = ["100.00", "100.00", "110.00", "120.00", "120.00", "120.00", "130.00"]
        strategy = ScriptedStrategy(at({1: [buy("1")]}))
        create_run(cfg, tmp_path, feed=ScriptedFeed(closes), strategy=strategy).run_to_end(7)
        values = run_values(render_textfile(tmp_path / "days"), "days")

        assert values[("trader_equity", ())] == pytest.approx(100030)
        assert values[("trader_daily_pnl", ())] == pytest.approx(20)


class _SignalsEveryBar:
    """Signals on every bar (each refused: above max_order_qty); Ctrl-C inside step 35 once."""

    strategy_id = "signals"

    def __init__(self, *, interrupt: bool) -> None:
        self.bars = 0
        self.interrupt = interrupt

    def on_bar(self, bar, view):
        from _scripted import buy

        self.bars += 1
        if self.interrupt and self.bars == 35:
            raise KeyboardInterrupt
        return [buy("5")]

    def get_state(self):
        return {"bars": self.bars}

    def set_state(self, state):
        self.bars = state["bars"]


class TestCrashAndResume:
    """Counters never go down across a crash and the resume that continues it."""

    def test_a_crashed_run_is_read_up_to_its_checkpoint(self, tmp_path):
        """Bug: a crashed run was read past its last checkpoint, a live one only up to it,
        so trader_signals_total dropped when the resume started (61 -> 33 -> 184): the
        resume cuts the files back to the checkpoint. A crashed run is now read up to it
        too, and trader_run_verdict tells it from a live one (both say status RUNNING)."""
        from livesession import DryrunConfig
        from livesession._rundir import create_run, resume_run

        cfg = DryrunConfig(
            run_id="cr", strategy_id="signals", steps=80, checkpoint_every=10, durability="step"
        )  # each step on disk as it ends: the Ctrl-C leaves lines past the checkpoint
        run = tmp_path / "cr"
        session = create_run(cfg, tmp_path, strategy=_SignalsEveryBar(interrupt=True))
        with pytest.raises(KeyboardInterrupt), session:
            session.run_to_end(80)
        offset = orjson.loads((run / "checkpoint.json").read_bytes())["recorder"]["offsets"]
        head = (run / "events.jsonl").read_bytes()[: offset["events"]]
        kept = head.count(b'"event_type":"SIGNAL"')
        written = (run / "events.jsonl").read_bytes().count(b'"event_type":"SIGNAL"')
        assert 0 < kept < written  # steps 31 to 34 signalled after the checkpoint at 30

        def signals_and_verdict() -> tuple[float, str]:
            values = run_values(render_textfile(run), "cr")
            verdicts = [
                dict(labels)["verdict"]
                for (name, labels), value in values.items()
                if name == "trader_run_verdict" and value == 1
            ]
            return values[("trader_signals_total", ())], " ".join(verdicts)

        crashed = signals_and_verdict()
        assert crashed == (kept, "crashed")
        target = tmp_path / "crashed.prom"
        assert write_textfile(run, target) == (
            "unsealed run no process writes (crashed): read up to step 30 (its last "
            "checkpoint, where a resume continues)"
        )
        with resume_run(run, strategy=_SignalsEveryBar(interrupt=False)) as resumed:
            live = signals_and_verdict()
            assert live == (kept, "running")
            resumed.run_n_steps(25)
            later = signals_and_verdict()
            assert later[0] >= live[0]
            resumed.run_to_end(80)
        final = signals_and_verdict()
        assert final == (80, "completed")


class TestScrapesReadOn:
    """An exporter's scrape reads on from where its last one stopped, and says the same."""

    @pytest.fixture
    def parsed(self, monkeypatch) -> list[bytes]:
        """The lines the exporter's reader parses, as it parses them."""
        from livesession import _prom_view

        lines: list[bytes] = []
        parse = _prom_view.json_object

        def counted(line: bytes):
            lines.append(line)
            return parse(line)

        monkeypatch.setattr(_prom_view, "json_object", counted)
        return lines

    def test_a_scrape_reads_only_what_was_appended_across_a_crash_and_resume(
        self, tmp_path, parsed
    ):
        """Bug: every scrape read events.jsonl from its start: 1.5 to 3 s a scrape of a
        100,000-step run (44 MB), some 20 s of a million-step one (past Prometheus's 10 s
        scrape timeout), over and over for a run that had long ended. The exporter's
        collector now keeps what the events added up to and reads on from there; each
        scrape says what a fresh read says, through a crash and the resume that continues
        it (which cuts the events back to the checkpoint the scrapes read up to)."""
        from livesession import DryrunConfig
        from livesession._rundir import create_run, resume_run

        cfg = DryrunConfig(
            run_id="cr", strategy_id="signals", steps=80, checkpoint_every=10, durability="step"
        )  # each step on disk as it ends: the Ctrl-C leaves lines past the checkpoint
        run = tmp_path / "cr"
        session = create_run(cfg, tmp_path, strategy=_SignalsEveryBar(interrupt=True))
        with pytest.raises(KeyboardInterrupt), session:
            session.run_to_end(80)
        app = make_exporter(run)

        def scraped() -> int:
            """Scrape; the lines it parsed. Its text is a fresh read's."""
            parsed.clear()
            status, body = scrape(app)
            read = len(parsed)
            assert status.startswith("200")
            assert body.decode() == render_textfile(run)
            return read

        def lines() -> int:
            return (run / "events.jsonl").read_bytes().count(b"\n")

        first = scraped()
        assert 0 < first < lines()  # a crashed run: up to its last checkpoint
        assert scraped() == 0  # nothing appended since: nothing read again
        with resume_run(run, strategy=_SignalsEveryBar(interrupt=False)) as resumed:
            assert scraped() == 0  # cut back to where the scrapes stopped
            resumed.run_n_steps(25)
            during = scraped()
            resumed.run_to_end(80)
        after = scraped()
        assert scraped() == 0
        assert during > 0
        assert after > 0
        assert first + during + after == lines()  # each line of the run parsed once

    @pytest.mark.broken_run("it rewrites, cuts and tears the run's events.jsonl")
    def test_events_rewritten_cut_or_torn_are_read_again(self, run, parsed):
        """A file another in its place, cut short, or ending in half a line (a writer
        mid-line, a run of a release without writer locks) is read from its start."""
        app = make_exporter(run)
        events = run / "events.jsonl"
        whole = events.read_bytes()
        scrape(app)
        total = len(parsed)
        steps = [
            whole.replace(b'"SIGNAL"', b'"BAR"', 1),  # same size, same last line
            whole[: whole.rindex(b"\n", 0, -1) + 1],  # its last line cut off
            whole + whole.splitlines(keepends=True)[1][:40],  # half a line appended
            whole,
        ]
        for content in steps:
            replaced = run / "events.jsonl.new"
            replaced.write_bytes(content)
            replaced.replace(events)
            parsed.clear()
            assert scrape(app)[1].decode() == render_textfile(run)
            assert len(parsed) >= total - 1  # read from the start


class TestLongRuns:
    """``prom`` runs beside live runs of up to a million steps: it streams, never holds."""

    @pytest.mark.broken_run("it appends copies of a BAR line to a run")
    def test_memory_does_not_grow_with_the_events(self, tmp_path):
        """Eight times the events take about the same peak memory (a list of them: 8 x).

        Memory, not speed: what tracemalloc counts does not depend on the machine's load.
        Holding the events (about 2 KB a parsed line) would take some 2 MB for the small run
        and 16 MB for the large one.
        """
        render_textfile(grown_run(tmp_path / "warm", 10))  # imports, caches
        small_run, large_run = (
            grown_run(tmp_path / "small", 1_000),
            grown_run(tmp_path / "large", 8_000),
        )
        small = peak_memory(lambda: render_textfile(small_run))
        large = peak_memory(lambda: render_textfile(large_run))

        assert large < 2 * small + 256 * 1024, (small, large)

    @pytest.mark.broken_run("it appends copies of a SIGNAL line to a run")
    def test_counts_every_streamed_event(self, tmp_path):
        """Every line of a long file is counted, to the last."""
        run = grown_run(tmp_path / "grown", 10, kind=b'"SIGNAL"')

        assert run_values(render_textfile(run))[("trader_signals_total", ())] == 4 + 10

    @given(data=st.data())
    def test_iter_records_is_read_records(self, tmp_path_factory, data):
        """The streaming reader gives the records the list reader gives, cut or not."""
        lines = data.draw(
            st.lists(
                st.sampled_from([b'{"a": 1}', b"[1]", b"", b"\x00", b'{"b": "\xc3\xa9"}', b"{"]),
                max_size=12,
            )
        )
        raw = b"\n".join(lines) + data.draw(st.sampled_from([b"", b"\n"]))
        path = tmp_path_factory.mktemp("lines") / "events.jsonl"
        path.write_bytes(raw)
        offset = data.draw(st.integers(0, len(raw) + 2))
        cut = RunCut(steps=1, offsets={"events.jsonl": offset}, metrics=None)

        assert list(iter_records(path)) == read_records(path)
        assert list(iter_records(path, cut)) == read_records(path, cut)

    @given(
        st.lists(
            st.tuples(
                st.integers(-3 * _DAY_NS, 3 * _DAY_NS),
                st.integers(0, 1),
                st.integers(-50, 50),
            ),
            max_size=30,
        )
    )
    def test_latest_equity_is_the_sorted_one(self, observations):
        """The running latest and day's first equal those of every record kept and sorted."""
        tracker = _LatestEquity()
        for ts, source, value in sorted(observations, key=lambda o: o[1]):  # events first
            tracker.add({"ts_sim": ts}, str(value), source=source)
        ordered = sorted(
            (o for o in sorted(observations, key=lambda o: o[1])),
            key=lambda o: (o[0], o[1]),
        )
        if not ordered:
            assert tracker.result() == (0.0, 0.0)
            return
        last_ts, _, latest = ordered[-1]
        first = next(v for ts, _, v in ordered if ts // _DAY_NS == last_ts // _DAY_NS)
        assert tracker.result() == (float(Decimal(latest)), float(Decimal(latest - first)))


class TestWriteTextfile:
    """The textfile is replaced atomically."""

    def test_writes_and_replaces(self, run, tmp_path):
        """The file holds the rendered text and no temporary file is left."""
        target = tmp_path / "out" / "trader.prom"
        target.parent.mkdir()
        target.write_text("old")

        write_textfile(run, target)

        assert target.read_text() == render_textfile(run)
        assert sorted(p.name for p in target.parent.iterdir()) == ["trader.prom"]


class TestExporter:
    """make_exporter gives a WSGI app an embedding app can mount."""

    def test_computes_in_the_library_s_decimal_context(self, run, tmp_path):
        """Bug: the metrics were computed in the caller's Decimal context, which
        docs/embedding.md says livesession never computes in: under an application's
        ``prec = 4`` this run's equity of 10001.81 was exported as 10000.0 and its daily
        P&L of 1.81 as 0.0, and a context that traps ``Inexact`` or ``Rounded`` made every
        scrape raise."""
        expected = render_textfile(run)
        with decimal.localcontext() as mine:  # the application's own arithmetic
            mine.prec = 4
            mine.traps[decimal.Inexact] = True
            mine.traps[decimal.Rounded] = True
            assert render_textfile(run) == expected
            assert scrape(make_exporter(run)) == ("200 OK", expected.encode())
            assert scrape(make_exporter(make_registry(run)))[1] == expected.encode()
            write_textfile(run, tmp_path / "run.prom")
            assert decimal.getcontext() is mine
            assert mine.prec == 4
        assert (tmp_path / "run.prom").read_text(encoding="utf-8") == expected

    def test_serves_run(self, run):
        """The app answers 200 with the run's metrics."""
        status, body = scrape(make_exporter(run))

        assert status.startswith("200")
        assert b'trader_equity{run_id="run-test-1"} 10001.81' in body

    def test_serves_a_run_named_by_any_path_like(self, run):
        """Bug: a run directory given as an ``os.PathLike`` that is no ``Path`` (docs/
        embedding.md: a path is a str or any os.PathLike wherever the API takes one) was
        taken for a registry: the app raised ``AttributeError`` at its first request."""

        class Named:
            def __fspath__(self) -> str:
                return str(run)

        status, body = scrape(make_exporter(Named()))

        assert status.startswith("200")
        assert body == scrape(make_exporter(run))[1]

    @pytest.mark.broken_run("it appends events after the stop to mimic a live run")
    def test_reads_at_each_scrape(self, run):
        """A run directory is read afresh at every request."""
        app = make_exporter(str(run))
        payload = {"symbol": "BTCUSDT", "side": "BUY", "reason": "x"}
        event = {
            "schema": "C2_DRYRUN_V1",
            "seq": 41,
            "event_id": stable_id("run-test-1", "sma_cross", "SIGNAL", 41, payload),
            "run_id": "run-test-1",
            "strategy_id": "sma_cross",
            "event_type": "SIGNAL",
            "ts_sim": 10**12,
            "ts_utc": "2026-01-01T00:16:40Z",
            "payload": payload,
        }
        path = run / "events.jsonl"
        path.write_bytes(path.read_bytes() + canonical(event) + b"\n")

        assert b'trader_signals_total{run_id="run-test-1"} 5.0' in scrape(app)[1]

    @pytest.mark.broken_run("its events.jsonl is replaced with a FIFO")
    @pytest.mark.parametrize("given", ["path", "registry"])
    def test_unreadable_run_is_one_line_503(self, run, given):
        """A run the file system refuses is a 503 and one line naming it, not a 500 page."""
        events = run / "events.jsonl"
        events.unlink()
        os.mkfifo(events)
        app = make_exporter(run if given == "path" else make_registry(run))

        status, body = scrape(app)

        assert status == "503 Service Unavailable"
        where = f"the run {run}" if given == "path" else "the registry's run"
        line = f"livesession: cannot read {where}: {events}: not a regular file (a FIFO)\n"
        assert body.decode() == line

    def test_given_registry(self, run):
        """A registry built by the caller is served as it is."""
        status, body = scrape(make_exporter(make_registry(run)))

        assert status.startswith("200")
        assert b'trader_signals_total{run_id="run-test-1"} 4.0' in body


class TestMissingExtra:
    """Without prometheus_client the error names the extra to install."""

    def test_missing_prometheus_client(self, run, monkeypatch):
        """render_textfile raises MissingExtra naming livesession[observability]."""
        monkeypatch.setitem(sys.modules, "prometheus_client", None)

        with pytest.raises(MissingExtra, match=r"livesession\[observability\]"):
            render_textfile(run)
        with pytest.raises(MissingExtra):
            make_exporter(run)


def collected(directory) -> str:
    """What node_exporter's textfile collector serves for ``directory``'s ``*.prom`` files.

    It parses every file and merges the families of one name (their HELP and TYPE must
    agree), and a series two files both give fails the whole scrape; so does this.
    """
    from prometheus_client import CollectorRegistry, generate_latest
    from prometheus_client.metrics_core import Metric

    merged: dict[str, Metric] = {}
    seen: set[tuple[str, tuple]] = set()
    for path in sorted(directory.glob("*.prom")):
        for family in parser.text_string_to_metric_families(path.read_text("utf-8")):
            into = merged.setdefault(
                family.name, Metric(family.name, family.documentation, family.type)
            )
            assert (into.documentation, into.type) == (family.documentation, family.type)
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                assert key not in seen, f"{path.name}: {key} was collected before"
                seen.add(key)
                into.samples.append(sample)

    class Merged:
        def collect(self):
            return list(merged.values())

    registry = CollectorRegistry(auto_describe=False)
    registry.register(Merged())
    return generate_latest(registry).decode("utf-8")


class TestOneCollectorDirectory:
    """Runs' textfiles share one node_exporter textfile directory."""

    def test_every_series_names_its_run(self, tmp_path):
        """Bug: only trader_run_info had a run_id label, so two runs' textfiles in one
        collector directory gave the same series (`trader_signals_total 4.0` twice) and
        the collector failed the scrape. Every series now carries `run_id`."""
        directory = tmp_path / "textfile"
        directory.mkdir()
        for run_id in ("a1", "a2"):
            run = build_run(tmp_path / run_id, run_id=run_id)
            write_textfile(run, directory / f"{run_id}.prom")
            for family in parser.text_string_to_metric_families(
                (directory / f"{run_id}.prom").read_text("utf-8")
            ):
                for sample in family.samples:
                    assert sample.labels.get("run_id") == run_id, sample

        text = collected(directory)

        values = sample_values(text)
        assert values[("trader_signals_total", (("run_id", "a1"),))] == 4
        assert values[("trader_signals_total", (("run_id", "a2"),))] == 4
        assert text.count("# HELP trader_signals_total ") == 1


@pytest.mark.promtool
class TestPromtool:
    """promtool, Prometheus' own linter, accepts the output."""

    def test_check_metrics(self, tmp_path):
        """`promtool check metrics` succeeds on a completed and a failed run."""
        promtool = shutil.which("promtool")
        if promtool is None:
            if os.environ.get("LIVESESSION_REQUIRE_PROMTOOL") == "1":
                pytest.fail("promtool is not on PATH but LIVESESSION_REQUIRE_PROMTOOL=1")
            pytest.skip("promtool is not on PATH (run .ci/setup_promtool.sh to install it)")
        for scenario in ("completed", "fault", "preflight_failed"):
            text = render_textfile(build_run(tmp_path / scenario, scenario=scenario))

            result = subprocess.run(
                [promtool, "check", "metrics"],
                input=text,
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )

            assert result.returncode == 0, result.stdout + result.stderr

    def test_check_metrics_of_runs_in_one_collector_directory(self, tmp_path):
        """What the collector serves for two runs' textfiles passes `promtool check metrics`."""
        promtool = shutil.which("promtool")
        if promtool is None:
            pytest.skip("promtool is not on PATH (run .ci/setup_promtool.sh to install it)")
        directory = tmp_path / "textfile"
        directory.mkdir()
        for run_id, scenario in (("a1", "completed"), ("a2", "fault")):
            run = build_run(tmp_path / run_id, run_id=run_id, scenario=scenario)
            write_textfile(run, directory / f"{run_id}.prom")

        result = subprocess.run(
            [promtool, "check", "metrics"],
            input=collected(directory),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

        assert result.returncode == 0, result.stdout + result.stderr


def test_the_heat_gauge_says_it_is_not_the_rail_s_heat(tmp_path):
    """Bug: a run holding 0.250 BTC/USDT at 41831.62 on 99908 of equity had prom say
    ``trader_portfolio_heat 0.1047``, its HELP ``Gross exposure at the last close divided by
    equity.``, beside the evidence's ``PORTFOLIO_HEAT | 0.01 of equity for all open
    exposure, at the assumed stop distance of 0.02``: a reviewer read a heat ten times its
    cap that the rail never saw (the rail's heat was 0.002). The HELP now says the gauge is
    not the rail's measure and how the two relate."""
    run = build_run(tmp_path / "r")
    heat = families(render_textfile(run))["trader_portfolio_heat"]
    assert heat.documentation.startswith("Gross exposure at the last close divided by equity")
    assert "not the PORTFOLIO_HEAT rail's measure" in heat.documentation
    assert "stop_distance_pct" in heat.documentation
