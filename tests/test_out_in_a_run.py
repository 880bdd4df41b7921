"""``dryrun --out RUN_DIR`` (a run directory, or inside one) is refused in one line.

The run it made there (``out/runs/demo-001/demo-001/``) was hidden from ``list`` among the
other run's files.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livesession import RunDirectoryError, create_run, load_config
from livesession._artifacts import names
from livesession.cli import main


def _lines(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    said = capsys.readouterr()
    return said.out, said.err


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


class TestOutIsARunDirectory:
    @pytest.fixture
    def run(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.chdir(tmp_path)
        assert main(["dryrun", "--out", "runs", "--steps", "20", "-q"]) == 0
        return Path("runs/demo-001")

    def test_dryrun_is_refused_in_one_line_and_nothing_is_written(
        self, run: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        before = _tree(run)
        assert main(["dryrun", "--out", str(run), "--steps", "20"]) == 2
        out, err = _lines(capsys)
        assert out == ""
        assert err.count("\n") == 1, err
        assert f"--out {run} is the run directory {run}" in err
        assert err.rstrip().endswith("--out runs")
        assert _tree(run) == before

    def test_inside_a_run_directory_too(
        self, run: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        before = _tree(run)
        inside = run / "more" / "runs"
        assert main(["dryrun", "--out", str(inside), "--steps", "20", "--json"]) == 2
        out, err = _lines(capsys)
        document = json.loads(out)
        assert document["exit_code"] == 2
        assert f"inside the run {run.resolve()}" in document["error"]
        assert err.count("\n") == 1, err
        assert _tree(run) == before

    def test_create_run_refuses_it(self, run: Path) -> None:
        cfg = load_config(None, {"run_id": "nested", "steps": 5})
        with pytest.raises(RunDirectoryError, match=r"out_dir .* is the run directory"):
            create_run(cfg, run)
        assert not (run / "nested").exists()

    def test_the_directory_of_runs_is_still_fine(self, run: Path) -> None:
        assert main(["dryrun", "--out", str(run.parent), "--steps", "20", "-q"]) == 0
        assert (run.parent / "demo-002" / names.CHECKPOINT).is_file()


class TestEvidenceOutIsAnotherRun:
    """``evidence A --out B`` put A's bundle where B's own goes: B's was then refused."""

    @pytest.fixture
    def runs(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
        monkeypatch.chdir(tmp_path)
        for run_id in ("a", "b"):
            assert main(["dryrun", "--out", "runs", "--run-id", run_id, "--steps", "20", "-q"]) == 0
        return Path("runs")

    @pytest.mark.parametrize("inside", ["", "sub"])
    def test_is_refused_in_one_line_and_nothing_is_written(
        self, runs: Path, inside: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        capsys.readouterr()
        before = _tree(runs)
        out = runs / "b" / inside
        assert main(["evidence", str(runs / "a"), "--out", str(out)]) == 2
        stdout, err = _lines(capsys)
        assert stdout == ""
        assert err.count("\n") == 1, err
        assert f"of another run, {(runs / 'b').resolve()}: the bundle of runs/a" in err
        assert err.rstrip().endswith("write it elsewhere with --out DIR")
        assert _tree(runs) == before
        assert main(["evidence", str(runs / "b")]) == 0  # its own bundle, where it goes

    def test_into_its_own_run_directory_as_before(self, runs: Path) -> None:
        assert main(["evidence", str(runs / "a"), "--out", str(runs / "a")]) == 0
        assert (runs / "a" / "manifest.json").is_file()
