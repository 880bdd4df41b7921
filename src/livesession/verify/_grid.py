"""Prices on the tick and quantities on the lot, each written with its grid's places.

The contract writes every price with the places of the run's ``price_tick`` and every
quantity with those of its ``qty_lot`` (docs/artifacts.md, "Common rules"), both read
from ``config.json``: ``41928.60`` at a tick of 0.01, never ``41928.605`` (off the grid),
``041928.60`` or ``41928.6``. The schema can only say "a decimal string"; this says which.

Which fields are prices and which quantities is this module's own table (``_EVENT_FIELDS``),
with exactly the exceptions the contract names: a quantity below the lot in ``SIGNAL`` and
its ``QTY_BELOW_LOT`` refusal (as asked), the off-tick ``limit_price`` of
``PRICE_OFF_TICK``, and a zero written ``0`` where nothing was ever added to it (an order's
``filled`` before its first fill, the ``position`` of ``REDUCE_ONLY`` for a symbol never
held, ``avg_price`` once flat). The numbers a rail of a caller's own records are its own
and are not looked at. Cheap on the hot path: one compiled pattern per value, and for a
grid that is no power of ten one integer remainder.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._risk.rails import RAIL_RULES

if TYPE_CHECKING:
    from ._result import Violations

__all__ = ["BUILT_IN_RULES", "Grid"]

EVENTS: Final = names.EVENTS
SNAPSHOTS: Final = names.SNAPSHOTS

BUILT_IN_RULES: Final = RAIL_RULES
"""The rules whose ``RISK_REJECTED`` numbers the session writes: the rule names are the
domain's vocabulary, not the writer's behaviour, so verify takes them from their one owner.
A caller's own rail may record any."""

_PRICE: Final = "price_tick"
_QUANTITY: Final = "qty_lot"
_EVENT_FIELDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "BAR": (("open", _PRICE), ("high", _PRICE), ("low", _PRICE), ("close", _PRICE)),
    "ORDER_SUBMITTED": (("quantity", _QUANTITY), ("limit_price", _PRICE)),
    "ORDER_FILLED": (
        ("quantity", _QUANTITY),
        ("price", _PRICE),
        ("filled", _QUANTITY),
        ("remaining", _QUANTITY),
    ),
    "ORDER_CANCELED": (("filled", _QUANTITY),),
    "POSITION_CHANGED": (("position", _QUANTITY), ("avg_price", _PRICE)),
}
_EVENT_FIELDS["ORDER_PARTIALLY_FILLED"] = _EVENT_FIELDS["ORDER_FILLED"]
_RULE_FIELDS: Final[dict[str, tuple[tuple[str, str], ...]]] = {
    "PRICE_COLLAR": (("price", _PRICE), ("last_price", _PRICE)),
    "MAX_POSITION_NOTIONAL": (("position_after", _QUANTITY), ("price", _PRICE)),
    "REDUCE_ONLY": (("position", _QUANTITY),),
}
_ZERO_AS_0: Final = frozenset(
    {
        ("ORDER_CANCELED", "filled"),
        ("POSITION_CHANGED", "avg_price"),
        ("RISK_REJECTED", "position"),
        ("open order", "filled"),
    }
)
"""(where, field) that may hold a zero written ``0``: nothing was ever added to it."""
_AS_ASKED: Final = re.compile(r"(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
"""A quantity as the strategy asked for it, written out (no leading zeros, no exponent)."""
_PLAIN: Final = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")

Plan = tuple[tuple[str, "_Step", Callable[[str], object], int, bool, str], ...]
"""Per event type and field: the field, its grid, the grid's form (``fullmatch``) and units,
whether ``0`` may stand for zero, and how the field is named."""


_PLACES: Final = "is not written with the "
"""How a value on the grid but not in its places is said (``Grid.recorded_by``)."""


_BEFORE_PLACES: Final = ("0.0.", "0.1.")
"""The releases whose runs wrote values with the places they were given."""


class _Step:
    """One grid (``price_tick`` or ``qty_lot``): the form of its values, and its multiples."""

    def __init__(self, name: str, step: Decimal, *, signed: bool) -> None:
        self.name = name
        self.step = step
        self.text = format(step, "f")
        exponent = step.as_tuple().exponent
        places = max(0, -exponent) if isinstance(exponent, int) else 0
        self.places = places
        decimals = rf"\.[0-9]{{{places}}}" if places else ""
        self.signed = signed
        self.form = re.compile(rf"{'-?' if signed else ''}(?:0|[1-9][0-9]*){decimals}")
        units = int(step.scaleb(places))
        self.units = 0 if units == 1 else units  # a power of ten: the form says it all

    def problem(self, value: str) -> str | None:
        """What is wrong with ``value`` on this grid, or None."""
        if not self.form.fullmatch(value):
            return self._misfit(value)
        if self.units and int(value.replace(".", "")) % self.units:
            return f"is off the {self.name} {self.text} grid"
        return None

    def _misfit(self, value: str) -> str:
        """Why ``value``, not in this grid's form, is wrong: its form, or its value too."""
        if not _PLAIN.fullmatch(value):
            return "is not a plain decimal (no leading zeros, no exponent)"
        number = Decimal(value)
        if number < 0 and not self.signed:
            return "is negative"
        try:
            written = None if number % self.step else format(number.quantize(self.step), "f")
        except InvalidOperation:
            written = None
        if written is None:
            return f"is off the {self.name} {self.text} grid"
        places = f"{self.places} places"
        return f"{_PLACES}{places} of the {self.name} {self.text}: {written}"


class Grid:
    """The run's tick and lot (``config.json``), which each price and quantity must be on.

    Each problem goes to ``report`` as one violation naming the line, the field, the value
    and the grid.
    """

    def __init__(self, report: Violations, tick: Decimal, lot: Decimal) -> None:
        self._report = report
        self._places = True  # see ``recorded_by``
        self._tick = _Step("price_tick", tick, signed=False)
        self._lot = _Step("qty_lot", lot, signed=True)
        self._plans: dict[str, Plan] = {
            kind: self._plan(kind, fields) for kind, fields in _EVENT_FIELDS.items()
        }
        self._rule_plans: dict[str, Plan] = {
            rule: self._plan("RISK_REJECTED", fields) for rule, fields in _RULE_FIELDS.items()
        }
        # A bar's four prices in one match (most events are bars): on a power-of-ten tick
        # the form says it all, and only a bar that fails it is looked at field by field.
        form = self._tick.form.pattern
        self._bar_form = None if self._tick.units else re.compile(" ".join([form] * 4)).fullmatch

    def _plan(self, kind: str, fields: tuple[tuple[str, str], ...]) -> Plan:
        steps = [(field, self._tick if grid == _PRICE else self._lot) for field, grid in fields]
        return tuple(
            (
                field,
                step,
                step.form.fullmatch,
                step.units,
                (kind, field) in _ZERO_AS_0,
                f"{kind} {field}",
            )
            for field, step in steps
        )

    @classmethod
    def of(cls, report: Violations, config: bytes | None) -> Grid | None:
        """The grid ``config.json`` gives, or None (no config, or no grid in it: unchecked).

        A config.json that cannot be read is reported by the config check, not here.
        """
        if config is None:
            return None
        try:
            data = orjson.loads(config)
            tick, lot = Decimal(data["price_tick"]), Decimal(data["qty_lot"])
        except (orjson.JSONDecodeError, InvalidOperation, KeyError, TypeError, ValueError):
            return None
        if not (tick.is_finite() and lot.is_finite() and tick > 0 and lot > 0):
            return None
        return cls(report, tick, lot)

    def event(self, number: int, kind: str, payload: dict[str, Any]) -> None:
        """Report each price or quantity of one event that is not on its grid as it writes."""
        plan = self._plans.get(kind)
        if plan is not None:
            if kind == "BAR" and self._bar_form is not None:
                # Strings, as the schema wants a bar's prices (a line that is not never
                # reaches the event checks).
                prices = f"{payload['open']} {payload['high']} {payload['low']} {payload['close']}"
                if self._bar_form(prices) is not None:
                    return
            self._check(number, payload, plan)
        elif kind == "SIGNAL":
            self._quantity(number, kind, payload.get("quantity"), as_asked=True)
        elif kind == "RISK_REJECTED":
            self._rejected(number, payload)

    def snapshot(self, number: int, snap: dict[str, Any]) -> None:
        """A snapshot's positions and open orders' quantities, held to the lot."""
        for symbol, value in snap["positions"].items():
            self._one(SNAPSHOTS, number, f"position of {symbol}", value, self._lot)
        for order in snap["open_orders"]:
            for field in ("quantity", "filled"):
                value = order.get(field)
                if type(value) is str and not (field == "filled" and value == "0"):
                    what = f"open order {order['client_order_id']} {field}"
                    self._one(SNAPSHOTS, number, what, value, self._lot)

    def _check(self, number: int, payload: dict[str, Any], plan: Plan) -> None:
        """``_one`` for each field of ``plan``, the usual case (a good value) inlined."""
        for field, step, fullmatch, units, zero, what in plan:
            value = payload.get(field)
            if type(value) is not str or (zero and value == "0"):
                continue
            if fullmatch(value) is None or (units and int(value.replace(".", "")) % units):
                self._one(EVENTS, number, what, value, step)

    def recorded_by(self, version: object) -> None:
        """The livesession ``version`` that wrote the run (``SESSION_STARTED``'s).

        Releases before 0.2 wrote a value with the places it was given (a data file's
        ``101.1`` under a tick of 0.01, a strategy's ``Decimal("5")``): their runs are held
        to the grid's values, not to its places.
        """
        self._places = not str(version).startswith(_BEFORE_PLACES)

    def _one(self, name: str, number: int, what: str, value: str, step: _Step) -> None:
        problem = step.problem(value)
        if problem is not None and (self._places or not problem.startswith(_PLACES)):
            self._report.add(name, number, f"{what} {value} {problem}")

    def _quantity(self, number: int, kind: str, value: object, *, as_asked: bool) -> None:
        """A quantity on the lot; with ``as_asked``, one below the lot as the strategy asked."""
        if type(value) is not str:
            return
        if as_asked and _AS_ASKED.fullmatch(value) and Decimal(value) < self._lot.step:
            return
        self._one(EVENTS, number, f"{kind} quantity", value, self._lot)

    def _rejected(self, number: int, payload: dict[str, Any]) -> None:
        rule = payload.get("rule")
        if rule not in BUILT_IN_RULES:
            return  # a caller's own rail: its numbers are its own
        if rule == "QTY_BELOW_LOT":
            self._below_the_lot(number, payload.get("quantity"))
            return
        self._quantity(number, "RISK_REJECTED", payload.get("quantity"), as_asked=False)
        plan = self._rule_plans.get(rule)
        if plan is not None:
            self._check(number, payload, plan)
        if rule == "PRICE_OFF_TICK":
            self._off_the_tick(number, payload.get("limit_price"))

    def _below_the_lot(self, number: int, value: object) -> None:
        """``QTY_BELOW_LOT``'s quantity, as asked: written out, and below the lot."""
        if type(value) is not str:
            return
        if not _AS_ASKED.fullmatch(value):
            problem = "is not a plain decimal (no leading zeros, no exponent)"
        elif Decimal(value) >= self._lot.step:
            problem = f"is not below the qty_lot {self._lot.text}, yet refused QTY_BELOW_LOT"
        else:
            return
        self._report.add(EVENTS, number, f"RISK_REJECTED quantity {value} {problem}")

    def _off_the_tick(self, number: int, value: object) -> None:
        """``PRICE_OFF_TICK``'s limit price, as asked: written out, and off the tick."""
        if type(value) is not str:
            return
        if not _AS_ASKED.fullmatch(value):
            problem = "is not a plain decimal (no leading zeros, no exponent)"
        elif not Decimal(value) % self._tick.step:
            problem = f"is on the price_tick {self._tick.text} grid, yet refused PRICE_OFF_TICK"
        else:
            return
        self._report.add(EVENTS, number, f"RISK_REJECTED limit_price {value} {problem}")
