"""Every process a test starts is ended, reaped and its pipes closed, however the test ends.

A test that failed part-way (an ``until`` that timed out, an assertion before
``communicate``) left its child running beside the next tests, and its pipes open: the
garbage collector's ``ResourceWarning`` for them was then raised in whichever test ran next
on that worker, as ``PytestUnraisableExceptionWarning`` (the suite turns warnings into
errors), failing a test that had done nothing wrong. A ``try/finally`` that kills and waits
but does not close leaves the pipes; one that ends only the processes still running leaves
the pipes of those that ended.

So ``subprocess.Popen`` is opened as a context manager (its exit closes the pipes and reaps),
or through ``_helpers.child`` (the same, killing the process first if it still runs): each
call is the expression of a ``with`` item or the argument of ``ExitStack.enter_context``.
The few that are neither, each owned by code that ends and closes it, are listed in
``ALLOWED`` with the reason. Every test module and helper is parsed, not imported.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

ALLOWED: dict[str, str] = {
    "test_fork_lock.py::test_a_killed_writer_s_forked_child_does_not_keep_the_run_held": (
        "its finally kills and reaps the writer and closes both pipes (the forked child, "
        "which shares them, must read EOF)"
    ),
    "test_removed_lock.py::_writer": (
        "ended by _end (kill, close) if it fails to start, else by the test's finally"
    ),
    "test_one_writer.py::LiveWriter.__init__": (
        "kept by the object, whose close() (the fixture's teardown, or a failed start) ends it"
    ),
    "test_fastapi_app.py::_Server.__init__": (
        "kept by the object: killed and its pipe closed on a failed start, and by terminate()"
    ),
    "test_testing_kit_sigterm.py::_matrix_at_its_first_bar": (
        "handed to the test, whose finally calls _end: kill, reap, close"
    ),
    "test_tool_signals.py::_ended_pid": "no pipes, waited for at once: a pid no process holds",
    "test_tool_killed_write.py::_dead_pid": "no pipes, waited for at once: a pid no process holds",
    "test_lock_race.py::test_a_lock_held_only_a_moment_is_taken_not_refused_naming_a_dead_writer": (
        "no pipes, waited for at once: a pid no process holds"
    ),
}


def _is_popen(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    return (isinstance(func, ast.Attribute) and func.attr == "Popen") or (
        isinstance(func, ast.Name) and func.id == "Popen"
    )


def _held(tree: ast.AST) -> set[int]:
    """The ids of the Popen calls opened as context managers: a ``with`` item's expression,
    or ``enter_context``'s argument."""
    held: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.With | ast.AsyncWith):
            held.update(id(item.context_expr) for item in node.items)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "enter_context"
        ):
            held.update(id(arg) for arg in node.args)
    return held


def _unheld(path: Path) -> Iterator[tuple[str, int]]:
    """``(file::function, line)`` of each Popen call in ``path`` not opened as a context."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    held = _held(tree)

    def visit(node: ast.AST, scope: tuple[str, ...]) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            inner = scope
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                inner = (*scope, child.name)
            if _is_popen(child) and id(child) not in held:
                where = ".".join(scope) or "<module>"
                yield f"{path.name}::{where}", child.lineno  # type: ignore[attr-defined]
            yield from visit(child, inner)

    yield from visit(tree, ())


def _files() -> list[Path]:
    return sorted(p for p in TESTS.rglob("*.py") if "cleanroom" not in p.parts)


def test_every_popen_in_the_suite_is_closed_whatever_the_test_does() -> None:
    found = [(where, line) for path in _files() for where, line in _unheld(path)]
    unlisted = [f"{where} (line {line})" for where, line in found if where not in ALLOWED]
    assert not unlisted, (
        "subprocess.Popen outside `with` (or ExitStack.enter_context): a test that fails "
        "before it ends the process leaves it running and its pipes open, for the garbage "
        "collector to warn of in a later test. Use `with _helpers.child(...) as proc:`: "
        + ", ".join(unlisted)
    )


def test_every_allowed_popen_is_still_there() -> None:
    """An entry whose Popen is gone (or now opened with ``with``) goes from the list."""
    found = {where for path in _files() for where, _ in _unheld(path)}
    assert sorted(set(ALLOWED) - found) == []


_LEFT_OPEN = """
import subprocess
def f():
    p = subprocess.Popen(["x"], stdout=subprocess.PIPE)
    try:
        assert p.stdout.readline()
    finally:
        p.kill()
        p.wait()
"""
_IN_A_STACK = """
import contextlib, subprocess
def f():
    with contextlib.ExitStack() as s:
        ps = [s.enter_context(subprocess.Popen(["x"])) for _ in range(2)]
"""


@pytest.mark.parametrize(
    ("source", "unheld"),
    [
        ("import subprocess\ndef f():\n    p = subprocess.Popen(['x'])\n    p.wait()\n", ["f"]),
        (
            "from subprocess import Popen\nclass C:\n    def g(self):\n        Popen(['x'])\n",
            ["C.g"],
        ),
        (_LEFT_OPEN, ["f"]),  # killed and reaped, its pipe left open when the assertion fails
        (
            "import subprocess\ndef f():\n    with subprocess.Popen(['x']) as p:\n        p.wait()\n",
            [],
        ),
        (_IN_A_STACK, []),
        (
            "from _helpers import child\ndef f():\n    with child(['x']) as p:\n        p.wait()\n",
            [],
        ),
    ],
)
def test_the_check_finds_a_popen_left_unclosed(
    tmp_path: Path, source: str, unheld: list[str]
) -> None:
    path = tmp_path / "test_sample.py"
    path.write_text(source, encoding="utf-8")
    assert [where.split("::")[1] for where, _ in _unheld(path)] == unheld
