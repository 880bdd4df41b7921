"""The EV document's "Run time" line says a data file only of a run that read one.

Before, every document said the run's times were "the run's simulated time: a data file's
bars at their own times", a run of the random walk (which reads no file, its clock started
at 2026-01-01T00:00:00Z) and one preflight refused before its first bar too: a reviewer
went looking for a data file the run never had. The line now names the data file's bars
only when the manifest holds the file (``data``); else it says the run's simulated time.
"""

from __future__ import annotations

from pathlib import Path

from _eurusd import EURUSD_TOML, eurusd_csv
from livesession.cli import main
from livesession.evidence import write_evidence


def _run_time(run_dir: Path) -> str:
    document = write_evidence(run_dir).document.read_text(encoding="utf-8")
    (line,) = [line for line in document.splitlines() if line.startswith("- Run time:")]
    return line


def test_a_random_walk_run_names_no_data_file(tmp_path: Path) -> None:
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "walk", "--steps", "5", "-q"]) == 0
    assert _run_time(tmp_path / "walk") == (
        "- Run time: 2026-01-01T00:00:00Z to 2026-01-01T00:05:00Z (UTC, the run's simulated "
        "time), its first and last record."
    )


def test_a_data_file_run_names_its_bars(tmp_path: Path) -> None:
    eurusd_csv(tmp_path / "eurusd.csv", 12)
    config = tmp_path / "eurusd.toml"
    config.write_text('run_id = "fx"\nsteps = 12\n' + EURUSD_TOML, encoding="utf-8")
    assert main(["dryrun", "-c", str(config), "--out", str(tmp_path), "-q"]) == 0
    assert _run_time(tmp_path / "fx") == (
        "- Run time: 2026-03-02T09:00:00Z to 2026-03-02T09:11:00Z (UTC, the run's simulated "
        "time: a data file's bars at their own times), its first and last record."
    )
