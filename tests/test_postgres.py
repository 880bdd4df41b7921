"""PostgreSQL backends: idempotency store, checkpoint store, lease, DSN handling.

Tests marked ``postgres`` need a server: they use ``LIVESESSION_PG_DSN`` (default
``postgresql://livesession@127.0.0.1:5432/livesession``, what ``.ci/setup_postgres.sh``
creates) and skip when no server answers there, unless ``LIVESESSION_REQUIRE_PG=1``, which
turns the skip into a failure. Each test works in a schema of its own, dropped afterwards.

Any DSN works: user, database, host, port and password are the DSN's own (the tests name
no role or database), and no fixture value or message shows the password.
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import pytest

from livesession import Secret
from livesession._exceptions import (
    CheckpointError,
    ConfigError,
    IdempotencyConflict,
    LeaseError,
    MissingExtra,
)
from livesession._support.secrets import environment_secrets
from livesession._typing import CheckpointStore, IdempotencyStore
from livesession.leases import PostgresLease
from livesession.stores.postgres import (
    DSN_ENV_VAR,
    PostgresCheckpointStore,
    PostgresError,
    PostgresIdempotencyStore,
    describe_dsn,
    pg_dsn_from_env,
    redact_dsn_text,
)
from test_lease_file import T0, TTL, LeaseContract, run_racers

from _helpers import campaign
from store_contract import (
    FP_A,
    CheckpointContract,
    CloseContract,
    CompleteContract,
    DurabilityContract,
    FencedWritesContract,
    GetContract,
    ListingContract,
    ModelContract,
    ReserveContract,
)

DEFAULT_DSN = "postgresql://livesession@127.0.0.1:5432/livesession"
REQUIRE_ENV_VAR = "LIVESESSION_REQUIRE_PG"
LEAK_MARKER = "hunter2-Zq9"
RACE_PROCESSES = 8
RACE_KEYS = campaign(10_000, 2_000)  # keys each racer reserves
LEASE_RACERS = 4


class _Dsn(str):
    """A DSN whose repr hides the password: pytest prints fixture values in tracebacks."""

    __slots__ = ()

    def __repr__(self):
        return f"<DSN {describe_dsn(self)}>"


def _server_dsn():
    return _Dsn(os.environ.get(DSN_ENV_VAR, "").strip() or DEFAULT_DSN)


def _why_unavailable(dsn):
    """None when a server answers at ``dsn``; otherwise a one-line reason."""
    try:
        import psycopg
    except ImportError:
        return "psycopg is not installed: pip install 'livesession[postgres]'"
    try:
        with psycopg.connect(dsn, connect_timeout=5, autocommit=True) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        return (
            f"no PostgreSQL server answers at {describe_dsn(dsn)} "
            f"({redact_dsn_text(str(exc), dsn)}); start one with "
            '`eval "$(bash .ci/setup_postgres.sh)"` or set LIVESESSION_PG_DSN'
        )
    return None


def _options(dsn):
    from psycopg.conninfo import conninfo_to_dict

    return str(conninfo_to_dict(dsn).get("options", ""))


def _admin(dsn, statement, params=None):
    """Run one statement on a connection of its own; the rows, if any."""
    import psycopg

    with psycopg.connect(dsn, autocommit=True) as conn:
        cursor = conn.execute(statement, params)
        return cursor.fetchall() if cursor.description else []


@pytest.fixture(scope="session", name="pg_dsn")
def _pg_dsn():
    dsn = _server_dsn()
    reason = _why_unavailable(dsn)
    if reason is not None:
        if os.environ.get(REQUIRE_ENV_VAR) == "1":
            pytest.fail(f"{REQUIRE_ENV_VAR}=1 but {reason}", pytrace=False)
        pytest.skip(reason)
    return dsn


@pytest.fixture(name="schema_dsn")
def _schema_dsn(pg_dsn):
    """A DSN whose search_path is a fresh schema: tables are created there, then dropped."""
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    schema = f"lstest_{uuid.uuid4().hex[:16]}"
    _admin(pg_dsn, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    yield _Dsn(make_conninfo(pg_dsn, options=f"-c search_path={schema}"))
    _admin(pg_dsn, sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


def assert_hidden(secret, text, where):
    """Fail when ``secret`` is in ``text`` without printing either (it may be a real password)."""
    hidden = secret not in text  # outside the assert: pytest would print both operands
    assert hidden, f"the DSN's password is in {where}"


def with_known_password(dsn):
    """``(dsn', secret)``: ``dsn`` carrying a password whose absence the caller checks.

    A server that takes any password (loopback trust, like .ci's) gets the distinctive
    ``LEAK_MARKER``; one that checks passwords keeps the DSN's own, which is then the
    secret. Skips when the server checks passwords but the DSN holds none (libpq found one
    elsewhere): the DSN then has no password to leak.
    """
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    marked = make_conninfo(dsn, password=LEAK_MARKER)
    try:
        psycopg.connect(marked, connect_timeout=5).close()
    except psycopg.OperationalError:
        own = conninfo_to_dict(dsn).get("password")
        if not own:
            pytest.skip("the server checks passwords and the DSN holds none: nothing to hide")
        return _Dsn(dsn), str(own)
    return _Dsn(marked), LEAK_MARKER


@pytest.fixture(name="make_store")
def _make_store(schema_dsn):
    opened = []

    def make(namespace="contract"):
        store = PostgresIdempotencyStore(schema_dsn, namespace=namespace)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(name="store")
def _store(make_store):
    return make_store()


@pytest.fixture(name="make_checkpoints")
def _make_checkpoints(schema_dsn):
    opened = []

    def make(run_key="run-1"):
        checkpoints = PostgresCheckpointStore(schema_dsn, run_key=run_key)
        opened.append(checkpoints)
        return checkpoints

    yield make
    for checkpoints in opened:
        checkpoints.close()


@pytest.fixture(name="checkpoints")
def _checkpoints(make_checkpoints):
    return make_checkpoints()


@pytest.fixture(name="make_lease")
def _make_lease(schema_dsn):
    opened = []

    def make(account="acct", strategy="strat"):
        lease = PostgresLease(schema_dsn, account, strategy)
        opened.append(lease)
        return lease

    yield make
    for lease in opened:
        lease.close()


@pytest.fixture(name="lease")
def _lease(make_lease):
    return make_lease()


# --- the shared contracts -----------------------------------------------------------------


@pytest.mark.postgres
class TestPostgresReserve(ReserveContract):
    """The PostgreSQL store keeps the reserve contract."""


@pytest.mark.postgres
class TestPostgresComplete(CompleteContract):
    """The PostgreSQL store keeps the complete contract."""


@pytest.mark.postgres
class TestPostgresGet(GetContract):
    """The PostgreSQL store keeps the get contract."""


@pytest.mark.postgres
class TestPostgresClose(CloseContract):
    """The PostgreSQL store keeps the close contract."""


@pytest.mark.postgres
class TestPostgresListing(ListingContract):
    """The PostgreSQL store lists its keys (of its namespace: see TestNamespaces)."""


@pytest.mark.postgres
class TestPostgresModel(ModelContract):
    """The PostgreSQL store behaves like the dict model."""


@pytest.mark.postgres
class TestPostgresDurability(DurabilityContract):
    """What the PostgreSQL store promised survives reopening it."""


@pytest.mark.postgres
class TestPostgresFencedWrites(FencedWritesContract):
    """The PostgreSQL stores refuse a superseded lease holder's writes."""


@pytest.mark.postgres
class TestPostgresLeaseContract(LeaseContract):
    """PostgresLease keeps the lease contract."""


@pytest.mark.postgres
class TestPostgresProtocols:
    """The backends satisfy the runtime-checkable protocols they implement."""

    def test_idempotency_store(self, store):
        """PostgresIdempotencyStore is an IdempotencyStore."""
        assert isinstance(store, IdempotencyStore)

    def test_checkpoint_store(self, checkpoints):
        """PostgresCheckpointStore is a CheckpointStore."""
        assert isinstance(checkpoints, CheckpointStore)


# --- idempotency store specifics ----------------------------------------------------------


RESERVE_RACER = """
import json, os, sys
from livesession.stores.postgres import PostgresIdempotencyStore, pg_dsn_from_env
worker, keys = int(sys.argv[1]), int(os.environ["RACE_KEYS"])
store = PostgresIdempotencyStore(pg_dsn_from_env(os.environ), namespace="race")
print("ready", flush=True)
sys.stdin.readline()
# Even racers go up, odd ones down: each half collides key by key, and the halves meet.
order = range(keys) if worker % 2 == 0 else range(keys - 1, -1, -1)
created, wrong = [], 0
for index in order:
    record = store.reserve(f"order-{index:05d}", f"fp-{index}")
    wrong += record.fingerprint != f"fp-{index}"
    if record.created:
        created.append(index)
store.close()
print(json.dumps({"created": created, "wrong": wrong}))
"""

OPEN_RACER = """
import json, os, sys
from livesession.leases import PostgresLease
from livesession.stores.postgres import (
    PostgresCheckpointStore, PostgresIdempotencyStore, pg_dsn_from_env,
)
worker, dsn = sys.argv[1], pg_dsn_from_env(os.environ)
print("ready", flush=True)
sys.stdin.readline()
PostgresIdempotencyStore(dsn, namespace=f"w{worker}").close()
PostgresCheckpointStore(dsn, run_key=f"w{worker}").close()
PostgresLease(dsn, "acct", f"w{worker}").close()
print(json.dumps({"worker": int(worker)}))
"""

LEASE_RACER = """
import json, os, sys
from livesession.leases import PostgresLease
from livesession.stores.postgres import pg_dsn_from_env
worker = int(sys.argv[1])
lease = PostgresLease(pg_dsn_from_env(os.environ), "acct", "strat")
print("ready", flush=True)
sys.stdin.readline()
grant = lease.acquire(f"holder-{worker}", int(os.environ["LEASE_NOW"]), int(os.environ["LEASE_TTL"]))
lease.close()
print(json.dumps({"worker": worker, "token": None if grant is None else grant.token}))
"""


@pytest.mark.postgres
class TestPostgresIdempotencyStore:
    """Reservations are shared by every process and granted exactly once."""

    def test_eight_processes_racing_for_the_same_keys(self, schema_dsn):
        """8 processes reserve the same keys (2,000; 10,000 in the deep campaign) one call each:
        each key is created once."""
        env = {DSN_ENV_VAR: schema_dsn, "RACE_KEYS": str(RACE_KEYS)}
        started = time.perf_counter()
        outcomes = run_racers(RESERVE_RACER, RACE_PROCESSES, env)
        elapsed = time.perf_counter() - started
        assert sum(o["wrong"] for o in outcomes) == 0
        created = sorted(index for o in outcomes for index in o["created"])
        assert created == list(range(RACE_KEYS))
        rows = _admin(
            schema_dsn, "SELECT count(*) FROM livesession_idempotency WHERE namespace = 'race'"
        )
        assert rows == [(RACE_KEYS,)]
        per_worker = sorted(len(o["created"]) for o in outcomes)
        print(  # noqa: T201 - shown with -s or -rP: how the grants spread over racers
            f"\n{RACE_PROCESSES} processes x {RACE_KEYS} reserve calls in {elapsed:.1f}s; "
            f"keys created per process: {per_worker}"
        )

    def test_processes_create_tables_at_once(self, schema_dsn):
        """8 processes opening every backend on an empty schema at once all succeed."""
        outcomes = run_racers(OPEN_RACER, RACE_PROCESSES, {DSN_ENV_VAR: schema_dsn})
        assert sorted(o["worker"] for o in outcomes) == list(range(RACE_PROCESSES))

    def test_namespaces_are_independent(self, make_store):
        """The same key in two namespaces is two reservations."""
        first, second = make_store("session-a"), make_store("session-b")
        assert first.reserve("k1", "fp-1").created
        assert second.reserve("k1", "fp-2").created
        with pytest.raises(IdempotencyConflict):
            first.reserve("k1", "fp-2")

    def test_a_store_lists_only_its_namespace(self, make_store):
        """``reservations`` lists the keys of the store's namespace, none of another's."""
        first, second = make_store("session-a"), make_store("session-b")
        first.reserve("k1", "fp-1")
        second.reserve("k1", "fp-2")
        second.reserve("k2", "fp-3")
        assert [(r.key, r.fingerprint) for r in first.reservations()] == [("k1", "fp-1")]
        assert [(r.key, r.fingerprint) for r in second.reservations()] == [
            ("k1", "fp-2"),
            ("k2", "fp-3"),
        ]

    def test_use_after_close_is_a_value_error(self, store):
        """A closed store refuses calls with ValueError, like the local stores."""
        store.close()
        with pytest.raises(ValueError, match="closed"):
            store.reserve("k1", FP_A)

    def test_lost_connection_raises_postgres_error(self, store, schema_dsn):
        """When the server drops the connection, calls raise PostgresError (fail closed)."""
        pid = store._pg._conn.info.backend_pid
        _admin(schema_dsn, "SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(PostgresError, match="reserving idempotency key 'k1'"):
            store.reserve("k1", FP_A)

    def test_a_server_error_quotes_no_statement(self, store, schema_dsn):
        """A statement the server refuses reads as its message, not `LINE 1: ... ^`."""
        pid = store._pg._conn.info.backend_pid
        with pytest.raises(PostgresError) as caught, store._pg.translate("testing"):
            store._pg.execute("SELECT no_such_column FROM livesession_idempotency")
        message = str(caught.value)
        assert message.endswith('failed while testing: column "no_such_column" does not exist')
        assert store._pg._conn.info.backend_pid == pid

    def test_opening_on_existing_tables_takes_no_ddl_lock(self, store, schema_dsn):
        """With the tables in place, a new store opens while another session holds the DDL lock."""
        import psycopg
        from psycopg.conninfo import make_conninfo

        from livesession._postgres.connection import _DDL_LOCK_ID

        store.reserve("k1", FP_A)
        with psycopg.connect(schema_dsn, autocommit=True) as holder:
            holder.execute("SELECT pg_advisory_lock(%s)", (_DDL_LOCK_ID,))
            # lock_timeout turns a wait on the held lock into an error instead of a hang.
            dsn = make_conninfo(schema_dsn, options=_options(schema_dsn) + " -c lock_timeout=2000")
            other = PostgresIdempotencyStore(dsn, namespace="contract")
            try:
                assert other.get("k1").fingerprint == FP_A
            finally:
                other.close()

    def test_repr_has_target_not_password(self, schema_dsn):
        """The repr names user, host, port and database but never the password."""
        import psycopg
        from psycopg.conninfo import make_conninfo

        # Spell out every part, whatever the DSN leaves to libpq's defaults.
        with psycopg.connect(schema_dsn) as conn:
            info = conn.info
            target = {"user": info.user, "host": info.host, "port": info.port}
            target["dbname"] = info.dbname
        dsn, secret = with_known_password(make_conninfo(schema_dsn, **target))
        store = PostgresIdempotencyStore(dsn, namespace="n")
        try:
            text = repr(store)
        finally:
            store.close()
        assert_hidden(secret, text, "the repr")
        assert text == (
            f"PostgresIdempotencyStore('{target['user']}@{target['host']}:{target['port']}"
            f"/{target['dbname']}', namespace='n')"
        )

    def test_completing_a_key_deleted_by_hand_says_so(self, schema_dsn):
        """Bug: a key a DBA deleted while a session used it (`TRUNCATE
        livesession_idempotency`) failed the session's complete with `KeyError: idempotency
        key 'ls...' was never reserved: reserve it before completing`, a caller's mistake it
        had not made (the run sealed UNEXPECTED_ERROR saying so). The error names the table,
        the namespace and the deletion."""
        store = PostgresIdempotencyStore(schema_dsn, namespace="n")
        try:
            store.reserve("k1", FP_A)
            _admin(schema_dsn, "TRUNCATE livesession_idempotency")
            with pytest.raises(KeyError) as missing:
                store.complete("k1", "submitted")
        finally:
            store.close()
        assert missing.value.args[0] == (
            "idempotency key 'k1' is not in livesession_idempotency (namespace 'n'): never "
            "reserved, or deleted from the table while in use (a TRUNCATE or DELETE by hand, "
            "the database recreated)"
        )

    def test_a_servers_idle_session_timeout_does_not_end_the_connection(self, schema_dsn):
        """Bug: a server (or role) with `idle_session_timeout` shorter than the gaps between
        a run's calls (a quarter TTL between the lease's renewals) closed the connection,
        so every run ended unsealed, `... failed while renewing the lease ...: terminating
        connection due to idle-session timeout`. Each connection turns it off for itself."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        with psycopg.connect(schema_dsn) as probe:
            if probe.info.server_version < 140000:
                pytest.skip("idle_session_timeout came with PostgreSQL 14")
        options = conninfo_to_dict(schema_dsn).get("options", "")
        # 5 s, not less: the server counts from the connection's start, and a loaded machine
        # took over 100 ms to send the session's first statement (the test reads SHOW only).
        dsn = make_conninfo(schema_dsn, options=f"{options} -c idle_session_timeout=5000")
        for opened in (
            PostgresIdempotencyStore(dsn, namespace="n")._pg,
            PostgresLease(dsn, "acct", "strat")._pg,
        ):
            try:
                assert opened.execute("SHOW idle_session_timeout").fetchone() == ("0",)
            finally:
                opened.close()

    def test_a_one_millisecond_idle_session_timeout_does_not_end_the_connect(self, schema_dsn):
        """Bug: the connection turned the timeout off by a statement after connecting, so a
        role with a very short one (CI: 100 ms on a loaded machine) closed the connection
        before the statement arrived. It is now off from the connection's start (the
        startup options, after the connection string's own, which are kept)."""
        import psycopg
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        with psycopg.connect(schema_dsn) as probe:
            if probe.info.server_version < 140000:
                pytest.skip("idle_session_timeout came with PostgreSQL 14")
        options = conninfo_to_dict(schema_dsn).get("options", "")
        dsn = make_conninfo(
            schema_dsn, options=f"{options} -c idle_session_timeout=1 -c work_mem=3MB"
        )
        for opened in (
            PostgresIdempotencyStore(dsn, namespace="n")._pg,
            PostgresLease(dsn, "acct", "strat")._pg,
        ):
            try:
                assert opened.execute(
                    "SELECT setting, source FROM pg_settings WHERE name = 'idle_session_timeout'"
                ).fetchone() == ("0", "client")  # from the start, not a later SET ("session")
                assert opened.execute("SHOW work_mem").fetchone() == ("3MB",)  # the DSN's kept
            finally:
                opened.close()

    def test_pgoptions_are_kept_beside_the_startup_option(self, pg_dsn, schema_dsn, monkeypatch):
        """libpq reads PGOPTIONS only for a connection string without `options`: the
        connection's own `-c idle_session_timeout=0` is added to them, not put in their
        place (the schema's search_path comes from there alone here)."""
        from psycopg.conninfo import conninfo_to_dict

        schema_options = conninfo_to_dict(schema_dsn)["options"]
        monkeypatch.setenv("PGOPTIONS", f"{schema_options} -c work_mem=3MB")
        assert "options" not in conninfo_to_dict(str(pg_dsn))
        opened = PostgresLease(str(pg_dsn), "acct", "strat")._pg
        try:
            assert opened.execute("SHOW work_mem").fetchone() == ("3MB",)
            assert opened.execute("SHOW search_path").fetchone() == (
                schema_options.split("=", 1)[1],
            )
        finally:
            opened.close()

    def test_a_server_that_refuses_the_startup_option_is_connected_to_without_it(
        self, schema_dsn, monkeypatch
    ):
        """PostgreSQL before 14 refuses the connection whose options name a setting it does
        not have (`FATAL:  unrecognized configuration parameter "idle_session_timeout"`, as
        psycopg says it): the connection is opened again without it, and the timeout
        turned off by a statement where the server has one. Played by refusing the option
        here (the server is 14 or later); the connection string is never in the error."""
        import psycopg

        real_connect = psycopg.connect
        refused: list[str] = []

        def connect(conninfo: str, **kwargs: object) -> object:
            if "idle_session_timeout" in str(kwargs.get("options", "")):
                refused.append(str(kwargs["options"]))
                raise psycopg.OperationalError(
                    'connection failed: connection to server at "127.0.0.1", port 5432 '
                    'failed: FATAL:  unrecognized configuration parameter "idle_session_timeout"'
                )
            return real_connect(conninfo, **kwargs)  # type: ignore[arg-type]

        monkeypatch.setattr(psycopg, "connect", connect)
        opened = PostgresLease(schema_dsn, "acct", "strat")._pg
        try:
            assert opened.execute(
                "SELECT setting, source FROM pg_settings WHERE name = 'idle_session_timeout'"
            ).fetchone() == ("0", "session")
        finally:
            opened.close()
        assert len(refused) == 1


# --- checkpoint store ---------------------------------------------------------------------


@pytest.mark.postgres
class TestPostgresCheckpointContract(CheckpointContract):
    """The PostgreSQL checkpoint store keeps the same contract as the file store."""


class TestPostgresCheckpointStore:
    """Checkpoints are replaced whole, durably, and read back as saved."""

    def test_no_checkpoint_is_none(self, checkpoints):
        """A run that never saved loads None."""
        assert checkpoints.load() is None

    def test_round_trip(self, checkpoints):
        """A saved mapping loads back equal, nested values and all."""
        checkpoint = {
            "step": 42,
            "offsets": {"events.jsonl": 1234, "audit.jsonl": 99},
            "cash": "10000.00",
            "open": [{"id": "c-1", "qty": "0.5"}],
            "note": "clé ✓",
            "big": 2**62,
            "none": None,
        }
        checkpoints.save(checkpoint)
        assert checkpoints.load() == checkpoint

    def test_save_replaces_whole(self, checkpoints):
        """A second save replaces the first completely: no key of the old one survives."""
        checkpoints.save({"step": 1, "only_in_first": True})
        checkpoints.save({"step": 2})
        assert checkpoints.load() == {"step": 2}

    def test_survives_reopen(self, make_checkpoints):
        """A new store object on the same run key loads what the old one saved."""
        make_checkpoints().save({"step": 7})
        assert make_checkpoints().load() == {"step": 7}

    def test_run_keys_are_independent(self, make_checkpoints):
        """Two run keys keep two checkpoints."""
        make_checkpoints("run-a").save({"step": 1})
        make_checkpoints("run-b").save({"step": 2})
        assert make_checkpoints("run-a").load() == {"step": 1}
        assert make_checkpoints("run-b").load() == {"step": 2}

    @pytest.mark.parametrize("body", ["{torn", "[1, 2]", ""], ids=["cut", "list", "empty"])
    def test_corrupt_body_raises(self, checkpoints, schema_dsn, body):
        """A stored body that is not a JSON object raises one line naming the run."""
        checkpoints.save({"step": 1})
        _admin(schema_dsn, "UPDATE livesession_checkpoint SET body = %s", (body,))
        with pytest.raises(CheckpointError, match="'run-1'") as caught:
            checkpoints.load()
        assert "\n" not in str(caught.value)

    def test_body_is_canonical_json(self, checkpoints, schema_dsn):
        """The stored text has sorted keys, so equal mappings store equal text."""
        checkpoints.save({"b": 1, "a": {"d": 2, "c": 3}})
        assert _admin(schema_dsn, "SELECT body FROM livesession_checkpoint") == [
            ('{"a":{"c":3,"d":2},"b":1}',)
        ]

    def test_unserialisable_checkpoint_is_refused(self, checkpoints):
        """A value that is not a JSON type raises CheckpointError and keeps the old one."""
        from decimal import Decimal

        checkpoints.save({"step": 1})
        with pytest.raises(CheckpointError, match="JSON"):
            checkpoints.save({"step": 2, "cash": Decimal("1.5")})
        assert checkpoints.load() == {"step": 1}

    def test_lost_connection_raises_checkpoint_error(self, checkpoints, schema_dsn):
        """When the server drops the connection, save raises CheckpointError."""
        pid = checkpoints._pg._conn.info.backend_pid
        _admin(schema_dsn, "SELECT pg_terminate_backend(%s)", (pid,))
        with pytest.raises(CheckpointError, match="saving the checkpoint"):
            checkpoints.save({"step": 1})


# --- lease specifics ----------------------------------------------------------------------


@pytest.mark.postgres
class TestPostgresLease:
    """Across processes, one session holds a pair and takeovers raise the token."""

    def test_four_processes_one_winner(self, schema_dsn):
        """4 processes acquiring the same pair at once: exactly one gets a grant."""
        env = {DSN_ENV_VAR: schema_dsn, "LEASE_NOW": str(T0), "LEASE_TTL": str(TTL)}
        outcomes = run_racers(LEASE_RACER, LEASE_RACERS, env)
        assert sorted(o["worker"] for o in outcomes) == list(range(LEASE_RACERS))
        assert [o["token"] for o in outcomes if o["token"] is not None] == [1]

    def test_row_records_holder_token_and_expiry(self, lease, schema_dsn):
        """The lease row shows who holds the pair, with token and expiry."""
        grant = lease.acquire("h1", T0, TTL)
        rows = _admin(
            schema_dsn, "SELECT account, strategy, holder, token, expires_ns FROM livesession_lease"
        )
        assert rows == [("acct", "strat", "h1", grant.token, T0 + TTL)]

    def test_holder_names_the_live_holder_only(self, make_lease):
        """What the CLI names when it refuses with LEASE_HELD: nobody before a grant, the
        holder while the lease lives, nobody once it expired or was released."""
        lease, asker = make_lease(), make_lease()
        assert asker.holder(T0) is None
        grant = lease.acquire("h1@host:7", T0, TTL)
        assert asker.holder(T0 + TTL - 1) == "h1@host:7"
        assert asker.holder(T0 + TTL) is None  # expired
        lease.release(grant)
        assert asker.holder(T0) is None

    def test_token_survives_release_and_reconnect(self, make_lease):
        """After release and a new connection, the next grant still has a larger token."""
        first = make_lease()
        grant = first.acquire("h1", T0, TTL)
        first.release(grant)
        first.close()
        again = make_lease().acquire("h2", T0 + 1, TTL)
        assert again.token == grant.token + 1

    def test_pairs_are_independent(self, make_lease):
        """Another strategy of the same account has its own lease."""
        assert make_lease("acct", "strat").acquire("h1", T0, TTL) is not None
        assert make_lease("acct", "other").acquire("h2", T0, TTL) is not None

    def test_lost_connection_raises_lease_error(self, lease, schema_dsn):
        """When the server drops the connection, renew raises LeaseError (treat as lost)."""
        grant = lease.acquire("h1", T0, TTL)
        _admin(schema_dsn, "SELECT pg_terminate_backend(%s)", (lease._pg._conn.info.backend_pid,))
        with pytest.raises(LeaseError, match="renewing the lease"):
            lease.renew(grant, T0 + 1)


# --- configuration, redaction, errors (no server needed) ----------------------------------


class TestDsnFromEnv:
    """The DSN comes from LIVESESSION_PG_DSN only."""

    def test_value_is_returned(self):
        """A set variable is returned as is, held in a Secret."""
        dsn = pg_dsn_from_env({DSN_ENV_VAR: DEFAULT_DSN})
        assert isinstance(dsn, Secret)
        assert dsn.reveal() == DEFAULT_DSN

    def test_the_dsn_never_shows_itself(self):
        """Like the exchange credentials: repr, str and format are ***, as docs/postgres.md says;
        describe_dsn and redact_dsn_text take it as it comes."""
        pytest.importorskip("psycopg")
        text = f"postgresql://ops:{LEAK_MARKER}@db.example:6543/trading"
        dsn = pg_dsn_from_env({DSN_ENV_VAR: f" {text}\n"})
        for shown in (repr(dsn), str(dsn), f"{dsn}", repr({DSN_ENV_VAR: dsn}), repr([dsn])):
            assert LEAK_MARKER not in shown
        assert dsn == Secret(text)
        assert describe_dsn(dsn) == "ops@db.example:6543/trading"
        assert redact_dsn_text(f"failed: {text}", dsn) == (
            "failed: postgresql://ops:***@db.example:6543/trading"
        )

    @pytest.mark.parametrize("environ", [{}, {DSN_ENV_VAR: ""}, {DSN_ENV_VAR: "  "}])
    def test_missing_is_a_config_error(self, environ):
        """An unset or blank variable raises ConfigError naming it and showing an example."""
        with pytest.raises(ConfigError, match=f"{DSN_ENV_VAR} is not set.*postgresql://"):
            pg_dsn_from_env(environ)


class TestRedaction:
    """No password reaches a message, a repr or a description."""

    @pytest.mark.parametrize(
        "dsn",
        [
            f"postgresql://livesession:{LEAK_MARKER}@127.0.0.1:5432/livesession",
            f"postgres://:{LEAK_MARKER}@127.0.0.1/db",
            f"postgresql://u@127.0.0.1/db?password={LEAK_MARKER}&sslmode=disable",
            f"host=127.0.0.1 user=u password={LEAK_MARKER} dbname=db",
            f"host=127.0.0.1 password = '{LEAK_MARKER} x' dbname=db",
            f"postgresql://u:{LEAK_MARKER}@[unbalanced/db",
        ],
    )
    def test_text_echoing_the_dsn_is_scrubbed(self, dsn):
        """A message quoting the whole DSN loses the password, whatever the DSN's form."""
        text = redact_dsn_text(f"failed: {dsn}\n\tsecond line", dsn)
        assert LEAK_MARKER not in text
        assert "\n" not in text

    def test_fixture_dsn_repr_hides_password(self):
        """The DSN the fixtures hand out (and pytest prints on failure) shows no password."""
        pytest.importorskip("psycopg")
        dsn = _Dsn(f"postgresql://ops:{LEAK_MARKER}@db.example:6543/trading")
        assert repr(dsn) == "<DSN ops@db.example:6543/trading>"
        assert LEAK_MARKER not in repr({DSN_ENV_VAR: dsn})
        assert dsn == f"postgresql://ops:{LEAK_MARKER}@db.example:6543/trading"

    def test_url_encoded_password_is_scrubbed(self):
        """A percent-encoded password is removed in both spellings."""
        dsn = "postgresql://u:p%40ss-w0rd@127.0.0.1/db"
        text = redact_dsn_text("p@ss-w0rd and p%40ss-w0rd", dsn)
        assert "ss-w0rd" not in text

    def test_describe_hides_password(self):
        """describe_dsn shows user@host:port/dbname only."""
        pytest.importorskip("psycopg")
        assert (
            describe_dsn(f"postgresql://u:{LEAK_MARKER}@127.0.0.1:5433/db") == "u@127.0.0.1:5433/db"
        )
        assert describe_dsn(f"host=127.0.0.1 password={LEAK_MARKER}") == "127.0.0.1"
        assert describe_dsn("host=x =") == "<unparsable>"

    @pytest.mark.parametrize(
        ("open_backend", "error"),
        [
            (lambda dsn: PostgresIdempotencyStore(dsn, namespace="n"), PostgresError),
            (lambda dsn: PostgresCheckpointStore(dsn, run_key="r"), CheckpointError),
            (lambda dsn: PostgresLease(dsn, "acct", "strat"), LeaseError),
        ],
    )
    @pytest.mark.parametrize("wrap", [str, Secret], ids=["str", "Secret"])
    def test_refused_connection_message_is_one_clean_line(self, open_backend, error, wrap):
        """A refused connection raises the backend's error: one line, no password, no cause.

        The DSN may be a str or the Secret ``pg_dsn_from_env`` returns."""
        pytest.importorskip("psycopg")
        dsn = wrap(f"postgresql://u:{LEAK_MARKER}@127.0.0.1:1/db?connect_timeout=5")
        with pytest.raises(error) as caught:
            open_backend(dsn)
        message = str(caught.value)
        assert LEAK_MARKER not in message
        assert "\n" not in message
        assert "u@127.0.0.1:1/db" in message
        assert caught.value.__cause__ is None
        assert caught.value.__suppress_context__

    @pytest.mark.parametrize(
        ("dsn", "pieces"),
        [
            # An unescaped "/" ends libpq's userinfo: host "u", port "Qz7pieceOne", database
            # "pieceTwo9x@127.0.0.1:1/db"; "@" ends it at the first one: host
            # "pieceTwo9x@127.0.0.1".
            ("postgresql://u:Qz7pieceOne/pieceTwo9x@127.0.0.1:1/db", ("Qz7pieceOne", "pieceTwo9x")),
            ("postgresql://u:Qz7pieceOne@pieceTwo9x@127.0.0.1:1/db", ("Qz7pieceOne", "pieceTwo9x")),
        ],
    )
    def test_password_with_an_unescaped_delimiter(self, dsn, pieces):
        """A password libpq reads in part as the host, port or database is refused unsaid.

        Before, the description named the password's pieces as the port, database or host
        (``PostgreSQL at u:Qz7pieceOne/pieceTwo9x@127.0.0.1:1/db failed ...``), and the
        connection looked the piece after the "@" up in DNS as a host name; the evidence's
        scan of LIVESESSION_PG_DSN did not know the pieces either.
        """
        pytest.importorskip("psycopg")
        described = describe_dsn(dsn)
        with pytest.raises(LeaseError, match="'/' or '@' that is not percent-encoded") as caught:
            PostgresLease(dsn, "acct", "strat")
        libpq_said = f'invalid integer value "{pieces[0]}" for port; host "{pieces[1]}@127.0.0.1"'
        scrubbed = redact_dsn_text(libpq_said, dsn)
        ((_name, forms),) = environment_secrets({DSN_ENV_VAR: dsn})
        for piece in pieces:
            assert piece not in described
            assert piece not in str(caught.value)
            assert piece not in scrubbed
            assert piece in forms

    def test_malformed_dsn_message_quotes_nothing(self):
        """A DSN libpq cannot parse is refused without quoting any of it."""
        pytest.importorskip("psycopg")
        with pytest.raises(PostgresError, match="not a valid URI") as caught:
            PostgresIdempotencyStore(f"host=127.0.0.1 {LEAK_MARKER}", namespace="n")
        assert LEAK_MARKER not in str(caught.value)

    @pytest.mark.postgres
    def test_server_error_message_has_no_password(self, pg_dsn):
        """A server-side refusal (unknown database) is reported without the password."""
        from psycopg.conninfo import make_conninfo

        dsn, secret = with_known_password(pg_dsn)
        dsn = make_conninfo(dsn, dbname="no_such_database_here")
        with pytest.raises(PostgresError, match="no_such_database_here") as caught:
            PostgresIdempotencyStore(dsn, namespace="n")
        assert_hidden(secret, str(caught.value), "the error")


class TestTables:
    """Each backend's table is one ``PgTable``: what it creates, what it adds, what it raises."""

    def test_the_lease_table(self):
        """The lease's table: the columns of a grant, no fence column, ``LeaseError``."""
        from livesession._postgres.fence import LEASE

        assert LEASE.ddl == (
            "CREATE TABLE IF NOT EXISTS livesession_lease (\n"
            "    account text NOT NULL,\n"
            "    strategy text NOT NULL,\n"
            "    holder text,\n"
            "    token bigint NOT NULL,\n"
            "    expires_ns bigint NOT NULL,\n"
            "    PRIMARY KEY (account, strategy)\n"
            ")\n"
        )
        assert (LEASE.purpose, LEASE.error, dict(LEASE.added)) == (
            "the session lease",
            LeaseError,
            {},
        )

    @pytest.mark.parametrize(
        ("store", "error", "last_lines"),
        [
            (
                PostgresIdempotencyStore,
                PostgresError,
                "    completed_at timestamptz,\n    fence bigint,\n    PRIMARY KEY (namespace, key)\n)\n",
            ),
            (
                PostgresCheckpointStore,
                CheckpointError,
                "    saved_at timestamptz NOT NULL DEFAULT now(),\n    fence bigint\n)\n",
            ),
        ],
        ids=["idempotency", "checkpoint"],
    )
    def test_a_store_table_is_fenced(self, store, error, last_lines):
        """A store's table ends in the fence column, added on open to a table that lacks it."""
        table = store._TABLE
        assert table.ddl.endswith(last_lines)
        assert table.error is error
        assert dict(table.added) == {"fence": "bigint"}


class TestMissingExtra:
    """Without psycopg, the backends say which extra to install."""

    @pytest.mark.parametrize(
        "open_backend",
        [
            lambda: PostgresIdempotencyStore(DEFAULT_DSN, namespace="n"),
            lambda: PostgresCheckpointStore(DEFAULT_DSN, run_key="r"),
            lambda: PostgresLease(DEFAULT_DSN, "acct", "strat"),
        ],
    )
    def test_missing_psycopg_names_the_extra(self, monkeypatch, open_backend):
        """Opening a backend without psycopg raises MissingExtra naming livesession[postgres]."""
        monkeypatch.setitem(sys.modules, "psycopg", None)
        with pytest.raises(MissingExtra, match=r"livesession\[postgres\]"):
            open_backend()

    def test_importing_the_module_needs_no_psycopg(self):
        """The module imports psycopg only when a backend is opened."""
        import livesession.stores.postgres as module

        assert "psycopg" not in vars(module)
