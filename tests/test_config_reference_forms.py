"""A feed given as a file's path alone, and a reference written with a dot for its colon.

Bug (a new user's first day, by the docs): ``--feed ../data/AAPL.csv`` (the ``csv:`` left
off) and ``--strategy meanrev.strategy.make`` (a dot where the colon goes, as a Python
import path is written) were refused listing the forms a feed or a reference takes, but not
what the value given lacked. The refusal now says it: ``(a data file? name its kind first:
csv:../data/AAPL.csv)``, ``(did you mean 'meanrev.strategy:make'? ...)``. Still a
ConfigError before anything is built (exit 2 from the CLI, nothing written).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from livesession import DryrunConfig
from livesession._exceptions import ConfigError
from livesession.cli import main

if TYPE_CHECKING:
    from pathlib import Path

_FEEDS = "feed must be random_walk, venue, csv:<path>, parquet:<path> or package.module:callable"
_REF = " (did you mean 'meanrev.strategy:make'? a colon comes before the callable)"


@pytest.mark.parametrize(
    ("feed", "hint"),
    [
        ("../data/AAPL.csv", " (a data file? name its kind first: csv:../data/AAPL.csv)"),
        ("data/eurusd.PARQUET", " (a data file? name its kind first: parquet:data/eurusd.PARQUET)"),
        ("bars.csv", " (a data file? name its kind first: csv:bars.csv)"),  # no data:csv
        (
            "meanrev.feeds.make",
            " (did you mean 'meanrev.feeds:make'? a colon comes before the callable)",
        ),
        ("foo", ""),
    ],
)
def test_a_feed_says_what_it_lacks(feed: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DryrunConfig(feed=feed)
    assert str(caught.value) == f"{_FEEDS}, got {feed!r}{hint}"


@pytest.mark.parametrize(
    ("ref", "hint"), [("meanrev.strategy.make", _REF), ("meanrev", ""), ("a b.c", "")]
)
def test_a_strategy_reference_with_a_dot_for_its_colon(ref: str, hint: str) -> None:
    with pytest.raises(ConfigError) as caught:
        DryrunConfig(strategy_factory=ref)
    said = f"strategy_factory must be a reference package.module:callable, got {ref!r}{hint}"
    assert str(caught.value) == said


def test_the_cli_says_it_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["dryrun", "--strategy", "meanrev.strategy.make", "--out", str(tmp_path), "-q"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.err.endswith(f"{_REF}\n"), captured.err
    assert not any(tmp_path.iterdir())
