"""A clock the embedding caller passes in (``create_run(..., clock=...)``) is recorded.

Bug: ``config.json`` and ``SESSION_STARTED`` said only the config's ``clock_mode`` (``sim``),
so the evidence re-ran the run with the sim clock and reported ``MISMATCH`` at the first
record: a false alarm, read as a defect of the strategy.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import orjson
import pytest

from livesession import (
    DryrunConfig,
    FixedClock,
    SimClock,
    create_run,
    resume_run,
)
from livesession._exceptions import PluginError
from livesession.evidence import write_evidence
from livesession.report import render_report
from livesession.verify import verify_run

from _helpers import crash_in_step


class _DeskClock:
    """A host's real-time-like clock: one second on at every reading, from 09:00."""

    def __init__(self, start: int = 0) -> None:
        self.readings = start

    def now(self) -> dt.datetime:
        self.readings += 1
        return dt.datetime(2026, 1, 1, 9, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=self.readings)


_CLOCK = f"{__name__}._DeskClock"


def _crashed(out: Path, run_id: str, clock: object) -> Path:
    """A run interrupted in its 12th step and closed unsealed: a crash at a checkpoint."""
    cfg = DryrunConfig(run_id=run_id, steps=30, checkpoint_every=5)
    crash_in_step(create_run(cfg, out, clock=clock, alerts=False), 12, 30)
    return out / run_id


def test_the_callers_clock_is_recorded_and_evidence_does_not_rerun_it(tmp_path: Path) -> None:
    session = create_run(
        DryrunConfig(run_id="desk-clock", steps=20), tmp_path, clock=_DeskClock(), alerts=False
    )
    assert session.run_to_end(20).status.value == "COMPLETED"
    session.close()
    run_dir = tmp_path / "desk-clock"
    assert verify_run(run_dir).ok
    config = orjson.loads((run_dir / "config.json").read_bytes())
    assert config["clock_mode"] == "sim"  # the config as given; the clock beside it
    clock = config["sources"]["clock"]
    assert (clock["object"], clock["supplied"]) == (_CLOCK, "object supplied in-process")
    assert f"{_CLOCK} sha256 {clock['sha256']}" in render_report(run_dir)  # "clock code"
    result = write_evidence(run_dir, out_dir=tmp_path / "ev")
    assert result.ok, result.problems
    manifest = orjson.loads(result.manifest.read_bytes())
    said = (
        f"the run was stamped by a clock of the caller's ({_CLOCK}), which a re-run cannot rebuild"
    )
    assert manifest["determinism"] == {"status": "not_applicable", "reason": said}


def test_a_run_on_the_configs_clock_records_none(tmp_path: Path) -> None:
    """None given, or the very clock the config names given (as an application may pass
    ``SimClock(start)``): a re-run stamps as it did, so nothing is recorded, and a resume
    takes the run with or without it. Another start, or another kind, is the caller's."""
    start = DryrunConfig().start
    for run_id, clock in (
        ("none", None),
        ("sim", SimClock(start)),
        ("fixed", FixedClock(start)),
        ("later", SimClock(start + dt.timedelta(hours=1))),
    ):
        session = create_run(
            DryrunConfig(run_id=run_id, steps=5), tmp_path, clock=clock, alerts=False
        )
        session.run_to_end(5)
        session.close()
        config = orjson.loads((tmp_path / run_id / "config.json").read_bytes())
        recorded = config.get("sources", {}).get("clock", {}).get("object")
        expected = {"fixed": "livesession._domain.clock.FixedClock"}
        expected["later"] = "livesession._domain.clock.SimClock"
        assert recorded == expected.get(run_id), run_id
    fixed = create_run(
        DryrunConfig(run_id="fixed-mode", steps=5, clock_mode="fixed"),
        tmp_path,
        clock=FixedClock(start),
        alerts=False,
    )
    fixed.run_to_end(5)
    fixed.close()
    assert "sources" not in orjson.loads((tmp_path / "fixed-mode" / "config.json").read_bytes())


def test_the_configs_own_clock_given_on_create_resumes_without_it(tmp_path: Path) -> None:
    run_dir = _crashed(tmp_path, "sim-given", SimClock(DryrunConfig().start))
    resumed = resume_run(run_dir, alerts=False)
    assert resumed.run_to_end(30).status.value == "COMPLETED"
    resumed.close()
    assert verify_run(run_dir).ok


def test_resume_takes_the_callers_clock_again_or_refuses_in_one_line(tmp_path: Path) -> None:
    run_dir = _crashed(tmp_path, "desk-crash", _DeskClock())
    before = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    with pytest.raises(PluginError) as info:
        resume_run(run_dir, alerts=False)
    assert str(info.value) == (
        f"run desk-crash was started with a clock object supplied in-process ({_CLOCK}): "
        "pass the same object as clock= again"
    )
    after = {p.name: p.read_bytes() for p in run_dir.iterdir() if p.is_file()}
    assert after == before  # nothing changed
    resumed = resume_run(run_dir, clock=_DeskClock(start=1000), alerts=False)
    assert resumed.run_to_end(30).status.value == "COMPLETED"
    resumed.close()
    assert verify_run(run_dir).ok


def test_resume_of_a_run_on_the_configs_clock_refuses_a_callers(tmp_path: Path) -> None:
    """Its records would be stamped by a clock the run's record does not name."""
    run_dir = _crashed(tmp_path, "sim-crash", None)
    with pytest.raises(PluginError) as info:
        resume_run(run_dir, clock=_DeskClock(), alerts=False)
    assert (
        str(info.value) == "run sim-crash was started on the built-in clock, not on one given now"
    )
    resumed = resume_run(run_dir, alerts=False)
    assert resumed.run_to_end(30).status.value == "COMPLETED"
    resumed.close()
    assert verify_run(run_dir).ok
