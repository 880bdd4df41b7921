"""Why the evidence re-runs no run, said of the run: its wall clock, or its venue.

Bug: the determinism re-run of a system-clock run on the mock venue said `Reason: system
clock or external venue.` and its kill drill `system clock, external venue or objects`: a
reviewer could not tell from the bundle which of them kept the run from being re-run (a
venue that is not simulated is the one that matters to them). Each names its own now.
"""

from __future__ import annotations

from pathlib import Path

import orjson

from livesession import DryrunConfig
from livesession._rundir.rerunnable import unrepeatable
from livesession.cli import main
from livesession.evidence import write_evidence

_CLOCK = (
    "the system clock stamped its records (clock_mode system) with the wall time each was "
    "written at, which a re-run cannot repeat"
)


def test_a_system_clock_run_on_the_mock_venue_is_said_to_be_the_clocks(tmp_path: Path) -> None:
    config = tmp_path / "system.toml"
    config.write_text('clock_mode = "system"\nsteps = 20\n', encoding="utf-8")
    args = ["dryrun", "--config", str(config), "--out", str(tmp_path), "--run-id", "wall"]
    assert main([*args, "-q"]) == 0
    result = write_evidence(tmp_path / "wall")
    document = result.document.read_text(encoding="utf-8")
    assert f"Status: **not_applicable**\n\nReason: {_CLOCK}.\n" in document
    assert "external venue" not in document
    manifest = orjson.loads(result.manifest.read_bytes())
    assert manifest["determinism"] == {"status": "not_applicable", "reason": _CLOCK}
    assert manifest["kill_drill"] == {"status": "not_applicable", "reason": _CLOCK}


def test_a_venue_that_is_not_simulated_is_named() -> None:
    said = unrepeatable(DryrunConfig(broker="ccxt:binance"), {})
    assert (
        said
        == "it traded on ccxt:binance, an external venue, where a re-run would send its orders again"
    )
    own = {"broker": {"ref": "desk.venues:make", "declared_simulated": False}}
    assert "desk.venues:make does not declare itself simulated" in unrepeatable(
        DryrunConfig(broker="desk.venues:make"), own
    )
    assert unrepeatable(DryrunConfig(broker="realish"), {}) == ""
    assert unrepeatable(DryrunConfig(), {}) == ""
