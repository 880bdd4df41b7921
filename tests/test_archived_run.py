"""A run a clean-up archived whole: each tool names the archive and the way back.

Bug: after ``tar -czf r1.tar.gz r1 && rm -r r1`` (a team's archiving of an old run),
``livesession status out/runs/r1`` (and ``verify``, ``evidence``, ``resume``, ...) said only
``run directory out/runs/r1 does not exist``, the archive beside it in plain sight; and
``status out/runs/r1.tar.gz`` only ``is not a directory``. Each now names the archive and
the ``tar`` command that gives the run back; the exit codes are as before.
"""

from __future__ import annotations

import shutil
import subprocess
import tarfile
from typing import TYPE_CHECKING

import pytest

from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path


def test_a_run_archived_and_removed_is_said_with_its_archive(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    run_dir, archive = out / "r1", out / "r1.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(run_dir, arcname="r1")
    shutil.rmtree(run_dir)
    capsys.readouterr()
    way_back = f"`tar -xf {archive} -C {out}` gives"

    for command in ("status", "verify", "evidence", "resume", "report"):
        assert main([command, str(run_dir)]) == 2, command
        err = capsys.readouterr().err
        assert f" {run_dir} does not exist ({archive} is there: an archive of it? " in err
        assert err.endswith(f"{way_back} it back)\n"), command
        assert main([command, str(archive)]) == 2, command
        err = capsys.readouterr().err
        assert err.startswith(f"livesession: error: {archive} is not a directory")
        assert err.endswith(f"; it is an archive (of a run?): {way_back} its run back\n")
    assert main(["list", str(archive)]) == 2
    assert capsys.readouterr().err.endswith(f"{way_back} its run back\n")

    subprocess.run(["tar", "-xf", str(archive), "-C", str(out)], check=True, timeout=60)
    assert main(["verify", str(run_dir)]) == 0
