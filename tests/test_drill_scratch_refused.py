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
