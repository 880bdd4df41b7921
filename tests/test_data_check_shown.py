"""A data file's check before a run is shown on a terminal, and only there.

Bug: ``dryrun`` with ``feed = "csv:PATH"`` checks and hashes the whole file before its run
starts (some 60,000 rows a second: over a minute for five million rows), and printed
nothing meanwhile: a user took it for a hang. On a terminal a bar of the bytes checked is
drawn now (and gone once the check ends); piped, with ``--quiet``, from Python, nothing,
and never anything in the run's files.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest

from _terminal import cli_on_terminal
from livesession import check_csv, check_parquet
from livesession._market.checkshown import EVERY, showing_check

ROWS = 2 * EVERY + 100  # two reports, and a few rows more
DRAWN = b"checking the data file"


def _bars(path: Path, rows: int) -> Path:
    start = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
    lines = ["timestamp,open,high,low,close,volume\n"]
    for i in range(rows):
        at = (start + dt.timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        lines.append(f"{at},1.0842,1.0844,1.0835,1.0837,{100 + i % 7}\n")
    path.write_text("".join(lines), encoding="utf-8")
    return path


@pytest.fixture(name="bars", scope="module")
def _bars_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _bars(tmp_path_factory.mktemp("data") / "eurusd.csv", ROWS)


def _dryrun(bars: Path, out: Path, *more: str) -> list[str]:
    return ["dryrun", "--feed", f"csv:{bars}", "--symbol", "EUR/USD", "--steps", "3",
            "--out", str(out), "--durability", "none", *more]  # fmt: skip


def test_the_check_reports_the_bytes_it_has_read(bars: Path) -> None:
    """Every ``EVERY`` lines, the bytes read so far of the file's size."""
    seen: list[tuple[int, int | None]] = []
    with showing_check(lambda done, total: seen.append((done, total))):
        check = check_csv(bars, tick=None)
    size = bars.stat().st_size
    assert check.rows == ROWS
    assert [total for _, total in seen] == [size, size]
    lines = bars.read_bytes().splitlines(keepends=True)
    assert [done for done, _ in seen] == [
        sum(map(len, lines[: 1 + EVERY])),
        sum(map(len, lines[: 1 + 2 * EVERY])),
    ]


def test_nothing_is_reported_unasked(bars: Path) -> None:
    with showing_check(None):
        assert check_csv(bars, tick=None).rows == ROWS


def test_a_terminal_is_shown_the_check(bars: Path, tmp_path: Path) -> None:
    """The bar is drawn on stderr, a terminal; stdout and the run's files are as ever."""
    done, drawn = cli_on_terminal(*_dryrun(bars, tmp_path), timeout=120)
    assert done.returncode == 0, drawn
    assert DRAWN in drawn
    assert b"MB" in drawn or b"kB" in drawn  # a bar of bytes
    run = tmp_path / "demo-001"
    assert f"artifacts   {run}" in done.stdout.decode()
    for path in run.iterdir():
        if path.is_file():
            assert DRAWN not in path.read_bytes(), path.name


@pytest.mark.parametrize("quiet", [False, True])
def test_off_a_terminal_or_quiet_nothing_is_drawn(bars: Path, tmp_path: Path, quiet: bool) -> None:
    if quiet:
        done, drawn = cli_on_terminal(*_dryrun(bars, tmp_path, "--quiet"), timeout=120)
        assert done.returncode == 0, drawn
        assert DRAWN not in drawn
        return
    piped = subprocess.run(
        [sys.executable, "-m", "livesession.cli", *_dryrun(bars, tmp_path)],
        capture_output=True, check=False, timeout=120,
    )  # fmt: skip
    assert piped.returncode == 0, piped.stderr
    assert piped.stderr == b""


def test_a_small_file_draws_nothing(tmp_path: Path) -> None:
    """A file of fewer than ``EVERY`` rows is checked before a bar would say anything."""
    small = _bars(tmp_path / "small.csv", EVERY - 1)
    done, drawn = cli_on_terminal(*_dryrun(small, tmp_path / "out"), timeout=120)
    assert done.returncode == 0, drawn
    assert DRAWN not in drawn


@pytest.fixture(name="parquet_bars", scope="module")
def _parquet_bars(bars: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The CSV file's bars as a Parquet file (the ``parquet`` extra; skipped without it)."""
    csv = pytest.importorskip("pyarrow.csv", reason="Parquet is the parquet extra's")
    pq = pytest.importorskip("pyarrow.parquet", reason="Parquet is the parquet extra's")
    path = tmp_path_factory.mktemp("parquet") / "eurusd.parquet"
    pq.write_table(csv.read_csv(bars), path)
    return path


def test_a_parquet_check_reports_its_share_of_the_bytes(parquet_bars: Path) -> None:
    """Bug: a Parquet file's check reported nothing, so no bar was drawn however long it
    took (some 50,000 rows a second). It reports every ``EVERY`` rows now, the share of
    the file's bytes those rows are: a bar of bytes, as a CSV file's."""
    seen: list[tuple[int, int | None]] = []
    with showing_check(lambda done, total: seen.append((done, total))):
        check = check_parquet(parquet_bars, tick=None)
    size = parquet_bars.stat().st_size
    assert check.rows == ROWS
    assert seen == [(size * EVERY // ROWS, size), (size * 2 * EVERY // ROWS, size)]
    with showing_check(None):
        assert check_parquet(parquet_bars, tick=None).rows == ROWS


def test_a_terminal_is_shown_a_parquet_check(parquet_bars: Path, tmp_path: Path) -> None:
    argv = _dryrun(parquet_bars, tmp_path)
    argv[argv.index("--feed") + 1] = f"parquet:{parquet_bars}"
    done, drawn = cli_on_terminal(*argv, timeout=120)
    assert done.returncode == 0, drawn
    assert DRAWN in drawn
    assert b"kB" in drawn  # a bar of bytes
    run = tmp_path / "demo-001"
    for path in run.iterdir():
        if path.is_file():
            assert DRAWN not in path.read_bytes(), path.name
