"""``livesession list`` while a clean-up removes a run: the run is left out, not judged.

Bug: a run an ``rm -r`` removed while ``list`` read it was judged on the files left at that
moment: ``needs_operator`` (``the seal is not borne out: run.json is missing``, or no problem
at all), and a file that went as it was read made the whole listing exit 2 (``unread``,
``No such file or directory``): a cron's fleet check paged a person for a run that no longer
existed. A run gone once it was read is now left out, as a moment later it would have been.
"""

from __future__ import annotations

import shutil
from typing import TYPE_CHECKING, Any

import orjson
import pytest

from livesession import status
from livesession._artifacts import names
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path


def _runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    out = tmp_path / "runs"
    for run_id in ("keep", "old"):
        args = ["dryrun", "--out", str(out), "--run-id", run_id, "--steps", "20", "-q"]
        assert main(args) == 0
    capsys.readouterr()
    return out


@pytest.mark.parametrize("reading", ["judged", "refused"])
def test_a_run_removed_while_listed_is_left_out(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    reading: str,
) -> None:
    out = _runs(tmp_path, capsys)
    judge = status.run_status

    def removed_as_read(run_dir: Path, **kwargs: Any) -> status.RunStatus:
        if run_dir.name != "old":
            return judge(run_dir, **kwargs)
        (run_dir / names.AUDIT).unlink()  # rm -r goes file by file
        (run_dir / names.RUN_META).unlink()
        if reading == "refused":  # the file it opened went too
            shutil.rmtree(run_dir)
            raise FileNotFoundError(2, "No such file or directory", str(run_dir / names.EVENTS))
        judged = judge(run_dir, **kwargs)
        shutil.rmtree(run_dir)
        return judged

    monkeypatch.setattr(status, "run_status", removed_as_read)
    assert main(["list", str(out), "--json"]) == 0
    listed = orjson.loads(capsys.readouterr().out)
    assert [(run["run_id"], run["verdict"]) for run in listed["runs"]] == [("keep", "completed")]
    assert "exit_code" not in listed
