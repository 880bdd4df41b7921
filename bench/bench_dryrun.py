"""Dry-run throughput next to the raw write limit, measured in the same run.

The run: a mock-broker dry run with the demo strategy through ``create_run`` (file sinks,
checkpoints every ``--checkpoint-every`` steps), ``durability`` as given.
The raw limit: the same event and audit lines, with the same content, serialised with orjson
(sorted keys), hash-chained (SHA-256 of each line) and written through a buffered file,
with no orchestration.

    python bench/bench_dryrun.py --steps 100000
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import orjson

from livesession import DryrunConfig
from livesession._rundir import create_run

OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def run_session(
    out: Path, steps: int, durability: str, checkpoint_every: int
) -> tuple[float, int, int]:
    cfg = DryrunConfig(
        run_id="bench",
        steps=steps,
        max_steps=max(steps, 1),
        durability=durability,
        checkpoint_every=checkpoint_every,
    )
    session = create_run(cfg, out, idempotency_backend="sqlite")
    started = time.perf_counter()
    session.run_to_end(steps)
    elapsed = time.perf_counter() - started
    return elapsed, session.recorder.event_seq, session.steps_done


def raw_limit(run_dir: Path, out: Path) -> tuple[float, int]:
    """Serialise, hash-chain and write the run's event and audit lines with no orchestration."""
    records = [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    records += [orjson.loads(line) for line in (run_dir / "audit.jsonl").read_bytes().splitlines()]
    started = time.perf_counter()
    prev = "0" * 64
    with (out / "raw.jsonl").open("wb", buffering=1 << 16) as f:
        for record in records:
            record["prev_hash"] = prev
            line = orjson.dumps(record, option=OPTS)
            prev = hashlib.sha256(line[:-1]).hexdigest()
            f.write(line)
    return time.perf_counter() - started, len(records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--durability", choices=("none", "step", "event"), default="none")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dryrun-") as tmp:
        out = Path(tmp)
        elapsed, events, steps = run_session(
            out, args.steps, args.durability, args.checkpoint_every
        )
        raw_s, raw_lines = raw_limit(out / "bench", out)
    events_per_s = events / elapsed
    raw_per_s = raw_lines / raw_s
    print(
        f"dry run    {steps} steps, {events} events, durability={args.durability}, checkpoint_every={args.checkpoint_every}"
    )
    print(
        f"session    {elapsed:8.3f} s   {steps / elapsed:12,.0f} steps/s   {events_per_s:12,.0f} events/s"
    )
    print(f"raw limit  {raw_s:8.3f} s   {raw_lines} lines            {raw_per_s:12,.0f} lines/s")
    print(f"ratio      {events_per_s / raw_per_s:.3f} (session events/s / raw lines/s)")


if __name__ == "__main__":
    main()
