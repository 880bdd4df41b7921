"""A desk upgrading from 0.1.x: its config files and the runs 0.1.0 wrote.

tests/data/v010 holds runs 0.1.0 made (its README says how); nothing here installs 0.1.x.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from livesession.cli import main

_BARS = "open,high,low,close,volume\n" + "".join(
    f"{100 + i}.00,{101 + i}.00,{99 + i}.00,{100 + i}.50,1.000\n" for i in range(40)
)


def _desk(tmp_path: Path) -> Path:
    """A desk as 0.1.x had it: ``configs/desk.toml`` naming ``data/bars.csv`` of the desk."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "bars.csv").write_text(_BARS, encoding="utf-8")
    (tmp_path / "configs").mkdir()
    config = tmp_path / "configs" / "desk.toml"
    config.write_text('steps = 5\nfeed = "csv:data/bars.csv"\n', encoding="utf-8")
    return config


def test_a_0_1_config_s_data_path_read_from_the_current_directory_is_said(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a desk's config written for 0.1.x (``feed = "csv:data/bars.csv"`` in
    ``configs/``, run from the desk's folder, where 0.1.x read the path from) was refused by
    0.2 with ``cannot open data file .../configs/data/bars.csv: No such file or directory``
    alone, beside the file it had always read: nothing said that 0.2 reads a config file's
    data path from the config file's directory, nor what to write instead."""
    config = _desk(tmp_path)
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "runs"
    assert main(["dryrun", "-c", "configs/desk.toml", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(
        "livesession: error: config file configs/desk.toml, line 2: cannot open data file "
        f"{config.parent.resolve()}/data/bars.csv: No such file or directory; data/bars.csv "
        "is there from the current directory, where livesession 0.1.x read a config file's "
        "data paths: this release reads them from the config file's directory, so write "
        'feed = "csv:../data/bars.csv" (or an absolute path)'
    ), err
    assert not out.exists()
    # What the line says to write runs, from any directory.
    config.write_text('steps = 5\nfeed = "csv:../data/bars.csv"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path / "data")
    assert main(["dryrun", "-c", str(config), "--out", str(out), "-q"]) == 0


def test_a_data_file_missing_from_both_places_is_said_as_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The hint is for a file found from the current directory only: elsewhere (here the
    config's own folder, where data/ is not) the line is the plain refusal."""
    config = _desk(tmp_path)
    monkeypatch.chdir(config.parent)
    assert main(["dryrun", "-c", "desk.toml", "--out", str(tmp_path / "runs"), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.endswith("/configs/data/bars.csv: No such file or directory\n"), err
