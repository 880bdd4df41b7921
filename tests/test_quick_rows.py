"""The common row read fast (``quickrow``): the same values, state and errors as the general way.

A year of one-minute bars took half a minute to check, every cell through ``csv``, the
missing-value words, the number form and the grid's messages. The common row is now read
with a split and plain numbers; any other row goes the general way. Each row below, after
a first row of each time form, is checked with the quick path and without it: the check's
result (or its error, word for word) and the bars a feed plays must be the same.
"""

from __future__ import annotations

import itertools
import random
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from livesession import CsvReplayFeed, DataFileError, check_csv
from livesession._market import datafile, timecolumn
from livesession._market.timecolumn import TimeColumn

if TYPE_CHECKING:
    from pathlib import Path

D = Decimal
HEADER = "timestamp,open,high,low,close,volume\n"

FIRST_ROWS = (
    "2026-01-01T00:00:00Z,100.00,100.05,99.95,100.02,10\n",
    "2026-01-01 00:00:00,100.00,100.05,99.95,100.02,10\n",
    "2026-01-01T00:00:00+01:00,100.00,100.05,99.95,100.02,10\n",
    "2026-01-01T00:00:00.5Z,100.00,100.05,99.95,100.02,10\n",
    "1767225600,100.00,100.05,99.95,100.02,10\n",
    "1767225600000,100.00,100.05,99.95,100.02,10\n",
)
TIMES = (
    "2026-01-01T00:01:00Z", "2026-01-01 00:01:00", "2026-01-01T00:01:00.25Z",
    "2026-01-01T00:01:00.123456789Z", "2026-01-01T00:01:00.1234567891Z",
    "2026-01-01T00:01:00+01:00", "2026-01-01T00:00:00Z", "2025-12-31T23:00:00Z",
    "2026-01-01T24:00:00Z", "2026-01-01T23:59:60Z", "2026-02-29T00:00:00Z", "2026-13-01T00:00:00Z",
    "0000-01-01T00:00:00Z", "2263-01-01T00:00:00Z", "2026-01-01t00:01:00z", "1767225660",
    "1767225660000", "1767225660.5", "+1767225660", "", " 2026-01-01T00:01:00Z ",
)  # fmt: skip
PRICES = (
    "100.01", "100.015", "100", "0", "0.00", "-100.01", "+100.01", "1e2", "100.", ".5", "1_00",
    "NaN", "null", "", "100,01", "\uff11\uff10\uff10", " 100.01 ", "1" * 29, "1" * 27 + ".5",
)  # fmt: skip
VOLUMES = ("0", "-0", "-1", "12.5", "0." + "0" * 26 + "1", "1" * 28, "N/A", "1e3", "")
LINES = ('"{}"', "{}\r\n", "{} ", "{},", "{}\x00", "\ufeff{}", "{}\r", "{}\rx", "{};x")


def _rows(rng: random.Random) -> list[str]:
    """Second rows: each cell of the common row swapped for a variant, some whole-line forms."""
    rows = []
    base = ["2026-01-01T00:01:00Z", "100.01", "100.06", "99.96", "100.03", "12"]
    for at, variants in [(0, TIMES), *((i, PRICES) for i in range(1, 5)), (5, VOLUMES)]:
        for variant in variants:
            cells = list(base)
            cells[at] = variant
            rows.append(",".join(cells))
    rows += [form.format(",".join(base)) for form in LINES]
    rows += [f"{base[0]}\r,{','.join(base[1:])}", f'{base[0]},"100.01",{",".join(base[2:])}']
    rows += [",".join([base[0], "100.05", "100.01", "100.06", "100.01", "1"])]  # high < low
    rows += [",".join([base[0], "99.90", "100.06", "99.96", "100.03", "1"])]  # open below low
    rng.shuffle(rows)
    return rows


def _outcome(path: Path, tick: Decimal | None) -> str:
    try:
        return repr(check_csv(path, tick=tick))
    except DataFileError as exc:
        return f"error: {exc}"


def _played(path: Path, tick: Decimal | None) -> str:
    try:
        feed = CsvReplayFeed(path, symbol="X/USD", tick=tick, lot=D(1))
    except DataFileError as exc:
        return f"error: {exc}"
    try:
        return repr(list(iter(lambda: feed.next_bar(0), None)))
    finally:
        feed.close()


@pytest.mark.parametrize("tick", [D("0.01"), None])
def test_each_row_checks_and_plays_alike_with_and_without_the_quick_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tick: Decimal | None
) -> None:
    rng = random.Random(17)
    cases = list(itertools.product(FIRST_ROWS, _rows(rng)))
    path = tmp_path / "data.csv"
    results = []
    for first, second in cases:
        third = "2026-01-01T00:02:00Z,100.02,100.04,100.00,100.03,5\n"
        path.write_text(HEADER + first + second + "\n" + third, encoding="utf-8", newline="")
        results.append((_outcome(path, tick), _played(path, tick)))
    with monkeypatch.context() as m:
        m.setattr(datafile, "quick_row", lambda *_: None)
        m.setattr(timecolumn.TimeColumn, "_common", lambda *_: None)
        for (first, second), quick in zip(cases, results, strict=True):
            third = "2026-01-01T00:02:00Z,100.02,100.04,100.00,100.03,5\n"
            path.write_text(HEADER + first + second + "\n" + third, encoding="utf-8", newline="")
            assert (_outcome(path, tick), _played(path, tick)) == quick, (first, second)
    assert any(outcome.startswith("error") for outcome, _ in results)
    assert any(not outcome.startswith("error") for outcome, _ in results)


OTHER_FILES = (
    (
        "timestamp,symbol,open,high,low,close,volume\n{t0},EURUSD,1.5,1.6,1.4,1.5,1\n"
        "{t1},{symbol},1.5,1.6,1.4,1.5,1\n"
    ),
    "time;open;high;low;close;volume\n{t0};1.5;1.6;1.4;1.5;1\n{t1};1.50;1.6;1.4;1.5;1\n",
    "time;open;high;low;close;volume\n{t0};1,5;1,6;1,4;1,5;1\n{t1};1.5;1.6;1.4;1.5;1\n",
    "time;open;high;low;close;volume\n{t0};18.000;18.000;18.000;18.000;1\n{t1};18;18;18;18;1\n",
    (
        "date,time,open,high,low,close,volume\n2026-01-01,{t0},1.5,1.6,1.4,1.5,1\n"
        "2026-01-01,{t1},1.5,1.6,1.4,1.5,1\n"
    ),
    (
        "time\topen\thigh\tlow\tclose\tvolume\n{t0}\t1.5\t1.6\t1.4\t1.5\t1\n"
        "{t1}\t1.5\t1.6\t1.4\t1.5\t1\n"
    ),
    "open,high,low,close,volume\n1.5,1.6,1.4,1.5,1\n1.5,1.6,1.4,1.5,{symbol}\n",
)


@pytest.mark.parametrize("tick", [D("0.1"), None])
def test_other_layouts_check_and_play_alike_with_and_without_the_quick_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tick: Decimal | None
) -> None:
    """A symbol column, ``;`` and tab files, decimal commas, a split time, no time column."""
    texts = [
        form.format(t0=t0, t1=t1, symbol=symbol)
        for form in OTHER_FILES
        for t0, t1 in (
            ("09:00", "09:01"),
            ("09:00", "09:00"),
            ("2026-01-01 09:00:00", "2026-01-01 09:01:00"),
        )
        for symbol in ("EURUSD", "eur/usd", "GBPUSD", "", "1")
    ]
    path = tmp_path / "data.csv"

    def outcomes() -> list[tuple[str, str]]:
        found = []
        for text in texts:
            path.write_text(text, encoding="utf-8")
            found.append((_outcome(path, tick), _played(path, tick)))
        return found

    quick = outcomes()
    monkeypatch.setattr(datafile, "quick_row", lambda *_: None)
    monkeypatch.setattr(timecolumn.TimeColumn, "_common", lambda *_: None)
    assert outcomes() == quick


def test_common_times_are_read_as_the_general_path_reads_them(tmp_path: Path) -> None:
    """``TimeColumn._common``: the nanoseconds ``parse`` gives, or None (and ``parse`` reads)."""
    rng = random.Random(3)
    texts = [
        f"2026-03-02T09:00:00{m}{'1' * n}{z}" for m in ".," for n in range(1, 10) for z in ("Z", "")
    ]
    for _ in range(3000):
        year = rng.choice((1, 1969, 1970, 2024, 2026, 2262, 9999))
        month, day = rng.randint(0, 13), rng.randint(0, 32)
        clock = ":".join(f"{rng.randint(0, n):02d}" for n in (25, 61, 61))
        sep, fraction, zone = rng.choice(
            ((" ", "", ""), ("T", ".5", "Z"), ("T", "", "Z"), ("T", "", "+00:00"), ("T", ".25", ""))
        )
        texts.append(f"{year:04d}-{month:02d}-{day:02d}{sep}{clock}{fraction}{zone}")
    texts += ["2026-W10-1T09:00:00Z", "2026-061T09:00:00Z", "2026-03-02T09:00Z", "2026-03-02T09Z"]
    read = 0
    for text in texts:
        for first in ("2000-01-01T00:00:00Z", "2000-01-01 00:00:00"):
            column = TimeColumn(tmp_path / "data.csv", "timestamp")
            column.parse(first, 2)
            quick = column._common(text)
            if quick is not None:
                read += 1
                assert quick == column.parse(text, 3), text
    assert read > len(texts) // 2


def test_a_common_file_is_read_without_csv_or_datetime_past_its_first_row(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Fails on the old code: every row went through ``csv``'s reader and ``text_ns``."""
    rows = [
        f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}Z,100.{i % 50:02d},100.60,100.00,100.10,{i}\n"
        for i in range(200)
    ]
    path = tmp_path / "data.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    calls = {"split": 0, "text_ns": 0}

    def counted(name: str, module: object) -> None:
        real = getattr(module, name)

        def count(*args: object) -> object:
            calls[name] += 1
            return real(*args)

        monkeypatch.setattr(module, name, count)

    counted("split", datafile)
    counted("text_ns", timecolumn)
    check = check_csv(path, tick=D("0.01"))
    assert (check.rows, check.last_time) == (200, "2026-01-01T00:03:19Z")
    assert calls == {"split": 1, "text_ns": 2}  # the first row only (its form, its time)
