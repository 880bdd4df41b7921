"""A desk's own typed code, checked by ``mypy --strict`` against the package as shipped.

The package ships ``py.typed``: an application that embeds it runs a type checker on its own
code, and what the docs show as correct must type-check there without a cast or an
``ignore``. Found by writing such an application (a strategy, a rail, sinks, a check, a log
bridge, the testing kit's fixtures) and running ``mypy --strict`` and pyright on it:

- a name the package does not export (``from livesession import MemoryLinkSink``, a typo)
  type-checked as ``Any``: each package's lazy ``__getattr__`` answered every name;
- a check of the caller's written as the docs write it, a plain function taking the
  ``PreflightContext``, was refused by ``checks=``: ``Check`` asks for a ``name``;
- ``configure_logging`` took a ``TextIO`` only, where the docs' own bridge (a class with a
  ``write(str)``) is what it takes;
- a strategy whose ``strategy_id`` is a read-only property (or ``Final``), a feed's
  ``symbol``, a broker's ``kind`` and ``simulated`` likewise, were not the protocols', which
  asked for attributes the session may set (it never does);
- the ``run_factory`` fixture's type and what it builds had no public name to annotate a
  test with, nor the record an ``IdempotencyStore``'s ``reserve`` answers (a store of
  one's own wrapping a built-in one could not say what it returns);
- an ``OrderIntent`` of ``quantity=10`` (or ``limit_price=101``), which docs/plugins.md
  says a strategy may write and the session takes, was a type error (``Argument
  "quantity" to "OrderIntent" has incompatible type "int"; expected "Decimal"``): the
  int is now taken as the ``Decimal`` it is, and typed so.

And at run time: ``DryrunConfig``, ``BookView``, ``Alert`` and ``Rejection`` are frozen, so
a type checker takes them as hashable, yet ``hash()`` of one raised ``TypeError``
(``unhashable type: 'dict'``): a config as an ``lru_cache`` key, a set of alerts.
"""

from __future__ import annotations

import functools
import re
import textwrap
from decimal import Decimal

import attrs
import pytest

import livesession
import livesession.testing
from livesession import Alert, BookView, DryrunConfig, MemoryLineSink, Rejection

_DESK = """
from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from livesession import (
    Bar, Broker, BrokerReport, CancelIntent, CheckResult, DeclaredSimulation, DryrunConfig,
    IdempotencyRecord, IdempotencyStore, LiveSessionOrchestrator, MarketFeed, MemoryLineSink, MockBroker, Order, OrderIntent,
    CsvReplayFeed, FileCheckpointStore, JsonlIdempotencyStore, SqliteIdempotencyStore,
    OrderType, PreflightContext, Side, Strategy, StrategyView, VenueOrder, configure_logging,
)
from livesession.control import describe_run, send_control
from livesession.evidence import scan_secrets
from livesession.prom import make_exporter, make_registry, render_textfile, write_textfile
from livesession.report import render_report, write_report
from livesession.status import list_runs
from livesession.testing import FaultBroker, MatrixReport, MemoryRun, RunFactory, SessionTracker


class Breakout:
    @property
    def strategy_id(self) -> str:
        return "breakout"

    def on_bar(self, bar: Bar, view: StrategyView) -> Sequence[OrderIntent | CancelIntent]:
        return []

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        pass


class Pinned:
    strategy_id: Final = "pinned"

    def on_bar(self, bar: Bar, view: StrategyView) -> list[OrderIntent]:
        return []

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        pass


class Shares:  # whole shares at whole prices, as docs/plugins.md says a strategy may write
    strategy_id: Final = "shares"

    def on_bar(self, bar: Bar, view: StrategyView) -> list[OrderIntent]:
        return [
            OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=10),
            OrderIntent(
                symbol=bar.symbol, side=Side.SELL, quantity=10, order_type=OrderType.LIMIT,
                limit_price=101,
            ),
        ]

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        pass


class Flat:
    @property
    def symbol(self) -> str:
        return "BTC/USDT"

    def next_bar(self, ts_ns: int) -> Bar | None:
        return None

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        pass


class Paper:
    kind: Final = "paper"
    simulated: Final = True

    def __init__(self) -> None:
        self.venue = MockBroker()

    def on_market(self, bar: Bar) -> None:
        self.venue.on_market(bar)

    def submit(self, order: Order, now_ns: int) -> None:
        self.venue.submit(order, now_ns)

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.venue.cancel(client_order_id, now_ns)

    def poll(self, now_ns: int) -> Sequence[BrokerReport]:
        return self.venue.poll(now_ns)

    def open_orders(self) -> Sequence[VenueOrder]:
        return self.venue.open_orders()

    def order_by_client_id(self, client_order_id: str) -> VenueOrder | None:
        return self.venue.order_by_client_id(client_order_id)

    def close(self) -> None:
        self.venue.close()


def data_fresh(ctx: PreflightContext) -> CheckResult:
    return CheckResult(name="data_fresh", passed=ctx.config.steps > 0)


class CountingStore:
    def __init__(self, inner: IdempotencyStore) -> None:
        self.inner, self.reserved = inner, 0

    def reserve(self, key: str, fingerprint: str) -> IdempotencyRecord:
        self.reserved += 1
        return self.inner.reserve(key, fingerprint)

    def complete(self, key: str, outcome: str) -> None:
        self.inner.complete(key, outcome)

    def get(self, key: str) -> IdempotencyRecord | None:
        return self.inner.get(key)

    def close(self) -> None:
        self.inner.close()


def counting(inner: IdempotencyStore) -> IdempotencyStore:
    return CountingStore(inner)


class PerRunLog:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, line: str) -> None:
        self.lines.append(json.loads(line)["run_id"])


strategies: list[Strategy] = [Breakout(), Pinned(), Shares()]
feed: MarketFeed = Flat()
broker: Broker = Paper()
declared: DeclaredSimulation = Paper()
session = LiveSessionOrchestrator(
    DryrunConfig(run_id="typed", strategy_id="breakout", steps=10),
    strategy=Breakout(),
    feed=Flat(),
    broker=Paper(),
    checks=[data_fresh],
    audit_sink=MemoryLineSink(),
)
configure_logging(PerRunLog())


def paths(run: str, out: os.PathLike[str]) -> None:  # a path is a str or any os.PathLike
    list_runs(out), list_runs(run), describe_run(out), send_control("stop", run, timeout_s=1.0)
    scan_secrets(out), render_report(out), write_report(run, out), make_exporter(out)
    render_textfile(out), write_textfile(out, run), make_registry(out)
    CsvReplayFeed.check(out, tick=None), MockBroker(journal=out), FileCheckpointStore(out)
    JsonlIdempotencyStore(out), SqliteIdempotencyStore(run)


def test_one_run(run_factory: RunFactory, verified_runs: SessionTracker) -> None:
    run: MemoryRun = run_factory.run(steps=20, broker=FaultBroker())
    assert run.events_of("SESSION_STOPPED") and not verified_runs.problems()


def test_the_matrix(failure_matrix: Callable[..., MatrixReport]) -> None:
    assert failure_matrix(Breakout, examples=1, steps=10).examples
"""

_TYPOS = """
import livesession
import livesession.testing
from livesession import MemoryLinkSink
from livesession.testing import RunFactry

livesession.create_rum
livesession.testing.check_cas
"""


@pytest.fixture(scope="module")
def mypy_says(tmp_path_factory: pytest.TempPathFactory) -> str:
    """``mypy --strict`` on the desk's files, as the desk runs it (no config of ours)."""
    api = pytest.importorskip("mypy.api", reason="mypy is not installed")
    root = tmp_path_factory.mktemp("user_typing")
    (root / "mypy.ini").write_text("[mypy]\n", encoding="utf-8")
    (root / "desk.py").write_text(textwrap.dedent(_DESK), encoding="utf-8")
    (root / "typos.py").write_text(_TYPOS, encoding="utf-8")
    public = "\n".join(
        f"reveal_type({module.__name__}.{name})"
        for module in (livesession, livesession.testing)
        for name in module.__all__
    )
    (root / "names.py").write_text(
        f"import livesession\nimport livesession.testing\n{public}\n", encoding="utf-8"
    )
    out, err, _code = api.run(
        [
            "--strict",
            "--config-file",
            str(root / "mypy.ini"),
            "--cache-dir",
            str(root / "cache"),
            "--no-error-summary",
            *(str(root / name) for name in ("desk.py", "typos.py", "names.py")),
        ]
    )
    return "\n".join(line.removeprefix(f"{root}/") for line in (out + err).splitlines())


def _lines(said: str, file: str) -> list[str]:
    return [line for line in said.splitlines() if line.startswith(file)]


def test_the_desk_s_typed_code_checks_clean(mypy_says):
    """A read-only ``strategy_id``/``symbol``, ``Final`` ``kind``/``simulated``, a plain
    function in ``checks=``, a ``write``-only log bridge, the fixtures named by type."""
    assert _lines(mypy_says, "desk.py") == []


def test_a_name_the_packages_do_not_export_is_an_error(mypy_says):
    """A typo is the checker's error, not an ``Any`` that hides every use of it."""
    found = [
        re.findall(r'^typos\.py:(\d+): error: .*has no attribute "(\w+)"', line)
        for line in _lines(mypy_says, "typos.py")
    ]
    assert found == [
        [("4", "MemoryLinkSink")],
        [("5", "RunFactry")],
        [("7", "create_rum")],
        [("8", "check_cas")],
    ]


def test_every_public_name_has_a_type(mypy_says):
    """Each name of either ``__all__`` is known to a type checker, none of them ``Any``."""
    revealed = _lines(mypy_says, "names.py")
    count = len(livesession.__all__) + len(livesession.testing.__all__)
    assert len(revealed) == count, "\n".join(line for line in revealed if "note" not in line)
    assert [line for line in revealed if 'Revealed type is "Any"' in line] == []


def test_frozen_values_hash_as_their_type_says():
    """Equal values hash alike; a dict inside is compared, not hashed."""
    config = DryrunConfig(run_id="h", steps=10)
    assert hash(config) == hash(DryrunConfig(run_id="h", steps=10))
    assert {config, DryrunConfig(run_id="h", steps=10)} == {config}
    assert hash(
        DryrunConfig(run_id="h", strategy_factory="desk.s:make", strategy_params={"n": [1]})
    )
    cached = functools.lru_cache(lambda cfg: cfg.run_id)
    assert cached(config) == "h"
    session = livesession.LiveSessionOrchestrator(config, audit_sink=MemoryLineSink())
    session.run_to_end(10)
    book: BookView = session.book
    assert hash(book) == hash(session.book)
    assert book == session.book
    alert = Alert(
        run_id="h",
        code="KILL_SWITCH",
        state="s",
        status="RUNNING",
        reason="drill",
        ts="t",
        audit_seq=3,
        audit_code="C2_KILL_SWITCH",
        detail={"k": "v"},
    )
    assert len({alert, attrs.evolve(alert, detail={"k": "v"})}) == 1
    no = Rejection(rule="MAX_POSITION", detail={"limit": str(Decimal("0.005"))})
    assert hash(no) == hash(Rejection(rule="MAX_POSITION", detail={"limit": "0.005"}))
    assert no != Rejection(rule="MAX_POSITION", detail={"limit": "0.006"})


_CALLED_BY_POSITION = {
    "Strategy": ("on_bar", "set_state"),
    "MarketFeed": ("next_bar", "set_state"),
    "Broker": ("on_market", "submit", "cancel", "poll", "order_by_client_id"),
    "LineSink": ("write_line",),
    "MetricsSink": ("replace",),
    "AlertSink": ("post",),
    "IdempotencyStore": ("reserve", "complete", "get"),
    "CheckpointStore": ("save",),
    "SessionLease": ("acquire", "renew", "release"),
}


def test_the_protocols_a_desk_implements_take_arguments_by_position():
    """pyright holds a class to a protocol's parameter names too: ``on_bar(self, b, v)``,
    ``write_line(self, data)`` or ``set_state(self, snapshot)`` was not a ``Strategy`` or a
    ``LineSink`` to it, though the session passes every argument by position (as it does to
    a ``Rail`` and a ``Check``, whose protocols said so already). Each protocol a desk
    implements says so now: its names are the desk's own."""
    import inspect

    for protocol, methods in _CALLED_BY_POSITION.items():
        for method in methods:
            _self, *params = inspect.signature(
                getattr(getattr(livesession, protocol), method)
            ).parameters.values()
            kinds = {p.name: p.kind for p in params}
            assert set(kinds.values()) == {inspect.Parameter.POSITIONAL_ONLY}, (
                f"{protocol}.{method}: {kinds}"
            )


def test_a_strategy_s_own_parameter_names_run(run_factory):
    """The session calls a strategy and a feed by position, whatever it names its arguments."""

    class Named:
        strategy_id = "named"

        def on_bar(self, b, v):
            assert v.position(b.symbol) == 0
            return []

        def get_state(self):
            return {}

        def set_state(self, snapshot):
            pass

    run = run_factory.run(steps=5, strategy=Named())
    assert run.orch.result().status.value == "COMPLETED"


def test_an_int_quantity_and_limit_price_are_the_decimals_they_are():
    """What the type now says: ``quantity=10`` is ``Decimal(10)``, the same intent as
    ``Decimal("10")``; a bool or a float is kept as given, for the session to refuse."""
    from livesession import OrderIntent, OrderType, Side

    intent = OrderIntent(
        symbol="X", side=Side.BUY, quantity=10, order_type=OrderType.LIMIT, limit_price=101
    )
    assert (type(intent.quantity), type(intent.limit_price)) == (Decimal, Decimal)
    assert intent == OrderIntent(
        symbol="X",
        side=Side.BUY,
        quantity=Decimal(10),
        order_type=OrderType.LIMIT,
        limit_price=Decimal(101),
    )
    assert OrderIntent(symbol="X", side=Side.BUY, quantity=True).quantity is True  # type: ignore[arg-type]
    assert type(OrderIntent(symbol="X", side=Side.BUY, quantity=0.5).quantity) is float  # type: ignore[arg-type]
