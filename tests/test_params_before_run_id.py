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
from pathlib import Path

import pytest

from livesession import PluginError, create_run, load_config

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
    good, typo = _desk(tmp_path, package)
    out = tmp_path / "runs"
    made = cli("dryrun", "-c", good, "--out", out, "--steps", "5", "-q", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    return typo, out, _files(out), SAID.format(ref=f"{package}.breakout:make_strategy")


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
    good, _ = _desk(tmp_path, "mydesk")
    out = tmp_path / "runs"
    made = cli("dryrun", "-c", good, "--out", out, "--steps", "5", "-q", cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    before = _files(out)
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
