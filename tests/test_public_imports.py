"""What users read and copy imports no private module (`livesession._x`).

README, RUNBOOK, docs/*.md (their python code blocks) and every .py file under examples/
are parsed, and each import of livesession is checked: no path component and no imported
name may start with an underscore.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)
_PAGES = sorted(
    [ROOT / "README.md", ROOT / "RUNBOOK.md", *(ROOT / "docs").glob("*.md")],
)
_EXAMPLES = sorted((ROOT / "examples").rglob("*.py"))


def private_imports(code: str) -> list[str]:
    """Every import in ``code`` that reaches a private part of livesession."""
    found: list[str] = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
            names: list[str] = []
        elif isinstance(node, ast.ImportFrom) and not node.level:
            modules = [node.module or ""]
            names = [alias.name for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] != "livesession":
                continue
            private = [p for p in parts[1:] if p.startswith("_")]
            private += [n for n in names if n.startswith("_")]
            if private:
                found.append(f"{module} ({', '.join(private)})")
    return found


def _sources() -> list[tuple[str, str]]:
    sources = []
    for page in _PAGES:
        for number, block in enumerate(_BLOCK.findall(page.read_text(encoding="utf-8")), 1):
            sources.append((f"{page.relative_to(ROOT)} block {number}", block))
    sources.extend(
        (str(path.relative_to(ROOT)), path.read_text(encoding="utf-8")) for path in _EXAMPLES
    )
    return sources


class TestPublicImports:
    def test_there_is_something_to_scan(self):
        """The scan sees the docs' blocks and the example package (it cannot pass empty)."""
        names = [name for name, _ in _sources()]
        assert any(name.startswith("examples/mydesk/") for name in names)
        assert any(name.startswith("README.md") for name in names)
        assert any(name.startswith("docs/") for name in names)

    @pytest.mark.parametrize(("where", "code"), _sources(), ids=[n for n, _ in _sources()])
    def test_no_private_module_is_imported(self, where, code):
        """Users copy these: they import the public API only."""
        assert not private_imports(code), f"{where} imports {private_imports(code)}"

    @pytest.mark.parametrize(
        "code",
        [
            "from livesession._rundir import create_run",
            "import livesession._domain.model",
            "from livesession import _typing",
            "from livesession.brokers._journal import Journal",
            "import livesession._session.book as book",
        ],
    )
    def test_a_private_import_is_caught(self, code):
        """The checker itself (checks the checker)."""
        assert private_imports(code)

    @pytest.mark.parametrize(
        "code",
        [
            "from livesession import create_run, StrategyView",
            "from livesession.testing import run_failure_matrix",
            "import livesession",
            "from mypkg._private import x",
            "from . import _sibling",
        ],
    )
    def test_a_public_import_passes(self, code):
        """Public names, public submodules and other packages pass."""
        assert not private_imports(code)


def test_every_exception_a_caller_can_meet_is_exported():
    """Each exception of livesession's is importable from ``livesession`` by its own name.

    A caller told to import from ``livesession`` only must be able to catch what the API
    raises (``RunHeld`` from ``create_run``/``resume_run``); ``UsageError`` is the CLI's own.
    """
    import inspect

    import livesession
    from livesession import _exceptions

    defined = {
        name
        for name, cls in vars(_exceptions).items()
        if inspect.isclass(cls)
        and issubclass(cls, BaseException)
        and cls.__module__ == _exceptions.__name__
    }
    assert "RunHeld" in defined
    assert sorted(defined - set(livesession.__all__)) == ["UsageError"]


def _exception_classes() -> dict[str, str]:
    """Every class under ``src/livesession`` that derives from ``LiveSessionError``, by name,
    with the module file that defines it (parsed, not imported: optional extras need not be
    installed)."""
    src = ROOT / "src" / "livesession"
    bases: dict[str, tuple[str, list[str]]] = {}
    for path in sorted(src.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                names = [
                    b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "")
                    for b in node.bases
                ]
                bases[node.name] = (str(path.relative_to(src)), names)
    found = {"LiveSessionError": bases["LiveSessionError"][0]}
    grew = True
    while grew:
        grew = False
        for name, (where, parents) in bases.items():
            if name not in found and any(parent in found for parent in parents):
                found[name] = where
                grew = True
    return found


def test_every_exception_is_defined_in_the_tree_and_exported():
    """Bug: ``RunExists``, which ``create_run`` raises for a taken run id, was defined in
    ``_rundir/create.py``: the test above looks at ``_exceptions`` only, so it was neither in
    the tree nor exported. Every ``LiveSessionError`` anywhere in the package is defined in
    ``_exceptions.py`` and exported (but the CLI's ``UsageError``)."""
    import livesession

    found = _exception_classes()
    assert {"RunExists", "Rejected", "UsageError"} <= set(found)  # the scan sees the tree
    public = {name: where for name, where in found.items() if not name.startswith("_")}
    elsewhere = {name: where for name, where in public.items() if where != "_exceptions.py"}
    assert not elsewhere, f"exceptions defined outside _exceptions.py: {elsewhere}"
    assert sorted(set(public) - set(livesession.__all__)) == ["UsageError"]
    assert issubclass(livesession.RunExists, livesession.RunDirectoryError)


_OWN_PUBLIC_MODULES = ("livesession.testing",)
"""Public modules the docs send users to by name: what they export is imported from them."""


def _exported_elsewhere() -> dict[str, set[str]]:
    """Each class name a public module of livesession (no ``_`` in its path) exports in its
    ``__all__``, with the modules that export it; the packages ``_OWN_PUBLIC_MODULES`` name
    are left out (the docs import from them by name)."""
    import importlib
    import pkgutil

    import livesession

    found: dict[str, set[str]] = {}
    for info in pkgutil.walk_packages(livesession.__path__, "livesession."):
        parts = info.name.split(".")
        if any(part.startswith("_") for part in parts[1:]) or info.name.startswith(
            _OWN_PUBLIC_MODULES
        ):
            continue
        try:
            module = importlib.import_module(info.name)
        except ImportError:  # an optional extra not installed: nothing for the docs there
            continue
        for name in getattr(module, "__all__", ()):
            if re.fullmatch(r"[A-Z]\w*[a-z]\w*", name):
                found.setdefault(name, set()).add(info.name)
    return found


def test_every_class_the_docs_name_is_exported_from_livesession():
    """Bug: docs/postgres.md told users to pick ``MemoryIdempotencyStore``,
    ``SqliteIdempotencyStore``, ``JsonlIdempotencyStore`` or ``FileCheckpointStore``, which
    only ``livesession.stores`` exported, while docs/concepts.md says users import from
    ``livesession`` only. A class a page names that a public module of the package
    exports is importable from ``livesession`` itself, as the same object."""
    import importlib

    import livesession

    elsewhere = _exported_elsewhere()
    assert {"SqliteIdempotencyStore", "FileLease", "MockBroker"} <= set(elsewhere)  # it scans
    named: dict[str, list[str]] = {}
    for page in _PAGES:
        text = page.read_text(encoding="utf-8")
        for name in sorted(set(re.findall(r"`([A-Z]\w*)`", text)) & set(elsewhere)):
            named.setdefault(name, []).append(str(page.relative_to(ROOT)))
    missing = {name: pages for name, pages in named.items() if name not in livesession.__all__}
    assert not missing, f"named in the docs, not exported from livesession: {missing}"
    for name in named:
        for module in elsewhere[name]:
            assert getattr(importlib.import_module(module), name) is getattr(livesession, name)
