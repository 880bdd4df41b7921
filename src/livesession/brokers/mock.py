"""A deterministic, seeded mock venue.

Every decision about an order (reject or not, partial or full) is a pure function of
(seed, client order id), not of call order, so the same orders get the same outcomes in
an uninterrupted run and in a resumed one. Reports become due after ``latency_ns`` of
simulated time and are handed out by ``poll`` in due-time order. Orders sharing an
``oco_group`` are one-cancels-the-other at the venue: the first leg that triggers cancels
the others. A ``reduce_only`` order only reduces the venue's position when it fills: the
part beyond the position is cancelled (all of it once the position is flat or on the
order's side), as venues do, so two reduce-only orders never flip a position together.
An order filled in parts (a share of orders, ``partial_fill_ratio``) is matched whole, its
parts reported a latency apart: the symbol's later fills are timed no earlier than its last
part, so the fill times read in the order the venue matched them (a reduce-only order's
second part never reads as after the reversal that followed it).

With ``journal=path`` the venue keeps its own append-only record of the requests it
received: a new ``MockBroker`` on the same journal is rebuilt as the venue stood at the
resumed session's checkpoint. The sends the crashed session made after that checkpoint
are set aside, and taken when the resumed session makes them again, at the same moments
(``replays_send``, journaled as ``replay``): its reports then come when they came, and an
order reaches the venue once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._domain.decimal import ZERO, plain
from .._domain.model import (
    AckReport,
    CancelReport,
    OrderType,
    RejectReport,
    VenueOrderStatus,
    order_from_json,
    order_to_json,
)
from .._domain.random import unit_draw
from .._exceptions import CheckpointError, Rejected
from .._typing import (
    JournaledVenue,
    MarkableVenue,
    PositionVenue,
    ReplayingVenue,
    ResumableVenue,
)
from ._journal import (
    Journal,
    append_entry,
    defer_replay,
    open_journal_of,
    read_request,
    sends_in,
)
from ._options import (
    DEFAULT_PRICE_TICK,
    DEFAULT_QTY_LOT,
    FillModel,
    VenueOptions,
    check_venue_options,
    venue_options,
)
from ._venue import DueReports, VenueState, fill_price, fill_reports, halves, market_price

if TYPE_CHECKING:
    from os import PathLike

    from .._domain.model import Bar, BrokerReport, Order, VenueOrder

__all__ = ["FillModel", "MockBroker", "VenueOptions", "venue_options"]

#: Closed orders the venue remembers for lookups by client id (memory stays flat).
CLOSED_WINDOW: Final = 10_000
_RESUME: Final = b'"resume"'
"""In every journal line of a resume marker (its ``op``), so the others need no parse to tell."""


@attrs.define
class _VenueState(VenueState):
    accepted_ns: int = 0
    """When the venue accepted the order: only later bars may trigger it."""


class MockBroker(JournaledVenue, ResumableVenue, MarkableVenue, ReplayingVenue, PositionVenue):
    """A deterministic venue for dry runs. ``kind`` is ``"mock"``.

    Args:
        seed: decides each order's fate (rejected or not, filled whole or in parts) as a
            pure function of the seed and the client order id; a non-negative integer,
            ``0`` by default (a session's venue takes its config's ``seed``).
        fill_model: latency, partial fills, rejections and slippage (``FillModel``); by
            default none of them, every order acknowledged and filled whole at once.
        price_tick: the venue's price grid, a positive ``Decimal`` (``Decimal("0.01")``
            by default): market fills are priced on it.
        qty_lot: the venue's quantity grid, a positive ``Decimal`` (``Decimal("0.001")``
            by default): partial fills are split on it.
        journal: a file (a str or an ``os.PathLike``) where the venue appends every
            request it receives; a new ``MockBroker`` on the same journal is rebuilt as the
            venue stood, for a resumed session. ``None`` (the default): no journal.

    Raises:
        ValueError: a ``seed`` that is no non-negative integer, a ``price_tick`` or
            ``qty_lot`` that is no positive, finite ``Decimal`` (a float too); a
            ``journal`` that holds a line no venue journal does (named by file and line).
        TypeError: a ``fill_model`` that is no ``FillModel``, a ``journal`` that is no path.
        OSError: a ``journal`` that cannot be read or opened to append (its directory
            missing; a symlink is never appended to).
    """

    kind = "mock"

    def __init__(
        self,
        *,
        seed: int = 0,
        fill_model: FillModel | None = None,
        price_tick: Decimal = DEFAULT_PRICE_TICK,
        qty_lot: Decimal = DEFAULT_QTY_LOT,
        journal: str | PathLike[str] | None = None,
    ) -> None:
        check_venue_options(seed, fill_model, price_tick, qty_lot, journal)
        journal = None if journal is None else Path(journal)
        self._seed = seed
        self._model = fill_model or FillModel()
        self._tick = price_tick
        self._lot = qty_lot
        self._reset()
        self._journal_path = journal
        self._journal: Journal | None = None
        self._unreplayed = journal is not None and defer_replay(self._replay_as_built)
        if journal is not None:
            if not self._unreplayed:
                self._replay(journal)
            # A broker dropped unclosed (with its session) closes its journal when collected.
            self._journal = open_journal_of(self, journal)  # never through a symlink

    def _reset(self) -> None:
        self._orders: dict[str, _VenueState] = {}
        self._closed: deque[str] = deque()
        self._accepted = 0
        self._open: dict[str, _VenueState] = {}
        self._due = DueReports()
        self._last_price: dict[str, Decimal] = {}
        self._position: dict[str, Decimal] = {}
        """The venue's net position per symbol, from the fills it has matched."""
        self._split_until: dict[str, int] = {}
        """Per symbol, the time of the last part of the latest order filled in parts: the
        venue matched that order whole, so the symbol's later fills are timed no earlier."""
        self._set_aside: set[str] = set()
        """Sends made after the resumed checkpoint, taken when the session makes them again."""
        self.submissions: dict[str, int] = {}
        """How often each client order id reached the venue (tests count duplicates)."""

    # -- the Broker protocol ---------------------------------------------------------------

    def on_market(self, bar: Bar) -> None:
        """Price market orders at this bar and trigger resting limit and stop orders.

        A resting order is triggered by bars after the one current when it was placed, and
        fills at its price, or at the bar's open when the bar opens past it (``fill_price``).
        """
        self._last_price[bar.symbol] = bar.close
        if not self._open:
            return  # most bars: nothing rests here
        for cid in list(self._open):
            state = self._open.get(cid)
            if state is None:  # an OCO sibling that triggered on this bar cancelled it
                continue
            order = state.order
            if order.symbol != bar.symbol or order.order_type is OrderType.MARKET:
                continue
            if state.status is not VenueOrderStatus.NEW or order.limit_price is None:
                continue
            if state.accepted_ns >= bar.ts_ns:
                # Placed after this bar was seen: only later bars can trigger it. This also
                # keeps a resumed run (whose replayed venue already holds the orders sent
                # in the crashed step) from triggering them one bar early.
                continue
            price = fill_price(order, order.limit_price, bar)
            if price is not None:  # the journal keeps the fill's price, which a replay uses
                self._record("touch", cid=cid, now_ns=bar.ts_ns, price=price)
                self._schedule_fills(state, price, bar.ts_ns)

    def submit(self, order: Order, now_ns: int) -> None:
        """Accept the request; the ack (or reject) and fills become due after the latency.

        A send the crashed session made after its checkpoint, made again by the resumed
        one (``replays_send``), is taken now as it was then, and journaled as a ``replay``
        of that send: the order reached the venue once.
        """
        cid = order.client_order_id
        price = self._last_price.get(order.symbol)
        if cid in self._set_aside:
            self._set_aside.discard(cid)
            self._record("replay", cid=cid, now_ns=now_ns, price=price)
        else:
            self._record("submit", order=order, now_ns=now_ns, price=price)
        self._apply_submit(order, now_ns)

    def replays_send(self, client_order_id: str) -> bool:
        """Whether sending ``client_order_id`` replays a send made after the checkpoint."""
        return client_order_id in self._set_aside

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Cancel an open order; a closed or unknown one raises ``Rejected``."""
        state = self._open.get(client_order_id)
        if state is None:
            raise Rejected(
                "order is not open", reason="ORDER_NOT_OPEN", client_order_id=client_order_id
            )
        self._record("cancel", cid=client_order_id, now_ns=now_ns)
        self._apply_cancel(client_order_id, now_ns)

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        """Reports due by ``now_ns``, in due order."""
        out = self._due.pop_due(now_ns)
        if out:
            self._record("deliver", now_ns=now_ns, count=len(out))
        return out

    def open_orders(self) -> Sequence[VenueOrder]:
        """Orders still open at the venue, in client order id order."""
        if not self._open:
            return ()  # most steps of a session: nothing open
        return [self._open[cid].view() for cid in sorted(self._open)]

    def order_by_client_id(self, client_order_id: str) -> VenueOrder | None:
        """The venue's view of one order."""
        state = self._orders.get(client_order_id)
        return None if state is None else state.view()

    def positions(self) -> Mapping[str, Decimal]:
        """The venue's net position per symbol, from the fills it matched (a copy)."""
        return self._position.copy()  # as dict(...), at half its cost (a step's path)

    def mark(self, symbol: str, price: Decimal) -> None:
        """Set the price market orders fill at, without triggering resting orders.

        A resumed session calls it with its last known price: the journal records prices
        only when requests arrive, so after a replay the venue's mark may be older.
        """
        self._last_price[symbol] = price

    def journal_offset(self) -> int:
        """Bytes in the venue journal so far (a checkpoint records it)."""
        return 0 if self._journal is None else self._journal.tell()

    def resume_at(
        self, now_ns: int, journal_offset: int | None = None, *, by_time: bool = False
    ) -> None:
        """Forget the reports a resumed session already has; keep those it is still owed.

        Called once after a journal replay, with the simulated time of the checkpoint the
        session resumes from and the journal offset it recorded. The journal records each
        delivery (``deliver``: how many reports a poll handed out), so the venue is rebuilt
        exactly as it stood at the checkpoint: a report due by then but not yet polled (an
        OCO leg's ack, sent while the step's last poll was being applied) stays owed.
        Requests after the offset are set aside: a send the resumed session makes again is
        taken then (``replays_send``), with its reports due as they were; the rest (a
        flatten of a wind-down the resumed session does not make) never happened. Without
        an offset or a journal, every report due by ``now_ns`` is taken as delivered.

        ``by_time`` (``RealishBroker``'s venue): rebuilt and set aside so too, but no
        report is taken as delivered; the caller polls to ``now_ns`` itself, since it holds
        late fills apart from the venue, so the journal's deliveries are not the session's.
        """
        path = self._journal_path
        if journal_offset is None or path is None or not path.exists():
            self._replay_as_built()  # built for a resume that has no offset
            if not by_time:
                self.poll(now_ns)
            return
        self._reset()
        self._unreplayed = False
        data = path.read_bytes()
        left_aside = self._replay_bytes(data[:journal_offset], deliveries=not by_time)
        self._set_aside = set(left_aside) | sends_in(data[journal_offset:])
        # What the session that died did after its checkpoint, the venue sets aside: the
        # resumed session makes the same sends at the same moments (``replays_send``), and
        # the venue takes each then, so its reports come when they came; one it does not
        # make again (a wind-down the resumed session has no reason for) never happened.
        # This marker voids those requests, and their deliveries, for any later resume.
        self._record("resume", now_ns=now_ns, offset=journal_offset)

    def close(self) -> None:
        """Close the journal."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None

    # -- internals ---------------------------------------------------------------------------

    def _apply_submit(self, order: Order, now_ns: int) -> None:
        cid = order.client_order_id
        self.submissions[cid] = self.submissions.get(cid, 0) + 1
        if self.submissions[cid] > 1:
            raise Rejected(
                "duplicate client order id", reason="DUPLICATE_CLIENT_ID", client_order_id=cid
            )
        state = _VenueState(order=order, accepted_ns=now_ns)
        self._orders[cid] = state
        self._accepted += 1
        due = now_ns + self._model.latency_ns
        if (
            self._model.reject_rate
            and unit_draw(self._seed, "reject", cid) < self._model.reject_rate
        ):
            state.status = VenueOrderStatus.REJECTED
            self._push(due, RejectReport(client_order_id=cid, reason="VENUE_REJECT", ts_ns=due))
            self._retire(cid)
            return
        self._open[cid] = state
        self._push(
            due, AckReport(client_order_id=cid, venue_order_id=f"m{self._accepted}", ts_ns=due)
        )
        if order.order_type is OrderType.MARKET:
            price = self._last_price.get(order.symbol)
            if price is None:
                return
            slipped = market_price(price, order.side, self._model.slippage_bps, self._tick)
            self._schedule_fills(state, slipped, due)

    def _apply_cancel(self, cid: str, now_ns: int) -> None:
        state = self._open.pop(cid, None)
        if state is None:
            return
        state.status = VenueOrderStatus.CANCELED
        self._drop_pending_fills(cid)
        self._retire(cid)
        self._push(now_ns + self._model.latency_ns, CancelReport(client_order_id=cid, ts_ns=now_ns))

    def _schedule_fills(self, state: _VenueState, price: Decimal, due: int) -> None:
        order = state.order
        cid = order.client_order_id
        qty = order.quantity
        due = max(due, self._split_until.get(order.symbol, due))
        held = self._position.get(order.symbol, ZERO)
        if order.reduce_only:
            qty = min(qty, max(held if order.side.sign < 0 else -held, ZERO))
            if not qty:  # nothing left to reduce: the venue cancels it
                self._apply_cancel(cid, due)
                return
        self._position[order.symbol] = held + order.side.sign * qty
        parts = [qty]
        ratio = self._model.partial_fill_ratio
        if ratio and unit_draw(self._seed, "partial", cid) < ratio:
            parts = halves(qty, self._lot)
        state.status = (
            VenueOrderStatus.PARTIALLY_FILLED if len(parts) > 1 else VenueOrderStatus.FILLED
        )
        state.filled = qty
        self._open.pop(cid, None)
        fills = fill_reports(cid, parts, price, due, max(self._model.latency_ns, 1))
        for fill in fills:
            self._push(fill.ts_ns, fill)
        ts = fills[-1].ts_ns
        if len(fills) > 1:
            self._split_until[order.symbol] = ts
        state.status = VenueOrderStatus.FILLED
        if qty < order.quantity:  # a reduce-only order beyond the position: the rest is off
            state.status = VenueOrderStatus.CANCELED
            self._push(ts, CancelReport(client_order_id=cid, ts_ns=ts))
        self._retire(cid)
        group = order.oco_group
        if group is not None:
            # Venue-side OCO: the first leg to trigger cancels its siblings at once, so two
            # legs touched by one bar never both fill (the one sent first wins).
            for other in [c for c, s in self._open.items() if s.order.oco_group == group]:
                self._apply_cancel(other, due)

    def _retire(self, cid: str) -> None:
        """Keep a closed order for lookups, but only the most recent ``CLOSED_WINDOW``."""
        self._closed.append(cid)
        if len(self._closed) > CLOSED_WINDOW:
            old = self._closed.popleft()
            if old not in self._open:
                self._orders.pop(old, None)

    def _drop_pending_fills(self, cid: str) -> None:
        self._due.drop_fills(cid)

    def _push(self, due: int, report: BrokerReport) -> None:
        self._due.push(due, report)

    def _record(self, op: str, **fields: Any) -> None:
        if self._journal is None:
            return
        entry: dict[str, Any] = {"op": op, "now_ns": fields["now_ns"]}
        price = fields.get("price")
        entry["price"] = None if price is None else plain(price)
        if op == "submit":
            order: Order = fields["order"]
            entry["order"] = order_to_json(order)
        elif op == "deliver":
            entry["count"] = fields["count"]
        elif op == "resume":
            entry["offset"] = fields["offset"]
            entry["aside"] = True  # requests before it, from the offset, were set aside
        else:
            entry["cid"] = fields["cid"]
        append_entry(self._journal, entry, path=self._journal_path)

    def _replay_as_built(self) -> None:
        """Replay the whole journal, if building the venue left it to a resume (``_journal``)."""
        if self._unreplayed and self._journal_path is not None:
            self._unreplayed = False
            self._replay(self._journal_path)

    def _replay(self, journal: Path) -> None:
        if journal.exists():
            self._replay_bytes(journal.read_bytes())

    def _replay_bytes(self, data: bytes, *, deliveries: bool = False) -> dict[str, Any]:
        """Apply journaled requests; ``deliveries``: hand out the reports polls took, too.

        A delivery between a resume's offset and its ``resume`` marker does not count: the
        session it went to died before its next checkpoint, and the resumed one polled again.
        Nor does a request there, when the marker says it was set aside (``aside``): a
        ``replay`` later takes the send it names, as the resumed session made it again.
        Returns the sends set aside and not replayed (by client order id).
        """
        # Each line is parsed as it is applied: the journal of a long run holds a request
        # per order, and all of them parsed at once held the resume's memory at several
        # times the journal's size.
        lines = [raw for raw in data.splitlines(keepends=True) if raw.endswith(b"\n")]
        void: list[tuple[int, int, bool]] = []
        position = 0
        for number, raw in enumerate(lines, start=1):  # a torn last request never arrived
            entry = read_request(raw, self._journal_path, number) if _RESUME in raw else None
            if entry is not None and entry["op"] == "resume":
                void.append((entry["offset"], position, entry.get("aside") is True))
            position += len(raw)
        aside: dict[str, Any] = {}
        position = 0
        for number, raw in enumerate(lines, start=1):
            entry = read_request(raw, self._journal_path, number)
            at, position = position, position + len(raw)
            op = entry["op"]
            voided = [set_aside for lo, hi, set_aside in void if lo <= at < hi]
            if op == "deliver":
                if deliveries and not voided:
                    self._hand_out(entry["count"])
            elif any(voided):  # set aside; a replay there leaves its send aside
                if op == "submit":
                    aside[entry["order"]["client_order_id"]] = entry
            elif op == "replay":
                self._replay_request({**aside.pop(entry["cid"]), **entry, "op": "submit"})
            elif op != "resume":
                self._replay_request(entry)
        return aside

    def _hand_out(self, count: int) -> None:
        """Take ``count`` due reports off the venue (a journaled delivery, replayed)."""
        owed = len(self._due)
        if count > owed:
            msg = (
                f"the venue journal delivers {count} reports where {owed} are owed: "
                "the journal does not match this venue"
            )
            raise CheckpointError(msg)
        self._due.pop_first(count)

    def _replay_request(self, entry: dict[str, Any]) -> None:
        price = None if entry["price"] is None else Decimal(entry["price"])
        if entry["op"] == "submit":
            order = order_from_json(entry["order"])
            if price is not None:
                self._last_price[order.symbol] = price
            cid = order.client_order_id
            if cid in self.submissions:  # a duplicate the venue refused at the time
                self.submissions[cid] += 1
            else:
                self._apply_submit(order, entry["now_ns"])
        elif entry["op"] == "touch":
            state = self._open.get(entry["cid"])
            if state is not None and price is not None:
                self._schedule_fills(state, price, entry["now_ns"])
        else:
            self._apply_cancel(entry["cid"], entry["now_ns"])

    def __repr__(self) -> str:
        return f"MockBroker(seed={self._seed}, fill_model={self._model!r})"
