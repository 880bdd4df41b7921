"""Determinism: same config and seed give byte-identical artifacts across processes."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")


def _run(
    out: Path,
    *,
    seed: int,
    clock: str,
    hashseed: str,
    steps: int = 400,
    durability: str = "none",
) -> dict[str, str]:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "livesession.cli",
            "dryrun",
            "--run-id",
            "det",
            "--seed",
            str(seed),
            "--clock",
            clock,
            "--steps",
            str(steps),
            "--out",
            str(out),
            "--durability",
            durability,
            "-q",
        ],
        env={**os.environ, "PYTHONHASHSEED": hashseed},
        check=True,
    )
    return {
        name: hashlib.sha256((out / "det" / name).read_bytes()).hexdigest() for name in CONTRACT
    }


class TestDeterminism:
    @pytest.mark.parametrize("clock", ["fixed", "sim"])
    def test_same_seed_same_bytes_across_processes(self, tmp_path, clock):
        """Two processes with different PYTHONHASHSEED write identical contract artifacts."""
        first = _run(tmp_path / "a", seed=123, clock=clock, hashseed="1")
        second = _run(tmp_path / "b", seed=123, clock=clock, hashseed="4242")
        assert first == second

    def test_different_seed_changes_the_artifacts(self, tmp_path):
        """Another seed gives other events (and so other digests)."""
        first = _run(tmp_path / "a", seed=123, clock="sim", hashseed="0")
        second = _run(tmp_path / "b", seed=124, clock="sim", hashseed="0")
        assert first["events.jsonl"] != second["events.jsonl"]
        assert first["audit.jsonl"] != second["audit.jsonl"]

    def test_durability_changes_no_byte(self, tmp_path):
        """Durability decides what a machine crash can lose, never what a run records
        (docs/data.md tells long replays to use ``none`` on this promise)."""
        synced = _run(tmp_path / "a", seed=7, clock="sim", hashseed="0", durability="step")
        unsynced = _run(tmp_path / "b", seed=7, clock="sim", hashseed="0", durability="none")
        each = _run(tmp_path / "c", seed=7, clock="sim", hashseed="0", durability="event")
        assert synced == unsynced == each


_WALL_CLOCK = ("session.log.jsonl", "timings.json", "writer.lock")
"""Files that hold the wall clock or the writing process (docs/artifacts.md, "Other files")."""


def _run_under(cwd: Path, out: str, env: dict[str, str], umask: int) -> None:
    """A 200-step realish dry run, run id ``env``, into ``cwd/out`` under ``env`` and ``umask``."""
    subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "--run-id", "env", "--steps", "200",
         "--broker", "realish", "--out", out, "-q"],
        cwd=cwd, env={**os.environ, **env}, check=True,
        preexec_fn=lambda: os.umask(umask),
    )  # fmt: skip


def test_the_environment_changes_no_byte_of_the_run(tmp_path):
    """Time zone, locale, hash seed, text encoding, umask, working directory and a relative
    ``--out`` leave every file of the run as it was, but for the wall clock's files and the
    run directory's own inode (run.json); the four contract files alone were held so."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "deep").mkdir(parents=True)
    _run_under(tmp_path / "a", str(tmp_path / "a" / "runs"), {"TZ": "UTC"}, 0o022)
    changed = {
        "TZ": "Asia/Tokyo",
        "LC_ALL": "C",
        "LANG": "C",
        "PYTHONIOENCODING": "ascii",
        "PYTHONHASHSEED": "77",
        "PYTHONUTF8": "0",
    }
    _run_under(tmp_path / "b" / "deep", "../runs", changed, 0o077)
    ours, theirs = tmp_path / "a" / "runs" / "env", tmp_path / "b" / "runs" / "env"
    names = sorted(path.name for path in ours.iterdir())
    assert names == sorted(path.name for path in theirs.iterdir())
    differ = [n for n in names if (ours / n).read_bytes() != (theirs / n).read_bytes()]
    assert set(differ) <= {*_WALL_CLOCK, "run.json"}, differ
    run_json = [orjson.loads((run / "run.json").read_bytes()) for run in (ours, theirs)]
    for meta in run_json:
        meta.pop("directory_inode")
        meta.pop("directory_generation", None)
    assert run_json[0] == run_json[1]
