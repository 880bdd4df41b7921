"""No test reads a session's private attributes (``session._gate``, ``orch._parts()``).

Tests exercise behaviour through the public API or a collaborator's own interface: a
session's gate or parts come from ``livesession._support.built`` (the collaborators built
in a block), never from the session. Every test module is parsed (not imported), and
each attribute access whose name is private to ``LiveSessionOrchestrator`` or
``AsyncSession`` (an attribute its methods set, or a private method or property of its
own) is reported, on any object but the test's own ``self`` or ``cls``; a ``getattr``
of such a name alike.
"""

from __future__ import annotations

import ast
import inspect
import textwrap
from pathlib import Path

import pytest

from livesession import AsyncSession, LiveSessionOrchestrator

TESTS = Path(__file__).resolve().parent
SESSIONS = (LiveSessionOrchestrator, AsyncSession)


def _private_names(cls: type) -> set[str]:
    """The private names of ``cls``: its own private members, and what it sets on ``self``."""
    names = {name for name in vars(cls) if name.startswith("_") and not name.startswith("__")}
    tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
            and node.attr.startswith("_")
            and not node.attr.startswith("__")
        ):
            names.add(node.attr)
    return names


PRIVATE = frozenset().union(*map(_private_names, SESSIONS))


def _scripts(tree: ast.AST) -> list[ast.Module]:
    """The Python code in ``tree``'s multi-line strings (a script a test runs in a child)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and "\n" in node.value:
            try:
                found.append(ast.parse(textwrap.dedent(node.value)))
            except (SyntaxError, ValueError):  # a NUL: ValueError on early 3.11s (3.11.2)
                continue  # text, not code
    return found


def private_reads(code: str) -> list[str]:
    """Each ``x._name`` or ``getattr(x, "_name")`` in ``code`` of a session's private name.

    The scripts in its strings too (``subprocess.run([sys.executable, "-c", SCRIPT])``).
    """
    tree = ast.parse(code)
    return [read for part in (tree, *_scripts(tree)) for read in _reads(part)]


def _reads(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in PRIVATE:
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in {"self", "cls"}:
                continue  # the test's own class
            found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"getattr", "setattr", "hasattr"}
            and len(node.args) >= 2  # the object and the name
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value in PRIVATE
        ):
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_sessions_private_names_are_known() -> None:
    assert {"_gate", "_p", "_parts", "_closes_with", "_session", "_executor"} <= PRIVATE


@pytest.mark.parametrize(
    "path", sorted(TESTS.rglob("*.py")), ids=lambda path: str(path.relative_to(TESTS))
)
def test_no_test_reads_a_sessions_private_attributes(path: Path) -> None:
    reads = private_reads(path.read_text(encoding="utf-8"))
    assert not reads, (
        f"{path.name} reads a session's private attributes {reads}: use the public API, or "
        "get the collaborator from livesession._support.built (built(SessionGate), "
        "built(SessionParts)) and use its own interface"
    )


@pytest.mark.parametrize(
    "code",
    [
        "gate = session._gate",
        "s._session._gate.waiting",
        "orch._parts().book.open",
        "assert orch._p is not None",
        "for r in session._closes_with: r.close()",
        "getattr(session, '_gate')",
        'SCRIPT = """\nimport sys\ngate = session._gate\n"""',
    ],
)
def test_a_private_read_is_caught(code: str) -> None:
    assert private_reads(code)


@pytest.mark.parametrize(
    "code",
    [
        "self._gate = gate",
        "session.book.open_orders",
        "from livesession._session.threads import SessionGate",
        "gate.waiting",
        "broker._open",
    ],
)
def test_what_is_no_private_read_is_not_caught(code: str) -> None:
    assert not private_reads(code)
