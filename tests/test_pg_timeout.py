"""A PostgreSQL server that stops answering fails the call instead of hanging the session.

The stand-in for a stalled server is a loopback TCP server that completes the startup
handshake and then reads every query without ever answering (as a frozen host or a
``SIGSTOP``-ed postgres does: the kernel keeps the connection up). No real server needed.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading

import pytest

from livesession._exceptions import CheckpointError, ConfigError, LeaseError, PostgresError
from livesession._postgres.deadline import (
    DEFAULT_TIMEOUT_S,
    TIMEOUT_ENV_VAR,
    CallDeadline,
    pg_timeout_from_env,
)
from livesession.leases import PostgresLease
from livesession.stores.postgres import (
    DSN_ENV_VAR,
    PostgresCheckpointStore,
    PostgresIdempotencyStore,
)
from test_lease_session import cli

BOUND_S = 0.3
_SSL_OR_GSS = (80877103, 80877104)
_PARAMETERS = {
    "server_version": "16.0",
    "server_encoding": "UTF8",
    "client_encoding": "UTF8",
    "DateStyle": "ISO, MDY",
    "integer_datetimes": "on",
    "standard_conforming_strings": "on",
}


def _message(kind: bytes, body: bytes) -> bytes:
    return kind + struct.pack("!i", len(body) + 4) + body


def _read_exact(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            raise ConnectionError
        data += chunk
    return data


def _greet(conn: socket.socket) -> None:
    """Answer the startup as a trusting server would, then go silent."""
    while True:
        (length,) = struct.unpack("!i", _read_exact(conn, 4))
        body = _read_exact(conn, length - 4)
        if struct.unpack("!i", body[:4])[0] in _SSL_OR_GSS:
            conn.sendall(b"N")
            continue
        break
    reply = _message(b"R", struct.pack("!i", 0))
    for name, value in _PARAMETERS.items():
        reply += _message(b"S", name.encode() + b"\0" + value.encode() + b"\0")
    reply += _message(b"K", struct.pack("!ii", 4242, 1234))
    reply += _message(b"Z", b"I")
    conn.sendall(reply)


class StalledServer:
    """Accepts, completes the handshake, then reads and never answers."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.queries_seen = threading.Event()
        self._conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def dsn(self) -> str:
        return (
            f"postgresql://livesession@127.0.0.1:{self.port}/livesession"
            "?sslmode=disable&gssencmode=disable&connect_timeout=5"
        )

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            self._conns.append(conn)
            threading.Thread(target=self._stall, args=(conn,), daemon=True).start()

    def _stall(self, conn: socket.socket) -> None:
        try:
            _greet(conn)
            while conn.recv(65536):
                self.queries_seen.set()
        except OSError:
            return

    def close(self) -> None:
        """Stop serving: the accepting thread ends (closing the socket alone left it blocked
        in ``accept``, and the port listening, for the rest of the worker's tests)."""
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the accept (Linux)
        self._listener.close()
        for conn in self._conns:
            conn.close()
        self._thread.join(10)


@pytest.fixture(name="stalled")
def _stalled():
    pytest.importorskip("psycopg")
    server = StalledServer()
    yield server
    server.close()


@pytest.mark.parametrize(
    ("open_backend", "error"),
    [
        (
            lambda dsn: PostgresIdempotencyStore(dsn, namespace="n", timeout_s=BOUND_S),
            PostgresError,
        ),
        (lambda dsn: PostgresCheckpointStore(dsn, run_key="r", timeout_s=BOUND_S), CheckpointError),
        (lambda dsn: PostgresLease(dsn, "acct", "strat", timeout_s=BOUND_S), LeaseError),
    ],
    ids=["idempotency", "checkpoint", "lease"],
)
def test_a_server_that_never_answers_fails_the_call(stalled, open_backend, error):
    """The first statement gets no answer: the bound ends it with the backend's own error."""
    with pytest.raises(error) as caught:
        open_backend(stalled.dsn)
    # It did reach the server, which stayed silent. Waited for: the server's thread, woken
    # by the query, may run only after the bound cut the call on a loaded machine.
    assert stalled.queries_seen.wait(30)
    message = str(caught.value)
    assert f"no answer within {BOUND_S:g} s ({TIMEOUT_ENV_VAR})" in message
    assert "livesession@127.0.0.1" in message
    assert "\n" not in message
    assert caught.value.__cause__ is None


def test_the_deadline_cuts_only_a_call_that_outlives_it():
    """A call that ends in time leaves the socket alone; the bound restarts with each call.

    The calls in time run under a 30 s bound, the stalled one under BOUND_S, on the same
    watchdog: under BOUND_S itself, a call a loaded machine paused for 0.3 s was cut."""
    left, right = socket.socketpair()
    with left, right:
        deadline = CallDeadline(30.0, left.fileno)
        for _ in range(3):
            with deadline.bound():
                right.sendall(b"x")
                assert left.recv(1) == b"x"
        assert not deadline.expired
        deadline.timeout_s = BOUND_S
        with deadline.bound():
            assert left.recv(1) == b""  # blocked until the watchdog shut the socket down
        assert deadline.expired
        deadline.stop()


def test_the_bound_comes_from_the_environment():
    assert pg_timeout_from_env({}) == DEFAULT_TIMEOUT_S
    assert pg_timeout_from_env({TIMEOUT_ENV_VAR: " "}) == DEFAULT_TIMEOUT_S
    assert pg_timeout_from_env({TIMEOUT_ENV_VAR: "2.5"}) == 2.5
    for bad in ("0", "-1", "soon", "nan", "inf", "3601"):
        with pytest.raises(ConfigError, match=f"{TIMEOUT_ENV_VAR} must be a number of seconds"):
            pg_timeout_from_env({TIMEOUT_ENV_VAR: bad})


def test_a_bad_bound_is_refused_before_the_run_exists(tmp_path):
    """dryrun --store postgres with a bad LIVESESSION_PG_TIMEOUT: exit 2, one line, no run."""
    env = {DSN_ENV_VAR: "postgresql://livesession@127.0.0.1:1/x", TIMEOUT_ENV_VAR: "soon"}
    done = cli("dryrun", "--out", tmp_path / "runs", "--store", "postgres", "-q", env=env)
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0
    assert TIMEOUT_ENV_VAR in done.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


class SilentListener:
    """Accepts a connection and never says a word: a frozen server, before its handshake."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]

    def close(self) -> None:
        self._listener.close()  # a connect still waiting meets the closed socket and ends


@pytest.mark.parametrize("given", ["", "&connect_timeout=0", "&connect_timeout=-1"])
def test_a_connect_to_a_silent_server_ends_within_the_bound(given):
    """Bug: a DSN with `connect_timeout=0` (libpq's "wait indefinitely") left the session
    waiting on a server that accepted and never answered: psycopg's 130 s for each try,
    though every call is bounded. The connect now waits as long as a call (libpq's whole
    seconds, at least 2), as a DSN without `connect_timeout` does."""
    pytest.importorskip("psycopg")
    silent = SilentListener()
    dsn = (
        f"postgresql://livesession@127.0.0.1:{silent.port}/livesession"
        f"?sslmode=disable&gssencmode=disable{given}"
    )
    caught: list[BaseException] = []

    def open_lease() -> None:
        try:
            PostgresLease(dsn, "acct", "strat", timeout_s=BOUND_S).close()
        except LeaseError as exc:
            caught.append(exc)

    opening = threading.Thread(target=open_lease, daemon=True)
    try:
        opening.start()
        opening.join(30)  # 2 s with the bound; 130 s without
        assert not opening.is_alive(), "the connect still waits on a server that never answers"
    finally:
        silent.close()
        opening.join(140)
    assert len(caught) == 1
    assert "failed while connecting for the session lease: connection timeout expired" in str(
        caught[0]
    )
