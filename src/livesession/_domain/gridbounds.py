"""The digits a config's numbers need on the run's grids, held to what Decimal keeps.

Decimal arithmetic keeps ``DIGITS`` (28) digits, and a run writes every price with the
places of ``price_tick`` and every quantity with those of ``qty_lot`` (``to_places``);
its cash takes each fill's value, a quantity times a price, which has the places of both.
A number that needs more digits at those places than Decimal keeps is rounded, or written
without its grid's places, and ``verify`` rejects the run: ``initial_price =
"1000000000000000000000000000"`` (28 digits) at a tick of 0.01 is 30 digits on the grid,
and a tick of ``1E-25`` puts a price of 42000 at 30. So each value a config gives is
held to its grid when the config is read (``check_grids``):

- ``initial_price`` (the demo walk's first price) at the places of ``price_tick``, and
  on its grid (``42000.001`` on 0.01 is refused, not rounded);
- ``strategy.order_qty`` (the demo's order) at the places of ``qty_lot``, and not so far
  below the lot that the order is the strategy's error (``EXACT_DIGITS`` from the lot);
- ``initial_cash`` and ``risk.max_order_notional`` (the most a fill's value can be) at
  the places of a fill's value: those of ``price_tick`` and of ``qty_lot`` together.

A ``price_tick`` of 0 (a data file's, inferred when the feed opens) is held so once
inferred: the config is made again with it (``fit_to_feed``). A data file's prices are
held to the tick by the file's check (``datavalues``), a feed's of your own by the session
(``bar_problem``). What a run reaches later (the walk's prices, the cash after its
gains) is the run's own and not bounded here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Final

from .._exceptions import ConfigError
from .decimal import (
    DIGITS,
    integer_digits,
    places,
    plain,
    quantize,
    with_context,
    written_digits,
)

if TYPE_CHECKING:
    from .config import DryrunConfig

__all__ = ["RANDOM_WALK", "check_grids", "grid_text"]

RANDOM_WALK: Final = "random_walk"
"""The demo walk's feed: the one that starts at ``initial_price``."""
_WRITTEN_OUT: Final = 16
"""The longest a number a message shows is written out: past it, Decimal's own form."""


@with_context
def check_grids(config: DryrunConfig) -> None:
    """Refuse (``ConfigError``) a value of ``config`` needing more than ``DIGITS`` on its grid.

    The refusal names the value and the grid, with their keys.

    ``initial_price`` is held only for the demo walk, which starts there, and
    ``strategy.order_qty`` only for the demo strategy, which trades it; a ``price_tick`` of
    0 (not inferred yet) holds nothing to it.
    """
    tick, lot = config.price_tick, config.qty_lot
    if config.strategy_factory is None:
        order_qty = config.strategy.order_qty
        _refuse_below_lot(order_qty, lot)
        on_lot = f"on the grid of qty_lot {_shown(lot)}"
        coarser = "a qty_lot of at most {} places"
        _on_grid("strategy.order_qty", order_qty, places(lot), on_lot, coarser)
    if not tick:
        return
    if config.feed == RANDOM_WALK:
        on_tick = f"on the grid of price_tick {_shown(tick)}"
        coarser = "a price_tick of at most {} places"
        _on_grid("initial_price", config.initial_price, places(tick), on_tick, coarser)
        _refuse_off_tick(config.initial_price, tick)
    money = (
        f"at the places of a fill's value (a quantity on qty_lot {_shown(lot)} times a price on "
        f"price_tick {_shown(tick)})"
    )
    coarser = "a qty_lot and a price_tick of at most {} places together"
    for name, value in (
        ("initial_cash", config.initial_cash),
        ("risk.max_order_notional", config.risk.max_order_notional),
    ):
        _on_grid(name, value, places(tick) + places(lot), money, coarser)


def _on_grid(name: str, value: Decimal, at: int, where: str, coarser: str) -> None:
    """Refuse ``value`` of the key ``name`` if it needs more than ``DIGITS`` at ``at`` places.

    ``where``: the grid, named with its value; ``coarser``: the grid that would do, with a
    ``{}`` for its places.
    """
    digits = written_digits(value, at)
    if digits <= DIGITS:
        return
    before = integer_digits(value)
    room = DIGITS - before
    fixes = [f"{name} below {plain(Decimal(1).scaleb(DIGITS - at))}"] if at < DIGITS else []
    if room >= 0:
        fixes.append(coarser.format(room))
    raise ConfigError(
        f"{name} {_shown(value)} needs {digits} digits {where}: {before} before the point "
        f"and {at} places, more than the {DIGITS} Decimal arithmetic keeps (the run would "
        "round it, or write it off its grid); give " + " or ".join(fixes)
    )


def _refuse_off_tick(initial_price: Decimal, tick: Decimal) -> None:
    """Refuse an ``initial_price`` off the ``price_tick`` grid.

    The walk started at the price rounded to the tick while ``config.json`` recorded the
    one given (``42000.001`` on 0.01 ran from 42000.00); a data file's price off the grid
    is refused, never rounded, and so is this one. Within ``DIGITS`` on the grid (checked
    first), the remainder is exact.
    """
    if initial_price % tick:
        raise ConfigError(
            f"initial_price {_shown(initial_price)} is off the grid of price_tick "
            f"{_shown(tick)} (prices are never rounded: the demo walk would start at "
            f"{plain(quantize(initial_price, tick))}): give a price on the grid, or a finer "
            "price_tick"
        )


def _refuse_below_lot(order_qty: Decimal, qty_lot: Decimal) -> None:
    """Refuse an ``order_qty`` more than ``DIGITS`` digits below the lot.

    The session refuses such an intent as the strategy's error (``intent_problem``: the
    quantity cannot be divided by the lot exactly), and the demo's every order would be.
    """
    smallest = qty_lot.scaleb(-DIGITS)
    if order_qty and order_qty < smallest:
        raise ConfigError(
            f"strategy.order_qty {_shown(order_qty)} is more than {DIGITS} digits below the "
            f"qty_lot {_shown(qty_lot)}, as many as the session computes with exactly: each "
            f"of the demo's orders would fail the run; give at least {plain(smallest.normalize())}"
        )


def grid_text(value: Decimal) -> str:
    """``value`` (a tick, a price, an amount) as a message shows it to an operator.

    Written out (``0.00000001``, ``0.000000015``: a coin's tick and price, which ``str``
    writes ``1E-8`` and ``1.5E-8``) when that takes at most ``_WRITTEN_OUT`` characters;
    a value at a bound (``1E-25``, ``1E+30``) as Decimal writes it, never a row of zeros.
    """
    written = plain(value)
    return written if len(written) <= _WRITTEN_OUT else str(value)


def _shown(value: Decimal) -> str:
    """``value`` quoted in a message (``'0.01'``, ``'0.00000001'``, ``'1E-25'``: ``grid_text``)."""
    return repr(grid_text(value))
