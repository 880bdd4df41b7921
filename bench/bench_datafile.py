"""Opening a desk's data file: ``check_csv`` and a short CLI run on it, next to a raw read.

The file: ``--rows`` one-minute bars (``timestamp,open,high,low,close,volume``, ISO times
ending in ``Z``, prices on a 0.01 grid), written by the benchmark from a fixed seed, so
every run of it reads the same bytes. A year of one-minute bars is 525,600 rows.

The baseline, measured in the same run: the file read whole, hashed (SHA-256), and each
row split by ``csv.reader`` with its five values read as ``Decimal``: what any check of the
file must at least do, with no checking at all. Ratio = ``check_csv``'s time / the
baseline's (1.0 would be a check that costs nothing).

The run: ``python -m livesession.cli dryrun --feed csv:FILE --steps N --durability none -q``
as a whole process, next to the same run on the seeded random walk (no file): the
difference is what opening the file costs a run. Rounds alternate the four measurements,
so the neighbours' load falls on all of them alike; each figure is the best of ``--repeat``.

    python bench/bench_datafile.py --rows 300000 --steps 100 --repeat 3
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench_tools import timed, warm_up

from livesession import check_csv

HEADER = "timestamp,open,high,low,close,volume\n"
START_S = 1_735_689_600  # 2025-01-01T00:00:00Z
TICK = Decimal("0.01")


def write_bars(path: Path, rows: int, seed: int = 12345) -> None:
    """``rows`` one-minute bars from ``seed`` (a linear congruential walk: no library needed)."""
    price, state, lines = 10_000, seed, [HEADER]
    for i in range(rows):
        state = (state * 1_103_515_245 + 12_345) & 0x7FFF_FFFF
        close = max(100, price + state % 41 - 20)
        high = max(price, close) + state % 7
        low = max(1, min(price, close) - state % 5)
        when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START_S + 60 * i))
        cents = (f"{v // 100}.{v % 100:02d}" for v in (price, high, low, close))
        lines.append(f"{when},{','.join(cents)},{state % 5000 + 1}\n")
        price = close
    path.write_text("".join(lines), encoding="utf-8", newline="")


def baseline(path: Path) -> float:
    """Seconds to hash the file and read each row's five values with csv and Decimal."""
    started = time.perf_counter()
    data = path.read_bytes()
    hashlib.sha256(data).hexdigest()
    reader = csv.reader(data.decode("utf-8").splitlines()[1:])
    for row in reader:
        for cell in row[1:]:
            Decimal(cell)
    return time.perf_counter() - started


def checked(path: Path) -> float:
    """Seconds of ``check_csv`` on the file (the price grid given)."""
    started = time.perf_counter()
    check_csv(path, tick=TICK)
    return time.perf_counter() - started


def run(out: Path, steps: int, *feed: str) -> float:
    """Wall seconds of one ``dryrun`` process (on the file with ``--feed``, else the walk)."""
    return timed(
        "dryrun", "--steps", str(steps), "--durability", "none", "--out", out, "-q", *feed,
    )  # fmt: skip


def main() -> None:
    """Alternate the baseline, the check and the two runs; print the best of each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=300_000, help="bars in the file (300000)")
    parser.add_argument("--steps", type=int, default=100, help="steps of each run (100)")
    parser.add_argument("--repeat", type=int, default=3, help="best of this many rounds (3)")
    args = parser.parse_args()
    if args.repeat < 1 or args.steps < 1 or args.rows < args.steps:
        parser.error("--repeat and --steps must be at least 1, --rows at least --steps")
    figures: dict[str, list[float]] = {"base": [], "check": [], "file": [], "walk": []}
    with tempfile.TemporaryDirectory(prefix="bench-datafile-") as tmp:
        path = Path(tmp) / "bars.csv"
        write_bars(path, args.rows)
        size = path.stat().st_size
        warm_up(Path(tmp) / "warm")
        for i in range(args.repeat):
            figures["base"].append(baseline(path))
            figures["check"].append(checked(path))
            figures["file"].append(run(Path(tmp) / f"file{i}", args.steps, "--feed", f"csv:{path}"))
            figures["walk"].append(run(Path(tmp) / f"walk{i}", args.steps))
    best = {name: min(values) for name, values in figures.items()}
    per_row = {name: best[name] / args.rows * 1e6 for name in ("base", "check")}
    opening = best["file"] - best["walk"]
    print(
        f"data file    {args.rows} rows, {size:,} bytes, best of {args.repeat} alternating rounds"
    )
    print(
        f"baseline     {best['base']:8.3f} s   {per_row['base']:6.2f} us a row (sha256, csv, Decimal)"
    )
    print(f"check_csv    {best['check']:8.3f} s   {per_row['check']:6.2f} us a row")
    print(f"ratio        {best['check'] / best['base']:.2f} x the baseline")
    print(
        f"cli dry run  {best['file']:8.3f} s on the file, {best['walk']:.3f} s on the walk "
        f"({args.steps} steps): opening the file costs {opening:.3f} s, "
        f"{opening / best['base']:.2f} x the baseline"
    )


if __name__ == "__main__":
    main()
