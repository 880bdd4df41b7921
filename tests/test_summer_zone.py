"""Local times without an offset, refused as summer time ends, are given offsets that fit.

The hint gave a US file's offsets (``01:30:00-04:00, then 01:00:00-05:00``) whatever the
file: a European one was told to write New York's. The day and the hour that repeats tell
the zone where they can (Europe's last Sunday of October, the US's first of November);
elsewhere the hint names no zone's offsets.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livesession import DataFileError, check_csv

_HEADER = "timestamp,open,high,low,close,volume\n"
_ASKED = (
    "local times written without a UTC offset, as summer time ends and an hour repeats? A "
    "time without an offset is UTC: write the times in UTC, or with their offsets "
)


def _write(tmp_path: Path, times: list[str]) -> Path:
    path = tmp_path / "x.csv"
    rows = "".join(f"{t},1.{n},1.{n},1.{n},1.{n},5\n" for n, t in enumerate(times))
    path.write_text(_HEADER + rows, encoding="utf-8")
    return path


def _refusal(tmp_path: Path, times: list[str]) -> str:
    with pytest.raises(DataFileError) as caught:
        check_csv(_write(tmp_path, times), tick=None)
    return str(caught.value)


@pytest.mark.parametrize(
    ("times", "offsets"),
    [
        (  # Frankfurt's clock set back at 03:00 CEST: 02:00 again, CET
            [
                "2026-10-25 01:55:00",
                "2026-10-25 02:30:00",
                "2026-10-25 02:55:00",
                "2026-10-25 02:00:00",
            ],
            "02:30:00+02:00, then 02:00:00+01:00 in Central European time",
        ),
        (  # hourly bars repeat 02:00
            ["2026-10-25 01:00:00", "2026-10-25 02:00:00", "2026-10-25 02:00:00"],
            "02:30:00+02:00, then 02:00:00+01:00 in Central European time",
        ),
        (  # London's: 01:00 again, GMT
            ["2026-10-25 00:55:00", "2026-10-25 01:55:00", "2026-10-25 01:00:00"],
            "01:30:00+01:00, then 01:00:00+00:00 in the UK's time",
        ),
        (  # Athens's: 03:00 again, EET
            ["2026-10-25 02:55:00", "2026-10-25 03:55:00", "2026-10-25 03:00:00"],
            "03:30:00+03:00, then 03:00:00+02:00 in Eastern European time",
        ),
        (  # New York's: 01:00 again, EST (as before)
            ["2026-11-01 00:55:00", "2026-11-01 01:55:00", "2026-11-01 01:00:00"],
            "01:30:00-04:00, then 01:00:00-05:00",
        ),
        (  # Sydney's, in April: no zone's offsets
            ["2026-04-05 01:55:00", "2026-04-05 02:55:00", "2026-04-05 02:00:00"],
            "the summer offset until the clock is set back, then the offset an hour less",
        ),
        (  # 2006: the US set its clocks back on Europe's day, at the UK's hour
            ["2006-10-29 00:55:00", "2006-10-29 01:55:00", "2006-10-29 01:00:00"],
            "the summer offset until the clock is set back, then the offset an hour less",
        ),
    ],
)
def test_the_offsets_fit_the_day_and_hour_that_repeats(
    tmp_path: Path, times: list[str], offsets: str
) -> None:
    """Bug: a Frankfurt export refused at 2026-10-25 02:00 was told to write its times
    `with their offsets (01:30:00-04:00, then 01:00:00-05:00)`, New York's."""
    assert _refusal(tmp_path, times).endswith(f"{_ASKED}({offsets})")


def test_the_european_example_reads(tmp_path: Path) -> None:
    """The offsets a Frankfurt export is told to write are read, its bars at their moments."""
    times = ["2026-10-25 02:30:00+02:00", "2026-10-25 02:55:00+02:00", "2026-10-25 02:00:00+01:00"]
    assert check_csv(_write(tmp_path, times), tick=None).rows == 3
