"""Enforced fencing on PostgreSQL: the fence column, old tables, the row lock, a paused holder.

Needs a server, like tests/test_postgres.py (skips without one unless
``LIVESESSION_REQUIRE_PG=1``); each test works in a schema of its own. The store contract
(only the lease's own token writes) runs in tests/test_postgres.py
(``TestPostgresFencedWrites``).

The last test is two real ``livesession dryrun --store postgres`` processes of the same
(account, strategy): the first stops itself with SIGSTOP right before a send
(``LIVESESSION_PAUSE_AT``), stays stopped past its lease TTL while the second takes the
lease, and is continued with SIGCONT. Nothing waits for the TTL to pass: the lease row is
written expired, and the first wakes with its lease clock a TTL on (``lease_pause``);
waits are bounded polls for the processes' own progress.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import orjson
import pytest

from livesession._exceptions import Fenced
from livesession.leases import PostgresLease
from livesession.stores.postgres import (
    DSN_ENV_VAR,
    PostgresCheckpointStore,
    PostgresIdempotencyStore,
)
from livesession.verify import verify_run
from test_lease_session import (
    LONG_TTL_MS,
    SUBPROCESS_TIMEOUT_S,
    audit_records,
    cli,
    cli_argv,
    cli_env,
    fences,
    lease_pause,
    submits_per_client_id,
    write_config,
)
from test_postgres import (  # noqa: F401 - the server fixtures
    _admin,
    _pg_dsn,
    _schema_dsn,
)

from _helpers import child, proc_stat, until
from store_contract import FP_A

pytestmark = pytest.mark.postgres

T0 = 1_767_225_600_000_000_000
TTL = 30_000_000_000
WAIT_S = 20.0  # a hang guard; every wait below ends long before it
EXIT_OK, EXIT_FAILED = 0, 4

_OLD_IDEMPOTENCY_DDL = """
CREATE TABLE livesession_idempotency (
    namespace text NOT NULL, key text NOT NULL, fingerprint text NOT NULL, outcome text,
    reserved_at timestamptz NOT NULL DEFAULT now(), completed_at timestamptz,
    PRIMARY KEY (namespace, key))
"""
_OLD_CHECKPOINT_DDL = """
CREATE TABLE livesession_checkpoint (
    run_key text PRIMARY KEY, body text NOT NULL, saved_at timestamptz NOT NULL DEFAULT now())
"""


@contextmanager
def _lease_and_two_stores(schema_dsn):
    """The ("acct", "strat") lease and two idempotency stores of namespace "n", closed after."""
    lease = PostgresLease(schema_dsn, "acct", "strat")
    stores = [PostgresIdempotencyStore(schema_dsn, namespace="n") for _ in range(2)]
    try:
        yield lease, *stores
    finally:
        for closable in (lease, *stores):
            closable.close()


def _take(lease, holder):
    grant = lease.acquire(holder, T0, TTL)
    assert grant is not None, f"{holder} could not take the lease"
    return grant


def test_each_row_carries_the_token_of_its_last_write(schema_dsn):
    with _lease_and_two_stores(schema_dsn) as (lease, fenced, plain):
        grant = _take(lease, "a")
        plain.reserve("unfenced", FP_A)
        fenced.fence_with(grant)
        fenced.reserve("k1", FP_A)
        fenced.complete("k1", "submitted")
    rows = _admin(schema_dsn, "SELECT key, fence FROM livesession_idempotency ORDER BY key")
    assert rows == [("k1", grant.token), ("unfenced", None)]


def test_tables_of_an_older_version_gain_the_fence_column(schema_dsn):
    _admin(schema_dsn, _OLD_IDEMPOTENCY_DDL)
    _admin(schema_dsn, _OLD_CHECKPOINT_DDL)
    _admin(schema_dsn, "INSERT INTO livesession_idempotency VALUES ('n', 'old', %s)", (FP_A,))
    _admin(schema_dsn, "INSERT INTO livesession_checkpoint VALUES ('run-1', '{\"steps\": 4}')")
    lease = PostgresLease(schema_dsn, "acct", "strat")
    store = PostgresIdempotencyStore(schema_dsn, namespace="n")
    checkpoints = PostgresCheckpointStore(schema_dsn, run_key="run-1")
    try:
        assert store.get("old").fingerprint == FP_A
        assert checkpoints.load() == {"steps": 4}
        grant = lease.acquire("a", T0, TTL)
        assert grant is not None
        store.fence_with(grant)
        checkpoints.fence_with(grant)
        store.complete("old", "submitted")
        checkpoints.save({"steps": 5})
    finally:
        for closable in (lease, store, checkpoints):
            closable.close()
    for table in ("livesession_idempotency", "livesession_checkpoint"):
        assert _admin(schema_dsn, f"SELECT fence FROM {table}") == [(grant.token,)]  # noqa: S608


@pytest.mark.parametrize("takeover", ["commit", "rollback"])
def test_a_write_waits_for_a_takeover_in_progress(schema_dsn, takeover):
    """The fence locks the lease row: a write meeting an uncommitted takeover waits for it.

    Committed, the takeover's token refuses the write; rolled back, the write goes through.
    Never does a write commit after the newer token did.
    """
    import psycopg

    lease = PostgresLease(schema_dsn, "acct", "strat")
    store = PostgresIdempotencyStore(schema_dsn, namespace="n")
    outcome: list[object] = []
    try:
        grant = lease.acquire("a", T0, TTL)
        assert grant is not None
        store.fence_with(grant)
        with psycopg.connect(schema_dsn) as taker:  # a transaction, left open
            taker.execute(
                "UPDATE livesession_lease SET holder = 'b', token = token + 1 "
                "WHERE account = 'acct' AND strategy = 'strat'"
            )
            taker_pid = taker.info.backend_pid

            def write() -> None:
                try:
                    outcome.append(store.reserve("k1", FP_A).created)
                except Fenced as exc:
                    outcome.append(exc)

            writer = threading.Thread(target=write)
            writer.start()
            until(
                "the write to wait for the takeover's row lock",
                lambda: (
                    _admin(
                        schema_dsn,
                        "SELECT count(*) FROM pg_stat_activity WHERE %s = ANY(pg_blocking_pids(pid))",
                        (taker_pid,),
                    )[0][0]
                    > 0
                ),
                deadline_s=WAIT_S,
            )
            assert not outcome  # still waiting
            if takeover == "commit":
                taker.commit()
            else:
                taker.rollback()
        writer.join(WAIT_S)
        assert not writer.is_alive()
        if takeover == "commit":
            assert len(outcome) == 1
            assert isinstance(outcome[0], Fenced)
            assert store.get("k1") is None
        else:
            assert outcome == [True]
    finally:
        lease.close()
        store.close()


@pytest.mark.parametrize("reset", ["TRUNCATE livesession_lease", "DELETE FROM livesession_lease"])
def test_a_lease_table_reset_under_a_holder_fences_it(schema_dsn, reset):
    """Bug: a fenced write was refused only by a newer token. A DBA's TRUNCATE (or DELETE, a
    database recreated) of livesession_lease left no row, so the holder wrote on, and the
    next holder got token 1 again, the same as the first's: both wrote. A write goes
    through only while the row is its grant's (its token, its holder)."""
    with _lease_and_two_stores(schema_dsn) as (lease, old, new):
        first = _take(lease, "a")
        old.fence_with(first)
        old.reserve("k1", FP_A)
        _admin(schema_dsn, reset)
        with pytest.raises(Fenced) as gone:
            old.reserve("k2", FP_A)
        assert (gone.value.fence, gone.value.newest) == (first.token, None)
        message = str(gone.value)
        assert "\n" not in message
        assert "livesession_lease has no row for it, so the table was reset under it" in message
        assert message.endswith("this session lost its lease (LEASE_LOST) and must stop")
        second = _take(lease, "b")  # a free row again: token 1, as the first's
        assert second.token == first.token
        new.fence_with(second)
        assert new.reserve("k2", FP_A).created
        with pytest.raises(Fenced) as taken:
            old.complete("k1", "submitted")
        assert "holds fence 1 for 'b'" in str(taken.value)
        assert _outcomes(schema_dsn) == [("k1", None), ("k2", None)]  # refused: nothing written
        new.complete("k1", "submitted")
    rows = _admin(
        schema_dsn, "SELECT key, outcome, fence FROM livesession_idempotency ORDER BY key"
    )
    assert rows == [("k1", "submitted", 1), ("k2", None, 1)]


def _outcomes(dsn: str) -> list[tuple[object, ...]]:
    return _admin(dsn, "SELECT key, outcome FROM livesession_idempotency ORDER BY key")


def test_a_write_refused_by_an_older_token_of_its_own_holder_writes_nothing(schema_dsn):
    """The fenced statement writes nothing that ``check`` then refuses (the connection
    commits each statement): a row reset to an older token, even for the writer's own
    holder id, is not the writer's grant, and the write is not made."""
    with _lease_and_two_stores(schema_dsn) as (lease, old, _new):
        lease.release(_take(lease, "a"))
        first = _take(lease, "a")
        assert first.token == 2
        old.fence_with(first)
        old.reserve("k1", FP_A)
        _admin(schema_dsn, "TRUNCATE livesession_lease")
        assert _take(lease, "a").token == 1  # the same holder id, the token counted afresh
        with pytest.raises(Fenced) as older:
            old.complete("k1", "submitted")
        assert "livesession_lease holds fence 1 for 'a', so the table was reset" in str(older.value)
    assert _outcomes(schema_dsn) == [("k1", None)]


# -- two sessions of one (account, strategy): the first paused past its TTL ----------------


def _first_rows(dsn: str) -> list[tuple[object, ...]]:
    return _admin(
        dsn,
        "SELECT key, fingerprint, outcome, fence, reserved_at, completed_at "
        "FROM livesession_idempotency WHERE namespace = 'first' ORDER BY key",
    )


def _events(run_dir: Path, event_type: str) -> list[dict[str, object]]:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["event_type"] == event_type]


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_a_paused_holder_wakes_fenced(tmp_path, schema_dsn):
    env = {DSN_ENV_VAR: schema_dsn}
    out = tmp_path / "runs"
    config = write_config(
        tmp_path / "pair.toml", account="acct1", steps=2000, lease_ttl_ms=LONG_TTL_MS
    )
    common = ["dryrun", "--config", config, "--out", out, "--store", "postgres", "-q"]
    pausing, paused = lease_pause(tmp_path)
    # The first session stops itself right before its third send: reserved, not yet sent.
    with contextlib.ExitStack() as running:  # each killed, if still running, and closed
        first = running.enter_context(
            child(
                cli_argv(*common, "--run-id", "first"),
                env={**cli_env(env | pausing), "LIVESESSION_PAUSE_AT": "before_send:3"},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        until(
            "the first session to pause itself",
            lambda: proc_stat(first.pid)[0] == "T",
            first,
            deadline_s=WAIT_S,
        )
        first_dir, second_dir = out / "first", out / "second"
        [first_fence] = fences(first_dir)
        paused_rows = _first_rows(schema_dsn)
        paused_submits = submits_per_client_id(first_dir / "broker_journal.jsonl")
        assert len(paused_rows) == 3  # two orders sent, the third reserved (fence first_fence)
        assert {row[3] for row in paused_rows} == {first_fence}
        assert sum(paused_submits.values()) == 2

        # Paused past its TTL: its lease has expired, and its clock has moved on as far.
        _admin(schema_dsn, "UPDATE livesession_lease SET expires_ns = %s", (time.time_ns() - 1,))
        paused(LONG_TTL_MS + 1)
        second = running.enter_context(
            child(
                cli_argv(*common, "--run-id", "second"),
                env=cli_env(env),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
        until(
            "the second session to take the lease",
            lambda: (second_dir / "audit.jsonl").exists() and bool(fences(second_dir)),
            second,
            deadline_s=WAIT_S,
        )
        assert fences(second_dir)[0] > first_fence
        woken_at = _admin(schema_dsn, "SELECT now()")[0][0]

        os.kill(first.pid, signal.SIGCONT)
        _, first_err = first.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert first.returncode == EXIT_FAILED, first_err
        _, second_err = second.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert second.returncode == EXIT_OK, second_err

    # The first stopped with LEASE_LOST, and wrote and sent nothing after waking.
    codes = [r["code"] for r in audit_records(first_dir)]
    lost = [r["payload"] for r in audit_records(first_dir) if r["code"] == "C2_LEASE_LOST"]
    assert [p["fence"] for p in lost] == [first_fence]
    stop = audit_records(first_dir)[-1]
    assert stop["code"] == "C2_DRYRUN_STOP", codes
    assert (stop["payload"]["status"], stop["payload"]["reason"]) == ("FAILED", "LEASE_LOST")
    assert submits_per_client_id(first_dir / "broker_journal.jsonl") == paused_submits
    submitted = [e["payload"]["client_order_id"] for e in _events(first_dir, "ORDER_SUBMITTED")]
    assert sorted(submitted) == sorted(paused_submits)
    assert _first_rows(schema_dsn) == paused_rows  # no reservation, no outcome, no fence
    for row in paused_rows:
        assert all(stamp is None or stamp < woken_at for stamp in row[4:])

    # The second ran to its end, and both runs verify.
    assert _events(second_dir, "ORDER_SUBMITTED")
    for run_dir in (first_dir, second_dir):
        verified = cli("verify", run_dir)
        assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_a_holder_whose_lease_table_was_truncated_stops_before_the_next_holder_trades(
    tmp_path, schema_dsn
):
    """Bug: `TRUNCATE livesession_lease` under a running session let a second session of
    the pair take the lease at once (no row: free) with token 1, the first's own, and both
    traded the account to their ends, each sealed COMPLETED: two writers. The first now
    stops at its next write, LEASE_LOST, and sends nothing more. Its TTL is long, so no
    renewal comes due in the test: only the fence stops it."""
    env = {DSN_ENV_VAR: schema_dsn}
    out = tmp_path / "runs"
    config = write_config(tmp_path / "pair.toml", account="acct1", steps=400, lease_ttl_ms=600_000)
    common = ["dryrun", "--config", config, "--out", out, "--store", "postgres", "-q"]
    first_dir, second_dir = out / "first", out / "second"
    with child(  # stops itself at its second checkpoint, between orders
        cli_argv(*common, "--run-id", "first"),
        env={**cli_env(env), "LIVESESSION_PAUSE_AT": "checkpoint:2"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as first:
        until(
            "the first session to pause itself",
            lambda: proc_stat(first.pid)[0] == "T",
            first,
            deadline_s=WAIT_S,
        )
        paused_submits = submits_per_client_id(first_dir / "broker_journal.jsonl")
        assert paused_submits, "the first sent nothing before it paused: the test proves nothing"
        _admin(schema_dsn, "TRUNCATE livesession_lease")
        second = cli(*common, "--run-id", "second", env=env)
        assert second.returncode == EXIT_OK, second.stderr
        os.kill(first.pid, signal.SIGCONT)
        _, first_err = first.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    assert first.returncode == EXIT_FAILED, first_err
    assert "LEASE_LOST" in first_err
    assert submits_per_client_id(first_dir / "broker_journal.jsonl") == paused_submits
    [lost] = [r["payload"] for r in audit_records(first_dir) if r["code"] == "C2_LEASE_LOST"]
    assert lost["refused_by_fence"] == 1  # the second's token, not above the first's
    status = cli("status", first_dir)
    assert status.returncode == 5, status.stdout
    assert "the lease table was reset under it (its row held fence 1, not for this run" in (
        status.stdout
    )
    for run_dir in (first_dir, second_dir):
        verified = cli("verify", run_dir)
        assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr


# -- a renewal refused because the lease table was reset ------------------------------------


@pytest.mark.parametrize("after", ["nobody", "another", "older"])
def test_a_renewal_the_reset_table_refuses_says_so(schema_dsn, after):
    """Bug: a renewal refused because the lease table was reset (truncated by an admin)
    answered False, as one refused by a newer holder, and the session recorded that
    another session took the lease over. It now raises ``Fenced`` saying the table was
    reset, with the row's token then (None: no row); a newer holder is still a plain
    False."""
    lease = PostgresLease(schema_dsn, "acct", "strat")
    other = PostgresLease(schema_dsn, "acct", "strat")
    try:
        if after == "older":
            lease.release(_take(lease, "a"))
        grant = _take(lease, "a")
        _admin(schema_dsn, "TRUNCATE livesession_lease")
        if after == "another":
            assert _take(other, "b").token == grant.token  # the tokens start again
        elif after == "older":
            assert _take(other, "a").token == 1 < grant.token  # its own holder id, anew
        with pytest.raises(Fenced) as reset:
            lease.renew(grant, T0 + 1)
        newest = None if after == "nobody" else 1
        assert (reset.value.fence, reset.value.newest) == (grant.token, newest)
        message = str(reset.value)
        assert "\n" not in message
        assert message.startswith("refused renewing the lease: the lease of account 'acct'")
        assert "so the table was reset under it" in message
        # A newer holder than the grant: taken over, not reset.
        _admin(
            schema_dsn,
            "INSERT INTO livesession_lease VALUES ('acct', 'strat', 'c', 9, 0) "
            "ON CONFLICT (account, strategy) DO UPDATE SET token = 9, holder = 'c'",
        )
        assert lease.renew(grant, T0 + 2) is False
    finally:
        lease.close()
        other.close()


def test_a_session_whose_lease_table_was_reset_says_so_not_that_it_was_taken_over(
    tmp_path, schema_dsn, monkeypatch
):
    """Bug: a session whose lease renewal was refused because an admin truncated
    livesession_lease recorded a loss no different from a takeover: `status` said
    `another session took it over (its renewal was refused)` and the CLI's line `another
    session took the lease over`, when none had. Its ``C2_LEASE_LOST`` now has
    ``refused_by_fence`` (null: the row was gone), and both say the table was reset."""
    from livesession import DryrunConfig, create_run
    from livesession._cli_summary import failure_line
    from livesession._domain import clock as _clock
    from livesession.status import run_status

    monkeypatch.setenv(DSN_ENV_VAR, schema_dsn)
    start = _clock.from_epoch_ns(T0)
    lease_clock = _clock.SimClock(start)
    cfg = DryrunConfig(run_id="reset", steps=300, lease_ttl_ms=1000)
    orch = create_run(
        cfg, tmp_path, store="postgres", lease_clock=lease_clock, clock=_clock.SimClock(start)
    )
    try:
        orch.preflight()
        orch.activate()
        orch.run_n_steps(20)
        _admin(schema_dsn, "TRUNCATE livesession_lease")
        lease_clock.advance(500 * 1_000_000)  # past a quarter TTL: the next step renews
        orch.step()
        result = orch.result()
        assert result.reason == "LEASE_LOST"
    finally:
        orch.close()
    run_dir = tmp_path / "reset"
    [lost] = [r["payload"] for r in audit_records(run_dir) if r["code"] == "C2_LEASE_LOST"]
    assert (lost["fence"], lost["refused_by_fence"]) == (1, None)
    said = dict(line.split(None, 1) for line in run_status(run_dir).lines())
    assert "another session took it over" not in said["lease"]
    assert (
        "this run lost it at fence 1: the lease table was reset under it (its row was gone "
        "when this run renewed its lease or wrote under it: truncated"
    ) in said["lease"]
    assert "(the highest fence, or, when the lease table was reset, its row)" in said["next"]
    line = failure_line(orch.result(), run_dir)
    assert "took the lease over" not in line
    assert line.startswith(
        "LEASE_LOST; sealed FAILED in ERROR_REQUIRES_OPERATOR without a wind-down: the lease "
        "table was reset under it (truncated, the row deleted, or the database recreated), "
        "so another session may hold the lease"
    )
    assert verify_run(run_dir).ok
