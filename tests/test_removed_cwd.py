"""The CLI started in a working directory that was removed (``mkdir d; cd d; rmdir ../d``).

A plug-in's import asked for the working directory (to keep it off ``sys.path``) and
failed (``importing 'desk.quiet:make' raised FileNotFoundError``), and a relative path
failed with ``No such file or directory``, naming neither the path nor the cause. Now
plug-ins and absolute paths work there as anywhere, and a relative path is refused in one
line that names it and says the current directory no longer exists (exit 2, nothing written).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import pytest

from _helpers import QUIET_STRATEGY

_QUIET = (
    QUIET_STRATEGY
    + """

def make(*, strategy_id="quiet"):
    return Quiet(strategy_id)
"""
)

_GONE = "is a relative path, and the current directory no longer exists (it was removed)"


def _in_removed_dir(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``livesession ARGS`` started in a new directory in ``tmp_path``, removed before it starts."""
    return _python_in_removed_dir(tmp_path, "-m", "livesession.cli", *args)


def _python_in_removed_dir(tmp_path: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    """``python ARGS`` started in a new directory in ``tmp_path``, removed before it starts."""
    gone = tempfile.mkdtemp(prefix="gone-", dir=tmp_path)
    script = 'cd "$1" && rmdir "$1" && shift && exec "$@"'
    command = [sys.executable, *map(str, args)]
    return subprocess.run(
        ["sh", "-c", script, "sh", gone, *command],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(name="config")
def _config(tmp_path: Path) -> Path:
    """A config naming a strategy plug-in in a package beside it."""
    desk = tmp_path / "desk"
    (desk / "quietdesk").mkdir(parents=True)
    (desk / "quietdesk" / "__init__.py").write_text("")
    (desk / "quietdesk" / "quiet.py").write_text(textwrap.dedent(_QUIET))
    config = desk / "quiet.toml"
    config.write_text(
        'run_id = "q"\nsteps = 8\nstrategy_factory = "quietdesk.quiet:make"\n', encoding="utf-8"
    )
    return config


def test_a_plug_in_and_absolute_paths_work(tmp_path: Path, config: Path) -> None:
    out = tmp_path / "runs"
    ran = _in_removed_dir(tmp_path, "dryrun", "--config", config, "--out", out, "-q")
    assert (ran.returncode, ran.stderr) == (0, "")
    assert (out / "q" / "metrics.json").is_file()
    for command in ("verify", "status"):
        said = _in_removed_dir(tmp_path, command, out / "q")
        assert (said.returncode, said.stderr) == (0, ""), command
        assert str(out / "q") in said.stdout


@pytest.mark.parametrize(
    ("args", "named"),
    [
        pytest.param(("dryrun",), "argument --out: out/runs ", id="dryrun-default-out"),
        pytest.param(("dryrun", "--out", "runs"), "argument --out: runs ", id="dryrun-out"),
        pytest.param(("verify", "runs/q"), "argument run_dir: runs/q ", id="verify"),
        pytest.param(("status", "runs/q"), "argument run_dir: runs/q ", id="status"),
        pytest.param(("list", "runs"), "argument out_dir: runs ", id="list"),
    ],
)
def test_a_relative_path_is_refused_in_one_line(
    tmp_path: Path, args: tuple[str, ...], named: str
) -> None:
    said = _in_removed_dir(tmp_path, *args)
    assert said.returncode == 2
    assert said.stdout == ""
    (line,) = said.stderr.splitlines()
    assert line.startswith(f"livesession: error: {named}{_GONE}")
    assert list(tmp_path.iterdir()) == []  # nothing written (the removed directory aside)


def test_a_relative_config_or_feed_is_refused_before_anything_is_written(
    tmp_path: Path, config: Path
) -> None:
    out = tmp_path / "runs"
    said = _in_removed_dir(tmp_path, "dryrun", "--config", "desk/quiet.toml", "--out", out)
    assert said.returncode == 2
    way_out = "give an absolute path, or cd to a directory that exists"
    assert said.stderr.splitlines() == [
        f"livesession: error: argument --config/-c: desk/quiet.toml {_GONE}: {way_out}"
    ]
    said = _in_removed_dir(
        tmp_path, "dryrun", "--config", config, "--out", out, "--feed", "csv:bars.csv"
    )
    assert said.returncode == 2
    (line,) = said.stderr.splitlines()
    assert line.startswith(f"livesession: error: feed csv:bars.csv: bars.csv {_GONE}")
    assert not out.exists()


_LIBRARY_CALLS = """
import sys
from livesession import DryrunConfig, create_run, resume_run

for call in (
    lambda: create_run(DryrunConfig(steps=5), "runs"),
    lambda: resume_run("runs/q"),
):
    try:
        call()
    except Exception as exc:
        print(type(exc).__name__, exc)
session = create_run(DryrunConfig(run_id="lib", steps=5), sys.argv[1])
session.run_to_end(5)
session.close()
print("absolute ok")
"""


@pytest.mark.skipif(
    sys.version_info[:3] == (3, 13, 0),
    reason="CPython 3.13.0 itself cannot `import socket` in a removed working directory "
    "(SystemError: error return without exception set, from os._get_exports_list)",
)
def test_the_library_refuses_a_relative_path_there_by_name(tmp_path: Path) -> None:
    """``create_run`` / ``resume_run`` with a relative path from a removed working directory:
    a ``ConfigError`` naming the argument and the path (``create_run`` raised a bare
    ``FileNotFoundError`` naming no file); an absolute path works there."""
    out = tmp_path / "runs"
    said = _python_in_removed_dir(tmp_path, "-c", _LIBRARY_CALLS, out)
    assert said.returncode == 0, said.stderr
    way_out = "give an absolute path, or cd to a directory that exists"
    assert said.stdout.splitlines() == [
        f"ConfigError out_dir: runs {_GONE}: {way_out}",
        f"ConfigError run_dir: runs/q {_GONE}: {way_out}",
        "absolute ok",
    ]
    assert [path.name for path in out.iterdir()] == ["lib"]
