"""A config's numbers are read as strictly as a data file's.

Bugs: ``initial_cash = "1_0"`` was 10 (``Decimal`` drops the ``_``), and so were
``" 10 "``, Arabic-Indic and full-width digits, which a data file's reader refuses; a
non-negative decimal took ``"-0"`` and ``"-0.00"`` (recorded with their sign); and the
command line's integers went through ``int()``, so ``--steps 1_0`` ran 10 steps. Each is
refused now, the config file's naming the file, the line and the key.
"""

from __future__ import annotations

import pytest

from livesession import ConfigError, DryrunConfig, load_config
from livesession.cli import main


@pytest.mark.parametrize(
    ("text", "line", "said"),
    [
        (
            'seed = 1\ninitial_cash = "1_0"\n',
            2,
            "initial_cash: '1_0' is not a decimal number (a '_' digit group separator?",
        ),
        (
            '[risk]\nmax_order_qty = "0_5"\n',
            2,
            "risk.max_order_qty: '0_5' is not a decimal number (a '_' digit group separator?",
        ),
        (
            'seed = 1\n\ninitial_price = " 42000 "\n',
            3,
            "initial_price: ' 42000 ' is not a decimal number (spaces around it",
        ),
        (
            'initial_cash = "\u0661\u0660"\n',
            1,
            "initial_cash: '\u0661\u0660' is not a decimal number (digits other than 0-9",
        ),
        (
            '[strategy]\norder_qty = "\uff11"\n',
            2,
            "strategy.order_qty: '\uff11' is not a decimal number (digits other than 0-9",
        ),
        ('price_tick = "1 0"\n', 1, "price_tick: '1 0' is not a decimal number"),
        (
            '[fill_model]\nreject_rate = "-0"\n',
            2,
            "fill_model.reject_rate must not be negative, got '-0' (write 0)",
        ),
        (
            'seed = 1\n[strategy]\nprotect_pct = "-0.00"\n',
            3,
            "strategy.protect_pct must not be negative, got '-0.00' (write 0)",
        ),
        ('price_tick = "-0"\n', 1, "price_tick must not be negative, got '-0' (write 0)"),
    ],
)
def test_a_loose_number_is_refused_naming_file_line_and_key(tmp_path, text, line, said):
    path = tmp_path / "desk.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(f"config file {path}, line {line}: {said}")


@pytest.mark.parametrize(
    ("value", "hint"),
    [
        ("1,000.50", "(a thousands separator? write numbers without one)"),
        ("\u221237.63", "(its minus sign is U+2212, not '-': write -37.63)"),
        ("0x10", "(write the digits 0-9, a point, an exponent)"),
        ("inf", "(write the digits 0-9, a point, an exponent)"),
    ],
)
def test_a_number_decimal_cannot_read_is_told_what_to_write(tmp_path, value, hint):
    """Bug: ``initial_price: '1,000.50' is not a decimal number`` and no more."""
    path = tmp_path / "desk.toml"
    path.write_text(f'seed = 1\ninitial_price = "{value}"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value) == (
        f"config file {path}, line 2: initial_price: {value!r} is not a decimal number {hint}"
    )


@pytest.mark.parametrize("value", ["10", "10.00", "1e1", "+10", "1.0E+1"])
def test_a_number_as_a_data_file_writes_it_is_still_taken(value):
    assert DryrunConfig.from_mapping({"initial_cash": value}).initial_cash == 10


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--steps", "1_0"], "--steps: '1_0' is not an integer (a '_' digit group separator?"),
        (["--seed", " 5"], "--seed: ' 5' is not an integer (spaces around it"),
        (["--steps", "\u0661\u0660"], "is not an integer (digits other than 0-9"),
        (["--seed", "-0"], "--seed: '-0' must not be negative"),
    ],
)
def test_a_loose_integer_flag_is_refused(tmp_path, capsys, argv, said):
    out = tmp_path / "runs"
    assert main(["dryrun", *argv, "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err
    assert said in err
    assert err.count("\n") == 1
    assert not out.exists()
