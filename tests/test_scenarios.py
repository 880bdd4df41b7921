"""What a new user does first, end to end through the CLI, and each run must verify.

Each scenario drives ``livesession`` in a subprocess as an operator would, then checks the
run with the independent verifier and the things the user looks at (exit code, reason,
metrics).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson

from livesession.verify import verify_run

EXIT_OK = 0


def _livesession(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _events(run_dir: Path, event_type: str) -> list[dict[str, object]]:
    lines = (run_dir / "events.jsonl").read_bytes().splitlines()
    return [e for e in map(orjson.loads, lines) if e["event_type"] == event_type]


def _assert_verifies(run_dir: Path) -> None:
    result = verify_run(run_dir)
    assert result.ok, "\n".join(result.violations[:20])


class TestRailFires:
    def test_a_notional_cap_that_fires_leaves_a_run_that_verifies(self, tmp_path: Path):
        """The issue's config: orders of 0.050 BTC against a 2100 notional cap."""
        config = tmp_path / "rail.toml"
        config.write_text(
            '[strategy]\norder_qty = "0.050"\n[risk]\nmax_order_notional = "2100"\n',
            encoding="utf-8",
        )
        done = _livesession(
            "dryrun", "--config", config, "--out", "runs", "--run-id", "rail",
            "--steps", "600", "-q", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == EXIT_OK, done.stderr
        run_dir = tmp_path / "runs" / "rail"
        _assert_verifies(run_dir)
        rejected = _events(run_dir, "RISK_REJECTED")
        assert rejected, "the rail never fired"
        payload = rejected[0]["payload"]
        assert isinstance(payload, dict)
        assert payload["rule"] == "MAX_ORDER_NOTIONAL"
        assert payload["reason"] == (f"notional {payload['notional']} > max_order_notional 2100")
        metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
        assert metrics["rejects_by_reason"] == {"MAX_ORDER_NOTIONAL": len(rejected)}
