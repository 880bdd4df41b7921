"""A broker of the caller's, held to the broker contract: the error taxonomy and the answers.

The session's handling of a broker call rests on the taxonomy (``Transient``: never reached
the venue; ``OutcomeUnknown``: may have been applied; ``Rejected``: refused) and on answers
of the documented types. The built-in brokers keep to both. A broker plugged in by the
caller may not: a ``KeyError`` from ``submit``, a ``poll`` that returns dicts. Unguarded,
either escaped the step as a traceback and left the run unsealed.

``GuardedBroker`` wraps such a broker and translates, never hides:

- a ``Rejected`` (or a ``RejectReport``) whose ``reason`` is free text, not a code, gets a
  code made of it (``ids.record_code``: redacted, upper case): records and metrics use
  it as one;
- an exception outside the taxonomy from a call that may change the venue (``submit``,
  ``cancel``) is ``OutcomeUnknown``: the session looks the order up before anything is
  sent again, so a request that did reach the venue is never sent twice;
- from a call that only reads (``poll``, ``open_orders``, ``order_by_client_id``, and
  the optional abilities ``lookup``, ``positions``, ``journal_offset`` and
  ``venue_journal_offset``) it is ``Transient``, and so is an answer of the wrong type:
  nothing at the venue changed, the call counts as failed (``BrokerHealth``), and the
  session asks again (a checkpoint cannot wait for a journal offset: ``VenueOffsets``
  makes its failure the broker's fault, ``BROKER_CALL_FAILED``).

Any exception counts, ``BaseException`` subclasses too (an ``asyncio.CancelledError`` from a
broker built on asyncio), but ``KeyboardInterrupt`` and ``SystemExit``, which pass, and
what a signal handler still installed raised (a timer landing in the call: no answer of
the broker's, and the session is torn, ``raised_in_handler``). The
error keeps its type's name and redacted message. Every other attribute (``kind``,
``simulated``, the optional abilities) is the wrapped broker's, and shows through to the
``isinstance`` checks of the protocols the session makes (``_shown_through``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final, NoReturn, Self, TypeVar, cast

import attrs

from .._domain.decimal import fenced
from .._domain.ids import record_code
from .._domain.model import BrokerReport, RejectReport, VenueOrder
from .._exceptions import INTERRUPTS, BrokerError, OutcomeUnknown, Rejected, Transient
from .._support.handlerraised import raised_in_handler
from .._support.secrets import redact_text
from .._support.text import exception_text

if TYPE_CHECKING:
    from types import UnionType

    from .._domain.model import Bar, Order
    from .._typing import Broker

__all__ = ["GuardedBroker", "guard_broker"]

_T = TypeVar("_T")


def guard_broker(broker: Broker) -> Broker:
    """``broker`` itself when its class is livesession's own, else a ``GuardedBroker``."""
    if type(broker).__module__.partition(".")[0] == "livesession":
        return broker
    return GuardedBroker(broker)


def _failed(
    kind: type[BrokerError], operation: str, exc: BaseException, cid: str | None
) -> NoReturn:
    message = redact_text(f"{operation} raised {type(exc).__name__}: {exception_text(exc)}")
    raise kind(message, client_order_id=cid) from exc


def _wrong(operation: str, answer: object, wanted: str) -> NoReturn:
    raise Transient(f"{operation} returned a {type(answer).__name__} where {wanted} belongs")


class GuardedBroker:
    """A caller's broker whose errors and answers keep to the broker contract."""

    def __new__(cls, inner: Broker) -> Self:
        """An instance of ``cls`` made for ``inner`` (``_shown_through``)."""
        names = frozenset(dir(inner)) - frozenset(dir(cls)) - {"kind"}
        shown = _shown_through(cls, frozenset(name for name in names if name[0] != "_"))
        return cast("Self", super().__new__(shown))

    def __init__(self, inner: Broker) -> None:
        self._inner = inner
        self.kind: str = inner.kind

    @property
    def inner(self) -> Broker:
        """The wrapped broker."""
        return self._inner

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._inner, name)
        check = _OPTIONAL_READS.get(name)
        if check is not None and callable(value):
            return lambda *args, **kwargs: _read(name, lambda: value(*args, **kwargs), check)
        return value

    def __repr__(self) -> str:
        return f"GuardedBroker({self._inner!r})"

    def on_market(self, bar: Bar) -> None:
        """See the latest bar."""
        fenced(self._inner.on_market, bar)

    def submit(self, order: Order, now_ns: int) -> None:
        """Send an order; an error outside the taxonomy is ``OutcomeUnknown``."""
        cid = order.client_order_id
        _change("submit", lambda: self._inner.submit(order, now_ns), cid)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        """Cancel an order; an error outside the taxonomy is ``OutcomeUnknown``."""
        cid = client_order_id
        _change("cancel", lambda: self._inner.cancel(cid, now_ns), cid)

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        """The venue's reports: a sequence of reports, or the call failed (``Transient``)."""
        return _read("poll", lambda: self._inner.poll(now_ns), _reports)

    def open_orders(self) -> Sequence[VenueOrder]:
        """The venue's open orders: a sequence of ``VenueOrder``, or ``Transient``."""
        return _read("open_orders", self._inner.open_orders, _venue_orders)

    def order_by_client_id(self, client_order_id: str) -> VenueOrder | None:
        """The venue's order, None, or ``Transient``."""
        return _read(
            "order_by_client_id",
            lambda: self._inner.order_by_client_id(client_order_id),
            _venue_order_or_none,
        )

    def close(self) -> None:
        """Close the wrapped broker."""
        fenced(self._inner.close)


_SHOWN: dict[tuple[type[GuardedBroker], frozenset[str]], type[GuardedBroker]] = {}


def _shown_through(cls: type[GuardedBroker], names: frozenset[str]) -> type[GuardedBroker]:
    """``cls`` with a property for each of ``names``, read from the wrapped broker.

    Python 3.12 made ``isinstance`` with a runtime-checkable protocol look attributes up
    without calling ``__getattr__`` (``inspect.getattr_static``): through ``__getattr__``
    alone, a caller's broker that declares ``simulated = True`` was refused by preflight
    (``BROKER_NOT_SIMULATED``) and its optional abilities (``lookup``, ``positions``,
    ``journal_offset``...) went unused on 3.12 and 3.13. The broker's public names as they
    are when it is wrapped are properties of its wrapper's class, found statically there.
    """

    def reader(name: str) -> property:
        return property(lambda self: self.__getattr__(name))

    made = _SHOWN.get((cls, names))
    if made is None:  # one class for each set of names (a race makes two alike: harmless)
        members = {name: reader(name) for name in sorted(names)}
        made = type(cls.__name__, (cls,), {"__module__": cls.__module__, **members})
        _SHOWN[cls, names] = made
    return made


def _change(operation: str, call: Callable[[], object], cid: str) -> None:
    """A call that may change the venue; a failure outside the taxonomy is OutcomeUnknown."""
    try:
        fenced(call)
    except Rejected as exc:
        code = record_code(exc.reason, default="REJECTED")
        if code == exc.reason:
            raise
        raise Rejected(
            redact_text(str(exc)), reason=code, client_order_id=exc.client_order_id
        ) from None
    except (BrokerError, *INTERRUPTS):
        raise
    except BaseException as exc:  # outside the taxonomy: it may have been applied
        if raised_in_handler(exc):  # a user's timer cut the session's work: it tears
            raise
        _failed(OutcomeUnknown, operation, exc, cid)


def _read(operation: str, call: Callable[[], object], check: Callable[[str, object], _T]) -> _T:
    """``call``'s answer, checked; any failure of a read is ``Transient``."""
    try:
        return check(operation, fenced(call))
    except (BrokerError, *INTERRUPTS):
        raise
    except BaseException as exc:  # a read changed nothing at the venue
        if raised_in_handler(exc):
            raise
        _failed(Transient, operation, exc, None)


def _items(operation: str, answer: object, item: type | UnionType, what: str) -> tuple[Any, ...]:
    """``answer`` as a tuple when it is a collection of ``item``s; else ``Transient``."""
    if isinstance(answer, (str, bytes, Mapping)) or not isinstance(answer, Iterable):
        _wrong(operation, answer, f"a sequence of {what}")
    items = tuple(answer)
    for one in items:
        if not isinstance(one, item):
            _wrong(operation, one, f"a {what}")
    return items


def _reports(operation: str, answer: object) -> Sequence[BrokerReport]:
    reports = _items(operation, answer, BrokerReport, "broker report")
    return tuple(
        attrs.evolve(r, reason=record_code(r.reason, default="REJECTED"))
        if isinstance(r, RejectReport)
        else r
        for r in reports
    )


def _venue_orders(operation: str, answer: object) -> Sequence[VenueOrder]:
    return _items(operation, answer, VenueOrder, "VenueOrder")


def _venue_order_or_none(operation: str, answer: object) -> VenueOrder | None:
    if answer is not None and not isinstance(answer, VenueOrder):
        _wrong(operation, answer, "a VenueOrder or None")
    return answer


def _positions(operation: str, answer: object) -> Mapping[str, Decimal]:
    """A mapping of symbol to a finite ``Decimal`` (the reconciler compares it with the book)."""
    if not isinstance(answer, Mapping):
        _wrong(operation, answer, "a mapping of symbol to Decimal")
    for symbol, quantity in answer.items():
        if not isinstance(symbol, str):
            _wrong(operation, symbol, "a symbol (str)")
        if not isinstance(quantity, Decimal) or not quantity.is_finite():
            said = quantity if isinstance(quantity, Decimal) else f"a {type(quantity).__name__}"
            raise Transient(
                redact_text(f"{operation} gave {symbol!r:.40} {said}, not a finite Decimal")
            )
    return dict(answer)


def _offset(operation: str, answer: object) -> int:
    """A journal offset: an int of at least 0 (a bool is no offset)."""
    if isinstance(answer, bool) or not isinstance(answer, int):
        _wrong(operation, answer, "an int (a byte offset)")
    if answer < 0:
        raise Transient(f"{operation} returned {answer}, not an offset of at least 0")
    return answer


_OPTIONAL_READS: Final[dict[str, Callable[[str, object], object]]] = {
    "lookup": _venue_order_or_none,
    "positions": _positions,
    "journal_offset": _offset,
    "venue_journal_offset": _offset,
}
"""The optional abilities that only read, each with the check of its answer."""
