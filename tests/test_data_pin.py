"""A run on a data file is pinned to it however it is made: the CLI, ``create_run``,
``run_dryrun`` or a ``LiveSessionOrchestrator`` of its own.

The config takes the file's SHA-256 and size (``feed_sha256``, ``feed_bytes``) before it is
hashed, so ``config_sha256`` (in ``SESSION_STARTED`` and ``C2_DRYRUN_START``) and the audit
chain name the bytes the run read, and the same config, seed and file give the same files
on every path.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from _eurusd import EURUSD_TOML, eurusd_csv
from livesession import LiveSessionOrchestrator, create_run, load_config

_FILES = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")


def _orchestrated(cfg: object, out: Path) -> None:
    """The run ``run_dryrun`` makes of ``cfg``, its four files written into ``out``."""
    out.mkdir(parents=True)
    with (
        (out / "events.jsonl").open("w") as events,
        (out / "state_snapshots.jsonl").open("w") as states,
        (out / "metrics.json").open("w") as metrics,
        (out / "audit.jsonl").open("w") as audit,
    ):
        LiveSessionOrchestrator().run_dryrun(
            cfg,  # type: ignore[arg-type]
            event_sink=events,
            state_sink=states,
            metrics_sink=metrics,
            audit_sink=audit,
        )


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    eurusd_csv(tmp_path / "eurusd.csv", 60)
    (tmp_path / "desk.toml").write_text('run_id = "d1"\nsteps = 50\n' + EURUSD_TOML)
    return tmp_path


def test_the_orchestrator_pins_the_config_to_its_data_file(desk: Path) -> None:
    digest = hashlib.sha256((desk / "eurusd.csv").read_bytes()).hexdigest()
    with LiveSessionOrchestrator(load_config(desk / "desk.toml")) as session:
        assert session.config.feed_sha256 == digest
        assert session.config.feed_bytes == (desk / "eurusd.csv").stat().st_size


def test_run_dryrun_writes_the_bytes_create_run_writes(desk: Path) -> None:
    cfg = load_config(desk / "desk.toml")
    with create_run(cfg, desk / "runs") as session:
        session.run_to_end(cfg.steps)
    _orchestrated(cfg, desk / "py")
    for name in _FILES:
        assert (desk / "py" / name).read_bytes() == (desk / "runs" / "d1" / name).read_bytes()


def test_two_files_of_the_same_bars_give_two_audits(desk: Path) -> None:
    """LF and CRLF: the same bars, other bytes. The audit ties the run to its file."""
    lf = (desk / "eurusd.csv").read_bytes()
    (desk / "eurusd.csv").write_bytes(lf.replace(b"\n", b"\r\n"))
    cfg = load_config(desk / "desk.toml")
    _orchestrated(cfg, desk / "crlf")
    (desk / "eurusd.csv").write_bytes(lf)
    _orchestrated(cfg, desk / "lf")
    assert (desk / "crlf" / "events.jsonl").read_bytes() != (
        desk / "lf" / "events.jsonl"
    ).read_bytes()
    assert (desk / "crlf" / "audit.jsonl").read_bytes() != (
        desk / "lf" / "audit.jsonl"
    ).read_bytes()
