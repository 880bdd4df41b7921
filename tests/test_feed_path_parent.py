"""A data file named on the command line through ``..`` (``--feed csv:../data/x.csv``).

The CLI records such a path made absolute from the directory it ran in, as typed
(``csv:/desk/scripts/../data/x.csv``): the run's bytes keep it. The file it names is the
one in ``/desk/data``, whatever becomes of ``/desk/scripts``: ``resume``, ``status`` and
``evidence`` find it there once that directory is gone (renamed, a job's scratch directory
removed), as the run read it. They were told ``No such file or directory`` and to put the
file at a path no file can be put at.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from livesession import DryrunConfig
from livesession.cli import EXIT_OK
from livesession.verify import verify_run

from crash_harness import KILLED
from crash_harness import cli as crash_cli

ROWS = "".join(
    f"2026-03-06T20:{m:02d}:00Z,100.{m:02d},101.00,99.00,100.{m:02d},{m + 1}\n" for m in range(40)
)


def _crashed_from(tmp_path: Path) -> tuple[Path, Path]:
    """A run given ``--feed csv:../data/btc.csv`` in ``scripts/``, killed at a checkpoint."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "btc.csv").write_text(
        "timestamp,open,high,low,close,volume\n" + ROWS, encoding="utf-8"
    )
    scripts, out = tmp_path / "scripts", tmp_path / "runs"
    scripts.mkdir()
    crashed = crash_cli("dryrun", "--feed", "csv:../data/btc.csv", "--symbol", "BTC/USDT",
                        "--steps", "30", "--out", out, "--run-id", "r", "-q",
                        cwd=scripts, crash_at="checkpoint:1")  # fmt: skip
    assert crashed.returncode == KILLED, crashed.stderr
    return scripts, out / "r"


def test_a_run_resumes_once_the_directory_it_ran_in_is_gone(tmp_path: Path) -> None:
    scripts, run = _crashed_from(tmp_path)
    recorded = json.loads((run / "config.json").read_text(encoding="utf-8"))["feed"]
    assert recorded == f"csv:{scripts}/../data/btc.csv"  # as typed, made absolute
    shutil.rmtree(scripts)
    status = crash_cli("status", run)
    assert "resumable   yes" in status.stdout, status.stdout
    resumed = crash_cli("resume", run, "-q")
    assert resumed.returncode == EXIT_OK, resumed.stderr
    assert verify_run(run).ok
    evidence = crash_cli("evidence", run, "--json")
    assert evidence.returncode == EXIT_OK, evidence.stdout + evidence.stderr


def test_the_file_is_the_one_the_parent_directory_holds(tmp_path: Path) -> None:
    data = tmp_path / "data" / "btc.csv"
    gone = tmp_path / "scripts" / ".." / "data" / "btc.csv"
    assert DryrunConfig(feed=f"csv:{gone}", steps=1).data_file() == data
    # A symlinked directory's parent is the kernel's, not the lexical one.
    (tmp_path / "deep" / "inner").mkdir(parents=True)
    (tmp_path / "link").symlink_to(tmp_path / "deep" / "inner")
    through = tmp_path / "link" / ".." / "btc.csv"
    assert DryrunConfig(feed=f"csv:{through}", steps=1).data_file() == (
        tmp_path / "deep" / "btc.csv"
    )
    # Without a parent step the path is the one given, a symlinked file's name kept.
    plain = tmp_path / "link" / "btc.csv"
    assert DryrunConfig(feed=f"csv:{plain}", steps=1).data_file() == plain
