"""The calling application's decimal context changes nothing a session computes or writes.

Decimal arithmetic rounds to the context of the thread that does it. An application that
set its own (``getcontext().prec = 6``, ``traps[Inexact] = True``) saw a run fail
(``DivisionImpossible``) or write other bytes (an equity of ``100000.0000``, not
``100000.00000``), and its evidence's re-run, in a fresh process, differ. Every entry point
now computes in the library's own context (``_domain.decimal.CONTEXT``), and the caller's
is given back when it returns.
"""

from __future__ import annotations

import asyncio
import decimal
import threading
from contextlib import contextmanager
from decimal import Decimal, Inexact
from typing import TYPE_CHECKING, Any

import attrs
import pytest

from _scripted import risk_context
from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MockBroker,
    OrderIntent,
    OrderType,
    PreflightContext,
    RandomWalkFeed,
    Rejection,
    RiskContext,
    SessionStatus,
    Side,
    SmaCrossover,
    check_csv,
    create_run,
    default_checks,
    default_rails,
    load_config,
    open_session,
    verify_run,
)
from livesession._domain.decimal import CONTEXT
from livesession._session.assembly import SessionEdges, assemble

from _helpers import Sinks

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")
STEPS = 300
RUN_ID = "dec"


def _prec(places: int) -> Callable[[decimal.Context], None]:
    def change(context: decimal.Context) -> None:
        context.prec = places

    return change


def _trap_inexact(context: decimal.Context) -> None:
    context.traps[Inexact] = True


APPLICATIONS = {"prec 6": _prec(6), "prec 10": _prec(10), "traps Inexact": _trap_inexact}
"""The contexts an embedding application set for itself, each a change of Python's default."""


@contextmanager
def applications(change: Callable[[decimal.Context], None]) -> Iterator[decimal.Context]:
    """The calling thread in the application's own context; checked as it was on the way out."""
    with decimal.localcontext() as own:
        change(own)
        expected = own.copy()
        yield own
        assert decimal.getcontext() is own, "the caller's context was not given back"
        assert (own.prec, own.traps) == (expected.prec, expected.traps)


@contextmanager
def new_threads_in(change: Callable[[decimal.Context], None]) -> Iterator[None]:
    """Threads started meanwhile begin in the application's context (``DefaultContext``)."""
    saved = decimal.DefaultContext.copy()
    change(decimal.DefaultContext)
    try:
        yield
    finally:
        decimal.DefaultContext.prec = saved.prec
        for signal in saved.traps:
            decimal.DefaultContext.traps[signal] = saved.traps[signal]


def _contract(run_dir: Path) -> dict[str, bytes]:
    return {name: (run_dir / name).read_bytes() for name in CONTRACT}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """The run's bytes in Python's default context, as every machine writes them."""
    out = tmp_path_factory.mktemp("reference")
    session = create_run(DryrunConfig(run_id=RUN_ID, steps=STEPS), out)
    with session:
        assert session.run_to_end(STEPS).status is SessionStatus.COMPLETED
    return _contract(out / RUN_ID)


def test_the_librarys_context_is_pythons_default() -> None:
    """Prec 28, half-even, traps InvalidOperation, DivisionByZero and Overflow (as documented)."""
    default = decimal.Context(
        prec=28,
        rounding=decimal.ROUND_HALF_EVEN,
        Emin=-999_999,
        Emax=999_999,
        capitals=1,
        clamp=0,
        flags=[],
        traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
    )
    assert repr(CONTEXT) == repr(default)


@pytest.mark.parametrize("change", APPLICATIONS.values(), ids=APPLICATIONS.keys())
class TestTheCallersContext:
    def test_a_run_directory_has_the_default_bytes_and_verifies(
        self, tmp_path: Path, reference: dict[str, bytes], change
    ) -> None:
        """Bug: with ``prec = 6`` the run failed (``DivisionImpossible``) and did not verify;
        with ``prec = 10`` it wrote ``100000.0000`` for ``100000.00000``; with
        ``traps[Inexact]`` it failed."""
        with applications(change):
            session = create_run(DryrunConfig(run_id=RUN_ID, steps=STEPS), tmp_path)
            with session:
                result = session.run_to_end(STEPS)
            verified = verify_run(tmp_path / RUN_ID)
        assert (result.status, result.reason) == (SessionStatus.COMPLETED, "")
        assert verified.ok, verified.summary
        assert _contract(tmp_path / RUN_ID) == reference

    def test_step_by_step_and_the_verbs_compute_as_by_default(self, change) -> None:
        """``preflight``, ``activate``, ``step``, ``run_n_steps``, ``book``, ``kill``,
        ``close``: each in the caller's thread, in the caller's context."""

        def drive(sinks: Sinks) -> tuple[Decimal, SessionStatus]:
            session = LiveSessionOrchestrator(
                DryrunConfig(run_id="steps", steps=STEPS), **sinks.kwargs()
            )
            assert session.preflight()
            session.activate()
            for _ in range(40):
                session.step()
            session.run_n_steps(200)
            equity = session.book.equity
            session.kill("desk drill")
            session.close()
            return equity, session.status

        default = Sinks()
        expected = drive(default)
        mine = Sinks()
        with applications(change):
            got = drive(mine)
        assert got == expected
        assert mine.events.lines == default.events.lines
        assert mine.audit.lines == default.audit.lines
        assert mine.metrics.content == default.metrics.content

    def test_a_verb_from_another_thread_computes_as_by_default(self, change) -> None:
        """The stop's flatten, done in the calling thread, in that thread's context."""

        def stopped_by(sinks: Sinks, stopper: Callable[[Callable[[], object]], None]) -> None:
            # Cash of 12 digits: more than a precision of 10 keeps.
            config = DryrunConfig(run_id="verb", steps=STEPS, initial_cash="10000000")
            session = LiveSessionOrchestrator(config, **sinks.kwargs())
            session.preflight()
            session.activate()
            session.run_n_steps(100)
            assert any(session.book.positions.values()), "the demo holds a position here"
            stopper(lambda: session.request_stop("from the desk"))
            session.close()
            assert session.status is SessionStatus.COMPLETED

        def from_another_thread(verb: Callable[[], object]) -> None:
            def desk() -> None:
                with applications(change):
                    verb()

            thread = threading.Thread(target=desk, name="desk")
            thread.start()
            thread.join(30)

        default, mine = Sinks(), Sinks()
        stopped_by(default, lambda verb: verb())
        stopped_by(mine, from_another_thread)
        assert mine.events.lines == default.events.lines
        assert mine.audit.lines == default.audit.lines

    def test_asyncio_has_the_default_bytes_and_verifies(self, tmp_path: Path, change) -> None:
        """The owner thread and the executor's threads start in ``DefaultContext``, which the
        application changed too; the loop's thread in its own context."""

        async def main(out: Path) -> None:
            async with open_session(
                DryrunConfig(run_id=RUN_ID, steps=STEPS), out_dir=out
            ) as session:
                await session.run_steps(STEPS // 2)
                await session.book()
                await session.reduce_only("desk")
                await session.run_steps(20)
                await session.reenable_trading("desk")
                await session.run_steps(STEPS)

        asyncio.run(main(tmp_path / "default"))
        with new_threads_in(change), applications(change):
            asyncio.run(main(tmp_path / "mine"))
        assert verify_run(tmp_path / "mine" / RUN_ID).ok
        assert _contract(tmp_path / "mine" / RUN_ID) == _contract(tmp_path / "default" / RUN_ID)


@pytest.mark.parametrize("change", APPLICATIONS.values(), ids=APPLICATIONS.keys())
def test_config_and_data_checks_compute_in_the_librarys_context(tmp_path: Path, change) -> None:
    """``load_config``, ``DryrunConfig`` and ``check_csv`` judge as in the default context."""
    bars = tmp_path / "bars.csv"
    bars.write_text(
        "timestamp,open,high,low,close,volume\n"
        "2026-03-02T09:00:00Z,1234567.07160,1234567.07242,1234567.07151,1234567.07230,100\n",
        encoding="utf-8",
    )
    toml = tmp_path / "desk.toml"
    toml.write_text('run_id = "cfg"\nqty_lot = "0.0000001"\n', encoding="utf-8")
    expected = (load_config(toml), check_csv(bars, tick=Decimal("0.00001")))
    with applications(change):
        got = (load_config(toml), check_csv(bars, tick=Decimal("0.00001")))
        built = DryrunConfig(
            run_id="cfg", qty_lot=Decimal("0.0000001"), base_dir=str(toml.resolve().parent)
        )
    assert got == expected
    assert built == expected[0]


def _set(name: str, value: object) -> Callable[[decimal.Context], None]:
    def change(context: decimal.Context) -> None:
        setattr(context, name, value)

    return change


HOSTILE = {
    **APPLICATIONS,
    "prec 3": _prec(3),
    "Emax 3": _set("Emax", 3),
    "rounding up": _set("rounding", decimal.ROUND_UP),
    "capitals 0": _set("capitals", 0),
}
"""Contexts a caller of the public rails may be in: each changed an answer of theirs."""


def _rail_cases() -> list[tuple[OrderIntent, RiskContext]]:
    """Intents and contexts at each rail's edge: a limit price 0.0500002 from the last price
    (the collar fires), a drawdown of 0.0100001 (the daily loss fires), a notional of 44100."""
    priced = OrderIntent(
        symbol="BTC/USDT",
        side=Side.BUY,
        quantity=Decimal(1),
        order_type=OrderType.LIMIT,
        limit_price=Decimal("44100.01"),
    )
    small = OrderIntent(symbol="BTC/USDT", side=Side.BUY, quantity=Decimal("0.001"))
    last = Decimal("42000.00")
    down = risk_context(last_price=last, equity=Decimal("98999.99"))
    return [(priced, risk_context(last_price=last)), (small, down)]


@pytest.mark.parametrize("change", HOSTILE.values(), ids=HOSTILE.keys())
def test_the_public_rails_and_checks_answer_as_in_a_session(change) -> None:
    """Bug: ``default_rails(...)`` and ``default_checks()`` called by an application (to
    judge an order before it reaches a session, docs/embedding.md) computed in the caller's
    context: with ``prec = 3`` the price collar passed a limit price 0.0500002 from the last
    price, which the session refuses, and the daily loss rail raised ``InvalidOperation``;
    ``traps[Inexact]`` and ``Emax = 3`` made rails raise, ``ROUND_UP`` and ``capitals = 0``
    changed their reasons. Each computes in the library's context now, and gives the
    caller's back."""
    config = DryrunConfig(run_id="rails", steps=1, risk={"max_order_qty": "1E+1"})
    rails = default_rails(config.risk, config.allowed_symbols)
    cases = _rail_cases()
    preflight = PreflightContext(
        config=attrs.evolve(config, strategy={"order_qty": "2E+1"}),
        broker=MockBroker(),
        audit_sink_present=True,
    )

    def answers() -> list[object]:
        judged: list[object] = []
        for intent, ctx in cases:
            for rail in rails:
                try:
                    judged.append(rail(intent, ctx))
                except decimal.DecimalException as exc:
                    judged.append(type(exc).__name__)
        judged.extend(check(preflight) for check in default_checks())
        return judged

    expected = answers()  # in the caller's default context, as in a session
    refused = [(a.rule, a.reason) for a in expected if isinstance(a, Rejection)]
    assert [rule for rule, _ in refused] == ["PRICE_COLLAR", "PER_TRADE_RISK", "DAILY_LOSS"]
    assert "0.0500002 from the last price" in refused[0][1]
    # held as config.json writes them ("1E+1" is 10), so a re-run from it says the same
    assert "order_qty 20 > max_order_qty 10" in str(expected)
    with applications(change):
        got = answers()
    assert got == expected


def test_plug_ins_see_the_librarys_context() -> None:
    """A strategy's ``on_bar`` runs in the library's context (as docs/plugins.md says)."""
    seen: list[int] = []

    class Looks:
        strategy_id = "looks"

        def on_bar(self, bar: object, view: object) -> list[object]:
            seen.append(decimal.getcontext().prec)
            return []

        def get_state(self) -> dict[str, object]:
            return {}

        def set_state(self, state: dict[str, object]) -> None:
            pass

    session = LiveSessionOrchestrator(
        DryrunConfig(run_id="looks", strategy_id="looks", steps=3),
        strategy=Looks(),
        audit_sink=MemoryLineSink(),
    )
    with applications(_prec(6)):
        session.run_to_end(3)
    assert seen == [CONTEXT.prec] * 3


def _tight(context: decimal.Context) -> None:
    """What a plug-in sets for its own arithmetic: 8 digits, rounded down."""
    context.prec = 8
    context.rounding = decimal.ROUND_DOWN


class InPlaceSma(SmaCrossover):
    """Bug: sets its context in place in ``on_bar`` (and in ``get_state``)."""

    def on_bar(self, bar: Any, view: Any) -> Any:
        _tight(decimal.getcontext())
        return super().on_bar(bar, view)

    def get_state(self) -> dict[str, Any]:
        decimal.setcontext(decimal.Context(prec=4, traps=[decimal.Inexact]))
        return super().get_state()


class LocalSma(SmaCrossover):
    """The same arithmetic in a context of its own."""

    def on_bar(self, bar: Any, view: Any) -> Any:
        with decimal.localcontext() as mine:
            _tight(mine)
            return super().on_bar(bar, view)


class InPlaceFeed(RandomWalkFeed):
    def next_bar(self, ts_ns: int) -> Any:
        _tight(decimal.getcontext())
        return super().next_bar(ts_ns)


class LocalFeed(RandomWalkFeed):
    def next_bar(self, ts_ns: int) -> Any:
        with decimal.localcontext() as mine:
            _tight(mine)
            return super().next_bar(ts_ns)


class InPlaceBroker(MockBroker):
    simulated = True

    def poll(self, now_ns: int) -> Any:
        _tight(decimal.getcontext())
        return super().poll(now_ns)


class LocalBroker(MockBroker):
    simulated = True

    def poll(self, now_ns: int) -> Any:
        with decimal.localcontext() as mine:
            _tight(mine)
            return super().poll(now_ns)


def in_place_rail(_intent: Any, _ctx: Any) -> None:
    """A desk's own rail, with the bug: sets its context in place."""
    _tight(decimal.getcontext())


def local_rail(_intent: Any, _ctx: Any) -> None:
    with decimal.localcontext() as mine:
        _tight(mine)


def _rails(rail: Callable[[Any, Any], None]) -> tuple[Any, ...]:
    """``rail`` first, then livesession's own, which compute after it in the same step."""
    config = DryrunConfig()
    return (rail, *default_rails(config.risk, (config.symbol,)))


def _sma(kind: type[SmaCrossover]) -> SmaCrossover:
    return kind(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.013"))


def _feed(kind: type[RandomWalkFeed]) -> RandomWalkFeed:
    return kind(
        symbol="BTC/USDT",
        seed=5,
        initial_price=Decimal("42000.00"),
        tick=Decimal("0.01"),
        lot=Decimal("0.001"),
    )


def _broker(kind: type[MockBroker]) -> MockBroker:
    return kind(seed=1, price_tick=Decimal("0.01"), qty_lot=Decimal("0.001"))


PLUG_INS: dict[str, Callable[[bool], dict[str, Any]]] = {
    "strategy": lambda in_place: {"strategy": _sma(InPlaceSma if in_place else LocalSma)},
    "feed": lambda in_place: {
        "strategy": _sma(LocalSma),
        "feed": _feed(InPlaceFeed if in_place else LocalFeed),
    },
    "broker": lambda in_place: {
        "strategy": _sma(LocalSma),
        "broker": _broker(InPlaceBroker if in_place else LocalBroker),
    },
    "rail": lambda in_place: {
        "strategy": _sma(LocalSma),
        "rails": _rails(in_place_rail if in_place else local_rail),
    },
}


@pytest.mark.parametrize("plug_in", PLUG_INS.values(), ids=PLUG_INS.keys())
def test_a_plug_ins_context_set_in_place_ends_with_its_call(
    plug_in: Callable[[bool], dict[str, Any]],
) -> None:
    """Bug: a strategy, feed, broker or rail that set its context in place (``getcontext().prec =
    8``) changed the session's arithmetic for the rest of the step: the run recorded cash
    its fills do not add up to, which verify refused (or faulted ``DivisionImpossible``),
    though ``dryrun`` said COMPLETED. The session's arithmetic now never sees it: the run
    writes what the same plug-in computing in a context of its own writes, and verifies.
    """
    written = []
    for in_place in (True, False):
        sinks = Sinks()
        config = DryrunConfig(run_id="fenced", strategy_id="sma", steps=150, checkpoint_every=7)
        orch = LiveSessionOrchestrator(config, **plug_in(in_place), **sinks.kwargs())
        assert orch.run_to_end(150).status is SessionStatus.COMPLETED
        assert orch.book.positions  # it traded
        written.append((sinks.events.lines, sinks.states.lines, sinks.metrics.content))
        assert decimal.getcontext().prec == 28  # the test's own context: untouched
    assert written[0] == written[1]


def test_only_livesessions_own_feed_and_strategy_are_called_unfenced() -> None:
    """The built-in feed and demo strategy change no context, so a step calls them in its
    own (no copy of the context for each call); a subclass is the caller's code and is
    fenced like any plug-in (``test_a_plug_ins_context_set_in_place_ends_with_its_call``).
    """
    config = DryrunConfig(run_id="own", strategy_id="sma", steps=5)
    own = assemble(config, SessionEdges(), seal=lambda: None)
    assert (own.own_feed, own.own_strategy) == (True, True)
    edges = SessionEdges(feed=_feed(LocalFeed), strategy=_sma(LocalSma))
    subclassed = assemble(config, edges, seal=lambda: None)
    assert (subclassed.own_feed, subclassed.own_strategy) == (False, False)
