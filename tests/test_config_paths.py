"""Where a config is read from: a data file's path as written (``~`` is a home, ``$DATA`` is
not), and a config file, never standard input.
"""

from __future__ import annotations

import json

import pytest

from _configcli import refused_config
from livesession.cli import main


@pytest.mark.parametrize("variable", ["$DESK_DATA", "${DESK_DATA}"])
def test_a_variable_in_a_data_path_is_said_to_be_unexpanded(tmp_path, capsys, variable):
    """``feed = "csv:$DESK_DATA/goog.csv"`` said only ``cannot open data file
    /desk/$DESK_DATA/goog.csv: No such file or directory``, the variable set in the shell."""
    said = refused_config(tmp_path, f'feed = "csv:{variable}/goog.csv"\n', capsys)
    assert said == (
        f"config file {tmp_path / 'hand.toml'}, line 1: cannot open data file "
        f"{tmp_path}/{variable}/goog.csv: "
        f"No such file or directory (a path is read as written: {variable} is not expanded, "
        "no variable is; write the path it stands for)"
    )


def test_a_config_on_standard_input_is_said_to_be_no_file(tmp_path, capsys, monkeypatch):
    """``--config -`` said ``config file not found: -``, as if a file named ``-`` were missing."""
    monkeypatch.chdir(tmp_path)
    code = main(["dryrun", "-c", "-", "--out", "out", "--steps", "5", "--json"])
    outcome = json.loads(capsys.readouterr().out)
    assert (code, outcome["exit_code"]) == (2, 2)
    assert outcome["error"] == (
        "config file not found: - (a config is read from a file, never standard input: save it "
        "to one)"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("feed", "write"),
    [("CSV:goog.csv", "csv:goog.csv"), ("Parquet:g.parquet", "parquet:g.parquet")],
)
def test_a_data_file_s_kind_in_capitals_is_told_its_case(tmp_path, capsys, feed, write):
    """``feed = "CSV:goog.csv"`` read as a reference to a module ``CSV``: ``feed: cannot
    import 'CSV:goog.csv': No module named 'CSV'``."""
    said = refused_config(tmp_path, f'feed = "{feed}"\n', capsys)
    assert said == (
        f"config file {tmp_path / 'hand.toml'}, line 1: feed {feed!r}: a data file's kind is "
        f"written in lower case: write {write}"
    )


@pytest.mark.parametrize(
    ("written", "name"), [("goog.csv ", "goog.csv "), (" data/goog.csv", " data")]
)
def test_a_blank_at_a_name_s_end_is_named(tmp_path, capsys, written, name):
    """``feed = "csv:goog.csv "`` said ``cannot open data file /desk/goog.csv : No such file
    or directory``, the blank before the colon easy to miss."""
    said = refused_config(tmp_path, f'feed = "csv:{written}"\n', capsys)
    assert said.endswith(
        f"No such file or directory (a path is read as written: its name {name!r} begins or "
        "ends with a blank)"
    )
