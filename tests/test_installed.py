"""livesession installed from its wheel, not run from a checkout of its own.

Every other test runs the editable install inside the repository. These hold what differs
for a user who ran ``pip install livesession`` into a fresh environment: there is no git
checkout of livesession to name, and the optional extras are missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from livesession.cli import main

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "livesession"

_GIT = shutil.which("git")


def _git(where: Path, *args: str) -> str:
    """Run git in ``where`` with a fixed identity and no user or system config."""
    env = {
        **os.environ,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    assert _GIT is not None
    done = subprocess.run(
        [_GIT, *args], cwd=where, env=env, capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def _repository(root: Path) -> str:
    """A git repository at ``root`` with one commit of what it holds; its commit."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "README.md").write_text("a project of the user's\n", encoding="utf-8")
    (root / ".gitignore").write_text(".venv/\n", encoding="utf-8")
    _git(root, "init", "-q")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "init")
    return _git(root, "rev-parse", "HEAD")


def _commit_seen_from(site: Path, **extra_env: str) -> str:
    """What the evidence manifest records as ``git_commit`` for livesession loaded from
    ``site`` (a copy of the package there), in a process of its own (``extra_env`` added
    to its environment)."""
    shutil.copytree(SRC, site / "livesession", ignore=shutil.ignore_patterns("__pycache__"))
    code = "from livesession.evidence import _git_commit; print(_git_commit())"
    env = {**os.environ, "PYTHONPATH": str(site), "GIT_CONFIG_NOSYSTEM": "1", **extra_env}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=site, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


@pytest.mark.skipif(_GIT is None, reason="needs git")
class TestGitCommit:
    def test_an_environment_inside_another_repository_names_no_commit(self, tmp_path):
        """Bug: livesession installed from its wheel into ``.venv`` of a project's own
        clone (the README's ``python3 -m venv .venv``) asked git from its own folder, and
        git answered for the project: the evidence manifest named the project's commit as
        the commit livesession ran from. An installed package has none to name."""
        project = tmp_path / "project"
        theirs = _repository(project)
        site = project / ".venv" / "lib" / "python3" / "site-packages"
        site.mkdir(parents=True)
        seen = _commit_seen_from(site)
        assert seen != theirs
        assert seen == "None"

    def test_a_checkout_of_livesession_names_its_commit(self, tmp_path):
        """livesession run from a checkout (``src/livesession`` of the work tree) still
        records that checkout's commit."""
        checkout = tmp_path / "checkout"
        ours = _repository(checkout)
        assert _commit_seen_from(checkout / "src") == ours

    def test_a_checkout_at_a_non_ascii_path_under_the_c_locale_names_its_commit(self, tmp_path):
        """Bug: git's answer (the checkout's path) was read as the locale's text; under
        ``LC_ALL=C`` with ``PYTHONUTF8=0`` (ASCII) a checkout at ``.../jürgen/...`` raised
        ``UnicodeDecodeError``, and ``evidence`` ended in a traceback, exit 1 (NOT VERIFIED).
        The path is read as Python reads file names."""
        checkout = tmp_path / "jürgen" / "checkout"
        ours = _repository(checkout)
        seen = _commit_seen_from(checkout / "src", LC_ALL="C", LANG="C", PYTHONUTF8="0")
        assert seen == ours


class TestExtraBeforeEnvironment:
    """Without the extra a feature needs, the one line says which extra to install, before
    asking for the environment the feature reads: a user was told to set the exchange's
    API key and secret (or the DSN), did, and only then heard the feature cannot run at all.
    """

    def _refused(self, capsys, tmp_path, *flags: str) -> str:
        out = tmp_path / "out"
        assert main(["dryrun", "--out", str(out), "--run-id", "x", "-q", *flags]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1, err
        assert "Traceback" not in err
        assert not (out / "x").exists()
        return err

    def test_ccxt_broker_without_ccxt(self, capsys, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "ccxt", None)
        monkeypatch.delenv("LIVESESSION_BINANCE_API_KEY", raising=False)
        monkeypatch.delenv("LIVESESSION_BINANCE_API_SECRET", raising=False)
        err = self._refused(capsys, tmp_path, "--broker", "ccxt:binance")
        assert "pip install 'livesession[ccxt]'" in err
        assert "LIVESESSION_BINANCE" not in err

    def test_postgres_store_without_psycopg(self, capsys, tmp_path, monkeypatch):
        monkeypatch.setitem(sys.modules, "psycopg", None)
        monkeypatch.delenv("LIVESESSION_PG_DSN", raising=False)
        err = self._refused(capsys, tmp_path, "--store", "postgres")
        assert "pip install 'livesession[postgres]'" in err
        assert "LIVESESSION_PG_DSN" not in err


# The first release of a dependency with what the code relies on, and where it relies on it.
_FLOORS = {
    "attrs": (
        "25.4",
        r"attrs\.field\([^)]*kw_only=False",  # a positional field in a kw_only=True class
    ),
}


def _lowest_allowed(name: str) -> Version:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (requirement,) = (r for r in map(Requirement, project["dependencies"]) if r.name == name)
    (floor,) = (Version(s.version) for s in requirement.specifier if s.operator == ">=")
    return floor


@pytest.mark.parametrize("name", sorted(_FLOORS))
def test_the_lowest_dependency_pyproject_allows_has_what_the_code_uses(name):
    """Bug: pyproject allowed attrs>=23.1, but the session's collaborators
    (``SessionLifecycle``, ``Reports``, ...) keep their first fields positional in a
    ``kw_only=True`` class with ``attrs.field(kw_only=False)``, which attrs honours only
    from 25.4: installed beside attrs 23.1 to 25.3, every dry run died of ``TypeError:
    SessionLifecycle.__init__() takes 1 positional argument``. ``nox -s installed`` runs the
    wheel on the lowest versions pyproject allows; this checks the floors it found."""
    first, use = _FLOORS[name]
    sources = "\n".join(p.read_text(encoding="utf-8") for p in SRC.rglob("*.py"))
    assert re.search(use, sources), f"no code uses what {name} {first} brought: drop the floor"
    assert _lowest_allowed(name) >= Version(first)


class TestBrokenExtra:
    """An extra that is installed but fails to import is not called missing."""

    @staticmethod
    def _planted(tmp_path, monkeypatch, module: str, body: str) -> None:
        """``module`` importable from ``tmp_path``, its import running ``body``."""
        (tmp_path / f"{module}.py").write_text(body, encoding="utf-8")
        monkeypatch.syspath_prepend(str(tmp_path))
        monkeypatch.delitem(sys.modules, module, raising=False)

    def test_parquet_feed_with_a_pyarrow_that_fails_to_import(self, capsys, tmp_path, monkeypatch):
        """Bug: pyarrow 14 (which livesession[parquet] allows) beside NumPy 2 fails to import
        with ``ImportError: numpy.core.multiarray failed to import``, and the parquet feed said
        "pyarrow is not installed: install it with pip install 'livesession[parquet]'", of a
        pyarrow pip lists as installed, and that pip install changes nothing."""
        self._planted(
            tmp_path,
            monkeypatch,
            "pyarrow",
            'raise ImportError("numpy.core.multiarray failed to import")\n',
        )
        data = tmp_path / "bars.parquet"
        data.write_bytes(b"PAR1")
        out = tmp_path / "out"
        argv = ["dryrun", "--feed", f"parquet:{data}", "--out", str(out), "--run-id", "p", "-q"]
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err == (
            "livesession: error: pyarrow is installed but fails to import (ImportError: "
            "numpy.core.multiarray failed to import): upgrade it with "
            "`pip install -U 'livesession[parquet]'`"
        )
        assert not (out / "p").exists()

    def test_a_dependency_of_the_extra_missing_is_no_missing_extra(self, tmp_path, monkeypatch):
        from livesession import MissingExtra
        from livesession._support.optional import import_optional

        self._planted(tmp_path, monkeypatch, "extra_mod", "import no_such_dependency_x\n")
        with pytest.raises(MissingExtra) as broken:
            import_optional("extra_mod", "parquet")
        assert broken.value.broken == (
            "ModuleNotFoundError: No module named 'no_such_dependency_x'"
        )
        monkeypatch.setitem(sys.modules, "extra_mod", None)  # as tests hide an extra
        with pytest.raises(MissingExtra, match=r"^extra_mod is not installed: install it wi"):
            import_optional("extra_mod", "parquet")


def test_the_license_pyproject_names_ships_with_its_text():
    """pyproject says MIT; the text a wheel and sdist carry (``LICENSE``) must be there and say it."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert declared["license"] == "MIT"
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License\n")
    assert "Permission is hereby granted, free of charge" in text
