"""What a plug-in's answers must be before the session acts on them.

A feed's bar (``check_bar``: a ``Bar`` of the session's symbol, on the tick's grid, at the
time asked, or after the last one for a dated feed) and a strategy's intents
(``checked_intents``: a list of ``OrderIntent`` the session can send, and of
``CancelIntent`` naming an order by a well-formed client order id). An answer that is
not raises a ``TypeError`` or ``ValueError`` naming it, which the step takes as the feed's
or the strategy's error (``FEED_ERROR``, ``STRATEGY_ERROR``).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, TypeVar, cast

import attrs

from .._domain import clock as _clock
from .._domain.cancels import CancelIntent, cancel_problem
from .._domain.grid import bar_on_tick
from .._domain.model import Bar, OrderIntent, OrderType, Side, bar_problem, intent_problem
from .._support.pluginwords import defined_at
from .._support.references import a_
from .._support.secrets import environment_secret_in, find_secrets

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from .._domain.config import DryrunConfig

__all__ = [
    "MAX_INTENTS",
    "NONE_RETURNED",
    "ON_BAR_AT",
    "check_bar",
    "checked_intents",
    "plain_value",
]

MAX_INTENTS: Final = 1_000
"""The most intents the session takes from one ``on_bar``: more is the strategy's error.

Each intent is recorded (its ``SIGNAL``, a refusal's ``RISK_REJECTED``, a cancel's
``STRATEGY_CANCEL``, their audit records and log lines: about 1.5 KB), so the bound keeps
one bar's record near 1.5 MB: 100,000 intents a bar, the order rate refusing all but five,
grew a run by about 145 MB a bar. An endless generator ends here too, not in a step that
never ends. A strategy with more to cancel asks for the rest on the next bar."""
ON_BAR_AT: Final = "on_bar is at "
"""How the note on a refused answer of ``on_bar`` begins (``_note_where``)."""
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

    A bar is taken as its plain values first (``plain_value``): a symbol of a ``str``
    subclass equal to every text is the symbol it holds, and checked as such.
    """
    bar = _plain(bar, Bar)
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
    produced: Iterable[object] | None, config: DryrunConfig, strategy: object = None
) -> tuple[OrderIntent | CancelIntent, ...]:
    """What ``on_bar`` returned, when each is an ``OrderIntent`` or ``CancelIntent`` it can act on.

    Each is taken as its plain values (``plain_value``) before it is checked: the rails, the
    allowlist and the run's records all see the value it holds.
    """
    kind = type(produced)
    if (kind is list or kind is tuple) and not produced:
        return ()  # the usual answer: nothing to do
    try:
        return _intents_of(produced, config)
    except (TypeError, ValueError) as exc:
        _note_where(exc, strategy)
        raise


def _intents_of(
    produced: Iterable[object] | None, config: DryrunConfig
) -> tuple[OrderIntent | CancelIntent, ...]:
    """``checked_intents``'s answer, or the ``TypeError`` / ``ValueError`` naming what is wrong."""
    if produced is None:  # a forgotten return
        raise TypeError(NONE_RETURNED)
    kind = type(produced)
    given: Sequence[object]
    if kind is list or kind is tuple:  # an empty one is taken before this
        given = cast("Sequence[object]", produced)
    else:  # at most one more than the session takes: an endless generator ends here
        given = tuple(itertools.islice(_listed(produced), MAX_INTENTS + 1))
    if len(given) > MAX_INTENTS:
        counted = (
            f"{len(given)} intents"
            if kind is list or kind is tuple
            else f"more than {MAX_INTENTS} intents (an endless iterator or generator?)"
        )
        raise ValueError(
            f"on_bar returned {counted}: the session takes at most {MAX_INTENTS} from one "
            "on_bar, each recorded in the run's files (ask for the rest on the next bar)"
        )
    intents = tuple(
        _plain(intent, CancelIntent)
        if isinstance(intent, CancelIntent)
        else _plain(intent, OrderIntent)
        for intent in given
    )
    lot, tick = config.qty_lot, config.price_tick
    for intent in intents:
        if isinstance(intent, CancelIntent):
            _refuse(cancel_problem(intent), right_type=True)
        else:
            problem = intent_problem(intent, lot=lot, tick=tick)
            _refuse(problem, right_type=isinstance(intent, OrderIntent))
        _refuse(_secret_problem(cast("OrderIntent | CancelIntent", intent)), right_type=True)
    return cast("tuple[OrderIntent | CancelIntent, ...]", intents)


def _note_where(exc: BaseException, strategy: object) -> None:
    """Note on ``exc`` where the strategy's ``on_bar`` is: the answer it refused names no line.

    No line of the desk's raised (the session refused what ``on_bar`` returned), so the
    CLI's failure line has no line to name but the method's (``raised_at``). The note is
    not part of the message the run records (a path is no part of a run's evidence).
    """
    where = None if strategy is None else defined_at(strategy, "on_bar")
    if where is not None:
        exc.add_note(f"{ON_BAR_AT}{where}")


_KEEP_OUT: Final = (
    "the run records an intent's symbol and reason (SIGNAL, and the audit), and its files "
    "are handed to reviewers: keep credentials out of intents"
)


def _secret_problem(intent: OrderIntent | CancelIntent) -> str | None:
    """The text field of ``intent`` that holds a secret, named without its value; or None.

    A secret is what redaction removes: the value of one of the environment's secrets
    (named by its variable), or what a secret rule finds (named by its kind).
    """
    cancel = isinstance(intent, CancelIntent)
    owner = "a CancelIntent" if cancel else "an OrderIntent"
    for name in ("client_order_id", "reason") if cancel else ("symbol", "reason"):
        text: str = getattr(intent, name)
        leaked = environment_secret_in(text.encode("utf-8"))
        if leaked is not None:
            return f"{owner}'s {name} holds the value of ${leaked[0]}: {_KEEP_OUT}"
        kinds = find_secrets(text)
        if kinds:
            return f"{owner}'s {name} holds a secret ({kinds[0]}): {_KEEP_OUT}"
    return None


_PLAIN: Final = frozenset({str, Decimal, int, bool, type(None), Side, OrderType})
"""The types of an intent's (or a bar's) values that are taken as they are."""
_T = TypeVar("_T", OrderIntent, CancelIntent, Bar)
_FIELD_NAMES: Final = {
    kind: tuple(attrs.fields_dict(kind)) for kind in (OrderIntent, CancelIntent, Bar)
}
"""Each kind's field names, in order: ``attrs.fields`` is asked once, not for each intent."""


def plain_value(value: object) -> object:
    """``value`` as its plain ``str``, ``Decimal`` or ``int`` when it is of a subclass of one.

    A plug-in's ``class CaseSym(str)`` may compare, hash or print as another value than the
    one it holds (its ``__eq__``, ``__hash__``, ``upper``, ``__str__``): the session's checks
    would see one value, and the run record another. Each is taken by the base type's own
    code, which no subclass changes (``str.__str__``, ``Decimal(x)``, ``int.__int__``). A
    value of any other type is left for the checks to name.
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if issubclass(kind, str):
        return str.__str__(cast("str", value))
    if issubclass(kind, Decimal):
        return Decimal(cast("Decimal", value))
    if issubclass(kind, int) and not issubclass(kind, bool):
        return int.__int__(cast("int", value))
    return value


def _plain(item: object, kind: type[_T]) -> object:
    """``item`` (an ``OrderIntent`` or a ``Bar``) rebuilt of plain values; else as it is.

    Each value is read once, and the session keeps the one it checked: an instance of a
    subclass (whose fields may be properties) is rebuilt as ``kind`` itself.
    """
    if not isinstance(item, kind):
        return item
    names = _FIELD_NAMES[kind]
    values = [getattr(item, name) for name in names]
    if type(item) is kind and _PLAIN.issuperset(map(type, values)):
        return item  # nearly always: nothing to take apart
    plain: dict[str, Any] = {
        name: plain_value(value) for name, value in zip(names, values, strict=True)
    }
    return kind(**plain)


def _listed(produced: object) -> Iterable[object]:
    """What ``on_bar`` returned, as the intents it lists; a ``TypeError`` naming it if none.

    A dict, a str (or bytes) and an ``OrderIntent`` are iterable or not, but never a list of
    intents: iterated, a dict gave its keys, a str its characters ("on_bar returned a str
    where an OrderIntent belongs" for an intent written as a dict). Nor is a set (a
    frozenset, a dict's keys or items): its order follows the hashes of its intents' text,
    which ``PYTHONHASHSEED`` salts per process, so a run would not repeat in another one
    (the evidence's re-run) though each verifies.
    """
    if isinstance(produced, (OrderIntent, CancelIntent)):
        name = type(produced).__name__
        raise TypeError(f"on_bar returned {a_(name)}, not a list of them: return [intent]")
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
