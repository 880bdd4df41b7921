"""Size limits that keep the package readable: modules up to 500 lines, classes up to 400.

A module or class past its limit is doing more than one job; split it by concern (see the
map of the package in docs/concepts.md) rather than raising the limit.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "livesession"
MAX_MODULE_LINES = 500
MAX_CLASS_LINES = 400


def _modules() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_no_module_is_over_the_limit():
    over = {
        str(path.relative_to(SRC)): n
        for path in _modules()
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not over, f"modules over {MAX_MODULE_LINES} lines: {over}"


def test_no_class_is_over_the_limit():
    over: dict[str, int] = {}
    for path in _modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and node.end_lineno is not None:
                length = node.end_lineno - node.lineno + 1
                if length > MAX_CLASS_LINES:
                    over[f"{path.relative_to(SRC)}:{node.name}"] = length
    assert not over, f"classes over {MAX_CLASS_LINES} lines: {over}"


def test_the_limits_see_the_package():
    """The checks above read real modules (a wrong path would pass them vacuously)."""
    assert len(_modules()) > 40
