"""The config bounds a hand-typed config met: each is refused at load, in one line naming
the key and the value, exit 2 and nothing written; a config that loads runs and verifies.
"""

from __future__ import annotations

import re
from pathlib import Path

import orjson
import pytest

from _configcli import refused_config
from livesession import ConfigError, DryrunConfig, create_run, resume_run, verify_run
from livesession.cli import main

from crash_harness import KILLED, cli


def _refusal(mapping: dict[str, object]) -> str:
    with pytest.raises(ConfigError) as info:
        DryrunConfig.from_mapping(mapping)
    message = str(info.value)
    assert "\n" not in message
    return message


def _cli_refuses(tmp_path: Path, text: str, capsys: pytest.CaptureFixture[str]) -> str:
    """``livesession dryrun --json`` on a config of ``text``: exit 2, nothing written."""
    config = tmp_path / "hand.toml"
    error = refused_config(tmp_path, text, capsys)
    # A refused value says the file and the key's line first (tests/test_config_located.py),
    # then the message as it was before: that is what these tests hold.
    located = re.match(rf"config file {re.escape(str(config))}(?:, line \d+)?: ", error)
    return error if located is None else error[located.end() :]


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


class TestValuesOnTheirGrids:
    """A price needs its integer digits and the tick's places, a quantity the lot's, and
    money those of a fill's value (a quantity times a price): at most 28 in all."""

    @pytest.mark.parametrize(
        ("mapping", "expected"),
        [
            (
                {"initial_price": "1000000000000000000000000000"},
                (
                    "initial_price '1000000000000000000000000000' needs 30 digits on the grid of "
                    "price_tick '0.01': 28 before the point and 2 places, more than the 28 Decimal "
                    "arithmetic keeps (the run would round it, or write it off its grid); give "
                    "initial_price below 100000000000000000000000000 or a price_tick of at most 0 "
                    "places"
                ),
            ),
            (
                {"price_tick": "0.0000000000000000000000001"},
                (
                    "initial_price '42000.00' needs 30 digits on the grid of price_tick '1E-25': 5 "
                    "before the point and 25 places"
                ),
            ),
            (
                {"price_tick": "0.000000000000000000000001", "initial_cash": "1"},
                "initial_price '42000.00' needs 29 digits on the grid of price_tick '1E-24'",
            ),
            (
                {"price_tick": "0.00000000000000000001"},
                (
                    "initial_cash '100000.00' needs 29 digits at the places of a fill's value (a "
                    "quantity on qty_lot '0.001' times a price on price_tick '1E-20'): 6 before the "
                    "point and 23 places"
                ),
            ),
            (
                {"initial_cash": "1E+24"},
                "initial_cash '1E+24' needs 30 digits at the places of a fill's value",
            ),
            (
                {"risk": {"max_order_notional": "1000000000000000000000000"}},
                (
                    "risk.max_order_notional '1000000000000000000000000' needs 30 digits at the "
                    "places of a fill's value"
                ),
            ),
            (
                {"qty_lot": "1E-27", "strategy": {"order_qty": "10"}},
                "strategy.order_qty '10' needs 29 digits on the grid of qty_lot '1E-27'",
            ),
            (
                {"qty_lot": "1000", "strategy": {"order_qty": "0.00000000000000000000000001"}},
                (
                    "strategy.order_qty '1E-26' is more than 28 digits below the qty_lot '1000', as "
                    "many as the session computes with exactly: each of the demo's orders would "
                    "fail the run; give at least 0.0000000000000000000000001"
                ),
            ),
        ],
    )
    def test_a_value_beyond_its_grid_is_refused_naming_both(self, mapping, expected):
        """initial_price 1E+27 ran, exit 0, and verify said broken (``BAR open ... is off
        the price_tick 0.01 grid``); a tick of 1E-25 sealed FAILED BROKER_REPORT_INVALID;
        an order_qty beyond the lot failed the run as the demo strategy's error."""
        assert _refusal(mapping).startswith(expected)

    def test_the_cli_refuses_a_price_beyond_the_tick(self, tmp_path, capsys):
        text = 'initial_price = "1000000000000000000000000000"\n'
        error = _cli_refuses(tmp_path, text, capsys)
        assert error.startswith("initial_price '1000000000000000000000000000' needs 30 digits")
        assert "price_tick '0.01'" in error

    @pytest.mark.parametrize(
        ("mapping", "started"),
        [
            ({"initial_price": "42000.001"}, "42000.00"),
            ({"price_tick": "0.11"}, "41999.98"),
            ({"price_tick": "5", "initial_price": "102"}, "100"),
        ],
    )
    def test_an_initial_price_off_the_tick_is_refused_not_rounded(self, mapping, started):
        """``initial_price = "42000.001"`` ran (exit 0) from 42000.00, the price rounded to
        the tick, while config.json recorded 42000.001; a data file's price off the grid
        is refused, never rounded."""
        price = repr(mapping.get("initial_price", "42000.00"))
        tick = repr(mapping.get("price_tick", "0.01"))
        assert _refusal(mapping) == (
            f"initial_price {price} is off the grid of price_tick {tick} (prices are never "
            f"rounded: the demo walk would start at {started}): give a price on the grid, or "
            "a finer price_tick"
        )
        DryrunConfig.from_mapping({**mapping, "feed": "csv:data.csv"})  # the walk's only
        assert DryrunConfig.from_mapping({"price_tick": "0.5", "initial_price": "100.5"})

    def test_the_grids_hold_only_what_the_run_uses(self):
        """initial_price is the demo walk's, order_qty the demo strategy's."""
        big = {"initial_price": "1000000000000000000000000000"}
        DryrunConfig.from_mapping({**big, "feed": "csv:data.csv"})
        lot = {"qty_lot": "1E-20", "strategy": {"order_qty": "100000000"}}
        with pytest.raises(ConfigError, match=r"^strategy\.order_qty '100000000' needs 29"):
            DryrunConfig.from_mapping(lot)
        DryrunConfig.from_mapping({"qty_lot": "1E-20", "strategy_factory": "desk.mine:make"})

    def test_a_run_at_the_bound_verifies(self, tmp_path):
        """26 digits before the point and the tick's 2: the most a price on 0.01 can have,
        and cash and a notional cap of 23 digits and the 5 places of a fill's value."""
        cfg = DryrunConfig.from_mapping(
            {
                "run_id": "edge",
                "initial_price": "10000000000000000000000000",
                "initial_cash": "90000000000000000000000",
                "strategy": {"order_qty": "0.001"},
                "risk": {"max_order_notional": "90000000000000000000000"},
            }
        )
        session = create_run(cfg, tmp_path, alerts=False)
        session.run_to_end(40)
        session.close()
        result = verify_run(tmp_path / "edge")
        assert result.ok, result.violations[:3]
        assert result.counts["fills"] > 0

    def test_a_walk_that_leaves_what_its_grid_carries_fails_and_verifies(self, tmp_path):
        """A price at the bound took one up move to need 29 digits: the run sealed
        COMPLETED, exit 0, and verify found its bars off the grid. The walk now fails the
        run there (FEED_ERROR), which verifies."""
        cfg = DryrunConfig.from_mapping(
            {
                "run_id": "up",
                "seed": 1,
                "initial_price": "99999999999999999999999999.00",
                "initial_cash": "1000",
            }
        )
        session = create_run(cfg, tmp_path, alerts=False)
        result = session.run_to_end(5)
        assert (result.status.value, result.reason) == ("FAILED", "FEED_ERROR")
        assert "the random walk reached 1002701699999999999999" in result.detail
        assert verify_run(tmp_path / "up").ok

    def test_a_walk_that_leaps_past_its_grid_in_one_bar_fails_and_verifies(self, tmp_path):
        """``volatility_bps`` has no bound of its own: at 2**63 - 1 the first bar's high
        needed 34 digits, was written rounded, off the tick's grid, and verify failed the
        run. The walk now fails it there (FEED_ERROR), before the bar, which verifies."""
        cfg = DryrunConfig.from_mapping({"run_id": "leap", "volatility_bps": 2**63 - 1})
        session = create_run(cfg, tmp_path, alerts=False)
        result = session.run_to_end(5)
        assert (result.status.value, result.reason) == ("FAILED", "FEED_ERROR")
        assert "the random walk reached 6404273181669793721294531703356333.86" in result.detail
        # the key that made it leap is named (it was not: only initial_price and price_tick)
        assert result.detail.endswith(
            "or give a coarser price_tick, or a smaller volatility_bps (9223372036854775807 "
            "lets a bar move more than the whole price)"
        )
        assert verify_run(tmp_path / "leap").ok

    def test_an_inferred_tick_is_held_so_and_said_to_be(self, tmp_path, capsys):
        data = tmp_path / "fine.csv"
        data.write_text(
            "timestamp,open,high,low,close,volume\n"
            "2026-01-01T00:00:00Z,1.000000000000000000000001,1.1,0.9,1.0,5\n",
            encoding="utf-8",
        )
        error = _cli_refuses(tmp_path, f'feed = "csv:{data}"\nsymbol = "FINE"\n', capsys)
        assert error.startswith("initial_cash '100000.00' needs 33 digits at the places of")
        assert error.endswith(
            "(price_tick '1E-24' is inferred from the data's prices, the finest step among "
            "them, first at line 2, column open, value '1.000000000000000000000001': set "
            "price_tick to the market's tick, and the check names each price off it)"
        )

    def test_an_inferred_tick_names_the_price_a_float_s_rounding_wrote(self, tmp_path, capsys):
        """Bug: the line named the tick (``1E-21``), not the price of 21 places that made it
        (a float column's ``1.2364099999999999e-05`` among prices of 8 places)."""
        data = tmp_path / "pepe.csv"
        data.write_text(
            "timestamp,open,high,low,close,volume\n"
            "2026-01-01T00:00:00Z,0.00001234,0.00001240,0.00001230,0.00001235,5\n"
            "2026-01-01T00:01:00Z,0.00001235,1.2364099999999999e-05,0.00001230,0.00001235,5\n",
            encoding="utf-8",
        )
        error = _cli_refuses(tmp_path, f'feed = "csv:{data}"\nsymbol = "PEPE/USDT"\n', capsys)
        assert error.endswith(
            "(price_tick '1E-21' is inferred from the data's prices, the finest step among "
            "them, first at line 3, column high, value '1.2364099999999999e-05': set "
            "price_tick to the market's tick, and the check names each price off it)"
        )

    def test_a_start_too_late_is_not_said_to_be_the_inferred_ticks(self, tmp_path, capsys):
        """A data file whose first bar is in 2261, with the default max_steps: the refusal
        of its start ended `(price_tick '0.01' is inferred from the data's prices)`, as if
        the tick were why. It names the start alone now; the tick's own refusal keeps it."""
        data = tmp_path / "late.csv"
        data.write_text(
            "timestamp,open,high,low,close,volume\n"
            "2261-01-01T00:00:00Z,100.00,100.10,99.90,100.05,5\n"
            "2261-01-01T00:01:00Z,100.05,100.10,99.90,100.00,5\n",
            encoding="utf-8",
        )
        error = _cli_refuses(tmp_path, f'feed = "csv:{data}"\nsymbol = "LATE"\n', capsys)
        assert error.startswith("start_time 2261-01-01T00:00:00Z plus max_steps (1000000)")
        assert error.endswith(
            "lower max_steps to 143887 or less, or step_interval_ms, or start earlier"
        )


class TestDataFileTick:
    """A data file's price too far from a fine tick: one line (the check is datavalues')."""

    TEXT = (
        "timestamp,open,high,low,close,volume\n2026-01-01T00:00:00Z,42000.00,42001,41999,42000,1\n"
    )

    def test_the_cli_says_which_price_in_one_line(self, tmp_path, capsys):
        """A tick of 1E-25 on a CSV feed was ``decimal.InvalidOperation`` from ``value %
        self.tick`` (exit 1, a traceback, no JSON under --json); a config whose own values
        fit that tick now reaches the data file's check, which names the price."""
        data = tmp_path / "btc.csv"
        data.write_text(self.TEXT, encoding="utf-8")
        text = (
            f'feed = "csv:{data}"\nsymbol = "BTC/USDT"\nprice_tick = "1E-25"\n'
            'initial_cash = "1"\nqty_lot = "1"\n[risk]\nmax_order_notional = "100"\n'
        )
        error = _cli_refuses(tmp_path, text, capsys)
        assert error == (
            f"data file {data}, line 2, column open, value '42000.00': price 42000.00 is more "
            "than 28 digits from the price_tick 1E-25 (as many as the session computes with "
            "exactly)"
        )


class TestStartToTheNanosecond:
    """start_time is read to the nanosecond, as a data file's times are (docs/data.md)."""

    FINE = "2026-01-01T00:00:00.123456789Z"

    def test_its_nine_digits_are_the_run_s(self):
        cfg = DryrunConfig(start_time=self.FINE)
        assert cfg.start_ns == 1_767_225_600_123_456_789
        offset = DryrunConfig(start_time="2026-01-01T01:00:00.000000001+01:00")
        assert offset.start_ns == 1_767_225_600_000_000_001

    @pytest.mark.parametrize(
        "text", ["2026-01-01T00:00:00.1234567891Z", "2026-01-01T00:00:00.000000000000Z"]
    )
    def test_ten_digits_or_more_are_refused(self, text):
        """10 digits were taken, and the run dropped all but the first 6."""
        message = _refusal({"start_time": text})
        assert message.startswith(f"start_time: time {text!r} has ")
        assert "digits of a second: a run's time is to the nanosecond (9 digits at most)" in message

    def test_a_run_and_its_resume_keep_the_nanoseconds(self, tmp_path):
        """The first bar was at ts_sim 1767225660123456000: the 789 ns recorded in
        config.json were dropped by the run."""
        config = tmp_path / "fine.toml"
        config.write_text(f'start_time = "{self.FINE}"\nsteps = 12\ncheckpoint_every = 4\n')
        args = ("dryrun", "-c", config, "--out", tmp_path, "--run-id", "fine", "-q")
        proc = cli(*args, crash_at="checkpoint:2")
        assert proc.returncode == KILLED, proc.stderr
        resumed = resume_run(tmp_path / "fine")
        resumed.run_to_end(resumed.config.steps)
        resumed.close()
        assert verify_run(tmp_path / "fine").ok
        lines = (tmp_path / "fine" / "events.jsonl").read_bytes().splitlines()
        bars = [e["ts_sim"] for e in map(orjson.loads, lines) if e["event_type"] == "BAR"]
        start = 1_767_225_600_123_456_789
        assert bars == [start + step * 60_000_000_000 for step in range(1, 13)]

    def test_a_data_file_s_first_nanoseconds_are_its_start(self, tmp_path, capsys):
        """A dated file's first time becomes start_time: to the nanosecond too (it was
        recorded to the microsecond, ``.123456Z``, before its bar at ``.123456789``)."""
        data = tmp_path / "ns.csv"
        data.write_text(
            "timestamp,open,high,low,close,volume\n"
            f"{self.FINE},1.00,1.10,0.90,1.05,7\n"
            "2026-01-01T00:01:00Z,1.05,1.10,0.90,1.00,7\n",
            encoding="utf-8",
        )
        config = tmp_path / "ns.toml"
        config.write_text(f'feed = "csv:{data}"\nsymbol = "NS"\n', encoding="utf-8")
        out = tmp_path / "out"
        assert main(["dryrun", "-c", str(config), "--out", str(out), "--run-id", "ns", "-q"]) == 0
        recorded = orjson.loads((out / "ns" / "config.json").read_bytes())
        assert recorded["start_time"] == self.FINE
        assert verify_run(out / "ns").ok


class TestMessagesNameTheValue:
    """docs/config.md: every refusal is one line naming the key and the value."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "initial_cash = true\n",
                (
                    "initial_cash: true is a boolean, not a number; write the number as a string, "
                    'e.g. "42000.50"'
                ),
            ),
            (
                "initial_price = 42000.5\n",
                (
                    "initial_price: floats are not accepted for money or quantities (a float is "
                    'rounded when it is read), got 42000.5: write it as a string, e.g. "42000.5"'
                ),
            ),
            (
                "initial_cash = 2026-01-01\n",
                "initial_cash: expected a decimal string, got the TOML date 2026-01-01 (unquoted)",
            ),
            (
                "start_time = 2026-01-01T00:00:00Z\n",
                (
                    "start_time must be a quoted string: TOML read 2026-01-01T00:00:00+00:00 "
                    '(unquoted) as a datetime; write start_time = "2026-01-01T00:00:00Z"'
                ),
            ),
            (
                "start_time = 2026-03-02T09:30:00\n",
                (
                    "start_time must be a quoted string: TOML read 2026-03-02T09:30:00 (unquoted) "
                    'as a datetime; write start_time = "2026-03-02T09:30:00Z"'
                ),
            ),
            (
                "max_steps = 20000000\nsteps = 10\n",
                "max_steps must be at most 10000000 (the most steps any run takes), got 20000000",
            ),
            ('enabled = "false"\n', "enabled must be true or false (unquoted), got 'false'"),
            ("enabled = 0\n", "enabled must be true or false, got 0"),
            (
                'allowlist = "BTC/USDT"\n',
                "allowlist must be a list of symbols, e.g. [\"BTC/USDT\"], got 'BTC/USDT'",
            ),
            ("risk = 5\n", "risk must be a table, got 5"),
        ],
    )
    def test_the_cli_names_it(self, tmp_path, capsys, text, expected):
        """``initial_cash = true`` said "floats are not accepted"; an unquoted start_time
        said "must be an RFC 3339 string" (quote it); max_steps and enabled did not say
        the value given."""
        assert _cli_refuses(tmp_path, text, capsys) == expected


class TestDataIdentityWithoutData:
    """feed_sha256 and feed_bytes pin a data file: without one they pin nothing."""

    SHA = "0" * 64

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                f'feed_sha256 = "{SHA}"\n',
                (
                    f"feed_sha256 is given ('{SHA}'), but feed 'random_walk' reads no data file: "
                    "feed_sha256 pins the file of a csv:PATH or parquet:PATH feed; drop it, or name "
                    "the file in feed"
                ),
            ),
            ("feed_bytes = 10\n", "feed_bytes is given (10), but feed 'random_walk' reads no"),
            (
                'feed = "venue"\nbroker = "ccxt:binance"\nfeed_bytes = 10\n',
                "feed_bytes is given (10), but feed 'venue' reads no data file",
            ),
        ],
    )
    def test_a_feed_that_reads_none_refuses_them_at_load(self, tmp_path, capsys, text, expected):
        """They were taken, and config.json recorded them for a random_walk run."""
        assert _cli_refuses(tmp_path, text, capsys).startswith(expected)

    def test_a_feed_given_by_reference_that_reads_none_refuses_them_at_the_start(
        self, tmp_path, capsys
    ):
        (tmp_path / "deskwalk.py").write_text(
            "from decimal import Decimal\n"
            "from livesession import RandomWalkFeed\n\n\n"
            "def make(*, symbol):\n"
            "    return RandomWalkFeed(symbol=symbol, seed=1, initial_price=Decimal(100),"
            ' tick=Decimal("0.01"), lot=Decimal("0.001"))\n',
            encoding="utf-8",
        )
        text = f'feed = "deskwalk:make"\nfeed_sha256 = "{self.SHA}"\n'
        assert _cli_refuses(tmp_path, text, capsys) == (
            "feed_sha256 is given, but the feed 'deskwalk:make' read no data file: it pins "
            "the file of a feed that reads one; drop it"
        )

    def test_a_data_file_s_run_still_records_and_resumes_them(self, tmp_path):
        data = tmp_path / "btc.csv"
        data.write_text(TestDataFileTick.TEXT, encoding="utf-8")
        config = tmp_path / "data.toml"
        config.write_text(f'feed = "csv:{data}"\nsymbol = "BTC/USDT"\n', encoding="utf-8")
        out = tmp_path / "out"
        assert main(["dryrun", "-c", str(config), "--out", str(out), "--run-id", "d", "-q"]) == 0
        recorded = orjson.loads((out / "d" / "config.json").read_bytes())
        assert recorded["feed_bytes"] == data.stat().st_size
        assert verify_run(out / "d").ok


class TestNestingDepth:
    """Before: ``[strategy_params] x`` of 300 nested arrays died of ``TypeError: Recursion
    limit reached`` (orjson, hashing the config), exit 1 and nothing on stdout for
    ``--json``; 100,000 levels of a ``RecursionError`` in tomllib; dotted keys 1,500 deep of
    one in the params check. A params value may nest 32 levels; deeper is one line, exit 2."""

    HEAD = 'strategy_factory = "deskplug.strat:make"\n[strategy_params]\n'

    @pytest.mark.parametrize(
        ("value", "key"),
        [
            ("x = " + "[" * 300 + "]" * 300, "strategy_params.x "),
            ("x = " + "{a = " * 300 + "1" + "}" * 300, "strategy_params.x" + ".a" * 32 + " "),
            ("a." * 1_500 + "b = 1", "strategy_params" + ".a" * 33 + " "),
        ],
        ids=["arrays", "inline tables", "dotted keys"],
    )
    def test_a_params_value_nested_too_deep_is_one_line(self, tmp_path, capsys, value, key):
        error = _cli_refuses(tmp_path, self.HEAD + value + "\n", capsys)
        assert error == (
            f"{key}nests arrays or tables more than 32 levels deep: flatten it, "
            "or write it as a string the factory parses"
        )

    def test_nesting_too_deep_for_the_toml_reader_is_one_line(self, tmp_path, capsys):
        value = "x = " + "[" * 100_000 + "]" * 100_000
        error = _cli_refuses(tmp_path, self.HEAD + value + "\n", capsys)
        assert error.startswith(f"config file {tmp_path / 'hand.toml'} nests arrays or inline ")
        assert "a params value may nest 32 levels" in error

    def test_32_levels_are_taken_33_are_not(self):
        deep: object = 1
        for _ in range(32):
            deep = [deep]
        config = DryrunConfig.from_mapping(
            {"strategy_factory": "deskplug.strat:make", "strategy_params": {"x": deep}}
        )
        assert config.strategy_params == {"x": deep}
        assert orjson.loads(orjson.dumps(config.to_dict()))["strategy_params"] == {"x": deep}
        message = _refusal(
            {"strategy_factory": "deskplug.strat:make", "strategy_params": {"x": [deep]}}
        )
        assert message.startswith("strategy_params.x nests arrays or tables more than 32 levels")

    def test_a_table_that_holds_itself_is_refused_not_a_recursion_error(self):
        """From Python, a params dict may hold itself: the bound ends the walk."""
        table: dict[str, object] = {}
        table["self"] = table
        message = _refusal(
            {
                "strategy_factory": "deskplug.strat:make",
                "feed_params": {},
                "broker_params": {},
                "strategy_params": {"x": table},
            }
        )
        assert "nests arrays or tables more than 32 levels deep" in message


class TestRefusalsSayTheKeyTheValueAndTheWayOn:
    """Refusals docs/config.md promises name the key and the value: ``[alerts]`` ones gave
    the bound only, ``ccxt:notanexchange`` was an "unknown mode" without the reference
    choice, missing credentials said "run with mode mock", and ``steps`` above a
    ``max_steps`` already at its hard limit said to raise max_steps."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            (
                "[alerts]\ntimeout_ms = true\n",
                "alerts.timeout_ms must be an integer from 1 to 60000, got True",
            ),
            ("[alerts]\nretries = 11\n", "alerts.retries must be an integer from 0 to 10, got 11"),
            (
                "[alerts]\nqueue_size = 0\n",
                "alerts.queue_size must be an integer from 1 to 100000, got 0",
            ),
            (
                'broker = "ccxt:notanexchange"\n',
                (
                    "broker must be mock, realish, ccxt:binance, ccxt:bybit, ccxt:okx or "
                    "package.module:callable, got 'ccxt:notanexchange'"
                ),
            ),
        ],
    )
    def test_the_cli_names_it(self, tmp_path, capsys, text, expected):
        assert _cli_refuses(tmp_path, text, capsys) == expected

    def test_missing_credentials_name_the_broker_and_the_flag(self, tmp_path, capsys, monkeypatch):
        for field in ("KEY", "SECRET"):
            monkeypatch.delenv(f"LIVESESSION_BINANCE_API_{field}", raising=False)
        assert _cli_refuses(tmp_path, 'broker = "ccxt:binance"\n', capsys) == (
            "broker ccxt:binance needs environment variable(s) LIVESESSION_BINANCE_API_KEY, "
            "LIVESESSION_BINANCE_API_SECRET: set them (see .env.example) or run with "
            '--broker mock (broker = "mock")'
        )

    def test_steps_above_a_max_steps_at_its_hard_limit_say_to_run_fewer(self):
        message = _refusal({"max_steps": 10_000_000, "steps": 20_000_000})
        assert message == (
            "steps (20000000) is above the bound max_steps (10000000); max_steps is at its "
            "hard limit (10000000): run fewer steps, and a longer history in several runs"
        )
        assert _refusal({"max_steps": 100, "steps": 200}).endswith(
            "raise max_steps or run fewer steps"
        )


class TestRealishDelays:
    """Bug: `[realish] latency_ms` and `late_fill_ms` took 99999999999999 (three thousand
    years): the venue's reports then never arrived, and the run said nothing of why. Each
    is at most one day of simulated time, refused in one line naming the key, the file and
    its line; one day itself is taken."""

    _SAID = "must be at most 86400000 (one day: a report later than that never arrives), got "

    @pytest.mark.parametrize(
        ("table", "key"),
        [("realish", "latency_ms"), ("realish", "late_fill_ms"), ("fill_model", "latency_ms")],
    )
    def test_a_delay_beyond_a_day_is_refused(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], table: str, key: str
    ) -> None:
        assert _refusal({"broker": "realish", table: {key: 86_400_001}}) == (
            f"{table}.{key} {self._SAID}86400001"
        )
        config = tmp_path / "hand.toml"
        text = f'broker = "realish"\n[{table}]\n{key} = 99999999999999\n'
        config.write_text(text, encoding="utf-8")
        out = tmp_path / "out"
        code = main(["dryrun", "-c", str(config), "--out", str(out), "--steps", "5"])
        captured = capsys.readouterr()
        assert code == 2
        assert captured.err == (
            f"livesession: error: config file {config}, line 3: {table}.{key} "
            f"{self._SAID}99999999999999\n"
        )
        assert not out.exists()

    def test_a_day_is_taken(self, tmp_path: Path) -> None:
        cfg = DryrunConfig.from_mapping(
            {
                "run_id": "day",
                "broker": "realish",
                "steps": 5,
                "reconcile_grace_ms": 3 * 86_400_000,
                "realish": {"latency_ms": 86_400_000, "late_fill_ms": 86_400_000},
            }
        )
        session = create_run(cfg, tmp_path, alerts=False)
        session.run_to_end(5)
        session.close()
        assert verify_run(tmp_path / "day").ok
