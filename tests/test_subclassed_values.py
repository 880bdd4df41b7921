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
