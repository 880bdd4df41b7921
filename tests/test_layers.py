"""The package's layers: no module imports from a layer above its own.

Every module under ``src/livesession`` is parsed (not imported) and each of its imports is
resolved: absolute and relative, at module level, inside functions and under
``TYPE_CHECKING`` alike, since each is a dependency of the code. A module's layer is the
first path component under ``livesession`` (``_session/coordinator.py`` is in ``_session``).
docs/concepts.md ("Map of the package") describes the same layers in prose.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import livesession

PACKAGE = "livesession"
SRC = Path(__file__).resolve().parent.parent / "src" / PACKAGE

# Bottom to top. A module may import from its own layer and from any layer below it.
# The session layer has two tiers: `_rundir` builds sessions from run directories, so it
# sits above `_session`, which must not know about directories.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("domain", frozenset({"_domain", "_support", "_exceptions", "_typing", "_version"})),
    (
        "components",
        frozenset({"_artifacts", "_risk", "_reconcile", "_market", "brokers", "stores", "leases"}),
    ),
    ("session", frozenset({"_session"})),
    ("session/rundir", frozenset({"_rundir"})),
    (
        "tools",
        frozenset(
            {
                "cli",
                "control",
                "_control_wait",
                "status",
                "_cli_output",
                "_cli_streams",
                "_cli_summary",
                "_cli_alerts",
                "_cli_runs",
                "_cli_commands",
                "_cli_files",
                "_cli_bar",
                "_cli_status",
                "verify",
                "report",
                "prom",
                "_prom_wsgi",
                "_prom_view",
                "evidence",
                "burnin",
                "controls",
                "testing",
                "aio",
                "_aio_once",
                "__main__",
            }
        ),
    ),
)
# Shared database plumbing (a top-level `_pg*`, `pg*`, `_postgres*` or `postgres*` module)
# sits beside the adapters that use it, whatever it ends up being called.
_ADAPTER_PREFIXES = ("pg", "postgres")

_FIX = """
How to fix: a module may import only from its own layer or a layer below it
(domain < components < session < session/rundir < tools).
  - Move what both sides need down to the lower layer (data and pure helpers to _domain/,
    plumbing with no domain knowledge to _support/, protocols to _typing.py).
  - Or pass the higher-layer object in (an argument typed with a protocol from _typing.py)
    instead of importing it.
  - A new top-level folder or module must be placed in LAYERS in tests/test_layers.py,
    and in the "Map of the package" in docs/concepts.md."""


def _component_layer(component: str) -> tuple[int, str] | None:
    for rank, (name, components) in enumerate(LAYERS):
        if component in components:
            return rank, name
    if component.lstrip("_").startswith(_ADAPTER_PREFIXES):
        return 1, LAYERS[1][0]
    return None


def _module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(SRC.rglob("*.py"))}


MODULES = _modules()


def _resolve_from(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    if node.level:
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        parts = package.split(".")
        base = ".".join(parts[: len(parts) - (node.level - 1)])
        target = f"{base}.{node.module}" if node.module else base
    else:
        target = node.module or ""
    resolved = []
    for alias in node.names:
        if target == PACKAGE and alias.name in livesession._LAZY:
            # The public facade: follow the lazy map to the module that owns the name.
            resolved.append(PACKAGE + livesession._LAZY[alias.name])
            continue
        submodule = f"{target}.{alias.name}"
        resolved.append(submodule if submodule in MODULES else target)
    return resolved


def _imports(module: str, path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            found.extend(_resolve_from(module, path, node))
    return [name for name in found if name == PACKAGE or name.startswith(f"{PACKAGE}.")]


def _component(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def _checked_modules() -> list[str]:
    # The top package only re-exports, lazily (PEP 562): it is the facade over every layer.
    return [module for module in MODULES if module != PACKAGE]


def _violations(graph: dict[str, list[str]]) -> list[str]:
    """Each import from `graph` (module -> modules it imports) that points to a higher layer."""
    violations = []
    for module, targets in graph.items():
        own = _component_layer(_component(module) or "")
        if own is None:
            continue  # reported by test_every_module_has_a_layer
        for target in targets:
            component = _component(target)
            if component is None:
                violations.append(
                    f"{module} -> {target} (layer {own[1]} imports the whole package;"
                    " import from the owning module)"
                )
                continue
            theirs = _component_layer(component)
            if theirs is not None and theirs[0] > own[0]:
                violations.append(
                    f"{module} -> {target} (layer {own[1]} imports layer {theirs[1]})"
                )
    return sorted(set(violations))


class TestLayers:
    def test_every_module_has_a_layer(self):
        """Each top-level folder or module is placed in a layer on purpose."""
        unplaced = sorted(
            module
            for module in _checked_modules()
            if _component_layer(_component(module) or "") is None
        )
        assert not unplaced, (
            "These modules are in no layer: "
            + ", ".join(unplaced)
            + "\nPlace their top-level folder or module in LAYERS in tests/test_layers.py"
            " and in the map in docs/concepts.md."
        )

    def test_every_layer_entry_exists(self):
        """LAYERS names only folders and modules that exist: a stale entry misleads a reader."""
        components = {_component(module) for module in _checked_modules()}
        stale = sorted(c for _, names in LAYERS for c in names if c not in components)
        assert not stale, f"LAYERS names what src/livesession does not hold: {stale}"

    def test_the_map_in_the_docs_names_every_top_level_folder_and_module(self):
        """docs/concepts.md's map shows every component (a ``_cli_*.py`` glob covers those)."""
        text = (SRC.parent.parent / "docs" / "concepts.md").read_text(encoding="utf-8")
        start = text.index("## Map of the package")
        block = text[start : text.index("```", text.index("```", start) + 3)]
        shown = set(block.split())
        missing = sorted(
            component
            for component in {_component(m) for m in _checked_modules()} - {"__main__", None}
            if not component.startswith("_cli_")
            and f"{component}/" not in shown
            and f"{component}.py" not in shown
        )
        assert not missing, f"Not in the map of docs/concepts.md: {missing}"

    def test_no_module_imports_from_a_higher_layer(self):
        """Imports point down or sideways, never up (the facade `livesession` included)."""
        graph = {module: _imports(module, MODULES[module]) for module in _checked_modules()}
        violations = _violations(graph)
        assert not violations, "Imports from a higher layer:\n  " + "\n  ".join(violations) + _FIX

    def test_an_upward_import_is_reported(self):
        """The checker itself: upward imports are named with both layers (checks the checker)."""
        graph = {
            "livesession._domain.model": ["livesession._session.book"],
            "livesession._session.book": ["livesession._rundir.run", "livesession._domain.ids"],
            "livesession.stores.jsonl": ["livesession"],
            "livesession.cli": ["livesession._rundir.run", "livesession.verify"],
        }
        assert _violations(graph) == [
            (
                "livesession._domain.model -> livesession._session.book"
                " (layer domain imports layer session)"
            ),
            (
                "livesession._session.book -> livesession._rundir.run"
                " (layer session imports layer session/rundir)"
            ),
            (
                "livesession.stores.jsonl -> livesession"
                " (layer components imports the whole package; import from the owning module)"
            ),
        ]

    @pytest.mark.parametrize(
        ("code", "expected"),
        [
            ("from ..stores import open_idempotency_store", "livesession.stores"),
            ("from .._domain.model import Bar", "livesession._domain.model"),
            ("from . import book", "livesession._session.book"),
            ("import livesession.cli", "livesession.cli"),
            ("from livesession import DryrunConfig", "livesession._domain.config"),
        ],
    )
    def test_resolves_imports(self, code, expected):
        """The resolver handles relative, absolute and facade imports (checks the checker)."""
        path = SRC / "_session" / "coordinator_probe.py"
        tree = ast.parse(f"def f():\n    {code}\n")
        (node,) = [n for n in ast.walk(tree) if isinstance(n, ast.Import | ast.ImportFrom)]
        if isinstance(node, ast.Import):
            assert node.names[0].name == expected
        else:
            assert _resolve_from("livesession._session.coordinator_probe", path, node) == [expected]

    @pytest.mark.parametrize(
        ("component", "layer"),
        [
            ("_domain", "domain"),
            ("_pg", "components"),
            ("_postgres", "components"),
            ("brokers", "components"),
            ("_rundir", "session/rundir"),
            ("report", "tools"),
            ("testing", "tools"),
            ("__main__", "tools"),
            ("_newfolder", None),
        ],
    )
    def test_layer_of_a_component(self, component, layer):
        """Components map to their layer; an unknown one has none until placed."""
        found = _component_layer(component)
        assert (found[1] if found else None) == layer

    def test_session_does_not_know_run_directories(self):
        """`_session` is below `_rundir`: the rank order says so explicitly."""
        session = _component_layer("_session")
        rundir = _component_layer("_rundir")
        assert session is not None
        assert rundir is not None
        assert session[0] < rundir[0]


def test_the_map_names_every_folder_and_the_entry_point():
    """The map left out ``schemas/`` (no Python in it, so the module scan never saw it) and
    ``__main__.py``: every folder under src/livesession and every top-level module is in
    the map's block and is described below it."""
    text = (SRC.parent.parent / "docs" / "concepts.md").read_text(encoding="utf-8")
    start = text.index("## Map of the package")
    block = set(text[start : text.index("```", text.index("```", start) + 3)].split())
    folders = {f"{p.name}/" for p in SRC.iterdir() if p.is_dir() and p.name != "__pycache__"}
    modules = {p.name for p in SRC.glob("*.py") if p.name != "__init__.py"}
    shown = {name for name in folders | modules if name in block}
    shown |= {name for name in modules if name.startswith("_cli_") and "_cli_*.py" in block}
    assert shown == folders | modules, sorted((folders | modules) - shown)
    rows = text[start:].split("\n## ", 1)[0]
    for name in sorted(folders | modules):
        assert f"`{name}`" in rows, name  # a row (or, for _postgres/, a paragraph)
