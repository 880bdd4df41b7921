"""Runs a release before this one wrote (tests/data/v010: two runs 0.1.0 made).

0.2 reads them (verify, status, report, prom) and holds them to what 0.1.0 promised, not to
what 0.2 added; it never continues one (``resume`` refuses a run of another release, naming
both versions and the release to resume it with).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from livesession.verify import verify_run

DATA = Path(__file__).parent / "data" / "v010"


@pytest.fixture
def old_done(tmp_path: Path) -> Path:
    """A copy of a clean 0.1.0 run that placed two orders."""
    return Path(shutil.copytree(DATA / "old-done", tmp_path / "old-done"))


@pytest.fixture
def old_crash(tmp_path: Path) -> Path:
    """A copy of a 0.1.0 run killed mid-way (three orders, no SESSION_STOPPED)."""
    return Path(shutil.copytree(DATA / "old-crash", tmp_path / "old-crash"))


class TestVerify:
    def test_a_clean_0_1_run_is_not_held_to_the_links_0_2_added(self, old_done: Path) -> None:
        result = verify_run(old_done)
        assert list(result.violations) == []
        assert result.ok

    @pytest.mark.broken_run("a line taken out of a 0.1.0 run")
    def test_a_0_1_run_s_other_faults_stay_violations(self, old_done: Path) -> None:
        events = old_done / "events.jsonl"
        lines = events.read_bytes().splitlines(keepends=True)
        del lines[-3]  # a line from the end: the seq then jumps
        events.write_bytes(b"".join(lines))
        assert not verify_run(old_done).ok
