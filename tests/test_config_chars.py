"""What a config file's refusal must name: a character that looks like another, one a
screen does not show, line ends TOML does not count as line ends, and brackets doubled.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from _configcli import refused_config


def _said(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """The refusal of a config of ``text``, after the file's name."""
    error = refused_config(tmp_path, text, capsys)
    config = tmp_path / "hand.toml"
    assert error.startswith(f"config file {config}"), error
    return error.removeprefix(f"config file {config}")


class TestAKeyThatLooksRight:
    """A quoted ``seed`` with a Cyrillic e (U+0435) said ``unknown config key "seed" (did
    you mean seed?)``, two names that look the same; ``"seed\\u200b"`` showed nothing at all."""

    def test_a_homoglyph_is_named(self, tmp_path, capsys):
        said = _said(tmp_path, '"s\u0435ed" = 5\n', capsys)
        assert said.startswith(
            ', line 1: unknown config key "s\u0435ed" (did you mean seed? its character 2 is '
            "U+0435 CYRILLIC SMALL LETTER IE ('\u0435'), not ASCII); known keys: account, "
        )

    def test_an_invisible_character_is_escaped(self, tmp_path, capsys):
        said = _said(tmp_path, '[risk]\n"max_order_qty\u200b" = "1"\n', capsys)
        assert said.startswith(
            ', line 2: unknown config key risk."max_order_qty\\u200b" (did you mean '
            "risk.max_order_qty? its character 14 is U+200B ZERO WIDTH SPACE, not ASCII); "
        )
        assert "\u200b" not in said

    @pytest.mark.parametrize(
        ("text", "named"),
        [
            ("s\u0435ed = 5\n", "U+0435 CYRILLIC SMALL LETTER IE ('\u0435')"),
            ("\uff53\uff45\uff45\uff44 = 5\n", "U+FF53 FULLWIDTH LATIN SMALL LETTER S ('\uff53')"),
            ("seed\u200b = 5\n", "U+200B ZERO WIDTH SPACE"),
            ("seed = \uff15\n", "U+FF15 FULLWIDTH DIGIT FIVE ('\uff15')"),
        ],
    )
    def test_a_bare_key_or_value_the_reader_stops_at(self, tmp_path, capsys, text, named):
        """The reader said only ``Expected '=' after a key in a key/value pair (at line 1,
        column 2)``, at a character that looks like an ``e``."""
        said = _said(tmp_path, text, capsys)
        assert said.startswith(" is not valid TOML: ")
        assert f"): that character is {named}, not ASCII; " in said


class TestLinesAsTomlCountsThem:
    """TOML ends a line at a line feed alone: a U+2028 LINE SEPARATOR or a NEL in a comment
    or a string, pasted from a web page, is no line end. ``str.splitlines`` counted one,
    and the refusal named the line after the key's."""

    @pytest.mark.parametrize("separator", ["\u2028", "\u0085", "\u2029"])
    def test_the_key_s_own_line(self, tmp_path, capsys, separator):
        said = _said(tmp_path, f'# a note{separator}pasted\nseed = "5"\n', capsys)
        assert said.startswith(", line 2: seed must be a non-negative integer, got '5'")

    def test_a_key_set_twice_names_both_lines(self, tmp_path, capsys):
        said = _said(tmp_path, 'symbol = "A\u2028B"\nseed = 5\nseed = 6\n', capsys)
        assert said.startswith(", line 3: seed is set twice (first on line 2): ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            '[[risk]]\nmax_order_qty = "2"\n',
            ", line 1: risk must be a table, got [{'max_order_qty': '2'}]",
        ),
        ("[[alerts]]\ntimeout_ms = 5\n", ", line 1: alerts must be a table"),
        (
            'strategy_factory = "desk.s:make"\n[[strategy_params]]\nx = 5\n',
            ", line 2: strategy_params must be a table of keyword arguments",
        ),
        (
            "[[rails_params]]\nx = 1\n",
            ", line 1: rails_params must be a table of tables, one per rail reference",
        ),
    ],
)
def test_an_array_of_tables_is_told_its_brackets(tmp_path, capsys, text, expected):
    """``[[risk]]`` said ``risk must be a table, got [{'max_order_qty': '2'}]``, and
    ``[[alerts]]`` ``alerts must be a table``: a table it was, to whoever wrote it."""
    name = expected.split(": ")[1].split()[0].rstrip(",")
    assert _said(tmp_path, text, capsys) == (
        f"{expected}: [[{name}]] is an array of tables; write the header [{name}], in one "
        "pair of brackets"
    )


@pytest.mark.parametrize(
    ("text", "named"),
    [
        (
            'run_id = "d\u0435mo-1"\n',
            "its character 2 is U+0435 CYRILLIC SMALL LETTER IE ('\u0435')",
        ),
        ('account = "main\u200b"\n', "its character 5 is U+200B ZERO WIDTH SPACE"),
        (
            'symbol = "\u0412TC/USDT"\n',
            "its character 1 is U+0412 CYRILLIC CAPITAL LETTER VE ('\u0412')",
        ),
        ('clock_mode = "s\u0456m"\n', "its character 2 is U+0456 CYRILLIC SMALL LETTER"),
    ],
)
def test_a_value_that_looks_right_names_its_character(tmp_path, capsys, text, named):
    """``symbol = "BTC/USDT"`` with a Cyrillic B said ``symbol must be a ticker ... in upper
    case; got 'BTC/USDT'``, which it looks like in every font."""
    said = _said(tmp_path, text, capsys)
    assert said.startswith(", line 1: ")
    assert f" ({named}" in said
    assert said.endswith(", not ASCII)")
