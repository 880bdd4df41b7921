"""What a referenced module runs with besides its own file: its package's modules, and packages.

A plug-in's source record (``references.resolve``) holds the SHA-256 of the referenced
module's file. A strategy that keeps its logic in a helper module of its own package
(``npdesk/helper.py``, imported by ``npdesk/strat.py``) or leans on an installed package
(``numpy``) changes what it decides when either changes, and a resume or the evidence's
determinism re-run then ran other code than the run's: the re-run said only that it did not
match, and a resume went on with the new code. So the record also keeps:

- ``package_files``: the SHA-256 of each other module of the referenced module's top-level
  package that this process had imported when the reference was resolved (its
  ``__init__.py``, the helpers its modules import at module level), by path under the
  package's parent directory (``npdesk/helper.py``);
- ``distributions``: the version of each installed distribution the package's modules hold
  at module level (``import numpy as np``, ``from pandas import DataFrame``): neither
  Python's standard library nor livesession, whose version ``SESSION_STARTED`` records.

``drift`` says what differs now, looking at files and installed metadata only (nothing is
imported), so ``status`` judges a run as ``resume`` does.
"""

from __future__ import annotations

import functools
import importlib.metadata
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

from .fsutil import file_digest

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "FILES",
    "VERSIONS",
    "drift",
    "import_root",
    "imported",
    "imported_said",
    "imported_with",
]

FILES: Final = "package_files"
"""The record's key for the SHA-256 of the package's other modules, by relative path."""
VERSIONS: Final = "distributions"
"""The record's key for the versions of the installed distributions the package imports."""
_OWN: Final = frozenset({"livesession", "__future__", "builtins"})


def import_root(module_name: str, file: str | Path | None) -> Path | None:
    """The directory ``module_name`` imports from (``sys.path``'s entry), given its file."""
    if file is None:
        return None
    path = Path(file)
    depth = module_name.count(".") + (1 if path.name == "__init__.py" else 0)
    return path.parents[depth] if len(path.parents) > depth else None


def _members(top: str) -> list[ModuleType]:
    return [
        module
        for name, module in sorted(sys.modules.items())
        if isinstance(module, ModuleType) and (name == top or name.startswith(f"{top}."))
    ]


@functools.cache
def _distributions_of() -> Mapping[str, list[str]]:
    return importlib.metadata.packages_distributions()  # slow: only when a name is not one


def _distribution(top: str) -> tuple[str, str] | None:
    """(distribution, version) of the installed distribution importable as ``top``."""
    try:
        return top, importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        pass
    for name in _distributions_of().get(top, []):
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def _imported_tops(modules: list[ModuleType]) -> set[str]:
    """The top-level names of what ``modules`` hold at module level: modules, and classes'."""
    tops: set[str] = set()
    for module in modules:
        for value in list(vars(module).values()):
            name = value.__name__ if isinstance(value, ModuleType) else None
            if name is None:
                owner = getattr(type(value) if not callable(value) else value, "__module__", None)
                name = owner if isinstance(owner, str) else None
            if name:
                tops.add(name.split(".", maxsplit=1)[0])
    return tops


def imported_with(module_name: str, file: str | None) -> dict[str, Any]:
    """``package_files`` and ``distributions`` of the module as this process imported it."""
    top = module_name.split(".", maxsplit=1)[0]
    root = import_root(module_name, file)
    files: dict[str, str] = {}
    members = _members(top)
    for module in members:
        found = getattr(module, "__file__", None)
        if root is None or not isinstance(found, str) or found == file:
            continue
        path = Path(found)
        if path.suffix == ".py" and path.is_relative_to(root):
            try:
                files[path.relative_to(root).as_posix()] = file_digest(path)[0]
            except OSError:
                continue
    skip = _OWN | {top} | set(sys.stdlib_module_names)
    versions = dict(
        found
        for name in sorted(_imported_tops(members) - skip)
        if not name.startswith("_") and (found := _distribution(name)) is not None
    )
    return {FILES: dict(sorted(files.items())), VERSIONS: dict(sorted(versions.items()))}


def drift(record: Mapping[str, Any], module_file: str | None) -> str:
    """What of ``record``'s package files and distributions differs now, or "".

    ``module_file`` is where the referenced module is found now: its package's files are
    looked for beside it, where the run's import would find them.
    """
    root = import_root(str(record.get("module", "")), module_file)
    if root is not None:
        for rel, sha in _items(record.get(FILES)):
            path = root / rel
            try:
                now = file_digest(path)[0]
            except OSError:
                return f"{path}, a module of its package the run imported, is gone"
            if now != sha:
                return (
                    f"{rel}, a module of its package the run imported, changed (SHA-256 "
                    f"{str(sha)[:12]}..., now {now[:12]}... in {path})"
                )
    for name, version in _items(record.get(VERSIONS)):
        try:
            now = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            now = "not installed"
        if now != version:
            return (
                f"the package {name} it imports is {now} here, {version} when the run "
                f"started (install {name}=={version})"
            )
    return ""


def imported(files: object, versions: object) -> list[tuple[str, str]]:
    """``[("npdesk/helper.py", "(SHA-256 88e29b4e3311...)"), ("numpy", "2.2.6")]``."""
    return [
        *((rel, f"(SHA-256 {str(sha)[:12]}...)") for rel, sha in _items(files)),
        *((name, str(version)) for name, version in _items(versions)),
    ]


def imported_said(record: object) -> str:
    """``npdesk/helper.py (SHA-256 88e29b4e3311...), numpy 2.2.6``, as recorded, or ""."""
    if not isinstance(record, dict):
        return ""
    return ", ".join(
        f"{key} {value}" for key, value in imported(record.get(FILES), record.get(VERSIONS))
    )


def _items(table: object) -> list[tuple[str, object]]:
    return sorted(table.items()) if isinstance(table, dict) else []
