"""Characters a config file's refusal must name: line ends TOML does not count as line ends."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livesession.cli import main


def _said(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``livesession dryrun --json`` on a config of ``text``: exit 2, one line, nothing written."""
    config = tmp_path / "hand.toml"
    config.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    code = main(["dryrun", "-c", str(config), "--out", str(out), "--steps", "5", "--json"])
    captured = capsys.readouterr()
    outcome = json.loads(captured.out)
    assert (code, outcome["exit_code"], outcome["ok"]) == (2, 2, False), outcome
    assert len(captured.err.strip().splitlines()) == 1
    assert not out.exists()
    error: str = outcome["error"]
    assert error.startswith(f"config file {config}"), error
    return error.removeprefix(f"config file {config}")


class TestLinesAsTomlCountsThem:
    """TOML ends a line at a line feed alone: a U+2028 LINE SEPARATOR or a NEL in a comment
    or a string, pasted from a web page, is no line end. ``str.splitlines`` counted one,
    and the refusal named the line after the key's."""

    @pytest.mark.parametrize("separator", ["\u2028", "\u0085", "\u2029"])
    def test_the_key_s_own_line(self, tmp_path, capsys, separator):
        said = _said(tmp_path, f'# a note{separator}pasted\nseed = "5"\n', capsys)
        assert said == ", line 2: seed must be a non-negative integer, got '5'"

    def test_a_key_set_twice_names_both_lines(self, tmp_path, capsys):
        said = _said(tmp_path, 'symbol = "A\u2028B"\nseed = 5\nseed = 6\n', capsys)
        assert said.startswith(", line 3: seed is set twice (first on line 2): ")
