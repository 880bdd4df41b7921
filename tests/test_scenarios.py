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

from livesession import DryrunConfig, LiveSessionOrchestrator, MemoryLineSink, MemoryMetricsSink
from livesession.verify import verify_run

EXIT_OK = 0
EXIT_REJECTED = 3


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


def _dated_csv(path: Path, rows: int) -> None:
    """Dated one-minute bars, as a user exports them, that zig-zag enough to trade."""
    lines = ["timestamp,open,high,low,close,volume"]
    cents = 4_200_000
    moves = (150, -90, 220, -310, 60, -40, 275, -180)
    for n in range(rows):
        before = cents
        cents += moves[n % 8] * (1 + (n // 8) % 3)
        high, low = max(before, cents) + 25, min(before, cents) - 25
        prices = ",".join(f"{c // 100}.{c % 100:02d}" for c in (before, high, low, cents))
        lines.append(f"2026-03-02T{n // 60:02d}:{n % 60:02d}:00Z,{prices},1.{n % 10}00")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


class TestFeedRunsOut:
    def test_a_csv_shorter_than_steps_stops_cleanly_and_verifies(self, tmp_path: Path):
        """80 bars against --steps 300: COMPLETED at step 80, reason FEED_EXHAUSTED."""
        _dated_csv(tmp_path / "btc.csv", 80)
        config = tmp_path / "csv.toml"
        config.write_text('feed = "csv:btc.csv"\n', encoding="utf-8")
        done = _livesession(
            "dryrun", "--config", config, "--out", "runs", "--run-id", "csv",
            "--steps", "300", "-q", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == EXIT_OK, done.stderr
        run_dir = tmp_path / "runs" / "csv"
        _assert_verifies(run_dir)
        (stopped,) = _events(run_dir, "SESSION_STOPPED")
        assert stopped["payload"] == {
            **stopped["payload"],  # type: ignore[dict-item]
            "status": "COMPLETED",
            "reason": "FEED_EXHAUSTED",
            "steps": 80,
        }
        assert len(_events(run_dir, "BAR")) == 80
        final = orjson.loads((run_dir / "audit.jsonl").read_bytes().splitlines()[-1])
        assert final["code"] == "C2_DRYRUN_STOP"
        assert final["payload"]["reason"] == "FEED_EXHAUSTED"

    def test_the_result_names_the_reason(self, tmp_path: Path):
        """Embedded, the result says why the run stopped early."""
        _dated_csv(tmp_path / "btc.csv", 30)
        config = DryrunConfig(run_id="csv", feed=f"csv:{tmp_path / 'btc.csv'}", steps=100)
        events, states, audit = MemoryLineSink(), MemoryLineSink(), MemoryLineSink()
        result = LiveSessionOrchestrator().run_dryrun(
            config,
            event_sink=events,
            state_sink=states,
            audit_sink=audit,
            metrics_sink=MemoryMetricsSink(),
        )
        assert (result.status.value, result.steps, result.reason) == (
            "COMPLETED",
            30,
            "FEED_EXHAUSTED",
        )


def _write_run(run_dir: Path, sinks: dict[str, MemoryLineSink], metrics: MemoryMetricsSink) -> Path:
    """An embedded run's memory sinks as the four artifacts, for the verifier."""
    run_dir.mkdir()
    for name, sink in sinks.items():
        (run_dir / name).write_bytes(b"".join(sink.lines))
    (run_dir / "metrics.json").write_bytes(metrics.content)
    return run_dir


class TestPreflightSaysWhy:
    def test_the_cli_names_the_field_and_the_value(self, tmp_path: Path):
        """order_qty 0.050 against max_order_qty 0.040: exit 3 with one line that says so."""
        config = tmp_path / "qty.toml"
        config.write_text(
            '[strategy]\norder_qty = "0.050"\n[risk]\nmax_order_qty = "0.040"\n', encoding="utf-8"
        )
        done = _livesession(
            "dryrun", "--config", config, "--out", "runs", "--run-id", "qty", "-q", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == EXIT_REJECTED, done.stderr
        assert done.stdout == ""  # -q: still no summary
        assert done.stderr.count("\n") == 1
        assert done.stderr == (
            "livesession: rejected: CONFIG_INVALID: order_qty 0.050 > max_order_qty 0.040\n"
        )
        run_dir = tmp_path / "runs" / "qty"
        _assert_verifies(run_dir)
        checks = [e["payload"] for e in _events(run_dir, "PREFLIGHT_CHECK")]
        assert [c for c in checks if not c["passed"]] == [  # type: ignore[index]
            {
                "check": "config_valid",
                "passed": False,
                "reason": "CONFIG_INVALID",
                "detail": "order_qty 0.050 > max_order_qty 0.040",
            }
        ]
        assert all("detail" not in c for c in checks if c["passed"])  # type: ignore[index,operator]
        audit = [orjson.loads(line) for line in (run_dir / "audit.jsonl").read_bytes().splitlines()]
        (reject,) = (a for a in audit if a["code"] == "C2_REJECT_CONFIG_INVALID")
        assert reject["payload"]["detail"] == "order_qty 0.050 > max_order_qty 0.040"
        metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
        assert (metrics["status"], metrics["rejects_by_reason"]) == (
            "REJECTED",
            {"CONFIG_INVALID": 1},
        )

    def test_the_summary_says_it_too(self, tmp_path: Path):
        """Without -q the summary shows the code; the one stderr line adds the detail."""
        config = tmp_path / "qty.toml"
        config.write_text(
            '[strategy]\norder_qty = "0.050"\n[risk]\nmax_order_qty = "0.040"\n', encoding="utf-8"
        )
        done = _livesession(
            "dryrun", "--config", config, "--out", "runs", "--run-id", "qty", cwd=tmp_path
        )
        assert done.returncode == EXIT_REJECTED
        assert "status      REJECTED (CONFIG_INVALID)\n" in done.stdout
        assert done.stderr.splitlines() == [
            "livesession: rejected: CONFIG_INVALID: order_qty 0.050 > max_order_qty 0.040"
        ]
        _assert_verifies(tmp_path / "runs" / "qty")

    def test_the_result_carries_the_detail(self, tmp_path: Path):
        """Embedded, ``DryrunResult.detail`` says what ``reason`` codes, and the run verifies."""
        config = DryrunConfig(
            run_id="embedded",
            allowlist=["ETH/USDT"],
            strategy={"order_qty": "0.050"},
            risk={"max_order_qty": "0.040"},
        )
        sinks = {
            "events.jsonl": MemoryLineSink(),
            "state_snapshots.jsonl": MemoryLineSink(),
            "audit.jsonl": MemoryLineSink(),
        }
        metrics = MemoryMetricsSink()
        result = LiveSessionOrchestrator().run_dryrun(
            config,
            event_sink=sinks["events.jsonl"],
            state_sink=sinks["state_snapshots.jsonl"],
            audit_sink=sinks["audit.jsonl"],
            metrics_sink=metrics,
        )
        assert (result.status.value, result.reason) == (
            "REJECTED",
            "CONFIG_INVALID,SYMBOL_NOT_ALLOWED",
        )
        assert result.detail == (
            "order_qty 0.050 > max_order_qty 0.040; "
            "symbol 'BTC/USDT' is not in allowlist [ETH/USDT]"
        )
        _assert_verifies(_write_run(tmp_path / "embedded", sinks, metrics))


class TestSummaryShowsBlocksRejectsRetries:
    def test_a_rail_that_fires_is_in_the_summary(self, tmp_path: Path):
        """The notional cap's blocks appear in the summary, by rule, as metrics.json counts."""
        config = tmp_path / "rail.toml"
        config.write_text(
            '[strategy]\norder_qty = "0.050"\n[risk]\nmax_order_notional = "2100"\n',
            encoding="utf-8",
        )
        done = _livesession(
            "dryrun", "--config", config, "--out", "runs", "--run-id", "rail",
            "--steps", "400", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == EXIT_OK, done.stderr
        assert done.stderr == ""
        run_dir = tmp_path / "runs" / "rail"
        _assert_verifies(run_dir)
        metrics = orjson.loads((run_dir / "metrics.json").read_bytes())
        blocks = metrics["events_by_type"]["RISK_REJECTED"]
        assert blocks > 0
        lines = done.stdout.splitlines()
        assert f"risk blocks {blocks} (MAX_ORDER_NOTIONAL {blocks})" in lines
        assert "rejected    0 by the venue" in lines
        assert f"retries     {metrics['sink_retries']} (sink 0, broker 0)" in lines
