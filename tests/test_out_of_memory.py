"""A command the system gives no more memory ends with one line and exit 2.

Bug: under a low address-space limit (``ulimit -v 40000`` on a shared box, a service's
memory limit) loading the CLI, or the part of it a command loads (``dryrun``'s run code),
raised ``MemoryError`` (or the dynamic loader's ``ImportError: ... failed to map segment
from shared object``): a traceback of twenty lines and exit 1, which is ``verify``'s
"violations" to a supervisor. Now one line names the limit, exit 2; nothing is written.

The child is made to run out of memory where it imports a module (a real ``ulimit -v``
hits a different import on every machine), as the limit does.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

_CHILD = """
import sys

class OutOfMemory:
    def find_spec(self, name, path=None, target=None):
        if name == {module!r}:
            raise {error}
        return None

sys.meta_path.insert(0, OutOfMemory())
from livesession.__main__ import main
sys.argv = ["livesession", *{argv!r}]
sys.exit(main())
"""

_MAP = "ImportError('/usr/lib/python3/_sqlite3.so: failed to map segment from shared object')"


def _child(module: str, error: str, argv: list[str]) -> subprocess.CompletedProcess[str]:
    code = _CHILD.format(module=module, error=error, argv=argv)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


@pytest.mark.parametrize(
    ("module", "error", "then"),
    [
        ("livesession.cli", "MemoryError()", "while loading livesession: nothing was written"),
        ("livesession.cli", _MAP, "while loading livesession: nothing was written"),
        ("livesession._cli_runs", "MemoryError()", "a run the command had started"),
    ],
)
def test_out_of_memory_is_one_line_and_exit_2(
    tmp_path: Path, module: str, error: str, then: str
) -> None:
    out = tmp_path / "runs"
    done = _child(module, error, ["dryrun", "--out", str(out), "--steps", "5", "-q"])
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("livesession: error: out of memory (raise the address-space")
    assert "`ulimit -v`" in done.stderr
    assert then in done.stderr
    assert not out.exists()

    done = _child(module, error, ["dryrun", "--out", str(out), "--steps", "5", "--json"])
    assert done.returncode == 2
    said = json.loads(done.stdout)
    assert said["ok"] is False
    assert said["exit_code"] == 2
    assert said["error"].startswith("out of memory")
    assert not out.exists()


def test_an_import_error_that_is_not_memory_is_not_called_out_of_memory(tmp_path: Path) -> None:
    error = "ImportError('cannot import name x')"  # a broken installation: its traceback
    done = _child("livesession.cli", error, ["dryrun", "--out", str(tmp_path), "-q"])
    assert done.returncode == 1
    assert "out of memory" not in done.stderr
    assert "ImportError: cannot import name x" in done.stderr
