"""A crashed run whose last line is not JSON is incomplete, as one whose last line has no \\n.

The contract (ARTIFACTS.md): "A torn last line (no `\\n`, or not JSON) is never part of the
chain: recovery moves it to audit.jsonl.torn and continues from the last whole line."
`resume` does so (its cut sets the line aside) and `status` calls the run crashed, but
`verify` called such a run, its last line ending in `\\n`, `corrupt run: ... resume cannot
repair that: keep the run as it is and report it` (a last line of events.jsonl or
state_snapshots.jsonl) or `broken run` (of audit.jsonl), where it calls the same run with
the `\\n` missing `incomplete run: ...; continue it with livesession resume DIR`. Each
resumed run here is verified at teardown, as every run is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from livesession.cli import main
from livesession.status import Verdict, run_status
from livesession.verify import verify_run
from test_resume_errors import (  # noqa: F401 - its crashed run, copied for each test
    _run_dir,
    _template,
)

if TYPE_CHECKING:
    from pathlib import Path

FILES = ("events.jsonl", "state_snapshots.jsonl", "audit.jsonl")
NOT_JSON = (b"\x00\x00\x00\x00\n", b'{"seq":12,"payl\n', b"\n")


@pytest.mark.parametrize("tail", NOT_JSON, ids=("nul", "cut", "empty"))
@pytest.mark.parametrize("file_name", FILES)
def test_a_last_line_not_json_is_torn(run_dir: Path, capsys, file_name: str, tail: bytes):
    with (run_dir / file_name).open("ab") as file:
        file.write(tail)
    result = verify_run(run_dir)
    assert result.summary.startswith("incomplete run: no C2_DRYRUN_STOP"), result.summary
    assert "livesession resume" in result.summary
    assert not result.ok
    assert run_status(run_dir).verdict is Verdict.CRASHED
    assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
    assert (run_dir / f"{file_name}.torn").read_bytes().endswith(tail)


@pytest.mark.broken_run("a whole last line that is JSON but no record is not a torn line")
@pytest.mark.parametrize("file_name", FILES)
def test_a_last_line_of_json_is_not_torn(run_dir: Path, file_name: str):
    """JSON that is no record is not what the contract calls torn: the run stays broken."""
    with (run_dir / file_name).open("ab") as file:
        file.write(b'{"seq":1}\n')
    result = verify_run(run_dir)
    assert not result.summary.startswith("incomplete run"), result.summary
