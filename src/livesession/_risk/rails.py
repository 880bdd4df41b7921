"""Safety rails: named pre-trade checks, each with a reason code.

A rail is a small callable built by a public factory (``max_order_qty(limit)``) and
answers ``None`` (pass) or a ``Rejection`` carrying the numbers that made it fire. Rails
are pure: the session hands them a ``RiskContext`` and records what they answer.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Final, Protocol, runtime_checkable

import attrs

from .._domain.config import RiskLimits
from .._domain.decimal import ZERO, plain, with_context
from .._domain.ids import is_valid_symbol
from .._domain.model import OrderIntent, OrderType, Side
from .kinds import NO_MARKET_PRICE, PRICE_OFF_TICK, QTY_BELOW_LOT, REDUCE_ONLY
from .shares import daily_loss_figures, daily_loss_words, price_kind, rests_to_close, shown_past

__all__ = [
    "RAIL_RULES",
    "Rail",
    "Rejection",
    "RiskContext",
    "allowlist",
    "daily_loss",
    "default_rails",
    "execution_throttle",
    "gated",
    "is_valid_symbol",
    "max_order_notional",
    "max_order_qty",
    "max_position_notional",
    "order_rate",
    "per_trade_risk",
    "portfolio_heat",
    "price_collar",
    "reducing_only",
]

RAIL_RULES: Final = frozenset(
    {
        QTY_BELOW_LOT,
        REDUCE_ONLY,
        PRICE_OFF_TICK,
        NO_MARKET_PRICE,
        "ALLOWLIST",
        "MAX_ORDER_QTY",
        "MAX_ORDER_NOTIONAL",
        "MAX_POSITION_NOTIONAL",
        "PRICE_COLLAR",
        "PER_TRADE_RISK",
        "PORTFOLIO_HEAT",
        "DAILY_LOSS",
        "ORDER_RATE",
        "EXECUTION_THROTTLE",
        "TRADING_STATE",
    }
)
"""The rule codes of the built-in rails and of the session's own checks (lot, reduce-only,
tick); a caller's own rails may add others."""


@attrs.frozen(kw_only=True)
class Rejection:
    """Why a rail refused an intent.

    ``rule`` is the reason code, ``detail`` holds the numbers as strings, and ``reason`` says
    it in one line for a person (``RISK_REJECTED`` carries it; the rule code stands in when a
    rail of the caller's gives none).
    """

    rule: str
    detail: dict[str, str] = attrs.field(hash=False)  # out of the hash (a dict has none)
    reason: str = ""


@attrs.frozen(kw_only=True)
class RiskContext:
    """What the rails may look at for one intent."""

    last_price: Decimal
    equity: Decimal
    day_peak_equity: Decimal
    position: Decimal
    open_exposure: Decimal
    orders_this_second: int
    executions: int
    trading_state: str
    open_on_side: Decimal = ZERO
    """What the open orders in the intent's symbol and on its side have still to fill, those
    sent earlier in the same bar and the reduce-only ones among them. Against the position
    they close it first, so the intent closes only what they leave and adds the rest."""
    open_reducing_on_side: Decimal = ZERO
    """The reduce-only part of ``open_on_side`` (protective legs, flatten orders): they only
    close, so once the position is closed they open nothing. Counted only when the intent
    goes against the position, where such orders can be (0 otherwise)."""


@runtime_checkable
class Rail(Protocol):
    """**Protocol:** a pre-trade check with a reason code.

    Called as ``rail(intent, ctx)``: ``None`` passes the intent, a ``Rejection`` refuses it
    (``RISK_REJECTED`` with ``rule``). A desk's come from the config's ``rails``, after the
    built-in ones, or replace the list: ``LiveSessionOrchestrator(rails=...)``.
    """

    @property
    def rule(self) -> str:
        """The reason code."""
        ...

    def __call__(self, intent: OrderIntent, ctx: RiskContext, /) -> Rejection | None:
        """``None`` when the intent passes, else why not."""
        ...


def _closing(intent: OrderIntent, ctx: RiskContext) -> Decimal:
    """The part of the intent that closes the position it goes against (0: none).

    The orders already open on its side (``ctx.open_on_side``) close the position first:
    long 10 with a SELL 10 open, a SELL 10 more closes nothing. A reduce-only intent closes
    all of it (the session never lets it exceed the position, and a venue fills it only up
    to what is left).
    """
    if intent.reduce_only:
        return intent.quantity
    position = ctx.position
    if not position or (position > 0) == (intent.side is Side.BUY):
        return ZERO
    room = abs(position)
    if ctx.open_on_side:
        room -= ctx.open_on_side
        if room <= 0:
            return ZERO
    return min(intent.quantity, room)


def _adds(intent: OrderIntent, ctx: RiskContext) -> Decimal:
    """The part of the intent that adds exposure (0: it only reduces).

    All of it from flat or on the position's side; for an order against the position, only
    what is left after closing what the orders open on its side leave of it (a BUY 0.039
    from -0.013 adds 0.026; long 10 with a SELL 10 open, a SELL 10 adds 10).
    """
    return intent.quantity - _closing(intent, ctx)


def _price(intent: OrderIntent, ctx: RiskContext) -> Decimal:
    return intent.limit_price if intent.limit_price is not None else ctx.last_price


@attrs.frozen
class _Allowlist:
    symbols: frozenset[str]
    rule: str = "ALLOWLIST"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, intent: OrderIntent, _ctx: RiskContext) -> Rejection | None:
        if intent.symbol in self.symbols:
            return None
        return Rejection(
            rule=self.rule,
            detail={"symbol": intent.symbol},
            reason=f"{intent.symbol} is not on the allowlist",
        )


_Number = Decimal | int
_Measure = Callable[[OrderIntent, RiskContext], tuple[_Number, _Number]]


@attrs.frozen
class _Limit:
    """The shape most rails share: a measure of the intent, refused once it passes a limit.

    ``measure`` answers the measured value and the limit in force for this intent (a limit
    may depend on the context, e.g. a share of equity). ``name`` keys the value in the
    rejection's detail, and ``text`` is the one-line reason, formatted with ``value`` and
    ``limit``. An ``at_limit`` rail refuses already when the value reaches the limit; an
    ``adding_only`` rail looks only at intents with a part that adds exposure (``_adds``).
    """

    rule: str
    name: str
    measure: _Measure
    text: str
    at_limit: bool = False
    adding_only: bool = False

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, intent: OrderIntent, ctx: RiskContext) -> Rejection | None:
        if self.adding_only and not _adds(intent, ctx):
            return None
        value, limit = self.measure(intent, ctx)
        if value < limit or (value == limit and not self.at_limit):
            return None
        return Rejection(
            rule=self.rule,
            detail={self.name: plain(value), "limit": plain(limit)},
            reason=self.text.format(value=plain(value), limit=plain(limit)),
        )


@attrs.frozen
class _PriceCollar:
    pct: Decimal
    rule: str = "PRICE_COLLAR"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, intent: OrderIntent, ctx: RiskContext) -> Rejection | None:
        if (
            intent.limit_price is None
            or intent.order_type is OrderType.MARKET
            or not ctx.last_price
            or rests_to_close(intent, ctx.last_price)
        ):
            return None
        deviation = abs(intent.limit_price - ctx.last_price) / ctx.last_price
        if deviation <= self.pct:
            return None
        shown = shown_past(deviation, self.pct, reached=False)
        return Rejection(
            rule=self.rule,
            detail={
                "price": plain(intent.limit_price),
                "last_price": plain(ctx.last_price),
                "deviation": shown,
                "limit": plain(self.pct),
            },
            reason=(
                f"{price_kind(intent)} {plain(intent.limit_price)} is {shown} from the last price "
                f"{plain(ctx.last_price)} > price_collar_pct {plain(self.pct)}"
            ),
        )


@attrs.frozen
class _PositionNotional:
    """The position an order adding to it would leave, at the order's price, against a cap.

    The position after it is the worst case once it and the orders open on its side have
    filled (those close the position first, as in ``_closing``): long 0.030 with a BUY 0.010
    open, a BUY 0.020 leaves long 0.060; short 0.010, a BUY 0.030 leaves long 0.020. A
    reduce-only order open on its side closes at most the position (a protective pair, two
    legs for one position, opens nothing once one has closed it). It is valued at the
    order's price (its limit or stop price, else the last close): where the market is when
    it fills. An order that only reduces passes, however large the position.
    """

    limit: Decimal
    rule: str = "MAX_POSITION_NOTIONAL"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, intent: OrderIntent, ctx: RiskContext) -> Rejection | None:
        if not _adds(intent, ctx):
            return None
        buy = intent.side is Side.BUY
        held = ctx.position if buy else -ctx.position  # toward the intent's side
        closing_only = min(ctx.open_reducing_on_side, max(ZERO, -held))
        others = ctx.open_on_side - ctx.open_reducing_on_side
        after = held + closing_only + others + intent.quantity
        price = _price(intent, ctx)
        value = after * price
        if value <= self.limit:
            return None
        position = plain(after if buy else -after)
        return Rejection(
            rule=self.rule,
            detail={
                "position_after": position,
                "price": plain(price),
                "notional": plain(value),
                "limit": plain(self.limit),
            },
            reason=(
                f"position {position} at {plain(price)} is worth {plain(value)} > "
                f"max_position_notional {plain(self.limit)}"
            ),
        )


@attrs.frozen
class _DailyLoss:
    pct: Decimal
    rule: str = "DAILY_LOSS"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, intent: OrderIntent, ctx: RiskContext) -> Rejection | None:
        if not _adds(intent, ctx):
            return None
        figures = daily_loss_figures(self.pct, ctx.day_peak_equity, ctx.equity)
        if figures is None:
            return None
        return Rejection(
            rule=self.rule,
            detail=figures,
            reason=str(daily_loss_words(figures)),
        )


@attrs.frozen
class _TradingState:
    rule: str = "TRADING_STATE"

    @with_context  # the library's context, whoever calls it (docs/embedding.md)
    def __call__(self, intent: OrderIntent, ctx: RiskContext) -> Rejection | None:
        if ctx.trading_state == "ACTIVE":
            return None
        # Reducing is closing without opening: a flip to a smaller opposite position opens one.
        if ctx.trading_state == "REDUCING" and not _adds(intent, ctx):
            return None
        return Rejection(
            rule=self.rule,
            detail={"trading_state": ctx.trading_state},
            reason=f"trading is {ctx.trading_state}",
        )


def allowlist(symbols: Sequence[str]) -> Rail:
    """Refuse symbols that are not on the allowlist."""
    return _Allowlist(frozenset(symbols))


def max_order_qty(limit: Decimal) -> Rail:
    """Refuse orders larger than ``limit`` units."""
    return _Limit(
        "MAX_ORDER_QTY",
        "quantity",
        lambda intent, _ctx: (intent.quantity, limit),
        "quantity {value} > max_order_qty {limit}",
    )


def max_order_notional(limit: Decimal) -> Rail:
    """Refuse orders worth more than ``limit`` (quantity times price)."""
    return _Limit(
        "MAX_ORDER_NOTIONAL",
        "notional",
        lambda intent, ctx: (intent.quantity * _price(intent, ctx), limit),
        "notional {value} > max_order_notional {limit}",
    )


def max_position_notional(limit: Decimal) -> Rail:
    """Refuse an order that would leave its symbol's position worth more than ``limit``.

    The position is the one left once the order and the others open on its side filled,
    valued at the order's price; an order that only reduces passes (``_PositionNotional``).
    """
    return _PositionNotional(limit)


def price_collar(pct: Decimal) -> Rail:
    """Refuse priced orders further than ``pct`` from the last price."""
    return _PriceCollar(pct)


def per_trade_risk(pct: Decimal, stop_distance: Decimal) -> Rail:
    """Refuse a new exposure whose loss at ``stop_distance`` exceeds ``pct`` of equity.

    The new exposure is the part of the order that adds exposure (``_adds``): the part that
    closes an opposite position risks nothing new.
    """
    return _Limit(
        "PER_TRADE_RISK",
        "risk",
        lambda intent, ctx: (
            _adds(intent, ctx) * _price(intent, ctx) * stop_distance,
            ctx.equity * pct,
        ),
        "risk at the stop {value} > per-trade limit {limit}",
        adding_only=True,
    )


def portfolio_heat(pct: Decimal, stop_distance: Decimal) -> Rail:
    """Refuse when all exposure at ``stop_distance`` would risk more than ``pct`` of equity.

    All exposure is the open exposure, less the position the order closes, plus the part of
    the order that adds exposure (``_adds``).
    """
    return _Limit(
        "PORTFOLIO_HEAT",
        "heat",
        lambda intent, ctx: (
            (
                ctx.open_exposure
                - _closing(intent, ctx) * ctx.last_price
                + _adds(intent, ctx) * _price(intent, ctx)
            )
            * stop_distance,
            ctx.equity * pct,
        ),
        "portfolio heat {value} > limit {limit}",
        adding_only=True,
    )


def daily_loss(pct: Decimal) -> Rail:
    """Refuse new exposure once equity is ``pct`` below the day's peak."""
    return _DailyLoss(pct)


def order_rate(per_second: int) -> Rail:
    """Refuse more than ``per_second`` orders in one simulated second."""
    return _Limit(
        "ORDER_RATE",
        "orders_this_second",
        lambda _intent, ctx: (ctx.orders_this_second, per_second),
        "{value} orders this second >= max_orders_per_sec {limit}",
        at_limit=True,
    )


def execution_throttle(limit: int) -> Rail:
    """Refuse orders once ``limit`` executions happened, until an operator re-enables."""
    return _Limit(
        "EXECUTION_THROTTLE",
        "executions",
        lambda _intent, ctx: (ctx.executions, limit),
        "{value} executions >= max_executions {limit}",
        at_limit=True,
    )


def reducing_only() -> Rail:
    """Enforce the trading state: ACTIVE passes, REDUCING only reduces, HALTED refuses."""
    return _TradingState()


def gated(rails: Sequence[Rail]) -> tuple[Rail, ...]:
    """``rails``, the trading state enforced first when a caller's list left it out.

    ``rails=`` replaces the whole list; the limits are the caller's to choose, but the
    operator's verbs (``reduce_only``, a halt) must hold whatever rails a session was given.
    """
    rails = tuple(rails)
    if any(isinstance(rail, _TradingState) for rail in rails):
        return rails
    return (reducing_only(), *rails)


def default_rails(limits: RiskLimits, symbols: Sequence[str]) -> tuple[Rail, ...]:
    """Every rail, in the order they are checked, configured from ``limits``.

    ``MAX_POSITION_NOTIONAL`` is among them only when ``limits`` sets its cap.

    ``symbols`` is the allowlist: ``default_rails(config.risk, config.allowed_symbols)``.
    """
    capped = limits.max_position_notional  # off unless set: no rail, no cost
    return (
        reducing_only(),
        allowlist(symbols),
        max_order_qty(limits.max_order_qty),
        max_order_notional(limits.max_order_notional),
        *(() if capped is None else (max_position_notional(capped),)),
        price_collar(limits.price_collar_pct),
        per_trade_risk(limits.per_trade_risk_pct, limits.stop_distance_pct),
        portfolio_heat(limits.portfolio_heat_pct, limits.stop_distance_pct),
        daily_loss(limits.daily_loss_pct),
        order_rate(limits.max_orders_per_sec),
        execution_throttle(limits.max_executions),
    )
