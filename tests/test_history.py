"""Real history: data files read as users export them, with their own times and symbols.

The acceptance runs write their own small files in the layouts of common OHLCV exports
(the samples in the ``backtesting`` package's wheel: a first column left unnamed holding
dates such as ``2004-08-19`` or ``2013-02-01 00:00:00``, then capitalised
``Open,High,Low,Close,Volume``), a dated minute file with a weekend gap, and a Parquet
file, and run each through the CLI from another directory than the config's. Every run
must verify; the bars carry the file's own times; ``evidence`` records the data file and
refuses it once changed.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import subprocess
import sys
import tracemalloc
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from livesession import DryrunConfig, LiveSessionOrchestrator, load_config
from livesession._domain.clock import epoch_ns
from livesession._exceptions import ConfigError, DataFileError
from livesession._market.datafile import check_csv
from livesession._market.feeds import CsvReplayFeed
from livesession._market.parquet import ParquetReplayFeed
from livesession.verify import verify_run

from _helpers import Sinks, session
from crash_harness import KILLED
from crash_harness import cli as crash_cli

DOCS = Path(__file__).resolve().parent.parent / "docs"

EXIT_OK, EXIT_BAD_INPUT, EXIT_REJECTED = 0, 2, 3
_MOVES = (150, -90, 220, -310, 60, -40, 275, -180)


def _cli(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("livesession: error: ")
    return lines[0]


def _ohlc(n: int, cents: int, places: int) -> tuple[list[str], int]:
    """One zig-zag bar (open, high, low, close as text with ``places`` decimals), next close."""
    before = cents
    cents += _MOVES[n % 8] * (1 + (n // 8) % 3)
    scale = 10**places
    prices = (before, max(before, cents) + 25, min(before, cents) - 25, cents)
    return [f"{p // scale}.{p % scale:0{places}d}" for p in prices], cents


def goog_daily(path: Path, rows: int) -> list[str]:
    """The layout of ``GOOG.csv``: unnamed first column of dates, weekdays only; the dates."""
    lines, dates = [",Open,High,Low,Close,Volume"], []
    day, cents, n = dt.date(2004, 8, 19), 10_000, 0
    while len(dates) < rows:
        if day.weekday() < 5:
            prices, cents = _ohlc(n, cents, 2)
            lines.append(f"{day.isoformat()},{','.join(prices)},{44_000_000 + 1_000 * n}")
            dates.append(day.isoformat())
            n += 1
        day += dt.timedelta(days=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dates


def eurusd_hourly(path: Path, rows: int) -> list[str]:
    """The layout of ``EURUSD.csv``: unnamed first column ``2013-02-01 00:00:00``, hourly, five
    decimals, trading from Sunday 22:00 to Friday 21:00; the times as written."""
    lines, times = [",Open,High,Low,Close,Volume"], []
    hour, points, n = dt.datetime(2013, 2, 1, 12, tzinfo=dt.UTC), 135_000, 0  # a Friday noon
    while len(times) < rows:
        weekend = (hour.weekday() == 4 and hour.hour >= 22) or hour.weekday() == 5
        weekend = weekend or (hour.weekday() == 6 and hour.hour < 22)
        if not weekend:
            prices, points = _ohlc(n, points, 5)
            text = hour.strftime("%Y-%m-%d %H:%M:%S")
            lines.append(f"{text},{','.join(prices)},{100 + n}")
            times.append(text)
            n += 1
        hour += dt.timedelta(hours=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return times


def _events(run_dir: Path) -> list[dict[str, Any]]:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    return [json.loads(line) for line in lines]


def _bar_times(run_dir: Path) -> list[str]:
    return [e["ts_utc"] for e in _events(run_dir) if e["event_type"] == "BAR"]


def _config(run_dir: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((run_dir / "config.json").read_bytes())
    return loaded


def _utc(text: str) -> str:
    """The RFC 3339 text the session stamps for a naive (UTC) date or time of the file."""
    moment = dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def elsewhere(tmp_path: Path) -> Path:
    """A working directory that is neither the config's nor the data's."""
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    return cwd


def _goog_run(tmp_path: Path, elsewhere: Path, more_config: str, name: str = "goog.csv") -> Path:
    """A dryrun (run id ``g``) on 12 days of ``tmp_path/name``, from another directory."""
    goog_daily(tmp_path / name, 12)
    config = tmp_path / "run.toml"
    config.write_text(f'feed = "csv:{name}"\nqty_lot = "1"\n' + more_config, encoding="utf-8")
    out = tmp_path / "runs"
    done = _cli("dryrun", "--config", config, "--out", out, "--run-id", "g", "-q", cwd=elsewhere)
    assert done.returncode == EXIT_OK, done.stderr
    return out / "g"


class TestBacktestingLayouts:
    def test_goog_daily_with_the_config_symbol(self, tmp_path: Path, elsewhere: Path) -> None:
        dates = goog_daily(tmp_path / "data" / "GOOG.csv", 60)
        config = tmp_path / "cfg" / "goog.toml"
        config.parent.mkdir()
        config.write_text(
            'feed = "csv:../data/GOOG.csv"\nsymbol = "GOOG"\nqty_lot = "1"\n'
            '[strategy]\nfast = 3\nslow = 8\norder_qty = "10"\n[risk]\nmax_order_qty = "100"\n',
            encoding="utf-8",
        )
        out = tmp_path / "runs"
        done = _cli(
            "dryrun", "--config", config, "--out", out, "--run-id", "goog", "-q", cwd=elsewhere
        )
        assert done.returncode == EXIT_OK, done.stderr
        run_dir = out / "goog"
        assert verify_run(run_dir).ok
        # The bars are the file's days, weekend gaps included (Friday 20th, Monday 23rd).
        assert _bar_times(run_dir) == [_utc(d) for d in dates]
        assert _bar_times(run_dir)[1:3] == ["2004-08-20T00:00:00Z", "2004-08-23T00:00:00Z"]
        events = _events(run_dir)
        assert events[0]["ts_utc"] == "2004-08-19T00:00:00Z"  # the session starts with the data
        ts_sim = [e["ts_sim"] for e in events]
        assert ts_sim == sorted(ts_sim)
        assert any(e["event_type"] == "ORDER_FILLED" for e in events)
        recorded = _config(run_dir)
        data = (tmp_path / "data" / "GOOG.csv").read_bytes()
        assert recorded["start_time"] == "2004-08-19T00:00:00Z"
        assert recorded["allowlist"] == ["GOOG"]  # none given: the feed's symbol
        assert recorded["price_tick"] == "0.01"  # inferred: prices have two decimals
        assert recorded["feed"] == "csv:../data/GOOG.csv"  # as written: the bytes keep no path
        assert recorded["feed_bytes"] == len(data)
        evidence = _cli("evidence", run_dir, cwd=elsewhere)
        assert evidence.returncode == EXIT_OK, evidence.stderr
        manifest = json.loads((run_dir / "manifest.json").read_bytes())
        assert manifest["data"]["sha256"] == recorded["feed_sha256"]
        assert manifest["data"]["bytes"] == len(data)
        assert manifest["data"]["path"] == str((tmp_path / "data" / "GOOG.csv").resolve())
        assert manifest["determinism"]["status"] == "match"

    def test_a_file_without_a_symbol_is_named_by_its_stem(self, tmp_path: Path, elsewhere: Path):
        run_dir = _goog_run(tmp_path, elsewhere, "")
        (started,) = [e for e in _events(run_dir) if e["event_type"] == "SESSION_STARTED"]
        assert started["payload"]["symbol"] == "GOOG"  # not BTC/USDT
        assert _config(run_dir)["allowlist"] == ["GOOG"]
        log = (run_dir / "session.log.jsonl").read_text(encoding="utf-8")
        assert "no allowlist given: the feed's symbols [GOOG]" in log

    def test_an_allowlist_beyond_the_feeds_symbol_is_said_to_trade_nothing(
        self, tmp_path: Path, elsewhere: Path
    ):
        """A desk lists its basket in the allowlist of a session on one symbol's file: the
        run passed preflight without a word, and every order for ETH/USDT was refused
        (NO_MARKET_PRICE) as it came. The session log now says so before the first bar."""
        run_dir = _goog_run(tmp_path, elsewhere, 'allowlist = ["GOOG", "ETH/USDT", "AAPL"]\n')
        lines = (run_dir / "session.log.jsonl").read_text(encoding="utf-8").splitlines()
        (note,) = [json.loads(line) for line in lines if "preflight_note" in line]
        assert (note["level"], note["check"]) == ("warning", "allowlist_valid")
        assert note["detail"] == (
            "the allowlist names ETH/USDT, AAPL beside the feed's symbol GOOG: a session trades "
            "only its feed's symbol, so an order for ETH/USDT, AAPL will be refused "
            "(NO_MARKET_PRICE); a basket runs one session per symbol (docs/concepts.md, "
            '"One symbol a session")'
        )

    def test_a_stem_that_is_no_symbol_asks_for_one(self, tmp_path: Path, elsewhere: Path) -> None:
        goog_daily(tmp_path / "goog_daily_2004.csv", 5)
        config = tmp_path / "run.toml"
        config.write_text('feed = "csv:goog_daily_2004.csv"\n', encoding="utf-8")
        line = _one_error_line(
            _cli("dryrun", "--config", config, "--out", tmp_path / "runs", cwd=elsewhere)
        )
        assert "goog_daily_2004.csv does not name a symbol: set symbol" in line
        assert not (tmp_path / "runs").exists()

    def test_a_stem_with_a_dot_asks_which_symbol(self) -> None:
        """Bug: ``BRK.B.csv`` (the class B shares: ``BRK.B`` is a ticker docs/data.md gives)
        was named by its name's first part, ``BRK``, and its bars were recorded as another
        instrument's without a word (``GOOG.daily.csv`` as ``GOOG`` alike). A name whose
        stem holds a dot reads either way: the session asks for the symbol."""
        with pytest.raises(ConfigError) as refused:
            DryrunConfig(feed="csv:/data/BRK.B.csv")
        assert str(refused.value).startswith(
            "data file BRK.B.csv does not name a symbol plainly: its stem reads as BRK.B, or as "
            "BRK with '.B' after it: set symbol"
        )
        with pytest.raises(ConfigError, match=r"GOOG\.DAILY, or as GOOG with '\.daily'"):
            DryrunConfig(feed="parquet:goog.daily.parquet")
        assert DryrunConfig(feed="csv:/data/BRK.B.csv", symbol="BRK.B").symbol == "BRK.B"
        assert DryrunConfig(feed="csv:/data/brk.csv").symbol == "BRK"

    def test_eurusd_hourly_with_a_weekend(self, tmp_path: Path, elsewhere: Path) -> None:
        times = eurusd_hourly(tmp_path / "EURUSD.csv", 40)
        config = tmp_path / "eurusd.toml"
        config.write_text(
            'feed = "csv:EURUSD.csv"\nsymbol = "EUR/USD"\nqty_lot = "1"\n'
            '[strategy]\nfast = 3\nslow = 8\norder_qty = "1000"\n'
            '[risk]\nmax_order_qty = "100000"\n',
            encoding="utf-8",
        )
        out = tmp_path / "runs"
        done = _cli(
            "dryrun", "--config", config, "--out", out, "--run-id", "eu", "-q", cwd=elsewhere
        )
        assert done.returncode == EXIT_OK, done.stderr
        run_dir = out / "eu"
        assert verify_run(run_dir).ok
        bars = _bar_times(run_dir)
        assert bars == [_utc(t) for t in times]
        assert "2013-02-01T21:00:00Z" in bars  # Friday's last hour, then Sunday 22:00
        assert bars[bars.index("2013-02-01T21:00:00Z") + 1] == "2013-02-03T22:00:00Z"
        assert _config(run_dir)["price_tick"] == "0.00001"  # inferred from five decimals
        closes = [e["payload"]["close"] for e in _events(run_dir) if e["event_type"] == "BAR"]
        written = [
            line.split(",")[4]
            for line in (tmp_path / "EURUSD.csv").read_text(encoding="utf-8").splitlines()[1:]
        ]
        assert closes == written  # never rounded, trailing zeros kept


class TestParquet:
    def test_a_parquet_file_runs_from_another_directory(
        self, tmp_path: Path, elsewhere: Path
    ) -> None:
        pa = pytest.importorskip("pyarrow")  # the tests extra installs it: CI runs this
        pq = pytest.importorskip("pyarrow.parquet")
        dates = goog_daily(tmp_path / "goog.csv", 30)
        rows = [
            line.split(",")
            for line in (tmp_path / "goog.csv").read_text(encoding="utf-8").splitlines()[1:]
        ]
        table = pa.table(
            {
                "Date": pa.array(
                    [dt.datetime.fromisoformat(r[0]) for r in rows], type=pa.timestamp("ns")
                ),
                **{
                    name: pa.array([float(r[i]) for r in rows], type=pa.float64())
                    for i, name in enumerate(("Open", "High", "Low", "Close"), start=1)
                },
                "Volume": pa.array([int(r[5]) for r in rows], type=pa.int64()),
            }
        )
        (tmp_path / "data").mkdir()
        pq.write_table(table, tmp_path / "data" / "goog.parquet")
        config = tmp_path / "pq.toml"
        config.write_text(
            'feed = "parquet:data/goog.parquet"\nsymbol = "GOOG"\nqty_lot = "1"\n'
            '[strategy]\nfast = 3\nslow = 8\norder_qty = "10"\n[risk]\nmax_order_qty = "100"\n',
            encoding="utf-8",
        )
        out = tmp_path / "runs"
        done = _cli(
            "dryrun", "--config", config, "--out", out, "--run-id", "pq", "-q", cwd=elsewhere
        )
        assert done.returncode == EXIT_OK, done.stderr
        run_dir = out / "pq"
        assert verify_run(run_dir).ok
        assert _bar_times(run_dir) == [_utc(d) for d in dates]
        closes = [e["payload"]["close"] for e in _events(run_dir) if e["event_type"] == "BAR"]
        # Floats read as the text they print (repr: 101.5), never rounded, written with the
        # places of the tick inferred from them (0.01): 101.50.
        assert closes == [f"{Decimal(repr(float(r[4]))):.2f}" for r in rows]
        assert "101.50" in closes
        recorded = _config(run_dir)
        assert recorded["price_tick"] == "0.01"
        assert recorded["feed_bytes"] == (tmp_path / "data" / "goog.parquet").stat().st_size

    def test_a_float32_column_is_read_as_the_text_it_prints(self, tmp_path: Path) -> None:
        """Bug: read as its float64 repr, 1.0842000246047974 (a price_tick of 1E-16 inferred,
        or a price off a given tick of 0.0001)."""
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        prices = {"open": 1.0842, "high": 1.0845, "low": 1.084, "close": 1.0843}
        table = pa.table(
            {
                **{name: pa.array([p, p], type=pa.float32()) for name, p in prices.items()},
                "volume": pa.array([100.0, 1e-7], type=pa.float32()),
            }
        )
        pq.write_table(table, tmp_path / "f32.parquet")
        feed = ParquetReplayFeed(tmp_path / "f32.parquet", symbol="X", tick=None, lot=Decimal(1))
        bar = feed.next_bar(0)
        assert feed.checked.price_tick == Decimal("0.0001")
        assert bar is not None
        assert (bar.open, bar.high, bar.low, bar.close) == (
            Decimal("1.0842"), Decimal("1.0845"), Decimal("1.0840"), Decimal("1.0843"),
        )  # fmt: skip
        assert str(bar.volume) == "100"  # 100.0, a whole number of lots (1)
        assert str(feed.next_bar(0).volume) == "1E-7"  # type: ignore[union-attr]
        feed.close()

    def test_a_time_split_in_date_and_time_columns_is_one_time(self, tmp_path: Path) -> None:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        table = pa.table(
            {
                "date": ["2026-03-06", "2026-03-06"],
                "time": ["21:58", "21:59"],
                **{name: [1.0, 1.0] for name in ("open", "high", "low", "close", "volume")},
            }
        )
        pq.write_table(table, tmp_path / "x.parquet")
        feed = ParquetReplayFeed(tmp_path / "x.parquet", symbol="X", tick=None, lot=Decimal(1))
        bars = feed.next_bar(0), feed.next_bar(0)
        assert feed.dated
        assert [b.ts_ns for b in bars if b is not None] == [
            epoch_ns(dt.datetime(2026, 3, 6, 21, minute, tzinfo=dt.UTC)) for minute in (58, 59)
        ]

    def test_a_file_that_is_not_parquet_is_one_line(self, tmp_path: Path, elsewhere: Path):
        pytest.importorskip("pyarrow")
        (tmp_path / "x.parquet").write_text("Date,Open\n", encoding="utf-8")
        config = tmp_path / "pq.toml"
        config.write_text('feed = "parquet:x.parquet"\nsymbol = "X"\n', encoding="utf-8")
        line = _one_error_line(
            _cli("dryrun", "--config", config, "--out", tmp_path / "runs", cwd=elsewhere)
        )
        assert f"data file {(tmp_path / 'x.parquet').resolve()} is not a Parquet file" in line

    def test_a_row_s_problem_names_the_table_s_row_beside_its_line(
        self, tmp_path: Path, elsewhere: Path
    ) -> None:
        """Bug: only "line 22" was said, counted as a CSV export of the table would (the
        header line 1): a Parquet file has no lines, and row 22 in pandas (``df.iloc``) or
        pyarrow is two rows past the duplicated one. Its row is named too, from 0."""
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
        times = [start + dt.timedelta(minutes=i) for i in range(30)]
        times[20] = times[19]  # a duplicated row: the table's row 20
        table = pa.table(
            {
                "timestamp": pa.array(times, type=pa.timestamp("ns", tz="UTC")),
                **{name: [1.0842] * 30 for name in ("open", "high", "low", "close")},
                "volume": [100] * 30,
            }
        )
        pq.write_table(table, tmp_path / "eurusd.parquet")
        config = tmp_path / "pq.toml"
        config.write_text('feed = "parquet:eurusd.parquet"\n', encoding="utf-8")
        done = _cli("dryrun", "--config", config, "--out", tmp_path / "runs", cwd=elsewhere)
        line = _one_error_line(done)
        assert (
            f"data file {(tmp_path / 'eurusd.parquet').resolve()}, line 22 (row 20 of the table,"
            " from 0), column timestamp, value '2026-03-02T00:19:00+00:00': time does not "
            "increase (line 21 has 2026-03-02T00:19:00+00:00): the same row twice (a bar "
            "written twice"
        ) in line
        assert not (tmp_path / "runs").exists()  # refused before anything is written

    @pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="threads counted in /proc")
    def test_reading_a_parquet_file_starts_no_arrow_thread(self, tmp_path: Path) -> None:
        """Bug (found by CI): the command above ended with SIGABRT, exit -6 instead of 2, its
        error line said, after "terminate called without an active exception": Arrow's
        thread pool, started by ``read_table``, was torn down at the interpreter's end with a
        worker still joinable (some 1 exit in 10 on a loaded machine). The file is read, and
        checked and played, on the calling thread: no thread is started that the process's
        end could abort on. Counted in a process of its own, where no other test has started
        Arrow's pools; an abort at its end fails it too."""
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
        times = [start + dt.timedelta(minutes=i) for i in range(30)]
        table = pa.table(
            {
                "timestamp": pa.array(times, type=pa.timestamp("ns", tz="UTC")),
                **{
                    name: pa.array([1.0842] * 30, type=pa.float32())
                    for name in ("open", "high", "low", "close")
                },
                "volume": [100] * 30,
            }
        )
        pq.write_table(table, tmp_path / "good.parquet")
        times[20] = times[19]
        pq.write_table(
            table.set_column(0, "timestamp", pa.array(times, type=pa.timestamp("ns", tz="UTC"))),
            tmp_path / "bad.parquet",
        )
        script = (
            "import os, sys\n"
            "from decimal import Decimal\n"
            "from pathlib import Path\n"
            "import pyarrow.parquet\n"
            "from livesession._exceptions import DataFileError\n"
            "from livesession._market.parquet import ParquetReplayFeed, check_parquet\n"
            "def threads(): return len(os.listdir('/proc/self/task'))\n"
            "before = threads()\n"
            "good, bad = Path(sys.argv[1]), Path(sys.argv[2])\n"
            "check_parquet(good, tick=None)\n"
            "feed = ParquetReplayFeed(good, symbol='X', tick=None, lot=Decimal(1))\n"
            "bars = 0\n"
            "while feed.next_bar(0) is not None: bars += 1\n"
            "try: check_parquet(bad, tick=None)\n"
            "except DataFileError: pass\n"
            "print(bars, before, threads())\n"
        )
        done = subprocess.run(
            [
                sys.executable,
                "-c",
                script,
                str(tmp_path / "good.parquet"),
                str(tmp_path / "bad.parquet"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        bars, before, after = map(int, done.stdout.split())
        assert bars == 30
        assert after == before, f"{after - before} thread(s) started by reading the file"

    def test_a_parquet_file_of_another_symbol_is_refused(self, tmp_path: Path) -> None:
        """The symbol column rule holds for Parquet as for CSV (one checker for both)."""
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        table = pa.table(
            {
                "Symbol": ["GOOG", "GOOG"],
                **{name: [101.5, 101.75] for name in ("Open", "High", "Low", "Close")},
                "Volume": [100, 200],
            }
        )
        pq.write_table(table, tmp_path / "goog.parquet")
        with pytest.raises(DataFileError) as caught:
            ParquetReplayFeed(tmp_path / "goog.parquet", symbol="AAPL", tick=None, lot=Decimal(1))
        assert "line 2 (row 0 of the table, from 0), column Symbol, value 'GOOG': the rows" in str(
            caught.value
        )
        feed = ParquetReplayFeed(
            tmp_path / "goog.parquet", symbol="GOOG", tick=None, lot=Decimal(1)
        )
        assert feed.checked.symbol == "GOOG"
        feed.close()

    def test_a_table_s_cells_are_made_text_a_chunk_of_rows_at_a_time(self, tmp_path: Path) -> None:
        """Bug: every cell of the table was made text up front, and the texts kept while the
        run played (a million rows took some 750 MB, for a file of 5 MB). The check and the
        feed now make them a chunk of rows at a time; the bars are the same."""
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        rows = 30_000
        start = epoch_ns(dt.datetime(2026, 3, 2, tzinfo=dt.UTC))
        opens = [round(1.0842 + (i % 7) * 0.0001, 4) for i in range(rows)]
        table = pa.table(
            {
                "timestamp": pa.array(
                    [start + 60_000_000_000 * i for i in range(rows)],
                    type=pa.timestamp("ns", tz="UTC"),
                ),
                "open": opens,
                "high": [p + 0.001 for p in opens],
                "low": [p - 0.001 for p in opens],
                "close": opens,
                "volume": list(range(rows)),
            }
        )
        pq.write_table(table, tmp_path / "eurusd.parquet")
        tracemalloc.start()
        try:
            feed = ParquetReplayFeed(
                tmp_path / "eurusd.parquet", symbol="EUR/USD", tick=None, lot=Decimal(1)
            )
            held, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < 8 * 2**20, (held, peak)  # all the texts at once: some 18 MB
        bars = list(iter(lambda: feed.next_bar(0), None))
        assert len(bars) == rows
        for i in (0, 1_023, 1_024, rows - 1):
            assert (bars[i].ts_ns, bars[i].open, bars[i].volume) == (
                start + 60_000_000_000 * i, Decimal(str(opens[i])), Decimal(i),
            )  # fmt: skip
        feed.set_state({"row": 5})  # back into a chunk made text before
        assert feed.next_bar(0) == bars[5]
        feed.close()


class TestTimestamps:
    HEADER = "time,open,high,low,close,volume\n"

    def _file(self, tmp_path: Path, times: list[str]) -> Path:
        path = tmp_path / "t.csv"
        rows = "".join(f"{t},1.00,1.10,0.90,1.05,7\n" for t in times)
        path.write_text(self.HEADER + rows, encoding="utf-8")
        return path

    @pytest.mark.parametrize(
        "times",
        [
            ["2026-03-06T21:59:00Z", "2026-03-08T22:00:00Z"],
            ["2026-03-06 21:59:00", "2026-03-08 22:00:00"],  # naive: UTC
            ["2026-03-06T22:59:00+01:00", "2026-03-08T23:00:00+01:00"],  # offsets honoured
            ["1772834340", "1773007200"],  # epoch seconds
            ["1772834340000", "1773007200000"],  # epoch milliseconds
            ["1772834340000000", "1773007200000000"],  # epoch microseconds
            ["1772834340000000000", "1773007200000000000"],  # epoch nanoseconds
            ["06.03.2026 21:59", "08.03.2026 22:00"],  # day first, as spreadsheets write
            ["06.03.2026 21:59:00", "08.03.2026 22:00:00"],
            ["2026.03.06 21:59", "2026.03.08 22:00"],  # year first, as MetaTrader writes
        ],
    )
    def test_every_form_gives_the_same_moments(self, tmp_path: Path, times: list[str]) -> None:
        feed = CsvReplayFeed(self._file(tmp_path, times), symbol="X", tick=None, lot=Decimal(1))
        first, second = feed.next_bar(0), feed.next_bar(0)
        feed.close()
        assert feed.dated
        assert first is not None
        assert second is not None
        want = epoch_ns(dt.datetime(2026, 3, 6, 21, 59, tzinfo=dt.UTC))
        assert (feed.first_ts_ns, first.ts_ns) == (want, want)
        assert second.ts_ns == epoch_ns(dt.datetime(2026, 3, 8, 22, 0, tzinfo=dt.UTC))

    @pytest.mark.parametrize(
        ("times", "first", "second"),
        [
            # Python's fromisoformat reads these as 1796-03-28 and 1796-03-31 (basic form).
            (["1796032800000", "1796033100000"], (2026, 11, 30, 10, 0), (2026, 11, 30, 10, 5)),
            (["1796032800", "1796033100"], (2026, 11, 30, 10, 0), (2026, 11, 30, 10, 5)),
            (["20261127", "20261130"], (2026, 11, 27, 0, 0), (2026, 11, 30, 0, 0)),
        ],
    )
    def test_digits_alone_are_epoch_numbers_except_a_compact_date(
        self,
        tmp_path: Path,
        times: list[str],
        first: tuple[int, ...],
        second: tuple[int, ...],
    ) -> None:
        """Epoch milliseconds are never read as ISO 8601's basic form; eight digits are a date."""
        feed = CsvReplayFeed(self._file(tmp_path, times), symbol="X", tick=None, lot=Decimal(1))
        bars = feed.next_bar(0), feed.next_bar(0)
        feed.close()
        assert bars[0] is not None
        assert bars[1] is not None
        assert bars[0].ts_ns == epoch_ns(dt.datetime(*first, tzinfo=dt.UTC))
        assert bars[1].ts_ns == epoch_ns(dt.datetime(*second, tzinfo=dt.UTC))

    def test_bars_a_nanosecond_apart_share_a_ts_utc_and_not_a_ts_sim(self, tmp_path: Path) -> None:
        """docs/data.md said ``ts_utc`` of a ``BAR`` is the data's time; it is to the
        microsecond (the artifact contract's), and ``ts_sim`` carries the nanoseconds."""
        times = ["2026-03-06T21:59:00.123456001Z", "2026-03-06T21:59:00.123456002Z"]
        cfg = DryrunConfig(
            run_id="ns", feed=f"csv:{self._file(tmp_path, times)}", symbol="X", steps=2
        )
        sinks = Sinks()
        orch = LiveSessionOrchestrator(cfg, **sinks.kwargs())
        orch.run_to_end(2)
        orch.close()
        bars = sinks.events_of("BAR")
        assert [b["ts_sim"] for b in bars] == [1772834340123456001, 1772834340123456002]
        assert [b["ts_utc"] for b in bars] == ["2026-03-06T21:59:00.123456Z"] * 2
        page = " ".join((DOCS / "data.md").read_text(encoding="utf-8").split())
        assert "`ts_utc` (RFC 3339 text) to the microsecond" in page
        assert "`ts_sim` carries the nanoseconds" in page

    @staticmethod
    def _refusal(tmp_path: Path, rows: str) -> str:
        """The one-line refusal of a data file holding ``rows``."""
        path = tmp_path / "t.csv"
        path.write_text(rows, encoding="utf-8")
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=None)
        return str(caught.value)

    def test_times_must_increase_strictly(self, tmp_path: Path) -> None:
        said = self._refusal(
            tmp_path,
            ",Open,High,Low,Close,Volume\n2004-08-19,1,1,1,1,0\n2004-08-20,1,1,1,1,0\n"
            "2004-08-20,1,1,1,1,0\n",
        )
        assert "line 4, column #1, value '2004-08-20': time does not increase (line 3" in said
        assert ": the same row twice (a bar written twice, as files joined that overlap" in said
        assert said.endswith(
            ": delete one of the two lines (to join files: docs/data.md, "
            '"A period in several files")'
        )

    _ROW_INDEX = (
        "a number in an unnamed first column: pandas writes its row index so (to_csv or "
        "to_parquet without index=False), and a time index as dates and times; drop the "
        "column (index=False) to play the bars on the session's grid, or name it timestamp "
        "if it holds epoch times"
    )

    def test_pandas_row_numbers_in_an_unnamed_first_column_are_no_times(
        self, tmp_path: Path
    ) -> None:
        """Bug: ``df.to_csv()`` of bars without times, its index left in (0, 1, 2), was read
        as epoch seconds: every bar played in the first seconds of 1970, and the run
        verified. A number in an unnamed first column is refused; dates there still read."""
        said = self._refusal(
            tmp_path, ",Open,High,Low,Close,Volume\n0,1.1,1.2,1.0,1.1,5\n1,1.1,1.2,1.0,1.1,5\n"
        )
        assert said.endswith(f"t.csv, line 2, column #1, value '0': {self._ROW_INDEX}")

    @pytest.mark.parametrize(
        ("header", "first"),
        [
            ("Date", "45292"),
            ("Date", "45292.375"),
            ("Date", "0"),
            ("Date,Time", "20260302,093000"),
            ("Date,Time", "20260302,000000"),
        ],
    )
    def test_an_epoch_time_in_1970_s_first_days_is_no_moment(
        self, tmp_path: Path, header: str, first: str
    ) -> None:
        """Bug: a spreadsheet's dates saved as numbers (45292 is 2024-01-01, 45292.375 its
        09:00) were read as epoch seconds: every daily bar played a second apart on the
        first day of 1970, and the run verified. So did a time of day written HHMMSS beside
        a date (``20260302,093000``: the ``time`` column, no time of day, is read alone),
        at 1970-01-02T01:50:00Z. A first time in seconds below 1000000 is refused in one
        line; a row number (0) is too."""
        said = self._refusal(
            tmp_path,
            f"{header},Open,High,Low,Close,Volume\n{first},1,1,1,1,0\n{first}9,1,1,1,1,0\n",
        )
        column, value = ("Time", first.split(",")[1]) if "," in first else ("Date", first)
        assert said.endswith(
            f"t.csv, line 2, column {column}, value '{value}': an epoch time in seconds in "
            "1970's first days (below 1000000): a spreadsheet's date serial (45292 is "
            "2024-01-01), a time of day written HHMMSS (093000) or a row number? Write the "
            "column as dates and times (yyyy-mm-dd hh:mm:ss), or the bars' epoch times"
        )
        named = tmp_path / "named.csv"  # epoch times from 1000000 on still read
        named.write_text(
            "timestamp,open,high,low,close,volume\n1000000,1,1,1,1,0\n", encoding="utf-8"
        )
        assert check_csv(named, tick=None).first_ns == 10**15

    def test_a_parquet_file_s_filtered_pandas_index_is_no_time(self, tmp_path: Path) -> None:
        """The same bug in Parquet: a filtered DataFrame's index (0, 2, 3) is written as a
        column ``__index_level_0__``, which was read as epoch seconds."""
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        table = pa.table(
            {
                **{name: [1.1, 1.1, 1.1] for name in ("Open", "High", "Low", "Close")},
                "Volume": [5, 6, 7],
                "__index_level_0__": pa.array([0, 2, 3], type=pa.int64()),
            }
        )
        pq.write_table(table, tmp_path / "eurusd.parquet")
        with pytest.raises(DataFileError) as caught:
            ParquetReplayFeed(tmp_path / "eurusd.parquet", symbol="X", tick=None, lot=Decimal(1))
        assert str(caught.value).endswith(
            f"line 2 (row 0 of the table, from 0), column #1, value '0': {self._ROW_INDEX}"
        )

    def test_a_file_newest_first_is_told_to_sort(self, tmp_path: Path) -> None:
        """Many vendors export newest first: the refusal says so, and what to do."""
        header = "date,open,high,low,close,volume\n"
        said = self._refusal(tmp_path, header + "2004-08-20,1,1,1,1,0\n2004-08-19,1,1,1,1,0\n")
        assert "line 3, column date, value '2004-08-19': time does not increase (line 2" in said
        assert said.endswith("the file runs newest first; sort it oldest first")
        # Later in a file, a time that goes back is not taken for the file's order.
        said = self._refusal(
            tmp_path,
            header + "2004-08-18,1,1,1,1,0\n2004-08-20,1,1,1,1,0\n2004-08-19,1,1,1,1,0\n",
        )
        assert said.endswith(
            "(line 3 has 2004-08-20): a row out of place, or a time mistyped? Sort the rows by "
            "time, oldest first, or correct the row"
        )

    def test_a_fraction_of_a_second_is_read_to_the_nanosecond(self, tmp_path: Path) -> None:
        """Bug: ISO fractions were cut to microseconds (``datetime`` holds no finer), so
        ``.123456789`` and ``.123456790`` were refused as "the same time twice (a duplicated
        row?)", and ``.000000500`` played at ``.000000000``. Each bar keeps its own time."""
        times = [
            "2026-03-02T09:00:00.000000500Z",
            "2026-03-02T09:00:00.123456789Z",
            "2026-03-02T09:00:00.123456790+00:00",
            "2026-03-02T10:00:00.9234567+01:00",
            "2026-03-02 09:00:01.5",
        ]
        # A time without an offset after one at +01:00 is refused (test_one_file_one_zone):
        # it is read from a file of its own.
        read = []
        for part in (times[:4], times[4:]):
            feed = CsvReplayFeed(self._file(tmp_path, part), symbol="X", tick=None, lot=Decimal(1))
            read += [feed.next_bar(0) for _ in part]
            feed.close()
        second = epoch_ns(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))
        assert [bar.ts_ns - second for bar in read if bar is not None] == [
            500,
            123_456_789,
            123_456_790,
            923_456_700,
            1_500_000_000,
        ]

    def test_a_fraction_finer_than_the_nanosecond_is_one_line(self, tmp_path: Path) -> None:
        said = self._refusal(
            tmp_path, self.HEADER + "2026-03-02T09:00:00.1234567891Z,1.00,1.10,0.90,1.05,7\n"
        )
        assert said == (
            f"data file {tmp_path / 't.csv'}, line 2, column time, value "
            "'2026-03-02T09:00:00.1234567891Z': a fraction of a second of 10 digits: a run "
            "records times to the nanosecond (9 digits at most); write the times to it"
        )

    def test_newest_first_is_said_only_of_a_file_that_ends_before_it_began(
        self, tmp_path: Path
    ) -> None:
        """Bug: any second row earlier than the first was told "the file runs newest first;
        sort it oldest first", untrue of a file whose second row alone is out of place (or
        whose times mix UTC offsets). The hint needs the last row earlier than the first."""
        header = "date,open,high,low,close,volume\n"
        rows = ["2004-08-20", "2004-08-19", "2004-08-23", "2004-08-24"]
        said = self._refusal(tmp_path, header + "".join(f"{d},1,1,1,1,0\n" for d in rows))
        assert said.endswith(
            "value '2004-08-19': time does not increase (line 2 has 2004-08-20): a row out of "
            "place, or a time mistyped? Sort the rows by time, oldest first, or correct the row"
        )
        said = self._refusal(tmp_path, header + "".join(f"{d},1,1,1,1,0\n" for d in rows[::-1]))
        assert said.endswith(": the file runs newest first; sort it oldest first")

    def test_times_at_different_offsets_are_named(self, tmp_path: Path) -> None:
        """09:01 at +01:00 is 08:01 UTC, before 09:00Z: the refusal says why, not "sort it"."""
        said = self._refusal(
            tmp_path,
            self.HEADER
            + "2026-03-02T09:00:00Z,1.00,1.10,0.90,1.05,7\n"
            + "2026-03-02T09:01:00+01:00,1.00,1.10,0.90,1.05,7\n"
            + "2026-03-02T09:02:00Z,1.00,1.10,0.90,1.05,7\n",
        )
        assert said.endswith(
            "value '2026-03-02T09:01:00+01:00': time does not increase (line 2 has "
            "2026-03-02T09:00:00Z): the times are written at different UTC offsets (+00:00 on "
            "line 2, +01:00 here), so this one is 2026-03-02T08:01:00Z, before "
            "2026-03-02T09:00:00Z; write every time at one offset (UTC, say)"
        )

    @pytest.mark.parametrize(
        ("written", "hint"),
        [
            ("03/02/2026 09:00", "a date written with slashes, which US and European exports"),
            ("3/2/2026 9:00 AM", "a 12-hour clock (AM/PM): write the time on the 24-hour"),
            ("2026-03-02 09:00:00 UTC", "a zone's name (UTC) is not read: write UTC as Z or"),
            ("2026-03-02 09:00:00 EST", "a zone's name (EST) is not read: write its UTC offset"),
            ("02.03.2026 09:00+01:00", "a dotted date with a UTC offset, which is not read"),
            (
                "2026-061T09:00:00Z",
                (
                    "an ordinal date (day 61 of 2026), which is not read: write it yyyy-mm-dd "
                    "(2026-03-02T09:00:00Z)"
                ),
            ),
        ],
        ids=["slashes", "am-pm", "utc-named", "zone-named", "dotted-at-offset", "ordinal"],
    )
    def test_a_desks_time_form_not_read_says_how_to_write_it(
        self, tmp_path: Path, written: str, hint: str
    ) -> None:
        """Bug: a US export's 03/02/2026, a 12-hour clock and a zone's name were refused as
        "not a date or time" alone; the refusal now says what is not read, and what to write
        (03/02/2026 is not guessed: March 2 in New York, 2 March in London)."""
        said = self._refusal(tmp_path, self.HEADER + f"{written},1.00,1.10,0.90,1.05,7\n")
        assert f"value '{written}': not a date or time (ISO 8601, or DD.MM.YYYY) nor an " in said
        assert f"epoch number: {hint}" in said

    def test_the_same_moment_at_different_offsets_is_no_duplicated_row(
        self, tmp_path: Path
    ) -> None:
        """Bug: 01:00 at +01:00 after 00:00Z (as the writer of a file across the start of
        European summer time may set its clock) is the same moment, and was refused as "the
        same time twice (a duplicated row?)", though no row is written twice: it says so."""
        said = self._refusal(
            tmp_path,
            self.HEADER
            + "2026-03-29T00:00:00Z,1.00,1.10,0.90,1.05,7\n"
            + "2026-03-29T01:00:00+01:00,1.00,1.10,0.90,1.05,7\n",
        )
        assert said.endswith(
            "value '2026-03-29T01:00:00+01:00': time does not increase (line 2 has "
            "2026-03-29T00:00:00Z): the same moment written at different UTC offsets (+00:00 "
            "on line 2, +01:00 here: both are 2026-03-29T00:00:00Z); write every time at one "
            "offset (UTC, say)"
        )

    @pytest.mark.parametrize(
        ("first", "then", "said"),
        [
            (
                "2026-03-02T09:00:00+01:00",
                "2026-03-02T09:01:00",
                (
                    "a time without a UTC offset, in a file whose line 2 writes its time at "
                    "+01:00: read as UTC it is 2026-03-02T09:01:00Z, but it may be that "
                    "offset's clock"
                ),
            ),
            (
                "2026-03-02 07:00:00",
                "2026-03-02 09:01:00 -0100",
                (
                    "a time at UTC offset -0100, in a file whose line 2 writes its time "
                    "without one (read as UTC)"
                ),
            ),
        ],
        ids=["naive-after-offset", "offset-after-naive"],
    )
    def test_one_file_one_zone(self, tmp_path: Path, first: str, then: str, said: str) -> None:
        """Bug: a file writing some times at +01:00 and some without played those without
        as UTC, an hour off (09:00+01:00 is 08:00Z, then 09:01 naive: a 61-minute gap the
        data never had), without a word. A file writes its times in one way."""
        refusal = self._refusal(
            tmp_path,
            self.HEADER + "".join(f"{t},1.00,1.10,0.90,1.05,7\n" for t in (first, then)),
        )
        assert refusal == (
            f"data file {tmp_path / 't.csv'}, line 3, column time, value '{then}': "
            f"{said}: write every time with its offset, or every time in UTC"
        )

    @pytest.mark.parametrize(
        ("written", "said"),
        [
            ("2027-02-29", "no day 29 in February 2027 (28 days): 2027 is no leap year"),
            ("31.04.2026 09:00", "no day 31 in April 2026 (30 days)"),
            ("2026-13-02", "no month 13 (months are 01 to 12): is the date written day first?"),
            ("2026-03-02T24:00:00Z", "hour 24: write the end of a day as 00:00 of the next"),
            (
                "2016-12-31T23:59:60Z",
                (
                    "second 60, a leap second: a run's time, as every epoch time, has none; "
                    "write 23:59:59 or drop the row"
                ),
            ),
        ],
        ids=["29-february", "31-april", "month-13", "hour-24", "leap-second"],
    )
    @pytest.mark.parametrize("row", [1, 2])
    def test_a_time_no_calendar_has_says_why(
        self, tmp_path: Path, written: str, said: str, row: int
    ) -> None:
        """Bug: 2027-02-29 was "not a date or time like the first row's" and no more, which
        read as a wrong format, though it is the first row's form. The refusal names the
        day, month, hour or second no calendar or clock has."""
        dotted = written.startswith("31.")
        before = ["30.04.2026 09:00"] if dotted else ["2016-01-01"]
        times = [*before, written] if row == 2 else [written]
        refusal = self._refusal(
            tmp_path, self.HEADER + "".join(f"{t},1.00,1.10,0.90,1.05,7\n" for t in times)
        )
        form = (
            "a date or time like the first row's"
            if row == 2
            else "a date or time (ISO 8601, or DD.MM.YYYY) nor an epoch number"
        )
        assert refusal == (
            f"data file {tmp_path / 't.csv'}, line {row + 1}, column time, value '{written}': "
            f"not {form}: {said}"
        )

    def test_utc_written_as_z_or_an_offset_of_zero_mixes_with_none(self, tmp_path: Path) -> None:
        times = ["2026-03-02T09:00:00Z", "2026-03-02 09:01:00", "2026-03-02T09:02:00+00:00"]
        check_csv(self._file(tmp_path, times), tick=None)

    def test_a_lower_case_t_and_z_are_read_as_rfc_3339_allows(self, tmp_path: Path) -> None:
        """Bug: ``2026-03-02t09:00:00z`` (RFC 3339 allows the lower case) was refused, "not a
        date or time (ISO 8601, or DD.MM.YYYY) nor an epoch number". It is the time that
        ``2026-03-02T09:00:00Z`` is, UTC as that is (it mixes with times without an
        offset), and times at other offsets beside it are told apart as beside ``Z``."""
        times = [
            "2026-03-02t09:00:00z",
            "2026-03-02t09:00:00.123456789z",
            "2026-03-02T09:01:00Z",
            "2026-03-02t10:02:00+01:00",
        ]
        feed = CsvReplayFeed(self._file(tmp_path, times), symbol="X", tick=None, lot=Decimal(1))
        read = [feed.next_bar(0) for _ in times]
        feed.close()
        nine = epoch_ns(dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC))
        minute = 60_000_000_000
        assert [bar.ts_ns - nine for bar in read if bar is not None] == [
            0,
            123_456_789,
            minute,
            2 * minute,
        ]
        check_csv(self._file(tmp_path, ["2026-03-02t09:00:00z", "2026-03-02 09:01:00"]), tick=None)
        refusal = self._refusal(
            tmp_path,
            self.HEADER
            + "".join(
                f"{t},1.00,1.10,0.90,1.05,7\n"
                for t in ("2026-03-02t09:00:00z", "2026-03-02t09:01:00+01:00")
            ),
        )
        assert refusal.endswith(
            "(line 2 has 2026-03-02t09:00:00z): the times are written at different UTC offsets "
            "(+00:00 on line 2, +01:00 here), so this one is 2026-03-02T08:01:00Z, before "
            "2026-03-02T09:00:00Z; write every time at one offset (UTC, say)"
        )

    @pytest.mark.parametrize(
        ("pack", "said"),
        [
            (lambda data: __import__("gzip").compress(data), "the file is gzip-compressed"),
            (lambda data: __import__("bz2").compress(data), "the file is bzip2-compressed"),
        ],
        ids=["gzip", "bzip2"],
    )
    def test_a_compressed_file_is_named_so(self, tmp_path: Path, pack: Any, said: str) -> None:
        """Bug: a gzipped CSV was "not UTF-8 text (byte 2 of the line): save the file as
        UTF-8", which it was, before it was compressed."""
        path = tmp_path / "t.csv"
        path.write_bytes(pack((self.HEADER + "2026-03-02,1.00,1.10,0.90,1.05,7\n").encode()))
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=None)
        assert str(caught.value) == (
            f"data file {path}, line 1: {said}, not CSV text: decompress it first "
            f"({'gunzip -k' if 'gzip' in said else 'bunzip2 -k'} t.csv) and give the CSV file"
        )

    def test_a_form_other_than_the_first_rows_is_refused(self, tmp_path: Path) -> None:
        with pytest.raises(DataFileError, match=r"line 3, column time, value '1772834340'"):
            check_csv(self._file(tmp_path, ["2026-03-06", "1772834340"]), tick=None)

    @pytest.mark.parametrize(
        ("text", "delimiter"),
        [
            ("date,time,open,high,low,close,volume\n{d},{t},1.00,1.10,0.90,1.05,7\n", ","),
            ("Date;Time;Open;High;Low;Close;Volume\n{e};{t};1,00;1,10;0,90;1,05;7\n", ";"),
            ("Date,Time,Open,High,Low,Close,Volume\n{m},{t},1.00,1.10,0.90,1.05,7\n", "mt"),
        ],
        ids=["iso", "european", "metatrader"],
    )
    def test_a_time_split_in_date_and_time_columns_is_one_time(
        self, tmp_path: Path, text: str, delimiter: str
    ) -> None:
        """As MetaTrader and many FX exports write it. Before, the date alone was read, so
        the second bar of a day was refused (time does not increase)."""
        rows = [
            ("2026-03-06", "06.03.2026", "2026.03.06", "21:59"),
            ("2026-03-08", "08.03.2026", "2026.03.08", "22:00:30"),
        ]
        body = "".join(text.split("\n", 1)[1].format(d=d, e=e, m=m, t=t) for d, e, m, t in rows)
        path = _text_file(tmp_path, text.split("\n", 1)[0] + "\n" + body)
        feed = CsvReplayFeed(path, symbol="X", tick=None, lot=Decimal(1))
        bars = feed.next_bar(0), feed.next_bar(0)
        feed.close()
        assert feed.dated
        assert [b.ts_ns for b in bars if b is not None] == [
            epoch_ns(dt.datetime(2026, 3, 6, 21, 59, tzinfo=dt.UTC)),
            epoch_ns(dt.datetime(2026, 3, 8, 22, 0, 30, tzinfo=dt.UTC)),
        ]
        day = rows[0][{",": 0, ";": 1, "mt": 2}[delimiter]]
        assert check_csv(path, tick=None).first_time == f"{day} 21:59"

    def test_a_split_time_of_day_at_a_utc_offset_is_that_moment(self, tmp_path: Path) -> None:
        """Bug: a ``time`` column writing its offset (``01:00:00+01:00``, as an aware time's
        ``isoformat()`` prints it) beside a ``date`` was read alone, and refused as "not a date
        or time": the pair is one time at that offset, across a change of summer time too."""
        path = _text_file(
            tmp_path,
            "date,time,open,high,low,close,volume\n2026-03-29,01:00:00+01:00,1,1,1,1,0\n"
            "2026-03-29,03:00:00+02:00,1,1,1,1,0\n2026-03-29,2:00Z,1,1,1,1,0\n",
        )
        feed = CsvReplayFeed(path, symbol="X", tick=None, lot=Decimal(1))
        bars = feed.next_bar(0), feed.next_bar(0), feed.next_bar(0)
        feed.close()
        assert [b.ts_ns for b in bars if b is not None] == [
            epoch_ns(dt.datetime(2026, 3, 29, hour, tzinfo=dt.UTC)) for hour in (0, 1, 2)
        ]
        assert check_csv(path, tick=None).first_time == "2026-03-29 01:00:00+01:00"

    def test_a_split_time_names_both_columns_in_its_errors(self, tmp_path: Path) -> None:
        head = "date,time,open,high,low,close,volume\n2026-03-06,09:00,1,1,1,1,0\n"
        late = _text_file(tmp_path, head + "2026-03-06,08:59,1,1,1,1,0\n")
        said = (
            r"line 3, column date time, value '2026-03-06 08:59': time does not increase "
            r"\(line 2 has 2026-03-06 09:00\)"
        )
        with pytest.raises(DataFileError, match=said):
            check_csv(late, tick=None)
        empty = _text_file(tmp_path, head + "2026-03-06,,1,1,1,1,0\n")
        with pytest.raises(DataFileError, match=r"line 3, column time, value '': empty value"):
            check_csv(empty, tick=None)

    def test_a_time_column_that_is_no_time_of_day_is_read_alone(self, tmp_path: Path) -> None:
        """``time`` of epoch numbers beside a ``date``: ``time`` is read (it comes first)."""
        path = _text_file(
            tmp_path,
            "time,date,open,high,low,close,volume\n1772834340,2026-03-06,1,1,1,1,0\n"
            "1773007200,2026-03-08,1,1,1,1,0\n",
        )
        assert check_csv(path, tick=None).first_time == "1772834340"

    @pytest.mark.parametrize(
        ("header", "cells", "column", "first"),
        [
            # Before: read from date, and its second row refused (the same time twice).
            (
                "date,timestamp",
                ("2026-03-06,2026-03-06T09:00:00Z", "2026-03-06,2026-03-06T09:01:00Z"),
                "timestamp",
                "2026-03-06T09:00:00Z",
            ),
            # Before: the same: data.md says such a time column is read alone.
            ("Date,Time", ("2026-03-06,1772787600", "2026-03-06,1772787660"), "time", "1772787600"),
            # Before: read from ts.
            (
                "ts,datetime",
                ("1,2026-03-06 09:00", "2,2026-03-06 09:01"),
                "datetime",
                "2026-03-06 09:00",
            ),
        ],
        ids=["date,timestamp", "Date,Time of epochs", "ts,datetime"],
    )
    def test_the_time_column_is_the_first_of_the_documented_order(
        self, tmp_path: Path, header: str, cells: tuple[str, str], column: str, first: str
    ) -> None:
        """The first of timestamp, time, datetime, date, open_time, ts the header has."""
        rows = "".join(f"{c},1,1,1,1,0\n" for c in cells)
        path = _text_file(tmp_path, f"{header},open,high,low,close,volume\n{rows}")
        check = check_csv(path, tick=None)
        assert (check.time_column, check.first_time, check.rows) == (column, first, 2)

    def test_a_file_without_times_takes_the_sessions(self, tmp_path: Path) -> None:
        path = tmp_path / "t.csv"
        path.write_text("open,high,low,close,volume\n1,2,1,2,0\n", encoding="utf-8")
        feed = CsvReplayFeed(path, symbol="X", tick=None, lot=Decimal(1))
        bar = feed.next_bar(123)
        feed.close()
        assert not feed.dated
        assert bar is not None
        assert bar.ts_ns == 123


def _text_file(tmp_path: Path, text: str) -> Path:
    """``text`` as the data file ``t.csv`` (written again by each call)."""
    path = tmp_path / "t.csv"
    path.write_text(text, encoding="utf-8")
    return path


def european(text: str) -> str:
    """A comma-separated export as a spreadsheet set to German or Spanish conventions saves
    it: ``;`` between cells, decimal commas, dates day first with dots."""
    lines = text.splitlines()
    out = [lines[0].replace(",", ";")]
    for line in lines[1:]:
        when, *numbers = line.split(",")
        moment = dt.datetime.fromisoformat(when)
        cells = [moment.strftime("%d.%m.%Y %H:%M:%S"), *(n.replace(".", ",") for n in numbers)]
        out.append(";".join(cells))
    return "\n".join(out) + "\n"


class TestSpreadsheetExports:
    """``;``-separated files with decimal commas and day-first dates read as their twins."""

    def test_a_european_export_runs_as_its_twin_and_resumes(self, tmp_path: Path) -> None:
        twin = tmp_path / "EURUSD.csv"
        eurusd_hourly(twin, 120)
        export = tmp_path / "eu" / "EURUSD.csv"
        export.parent.mkdir()
        export.write_text(european(twin.read_text(encoding="utf-8")), encoding="utf-8")
        assert ";1,3" in export.read_text(encoding="utf-8")  # decimal commas, really
        out = tmp_path / "runs"
        common = ("--symbol", "EUR/USD", "--durability", "step", "-q")
        for name, data in (("twin", twin), ("eu", export)):
            done = _cli("dryrun", "--feed", f"csv:{data}", "--out", out, "--run-id", name,
                        *common, cwd=tmp_path)  # fmt: skip
            assert done.returncode == EXIT_OK, done.stderr
            assert verify_run(out / name).ok

        def bars(run: str) -> list[tuple[str, Any]]:
            return [
                (e["ts_utc"], e["payload"]) for e in _events(out / run) if e["event_type"] == "BAR"
            ]

        assert bars("eu") == bars("twin")
        assert bars("eu")[0] == ("2013-02-01T12:00:00Z", bars("twin")[0][1])
        assert _config(out / "eu")["price_tick"] == "0.00001"
        # Killed at its second checkpoint and resumed, it ends as the uninterrupted run did.
        crashed = crash_cli("dryrun", "--feed", f"csv:{export}", "--out", out, "--run-id", "k",
                            *common, crash_at="checkpoint:2")  # fmt: skip
        assert crashed.returncode == KILLED, crashed.stderr
        assert crash_cli("resume", out / "k", "-q").returncode == EXIT_OK
        assert verify_run(out / "k").ok
        assert bars("k") == bars("eu")

    def test_a_tab_separated_file_reads_as_the_comma_one(self, tmp_path: Path) -> None:
        text = "time,open,high,low,close,volume\n2026-03-06,1.00,1.10,0.90,1.05,7\n"
        comma, tab = tmp_path / "c.csv", tmp_path / "t.csv"
        comma.write_text(text, encoding="utf-8")
        tab.write_text(text.replace(",", "\t"), encoding="utf-8")
        read = []
        for path in (comma, tab):
            feed = CsvReplayFeed(path, symbol="X", tick=None, lot=Decimal(1))
            read.append(feed.next_bar(0))
            feed.close()
        assert read[0] == read[1]
        assert read[0] is not None
        assert read[0].close == Decimal("1.05")

    @pytest.mark.parametrize(("delimiter", "close"), [(",", "1.05"), (";", "1,05"), ("\t", "1.05")])
    def test_a_file_quoted_whole_reads_as_its_twin(
        self, tmp_path: Path, delimiter: str, close: str
    ) -> None:
        """Bug: a header written with every name in quotes (``"timestamp","open",...``, as
        many tools export) was refused, ``the header is not a CSV line (';' expected after
        '"')``: it was split strictly with each separator, and the first that could not
        parse it stopped the check. It is read with the separator that finds the columns."""
        names = ["timestamp", "open", "high", "low", "close", "volume"]
        cells = ["2026-03-06T09:00:00Z", "1.00", "1.10", "0.90", close, "7"]
        if delimiter == ";":
            cells[1:5] = ["1,00", "1,10", "0,90", close]

        def quoted(row: list[str]) -> str:
            return delimiter.join(f'"{cell}"' for cell in row)

        plain, whole = tmp_path / "plain.csv", tmp_path / "quoted.csv"
        plain.write_text(f"{','.join(names)}\n2026-03-06T09:00:00Z,1.00,1.10,0.90,1.05,7\n")
        whole.write_text(f"{quoted(names)}\n{quoted(cells)}\n", encoding="utf-8")
        read = []
        for path in (plain, whole):
            feed = CsvReplayFeed(path, symbol="X", tick=None, lot=Decimal(1))
            read.append(feed.next_bar(0))
            feed.close()
        assert read[1] is not None
        assert read[1] == read[0]
        assert read[1].close == Decimal("1.05")

    def test_a_header_no_separator_can_read_is_one_line(self, tmp_path: Path) -> None:
        path = _text_file(tmp_path, '"timestamp"x,open,high,low,close,volume\n')
        with pytest.raises(DataFileError, match=r"line 1: the header is not a CSV line \("):
            check_csv(path, tick=None)

    @pytest.mark.parametrize(
        "case",
        [
            # The first row writes decimal commas: a point is never taken for one.
            ("01.03.2026;1,5;1,6;1.4;1,5;3", 2, "low", "1.4", "a point in a file written with decimal commas"),
            ("01.03.2026;1.084,5;1.100,0;1.000,0;1.050,0;3", 2, "open", "1.084,5", "thousands separator"),
            # The first row writes points: a later comma is no number.
            ("01.03.2026;1.5;1.6;1.4;1.5;3\n02.03.2026;1,5;1.6;1.4;1.5;3", 3, "open", "1,5", "not a decimal number (a decimal comma is read only in a ';' file whose first number with a decimal mark writes one): write every number with a decimal comma (1,5), or every one with a point (1.5)"),
            ("31.02.2026;1,5;1,6;1,4;1,5;3", 2, "date", "31.02.2026", "not a date or time (ISO 8601, or DD.MM.YYYY) nor an epoch number"),
            ("01.03.2026;1,5;1,6;1,4;1,5;3\n1772834340;1,5;1,6;1,4;1,5;3", 3, "date", "1772834340", "not a date or time like the first row's"),
        ],
    )  # fmt: skip
    def test_what_cannot_be_read_for_sure_is_refused(
        self, tmp_path: Path, case: tuple[str, int, str, str, str]
    ) -> None:
        rows, line, column, value, says = case
        path = tmp_path / "eu.csv"
        path.write_text(f"date;open;high;low;close;volume\n{rows}\n", encoding="utf-8")
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=None)
        assert (caught.value.line, caught.value.column, caught.value.value) == (line, column, value)
        assert says in str(caught.value)

    def test_a_thousands_separator_is_named(self, tmp_path: Path) -> None:
        path = tmp_path / "t.csv"
        path.write_text('date,open,high,low,close,volume\n2026-03-01,"41,234.50",1,1,1,3\n')
        said = "value '41,234.50': not a decimal number (a thousands separator? write numbers"
        with pytest.raises(DataFileError, match=re.escape(said)):
            check_csv(path, tick=None)

    def test_decimal_commas_only_in_a_semicolon_file(self, tmp_path: Path) -> None:
        """The refusal says what to do: before, it gave the rule alone."""
        path = tmp_path / "t.csv"
        path.write_text("date\topen\thigh\tlow\tclose\tvolume\n2026-03-01\t1,5\t1,6\t1,4\t1,5\t3\n")
        with pytest.raises(
            DataFileError, match="column open, value '1,5': not a decimal number"
        ) as caught:
            check_csv(path, tick=None)
        assert str(caught.value).endswith(
            "writes one): convert the file's tabs to ';' (tr '\\t' ';' < in.csv > out.csv), or "
            "write the numbers with decimal points (1.5)"
        )
        # What it says to do reads the file.
        path.write_text(path.read_text().replace("\t", ";"))
        assert check_csv(path, tick=None).rows == 1

    def test_a_header_in_another_language_names_what_it_needs(self, tmp_path: Path) -> None:
        path = tmp_path / "de.csv"
        path.write_text("Datum;Eröffnung;Hoch;Tief;Schluss;Volumen\n01.03.2026;1,5;1,6;1,4;1,5;3\n")
        with pytest.raises(DataFileError) as caught:
            check_csv(path, tick=None)
        assert str(caught.value).endswith(
            ": the header lacks this column (it needs open, high, low, close and volume, in any "
            "case, separated by ',', ';' or a tab)"
        )
        assert caught.value.column == "open"

    def test_times_under_another_name_are_refused_before_anything_is_written(
        self, tmp_path: Path
    ) -> None:
        # A German export's "Datum" column would have played on the session's grid: the run
        # would have recorded times the data never had.
        data = tmp_path / "de.csv"
        data.write_text(
            "Datum;Open;High;Low;Close;Volume\n02.03.2026 09:00;1,5;1,6;1,4;1,5;3\n",
            encoding="utf-8",
        )
        out = tmp_path / "runs"
        done = _cli("dryrun", "--feed", f"csv:{data}", "--symbol", "EUR/USD", "--out", out,
                    "--run-id", "de", "-q", cwd=tmp_path)  # fmt: skip
        assert done.returncode == EXIT_BAD_INPUT, done.stderr
        assert done.stderr.strip().endswith(
            "line 2, column Datum, value '02.03.2026 09:00': a time in a column not read as "
            "the bars' time: name it timestamp (or time, datetime, date, open_time, ts) to "
            "replay the bars at the file's times, or drop the column to play them on the "
            "session's grid"
        )
        assert len(done.stderr.strip().splitlines()) == 1
        assert not (out / "de").exists()
        for header in ("Fecha", "Handelstag"):  # ISO text too, in any column of another name
            data.write_text(f"{header},open,high,low,close,volume\n2026-03-02,1,1,1,1,3\n")
            with pytest.raises(DataFileError, match="a time in a column not read"):
                check_csv(data, tick=None)

    @pytest.mark.parametrize(
        ("header", "row"),
        [
            ("id,open,high,low,close,volume", "20260302,1,1,1,1,3"),  # a number: an id, a count
            ("note,open,high,low,close,volume", "rolled,1,1,1,1,3"),
            ("time,open,high,low,close,volume,settles", "2026-03-02,1,1,1,1,3,2026-03-04"),
        ],
    )
    def test_other_columns_without_an_unread_time_stay_allowed(
        self, tmp_path: Path, header: str, row: str
    ) -> None:
        data = tmp_path / "x.csv"
        data.write_text(f"{header}\n{row}\n", encoding="utf-8")
        assert check_csv(data, tick=None).rows == 1


class TestSymbolsAndAllowlist:
    def test_tickers_and_pairs_are_symbols(self) -> None:
        for symbol in ("GOOG", "BRK.B", "BF-B", "F", "EUR/USD", "BTC/USDT"):
            assert DryrunConfig(symbol=symbol).allowed_symbols == (symbol,)
        with pytest.raises(ConfigError, match="symbol must be a ticker"):
            DryrunConfig(symbol="goog")

    def test_an_explicit_allowlist_wins(self, tmp_path: Path, elsewhere: Path) -> None:
        goog_daily(tmp_path / "GOOG.csv", 12)
        config = tmp_path / "run.toml"
        config.write_text(
            'feed = "csv:GOOG.csv"\nsymbol = "GOOG"\nallowlist = ["AAPL"]\n', encoding="utf-8"
        )
        done = _cli("dryrun", "--config", config, "--out", tmp_path / "runs", cwd=elsewhere)
        assert done.returncode == EXIT_REJECTED, done.stderr
        assert "symbol 'GOOG' is not in allowlist [AAPL]" in done.stderr

    def test_an_invalid_allowlist_symbol_is_named(self) -> None:
        orch, sinks = session(symbol="GOOG", allowlist=["GOOG", "goog"])
        assert orch.preflight() is False
        (failed,) = (e for e in sinks.events_of("PREFLIGHT_CHECK") if not e["payload"]["passed"])
        assert failed["payload"]["reason"] == "ALLOWLIST_INVALID"
        assert failed["payload"]["detail"] == (
            "allowlist symbol 'goog' is not a ticker (GOOG, BRK.B) or BASE/QUOTE (BTC/USDT), "
            "in upper case"
        )

    def test_an_implicit_allowlist_keeps_the_events_as_they_were(self) -> None:
        """The note goes to the log: a run without an allowlist writes the bytes it did."""
        implicit, sinks = session(symbol="GOOG")
        explicit, same = session(symbol="GOOG", allowlist=["GOOG"])
        assert implicit.preflight() is True
        assert explicit.preflight() is True
        assert sinks.events_of("PREFLIGHT_CHECK") == same.events_of("PREFLIGHT_CHECK")


class TestDataIdentity:
    def test_evidence_refuses_a_changed_data_file(self, tmp_path: Path, elsewhere: Path) -> None:
        out = _goog_run(tmp_path, elsewhere, "", name="GOOG.csv").parent
        with (tmp_path / "GOOG.csv").open("a", encoding="utf-8") as extra:
            extra.write("\n")  # a blank line: still good data, but not the bytes that ran
        line = _one_error_line(_cli("evidence", out / "g", cwd=elsewhere))
        assert f"data file {(tmp_path / 'GOOG.csv').resolve()} changed since run" in line
        assert not (out / "g" / "manifest.json").exists()

    def test_evidence_of_a_file_that_grew_says_which_bytes_to_put_back(
        self, tmp_path: Path, elsewhere: Path
    ) -> None:
        """RUNBOOK's downloader adding rows to today's file: `resume` takes such a file
        (it plays the bytes the run read), but `evidence` re-runs the run on the whole file
        and said only `changed since run ...: restore the file the run read`, of a file
        whose bytes the run read are all there. It now says the file grew, from how many
        bytes to how many, and which to put back; with them put back it verifies."""
        data = tmp_path / "GOOG.csv"
        out = _goog_run(tmp_path, elsewhere, "", name="GOOG.csv").parent
        ran = data.read_bytes()
        goog_daily(data, 14)  # the downloader wrote two more days
        grown = data.read_bytes()
        assert grown.startswith(ran)
        assert len(grown) > len(ran)

        line = _one_error_line(_cli("evidence", out / "g", cwd=elsewhere))

        assert (
            f"it grew from the {len(ran)} bytes the run read to {len(grown)} (rows appended "
            "after them, which resume takes but a re-run does not: it reads the file whole): "
            f"restore the file the run read, its first {len(ran)} bytes (`head -c {len(ran)}`), "
            "and keep the grown one elsewhere; evidence re-runs the run"
        ) in line
        assert not (out / "g" / "manifest.json").exists()
        data.write_bytes(grown[: len(ran)])
        assert _cli("evidence", out / "g", cwd=elsewhere).returncode == EXIT_OK

    def test_a_config_that_pins_other_data_is_refused(self, tmp_path: Path, elsewhere: Path):
        goog_daily(tmp_path / "GOOG.csv", 12)
        config = tmp_path / "run.toml"
        config.write_text(f'feed = "csv:GOOG.csv"\nfeed_sha256 = "{"ab" * 32}"\n', encoding="utf-8")
        line = _one_error_line(
            _cli("dryrun", "--config", config, "--out", tmp_path / "runs", cwd=elsewhere)
        )
        # Bug: "data file ... changed: ... the config records abababababab... (None bytes):
        # restore the file the run read", of a new run, for a pin written by hand.
        digest = hashlib.sha256((tmp_path / "GOOG.csv").read_bytes()).hexdigest()
        assert "does not match the feed_sha256 pinned in the config: its SHA-256 is" in line
        assert "the config pins abababababab...: give the run the file the config pins" in line
        assert line.endswith(f'or pin this one (feed_sha256 = "{digest}")')
        assert "None" not in line
        assert "changed" not in line
        assert not (tmp_path / "runs").exists()

    @pytest.mark.parametrize("pinned", ["", "sha"])
    def test_a_config_that_pins_another_size_is_refused(
        self, tmp_path: Path, elsewhere: Path, pinned: str
    ) -> None:
        """docs/config.md: ``feed_bytes`` given, the file must match. A run given
        ``feed_bytes = 5`` (alone, or beside the file's own SHA-256) ran on the file's
        actual size and recorded it in place of the pin, without a word."""
        data = tmp_path / "GOOG.csv"
        goog_daily(data, 12)
        size = data.stat().st_size
        digest = hashlib.sha256(data.read_bytes()).hexdigest()
        sha = f'feed_sha256 = "{digest}"\n' if pinned else ""
        config = tmp_path / "run.toml"
        config.write_text(f'feed = "csv:GOOG.csv"\n{sha}feed_bytes = 5\n', encoding="utf-8")
        line = _one_error_line(
            _cli("dryrun", "--config", config, "--out", tmp_path / "runs", cwd=elsewhere)
        )
        assert line == (
            f"livesession: error: data file {data} does not match the feed_bytes pinned in the "
            f"config: it is {size} bytes, the config pins 5: give the run the file the config "
            f"pins, or pin this one (feed_bytes = {size})"
        )
        assert not (tmp_path / "runs").exists()

    def test_a_pin_and_a_file_that_fails_its_check_say_the_pin(
        self, tmp_path: Path, elsewhere: Path
    ) -> None:
        data = tmp_path / "GOOG.csv"
        goog_daily(data, 12)
        data.write_text(data.read_text(encoding="utf-8") + "not,a,row\n", encoding="utf-8")
        config = tmp_path / "run.toml"
        config.write_text(f'feed = "csv:GOOG.csv"\nfeed_sha256 = "{"ab" * 32}"\n', encoding="utf-8")
        line = _one_error_line(
            _cli("dryrun", "--config", config, "--out", tmp_path / "runs", cwd=elsewhere)
        )
        assert "does not match the feed_sha256 pinned in the config" in line
        assert "None" not in line
        assert not (tmp_path / "runs").exists()


class TestPaths:
    def test_a_config_files_data_path_resolves_from_its_directory(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "cfg").mkdir()
        config = tmp_path / "cfg" / "run.toml"
        config.write_text('feed = "csv:../data/GOOG.csv"\n', encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        loaded = load_config(Path("cfg/run.toml"))
        assert loaded.feed == "csv:../data/GOOG.csv"  # kept as written
        assert loaded.data_file() == tmp_path.resolve() / "cfg" / ".." / "data" / "GOOG.csv"
        assert "base_dir" not in loaded.to_dict()

    def test_a_command_line_feed_resolves_from_the_cwd(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        (tmp_path / "cfg").mkdir()
        config = tmp_path / "cfg" / "run.toml"
        config.write_text('feed = "csv:in_the_config_dir.csv"\n', encoding="utf-8")
        monkeypatch.chdir(tmp_path)
        loaded = load_config(config, {"feed": "csv:GOOG.csv"})
        assert loaded.feed == f"csv:{tmp_path / 'GOOG.csv'}"
        assert loaded.data_file() == tmp_path / "GOOG.csv"


class TestParquetFromTheDocumentedApi:
    """docs/embedding.md and docs/plugins.md name ``ParquetReplayFeed`` among the built-in
    feeds a desk hands a session, or subclasses, beside ``CsvReplayFeed``: it was reachable
    only through ``livesession._market.parquet``, and took a tick of the wrong type into an
    ``AttributeError`` (``'float' object has no attribute 'scaleb'``)."""

    def test_the_feed_and_its_check_are_livesessions_and_take_a_path_as_text(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        pa = pytest.importorskip("pyarrow")
        pq = pytest.importorskip("pyarrow.parquet")
        import livesession  # the names under test, as a desk imports them

        rows = {"timestamp": ["2026-03-06T21:00:00Z", "2026-03-06T21:01:00Z"]}
        rows |= {name: ["100.10", "100.20"] for name in ("open", "high", "low", "close")}
        pq.write_table(pa.table({**rows, "volume": ["0", "7"]}), tmp_path / "acme.parquet")
        monkeypatch.chdir(tmp_path)
        assert livesession.check_parquet("acme.parquet", tick=None).rows == 2
        feed = livesession.ParquetReplayFeed(
            "acme.parquet", symbol="ACME", tick=None, lot=Decimal("0.001")
        )
        config = DryrunConfig(run_id="pq", symbol="ACME", steps=2)
        orch = LiveSessionOrchestrator(config, feed=feed, **Sinks().kwargs())
        assert orch.run_to_end(2).status.value == "COMPLETED"
        assert orch.config.feed_sha256 == feed.checked.sha256
        assert {"ParquetReplayFeed", "check_parquet"} <= set(livesession.__all__)
        for tick in (0.01, "0.01", Decimal(0)):
            with pytest.raises(ConfigError, match=r"^tick="):
                livesession.ParquetReplayFeed(
                    "acme.parquet", symbol="ACME", tick=tick, lot=Decimal(1)
                )  # type: ignore[arg-type]
            with pytest.raises(ConfigError, match=r"^tick="):
                livesession.check_parquet("acme.parquet", tick=tick)  # type: ignore[arg-type]
