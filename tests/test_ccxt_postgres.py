"""A ``ccxt:`` run with ``--store postgres`` killed on one host and resumed on another.

The idempotency keys and the lease live in PostgreSQL, so the resume may come up on
another host (on the run directory both mount). The venue is the loopback
``fake_binance.FakeBinance`` (``_ccxt_route``); the crashed run is a child process killed
at a crash point, and its lease, which a killed holder keeps until it expires, is expired
in the table rather than waited for.

Bug: with ``--store postgres`` the resume did not look up the orders the crashed process
sent after its checkpoint (``C2_RESUME``'s ``after_checkpoint`` was null, where the same
run with the default sqlite store listed them): the session wraps a fenced store so that a
refused write loses the lease, and the wrapper did not list the keys. A resumed run
stopped before its re-run reached such an order did not adopt nor flatten it: its book
empty, the venue holding the 0.010 BTC the crashed process had bought, it sealed FAILED
``RECONCILE_MISMATCH`` for an operator, where a local store's run adopts the order and
flattens it.
"""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

pytest.importorskip("ccxt")
pytest.importorskip("requests")
pytest.importorskip("psycopg")

from livesession import SessionStatus
from livesession._domain import clock as _clock
from livesession.cli import main
from livesession.stores.postgres import DSN_ENV_VAR
from test_postgres import _admin, _pg_dsn, _schema_dsn  # noqa: F401 - the server fixtures

from _ccxt_route import (
    events,
    jsonl,
    killed_after_its_first_order,
    resume_record,
    resumed_then_stopped,
    route_to,
    tree,
)

pytestmark = [pytest.mark.ccxt, pytest.mark.postgres]

D = Decimal
HOST_B = "host-b"


@pytest.fixture(name="killed")
def _killed(fake, tmp_path, monkeypatch, schema_dsn):
    """A ``--store postgres`` ccxt run killed right after its first order (filled at the
    venue) was sent, its lease still live; this process is "another host", routed to the
    fake. Returns the run directory and the order's client order id.
    """
    monkeypatch.setenv(DSN_ENV_VAR, schema_dsn)
    run_dir, sent = killed_after_its_first_order(fake, tmp_path, "hop", "--store", "postgres")
    monkeypatch.setattr(socket, "gethostname", lambda: HOST_B)
    route_to(fake, monkeypatch)
    return run_dir, sent


@pytest.fixture(name="crashed")
def _crashed(killed, schema_dsn):
    """``killed``, its lease expired (as if waited for)."""
    _admin(schema_dsn, "UPDATE livesession_lease SET expires_ns = 0")
    return killed


class TestSentAfterTheCheckpoint:
    """The order the crashed process sent after its checkpoint is looked up before the
    first step, as with the local stores."""

    def test_a_stop_at_once_adopts_the_order_and_flattens_it(self, crashed, fake):
        run_dir, sent = crashed
        result = resumed_then_stopped(run_dir, sent)  # looked up, adopted, flattened
        assert (result.status, result.steps) == (SessionStatus.COMPLETED, 0)
        assert fake.created[sent] == 1
        assert fake.free("BTC") == D(1)  # the venue is flat again
        audit = jsonl(run_dir / "audit.jsonl")
        grants = [r["payload"] for r in audit if r["code"] == "C2_LEASE_ACQUIRED"]
        assert [g["fence"] for g in grants] == [1, 2]
        assert grants[1]["holder"].startswith(f"hop@{HOST_B}:")

    def test_the_re_run_sends_nothing_twice_through_the_cli(self, crashed, fake, capsys):
        run_dir, sent = crashed
        assert main(["resume", str(run_dir), "-q"]) == 0, capsys.readouterr().err
        assert resume_record(run_dir)["after_checkpoint"] == [
            {"client_order_id": sent, "venue_status": "FILLED"}
        ]
        cids = [o["client_order_id"] for o in events(run_dir, "ORDER_SUBMITTED")]
        assert len(cids) == len(set(cids))
        assert dict(fake.created) == dict.fromkeys(cids, 1)
        assert main(["verify", str(run_dir)]) == 0


class TestTheKilledHoldersLease:
    """A resume on another host while the killed process's lease is live: refused, nothing
    changed, saying that this host cannot tell whether that process still runs.

    Bug: the line said ``most likely this run's own process before the crash: a holder
    that ended without letting it go (killed, ...) keeps it until it expires``, as on the
    holder's own host: on another host the process may as well still run (its run
    directory's lock unseen there), renewing the lease, and the resume is refused again.
    """

    @pytest.mark.broken_run("the crashed run is refused by resume while its lease is live")
    def test_the_refusal_names_the_other_host(self, killed, fake, schema_dsn, capsys):
        run_dir, _ = killed
        ((holder, expires_ns),) = _admin(
            schema_dsn, "SELECT holder, expires_ns FROM livesession_lease"
        )
        host = holder.removeprefix("hop@").rpartition(":")[0]
        assert host not in ("", HOST_B)
        until = _clock.format_utc(_clock.from_epoch_ns(expires_ns))
        before, asked = tree(run_dir), len(fake.requests)
        capsys.readouterr()

        assert main(["resume", str(run_dir), "-q"]) == 3
        refusal = (
            f"livesession: rejected: cannot resume run hop: the lease of account 'default', "
            f"strategy 'sma_demo' is still held by {holder}, this run's own process on another "
            f"host, {host}, which cannot be asked from here whether it still runs: killed, it "
            f"keeps the lease until it expires, at {until} (lease_ttl_ms=30000); running, it "
            f"renews the lease and resume is refused again (LEASE_HELD); nothing was changed: "
            f"make sure it no longer runs on {host}, then resume again after {until}"
        )
        assert capsys.readouterr().err.splitlines() == [refusal]
        assert tree(run_dir) == before
        assert len(fake.requests) == asked  # nothing built, nothing asked
