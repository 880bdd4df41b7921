"""Burn-in of a batch: each session judged once, into its own report, each failure placed.

A prober found that ``burnin A B --out DIR`` wrote both reports to ``DIR/<run_id>-burnin.md``
when the runs shared a run id (a copy, or ``examples/mydesk.toml``'s fixed ``run_id`` in two
out directories): the last over the first, so a PASS file could stand for a batch that
failed, and the failure lines named only the run id, not which directory failed.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from livesession._exceptions import UsageError
from livesession.burnin import Thresholds, run_burnin
from livesession.cli import main
from test_burnin import _dryrun


@pytest.fixture(name="namesakes", scope="module")
def _namesakes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two different runs of one run id, in two out directories (a fixed ``run_id``)."""
    root = tmp_path_factory.mktemp("namesakes")
    first = _dryrun(root / "day1", "mydesk", "--seed", "1", steps=200)
    second = _dryrun(root / "day2", "mydesk", "--seed", "2", steps=200)
    return first, second


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


class TestOneReportPerRun:
    def test_two_runs_of_one_run_id_into_one_out_dir_are_refused(
        self, namesakes: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Refused before the work: one line naming both directories, nothing written."""
        first, second = namesakes
        out = tmp_path / "reports"
        before = [_tree(first), _tree(second)]
        assert main(["burnin", str(first), str(second), "--out", str(out)]) == 2
        said = capsys.readouterr()
        assert said.out == ""
        assert said.err == (
            f"livesession: error: {first} and {second} are both run mydesk: both reports "
            f"would be {out / 'mydesk-burnin.md'} (the last over the first): judge them in "
            "separate calls with an --out DIR each, or without --out (each report then goes "
            "into its run directory); nothing was written\n"
        )
        assert not out.exists()
        assert [_tree(first), _tree(second)] == before

    def test_the_json_error_is_one_object(
        self, namesakes: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        first, second = namesakes
        out = tmp_path / "reports"
        assert main(["burnin", str(first), str(second), "--out", str(out), "--json"]) == 2
        doc = json.loads(capsys.readouterr().out)
        assert doc["ok"] is False
        assert doc["exit_code"] == 2
        assert "are both run mydesk" in doc["error"]
        assert not out.exists()

    def test_the_library_refuses_it_too(self, namesakes: tuple[Path, Path], tmp_path: Path) -> None:
        out = tmp_path / "reports"
        with pytest.raises(UsageError, match="are both run mydesk"):
            run_burnin(list(namesakes), Thresholds(), out_dir=out)
        assert not out.exists()

    def test_without_out_each_gets_its_own_and_failures_name_the_directory(
        self, namesakes: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Each report in its run directory; the failure line says which directory failed."""
        first, second = (
            Path(shutil.copytree(run, tmp_path / f"day{n}" / run.name))
            for n, run in enumerate(namesakes, start=1)
        )
        assert main(["burnin", str(first), str(second), "--min-signals", "100000"]) == 1
        said = capsys.readouterr()
        assert (first / "burnin.md").is_file()
        assert (second / "burnin.md").is_file()
        verdicts = [line for line in said.out.splitlines() if line.startswith(("PASS", "FAIL"))]
        reported = [line.split()[-1] for line in verdicts if "mydesk" in line]
        assert reported == [str(first / "burnin.md"), str(second / "burnin.md")]
        assert f"note  the runs' settings differ: seed is 1 ({first}), 2 ({second})" in said.out
        failed = [line for line in said.err.splitlines() if ": signals" in line]
        assert failed == [
            f"livesession: burn-in failed: mydesk: signals (run directory {first})",
            f"livesession: burn-in failed: mydesk: signals (run directory {second})",
        ]


class TestEachSessionCountsOnce:
    """The same run directory given twice, or a byte-identical copy, counted as two sessions."""

    def test_one_directory_given_twice_is_refused(
        self, namesakes: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        run = Path(shutil.copytree(namesakes[0], tmp_path / "mydesk"))
        (tmp_path / "link").symlink_to(run)
        before = _tree(tmp_path)
        for again in (f"{run}/", str(tmp_path / "link"), str(run / ".." / "mydesk")):
            assert main(["burnin", str(run), again]) == 2
            assert capsys.readouterr().err == (
                f"livesession: error: {run} and {Path(again)} are one run directory: a "
                "session counts once in a burn-in, so give it once; nothing was written\n"
            )
        assert _tree(tmp_path) == before

    def test_a_copy_is_refused_naming_both(
        self, namesakes: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        run = Path(shutil.copytree(namesakes[0], tmp_path / "mydesk"))
        copy = Path(shutil.copytree(run, tmp_path / "copy" / "mydesk"))
        head = hashlib.sha256((run / "audit.jsonl").read_bytes().splitlines()[-1]).hexdigest()
        before = _tree(tmp_path)
        assert main(["burnin", str(run), str(namesakes[1]), str(copy), "--json"]) == 2
        said = capsys.readouterr()
        error = (
            f"{run} and {copy} hold one session (the same audit log, audit head "
            f"{head[:12]}...: a copy, or one config and seed run again): a session counts "
            "once in a burn-in, so judge one of them; nothing was written"
        )
        assert json.loads(said.out) == {"ok": False, "exit_code": 2, "error": error}
        assert said.err == f"livesession: error: {error}\n"
        assert _tree(tmp_path) == before


class TestWhereReportsCannotGo:
    def test_an_out_dir_the_file_system_will_not_make_is_said_so(
        self,
        namesakes: tuple[Path, Path],
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """``--out /proc/nope`` did the work, then said ``livesession: error: /proc/nope: No
        such file or directory``. Refused before the work now, in the form RUNBOOK gives."""
        out = tmp_path / "refusing" / "reports"
        real = os.mkdir

        def refusing(path: object, *args: object, **kwargs: object) -> None:
            if Path(os.fsdecode(path)) == out:  # type: ignore[arg-type]
                raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
            real(path, *args, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(os, "mkdir", refusing)
        monkeypatch.setattr("livesession.burnin.run_burnin", _never)
        assert main(["burnin", str(namesakes[0]), "--out", str(out)]) == 2
        assert capsys.readouterr() == (
            "",
            (
                "livesession: error: cannot write the burn-in reports (burnin.md, burnin.json) to "
                f"{out} (No such file or directory): write it elsewhere with --out DIR\n"
            ),
        )
        assert not (tmp_path / "refusing").exists()  # the directory on the way: taken away

    @pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="no /proc here")
    def test_proc(self, namesakes: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
        assert main(["burnin", str(namesakes[0]), "--out", "/proc/nope"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(
            "livesession: error: cannot write the burn-in reports (burnin.md, burnin.json) "
            "to /proc/nope ("
        )
        assert err.endswith("): write it elsewhere with --out DIR\n")

    def test_an_out_dir_that_is_made_is_made_once_the_work_is_done(
        self, namesakes: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture
    ) -> None:
        out = tmp_path / "new" / "reports"
        assert main(["burnin", str(namesakes[0]), "--out", str(out)]) == 1
        assert sorted(p.name for p in out.iterdir()) == ["mydesk-burnin.json", "mydesk-burnin.md"]

    @pytest.mark.broken_run("its events.jsonl is a directory")
    def test_events_jsonl_that_is_a_directory_is_said_to_be(
        self, namesakes: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """It was said to be missing."""
        run = Path(shutil.copytree(namesakes[0], tmp_path / "mydesk"))
        (run / "events.jsonl").unlink()
        (run / "events.jsonl").mkdir()
        assert main(["burnin", str(run)]) == 2
        assert capsys.readouterr() == (
            "",
            (
                f"livesession: error: {run} is not a run: events.jsonl is missing (events.jsonl is "
                "a directory, not a file)\n"
            ),
        )
        assert not (run / "burnin.md").exists()


def _never(*_args: object, **_kwargs: object) -> None:
    raise AssertionError("the work started before the output was known to be writable")


def test_json_keeps_the_stderr_line_of_each_criterion_not_met(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug (found by a desk's CI script keeping `burnin --json`'s object as a file and its
    stderr in the job's log): with --json the lines RUNBOOK's exit-code table promises for
    exit 1, `livesession: burn-in failed: RUN_ID: CRITERION (run directory DIR)`, were not
    written, so the log said nothing of what failed (verify --json keeps its own stderr
    line). They now come with --json too; stdout still holds the one object."""
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "short", "--steps", "20", "-q"]) == 0
    run = out / "short"
    capsys.readouterr()
    assert main(["burnin", "--json", "--out", str(tmp_path / "reports"), str(run)]) == 1
    said = capsys.readouterr()
    document = json.loads(said.out)
    assert document["failed"]
    assert said.err.splitlines() == [
        f"livesession: burn-in failed: {failed} (run directory {run})"
        for failed in document["failed"]
    ]
