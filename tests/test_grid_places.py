"""Every price and quantity a run writes has the tick's and the lot's places.

The artifact contract writes prices and quantities as decimal strings quantised to the
instrument's tick and lot, so their bytes must not depend on how the input was written:
a strategy's ``Decimal("1E-2")`` at a lot of 0.001 is ``0.010`` (not ``0.01``), a limit
price of ``Decimal("4.1E+4")`` at a tick of 0.01 is ``41000.00`` (not ``41000``), a data
file's ``101.1`` under a tick of 0.01 is ``101.10``. The exceptions docs/artifacts.md
names stay as asked: a quantity below the lot in ``SIGNAL`` / ``RISK_REJECTED``
(``QTY_BELOW_LOT``), an off-tick ``limit_price`` in ``RISK_REJECTED`` (``PRICE_OFF_TICK``),
and a zero written ``0`` (an order's ``filled`` before its first fill, a flat position's
``avg_price``, a position never held).
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from _scripted import ScriptedFeed, ScriptedStrategy, at, buy
from livesession import OrderType
from livesession._domain.decimal import quantize
from livesession._market.feeds import CsvReplayFeed

from _helpers import Sinks, session

D = Decimal
PRICES = frozenset({"open", "high", "low", "close", "price", "avg_price", "limit_price"})
QUANTITIES = frozenset({"quantity", "filled", "remaining", "position"})
HEADER = "timestamp,open,high,low,close,volume\n"


def _places(text: str) -> int:
    return len(text.partition(".")[2])


def off_places(sinks: Sinks, *, tick: str = "0.01", lot: str = "0.001") -> list[tuple[Any, ...]]:
    """(event type, field, value) of every price or quantity not written with its places.

    A zero written ``0`` passes, and so do the exceptions docs/artifacts.md names: a
    quantity below the lot (as asked) and a ``PRICE_OFF_TICK`` limit price.
    """
    tick_places, lot_places = _places(tick), _places(lot)
    found = []
    for event in map(orjson.loads, sinks.events.lines):
        payload = event["payload"]
        for field, value in payload.items():
            if not isinstance(value, str) or value == "0":
                continue
            below_lot = field == "quantity" and D(value) < D(lot)
            off_tick = payload.get("rule") == "PRICE_OFF_TICK" and field == "limit_price"
            if below_lot or off_tick:
                continue
            want = tick_places if field in PRICES else lot_places if field in QUANTITIES else None
            if want is not None and _places(value) != want:
                found.append((event["event_type"], field, value))
    for snap in sinks.snapshots():
        found.extend(
            ("snapshot", "position", v)
            for v in snap["positions"].values()
            if v != "0" and _places(v) != lot_places
        )
        for order in snap["open_orders"]:
            found.extend(
                ("snapshot", f, order[f])
                for f in ("quantity", "filled")
                if order[f] != "0" and _places(order[f]) != lot_places
            )
    return found


class TestQuantize:
    @pytest.mark.parametrize(
        ("value", "step", "rounding", "text"),
        [
            ("101.1", "0.01", ROUND_HALF_EVEN, "101.10"),
            ("102", "0.01", ROUND_HALF_EVEN, "102.00"),
            ("4.1E+4", "0.01", ROUND_HALF_EVEN, "41000.00"),
            ("1E-2", "0.001", ROUND_DOWN, "0.010"),
            ("0.0125", "0.001", ROUND_DOWN, "0.012"),
            ("100", "0.05", ROUND_HALF_EVEN, "100.00"),
            ("100", "0.5", ROUND_HALF_EVEN, "100.0"),
            ("42000.00", "5", ROUND_HALF_EVEN, "42000"),
        ],
    )
    def test_the_result_has_the_steps_places_whatever_the_value_s_form(
        self, value: str, step: str, rounding: str, text: str
    ) -> None:
        """Before, a value with fewer places kept them: 101.1 at 0.01 stayed 101.1."""
        assert str(quantize(D(value), D(step), rounding)) == text

    def test_to_places_changes_the_form_only(self) -> None:
        from livesession._domain.decimal import to_places

        assert str(to_places(D("4.1E+4"), D("0.01"))) == "41000.00"
        assert str(to_places(D("1E-2"), D("0.001"))) == "0.010"
        assert str(to_places(D("1.07160"), D("0.00001"))) == "1.07160"
        too_long = D("123456789012345678901234567")  # 29 digits at 0.01: left as it is
        assert to_places(too_long, D("0.01")) is too_long


class TestDataFilePrices:
    def _bars(self, tmp_path: Path, rows: str, tick: str | None) -> list[list[str]]:
        path = tmp_path / "bars.csv"
        path.write_text(HEADER + rows, encoding="utf-8")
        feed = CsvReplayFeed(path, symbol="ABC", tick=None if tick is None else D(tick), lot=D(1))
        bars = list(iter(lambda: feed.next_bar(0), None))
        feed.close()
        return [[str(v) for v in (b.open, b.high, b.low, b.close, b.volume)] for b in bars]

    def test_a_row_s_prices_take_the_tick_s_places(self, tmp_path: Path) -> None:
        """101.1,102,100,101.5 under 0.01 was recorded 101.1, 102, 100, 101.5."""
        rows = "2025-01-01,101.1,102,100,101.5,10\n2025-01-02,101.5,103.25,101,102,1.50\n"
        assert self._bars(tmp_path, rows, "0.01") == [
            ["101.10", "102.00", "100.00", "101.50", "10"],  # a volume keeps its text
            ["101.50", "103.25", "101.00", "102.00", "1.50"],
        ]

    def test_an_inferred_tick_s_places_too(self, tmp_path: Path) -> None:
        """No tick given: the finest step of the prices as written (0.01 here)."""
        rows = "2025-01-01,101.1,102,100,101.5,10\n2025-01-02,101.5,103.25,101,102,1.50\n"
        assert self._bars(tmp_path, rows, None)[0][:4] == ["101.10", "102.00", "100.00", "101.50"]


class TestIntents:
    def test_a_strategy_s_numbers_take_the_lot_s_and_the_tick_s_places(self) -> None:
        """1E-2 was recorded 0.01 (position 0.01, remaining 0.00), 4.1E+4 as 41000."""
        script = at(
            {
                1: [buy("1E-2")],
                2: [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("4.1E+4"))],
                3: [buy("100")],  # MAX_ORDER_QTY: the rail's number too
            }
        )
        orch, sinks = session(
            feed=ScriptedFeed(["42000.00"] * 5),
            strategy=ScriptedStrategy(script),
            steps=5,
        )
        orch.preflight()
        orch.activate()
        orch.run_n_steps(5)
        orch.request_stop("end")
        [first, limit, big] = [e["payload"] for e in sinks.events_of("SIGNAL")]
        assert (first["quantity"], limit["quantity"], big["quantity"]) == (
            "0.010",
            "0.010",
            "100.000",
        )
        submitted = [e["payload"] for e in sinks.events_of("ORDER_SUBMITTED")]
        assert [p["quantity"] for p in submitted[:2]] == ["0.010", "0.010"]
        assert submitted[1]["limit_price"] == "41000.00"
        [fill] = [e["payload"] for e in sinks.events_of("ORDER_FILLED")][:1]
        assert (fill["quantity"], fill["filled"], fill["remaining"]) == ("0.010", "0.010", "0.000")
        assert sinks.events_of("POSITION_CHANGED")[0]["payload"]["position"] == "0.010"
        [rejected] = sinks.events_of("RISK_REJECTED")
        assert rejected["payload"]["rule"] == "MAX_ORDER_QTY"
        assert rejected["payload"]["quantity"] == "100.000"
        assert rejected["payload"]["reason"] == "quantity 100.000 > max_order_qty 1"
        assert off_places(sinks) == []

    def test_the_documented_exceptions_stay_as_asked(self) -> None:
        """A quantity below the lot, and an off-tick limit price, are recorded as asked."""
        script = at(
            {
                1: [buy("0.0000001")],
                2: [buy("0.010", order_type=OrderType.LIMIT, limit_price=D("41000.005"))],
            }
        )
        orch, sinks = session(
            feed=ScriptedFeed(["42000.00"] * 3), strategy=ScriptedStrategy(script), steps=3
        )
        orch.preflight()
        orch.activate()
        orch.run_n_steps(3)
        rejected = [e["payload"] for e in sinks.events_of("RISK_REJECTED")]
        assert [(p["rule"], p["quantity"]) for p in rejected] == [
            ("QTY_BELOW_LOT", "0.0000001"),
            ("PRICE_OFF_TICK", "0.010"),
        ]
        assert rejected[1]["limit_price"] == "41000.005"


class TestPlugInFeeds:
    """A feed of one's own (or the venue's candles): checked against the tick, then placed."""

    def _run(self, closes: list[str]) -> Sinks:
        orch, sinks = session(feed=ScriptedFeed(closes), strategy=ScriptedStrategy(at({})))
        orch.preflight()
        orch.activate()
        orch.run_n_steps(len(closes))
        return sinks

    def test_its_prices_take_the_tick_s_places(self) -> None:
        """42000 and 41999.5 were recorded as the feed wrote them."""
        sinks = self._run(["42000", "41999.5", "4.2E+4"])
        bars = [e["payload"] for e in sinks.events_of("BAR")]
        assert [(b["open"], b["close"]) for b in bars] == [
            ("42000.00", "42000.00"),
            ("41999.50", "41999.50"),
            ("42000.00", "42000.00"),
        ]
        assert bars[0]["volume"] == "1"  # the market's: as the feed gave it

    def test_a_price_off_the_tick_is_the_feed_s_error(self) -> None:
        """41928.605 under 0.01 was recorded as it came, a price the run's grid has not."""
        sinks = self._run(["42000.00", "41928.605", "42000.00"])
        assert len(sinks.events_of("BAR")) == 1
        [error] = sinks.events_of("FEED_ERROR")
        assert error["payload"]["error"] == "ValueError"
        assert error["payload"]["message"] == (
            "a Bar's open 41928.605 is off the price_tick grid 0.01 (prices are never "
            "rounded): give prices on the tick, or set price_tick to the feed's"
        )
        assert error["payload"]["step"] == 2

    def test_a_price_too_far_from_the_tick_is_named_too(self) -> None:
        sinks = self._run(["1E+40"])
        [error] = sinks.events_of("FEED_ERROR")
        assert error["payload"]["message"] == (
            "a Bar's open 1E+40 is more than 28 digits from the price_tick 0.01 (as many as "
            "the session computes with exactly)"
        )
