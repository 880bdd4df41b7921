"""``livesession dryrun --store postgres``: the lease and idempotency keys in PostgreSQL.

Needs a server, like tests/test_postgres.py: skips without one unless
``LIVESESSION_REQUIRE_PG=1``. Each test works in a schema of its own (passed to the CLI
through ``LIVESESSION_PG_DSN``'s ``search_path``), dropped afterwards.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, SessionStatus, create_run, resume_run
from livesession.stores.postgres import DSN_ENV_VAR
from test_lease_session import (
    LONG_TTL_MS,
    SUBPROCESS_TIMEOUT_S,
    audit_records,
    cli,
    cli_argv,
    cli_env,
    digest_files,
    fences,
    kill_and_take_over,
    lease_pause,
    race_four,
    submits_per_client_id,
    write_config,
)
from test_postgres import (  # noqa: F401 - the server fixtures
    _admin,
    _pg_dsn,
    _schema_dsn,
    assert_hidden,
    with_known_password,
)

from _helpers import child, dropped_unclosed, proc_stat, until

pytestmark = pytest.mark.postgres
PG = ("--store", "postgres")


@pytest.fixture(name="pg_env")
def _pg_env(schema_dsn):
    return {DSN_ENV_VAR: schema_dsn}


def test_four_processes_one_session_postgres(tmp_path, pg_env):
    race_four(tmp_path / "runs", ["--store", "postgres"], env=pg_env)
    assert not (tmp_path / "runs" / ".leases").exists()


def test_killed_holder_is_taken_over_by_resume_postgres(tmp_path, pg_env):
    dsn = pg_env[DSN_ENV_VAR]

    def expire_at(ns: int) -> None:
        _admin(dsn, "UPDATE livesession_lease SET expires_ns = %s", (ns,))

    run_dir = kill_and_take_over(tmp_path, ["--store", "postgres"], expire_at, env=pg_env)
    assert not (run_dir / "idempotency.sqlite").exists()  # the keys live in PostgreSQL
    # Both holders fenced their writes: each row carries the token it was written under.
    first, resumed = fences(run_dir)
    written = _admin(
        pg_env[DSN_ENV_VAR],
        "SELECT DISTINCT fence FROM livesession_idempotency WHERE namespace = 'victim'",
    )
    assert {fence for (fence,) in written} == {first, resumed}


def test_postgres_store_needs_the_dsn_variable(tmp_path):
    done = cli(
        "dryrun",
        "--out",
        tmp_path,
        "--run-id",
        "x",
        "--store",
        "postgres",
        "-q",
        env={DSN_ENV_VAR: ""},
    )
    assert done.returncode == 2
    assert DSN_ENV_VAR in done.stderr
    assert not (tmp_path / "x").exists()


def test_the_dsn_password_reaches_no_artifact(tmp_path, pg_env):
    dsn, secret = with_known_password(pg_env[DSN_ENV_VAR])
    env = {DSN_ENV_VAR: dsn}
    done = cli(
        "dryrun",
        "--out",
        tmp_path,
        "--run-id",
        "x",
        "--store",
        "postgres",
        "--steps",
        "50",
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert fences(tmp_path / "x") == [1]
    assert_hidden(secret, done.stdout + done.stderr, "the CLI's output")
    for path in (tmp_path / "x").iterdir():
        assert_hidden(secret.encode(), path.read_bytes(), path.name)


def test_a_resume_against_another_database_is_refused_before_it_sends(tmp_path, pg_env):
    """A standby whose LIVESESSION_PG_DSN names another database or schema than the run's
    finds none of the run's keys there: every order would look new and go out again."""
    from psycopg import sql
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    config = write_config(tmp_path / "c.toml", account="acct1", steps=400, checkpoint_every=25)
    out = tmp_path / "runs"
    args = ("dryrun", "--config", config, "--out", out, "--run-id", "v", "--store", "postgres")
    first = cli(*args, "-q", env=pg_env, crash_at="write_events:300")
    assert first.returncode == -9, first.stderr
    run_dir = out / "v"
    before = digest_files(run_dir)
    dsn = pg_env[DSN_ENV_VAR]
    other = f"{conninfo_to_dict(dsn)['options'].split('=')[-1]}_other"
    _admin(dsn, sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(other)))
    try:
        elsewhere = {DSN_ENV_VAR: make_conninfo(dsn, options=f"-c search_path={other}")}
        resumed = cli("resume", run_dir, "-q", env=elsewhere)
        lease_rows = _admin(
            dsn, sql.SQL("SELECT to_regclass({})").format(sql.Literal(f"{other}.livesession_lease"))
        )
    finally:
        _admin(dsn, sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(other)))
    assert resumed.returncode == 2, resumed.stderr
    message = resumed.stderr.strip()
    assert message.count("\n") == 0, message
    assert "cannot resume run v: its idempotency store PostgresIdempotencyStore(" in message
    assert "so a resume would send again what was sent; nothing was changed" in message
    assert DSN_ENV_VAR in message
    assert digest_files(run_dir) == before
    assert lease_rows == [(None,)]  # refused before it took a lease in the wrong place
    status = cli("status", run_dir)  # needs no DSN: it cannot know, and says resumable
    assert status.returncode == 6, status.stdout
    # Its own database holds the keys: once the killed holder's lease is over (ended here
    # rather than waited for), the resume goes on and the run seals.
    _admin(dsn, "UPDATE livesession_lease SET expires_ns = 0")
    resumed = cli("resume", run_dir, "-q", env=pg_env)
    assert resumed.returncode == 0, resumed.stderr
    assert max(submits_per_client_id(run_dir / "broker_journal.jsonl").values()) == 1


def test_a_new_run_is_refused_a_run_id_another_host_used(tmp_path, pg_env):
    """The PostgreSQL namespace is the run id, unique only within one --out directory: a run
    of the same id on another host (each host numbers its own ``demo-001``) found the first
    run's keys, reserved already, for its own client order ids (the same ones), and took
    each order for the other run's. A new run is refused such a run id, nothing written."""
    first = cli("dryrun", "--out", tmp_path / "host-a", "--steps", "120", "-q", *PG, env=pg_env)
    assert first.returncode == 0, first.stderr
    (made,) = (tmp_path / "host-a").iterdir()
    keys = _admin(
        pg_env[DSN_ENV_VAR],
        "SELECT count(*) FROM livesession_idempotency WHERE namespace = %s",
        (made.name,),
    )
    assert keys[0][0] > 0, "the first run reserved no key: the test proves nothing"
    second = cli("dryrun", "--out", tmp_path / "host-b", "--steps", "120", "-q", *PG, env=pg_env)
    assert second.returncode == 2, second.stderr
    message = second.stderr.strip()
    assert message.count("\n") == 0, message
    assert message.startswith(f"livesession: error: run id '{made.name}' is taken in PostgreSQL: ")
    assert f"already holds {keys[0][0]} idempotency key(s) of another run of that id" in message
    assert message.endswith(
        "start it with another --run-id (run ids must be unique across every host sharing "
        "the database)"
    )
    assert not (tmp_path / "host-b").exists()  # nothing written
    again = cli(
        "dryrun",
        "--out",
        tmp_path / "host-b",
        "--run-id",
        "b-001",
        "--steps",
        "120",
        "-q",
        *PG,
        env=pg_env,
    )
    assert again.returncode == 0, again.stderr


def test_a_run_id_another_host_is_running_with_is_refused_before_its_first_key(tmp_path, pg_env):
    """The refusal of a run id another host used looked for its keys only: two hosts starting
    runs of one id at once (each numbering its own `demo-001`, from cron at the same minute),
    each on an account of its own, both found none and both ran, in one namespace: the same
    client order ids, one run taking the other's reservations for its own or failing mid-run
    `IDEMPOTENCY_CONFLICT`. A run id in use by a running session is refused too, nothing
    written; once that session's connection is gone the keys it left refuse it as before."""
    a_config = write_config(tmp_path / "a.toml", account="acct-a", steps=200)
    keys = "SELECT count(*) FROM livesession_idempotency WHERE namespace = 'r-001'"
    b_config = write_config(tmp_path / "b.toml", account="acct-b", steps=200)
    with child(  # stops itself at its first checkpoint: no key reserved yet; killed after
        cli_argv("dryrun", "-c", a_config, "--out", tmp_path / "host-a", "--run-id", "r-001", *PG),
        env={**cli_env(pg_env), "LIVESESSION_PAUSE_AT": "checkpoint:1"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    ) as first:
        until("the first run to pause itself", lambda: proc_stat(first.pid)[0] == "T", first)
        assert _admin(pg_env[DSN_ENV_VAR], keys) == [(0,)]
        second = cli(
            "dryrun", "-c", b_config, "--out", tmp_path / "host-b", "--run-id", "r-001", "-q",
            *PG, env=pg_env,
        )  # fmt: skip
        assert second.returncode == 2, second.stderr
        (line,) = second.stderr.splitlines()
        assert line.startswith("livesession: error: run id 'r-001' is in use in PostgreSQL: ")
        assert line.endswith(
            "start it with another --run-id (run ids must be unique across every host "
            "sharing the database)"
        )
        assert not (tmp_path / "host-b").exists()  # nothing written
    # The killed run resumes to its seal (its lease ended here rather than waited for), and
    # the keys it reserved refuse the id as before.
    _admin(pg_env[DSN_ENV_VAR], "UPDATE livesession_lease SET expires_ns = 0")
    resumed = cli("resume", tmp_path / "host-a" / "r-001", "-q", env=pg_env)
    assert resumed.returncode == 0, resumed.stderr
    assert _admin(pg_env[DSN_ENV_VAR], keys)[0][0] > 0
    again = cli(
        "dryrun", "-c", b_config, "--out", tmp_path / "host-b", "--run-id", "r-001", "-q",
        *PG, env=pg_env,
    )  # fmt: skip
    assert again.returncode == 2, again.stderr
    assert "livesession: error: run id 'r-001' is taken in PostgreSQL: " in again.stderr
    assert not (tmp_path / "host-b").exists()


def test_status_of_a_sealed_postgres_run_names_no_lease_holder(tmp_path, pg_env):
    """Bug: `status` of a completed `--store postgres` run read `lease  postgres:
    x@host:pid, fence 1`, naming the run's own process as the holder, although the seal
    released the lease. The line says it was released, and the JSON names no holder."""
    from livesession.status import run_status

    args = ("--run-id", "x", "--store", "postgres", "--steps", "50", "-q")
    done = cli("dryrun", "--out", tmp_path, *args, env=pg_env)
    assert done.returncode == 0, done.stderr
    standing = run_status(tmp_path / "x")
    said = dict(line.split(None, 1) for line in standing.lines())
    assert said["verdict"] == "completed (exit 0)"
    assert said["lease"] == (
        "postgres: released when the run sealed (its last grant: fence 1) "
        "[audit.jsonl (C2_LEASE_ACQUIRED)]"
    )
    assert "x@" not in said["lease"]
    assert standing.to_json()["lease"]["holder"] is None


def test_a_search_path_schema_that_does_not_exist_is_one_clear_line(tmp_path, pg_env):
    """Bug: a DSN whose search_path names no existing schema failed with PostgreSQL's raw
    text, statement and caret included (`no schema has been selected to create in LINE 1:
    CREATE TABLE ... ^`). One line names the problem and the way out; nothing is written."""
    from psycopg.conninfo import make_conninfo

    dsn = make_conninfo(pg_env[DSN_ENV_VAR], options="-c search_path=no_such_schema_here")
    done = cli(
        "dryrun", "--out", tmp_path / "runs", "--run-id", "x", *PG, "-q", env={DSN_ENV_VAR: dsn}
    )
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert message.count("\n") == 0, message
    assert message.endswith(
        "cannot create table livesession_lease: no schema on the connection's search_path "
        "exists; create the schema, or name an existing one in LIVESESSION_PG_DSN "
        "(options=-csearch_path=...)"
    ), message
    assert "LINE 1" not in message
    assert "CREATE TABLE" not in message
    assert not (tmp_path / "runs" / "x").exists()


def _stopped_by(status_text):
    """The `stopped by` line of `livesession status` ("" when it has none).

    Bug: a run a PostgreSQL outage stopped had none (only a local store's refusal was
    named), so `status` said `crashed` and `a killed process keeps its lease` and not why.
    """
    rows = [line.split(None, 2) for line in status_text.splitlines()]
    return next((row[2] for row in rows if row[:2] == ["stopped", "by"]), "")


class _Proxy:
    """A loopback proxy to the server: each connection's bytes are forwarded both ways,
    and a subclass watches what the client sends (``_sent``)."""

    def __init__(self, host, port):
        self._target = (host, int(port))
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self._open = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._open += [client, upstream]
            link = {"pair": (client, upstream), "frozen": threading.Event()}
            for args in ((client, upstream, link, True), (upstream, client, link, False)):
                threading.Thread(target=self._pump, args=args, daemon=True).start()

    def _pump(self, source, sink, link, outbound):
        try:
            while data := source.recv(65536):
                if outbound:
                    with self._lock:
                        self._sent(link, data)
                if not link["frozen"].is_set():
                    sink.sendall(data)
        except OSError:
            return

    def _sent(self, link, data):
        """What the client sent on ``link`` (called under the lock, before it is forwarded)."""

    def close(self):
        """Stop: every thread ends, and so does every connection to the server. Closed
        alone, a socket another thread is blocked on (in ``accept`` or ``recv``) stays open
        under it (Linux): the thread lived on, and the server kept the backend connected,
        for the rest of the worker's tests. A shutdown wakes them."""
        for sock in (self._listener, *self._open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


class _FreezingProxy(_Proxy):
    """Goes silent on the connection that sends the ``freeze_at``-th idempotency insert: it
    reads on and forwards nothing more either way, as a frozen server host does. Other
    connections (the lease's) go on working."""

    _MARKER = b"INSERT INTO livesession_idempotency"

    def __init__(self, host, port, freeze_at):
        self._freeze_at = freeze_at
        self._inserts = 0
        self.froze = threading.Event()
        super().__init__(host, port)

    def _sent(self, link, data):
        if self._MARKER in data:
            self._inserts += 1
            if self._inserts == self._freeze_at:
                link["frozen"].set()
                self.froze.set()


class _LeaseCuttingProxy(_Proxy):
    """``cut_lease()`` drops the lease's connection (the one that sent the lease's acquire),
    both ways, as a server restart does; the idempotency store's goes on working."""

    _MARKER = b"INSERT INTO livesession_lease AS l"

    def __init__(self, host, port):
        self._leases = []
        super().__init__(host, port)

    def _sent(self, link, data):
        if self._MARKER in data and link not in self._leases:
            self._leases.append(link)

    def cut_lease(self):
        """Shut the lease's connections down; how many there were."""
        with self._lock:
            for link in self._leases:
                for conn in link["pair"]:
                    conn.shutdown(socket.SHUT_RDWR)
            return len(self._leases)


def test_a_server_that_stops_answering_ends_the_run_resumably(tmp_path, pg_env):
    """Bug: a server that stopped answering (SIGSTOP, a frozen host) hung the session: status
    said running while the heartbeat went stale and `stop` had no effect. Each call is
    bounded (LIVESESSION_PG_TIMEOUT): the stalled reserve fails as a lost connection does,
    the run stops unsealed (exit 2) and, with the server back, resumes to a run that
    verifies, no client order id sent twice."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dsn = pg_env[DSN_ENV_VAR]
    params = conninfo_to_dict(dsn)
    proxy = _FreezingProxy(params.get("host") or "127.0.0.1", params.get("port") or 5432, 3)
    try:
        via_proxy = make_conninfo(dsn, host="127.0.0.1", port=str(proxy.port))
        # The bound holds every call of the run, each through this proxy's threads to a
        # server fsyncing its commits: 0.5 s left a loaded machine's ordinary call a few
        # tenths from failing first (another message). 3 s is wide of both that and the
        # frozen call, which never answers (the test waits the 3 s once).
        env = {DSN_ENV_VAR: via_proxy, "LIVESESSION_PG_TIMEOUT": "3"}
        done = cli("dryrun", "--out", tmp_path, "--run-id", "x", *PG, "-q", env=env)
    finally:
        proxy.close()
    assert proxy.froze.is_set()
    assert done.returncode == 2, done.stderr
    message = done.stderr.strip()
    assert message.count("\n") == 0, message
    assert "failed while reserving idempotency key " in message
    assert "no answer within 3 s (LIVESESSION_PG_TIMEOUT), so the connection was closed" in (
        message
    )
    assert "the run is not sealed" in message
    status = cli("status", tmp_path / "x")
    assert status.returncode == 6, status.stdout  # crashed, resumable: the lease was released
    assert _stopped_by(status.stdout).startswith("PostgreSQL at "), status.stdout
    assert "failed while reserving idempotency key " in _stopped_by(status.stdout)
    resumed = cli("resume", tmp_path / "x", "-q", env=pg_env)
    assert resumed.returncode == 0, resumed.stderr
    assert cli("verify", tmp_path / "x").returncode == 0
    assert max(submits_per_client_id(tmp_path / "x" / "broker_journal.jsonl").values()) == 1


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_a_server_the_lease_finds_gone_ends_the_run_as_the_store_does(tmp_path, pg_env):
    """Bug: a PostgreSQL outage ended a run two ways, by which connection met it first. The
    idempotency store's: exit 2, the run unsealed, resumable once the server is back. The
    lease's renewal: exit 4 and a sealed LEASE_LOST (status needs_operator, resume refused,
    RUNBOOK: "start a new run"), its open position left for a session that did not exist.
    Both now end the first way, in the same words: the run is not sealed, and resume (which
    takes the lease first) continues it.

    The session pauses itself right before its third send (its key reserved); its lease's
    connection is dropped; it wakes with its lease clock a quarter TTL on (``lease_pause``),
    and renews before it sends."""
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    dsn = pg_env[DSN_ENV_VAR]
    params = conninfo_to_dict(dsn)
    config = write_config(tmp_path / "c.toml", account="acct1", steps=400, lease_ttl_ms=LONG_TTL_MS)
    run_dir = tmp_path / "runs" / "x"
    proxy = _LeaseCuttingProxy(params.get("host") or "127.0.0.1", params.get("port") or 5432)
    pausing, paused = lease_pause(tmp_path)
    try:
        via_proxy = make_conninfo(dsn, host="127.0.0.1", port=str(proxy.port))
        with child(
            cli_argv(
                "dryrun", "--config", config, "--out", run_dir.parent, "--run-id", "x", *PG, "-q"
            ),
            env={
                **cli_env({DSN_ENV_VAR: via_proxy, **pausing}),
                "LIVESESSION_PAUSE_AT": "before_send:3",
            },
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        ) as proc:
            until("the session to pause itself", lambda: proc_stat(proc.pid)[0] == "T", proc)
            assert proxy.cut_lease() == 1
            paused(LONG_TTL_MS // 4)  # its renewal is due on waking
            os.kill(proc.pid, signal.SIGCONT)
            _, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    finally:
        proxy.close()
    assert proc.returncode == 2, err
    line = err.strip().splitlines()[-1]
    assert line.startswith("livesession: error: PostgreSQL at "), line
    assert "failed while renewing the lease ('acct1', 'sma_demo'): " in line
    assert line.endswith(
        ": the run is not sealed; once what the line names is put right, `livesession status "
        f"{run_dir}` says whether `livesession resume {run_dir}` can continue it"
    ), line
    assert "LEASE_LOST" not in err
    codes = [r["code"] for r in audit_records(run_dir)]
    assert "C2_LEASE_LOST" not in codes
    assert "C2_DRYRUN_STOP" not in codes
    status = cli("status", run_dir)
    assert status.returncode == 6, status.stdout  # crashed, resumable
    # Said though the session log's last line is the lease it could not give back.
    assert "failed while renewing the lease ('acct1', 'sma_demo'): " in _stopped_by(
        status.stdout
    ), status.stdout
    # The dropped connection could not give the lease back: end it rather than wait for it.
    _admin(dsn, "UPDATE livesession_lease SET expires_ns = 0")
    resumed = cli("resume", run_dir, "-q", env=pg_env)
    assert resumed.returncode == 0, resumed.stderr
    first, again = fences(run_dir)
    assert again > first
    assert cli("verify", run_dir).returncode == 0
    assert max(submits_per_client_id(run_dir / "broker_journal.jsonl").values()) == 1


@pytest.mark.broken_run("the crashed run stays unresumable: its keys are gone")
@pytest.mark.parametrize("lost", ["all", "one"])
def test_a_resume_whose_keys_were_deleted_from_its_own_database_says_so(tmp_path, pg_env, lost):
    """Bug: a crashed run whose keys a DBA deleted from the run's own database (TRUNCATE
    livesession_idempotency, the database recreated) was refused by resume saying only
    `point LIVESESSION_PG_DSN at the database (and schema) the run used, then resume
    again`: it named that one already, and resuming again met the same refusal. The line
    now says the keys were deleted there and what is left to do; nothing is changed."""
    config = write_config(tmp_path / "c.toml", account="acct1", steps=400, checkpoint_every=25)
    out = tmp_path / "runs"
    args = ("dryrun", "--config", config, "--out", out, "--run-id", "v", *PG, "-q")
    first = cli(*args, env=pg_env, crash_at="write_events:300")
    assert first.returncode == -9, first.stderr
    run_dir = out / "v"
    dsn = pg_env[DSN_ENV_VAR]
    if lost == "all":
        _admin(dsn, "TRUNCATE livesession_idempotency")
    else:  # the run's first order, long before its checkpoint
        events = (run_dir / "events.jsonl").read_bytes().splitlines()
        first_id = next(
            e["payload"]["client_order_id"]
            for e in map(orjson.loads, events)
            if e["event_type"] == "ORDER_SUBMITTED"
        )
        _admin(dsn, "DELETE FROM livesession_idempotency WHERE key = %s", (first_id,))
    before = digest_files(run_dir)
    lease = _admin(dsn, "SELECT holder, token, expires_ns FROM livesession_lease")
    resumed = cli("resume", run_dir, "-q", env=pg_env)
    assert resumed.returncode == 2, resumed.stderr
    (line,) = resumed.stderr.splitlines()
    assert "so a resume would send again what was sent; nothing was changed: " in line
    said = {
        "all": "if it names that one, the run's keys were deleted there (livesession_idempotency "
        "truncated, the database recreated or restored from an older backup): ",
        "one": " lacks 1 of the ",
    }
    assert said[lost] in line
    own = "nothing was changed: the run's own database lost them (rows of livesession_idempotency"
    assert (own in line) == (lost == "one"), line  # some kept: the DSN names the right one
    assert ("point LIVESESSION_PG_DSN at" in line) == (lost == "all"), line
    assert line.endswith(
        "restore them from a backup of the database, then resume again; without them the "
        "run cannot go on: settle its orders at the venue by hand and start a new run"
    ), line
    assert digest_files(run_dir) == before
    assert _admin(dsn, "SELECT holder, token, expires_ns FROM livesession_lease") == lease


@pytest.mark.parametrize(
    ("crash_at", "said"),
    [
        ("write_events:300", "its idempotency keys could not be read"),  # past its checkpoints
        ("write_events:5", "its lease could not be taken"),  # before its first: no key to read
    ],
)
def test_a_resume_while_the_server_is_down_says_nothing_changed(tmp_path, pg_env, crash_at, said):
    """Bug: `livesession resume DIR` of a crashed run with the server still down said only
    libpq's refusal (`PostgreSQL at ... failed while connecting for idempotency
    reservations: connection failed: ...`), not that the run was left as it was, nor what to
    do. It now says both, the password still hidden; once the server is back, it resumes."""
    from psycopg.conninfo import make_conninfo

    config = write_config(tmp_path / "c.toml", account="acct1", steps=400, checkpoint_every=25)
    out = tmp_path / "runs"
    args = ("dryrun", "--config", config, "--out", out, "--run-id", "v", *PG, "-q")
    first = cli(*args, env=pg_env, crash_at=crash_at)
    assert first.returncode == -9, first.stderr
    run_dir = out / "v"
    before = digest_files(run_dir)
    with socket.create_server(("127.0.0.1", 0)) as probe:
        closed_port = probe.getsockname()[1]  # nothing listens there once it is closed
    dsn, secret = with_known_password(pg_env[DSN_ENV_VAR])
    down = make_conninfo(dsn, host="127.0.0.1", port=str(closed_port))
    resumed = cli("resume", run_dir, "-q", env={DSN_ENV_VAR: down})
    assert resumed.returncode == 2, resumed.stderr
    (line,) = resumed.stderr.splitlines()
    assert line.startswith(f"livesession: error: cannot resume run v: {said} (PostgreSQL at "), line
    assert "Connection refused" in line
    assert "; nothing was changed: resume again once " in line
    assert_hidden(secret, line, "the refusal")
    assert digest_files(run_dir) == before
    _admin(pg_env[DSN_ENV_VAR], "UPDATE livesession_lease SET expires_ns = 0")  # the killed one's
    resumed = cli("resume", run_dir, "-q", env=pg_env)
    assert resumed.returncode == 0, resumed.stderr
    assert max(submits_per_client_id(run_dir / "broker_journal.jsonl").values()) == 1


def test_a_session_dropped_unclosed_closes_its_lease_connection(tmp_path, pg_env, monkeypatch):
    """Bug: an application's session on ``store="postgres"`` dropped without ``close()`` (its
    handler raised) let go of its files, its store and its run when it was collected, but
    not of its lease's connection: the connection, and the thread that bounds its calls
    (``livesession-pg-deadline``), which refers to it, stayed open for the life of the
    process, one more for each such session. A collected session closes its lease's
    connection now (the lease stays held, as a crash leaves it, for the resume to take)."""
    monkeypatch.setenv(DSN_ENV_VAR, pg_env[DSN_ENV_VAR])
    cfg = DryrunConfig(run_id="dropped", steps=60, checkpoint_every=10)
    watchdogs = dropped_unclosed(
        lambda: create_run(cfg, tmp_path, store="postgres", alerts=False), 25
    )
    until(
        "the dropped session's connection watchdog to end", lambda: watchdogs() == [], deadline_s=60
    )
    resumed = resume_run(tmp_path / "dropped", alerts=False)
    assert resumed.steps_done == 20  # its last checkpoint: the lease was its own to take
    assert resumed.run_to_end(60).status is SessionStatus.COMPLETED


def test_a_run_refused_a_held_lease_says_until_when(tmp_path, pg_env):
    """Bug: a new run refused because another host's session held the lease said only
    `another live session holds it (r1@host-a:4242, per PostgreSQL)`: one on host B cannot
    tell a live holder from one killed a moment ago, which keeps it until it expires, while
    `resume`'s refusal said until when. The line now says it too."""
    import time

    from livesession._domain import clock
    from livesession.leases import PostgresLease

    lease = PostgresLease(pg_env[DSN_ENV_VAR], "default", "sma_demo")
    try:
        assert lease.acquire("r1@host-a:4242", time.time_ns(), 3_600 * 10**9) is not None
    finally:
        lease.close()
    ((expires_ns,),) = _admin(pg_env[DSN_ENV_VAR], "SELECT expires_ns FROM livesession_lease")
    until = clock.format_utc(clock.from_epoch_ns(expires_ns))
    refused = cli(
        "dryrun", "--out", tmp_path, "--run-id", "r2", "--steps", "5", "-q", *PG, env=pg_env
    )
    assert refused.returncode == 3, refused.stderr
    (line,) = refused.stderr.splitlines()
    assert line == (
        "livesession: rejected: LEASE_HELD: lease of account 'default', strategy 'sma_demo': "
        "another live session holds it (r1@host-a:4242, per PostgreSQL) until "
        f"{until}, unless it renews it (a holder that was killed keeps it until then, "
        f"lease_ttl_ms=30000); sealed REJECTED, nothing traded: {tmp_path / 'r2'}"
    )
    # status reads no server: its lease line says never granted, and its next line said
    # `the lease line names it while it does`, which it never did of a PostgreSQL lease.
    said = dict(
        line.split(None, 1)
        for line in cli("status", tmp_path / "r2", env=pg_env).stdout.splitlines()
    )
    assert said["lease"].startswith("postgres: never granted to this run")
    assert said["next"] == (
        "another live session held its lease in PostgreSQL (the dryrun's refusal named it; "
        "status reads only the run's files, and its lease line says it was never granted): do "
        "not start a second one; start a new run once it ended (this one stays as evidence)"
    )
