"""A misspelt strategy parameter is refused before a run id already taken is.

Before, a desk that copied examples/mydesk, wrote ``lookbak = 20`` for ``lookback`` and ran
``livesession dryrun`` with a run id that already existed was told ``run directory ...
already exists``; it chose another id, ran again, and only then learnt ``strategy_params.lookbak
is refused: ... (did you mean lookback?)``. The factory's signature is read (its module
imported, never called) before the run id is looked at: the same refusal line, at once.
"""

from __future__ import annotations

import hashlib
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from livesession import DataFileError, PluginError, create_run, load_config

from _helpers import one_line_error
from crash_harness import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SAID = (
    "line 11: strategy_params.lookbak is refused: strategy_factory '{ref}' takes no "
    "parameter lookbak (did you mean lookback?); it takes lookback, qty, strategy_id"
)


def _desk(tmp_path: Path, package: str) -> tuple[Path, Path]:
    """The example desk as ``package``, its config, and the same config with ``lookbak``."""
    desk = tmp_path / "desk"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(EXAMPLES / "mydesk", desk / package, ignore=ignore)
    text = (EXAMPLES / "mydesk.toml").read_text(encoding="utf-8")
    text = text.replace('"mydesk.breakout:', f'"{package}.breakout:')
    good, typo = desk / "desk.toml", desk / "typo.toml"
    good.write_text(text, encoding="utf-8")
    misspelt = re.sub(r"(?m)^lookback = ", "lookbak = ", text)
    assert misspelt != text
    typo.write_text(misspelt, encoding="utf-8")
    return good, typo


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _taken(tmp_path: Path, package: str) -> tuple[Path, Path, dict[str, str], str]:
    """A run of ``package``'s good config made under ``tmp_path / "runs"``: the config with
    the misspelt parameter, the runs' directory, its files as they are, the refusal's words."""
    _, typo, out, before = _made_run(tmp_path, package)
    return typo, out, before, SAID.format(ref=f"{package}.breakout:make_strategy")


def _made_run(tmp_path: Path, package: str) -> tuple[Path, Path, Path, dict[str, str]]:
    """``_desk``'s two configs, the runs' directory its good one made a run in, its files."""
    good, typo = _desk(tmp_path, package)
    out = tmp_path / "runs"
    made = cli("dryrun", "-c", good, "--out", out, "--steps", "5", "-q", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    return good, typo, out, _files(out)


def _taken_with(
    tmp_path: Path, package: str, name: str, edit: Callable[[str], str]
) -> tuple[Path, str, Path, dict[str, str]]:
    """``_made_run``, and the config ``name`` beside the good one, its text as ``edit`` makes
    it (the run id, taken, kept): that config, its text, the runs' directory, its files."""
    good, _, out, before = _made_run(tmp_path, package)
    config = good.with_name(name)
    text = edit(good.read_text(encoding="utf-8"))
    config.write_text(text, encoding="utf-8")
    return config, text, out, before


def test_dryrun_says_the_misspelt_parameter_before_the_run_id_taken(tmp_path: Path) -> None:
    typo, out, before, said = _taken(tmp_path, "mydesk")
    taken = cli("dryrun", "-c", typo, "--out", out, "--steps", "5", cwd=tmp_path)
    err = one_line_error(taken, f"livesession: error: config file {typo}, {said}")
    assert "already exists" not in err
    assert _files(out) == before  # the run there is as it was; nothing else written
    # The same line a free run id gets, as before: only said earlier.
    free = cli("dryrun", "-c", typo, "--out", out, "--run-id", "other", cwd=tmp_path)
    assert one_line_error(free) == err
    assert _files(out) == before


def test_create_run_says_the_misspelt_parameter_before_the_run_id_taken(tmp_path: Path) -> None:
    typo, out, before, said = _taken(tmp_path, "paramsfirst_desk")
    with pytest.raises(PluginError) as refused:
        create_run(load_config(typo), out, alerts=False)
    assert str(refused.value) == f"config file {typo}, {said}"
    assert _files(out) == before


def test_a_module_that_changes_directory_as_it_is_imported_is_refused_first(
    tmp_path: Path,
) -> None:
    """The early look imports the module inside the working-directory guard: a module that
    changes directory at import is refused then (and the directory changed back), not cached
    unseen for the build to miss."""
    good, _, out, before = _made_run(tmp_path, "mydesk")
    moving = good.parent / "movingdesk"
    moving.mkdir()
    (moving / "__init__.py").write_text("")
    (moving / "at_import.py").write_text(
        "import os\n\nos.chdir(os.path.dirname(os.path.abspath(__file__)))\n\n"
        "from mydesk.breakout import make_strategy as make\n"
    )
    config = good.parent / "moving.toml"
    config.write_text('run_id = "mydesk"\nstrategy_factory = "movingdesk.at_import:make"\n')
    proc = cli("dryrun", "-c", config, "--out", out, cwd=tmp_path)
    one_line_error(
        proc,
        "strategy_factory 'movingdesk.at_import:make' changed the working directory "
        f"(os.chdir) from {tmp_path} to {moving} as it was imported or built",
    )
    assert _files(out) == before
    assert not (moving / "runs").exists()


def test_a_strategy_table_setting_the_strategy_id_is_refused_before_the_run_id(
    tmp_path: Path,
) -> None:
    """Bug: ``strategy_id`` below ``[strategy_params]`` ("may not set strategy_id") was
    refused only when the strategy was built, after the run id: a user whose id was taken
    changed it first, to learn of this only then. It is refused with the misspelt keys now,
    naming the file and line, through the CLI and the API alike; nothing written."""
    config, text, out, before = _taken_with(
        tmp_path,
        "sessionkeys_desk",
        "sets.toml",
        lambda text: re.sub(r"(?m)^\[strategy_params\].*$", "\\g<0>\nstrategy_id = 'other'", text),
    )
    number = text.splitlines().index("strategy_id = 'other'") + 1
    said = (
        f"config file {config}, line {number}: strategy_params may not set 'strategy_id': the "
        "session passes it from the config (strategy_id = 'breakout'); set it there, not in "
        "[strategy_params]"
    )
    taken = cli("dryrun", "-c", config, "--out", out, cwd=tmp_path)
    assert one_line_error(taken) == f"livesession: error: {said}"
    with pytest.raises(PluginError) as refused:
        create_run(load_config(config), out, alerts=False)
    assert str(refused.value) == said
    assert _files(out) == before


def test_a_feed_table_setting_the_symbol_is_refused_before_the_run_id(tmp_path: Path) -> None:
    """The same of ``symbol`` below ``[feed_params]``: the session passes the config's."""
    config, text, out, before = _taken_with(
        tmp_path,
        "feedkeys_desk",
        "feed.toml",
        lambda text: text.replace(
            "[strategy_params]",
            'feed = "feedkeys_feed:make"\n\n[feed_params]\nsymbol = "ETH/USDT"\n\n[strategy_params]',
        ),
    )
    (config.parent / "feedkeys_feed.py").write_text(
        "def make(symbol):\n    raise AssertionError('never built')\n", encoding="utf-8"
    )
    number = text.splitlines().index('symbol = "ETH/USDT"') + 1
    said = (
        f"config file {config}, line {number}: feed_params may not set 'symbol': the session "
        "passes it from the config (symbol = 'BTC/USDT'); set it there, not in [feed_params]"
    )
    taken = cli("dryrun", "-c", config, "--out", out, cwd=tmp_path)
    assert one_line_error(taken) == f"livesession: error: {said}"
    assert _files(out) == before


def test_a_data_file_not_there_is_refused_before_the_run_id(tmp_path: Path) -> None:
    """Bug (found as a user, next to the one above): ``feed = "csv:bars.csv"`` naming no
    file, with a run id already taken, was refused ``run directory ... already exists``;
    after choosing another id, the user learnt only then ``cannot open data file``. The
    file is opened (not read) before the run id is looked at now, the same line said."""
    config, text, out, before = _taken_with(
        tmp_path,
        "datafirst_desk",
        "data.toml",
        lambda text: text.replace(
            "strategy_factory =", 'feed = "csv:bars.csv"\nstrategy_factory =', 1
        ),
    )
    number = text.splitlines().index('feed = "csv:bars.csv"') + 1
    said = (
        f"config file {config}, line {number}: cannot open data file "
        f"{config.parent / 'bars.csv'}: No such file or directory"
    )
    taken = cli("dryrun", "-c", config, "--out", out, cwd=tmp_path)
    assert one_line_error(taken) == f"livesession: error: {said}"
    with pytest.raises(DataFileError) as refused:
        create_run(load_config(config), out, alerts=False)
    assert str(refused.value) == said
    free = cli("dryrun", "-c", config, "--out", out, "--run-id", "other", cwd=tmp_path)
    assert one_line_error(free) == f"livesession: error: {said}"  # as before, only earlier
    assert _files(out) == before
