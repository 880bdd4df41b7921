"""A child process of ours imports what its parent imports, whatever the paths hold.

The evidence's determinism re-run and the failure matrix's cross-process run gave the child
the parent's ``sys.path`` in ``PYTHONPATH``, which is split on ``os.pathsep``: a plug-in in
a directory whose path holds one (``desk:v2``) could not be imported there, and the
evidence said ``ERROR`` (``No module named ...``) for a run that was sound.
"""

from __future__ import annotations

import importlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession import DryrunConfig, create_run
from livesession._support.childpath import PARENT_SYS_PATH, adopt_parent_path, child_env
from livesession.evidence import write_evidence
from livesession.testing import run_failure_matrix

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
AWKWARD = f"desk{os.pathsep}v2 (copy)"  # a path separator and a space in one directory name


@pytest.fixture
def desk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """examples/mydesk as ``awkdesk``, importable only through an awkward ``sys.path`` entry."""
    where = tmp_path / AWKWARD
    shutil.copytree(EXAMPLES / "mydesk", where / "awkdesk")
    monkeypatch.syspath_prepend(str(where))
    importlib.invalidate_caches()
    yield "awkdesk"
    for name in [m for m in sys.modules if m == "awkdesk" or m.startswith("awkdesk.")]:
        del sys.modules[name]


def test_the_evidence_rerun_imports_a_plug_in_from_a_path_holding_the_separator(
    tmp_path: Path, desk: str
) -> None:
    config = DryrunConfig.from_mapping(
        {
            "run_id": "awk",
            "strategy_id": "breakout",
            "steps": 40,
            "strategy_factory": f"{desk}.breakout:make_strategy",
        }
    )
    create_run(config, tmp_path / "runs").run_to_end(40)
    result = write_evidence(tmp_path / "runs" / "awk")
    manifest = json.loads(result.manifest.read_text(encoding="utf-8"))
    assert manifest["determinism"]["status"] == "match", manifest["determinism"]
    assert result.ok, result.problems


def test_the_failure_matrix_child_imports_a_factory_from_such_a_path(desk: str) -> None:
    make = importlib.import_module(f"{desk}.breakout").make_strategy
    report = run_failure_matrix(make, examples=2, steps=12, seed=0)
    assert report.cross_process


def test_child_env_carries_every_entry_whole_and_the_child_puts_back_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    awkward, plain = tmp_path / AWKWARD, tmp_path / "plain dir"
    awkward.mkdir()
    plain.mkdir()
    monkeypatch.syspath_prepend(str(plain))
    monkeypatch.syspath_prepend(str(awkward))
    env = child_env(EXTRA="1")
    assert env["EXTRA"] == "1"
    carried = env["PYTHONPATH"].split(os.pathsep)
    assert str(plain) in carried  # a space is no trouble to PYTHONPATH
    assert not any(part in str(awkward) for part in carried)  # never split into pieces
    assert json.loads(env[PARENT_SYS_PATH])[:2] == [str(awkward), str(plain)]
    code = (
        "import sys; from livesession._support.childpath import adopt_parent_path;"
        "adopt_parent_path(); print('\\n'.join(sys.path))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out.index(str(awkward)) < out.index(str(plain))  # in the parent's order


def test_adopt_parent_path_ignores_what_is_not_a_list_of_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    before = list(sys.path)
    for said in ("not json", '{"a": 1}', "[1, 2]"):
        monkeypatch.setenv(PARENT_SYS_PATH, said)
        adopt_parent_path()
        assert sys.path == before
