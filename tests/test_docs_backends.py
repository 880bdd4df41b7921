"""The python blocks of docs/postgres.md and docs/ccxt.md run as written, on loopback only.

docs/postgres.md's run against the tests' PostgreSQL server (``LIVESESSION_PG_DSN``, a
schema of their own: ``test_postgres``'s fixtures, which skip without a server unless
``LIVESESSION_REQUIRE_PG=1``). docs/ccxt.md's run against the loopback fake of Binance's
testnet (``fake_binance``): the public ``make_ccxt_broker`` is wrapped, as
``_ccxt_route`` wraps the CLI's, to mount the loopback route on each exchange's session,
so the block's own credentials, URLs and requests are ccxt's and no real venue is asked.
"""

from __future__ import annotations

from typing import Any

import pytest

import livesession
from test_docs import ROOT, _python_blocks, _run
from test_postgres import _admin, _pg_dsn, _schema_dsn  # noqa: F401 - the server fixtures

from fake_binance import TEST_API_KEY, TEST_API_SECRET, TESTNET_PREFIX, FakeBinance, LoopbackRoute


@pytest.mark.postgres
def test_every_python_block_of_the_postgres_page_runs(tmp_path, schema_dsn):
    """Bug: the lease block used ``dsn``, ``holder_id``, ``now_ns`` and ``ttl_ns`` that it
    never set (``NameError: name 'dsn' is not defined``), and its ``FileLease`` at
    ``/var/lib/livesession`` replaced the ``PostgresLease`` before either was used. Each
    block runs on its own now, against the server the DSN names."""
    import os

    from livesession.stores.postgres import DSN_ENV_VAR

    blocks = _python_blocks(ROOT / "docs" / "postgres.md")
    assert len(blocks) == 2
    env = os.environ | {DSN_ENV_VAR: schema_dsn}
    outputs = []
    for code in blocks:
        proc = _run(code, tmp_path, env=env)
        assert proc.returncode == 0, f"docs/postgres.md:\n{code}\n{proc.stderr}"
        outputs.append(proc.stdout)
    tables = {row[0] for row in _admin(schema_dsn, "SELECT tablename FROM pg_tables")}
    assert {"livesession_idempotency", "livesession_checkpoint", "livesession_lease"} <= tables
    assert outputs[1].splitlines() == [
        "PostgresLease fencing token 1 renewed True",
        "FileLease fencing token 1 renewed True",
    ]
    assert _admin(schema_dsn, "SELECT holder, token FROM livesession_lease")[0][1] == 1


def test_every_python_block_of_the_ccxt_page_runs_on_the_loopback_venue(
    monkeypatch, capsys, fake: FakeBinance
):
    """docs/ccxt.md's block builds a broker from the environment and runs its preflight:
    here on the loopback Binance, whose requests the route takes before any connection to
    the testnet host (``_netguard`` refuses any other). Its loop left each check unsaid
    (``...``); it prints each now, and every one passes."""
    monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("LIVESESSION_BINANCE_API_SECRET", TEST_API_SECRET)
    route = LoopbackRoute(fake.port)
    built = livesession.make_ccxt_broker

    def loopback_broker(exchange_id: str, **options: Any) -> Any:
        mount = {"session_hook": lambda session: session.mount(TESTNET_PREFIX, route)}
        return built(exchange_id, **(options | mount | {"enable_rate_limit": False}))

    monkeypatch.setattr(livesession, "make_ccxt_broker", loopback_broker)
    (code,) = _python_blocks(ROOT / "docs" / "ccxt.md")
    exec(compile(code, "docs/ccxt.md", "exec"), {"__name__": "__main__"})  # noqa: S102
    assert capsys.readouterr().out.splitlines() == [
        "sandbox_verified ok",
        "markets_loaded ok",
        "symbols_listed ok",
        "balance_fetch ok",
    ]
    assert set(route.hosts) == {"testnet.binance.vision"}  # asked, and only the testnet
    assert fake.created == {}  # the preflight reads; it sends no order
