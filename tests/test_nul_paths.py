"""A data file's path holding a NUL character is refused in one line, nothing written.

A TOML string may hold ``\\u0000``, which no file name can: ``feed =
"csv:/data/a\\u0000b.csv"`` loaded, and ``dryrun`` died of ``ValueError: embedded null
byte`` as it opened the file (a traceback, exit 1), as ``create_run`` did from Python;
``check_csv`` and ``CsvReplayFeed`` given such a name raised that bare ``ValueError``, not
the ``DataFileError`` they raise for any other file they cannot open. Found by handing the
API and the CLI odd paths.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from livesession import (
    CsvReplayFeed,
    DataFileError,
    DryrunConfig,
    UnrecordablePath,
    check_csv,
    load_config,
)
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path


@pytest.mark.parametrize("kind", ["csv", "parquet"])
def test_a_config_naming_a_data_file_with_a_nul_is_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    config = tmp_path / "desk.toml"
    config.write_text(
        f'run_id = "nul"\nsteps = 5\nsymbol = "AB"\nfeed = "{kind}:{tmp_path}/a\\u0000b.{kind}"\n'
    )
    out = tmp_path / "runs"

    with pytest.raises(UnrecordablePath, match="holds a NUL character"):
        load_config(config)
    assert main(["dryrun", "-q", "--config", str(config), "--out", str(out)]) == 2
    said = capsys.readouterr().err
    assert "Traceback" not in said
    assert said == (
        f"livesession: error: the data file '{tmp_path}/a\\x00b.{kind}' holds a NUL character "
        "(\\x00), which no file name can: give the file's path as it is written on disk\n"
    )
    assert not out.exists()  # nothing written
    with pytest.raises(UnrecordablePath, match="holds a NUL character"):
        DryrunConfig(run_id="nul", symbol="AB", feed=f"{kind}:{tmp_path}/a\0b.{kind}")


def test_check_csv_and_the_csv_feed_refuse_a_nul_in_the_name_as_a_data_file_error(
    tmp_path: Path,
) -> None:
    name = tmp_path / "a\0b.csv"
    with pytest.raises(DataFileError, match="its name holds a NUL character") as checked:
        check_csv(name, tick=Decimal("0.01"))
    assert checked.value.path == name
    with pytest.raises(DataFileError, match="its name holds a NUL character"):
        CsvReplayFeed(name, symbol="AB", tick=Decimal("0.01"), lot=Decimal(1))
