"""The ``testing`` extra brings every package ``livesession.testing`` imports.

``pip install "livesession[testing]"`` is all docs/testing.md asks of a user: a package the
kit imports that neither the base install nor the extra brings would fail their first run
(pytest, for the kit's plugin and the test files the docs show, was missing once).
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
KIT = ROOT / "src" / "livesession" / "testing"
# An import name that is not its distribution's name.
DISTRIBUTIONS = {"yaml": "pyyaml"}


def _requirement_names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s<>=!~\[;]", r, maxsplit=1)[0].lower() for r in requirements}


def _third_party_imports(folder: Path) -> set[str]:
    found: set[str] = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.split(".")[0]
                if top != "livesession" and top not in sys.stdlib_module_names:
                    found.add(DISTRIBUTIONS.get(top, top).lower())
    return found


def test_the_testing_extra_brings_what_the_kit_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    brought = _requirement_names(project["dependencies"])
    brought |= _requirement_names(project["optional-dependencies"]["testing"])
    imported = _third_party_imports(KIT)
    assert {"hypothesis", "pytest"} <= imported  # the scan sees the kit's imports
    assert imported <= brought, f"not brought by livesession[testing]: {imported - brought}"
