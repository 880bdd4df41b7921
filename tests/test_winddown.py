"""The wind-down on its own: cancel, flatten, STOPPED and sealed; the kill switch; its bounds."""

from __future__ import annotations

from decimal import Decimal

import orjson

from _scripted import SYMBOL, ScriptedFeed, ScriptedStrategy, at, buy
from livesession import DryrunConfig, OrderType, SessionState, TradingState, Transient
from livesession._artifacts.sinks import FileLineSink
from livesession._domain.lifecycle import Trigger
from livesession._domain.model import Bar, Order, Side
from livesession._session.assembly import SessionEdges, SessionParts, assemble
from livesession._session.results import result_of
from livesession._session.winddown import WindDown
from livesession.testing import FaultBroker

from _helpers import Sinks

D = Decimal
PRICE = D("100.00")
MINUTE = 60_000_000_000


class CountingBroker(FaultBroker):
    """A FaultBroker that counts the cancel requests it is sent."""

    simulated = True  # a broker of the test's own declares itself (preflight)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.cancels: list[str] = []

    def cancel(self, client_order_id: str, now_ns: int) -> None:
        self.cancels.append(client_order_id)
        super().cancel(client_order_id, now_ns)


class BlindBroker(FaultBroker):
    """A FaultBroker whose open orders cannot be read once ``blind``: the reconciler's query
    fails on every pass, so no cancelled order's final fills are ever confirmed."""

    simulated = True
    blind = False

    def open_orders(self):  # type: ignore[override]
        if self.blind:
            raise Transient("open orders unavailable")
        return super().open_orders()


class Wired:
    """Collaborators wired by ``assemble``, DRYRUN_ACTIVE, with a known last price."""

    def __init__(self, broker: FaultBroker, sinks: Sinks | None = None, **cfg) -> None:
        self.broker = broker
        self.sinks = Sinks() if sinks is None else sinks
        self.seals = 0
        params = {"run_id": "t", "strategy_id": "s", **cfg}
        self.parts: SessionParts = assemble(
            DryrunConfig(**params),
            SessionEdges(broker=broker, **self.sinks.kwargs()),
            seal=self._seal,
        )
        p = self.parts
        p.time.set_time(p.time.ts_sim)
        p.lifecycle.transition(Trigger.PREFLIGHT_PASSED, "test")
        p.lifecycle.transition(Trigger.ACTIVATE, "test")
        p.book.mark(SYMBOL, PRICE)
        ts = p.time.ts_sim
        broker.on_market(
            Bar(
                symbol=SYMBOL, ts_ns=ts, open=PRICE, high=PRICE, low=PRICE, close=PRICE, volume=D(1)
            )
        )

    def _seal(self) -> None:
        self.seals += 1

    def position_and_resting_order(self) -> str:
        """A filled market buy of 0.5 and a resting limit buy; the resting order's id."""
        p = self.parts
        p.execution.handle_intent(buy("0.5"))
        p.execution.handle_intent(buy("0.2", order_type=OrderType.LIMIT, limit_price=D("99.00")))
        p.time.wait(self.broker.latency_ns)
        p.reports.process()
        assert p.book.position(SYMBOL) == D("0.5")
        [resting] = p.book.open
        return resting

    def types(self) -> list[str]:
        return [e["event_type"] for e in map(_loads, self.sinks.events.lines)]


def _loads(line: bytes) -> dict:
    return orjson.loads(line)


class TestStop:
    def test_request_stop_cancels_flattens_and_reaches_stopped(self):
        w = Wired(FaultBroker())
        resting = w.position_and_resting_order()
        p = w.parts
        p.winddown.request_stop("operator")
        assert p.lifecycle.state is SessionState.STOPPED
        assert w.seals == 1
        assert not p.book.open
        assert not p.book.closed
        assert p.winddown.is_flat()
        [canceled] = w.sinks.events_of("ORDER_CANCELED")
        assert canceled["payload"]["client_order_id"] == resting
        [flatten] = [
            e["payload"]
            for e in w.sinks.events_of("ORDER_SUBMITTED")
            if e["payload"]["reason"] == "flatten"
        ]
        assert (flatten["side"], flatten["quantity"], flatten["reduce_only"]) == (
            "SELL",
            "0.500",  # the lot's places (0.001)
            True,
        )
        states = [e["payload"]["to_state"] for e in w.sinks.events_of("STATE_CHANGED")]
        assert states[-2:] == ["STOPPING", "STOPPED"]
        reasons = [e["payload"]["reason"] for e in w.sinks.events_of("STATE_CHANGED")]
        assert reasons[-2:] == ["operator", "stopped"]

    def test_wind_down_outside_stopping_does_nothing(self):
        w = Wired(FaultBroker())
        w.position_and_resting_order()
        before = len(w.sinks.events.lines)
        w.parts.winddown.wind_down()
        assert len(w.sinks.events.lines) == before
        assert w.seals == 0
        assert w.parts.lifecycle.state is SessionState.DRYRUN_ACTIVE

    def test_out_of_polls_faults_stop_incomplete(self):
        broker = FaultBroker()
        w = Wired(broker, stop_max_polls=3)
        resting = w.position_and_resting_order()
        broker.arm("cancel_transient", times=100)  # the resting order can never be cancelled
        p = w.parts
        start = p.time.ts_sim
        p.winddown.request_stop("operator")
        assert p.lifecycle.state is SessionState.ERROR_REQUIRES_OPERATOR
        assert p.lifecycle.failed is True
        assert p.lifecycle.reason == "STOP_INCOMPLETE"
        assert w.seals == 0
        assert list(p.book.open) == [resting]
        fault = w.sinks.events_of("STATE_CHANGED")[-1]["payload"]
        assert fault["reason"] == "STOP_INCOMPLETE"
        # The record lists what is still out there, so the operator can act at the venue.
        live = p.book.open[resting]
        held = ", ".join(f"{s} {q}" for s, q in sorted(p.book.positions.items()) if q)
        assert fault["detail"] == {
            "open_orders": "1",
            "orders": f"{resting} {live.order.side.value} 0/{live.order.quantity} "
            f"{live.order.symbol}",
            "positions": held.replace(", ", "; "),
        }
        assert held, "the position the stop could not flatten is listed"
        assert resting in p.lifecycle.detail
        assert p.time.ts_sim == start + 3 * p.time.interval_ns  # simulated waits, one per poll

    def test_a_stop_the_venue_answers_at_once_takes_no_poll_s_wait(self):
        """The first cancels go out before the first poll, and the flatten's fill is applied
        and reconciled in the poll that sent it: with reports due at once, no wait."""
        w = Wired(FaultBroker())
        w.position_and_resting_order()
        p = w.parts
        start = p.time.ts_sim
        p.winddown.request_stop("operator")
        assert p.lifecycle.state is SessionState.STOPPED
        assert p.time.ts_sim == start

    def test_a_cancel_that_failed_is_asked_again_on_the_next_poll(self):
        broker = CountingBroker()
        w = Wired(broker, stop_max_polls=3)
        resting = w.position_and_resting_order()
        broker.arm("cancel_transient")
        p = w.parts
        p.winddown.request_stop("operator")
        assert p.lifecycle.state is SessionState.STOPPED
        assert broker.cancels == [resting, resting]

    def test_out_of_polls_applies_the_last_wait_s_reports_before_it_faults(self):
        """The cancel asked again at the last poll lands during its wait: the fault's record
        says the order is gone, not open."""
        broker = FaultBroker()
        w = Wired(broker, stop_max_polls=1)
        w.position_and_resting_order()
        broker.arm("cancel_transient")
        p = w.parts
        p.winddown.request_stop("operator")
        assert p.lifecycle.reason == "STOP_INCOMPLETE"
        fault = w.sinks.events_of("STATE_CHANGED")[-1]["payload"]
        assert fault["detail"] == {"open_orders": "0", "positions": f"{SYMBOL} 0.500"}

    def test_a_wind_down_its_last_wait_completed_is_stopped_not_incomplete(self):
        """Bug: a stop whose flatten the venue filled during the last poll's wait (the
        realish broker, ``stop_max_polls = 1``) faulted ``STOP_INCOMPLETE`` with a record
        saying ``open_orders=0`` and nothing else: flat, nothing open, every fill confirmed,
        sealed FAILED and sent to a person, of a run that had wound down. The out-of-polls
        pass that applies the wait's reports asks whether the wind-down is done now: it is,
        so the session is STOPPED and sealed."""
        broker = FaultBroker(latency_ns=MINUTE // 2)
        w = Wired(broker, stop_max_polls=1)
        p = w.parts
        p.execution.handle_intent(buy("0.5"))
        p.time.wait(broker.latency_ns)
        p.reports.process()
        assert p.book.position(SYMBOL) == D("0.5")
        p.winddown.request_stop("operator")
        assert p.lifecycle.state is SessionState.STOPPED
        last = w.sinks.events_of("STATE_CHANGED")[-1]["payload"]
        assert (last["to_state"], last["reason"]) == ("STOPPED", "stopped")
        assert w.seals == 1
        assert not p.book.open
        assert p.winddown.is_flat()

    def test_out_of_polls_names_the_cancels_the_venue_never_confirmed(self):
        """Bug: a venue whose open orders could not be read (its ``open_orders`` raising,
        every pass) never confirmed the final fills of the orders the stop cancelled; the
        wind-down ran out of polls for them alone, and the fault said only
        ``STOP_INCOMPLETE (open_orders=0, ...)``: nothing open, nothing named, though the
        venue may have filled those orders before their cancels landed. The record now
        names them (``unconfirmed``)."""
        broker = BlindBroker()
        w = Wired(broker, stop_max_polls=2)
        resting = w.position_and_resting_order()
        broker.blind = True
        p = w.parts
        p.winddown.request_stop("operator")
        assert p.lifecycle.reason == "STOP_INCOMPLETE"
        fault = w.sinks.events_of("STATE_CHANGED")[-1]["payload"]
        assert fault["detail"] == {"open_orders": "0", "unconfirmed": resting}
        assert f"unconfirmed={resting}" in p.lifecycle.detail
        # The book is flat, but only the book: the venue may have filled the order first.
        said = f"the venue never confirmed the final fills of the cancelled {resting}"
        assert result_of(p).position_in_doubt == said

    def test_status_says_the_unconfirmed_cancels_keep_the_position_in_doubt(self, tmp_path):
        """The same stop in a run directory: ``status`` (and so ``report`` and ``evidence``)
        said ``position flat``; it says ``flat in the book; in doubt: ...`` now."""
        from livesession import create_run
        from livesession.status import run_status

        broker = BlindBroker()

        def blind(session: object) -> None:
            broker.blind = session.steps_done >= 3  # type: ignore[attr-defined]

        limit = buy("0.010", order_type=OrderType.LIMIT, limit_price=D("39000.00"))
        session = create_run(
            DryrunConfig(run_id="blind", strategy_id="scripted", steps=5, stop_max_polls=2),
            tmp_path,
            broker=broker,
            strategy=ScriptedStrategy(at({1: [limit]})),
            feed=ScriptedFeed(["40000.00"]),
        )
        session.step_hooks.append(blind)
        with session:
            result = session.run_to_end(5)
        assert result.reason == "STOP_INCOMPLETE"
        said = "the venue never confirmed the final fills of the cancelled ls"
        assert result.position_in_doubt.startswith(said), result
        assert run_status(tmp_path / "blind").position_in_doubt == result.position_in_doubt

    def test_a_stop_that_finishes_a_kill_records_it_flat_before_stopped(self):
        """The kill's cancels failed; the stop's wind-down cancels, flattens and confirms in
        one poll, and the kill's KILL_SWITCH_FLAT (its time to flat) comes before STOPPED."""
        broker = FaultBroker()
        w = Wired(broker)
        w.position_and_resting_order()
        broker.arm("cancel_transient", times=2)  # the kill's cancel and its retry
        p = w.parts
        p.winddown.kill("drill")
        assert w.sinks.events_of("KILL_SWITCH_FLAT") == []
        p.winddown.request_stop("operator")
        assert p.lifecycle.state is SessionState.STOPPED
        types = w.types()
        assert types.count("KILL_SWITCH_FLAT") == 1
        assert types.index("KILL_SWITCH_FLAT") < len(types) - 1  # the last: STOPPED
        assert p.winddown.killing is False


class TestKill:
    def test_kill_halts_then_reports_flat_with_the_time_it_took(self):
        broker = FaultBroker(latency_ns=MINUTE)
        w = Wired(broker)
        w.position_and_resting_order()
        p = w.parts
        started = p.time.ts_sim
        p.winddown.kill("drill")
        assert p.governor.state is TradingState.HALTED
        assert p.winddown.killing is True
        assert p.winddown.kill_started_ns == started
        [kill] = w.sinks.events_of("KILL_SWITCH")
        assert kill["payload"] == {
            "reason": "drill",
            "open_orders": 1,
            "flat": False,
            "trading_state": "ACTIVE",
        }
        assert w.sinks.events_of("KILL_SWITCH_FLAT") == []
        for _ in range(5):  # later steps: reports arrive, the flatten order goes out and fills
            p.time.wait(MINUTE)
            p.reports.process()
            p.winddown.continue_kill()
            p.reconciliation.reconcile()
            p.winddown.check_flat()
        [flat] = w.sinks.events_of("KILL_SWITCH_FLAT")
        assert flat["payload"] == {"time_to_flat_ns": 2 * MINUTE}
        assert p.winddown.killing is False
        assert p.winddown.is_flat()
        assert p.lifecycle.state is SessionState.DRYRUN_ACTIVE
        assert w.types().index("KILL_SWITCH") < w.types().index("KILL_SWITCH_FLAT")

    def test_kill_when_already_flat_is_flat_at_once(self):
        w = Wired(FaultBroker())
        p = w.parts
        p.winddown.kill("drill")
        [flat] = w.sinks.events_of("KILL_SWITCH_FLAT")
        assert flat["payload"] == {"time_to_flat_ns": 0}
        assert p.governor.state is TradingState.HALTED
        assert p.winddown.killing is False

    def test_a_kill_is_in_the_events_file_at_once(self, tmp_path):
        """HALTED waits for a person, and ``status`` reads a live run's events.jsonl: the
        KILL_SWITCH is in the file as the kill returns, not held in the sink until the
        next checkpoint (a kill whose flatten is still on its way)."""
        sinks = Sinks()
        events = tmp_path / "events.lines"
        sinks.events = FileLineSink(events)  # the one sink on a file: no run directory
        w = Wired(FaultBroker(latency_ns=MINUTE), sinks)
        w.position_and_resting_order()
        w.parts.winddown.kill("drill")
        assert w.parts.winddown.killing is True
        types = [orjson.loads(line)["event_type"] for line in events.read_bytes().splitlines()]
        assert "KILL_SWITCH" in types


class TestCancel:
    def test_request_cancel_sends_once_per_order(self):
        broker = CountingBroker(latency_ns=MINUTE)
        w = Wired(broker)
        resting = w.position_and_resting_order()
        p = w.parts
        p.winddown.request_cancel(resting)
        p.winddown.request_cancel(resting)
        p.winddown.cancel_open()
        assert broker.cancels == [resting]
        assert p.book.open[resting].cancel_requested is True
        p.winddown.request_cancel("unknown")
        assert broker.cancels == [resting]

    def test_a_failed_cancel_is_asked_again(self):
        broker = CountingBroker(latency_ns=MINUTE)
        w = Wired(broker)
        resting = w.position_and_resting_order()
        broker.arm("cancel_transient")
        p = w.parts
        p.winddown.request_cancel(resting)
        assert p.book.open[resting].cancel_requested is False
        p.winddown.request_cancel(resting)
        assert broker.cancels == [resting, resting]
        assert p.book.open[resting].cancel_requested is True

    def test_orders_in_doubt_and_reduce_only_market_orders_are_left_alone(self):
        broker = CountingBroker()
        w = Wired(broker)
        book = w.parts.book
        doubt = Order(client_order_id="d", symbol=SYMBOL, side=Side.BUY, quantity=D(1))
        exit_ = Order(
            client_order_id="e",
            symbol=SYMBOL,
            side=Side.SELL,
            quantity=D(1),
            order_type=OrderType.MARKET,
            reduce_only=True,
        )
        book.add_order(doubt, in_doubt=True)
        book.add_order(exit_)
        w.parts.winddown.cancel_open()
        w.parts.winddown.request_cancel("d")
        assert broker.cancels == []

    def test_cancel_open_passes_an_exit_on_its_way_and_cancels_the_orders_after_it(self):
        broker = CountingBroker()
        w = Wired(broker)
        book = w.parts.book
        exit_ = Order(
            client_order_id="a",
            symbol=SYMBOL,
            side=Side.SELL,
            quantity=D(1),
            order_type=OrderType.MARKET,
            reduce_only=True,
        )
        book.add_order(exit_)
        book.add_order(Order(client_order_id="b", symbol=SYMBOL, side=Side.BUY, quantity=D(1)))
        w.parts.winddown.cancel_open()
        assert broker.cancels == ["b"]

    def test_each_outcome_of_a_cancel_is_said_and_counted_for_the_broker_s_health(self):
        """A cancel that failed counts against the broker (failed_calls, the streak); an
        answer, a refusal ("not open at the venue") too, ends the streak."""
        broker = CountingBroker(latency_ns=MINUTE)
        w = Wired(broker)
        resting = w.position_and_resting_order()
        p = w.parts
        health = p.broker_health
        broker.arm("cancel_transient")
        assert p.winddown.request_cancel(resting) == "Transient"
        assert (health.failures, health.failed_calls["cancel"]) == (1, 1)
        assert p.winddown.request_cancel(resting) == "SENT"
        assert health.failures == 0
        gone = Order(client_order_id="gone", symbol=SYMBOL, side=Side.BUY, quantity=D(1))
        p.book.add_order(gone)  # the venue knows no such order: it says so
        broker.arm("cancel_transient")
        p.winddown.request_cancel("gone")
        assert health.failures == 1
        assert p.winddown.request_cancel("gone", reason="TRADING_HALTED") == "NOT_OPEN_AT_VENUE"
        assert health.failures == 0
        assert (p.book.open["gone"].cancel_requested, p.book.open["gone"].cancel_reason) == (
            True,
            "TRADING_HALTED",
        )
        assert p.winddown.request_cancel("gone") == ""  # asked once: its last report is due

    def test_a_stop_cancels_resting_reduce_only_legs_and_open_market_orders(self):
        """Only a reduce-only MARKET order (an exit on its way) is left to fill: a resting
        reduce-only leg (a take-profit limit) and a market entry are cancelled."""
        broker = CountingBroker()
        w = Wired(broker)
        book = w.parts.book
        leg = Order(
            client_order_id="leg",
            symbol=SYMBOL,
            side=Side.SELL,
            quantity=D(1),
            order_type=OrderType.LIMIT,
            limit_price=D("110.00"),
            reduce_only=True,
        )
        entry = Order(client_order_id="entry", symbol=SYMBOL, side=Side.BUY, quantity=D(1))
        book.add_order(leg)
        book.add_order(entry)
        w.parts.winddown.cancel_open()
        assert broker.cancels == ["entry", "leg"]

    def test_a_halt_cancels_every_entry_and_says_whether_it_asked(self):
        """cancel_entries passes over an entry already being cancelled to the next one, and
        answers True only when it sent a cancel (the step then polls for the report)."""
        broker = CountingBroker()
        w = Wired(broker)
        book = w.parts.book
        for cid in ("a", "b"):
            book.add_order(
                Order(
                    client_order_id=cid,
                    symbol=SYMBOL,
                    side=Side.BUY,
                    quantity=D(1),
                    order_type=OrderType.LIMIT,
                    limit_price=D("90.00"),
                )
            )
        assert book.adding_orders() == ["a", "b"]
        book.open["a"].cancel_requested = True
        assert w.parts.winddown.cancel_entries() is True
        assert broker.cancels == ["b"]
        assert book.open["b"].cancel_reason == "TRADING_HALTED"
        assert w.parts.winddown.cancel_entries() is False
        assert broker.cancels == ["b"]


class TestUnconfirmed:
    def test_unconfirmed_closed_excludes_escalated_orders(self):
        w = Wired(FaultBroker())
        p = w.parts
        for cid in ("a", "b", "c"):
            p.book.add_order(
                Order(client_order_id=cid, symbol=SYMBOL, side=Side.BUY, quantity=D(1))
            )
            p.book.close_order(cid, confirm=True)
        winddown = WindDown(
            p,  # the session's parts are its context too
            lifecycle=p.lifecycle,
            process_reports=p.reports.process,
            flatten=p.execution.flatten,
            reconcile=p.reconciliation.reconcile,
            escalated_orders=lambda: {"b"},
            seal=lambda: None,
            health=p.broker_health,
        )
        assert winddown.unconfirmed_closed() == ["a", "c"]
        assert p.winddown.unconfirmed_closed() == ["a", "b", "c"]


class TestState:
    def test_kill_started_round_trip(self):
        w = Wired(FaultBroker(latency_ns=MINUTE))
        w.position_and_resting_order()
        w.parts.winddown.kill("drill")
        state = w.parts.winddown.get_state()
        assert state == {"kill_started_ns": w.parts.time.ts_sim}
        fresh = Wired(FaultBroker())
        assert fresh.parts.winddown.get_state() == {"kill_started_ns": None}
        fresh.parts.winddown.set_state(state)
        assert fresh.parts.winddown.get_state() == state
        assert fresh.parts.winddown.killing is True
        fresh.parts.time.wait(MINUTE)
        fresh.parts.winddown.check_flat()  # the fresh book is flat and has nothing open
        [flat] = fresh.sinks.events_of("KILL_SWITCH_FLAT")
        assert flat["payload"] == {
            "time_to_flat_ns": fresh.parts.time.ts_sim - state["kill_started_ns"]
        }
