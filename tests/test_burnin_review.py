"""What a reviewer reads in a burn-in report beside the verdict: which run it judged.

A desk preparing a governance review ran ``livesession burnin .`` in the run directory:
``burnin.json`` said ``"run_dir": "."``, and ``burnin out/paper-day1`` wrote other bytes
than ``burnin /abs/out/paper-day1`` of the same run. A report is read elsewhere: it names
the run by its absolute path, as its advice already did.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from livesession.cli import main
from test_burnin import _oco_run


@pytest.fixture(name="made", scope="module")
def _made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _oco_run(tmp_path_factory.mktemp("review") / "runs")


@pytest.fixture(name="run")
def _run(made: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made, tmp_path / "runs" / made.name))


class TestTheRunDirectory:
    def test_a_report_names_the_run_by_its_absolute_path(
        self, run: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        monkeypatch.chdir(run)
        assert main(["burnin", "."]) == 0
        capsys.readouterr()
        report = json.loads((run / "burnin.json").read_text())
        assert report["run_dir"] == str(run.resolve())
        assert f"Run directory `{run.resolve()}`" in (run / "burnin.md").read_text()
        assert main(["burnin", ".", "--json"]) == 0  # the output keeps the path as typed
        assert json.loads(capsys.readouterr().out)["sessions"][0]["run_dir"] == "."

    def test_the_reports_are_the_same_bytes_however_the_run_is_named(
        self, run: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        written = []
        monkeypatch.chdir(run.parent.parent)
        for named in (
            str(run.resolve()),
            f"runs/{run.name}",
            f"runs/{run.name}/",
            "runs/../runs/" + run.name,
        ):
            assert main(["burnin", named]) == 0
            written.append([(run / f"burnin.{ext}").read_bytes() for ext in ("json", "md")])
        assert all(each == written[0] for each in written)
