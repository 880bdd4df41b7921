"""The developer sessions of noxfile.py do what the README and docs promise of them.

nox is no dependency of the suite: noxfile.py is loaded here with a stand-in for the
``nox`` module whose decorators hand the session functions back unchanged, and a session
is called with a stand-in ``Session`` that runs the CLI in this process.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import types
from pathlib import Path
from typing import Any

import pytest

from livesession import cli

ROOT = Path(__file__).resolve().parent.parent


def _noxfile(monkeypatch: pytest.MonkeyPatch) -> Any:
    fake = types.ModuleType("nox")
    fake.options = types.SimpleNamespace()  # type: ignore[attr-defined]
    fake.session = lambda *a, **k: lambda f: f  # type: ignore[attr-defined]
    fake.parametrize = lambda *a, **k: lambda f: f  # type: ignore[attr-defined]
    fake.Session = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "nox", fake)
    spec = importlib.util.spec_from_file_location("_noxfile_under_test", ROOT / "noxfile.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Session:
    """What the ``dryrun`` session uses of ``nox.Session``: its ``tmp`` is kept between
    invocations, as nox keeps ``.nox/dryrun/tmp`` (``reuse_existing_virtualenvs``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def install(self, *args: str) -> None:
        pass

    def create_tmp(self) -> str:
        tmp = self.root / ".nox" / "dryrun" / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return str(tmp)

    def run(self, program: str, *args: str, **kwargs: Any) -> None:
        assert program == "livesession"
        code = cli.main(list(args))
        assert code == 0, f"livesession {' '.join(args)} exited {code}"


def test_nox_dryrun_runs_again_in_the_same_checkout(tmp_path, monkeypatch, capsys):
    """Bug: ``nox -s dryrun``, the smoke run the README offers, passed once per checkout:
    run again, its ``livesession dryrun --out .nox/dryrun/tmp --run-id smoke`` was refused
    (exit 2, ``run directory .nox/dryrun/tmp/smoke already exists and holds a finished
    run``), since nox keeps the session's tmp directory. It starts from no smoke run now."""
    noxfile = _noxfile(monkeypatch)
    session = _Session(tmp_path)
    noxfile.dryrun(session)
    noxfile.dryrun(session)
    assert "OK " in capsys.readouterr().out


_SET = re.compile(r'"((?:LIVESESSION|HYPOTHESIS)_[A-Z_]+)"')


def test_every_variable_a_session_sets_is_read():
    """Bug: ``nox -s crash`` set ``LIVESESSION_CRASH_CAMPAIGN=deep``, which nothing read,
    so the "deeper" crash campaign the README names ran the normal sweep, as CI does. Each
    variable noxfile.py sets is read by the tests, the benchmarks or the package."""
    read = "\n".join(
        p.read_text(encoding="utf-8")
        for where in ("tests", "src", "bench")
        for p in (ROOT / where).rglob("*.py")
        if p.resolve() != Path(__file__).resolve()
    )
    names = set(_SET.findall((ROOT / "noxfile.py").read_text(encoding="utf-8")))
    assert names, "noxfile.py sets no variable: the pattern no longer finds them"
    assert sorted(n for n in names if f'"{n}"' not in read) == []


class _Recording(_Session):
    """A session that records the environment each command is given, and runs nothing."""

    def __init__(self, root: Path, posargs: tuple[str, ...] = ()) -> None:
        super().__init__(root)
        self.posargs = list(posargs)
        self.envs: list[dict[str, str]] = []

    def run(self, program: str, *args: str, **kwargs: Any) -> None:
        self.envs.append(kwargs.get("env") or {})


@pytest.mark.parametrize("name", ["fuzz", "verbs", "failure_matrix"])
def test_a_deep_hypothesis_campaign_draws_afresh(tmp_path, monkeypatch, name):
    """Bug: ``nox -s verbs`` left the suite's ``ci`` profile on, which derandomizes: its 400
    examples were the same 400 at every run (the counts it prints were identical), so running
    the deep campaign again explored nothing new. Each deep hypothesis campaign runs a profile
    that draws afresh (the failing example is still printed, and kept in .hypothesis/)."""
    from hypothesis import settings

    session = _Recording(tmp_path)
    getattr(_noxfile(monkeypatch), name)(session)
    (env,) = session.envs
    assert not settings.get_profile(env.get("HYPOTHESIS_PROFILE", "ci")).derandomize


def test_the_lowest_install_holds_the_testing_kit_to_its_oldest_versions(monkeypatch):
    """``installed(lowest)`` pins the ``testing`` extra's floors too (hypothesis, pytest,
    jsonschema) and runs the test file docs/testing.md shows: a desk's CI on the oldest
    versions pyproject allows runs the kit as the docs do."""
    monkeypatch.chdir(ROOT)
    noxfile = _noxfile(monkeypatch)
    pins = noxfile._lowest_pins()
    for name in ("hypothesis", "pytest", "jsonschema", "attrs", "transitions", "structlog"):
        assert sum(pin.startswith(f"{name}==") for pin in pins) == 1, (name, pins)
    example = noxfile._testing_example()
    assert example.startswith('"""tests/test_breakout.py')
    assert "run_failure_matrix(factory" in example
    compile(example, "test_breakout.py", "exec")  # the whole file, not a cut of it


def test_the_minimums_session_pins_every_extra_to_its_floor(monkeypatch):
    """``minimums`` installs every extra a desk may choose (all but ``dev``, which only adds
    tools), each dependency once at its ``>=`` bound: an extra added later is not left out."""
    import tomllib

    from packaging.requirements import Requirement

    monkeypatch.chdir(ROOT)
    noxfile = _noxfile(monkeypatch)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    extras = project["optional-dependencies"]
    assert set(noxfile.MINIMUM_EXTRAS) == set(extras) - {"dev"}
    pins = noxfile._lowest_pins(noxfile.MINIMUM_EXTRAS)
    wanted = [
        *project["dependencies"],
        *(r for extra in noxfile.MINIMUM_EXTRAS for r in extras[extra]),
    ]
    for requirement in map(Requirement, wanted):
        (floor,) = (s.version for s in requirement.specifier if s.operator == ">=")
        assert pins.count(f"{requirement.name}=={floor}") == 1, (requirement, pins)
    assert len(pins) == len({pin.split("==")[0] for pin in pins})
    for test in noxfile.MINIMUM_TESTS:
        assert (ROOT / test).is_file(), test
