"""The strategy's view of the book is read-only: nothing it can reach changes the session."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import attrs
import pytest

from livesession import Bar, DryrunConfig, Order, OrderIntent, Side, StrategyView
from livesession._session.assembly import default_strategy
from livesession._session.book import Book

from _helpers import session

STEPS = 120


class Tamperer:
    """The demo strategy, after trying every way it can think of to change the session."""

    def __init__(self, inner: Any) -> None:
        self.strategy_id = inner.strategy_id
        self._inner = inner
        self.refused = 0
        self.views: list[object] = []

    def _try(self, attempt: Any) -> None:
        try:
            attempt()
        except (AttributeError, TypeError, attrs.exceptions.FrozenInstanceError):
            self.refused += 1

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        self.views.append(view)

        def add_cash() -> None:
            view.cash += Decimal(1_000_000)

        def del_cash() -> None:
            del view.cash

        self._try(add_cash)
        self._try(del_cash)
        self._try(lambda: setattr(view, "equity", Decimal(10**9)))
        self._try(lambda: setattr(view, "position", lambda _s: Decimal(5)))
        self._try(lambda: setattr(view, "_book", None))
        self._try(lambda: view._book.positions.clear())  # noqa: PLW0108
        self._try(lambda: view.__dict__.clear())  # noqa: PLW0108
        self._try(lambda: view.open_orders().append(None))
        for order in view.open_orders():
            self._try(lambda o=order: setattr(o, "quantity", Decimal(7)))
            # Even past frozen: the view handed out a copy, not the book's order.
            object.__setattr__(order, "quantity", Decimal(7))
        # Every slot the view has holds a closure; none returns a mutable part of the book.
        for slot in type(view).__slots__:
            self._try(lambda s=slot: setattr(view, s, None))
        return self._inner.on_bar(bar, view)

    def get_state(self) -> dict[str, Any]:
        return self._inner.get_state()

    def set_state(self, state: Mapping[str, Any]) -> None:
        self._inner.set_state(state)


def _cfg() -> dict[str, Any]:
    return {"run_id": "view", "strategy_id": "s", "steps": STEPS, "seed": 7}


class TestReadOnlyView:
    def test_a_tampering_strategy_changes_nothing(self):
        plain, plain_sinks = session(**_cfg())
        plain_result = plain.run_to_end(STEPS)
        tamperer = Tamperer(default_strategy(DryrunConfig(**_cfg())))
        tampered, tampered_sinks = session(**_cfg(), strategy=tamperer)
        tampered_result = tampered.run_to_end(STEPS)

        assert tamperer.refused >= 10 * STEPS  # every attempt was made, and refused
        assert plain_sinks.events_of("ORDER_FILLED")  # the run traded: there was a book to hit
        assert tampered_sinks.events.lines == plain_sinks.events.lines
        assert tampered_sinks.states.lines == plain_sinks.states.lines
        assert tampered_result == plain_result
        assert tampered_result.status.value == "COMPLETED"

    def test_the_view_is_one_light_proxy(self):
        tamperer = Tamperer(default_strategy(DryrunConfig(**_cfg())))
        orch, _ = session(**_cfg(), strategy=tamperer)
        orch.run_to_end(STEPS)
        assert len({id(v) for v in tamperer.views}) == 1  # the same view on every bar
        (view,) = set(tamperer.views)
        assert isinstance(view, StrategyView)
        assert not hasattr(view, "__dict__")
        assert not any(isinstance(getattr(view, s), Book) for s in type(view).__slots__)

    def test_the_view_reads_the_live_book(self):
        book = Book(initial_cash=Decimal(1000))
        view = book.strategy_view
        assert view.cash == Decimal(1000)
        assert view.position("X") == 0
        assert view.avg_price("X") is None
        assert view.open_orders() == ()
        assert not view.has_open_orders("X")
        book.mark("X", Decimal(10))
        order = Order(client_order_id="c1", symbol="X", side=Side.BUY, quantity=Decimal(2))
        book.add_order(order)
        assert view.has_open_orders("X")
        assert view.open_orders("X") == (order,)
        assert view.open_orders("Y") == ()
        book.apply_fill("c1", "t1", Decimal(2), Decimal(10))
        assert view.position("X") == 2
        assert view.avg_price("X") == 10
        assert view.cash == Decimal(980)
        assert view.equity == Decimal(1000)
        assert not view.has_open_orders("X")
        book.set_state(book.get_state() | {"cash": "5"})
        assert view.cash == 5  # set_state replaced the book's values: the view follows
        assert "cash=5" in repr(view)

    @pytest.mark.parametrize("name", ["cash", "equity", "_cash", "anything"])
    def test_assignment_is_refused_by_name(self, name):
        view = Book(initial_cash=Decimal(1)).strategy_view
        with pytest.raises(AttributeError, match=f"read-only.*{name}"):
            setattr(view, name, 1)
        with contextlib.suppress(AttributeError):
            delattr(view, name)
        assert view.cash == 1
