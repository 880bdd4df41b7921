"""Concrete, frozen domain data: bars, intents, orders, broker reports."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._support.text import INTENT_TEXT_MAX, surrogate_at, too_long
from .decimal import (
    int_as_decimal,
    long_number_problem,
    number_hint,
    optional_int_as_decimal,
    plain,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "FILL_EVENT_TYPES",
    "AckReport",
    "Bar",
    "BrokerReport",
    "CancelReport",
    "FillReport",
    "Order",
    "OrderIntent",
    "OrderType",
    "RejectReport",
    "Side",
    "VenueOrder",
    "VenueOrderStatus",
    "bar_problem",
    "intent_problem",
    "order_from_json",
    "order_to_json",
    "report_from_json",
    "report_to_json",
]

#: The event types that record a fill (in full or in part): what a position is replayed from.
FILL_EVENT_TYPES: Final = frozenset({"ORDER_FILLED", "ORDER_PARTIALLY_FILLED"})


class Side(enum.Enum):
    """Order side."""

    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        """+1 for BUY, -1 for SELL."""
        return 1 if self is Side.BUY else -1


class OrderType(enum.Enum):
    """Order type."""

    MARKET = "MARKET"
    LIMIT = "LIMIT"
    STOP = "STOP"


class VenueOrderStatus(enum.Enum):
    """An order's status as the venue reports it."""

    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"

    @property
    def is_open(self) -> bool:
        """Whether the order can still fill."""
        return self in (VenueOrderStatus.NEW, VenueOrderStatus.PARTIALLY_FILLED)


@attrs.frozen(kw_only=True)
class Bar:
    """One OHLCV bar of one symbol; ``ts_ns`` is simulated time."""

    symbol: str
    ts_ns: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@attrs.frozen(kw_only=True)
class _OrderTerms:
    """What to trade: the terms a strategy's intent and the order sent for it both state."""

    symbol: str
    side: Side
    quantity: Decimal = attrs.field(converter=int_as_decimal)
    order_type: OrderType = OrderType.MARKET
    limit_price: Decimal | None = attrs.field(default=None, converter=optional_int_as_decimal)
    reduce_only: bool = False


@attrs.frozen(kw_only=True)
class OrderIntent(_OrderTerms):
    """What a strategy wants: not yet an order, not yet checked by the safety rails.

    ``take_profit_pct`` and ``stop_loss_pct`` ask for a protective OCO pair: once the
    entry is filled, the session places a take-profit LIMIT and a STOP at these distances
    from the entry's average fill price (both reduce-only, one OCO group).
    """

    reason: str = ""
    take_profit_pct: Decimal | None = None
    stop_loss_pct: Decimal | None = None


def intent_problem(
    intent: object, *, lot: Decimal | None = None, tick: Decimal | None = None
) -> str | None:
    """What is wrong with one item a strategy's ``on_bar`` returned, or None.

    Attrs does not check types, so a strategy can build an ``OrderIntent`` the session
    could not act on (a float quantity, a NaN, a side given as text) or return something
    else altogether. A quantity of zero is not a problem here: rounded to the lot it is
    a quantity below the lot, which the session records as a rejected signal. Given the
    session's ``lot`` and ``tick``, a quantity or price too large to act on exactly is one
    (``_grid_problems``).
    """
    if not isinstance(intent, OrderIntent):
        return f"on_bar returned a {type(intent).__name__} where an OrderIntent belongs"
    return next(_intent_problems(intent, lot, tick), None)


_INTENT_KINDS: Final = (
    ("symbol", str),
    ("side", Side),
    ("order_type", OrderType),
    ("reduce_only", bool),
    ("reason", str),
)


def _kind_text(kind: type) -> str:
    """``a str``; for an enum its members (``Side.BUY or Side.SELL``): text is none of them."""
    if not issubclass(kind, enum.Enum):
        return f"a {kind.__name__}"
    members = [f"{kind.__name__}.{member.name}" for member in kind]
    return f"{', '.join(members[:-1])} or {members[-1]}"


def _intent_problems(
    intent: OrderIntent, lot: Decimal | None, tick: Decimal | None
) -> Iterator[str]:
    for name, kind in _INTENT_KINDS:
        value = getattr(intent, name)
        if not isinstance(value, kind):
            boolish = kind is bool and "bool" in type(value).__name__.lower()  # numpy's bool_
            hint = ": give bool(x)" if boolish else ""
            yield f"an OrderIntent's {name} must be {_kind_text(kind)}, got {value!r}{hint}"
        elif isinstance(value, str) and len(value) > INTENT_TEXT_MAX:
            yield too_long(f"an OrderIntent's {name}", value)
        elif isinstance(value, str) and (at := surrogate_at(value)) is not None:
            yield _surrogate_problem(name, value, at)
    if not intent.symbol:
        yield "an OrderIntent's symbol must not be empty"
    for name in ("quantity", "limit_price", "take_profit_pct", "stop_loss_pct"):
        value = getattr(intent, name)
        if value is None and name != "quantity":
            continue
        problem = _number_problem("an OrderIntent", name, value, zero_ok=name == "quantity")
        if problem is not None:
            yield problem
    yield from _grid_problems(intent, lot, tick)
    yield from _terms_problems(intent)


def _surrogate_problem(name: str, value: str, at: int) -> str:
    """A text field holding a lone surrogate: no JSON line of the run can hold it.

    The strategy's text is its evidence (the reason goes into ``SIGNAL`` and the audit), so
    it is refused as given rather than rewritten.
    """
    return (
        f"an OrderIntent's {name} must be valid Unicode text, got {value!r} (a lone "
        f"surrogate U+{ord(value[at]):04X} at index {at}, as bytes decoded with "
        'errors="surrogateescape" give: decode them with errors="replace")'
    )


EXACT_DIGITS: Final = 28
"""The digits Decimal arithmetic keeps exactly (the default context's precision)."""
_ONE: Final = Decimal(1)  # a percentage's unit: made once, not for each intent


def _grid_problems(intent: OrderIntent, lot: Decimal | None, tick: Decimal | None) -> Iterator[str]:
    """A number too large or too small to act on: more than 28 digits from its unit.

    The session divides a quantity by the lot and a price by the tick, and writes every
    number out in full: beyond the digits Decimal keeps (``Decimal("1e999999")`` is finite)
    the first fails (``decimal.Overflow``) or rounds, and ``1e-9999999999`` written out
    would be ten billion digits. Such a value is the strategy's error, named here, not a
    fault of the session's own half-way through the intent. A percentage's unit is 1.
    """
    for name, unit, of in (
        ("quantity", lot, "the lot"),
        ("limit_price", tick, "the tick"),
        ("take_profit_pct", _ONE, ""),
        ("stop_loss_pct", _ONE, ""),
    ):
        value = getattr(intent, name)
        if unit is None or not value:
            continue  # no grid given, no value, or a quantity of zero (below the lot)
        largest, smallest = unit.scaleb(EXACT_DIGITS), unit.scaleb(-EXACT_DIGITS)
        if smallest <= value < largest:
            continue
        zero = "0 or " if name == "quantity" else ""
        bound = (
            f"below {largest.normalize()}"
            if value >= largest
            else f"{zero}at least {smallest.normalize()}"
        )
        where = f"{EXACT_DIGITS} digits from {of} {unit}" if of else f"{EXACT_DIGITS} digits"
        yield (
            f"an OrderIntent's {name} must be {bound} ({where}: as many as the session "
            f"computes with exactly), got {value}"
        )


def _terms_problems(intent: OrderIntent) -> Iterator[str]:
    """An intent whose fields are each sound, but do not go together."""
    kind = intent.order_type  # its ``.value`` (an enum property) only for the message
    if kind is OrderType.MARKET and intent.limit_price is not None:
        # The rails would value the order at this price, not the market's.
        yield (
            f"a MARKET OrderIntent carries no limit_price, got {intent.limit_price}: "
            "use order_type=OrderType.LIMIT for a priced order"
        )
    if kind is not OrderType.MARKET and intent.limit_price is None:
        yield f"a {kind.value} OrderIntent needs its price in limit_price"
    for name in ("take_profit_pct", "stop_loss_pct"):
        value = getattr(intent, name)
        if value is not None and value >= 1:
            # At 1 or more, one side's exit would be priced at zero or below.
            yield (
                f"an OrderIntent's {name} must be below 1 (a fraction of the entry price: "
                f"0.02 is 2 %), got {value}"
            )


_QUANTITY_HINT: Final = " (a sell is side=Side.SELL with a positive quantity)"


def _number_problem(owner: str, name: str, value: object, *, zero_ok: bool) -> str | None:
    """What is wrong with a number field: not a Decimal (or int), not finite, out of range.

    ``zero_ok``: 0 is allowed (a volume, a quantity that rounds to nothing), a negative
    value is not; otherwise the value must be positive.
    """
    if isinstance(value, bool) or not isinstance(value, (Decimal, int)):
        got = f"{type(value).__name__} {value!r}"
        return f"{owner}'s {name} must be a Decimal, got {got}{number_hint(value)}"
    if isinstance(value, Decimal) and not value.is_finite():
        return f"{owner}'s {name} must be a finite number, got {value}"
    if zero_ok and value < 0:
        hint = _QUANTITY_HINT if name == "quantity" else ""
        return f"{owner}'s {name} must not be negative, got {value}{hint}"
    if name == "quantity" and isinstance(value, Decimal) and value.is_zero() and value.is_signed():
        # Decimal(-1) * 0: the run would record "-0", which no quantity is.
        return f"{owner}'s {name} must not be negative, got {value} (a negative zero): give 0"
    if not zero_ok and value <= 0:
        return f"{owner}'s {name} must be positive, got {value}"
    # More digits than Decimal keeps: Decimal(0.3) of a float, 0.29999999999999998889...
    return long_number_problem(f"{owner}'s {name}", value) if isinstance(value, Decimal) else None


_BAR_PRICES: Final = ("open", "high", "low", "close")


def bar_problem(bar: object, symbol: str, *, tick: Decimal | None = None) -> str | None:
    """What is wrong with a bar a feed gave for ``symbol``, or None.

    The rules of a data file's rows: prices are finite and positive, the volume finite and
    not negative (``-0`` neither), open and close within [low, high], and (given the
    session's ``tick``) prices on its grid, never rounded; and the bar is of the session's
    symbol.
    """
    if not isinstance(bar, Bar):
        return f"next_bar returned a {type(bar).__name__} where a Bar belongs"
    if bar.symbol != symbol:
        return f"next_bar returned a bar of {bar.symbol!r}; the session trades {symbol!r}"
    if isinstance(bar.ts_ns, bool) or not isinstance(bar.ts_ns, int):
        return f"a Bar's ts_ns must be an int, got {type(bar.ts_ns).__name__}"
    return next(_bar_problems(bar, tick), None)


def _bar_problems(bar: Bar, tick: Decimal | None) -> Iterator[str]:
    for name in (*_BAR_PRICES, "volume"):
        problem = _number_problem("a Bar", name, getattr(bar, name), zero_ok=name == "volume")
        if problem is not None:
            yield problem
    if isinstance(bar.volume, Decimal) and bar.volume.is_zero() and bar.volume.is_signed():
        # Recorded as "-0", which the artifacts' volume (digits, no sign) does not allow.
        yield f"a Bar's volume must not be negative, got {bar.volume} (a negative zero): give 0"
    if bar.high < bar.low:
        yield f"a Bar's high {bar.high} is below its low {bar.low}"
    for name in ("open", "close"):
        value = getattr(bar, name)
        if not bar.low <= value <= bar.high:
            yield f"a Bar's {name} {value} is outside [low {bar.low}, high {bar.high}]"
    if tick is not None:
        yield from _tick_problems(bar, tick)


def _tick_problems(bar: Bar, tick: Decimal) -> Iterator[str]:
    """A bar's prices that are not on the session's grid, or too far from it to be exact."""
    for name in _BAR_PRICES:
        value = getattr(bar, name)
        if value >= tick.scaleb(EXACT_DIGITS):  # its multiple of the tick: not exact
            yield (
                f"a Bar's {name} {value} is more than {EXACT_DIGITS} digits from the "
                f"price_tick {tick} (as many as the session computes with exactly)"
            )
        elif value % tick:
            yield (
                f"a Bar's {name} {value} is off the price_tick grid {tick} (prices are "
                "never rounded): give prices on the tick, or set price_tick to the feed's"
            )


@attrs.frozen(kw_only=True)
class Order(_OrderTerms):
    """An order as sent to a broker, identified by its deterministic client order id."""

    client_order_id: str
    oco_group: str | None = None

    def fingerprint(self) -> str:
        """What the idempotency store compares: the parameters that define this order."""
        price = "" if self.limit_price is None else str(self.limit_price)
        return "|".join(
            (
                self.symbol,
                self.side.value,
                str(self.quantity),
                self.order_type.value,
                price,
                "R" if self.reduce_only else "",
                self.oco_group or "",
            )
        )


@attrs.frozen(kw_only=True)
class VenueOrder:
    """An order as the venue currently sees it (for lookups and reconciliation)."""

    client_order_id: str
    symbol: str
    side: Side
    quantity: Decimal
    filled_quantity: Decimal
    status: VenueOrderStatus
    venue_order_id: str = ""

    @classmethod
    def of(cls, order: Order, *, filled: Decimal, status: VenueOrderStatus) -> VenueOrder:
        """``order`` as a venue holding it shows it: ``filled`` so far, in ``status``."""
        return cls(
            client_order_id=order.client_order_id,
            symbol=order.symbol,
            side=order.side,
            quantity=order.quantity,
            filled_quantity=filled,
            status=status,
        )


@attrs.frozen(kw_only=True)
class _Report:
    """What every report from the venue carries: the order it is about, and when."""

    client_order_id: str
    ts_ns: int


@attrs.frozen(kw_only=True)
class AckReport(_Report):
    """The venue accepted an order."""

    venue_order_id: str


@attrs.frozen(kw_only=True)
class FillReport(_Report):
    """A (partial) fill; ``trade_id`` is unique among the fills of one order at the venue.

    Two orders may share one (both sides of a self-trade carry the venue's trade id).
    """

    trade_id: str
    quantity: Decimal
    price: Decimal
    symbol: str | None = None
    """The symbol the venue reported the trade under; None when the broker does not say.

    One that is not the order's is an invalid report: the session does not book it.
    """


@attrs.frozen(kw_only=True)
class RejectReport(_Report):
    """The venue rejected an order after accepting the request."""

    reason: str


@attrs.frozen(kw_only=True)
class CancelReport(_Report):
    """The venue cancelled an order (the rest of it, when partly filled)."""


# What a broker's `poll` reports: an `AckReport`, `FillReport`, `CancelReport` or `RejectReport`.
# (An alias has no docstring of its own: docs/api.md gives this line as its description.)
BrokerReport = AckReport | FillReport | RejectReport | CancelReport


def order_to_json(order: Order) -> dict[str, Any]:
    """A JSON-compatible form of ``order`` (decimals as strings)."""
    return {
        "client_order_id": order.client_order_id,
        "symbol": order.symbol,
        "side": order.side.value,
        "quantity": plain(order.quantity),
        "order_type": order.order_type.value,
        "limit_price": None if order.limit_price is None else plain(order.limit_price),
        "reduce_only": order.reduce_only,
        "oco_group": order.oco_group,
    }


def order_from_json(data: Any) -> Order:
    """The order ``order_to_json`` described."""
    return Order(
        client_order_id=data["client_order_id"],
        symbol=data["symbol"],
        side=Side(data["side"]),
        quantity=Decimal(data["quantity"]),
        order_type=OrderType(data["order_type"]),
        limit_price=None if data["limit_price"] is None else Decimal(data["limit_price"]),
        reduce_only=data["reduce_only"],
        oco_group=data["oco_group"],
    )


def report_to_json(report: BrokerReport) -> dict[str, Any]:
    """A JSON-compatible form of a broker report (for checkpoints)."""
    data: dict[str, Any] = {"client_order_id": report.client_order_id, "ts_ns": report.ts_ns}
    if isinstance(report, AckReport):
        data.update(kind="ack", venue_order_id=report.venue_order_id)
    elif isinstance(report, FillReport):
        data.update(
            kind="fill",
            trade_id=report.trade_id,
            quantity=str(report.quantity),
            price=str(report.price),
        )
        if report.symbol is not None:
            data["symbol"] = report.symbol
    elif isinstance(report, RejectReport):
        data.update(kind="reject", reason=report.reason)
    else:
        data["kind"] = "cancel"
    return data


def report_from_json(data: Any) -> BrokerReport:
    """The report ``report_to_json`` described."""
    cid = data["client_order_id"]
    ts_ns = data["ts_ns"]
    kind = data["kind"]
    if kind == "ack":
        return AckReport(client_order_id=cid, venue_order_id=data["venue_order_id"], ts_ns=ts_ns)
    if kind == "fill":
        return FillReport(
            client_order_id=cid,
            trade_id=data["trade_id"],
            quantity=Decimal(data["quantity"]),
            price=Decimal(data["price"]),
            ts_ns=ts_ns,
            symbol=data.get("symbol"),
        )
    if kind == "reject":
        return RejectReport(client_order_id=cid, reason=data["reason"], ts_ns=ts_ns)
    return CancelReport(client_order_id=cid, ts_ns=ts_ns)
