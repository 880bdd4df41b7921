"""Plug-ins by reference, end to end: the user's strategy package in ``examples/mydesk``.

The CLI runs in a subprocess from a directory unrelated to the config, so references
resolve from the config file's directory and never from the current one. A killed run
resumes byte for byte; a changed source file makes ``resume`` and ``evidence`` refuse
(exit 2, one line naming the reference, nothing changed). Bad references are refused
before a run directory exists.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.abc
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import attrs
import orjson
import pytest

from livesession import (
    ConfigError,
    DryrunConfig,
    LiveSessionOrchestrator,
    MockBroker,
    PluginError,
    RandomWalkFeed,
    create_run,
    load_config,
    resume_run,
    verify_run,
)
from livesession._rundir.layout import config_hash
from livesession._support.references import not_a, protocol_members
from livesession._typing import Broker, Strategy
from livesession.aio import open_session

from _helpers import one_line_error
from crash_harness import KILLED, cli

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
MYDESK_TOML = EXAMPLES / "mydesk.toml"
REF = "mydesk.breakout:make_strategy"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tree(root: Path) -> dict[str, str]:
    """Every file under ``root`` with its SHA-256 (to show that nothing changed)."""
    return {str(p.relative_to(root)): _sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def _json(proc: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """The one JSON object a ``--json`` command printed: stdout is that object and nothing else."""
    lines = proc.stdout.splitlines()
    assert len(lines) == 1, proc.stdout
    obj = orjson.loads(lines[0])
    assert isinstance(obj, dict)
    return obj


@pytest.fixture(name="desk")
def _desk(tmp_path: Path) -> Path:
    """A copy of examples/ (the package and its config) the test may change."""
    desk = tmp_path / "desk"
    shutil.copytree(
        EXAMPLES / "mydesk", desk / "mydesk", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(MYDESK_TOML, desk / "mydesk.toml")
    return desk


@pytest.fixture(name="elsewhere")
def _elsewhere(tmp_path: Path) -> Path:
    """A current directory with a decoy ``mydesk`` package that must never be imported."""
    cwd = tmp_path / "elsewhere"
    (cwd / "mydesk").mkdir(parents=True)
    (cwd / "mydesk" / "__init__.py").write_text("raise RuntimeError('decoy mydesk imported')\n")
    return cwd


def test_examples_config_runs_verifies_and_has_evidence_from_another_cwd(tmp_path, elsewhere):
    out = tmp_path / "runs"
    proc = cli("dryrun", "--config", MYDESK_TOML, "--out", out, "--json", cwd=elsewhere)
    assert proc.returncode == 0, proc.stderr
    result = _json(proc)
    assert result["status"] == "COMPLETED"
    assert result["exit_code"] == 0
    assert result["orders"] > 0  # the breakout strategy traded: it is the one that ran
    run_dir = out / "mydesk"
    config = orjson.loads((run_dir / "config.json").read_bytes())
    assert config["strategy_factory"] == REF
    assert config["strategy_params"] == {"lookback": 20, "qty": "0.010"}
    assert config["base_dir"] == str(EXAMPLES)
    source = config["sources"]["strategy"]
    assert source["ref"] == REF
    assert source["sha256"] == _sha(EXAMPLES / "mydesk" / "breakout.py")

    verified = cli("verify", run_dir, "--json", cwd=elsewhere)
    assert verified.returncode == 0, verified.stderr
    assert _json(verified)["ok"] is True

    evidence = cli("evidence", run_dir, "--json", cwd=elsewhere)
    assert evidence.returncode == 0, evidence.stderr
    assert _json(evidence)["ok"] is True
    manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
    assert manifest["plugins"]["strategy"]["sha256"] == source["sha256"]
    assert manifest["determinism"]["status"] == "match"
    document = next(run_dir.glob("EV-*.md")).read_text()
    assert f"strategy {REF}, source SHA-256 {source['sha256']}" in document


def test_reference_never_resolves_from_the_current_directory(tmp_path):
    """A config whose directory has no ``mydesk`` fails, though the cwd has the package."""
    config_dir = tmp_path / "configs"
    config_dir.mkdir()
    (config_dir / "desk.toml").write_text(MYDESK_TOML.read_text())
    cwd = tmp_path / "cwd"
    shutil.copytree(EXAMPLES / "mydesk", cwd / "mydesk")
    out = tmp_path / "runs"
    proc = cli("dryrun", "--config", config_dir / "desk.toml", "--out", out, cwd=cwd)
    one_line_error(proc, REF, "No module named 'mydesk'")
    # ... and the one line says why and what to do instead.
    one_line_error(proc, "mydesk is in the current directory, which is never searched")
    assert "pass --config, or install it" in proc.stderr
    assert not out.exists()

    plain = tmp_path / "plain"
    plain.mkdir()
    proc = cli("dryrun", "--strategy", REF, "--out", out, cwd=plain)
    one_line_error(proc, REF, "No module named 'mydesk'")
    assert "current directory" not in proc.stderr  # no package here: no such hint
    assert not out.exists()


@pytest.mark.parametrize("entry", [".", "CWD"])
def test_pythonpath_naming_the_current_directory_is_said(tmp_path, monkeypatch, entry):
    """``PYTHONPATH=. livesession dryrun --strategy ...`` beside the package: the line says
    why the path the desk set did not find it (the current directory is left out whatever
    names it), not only that the current directory is never searched."""
    cwd = tmp_path / "desk"
    shutil.copytree(EXAMPLES / "mydesk", cwd / "mydesk")
    named = str(cwd) if entry == "CWD" else entry
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([named, os.environ.get("PYTHONPATH", "")]))
    out = tmp_path / "runs"
    proc = cli("dryrun", "--strategy", REF, "--out", out, cwd=cwd)
    one_line_error(proc, REF, "No module named 'mydesk'")
    one_line_error(
        proc,
        "mydesk is in the current directory, which is never searched "
        f"(PYTHONPATH's {named!r} names it, and is left out too): name it in a config file",
    )
    assert not out.exists()


def test_killed_run_resumes_byte_for_byte_and_changed_code_is_refused(tmp_path, desk, elsewhere):
    config = desk / "mydesk.toml"
    straight = cli("dryrun", "-c", config, "--out", tmp_path / "straight", "-q", cwd=elsewhere)
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "runs"
    killed = cli("dryrun", "-c", config, "--out", out, "-q", crash_at="checkpoint:2", cwd=elsewhere)
    assert killed.returncode == KILLED
    run_dir = out / "mydesk"

    # The strategy's source changes: resume refuses, naming it, and changes nothing.
    source = desk / "mydesk" / "breakout.py"
    original = source.read_bytes()
    source.write_bytes(original + b"\n# tuned after the run started\n")
    before = _tree(run_dir)
    refused = cli("resume", run_dir, "--json", cwd=elsewhere)
    err = one_line_error(refused, REF, "changed since run mydesk started")
    assert _json(refused) == {
        "ok": False,
        "exit_code": 2,
        "error": err.removeprefix("livesession: error: "),
    }
    assert _tree(run_dir) == before

    source.write_bytes(original)
    resumed = cli("resume", run_dir, "--json", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    assert _json(resumed)["status"] == "COMPLETED"
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        assert _sha(run_dir / name) == _sha(tmp_path / "straight" / "mydesk" / name), name
    assert cli("verify", run_dir, cwd=elsewhere).returncode == 0

    # Evidence re-runs the same code; changed code is refused there too, before writing.
    source.write_bytes(original + b"\n# changed again\n")
    refused = cli("evidence", run_dir, cwd=elsewhere)
    one_line_error(refused, REF, "changed since run mydesk started")
    assert not (run_dir / "manifest.json").exists()


def _crashed_then_moved(
    tmp_path: Path, desk: Path, elsewhere: Path, *, to: str
) -> tuple[Path, Path]:
    """The mydesk run killed at its second checkpoint, its package then moved to ``to``."""
    killed = cli(
        "dryrun", "-c", desk / "mydesk.toml", "--out", tmp_path / "runs", "-q",
        crash_at="checkpoint:2", cwd=elsewhere,
    )  # fmt: skip
    assert killed.returncode == KILLED
    site = tmp_path / to
    shutil.move(desk / "mydesk", site / "mydesk")  # the package, installed there
    return tmp_path / "runs" / "mydesk", site


def test_a_crashed_run_whose_package_is_installed_elsewhere_is_resumable_as_resume_finds(
    tmp_path, desk, elsewhere, monkeypatch
):
    """Bug: a crashed run handed to another machine, where its package is installed at
    another path, read `resumable  no: the source of strategy ... cannot be read
    (<recorded path>: No such file or directory)` (status exit 5, and evidence and burnin
    `cannot be resumed`), while `livesession resume` there found the same code where it
    imports it and continued the run. The code is now looked for where resume looks (the
    run's base_dir, then the installed packages), without importing it."""
    from livesession.status import Verdict, run_status

    run_dir, site = _crashed_then_moved(tmp_path, desk, elsewhere, to="site")

    missing = run_status(run_dir)
    assert missing.verdict is Verdict.NEEDS_OPERATOR
    assert missing.resume_problem == (
        f"the source of strategy {REF!r} cannot be found: no module mydesk.breakout in "
        f"{desk}, then the installed packages (the run recorded "
        f"{desk / 'mydesk' / 'breakout.py'}): restore the code the run started with, or "
        "install it"
    )

    monkeypatch.syspath_prepend(str(site))
    found = run_status(run_dir)
    assert (found.verdict, found.resume_problem) == (Verdict.CRASHED, None)
    (site / "mydesk" / "breakout.py").write_text("# tuned after the run started\n")
    assert "changed since run mydesk started" in str(run_status(run_dir).resume_problem)
    (site / "mydesk" / "breakout.py").write_bytes(
        (EXAMPLES / "mydesk" / "breakout.py").read_bytes()
    )

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), *sys.path])}
    resumed = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "resume", str(run_dir), "-q"],
        cwd=elsewhere, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr  # what status said: resume continues it
    assert verify_run(run_dir).ok


class _EditableFinder(importlib.abc.MetaPathFinder):
    """What ``pip install -e`` installs (setuptools' editable finder): a finder appended to
    ``sys.meta_path`` mapping a package's name to its folder, and no ``sys.path`` entry."""

    def __init__(self, name: str, folder: Path) -> None:
        self.name, self.folder = name, folder

    def find_spec(self, fullname, path=None, target=None):
        if fullname != self.name:
            return None
        init = str(self.folder / "__init__.py")
        return importlib.util.spec_from_file_location(
            fullname, init, submodule_search_locations=[str(self.folder)]
        )


def test_a_crashed_run_of_an_editable_installed_package_is_resumable(
    tmp_path, desk, elsewhere, monkeypatch
):
    """Bug: a crashed run of a package installed by `pip install -e` (setuptools' editable
    finder on sys.meta_path, no sys.path entry) read `resumable  no: the source of
    strategy ... cannot be found: no module ... then the installed packages` (status exit
    5: a person must look), while `livesession resume` imported the package and continued
    the run. The code is looked for by the import system's other finders too."""
    from livesession.status import Verdict, run_status

    run_dir, site = _crashed_then_moved(tmp_path, desk, elsewhere, to="src")  # editable
    monkeypatch.setattr(
        sys, "meta_path", [*sys.meta_path, _EditableFinder("mydesk", site / "mydesk")]
    )
    found = run_status(run_dir)
    assert (found.verdict, found.resume_problem) == (Verdict.CRASHED, None)
    assert "mydesk" not in sys.modules  # looked for, never imported
    original = (site / "mydesk" / "breakout.py").read_bytes()
    (site / "mydesk" / "breakout.py").write_text("# tuned after the run started\n")
    assert "changed since run mydesk started" in str(run_status(run_dir).resume_problem)
    (site / "mydesk" / "breakout.py").write_bytes(original)

    editable = textwrap.dedent(f"""
        import importlib.util, sys
        class Finder:
            def find_spec(self, name, path=None, target=None):
                if name == "mydesk":
                    return importlib.util.spec_from_file_location(
                        name, {str(site / "mydesk" / "__init__.py")!r},
                        submodule_search_locations=[{str(site / "mydesk")!r}])
        sys.meta_path.append(Finder())
        from livesession.__main__ import main
        sys.argv = ["livesession", "resume", {str(run_dir)!r}, "-q"]
        sys.exit(main())
    """)
    resumed = subprocess.run(
        [sys.executable, "-c", editable],
        cwd=elsewhere, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr  # what status said: resume continues it
    assert verify_run(run_dir).ok


PLUG = """
from decimal import Decimal
from livesession import MockBroker, RandomWalkFeed


def walk(*, symbol, seed, start):
    return RandomWalkFeed(
        symbol=symbol,
        seed=seed,
        initial_price=Decimal(start),
        tick=Decimal("0.01"),
        lot=Decimal("0.001"),
    )


def not_a_strategy(*, strategy_id):
    return {"strategy_id": strategy_id}


def raises(*, strategy_id, lookback):
    raise ValueError(f"lookback {lookback} is too short")


def not_a_feed(*, symbol):
    return [symbol]


class Momentum:
    strategy_id = "momentum_v3"

    def on_bar(self, bar, view):
        return ()

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def renamed(*, strategy_id):
    return Momentum()  # ignores the strategy_id the session passes


class SimBroker(MockBroker):
    simulated = True


class LiveBroker(MockBroker):
    simulated = False


def sim_broker(*, seed=1):
    return SimBroker(seed=seed, price_tick=Decimal("0.01"), qty_lot=Decimal("0.001"))


def journaled_broker(*, seed=1, journal=None):
    grid = {"price_tick": Decimal("0.01"), "qty_lot": Decimal("0.001")}
    return SimBroker(seed=seed, journal=journal, **grid)


def live_broker():
    return LiveBroker(seed=1, price_tick=Decimal("0.01"), qty_lot=Decimal("0.001"))


class QuietBroker(MockBroker):  # declares nothing (an exact MockBroker is known by its kind)
    pass


def undeclared_broker():
    return QuietBroker(seed=1, price_tick=Decimal("0.01"), qty_lot=Decimal("0.001"))


class Chatty(Momentum):
    def on_bar(self, bar, view):
        print("debug: bar", bar.close)  # what a user's strategy does while it is written
        return ()


def chatty(*, strategy_id):
    print("building the chatty strategy")
    made = Chatty()
    made.strategy_id = strategy_id
    return made


class BelowPython(Momentum):
    # Writes to file descriptor 1 as a solver's C library or a child process does.
    def on_bar(self, bar, view):
        import os
        import subprocess
        import sys

        os.write(1, b"solver: converged\\n")
        subprocess.run([sys.executable, "-c", "print('child: done')"], check=True)
        return ()


def below_python(*, strategy_id):
    made = BelowPython()
    made.strategy_id = strategy_id
    return made


def takes_any(*, strategy_id, **params):
    made = Momentum()
    made.strategy_id = strategy_id
    return made


def walk_any(*, symbol, **params):
    return walk(symbol=symbol, seed=1, start="100.00")
"""


@pytest.fixture(name="plugdir")
def _plugdir(tmp_path: Path) -> Path:
    plugdir = tmp_path / "plugs"
    (plugdir / "userplug").mkdir(parents=True)
    (plugdir / "userplug" / "__init__.py").write_text("")
    (plugdir / "userplug" / "parts.py").write_text(textwrap.dedent(PLUG))
    return plugdir


@pytest.mark.parametrize(
    ("toml", "needles"),
    [
        ('strategy_factory = "nosuchpkg.mod:make"', ("nosuchpkg.mod:make", "cannot import")),
        ('strategy_factory = "mydesk.breakout:nope"', ("mydesk.breakout:nope", "has no nope")),
        (  # a typo is answered with the name nearest it
            'strategy_factory = "mydesk.breakout:make_stratgey"',
            ("has no make_stratgey (did you mean make_strategy?)",),
        ),
        (
            'strategy_factory = "mydesk.breakout:ChannelBreakout.on_bra"',
            ("has no ChannelBreakout.on_bra (did you mean ChannelBreakout.on_bar?)",),
        ),
        (
            'strategy_factory = "userplug.parts:raises"\n[strategy_params]\nlookback = 1',
            ("userplug.parts:raises", "ValueError: lookback 1 is too short"),
        ),
        (
            'strategy_factory = "userplug.parts:not_a_strategy"',
            (
                "userplug.parts:not_a_strategy",
                (
                    "returned a dict, not a Strategy: it lacks get_state, on_bar, set_state,"
                    " strategy_id (see docs/plugins.md"
                ),
            ),
        ),
        (
            'feed = "userplug.parts:not_a_feed"',
            ("userplug.parts:not_a_feed", "not a MarketFeed: it lacks get_state, next_bar"),
        ),
        (
            'broker = "userplug.parts:not_a_feed"\n[broker_params]\nsymbol = "X"',
            ("userplug.parts:not_a_feed", "not a Broker"),
        ),
        ('strategy_factory = "not a reference"', ("strategy_factory", "'not a reference'")),
        (
            'strategy_factory = "userplug.parts:renamed"',
            (
                (
                    "strategy_factory 'userplug.parts:renamed' made a strategy with strategy_id"
                    " 'momentum_v3', but the config's strategy_id is 'parts'"
                ),
                "set strategy_id = 'momentum_v3' in the config",
            ),
        ),
        ("[strategy_params]\nlookback = 3", ("strategy_params", "strategy_factory")),
        (
            # The demo's table beside a strategy of one's own was silently ignored.
            'strategy_factory = "mydesk.breakout:make_strategy"\n[strategy]\nfast = 3',
            ("[strategy] sets the demo strategy's parameters", "[strategy_params]"),
        ),
    ],
)
def test_bad_reference_exits_2_with_one_line_and_writes_nothing(tmp_path, plugdir, toml, needles):
    shutil.copytree(EXAMPLES / "mydesk", plugdir / "mydesk")
    config = plugdir / "bad.toml"
    config.write_text(f'run_id = "bad"\n{toml}\n')
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", config, "--out", out, "--json", cwd=tmp_path)
    err = one_line_error(proc, *needles)
    assert _json(proc)["error"] == err.removeprefix("livesession: error: ")
    assert not out.exists()


MOVING = {
    # A script's habit: work from the module's own folder, to open its files by short names.
    "at_import.py": """
import os

os.chdir(os.path.dirname(os.path.abspath(__file__)))

from userplug.parts import takes_any as make
""",
    "in_factory.py": """
import os

from userplug.parts import takes_any


def make(*, strategy_id):
    os.chdir(os.path.dirname(os.path.abspath(__file__)))
    return takes_any(strategy_id=strategy_id)
""",
}


@pytest.mark.parametrize("module", sorted(MOVING))
def test_a_plug_in_that_changes_the_working_directory_is_refused_leaving_nothing(
    tmp_path, plugdir, module
):
    """Bug: the run directory was made from the directory livesession started in, and
    written from the one the plug-in moved to: `cannot create run runs/moved: no such
    directory (runs/moved); nothing was left behind`, with runs/moved/writer.lock left
    behind. The plug-in is refused by name, the directory changed back first."""
    for name, code in MOVING.items():
        (plugdir / "userplug" / name).write_text(textwrap.dedent(code))
    ref = f"userplug.{module.removesuffix('.py')}:make"
    config = plugdir / "moved.toml"
    config.write_text(f'run_id = "moved"\nstrategy_factory = "{ref}"\n')
    proc = cli("dryrun", "-c", config, "--out", "runs", cwd=tmp_path)
    one_line_error(
        proc,
        f"strategy_factory '{ref}' changed the working directory (os.chdir) from {tmp_path} "
        f"to {plugdir / 'userplug'} as it was imported or built",
        "open your own files by absolute paths",
    )
    assert not (tmp_path / "runs").exists()
    assert not (plugdir / "userplug" / "runs").exists()


EXITING = {
    "factories.py": """
import sys


def exits_with_a_message(*, strategy_id):
    sys.exit("lookback must be at least 2")


def exits_0(*, strategy_id):
    raise SystemExit(0)


def feed_exits(*, symbol):
    sys.exit(5)


def broker_exits():
    raise SystemExit


def interrupted(*, strategy_id):
    raise KeyboardInterrupt


def generator_exit(*, strategy_id):
    raise GeneratorExit  # a generator's clean-up code, called by hand


def out_of_memory(*, symbol):
    raise MemoryError


def base_exception():
    raise BaseException("a library's own base class")
""",
    "exits_at_import.py": "import sys\n\nsys.exit(3)\n",
    "generator_exit_at_import.py": "raise GeneratorExit\n",
    "argparse_at_import.py": """
import argparse

parser = argparse.ArgumentParser()
parser.add_argument("--lookback", type=int, default=5)
ARGS = parser.parse_args()  # the process's arguments are the CLI's: it refuses them
""",
}


@pytest.fixture(name="exiting")
def _exiting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package of plug-ins that exit; each test imports its own copy in-process."""
    plugdir = tmp_path / "exiting"
    (plugdir / "exitplug").mkdir(parents=True)
    (plugdir / "exitplug" / "__init__.py").write_text("")
    for name, text in EXITING.items():
        (plugdir / "exitplug" / name).write_text(textwrap.dedent(text))
    monkeypatch.setattr(sys, "argv", ["app", "--not-the-plug-ins"])  # argparse refuses them
    yield plugdir
    for name in [name for name in sys.modules if name.partition(".")[0] == "exitplug"]:
        del sys.modules[name]


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (
            'strategy_factory = "exitplug.factories:exits_with_a_message"',
            (
                "strategy_factory 'exitplug.factories:exits_with_a_message' raised "
                "SystemExit('lookback must be at least 2') (at {factories}:6 in "
                "exits_with_a_message)"
            ),
        ),
        (
            'strategy_factory = "exitplug.factories:exits_0"',
            (
                "strategy_factory 'exitplug.factories:exits_0' raised SystemExit(0) (at "
                "{factories}:10 in exits_0)"
            ),
        ),
        (
            'feed = "exitplug.factories:feed_exits"',
            (
                "feed 'exitplug.factories:feed_exits' raised SystemExit(5) (at {factories}:14 in "
                "feed_exits)"
            ),
        ),
        (
            'broker = "exitplug.factories:broker_exits"',
            (
                "broker 'exitplug.factories:broker_exits' raised SystemExit(None) (at "
                "{factories}:18 in broker_exits)"
            ),
        ),
        (
            'strategy_factory = "exitplug.exits_at_import:make"',
            (
                "config file {config}, line 2: strategy_factory: importing "
                "'exitplug.exits_at_import:make' raised SystemExit(3) (at "
                "{package}/exits_at_import.py:3 in <module>)"
            ),
        ),
        (
            'strategy_factory = "exitplug.factories:generator_exit"',
            (
                "strategy_factory 'exitplug.factories:generator_exit' raised GeneratorExit (at "
                "{factories}:26 in generator_exit)"
            ),
        ),
        (
            'feed = "exitplug.factories:out_of_memory"',
            (
                "feed 'exitplug.factories:out_of_memory' raised MemoryError (at {factories}:30 in "
                "out_of_memory)"
            ),
        ),
        (
            'broker = "exitplug.factories:base_exception"',
            (
                "broker 'exitplug.factories:base_exception' raised BaseException: a "
                "library's own base class (at {factories}:34 in base_exception)"
            ),
        ),
        (
            'strategy_factory = "exitplug.generator_exit_at_import:make"',
            (
                "config file {config}, line 2: strategy_factory: importing "
                "'exitplug.generator_exit_at_import:make' raised GeneratorExit (at "
                "{package}/generator_exit_at_import.py:1 in <module>)"
            ),
        ),
        (
            'strategy_factory = "exitplug.argparse_at_import:make"',
            (
                "config file {config}, line 2: strategy_factory: importing "
                "'exitplug.argparse_at_import:make' raised SystemExit(2) (at "
                "{package}/argparse_at_import.py:6 in <module>)"
            ),
        ),
    ],
)
def test_a_plug_in_exiting_while_built_exits_2_naming_it(tmp_path, exiting, toml, said):
    """Bug: ``sys.exit`` in a plug-in's module or factory ended the CLI silently with the
    plug-in's code (0, 1, 3), and with ``--json`` stdout held nothing. It is a bad
    reference like any other: exit 2, one line naming it and the exit's code.
    Bug: ``GeneratorExit`` or another ``BaseException`` (not Ctrl-C) raised so ended the CLI
    with a traceback (exit 1); an error without a message (``MemoryError``) was said as
    ``raised MemoryError:``, its colon left hanging.
    Bug: none of it named the line of the plug-in's that raised: nothing of the run is
    written yet, its traceback in no log."""
    config = exiting / "exits.toml"
    config.write_text(f'run_id = "exits"\n{toml}\n')
    package = exiting / "exitplug"
    # An import's failure names the config's file and line too.
    said = said.format(config=config, package=package, factories=package / "factories.py")
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", config, "--out", out, "--json", cwd=tmp_path)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert _json(proc) == {"ok": False, "exit_code": 2, "error": said}
    # Ours is one line, the last; argparse prints its own usage and complaint before it.
    ours = [line for line in proc.stderr.splitlines() if line.startswith("livesession:")]
    assert ours == [f"livesession: error: {said}"], proc.stderr
    assert proc.stderr.splitlines()[-1] == ours[0]
    assert not out.exists()
    # In Python it is the PluginError any other failing factory raises.
    cfg = load_config(config)
    with pytest.raises(PluginError, match=f"^{re.escape(said)}$"):
        create_run(cfg, out)
    assert not out.exists()


def test_an_interrupt_while_a_plug_in_is_built_still_interrupts(tmp_path, exiting):
    config = exiting / "interrupted.toml"
    config.write_text('run_id = "ctrl-c"\nstrategy_factory = "exitplug.factories:interrupted"\n')
    with pytest.raises(KeyboardInterrupt):
        create_run(load_config(config), tmp_path / "runs")
    assert not (tmp_path / "runs").exists()


KEEPS_ITS_PARAMS = """
class Keeps:
    def __init__(self, *, strategy_id, window, opts):
        self.strategy_id, self.window, self.opts = strategy_id, window, opts

    def on_bar(self, bar, view):
        self.window.append(str(bar.close))  # its history, in the list it was given
        self.opts["last"] = str(bar.close)
        return []

    def get_state(self):
        return {"window": self.window, "opts": self.opts}

    def set_state(self, state):
        self.window, self.opts = state["window"], state["opts"]


def make(*, strategy_id, window, opts):
    return Keeps(strategy_id=strategy_id, window=window, opts=opts)


def feed(*, symbol, window):
    from decimal import Decimal
    from livesession import RandomWalkFeed
    window.append("fed")
    return RandomWalkFeed(
        symbol=symbol, seed=1, initial_price=Decimal("100.00"), tick=Decimal("0.01"),
        lot=Decimal("0.001"),
    )
"""


def test_a_factory_that_changes_its_params_changes_its_copy_not_the_config(tmp_path):
    """Bug: a params table's list or table was handed to the factory as the config held it:
    a strategy that kept it and appended to it each bar changed the config itself, which
    every checkpoint then wrote (its config's `window` grown by every bar's close: a
    checkpoint growing with the run), and a second session built from the same config was
    given the changed list. Each factory gets a copy of its own."""
    (tmp_path / "keepsplug.py").write_text(KEEPS_ITS_PARAMS)
    config = tmp_path / "keeps.toml"
    config.write_text(
        'run_id = "keeps"\nsteps = 30\nstrategy_factory = "keepsplug:make"\n'
        'feed = "keepsplug:feed"\n'
        '[strategy_params]\nwindow = ["1"]\nopts = {a = 1}\n[feed_params]\nwindow = []\n'
    )
    cfg = load_config(config)
    for run_id in ("keeps", "again"):
        with create_run(attrs.evolve(cfg, run_id=run_id), tmp_path / "runs") as session:
            session.run_to_end(cfg.steps)
    assert cfg.strategy_params == {"window": ["1"], "opts": {"a": 1}}
    assert cfg.feed_params == {"window": []}
    for run_id in ("keeps", "again"):
        run_dir = tmp_path / "runs" / run_id
        checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
        assert checkpoint["config"]["strategy_params"] == cfg.strategy_params
        assert checkpoint["config"]["feed_params"] == cfg.feed_params
        assert len(checkpoint["strategy"]["window"]) == 1 + 30  # its own copy grew
        assert verify_run(run_dir).ok
    # The second run began as the first did: the same config, not the first's leftovers.
    first, again = (
        (tmp_path / "runs" / run_id / "events.jsonl").read_bytes().count(b'"BAR"')
        for run_id in ("keeps", "again")
    )
    assert first == again == 30


def test_a_strategy_of_ones_own_is_named_by_its_module_unless_the_config_names_it(
    tmp_path, plugdir, monkeypatch
):
    """With no ``strategy_id``, a factory's strategy is recorded and leased under its module's
    name, never the demo's: two desks' strategies would otherwise share a name (and a lease)
    and the evidence would name the demo for a strategy that is not it."""
    out = tmp_path / "runs"
    config = plugdir / "own.toml"
    config.write_text('run_id = "own"\nsteps = 5\nstrategy_factory = "userplug.parts:chatty"\n')
    proc = cli("dryrun", "-c", config, "--out", out, "--lease", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = out / "own"
    assert orjson.loads((run_dir / "config.json").read_bytes())["strategy_id"] == "parts"
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    assert {orjson.loads(line)["strategy_id"] for line in lines} == {"parts"}
    assert (out / ".leases" / "default__parts.lease").is_file()
    assert cli("verify", run_dir, cwd=tmp_path).returncode == 0

    named = plugdir / "named.toml"
    named.write_text(
        'run_id = "named"\nsteps = 5\nstrategy_id = "chatty_v2"\n'
        'strategy_factory = "userplug.parts:chatty"\n'
    )
    assert cli("dryrun", "-c", named, "--out", out, "-q", cwd=tmp_path).returncode == 0
    assert orjson.loads((out / "named" / "config.json").read_bytes())["strategy_id"] == "chatty_v2"
    assert DryrunConfig().strategy_id == "sma_demo"  # the demo keeps its name

    # The API's reference names it the same way; a config's own name stays.
    monkeypatch.syspath_prepend(str(plugdir))
    for cfg, name in (
        (DryrunConfig(run_id="api", steps=3), "parts"),
        (DryrunConfig(run_id="api2", steps=3, strategy_id="mine"), "mine"),
    ):
        with create_run(cfg, out, strategy="userplug.parts:chatty") as session:
            assert session.config.strategy_id == name
            session.run_to_end(3)
    with pytest.raises(ConfigError, match="strategy_id must be a non-empty name"):
        DryrunConfig(strategy_id="  ")


def test_a_run_of_ones_own_strategy_is_named_after_it_not_the_demo(tmp_path, plugdir):
    """Without a run id, a dry run of a desk's strategy was ``demo-001``: its directory, its
    every event and its evidence named the demo. It is ``<strategy_id>-NNN`` now; the demo
    keeps ``demo-NNN``, and ``--strategy`` on the command line counts as the config's."""
    out = tmp_path / "runs"
    config = plugdir / "unnamed.toml"
    config.write_text('steps = 5\nstrategy_factory = "userplug.parts:chatty"\n')
    for _ in range(2):
        assert cli("dryrun", "-c", config, "--out", out, "-q", cwd=tmp_path).returncode == 0
    assert cli("dryrun", "--out", out, "--steps", "5", "-q", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["demo-001", "parts-001", "parts-002"]
    first = orjson.loads((out / "parts-001" / "events.jsonl").read_bytes().splitlines()[0])
    assert (first["run_id"], first["strategy_id"]) == ("parts-001", "parts")
    for run in out.iterdir():
        assert cli("verify", run, cwd=tmp_path).returncode == 0


def test_a_basket_s_demo_sessions_are_named_after_their_strategy_ids(tmp_path):
    """Bug: docs/concepts.md's basket (one config a symbol, each the demo strategy with its own
    ``strategy_id``, ``basket-btc`` ..., run in parallel without --run-id) made ``demo-001``,
    ``demo-002`` and ``demo-003`` in whatever order the three processes got there: ``list``
    could not tell the BTC/USDT run from the SOL/USDT one. A config that names the demo
    session takes its ``strategy_id`` as the run's name now (``basket-btc-001``); the demo
    under its own name keeps ``demo-NNN``."""
    out = tmp_path / "runs"
    for coin in ("btc", "eth"):
        config = tmp_path / f"{coin}.toml"
        config.write_text(
            f'symbol = "{coin.upper()}/USDT"\nstrategy_id = "basket-{coin}"\nsteps = 5\n'
        )
        assert cli("dryrun", "-c", config, "--out", out, "-q", cwd=tmp_path).returncode == 0
    assert cli("dryrun", "--out", out, "--steps", "5", "-q", cwd=tmp_path).returncode == 0
    assert sorted(p.name for p in out.iterdir()) == ["basket-btc-001", "basket-eth-001", "demo-001"]
    first = orjson.loads((out / "basket-eth-001" / "events.jsonl").read_bytes().splitlines()[0])
    assert (first["run_id"], first["strategy_id"]) == ("basket-eth-001", "basket-eth")


def test_a_max_order_qty_below_the_demos_order_qty_does_not_refuse_ones_own_strategy(
    tmp_path, desk
):
    """Bug: preflight held the demo's order_qty (0.010 by default) against max_order_qty
    whatever strategy ran, so ``max_order_qty = "0.005"`` refused a desk's strategy trading
    0.002 (exit 3, ``CONFIG_INVALID: order_qty 0.010 > max_order_qty 0.005``, a value the
    user never set); ``[strategy]`` is refused beside a factory, so nothing helped."""
    config = desk / "mydesk.toml"
    text = config.read_text().replace('qty = "0.010"', 'qty = "0.002"')
    config.write_text(f'{text}\n[risk]\nmax_order_qty = "0.005"\n')
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", config, "--out", out, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    result = _json(proc)
    assert (result["status"], result["orders"] > 0) == ("COMPLETED", True)
    events = [
        orjson.loads(line) for line in (out / "mydesk" / "events.jsonl").read_bytes().splitlines()
    ]
    assert {"check": "config_valid", "passed": True, "reason": ""} in [
        e["payload"] for e in events if e["event_type"] == "PREFLIGHT_CHECK"
    ]
    assert not [e for e in events if e["event_type"] == "RISK_REJECTED"]


def test_json_stdout_holds_the_object_only_whatever_a_strategy_prints(tmp_path, plugdir):
    """A strategy (or its factory) that prints put its lines before the --json object, and
    a reader of stdout got no JSON. What plug-ins print now goes to stderr."""
    config = plugdir / "chatty.toml"
    config.write_text('run_id = "chatty"\nsteps = 5\nstrategy_factory = "userplug.parts:chatty"\n')
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", config, "--out", out, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1
    assert orjson.loads(proc.stdout)["steps"] == 5
    assert proc.stderr.count("debug: bar") == 5
    assert "building the chatty strategy" in proc.stderr


def test_json_stdout_holds_the_object_only_whatever_reaches_file_descriptor_1(tmp_path, plugdir):
    """Bug: only Python's ``print`` was sent to stderr; what a plug-in wrote to file
    descriptor 1 below Python (a solver's C library logging, a child process it starts)
    still came before the --json object, and a reader of stdout got no JSON."""
    config = plugdir / "below.toml"
    config.write_text(
        'run_id = "below"\nsteps = 3\nstrategy_factory = "userplug.parts:below_python"\n'
    )
    proc = cli("dryrun", "-c", config, "--out", tmp_path / "runs", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("\n") == 1, proc.stdout
    assert orjson.loads(proc.stdout)["steps"] == 3
    assert proc.stderr.count("solver: converged") == 3
    assert proc.stderr.count("child: done") == 3
    assert verify_run(tmp_path / "runs" / "below").ok


def test_user_broker_declared_simulated_is_audited_and_shown_in_evidence(tmp_path, plugdir):
    config = plugdir / "sim.toml"
    config.write_text('run_id = "sim"\nsteps = 50\nbroker = "userplug.parts:sim_broker"\n')
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", config, "--out", out, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = out / "sim"
    checks = [
        orjson.loads(line)
        for line in (run_dir / "events.jsonl").read_bytes().splitlines()
        if b'"PREFLIGHT_CHECK"' in line
    ]
    user = [c for c in checks if c["payload"]["check"] == "user_broker"]
    assert len(user) == 1
    assert user[0]["payload"]["passed"] is True
    assert user[0]["payload"]["detail"] == (
        "user-supplied broker userplug.parts:sim_broker, declared simulated"
    )
    assert cli("evidence", run_dir, cwd=tmp_path).returncode == 0
    manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
    summary = manifest["plugins"]["broker"]["summary"]
    assert summary.startswith("user-supplied broker, declared simulated")
    assert manifest["determinism"]["status"] == "match"
    assert "user-supplied broker, declared simulated" in next(run_dir.glob("EV-*.md")).read_text()


def test_a_user_broker_taking_a_journal_resumes_where_its_venue_stood(tmp_path, plugdir):
    """A broker factory with a ``journal`` parameter gets the run's venue journal.

    A simulated broker of one's own kept its venue in memory: a crashed run resumed on a
    fresh venue that knew no position (109 orders for 9 signals, every exit cancelled, the
    run sealed FAILED), and its evidence failed. Given the journal, a ``MockBroker``
    subclass rebuilds its venue as it stood, and the resumed run is the uninterrupted one.
    """
    config = plugdir / "journaled.toml"
    config.write_text(
        'run_id = "jb"\nsteps = 300\ncheckpoint_every = 40\n'
        'broker = "userplug.parts:journaled_broker"\n'
    )
    straight = cli("dryrun", "-c", config, "--out", tmp_path / "straight", "-q", cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    out = tmp_path / "runs"
    killed = cli("dryrun", "-c", config, "--out", out, "-q", crash_at="checkpoint:4", cwd=tmp_path)
    assert killed.returncode == KILLED
    run_dir = out / "jb"
    assert (run_dir / "broker_journal.jsonl").stat().st_size > 0
    resumed = cli("resume", run_dir, "-q", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    for name in ("events.jsonl", "state_snapshots.jsonl"):
        assert _sha(run_dir / name) == _sha(tmp_path / "straight" / "jb" / name), name
    assert cli("verify", run_dir, cwd=tmp_path).returncode == 0


def test_dryrun_keeps_memory_ids_to_the_venues_a_resume_rebuilds(tmp_path, plugdir):
    """Bug: ``dryrun --idempotency-backend memory`` refused only a ``ccxt:`` broker. A
    broker of one's own whose venue keeps its orders across a crash (a paper account) then
    resumed with no record of the client order ids sent after the checkpoint, and sent
    those orders to the venue a second time. Refused now, one line, nothing written; the
    mock venue, which a resume rebuilds as it stood, keeps ``memory``."""
    config = plugdir / "paper.toml"
    config.write_text('run_id = "paper"\nsteps = 20\nbroker = "userplug.parts:sim_broker"\n')
    out = tmp_path / "runs"
    refused = cli(
        "dryrun", "-c", config, "--out", out, "--idempotency-backend", "memory", "-q", cwd=tmp_path
    )
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert (
        "idempotency backend 'memory' cannot be used with broker 'userplug.parts:sim_broker'"
        in (refused.stderr)
    )
    assert "--idempotency-backend sqlite (the default) or jsonl" in refused.stderr
    assert not out.exists()
    mock = plugdir / "mock.toml"
    mock.write_text('run_id = "throwaway"\nsteps = 20\n')
    kept = cli("dryrun", "-c", mock, "--out", out, "--idempotency-backend", "memory", "-q")
    assert kept.returncode == 0, kept.stderr


def test_create_run_refuses_memory_ids_as_dryrun_does(tmp_path, plugdir):
    """Bug: ``dryrun`` refused ``memory`` with a broker of one's own, but ``create_run`` (and
    ``aio.open_session(out_dir=...)``, which calls it) took it, and a resume after a crash
    sent the orders sent after the checkpoint to that venue a second time. The API now
    refuses it with the same check and message (the API's fix), nothing written; the mock
    venue keeps ``memory``."""
    config = plugdir / "paper.toml"
    config.write_text('run_id = "paper"\nsteps = 20\nbroker = "userplug.parts:sim_broker"\n')
    out = tmp_path / "runs"
    said = (
        "idempotency backend 'memory' cannot be used with broker 'userplug.parts:sim_broker': "
        "its client order ids die with the process"
    )
    with pytest.raises(ConfigError, match="^" + re.escape(said)) as refused:
        create_run(load_config(config), out, idempotency_backend="memory", alerts=False)
    assert "idempotency_backend='sqlite' (the default) or 'jsonl'" in str(refused.value)
    # docs/embedding.md quotes it: a broker of one's own read "would send the orders the
    # venue keeps them again", which the page (rightly) did not say.
    embedding = " ".join((ROOT / "docs" / "embedding.md").read_text(encoding="utf-8").split())
    quoted = re.search(r"`(idempotency backend 'memory' cannot be used [^`]+)`", embedding)
    assert quoted is not None
    for part in quoted.group(1).split("..."):
        assert part.strip(" :") in str(refused.value), part
    mock = DryrunConfig(run_id="own", steps=5)
    with pytest.raises(ConfigError, match="with broker MockBroker \\(an object supplied"):
        create_run(mock, out, idempotency_backend="memory", broker=MockBroker(seed=1))

    def open_paper(cfg, run_dir):
        return MockBroker(seed=1)

    with pytest.raises(ConfigError, match="with broker from broker_factory=open_paper"):
        create_run(mock, out, idempotency_backend="memory", broker_factory=open_paper)

    async def opened() -> None:
        async with open_session(load_config(config), out_dir=out, idempotency_backend="memory"):
            pass

    with pytest.raises(ConfigError, match="^" + re.escape(said)):
        asyncio.run(opened())
    assert not out.exists()
    kept = create_run(mock, out, idempotency_backend="memory", alerts=False)
    assert kept.run_to_end(5).status.value == "COMPLETED"


def test_feed_by_reference_gets_its_params_and_is_recorded(tmp_path, plugdir):
    config = plugdir / "feed.toml"
    config.write_text(
        'run_id = "walk"\nsteps = 20\nfeed = "userplug.parts:walk"\n'
        '[feed_params]\nseed = 5\nstart = "100.00"\n'
    )
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", config, "--out", out, "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert _json(proc)["status"] == "COMPLETED"
    run_dir = out / "walk"
    bars = [
        orjson.loads(line)["payload"]
        for line in (run_dir / "events.jsonl").read_bytes().splitlines()
        if b'"BAR"' in line
    ]
    # The factory's start price, not the config's initial_price (42000.00), opened the walk.
    assert bars
    assert abs(float(bars[0]["close"]) - 100.0) < 5
    written = orjson.loads((run_dir / "config.json").read_bytes())
    assert written["feed_params"] == {"seed": 5, "start": "100.00"}
    assert written["sources"]["feed"]["ref"] == "userplug.parts:walk"
    assert written["sources"]["feed"]["sha256"] == _sha(plugdir / "userplug" / "parts.py")


@pytest.mark.parametrize(
    ("factory", "said"),
    [("live_broker", "declares simulated = False"), ("undeclared_broker", "does not declare")],
)
def test_user_broker_not_declared_simulated_is_rejected(tmp_path, plugdir, factory, said):
    config = plugdir / "live.toml"
    config.write_text(f'run_id = "live"\nsteps = 5\nbroker = "userplug.parts:{factory}"\n')
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", config, "--out", out, "-q", cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "USER_BROKER_NOT_SIMULATED" in proc.stderr
    assert said in proc.stderr
    assert "live trading is off" in proc.stderr


RESUME_WITH_OBJECT = """
import sys
from pathlib import Path
from livesession import PluginError, create_run, load_config, resume_run
from livesession._support.references import resolve

examples, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
ChannelBreakout = resolve("mydesk.breakout:ChannelBreakout", examples)[0]
strategy = ChannelBreakout(strategy_id="sma_demo", lookback=10)
if mode == "create":
    cfg = load_config(None, {"run_id": "obj", "steps": 300, "durability": "step"})
    session = create_run(cfg, out, strategy=strategy)
    session.run_to_end(cfg.steps)
    session.close()
elif mode == "resume-without":
    try:
        resume_run(out / "obj")
    except PluginError as exc:
        print(exc)
        sys.exit(2)
else:
    session = resume_run(out / "obj", strategy=strategy)
    session.run_to_end(session.config.steps)
    session.close()
"""


def test_strategy_object_is_recorded_and_resume_needs_it_again(tmp_path):
    script = tmp_path / "obj.py"
    script.write_text(RESUME_WITH_OBJECT)
    out = tmp_path / "runs"

    def run(mode: str, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ)
        env.pop("LIVESESSION_CRASH_AT", None)
        if crash_at:
            env["LIVESESSION_CRASH_AT"] = crash_at
        return subprocess.run(
            [sys.executable, str(script), str(EXAMPLES), str(out), mode],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert run("create", crash_at="checkpoint:2").returncode == KILLED
    run_dir = out / "obj"
    source = orjson.loads((run_dir / "config.json").read_bytes())["sources"]["strategy"]
    assert source["object"] == "mydesk.breakout.ChannelBreakout"
    assert source["supplied"] == "object supplied in-process"
    assert source["sha256"] == _sha(EXAMPLES / "mydesk" / "breakout.py")
    before = _tree(run_dir)
    refused = run("resume-without")
    assert refused.returncode == 2, refused.stderr
    assert "pass the same object as strategy= again" in refused.stdout
    assert _tree(run_dir) == before
    resumed = run("resume-with")
    assert resumed.returncode == 0, resumed.stderr
    assert cli("verify", run_dir).returncode == 0
    evidence = cli("evidence", run_dir, "--json")
    assert _json(evidence)["ok"] is True
    manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
    assert manifest["determinism"]["status"] == "not_applicable"
    assert "in-process" in manifest["determinism"]["reason"]


def test_livesession_resume_of_a_run_started_with_an_object_names_the_python_call(tmp_path):
    """Bug: ``livesession resume`` of a crashed run a desk's application started with a
    strategy object said ``... supplied in-process (mydesk.breakout.ChannelBreakout): pass
    the same object as strategy= again``, a keyword no flag of the command takes, where
    ``status`` of the same run said what continues it. The line now adds the call, as
    ``status`` names it, and that the command line cannot rebuild the object."""
    script = tmp_path / "obj.py"
    script.write_text(RESUME_WITH_OBJECT)
    out = tmp_path / "runs"
    env = {**os.environ, "LIVESESSION_CRASH_AT": "checkpoint:2"}
    created = subprocess.run(
        [sys.executable, str(script), str(EXAMPLES), str(out), "create"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert created.returncode == KILLED, created.stderr
    run_dir = out / "obj"
    before = _tree(run_dir)
    refused = cli("resume", run_dir, cwd=tmp_path)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr == (
        "livesession: error: run obj was started with a strategy object supplied in-process "
        "(mydesk.breakout.ChannelBreakout): pass the same object as strategy= again, as "
        f"resume_run({str(run_dir)!r}, strategy=<a mydesk.breakout.ChannelBreakout>) from "
        "Python (the command line cannot rebuild it)\n"
    )
    assert _tree(run_dir) == before
    resumed = subprocess.run(  # as the line says: the run is whole, and verifies
        [sys.executable, str(script), str(EXAMPLES), str(out), "resume-with"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    assert cli("verify", run_dir).returncode == 0


FORGETFUL = """
class Forgetful:
    def __init__(self, strategy_id):
        self.strategy_id, self.n = strategy_id, 0

    def on_bar(self, bar, view):
        self.n += 1
        return ()

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):  # a newer version that reads a key the old state lacks
        raise KeyError(f"n_v2 (login token=hunter2-Zq8vX1, n={state['n']})")


def make(*, strategy_id):
    return Forgetful(strategy_id)
"""


def _crashed_forgetful(tmp_path, plugdir):
    """A dry run of ``userplug.forgetful`` (as the test wrote it) killed at its 2nd checkpoint."""
    config = plugdir / "forgetful.toml"
    config.write_text(
        'run_id = "forgetful"\nsteps = 300\ndurability = "step"\n'
        'strategy_factory = "userplug.forgetful:make"\n'
    )
    out = tmp_path / "runs"
    crashed = cli("dryrun", "-c", config, "--out", out, "-q", crash_at="checkpoint:2", cwd=tmp_path)
    assert crashed.returncode == KILLED, crashed.stderr
    return out / "forgetful"


@pytest.mark.broken_run("a crashed run whose strategy can no longer restore its state stays so")
def test_a_set_state_that_raises_is_refused_before_resume_changes_anything(tmp_path, plugdir):
    """Bug: resume cut the artifacts back (events.jsonl.torn made), opened the idempotency
    store (its WAL folded in), and only then called the strategy's set_state, whose
    KeyError crashed the CLI with a traceback (exit 1), the run directory changed."""
    (plugdir / "userplug" / "forgetful.py").write_text(FORGETFUL)
    run_dir = _crashed_forgetful(tmp_path, plugdir)
    assert (run_dir / "checkpoint.json").exists()
    before = _tree(run_dir)
    refused = cli("resume", run_dir, cwd=tmp_path)
    err = one_line_error(
        refused,
        "cannot resume run forgetful: the strategy's set_state raised KeyError: ",
        "login token=***",
        # Bug: nor did it name the line of set_state that raised (in no log either).
        f"(at {plugdir / 'userplug' / 'forgetful.py'}:14 in set_state) on the state",
        "nothing was changed",
    )
    assert "hunter2" not in err
    assert _tree(run_dir) == before
    assert not list(run_dir.glob("*.torn"))


@pytest.mark.broken_run("a crashed run whose strategy exits as it restores its state stays so")
@pytest.mark.parametrize(("code", "said"), [("3", "SystemExit: 3 (at "), ("", "SystemExit (at ")])
def test_a_set_state_that_exits_is_refused_as_one_that_raises(tmp_path, plugdir, code, said):
    """Bug: a set_state that called ``sys.exit(3)`` (a newer version giving up on an old
    state) ended ``resume`` with exit 3, which says rejected or held by another process,
    and no line at all; ``sys.exit()`` with exit 0, which says sealed ``COMPLETED``. As a
    factory's ``SystemExit`` is, it is the plug-in's failure: exit 2, one line naming it."""
    (plugdir / "userplug" / "forgetful.py").write_text(
        "import sys\n"
        + FORGETFUL.replace(
            "raise KeyError(f\"n_v2 (login token=hunter2-Zq8vX1, n={state['n']})\")",
            f"sys.exit({code})",
        )
    )
    run_dir = _crashed_forgetful(tmp_path, plugdir)
    before = _tree(run_dir)
    refused = cli("resume", run_dir, cwd=tmp_path)
    one_line_error(
        refused,
        f"cannot resume run forgetful: the strategy's set_state raised {said}",
        f"{plugdir / 'userplug' / 'forgetful.py'}:15 in set_state) on the state its checkpoint",
        "nothing was changed",
    )
    assert _tree(run_dir) == before


def test_resuming_with_a_reference_a_run_started_otherwise_says_what_it_was_started_with(
    tmp_path,
):
    """Bug: a run started with a strategy object, resumed with ``strategy="x.y:make"``, was
    "started with strategy_factory None"; a feed object, "with feed 'random_walk'"."""
    cfg = load_config(None, {"run_id": "t16", "strategy_id": "momentum_v3", "steps": 3})
    walk = RandomWalkFeed(
        symbol=cfg.symbol,
        seed=cfg.seed,
        initial_price=cfg.initial_price,
        tick=cfg.price_tick,
        lot=cfg.qty_lot,
    )
    session = create_run(cfg, tmp_path, strategy=_Momentum(), feed=walk)
    session.run_to_end(3)
    session.close()
    plain = create_run(load_config(None, {"run_id": "plain", "steps": 3}), tmp_path)
    plain.run_to_end(3)
    plain.close()
    before = _tree(tmp_path)
    for run_id, given, said in [
        (
            "t16",
            {"strategy": "x.y:make"},
            (
                "run t16 was started with a strategy object supplied in-process "
                f"({__name__}._Momentum), not 'x.y:make': pass the same object as strategy= "
                "again"
            ),
        ),
        (
            "t16",
            {"feed": "x.y:make"},
            (
                "run t16 was started with a feed object supplied in-process "
                "(livesession._market.feeds.RandomWalkFeed), not 'x.y:make': pass the same "
                "object as feed= again"
            ),
        ),
        ("t16", {"broker": "x.y:make"}, "run t16 was started with broker 'mock', not 'x.y:make'"),
        (
            "plain",
            {"strategy": "x.y:make"},
            "run plain was started with the built-in strategy, not 'x.y:make'",
        ),
        (
            "plain",
            {"feed": "x.y:make"},
            "run plain was started with feed 'random_walk', not 'x.y:make'",
        ),
    ]:
        with pytest.raises(PluginError, match=f"^{re.escape(said)}$"):
            resume_run(tmp_path / run_id, **given)
    assert _tree(tmp_path) == before


def test_default_config_records_nothing_new(tmp_path):
    """No reference: config.json and the config hash keep the form they had before."""
    cfg = load_config(None, {"run_id": "plain"})
    assert not {"strategy_factory", "strategy_params", "base_dir", "sources"} & set(cfg.to_dict())
    toml = tmp_path / "plain.toml"
    toml.write_text('run_id = "plain"\n')
    from_file = load_config(toml)
    assert from_file.base_dir == str(tmp_path)
    assert from_file.to_dict() == cfg.to_dict()


def test_config_refuses_base_dir_and_unusable_params(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text('base_dir = "/elsewhere"\n')
    with pytest.raises(ConfigError, match="base_dir is not a setting"):
        load_config(toml)
    with pytest.raises(ConfigError, match="feed_params is given"):
        DryrunConfig(feed_params={"x": 1})
    with pytest.raises(ConfigError, match="not a keyword argument name"):
        DryrunConfig(strategy_factory=REF, strategy_params={"not-a-name": 1})


SECRET_VALUE = "s3cr3t-VALUE-9f8e7d6c5b4a"


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"api_secret": SECRET_VALUE}, "broker_params.api_secret looks like a secret"),
        ({"auth": {"password": SECRET_VALUE}}, "broker_params.auth.password looks like a"),
        ({"key_id": "AKIAZZZZ1234567890AB"}, "broker_params.key_id looks like a secret"),
        # Headers a broker of one's own sends, whose values have no form a rule knows:
        # before, they went into config.json and the checkpoints as written.
        (
            {"headers": {"Authorization": f"Basic {SECRET_VALUE}"}},
            r"broker_params.headers.Authorization looks like a secret \(its name\)",
        ),
        ({"headers": {"Cookie": f"sid={SECRET_VALUE}"}}, "broker_params.headers.Cookie looks"),
        ({"clientSecret": SECRET_VALUE}, "broker_params.clientSecret looks like a secret"),
        ({"credentials": SECRET_VALUE}, "broker_params.credentials looks like a secret"),
    ],
    ids=["secret-name", "nested", "aws-key-any-name", "basic-auth", "cookie", "camel", "creds"],
)
def test_a_secret_in_a_params_table_is_refused_before_anything_is_written(
    tmp_path, capsys, params, said
):
    """Before, it went into config.json and every checkpoint in plain text (the evidence's
    scan found it afterwards): the run directory is what reviewers are handed."""
    with pytest.raises(ConfigError, match=said) as caught:
        DryrunConfig(broker="userplug.parts:sim_broker", broker_params=params)
    assert "environment" in str(caught.value)
    assert SECRET_VALUE not in str(caught.value)
    assert "AKIA" not in str(caught.value)
    toml = tmp_path / "c.toml"
    toml.write_text(
        'run_id = "keyed"\nbroker = "userplug.parts:sim_broker"\n[broker_params]\n'
        f'api_secret = "{SECRET_VALUE}"\n'
    )
    from livesession.cli import main

    assert main(["dryrun", "--config", str(toml), "--out", str(tmp_path / "runs")]) == 2
    assert "broker_params.api_secret looks like a secret" in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_the_value_of_an_environment_secret_in_a_params_table_is_refused(monkeypatch):
    """A key of the environment, of no form a rule knows, under a name that says nothing
    (``venue = "..."``): before, it went into config.json and every checkpoint."""
    monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", "sbxKey7f3a9c2e1d0b4a68")
    said = r"broker_params.venue looks like a secret \(the value of \$LIVESESSION_BINANCE_API_KEY\)"
    with pytest.raises(ConfigError, match=said) as caught:
        DryrunConfig(
            broker="userplug.parts:sim_broker", broker_params={"venue": "sbxKey7f3a9c2e1d0b4a68"}
        )
    assert "sbxKey7f3a9c2e1d0b4a68" not in str(caught.value)


def test_placeholders_and_ordinary_params_are_not_secrets():
    params = {
        "api_key": "${API_KEY}",
        "token": "none",
        "max_tokens": 5,
        "author": "desk",
        "auth_mode": "hmac",
        "token_bucket": "burst",
        "tokens": "4096",
        "auth": "off",
        "headers": {"Authorization": "<your key>", "Accept": "application/json"},
    }
    assert DryrunConfig(broker="userplug.parts:sim_broker", broker_params=params).broker_params


_TAKES_ANY = (
    'run_id = "odd"\nstrategy_factory = "userplug.parts:takes_any"\n'
    'feed = "userplug.parts:walk_any"\nsymbol = "BTCUSDT"\nsteps = 5\n'
)
"""A config whose plug-ins take any params: without the refusal, the run goes ahead."""


@pytest.mark.parametrize(
    ("table", "said"),
    [
        (
            "[strategy_params]\nthreshold = nan",
            "strategy_params.threshold must be a finite number, got nan",
        ),
        (
            "[strategy_params]\nnote = {a = [1.0, -inf]}",
            "strategy_params.note.a must be a finite number, got -inf",
        ),
        ("[feed_params]\nstart = inf", "feed_params.start must be a finite number, got inf"),
    ],
    ids=["nan", "nested", "feed-inf"],
)
def test_nan_or_infinity_in_a_params_table_is_refused_before_anything_is_written(
    tmp_path, plugdir, table, said
):
    """Before, config.json recorded it as null: resume and evidence then refused the run as
    corrupt, so a crashed run could never be continued."""
    toml = plugdir / "c.toml"
    toml.write_text(f"{_TAKES_ANY}{table}\n")
    proc = cli("dryrun", "-c", toml, "--out", tmp_path / "runs", cwd=tmp_path)
    one_line_error(proc, f"{said}: config.json would record it as null")
    assert not (tmp_path / "runs").exists()
    with pytest.raises(ConfigError, match="must be a finite number, got nan"):
        DryrunConfig(strategy_factory=REF, strategy_params={"deep": [[{"x": float("nan")}]]})
    with pytest.raises(ConfigError, match=r"^broker_params.fee must be a finite number, got inf"):
        DryrunConfig.from_mapping(
            {"broker": "userplug.parts:sim_broker", "broker_params": {"fee": float("inf")}}
        )


_INT64 = "must be from -9223372036854775808 to 9223372036854775807 (a 64-bit integer"


def test_an_integer_beyond_64_bits_in_a_params_table_is_refused(tmp_path, plugdir):
    """Before, the config hash raised (``TypeError: Integer exceeds 64-bit range``): a
    traceback and exit 1, and nothing at all on stdout under ``--json``."""
    toml = plugdir / "c.toml"
    toml.write_text(f"{_TAKES_ANY}[strategy_params]\nthreshold = 99999999999999999999999\n")
    proc = cli("dryrun", "-c", toml, "--out", tmp_path / "runs", "--json", cwd=tmp_path)
    err = one_line_error(proc, f"strategy_params.threshold {_INT64}", "99999999999999999999999")
    assert _json(proc)["error"] == err.removeprefix("livesession: error: ")
    assert not (tmp_path / "runs").exists()
    for value in (2**70, -(2**63) - 1):
        with pytest.raises(ConfigError, match=rf"^strategy_params.note.n {re.escape(_INT64)}"):
            DryrunConfig.from_mapping(
                {"strategy_factory": REF, "strategy_params": {"note": {"n": [value]}}}
            )
    with pytest.raises(ConfigError, match=r"^strategy_params.note has the key 1, an int"):
        DryrunConfig(strategy_factory=REF, strategy_params={"note": {1: "one"}})
    edges = DryrunConfig(strategy_factory=REF, strategy_params={"a": 2**63 - 1, "b": -(2**63)})
    assert len(config_hash(edges)) == 64  # the largest and smallest are written and hashed


class _HalfAStrategy:
    strategy_id = "half"

    def on_bar(self, bar, view):
        return ()


def test_a_plug_in_that_is_not_one_names_what_it_lacks():
    """The message names the members a protocol asks for and the object lacks, or None."""
    assert not_a(_HalfAStrategy(), Strategy) == (
        "a _HalfAStrategy, not a Strategy: it lacks get_state, set_state"
    )
    assert not_a(None, Strategy) == "None, not a Strategy (does the factory end with `return`?)"
    assert protocol_members(Broker) == [
        "cancel", "close", "kind", "on_market", "open_orders", "order_by_client_id", "poll",
        "submit",
    ]  # fmt: skip


class _Momentum:
    strategy_id = "momentum_v3"

    def on_bar(self, bar, view):
        return ()

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def test_a_strategy_calling_itself_otherwise_is_refused_before_writing(tmp_path):
    """The run records the config's strategy_id: a strategy named otherwise would make the
    evidence name a strategy that did not run."""
    said = (
        "the strategy given has strategy_id 'momentum_v3', but the config's strategy_id is "
        "'sma_demo': the run would record the wrong strategy; set strategy_id = "
        "'momentum_v3' in the config, or give the strategy the config's"
    )
    cfg = load_config(None, {"run_id": "named"})
    with pytest.raises(PluginError, match=f"^{re.escape(said)}$"):
        create_run(cfg, tmp_path / "runs", strategy=_Momentum())
    assert not (tmp_path / "runs").exists()
    with pytest.raises(PluginError, match=re.escape(said)):
        LiveSessionOrchestrator(cfg, strategy=_Momentum())
    unnamed = _Momentum()
    unnamed.strategy_id = None  # type: ignore[assignment]
    with pytest.raises(PluginError, match="strategy_id None: it must be the config's, 'sma_demo'"):
        LiveSessionOrchestrator(cfg, strategy=unnamed)
    # Named alike, it runs and every event names it.
    session = create_run(
        attrs.evolve(cfg, strategy_id="momentum_v3", steps=3),
        tmp_path / "runs",
        strategy=_Momentum(),
    )
    session.run_to_end(3)
    session.close()
    events = (tmp_path / "runs" / "named" / "events.jsonl").read_text().splitlines()
    assert {orjson.loads(line)["strategy_id"] for line in events} == {"momentum_v3"}


def test_create_run_refuses_a_bad_object_before_writing(tmp_path):
    cfg = load_config(None, {"run_id": "obj"})
    with pytest.raises(ConfigError, match="is not a reference"):
        create_run(cfg, tmp_path / "runs", strategy="not a reference")
    with pytest.raises(
        ConfigError,
        match=r"feed= got an int, not a MarketFeed: it lacks get_state, next_bar, set_state, symbol$",
    ):
        create_run(cfg, tmp_path / "runs", feed=3)  # type: ignore[arg-type]
    assert not (tmp_path / "runs").exists()
    with pytest.raises(Exception, match="does not exist"):
        resume_run(tmp_path / "runs" / "obj")


def test_every_subcommand_has_a_description_and_shows_its_defaults():
    from livesession.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    for name, command in sub.choices.items():
        assert command.description, name
        text = command.format_help()
        for action in command._actions:
            if action.default not in (None, False, "==SUPPRESS==") and action.option_strings:
                assert f"default: {action.default}" in text or "default" in (action.help or ""), (
                    name,
                    action.dest,
                )
    dryrun_help = sub.choices["dryrun"].format_help()
    assert "(default: out/runs)" in dryrun_help
    assert "(default: sqlite)" in dryrun_help
    for flag in ("--strategy", "--feed", "--symbol", "--json"):
        assert flag in dryrun_help
    for name in ("resume", "verify", "evidence"):
        assert "--json" in sub.choices[name].format_help(), name


def test_cli_flags_reach_the_config(tmp_path):
    config = tmp_path / "eth.toml"
    config.write_text('run_id = "eth"\nsteps = 30\nallowlist = ["ETH/USDT"]\n')
    out = tmp_path / "runs"
    proc = cli(
        "dryrun",
        "-c",
        config,
        "--out",
        out,
        "--symbol",
        "ETH/USDT",
        "--strategy",
        REF,
        "--json",
        cwd=tmp_path,
    )
    # --strategy without a reference-bearing config dir: resolves from the config's directory
    # (which has no mydesk) and then the installed packages: refused, naming the reference.
    one_line_error(proc, REF)
    shutil.copytree(EXAMPLES / "mydesk", tmp_path / "mydesk")
    proc = cli(
        "dryrun", "-c", config, "--out", out, "--symbol", "ETH/USDT", "--strategy", REF, "--json"
    )
    assert proc.returncode == 0, proc.stderr
    assert _json(proc)["status"] == "COMPLETED"
    written = orjson.loads((out / "eth" / "config.json").read_bytes())
    assert written["symbol"] == "ETH/USDT"
    assert written["strategy_factory"] == REF
    assert written["base_dir"] == str(tmp_path)


def test_a_package_imported_from_elsewhere_is_not_taken_for_the_configs(tmp_path):
    """The process already has ``mydesk`` from examples/: another copy is refused, not mixed."""
    from livesession import PluginError
    from livesession._support.references import resolve

    _, record = resolve("mydesk.breakout:make_strategy", EXAMPLES)
    assert record["file"] == str(EXAMPLES / "mydesk" / "breakout.py")
    shutil.copytree(EXAMPLES / "mydesk", tmp_path / "mydesk")
    with pytest.raises(PluginError, match="already imported 'mydesk' from"):
        resolve("mydesk.breakout:make_strategy", tmp_path)


@pytest.mark.parametrize(
    ("table", "said"),
    [
        (
            "[strategy_params]\nsteps = 500\n",
            (
                "line 7: strategy_params.steps is refused: steps is a top-level key, and in "
                "TOML every key below the [strategy_params] header is in [strategy_params]"
            ),
        ),
        (
            '[strategy_params]\nlookback = 5\nmax_order_qty = "0.5"\n',
            (
                "line 8: strategy_params.max_order_qty is refused: max_order_qty is a key of "
                "[risk], not of [strategy_params]; strategy_factory 'userplug.parts:takes_any' "
                "names no parameter max_order_qty (a **kwargs would take it"
            ),
        ),
        (
            "[feed_params]\nlatency_ms = 5\n",
            (
                "line 7: feed_params.latency_ms is refused: latency_ms is a key of [fill_model] "
                "or [realish], not of [feed_params]; feed 'userplug.parts:walk_any' names no "
                "parameter latency_ms"
            ),
        ),
    ],
    ids=["top-level", "risk", "feed"],
)
def test_a_config_key_in_a_params_table_a_factory_takes_as_kwargs_is_refused(
    tmp_path, plugdir, table, said
):
    """Before, ``steps = 500`` or ``max_order_qty`` written below ``[strategy_params]`` by
    mistake went to a factory taking ``**kwargs``: the run went on with the default steps
    and the day-1 order cap, and nothing said so."""
    toml = plugdir / "c.toml"
    toml.write_text(f"{_TAKES_ANY}{table}")
    proc = cli("dryrun", "-c", toml, "--out", tmp_path / "runs", cwd=tmp_path)
    one_line_error(proc, f"config file {toml}, {said}")
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("table", "line", "said"),
    [
        (
            (
                'strategy_factory = "mydesk.breakout:make_strategy"\n'
                "[strategy_params]\nlookback = 20\nlokback = 20\n"
            ),
            6,
            (
                "strategy_params.lokback is refused: strategy_factory "
                "'mydesk.breakout:make_strategy' takes no parameter lokback (did you mean "
                "lookback?); it takes lookback, qty, strategy_id"
            ),
        ),
        (
            'feed = "userplug.parts:walk"\n[feed_params]\nseed = 1\nstrat = "100.00"\n',
            6,
            (
                "feed_params.strat is refused: feed 'userplug.parts:walk' takes no parameter "
                "strat (did you mean start?); it takes seed, start, symbol"
            ),
        ),
        (
            'broker = "userplug.parts:sim_broker"\n[broker_params]\nsede = 2\n',
            5,
            (
                "broker_params.sede is refused: broker 'userplug.parts:sim_broker' takes no "
                "parameter sede (did you mean seed?); it takes seed"
            ),
        ),
    ],
    ids=["strategy", "feed", "broker"],
)
def test_a_params_key_the_factory_takes_no_parameter_for_says_where_and_which_was_meant(
    tmp_path, plugdir, table, line, said
):
    """Before, a misspelt key of a params table (``lokback = 20``) reached the factory and was
    answered by Python: ``strategy_factory 'mydesk.breakout:make_strategy' raised TypeError:
    make_strategy() got an unexpected keyword argument 'lokback'``, naming neither the
    config file, nor its line, nor the parameter meant, where a misspelt config key says all
    three. A factory whose signature takes no ``**kwargs`` is held to it before it is called."""
    shutil.copytree(EXAMPLES / "mydesk", plugdir / "mydesk")
    toml = plugdir / "c.toml"
    toml.write_text(f'run_id = "typo"\nsteps = 5\n{table}')
    proc = cli("dryrun", "-c", toml, "--out", tmp_path / "runs", cwd=tmp_path)
    err = one_line_error(proc, f"livesession: error: config file {toml}, line {line}: {said}")
    assert err.endswith(said)
    assert not (tmp_path / "runs").exists()


def test_a_params_key_the_factory_names_or_the_demo_table_has_is_the_factorys(tmp_path, plugdir):
    """``seed`` a feed factory names (``walk``: see the feed test above) is its own, and so
    are the demo's ``[strategy]`` keys below ``[strategy_params]``: a strategy of one's own
    takes its parameters there (the refusal of ``[strategy]`` beside a factory says so)."""
    toml = plugdir / "c.toml"
    toml.write_text(f'{_TAKES_ANY}[strategy_params]\nfast = 3\norder_qty = "0.5"\n')
    out = tmp_path / "runs"
    proc = cli("dryrun", "-c", toml, "--out", out, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    written = orjson.loads((out / "odd" / "config.json").read_bytes())
    assert written["strategy_params"] == {"fast": 3, "order_qty": "0.5"}
