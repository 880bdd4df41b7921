"""A config is code: which references are refused, and which commands run a run's code.

A reference (``strategy_factory``, ``feed``, ``broker``) names a callable that livesession
imports and calls with the params table, before anything checks what it returned: before,
``broker = "os:system"`` with ``[broker_params] command = "..."`` ran the shell command and
was refused only after. A module of Python's standard library is now refused before
anything is imported or called. docs/plugins.md ("A config is code") says which commands
import a run's plug-ins; this holds them to it.
"""

from __future__ import annotations

import sys
import textwrap

import pytest

from livesession import PluginError, create_run, load_config
from livesession.cli import main

from crash_harness import cli


@pytest.mark.parametrize(
    ("toml", "ref"),
    [
        ('broker = "os:system"\n[broker_params]\ncommand = "touch {marker}"', "os:system"),
        (
            'feed = "subprocess:getoutput"\n[feed_params]\ncmd = "touch {marker}"',
            "subprocess:getoutput",
        ),
        ('strategy_factory = "os.path:join"', "os.path:join"),
        ('strategy_factory = "builtins:exec"', "builtins:exec"),
    ],
)
def test_a_reference_into_the_standard_library_is_refused_before_it_is_called(tmp_path, toml, ref):
    marker = tmp_path / "ran"
    config = tmp_path / "std.toml"
    config.write_text('run_id = "std"\nsteps = 5\n' + toml.format(marker=marker) + "\n")
    out = tmp_path / "runs"
    cfg = load_config(config)
    with pytest.raises(PluginError) as raised:
        create_run(cfg, out)
    said = str(raised.value)
    assert f"cannot use {ref!r}: " in said
    assert "is Python's standard library, not a plug-in" in said
    assert not marker.exists(), "the command ran"
    assert not out.exists()


def test_the_cli_refuses_it_in_one_line_exit_2(tmp_path):
    marker = tmp_path / "ran"
    config = tmp_path / "std.toml"
    config.write_text(
        f'run_id = "std"\nbroker = "os:system"\n[broker_params]\ncommand = "touch {marker}"\n'
    )
    proc = cli("dryrun", "-c", config, "--out", tmp_path / "runs", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1
    assert proc.stderr.startswith(
        f"livesession: error: config file {config}, line 2: broker: cannot use 'os:system': "
        "os is Python's"
    )
    assert not marker.exists()
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("toml", "line", "said"),
    [
        (
            'steps = 5\n\nstrategy_factory = "nosuchpkg.mod:make"\n',
            3,
            "strategy_factory: cannot import 'nosuchpkg.mod:make': No module named 'nosuchpkg'",
        ),
        (
            'feed = "trust_emptyplug:nope"\n',
            1,
            "feed: cannot use 'trust_emptyplug:nope': trust_emptyplug has no nope",
        ),
        (
            'seed = 1\nbroker = "os:system"\n',
            2,
            "broker: cannot use 'os:system': os is Python's standard library",
        ),
    ],
)
def test_a_reference_that_cannot_be_imported_names_its_key_file_and_line(
    tmp_path, toml, line, said
):
    """Bug: ``cannot import 'x:y'`` said neither the key (strategy_factory, feed, broker)
    nor the file and line that set it, as every other refusal of a config file does."""
    (tmp_path / "trust_emptyplug.py").write_text("")  # a name no other test imports
    config = tmp_path / "desk.toml"
    config.write_text('run_id = "named"\n' + toml)
    with pytest.raises(PluginError) as raised:
        create_run(load_config(config), tmp_path / "runs")
    assert str(raised.value).startswith(f"config file {config}, line {line + 1}: {said}")
    assert not (tmp_path / "runs").exists()


def test_a_flags_reference_names_its_key_not_the_file(tmp_path, capsys):
    config = tmp_path / "desk.toml"
    config.write_text('run_id = "flag"\nstrategy_factory = "deskplug:make"\n')
    out = tmp_path / "runs"
    argv = ["dryrun", "-c", str(config), "--strategy", "nosuchpkg.m:make", "--out", str(out)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        "livesession: error: strategy_factory: cannot import 'nosuchpkg.m:make': No module"
    )
    assert not out.exists()


PLUG = """
from pathlib import Path

with Path(__file__).with_name("imports.log").open("a") as log:
    log.write("imported\\n")


class Quiet:
    def __init__(self, strategy_id):
        self.strategy_id = strategy_id

    def on_bar(self, bar, view):
        return []

    def get_state(self):
        return {}

    def set_state(self, state):
        pass


def make(*, strategy_id):
    return Quiet(strategy_id)
"""


def test_a_package_of_ones_own_named_like_a_standard_module_is_not_refused(tmp_path):
    """The config's directory comes first: ``mailbox/`` there is the desk's own package."""
    package = tmp_path / "mailbox"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "strat.py").write_text(textwrap.dedent(PLUG))
    config = tmp_path / "own.toml"
    config.write_text('run_id = "own"\nsteps = 5\nstrategy_factory = "mailbox.strat:make"\n')
    was = {name: sys.modules.pop(name) for name in list(sys.modules) if name == "mailbox"}
    try:
        with create_run(load_config(config), tmp_path / "runs") as session:
            assert session.preflight()
    finally:
        for name in [n for n in sys.modules if n.partition(".")[0] == "mailbox"]:
            del sys.modules[name]
        sys.modules.update(was)
    assert (package / "imports.log").read_text() == "imported\n"


def _forget(package: str) -> None:
    """Drop ``package`` from this process, so that the next import runs its module again."""
    for name in [n for n in sys.modules if n.partition(".")[0] == package]:
        del sys.modules[name]


def test_only_dryrun_resume_evidence_and_a_burn_in_drill_import_a_runs_plug_ins(tmp_path):
    """``verify``, ``status``, ``list``, ``report``, ``prom`` and ``burnin`` read files only."""
    desk = tmp_path / "desk"
    (desk / "trustplug").mkdir(parents=True)
    (desk / "trustplug" / "__init__.py").write_text("")
    (desk / "trustplug" / "strat.py").write_text(textwrap.dedent(PLUG))
    log = desk / "trustplug" / "imports.log"
    config = desk / "t.toml"
    config.write_text('run_id = "t"\nsteps = 20\nstrategy_factory = "trustplug.strat:make"\n')
    out = tmp_path / "runs"
    run = str(out / "t")
    try:
        assert main(["dryrun", "-c", str(config), "--out", str(out), "-q"]) == 0
        assert log.read_text() == "imported\n"
        _forget("trustplug")
        for args in (
            ["verify", run],
            ["status", run],
            ["list", str(out)],
            ["report", run],
            ["prom", run],
            ["burnin", "--out", str(tmp_path / "bi"), run],
        ):
            main(args)
            assert "trustplug" not in sys.modules, args
        assert log.read_text() == "imported\n"
        main(["evidence", "--out", str(tmp_path / "ev"), run])
        assert "trustplug" in sys.modules  # the source check and the kill drill, in-process
        assert log.read_text().count("imported") == 3  # and the re-run's process
    finally:
        _forget("trustplug")
