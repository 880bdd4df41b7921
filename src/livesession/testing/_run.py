"""One session of the failure matrix: a fault broker, memory sinks, and a crash on demand.

``MatrixRun`` runs the user's strategy as ``run_failure_matrix`` describes (see
``livesession.testing.matrix``), killing and resuming the process when asked, and lists
every invariant the finished session broke. ``crash`` gives what a process killed after a
step leaves behind (``Survivors``), from which a ``MatrixRun`` in another process resumes
(``finish``): the cross-process resume of ``_crossprocess``.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import hashlib
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts.sinks import MemoryLineSink, MemoryMetricsSink
from .._domain.clock import SimClock
from .._domain.lifecycle import TERMINAL_STATES, SessionState
from .._domain.model import OrderType, Side
from .._domain.reasons import UNEXPECTED_ERROR
from .._exceptions import PluginStateError
from .._risk.governor import TradingState
from .._session.assembly import default_feed
from .._session.closing import close_plugin
from .._session.coordinator import LiveSessionOrchestrator, give_strategy
from .._session.pipeline import error_message
from .._support.references import uncallable
from .._support.text import printable_line
from .._typing import MarketFeed
from ..stores import MemoryIdempotencyStore
from ._culprit import (
    INPUT_ERRORS,
    chainable,
    input_error,
    located,
    never_sent,
    refused_always,
    users_line,
)
from ._factories import not_made
from ._interrupts import CtrlC, SetStateFailed, interruptible_feed, interruptible_strategy
from .faults import FaultBroker
from .tracking import mark_verified, verify_session

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig
    from .._domain.model import Order
    from .._typing import Strategy
    from .model import MatrixCase

__all__ = ["FeedFactory", "MatrixRun", "StrategyFactory", "Survivors"]

_S = SessionState
_SECOND: Final = 1_000_000_000
START: Final = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
"""When the matrix's sessions start (simulated time)."""

StrategyFactory = Callable[[], "Strategy"]
FeedFactory = Callable[[], "MarketFeed"]
_SENT = tuple["Order", TradingState, Decimal]


@attrs.frozen(eq=False)
class Survivors:
    """What a process killed after step ``kill_after`` leaves behind, for another to resume.

    Its checkpoint and what it had written, and what outlives it anyway: the venue and the
    durable idempotency store. Nothing else of that process: not its strategy, and not its
    modules' globals. Plain data and the kit's own classes, so it pickles.
    """

    kill_after: int
    checkpoint: bytes
    """The session's checkpoint state, as JSON (what a checkpoint on disk holds)."""
    lines: dict[str, list[bytes]]
    """What the sinks hold: ``events``, ``states`` and ``audit``."""
    metrics: bytes
    broker: FaultBroker
    keys: MemoryIdempotencyStore
    sent: list[_SENT]


class MatrixRun:
    """One session on a fault broker and memory sinks, restartable from its state."""

    def __init__(
        self,
        factory: StrategyFactory,
        feed_factory: FeedFactory | None,
        config: DryrunConfig,
        case: MatrixCase,
        *,
        survivors: Survivors | None = None,
    ) -> None:
        """A new session, or (``survivors`` given) the resume of one killed in another process."""
        self._factory = factory
        self._feed_factory = feed_factory
        self.config = config
        # Its split fills are on the session's lot, as a venue's are on the market's.
        self.broker = FaultBroker(latency_ns=case.latency_s * _SECOND, lot=config.qty_lot)
        self.sinks = {"events": MemoryLineSink(), "states": MemoryLineSink()}
        self.audit = MemoryLineSink()
        self.metrics = MemoryMetricsSink()
        # The idempotency store is durable: it outlives the process, like the venue.
        self.keys = MemoryIdempotencyStore(SimClock(START))
        self.sent: list[_SENT] = []
        self.quiet_after: list[int] = []
        """The steps after which the (uninterrupted) session was quiet (``_quiet``)."""
        self.killed_after = 0
        """The steps done when the process was killed (0: it was not)."""
        self.stopped_itself: tuple[int, str] | None = None
        """The steps done and the reason when the session stopped itself before the
        matrix did (its ``max_steps``, a feed that ran out of bars); None: it did not."""
        self.cause: BaseException | None = None
        """The exception behind a fault ``problems`` found, to chain (``chainable``)."""
        self._ctrl_c = CtrlC()
        self._held = False
        """Whether the session's feed and strategy are still open (``_let_go``)."""
        if survivors is not None:
            self._take_over(survivors)
        self.broker.on_submit = self._on_submit
        self.orch = self._build()
        if survivors is not None:
            try:
                self.orch.restore_state(orjson.loads(survivors.checkpoint), self._digests())
            except SetStateFailed as exc:  # the child names the error as raised
                self._let_go()
                raise exc.cause from None

    def _take_over(self, survivors: Survivors) -> None:
        """Start from what the killed process left: its venue, store and written lines."""
        self.broker, self.keys, self.sent = survivors.broker, survivors.keys, survivors.sent
        self.killed_after = survivors.kill_after
        for name, sink in self._line_sinks():
            sink.lines = list(survivors.lines[name])
        self.metrics.content = survivors.metrics

    def _line_sinks(self) -> list[tuple[str, MemoryLineSink]]:
        return [*self.sinks.items(), ("audit", self.audit)]

    def _digests(self) -> dict[str, Any]:
        """The events' and snapshots' running digests, re-hashed from their lines.

        As a resume re-hashes the files.
        """
        return {name: hashlib.sha256(b"".join(sink.lines)) for name, sink in self.sinks.items()}

    def _build(self) -> LiveSessionOrchestrator:
        self.strategy = self._factory()
        self.feed = None if self._feed_factory is None else self._feed_factory()
        if self._feed_factory is None:
            # The config's, built here as the session would, to be closed here (_let_go).
            self._reads = default_feed(self.config)
        elif not isinstance(self.feed, MarketFeed) or uncallable(self.feed, MarketFeed):
            close_plugin("strategy", self.strategy)  # made for a run that never starts
            close_plugin("feed", self.feed)
            # None would quietly run the config's feed instead; another is no feed.
            raise not_made("feed_factory", self.feed, MarketFeed)
        else:
            # A plug-in's KeyboardInterrupt or SystemExit is its error, not the end of the
            # matrix.
            self._reads = interruptible_feed(self.feed, self._ctrl_c)
        self._held = True
        try:
            orch = LiveSessionOrchestrator(
                self.config,
                broker=self.broker,
                strategy=interruptible_strategy(self.strategy, self._ctrl_c),
                feed=self._reads,
                event_sink=self.sinks["events"],
                state_sink=self.sinks["states"],
                audit_sink=self.audit,
                metrics_sink=self.metrics,
                idempotency=self.keys,
            )
        except BaseException:  # a config's rail that cannot be built: no session owns them
            self._let_go()
            raise
        give_strategy(orch)  # made here from the factory: the session closes it, as its feed
        return orch

    def _on_submit(self, order: Order) -> None:
        orch = self.orch
        position = orch.book.positions.get(order.symbol, Decimal(0))
        self.sent.append((order, orch.trading_state, position))

    def run(self, case: MatrixCase, steps: int, *, kill_after: int | None = None) -> None:
        """Run ``steps`` steps of ``case`` (killed after ``kill_after``), then stop."""
        with self._abandoned_if_ended():
            self._begin()
            self._steps(case, range(steps), kill_after)
            orch = self.orch
            if orch.state in (_S.STOPPING, _S.STOPPED) and orch.steps_done < steps:
                self.stopped_itself = (orch.steps_done, orch.result().reason)
            self._stop()

    def crash(self, case: MatrixCase, kill_points: Sequence[int]) -> list[Survivors]:
        """Run ``case`` to its last kill point: what a process killed after each one leaves.

        One run, with what a kill would leave taken at each point (a checkpoint and copies),
        rather than one run per point; the session is then abandoned, as a killed one is.
        """
        left: list[Survivors] = []
        with self._abandoned_if_ended():
            self._begin()
            done = 0
            for kill_after in sorted(kill_points):
                self._steps(case, range(done, kill_after), None)
                done = kill_after
                left.append(self._survivors(kill_after))
        mark_verified(self.orch)
        self._let_go()
        return left

    def _survivors(self, kill_after: int) -> Survivors:
        checkpoint = orjson.dumps(self._checkpoint(kill_after))
        # The submit hook is this process's (it reads this session), not the venue's.
        hook, self.broker.on_submit = self.broker.on_submit, None
        try:
            broker, keys, sent = copy.deepcopy((self.broker, self.keys, self.sent))
        finally:
            self.broker.on_submit = hook
        lines = {name: list(sink.lines) for name, sink in self._line_sinks()}
        return Survivors(kill_after, checkpoint, lines, self.metrics.content, broker, keys, sent)

    def finish(self, case: MatrixCase, steps: int) -> None:
        """Run a resumed session (from ``Survivors``) to step ``steps`` of ``case``; stop."""
        with self._abandoned_if_ended():
            self._steps(case, range(self.killed_after, steps), None)
            self._stop()

    @contextlib.contextmanager
    def _abandoned_if_ended(self) -> Iterator[None]:
        """The block; an exception out of it (the operator's Ctrl-C) abandons the session.

        As a kill does: the session is left as it stands (torn, unsealed), and its feed and
        strategy are let go of here, as the end of its process would (``_let_go``), unless
        the session let go of them itself: one the interrupt tore did as it was torn.
        """
        try:
            yield
        except BaseException:
            mark_verified(self.orch)
            if self.orch.result().torn:
                self._held = False  # closed with its run (``DryrunResult.torn``): once
            self._let_go()
            raise

    def _begin(self) -> None:
        orch = self.orch
        if not orch.preflight():
            result = orch.result()
            mark_verified(orch)
            self._let_go()
            msg = f"preflight refused the session: {result.reason} {printable_line(result.detail)}"
            raise AssertionError(msg)
        orch.activate()

    def _steps(self, case: MatrixCase, indexes: range, kill_after: int | None) -> None:
        with self._ctrl_c:  # the operator's Ctrl-C still interrupts
            self._each_step(case, indexes, kill_after)

    def _each_step(self, case: MatrixCase, indexes: range, kill_after: int | None) -> None:
        for index in indexes:
            self._arm(case, index)
            if self.orch.state is not _S.DRYRUN_ACTIVE:
                break
            self.orch.step()
            if kill_after is None:
                if self._quiet():
                    self.quiet_after.append(index + 1)
            elif index + 1 == kill_after:
                self._restart(kill_after)

    def _arm(self, case: MatrixCase, index: int) -> None:
        for planned in case.faults:
            if planned.step == index:
                self.broker.arm(planned.fault, planned.times)

    def _stop(self) -> None:
        self.broker.armed.clear()  # the venue recovers: the operator must be able to stop
        for _ in range(3):
            state = self.orch.state
            if state in (_S.PREFLIGHT_OK, _S.DRYRUN_ACTIVE):
                self.orch.request_stop("end of example")
            elif state is _S.ERROR_REQUIRES_OPERATOR:
                self.orch.acknowledge("matrix")

    def _quiet(self) -> bool:
        """Whether the session may be killed here with an exact resume promised.

        Active, no order open, in doubt or awaiting confirmation, no report owed by the
        venue and no reconcile difference pending: a resume holds grace-based decisions for
        a replay window, so a kill while the venue owes an outcome may rightly move them.
        """
        orch = self.orch
        if orch.state is not _S.DRYRUN_ACTIVE or orch.book.open_orders or self.broker.in_flight():
            return False
        inside = orch.inspect()
        # ``inspect`` rather than the whole checkpoint (``get_state``), which at every step
        # cost the matrix a fifth of its time.
        return not (
            inside.unconfirmed_closed
            or inside.held_reports
            or inside.waiting_fills
            or inside.escalated
            or inside.pending
        )

    def _restart(self, kill_after: int) -> None:
        """The process dies after a step; a new one resumes from its checkpoint state.

        Within this process: what lives outside the strategy object (a module's globals)
        survives here, which is why ``_crossprocess`` also resumes in another process.
        """
        old = self.orch
        state = self._checkpoint(kill_after)
        digests = {name: digest.copy() for name, digest in old.recorder.digests.items()}
        mark_verified(old)  # abandoned, as a killed process is; its successor is verified
        self._let_go()
        self.killed_after = kill_after
        self.orch = self._build()
        self._restore(state, digests)

    def _restore(self, state: dict[str, Any], digests: dict[str, Any]) -> None:
        """The new session restored from the checkpoint; a finding when a ``set_state`` raises.

        As ``livesession resume`` refuses such a run: the crash cannot be resumed.
        """
        try:
            self.orch.restore_state(state, digests)
        except SetStateFailed as exc:
            failed = exc
        else:
            return
        mark_verified(self.orch)  # never ran: nothing of it to verify
        self._let_go()
        cause = failed.cause
        said = printable_line(error_message(cause))  # redacted, as a resume would say it
        line = users_line(cause)
        at = "" if line is None else f", at {line}"
        msg = (
            f"a crash cannot be resumed: the {failed.owner}'s set_state, given the state its"
            f" get_state gave, raised {type(cause).__name__}{f': {said}' if said else ''}"
            f" (killed after step {self.killed_after}{at})"
        )
        raise AssertionError(msg) from chainable(cause)

    def _checkpoint(self, kill_after: int) -> dict[str, Any]:
        """The session's checkpoint state as JSON gives it back; a finding when it cannot be.

        The finding names the step and the user's line, as a ``set_state``'s does.
        """
        try:
            state: dict[str, Any] = orjson.loads(orjson.dumps(self.orch.get_state()))
        except PluginStateError as exc:
            failed = exc
        else:
            return state
        self._let_go()  # the run is given up here
        # Raised outside the handler: the error is chained only when it may be shown.
        cause = failed.cause
        said = error_message(cause)  # redacted, as the run would record it
        if not said.startswith("get_state"):
            said = f"get_state raised {type(cause).__name__}{f': {said}' if said else ''}"
        plugin = self.strategy if failed.owner == "strategy" else self.feed
        at = located(cause, plugin, "get_state")
        msg = (
            f"a crash cannot be resumed: the {failed.owner}'s {printable_line(said)}"
            f" (killed after step {kill_after}{at})"
        )
        raise AssertionError(msg) from chainable(cause)

    def _let_go(self) -> None:
        """Close the feed and the strategy of a session that will not be closed, once.

        A session closes both when it closes (``problems`` closes it); one killed, given up
        before or while it ran, or ended by the operator's Ctrl-C never is: what its
        plug-ins hold is let go of here, as the end of its process would. A ``close()``
        that raises is said as a session says it (``close_plugin``).
        """
        if self._held:
            self._held = False
            close_plugin("feed", self._reads)
            close_plugin("strategy", self.strategy)

    def problems(self) -> list[str]:
        """Every broken invariant of the module docstring ([] when all hold)."""
        orch, broker = self.orch, self.broker
        found: list[str] = []
        if orch.state not in TERMINAL_STATES:
            found.append(f"the operator could not stop the session: still {orch.state.value}")
        events = [orjson.loads(line) for line in self.sinks["events"].lines]
        submitted: Counter[str] = Counter()
        cause = orch.inspect().fault_cause
        bars, refused = 0, None
        for event in events:
            kind, payload = event["event_type"], event["payload"]
            bars += kind == "BAR"
            if kind == "RISK_REJECTED" and refused is None:
                refused = refused_always(payload, bars, self.config.symbol, self.strategy)
                found.extend([refused] if refused else [])
            elif kind in INPUT_ERRORS:  # the strategy's, or the feed's: no fault explains one
                plugin = self.strategy if kind == "STRATEGY_ERROR" else self.feed
                said, self.cause = input_error(kind, payload, cause, plugin)
                found.append(said + (self._symbol_hint() if kind == "FEED_ERROR" else ""))
            elif kind == "STATE_CHANGED" and payload.get("reason") == UNEXPECTED_ERROR:
                # No fault the matrix arms explains one: an intent the session failed on
                # half-way, or a defect of livesession's; the operator's ack hid it.
                detail = payload.get("detail") or {}
                found.append(
                    f"the session faulted {UNEXPECTED_ERROR} ({detail.get('error')}: "
                    f"{printable_line(str(detail.get('message')))})"
                )
                self.cause = chainable(cause)
            elif kind == "ORDER_SUBMITTED":
                submitted[payload["client_order_id"]] += 1
        found.extend(self._never_sent(events) if not submitted else [])
        found.extend(f"{cid} submitted {n} times" for cid, n in submitted.items() if n > 1)
        found.extend(
            f"{cid} reached the venue {n} times" for cid, n in broker.recorded.items() if n > 1
        )
        book = orch.book
        if book.open_orders:
            found.append(f"open orders after stop: {list(book.open_orders)}")
        held = {symbol: qty for symbol, qty in book.positions.items() if qty}
        if held:
            found.append(f"not flat after stop: {held}")
        if broker.open_orders():
            found.append("orders left open at the venue after stop")
        found.extend(
            f"the venue's executions in {symbol} do not add up to flat"
            for symbol in sorted({t.symbol for t in broker.trades})
            if broker.position(symbol)
        )
        found.extend(self._rail_problems())
        found.extend(verify_session(orch))  # closed: its feed and strategy too
        self._held = False
        mark_verified(orch)
        return found

    def _never_sent(self, events: list[dict[str, Any]]) -> list[str]:
        """A run that sent no order: whether each intent was above ``max_order_qty``."""
        bars, refusals = 0, []
        for event in events:
            bars += event["event_type"] == "BAR"
            if event["event_type"] == "RISK_REJECTED":
                refusals.append({**event["payload"], "step": bars})
        said = never_sent(refusals, self.strategy)
        return [said] if said else []

    def _symbol_hint(self) -> str:
        """The fix when the feed's symbol is not the config's (its first bar was refused)."""
        symbol = getattr(self.feed, "symbol", None)
        if self.feed is None or symbol == self.config.symbol:
            return ""
        return (
            f"; the feed's symbol is {symbol!r}, the config's {self.config.symbol!r}: to trade"
            f" the feed's, pass config={{'symbol': {symbol!r}}}"
        )

    def _rail_problems(self) -> list[str]:
        cap = self.config.risk.max_order_qty
        found = []
        for order, trading, position in self.sent:
            cid = order.client_order_id
            if not order.reduce_only and order.quantity > cap:
                found.append(f"rail bypassed: {cid} quantity {order.quantity} > {cap}")
            flattens = (
                order.reduce_only
                and order.order_type is OrderType.MARKET
                and order.quantity == abs(position)
                and (order.side is Side.SELL) == (position > 0)
            )
            if trading is TradingState.HALTED and not flattens:
                found.append(f"rail bypassed: {cid} sent while trading was HALTED")
        return found
