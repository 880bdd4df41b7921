"""``evidence`` and ``resume`` of a run livesession made that lost its ``run.json``.

Bug: a run that ``dryrun`` made, whose ``run.json`` a clean-up or a copy lost, was refused
by ``evidence`` and ``resume`` as ``not a livesession run directory (no run.json): an
application wrote its files on sinks of its own``: a reviewer went looking for an
application that never was, while ``verify`` said the truth (``run.json: missing, but
config.json shows livesession made this run ...; restore it from a backup``). Both now say
it as ``verify`` does (exit 2, one line, nothing written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from livesession._artifacts import names
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.broken_run("its run.json is removed on purpose, as a clean-up or a copy loses it")
def test_evidence_and_resume_say_the_run_lost_its_run_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    run_dir = out / "r1"
    (run_dir / names.RUN_META).unlink()
    before = sorted(p.name for p in run_dir.iterdir())
    capsys.readouterr()
    said = (
        f"livesession: error: {run_dir} is not a livesession run directory as it is: run.json "
        "is missing, but config.json shows livesession made this run, and it writes run.json before any record: the version and config hash "
        f"it records are lost; restore it from a backup (`livesession verify {run_dir}` says "
        "what else is wrong)\n"
    )
    ev = tmp_path / "ev"
    assert main(["evidence", str(run_dir), "--out", str(ev)]) == 2
    assert capsys.readouterr().err == said
    assert main(["resume", str(run_dir), "-q"]) == 2
    assert capsys.readouterr().err == said
    assert sorted(p.name for p in run_dir.iterdir()) == before
    assert not ev.exists()

    assert main(["verify", str(run_dir)]) == 1  # the same words, as a violation
    assert "config.json shows livesession made this run" in capsys.readouterr().out


@pytest.mark.broken_run("a file of the run is damaged on purpose, as a copy or an editor does")
@pytest.mark.parametrize(
    ("name", "damage", "said"),
    [
        (names.RUN_META, b"{bad", "{path} is corrupt (not JSON: "),
        (names.RUN_META, None, "{path} is a directory, not a file"),
        (names.CONFIG, b"{", "{path} is corrupt: "),
        (names.CONFIG, None, "{path} is a directory, not a file"),
        (names.CONFIG, b"", "{run_dir} has no config.json"),
    ],
    ids=["run-json-corrupt", "run-json-a-directory", "config-corrupt", "config-a-directory",
         "config-missing"],
)  # fmt: skip
def test_a_damaged_run_or_config_file_says_what_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, damage: bytes | None, said: str
) -> None:
    """Bug: a run whose run.json or config.json was damaged was refused by evidence and
    resume with what was wrong alone (``run.json is corrupt (not JSON: ...)``, ``has no
    config.json``): the operator was not told what to do, as the lost run.json's refusal
    and verify tell. Each now ends with the fix and where to learn what else is wrong."""
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "20", "-q"]) == 0
    run_dir = out / "r1"
    path = run_dir / name
    path.unlink()
    if damage is None:
        path.mkdir()
    elif damage:
        path.write_bytes(damage)
    capsys.readouterr()
    fix = f"; restore it from a backup (`livesession verify {run_dir}` says what else is wrong)\n"
    for argv in (
        ["evidence", str(run_dir), "--out", str(tmp_path / "ev")],
        ["resume", str(run_dir), "-q"],
    ):
        assert main(argv) == 2
        (line,) = capsys.readouterr().err.splitlines(keepends=True)
        assert said.format(path=path, run_dir=run_dir) in line, line
        assert line.endswith(fix), line
    assert not (tmp_path / "ev").exists()
