"""``store_refused_says``: status names the store that stopped a crashed run only from a
session log whose last whole line is that store's ``session_interrupted``.

Each case is a line another record (or none) would make: the reader's every condition is
held to one, so a reader that said a store refused a write of any run would fail here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._artifacts import names
from livesession._rundir import refused
from livesession._rundir.refused import store_refused_says

_STOPPED = {
    "event": "session_interrupted",
    "interrupted_by": "StoreFailure",
    "error": "the idempotency store X refused a write (OSError: [Errno 28] No space left)",
}
_SAID = f"{_STOPPED['error']} ({names.SESSION_LOG}'s last line, session_interrupted)"


def _logged(run_dir: Path, *lines: dict[str, Any]) -> Path:
    run_dir.mkdir(exist_ok=True)
    log = b"".join(orjson.dumps(line) + b"\n" for line in lines)
    (run_dir / names.SESSION_LOG).write_bytes(log)
    return run_dir


def test_the_store_s_interruption_as_the_last_line_is_said(tmp_path: Path) -> None:
    assert store_refused_says(_logged(tmp_path, {"event": "session_opened"}, _STOPPED)) == _SAID


@pytest.mark.parametrize(
    "last",
    [
        {**_STOPPED, "event": "session_closed"},  # not the torn session's record
        {**_STOPPED, "interrupted_by": "KeyboardInterrupt"},  # interrupted, by no store
        {**_STOPPED, "error": None},  # no error text to say
        {"event": "session_opened"},  # a later process's line (a resume) ends the log
    ],
)
def test_any_other_last_line_says_nothing(tmp_path: Path, last: dict[str, Any]) -> None:
    assert store_refused_says(_logged(tmp_path, _STOPPED, last)) == ""


def test_the_error_is_said_on_one_line(tmp_path: Path) -> None:
    """A store's error may hold a line break (SQLite's, an OS's): status's line is one."""
    stopped = {**_STOPPED, "error": "refused a write\n(OSError:\tno room)"}
    said = store_refused_says(_logged(tmp_path, stopped))
    assert said.startswith("refused a write (OSError: no room) (")


def test_a_session_log_the_host_refuses_to_read_says_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Refused (permission denied; as root no mode refuses, so the read is made to), status
    reads the run without its session log: no error out of the reader, nothing said."""
    run_dir = _logged(tmp_path, _STOPPED)

    def refuse(path: Path) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(refused, "last_whole_line", refuse)
    assert store_refused_says(run_dir) == ""
