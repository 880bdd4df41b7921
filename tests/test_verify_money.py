"""``verify`` holds each ``POSITION_CHANGED``'s cash and average price to the fills.

Cash moves only by fills, from the config's ``initial_cash``: a first fill whose price was
forged, with its event id, the stop record's digests, the audit chain and head recomputed,
verified OK, because the first cash was taken as given and every later one agreed with it.
The average price is the fills' volume-weighted average of the position held, rounded once,
half-even, to the tick (docs/artifacts.md).
"""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from _forge import tampered
from _scripted import ScriptedFeed, ScriptedStrategy, at, buy, sell
from livesession import DryrunConfig, create_run
from livesession.cli import main
from livesession.verify import verify_contents, verify_run

CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")


def _first_fill(event: dict[str, Any]) -> bool:
    return event["event_type"] == "ORDER_FILLED"


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo (initial_cash 100000.00, tick 0.01), trading."""
    out = tmp_path_factory.mktemp("money")
    assert main(["dryrun", "--out", str(out), "--run-id", "m", "--steps", "300", "-q"]) == 0
    return out / "m"


@pytest.fixture(name="run")
def _run(demo_run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "copy" / "m"
    shutil.copytree(demo_run, copy)
    return copy


def _events(run: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (run / "events.jsonl").read_bytes().splitlines()]


@pytest.mark.broken_run("the first fill's price forged and the run re-sealed")
def test_a_forged_first_fill_price_is_found(run: Path) -> None:
    """The forger's move: 1.00 more on the first fill, everything re-sealed."""
    number = tampered(
        run,
        "events.jsonl",
        _first_fill,
        lambda r: r["payload"].update(price=str(Decimal(r["payload"]["price"]) + 1)),
    )
    changed = _events(run)[number]  # the POSITION_CHANGED right after the fill
    assert changed["event_type"] == "POSITION_CHANGED"
    fill = _events(run)[number - 1]["payload"]
    replayed = Decimal("100000.00") - Decimal(fill["quantity"]) * Decimal(fill["price"])
    violations = verify_run(run).violations
    assert (
        f"events.jsonl:{number + 1}: cash {changed['payload']['cash']} but the initial_cash "
        f"100000.00 of config.json and the fills since add up to {replayed}"
    ) in violations


@pytest.mark.broken_run("config.json's initial_cash changed after the run")
def test_initial_cash_is_the_config_s(run: Path) -> None:
    """Another initial_cash in config.json: the first cash disagrees (and the digest)."""
    config = orjson.loads((run / "config.json").read_bytes())
    config["initial_cash"] = "90000.00"
    (run / "config.json").write_bytes(orjson.dumps(config, option=orjson.OPT_INDENT_2))
    number = next(n for n, e in enumerate(_events(run), 1) if _first_fill(e)) + 1
    violations = verify_run(run).violations
    assert any(
        v.startswith(f"events.jsonl:{number}: cash ") and "the initial_cash 90000.00 of" in v
        for v in violations
    ), violations
    assert any(v.startswith("config.json: not the config the run recorded") for v in violations)


def test_a_run_without_config_has_no_start_to_hold_the_first_cash_to(run: Path) -> None:
    """Sinks given as files write no config.json: the first cash is taken as written."""
    contents = {name: (run / name).read_bytes() for name in CONTRACT}
    assert verify_contents(contents).ok


class TestAveragePrice:
    """1 at 100.00, four times 1 at 100.05, then out, under a tick of 0.05."""

    def _run(self, out: Path) -> Path:
        config = DryrunConfig(
            run_id="avg", strategy_id="scripted", steps=6, price_tick="0.05", durability="none"
        )
        script = at({n: [buy("1")] for n in range(1, 6)} | {6: [sell("5")]})
        session = create_run(
            config,
            out,
            strategy=ScriptedStrategy(script),
            feed=ScriptedFeed(["100.00", "100.05", "100.05", "100.05", "100.05", "100.05"]),
        )
        session.run_to_end(6)
        return out / "avg"

    def test_the_exact_average_rounded_once_verifies(self, tmp_path: Path) -> None:
        run = self._run(tmp_path)
        written = [
            (e["payload"]["position"], e["payload"]["avg_price"])
            for e in _events(run)
            if e["event_type"] == "POSITION_CHANGED"
        ]
        assert written == [
            ("1.000", "100.00"),
            ("2.000", "100.00"),  # 100.025, half-even
            ("3.000", "100.05"),  # 100.0333...
            ("4.000", "100.05"),
            ("5.000", "100.05"),  # 100.04
            ("0.000", "0"),
        ]
        assert verify_run(run).ok, verify_run(run).violations

    @pytest.mark.broken_run("an average price forged and the run re-sealed")
    @pytest.mark.parametrize(
        ("position", "forged", "said"),
        [
            ("5.000", "100.00", "the fills average 100.04: 100.05 on the price_tick 0.05"),
            ("2.000", "100.05", "the fills average 100.025: 100.00 on the price_tick 0.05"),
            ("0.000", "100.05", "the position is flat: 0"),
        ],
    )
    def test_a_forged_average_is_found(
        self, tmp_path: Path, position: str, forged: str, said: str
    ) -> None:
        """100.00 at 5 (a rounded average averaged again), 100.05 at 2 (rounded half-up),
        a price once flat (what releases before 0.2 wrote): each named."""
        run = self._run(tmp_path)
        number = tampered(
            run,
            "events.jsonl",
            lambda e: (
                e["event_type"] == "POSITION_CHANGED" and e["payload"]["position"] == position
            ),
            lambda r: r["payload"].update(avg_price=forged),
        )
        assert list(verify_run(run).violations) == [
            f"events.jsonl:{number}: avg_price {forged} of 'BTC/USDT' but {said}"
        ]

    @pytest.mark.broken_run("a run's version rewritten to an older release's, and re-sealed")
    def test_a_run_of_a_release_before_0_2_keeps_its_own_averages(self, tmp_path: Path) -> None:
        """0.1 rounded the average at every fill and kept the last price once flat."""
        run = self._run(tmp_path)
        tampered(
            run,
            "events.jsonl",
            lambda e: e["event_type"] == "SESSION_STARTED",
            lambda r: r["payload"].update(version="0.1.3"),
        )
        tampered(  # the start record copies the event
            run,
            "audit.jsonl",
            lambda r: r["code"] == "C2_DRYRUN_START",
            lambda r: r["payload"].update(version="0.1.3"),
        )
        tampered(
            run,
            "events.jsonl",
            lambda e: e["event_type"] == "POSITION_CHANGED" and e["payload"]["position"] == "0.000",
            lambda r: r["payload"].update(avg_price="100.05"),
        )
        assert verify_run(run).ok, verify_run(run).violations


class TestMoneyReplay:
    """The replay itself, on fills of two symbols interleaved (one cash, one average each)."""

    def _changed(self, symbol: str, position: str, avg: str, cash: str) -> dict[str, str]:
        return {"symbol": symbol, "position": position, "avg_price": avg, "cash": cash}

    def test_two_symbols_share_the_cash_and_keep_their_own_averages(self) -> None:
        from livesession.verify._money import Money
        from livesession.verify._result import Violations

        report = Violations()
        money = Money(Decimal("1000.00"), Decimal("0.01"))
        steps = [
            ("BTC", "0", "1", "100.00", self._changed("BTC", "1", "100.00", "900.00")),
            ("ETH", "0", "2", "10.00", self._changed("ETH", "2", "10.00", "880.00")),
            ("BTC", "1", "1", "102.01", self._changed("BTC", "2", "101.00", "777.99")),  # 101.005
            ("ETH", "2", "-3", "11.00", self._changed("ETH", "-1", "11.00", "810.99")),  # flips
            ("BTC", "2", "-1", "90.00", self._changed("BTC", "1", "101.00", "900.99")),  # reduces
            ("ETH", "-1", "1", "12.00", self._changed("ETH", "0", "0", "888.99")),  # flat
        ]
        for number, (symbol, held, signed, price, changed) in enumerate(steps, 1):
            money.fill(symbol, Decimal(held), Decimal(signed), Decimal(price))
            money.position_changed(report, number, changed)
        assert report.finish() == ()

        money.fill("BTC", Decimal(1), Decimal(1), Decimal("110.00"))  # 1 at 101.005, 1 at 110
        money.position_changed(report, 7, self._changed("BTC", "2", "101.00", "778.99"))
        said = (
            "events.jsonl:7: avg_price 101.00 of 'BTC' but the fills average 105.5025: 105.50 on "
            "the price_tick 0.01"
        )
        assert report.finish() == (said,)

    def test_an_average_on_a_half_tick_is_held_to_the_even_tick(self) -> None:
        """0.005 at 10000.09, 0.009 at 10000.06 and 0.004 at 10000.00 average exactly
        10000.055: 10000.06 on the tick. Replayed at Decimal's 28 digits, the second average
        (10000.0707142857...) left the third a hair below the half, and 10000.05 passed."""
        from livesession.verify._money import Money
        from livesession.verify._result import Violations

        report = Violations()
        money = Money(Decimal("1000.00"), Decimal("0.01"))
        held = Decimal(0)
        for qty, price in (("0.005", "10000.09"), ("0.009", "10000.06"), ("0.004", "10000.00")):
            money.fill("BTC", held, Decimal(qty), Decimal(price))
            held += Decimal(qty)
        money.position_changed(
            report, 3, {"symbol": "BTC", "position": "0.018", "avg_price": "10000.05"}
        )
        said = (
            "events.jsonl:3: avg_price 10000.05 of 'BTC' but the fills average 10000.055: "
            "10000.06 on the price_tick 0.01"
        )
        assert report.finish() == (said,)

    def test_a_position_reduced_and_added_to_over_and_over_agrees_with_the_book(self) -> None:
        """Each partial close and add grows the exact average's fraction by digits; past a
        denominator of 10**28 the book and the replay both go on from its 28 digits, so
        the fraction stays small and the replay agrees with every average the book writes."""
        from livesession import Side
        from livesession._session.book import Book
        from livesession.verify._money import Money
        from livesession.verify._result import Violations

        from _helpers import book_fill

        book, money, report = (
            Book(initial_cash=Decimal(10**7)),
            Money(None, Decimal("0.01")),
            Violations(),
        )
        held = Decimal(0)
        for n in range(400):
            signed = (
                Decimal(1 + n * 7 % 13).scaleb(-3)
                * (1 if n % 2 == 0 else -1)
                * (2 if n % 2 == 0 else 1)
            )
            price = Decimal(4_000_000 + n * 37 % 1000).scaleb(-2)
            side = Side.BUY if signed > 0 else Side.SELL
            book_fill(book, f"c{n}", side, str(abs(signed)), str(price), symbol="BTC")
            money.fill("BTC", held, signed, price)
            held += signed
            average = book.average_on("BTC", Decimal("0.01"))
            written = "0" if average is None else str(average)
            money.position_changed(
                report, n + 1, {"symbol": "BTC", "position": str(held), "avg_price": written}
            )
        assert report.finish() == ()
        assert held > 0
        assert book.exact_avg["BTC"].denominator <= 10**28
