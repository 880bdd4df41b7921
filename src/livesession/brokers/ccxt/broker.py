"""The broker adapter: the ``Broker`` protocol on a ccxt exchange in verified sandbox mode.

``submit`` refuses to resend a client order id whose previous outcome is unknown until
``lookup`` has found the order or confirmed that it is absent. A venue that answers
"duplicate client order id" already has the order: ``submit`` looks it up and returns
normally when it matches (``Rejected`` with reason ``DUPLICATE_CLIENT_ID`` when the venue's
order has other parameters). The sandbox gate runs before every request. What ccxt's
parsers raise on an answer of a shape they do not expect (``TypeError`` for a list of
numbers where orders go: ``_PARSE_ERRORS``) is a failed read, ``Transient``, and after a
submit or a cancel an unknown outcome, never an error out of the session.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TypeVar

from ..._domain.decimal import callers_context_kept_in
from ..._domain.model import AckReport, CancelReport, RejectReport, VenueOrderStatus
from ..._exceptions import BrokerError, ConfigError, OutcomeUnknown, Rejected
from ..._support.optional import import_optional
from ..._typing import ConfirmingLookup, RecoveringVenue, SandboxAware
from .byid import found_by_id, refuse_if_open_elsewhere
from .clock import resync_time
from .convert import (
    _amount_and_price,
    _balance,
    _check_order,
    _matches,
    _read_filled,
    _status,
    _venue_order,
)
from .credentials import HoldsCredentials
from .errors import (
    _PARSE_ERRORS,
    _as_read_error,
    _is_duplicate_client_id,
    cancel_error,
    classify,
    scrub_chain,
)
from .ohlcv import fetch_candles
from .pacing import Paced, VenuePause
from .sandbox import _Exchange, _Sandbox, _sandbox_problems
from .spot import CountsSpotTrades
from .tracked import (
    _Reported,
    _Tracked,
    answer_problem,
    fetch_by_client_id,
    new_fills,
    no_ack,
    orders_listed,
    track,
)
from .units import refuse_quote_sized

if TYPE_CHECKING:
    from ..._domain.model import Bar, BrokerReport, Order, VenueOrder

__all__ = ["CcxtSandboxBroker"]

_T = TypeVar("_T")


# Each call that reaches ccxt gives its caller's decimal context back as it found it:
# ccxt sets rounding half up (and traps Underflow) on the calling thread.
@callers_context_kept_in(
    "submit", "cancel", "poll", "open_orders", "order_by_client_id", "recover", "lookup",
    "load_markets", "balances", "fetch_ohlcv", "positions",
)  # fmt: skip
class CcxtSandboxBroker(
    HoldsCredentials, CountsSpotTrades, Paced, ConfirmingLookup, RecoveringVenue, SandboxAware
):
    """A ``Broker`` on a ccxt exchange in verified sandbox mode. Build it with ``make_ccxt_broker``.

    Beyond the ``Broker`` protocol: ``lookup`` (``ConfirmingLookup``: bounded polling by
    client order id), ``recover`` (``RecoveringVenue``: the orders a resumed session sent
    before its crash), ``positions`` (``CountsSpotTrades``), ``sandbox_verified``
    (``SandboxAware``), ``load_markets``, ``balances`` and ``sandbox_problems``.
    """

    kind = "ccxt_sandbox"

    def __init__(
        self,
        exchange: _Exchange,
        *,
        sandbox: _Sandbox,
        symbols: Sequence[str],
        lookup_attempts: int,
        lookup_interval_ns: int,
        wait_ns: Callable[[int], None],
        pause: VenuePause,
        price_tick: Decimal | None = None,
        qty_lot: Decimal | None = None,
    ) -> None:
        self._exchange = exchange
        self._sandbox = sandbox
        self.symbols: tuple[str, ...] = tuple(sorted(dict.fromkeys(symbols)))
        """The allowlisted symbols (ccxt unified form, e.g. ``BTC/USDT``), sorted."""
        self._lookup_attempts = lookup_attempts
        self._lookup_interval_ns = lookup_interval_ns
        self._wait_ns = wait_ns
        self._price_tick = price_tick
        self._qty_lot = qty_lot
        self._tracked: dict[str, _Tracked] = {}
        self._unconfirmed: dict[str, Order] = {}
        self._absent: dict[str, Order] = {}  # a lookup found them nowhere (``lookup``)
        self._reported: dict[str, _Reported] = {}
        self._carry: list[BrokerReport] = []
        self._pause = pause  # the pause the venue asked for (``Retry-After``), before a request

    # -- the sandbox gate, before every request ----------------------------------------------

    @property
    def exchange_id(self) -> str:
        """The ccxt exchange id, e.g. ``"binance"``."""
        return str(self._exchange.id)

    def sandbox_problems(self) -> list[str]:
        """Why this broker's exchange is not (any more) a verified sandbox; empty when it is."""
        return _sandbox_problems(self._exchange, self._sandbox)

    @property
    def sandbox_verified(self) -> bool:
        """Whether the exchange is a verified sandbox right now."""
        return not self.sandbox_problems()

    def _guard(self) -> None:
        problems = self.sandbox_problems()
        if problems:
            raise ConfigError(
                f"{self.exchange_id} is not a verified sandbox any more ({problems[0]}): "
                "nothing was sent"
            )

    def _read(self, call: Callable[[], _T], cid: str | None = None) -> _T:
        """Run one read request; failures become ``Transient`` or ``Rejected``.

        A timestamp rejection (``TIMESTAMP``) re-measures the clock offset, as for a submit.
        """
        self._ready(cid)
        ccxt = import_optional("ccxt", "ccxt")
        try:
            return call()
        except (ccxt.BaseError, *_PARSE_ERRORS) as exc:
            error = self._pause.heard(exc, _as_read_error(exc, client_order_id=cid))
            if isinstance(error, Rejected) and error.reason == "TIMESTAMP":
                resync_time(self._exchange, self._guard)  # or every later read fails alike
            raise error from exc

    # -- the Broker protocol -----------------------------------------------------------------

    def on_market(self, bar: Bar) -> None:
        """Nothing to do: the venue prices orders itself."""

    def submit(self, order: Order, now_ns: int) -> None:
        """Send ``order`` with its client order id; returns once the venue has it.

        Raises ``Transient`` (resend the same id after backoff), ``OutcomeUnknown`` (call
        ``lookup`` first; until it answers, submitting the same id raises again) or
        ``Rejected``. A duplicate client order id is looked up and, when the venue's order
        matches, adopted: ``submit`` returns normally. An answer without the venue's order
        id (cut off, unparseable) is no ack: ``OutcomeUnknown``.
        """
        cid = order.client_order_id
        self._guard()
        _check_order(order, self.symbols)
        known = self._tracked.get(cid)
        if known is not None:
            if known.order == order:
                return  # the venue has it already: sending again could only duplicate it
            raise Rejected(
                "client order id already used for another order",
                reason="DUPLICATE_CLIENT_ID",
                client_order_id=cid,
            )
        if cid in self._unconfirmed:
            raise OutcomeUnknown(
                "the last submit of this client order id has an unknown outcome: "
                "call lookup() before sending it again",
                client_order_id=cid,
            )
        self._read(self._exchange.load_markets, cid)
        amount, price = _amount_and_price(self._exchange, order)
        refuse_quote_sized(self._exchange, self._sandbox, order, lambda ask: self._read(ask, cid))
        ccxt = import_optional("ccxt", "ccxt")
        self._absent.pop(cid, None)  # sent again: this send's outcome decides now
        self._reported.pop(cid, None)
        try:
            raw = self._exchange.create_order(
                order.symbol,
                order.order_type.value.lower(),
                order.side.value.lower(),
                amount,
                price,
                {self._sandbox.client_id_param: cid},
            )
        except ccxt.BaseError as exc:
            if _is_duplicate_client_id(exc):
                scrub_chain(exc)  # what the lookup raises is raised in its context
                self._adopt_duplicate(order, now_ns)
                return
            error = self._pause.heard(exc, classify(exc, client_order_id=cid))
            if isinstance(error, OutcomeUnknown):
                self._unconfirmed[cid] = order
            elif isinstance(error, Rejected) and error.reason == "TIMESTAMP":
                resync_time(self._exchange, self._guard)
            raise error from exc
        except Exception as exc:
            # Anything else (a parse error after the venue answered, ...) may follow a
            # request that was applied: treat it as an unknown outcome.
            self._unconfirmed[cid] = order
            raise classify(exc, client_order_id=cid) from exc
        # Cut off, unparseable, a filled of "abc": the order may exist, but no ack (no_ack).
        problem = answer_problem(raw, lambda: self._track(order, raw, ack_ts_ns=now_ns))
        if problem:
            self._unconfirmed[cid] = order
            raise no_ack(problem, cid)

    def cancel(self, client_order_id: str, now_ns: int) -> None:  # noqa: ARG002 - protocol
        """Ask the venue to cancel; the ``CancelReport`` comes from ``poll``.

        An order the venue does not know or that is no longer open raises ``Rejected``
        with reason ``ORDER_NOT_OPEN``; any other refusal of the cancel ``Transient``
        (``cancel_error``): the order is still open, ask again.
        """
        cid = client_order_id
        tracked = self._tracked.get(cid)
        symbol = tracked.order.symbol if tracked is not None else None
        if symbol is None:
            found = self._find_once(cid)
            if found is None:
                raise Rejected(
                    "the venue has no such order", reason="ORDER_NOT_OPEN", client_order_id=cid
                )
            symbol = found.symbol
        self._ready(cid)
        ccxt = import_optional("ccxt", "ccxt")
        try:
            self._exchange.cancel_order(None, symbol, {self._sandbox.lookup_param: cid})
        except ccxt.BaseError as exc:
            error = self._pause.heard(exc, classify(exc, client_order_id=cid))
            if isinstance(error, Rejected) and error.reason == "TIMESTAMP":
                resync_time(self._exchange, self._guard)
            raise cancel_error(error) from exc
        except _PARSE_ERRORS as exc:  # after the venue answered: it may have been applied
            raise classify(exc, client_order_id=cid) from exc

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        """Acks, new fills (each trade id once), cancels and rejects, per order in send order.

        Reads the venue for every order that is still open or has unreported fills. When a
        read fails, the reports gathered so far are kept for the next ``poll`` and the
        failure (``Transient`` or ``Rejected``) is raised.
        """
        reports, self._carry = self._carry, []
        try:
            for cid, tracked in list(self._tracked.items()):
                if not tracked.closed:
                    self._refresh(cid, tracked, now_ns, reports)
        except BrokerError:
            self._carry = reports
            raise
        return reports

    def open_orders(self) -> Sequence[VenueOrder]:
        """Orders open at the venue in the allowlisted symbols, by client order id.

        An order whose send had an unknown outcome (or that a resume recovers) is tracked
        once listed here: the reconciler adopts it from this list; its reports must follow.
        """
        found: list[VenueOrder] = []
        for symbol in self.symbols:
            raws = self._read(functools.partial(self._exchange.fetch_open_orders, symbol))
            for raw in orders_listed(raws):
                cid = raw.get("clientOrderId")
                if isinstance(cid, str) and (cid in self._unconfirmed or cid in self._absent):
                    found.append(self._seen(cid, raw))
                else:
                    found.append(_venue_order(raw, "", self._qty_lot))
        return sorted(found, key=lambda o: (o.client_order_id, o.venue_order_id))

    def order_by_client_id(self, client_order_id: str) -> VenueOrder | None:
        """One look at the venue for this client order id; None when it does not know it.

        A None here does not confirm absence: only ``lookup`` does.
        """
        return self._find_once(client_order_id)

    def close(self) -> None:
        """Close the exchange's HTTP session; remove the pause file when nothing is left in it."""
        try:
            self._exchange.close()
        finally:
            self._pause.close()

    def recover(
        self,
        order: Order,
        *,
        acked: bool = False,
        trade_ids: Sequence[str] = (),
        filled: Decimal | None = None,
        closed: bool = False,
        booked: Mapping[str, tuple[Decimal, Decimal]] | None = None,
    ) -> None:
        """Report on ``order``, sent before a crash by another process, once a lookup finds it.

        This process sent nothing, so it tracks nothing: without this, a resumed run would
        never see the acks and fills of the orders sent before the crash. The order waits
        as one whose send had an unknown outcome (``submit`` of its id raises
        ``OutcomeUnknown`` until a lookup answered), and the next lookup that finds it
        (``lookup``, ``order_by_client_id``, ``open_orders``) tracks it, skipping what the
        book already has (``acked``, ``trade_ids`` adding up to ``filled``, ``closed``: its
        cancel or reject). A trade id listed again with other numbers than ``booked`` under
        it is reported again, as one this process reported (``new_fills``).
        """
        cid = order.client_order_id
        if cid in self._tracked:
            return
        self._unconfirmed[cid] = order
        self._reported[cid] = _Reported(
            acked=acked, trade_ids=trade_ids, filled=filled, closed=closed, numbers=booked
        )

    # -- reconciliation ----------------------------------------------------------------------

    def lookup(self, client_order_id: str, attempts: int | None = None) -> VenueOrder | None:
        """Look an order up by client order id, up to ``attempts`` times (bounded polling).

        Each attempt asks for the order by its client id, then scans the open orders; the
        attempts are ``lookup_interval_ns`` apart, and so are the looks of calls that follow
        one which found nothing (the session asks one attempt at a time). Returns the venue's
        view as soon as it is found; an order whose ``submit`` had an unknown outcome is then
        tracked, so ``poll`` reports its ack and fills, even when an earlier call found it
        nowhere. Returns None only when every attempt answered "not found": absence is then
        confirmed and resending the same client order id is allowed. A failed read raises
        ``Transient`` and confirms nothing.
        """
        tries = self._lookup_attempts if attempts is None else attempts
        if tries < 1:
            raise ValueError(f"attempts must be >= 1, got {tries}")
        for attempt in range(1, tries + 1):
            if attempt > 1 or client_order_id in self._absent:  # its last look found nothing
                self._wait_ns(self._lookup_interval_ns)
            found = self._find_once(client_order_id)
            if found is not None:
                return found
        pending = self._unconfirmed.pop(client_order_id, None)
        if pending is not None:
            self._absent[client_order_id] = pending  # tracked if a later look finds it
        return None

    def _find_once(self, cid: str) -> VenueOrder | None:
        known = self._known_symbol(cid)
        symbols = self.symbols if known is None else (known,)
        self._read(self._exchange.load_markets, cid)
        raw = found_by_id(self, cid, symbols)
        if raw is not None:
            return self._seen(cid, raw)
        for symbol in symbols:
            raws = self._read(functools.partial(self._exchange.fetch_open_orders, symbol), cid)
            for raw in orders_listed(raws, cid):
                if raw.get("clientOrderId") == cid:
                    return self._seen(cid, raw)
        return None

    def _fetch_by_client_id(self, symbol: str, cid: str) -> Any:
        """The venue's order for ``cid`` as a ccxt order; ccxt's ``OrderNotFound`` if none."""
        return fetch_by_client_id(self._exchange, self._sandbox, symbol, cid)

    def _known_symbol(self, cid: str) -> str | None:
        order = self._tracked[cid].order if cid in self._tracked else self._unconfirmed.get(cid)
        order = order or self._absent.get(cid)
        return None if order is None else order.symbol

    def _seen(self, cid: str, raw: Mapping[str, Any]) -> VenueOrder:
        found = _venue_order(raw, cid, self._qty_lot)
        absent = self._absent.pop(cid, None)
        pending = self._unconfirmed.pop(cid, absent)
        if pending is not None and _matches(found, pending):
            self._track(pending, raw, ack_ts_ns=None)
        return found

    def _adopt_duplicate(self, order: Order, now_ns: int) -> None:
        cid = order.client_order_id
        self._unconfirmed[cid] = order
        found = self.lookup(cid)
        if found is None:
            refuse_if_open_elsewhere(self, order)  # another session's order of this id
            # The venue said it has the id, yet nobody can see it: stay unconfirmed.
            self._unconfirmed[cid] = order
            raise OutcomeUnknown(
                "the venue reported a duplicate client order id but the order was not found",
                client_order_id=cid,
            )
        tracked = self._tracked.get(cid)
        if tracked is None:
            raise Rejected(
                "the venue has another order with this client order id",
                reason="DUPLICATE_CLIENT_ID",
                client_order_id=cid,
            )
        if not tracked.acked:
            tracked.ack_ts_ns = now_ns

    def _track(self, order: Order, raw: Mapping[str, Any], *, ack_ts_ns: int | None) -> None:
        cid = order.client_order_id
        reported = self._reported.pop(cid, None)  # recovered after a resume
        self._tracked[cid] = track(order, raw, ack_ts_ns=ack_ts_ns, reported=reported)

    def _refresh(self, cid: str, tracked: _Tracked, now_ns: int, out: list[BrokerReport]) -> None:
        if not tracked.acked:
            ts = now_ns if tracked.ack_ts_ns is None else tracked.ack_ts_ns
            out.append(
                AckReport(client_order_id=cid, venue_order_id=tracked.venue_order_id, ts_ns=ts)
            )
            tracked.acked = True
        if tracked.status.is_open or tracked.reported_qty < tracked.filled:
            symbol = tracked.order.symbol
            raw = self._read(lambda: self._fetch_by_client_id(symbol, cid), cid)
            tracked.filled = _read_filled(raw)
            tracked.status = _status(raw)
        if tracked.reported_qty < tracked.filled:
            grid = (self._price_tick, self._qty_lot)
            out.extend(new_fills(self._exchange, self._read, tracked, now_ns, grid))
        if tracked.status.is_open or tracked.reported_qty < tracked.filled:
            return
        if tracked.end_reported:
            pass  # the session has the order's end already (recovered after a resume)
        elif tracked.status is VenueOrderStatus.CANCELED:
            out.append(CancelReport(client_order_id=cid, ts_ns=now_ns))
        elif tracked.status is VenueOrderStatus.REJECTED:
            out.append(RejectReport(client_order_id=cid, reason="VENUE_REJECT", ts_ns=now_ns))
        tracked.closed = True

    # -- reads for preflight -----------------------------------------------------------------

    def load_markets(self) -> Mapping[str, Any]:
        """The venue's markets (loaded once, then cached by ccxt)."""
        return dict(self._read(self._exchange.load_markets))

    def balances(self) -> dict[str, Decimal]:
        """Total balance per asset, as Decimals, sorted by asset.

        ``ValueError`` naming the asset when one is no amount (not a number, ``NaN``,
        ``Infinity``, below zero).
        """
        raw = self._read(self._exchange.fetch_balance)
        totals = raw.get("total") or {}
        return {asset: _balance(asset, totals[asset]) for asset in sorted(totals)}

    def fetch_ohlcv(self, symbol: str, interval_ms: int, since_ms: int | None) -> list[Any]:
        """The venue's candles of ``interval_ms`` from ``since_ms`` (a read: see ``ohlcv``)."""
        return fetch_candles(
            self._exchange, self._read, symbol, interval_ms, since_ms, tick=self._price_tick
        )

    def __repr__(self) -> str:
        return (
            f"CcxtSandboxBroker(exchange={self.exchange_id!r}, "
            f"sandbox_verified={self.sandbox_verified}, symbols={list(self.symbols)!r})"
        )
