"""A copy of a crashed run is evidence, not a second writer, on a venue that outlives it.

Before, ``cp -a`` of a ``ccxt:`` run killed after its first order, the original resumed to
its end and then the copy resumed: the copy sent three of the original's orders to the
venue a second time (the same client order ids, taken again by Binance once the first
orders were no longer open), sealed ``COMPLETED`` and verified OK. An older backup
restored over a run that went on did the same. Now ``run.json`` records the inode number
of the directory the run was created in, and ``resume`` refuses a run on a venue it does
not rebuild (``ccxt:``, a broker of one's own) in any other directory, nothing changed;
``status`` says ``resumable  no:`` with the line. A rename on the file system keeps the
run resumable, and a copy of a ``mock`` run (whose venue travels in its journal) resumes.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, RunDirectoryError
from livesession._rundir import create_run, resume_run
from livesession.cli import main
from livesession.status import Verdict, run_status
from test_own_broker import Flip, InMemory

from _helpers import crash_in_step

KILLED = -9
STEPS = 60
REFUSED = "is not the directory run"


def _tree(root: Path) -> str:
    """SHA-256 over the names and contents of every file under ``root``."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def _refused(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> str:
    """``resume`` refuses ``run_dir`` (exit 2, one line, nothing changed); the line."""
    before = _tree(run_dir)
    assert main(["resume", str(run_dir), "-q"]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"livesession: error: cannot resume {run_dir} (nothing was changed):")
    assert _tree(run_dir) == before
    return line


class TestAVenueRun:
    @pytest.fixture(name="crashed")
    def _crashed(self, fake, tmp_path, monkeypatch):
        pytest.importorskip("ccxt")
        from _ccxt_route import crashed_dryrun, dryrun_args, route_to

        assert crashed_dryrun(fake, dryrun_args(tmp_path, "r", STEPS), "after_send:1") == KILLED
        route_to(fake, monkeypatch)
        return tmp_path / "r"

    @pytest.mark.broken_run("the copy of a crashed run is refused a resume: it stays crashed")
    def test_a_copy_resumed_after_the_original_is_refused(self, crashed, tmp_path, fake, capsys):
        copy = tmp_path / "copy"
        shutil.copytree(crashed, copy, symlinks=True)  # cp -a
        assert main(["resume", str(crashed), "-q"]) == 0
        assert main(["verify", str(crashed)]) == 0
        sent = dict(fake.created)
        line = _refused(copy, capsys)
        assert "a copy, a backup restored or a move to another file system" in line
        assert "trades on ccxt:binance" in line
        assert "resume would send them again under the same client order ids" in line
        assert dict(fake.created) == sent  # nothing sent (the fake's teardown: none twice)
        standing = run_status(copy)
        assert (standing.verdict, standing.resumable) == (Verdict.NEEDS_OPERATOR, False)
        assert main(["status", str(copy)]) == 5
        assert f"resumable   no: {copy} {REFUSED} r was created in" in capsys.readouterr().out
        assert main(["verify", str(copy)]) == 1  # read as the crashed run it is
        assert REFUSED in capsys.readouterr().out

    @pytest.mark.broken_run("the copy of a crashed run is refused a resume: it stays crashed")
    def test_a_copy_is_refused_while_the_original_waits(self, crashed, tmp_path, capsys):
        copy = tmp_path / "copy"
        shutil.copytree(crashed, copy, symlinks=True)
        _refused(copy, capsys)
        assert main(["resume", str(crashed), "-q"]) == 0  # the original is the run

    def test_an_older_backup_restored_in_its_place_is_refused(self, crashed, tmp_path, capsys):
        """``rm -rf RUN`` and the backup extracted in its place: ext4 often hands the
        removed directory's inode number to the new one (``directory_inode`` alone took it
        for the run's own); its generation differs. Here the number is made to match."""
        backup = tmp_path / "backup"
        shutil.copytree(crashed, backup, symlinks=True)
        shutil.rmtree(crashed)
        shutil.copytree(backup, crashed, symlinks=True)  # restored where it was
        meta = orjson.loads((crashed / "run.json").read_bytes())
        if "directory_generation" not in meta:
            pytest.skip("this file system keeps no inode generation (FS_IOC_GETVERSION)")
        meta["directory_inode"] = crashed.stat().st_ino  # the number handed out again
        (crashed / "run.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS))
        line = _refused(crashed, capsys)
        assert f"records directory inode {meta['directory_inode']} (generation" in line
        shutil.rmtree(crashed)  # the run it was a copy of is lost: nothing is left to verify
        shutil.rmtree(backup)

    def test_a_rename_keeps_it_resumable(self, crashed, tmp_path):
        moved = tmp_path / "archive" / "r"
        moved.parent.mkdir()
        crashed.rename(moved)  # mv on the same file system
        assert run_status(moved).resumable is True
        assert main(["resume", str(moved), "-q"]) == 0


@pytest.mark.broken_run("the copy of a crashed run is refused a resume: it stays crashed")
def test_a_copy_on_a_broker_of_ones_own_is_refused(tmp_path):
    """A paper venue (a broker object) keeps its orders across the crash, as ccxt does."""
    cfg = DryrunConfig(run_id="own", strategy_id="flip", steps=40, checkpoint_every=6)
    crash_in_step(create_run(cfg, tmp_path, broker=InMemory(), strategy=Flip()), 10, 40)
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "own", copy)
    with pytest.raises(
        RunDirectoryError, match=f"{REFUSED} own was created in .*a broker of its own"
    ):
        resume_run(copy, broker=InMemory(), strategy=Flip())
    assert run_status(copy).resumable is False


def test_a_copy_of_a_mock_run_resumes(tmp_path):
    """The mock venue is rebuilt from the run's own journal: the copy trades with itself."""
    cfg = DryrunConfig(run_id="m", steps=40, checkpoint_every=10)
    crash_in_step(create_run(cfg, tmp_path), 15, 40)
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "m", copy)
    meta = orjson.loads((copy / "run.json").read_bytes())
    assert meta["directory_inode"] == (tmp_path / "m").stat().st_ino != copy.stat().st_ino
    for run_dir in (tmp_path / "m", copy):
        session = resume_run(run_dir)
        session.run_to_end(cfg.steps)
        session.close()
    assert (copy / "events.jsonl").read_bytes() == (tmp_path / "m" / "events.jsonl").read_bytes()


def _linked_copy(run_dir: Path, copy: Path) -> None:
    """``cp -al run_dir copy``: a new directory whose files are the run's, by hard links."""
    copy.mkdir()
    for path in sorted(run_dir.iterdir()):
        (copy / path.name).hardlink_to(path)


class TestAHardLinkedCopy:
    """``cp -al`` of a crashed mock run, the copy resumed: the resume appended to and cut back
    the files both directories name, so the original, never touched, said ``broken run: 10
    violation(s)`` (its metrics and checkpoint were its own, its events the copy's), and a
    backup made so was changed by the run it backed up. Either is refused now."""

    @pytest.fixture(name="crashed")
    def _crashed(self, tmp_path: Path) -> Path:
        cfg = DryrunConfig(run_id="m", steps=40, checkpoint_every=10)
        crash_in_step(create_run(cfg, tmp_path), 15, 40)
        return tmp_path / "m"

    def test_neither_resumes_while_they_share_files(self, crashed, tmp_path, capsys):
        copy = tmp_path / "copy"
        _linked_copy(crashed, copy)
        original = _tree(crashed)
        for run_dir in (copy, crashed):
            line = _refused(run_dir, capsys)
            assert line.endswith(
                f"(nothing was changed): {run_dir / 'audit.jsonl'} has 2 names (a hard link) "
                "(and 9 more such files): a copy made with hard links (`cp -al`, "
                "`rsync --link-dest`) shares its files with this run, and a resume appends "
                "to them and cuts them back under every name, changing the other copy too: "
                "resume a copy that owns its files (`cp -a`, without -l), or remove the "
                "other copy first"
            )
            standing = run_status(run_dir)
            assert (standing.verdict, standing.resumable) == (Verdict.NEEDS_OPERATOR, False)
            assert "has 2 names (a hard link)" in (standing.resume_problem or "")
        assert _tree(crashed) == original
        shutil.rmtree(copy)  # then the run is its own again, and resumes to its end
        assert main(["resume", str(crashed), "-q"]) == 0

    def test_the_original_resumes_once_the_copy_is_gone(self, crashed, tmp_path):
        copy = tmp_path / "copy"
        _linked_copy(crashed, copy)
        shutil.rmtree(copy)
        assert run_status(crashed).resumable is True
        assert main(["resume", str(crashed), "-q"]) == 0
        assert main(["verify", str(crashed)]) == 0
