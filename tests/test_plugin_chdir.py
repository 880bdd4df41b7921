"""A strategy that calls ``os.chdir()`` inside a step, with a relative ``--out``.

The session reopened its files by the relative path from the new directory: the run was
left unsealed, said to be "removed". It is now sealed where it was made, and verifies.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from livesession import create_run, load_config
from livesession._artifacts import names
from livesession.cli import main


def _lines(capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    said = capsys.readouterr()
    return said.out, said.err


_WANDERER = """
import os
from pathlib import Path


class Wanderer:
    def __init__(self, *, strategy_id, away):
        self.strategy_id = strategy_id
        self._away = away
        self._bars = 0

    def on_bar(self, bar, view):
        self._bars += 1
        if self._bars == 3:
            os.chdir(self._away)
        return ()

    def get_state(self):
        return {"bars": self._bars}

    def set_state(self, state):
        self._bars = state["bars"]


def make(*, strategy_id, away):
    return Wanderer(strategy_id=strategy_id, away=away)
"""


@pytest.fixture
def wanderer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    """A config whose strategy changes the working directory at its third bar."""
    package = tmp_path / "wanderpkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "strat.py").write_text(textwrap.dedent(_WANDERER))
    away = tmp_path / "away"
    away.mkdir()
    config = tmp_path / "wander.toml"
    config.write_text(
        'run_id = "w"\nsteps = 30\nstrategy_factory = "wanderpkg.strat:make"\n'
        f"[strategy_params]\naway = {json.dumps(str(away))}\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    yield config, away
    for name in [n for n in sys.modules if n.partition(".")[0] == "wanderpkg"]:
        del sys.modules[name]


def test_a_strategy_that_changes_directory_leaves_a_sealed_run(
    tmp_path: Path, wanderer: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    config, away = wanderer
    assert main(["dryrun", "--config", str(config), "--out", "runs"]) == 0, _lines(capsys)[1]
    out, err = _lines(capsys)
    assert err == ""
    assert "artifacts   runs/w\n" in out
    assert Path.cwd() == tmp_path  # the CLI's relative paths are the user's again
    checkpoint = orjson.loads((tmp_path / "runs" / "w" / names.CHECKPOINT).read_bytes())
    assert checkpoint["sealed"] is True
    assert list(away.iterdir()) == []
    assert main(["verify", "runs/w"]) == 0


def test_create_run_writes_where_it_was_made(tmp_path: Path, wanderer: tuple[Path, Path]) -> None:
    config, away = wanderer
    with create_run(load_config(config), "runs") as session:
        session.run_to_end(30)
    assert Path.cwd() == away  # the library leaves the process's directory to its owner
    os.chdir(tmp_path)
    checkpoint = orjson.loads((tmp_path / "runs" / "w" / names.CHECKPOINT).read_bytes())
    assert checkpoint["sealed"] is True
    assert list(away.iterdir()) == []


def test_evidence_of_such_a_run_writes_where_it_was_asked(
    tmp_path: Path, wanderer: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The bundle's kill drill steps the strategy in the evidence process itself."""
    config, away = wanderer
    assert main(["dryrun", "--config", str(config), "--out", "runs", "-q"]) == 0
    assert main(["evidence", "runs/w"]) == 0, _lines(capsys)[1]
    assert Path.cwd() == tmp_path
    assert (tmp_path / "runs" / "w" / "manifest.json").is_file()
    assert list(away.iterdir()) == []
