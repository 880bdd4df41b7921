"""A plug-in's values of subclasses of ``str``, ``Decimal`` and ``int`` are taken as plain ones.

A strategy's (or a feed's) ``class CaseSym(str)`` can compare, hash and print as another
value than the one it holds: the session's checks (the allowlist, the rails) saw one value
and the run recorded another. Each is taken as its plain value where it enters the session.
Every run here must verify (the conftest's fixture checks each at teardown).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest

from livesession import Bar, OrderIntent, Side

from _helpers import session


class CaseSym(str):
    """Equal to any text, hashed as BTC/USDT, upper-cased as BTC/USDT: whatever it holds."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return False

    def __hash__(self) -> int:
        return hash("BTC/USDT")

    def upper(self) -> str:  # type: ignore[override]
        return "BTC/USDT"

    def __str__(self) -> str:
        return "BTC/USDT"


class Once:
    """Returns ``intents`` on its third bar, nothing on the others."""

    strategy_id = "once"

    def __init__(self, *intents: OrderIntent) -> None:
        self.intents = list(intents)
        self.bars = 0

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        self.bars += 1
        return self.intents if self.bars == 3 else []

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.bars = state["bars"]


def test_an_intents_symbol_of_a_str_subclass_meets_the_allowlist_as_it_is():
    """Bug: CaseSym("ETH/USDT") passed the BTC/USDT allowlist (its hash and __eq__), an
    order in ETH/USDT was sent, and the run failed at its snapshot (a dict key of the
    subclass); now the allowlist refuses the ETH/USDT it holds, and the run says so."""
    intent = OrderIntent(
        symbol=CaseSym("ETH/USDT"), side=Side.BUY, quantity=Decimal("0.01"), reason=CaseSym("x")
    )
    orch, sinks = session(strategy=Once(intent), steps=10)
    result = orch.run_to_end(10)
    assert result.status.value == "COMPLETED"
    (signal,) = sinks.events_of("SIGNAL")
    assert (signal["payload"]["symbol"], signal["payload"]["reason"]) == ("ETH/USDT", "x")
    (refused,) = sinks.events_of("RISK_REJECTED")
    assert refused["payload"]["rule"] == "ALLOWLIST"
    assert refused["payload"]["reason"] == "ETH/USDT is not on the allowlist"
    assert not sinks.events_of("ORDER_SUBMITTED")


class Lying(str):
    """Text that says it is ASCII, one character long and one word, whatever it holds."""

    __slots__ = ()

    def __str__(self) -> str:
        return self

    def isascii(self) -> bool:
        return True

    def __len__(self) -> int:
        return 1

    def split(self, *args: Any, **kwargs: Any) -> list[str]:  # type: ignore[override]
        return ["fine"]


HELD = "bad \udcff " + "x" * 600
"""What the message holds: a lone surrogate (no JSON line can hold it) and 609 characters."""


class SaysLying(RuntimeError):
    """An error whose ``str()`` is ``Lying`` text."""

    def __str__(self) -> str:
        return Lying(HELD)


class RaisesOnce(Once):
    """Raises ``error`` on its third bar."""

    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        if super().on_bar(bar, view) is self.intents:
            raise self.error
        return []


@pytest.mark.parametrize("error", [RuntimeError(Lying(HELD)), SaysLying()], ids=["arg", "str"])
def test_a_strategy_errors_message_of_a_str_subclass_is_recorded_as_plain_text(
    error: RuntimeError,
):
    """Bug: the message's isascii() hid its lone surrogate from the escaping and its len()
    from the cut: the STRATEGY_ERROR line could not be written, and the run faulted
    UNEXPECTED_ERROR naming orjson's complaint instead of the strategy's error."""
    orch, sinks = session(strategy=RaisesOnce(error), steps=10)
    result = orch.run_to_end(10)
    said = ("bad \\xff " + "x" * 600)[:499] + "\u2026"  # escaped, then cut to 500
    assert (result.status.value, result.reason) == ("FAILED", "STRATEGY_ERROR")
    (event,) = sinks.events_of("STRATEGY_ERROR")
    error_name = type(error).__name__
    assert event["payload"] == {"error": error_name, "message": said, "step": 3}
    assert result.detail == f"{error_name}: {said}"


class Shown(Decimal):
    """A number that prints (and formats) as 1, whatever it holds."""

    def __str__(self) -> str:
        return "1"

    def __format__(self, spec: str) -> str:
        return "1"


class SubclassFeed:
    """Bars of BTC/USDT at 40000 and up; the third of ``symbol`` and prices made by ``price``."""

    symbol = "BTC/USDT"

    def __init__(self, symbol: str, price: type[Decimal] = Decimal) -> None:
        self.third_symbol, self.price = symbol, price
        self.bars = 0

    def next_bar(self, ts_ns: int) -> Bar:
        self.bars += 1
        third = self.bars == 3
        close = (self.price if third else Decimal)(40_000 + self.bars)
        return Bar(
            symbol=self.third_symbol if third else "BTC/USDT",
            ts_ns=ts_ns,
            open=close,
            high=close,
            low=close,
            close=close,
            volume=(self.price if third else Decimal)(7),
        )

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: Mapping[str, Any]) -> None:
        self.bars = state["bars"]


def test_a_feeds_bar_of_another_symbol_in_a_str_subclass_is_its_error_naming_it():
    """Bug: a bar of CaseSym("ETH/USDT") was equal to BTC/USDT: an ETH/USDT bar was recorded
    in a BTC/USDT run, which completed and verified."""
    orch, sinks = session(feed=SubclassFeed(CaseSym("ETH/USDT")), steps=6)
    result = orch.run_to_end(6)
    said = "next_bar returned a bar of 'ETH/USDT'; the session trades 'BTC/USDT'"
    assert (result.status.value, result.reason) == ("FAILED", "FEED_ERROR")
    assert result.detail == f"ValueError: {said}"
    (event,) = sinks.events_of("FEED_ERROR")
    assert event["payload"] == {"error": "ValueError", "message": said, "step": 3}
    assert [bar["payload"]["symbol"] for bar in sinks.events_of("BAR")] == ["BTC/USDT"] * 2


def test_a_feeds_prices_of_a_decimal_subclass_are_recorded_as_they_are():
    """Bug: the volume was recorded as its class printed it (1), not as the 7 it holds."""
    orch, sinks = session(feed=SubclassFeed("BTC/USDT", price=Shown), steps=6)
    assert orch.run_to_end(6).status.value == "COMPLETED"
    third = sinks.events_of("BAR")[2]["payload"]
    assert (third["open"], third["close"], third["volume"]) == ("40003.00", "40003.00", "7")
