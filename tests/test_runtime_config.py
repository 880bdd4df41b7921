"""Runtime configuration from the environment: fail fast, name what is missing, show no secret."""

from __future__ import annotations

import copy
import os
import pickle
import re
import subprocess
from pathlib import Path

import attrs
import pytest

from livesession._domain.runtime_config import (
    CCXT_EXCHANGES,
    RUNTIME_MODES,
    RuntimeConfig,
    Secret,
    required_env_vars,
)
from livesession._exceptions import ConfigError

ENV_EXAMPLE = Path(__file__).resolve().parents[1] / ".env.example"

KEY_VALUE = "key-VALUE-4f1c9a"
SEC_VALUE = "sec-VALUE-8d2e7b"
PHRASE_VALUE = "phrase-VALUE-31aa0c"


def _full_env(exchange: str) -> dict[str, str]:
    prefix = f"LIVESESSION_{exchange.upper()}_API_"
    return {
        prefix + "KEY": KEY_VALUE,
        prefix + "SECRET": SEC_VALUE,
        prefix + "PASSWORD": PHRASE_VALUE,
        "UNRELATED": "x",
    }


def _assert_no_values(text: str) -> None:
    for value in (KEY_VALUE, SEC_VALUE, PHRASE_VALUE):
        assert value not in text


class TestModes:
    """Which modes exist and what each needs."""

    def test_modes(self):
        """The modes are mock, realish and one ccxt mode per supported exchange."""
        assert RUNTIME_MODES == ("mock", "realish", "ccxt:binance", "ccxt:bybit", "ccxt:okx")
        assert CCXT_EXCHANGES == ("binance", "bybit", "okx")

    @pytest.mark.parametrize(
        ("mode", "names"),
        [
            ("mock", ()),
            ("realish", ()),
            ("ccxt:binance", ("LIVESESSION_BINANCE_API_KEY", "LIVESESSION_BINANCE_API_SECRET")),
            ("ccxt:bybit", ("LIVESESSION_BYBIT_API_KEY", "LIVESESSION_BYBIT_API_SECRET")),
            (
                "ccxt:okx",
                (
                    "LIVESESSION_OKX_API_KEY",
                    "LIVESESSION_OKX_API_SECRET",
                    "LIVESESSION_OKX_API_PASSWORD",
                ),
            ),
        ],
    )
    def test_required_env_vars(self, mode, names):
        """Each mode lists the variables it needs, in a fixed order."""
        assert required_env_vars(mode) == names

    @pytest.mark.parametrize("mode", ["live", "ccxt:kraken", "CCXT:binance", "", "ccxt:"])
    def test_unknown_mode_lists_choices(self, mode):
        """An unknown mode raises ConfigError listing every valid mode."""
        with pytest.raises(ConfigError) as caught:
            RuntimeConfig.from_env({}, mode=mode)
        for valid in RUNTIME_MODES:
            assert valid in str(caught.value)


class TestFromEnv:
    """from_env reads credentials or names every missing variable."""

    @pytest.mark.parametrize("mode", ["mock", "realish"])
    def test_simulated_modes_need_nothing(self, mode):
        """mock and realish load from an empty environment and hold no secret."""
        config = RuntimeConfig.from_env({}, mode=mode)
        assert config == RuntimeConfig(mode=mode)
        assert config.exchange is None
        assert config.api_key is None

    @pytest.mark.parametrize("mode", ["mock", "realish"])
    def test_simulated_modes_ignore_credentials(self, mode):
        """Credentials in the environment are not picked up by simulated modes."""
        config = RuntimeConfig.from_env(_full_env("binance"), mode=mode)
        assert config.api_key is None

    @pytest.mark.parametrize("exchange", ["binance", "bybit"])
    def test_key_and_secret(self, exchange):
        """binance and bybit take key and secret (and no password)."""
        config = RuntimeConfig.from_env(_full_env(exchange), mode=f"ccxt:{exchange}")
        assert config.exchange == exchange
        assert config.api_key.reveal() == KEY_VALUE
        assert config.api_secret.reveal() == SEC_VALUE
        assert config.api_password is None

    def test_okx_takes_password(self):
        """okx also takes the API password."""
        config = RuntimeConfig.from_env(_full_env("okx"), mode="ccxt:okx")
        assert config.api_password.reveal() == PHRASE_VALUE

    @pytest.mark.parametrize("exchange", CCXT_EXCHANGES)
    def test_all_missing_are_named(self, exchange):
        """With nothing set, the error names every variable the mode needs."""
        mode = f"ccxt:{exchange}"
        with pytest.raises(ConfigError) as caught:
            RuntimeConfig.from_env({}, mode=mode)
        message = str(caught.value)
        for name in required_env_vars(mode):
            assert name in message
        assert "\n" not in message

    def test_only_missing_are_named_and_values_never(self):
        """The error names only the missing variables and shows no value that was set."""
        env = _full_env("okx")
        del env["LIVESESSION_OKX_API_PASSWORD"]
        with pytest.raises(ConfigError) as caught:
            RuntimeConfig.from_env(env, mode="ccxt:okx")
        message = str(caught.value)
        assert "LIVESESSION_OKX_API_PASSWORD" in message
        assert "LIVESESSION_OKX_API_KEY" not in message
        assert "LIVESESSION_OKX_API_SECRET" not in message
        _assert_no_values(message)
        _assert_no_values(repr(caught.value))

    @pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
    def test_blank_counts_as_missing(self, blank):
        """An empty or whitespace-only value counts as missing."""
        env = _full_env("binance")
        env["LIVESESSION_BINANCE_API_SECRET"] = blank
        with pytest.raises(ConfigError, match="LIVESESSION_BINANCE_API_SECRET"):
            RuntimeConfig.from_env(env, mode="ccxt:binance")

    @pytest.mark.parametrize(
        ("field", "padded"),
        [
            ("KEY", KEY_VALUE + "\r"),  # a .env file saved with Windows line ends
            ("SECRET", " " + SEC_VALUE),
            ("PASSWORD", PHRASE_VALUE + "\n"),
            ("KEY", KEY_VALUE[:4] + "\x00" + KEY_VALUE[4:]),
        ],
    )
    def test_padded_value_is_refused_naming_the_variable(self, field, padded):
        """A value with whitespace at an end or a control character is refused, not shown.

        Sent as it was, requests refused the header and quoted the value in its error,
        which the broker's error was raised from.
        """
        env = _full_env("okx")
        env[f"LIVESESSION_OKX_API_{field}"] = padded
        with pytest.raises(ConfigError, match=f"LIVESESSION_OKX_API_{field} has whitespace"):
            RuntimeConfig.from_env(env, mode="ccxt:okx")
        with pytest.raises(ConfigError) as caught:
            RuntimeConfig.from_env(env, mode="ccxt:okx")
        _assert_no_values(str(caught.value) + repr(caught.value))
        assert "\n" not in str(caught.value)

    def test_other_exchange_credentials_do_not_count(self):
        """Credentials for one exchange do not satisfy another."""
        with pytest.raises(ConfigError, match="LIVESESSION_BYBIT_API_KEY"):
            RuntimeConfig.from_env(_full_env("binance"), mode="ccxt:bybit")

    def test_defaults_to_process_environment(self, monkeypatch):
        """Without an explicit mapping, the process environment is read."""
        for name, value in _full_env("bybit").items():
            monkeypatch.setenv(name, value)
        config = RuntimeConfig.from_env(mode="ccxt:bybit")
        assert config.api_secret.reveal() == SEC_VALUE


class TestNoSecretShown:
    """No secret value appears in repr, str or attrs helpers."""

    @pytest.fixture(name="config")
    def _config(self):
        return RuntimeConfig.from_env(_full_env("okx"), mode="ccxt:okx")

    def test_repr_and_str(self, config):
        """repr and str of the configuration mask every secret."""
        for text in (repr(config), str(config), f"{config}", f"{config!r}"):
            _assert_no_values(text)
            assert "***" in text

    def test_asdict(self, config):
        """attrs.asdict keeps Secret objects, whose repr is masked."""
        _assert_no_values(repr(attrs.asdict(config)))

    def test_frozen_and_keyword_only(self, config):
        """The configuration cannot be changed and takes keywords only."""
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            config.mode = "mock"
        with pytest.raises(TypeError):
            RuntimeConfig("mock")


class TestSecret:
    """Secret hides its value except through reveal()."""

    def test_masked(self):
        """str, repr and formatting all give ***."""
        secret = Secret(SEC_VALUE)
        assert str(secret) == "***"
        assert repr(secret) == "***"
        assert f"{secret}|{secret!r}" == "***|***"
        assert secret.reveal() == SEC_VALUE

    def test_equality(self):
        """Secrets compare by value."""
        assert Secret("a") == Secret("a")
        assert Secret("a") != Secret("b")
        assert Secret("a") != "a"

    def test_not_hashable(self):
        """A Secret cannot be hashed (no dict key or set member)."""
        with pytest.raises(TypeError):
            hash(Secret("a"))

    def test_not_picklable(self):
        """Pickling refuses, so the value cannot leave in a pickle."""
        with pytest.raises(TypeError, match="pickled"):
            pickle.dumps(Secret(SEC_VALUE))

    def test_copy_is_same_object(self):
        """Copies share the immutable secret."""
        secret = Secret("a")
        assert copy.copy(secret) is secret
        assert copy.deepcopy(secret) is secret

    def test_holds_str_only(self):
        """A non-str value raises TypeError without showing it."""
        with pytest.raises(TypeError) as caught:
            Secret(b"raw-bytes-VALUE")
        assert "raw-bytes-VALUE" not in str(caught.value)


class TestValidateFor:
    """validate_for checks a loaded configuration against a mode."""

    def test_same_mode_passes(self):
        """A configuration passes for the mode it was loaded for."""
        RuntimeConfig.from_env(_full_env("okx"), mode="ccxt:okx").validate_for("ccxt:okx")

    def test_simulated_mode_always_passes(self):
        """Any configuration is enough for mock and realish."""
        config = RuntimeConfig.from_env({}, mode="mock")
        config.validate_for("mock")
        config.validate_for("realish")

    def test_mock_config_for_exchange_names_all(self):
        """A mock configuration used for okx names all three okx variables."""
        config = RuntimeConfig.from_env({}, mode="mock")
        with pytest.raises(ConfigError) as caught:
            config.validate_for("ccxt:okx")
        for name in required_env_vars("ccxt:okx"):
            assert name in str(caught.value)

    def test_other_exchange_names_its_variables(self):
        """A binance configuration used for bybit names the bybit variables only."""
        config = RuntimeConfig.from_env(_full_env("binance"), mode="ccxt:binance")
        with pytest.raises(ConfigError) as caught:
            config.validate_for("ccxt:bybit")
        message = str(caught.value)
        assert "LIVESESSION_BYBIT_API_KEY" in message
        assert "BINANCE" not in message
        _assert_no_values(message)

    def test_hand_built_config_missing_secret(self):
        """A configuration built by hand without a secret fails for its mode."""
        config = RuntimeConfig(mode="ccxt:bybit", exchange="bybit", api_key=Secret("k"))
        with pytest.raises(ConfigError, match="LIVESESSION_BYBIT_API_SECRET"):
            config.validate_for("ccxt:bybit")

    def test_unknown_mode(self):
        """An unknown mode raises ConfigError."""
        with pytest.raises(ConfigError, match="unknown mode"):
            RuntimeConfig(mode="mock").validate_for("paper")


class TestEnvExample:
    """.env.example lists every variable, each with an empty value."""

    def test_lists_every_variable_empty(self):
        """Every required variable of every mode appears once, with no value."""
        assignments = {}
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                name, _, value = line.partition("=")
                assert name not in assignments
                assignments[name.strip()] = value
        expected = {name for mode in RUNTIME_MODES for name in required_env_vars(mode)}
        assert set(assignments) == expected
        assert all(value == "" for value in assignments.values())

    def test_says_how_its_values_reach_the_environment(self, tmp_path):
        """Bug: it said "Copy to .env, fill in ...", and nothing reads a .env file: the
        values a newcomer filled in never reached livesession, whose refusal then sent them
        back to .env.example (``set them (see .env.example)``). It gives the shell's way to
        load the copy, and that way, run as written on a filled-in copy, sets each one."""
        text = ENV_EXAMPLE.read_text(encoding="utf-8")
        assert "livesession reads its process's environment, never a .env file" in text
        (load,) = re.findall(r"`(set -a; \. \./\.env; set \+a)`", text)
        filled = re.sub(r"^(LIVESESSION_\w+)=$", r"\1='k$y 1'", text, flags=re.MULTILINE)
        (tmp_path / ".env").write_text(filled, encoding="utf-8")
        env = {"PATH": os.environ["PATH"]}
        shown = subprocess.run(
            ["sh", "-c", f"{load}; env"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
        expected = {name for mode in RUNTIME_MODES for name in required_env_vars(mode)}
        assert {line for line in shown if line.startswith("LIVESESSION_")} == {
            f"{name}=k$y 1" for name in expected
        }
