"""Enforced fencing in a session: refused store writes and the lease check before each send.

In process, with a ``FileLease`` and an injected lease clock (no waiting): a fenced store
that refuses a write (``Fenced``) loses the lease, and a lease that lapses *inside* a step
(a process paused mid-step) is found by the check before the next send, not at the next
step. The PostgreSQL stores' own fencing is tested in tests/test_postgres_fence.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
import pytest

from livesession import DryrunConfig, LiveSessionOrchestrator
from livesession._domain import clock as _clock
from livesession._domain.lifecycle import SessionState
from livesession._exceptions import Fenced, Transient
from livesession._session.assembly import default_broker, default_strategy
from livesession.brokers.mock import MockBroker, venue_options
from livesession.leases import FileLease, LeaseGrant
from livesession.stores.memory import MemoryIdempotencyStore

from _helpers import START, Sinks

if TYPE_CHECKING:
    from collections.abc import Callable

TTL_MS = 1000
STEP_NS = 100_000_000  # 0.1 s of lease time per step: renewals keep the lease live
MAX_WARMUP_STEPS = 150


class FencedMemoryStore:
    """A memory store that fences like the PostgreSQL one: refused once ``newest`` > token."""

    def __init__(self) -> None:
        self.inner = MemoryIdempotencyStore(_clock.SimClock(START), ttl_ns=None)
        self.grants: list[LeaseGrant] = []
        self.newest = 0
        self.writes = 0
        self.refused = 0

    def fence_with(self, grant: LeaseGrant) -> None:
        self.grants.append(grant)

    def _check(self) -> None:
        token = self.grants[-1].token
        if self.newest > token:
            self.refused += 1
            raise Fenced("refused: newer holder", fence=token, newest=self.newest)
        self.writes += 1

    def reserve(self, key: str, fingerprint: str) -> Any:
        self._check()
        return self.inner.reserve(key, fingerprint)

    def complete(self, key: str, outcome: str) -> None:
        self._check()
        self.inner.complete(key, outcome)

    def get(self, key: str) -> Any:
        return self.inner.get(key)

    def close(self) -> None:
        self.inner.close()


class PausingStrategy:
    """The default strategy, with a hook run once, on the first bar it trades on when armed."""

    def __init__(self, cfg: DryrunConfig) -> None:
        self.inner = default_strategy(cfg)
        self.strategy_id = self.inner.strategy_id
        self.pause: Any = None

    def on_bar(self, bar: Any, view: Any) -> Any:
        intents = tuple(self.inner.on_bar(bar, view))
        if intents and self.pause is not None:
            pause, self.pause = self.pause, None
            pause()
        return intents

    def get_state(self) -> dict[str, Any]:
        return self.inner.get_state()

    def set_state(self, state: Any) -> None:
        self.inner.set_state(state)


def _config(**values: Any) -> DryrunConfig:
    return DryrunConfig(run_id="t", strategy_id="s", steps=400, lease_ttl_ms=TTL_MS, **values)


def _leased(
    tmp_path, cfg: DryrunConfig | None = None, **edges: Any
) -> tuple[LiveSessionOrchestrator, Sinks, _clock.SimClock]:
    cfg = cfg or _config()
    lease_clock = _clock.SimClock(START)
    sinks = Sinks()
    orch = LiveSessionOrchestrator(
        cfg,
        lease=FileLease(tmp_path / "pair.lease", "default", "s"),
        lease_clock=lease_clock,
        **edges,
        **sinks.kwargs(),
    )
    return orch, sinks, lease_clock


def _until_trading(
    orch: LiveSessionOrchestrator, lease_clock: _clock.SimClock, *, resting: bool = False
) -> None:
    """Step until an order was sent (``resting``: until one rests open at the venue)."""
    assert orch.preflight()
    orch.activate()
    while orch.steps_done < MAX_WARMUP_STEPS:
        if orch.book.open_orders if resting else orch.result().orders_submitted:
            break
        orch.step()
        lease_clock.advance(STEP_NS)
    assert orch.result().orders_submitted, "the strategy sent no order: the test proves nothing"
    assert orch.book.open_orders or not resting, "no order rests open: the test proves nothing"
    assert orch.state is SessionState.DRYRUN_ACTIVE


def _step_while(
    orch: LiveSessionOrchestrator, lease_clock: _clock.SimClock, going: Callable[[], bool]
) -> None:
    """Step (the lease clock a step on each time) while ``going``, within a bound."""
    while going() and orch.steps_done < MAX_WARMUP_STEPS * 2:
        orch.step()
        lease_clock.advance(STEP_NS)


def _take_over(tmp_path, lease_clock: _clock.SimClock) -> LeaseGrant:
    """The holder stalls past its TTL, and another session takes the pair's lease."""
    lease_clock.advance(3 * TTL_MS * 1_000_000)
    intruder = FileLease(tmp_path / "pair.lease", "default", "s")
    taken = intruder.acquire("new-holder", _clock.epoch_ns(lease_clock.now()), 10**12)
    assert taken is not None
    return taken


def _events_after(sinks: Sinks, start: int) -> list[str]:
    return [orjson.loads(line)["event_type"] for line in sinks.events.lines[start:]]


def _lost(sinks: Sinks) -> list[dict[str, Any]]:
    records = [orjson.loads(line) for line in sinks.audit.lines]
    return [r["payload"] for r in records if r["code"] == "C2_LEASE_LOST"]


def test_the_grant_fences_the_shared_store_before_any_write(tmp_path):
    store = FencedMemoryStore()
    orch, _, lease_clock = _leased(tmp_path, idempotency=store)
    _until_trading(orch, lease_clock)
    assert [g.token for g in store.grants] == [1]
    assert store.writes > 0
    orch.close()


def test_a_refused_write_loses_the_lease_and_sends_nothing(tmp_path):
    store = FencedMemoryStore()
    orch, sinks, lease_clock = _leased(tmp_path, idempotency=store)
    _until_trading(orch, lease_clock)
    store.newest = 7  # a newer holder exists (the store knows; the lease row says so)
    events_before = len(sinks.events.lines)
    _step_while(orch, lease_clock, lambda: orch.state is SessionState.DRYRUN_ACTIVE)
    assert store.refused >= 1, "no write was refused: the test proves nothing"
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    assert orch.result().reason == "LEASE_LOST"
    assert orch.lease_grant is None
    lost = _lost(sinks)
    assert len(lost) == 1
    assert (lost[0]["fence"], lost[0]["refused_by_fence"]) == (1, 7)
    after = _events_after(sinks, events_before)
    assert "ORDER_SUBMITTED" not in after
    assert "ORDER_CANCELED" not in after
    writes = store.writes
    orch.close()
    assert store.writes == writes  # closing writes nothing to the shared store
    assert "ORDER_SUBMITTED" not in _events_after(sinks, events_before)


def test_a_lease_lost_inside_a_step_is_found_before_the_send(tmp_path):
    strategy = PausingStrategy(_config())
    store = FencedMemoryStore()
    orch, sinks, lease_clock = _leased(tmp_path, strategy=strategy, idempotency=store)
    _until_trading(orch, lease_clock)
    taken: list[LeaseGrant] = []
    writes_at_pause: list[int] = []

    def pause() -> None:  # after the step's renewal, inside the strategy, past the TTL
        taken.append(_take_over(tmp_path, lease_clock))
        writes_at_pause.append(store.writes)

    strategy.pause = pause
    events_before = len(sinks.events.lines)
    _step_while(orch, lease_clock, lambda: not taken)
    assert taken, "the strategy never traded again: the test proves nothing"
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    assert orch.result().reason == "LEASE_LOST"
    after = _events_after(sinks, events_before)
    last_bar = max(i for i, e in enumerate(after) if e == "BAR")
    # The paused step's intents were dropped: no signal, no reservation, no send.
    assert not {"SIGNAL", "ORDER_SUBMITTED"} & set(after[last_bar:])
    assert store.writes == writes_at_pause[0]
    steps_done = orch.steps_done
    assert [p["fence"] for p in _lost(sinks)] == [1]
    orch.close()
    assert orch.steps_done == steps_done


def test_a_lease_lost_before_a_cancel_sends_no_cancel(tmp_path):
    # Protected entries leave their exit legs resting at the venue: orders to cancel.
    cfg = _config(strategy={"fast": 3, "slow": 8, "protect_pct": "0.003"})
    broker = default_broker(cfg)
    orch, sinks, lease_clock = _leased(tmp_path, cfg, broker=broker)
    _until_trading(orch, lease_clock, resting=True)
    open_before = set(orch.book.open_orders)
    _take_over(tmp_path, lease_clock)
    events_before = len(sinks.events.lines)
    orch.kill("operator")  # cancel everything, flatten: none of it may reach the venue now
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    assert orch.result().reason == "LEASE_LOST"
    after = _events_after(sinks, events_before)
    assert not {"ORDER_CANCELED", "ORDER_SUBMITTED"} & set(after)
    assert set(orch.book.open_orders) == open_before
    for cid in open_before:  # the venue got no cancel either
        venue_order = broker.order_by_client_id(cid)
        assert venue_order is not None
        assert venue_order.status.is_open, (cid, venue_order.status)
    orch.close()


def test_a_lease_file_deleted_before_a_cancel_sends_no_cancel(tmp_path):
    """Bug: a session whose lease file was deleted still sent its cancels (a kill's, a
    stop's) until its next renewal, a quarter TTL after the last, though another session
    may hold the pair by then. The cancel's lease check now reads the file: the lease is
    lost there and no cancel (nor flatten order) reaches the venue. The lease clock stands
    still: no renewal is due."""
    strategy = {"fast": 3, "slow": 8, "protect_pct": "0.003"}
    day_ms = 86_400_000  # a quarter of it never passes here: no renewal is due
    cfg = DryrunConfig(
        run_id="t", strategy_id="s", steps=400, lease_ttl_ms=day_ms, strategy=strategy
    )
    broker = default_broker(cfg)
    orch, sinks, lease_clock = _leased(tmp_path, cfg, broker=broker)
    _until_trading(orch, lease_clock, resting=True)
    open_before = set(orch.book.open_orders)
    (tmp_path / "pair.lease").unlink()
    events_before = len(sinks.events.lines)
    orch.kill("operator")
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    assert orch.result().reason == "LEASE_LOST"
    assert not {"ORDER_CANCELED", "ORDER_SUBMITTED"} & set(_events_after(sinks, events_before))
    for cid in open_before:  # the venue got no cancel either
        venue_order = broker.order_by_client_id(cid)
        assert venue_order is not None
        assert venue_order.status.is_open, (cid, venue_order.status)
    assert [(p["fence"], p["refused_by_fence"]) for p in _lost(sinks)] == [(1, None)]
    orch.close()


class _TakenOverMidSend(MockBroker):
    """The mock venue, whose next send armed never reaches it, as another session takes over.

    The failed send's wait (a lookup's, on the wall) outlasts the lease's TTL, and another
    session takes the pair's lease in it: the retry loop must not send again.
    """

    simulated = True

    def __init__(self, take_over: Any, **options: Any) -> None:
        super().__init__(**options)
        self.take_over = take_over
        self.armed = False
        self.sends: list[str] = []

    def submit(self, order: Any, now_ns: int) -> None:
        self.sends.append(order.client_order_id)
        if self.armed:
            self.armed = False
            self.take_over()
            raise Transient("connection reset", client_order_id=order.client_order_id)
        super().submit(order, now_ns)


def test_a_lease_lost_while_a_failed_send_waits_sends_it_no_more(tmp_path):
    """Bug: the retry loop resent a send that never reached the venue without asking the
    lease again. ccxt's lookups wait on the wall between two sends (up to `lookup_attempts`
    x `lookup_interval_ns`), which can outlast the TTL: the resend then went out beside a
    newer holder's orders. Now a resend asks the lease first, and none goes out once it is
    lost; nothing more is written of the order (the session faults LEASE_LOST)."""
    cfg = _config()
    taken: list[LeaseGrant] = []
    broker = _TakenOverMidSend(
        lambda: taken.append(_take_over(tmp_path, lease_clock)), **venue_options(cfg, None)
    )
    orch, sinks, lease_clock = _leased(tmp_path, cfg, broker=broker)
    _until_trading(orch, lease_clock)
    broker.armed = True
    events_before = len(sinks.events.lines)
    _step_while(orch, lease_clock, lambda: not taken)
    assert taken, "the strategy never sent again: the test proves nothing"
    failed = broker.sends[-1]
    assert broker.sends.count(failed) == 1, "sent again after the lease was lost"
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    assert orch.result().reason == "LEASE_LOST"
    after = _events_after(sinks, events_before)
    assert not {"BROKER_CALL_RETRIED", "ORDER_SUBMITTED", "ORDER_REJECTED"} & set(after)
    assert [p["fence"] for p in _lost(sinks)] == [1]
    orch.close()


class _CountedLease(FileLease):
    """A ``FileLease`` that counts its cheap checks (each one read of the file)."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.reads = 0

    def confirms(self, grant: LeaseGrant, now_ns: int) -> bool:
        self.reads += 1
        return super().confirms(grant, now_ns)


class _Quiet:
    """A strategy that never trades."""

    strategy_id = "s"

    def on_bar(self, bar: Any, view: Any) -> tuple[()]:
        return ()

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Any) -> None:
        pass


@pytest.mark.parametrize("trades", [True, False])
def test_the_lease_file_is_read_once_an_order_and_never_by_a_step_that_sends_nothing(
    tmp_path, trades
):
    """The check of the lease file before a send costs one read of it an order sent (not
    one per lease check of the order: the intent's and the reservation's read the lease
    clock alone), and a step that sends nothing reads nothing. Bug it guards: a session
    whose lease file was deleted or replaced traded on until its next renewal."""
    lease = _CountedLease(tmp_path / "pair.lease", "default", "s")
    edges: dict[str, Any] = {} if trades else {"strategy": _Quiet()}
    orch = LiveSessionOrchestrator(
        _config(), lease=lease, lease_clock=_clock.SimClock(START), **edges, **Sinks().kwargs()
    )
    assert orch.preflight()
    orch.activate()
    orch.run_n_steps(300)
    orch.close()
    sent = orch.result().orders_submitted
    assert bool(sent) is trades
    assert lease.reads == sent
