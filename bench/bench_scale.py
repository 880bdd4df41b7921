"""Scale: peak RSS and wall time of a 1,000,000-step CLI dry run next to a 100,000-step one.

Each run is its own process (the CLI's `dryrun`, durability none) reporting its own peak RSS,
so the two figures compare like with like. Also measures start-up: `import livesession`
and a 1,000-step CLI dry run with the defaults.

    python bench/bench_scale.py               # 100k vs 1M steps (about two minutes)
    python bench/bench_scale.py --small 10000 --large 100000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time

_CHILD = """
import resource, sys, time
from livesession.cli import main
started = time.perf_counter()
code = main(sys.argv[1:])
elapsed = time.perf_counter() - started
rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{code} {elapsed:.3f} {rss_kib}")
"""


def run(steps: int, out: str, *extra: str) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one CLI dry run in a fresh process."""
    args = ["dryrun", "--out", out, "--run-id", f"s{steps}", "--steps", str(steps), "-q", *extra]
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, *args], capture_output=True, text=True, check=True
    )
    code, elapsed, rss = proc.stdout.split()
    if code != "0":
        raise SystemExit(f"run of {steps} steps exited {code}: {proc.stderr}")
    return float(elapsed), int(rss) / 1024


def startup() -> tuple[float, float]:
    """Best-of-5 wall time of `import livesession` and of a default 1,000-step CLI run."""
    imports = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import livesession"], check=True)
        imports.append(time.perf_counter() - started)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in range(3):
            started = time.perf_counter()
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "livesession.cli",
                    "dryrun",
                    "--out",
                    tmp,
                    "--run-id",
                    f"u{n}",
                    "--steps",
                    "1000",
                    "-q",
                ],
                check=True,
            )
            runs.append(time.perf_counter() - started)
    return min(imports), min(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--large", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        opts = ("--durability", "none", "--idempotency-backend", "sqlite")
        small_s, small_rss = run(args.small, tmp, *opts)
        large_s, large_rss = run(args.large, tmp, *opts)
    imp, cli = startup()
    print(f"{args.small:>9} steps  {small_s:8.2f} s  peak RSS {small_rss:7.1f} MiB")
    print(f"{args.large:>9} steps  {large_s:8.2f} s  peak RSS {large_rss:7.1f} MiB")
    print(
        f"RSS growth {large_rss - small_rss:+.1f} MiB (target within 20)   time ratio {large_s / small_s:.2f} (target at most 11)"
    )
    print(
        f"import livesession {imp * 1000:.0f} ms (target under 150)   1,000-step CLI dry run {cli:.2f} s (target under 1)"
    )


if __name__ == "__main__":
    main()
