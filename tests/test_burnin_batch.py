"""Burn-in of a batch: each session judged once, into its own report, each failure placed.

A prober found that ``burnin A B --out DIR`` wrote both reports to ``DIR/<run_id>-burnin.md``
when the runs shared a run id (a copy, or ``examples/mydesk.toml``'s fixed ``run_id`` in two
out directories): the last over the first, so a PASS file could stand for a batch that
failed, and the failure lines named only the run id, not which directory failed.
"""

from __future__ import annotations

import hashlib
import json
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
        reported = [line.split()[-1] for line in said.out.splitlines() if "mydesk" in line]
        assert reported == [str(first / "burnin.md"), str(second / "burnin.md")]
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
