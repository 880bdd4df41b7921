"""A small real run a reviewer would worry about: rails firing, a crash, a resume, a kill.

Built through the CLI in subprocesses: the MAX_ORDER_NOTIONAL rail blocks the demo
strategy's orders whenever the price is above 42,100; with a checkpoint every 100 steps,
the process is killed (SIGKILL, armed by ``LIVESESSION_CRASH_AT``) as it saves the
checkpoint of step 200, and ``resume`` continues from the one of step 100 (01:40 UTC); the
daily loss limit trips the kill switch at 07:08 (step 428); the session runs out its 600
steps HALTED and seals COMPLETED. About two seconds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REVIEW_TOML = """\
run_id = "review"
seed = 5
steps = 600
checkpoint_every = 100
[strategy]
fast = 3
slow = 8
[risk]
max_order_notional = "421"
daily_loss_pct = "0.0001"
"""


def _cli(*args: str | Path, crash_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "LIVESESSION_CRASH_AT"}
    if crash_at is not None:
        env["LIVESESSION_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def build_review_run(out: Path) -> Path:
    """Write the run into ``out/review`` and return its directory."""
    out.mkdir(parents=True, exist_ok=True)
    config = out / "review.toml"
    config.write_text(REVIEW_TOML, encoding="utf-8")
    crashed = _cli(
        "dryrun", "-c", config, "--out", out, "--durability", "none", "-q",
        crash_at="checkpoint:3",
    )  # fmt: skip
    assert crashed.returncode == -9, crashed.stderr  # SIGKILL at the crash point
    run = out / "review"
    resumed = _cli("resume", run, "-q")
    assert resumed.returncode == 0, resumed.stderr
    return run
