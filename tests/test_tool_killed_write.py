"""A ``report``, ``prom`` or ``evidence`` killed as it wrote into a run directory.

Bug: each writes its file to a hidden ``.<name>.<pid>.<n>.tmp`` beside it, then renames
it over. One killed between the two (SIGKILL, the OOM killer, a timer's ``timeout -s
KILL``) left that file in the run directory for good: the next ``prom`` or ``report`` left
it there (only a ``resume`` removed such files), ``evidence`` listed it among the run's
artifacts, and ``verify --manifest`` called a bundle written before it "not this run's"
(``.livesession.prom.PID.0.tmp: in the run directory, but not among manifest.json's
artifacts``, exit 1): a false tamper alarm from a killed metrics timer. Now a tool's write
removes the leftovers of its file's killed writes (not a live process's), and a tool's
leftover is not the run's to the evidence.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from livesession.cli import main

from _helpers import cli_child, held_by_a_process


def _dryrun(out: Path, run_id: str) -> Path:
    args = ["dryrun", "--out", str(out), "--run-id", run_id, "--steps", "60", "-q"]
    assert main([*args, "--durability", "none"]) == 0
    return out / run_id


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def _leftovers(run_dir: Path) -> list[str]:
    return sorted(p.name for p in run_dir.glob(".*.tmp"))


@pytest.mark.parametrize(
    ("command", "name"), [("prom", "livesession.prom"), ("report", "report.html")]
)
def test_a_killed_write_leaves_a_file_the_rerun_removes(
    tmp_path: Path, command: str, name: str
) -> None:
    run_dir = _dryrun(tmp_path, "r")
    killed = cli_child(tmp_path, command, str(run_dir), crash_at="checkpoint_tmp")
    assert killed.returncode == -9, killed.stderr
    left = _leftovers(run_dir)
    assert len(left) == 1
    assert left[0].startswith(f".{name}.")
    assert not (run_dir / name).exists()
    live = f".{name}.{os.getppid()}.0.tmp"  # a process writing it now: its file stays
    other = f".events.jsonl.{_dead_pid()}.0.tmp"  # not this tool's file: resume's to remove
    for planted in (live, other):
        (run_dir / planted).write_bytes(b"")
    with held_by_a_process(run_dir / live):  # its writer holds it (tmpfiles.hold_tmp)
        assert main([command, str(run_dir)]) == 0
    assert (run_dir / name).is_file()
    assert _leftovers(run_dir) == sorted([live, other])
    (run_dir / live).unlink()
    (run_dir / other).unlink()


def test_a_killed_tools_leftover_is_not_the_runs_to_the_evidence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _dryrun(tmp_path, "ev")
    assert main(["evidence", str(run_dir)]) == 0
    capsys.readouterr()
    killed = cli_child(tmp_path, "prom", str(run_dir), crash_at="checkpoint_tmp")
    assert killed.returncode == -9, killed.stderr
    assert len(_leftovers(run_dir)) == 1
    assert main(["verify", str(run_dir), "--manifest", str(run_dir / "manifest.json")]) == 0
    assert "is run ev's" in capsys.readouterr().out
    # A bundle written while such a leftover is there does not list it.
    (run_dir / f".report.html.{os.getppid()}.3.tmp").write_bytes(b"<html")
    assert main(["evidence", str(run_dir), "--out", str(tmp_path / "bundle")]) == 0
    artifacts = orjson.loads((tmp_path / "bundle" / "manifest.json").read_bytes())["artifacts"]
    assert not [name for name in artifacts if name.endswith(".tmp")]
    for leftover in _leftovers(run_dir):
        (run_dir / leftover).unlink()


def test_a_killed_evidences_leftovers_go_with_the_next_bundle(tmp_path: Path) -> None:
    run_dir = _dryrun(tmp_path, "kb")
    assert main(["evidence", str(run_dir)]) == 0
    (document,) = (p.name for p in run_dir.glob("EV-*.md"))
    dead = _dead_pid()
    for name in ("manifest.json", document):
        (run_dir / f".{name}.{dead}.0.tmp").write_bytes(b"{")
    assert main(["evidence", str(run_dir)]) == 0
    assert _leftovers(run_dir) == []


def test_a_killed_burnins_leftovers_go_with_its_next_reports(tmp_path: Path) -> None:
    run_dir = _dryrun(tmp_path, "bi")
    dead = _dead_pid()
    for name in ("burnin.json", "burnin.md"):
        (run_dir / f".{name}.{dead}.0.tmp").write_bytes(b"{")
    main(["burnin", str(run_dir)])  # a 60-step run fails the criteria: the reports stand
    assert (run_dir / "burnin.json").is_file()
    assert _leftovers(run_dir) == []
