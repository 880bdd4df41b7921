"""A ``resume`` started beside the tools that write next to a run (``report``, ``prom``).

Bug: ``resume`` removed every ``.*.tmp`` in the run directory as it started, the temporary
file of a ``report`` or ``prom`` writing ``report.html`` or ``livesession.prom`` there at
that moment too (both read a crashed run; a supervisor resumes it while a textfile cron
runs ``prom``): that tool's rename then failed. Only the leftovers of processes that ended
are removed now.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from livesession import resume_run, verify_run
from test_api_edges import _crashed

from _helpers import held_by_a_process

if TYPE_CHECKING:
    from pathlib import Path

_NO_SUCH_PID = 2**22 + 1  # above the largest pid_max Linux allows: no process has it


def test_resume_keeps_the_temporary_file_a_live_process_writes(tmp_path: Path) -> None:
    run_dir = _crashed(tmp_path / "out", "r1", desk=False)
    writing = run_dir / f".livesession.prom.{os.getppid()}.0.tmp"  # prom's, mid-write
    writing.write_bytes(b"# HELP trader_run_info")
    with held_by_a_process(writing):  # as its writer holds it (tmpfiles.hold_tmp)
        left = [
            run_dir / f".checkpoint.json.{_NO_SUCH_PID}.3.tmp",  # a killed writer's
            run_dir / f".report.html.{_NO_SUCH_PID}.0.tmp",
            run_dir / ".odd.tmp",  # no pid: nobody's
        ]
        for path in left:
            path.write_bytes(b"half")
        resumed = resume_run(run_dir)
        assert writing.read_bytes() == b"# HELP trader_run_info"
        assert [path for path in left if path.exists()] == []
        resumed.run_to_end(resumed.config.steps)
        resumed.close()
    writing.unlink()  # that process's own to rename or remove
    assert verify_run(run_dir).ok
