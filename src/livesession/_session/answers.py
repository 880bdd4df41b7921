"""What a plug-in's answers must be before the session acts on them.

A feed's bar (``check_bar``: a ``Bar`` of the session's symbol, on the tick's grid, at the
time asked, or after the last one for a dated feed) and a strategy's intents
(``checked_intents``: a list of ``OrderIntent`` the session can send). An answer that is
not raises a ``TypeError`` or ``ValueError`` naming it, which the step takes as the feed's
or the strategy's error (``FEED_ERROR``, ``STRATEGY_ERROR``).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import TYPE_CHECKING, Final, cast

from .._domain import clock as _clock
from .._domain.grid import bar_on_tick
from .._domain.model import Bar, OrderIntent, bar_problem, intent_problem
from .._support.references import a_

if TYPE_CHECKING:
    from collections.abc import Iterable
    from decimal import Decimal

    from .._domain.config import DryrunConfig

__all__ = ["NONE_RETURNED", "check_bar", "checked_intents"]

NONE_RETURNED: Final = (
    "on_bar returned None: return a list of OrderIntent ([] when there is nothing to do)"
)


def check_bar(
    bar: object,
    symbol: str,
    tick: Decimal,
    *,
    asked_ns: int | None = None,
    after_ns: int | None = None,
) -> Bar:
    """``bar`` at the ``tick``'s places; raise when it is not a ``Bar`` the session can use.

    Its prices must be on the tick's grid (``bar_problem``): never rounded, as a data file's.

    A feed that is not ``dated`` is asked for the bar of ``asked_ns``, the time the step
    records: a bar of another time would have the run record a time the data never had. A
    dated feed's bar must come after the last one (``after_ns``), as a data file's rows
    must: one that goes back (a feed whose ``set_state`` forgot its place, say) would be
    recorded at the session's time, which never goes back, a time the data never had.
    """
    problem = bar_problem(bar, symbol, tick=tick)
    given_ns = cast("Bar", bar).ts_ns if problem is None else None  # a Bar, when no problem
    if given_ns is not None and asked_ns is not None and given_ns != asked_ns:
        problem = (
            f"next_bar was asked for the bar of {_utc(asked_ns)} and returned one of "
            f"{_utc(given_ns)}: a feed whose bars carry their own times sets dated = True "
            "(see docs/plugins.md)"
        )
    if given_ns is not None and after_ns is not None and given_ns <= after_ns:
        problem = (
            f"next_bar returned the bar of {_utc(given_ns)} after the bar of "
            f"{_utc(after_ns)}: a dated feed's bars must come in increasing time"
        )
    _refuse(problem, right_type=isinstance(bar, Bar))
    return bar_on_tick(cast("Bar", bar), tick)


def _utc(ts_ns: int) -> str:
    return _clock.format_utc(_clock.from_epoch_ns(ts_ns))


def checked_intents(
    produced: Iterable[object] | None, config: DryrunConfig
) -> tuple[OrderIntent, ...]:
    """What ``on_bar`` returned, when each is an ``OrderIntent`` the session can act on."""
    if produced is None:  # a forgotten return
        raise TypeError(NONE_RETURNED)
    kind = type(produced)
    if kind is list or kind is tuple:  # the usual answer: a list, most often empty
        if not produced:
            return ()
        intents = tuple(produced)
    else:
        intents = tuple(_listed(produced))
    lot, tick = config.qty_lot, config.price_tick
    for intent in intents:
        problem = intent_problem(intent, lot=lot, tick=tick)
        _refuse(problem, right_type=isinstance(intent, OrderIntent))
    return cast("tuple[OrderIntent, ...]", intents)


def _listed(produced: object) -> Iterable[object]:
    """What ``on_bar`` returned, as the intents it lists; a ``TypeError`` naming it if none.

    A dict, a str (or bytes) and an ``OrderIntent`` are iterable or not, but never a list of
    intents: iterated, a dict gave its keys, a str its characters ("on_bar returned a str
    where an OrderIntent belongs" for an intent written as a dict). Nor is a set (a
    frozenset, a dict's keys or items): its order follows the hashes of its intents' text,
    which ``PYTHONHASHSEED`` salts per process, so a run would not repeat in another one
    (the evidence's re-run) though each verifies.
    """
    if isinstance(produced, OrderIntent):
        raise TypeError("on_bar returned an OrderIntent, not a list of them: return [intent]")
    if isinstance(produced, AbstractSet):
        raise TypeError(
            f"on_bar returned {a_(type(produced).__name__)} where a list of OrderIntent "
            "belongs: a set's order changes from one process to the next (PYTHONHASHSEED), "
            "so the run would not repeat; return a list, in an order of your own"
        )
    if not isinstance(produced, (str, bytes, Mapping)):
        try:
            listed: Iterable[object] = iter(cast("Iterable[object]", produced))
        except TypeError:
            pass
        else:
            return listed
    raise TypeError(
        f"on_bar returned {a_(type(produced).__name__)} where a list of OrderIntent belongs "
        "(return [] when there is nothing to do)"
    )


def _refuse(problem: str | None, *, right_type: bool) -> None:
    """Raise ``problem``: a ``ValueError`` of the right type's fields, else a ``TypeError``."""
    if problem is not None:
        raise (ValueError if right_type else TypeError)(problem)
