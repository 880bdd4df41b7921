"""The HTML report of a long run, as a reviewer gets it: size, render time and a screenshot.

Builds a 100,000-step run through the CLI the way an operator would meet one: a rail that
blocks orders whenever the price is above a notional cap, a crash (SIGKILL at the 500th
checkpoint) and a ``resume``, and, in the resumed process, the kill switch (``livesession
kill``) and an operator acknowledgement (``livesession ack``). Then it renders the report,
checks that every section and mark is in it, prints its size and render time, and, when
Chromium is on PATH, takes a full-page screenshot to look at.

    python bench/bench_report.py --steps 100000 --keep out/bench-report

Figures from the last run are in docs/report.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from livesession.report import write_report

CONFIG = """\
run_id = "report-100k"
seed = 2026
checkpoint_every = 100
[strategy]
fast = 20
slow = 120
[risk]
max_order_notional = "425"
"""
_SECTIONS = (
    "Identity",
    "Limits, preflight checks and rails",
    "Profit and loss",
    "Price, orders and fills",
    "Position and equity",
    "Trades",
    "Resumes, kills and operator events",
)


def _cli(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **(env or {})},
        timeout=1800,
    )


def _steps(run: Path) -> int:
    try:
        return int(json.loads((run / "checkpoint.json").read_bytes())["steps"])
    except (OSError, ValueError, KeyError):
        return 0


def _wait_for_step(run: Path, step: int, process: subprocess.Popen[str]) -> None:
    while _steps(run) < step:
        if process.poll() is not None:
            raise SystemExit(f"the resumed run ended before step {step}")
        time.sleep(0.05)


def build_run(out: Path, steps: int) -> Path:
    """The long run: rails, a crash at half way, a resume, a kill and an acknowledgement."""
    config = out / "report.toml"
    config.write_text(CONFIG, encoding="utf-8")
    run = out / "report-100k"
    checkpoints = steps // 2 // 100  # checkpoint_every = 100
    crashed = _cli(
        "dryrun", "-c", config, "--out", out, "--steps", steps, "--durability", "none", "-q",
        env={"LIVESESSION_CRASH_AT": f"checkpoint:{checkpoints}"},
    )  # fmt: skip
    if crashed.returncode != -9:  # SIGKILL
        raise SystemExit(f"expected the crash point to kill the run: {crashed.stderr}")
    resumed = subprocess.Popen(
        [sys.executable, "-m", "livesession.cli", "resume", str(run), "-q"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    _wait_for_step(run, steps * 7 // 10, resumed)
    killed = _cli("kill", run)
    _wait_for_step(run, steps * 8 // 10, resumed)
    acked = _cli("ack", run)
    _, stderr = resumed.communicate(timeout=1800)
    if resumed.returncode != 0 or killed.returncode != 0 or acked.returncode != 0:
        raise SystemExit(
            f"resume {resumed.returncode} {stderr}; kill {killed.returncode} "
            f"{killed.stderr}; ack {acked.returncode} {acked.stderr}"
        )
    return run


def screenshot(report: Path, png: Path, height: int) -> bool:
    """A full-page screenshot of ``report`` (False when Chromium is not installed)."""
    chromium = shutil.which("chromium")
    if chromium is None:
        return False
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                "--disable-background-networking", f"--user-data-dir={profile}",
                f"--window-size=1200,{height}", f"--screenshot={png}", report.as_uri(),
            ],
            capture_output=True, check=True, timeout=300,
        )  # fmt: skip
    return True


def main() -> None:
    """Build the run, render its report, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="build in this directory and keep it")
    parser.add_argument("--height", type=int, default=9000, help="screenshot height (px)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = args.keep or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        run = build_run(out, args.steps)
        built = time.perf_counter() - started
        verified = _cli("verify", run)
        report = out / "report.html"
        started = time.perf_counter()
        write_report(run, report)
        rendered = time.perf_counter() - started
        document = report.read_text(encoding="utf-8")
        missing = [title for title in _SECTIONS if f"<h2>{title}</h2>" not in document]
        events = (run / "events.jsonl").read_bytes()
        counts = {kind: events.count(f'"event_type":"{kind}"'.encode()) for kind in (
            "BAR", "ORDER_FILLED", "RISK_REJECTED", "KILL_SWITCH", "OPERATOR_ACK",
            "TRADING_REENABLED",
        )}  # fmt: skip
        resumes = (run / "audit.jsonl").read_bytes().count(b'"code":"C2_RESUME"')
        png = out / "report.png"
        shot = screenshot(report, png, args.height)
        print(f"run: {args.steps} steps built in {built:.1f} s; verify exit {verified.returncode}")
        print(f"events: {counts}; C2_RESUME: {resumes}")
        print(f"report: {len(document.encode()):,} bytes, rendered in {rendered:.2f} s")
        print(f"sections missing: {missing or 'none'}")
        print(f"screenshot: {png if shot else 'skipped (no chromium on PATH)'}")
        if missing or verified.returncode != 0:
            raise SystemExit(1)


if __name__ == "__main__":
    main()
