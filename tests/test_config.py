"""DryrunConfig: defaults, validation and TOML loading."""

from __future__ import annotations

import json
import os
import re
from decimal import Decimal
from pathlib import Path

import pytest

from livesession import ConfigError, DryrunConfig, load_config
from livesession.cli import main

from _helpers import without_waiting_on


class TestDefaults:
    def test_runbook_arguments_are_accepted(self):
        """The runbook's DryrunConfig call works and live trading stays off."""
        cfg = DryrunConfig(
            strategy_id="strat_demo",
            run_id="run_demo_001",
            seed=123,
            clock_mode="fixed",
            max_sink_retries=0,
        )
        assert cfg.enabled is False
        assert cfg.broker == "mock"
        assert cfg.steps <= cfg.max_steps

    def test_frozen(self):
        """Configs cannot be changed after construction."""
        cfg = DryrunConfig()
        with pytest.raises(AttributeError):
            cfg.seed = 1  # type: ignore[misc]


class TestValidation:
    def test_an_empty_strategy_id_is_the_name_not_given(self):
        """Like ``symbol``: empty is resolved (the demo's name, or the factory's module),
        so no run records an empty strategy name."""
        assert DryrunConfig(strategy_id="").strategy_id == "sma_demo"
        named = DryrunConfig(strategy_id="", strategy_factory="desk.trend:make")
        assert named.strategy_id == "trend"

    @pytest.mark.parametrize(
        ("kwargs", "fragment"),
        [
            ({"seed": -1}, "seed"),
            ({"seed": 1.5}, "seed"),
            ({"seed": True}, "seed"),
            ({"strategy_id": "a\nb"}, "strategy_id"),
            ({"strategy_id": "x" * 65}, "strategy_id"),
            ({"strategy_id": "   "}, "strategy_id"),
            ({"run_id": "a/b"}, "run_id"),
            ({"run_id": "a\\b"}, "run_id"),
            ({"run_id": ".."}, "run_id"),
            ({"run_id": ""}, "run_id"),
            ({"run_id": "x" * 65}, "run_id"),
            ({"steps": 0}, "steps"),
            ({"steps": -3}, "steps"),
            ({"steps": 11, "max_steps": 10}, "max_steps"),
            ({"clock_mode": "wall"}, "clock_mode"),
            ({"durability": "always"}, "durability"),
            ({"initial_price": 1.5}, "float"),
            ({"initial_price": "-1"}, "initial_price"),
            ({"start_time": "yesterday"}, "start_time"),
            ({"allowlist": "BTC/USDT"}, "allowlist"),
        ],
    )
    def test_bad_values_raise_config_error(self, kwargs, fragment):
        """Each bad value raises ConfigError with a message naming the problem."""
        with pytest.raises(ConfigError) as info:
            DryrunConfig(**kwargs)
        assert fragment in str(info.value)
        assert "\n" not in str(info.value)

    @pytest.mark.parametrize(
        ("given", "meant"), [("aapl", "AAPL"), ("btc/usdt", "BTC/USDT"), ("Brk.b", "BRK.B")]
    )
    def test_a_symbol_in_lower_case_is_refused_naming_the_one_it_means(
        self, tmp_path, capsys, given, meant
    ):
        """``dryrun --symbol aapl`` said only "in upper case", leaving the user to spell it."""
        out = tmp_path / "runs"
        assert main(["dryrun", "--symbol", given, "--out", str(out), "-q"]) == 2
        assert capsys.readouterr().err == (
            "livesession: error: symbol must be a ticker (GOOG, BRK.B) or BASE/QUOTE "
            f"(BTC/USDT), in upper case; got {given!r} (did you mean {meant}?)\n"
        )
        assert not out.exists()

    def test_a_symbol_no_case_can_mend_names_none(self):
        """``btc_usdt`` is no symbol in upper case either: no guess is offered."""
        with pytest.raises(ConfigError) as info:
            DryrunConfig(symbol="btc_usdt")
        assert "did you mean" not in str(info.value)

    def test_fast_must_be_below_slow(self):
        """The SMA windows must be ordered."""
        with pytest.raises(ConfigError, match="fast"):
            DryrunConfig.from_mapping({"strategy": {"fast": 20, "slow": 5}})


class TestToml:
    def test_loads_nested_tables(self, tmp_path):
        """A TOML file sets top-level keys and nested tables; decimals come as strings."""
        path = tmp_path / "cfg.toml"
        path.write_text(
            'run_id = "t1"\nseed = 7\n[strategy]\nfast = 3\nslow = 9\norder_qty = "0.020"\n'
            '[risk]\nmax_order_qty = "2"\n'
        )
        cfg = load_config(path)
        assert (cfg.run_id, cfg.seed) == ("t1", 7)
        assert cfg.strategy.order_qty == Decimal("0.020")
        assert cfg.risk.max_order_qty == Decimal(2)

    def test_overrides_win_over_the_file(self, tmp_path):
        """Flags given as overrides replace the file's values."""
        path = tmp_path / "cfg.toml"
        path.write_text("seed = 7\n")
        assert load_config(path, {"seed": 9}).seed == 9

    def test_an_overridden_value_invalid_on_its_own_is_refused_naming_file_and_key(
        self, tmp_path, capsys
    ):
        """The file's own value was never checked when a flag overrode it: the run was made
        (exit 0) from a file that says ``steps = "-0"`` and ``run_id = "../evil"``."""
        config = tmp_path / "desk.toml"
        config.write_text('steps = "-0"\nseed = "abc"\nrun_id = "../evil"\n')
        out = tmp_path / "runs"
        argv = ["dryrun", "--config", str(config), "--out", str(out), "-q"]
        assert main([*argv, "--steps", "20", "--seed", "1", "--run-id", "ok"]) == 2
        assert capsys.readouterr().err == (
            f"livesession: error: config file {config}, line 2: seed must be a non-negative integer, "
            "got 'abc' (an override replaces it for this run, but the file must be valid on "
            "its own: fix or drop seed there)\n"
        )
        assert not out.exists()

    @pytest.mark.parametrize(
        ("text", "override", "said"),
        [
            ('steps = "-0"\n', {"steps": 20}, "steps must be a positive integer, got '-0'"),
            ('run_id = "../evil"\n', {"run_id": "ok"}, "run_id must be a plain name"),
            ('symbol = "eth"\n', {"symbol": "ETH/USDT"}, "symbol must be a ticker"),
            (
                'symbol = "ETH/USDT:USDT"\n',
                {"symbol": "ETH/USDT"},
                (
                    "symbol must be a ticker (GOOG, BRK.B) or BASE/QUOTE (BTC/USDT), in upper case; "
                    "got 'ETH/USDT:USDT' (ETH/USDT:USDT is a derivative's name, BASE/QUOTE:SETTLE as "
                    "ccxt writes a perpetual swap or a future, and a session trades spot symbols "
                    "only: its spot pair is ETH/USDT)"
                ),
            ),
            ('durability = "always"\n', {"durability": "step"}, "durability must be one of"),
            ('feed = "csv:"\n', {"feed": "random_walk"}, "feed must be random_walk, venue"),
            ('strategy_factory = "x"\n', {"strategy_factory": "a:b"}, "strategy_factory must"),
        ],
    )
    def test_load_config_holds_each_overridden_value_to_its_key(
        self, tmp_path, text, override, said
    ):
        path = tmp_path / "cfg.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(path, override)
        message = str(info.value)
        assert message.startswith(f"config file {path}, line 1: {said}")
        assert message.endswith(f"fix or drop {next(iter(override))} there)")

    @pytest.mark.parametrize(
        ("text", "override"),
        [
            # A path's existence is the config's to judge, not its form's: overridden, the
            # file's data file is never opened.
            ('feed = "csv:missing.csv"\nsymbol = "ETH/USDT"\n', {"feed": "random_walk"}),
            # Valid with the overriding factory, though not with the file's own none.
            ("[strategy_params]\nx = 1\n", {"strategy_factory": "desk.s:make"}),
            # Within its own key's rules; over max_steps only with the file's other keys.
            ("steps = 5000000\n", {"steps": 20}),
            ('seed = 7\nrun_id = "mine"\n', {"seed": 9, "run_id": "other"}),
        ],
    )
    def test_a_value_valid_on_its_own_may_be_overridden(self, tmp_path, text, override):
        path = tmp_path / "cfg.toml"
        path.write_text(text)
        cfg = load_config(path, override)
        assert all(getattr(cfg, key) == value for key, value in override.items())

    @pytest.mark.parametrize(
        ("text", "fragment"),
        [
            ("bogus = 1\n", "unknown config key bogus"),
            ("[strategy]\nspeed = 1\n", "unknown config key strategy.speed"),
            ("x = [\n", "not valid TOML"),
            ("initial_price = 42000.5\n", "initial_price: floats are not accepted"),
            ("strategy = 3\n", "strategy must be a table"),
        ],
    )
    def test_bad_files(self, tmp_path, text, fragment):
        """Unknown keys, malformed TOML and floats for money are one-line errors."""
        path = tmp_path / "cfg.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        assert fragment in str(info.value)

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            ({"initial_price": 100.0}, "initial_price: floats are not accepted"),
            ({"qty_lot": 0.5}, "qty_lot: floats are not accepted"),
            ({"initial_cash": "abc"}, "initial_cash: 'abc' is not a decimal number"),
            ({"risk": {"max_order_qty": 1.5}}, "risk.max_order_qty: floats are not accepted"),
        ],
    )
    def test_a_decimal_given_in_python_is_named_in_its_error(self, kwargs, expected):
        """DryrunConfig(...) built in Python names the field, as a config file's error does."""
        with pytest.raises(ConfigError, match=f"^{re.escape(expected)}"):
            DryrunConfig(**kwargs)

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("stepz = 10\n", "unknown config key stepz (did you mean steps?); known keys: "),
            ("clock = 'sim'\n", "unknown config key clock (did you mean clock_mode?)"),
            (
                "[risk]\nmax_ordr_qty = 1\n",
                "unknown config key risk.max_ordr_qty (did you mean risk.max_order_qty?)",
            ),
            (
                "[alerts]\nwebhok_url = 'http://127.0.0.1:9/x'\n",
                "unknown config key alerts.webhok_url (did you mean alerts.webhook_url?)",
            ),
            ("zzz = 1\n", "unknown config key zzz; known keys: account, alerts, allowlist, "),
        ],
    )
    def test_unknown_keys_suggest_the_nearest(self, tmp_path, text, expected):
        """A misspelt key names the nearest known key; the list never offers base_dir,
        which is the file's own directory and refused in a file."""
        path = tmp_path / "cfg.toml"
        path.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(path)
        message = str(info.value)
        assert expected in message
        assert "base_dir" not in message
        assert "\n" not in message

    @pytest.mark.parametrize(
        ("mapping", "expected"),
        [
            ({1: 2, "sede": 3}, "unknown config key 1; known keys: "),
            ({"risk": {1: 2, "x": 1}}, "unknown config key risk.1; known keys: "),
        ],
    )
    def test_unknown_keys_of_mixed_types_from_python_are_a_config_error(self, mapping, expected):
        """A mapping from Python (a YAML loader reads ``1: 2`` as an int key) with keys of
        two types raised ``TypeError: '<' not supported between instances of 'str' and
        'int'`` (and ``invalid config: ...`` in a table) sorting the unknown keys."""
        with pytest.raises(ConfigError) as info:
            DryrunConfig.from_mapping(mapping)
        assert str(info.value).startswith(expected)

    def test_a_file_saved_with_a_bom_and_crlf_reads(self, tmp_path):
        """A config saved by a Windows editor (UTF-8 with a BOM, CRLF lines) is read as written."""
        path = tmp_path / "cfg.toml"
        path.write_bytes(b'\xef\xbb\xbfsteps = 10\r\nseed = 5\r\n[risk]\r\nmax_order_qty = "2"\r\n')
        cfg = load_config(path)
        assert (cfg.steps, cfg.seed, cfg.risk.max_order_qty) == (10, 5, Decimal(2))

    def test_missing_file(self, tmp_path):
        """A missing config file names the path."""
        with pytest.raises(ConfigError, match="config file not found"):
            load_config(tmp_path / "nope.toml")

    def test_a_path_given_as_str_or_pathlike_reads(self, tmp_path, monkeypatch):
        """``load_config("desk.toml")`` reads the file as a Path would, relative to the cwd."""
        (tmp_path / "desk.toml").write_text("seed = 11\n")
        monkeypatch.chdir(tmp_path)
        for path in ("desk.toml", str(tmp_path / "desk.toml"), tmp_path / "desk.toml"):
            cfg = load_config(path)
            assert (cfg.seed, cfg.base_dir) == (11, str(tmp_path.resolve()))
        with pytest.raises(ConfigError, match=r"config file not found: nope\.toml"):
            load_config("nope.toml")

    def test_a_data_path_in_the_file_is_kept_on_the_command_line_made_absolute(
        self, tmp_path, monkeypatch
    ):
        """docs/data.md "Paths and identity": config.json keeps a file's relative path as
        written; a ``--feed`` path is resolved from the cwd and recorded absolute."""
        (tmp_path / "desk.toml").write_text('feed = "csv:data/eurusd.csv"\n')
        monkeypatch.chdir(tmp_path)
        assert load_config("desk.toml").to_dict()["feed"] == "csv:data/eurusd.csv"
        given = load_config(None, {"feed": "csv:d/eurusd.csv"})
        assert given.to_dict()["feed"] == f"csv:{tmp_path / 'd' / 'eurusd.csv'}"


class TestNotAConfigFile:
    """``--config /dev/zero`` read until the memory ran out (MemoryError, deaf to SIGTERM),
    ``--config`` a FIFO waited for a writer for ever: a config file is a regular file of at
    most 16 MiB, and anything else is refused in one line before a byte is read."""

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    def test_a_fifo_is_refused_at_once(self, tmp_path):
        fifo = tmp_path / "desk.toml"
        os.mkfifo(fifo)
        outcome = without_waiting_on(fifo, lambda: load_config(fifo))
        assert isinstance(outcome.get("error"), ConfigError), outcome
        assert str(outcome["error"]) == (
            f"config file {fifo} is not a regular file (a FIFO): give the path of a TOML file"
        )

    @pytest.mark.skipif(not Path(os.devnull).exists(), reason="a character device to name")
    def test_a_device_is_refused_before_it_is_read(self):
        """/dev/null read as an empty config (a run on the defaults); /dev/zero never ends."""
        with pytest.raises(ConfigError) as caught:
            load_config(os.devnull)
        assert str(caught.value) == (
            f"config file {os.devnull} is not a regular file (a character device): give the "
            "path of a TOML file"
        )

    def test_a_directory_is_named_as_one(self, tmp_path):
        with pytest.raises(ConfigError, match=r"is not a regular file \(a directory\)"):
            load_config(tmp_path)

    def test_a_file_over_16_mib_is_refused_before_it_is_read(self, tmp_path, monkeypatch):
        path = tmp_path / "huge.toml"
        with path.open("wb") as f:
            f.truncate((16 << 20) + 1)  # sparse: no disk, nothing read
        reads = []
        real = os.read
        monkeypatch.setattr(os, "read", lambda fd, n: reads.append(n) or real(fd, n))
        with pytest.raises(ConfigError) as caught:
            load_config(path)
        assert str(caught.value) == (
            f"config file {path} is 16777217 bytes, more than the 16777216 (16 MiB) a config "
            "file may have: is it the right file?"
        )
        assert reads == []

    @pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
    @pytest.mark.parametrize("kind", ["fifo", "device"])
    def test_dryrun_says_it_in_one_line_and_writes_nothing(self, tmp_path, capsys, kind):
        config = tmp_path / "desk.toml"
        if kind == "fifo":
            os.mkfifo(config)
        else:
            config = Path(os.devnull)
        out = tmp_path / "runs"
        argv = ["dryrun", "--config", str(config), "--out", str(out), "--steps", "5"]
        outcome = without_waiting_on(config, lambda: main(argv))
        assert outcome == {"value": 2}
        err = capsys.readouterr().err
        what = "a FIFO" if kind == "fifo" else "a character device"
        assert err == (
            f"livesession: error: config file {config} is not a regular file ({what}): give "
            "the path of a TOML file\n"
        )
        assert not out.exists()


class TestBounds:
    """Values a run cannot carry through are refused at load, in one line."""

    @pytest.mark.parametrize(
        ("kwargs", "expected"),
        [
            (
                {"start_time": "1969-12-31T23:00:00Z"},
                "start_time 1969-12-31T23:00:00Z is before 1970-01-01T00:00:00Z: a run's times",
            ),
            (
                {"start_time": "2600-01-01T00:00:00Z"},
                "start_time 2600-01-01T00:00:00Z is after 2262-04-11T23:47:16Z: a run's times",
            ),
            (
                {"start_time": "2262-04-01T00:00:00Z"},
                (
                    "and a year for retries would pass 2262-04-11T23:47:16Z, the latest time a run "
                    "can record: lower step_interval_ms or stop_max_polls, or start earlier"
                ),
            ),
            (
                {"step_interval_ms": 86_400_000},
                (
                    "start_time 2026-01-01T00:00:00Z plus max_steps (1000000) steps of "
                    "step_interval_ms (86400000), the wind-down's stop_max_polls (100) and a year "
                    "for retries would pass 2262-04-11T23:47:16Z, the latest time a run can record: "
                    "lower max_steps to 85831 or less"
                ),
            ),
            (
                {"step_interval_ms": 60_000, "stop_max_polls": 10**12},
                "lower step_interval_ms or stop_max_polls",
            ),
            (
                {"step_interval_ms": 100_000_000_000_000},
                (
                    "step_interval_ms must be at most 2678400000 (31 days: a month's bar), got "
                    "100000000000000: is it in milliseconds?"
                ),
            ),
            ({"step_interval_ms": 2**63 - 1}, "step_interval_ms must be at most 2678400000"),
            ({"step_interval_ms": 0}, "step_interval_ms must be a positive integer, got 0"),
            (
                {"lease_ttl_ms": 10_000_000_000_000},
                "lease_ttl_ms must be at most 86400000 (one day: ",
            ),
            (
                {"fill_model": {"slippage_bps": "20000"}},
                (
                    "fill_model.slippage_bps must be at most 1000 (10 %; at 10000 a sell would fill "
                    "at a price of zero), got '20000'"
                ),
            ),
            ({"fill_model": {"slippage_bps": "10000"}}, "slippage_bps must be at most 1000"),
            (
                {"risk": {"daily_loss_pct": "50"}},
                "risk.daily_loss_pct must be at most 1 (a share: 0.05 is 5 %), got '50'",
            ),
            ({"risk": {"portfolio_heat_pct": "5"}}, "risk.portfolio_heat_pct must be at most 1"),
            ({"risk": {"price_collar_pct": "1.01"}}, "risk.price_collar_pct must be at most 1"),
            ({"risk": {"per_trade_risk_pct": "2"}}, "risk.per_trade_risk_pct must be at most 1"),
            ({"risk": {"stop_distance_pct": "10"}}, "risk.stop_distance_pct must be at most 1"),
            (
                {"risk": {"max_executions": 10**20}},
                (
                    "risk.max_executions must be at most 9223372036854775807 (the largest "
                    "64-bit integer), got 100000000000000000000"
                ),
            ),
            ({"seed": 2**63}, "seed must be at most 9223372036854775807"),
            ({"volatility_bps": 2**64}, "volatility_bps must be at most 9223372036854775807"),
            ({"fill_model": {"latency_ms": 2**70}}, "fill_model.latency_ms must be at most"),
            ({"reconcile_grace_ms": 2**63}, "reconcile_grace_ms must be at most"),
            (
                {"initial_cash": "100000000000000000000000000000"},
                (
                    "initial_cash '100000000000000000000000000000' has 30 significant digits, "
                    "more than the 28 Decimal arithmetic keeps: the run would round it; give at "
                    "most 28"
                ),
            ),
            (
                {"initial_price": "1234567890.1234567890123456789"},
                "initial_price '1234567890.1234567890123456789' has 29 significant digits",
            ),
            (
                {"risk": {"max_order_notional": "1000000000000000000000000000000000"}},
                "risk.max_order_notional '1000000000000000000000000000000000' has 34 significant",
            ),
        ],
    )
    def test_out_of_bounds_is_one_line(self, kwargs, expected):
        with pytest.raises(ConfigError) as info:
            DryrunConfig.from_mapping(kwargs)
        assert expected in str(info.value)
        assert "\n" not in str(info.value)

    def test_the_bounds_themselves_are_accepted(self):
        cfg = DryrunConfig.from_mapping(
            {
                "start_time": "1970-01-01T00:00:00Z",
                "step_interval_ms": 31 * 86_400_000,
                "max_steps": 2_000,
                "steps": 10,
                "lease_ttl_ms": 86_400_000,
                "fill_model": {"slippage_bps": "1000"},
                "risk": {"daily_loss_pct": "1", "price_collar_pct": "1"},
                "seed": 2**63 - 1,
            }
        )
        assert cfg.risk.daily_loss_pct == Decimal(1)
        assert cfg.seed == 2**63 - 1
        assert cfg.step_interval_ms == 31 * 86_400_000
        assert cfg.fill_model.slippage_bps == Decimal(1000)
        daily = DryrunConfig(step_interval_ms=86_400_000, max_steps=85_831)
        assert daily.max_steps == 85_831

    @pytest.mark.parametrize(
        "text",
        [
            'start_time = "1969-12-31T23:00:00Z"\n',
            'start_time = "2600-01-01T00:00:00Z"\n',
            "step_interval_ms = 9223372036854775807\n",
            "lease_ttl_ms = 10000000000000\n",
            '[fill_model]\nslippage_bps = "20000"\n',
            'initial_cash = "100000000000000000000000000000"\n',
            '[risk]\ndaily_loss_pct = "50"\n',
            "[risk]\nmax_executions = 99999999999999999999\n",
        ],
    )
    def test_the_cli_exits_2_and_writes_nothing(self, tmp_path, capsys, text):
        (tmp_path / "run.toml").write_text(text)
        out = tmp_path / "out"
        code = main(["dryrun", "-c", str(tmp_path / "run.toml"), "--out", str(out), "--lease"])
        err = capsys.readouterr().err
        assert code == 2
        assert len(err.strip().splitlines()) == 1
        assert err.startswith("livesession: error: ")
        assert not out.exists()

    def test_a_seed_beyond_64_bits_is_one_json_error(self, tmp_path, capsys):
        out = tmp_path / "out"
        code = main(["dryrun", "--seed", str(2**64), "--out", str(out), "--json"])
        captured = capsys.readouterr()
        assert code == 2
        assert json.loads(captured.out) == {
            "error": (
                "seed must be at most 9223372036854775807 (the largest 64-bit integer), "
                "got 18446744073709551616"
            ),
            "exit_code": 2,
            "ok": False,
        }
        assert not out.exists()


class TestRealishTableNeedsTheRealishBroker:
    """Bug: a [realish] table with the mock broker was ignored: a fault drill that forgot
    ``--broker realish`` ran clean, and config.json recorded the faults it never injected."""

    def test_refused_with_another_broker_in_one_line_and_nothing_written(self, tmp_path, capsys):
        (tmp_path / "m.toml").write_text('[realish]\ntransient_rate = "0.5"\n')
        out = tmp_path / "runs"
        code = main(["dryrun", "-c", str(tmp_path / "m.toml"), "--out", str(out), "-q"])
        err = capsys.readouterr().err
        assert code == 2
        assert err == (
            f"livesession: error: config file {tmp_path / 'm.toml'}, line 1: "
            "[realish] is given, but broker is 'mock': its faults are the "
            'realish broker\'s; set broker = "realish" (--broker realish), or drop [realish]\n'
        )
        assert not out.exists()

    def test_taken_with_the_realish_broker_from_the_flag_or_the_file(self, tmp_path):
        realish = {"transient_rate": "0.5"}
        assert DryrunConfig(broker="realish", realish=realish).realish.transient_rate == Decimal(
            "0.5"
        )
        (tmp_path / "m.toml").write_text('[realish]\ntransient_rate = "0.5"\n')
        out = tmp_path / "runs"
        argv = ["dryrun", "-c", str(tmp_path / "m.toml"), "--out", str(out), "-q"]
        assert main([*argv, "--broker", "realish", "--steps", "20"]) == 0
        with pytest.raises(
            ConfigError, match=r"\[realish\] is given, but broker is 'ccxt:binance'"
        ):
            DryrunConfig(broker="ccxt:binance", realish=realish)


class TestLoadConfigArguments:
    """Bug: ``load_config("desk.toml", overrides=[("steps", 5)])`` raised ``AttributeError:
    'list' object has no attribute 'items'`` and ``load_config(5)`` Python's ``TypeError``
    of ``os.fspath``, neither naming the argument; each is now a one-line ``ConfigError``
    naming it, as ``create_run`` refuses a config that is no ``DryrunConfig``."""

    def test_overrides_that_are_no_mapping_are_named(self, tmp_path):
        path = tmp_path / "desk.toml"
        path.write_text("seed = 5\n", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path, overrides=[("steps", 5)])  # type: ignore[arg-type]
        assert str(caught.value) == (
            "load_config's overrides must be a mapping of config keys to values "
            "({'steps': 500}), got list"
        )

    def test_a_path_that_is_no_path_is_named(self):
        with pytest.raises(ConfigError) as caught:
            load_config(5)  # type: ignore[arg-type]
        assert str(caught.value) == (
            "load_config's path must be a path (a str or an os.PathLike) or None, got int"
        )

    @pytest.mark.parametrize("with_file", [True, False])
    def test_an_override_of_base_dir_is_refused_as_a_files_is(self, tmp_path, with_file):
        """Bug: a config file that sets ``base_dir`` is refused (it is the file's
        directory), but ``load_config(path, overrides={"base_dir": "/elsewhere"})`` took
        it, and the run then imported its plug-ins and read its relative data paths from
        there. Now both are refused, the override with a one-line ``ConfigError``."""
        path = tmp_path / "desk.toml"
        path.write_text("seed = 5\n", encoding="utf-8")
        with pytest.raises(ConfigError) as caught:
            load_config(path if with_file else None, overrides={"base_dir": str(tmp_path)})
        assert str(caught.value) == (
            "load_config's overrides set base_dir, which is not a setting: it is the config "
            "file's directory (DryrunConfig(base_dir=...) sets it in Python)"
        )
        assert load_config(path, overrides={"base_dir": None}).base_dir == str(tmp_path)

    def test_a_table_override_keeps_the_files_other_keys_of_the_table(self, tmp_path):
        """Bug: a table override replaced the file's table whole, so overriding one risk
        limit (``{"risk": {"max_order_notional": "10"}}``) silently put every other limit
        the file set back to its default: a desk's tight ``max_order_qty = "0.002"`` became
        the default 1, a looser limit nobody asked for. A table's keys are now set one by
        one: the file's other limits stay, and the override's key wins."""
        path = tmp_path / "desk.toml"
        path.write_text(
            '[risk]\nmax_order_qty = "0.002"\nmax_order_notional = "50"\n', encoding="utf-8"
        )
        cfg = load_config(path, overrides={"risk": {"max_order_notional": "10"}, "seed": None})
        assert (cfg.risk.max_order_qty, cfg.risk.max_order_notional) == (
            Decimal("0.002"),
            Decimal(10),
        )
        assert cfg.seed == DryrunConfig().seed  # None overrides nothing
        assert load_config(path).risk.max_order_notional == Decimal(50)  # the file unchanged
        alone = load_config(None, overrides={"risk": {"max_order_notional": "10"}})
        assert (alone.risk.max_order_qty, alone.risk.max_order_notional) == (
            DryrunConfig().risk.max_order_qty,
            Decimal(10),
        )
