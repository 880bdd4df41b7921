"""The config bounds a hand-typed config met: each is refused at load, in one line naming
the key and the value, exit 2 and nothing written; a config that loads runs and verifies.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from livesession import ConfigError, DryrunConfig
from livesession.cli import main


def _refusal(mapping: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        DryrunConfig.from_mapping(mapping)
    message = str(info.value)
    assert "\n" not in message
    return message


def _cli_refuses(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``livesession dryrun --json`` on a config of ``text``: exit 2, nothing written."""
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
    return error


class TestDigitsWrittenOut:
    """A decimal's digits are its integer digits and places, not its coefficient's."""

    @pytest.mark.parametrize(
        ("mapping", "expected"),
        [
            (
                {"initial_cash": "1E+30"},
                (
                    "initial_cash '1E+30' has 31 digits written out (31 before the point, 0 "
                    "after), more than the 28 Decimal arithmetic keeps: the run would round it; "
                    "give at most 28"
                ),
            ),
            ({"initial_cash": "1E+100000"}, "initial_cash '1E+100000' has 100001 digits"),
            ({"qty_lot": "1E-40"}, "qty_lot '1E-40' has 40 digits written out (0 before"),
            (
                {"qty_lot": "0.000000000000000000000000000001"},
                "qty_lot '1E-30' has 30 digits written out",
            ),
            ({"price_tick": "1E-40"}, "price_tick '1E-40' has 40 digits written out"),
            ({"strategy": {"order_qty": "1E-40"}}, "strategy.order_qty '1E-40' has 40 digits"),
            ({"risk": {"max_order_qty": "1E+40"}}, "risk.max_order_qty '1E+40' has 41 digits"),
        ],
    )
    def test_exponent_notation_is_held_to_the_28_digits(self, mapping, expected):
        """``1E+30`` was taken (cash then lost 18.73 to the first fill's rounding) while
        ``1000000000000000000000000000000`` was refused; ``1E+100000`` went into
        config.json as 100,001 digits."""
        message = _refusal(mapping)
        assert message.startswith(expected)
        assert len(message) < 250

    def test_the_cli_refuses_it_in_one_line(self, tmp_path, capsys):
        error = _cli_refuses(tmp_path, 'initial_cash = "1E+30"\n', capsys)
        assert error.startswith("initial_cash '1E+30' has 31 digits written out")

    def test_28_digits_written_out_are_taken(self):
        cfg = DryrunConfig.from_mapping({"risk": {"max_order_qty": "1E+27"}})
        assert cfg.risk.max_order_qty == 10**27
        assert cfg.to_dict()["risk"]["max_order_qty"] == "1" + "0" * 27
