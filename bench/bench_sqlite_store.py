"""Throughput of the SQLite idempotency store next to raw INSERT OR IGNORE.

Both run in the same process, on the same database file, with the same connection
pragmas (WAL, synchronous=FULL, autocommit), so the ratio shows what the store adds on top
of SQLite's own per-commit cost. A store "op" is one reserve plus one complete: two durable
commits. Figures depend on the disk's fsync latency; nothing here asserts a speed.

    python bench/bench_sqlite_store.py --n 20000
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
from pathlib import Path

from livesession._domain.clock import wall_ns
from livesession.stores.sqlite import SqliteIdempotencyStore, connect

FINGERPRINT = "f" * 64


def bench_store(store: SqliteIdempotencyStore, keys: range) -> int:
    """Nanoseconds for one reserve plus one complete per key."""
    start = wall_ns()
    for index in keys:
        key = f"store-{index:08d}"
        store.reserve(key, FINGERPRINT)
        store.complete(key, "FILLED")
    return wall_ns() - start


def bench_raw(connection: sqlite3.Connection, keys: range) -> int:
    """Nanoseconds for one bare INSERT OR IGNORE per key."""
    start = wall_ns()
    for index in keys:
        connection.execute(
            "INSERT OR IGNORE INTO raw (key, fingerprint) VALUES (?, ?)",
            (f"raw-{index:08d}", FINGERPRINT),
        )
    return wall_ns() - start


def run(path: Path, n: int, rounds: int) -> tuple[int, int]:
    """Total nanoseconds (raw, store), measured in interleaved rounds.

    Interleaving spreads any drift in machine load evenly over both cases.
    """
    store = SqliteIdempotencyStore(path)
    connection = connect(path)
    try:
        connection.execute(
            "CREATE TABLE IF NOT EXISTS raw (key TEXT PRIMARY KEY NOT NULL, "
            "fingerprint TEXT NOT NULL, outcome TEXT) WITHOUT ROWID"
        )
        raw_ns = store_ns = 0
        bounds = [n * r // rounds for r in range(rounds + 1)]
        for r in range(rounds):
            keys = range(bounds[r], bounds[r + 1])
            if r % 2:
                store_ns += bench_store(store, keys)
                raw_ns += bench_raw(connection, keys)
            else:
                raw_ns += bench_raw(connection, keys)
                store_ns += bench_store(store, keys)
        return raw_ns, store_ns
    finally:
        connection.close()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="operations per case")
    parser.add_argument("--rounds", type=int, default=10, help="interleaved rounds (default 10)")
    parser.add_argument("--dir", type=Path, default=None, help="where to put the database")
    args = parser.parse_args()
    if args.n < 1 or not 1 <= args.rounds <= args.n:
        parser.error("--n must be >= 1 and --rounds between 1 and --n")

    with tempfile.TemporaryDirectory(dir=args.dir) as directory:
        raw_ns, store_ns = run(Path(directory) / "bench.sqlite", args.n, args.rounds)

    raw_rate = args.n / (raw_ns / 1e9)
    store_rate = args.n / (store_ns / 1e9)
    print(f"SQLite idempotency store, n={args.n}, WAL + synchronous=FULL, one commit per statement")
    print(f"{'case':<28} {'commits/op':>10} {'seconds':>9} {'ops/s':>10} {'us/op':>9}")
    for name, commits, elapsed_ns, rate in (
        ("raw INSERT OR IGNORE", 1, raw_ns, raw_rate),
        ("store reserve+complete", 2, store_ns, store_rate),
    ):
        print(
            f"{name:<28} {commits:>10} {elapsed_ns / 1e9:>9.3f} {rate:>10.0f} "
            f"{elapsed_ns / args.n / 1e3:>9.1f}"
        )
    print(f"ratio store/raw ops/s: {store_rate / raw_rate:.2f} (2 commits per store op vs 1)")


if __name__ == "__main__":
    main()
