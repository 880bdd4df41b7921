"""Configs and command lines a team's own tooling generated, odd values and all.

Each case here is one a fuzz of every key and flag found: the config is refused at load in
one line naming the key (exit 2, nothing written), and a value that may be a secret is
never repeated in a message nor written to a run's files.
"""

from __future__ import annotations

import pytest

from livesession import ConfigError, DryrunConfig
from test_config_bounds import _cli_refuses, _refusal

DSN = "postgresql://desk:hunter2pass@127.0.0.1:5432/trades"
KEYED = "api_key=sk-test-1234abcdefgh"


@pytest.mark.parametrize(
    ("toml", "said"),
    [
        (f'strategy_id = "{DSN}"\n', "strategy_id looks like a secret (url_password"),
        (f'allowlist = ["BTC/USDT", "{DSN}"]\n', "allowlist[1] looks like a secret"),
        (f'allowlist = ["{KEYED}"]\n', "allowlist[0] looks like a secret (assigned_secret"),
    ],
    ids=["strategy_id-dsn", "allowlist-dsn", "allowlist-key"],
)
def test_a_secret_in_a_free_text_key_is_refused_before_anything_is_written(
    tmp_path, capsys, toml, said
):
    """Before, ``strategy_id`` took the DSN (exit 0) and the allowlist's entry reached
    preflight (``ALLOWLIST_INVALID``, exit 3): both sealed a run whose ``config.json``,
    events and checkpoints held the password in plain text, while the line on stderr
    redacted it."""
    error = _cli_refuses(tmp_path, toml, capsys)
    assert said in error
    assert "hunter2pass" not in error
    assert "sk-test-1234" not in error


def test_a_secret_in_a_free_text_key_is_refused_from_python_too():
    message = _refusal({"strategy_id": DSN})
    assert "hunter2pass" not in message
    with pytest.raises(ConfigError, match=r"allowlist\[0\] looks like a secret"):
        DryrunConfig(allowlist=(DSN,))


def test_ordinary_names_are_not_secrets():
    config = DryrunConfig.from_mapping(
        {"strategy_id": "breakout v2: desk @ 5m", "allowlist": ["BTC/USDT", "ETH/USDT"]}
    )
    assert config.strategy_id == "breakout v2: desk @ 5m"


def test_a_text_in_an_alerts_number_is_not_repeated(tmp_path, capsys):
    """The ``[alerts]`` table is where the webhook's secret lives: a generator that shifted
    its values by one key put the URL in ``timeout_ms``, and the refusal quoted it."""
    hook = "http://127.0.0.1:9/hooks/T000/B000/sk-test-1234"
    error = _cli_refuses(tmp_path, f'[alerts]\ntimeout_ms = "{hook}"\n', capsys)
    assert (
        error
        == "alerts.timeout_ms must be an integer from 1 to 60000, got a string (value not shown)"
    )
    assert "sk-test-1234" not in error
    assert "got 11" in _refusal({"alerts": {"retries": 11}})


@pytest.mark.parametrize(
    "argv",
    [
        ["verify", "{p}"],
        ["status", "{p}"],
        ["list", "{p}"],
        ["report", "{p}"],
        ["prom", "{p}"],
        ["dryrun", "--config", "{p}/desk.toml", "--out", "{o}"],
    ],
    ids=["verify", "status", "list", "report", "prom", "dryrun-config"],
)
def test_a_path_with_a_newline_is_refused_in_one_line(tmp_path, capsys, argv):
    """A generated path with a newline in it (``a b<LF>c``) was said as it is: the error
    took two lines on stderr, and a supervisor that reads one line per error read half."""
    from livesession.cli import main

    odd = str(tmp_path / "a b\nc")
    out = tmp_path / "out"
    code = main([arg.format(p=odd, o=out) for arg in argv])
    err = capsys.readouterr().err
    assert code == 2
    assert len(err.splitlines()) == 1, err
    assert err.startswith("livesession: error: ")
    assert "a b c" in err
    assert not out.exists()
