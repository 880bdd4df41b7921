"""The kill drill's scratch run refused by the host (a full disk in the temporary directory).

Bug: ``evidence`` (and ``burnin --drill``) of a finished run, its temporary directory full,
said ``livesession: error: cannot create run /tmp/livesession-drill-x/big: File too large;
nothing was left behind``: that it could not create a run the operator never asked for,
naming neither the kill drill nor that ``TMPDIR`` chooses where it writes. It says both now.
"""

from __future__ import annotations

import resource
from pathlib import Path

import pytest

from livesession.cli import main

from _helpers import cli_under


@pytest.mark.parametrize("command", [("evidence", "--out"), ("burnin", "--drill", "--out")])
def test_a_drill_refused_its_scratch_run_says_it_and_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: tuple[str, ...]
) -> None:
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "d", "--steps", "60", "-q"]
    assert main([*args, "--durability", "none"]) == 0
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    bundle = tmp_path / "bundle"
    done = cli_under(*command[:1], tmp_path / "d", *command[1:], bundle,
                     limit=(resource.RLIMIT_FSIZE, 1024))  # fmt: skip
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert line.startswith("livesession: error: ")
    assert "kill drill" in line
    assert f"cannot make its scratch run in {scratch}, the temporary directory (TMPDIR " in line
    assert "File too large" in line
    assert not bundle.exists()
    assert list(scratch.iterdir()) == []


def test_evidence_under_a_file_size_limit_names_it_on_its_line(tmp_path: Path) -> None:
    """Bug: under ``ulimit -f 64`` (the run's files larger than that) ``livesession evidence
    RUN --out B`` printed ``evidence  NOT VERIFIED: the determinism re-run did not complete``,
    no cause on the line, and the bundle's reason said ``give it room (it runs in a directory
    under TMPDIR)``, to an operator whose TMPDIR had room: the file size limit stopped it."""
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "f", "--steps", "300", "-q"]
    assert main([*args, "--idempotency-backend", "memory", "--durability", "none"]) == 0
    assert (tmp_path / "f" / "events.jsonl").stat().st_size > 64 * 1024
    bundle = tmp_path / "bundle"
    done = cli_under("evidence", tmp_path / "f", "--out", bundle,
                     limit=(resource.RLIMIT_FSIZE, 64 * 1024))  # fmt: skip
    assert done.returncode == 1, done.stderr
    (line,) = [said for said in done.stdout.splitlines() if said.startswith("evidence  ")]
    assert line.startswith("evidence  NOT VERIFIED: the determinism re-run did not complete (")
    assert "[Errno 27] File too large" in line
    assert "raise the file size limit (`ulimit -f`)" in line
    assert "give it room" not in line
