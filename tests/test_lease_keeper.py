"""The lease keeper's own interface over a FileLease: take, refuse, renew, lose, release."""

from __future__ import annotations

import io
import logging

import orjson
import pytest

from livesession import Fenced, LeaseError
from livesession._artifacts.recorder import Recorder
from livesession._domain.clock import SimClock
from livesession._session.lease_keeper import (
    CheckpointWatch,
    FenceWatch,
    LeaseKeeper,
    watch_fences,
)
from livesession._support.logging import configure_logging, disable_logging
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

    def test_a_store_that_fails_to_grant_is_lease_unavailable_and_audited(self, tmp_path):
        a, _, _ = _pair(tmp_path)

        def fails(*_args: object) -> LeaseGrant | None:
            raise LeaseError("lease file unreadable")

        a.lease.acquire = fails  # type: ignore[method-assign]
        result = a.keeper.preflight()
        assert (result.passed, result.reason) == (False, "LEASE_UNAVAILABLE")
        assert result.detail == (
            "lease of account 'acct', strategy 'strat': the lease store failed (LeaseError)"
        )
        assert a.audits() == [
            ("C2_LEASE_ERROR", {"stage": "acquire", "error": "lease file unreadable"})
        ]
        assert a.keeper.grant is None

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
    def test_renew_at_the_moment_of_the_grant_does_not_ask_the_store(self, tmp_path):
        a, _, _ = _pair(tmp_path)
        a.keeper.preflight()
        a.lease.calls.clear()
        assert a.keeper.renew()
        assert a.keeper.current()
        assert a.lease.calls == []

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

    def test_once_lost_current_and_a_refused_write_say_so_without_a_second_audit(self, tmp_path):
        a, b, clock = _pair(tmp_path)
        a.keeper.preflight()
        clock.advance(TTL_MS * MS)
        b.keeper.preflight()
        assert a.keeper.current() is False
        assert a.keeper.lost
        assert a.keeper.current() is False
        a.keeper.fenced(Fenced("refused", fence=1, newest=2))
        assert (a.lost, a.faults) == (1, ["LEASE_LOST"])
        assert [code for code, _ in a.audits()] == ["C2_LEASE_ACQUIRED", "C2_LEASE_LOST"]

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

    def test_a_release_refused_as_the_grant_expires_says_it_expired_and_logs_it(self, tmp_path):
        a, _, clock = _pair(tmp_path)
        a.keeper.preflight()

        def refused(_grant: LeaseGrant) -> None:
            raise LeaseError("store gone")

        a.lease.release = refused  # type: ignore[method-assign]
        clock.advance(TTL_MS * MS)  # the very moment the grant, never renewed, expires
        log = io.StringIO()
        configure_logging(log, level=logging.WARNING)
        try:
            a.keeper.release(close=False)
        finally:
            disable_logging()
        assert a.keeper.unreleased == (
            "the lease of account 'acct', strategy 'strat' could not be given back (store gone):"
            " it expired on its own as the release waited, at 2026-01-01T00:00:04Z"
            " (lease_ttl_ms=4000), so it holds off no resume"
        )
        (record,) = map(orjson.loads, log.getvalue().splitlines())
        assert (record["event"], record["level"], record["run_id"], record["why"]) == (
            "lease_not_released",
            "warning",
            "run-a",
            a.keeper.unreleased,
        )


class _Store:
    """A shared store whose writes the test may have refused (a newer holder exists)."""

    def __init__(self, *, refuse: bool) -> None:
        self.refuse = refuse
        self.calls: list[tuple[object, ...]] = []

    def _call(self, *call: object) -> None:
        self.calls.append(call)
        if self.refuse and call[0] in ("reserve", "complete", "save"):
            raise Fenced("a newer holder wrote", fence=1, newest=2)

    def reserve(self, key: str, fingerprint: str) -> str:
        self._call("reserve", key, fingerprint)
        return "reserved"

    def complete(self, key: str, outcome: str) -> None:
        self._call("complete", key, outcome)

    def get(self, key: str) -> str:
        self._call("get", key)
        return "record"

    def close(self) -> None:
        self._call("close")

    def save(self, checkpoint: dict) -> None:
        self._call("save", checkpoint)

    def load(self) -> dict:
        self._call("load")
        return {"step": 3}


def _ignored(_refused: Fenced) -> None:
    pass


class TestFenceWatches:
    def test_the_watched_stores_answer_as_the_stores_do(self):
        store, refused = _Store(refuse=False), []
        idem = FenceWatch(store, refused.append)  # type: ignore[arg-type]
        assert idem.reserve("k", "f") == "reserved"
        idem.complete("k", "SENT")
        assert idem.get("k") == "record"
        idem.close()
        checkpoints = CheckpointWatch(store, refused.append)  # type: ignore[arg-type]
        checkpoints.save({"step": 3})
        assert checkpoints.load() == {"step": 3}
        assert store.calls == [
            ("reserve", "k", "f"),
            ("complete", "k", "SENT"),
            ("get", "k"),
            ("close",),
            ("save", {"step": 3}),
            ("load",),
        ]
        assert refused == []

    def test_a_refused_write_tells_the_keeper_and_only_a_reserve_raises(self):
        store, refused = _Store(refuse=True), []
        idem = FenceWatch(store, refused.append)  # type: ignore[arg-type]
        with pytest.raises(Fenced):
            idem.reserve("k", "f")  # the caller must not send
        idem.complete("k", "SENT")  # left reserved: "maybe sent", looked up at the venue
        CheckpointWatch(store, refused.append).save({"step": 3})  # type: ignore[arg-type]
        assert [fenced.newest for fenced in refused] == [2, 2, 2]
        assert [call[0] for call in store.calls] == ["reserve", "complete", "save"]

    def test_only_the_fenceable_stores_are_watched_and_fenced(self):
        class Shared(_Store):
            def fence_with(self, grant: LeaseGrant) -> None:
                self.calls.append(("fence_with", grant))

        local, idem, checkpoints = _Store(refuse=False), Shared(refuse=False), Shared(refuse=False)
        fenced: list[object] = []
        watched = watch_fences(idem, checkpoints, fenced, _ignored)  # type: ignore[arg-type]
        assert [type(store) for store in watched] == [FenceWatch, CheckpointWatch]
        assert [store.store for store in watched] == [idem, checkpoints]  # type: ignore[union-attr]
        assert fenced == [idem, checkpoints]
        assert watch_fences(local, local, [], _ignored) == (local, local)  # type: ignore[arg-type]
        assert watch_fences(idem, None, [], _ignored)[1] is None  # type: ignore[arg-type]
