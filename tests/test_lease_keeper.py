"""The lease keeper's own interface over a FileLease: take, refuse, renew, lose, release."""

from __future__ import annotations

import orjson

from livesession._artifacts.recorder import Recorder
from livesession._domain.clock import SimClock
from livesession._session.lease_keeper import LeaseKeeper
from livesession.leases import FileLease, LeaseGrant

from _helpers import START, Sinks

MS = 1_000_000
TTL_MS = 4_000  # a quarter TTL is 1000 ms


class CountingLease:
    """A FileLease that counts the calls that reach it."""

    def __init__(self, inner: FileLease) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def acquire(self, holder_id: str, now_ns: int, ttl_ns: int) -> LeaseGrant | None:
        self.calls.append("acquire")
        return self.inner.acquire(holder_id, now_ns, ttl_ns)

    def renew(self, grant: LeaseGrant, now_ns: int) -> bool:
        self.calls.append("renew")
        return self.inner.renew(grant, now_ns)

    def release(self, grant: LeaseGrant) -> None:
        self.calls.append("release")
        self.inner.release(grant)

    def close(self) -> None:
        self.calls.append("close")
        self.inner.close()


class Holder:
    """One session's lease keeper with its own recorder and counted callables."""

    def __init__(self, path, clock: SimClock, holder: str) -> None:
        self.sinks = Sinks()
        self.recorder = Recorder(
            run_id=holder,
            strategy_id="strat",
            events=self.sinks.events,
            states=self.sinks.states,
            audit=self.sinks.audit,
            metrics=self.sinks.metrics,
        )
        self.lease = CountingLease(FileLease(path, "acct", "strat"))
        self.lost = 0
        self.faults: list[str] = []
        self.guarded_calls = 0
        self.keeper = LeaseKeeper(
            self.lease,
            recorder=self.recorder,
            clock=clock,
            holder=holder,
            account="acct",
            strategy="strat",
            ttl_ms=TTL_MS,
            on_lost=self._on_lost,
            fault=self.faults.append,
            guarded=self._guarded,
            steps=lambda: 7,
        )

    def _on_lost(self) -> None:
        self.lost += 1

    def _guarded(self, action) -> None:
        self.guarded_calls += 1
        action()

    def audits(self) -> list[tuple[str, dict]]:
        return [
            (record["code"], record["payload"])
            for record in map(orjson.loads, self.sinks.audit.lines)
        ]


def _pair(tmp_path) -> tuple[Holder, Holder, SimClock]:
    clock = SimClock(START)
    path = tmp_path / "lease.json"
    return Holder(path, clock, "run-a"), Holder(path, clock, "run-b"), clock


class TestPreflight:
    def test_preflight_takes_the_lease_and_audits_the_fence(self, tmp_path):
        a, _, _ = _pair(tmp_path)
        result = a.keeper.preflight()
        assert (result.name, result.passed, result.reason) == ("session_lease", True, "")
        grant = a.keeper.grant
        assert grant is not None
        assert grant.holder_id == "run-a"
        assert a.audits() == [
            (
                "C2_LEASE_ACQUIRED",
                {
                    "account": "acct",
                    "strategy": "strat",
                    "holder": "run-a",
                    "fence": grant.token,
                    "ttl_ms": TTL_MS,
                },
            )
        ]
        assert a.sinks.events.lines == []  # the fence stays out of the events

    def test_a_second_keeper_for_the_pair_gets_lease_held(self, tmp_path):
        a, b, _ = _pair(tmp_path)
        assert a.keeper.preflight().passed
        result = b.keeper.preflight()
        assert (result.passed, result.reason) == (False, "LEASE_HELD")
        # The pair, not the holder's host and pid: events stay the same bytes everywhere.
        assert (
            result.detail
            == "lease of account 'acct', strategy 'strat': another live session holds it"
        )
        assert b.keeper.grant is None
        assert b.audits() == []

    def test_an_adopted_grant_is_audited_at_preflight_once(self, tmp_path):
        a, _, _ = _pair(tmp_path)
        grant = a.lease.inner.acquire("run-a", SimClock(START).monotonic_ns(), TTL_MS * MS)
        a.keeper.adopt(grant, audit=False)
        assert a.audits() == []
        assert a.keeper.preflight().passed
        assert a.keeper.preflight().passed
        assert [code for code, _ in a.audits()] == ["C2_LEASE_ACQUIRED"]
        assert a.audits()[0][1]["fence"] == grant.token


class TestRenew:
    def test_renew_within_a_quarter_ttl_does_not_ask_the_store(self, tmp_path):
        a, _, clock = _pair(tmp_path)
        a.keeper.preflight()
        a.lease.calls.clear()
        clock.advance(TTL_MS // 4 * MS - 1)
        assert a.keeper.renew()
        assert a.lease.calls == []

    def test_renew_after_a_quarter_ttl_renews_in_the_store(self, tmp_path):
        a, b, clock = _pair(tmp_path)
        a.keeper.preflight()
        a.lease.calls.clear()
        clock.advance(TTL_MS // 4 * MS)
        assert a.keeper.renew()
        assert a.lease.calls == ["renew"]
        # the store moved the expiry: past the first TTL the pair is still held
        clock.advance(TTL_MS * 3 // 4 * MS)
        assert b.keeper.preflight().reason == "LEASE_HELD"
        assert a.lost == 0

    def test_a_lost_lease_stops_audits_and_faults(self, tmp_path):
        a, b, clock = _pair(tmp_path)
        a.keeper.preflight()
        old = a.keeper.grant
        clock.advance(TTL_MS * MS)  # expired, not renewed: the next holder takes over
        assert b.keeper.preflight().passed
        assert b.keeper.grant.token > old.token
        assert a.keeper.renew() is False
        assert a.lost == 1
        assert a.faults == ["LEASE_LOST"]
        assert a.guarded_calls == 1
        assert a.keeper.grant is None
        assert a.audits()[-1] == (
            "C2_LEASE_LOST",
            {
                "account": "acct",
                "strategy": "strat",
                "holder": "run-a",
                "fence": old.token,
                "step": 7,
            },
        )

    def test_renew_after_the_loss_stays_false(self, tmp_path):
        a, b, clock = _pair(tmp_path)
        a.keeper.preflight()
        clock.advance(TTL_MS * MS)
        b.keeper.preflight()
        a.keeper.renew()
        assert a.keeper.renew() is False
        assert a.lost == 2  # each refused renewal halts again
        assert a.audits()[-1][1]["fence"] is None  # no grant any more to name

    def test_an_expired_lease_nobody_took_renews(self, tmp_path):
        a, _, clock = _pair(tmp_path)
        a.keeper.preflight()
        clock.advance(2 * TTL_MS * MS)
        assert a.keeper.renew()
        assert (a.lost, a.faults) == (0, [])


class TestRelease:
    def test_release_frees_the_lease_for_the_next_holder(self, tmp_path):
        a, b, _ = _pair(tmp_path)
        a.keeper.preflight()
        first = a.keeper.grant
        a.keeper.release(close=True)
        assert a.keeper.grant is None
        assert a.lease.calls[-2:] == ["release", "close"]
        assert b.keeper.preflight().passed  # at once: no need to wait for the expiry
        assert b.keeper.grant.token > first.token

    def test_release_without_close_keeps_the_backend_open(self, tmp_path):
        a, _, _ = _pair(tmp_path)
        a.keeper.preflight()
        a.keeper.release(close=False)
        assert "close" not in a.lease.calls
        assert a.keeper.acquire()  # the same handle takes it again

    def test_release_without_a_grant_only_closes(self, tmp_path):
        a, _, _ = _pair(tmp_path)
        a.keeper.release(close=True)
        assert a.lease.calls == ["close"]
