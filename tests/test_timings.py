"""Wall-clock timings stay out of the contract artifacts and within bounded disk and memory."""

from __future__ import annotations

import time

import orjson

from livesession._artifacts.timings import StepTimer


class TestStepTimer:
    def test_ndjson_rotates_by_size(self, tmp_path):
        """metrics.ndjson rotates past max_bytes and keeps at most `keep` old files."""
        timer = StepTimer(tmp_path, every_steps=1, max_bytes=400, keep=2, window=50)
        for done in range(1, 200):
            timer.on_step(done)
        names = sorted(p.name for p in tmp_path.iterdir())
        assert names == ["metrics.ndjson", "metrics.ndjson.1", "metrics.ndjson.2"]
        for path in tmp_path.iterdir():
            assert path.stat().st_size <= 400
            for line in path.read_bytes().splitlines():
                assert set(orjson.loads(line)) >= {"steps", "wall_s", "p50_ms", "p99_ms"}

    def test_timings_json_is_bounded(self, tmp_path):
        """timings.json keeps only the last `window` step latencies, and counts them all."""
        timer = StepTimer(tmp_path, every_steps=10_000, window=25)
        for done in range(1, 101):
            timer.on_step(done)
        timings = timer.finish(steps=100, events=150)
        on_disk = orjson.loads((tmp_path / "timings.json").read_bytes())
        assert on_disk == timings
        assert len(timings["tick_to_decision_ms"]) == 25
        assert timings["step_latency"]["steps_measured"] == 100
        assert timings["steps"] == 100

    def test_each_ndjson_row_describes_the_steps_since_the_row_before(self, tmp_path, monkeypatch):
        """Rows are a time series: a slow stretch shows in its own row, not in the next."""
        latencies_ms = [9] * 10 + [1] * 10 + [2] * 10
        moments = [0]
        for ms in latencies_ms:
            moments.append(moments[-1] + ms * 1_000_000)
        ticks = iter(moments + [moments[-1]] * 3)
        monkeypatch.setattr(time, "perf_counter_ns", lambda: next(ticks))
        timer = StepTimer(tmp_path, every_steps=10, window=50)
        for done in range(1, 31):
            timer.on_step(done)
        rows = [
            orjson.loads(line) for line in (tmp_path / "metrics.ndjson").read_bytes().splitlines()
        ]
        assert [(r["steps"], r["p50_ms"], r["p99_ms"]) for r in rows] == [
            (10, 9.0, 9.0),
            (20, 1.0, 1.0),
            (30, 2.0, 2.0),
        ]
        assert rows[-1]["max_ms"] == 9.0  # the maximum and the mean are of every step so far
        assert rows[-1]["mean_ms"] == 4.0
        assert rows[-1]["steps_measured"] == 30
        summary = timer.finish(steps=30, events=30)["step_latency"]
        assert (summary["p50_ms"], summary["p99_ms"], summary["max_ms"]) == (2.0, 9.0, 9.0)
