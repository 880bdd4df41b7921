"""What ``report``, ``prom`` and ``evidence`` write into a run directory takes the run's mode.

A report, a textfile and an evidence bundle hold what the run's files hold (its orders,
fills, P&L, config). A run made under ``umask 027`` (its files ``0640``) gained a
``report.html``, a ``livesession.prom`` and an evidence bundle every user of the host could
read (``0644``) when those commands ran from a shell under the common ``umask 022``. Now a
file they make in the run directory takes ``events.jsonl``'s mode, as ``timings.json`` and
``alerts.jsonl`` do; one written elsewhere (``--output``, ``--out``) keeps the umask's.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession._artifacts import names

from crash_harness import cli

pytestmark = pytest.mark.skipif(not hasattr(os, "fchmod"), reason="POSIX permissions")


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    """A sealed run made under ``umask 027``; the test then runs under ``umask 022``."""
    before = os.umask(0o027)
    try:
        done = cli("dryrun", "--out", tmp_path, "--run-id", "kept", "--steps", "20", "-q")
        assert done.returncode == 0, done.stderr
    finally:
        os.umask(0o022)
    yield tmp_path / "kept"
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def test_report_prom_and_evidence_in_the_run_directory_take_its_mode(run_dir: Path) -> None:
    assert _mode(run_dir / names.EVENTS) == 0o640
    for args in (("report", run_dir), ("prom", run_dir), ("evidence", run_dir)):
        done = cli(*args)
        assert done.returncode == 0, done.stderr
    made = [names.REPORT, names.PROM, names.MANIFEST, *(p.name for p in run_dir.glob("EV-*.md"))]
    assert len(made) == 4
    assert {name: _mode(run_dir / name) for name in made} == dict.fromkeys(made, 0o640)


def test_a_chmod_of_the_run_is_what_they_take(run_dir: Path) -> None:
    (run_dir / names.EVENTS).chmod(0o600)
    done = cli("report", run_dir)
    assert done.returncode == 0, done.stderr
    assert _mode(run_dir / names.REPORT) == 0o600


def test_written_elsewhere_they_take_the_umask_s(run_dir: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "shared"
    for args in (
        ("report", run_dir, "--output", elsewhere / "kept.html"),
        ("prom", run_dir, "--output", elsewhere / "kept.prom"),
        ("evidence", run_dir, "--out", elsewhere / "bundle"),
    ):
        elsewhere.mkdir(exist_ok=True)
        done = cli(*args)
        assert done.returncode == 0, done.stderr
    made = [p for p in elsewhere.rglob("*") if p.is_file()]
    assert len(made) == 4
    assert {p.name: _mode(p) for p in made} == {p.name: 0o644 for p in made}


def test_a_report_there_already_keeps_its_own_mode(run_dir: Path) -> None:
    (run_dir / names.REPORT).write_text("old")
    (run_dir / names.REPORT).chmod(0o644)  # wider than the run's: the operator's choice
    done = cli("report", run_dir)
    assert done.returncode == 0, done.stderr
    assert _mode(run_dir / names.REPORT) == 0o644
