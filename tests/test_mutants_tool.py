"""tools/mutants.py, the mutation runner: one change a mutant, and the module always put back.

What its kill counts mean rests on both: a mutant with a second change counts a test as
killing a change it never saw, and a module left mutated breaks the next run of the suite.
"""

from __future__ import annotations

import ast
import contextlib
import difflib
import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

from _helpers import _NOT_FOR_A_CHILD_PYTEST, proc_stat

ROOT = Path(__file__).resolve().parent.parent


def _tool() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mutants_tool", ROOT / "tools" / "mutants.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("module", ["_risk/rails.py", "_session/winddown.py", "verify/_replay.py"])
@pytest.mark.parametrize("order", ["forward", "backward"])
def test_every_mutant_differs_from_its_module_in_one_place(module: str, order: str):
    """Bug (4bdd119): the set of ``not`` nodes to drop was kept across mutants by ``id()``,
    and Python gives a freed node's id to later nodes, so a later mutant could drop an
    unrelated ``not`` too (10 of rails.py's 71 mutants). Made in either order, each mutant
    now differs from the module (as ``ast.unparse`` writes it) in one run of lines."""
    tool = _tool()
    source = (ROOT / "src" / "livesession" / module).read_text(encoding="utf-8")
    plain = (ast.unparse(ast.parse(source)) + "\n").splitlines()
    indices = [site[0] for site in tool.sites(source)]
    assert len(indices) > 20
    if order == "backward":
        indices.reverse()
    changed_twice = []
    for index in indices:
        lines = tool.mutant(source, index).splitlines()
        matcher = difflib.SequenceMatcher(None, plain, lines, autojunk=False)
        changes = [op for op in matcher.get_opcodes() if op[0] != "equal"]
        if len(changes) != 1:
            changed_twice.append(index)
    assert not changed_twice, f"mutants with more than one change: {changed_twice}"


def test_sigterm_puts_the_module_back_and_ends_its_tests(tmp_path: Path):
    """Bug: a run started in the background (``&``), which ignores SIGINT, was stopped with
    SIGTERM and left the module mutated (its ``finally`` never ran) and its pytest running.
    SIGTERM now ends the run through ``finally``: the module is put back byte for byte, the
    exit is 128 + 15, and the tests' process group is gone."""
    module = tmp_path / "mod.py"
    original = b"def bigger(x):\n    return x > 1\n"
    module.write_bytes(original)
    started, held = tmp_path / "started.fifo", tmp_path / "held.fifo"
    os.mkfifo(started)
    os.mkfifo(held)
    (tmp_path / "test_mod.py").write_text(
        "import os\n"
        "import mod\n"
        "def test_held():\n"
        f"    os.close(os.open({str(started)!r}, os.O_WRONLY))  # the parent now knows\n"
        f"    os.open({str(held)!r}, os.O_RDONLY)  # no writer ever: held until killed\n"
        "    assert mod.bigger(2)\n",
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if k not in _NOT_FOR_A_CHILD_PYTEST}
    env["PYTHONPATH"] = str(tmp_path)
    descendants: list[tuple[int, str]] = []
    with subprocess.Popen(  # its pipes closed, whatever the test's outcome
        [sys.executable, str(ROOT / "tools" / "mutants.py"), "mod.py", "test_mod.py"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as tool:
        try:
            os.close(os.open(started, os.O_RDONLY))  # returns once the test has opened its end
            assert module.read_bytes() != original, "the test ran against the mutant"
            descendants = _descendants(tool.pid)
            assert len(descendants) >= 3, "nice/timeout, pytest and its workers"
            tool.send_signal(signal.SIGTERM)
            _, stderr = tool.communicate(timeout=60)
        finally:
            if tool.poll() is None:
                tool.kill()
                tool.wait()
            left = _still_alive(descendants)
            for pid, _ in left:  # what a broken tool left held on the FIFO: nothing hangs
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
    assert tool.returncode == 128 + signal.SIGTERM, stderr
    assert module.read_bytes() == original
    assert not left, f"the tests' processes {left} outlived the run"


def _descendants(parent: int) -> list[tuple[int, str]]:
    """Every process below ``parent`` (its children, theirs, ...), from ``/proc``: its pid
    and its start time (``_alive`` tells it from a later process given the same pid)."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = proc_stat(int(entry.name))
        except OSError:
            continue
        children.setdefault(int(stat[1]), []).append((int(entry.name), stat[_STARTTIME]))
    found: list[tuple[int, str]] = []
    todo = [parent]
    while todo:
        below = children.get(todo.pop(), [])
        found += below
        todo += [pid for pid, _ in below]
    return found


def _still_alive(pids: list[tuple[int, str]], within_s: float = 30.0) -> list[tuple[int, str]]:
    """Those of ``pids`` still running after ``within_s`` (none: at once, once they end).

    The tool's SIGKILL of its tests' process group is delivered as each is scheduled: on a
    loaded machine a killed worker ran on for a moment after the tool exited, and was read
    as having outlived it. A tool that leaves them running leaves them past any wait.
    """
    deadline = time.monotonic() + within_s
    while (left := [pid for pid in pids if _alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.05)  # polling other processes' state, not simulated time
    return left


_STARTTIME = 19
"""``proc_stat``'s index of the process's start time (field 22 of ``/proc/PID/stat``)."""


def _alive(process: tuple[int, str]) -> bool:
    """``process`` (pid, start time) runs (a zombie, killed and not yet reaped by its new
    parent, does not). Its pid, once it ended, may be given to another process (another
    test's, beside this one): that one has another start time, and is not it."""
    pid, started = process
    try:
        stat = proc_stat(pid)
    except OSError:
        return False
    return stat[_STARTTIME] == started and stat[0] != "Z"
