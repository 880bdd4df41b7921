"""Times at one UTC offset going back as summer time ends are told so, with the fix.

A tool that adds one fixed offset to local clock times writes the hour that repeats as
summer time ends at the summer offset still: ``02:59:00+02:00``, then ``02:00:00+02:00``.
The refusal said only ``a row out of place, or a time mistyped?``, though the file is in
order and no time is mistyped: its offsets are.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livesession import DataFileError, check_csv

_HEADER = "timestamp,open,high,low,close,volume\n"


def _refusal(tmp_path: Path, times: list[str], prices: list[str] | None = None) -> str:
    path = tmp_path / "x.csv"
    cells = prices or ["1.1"] * len(times)
    path.write_text(
        _HEADER + "".join(f"{t},{p},{p},{p},{p},5\n" for t, p in zip(times, cells, strict=True)),
        encoding="utf-8",
    )
    with pytest.raises(DataFileError) as caught:
        check_csv(path, tick=None)
    return str(caught.value)


@pytest.mark.parametrize(
    ("times", "said"),
    [
        (
            ["2026-10-25T02:30:00+02:00", "2026-10-25T02:59:00+02:00", "2026-10-25T02:00:00+02:00"],
            (
                "Both rows write +02:00, so this one is 2026-10-25T00:00:00Z, before "
                "2026-10-25T00:59:00Z: write the repeated hour at the offset after the change "
                "(2026-10-25T02:00:00+01:00, say), or every time in UTC"
            ),
        ),
        (
            ["2026-11-01T01:00:00-04:00", "2026-11-01T01:30:00-04:00", "2026-11-01T01:00:00-04:00"],
            (
                "Both rows write -04:00, so this one is 2026-11-01T05:00:00Z, before "
                "2026-11-01T05:30:00Z: write the repeated hour at the offset after the change "
                "(2026-11-01T01:00:00-05:00, say), or every time in UTC"
            ),
        ),
        (
            ["2026-04-05T02:00:00+10:30", "2026-04-05T02:45:00+10:30", "2026-04-05T02:00:00+10:30"],
            "(2026-04-05T02:00:00+09:30, say), or every time in UTC",
        ),
        (
            ["2026-03-08T01:00:00-02:30", "2026-03-08T01:45:00-02:30", "2026-03-08T01:00:00-02:30"],
            "(2026-03-08T01:00:00-03:30, say), or every time in UTC",
        ),
    ],
    ids=["Central Europe", "New York", "Adelaide", "Newfoundland"],
)
def test_the_summer_offset_kept_past_the_change_is_told(
    tmp_path: Path, times: list[str], said: str
) -> None:
    error = _refusal(tmp_path, times)
    assert f"line 4, column timestamp, value '{times[2]}': time does not increase" in error
    assert "the summer offset kept as summer time ends and an hour repeats?" in error
    assert error.endswith(said)


def test_hourly_bars_repeating_the_hour_at_the_summer_offset_are_told(tmp_path: Path) -> None:
    times = ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+02:00"]
    error = _refusal(tmp_path, times, ["1.1", "1.2", "1.3"])
    assert error.endswith(
        "the summer offset kept as summer time ends and an hour repeats? Both rows write "
        "+02:00, so this one is 2026-10-25T00:00:00Z, the same moment as 2026-10-25T00:00:00Z: "
        "write the repeated hour at the offset after the change (2026-10-25T02:00:00+01:00, "
        "say), or every time in UTC"
    )


@pytest.mark.parametrize(
    ("times", "prices"),
    [
        (
            ["2026-10-25T02:30:00+02:00", "2026-10-25T02:31:00+02:00", "2026-10-25T02:29:00+02:00"],
            None,
        ),
        (["2026-10-25T02:30:00Z", "2026-10-25T02:59:00Z", "2026-10-25T02:00:00Z"], None),
        (
            ["2026-10-25T02:30:00+00:00", "2026-10-25T02:59:00+00:00", "2026-10-25T02:00:00+00:00"],
            None,
        ),
        (
            ["2026-10-25T01:00:00+02:00", "2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+02:00"],
            ["1.1", "1.2", "1.2"],
        ),
    ],
    ids=["a row a minute out of place", "UTC", "+00:00", "the same row twice"],
)
def test_other_times_going_back_are_not_told_of_summer_time(
    tmp_path: Path, times: list[str], prices: list[str] | None
) -> None:
    assert "summer" not in _refusal(tmp_path, times, prices)
