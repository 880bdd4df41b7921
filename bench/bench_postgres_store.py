"""Throughput of the PostgreSQL idempotency store next to raw INSERT ... ON CONFLICT.

All cases run in one process, against the same server and the same table, each on its own
autocommit connection with ``synchronous_commit = on``, so the ratios show what the store
adds on top of PostgreSQL's own per-commit cost. A store "op" is one reserve plus one
complete: two durable commits. The third case issues the same two statements by hand, so
store vs. that case is the library's own overhead. The bench works in a fresh schema that
it drops afterwards. Figures depend on fsync latency and machine load; nothing here
asserts a speed.

    eval "$(bash .ci/setup_postgres.sh)"
    python bench/bench_postgres_store.py --n 5000
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from typing import Any

from livesession._domain.clock import wall_ns
from livesession._exceptions import LiveSessionError
from livesession.stores.postgres import (
    PostgresIdempotencyStore,
    describe_dsn,
    pg_dsn_from_env,
)

FINGERPRINT = "f" * 64
TABLE = "livesession_idempotency"


def bench_store(store: PostgresIdempotencyStore, keys: range) -> int:
    """Nanoseconds for one reserve plus one complete per key."""
    start = wall_ns()
    for index in keys:
        key = f"store-{index:08d}"
        store.reserve(key, FINGERPRINT)
        store.complete(key, "FILLED")
    return wall_ns() - start


def bench_raw_insert(cursor: Any, keys: range) -> int:
    """Nanoseconds for one bare INSERT ... ON CONFLICT DO NOTHING per key."""
    start = wall_ns()
    for index in keys:
        cursor.execute(
            f"INSERT INTO {TABLE} (namespace, key, fingerprint) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            ("bench-raw", f"raw-{index:08d}", FINGERPRINT),
        )
    return wall_ns() - start


def bench_raw_pair(cursor: Any, keys: range) -> int:
    """Nanoseconds for the store's two statements (insert, update) issued by hand."""
    start = wall_ns()
    for index in keys:
        key = f"pair-{index:08d}"
        cursor.execute(
            f"INSERT INTO {TABLE} (namespace, key, fingerprint) VALUES (%s, %s, %s) "
            "ON CONFLICT DO NOTHING",
            ("bench-pair", key, FINGERPRINT),
        )
        cursor.execute(
            f"UPDATE {TABLE} SET outcome = %s, completed_at = now() "
            "WHERE namespace = %s AND key = %s",
            ("FILLED", "bench-pair", key),
        )
    return wall_ns() - start


def run(dsn: str, n: int, rounds: int) -> tuple[dict[str, int], dict[str, str]]:
    """Total nanoseconds per case, measured in interleaved rounds, and server settings.

    Interleaving (the case order rotates every round) spreads drift in machine load
    evenly over the cases.
    """
    import psycopg
    from psycopg import sql
    from psycopg.conninfo import make_conninfo

    schema = f"lsbench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    bench_dsn = make_conninfo(dsn, options=f"-c search_path={schema}")
    try:
        store = PostgresIdempotencyStore(bench_dsn, namespace="bench-store")
        raw = psycopg.connect(bench_dsn, autocommit=True)
        try:
            cursor = raw.cursor()
            cursor.execute("SET synchronous_commit = on")
            settings = {
                name: str(
                    cursor.execute(sql.SQL("SHOW {}").format(sql.Identifier(name))).fetchone()[0]
                )
                for name in ("server_version", "fsync", "synchronous_commit", "wal_sync_method")
            }
            cases = {
                "raw INSERT ON CONFLICT": lambda keys: bench_raw_insert(cursor, keys),
                "raw INSERT + UPDATE": lambda keys: bench_raw_pair(cursor, keys),
                "store reserve+complete": lambda keys: bench_store(store, keys),
            }
            totals = dict.fromkeys(cases, 0)
            names = list(cases)
            bounds = [n * r // rounds for r in range(rounds + 1)]
            for r in range(rounds):
                keys = range(bounds[r], bounds[r + 1])
                for name in names[r % 3 :] + names[: r % 3]:
                    totals[name] += cases[name](keys)
        finally:
            raw.close()
            store.close()
    finally:
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    return totals, settings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=5000, help="operations per case (default 5000)")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    args = parser.parse_args()
    if args.n < 1 or not 1 <= args.rounds <= args.n:
        parser.error("--n must be >= 1 and --rounds between 1 and --n")
    try:
        dsn = pg_dsn_from_env(os.environ)  # a Secret: its text goes to psycopg directly here
        totals, settings = run(dsn.reveal(), args.n, args.rounds)
    except LiveSessionError as exc:
        sys.exit(f"bench_postgres_store: {exc}")

    rates = {name: args.n / (elapsed / 1e9) for name, elapsed in totals.items()}
    print(
        f"PostgreSQL idempotency store at {describe_dsn(dsn)}, n={args.n}, one commit per "
        f"statement; server {settings['server_version']}, fsync={settings['fsync']}, "
        f"synchronous_commit={settings['synchronous_commit']}, "
        f"wal_sync_method={settings['wal_sync_method']}"
    )
    print(f"{'case':<26} {'commits/op':>10} {'seconds':>9} {'ops/s':>10} {'us/op':>9}")
    commits = {"raw INSERT ON CONFLICT": 1, "raw INSERT + UPDATE": 2, "store reserve+complete": 2}
    for name, elapsed in totals.items():
        print(
            f"{name:<26} {commits[name]:>10} {elapsed / 1e9:>9.3f} {rates[name]:>10.0f} "
            f"{elapsed / args.n / 1e3:>9.1f}"
        )
    store_rate = rates["store reserve+complete"]
    print(
        f"ratio store/raw INSERT ops/s: {store_rate / rates['raw INSERT ON CONFLICT']:.2f} "
        "(2 commits per store op vs 1)"
    )
    print(
        f"ratio store/raw INSERT + UPDATE ops/s: "
        f"{store_rate / rates['raw INSERT + UPDATE']:.2f} (same statements: the library's overhead)"
    )


if __name__ == "__main__":
    main()
