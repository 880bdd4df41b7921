"""A value TOML reads unquoted (a float, a datetime) is refused saying the string to write:
the value as the file writes it, which TOML has rounded by the time the config sees it. An
integer written as a string or a float is refused saying it unquoted.

Told the rounded one, a desk wrote ``"0.01"`` for its ``0.010`` and a start time a fraction
of a microsecond off its ``2026-01-01T00:00:00.123456789Z``; told ``"-0.0"`` for its
``-0.0``, it met a second refusal.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from _configcli import refused_config
from livesession import load_config


def _said(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """The refusal of a config of ``text``, which names the file and the key's line."""
    error = refused_config(tmp_path, text, capsys)
    assert error.startswith(f"config file {tmp_path / 'hand.toml'}, line "), error
    return error


_WRITE: re.Pattern[str] = re.compile(r'(?:e\.g\.|write start_time =) "([^"]*)"$')


@pytest.mark.parametrize(
    ("text", "key", "expected"),
    [
        ("[strategy]\norder_qty = 0.010\n", "strategy.order_qty", "0.010"),
        ("initial_cash = 100_000.00  # the desk's\n", "initial_cash", "100000.00"),
        ("initial_cash = 0.1000000000000000000001\n", "initial_cash", "0.1000000000000000000001"),
        ("qty_lot = 1e-3\n", "qty_lot", "1e-3"),
        ("price_tick = -0.0\n", "price_tick", "0"),
        (
            "start_time = 2026-01-01T00:00:00.123456789Z\n",
            "start_time",
            "2026-01-01T00:00:00.123456789Z",
        ),
        ("start_time = 2026-03-02T09:30:00.5+01:00\n", "start_time", "2026-03-02T09:30:00.5+01:00"),
        (
            "start_time = 2026-03-02 09:30:00.000000001\n",
            "start_time",
            "2026-03-02 09:30:00.000000001Z",
        ),
    ],
)
def test_the_string_to_write_is_the_value_as_written(tmp_path, capsys, text, key, expected):
    said = _said(tmp_path, text, capsys)
    assert f"{key}" in said
    found = _WRITE.search(said)
    assert found is not None, said
    assert found.group(1) == expected
    # Written as told, it loads, and the config holds what the file meant.
    fixed = tmp_path / "fixed.toml"
    name = key.rpartition(".")[2]
    fixed.write_text(
        text.replace(text.splitlines()[-1], f'{name} = "{expected}"'), encoding="utf-8"
    )
    config = load_config(fixed)
    table, _, field = key.rpartition(".")
    value = getattr(getattr(config, table) if table else config, field)
    if isinstance(value, Decimal):  # a tick of 0 is the default's, 0.01, without data
        assert value == (Decimal("0.01") if key == "price_tick" else Decimal(expected))
    else:
        assert value == expected


def test_a_value_of_an_inline_table_is_told_as_read(tmp_path, capsys):
    """The line writes the table, not the value: the float's own digits are said."""
    said = _said(tmp_path, "risk = { max_order_qty = 0.50 }\n", capsys)
    assert said.endswith('got 0.5: write it as a string, e.g. "0.5"')


def test_nan_is_given_an_example(tmp_path, capsys):
    said = _said(tmp_path, "initial_cash = nan\n", capsys)
    assert said.endswith('got nan: write it as a string, e.g. "42000.50"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            'seed = "5"\n',
            "seed must be a non-negative integer, got '5': a string; write it unquoted, seed = 5",
        ),
        (
            '[risk]\nmax_executions = "10"\n',
            (
                "risk.max_executions must be a positive integer, got '10': a string; write it "
                "unquoted, max_executions = 10"
            ),
        ),
        (
            "step_interval_ms = 60000.0\n",
            (
                "step_interval_ms must be a positive integer, got 60000.0: a float; write it "
                "without a point, step_interval_ms = 60000"
            ),
        ),
        (
            'feed_bytes = "10"\n',
            (
                "feed_bytes must be a non-negative integer, got '10': a string; write it unquoted, "
                "feed_bytes = 10"
            ),
        ),
        ('seed = "-5"\n', "seed must be a non-negative integer, got '-5'"),
    ],
)
def test_an_integer_written_as_a_string_or_a_float_is_told_what_to_write(
    tmp_path, capsys, text, expected
):
    """``seed = "5"`` said ``seed must be a non-negative integer, got '5'``, which is what
    the desk thought it wrote."""
    said = _said(tmp_path, text, capsys)
    assert said.partition(": ")[2] == expected
