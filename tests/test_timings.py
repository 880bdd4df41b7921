"""Wall-clock timings stay out of the contract artifacts and within bounded disk and memory."""

from __future__ import annotations

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
