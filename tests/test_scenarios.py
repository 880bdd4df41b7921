"""What a new user does first, end to end through the CLI, and each run must verify.

Each scenario drives ``livesession`` in a subprocess as an operator would, then checks the
run with the independent verifier and the things the user looks at (exit code, reason,
metrics).
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from _eurusd import EURUSD_TOML, eurusd_csv
from livesession import (
    DataFileError,
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MemoryMetricsSink,
)
from livesession.evidence._rerun import determinism
from livesession.verify import verify_run

from crash_harness import KILLED, cli

EXIT_OK = 0
EXIT_BAD_INPUT = 2
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
    """The run verifies, and (a run directory, not sinks written out) re-runs the same."""
    result = verify_run(run_dir)
    assert result.ok, "\n".join(result.violations[:20])
    if not (run_dir / "config.json").is_file():
        return  # an embedded run's sinks: no config to re-run
    scratch = run_dir.parent / f"{run_dir.name}-rerun"
    scratch.mkdir()
    verdict = determinism(run_dir, rerunnable=True, scratch=scratch)
    assert verdict["status"] == "match", verdict


def _notional_rail_config(tmp_path: Path) -> Path:
    """The config from the every-run-verifies issue: 0.050 BTC orders against a 2100 cap."""
    config = tmp_path / "rail.toml"
    config.write_text(
        '[strategy]\norder_qty = "0.050"\n[risk]\nmax_order_notional = "2100"\n',
        encoding="utf-8",
    )
    return config


class TestRailFires:
    def test_a_notional_cap_that_fires_leaves_a_run_that_verifies(self, tmp_path: Path):
        """The issue's config: orders of 0.050 BTC against a 2100 notional cap."""
        config = _notional_rail_config(tmp_path)
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


def _tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` with its bytes (empty when ``root`` does not exist)."""
    if not root.exists():
        return {}
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == EXIT_BAD_INPUT, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("livesession: error: ")
    assert done.stdout == ""
    return lines[0]


class TestDataFileChecked:
    """A data file is checked whole before the run directory exists, and never rounded."""

    def test_a_eurusd_file_runs_with_its_prices_unrounded_and_verifies(self, tmp_path: Path):
        closes = eurusd_csv(tmp_path / "eurusd.csv", 120)
        config = tmp_path / "eurusd.toml"
        config.write_text(EURUSD_TOML, encoding="utf-8")
        done = _livesession(
            "dryrun", "--config", config, "--out", "runs", "--run-id", "eurusd",
            "--steps", "120", "-q", cwd=tmp_path,
        )  # fmt: skip
        assert done.returncode == EXIT_OK, done.stderr
        run_dir = tmp_path / "runs" / "eurusd"
        _assert_verifies(run_dir)
        bars = [e["payload"] for e in _events(run_dir, "BAR")]
        assert [b["close"] for b in bars] == closes  # type: ignore[index]
        assert bars[0] == {
            "symbol": "EUR/USD", "open": "1.07160", "high": "1.07242", "low": "1.07151",
            "close": "1.07230", "volume": "100.5",
        }  # fmt: skip
        assert _events(run_dir, "ORDER_FILLED"), "the strategy never traded"
        meta = orjson.loads((run_dir / "run.json").read_bytes())
        data = (tmp_path / "eurusd.csv").read_bytes()
        assert meta["data"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert meta["data"]["rows"] == 120

    def test_under_a_coarser_tick_the_file_is_refused_and_nothing_written(self, tmp_path: Path):
        """Before: 1.07160 became 1.07 under the tick 0.01, without a word."""
        eurusd_csv(tmp_path / "eurusd.csv", 120)
        config = tmp_path / "eurusd.toml"
        config.write_text(
            EURUSD_TOML.replace('price_tick = "0.00001"', 'price_tick = "0.01"'), encoding="utf-8"
        )
        done = _livesession(
            "dryrun", "--config", config, "--out", "runs", "--run-id", "eurusd", cwd=tmp_path
        )
        line = _one_error_line(done)
        where = tmp_path.resolve() / "eurusd.csv"  # resolved from the config file's directory
        assert f"data file {where}, line 2, column open, value '1.07160'" in line
        assert "price_tick" in line
        assert not (tmp_path / "runs").exists()

    def test_an_empty_value_is_refused_and_the_out_tree_is_unchanged(self, tmp_path: Path):
        """The issue's case: exit 2 used to leave 299 bars and an open position behind."""
        _dated_csv(tmp_path / "btc.csv", 400)
        lines = (tmp_path / "btc.csv").read_text(encoding="utf-8").splitlines(keepends=True)
        cells = lines[300].split(",")
        cells[4] = ""
        lines[300] = ",".join(cells)
        (tmp_path / "btc.csv").write_text("".join(lines), encoding="utf-8")
        config = tmp_path / "csv.toml"
        config.write_text('feed = "csv:btc.csv"\n', encoding="utf-8")
        first = _livesession("dryrun", "--out", "runs", "--run-id", "other", "-q", cwd=tmp_path)
        assert first.returncode == EXIT_OK, first.stderr
        before = _tree(tmp_path / "runs")
        done = _livesession(
            "dryrun", "--config", config, "--out", "runs", "--run-id", "csv",
            "--steps", "400", cwd=tmp_path,
        )  # fmt: skip
        line = _one_error_line(done)
        where = tmp_path.resolve() / "btc.csv"  # resolved from the config file's directory
        assert line.endswith(
            f"data file {where}, line 301, column close, value '': empty value: drop the row, or fill in its close"
        )
        assert _tree(tmp_path / "runs") == before

    def test_resume_refuses_a_data_file_that_changed(self, tmp_path: Path):
        """Killed mid-run, the file edited: resume refuses (exit 2, one line, nothing changed);
        with the file restored, it finishes exactly as an uninterrupted run does."""
        eurusd_csv(tmp_path / "eurusd.csv", 120)
        config = tmp_path / "eurusd.toml"
        config.write_text("checkpoint_every = 20\n" + EURUSD_TOML, encoding="utf-8")
        args = ("--config", config, "--run-id", "eu", "--steps", "120", "-q")
        whole = cli("dryrun", *args, "--out", "whole", cwd=tmp_path)
        assert whole.returncode == EXIT_OK, whole.stderr
        killed = cli("dryrun", *args, "--out", "runs", cwd=tmp_path, crash_at="write_events:90")
        assert killed.returncode == KILLED, killed.stderr
        run_dir = tmp_path / "runs" / "eu"
        original = (tmp_path / "eurusd.csv").read_bytes()
        (tmp_path / "eurusd.csv").write_bytes(original.replace(b",100.5\n", b",100.6\n", 1))
        before = _tree(tmp_path / "runs")
        line = _one_error_line(cli("resume", run_dir, "-q", cwd=tmp_path))
        assert f"data file {tmp_path.resolve() / 'eurusd.csv'} changed since run" in line
        assert "restore the file" in line
        assert _tree(tmp_path / "runs") == before
        (tmp_path / "eurusd.csv").write_bytes(original)
        resumed = cli("resume", run_dir, "-q", cwd=tmp_path)
        assert resumed.returncode == EXIT_OK, resumed.stderr
        _assert_verifies(run_dir)
        for name in ("events.jsonl", "state_snapshots.jsonl"):
            assert (run_dir / name).read_bytes() == (tmp_path / "whole" / "eu" / name).read_bytes()

    def test_the_embedded_session_refuses_bad_data_before_preflight(self, tmp_path: Path):
        eurusd_csv(tmp_path / "eurusd.csv", 30)
        config = DryrunConfig(
            run_id="eu", feed=f"csv:{tmp_path / 'eurusd.csv'}", price_tick=Decimal("0.01")
        )
        sinks = [MemoryLineSink(), MemoryLineSink(), MemoryLineSink()]
        with pytest.raises(DataFileError) as caught:
            LiveSessionOrchestrator().run_dryrun(
                config, event_sink=sinks[0], state_sink=sinks[1], audit_sink=sinks[2],
                metrics_sink=MemoryMetricsSink(),
            )  # fmt: skip
        assert (caught.value.line, caught.value.column, caught.value.value) == (
            2,
            "open",
            "1.07160",
        )
        assert [s.getvalue() for s in sinks] == [b"", b"", b""]


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
            "livesession: rejected: CONFIG_INVALID: order_qty 0.050 > max_order_qty 0.040"
            "; sealed REJECTED, nothing traded: runs/qty\n"
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
            (
                "livesession: rejected: CONFIG_INVALID: order_qty 0.050 > max_order_qty 0.040"
                "; sealed REJECTED, nothing traded: runs/qty"
            )
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
        config = _notional_rail_config(tmp_path)
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
