"""Decimals are written in full: a coin priced under a millionth keeps its evidence.

``str(Decimal)`` writes values below 1e-6 (``9.0E-7``) and positive exponents (``1E+2``)
in exponent form, which the contract's decimal strings refuse: before ``plain``, a run on
such prices or on a data file's ``1e5`` failed ``verify``. Every run here must verify.
"""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import orjson
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from livesession import (
    ConfigError,
    DataFileError,
    DryrunConfig,
    MockBroker,
    PreflightContext,
    check_csv,
    default_checks,
)
from livesession._domain.decimal import plain
from livesession._domain.gridbounds import grid_text
from livesession._domain.model import Bar
from livesession._rundir import create_run
from livesession._session.pipeline import _bar_payload
from livesession.report import render_report
from livesession.verify import verify_run

D = Decimal
CONTRACT_DECIMAL = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")  # the verifier's own pattern


@given(st.decimals(allow_nan=False, allow_infinity=False))
@example(D("9.0E-7"))
@example(D("1E+5"))
@example(D("0E-8"))
@example(D("-1.5E-12"))
@example(D("42000.50"))
def test_plain_is_str_in_full(value: Decimal) -> None:
    """The same value, never in exponent form; ``str`` where that is plain already.

    A fraction keeps its digits and places (``0.00000090``), as the grid wrote it.
    """
    text = plain(value)
    assert CONTRACT_DECIMAL.match(text), text
    assert D(text) == value
    if value.as_tuple().exponent <= 0:  # type: ignore[operator]
        assert D(text).as_tuple()[1:] == value.as_tuple()[1:]
    if "E" not in str(value):
        assert text == str(value)


_FINITE = st.decimals(allow_nan=False, allow_infinity=False)


@given(st.tuples(_FINITE, _FINITE, _FINITE, _FINITE, _FINITE))
@example((D("42000.50"), D("42001.00"), D("41999.99"), D("42000.01"), D("0.123")))
@example((D("9.0E-7"), D("9.1E-7"), D("8.9E-7"), D("9.0E-7"), D("1E+5")))
def test_a_bar_is_recorded_as_plain_writes_it(prices: tuple[Decimal, ...]) -> None:
    """The step writes the five with ``str``, ``plain`` only when one is in exponent form."""
    open_, high, low, close, volume = prices
    bar = Bar(symbol="X", ts_ns=1, open=open_, high=high, low=low, close=close, volume=volume)
    assert _bar_payload(bar) == {
        "symbol": "X",
        **{
            k: plain(v)
            for k, v in zip(("open", "high", "low", "close", "volume"), prices, strict=True)
        },
    }


def test_the_examples() -> None:
    assert plain(D("9.0E-7")) == "0.00000090"
    assert plain(D("1E+5")) == "100000"
    assert plain(D("0E-8")) == "0.00000000"
    assert plain(D("42000.50")) == "42000.50"
    assert plain(3) == "3"


def _decimal_strings(run_dir: Path) -> list[str]:
    """Every string of the four contract artifacts that is a number in any form."""
    found: list[str] = []

    def walk(value: object) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and re.fullmatch(r"-?[0-9.]+(E[+-]?[0-9]+)?", value):
            found.append(value)

    for name in ("events.jsonl", "state_snapshots.jsonl", "audit.jsonl"):
        for line in (run_dir / name).read_bytes().splitlines():
            walk(orjson.loads(line))
    walk(orjson.loads((run_dir / "metrics.json").read_bytes()))
    walk(orjson.loads((run_dir / "config.json").read_bytes()))
    return found


def _pepe(tmp_path: Path, *rows: str) -> Path:
    """A data file ``pepe.csv`` of ``rows`` under the usual header."""
    data = tmp_path / "pepe.csv"
    data.write_text(
        "timestamp,open,high,low,close,volume\n" + "".join(f"{row}\n" for row in rows),
        encoding="utf-8",
    )
    return data


def _tiny(run_id: str, **extra: object) -> DryrunConfig:
    return DryrunConfig.from_mapping(
        {
            "run_id": run_id,
            "symbol": "PEPE/USDT",
            "initial_price": "0.00000089",
            "price_tick": "0.00000001",
            "qty_lot": "1000",
            "volatility_bps": 300,
            "initial_cash": "1000.00",
            "steps": 1500,
            "strategy": {"order_qty": "100000000", "protect_pct": "0.05"},
            "risk": {"max_order_qty": "1000000000", "max_order_notional": "1000"},
            **extra,
        }
    )


class TestSubMillionthPrices:
    def test_a_trading_run_with_exits_verifies(self, tmp_path: Path) -> None:
        session = create_run(_tiny("pepe"), tmp_path, alerts=False)
        session.run_to_end(1500)
        session.close()
        run = tmp_path / "pepe"

        result = verify_run(run)

        assert result.ok, result.violations[:5]
        assert result.counts["fills"] > 2
        events = (run / "events.jsonl").read_bytes()
        assert b'"price":"0.000000' in events  # the fills' prices, written in full
        assert b'"oco_group":"' in events  # the protective exits were placed on this grid
        assert [s for s in _decimal_strings(run) if "E" in s] == []
        html = render_report(run)
        assert re.findall(r"[0-9]E[-+][0-9]", html) == []  # the trades table too
        assert '<td class="num">0.000000' in html

    def test_a_rail_that_fires_and_a_kill_verify(self, tmp_path: Path) -> None:
        cfg = _tiny("pepe-rails", risk={"max_order_qty": "1000000000", "max_order_notional": "1"})
        session = create_run(cfg, tmp_path, alerts=False)
        assert session.preflight()
        session.activate()
        session.run_n_steps(700)
        session.kill("operator")
        session.close()
        run = tmp_path / "pepe-rails"

        result = verify_run(run)

        assert result.ok, result.violations[:5]
        events = (run / "events.jsonl").read_bytes()
        assert b'"rule":"MAX_ORDER_NOTIONAL"' in events
        assert [s for s in _decimal_strings(run) if "E" in s] == []

    def test_a_data_file_in_exponent_form_verifies(self, tmp_path: Path) -> None:
        data = _pepe(
            tmp_path,
            "2026-11-27T10:00:00Z,8.9e-7,9.1e-7,8.8e-7,9.0e-7,1e5",
            "2026-11-27T10:05:00Z,0.00000090,0.00000092,0.00000089,0.00000091,1.5E+3",
        )
        cfg = DryrunConfig.from_mapping(
            {"run_id": "pepe-csv", "symbol": "PEPE/USDT", "feed": f"csv:{data}", "steps": 2}
        )
        session = create_run(cfg, tmp_path / "out", alerts=False)
        session.run_to_end(2)
        session.close()
        run = tmp_path / "out" / "pepe-csv"

        assert verify_run(run).ok, verify_run(run).violations[:5]
        bars = [
            orjson.loads(line)["payload"]
            for line in (run / "events.jsonl").read_bytes().splitlines()
            if b'"BAR"' in line
        ]
        assert [(b["open"], b["close"], b["volume"]) for b in bars] == [
            ("0.00000089", "0.00000090", "100000"),
            ("0.00000090", "0.00000091", "1500"),
        ]

    def test_a_config_in_exponent_form_runs_as_its_config_json(self, tmp_path: Path) -> None:
        # config.json writes "1E+3" out ("1000"), which resume and the evidence's re-run
        # read back: the run must compute with that, or they find another run (a notional
        # recorded "89.00" by the run, "89.00000000" by the re-run: NOT VERIFIED).
        exponents = {
            "qty_lot": "1E+3",
            "initial_cash": "1e3",
            "strategy": {"order_qty": "1E+8", "protect_pct": "0.05"},
            "risk": {"max_order_qty": "1E+9", "max_order_notional": "5.0E+1"},
        }
        plain_form = {
            "qty_lot": "1000",
            "initial_cash": "1000",
            "strategy": {"order_qty": "100000000", "protect_pct": "0.05"},
            "risk": {"max_order_qty": "1000000000", "max_order_notional": "50"},
        }
        for out, extra in (("e", exponents), ("p", plain_form)):
            cfg = DryrunConfig.from_mapping({**_tiny("pepe-e").to_dict(), **extra, "steps": 300})
            session = create_run(cfg, tmp_path / out, alerts=False)
            session.run_to_end(300)
            session.close()
        runs = [tmp_path / out / "pepe-e" for out in ("e", "p")]

        assert b'"rule":"MAX_ORDER_NOTIONAL"' in (runs[0] / "events.jsonl").read_bytes()
        for name in ("config.json", "events.jsonl", "state_snapshots.jsonl", "audit.jsonl"):
            assert (runs[0] / name).read_bytes() == (runs[1] / name).read_bytes(), name


class TestACoinsTickInAMessage:
    """A refusal shows a coin's tick and price written out, as the config and file write them.

    Bug: ``price_tick = "0.00000001"`` was shown ``1E-8`` and a price ``0.000000015`` as
    ``1.5E-8``, Decimal's exponent form, to an operator who never wrote one.
    """

    def test_the_config_s_price_off_its_tick(self) -> None:
        with pytest.raises(ConfigError) as info:
            DryrunConfig.from_mapping(
                {
                    "symbol": "PEPE/USDT",
                    "price_tick": "0.00000001",
                    "initial_price": "0.000000015",
                }
            )
        assert str(info.value) == (
            "initial_price '0.000000015' is off the grid of price_tick '0.00000001' (prices "
            "are never rounded: the demo walk would start at 0.00000002): give a price on the "
            "grid, or a finer price_tick"
        )

    def test_a_data_file_s_price_off_the_tick(self, tmp_path: Path) -> None:
        data = _pepe(
            tmp_path,
            "2026-11-27T10:00:00Z,0.00001234,0.00001240,0.00001230,0.00001235,1000000",
            "2026-11-27T10:01:00Z,0.000012345,0.00001240,0.00001230,0.00001235,1000000",
        )
        with pytest.raises(DataFileError) as info:
            check_csv(data, tick=Decimal("0.00000001"))
        assert str(info.value) == (
            f"data file {data}, line 3, column open, value '0.000012345': price 0.000012345 is "
            "off the price_tick grid 0.00000001 (prices are never rounded): set price_tick = "
            '"0.000000001" or finer'
        )

    def test_the_preflight_s_refusal_writes_the_coin_s_quantities_out(self) -> None:
        """Bug: ``CONFIG_INVALID``'s detail, which the run records and ``status`` shows, said
        ``order_qty 2E-7 > max_order_qty 1E-7``."""
        config = DryrunConfig.from_mapping(
            {
                "symbol": "PEPE/USDT",
                "qty_lot": "0.0000001",
                "strategy": {"order_qty": "0.0000002"},
                "risk": {"max_order_qty": "0.0000001"},
            }
        )
        preflight = PreflightContext(config=config, broker=MockBroker(), audit_sink_present=True)
        details = [check(preflight).detail for check in default_checks()]
        assert "order_qty 0.0000002 > max_order_qty 0.0000001" in details

    def test_a_tick_at_a_bound_keeps_decimal_s_form(self) -> None:
        # Written out, 1E-25 is a row of 24 zeros no one counts.
        assert grid_text(Decimal("1E-25")) == "1E-25"
        assert grid_text(Decimal("1E-8")) == "0.00000001"
        assert grid_text(Decimal("1E+6")) == "1000000"
