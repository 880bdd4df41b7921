"""``python -m livesession.evidence RUN_DIR SCRATCH`` (the determinism re-run's process) given
a SCRATCH it cannot use: one line, exit 2, and nothing of the caller's removed.

It made ``SCRATCH/replay`` outside its error handling: a SCRATCH that is missing, a file or
a dangling link printed a ``FileNotFoundError`` / ``NotADirectoryError`` traceback, and a
SCRATCH that held a ``replay`` already printed ``FileExistsError`` and then removed that
``replay`` with everything in it, on its way out.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from livesession import DryrunConfig, create_run
from livesession.evidence._rerun import main


def _missing(tmp_path: Path) -> Path:
    return tmp_path / "no" / "scratch"


def _file(tmp_path: Path) -> Path:
    (path := tmp_path / "a-file").write_bytes(b"")
    return path


def _dangling(tmp_path: Path) -> Path:
    (path := tmp_path / "link").symlink_to(tmp_path / "gone")
    return path


def _with_replay(tmp_path: Path) -> Path:
    (tmp_path / "scratch" / "replay").mkdir(parents=True)
    (tmp_path / "scratch" / "replay" / "keep.txt").write_bytes(b"mine")
    return tmp_path / "scratch"


@pytest.mark.parametrize(
    ("make", "cause"),
    [
        (_missing, "No such file or directory"),
        (_file, "Not a directory"),
        (_dangling, "No such file or directory"),
        (_with_replay, "File exists"),
    ],
    ids=["missing", "a-file", "dangling-link", "replay-there"],
)
def test_a_scratch_the_rerun_cannot_use_is_one_line_and_exit_2(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    make: Callable[[Path], Path],
    cause: str,
) -> None:
    session = create_run(DryrunConfig(run_id="r", steps=5), tmp_path)
    assert session.run_to_end(5).status.value == "COMPLETED"
    session.close()
    scratch = make(tmp_path)
    assert main([str(tmp_path / "r"), str(scratch)]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert line == (
        "python -m livesession.evidence: error: cannot make the re-run's directory "
        f"{scratch / 'replay'} ({cause})"
    )
    if make is _with_replay:  # the caller's own replay is left as it was
        assert (scratch / "replay" / "keep.txt").read_bytes() == b"mine"
    else:
        assert not (tmp_path / "no").exists()
