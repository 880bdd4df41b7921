"""Protective OCO exits as pure functions: what to place once an entry has filled.

An entry intent may ask for protection (``take_profit_pct``, ``stop_loss_pct``). The
session remembers that as a ``Protection`` while the entry is open; once the entry is
done (filled, or cancelled after a partial fill) it places the legs ``protective_legs``
builds for the filled quantity: a STOP and a take-profit LIMIT on the other side, both
reduce-only, in one OCO group named after the entry. Their client order ids derive from
the entry's intent sequence with the legs ``"sl"`` and ``"tp"``, so a resumed session
computes the same ids.

One-cancels-the-other: the first fill of either leg, even a partial one, cancels the
other leg (as venues with native OCO do); the leg that filled keeps working for the
rest of its quantity. The stop is placed first so that a venue that sees both legs
touched by the same bar fills the stop (the conservative reading of that bar).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import attrs

from .._domain.decimal import quantize
from .._domain.ids import client_order_id
from .._domain.model import Order, OrderType, Side

__all__ = ["Protection", "protective_legs"]

_ONE = Decimal(1)


@attrs.frozen(kw_only=True)
class Protection:
    """The exits an entry asked for; a missing distance means no leg of that kind."""

    intent_seq: int
    take_profit_pct: Decimal | None = None
    stop_loss_pct: Decimal | None = None

    def to_json(self) -> dict[str, Any]:
        """A JSON-compatible form (for checkpoints)."""
        return {
            "intent_seq": self.intent_seq,
            "take_profit_pct": _text(self.take_profit_pct),
            "stop_loss_pct": _text(self.stop_loss_pct),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Protection:
        """The protection ``to_json`` described."""
        return cls(
            intent_seq=int(data["intent_seq"]),
            take_profit_pct=_number(data["take_profit_pct"]),
            stop_loss_pct=_number(data["stop_loss_pct"]),
        )


def protective_legs(
    entry: Order,
    *,
    quantity: Decimal,
    avg_price: Decimal,
    protection: Protection,
    price_tick: Decimal,
    run_id: str,
    strategy_id: str,
) -> tuple[tuple[str, Order], ...]:
    """The legs protecting ``quantity`` of ``entry`` bought or sold at ``avg_price``.

    Returns ``(leg, order)`` pairs, the stop (``"sl"``) before the take profit (``"tp"``).
    A long entry gets a SELL STOP below and a SELL LIMIT above the entry price; a short
    one the mirror image.
    """
    long = entry.side is Side.BUY
    exit_side = Side.SELL if long else Side.BUY
    group = entry.client_order_id
    legs: list[tuple[str, Order]] = []
    plan = (
        ("sl", OrderType.STOP, protection.stop_loss_pct, -1),
        ("tp", OrderType.LIMIT, protection.take_profit_pct, 1),
    )
    for leg, order_type, pct, direction in plan:
        if pct is None or pct <= 0:
            continue
        sign = direction if long else -direction
        price = quantize(avg_price * (_ONE + sign * pct), price_tick)
        legs.append(
            (
                leg,
                Order(
                    client_order_id=client_order_id(
                        run_id, strategy_id, protection.intent_seq, leg
                    ),
                    symbol=entry.symbol,
                    side=exit_side,
                    quantity=quantity,
                    order_type=order_type,
                    limit_price=price,
                    reduce_only=True,
                    oco_group=group,
                ),
            )
        )
    return tuple(legs)


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _number(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))
