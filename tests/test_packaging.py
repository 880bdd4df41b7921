"""The wheel and the sdist as a release builds them: valid metadata, and each holding what it
should and nothing else.

Every other test runs the checkout. These build the two files with the build backend
(offline, in a temporary directory: a wheel takes about a second) and read them as pip and
PyPI do. ``nox -s installed`` installs and runs what they build.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.metadata import Metadata
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "livesession"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]

# The first hatchling that writes ``license = "MIT"`` (an SPDX expression) as
# License-Expression in Metadata-Version 2.4, the version that field belongs to.
_HATCHLING_FLOOR = Version("1.27")


def _build(kind: str, source: Path, out: Path) -> Path:
    """Build ``kind`` (``wheel`` or ``sdist``) of the project at ``source`` into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    code = f"import hatchling.build as b; print(b.build_{kind}({str(out)!r}))"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=source, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return out / done.stdout.split()[-1]


@pytest.fixture(name="wheel", scope="module")
def _wheel(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling", reason="the tests extra brings the build backend")
    return _build("wheel", ROOT, tmp_path_factory.mktemp("wheel"))


@pytest.fixture(name="sdist", scope="module")
def _sdist(tmp_path_factory) -> Path:
    pytest.importorskip("hatchling", reason="the tests extra brings the build backend")
    return _build("sdist", ROOT, tmp_path_factory.mktemp("sdist"))


def _metadata(wheel: Path) -> Metadata:
    with zipfile.ZipFile(wheel) as whl:
        (name,) = (n for n in whl.namelist() if n.endswith(".dist-info/METADATA"))
        return Metadata.from_email(whl.read(name), validate=True)


def _hatchling_floor(requirements: list[str]) -> Version:
    (requirement,) = (r for r in map(Requirement, requirements) if r.name == "hatchling")
    (floor,) = (Version(s.version) for s in requirement.specifier if s.operator == ">=")
    return floor


class TestBuildBackend:
    def test_the_oldest_hatchling_allowed_writes_metadata_pypi_takes(self):
        """Bug: pyproject asked for hatchling>=1.20. A build with 1.20 to 1.25 (what pip
        takes where a newer one is not reachable, a mirror or a pinned build environment)
        wrote Metadata-Version 2.1 or 2.3 with ``License-Expression: MIT``, a field only 2.4
        has: ``twine check`` said "license-expression introduced in metadata
        version 2.4, not 2.1" and PyPI refuses the upload."""
        assert isinstance(PROJECT["license"], str)  # an SPDX expression, not a table
        assert _hatchling_floor(PYPROJECT["build-system"]["requires"]) >= _HATCHLING_FLOOR

    def test_the_tests_extra_brings_a_backend_as_new(self):
        """The suite builds with what the tests extra installs: never older than a release."""
        tests = PROJECT["optional-dependencies"]["tests"]
        assert _hatchling_floor(tests) == _hatchling_floor(PYPROJECT["build-system"]["requires"])


class TestWheel:
    def test_its_metadata_is_valid_and_says_what_pyproject_says(self, wheel):
        """The metadata passes packaging's validation (what twine and PyPI run)."""
        meta = _metadata(wheel)
        assert Version(meta.metadata_version) >= Version("2.4")
        assert meta.license_expression == PROJECT["license"]
        assert meta.license_files == ["LICENSE"]
        assert str(meta.requires_python) == PROJECT["requires-python"]
        assert meta.classifiers == PROJECT["classifiers"]
        assert meta.summary == PROJECT["description"]
        assert meta.description == (ROOT / "README.md").read_text(encoding="utf-8")
        assert meta.description_content_type == "text/markdown"
        assert sorted(meta.provides_extra or []) == sorted(PROJECT["optional-dependencies"])
        plain = {str(r) for r in meta.requires_dist or [] if r.marker is None}
        assert plain == {str(Requirement(r)) for r in PROJECT["dependencies"]}

    def test_it_holds_the_package_and_nothing_else(self, wheel):
        """Every file of ``src/livesession`` (the schemas and ``py.typed`` too, which the
        package and a type checker read from beside the code) and no test, doc or cache."""
        ours = {
            f"livesession/{path.relative_to(SRC).as_posix()}"
            for path in SRC.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
        }
        with zipfile.ZipFile(wheel) as whl:
            names = set(whl.namelist())
        info = {n for n in names if n.startswith("livesession-0.2.0.dist-info/")}
        assert names - info == ours
        assert {"livesession/py.typed", "livesession/schemas/events.schema.json"} <= ours
        assert {n.split("/", 1)[1] for n in info} == {
            "METADATA",
            "WHEEL",
            "RECORD",
            "entry_points.txt",
            "licenses/LICENSE",
        }

    def test_its_entry_points_are_the_cli_and_the_pytest_plugin(self, wheel):
        with zipfile.ZipFile(wheel) as whl:
            text = whl.read("livesession-0.2.0.dist-info/entry_points.txt").decode()
        assert text.split() == [
            "[console_scripts]",
            "livesession",
            "=",
            "livesession.__main__:main",
            "[pytest11]",
            "livesession",
            "=",
            "livesession.testing.pytest_plugin",
        ]


class TestSdist:
    def test_it_holds_the_source_the_suite_and_the_docs_and_no_environment(self, sdist):
        """The sdist is what a distribution rebuilds from and runs the suite of: the docs
        the CLI's lines name too; never a virtual environment, a cache or a run."""
        with tarfile.open(sdist) as tar:
            names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        for wanted in (
            "pyproject.toml",
            "README.md",
            "RUNBOOK.md",
            "CHANGELOG.md",
            "LICENSE",
            "PKG-INFO",
            "src/livesession/py.typed",
            "src/livesession/schemas/audit.schema.json",
            "tests/conftest.py",
            "docs/development.md",
            "examples/mydesk.toml",
            ".env.example",
        ):
            assert wanted in names, wanted
        unwanted = re.compile(r"(^|/)(\.venv|\.nox|__pycache__|\.pytest_cache)(/|$)|\.pyc$")
        assert not [n for n in names if unwanted.search(n)]
        assert not [n for n in names if n.startswith("out/") and n != "out/.gitkeep"]

    def test_a_wheel_built_from_it_alone_is_the_wheel(self, sdist, wheel, tmp_path_factory):
        """The sdist holds all a build needs: unpacked alone, it builds the same files."""
        # Not tmp_path: the suite's broken example runs it holds are not this test's runs.
        where = tmp_path_factory.mktemp("unpacked")
        with tarfile.open(sdist) as tar:
            tar.extractall(where, filter="data")
        (unpacked,) = where.iterdir()
        rebuilt = _build("wheel", unpacked, where / "dist")
        with zipfile.ZipFile(rebuilt) as again, zipfile.ZipFile(wheel) as first:
            assert sorted(again.namelist()) == sorted(first.namelist())
            for name in first.namelist():
                if not name.endswith("RECORD"):
                    assert again.read(name) == first.read(name), name


class TestClassifiers:
    """Bug: the classifiers named the Python versions only. The package runs on POSIX alone
    (``import fcntl``: on Windows every run died of ``ModuleNotFoundError: No module named
    'fcntl'``), ships ``py.typed`` and a pytest plugin, and PyPI's filters found none of it."""

    def test_posix_since_the_package_imports_fcntl(self):
        sources = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))
        assert re.search(r"^\s*import fcntl\b", sources, re.MULTILINE)
        assert "Operating System :: POSIX" in PROJECT["classifiers"]
        assert not [c for c in PROJECT["classifiers"] if "Windows" in c or "Independent" in c]

    def test_typed_since_py_typed_ships(self):
        assert (SRC / "py.typed").is_file()
        assert "Typing :: Typed" in PROJECT["classifiers"]

    def test_a_pytest_framework_since_it_registers_a_plugin(self):
        assert "pytest11" in PROJECT["entry-points"]
        assert "Framework :: Pytest" in PROJECT["classifiers"]


def test_a_side_venv_of_another_python_stays_out_of_the_sdist(tmp_path):
    """The sdist takes every file ``.gitignore`` does not name, and it named ``.venv/``
    alone: a ``.venv312`` made beside the checkout to run the suite on Python 3.12
    (docs/development.md, "Other Python versions") went into a release built there."""
    project = tmp_path / "project"
    for name in ("pyproject.toml", "README.md", "LICENSE", ".gitignore"):
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        (project / name).write_bytes((ROOT / name).read_bytes())
    version = SRC / "_version.py"
    (project / "src" / "livesession").mkdir(parents=True)
    (project / "src" / "livesession" / "__init__.py").write_text("", encoding="utf-8")
    (project / "src" / "livesession" / "_version.py").write_bytes(version.read_bytes())
    for side in (".venv", ".venv312", ".venv-3.13"):
        (project / side / "lib").mkdir(parents=True)
        (project / side / "lib" / "site.py").write_text("", encoding="utf-8")
    sdist = _build("sdist", project, tmp_path / "dist")
    with tarfile.open(sdist) as tar:
        names = [n.split("/", 1)[1] for n in tar.getnames() if "/" in n]
    assert "src/livesession/_version.py" in names
    assert not [n for n in names if n.startswith(".venv")], names
