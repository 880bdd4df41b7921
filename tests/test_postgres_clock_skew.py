"""A host whose wall clock is off the lease's PostgreSQL server's holds no lease there.

``PostgresLease`` keeps its times on each caller's clock. A second host whose clock ran
10 minutes ahead took the lease of a session that was renewing it on the first host, which
then stopped ``LEASE_LOST`` (a healthy run, sealed needing an operator); one 10 minutes
behind held a lease every other host read as expired. Such a host is refused before the
run exists (a resume: before it changes anything), naming both clocks.

Needs a server, like tests/test_postgres.py (skips without one unless
``LIVESESSION_REQUIRE_PG=1``). The host's wall clock is the system clock the CLI's lease
reads, moved here by a fixed offset (no wait).
"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from livesession import ConfigError, DryrunConfig, SessionStatus, create_run, resume_run
from livesession._domain import clock as _clock
from livesession.leases import PostgresLease
from livesession.stores.postgres import DSN_ENV_VAR
from test_lease_session import digest_files
from test_postgres import (  # noqa: F401 - the server fixtures
    _admin,
    _pg_dsn,
    _schema_dsn,
)

from _helpers import dropped_unclosed

pytestmark = pytest.mark.postgres

_REAL_NOW = _clock.SystemClock.now
_TTL_NS = 30 * 10**9  # lease_ttl_ms = 30000, the default


def _host_clock_off_by(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    """This process's wall clock (``SystemClock``, the CLI's lease clock) ``seconds`` off."""
    off = dt.timedelta(seconds=seconds)
    monkeypatch.setattr(_clock.SystemClock, "now", lambda self: _REAL_NOW(self) + off)


def _lease_row(dsn: str) -> list[tuple[object, ...]]:
    return _admin(dsn, "SELECT holder, token FROM livesession_lease ORDER BY account, strategy")


@pytest.mark.parametrize(("seconds", "said"), [(600, "ahead of"), (-600, "behind")])
def test_a_host_whose_clock_is_off_the_servers_takes_no_lease(
    tmp_path, schema_dsn, monkeypatch, seconds, said
):
    """Bug: with a session on host A holding the lease of (default, sma_demo) and renewing
    it, `livesession dryrun --store postgres` on host B, whose clock ran 10 minutes ahead,
    took the lease over at once (fence 2), and A stopped `LEASE_LOST`."""
    monkeypatch.setenv(DSN_ENV_VAR, schema_dsn)
    lease = PostgresLease(schema_dsn, "default", "sma_demo")
    try:  # host A's session, on the server's clock, renewing its lease
        assert lease.acquire("a@host-a:4242", _clock.epoch_ns(_REAL_NOW(None)), _TTL_NS)
    finally:
        lease.close()
    _host_clock_off_by(monkeypatch, seconds)
    cfg = DryrunConfig(run_id="b", steps=5)
    with pytest.raises(ConfigError) as refused:
        create_run(cfg, tmp_path, store="postgres", alerts=False)
    message = str(refused.value)
    assert "\n" not in message
    assert re.fullmatch(
        rf"this host's clock reads 10 min {said} the lease's PostgreSQL server's "
        r"\(\S+Z here, \S+Z there\), more than the 3\.8 s allowed \(an eighth of "
        r"lease_ttl_ms=30000\): the lease of account 'default', strategy 'sma_demo' is kept on "
        r"each host's own clock, so this host would take over the lease of a session that "
        r"still renews it, or have its own taken while it runs; nothing was changed: set this "
        r"host's clock right \(NTP\) first",
        message,
    ), message
    assert not (tmp_path / "b").exists()
    assert _lease_row(schema_dsn) == [("a@host-a:4242", 1)]  # A's still, not taken over


def test_a_resume_on_a_host_whose_clock_is_off_the_servers_changes_nothing(
    tmp_path, schema_dsn, monkeypatch
):
    """A crashed run resumed on a standby host whose clock is 10 minutes ahead would take
    its lease back at once and hold one the other hosts read as expired 10 minutes later."""
    monkeypatch.setenv(DSN_ENV_VAR, schema_dsn)
    cfg = DryrunConfig(run_id="crashed", steps=40, checkpoint_every=10)
    dropped_unclosed(lambda: create_run(cfg, tmp_path, store="postgres", alerts=False), 25)
    run_dir = tmp_path / "crashed"
    before, held = digest_files(run_dir), _lease_row(schema_dsn)
    _host_clock_off_by(monkeypatch, 600)
    with pytest.raises(ConfigError, match=r"^cannot resume run crashed: this host's clock reads"):
        resume_run(run_dir, alerts=False)
    assert (digest_files(run_dir), _lease_row(schema_dsn)) == (before, held)
    _host_clock_off_by(monkeypatch, 0)  # the clock set right: the resume goes on
    _admin(schema_dsn, "UPDATE livesession_lease SET expires_ns = 0")  # the crash's lease over
    with resume_run(run_dir, alerts=False) as resumed:
        assert resumed.run_to_end(40).status is SessionStatus.COMPLETED


def test_a_host_within_an_eighth_of_the_ttl_runs(tmp_path, schema_dsn, monkeypatch):
    """One second off with the default 30 s TTL (3.75 s allowed) is no reason to refuse."""
    monkeypatch.setenv(DSN_ENV_VAR, schema_dsn)
    _host_clock_off_by(monkeypatch, 1)
    cfg = DryrunConfig(run_id="near", steps=5)
    with create_run(cfg, tmp_path, store="postgres", alerts=False) as session:
        assert session.run_to_end(5).status is SessionStatus.COMPLETED
