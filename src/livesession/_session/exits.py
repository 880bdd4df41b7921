"""Protective OCO exits: what to place once an entry has filled, and the legs' lifecycle.

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

A leg the venue drops (refuses it, or cancels it without the session asking) while the
position it protects is held leaves that position unprotected: ``take_lost`` tells the
step, which pulls the kill switch (``PROTECTION_LOST``). A leg not sent (the venue refused
it at once, or every send failed) is dropped so too. A stop the venue cancels while its
take profit rests may be the venue's own one-cancels-the-other, the take profit's fill on
its way: it is judged lost once the reconciler's grace passes without that fill.

``protective_legs`` is the pure part; ``OcoExits`` is the session's collaborator that owns
the pending protections and the OCO groups that have had a fill.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs

from .._domain.cancels import STRATEGY_CANCEL
from .._domain.decimal import plain, quantize
from .._domain.ids import client_order_id
from .._domain.lifecycle import SessionState
from .._domain.model import Order, OrderType, Side, order_from_json, order_to_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from .book import OpenOrder
    from .context import SessionContext

__all__ = ["OcoExits", "Protection", "protective_legs"]

_ONE = Decimal(1)
_ZERO = Decimal(0)
_LOST = "lost"
_WAIT = "wait"


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
    return None if value is None else plain(value)


def _number(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


@attrs.define(kw_only=True, eq=False, repr=False)
class OcoExits:
    """Places the protective legs of entries that are done; one fill cancels the sibling."""

    _c: SessionContext = attrs.field(alias="ctx", kw_only=False)
    _fsm_state: Callable[[], SessionState]
    _send: Callable[[Order, int, str, dict[str, str]], bool]
    _request_cancel: Callable[[str], object]
    _grace_ns: int
    """How long a stop the venue cancelled may wait for its take profit's fill (the
    reconciler's grace: the report delays the config announces, at least)."""
    _protect: dict[str, Protection] = attrs.field(init=False, factory=dict)
    _late: dict[str, Protection] = attrs.field(init=False, factory=dict)
    """Entries the strategy cancelled before a fill was reported: one that raced the cancel
    may still be, and gets the legs then (``on_late_fill``), until the venue confirms."""
    _oco_filled: set[str] = attrs.field(init=False, factory=set)
    _lost: dict[str, _Dropped] = attrs.field(init=False, factory=dict)
    """Legs the venue dropped (or that were never sent) since ``take_lost`` last judged."""

    def watch(self, cid: str, protection: Protection) -> None:
        """The entry ``cid`` was sent and asked for ``protection``."""
        self._protect[cid] = protection

    def forget(self, cid: str) -> None:
        """The entry ``cid`` is gone without a fill (rejected, not sent, dropped, confirmed)."""
        self._protect.pop(cid, None)
        self._late.pop(cid, None)

    def on_filled(self, live: OpenOrder) -> None:
        """An entry filled in full: place its legs."""
        protection = self._protect.pop(live.order.client_order_id, None)
        if protection is not None:
            self._place(live, protection)

    def on_cancelled(self, closed: OpenOrder) -> None:
        """An entry was cancelled: what it filled still gets its legs."""
        cid = closed.order.client_order_id
        protection = self._protect.pop(cid, None)
        if protection is None:
            return
        if closed.filled:
            self._place(closed, protection)
        elif closed.cancel_reason == STRATEGY_CANCEL:
            # Trading goes on: a fill that reached the venue before the cancel, reported
            # after it, opens a position its legs must protect (a halt's, a kill's or a
            # stop's cancel is followed by no new exits, or by the flatten).
            self._late[cid] = protection

    def on_late_fill(self, closed: OpenOrder) -> None:
        """A fill of an entry cancelled by the strategy before any fill was reported: its legs."""
        protection = self._late.pop(closed.order.client_order_id, None)
        if protection is not None:
            self._place(closed, protection)

    def on_leg_fill(self, leg: Order) -> None:
        """One-cancels-the-other: the first fill of a leg cancels its open siblings."""
        group = leg.oco_group
        assert group is not None  # noqa: S101 - checked by the caller
        self._oco_filled.add(group)
        siblings = [
            cid
            for cid, live in self._c.book.open.items()
            if live.order.oco_group == group and cid != leg.client_order_id and not live.filled
        ]
        for cid in sorted(siblings):
            self._request_cancel(cid)

    def on_leg_closed(self, closed: OpenOrder, *, rejected: bool) -> None:
        """A leg closed with part of it unfilled: the venue refused it or cancelled it.

        A cancel the session asked for (one-cancels-the-other, the reconciler's, a kill's)
        drops no protection, nor does a leg dropped while the position it closes is gone
        (a venue cancels a reduce-only order with nothing left to reduce): a position opened
        later in the same poll is another entry's, with legs of its own. ``take_lost``
        judges the others once the reports are applied.
        """
        order = closed.order
        if order.oco_group is None or closed.filled >= order.quantity:
            return
        if not rejected and closed.cancel_requested:
            return
        if self._held_on_side(order) <= 0:
            return
        self._lost[order.client_order_id] = _Dropped(
            order, closed.filled, rejected=rejected, at_ns=self._c.time.ts_sim
        )

    def take_lost(self) -> bool:
        """Whether a leg the venue dropped left the position it protects unprotected.

        Unprotected: the position is still held on the side the leg closes, its group had
        no fill of another leg (a sibling's fill makes the leg's end one-cancels-the-other at
        work), and the group has no leg left open; or the leg is a stop that the venue
        refused; or a stop it cancelled while its take profit rests, once the grace passed
        without a fill of the group (until then it may be a venue's own OCO). Forgets what
        it judged, and keeps what waits.
        """
        if not self._lost:
            return False
        now, lost = self._c.time.ts_sim, False
        waiting: dict[str, _Dropped] = {}
        for cid, leg in self._lost.items():
            verdict = self._verdict(leg)
            if verdict is _WAIT and now - leg.at_ns < self._grace_ns:
                waiting[cid] = leg
            elif verdict is not None:
                lost = True
        self._lost = waiting
        return lost

    def _verdict(self, leg: _Dropped) -> str | None:
        """``_LOST``, ``_WAIT`` (a stop cancelled, its take profit resting) or None (covered)."""
        order = leg.order
        group = order.oco_group
        if self._held_on_side(order) <= 0 or (group in self._oco_filled and not leg.filled):
            return None
        stop = order.order_type is OrderType.STOP
        if leg.rejected and stop:
            return _LOST
        resting = any(
            live.order.oco_group == group and not live.cancel_requested
            for live in self._c.book.open.values()
        )
        if not resting:
            return _LOST
        return _WAIT if stop else None

    def _held_on_side(self, leg: Order) -> Decimal:
        """The position ``leg`` closes (a SELL leg: the long), 0 or less when there is none."""
        held = self._c.book.positions.get(leg.symbol, _ZERO)
        return held if leg.side is Side.SELL else -held

    def routine_cancel(self, closed: OpenOrder) -> bool:
        """Whether ``closed``'s cancel is one-cancels-the-other at work (logged at debug).

        A leg with no fill, cancelled at the session's request for no reason of its own (a
        halt's, a kill's) after a sibling filled. Any other cancel is logged at info.
        """
        group = closed.order.oco_group
        return (
            group is not None
            and group in self._oco_filled
            and closed.cancel_requested
            and not closed.filled
            and not closed.cancel_reason
        )

    def filled_groups(self) -> set[str]:
        """OCO groups that have had a fill (the reconciler looks for orphan siblings)."""
        return self._oco_filled

    def prune_groups(self) -> None:
        """Forget groups none of whose legs the book still tracks."""
        if self._oco_filled:
            book = self._c.book
            tracked = (*book.open.values(), *book.closed.values())
            self._oco_filled &= {live.order.oco_group or "" for live in tracked}

    def _place(self, entry: OpenOrder, protection: Protection) -> None:
        """Place the protective OCO legs of an entry that is done.

        The legs are for what the entry left held on its side, at most what it filled: an
        entry that first closed a position the other way (a BUY 0.010 from a short 0.004)
        is protected for the 0.006 it opened, since a reduce-only leg for more would open
        exposure nobody asked for when it filled. With nothing left on its side there is
        nothing to protect: the legs are refused (``REDUCE_ONLY``). Each leg links to the
        entry's latest fill (``fill_event_id``): the fill it protects.
        """
        cfg = self._c.config
        links = {"fill_event_id": entry.fill_event_id} if entry.fill_event_id else {}
        held = self._c.book.positions.get(entry.order.symbol, _ZERO)
        on_side = held if entry.order.side is Side.BUY else -held
        cover = min(entry.filled, max(on_side, _ZERO))
        legs = protective_legs(
            entry.order,
            quantity=cover or entry.filled,  # a leg refused is recorded at the entry's fill
            avg_price=entry.notional / entry.filled,
            protection=protection,
            price_tick=cfg.price_tick,
            run_id=cfg.run_id,
            strategy_id=cfg.strategy_id,
        )
        reasons = {"sl": "stop_loss", "tp": "take_profit"}
        for leg, order in legs:
            refusal = self._refusal(cover, held)
            if refusal is None:
                if not self._send(order, protection.intent_seq, reasons[leg], links):
                    at_ns = self._c.time.ts_sim
                    self._lost[order.client_order_id] = _Dropped(
                        order, _ZERO, rejected=True, at_ns=at_ns
                    )
                continue
            self._c.recorder.emit(
                "RISK_REJECTED",
                {
                    "intent_seq": protection.intent_seq,
                    "symbol": order.symbol,
                    "side": order.side.value,
                    "quantity": plain(order.quantity),
                    **refusal,
                    "client_order_id": order.client_order_id,
                    "leg": leg,
                    **links,
                },
            )

    def _refusal(self, cover: Decimal, held: Decimal) -> dict[str, str] | None:
        """Why a protective leg is not sent (the ``RISK_REJECTED`` fields), or None."""
        governor = self._c.governor
        fsm_state = self._fsm_state()
        if governor.halted or fsm_state is not SessionState.DRYRUN_ACTIVE:
            # Legs only ever reduce exposure, so REDUCING lets them through; HALTED
            # sends nothing new (the kill switch flattens instead), nor does a session
            # that is stopping (it flattens too), and the refusal is recorded.
            return {
                "rule": "TRADING_STATE",
                "trading_state": governor.state.value,
                "fsm_state": fsm_state.value,
                "reason": f"no new exit order: trading is {governor.state.value}"
                f" and the session is {fsm_state.value}",
            }
        if cover <= 0:
            return {
                "rule": "REDUCE_ONLY",
                "position": plain(held),
                "reason": f"no exit order: the entry left no position on its side "
                f"(position {plain(held)})",
            }
        return None

    # -- checkpoint ----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The checkpoint keys this collaborator owns."""
        state: dict[str, Any] = {
            "protect": {cid: p.to_json() for cid, p in sorted(self._protect.items())},
            "oco_filled": sorted(self._oco_filled),
        }
        if self._late:  # only then: the checkpoints of runs without one keep their bytes
            state["late_protect"] = {cid: p.to_json() for cid, p in sorted(self._late.items())}
        if self._lost:  # likewise: a leg dropped after the step's last judgment, or waiting
            state["lost_legs"] = [leg.to_json() for _, leg in sorted(self._lost.items())]
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore from a checkpoint made by ``get_state``."""
        self._protect = {
            cid: Protection.from_json(p) for cid, p in state.get("protect", {}).items()
        }
        self._late = {
            cid: Protection.from_json(p) for cid, p in state.get("late_protect", {}).items()
        }
        self._oco_filled = set(state.get("oco_filled", ()))
        lost = (_Dropped.from_json(leg) for leg in state.get("lost_legs", ()))
        self._lost = {leg.order.client_order_id: leg for leg in lost}


@attrs.frozen
class _Dropped:
    """A leg the venue dropped: the order, what of it filled, whether it was refused, when."""

    order: Order
    filled: Decimal
    rejected: bool = attrs.field(kw_only=True)
    at_ns: int = attrs.field(kw_only=True)

    def to_json(self) -> dict[str, Any]:
        return {
            "order": order_to_json(self.order),
            "filled": plain(self.filled),
            "rejected": self.rejected,
            "at_ns": self.at_ns,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> _Dropped:
        return cls(
            order_from_json(data["order"]),
            Decimal(data["filled"]),
            rejected=data["rejected"],
            at_ns=int(data["at_ns"]),
        )
