"""The evidence says when the session, not the strategy, closed the position at the end.

Before, a run whose strategy still held a position at its last bar was told `At the seal:
position flat` and nothing more: the wind-down's own flatten order (`reason` `flatten`, no
signal) had sold it, and a reviewer read that the strategy ended flat. Found reviewing a
mean-reversion strategy's three-month run, whose last 9000 EUR/USD the session sold. The
section now says so (the manifest's ``outcome.flattened``), and a kill's flatten, which the
kill switch's own line tells, is not said twice.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from _scripted import held_to_the_end
from livesession._artifacts import names
from livesession._artifacts.runread import iter_records
from livesession.evidence._outcome import outcome, outcome_lines

if TYPE_CHECKING:
    from pathlib import Path


def _ended(tmp_path: Path, run_id: str, *, kill_after: int | None = None) -> dict[str, object]:
    """The outcome of a run that buys on bar 3 and never sells, killed after ``kill_after``."""
    held_to_the_end(tmp_path, run_id, kill_after=kill_after)
    run_dir = tmp_path / run_id
    return outcome(run_dir, iter_records(run_dir / names.EVENTS))


def test_a_position_the_wind_down_flattened_is_said(tmp_path: Path) -> None:
    found = _ended(tmp_path, "held")
    assert found["positions"] == {}  # flat at the seal: the session sold it
    assert found["flattened"] == [
        {
            "side": "SELL",
            "quantity": "0.010",
            "symbol": "BTC/USDT",
            "after_step": 8,
            "at": "2026-01-01T00:08:00Z",
            "filled": "0.010",
            "ended": "filled",
        }
    ]
    lines = outcome_lines(found, tmp_path / "held")
    assert (
        "- The session flattened what the strategy still held as the run wound down: "
        "SELL 0.010 BTC/USDT after step 8 (2026-01-01T00:08:00Z), a `flatten` order of its own."
    ) in lines


def test_a_kills_flatten_is_not_said_again(tmp_path: Path) -> None:
    found = _ended(tmp_path, "killed", kill_after=5)
    assert "flattened" not in found
    assert not [line for line in outcome_lines(found, tmp_path) if "flattened what" in line]
