"""``livesession dryrun --store postgres``: the lease and idempotency keys in PostgreSQL.

Needs a server, like tests/test_postgres.py: skips without one unless
``LIVESESSION_REQUIRE_PG=1``. Each test works in a schema of its own (passed to the CLI
through ``LIVESESSION_PG_DSN``'s ``search_path``), dropped afterwards.
"""

from __future__ import annotations

import pytest

from livesession.stores.postgres import DSN_ENV_VAR
from test_lease_session import cli, fences, kill_and_take_over, race_four
from test_postgres import (  # noqa: F401 - the server fixtures
    _admin,
    _pg_dsn,
    _schema_dsn,
    assert_hidden,
    with_known_password,
)

pytestmark = pytest.mark.postgres


@pytest.fixture(name="pg_env")
def _pg_env(schema_dsn):
    return {DSN_ENV_VAR: schema_dsn}


def test_four_processes_one_session_postgres(tmp_path, pg_env):
    race_four(tmp_path / "runs", ["--store", "postgres"], env=pg_env)
    assert not (tmp_path / "runs" / ".leases").exists()


def test_killed_holder_is_taken_over_by_resume_postgres(tmp_path, pg_env):
    run_dir = kill_and_take_over(tmp_path, ["--store", "postgres"], env=pg_env)
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
