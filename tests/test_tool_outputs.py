"""Where the post-run tools (report, prom, evidence) write, and what their output holds."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

from livesession.cli import main
from livesession.verify import verify_run


def _files(root: Path) -> dict[str, str]:
    """Every file under ``root`` (symlinks as links), with the SHA-256 of its bytes."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path.relative_to(root))] = f"-> {path.readlink()}"
        elif path.is_file():
            found[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


@pytest.fixture(name="sealed", scope="module")
def _sealed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sealed")
    assert main(["dryrun", "--out", str(out), "--run-id", "done", "--steps", "60", "-q"]) == 0
    return out / "done"


@pytest.fixture(name="run")
def _run(sealed: Path, tmp_path: Path) -> Path:
    run = tmp_path / "runs" / "done"
    shutil.copytree(sealed, run)
    return run


_OWN = {"report": "report.html", "prom": "livesession.prom"}


class TestNeverOverARun:
    """``report --output RUN/events.jsonl`` replaced the events it had read (verify then
    found 332 violations), ``prom --output RUN/audit.jsonl`` the audit log: both exited 0.
    An output that leads into a run directory is refused unless it is the tool's own file."""

    @pytest.mark.parametrize("command", sorted(_OWN))
    @pytest.mark.parametrize(
        ("given", "lands"),
        [
            ("{run}/events.jsonl", "{run}/events.jsonl"),
            ("{run}/audit.jsonl", "{run}/audit.jsonl"),
            ("{run}/checkpoint.json", "{run}/checkpoint.json"),
            ("{run}/writer.lock", "{run}/writer.lock"),
            ("{run}/../done/config.json", "{run}/config.json"),
            ("{tmp}/alias/run.json", "{run}/run.json"),  # a symlink to the run directory
            ("{tmp}/link.out", "{run}/metrics.json"),  # a symlink to one of its files
            ("{run}/EVENTS.JSONL", "{run}/EVENTS.JSONL"),  # the same file where case folds
            ("{run}/other.html", "{run}/other.html"),  # a name the run may write later
            ("{tmp}/runs/other/events.jsonl", "{tmp}/runs/other/events.jsonl"),  # another run
        ],
    )
    def test_refused_in_one_line_and_nothing_changes(
        self,
        run: Path,
        tmp_path: Path,
        capsys: pytest.CaptureFixture[str],
        *,
        command: str,
        given: str,
        lands: str,
    ) -> None:
        shutil.copytree(run, tmp_path / "runs" / "other")
        (tmp_path / "alias").symlink_to(run)
        (tmp_path / "link.out").symlink_to(run / "metrics.json")
        before = _files(tmp_path)
        output = given.format(run=run, tmp=tmp_path)

        assert main([command, str(run), "--output", output]) == 2

        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1, err
        assert err.startswith(f"livesession: error: --output {output} is ")
        assert str(Path(lands.format(run=run.resolve(), tmp=tmp_path.resolve()))) in err
        assert f"in a run directory it writes only {_OWN[command]}" in err
        assert _files(tmp_path) == before
        assert verify_run(run).ok

    @pytest.mark.parametrize("command", sorted(_OWN))
    def test_its_own_file_and_any_place_outside_are_written(
        self, run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
    ) -> None:
        own = run / _OWN[command]
        assert main([command, str(run)]) == 0
        assert main([command, str(run), "--output", str(own)]) == 0  # again, over itself
        assert main([command, str(run), "--output", str(tmp_path / "elsewhere.out")]) == 0
        capsys.readouterr()
        assert own.is_file()
        assert (tmp_path / "elsewhere.out").is_file()
        assert verify_run(run).ok
