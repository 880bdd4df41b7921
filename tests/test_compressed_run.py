"""A run compressed where it lies is said so, with the command that gives its files back.

Bug: a clean-up that compressed an old run in place (``gzip -r out/runs/r1``) left a run
that ``livesession list`` left out without a word (a fleet check counted one run fewer),
and that ``status`` and ``verify`` called ``not a run: no run.json, and events.jsonl and
audit.jsonl missing``; with ``run.json`` left as it was (``xz`` of the large files only),
each said the files were ``lost on the way, or removed; get the run's own copy``, though
``events.jsonl.xz`` was in plain sight. Each now names the compressed files and the command
that decompresses them where they are; the exit codes are as before.
"""

from __future__ import annotations

import gzip
import lzma
import subprocess
from typing import TYPE_CHECKING

import orjson
import pytest

from livesession._artifacts import names
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path


def _compress(run_dir: Path, which: tuple[str, ...] | None, suffix: str) -> None:
    """As ``gzip``/``xz`` do: each file replaced by its compressed copy beside it."""
    pack = gzip.compress if suffix == ".gz" else lzma.compress
    for path in sorted(run_dir.iterdir()):
        if which is None or path.name in which:
            (run_dir / f"{path.name}{suffix}").write_bytes(pack(path.read_bytes()))
            path.unlink()


def _made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    capsys.readouterr()
    return out / "r1"


@pytest.mark.broken_run("compressed where it lies, as a clean-up does, then given back")
def test_a_run_gzipped_whole_is_listed_and_said_with_the_way_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _made(tmp_path, capsys)
    _compress(run_dir, None, ".gz")
    way_back = f"decompress them where they are (`gunzip {run_dir}/*.gz`)"

    assert main(["list", str(run_dir.parent), "--json"]) == 0
    (listed,) = orjson.loads(capsys.readouterr().out)["runs"]
    assert listed["verdict"] == "not_a_run"
    assert (
        "audit.jsonl.gz, events.jsonl.gz and run.json.gz are there, compressed" in listed["problem"]
    )
    assert listed["problem"].endswith(way_back)

    for command in ("status", "verify"):
        assert main([command, str(run_dir)]) == 2, command
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1
        assert err.rstrip().endswith(way_back), command

    subprocess.run(f"gunzip {run_dir}/*.gz", shell=True, check=True, timeout=60)  # noqa: S602
    assert main(["verify", str(run_dir)]) == 0


@pytest.mark.broken_run("its large files compressed where they lie, as a clean-up does")
def test_a_run_whose_records_were_compressed_is_not_said_to_have_lost_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = _made(tmp_path, capsys)
    _compress(run_dir, (names.EVENTS, names.AUDIT), ".xz")
    said = (
        "events.jsonl and audit.jsonl are missing from a run livesession made (run.json is "
        "there), but audit.jsonl.xz and events.jsonl.xz are there, compressed"
    )

    assert main(["status", str(run_dir), "--json"]) == 5
    problem = orjson.loads(capsys.readouterr().out)["problem"]
    assert said in problem
    assert "lost on the way" not in problem
    assert problem.endswith(f"(`unxz {run_dir}/*.xz`)")

    assert main(["verify", str(run_dir)]) == 1
    assert said in capsys.readouterr().out
    assert main(["resume", str(run_dir), "-q"]) == 2
    assert said in capsys.readouterr().err
