"""A run directory whose path leaves no room for the files a run keeps in it (``PATH_MAX``).

A run under a path a few bytes short of the system's limit was created (its own files'
names fit), then stopped unsealed at its first checkpoint, ``cannot write checkpoint
DIR/checkpoint.json: File name too long``: the temporary ``.checkpoint.json.<pid>.<n>.tmp``
it renames over the checkpoint is longer. One that crashed there could never be resumed
(``DIR/state_snapshots.jsonl.torn: File name too long``, the file a resume cuts a torn tail
into), and ``status`` called it resumable. Now ``dryrun`` refuses such a path before it
makes anything, and ``status`` and ``resume`` say what keeps the crashed run from going on.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from livesession.cli import main

from crash_harness import KILLED, cli

_STEP = 200  # a path component's length, well under NAME_MAX


def _deep(base: Path, length: int) -> Path:
    """A directory under ``base`` whose path is ``length`` bytes long, made."""
    path = base
    while len(os.fsencode(path)) + 1 + _STEP < length:
        path /= "d" * _STEP
    path /= "e" * (length - len(os.fsencode(path)) - 1)
    path.mkdir(parents=True)
    assert len(os.fsencode(path)) == length
    return path


def _files(run: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in run.iterdir()}


_LIMIT = os.pathconf("/", "PC_PATH_MAX")
_TOO_LONG = _LIMIT - 40  # its own files fit (their paths under the limit): its temporary ones not


def test_a_run_is_refused_where_its_files_paths_would_be_too_long(tmp_path, capsys) -> None:
    out = _deep(tmp_path, _TOO_LONG - len("/r1"))
    args = ["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]
    assert main([*args, "--idempotency-backend", "jsonl"]) == 2
    said = capsys.readouterr().err.strip()
    assert "\n" not in said
    assert said.startswith(f"livesession: error: cannot create run {out / 'r1'}: its path is "), (
        said
    )
    assert f"more than the system takes (PATH_MAX {_LIMIT}" in said
    assert said.endswith("put the run where its path is shorter; nothing was left behind")
    assert list(out.iterdir()) == []


def test_a_run_with_room_enough_runs(tmp_path) -> None:
    out = _deep(tmp_path, _LIMIT - 60 - len("/r1"))
    args = ["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]
    assert main([*args, "--idempotency-backend", "jsonl"]) == 0
    assert main(["verify", str(out / "r1")]) == 0


def test_a_crashed_run_moved_too_deep_says_it_cannot_be_resumed_there(tmp_path, capsys) -> None:
    made = tmp_path / "made"
    args = ["--out", made, "--run-id", "c1", "--steps", "150", "--idempotency-backend", "jsonl"]
    assert cli("dryrun", *args, "-q", crash_at="write_events:120").returncode == KILLED
    run = _deep(tmp_path / "deep", _TOO_LONG - len("/c1")) / "c1"
    shutil.move(made / "c1", run)
    before = _files(run)
    assert main(["status", str(run)]) == 5  # a person must move it
    assert "resumable   no: its path is " in capsys.readouterr().out
    assert main(["resume", str(run), "-q"]) == 2
    said = capsys.readouterr().err.strip()
    assert said.startswith(f"livesession: error: cannot resume {run} (nothing was changed): ")
    assert said.endswith("move the run where its path is shorter, then resume it there"), said
    assert _files(run) == before
    shutil.move(run, tmp_path / "c1")  # moved back where it has room: it goes on
    assert main(["resume", str(tmp_path / "c1"), "-q"]) == 0
    assert main(["verify", str(tmp_path / "c1")]) == 0
