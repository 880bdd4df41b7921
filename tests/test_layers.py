"""The package's layers: no module imports from a layer above its own.

Every module under ``src/livesession`` is parsed (not imported) and each of its imports is
resolved: absolute and relative, at module level, inside functions and under
``TYPE_CHECKING`` alike, since each is a dependency of the code. A module's layer is the
first path component under ``livesession`` (``_session/coordinator.py`` is in ``_session``).
docs/concepts.md ("Map of the package") describes the same layers, one row a folder with what
it may import, and docs/modules.md each module.
"""

from __future__ import annotations

import ast
import re
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
                "_control_effects",
                "status",
                "_verdict",
                "_cli_output",
                "_cli_signals",
                "_cli_streams",
                "_cli_summary",
                "_cli_endings",
                "_cli_alerts",
                "_cli_runs",
                "_cli_commands",
                "_cli_list",
                "_cli_leftover",
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
                "_aio_threads",
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
    in the "Map of the package" in docs/concepts.md (with what it may import), and in
    docs/modules.md (an entry for each of its modules)."""


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
            ", in the map in docs/concepts.md and in docs/modules.md."
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


def _component_of(name: str) -> set[str]:
    """The components a backticked name of the map stands for: ``_domain/`` is
    ``_domain``, ``cli.py`` is ``cli``, ``_cli_*.py`` every ``_cli_`` module."""
    import fnmatch

    stem = name.removesuffix("/").removesuffix(".py")
    every = {c for c in (_component(m) for m in _checked_modules()) if c}
    every |= {p.name for p in SRC.iterdir() if p.is_dir() and p.name != "__pycache__"}
    return set(fnmatch.filter(every, stem))


_LAYER_WORDS = {"the domain": "domain", "the components": "components", "the tools": "tools"}


def _allowed(cell: str, rank: int) -> set[str]:
    """What a map row's "may import" cell allows: its backticked folders and modules, the
    layers it names in words (``the domain``), ``anything below``; ``nothing`` allows
    nothing."""
    allowed: set[str] = set()
    if cell == "nothing":
        return allowed
    for item in (part.strip() for part in cell.split(",")):
        if item.startswith("`") and item.endswith("`"):
            found = _component_of(item.strip("`"))
            assert found, f"the map's may-import names {item}, which is not in the package"
            allowed |= found
        elif item == "anything below":
            below = [names for layer, (name, names) in enumerate(LAYERS) if layer < rank]
            allowed |= set().union(*below) | {"_postgres"}
        elif item in _LAYER_WORDS:
            (names,) = [names for name, names in LAYERS if name == _LAYER_WORDS[item]]
            allowed |= set(names) | ({"_postgres"} if item == "the components" else set())
        else:
            raise AssertionError(f"the map's may-import cell says {item!r}: not a name or a layer")
    return allowed


def test_the_maps_may_import_is_the_layers_rule_and_what_the_code_imports():
    """docs/concepts.md's map says of each folder and top-level module what it may import.
    That is never more than the layers allow (the map and ``LAYERS`` agree), and the code
    imports nothing more than the map says (``_support/`` only ``_exceptions.py``,
    ``_reconcile/`` only ``_domain/``): a new import that breaks the map's word fails here,
    and the map is brought up to date with it (or the import is not made)."""
    text = (SRC.parent.parent / "docs" / "concepts.md").read_text(encoding="utf-8")
    section = text.split("\n## Map of the package\n", 1)[1].split("\n## ", 1)[0]
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in section.splitlines()
        if line.startswith("| `")
    ]
    graph: dict[str, set[str]] = {}
    for module in _checked_modules():
        own = _component(module)
        assert own is not None
        graph.setdefault(own, set()).update(
            c for c in (_component(t) for t in _imports(module, MODULES[module])) if c != own
        )
    covered: set[str] = set()
    wrong: list[str] = []
    for row in rows:
        assert len(row) == 3, row
        names = set().union(*(_component_of(n) for n in re.findall(r"`([^`]+)`", row[0])))
        assert names, row[0]
        covered |= names
        for name in sorted(names):
            placed = _component_layer(name)
            if placed is None:  # schemas/: no Python, in no layer
                assert row[2] == "nothing", row
                continue
            rank, layer = placed
            allowed = _allowed(row[2], rank)
            beyond = {
                c
                for c in allowed
                if (theirs := _component_layer(c)) is not None and theirs[0] > rank
            }
            if beyond:
                wrong.append(f"the map lets {name} ({layer}) import {sorted(beyond)}, above it")
            extra = graph.get(name, set()) - allowed - names
            if extra:
                wrong.append(f"{name} imports {sorted(extra)}, which its row does not allow")
    everything = {_component(m) for m in _checked_modules()} - {None}
    assert everything <= covered, f"no row of the map for {sorted(everything - covered)}"
    assert wrong == [], "\n".join(wrong)
