"""Dry-run throughput next to the raw write limit, measured in the same run.

The run: a mock-broker dry run with the demo strategy through ``create_run`` (file sinks,
checkpoints every ``--checkpoint-every`` steps), ``durability`` as given.
The raw limit: the same event and audit lines, with the same content, serialised with orjson
(sorted keys), hash-chained (SHA-256 of each line) and written through a buffered file,
with no orchestration.
The floor: what any implementation must do per bar to write this run's BAR lines, inline
with no orchestration at all: the feed's one SHA-256 (a bar's four draws), the price
arithmetic in integer ticks, the payload text, the SHA-256 event id, the line, the running digest and
the buffered write. Its lines are checked byte for byte against the session's, and it is
set beside the raw limit of the same lines: the best ratio pure Python could reach.

    python bench/bench_dryrun.py --steps 100000
"""

from __future__ import annotations

import argparse
import hashlib
import struct
import tempfile
import time
from pathlib import Path

import orjson

from livesession import DryrunConfig
from livesession._domain.ids import stable_id
from livesession._market.feeds import _Grid
from livesession._rundir import create_run

OPTS = orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE


def bench_config(steps: int, durability: str, checkpoint_every: int) -> DryrunConfig:
    return DryrunConfig(
        run_id="bench",
        steps=steps,
        max_steps=max(steps, 1),
        durability=durability,
        checkpoint_every=checkpoint_every,
    )


def run_session(out: Path, cfg: DryrunConfig) -> tuple[float, int, int]:
    session = create_run(cfg, out, idempotency_backend="sqlite")
    started = time.perf_counter()
    session.run_to_end(cfg.steps)
    elapsed = time.perf_counter() - started
    return elapsed, session.recorder.event_seq, session.steps_done


def raw_limit(run_dir: Path, out: Path) -> tuple[float, int]:
    """Serialise, hash-chain and write the run's event and audit lines with no orchestration."""
    records = [orjson.loads(line) for line in (run_dir / "events.jsonl").read_bytes().splitlines()]
    records += [orjson.loads(line) for line in (run_dir / "audit.jsonl").read_bytes().splitlines()]
    return _raw_write(records, out / "raw.jsonl"), len(records)


def _raw_write(records: list[dict[str, object]], path: Path) -> float:
    started = time.perf_counter()
    prev = "0" * 64
    with path.open("wb", buffering=1 << 16) as f:
        for record in records:
            record["prev_hash"] = prev
            line = orjson.dumps(record, option=OPTS)
            prev = hashlib.sha256(line[:-1]).hexdigest()
            f.write(line)
    return time.perf_counter() - started


def floor_limit(run_dir: Path, cfg: DryrunConfig, out: Path) -> tuple[float, float, int]:  # noqa: PLR0915 - unrolled on purpose: the floor pays for no calls
    """The irreducible per-bar work, inline; returns (floor s, raw s of the same lines, bars)."""
    bars = [
        line
        for line in (run_dir / "events.jsonl").read_bytes().splitlines(keepends=True)
        if b'"event_type":"BAR"' in line
    ]
    stamps = [orjson.loads(line) for line in bars]
    times = [(b"%d" % r["seq"], b"%d" % r["ts_sim"], r["ts_utc"].encode()) for r in stamps]
    price, lot = _Grid.of(cfg.price_tick), _Grid.of(cfg.qty_lot)
    if price is None or lot is None or not price.exponent or not lot.exponent:
        raise SystemExit("the floor needs a tick and a lot the integer walk handles")
    p_places, l_places = -price.exponent, -lot.exponent
    p_div, l_div = 10**p_places, 10**l_places
    base = hashlib.sha256(stable_id(cfg.seed, f"feed:{cfg.symbol}").encode("ascii"))
    vol, wick, step, lot_step = cfg.volatility_bps, cfg.volatility_bps // 2, price.step, lot.step
    units = price.units(cfg.initial_price)
    head = b"".join(
        (b"[", orjson.dumps(cfg.run_id), b",", orjson.dumps(cfg.strategy_id), b',"BAR",')
    )
    p_num, l_num = b"%%d.%%0%dd" % p_places, b"%%d.%%0%dd" % l_places
    symbol = orjson.dumps(cfg.symbol).replace(b"%", b"%%")
    template = b"".join(
        (
            b'{"close":"', p_num, b'","high":"', p_num, b'","low":"', p_num, b'","open":"',
            p_num, b'","symbol":', symbol, b',"volume":"', l_num, b'"}',
        )
    )  # fmt: skip
    strategy = orjson.dumps(cfg.strategy_id)
    mid = b',"run_id":' + orjson.dumps(cfg.run_id) + b',"schema":"C2_DRYRUN_V1","seq":'
    digest = hashlib.sha256()
    four_u64 = struct.Struct(">4Q").unpack
    counter = 0
    started = time.perf_counter()
    with (out / "floor.jsonl").open("wb", buffering=1 << 16) as f:
        for seq, ts_sim, ts_utc in times:
            h = base.copy()
            h.update(counter.to_bytes(8, "big"))
            d_move, d_up, d_down, d_volume = four_u64(h.digest())
            counter += 1
            move = d_move % (2 * vol + 1) - vol
            open_ = units
            q, r = divmod(open_ * (10_000 + move), 10_000 * step)
            if 2 * r > 10_000 * step or (2 * r == 10_000 * step and q & 1):
                q += 1
            close = max(q * step, step)
            q, r = divmod(max(open_, close) * (10_000 + d_up % (wick + 1)), 10_000 * step)
            if 2 * r > 10_000 * step or (2 * r == 10_000 * step and q & 1):
                q += 1
            high = q * step
            q, r = divmod(min(open_, close) * (10_000 - d_down % (wick + 1)), 10_000 * step)
            if 2 * r > 10_000 * step or (2 * r == 10_000 * step and q & 1):
                q += 1
            low = max(q * step, step)
            units = close
            volume = lot_step * (1 + d_volume % 1000)
            payload = template % (
                close // p_div, close % p_div,
                high // p_div, high % p_div,
                low // p_div, low % p_div,
                open_ // p_div, open_ % p_div,
                volume // l_div, volume % l_div,
            )  # fmt: skip
            event_id = hashlib.sha256(b"".join((head, seq, b",", payload, b"]"))).hexdigest()[:24]
            line = b"".join(
                (
                    b'{"event_id":"', event_id.encode(), b'","event_type":"BAR","payload":',
                    payload, mid, seq, b',"strategy_id":', strategy, b',"ts_sim":', ts_sim,
                    b',"ts_utc":"', ts_utc, b'"}\n',
                )
            )  # fmt: skip
            digest.update(line)
            f.write(line)
    floor_s = time.perf_counter() - started
    if (out / "floor.jsonl").read_bytes() != b"".join(bars):
        raise SystemExit("the floor's lines differ from the session's BAR lines")
    raw_s = _raw_write(stamps, out / "raw-bars.jsonl")
    return floor_s, raw_s, len(bars)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--durability", choices=("none", "step", "event"), default="none")
    parser.add_argument("--checkpoint-every", type=int, default=1000)
    parser.add_argument(
        "--repeat", type=int, default=3, help="best of this many runs of each (default 3)"
    )
    args = parser.parse_args()
    if args.repeat < 1 or args.steps < 1:
        parser.error("--steps and --repeat must be at least 1")
    cfg = bench_config(args.steps, args.durability, args.checkpoint_every)
    with tempfile.TemporaryDirectory(prefix="bench-dryrun-") as tmp:
        results = []
        for i in range(args.repeat):
            out = Path(tmp) / f"r{i}"
            out.mkdir()
            results.append((*run_session(out, cfg), out))
        elapsed, events, steps, out = min(results, key=lambda r: r[0])
        raw_s, raw_lines = min(raw_limit(out / "bench", out) for _ in range(args.repeat))
        floors = [floor_limit(out / "bench", cfg, out) for _ in range(args.repeat)]
        floor_s = min(f[0] for f in floors)
        floor_raw_s = min(f[1] for f in floors)
        bars = floors[0][2]
    events_per_s = events / elapsed
    raw_per_s = raw_lines / raw_s
    print(
        f"dry run    {steps} steps, {events} events, durability={args.durability}, "
        f"checkpoint_every={args.checkpoint_every}, best of {args.repeat}"
    )
    print(
        f"session    {elapsed:8.3f} s   {steps / elapsed:12,.0f} steps/s   {events_per_s:12,.0f} events/s"
    )
    print(f"raw limit  {raw_s:8.3f} s   {raw_lines} lines            {raw_per_s:12,.0f} lines/s")
    print(f"ratio      {events_per_s / raw_per_s:.3f} (session events/s / raw lines/s)")
    print(
        f"floor      {floor_s:8.3f} s   {bars} BAR lines written inline "
        f"(byte-identical to the session's), raw limit of the same lines {floor_raw_s:.3f} s"
    )
    print(f"floor ratio {floor_raw_s / floor_s:.3f} (the best a pure-Python session could reach)")


if __name__ == "__main__":
    main()
