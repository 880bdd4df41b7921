"""A broker of the caller's on a venue that outlives it, for resumes after a crash.

``crashed_run`` runs a strategy on it and dies mid-run, its last checkpoint at step 0
(``killed_after``, for a run on any objects).

``OwnBroker`` is a desk's adapter on ``Venue``: market orders fill at once; it reports on
the orders it knows, those it sent and those it looked up (one an earlier process sent
included), the moment it learns of them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from livesession import (
    AckReport,
    Bar,
    CancelReport,
    FillReport,
    OrderType,
    Rejected,
    Side,
    VenueOrder,
    VenueOrderStatus,
)
from livesession._rundir import create_run

if TYPE_CHECKING:
    from pathlib import Path

    from livesession import DryrunConfig

D = Decimal


class Venue:
    """A venue that outlives the broker talking to it: its orders and net position."""

    def __init__(self) -> None:
        self.orders: dict[str, VenueOrder] = {}
        self.position = D(0)
        self.created: dict[str, int] = {}


class OwnBroker:
    """A desk's adapter: market orders fill at once; it reports on the orders it knows.

    Like a real venue's adapter, it knows the orders it sent and those it looked up (one
    sent by an earlier process included), and reports their ack and fill once.
    """

    kind = "mock"
    simulated = True

    def __init__(self, venue: Venue) -> None:
        self.venue = venue
        self.price = D("100.00")
        self.reports: list[Any] = []
        self.known: set[str] = set()

    def on_market(self, bar: Bar) -> None:
        self.price = bar.close

    def submit(self, order: Any, now_ns: int) -> None:
        venue = self.venue
        cid = order.client_order_id
        venue.created[cid] = venue.created.get(cid, 0) + 1
        market = order.order_type is OrderType.MARKET
        if market:
            venue.position += order.quantity if order.side is Side.BUY else -order.quantity
        venue.orders[cid] = VenueOrder(
            client_order_id=cid,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            filled_quantity=order.quantity if market else D(0),
            status=VenueOrderStatus.FILLED if market else VenueOrderStatus.NEW,
            venue_order_id=f"v{len(venue.orders) + 1}",
        )
        self._learn(cid, now_ns)

    def _learn(self, cid: str, now_ns: int) -> None:
        """Report an order this broker did not know yet: its ack, fill or cancel."""
        if cid in self.known:
            return
        self.known.add(cid)
        seen = self.venue.orders[cid]
        self.reports.append(
            AckReport(client_order_id=cid, venue_order_id=seen.venue_order_id, ts_ns=now_ns)
        )
        if seen.status is VenueOrderStatus.FILLED:
            self.reports.append(
                FillReport(
                    client_order_id=cid,
                    ts_ns=now_ns,
                    trade_id=f"t-{seen.venue_order_id}",
                    quantity=seen.quantity,
                    price=self.price,
                )
            )
        elif seen.status is VenueOrderStatus.CANCELED:
            self.reports.append(CancelReport(client_order_id=cid, ts_ns=now_ns))

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        seen = self.venue.orders.get(client_order_id)
        if seen is None or seen.status is not VenueOrderStatus.NEW:
            raise Rejected("not open", reason="ORDER_NOT_OPEN", client_order_id=client_order_id)
        self.venue.orders[client_order_id] = attrs.evolve(seen, status=VenueOrderStatus.CANCELED)
        if client_order_id in self.known:
            self.reports.append(CancelReport(client_order_id=client_order_id, ts_ns=now_ns))

    def poll(self, now_ns: int) -> list[Any]:
        reports, self.reports = self.reports, []
        return reports

    def open_orders(self) -> list[VenueOrder]:
        return [o for o in self.venue.orders.values() if o.status is VenueOrderStatus.NEW]

    def order_by_client_id(self, client_order_id: str) -> VenueOrder | None:
        seen = self.venue.orders.get(client_order_id)
        if seen is not None:
            self._learn(client_order_id, 0)
        return seen

    def close(self) -> None:
        pass


def crashed_run(out: Path, cfg: DryrunConfig, venue: Venue, strategy: Any, *, at_step: int) -> Path:
    """A run of ``strategy`` on ``OwnBroker`` that dies at step ``at_step``; its directory.

    ``cfg`` checkpoints rarely enough that the last checkpoint is the one at step 0: what
    the run sent was cut off with the crash, and only ``venue`` remembers it.
    """
    return killed_after(out, cfg, at_step=at_step, broker=OwnBroker(venue), strategy=strategy)


def killed_after(out: Path, cfg: DryrunConfig, *, at_step: int, **objects: Any) -> Path:
    """A run created with ``objects`` (``broker=``, ...) that dies after step ``at_step``
    unsealed, a crash at its last checkpoint: its directory."""
    crashed = create_run(cfg, out, **objects)

    def crash(inner: Any) -> None:
        if inner.steps_done == at_step:
            raise KeyboardInterrupt

    crashed.step_hooks.append(crash)
    crashed.preflight()
    crashed.activate()
    with pytest.raises(KeyboardInterrupt):
        crashed.run_n_steps(cfg.steps)
    crashed.close()  # seals nothing: the run is a crash at its last checkpoint
    return out / cfg.run_id
