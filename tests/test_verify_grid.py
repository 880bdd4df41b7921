"""``verify`` holds every price to the run's tick and every quantity to its lot, as written.

The schema only says "a decimal string": a run re-sealed after a change (event id, the
stop record's digests, the audit chain and head recomputed, as a forger would) with a
``BAR`` close of ``41928.605`` under a tick of 0.01, or ``041928.60``, or a high of
``42000.001``, verified OK. The grid comes from the run's ``config.json``; each violation
names the line, the field, the value and the grid.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from _forge import reseal, tampered
from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import DryrunConfig, OrderType, create_run
from livesession.cli import main
from livesession.verify import verify_run

D = Decimal


def _of(kind: str) -> Callable[[dict[str, Any]], bool]:
    return lambda event: event["event_type"] == kind


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo under the default grid (tick 0.01, lot 0.001), trading."""
    out = tmp_path_factory.mktemp("grid")
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "300", "-q"]) == 0
    return out / "r"


@pytest.fixture(name="run")
def _run(demo_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy" / "r"
    shutil.copytree(demo_run, copy)
    return copy


def _violations(run: Path) -> list[str]:
    return list(verify_run(run).violations)


def test_the_demo_run_verifies(run: Path) -> None:
    assert verify_run(run).ok
    reseal(run)  # re-sealing alone changes nothing
    assert verify_run(run).ok


@pytest.mark.broken_run("a price changed and the run re-sealed: verify must catch it")
class TestTamperedPrices:
    @pytest.mark.parametrize(
        ("field", "change", "problem"),
        [
            ("close", lambda v: v + "5", "is off the price_tick 0.01 grid"),
            ("close", lambda v: "0" + v, "is not a plain decimal (no leading zeros, no exponent)"),
            ("high", lambda v: v + "1", "is off the price_tick 0.01 grid"),
            (
                "low",
                lambda v: v + "0",
                "is not written with the 2 places of the price_tick 0.01: {was}",
            ),
        ],
    )
    def test_a_bar_price(
        self, run: Path, field: str, change: Callable[[str], str], problem: str
    ) -> None:
        """41928.605, 041928.60, 42000.001, 41928.6: each named with line, field and tick."""
        seen: dict[str, str] = {}

        def edit(record: dict[str, Any]) -> None:
            seen["was"] = record["payload"][field]
            seen["now"] = record["payload"][field] = change(seen["was"])

        number = tampered(run, "events.jsonl", _of("BAR"), edit)
        problem = problem.format(was=seen["was"])
        assert _violations(run) == [f"events.jsonl:{number}: BAR {field} {seen['now']} {problem}"]

    def test_a_fill_price(self, run: Path) -> None:
        number = tampered(
            run,
            "events.jsonl",
            _of("ORDER_FILLED"),
            lambda r: r["payload"].update(price=r["payload"]["price"] + "9"),
        )
        # The price moved the fill's money too: the POSITION_CHANGED after it says so.
        violation, *money = _violations(run)
        assert violation.startswith(f"events.jsonl:{number}: ORDER_FILLED price ")
        assert violation.endswith("9 is off the price_tick 0.01 grid")
        assert [v.split(" ", 2)[:2] for v in money] == [
            [f"events.jsonl:{number + 1}:", "avg_price"],
            [f"events.jsonl:{number + 1}:", "cash"],
        ]


@pytest.mark.broken_run("a quantity changed and the run re-sealed: verify must catch it")
class TestTamperedQuantities:
    def test_a_position_without_the_lot_s_places(self, run: Path) -> None:
        """0.01 for 0.010: the value is on the lot, the form is not the lot's."""
        number = tampered(
            run,
            "events.jsonl",
            lambda e: e["event_type"] == "POSITION_CHANGED" and e["payload"]["position"] == "0.010",
            lambda r: r["payload"].update(position="0.01"),
        )
        [violation] = _violations(run)
        assert violation == (
            f"events.jsonl:{number}: POSITION_CHANGED position 0.01 is not written with the 3 "
            "places of the qty_lot 0.001: 0.010"
        )

    def test_a_snapshot_position_off_the_lot(self, run: Path) -> None:
        number = tampered(
            run,
            "state_snapshots.jsonl",
            lambda s: bool(s["positions"]),
            lambda s: s["positions"].update({k: v + "5" for k, v in s["positions"].items()}),
        )
        violations = _violations(run)
        assert any(
            v.startswith(f"state_snapshots.jsonl:{number}: position of BTC/USDT ")
            and v.endswith("5 is off the qty_lot 0.001 grid")
            for v in violations
        ), violations


@pytest.mark.broken_run("a run's version rewritten to an older release's, and re-sealed")
@pytest.mark.parametrize(("version", "held_to_places"), [("0.1.0", False), ("0.2.0", True)])
def test_a_run_of_a_release_before_the_places_is_held_to_the_grid_only(
    run: Path, version: str, held_to_places: bool
) -> None:
    """Releases before 0.2 wrote a value with the places it was given (a data file's 101.1,
    a strategy's Decimal("5")): a reviewer re-verifying such a run with this release sees the
    values held to the grid, not hundreds of violations of a form they were never written in."""
    tampered(
        run,
        "events.jsonl",
        _of("SESSION_STARTED"),
        lambda r: r["payload"].update(version=version),
    )
    places = tampered(
        run,
        "events.jsonl",
        lambda e: e["event_type"] == "POSITION_CHANGED" and e["payload"]["position"] == "0.010",
        lambda r: r["payload"].update(position="0.01"),
    )
    off = tampered(
        run,
        "events.jsonl",
        _of("BAR"),
        lambda r: r["payload"].update(close=r["payload"]["close"] + "5"),
    )
    grid = [v for v in _violations(run) if " is off the " in v or " is not written " in v]
    assert [v.split(":")[1] for v in grid] == (
        [str(off), str(places)] if held_to_places else [str(off)]
    )


@pytest.mark.broken_run("a price off a tick of 0.05 and the run re-sealed")
def test_a_tick_that_is_no_power_of_ten(tmp_path: Path) -> None:
    """Under 0.05, 42000.10 is in the tick's form but off its grid: 42000.12 is named."""
    config = tmp_path / "c.toml"
    config.write_text('price_tick = "0.05"\n', encoding="utf-8")
    out = tmp_path / "runs"
    args = ["dryrun", "--config", str(config), "--out", str(out), "--run-id", "n", "-q"]
    assert main([*args, "--steps", "40"]) == 0
    run = out / "n"
    assert verify_run(run).ok
    number = tampered(
        run,
        "events.jsonl",
        _of("BAR"),
        lambda r: r["payload"].update(close=r["payload"]["close"][:-1] + "2"),
    )
    [violation] = _violations(run)
    assert violation.startswith(f"events.jsonl:{number}: BAR close ")
    assert violation.endswith("2 is off the price_tick 0.05 grid")


class TestDocumentedExceptions:
    """Recorded as asked or as left, as docs/artifacts.md says: these verify."""

    def _run(self, out: Path) -> Path:
        script = at(
            {
                1: [buy("0.0000001"), sell("0.5", reduce_only=True)],  # below the lot; position 0
                2: [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("41000.005"))],
                3: [buy("1E-2", take_profit_pct=D("0.5"), stop_loss_pct=D("0.5"))],  # legs rest
                5: [sell("0.010", reduce_only=True)],  # flat: avg_price 0; the legs cancel
            }
        )
        config = DryrunConfig(run_id="exc", strategy_id="scripted", steps=8, durability="none")
        session = create_run(
            config,
            out,
            strategy=ScriptedStrategy(script),
            feed=ScriptedFeed(["42000.00"] * 8),
        )
        session.run_to_end(8)
        return out / "exc"

    def test_a_run_with_each_of_them_verifies(self, tmp_path: Path) -> None:
        run = self._run(tmp_path)
        events = [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]
        rejected = {e["payload"]["rule"]: e["payload"] for e in events if "rule" in e["payload"]}
        assert rejected["QTY_BELOW_LOT"]["quantity"] == "0.0000001"
        assert rejected["REDUCE_ONLY"]["position"] == "0"
        assert rejected["PRICE_OFF_TICK"]["limit_price"] == "41000.005"
        kinds = {e["event_type"]: e["payload"] for e in events}
        assert kinds["ORDER_CANCELED"]["filled"] == "0"
        assert kinds["POSITION_CHANGED"]["avg_price"] == "0"
        assert verify_run(run).ok, verify_run(run).violations

    @pytest.mark.broken_run("an exception made a lie and the run re-sealed")
    @pytest.mark.parametrize(
        ("rule", "field", "value", "problem"),
        [
            ("QTY_BELOW_LOT", "quantity", "0.001", "is not below the qty_lot 0.001, yet "),
            ("PRICE_OFF_TICK", "limit_price", "41000.00", "is on the price_tick 0.01 grid, yet "),
        ],
    )
    def test_an_exception_that_does_not_hold_is_named(
        self, tmp_path: Path, rule: str, field: str, value: str, problem: str
    ) -> None:
        run = self._run(tmp_path)
        number = tampered(
            run,
            "events.jsonl",
            lambda e: e["payload"].get("rule") == rule,
            lambda r: r["payload"].update({field: value}),
        )
        # The audit keeps the record the event was copied from, which verify also names.
        violation, copy = _violations(run)
        assert violation == (
            f"events.jsonl:{number}: RISK_REJECTED {field} {value} {problem}refused {rule}"
        )
        assert f"C2_REJECT_{rule}'s payload is not that of events.jsonl:{number}" in copy
