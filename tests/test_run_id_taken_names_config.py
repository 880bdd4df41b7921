"""A run id already taken, set by a config file, is refused naming that file and line.

Bug (found running a desk's 200 generated configs with ``xargs -P2``, every stderr into one
log): the configs ``c198.toml`` and ``c199.toml`` both set ``run_id = "b-dup"``; the second
said ``livesession: error: run directory out/b-dup already exists and holds a finished run:
choose another --run-id ...`` (or, the two running at once, ``out/b-dup is being written by
pid 6166 ...``), while every other refusal of the batch named its config file and line
(``config file cfg/c150.toml, line 5: cannot open data file ...``): nothing said which of the
200 files to fix. The refusal now names them as a value's refusal does; a run id given by
``--run-id`` (or an override) is the flag's, in no file. Still exit 2 (3 for a run held),
nothing changed, and the same exception types (``RunExists``, ``RunHeld``).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from livesession import RunExists, RunHeld, create_run, load_config
from livesession.cli import main

_BODY = '# generated\nrun_id = "dup"\nsteps = 20\nseed = {seed}\n[risk]\nmax_order_qty = "1"\n'


def _configs(tmp_path: Path) -> tuple[Path, Path]:
    """Two generated configs that set the same run id, on line 2."""
    first, second = tmp_path / "c001.toml", tmp_path / "c002.toml"
    first.write_text(_BODY.format(seed=1), encoding="utf-8")
    second.write_text(_BODY.format(seed=2), encoding="utf-8")
    return first, second


def _said(err: str) -> str:
    """The one stderr line of a refusal, without its ``livesession: error:``."""
    lines = err.splitlines()
    assert len(lines) == 1, err
    return lines[0].removeprefix("livesession: error: ")


def _files(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_the_cli_names_the_config_file_that_set_the_taken_run_id(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _configs(tmp_path)
    out = tmp_path / "out"
    assert main(["dryrun", "-q", "-c", str(first), "--out", str(out)]) == 0
    before = _files(out)
    capsys.readouterr()
    assert main(["dryrun", "-q", "-c", str(second), "--out", str(out)]) == 2
    assert _said(capsys.readouterr().err) == (
        f"config file {second}, line 2: run directory {out}/dup already exists and holds a "
        f"finished run: choose another --run-id (`livesession list {out}` shows the runs there)"
    )
    assert _files(out) == before


def test_a_run_id_given_by_the_flag_is_the_flag_s(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first, second = _configs(tmp_path)
    out = tmp_path / "out"
    argv = ["dryrun", "-q", "--run-id", "mine", "--out", str(out)]
    assert main([*argv, "-c", str(first)]) == 0
    capsys.readouterr()
    assert main([*argv, "-c", str(second)]) == 2
    said = _said(capsys.readouterr().err)
    assert said.startswith(f"run directory {out}/mine already exists and holds a finished run")


def test_the_api_names_it_too_and_keeps_the_exception_types(tmp_path: Path) -> None:
    first, second = _configs(tmp_path)
    out = tmp_path / "out"
    held = create_run(load_config(first), out)
    try:
        with pytest.raises(RunHeld) as during:
            create_run(load_config(second), out)
        assert str(during.value).startswith(
            f"config file {second}, line 2: {out}/dup is being written by pid "
        )
        held.run_to_end(20)
    finally:
        held.close()
    with pytest.raises(RunExists) as after:
        create_run(load_config(second), out)
    assert str(after.value) == (
        f"config file {second}, line 2: run directory {out}/dup already exists and holds a "
        "finished run: choose another run_id"
    )
    overridden = load_config(second, overrides={"run_id": "dup"})
    with pytest.raises(RunExists, match=r"^run directory "):
        create_run(overridden, out)
