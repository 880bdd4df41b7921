"""What the broker knows about each order it reports on, and the reads that keep it current.

The broker reports on the orders it tracks: those it sent, those a lookup found after an
unknown outcome, and those a resumed session told it about (``recover``). Each tracked
order remembers what was already reported (its ack, its trade ids, the quantity they
add up to), so every fill is reported once, also after a resume.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs

from ..._domain.decimal import ZERO
from ..._domain.model import FillReport, VenueOrderStatus
from ..._exceptions import OutcomeUnknown, Transient
from ..._support.optional import import_optional
from .convert import _decimal, _filled_qty, _on_grid, _status, _venue_id

if TYPE_CHECKING:
    from ..._domain.model import Order
    from .sandbox import _Exchange, _Sandbox

__all__: list[str] = []

_MARKET_ID_KEYS: Final = ("symbol", "instId")
"""Where a venue's raw trade names its market: Binance and Bybit ``symbol``, OKX ``instId``."""


@attrs.define
class _Tracked:
    """What this broker knows about one order it sent or adopted."""

    order: Order
    venue_order_id: str
    status: VenueOrderStatus
    filled: Decimal
    ack_ts_ns: int | None
    acked: bool = False
    reported_qty: Decimal = ZERO
    trade_ids: set[str] = attrs.field(factory=set)
    numbers: dict[str, tuple[Any, Any]] = attrs.field(factory=dict)
    """The quantity and price this broker last reported under each trade id, or the run
    booked before a resume (``_Reported.numbers``): a repeat with others is reported again,
    for the session to refuse."""
    closed: bool = False
    end_reported: bool = False
    """The session has the order's cancel or reject already (a resumed session's book)."""


def _ids(trade_ids: Iterable[str]) -> frozenset[str]:
    return frozenset(trade_ids)


def _filled(filled: Decimal | None) -> Decimal:
    return ZERO if filled is None else filled


def _numbers(booked: Mapping[str, tuple[Any, Any]] | None) -> dict[str, tuple[Any, Any]]:
    return dict(booked or {})


@attrs.frozen(kw_only=True)
class _Reported:
    """What a resumed session's book already has of an order sent before the crash."""

    acked: bool
    trade_ids: frozenset[str] = attrs.field(converter=_ids)
    filled: Decimal = attrs.field(converter=_filled)
    closed: bool
    numbers: dict[str, tuple[Any, Any]] = attrs.field(converter=_numbers, factory=dict)
    """The (quantity, price) the run booked under each of ``trade_ids``, where it said."""


def track(
    order: Order, raw: Mapping[str, Any], *, ack_ts_ns: int | None, reported: _Reported | None
) -> _Tracked:
    """``order`` as the venue's answer ``raw`` (a ccxt order) shows it, to report on.

    ``reported``: what a resumed session's book already has of it (not reported again).
    """
    tracked = _Tracked(
        order=order,
        venue_order_id=_venue_id(raw),
        status=_status(raw),
        filled=_filled_qty(raw),
        ack_ts_ns=ack_ts_ns,
    )
    if reported is not None:
        tracked.acked = reported.acked
        tracked.trade_ids = set(reported.trade_ids)
        tracked.reported_qty = reported.filled
        tracked.end_reported = reported.closed
        tracked.numbers = dict(reported.numbers)
    return tracked


def fetch_by_client_id(exchange: _Exchange, sandbox: _Sandbox, symbol: str, cid: str) -> Any:
    """The venue's order for ``cid`` as a ccxt order; ccxt's ``OrderNotFound`` if none.

    An answer that is no order (a list, None: some venues' parsers give one) is a failed
    read, ``Transient``: before, it stopped the run ``UNEXPECTED_ERROR``
    (``AttributeError: 'list' object has no attribute 'get'``).
    """
    if not sandbox.lookup_realtime:
        return an_order(exchange.fetch_order(None, symbol, {sandbox.lookup_param: cid}), cid)
    market = exchange.market(symbol)
    response = exchange.privateGetV5OrderRealtime(
        {"category": "spot", "symbol": market["id"], "orderLinkId": cid}
    )
    found = exchange.safe_list(exchange.safe_dict(response, "result", {}), "list", [])
    if not found:
        raise import_optional("ccxt", "ccxt").OrderNotFound(f"{exchange.id} has no order {cid}")
    return exchange.parse_order(found[0], market)


def answer_problem(raw: object, take: Callable[[], None]) -> str:
    """Why the venue's answer ``raw`` to an order is no ack; "" once ``take`` tracked it.

    ``take`` tracks the order as ``raw`` shows it; a number that is none there (a
    ``filled`` of ``"abc"``) makes it raise, and the answer is then no ack (``no_ack``).
    """
    if not _venue_id(raw):
        return "has no venue order id"
    try:
        take()
    except (TypeError, ValueError, ArithmeticError) as exc:
        return f"could not be read ({exc!s:.200})"
    return ""


def no_ack(problem: str, cid: str) -> OutcomeUnknown:
    """What ``submit`` raises when the venue's answer to the order ``problem`` (says so).

    Without the venue's id no fill could be matched to the order; an answer with no number
    where one goes (a ``filled`` of ``"abc"`` or NaN) says nothing of its state, which a
    read decides. Either may follow an order the venue took: it is looked up. Before, such
    a number's ``ValueError`` left ``submit`` after the send, and the run stopped
    ``UNEXPECTED_ERROR`` with the venue's fill unbooked.
    """
    return OutcomeUnknown(
        f"the venue's answer to the order {problem}: look the order up", client_order_id=cid
    )


def an_order(answer: Any, cid: str) -> Mapping[str, Any]:
    """The answer ccxt gave to an order read; ``Transient`` naming its type if it is no order."""
    if isinstance(answer, Mapping):
        return answer
    raise Transient(
        f"the venue's answer to the order read is a {type(answer).__name__}, not an order: "
        "the read failed",
        client_order_id=cid,
    )


def orders_listed(answer: Any, cid: str | None = None) -> list[Mapping[str, Any]]:
    """The answer ccxt gave listing orders; ``Transient`` when it is no list of orders."""
    if isinstance(answer, list) and all(isinstance(raw, Mapping) for raw in answer):
        return answer
    shown = type(answer).__name__ if not isinstance(answer, list) else "list of other things"
    raise Transient(
        f"the venue's answer to the open orders read is a {shown}, not a list of orders: "
        "the read failed",
        client_order_id=cid,
    )


def new_fills(
    exchange: _Exchange,
    read: Callable[[Callable[[], Any], str], Any],
    tracked: _Tracked,
    now_ns: int,
    grid: tuple[Decimal | None, Decimal | None],
) -> list[FillReport]:
    """The fills of ``tracked`` not reported yet (each trade id once), in venue order.

    A trade id listed again with another quantity or price (a venue that rewrote the trade)
    is reported again, with its new numbers, and the session refuses it
    (``BROKER_REPORT_INVALID``: its repeat check names both). Dropped as a repeat, the book
    would miss the difference until the reconciliation found it (``FILL_NOT_SEEN``).

    A trade the venue gives no id is reported with an empty ``trade_id``, which the session
    refuses (``BROKER_REPORT_INVALID``): without an id no repeat of it can be told apart.
    Each fill carries the symbol the venue reported its trade under, which the session
    refuses too when it is not the order's.

    ``read`` runs one read request (the broker's gate and error classification); ``grid``
    is the session's (price tick, quantity lot).
    """
    cid = tracked.order.client_order_id
    symbol = tracked.order.symbol
    venue_id = tracked.venue_order_id
    tick, lot = grid
    if exchange.has.get("fetchOrderTrades"):
        # Only the order's own: a trade listed under another venue order id (another order
        # on the account) was booked as this one's fill. One that names no order is kept.
        trades = [
            t
            for t in read(lambda: exchange.fetch_order_trades(venue_id, symbol), cid)
            if t.get("order") in (None, "") or str(t.get("order")) == venue_id
        ]
    else:
        trades = [
            t
            for t in read(lambda: exchange.fetch_my_trades(symbol), cid)
            if str(t.get("order")) == venue_id
        ]
    fills: list[FillReport] = []
    for trade in sorted(trades, key=lambda t: (_venue_ms(t), str(t.get("id")))):
        # A trade without an id is reported with trade_id "" (BROKER_REPORT_INVALID): never
        # booked as "None", nor a second one taken for a repeat of the first.
        trade_id = _venue_id(trade)
        qty = _number(trade.get("amount"), lot)
        price = _number(trade.get("price"), tick)
        if trade_id in tracked.trade_ids:
            # A repeat: a re-delivery only with the numbers reported under that id. One with
            # others (a venue that rewrote the trade) goes to the session, which refuses it
            # (BROKER_REPORT_INVALID) instead of the book missing the difference unsaid.
            # An id the book had before a resume has the numbers the run booked (``recover``);
            # one it was told without them (a session restored in process) is dropped.
            if _same(tracked.numbers.get(trade_id, (qty, price)), (qty, price)):
                continue
        else:
            if trade_id:
                tracked.trade_ids.add(trade_id)
            if isinstance(qty, Decimal) and qty.is_finite():
                tracked.reported_qty += qty
        if trade_id:
            tracked.numbers[trade_id] = (qty, price)
        fills.append(
            FillReport(
                client_order_id=cid,
                trade_id=trade_id,
                quantity=qty,
                price=price,
                ts_ns=now_ns,
                symbol=_reported_symbol(exchange, trade, symbol),
            )
        )
    return fills


def _venue_ms(trade: Mapping[str, Any]) -> int:
    """The venue's time of ``trade`` (epoch ms) to order a listing by; 0 without an integer.

    Only the order of one answer's trades depends on it: a fill's time is the poll's (see
    docs/ccxt.md, "Fill times"). A string, a float or a bool is no time (ccxt gives an
    integer or None): before, a string among integers stopped the run with a TypeError.
    """
    value = trade.get("timestamp")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _same(numbers: tuple[Any, Any], others: tuple[Any, Any]) -> bool:
    """Whether a trade's (quantity, price) are those reported before (a signalling NaN not)."""
    try:
        return bool(numbers == others)
    except ArithmeticError:
        return False


def _number(value: object, step: Decimal | None) -> Any:
    """A ccxt number ``value`` as a Decimal on ``step``'s grid; as given when it is none.

    The session refuses a fill whose quantity or price is no Decimal, naming it
    (``BROKER_REPORT_INVALID``): before, ``"abc"`` or ``True`` stopped the run with a
    ``ValueError`` or ``TypeError`` (``UNEXPECTED_ERROR``).
    """
    try:
        return _on_grid(_decimal(value), step)
    except (TypeError, ValueError):
        return value


def _reported_symbol(exchange: _Exchange, trade: Mapping[str, Any], symbol: str) -> str:
    """The symbol the venue reported ``trade`` under (the session refuses one not ``symbol``).

    ccxt's, or, when ccxt gave the one asked for, the venue's own market id if that is
    another: ccxt puts the market asked for in place of an id it does not list.
    """
    unified = trade.get("symbol")
    if isinstance(unified, str) and unified and unified != symbol:
        return unified
    info = trade.get("info")
    if isinstance(info, Mapping):
        for key in _MARKET_ID_KEYS:
            market_id = info.get(key)
            if market_id is not None:
                return symbol if market_id == exchange.market(symbol)["id"] else str(market_id)
    return symbol
