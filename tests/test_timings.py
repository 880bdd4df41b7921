"""Wall-clock timings stay out of the contract artifacts and within bounded disk and memory."""

from __future__ import annotations

import time

import orjson
import pytest

from _eurusd import EURUSD_TOML, eurusd_csv
from livesession import DryrunConfig, create_run
from livesession._artifacts.timings import STEP_BUCKETS_SECONDS, StepTimer
from livesession.cli import main

from _helpers import crash_in_step


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

    def test_timings_json_is_bounded(self, tmp_path, monkeypatch):
        """timings.json's size does not grow with the steps: percentiles of the last
        `window` steps, and a histogram of a fixed number of buckets that counts them all.

        The steps take injected times (0.3 ms and 3 ms in turn): on the wall clock a loaded
        machine spread 100 steps over other buckets than 1,000, and a bucket that held 0
        of the 100 and 1,000 of the 1,000 grew by three digits (fresh-clone CI failed so)."""
        sizes = []
        for steps in (100, 1000):
            moments = [0]
            for done in range(steps):
                moments.append(moments[-1] + (300_000 if done % 2 else 3_000_000))
            ticks = iter(moments)
            monkeypatch.setattr(time, "perf_counter_ns", lambda ticks=ticks: next(ticks))
            timer = StepTimer(tmp_path, every_steps=10_000, window=25)
            for done in range(1, steps + 1):
                timer.on_step(done)
            monkeypatch.undo()
            timings = timer.finish(steps=steps, events=150)
            on_disk = orjson.loads((tmp_path / "timings.json").read_bytes())
            assert on_disk == timings
            assert timings["step_latency"]["steps_measured"] == steps
            assert timings["step_duration"]["count"] == steps
            assert len(timings["step_duration"]["counts"]) == len(STEP_BUCKETS_SECONDS)
            assert timings["steps"] == steps
            sizes.append(len(orjson.dumps(timings["step_duration"]["counts"])))
        assert sizes[1] <= sizes[0] + len(STEP_BUCKETS_SECONDS)  # a digit more per count

    def test_the_step_histogram_counts_every_step(self, tmp_path, monkeypatch):
        """Bug: prom's histogram came from the last 10,000 step latencies timings.json
        kept, so a 12,000-step run gave `_count 10000` (and the sum of those only); it was
        named tick_to_decision, though it timed whole steps, and an order-latency histogram
        beside it was always empty. One histogram, trader_step_duration_seconds, now
        counts every step in cumulative buckets, and no metric claims an order latency."""
        pytest.importorskip("prometheus_client")
        from prometheus_client.parser import text_string_to_metric_families

        from livesession.prom import render_textfile

        latencies_ms = [0.3, 3.0] * 6_000  # 12,000 steps
        moments = [0]
        for ms in latencies_ms:
            moments.append(moments[-1] + round(ms * 1_000_000))
        ticks = iter(moments)
        monkeypatch.setattr(time, "perf_counter_ns", lambda: next(ticks))
        timer = StepTimer(tmp_path, every_steps=100_000)
        for done in range(1, len(latencies_ms) + 1):
            timer.on_step(done)
        monkeypatch.undo()
        timer.finish(steps=12_000, events=12_000)

        samples = {
            (sample.name, sample.labels.get("le")): sample.value
            for family in text_string_to_metric_families(render_textfile(tmp_path))
            for sample in family.samples
            if family.name.endswith("_seconds")
        }

        assert samples[("trader_step_duration_seconds_count", None)] == 12_000
        assert samples[("trader_step_duration_seconds_sum", None)] == pytest.approx(19.8)
        assert samples[("trader_step_duration_seconds_bucket", "0.00025")] == 0
        assert samples[("trader_step_duration_seconds_bucket", "0.0005")] == 6_000
        assert samples[("trader_step_duration_seconds_bucket", "0.0025")] == 6_000
        assert samples[("trader_step_duration_seconds_bucket", "0.005")] == 12_000
        assert samples[("trader_step_duration_seconds_bucket", "+Inf")] == 12_000
        assert {name for name, _le in samples} == {
            "trader_step_duration_seconds_bucket",
            "trader_step_duration_seconds_count",
            "trader_step_duration_seconds_sum",
        }

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


def test_the_attempt_that_finds_the_feed_run_out_is_no_step(tmp_path, monkeypatch):
    """Bug: ``dryrun --steps 1000`` on a 40-row file sealed ``40 of 1000`` steps (metrics.json,
    the summary, status, evidence) while prom said ``trader_step_duration_seconds_count 41``
    and timings.json ``"steps": 40`` beside ``"steps_measured": 41``: the attempt that found
    no bar and wound the run down was timed as a step. It is none, as ``run_n_steps`` counts
    it: every tool now counts the run's 40 steps."""
    pytest.importorskip("prometheus_client")
    from prometheus_client.parser import text_string_to_metric_families

    from livesession.prom import render_textfile

    monkeypatch.chdir(tmp_path)
    eurusd_csv(tmp_path / "eurusd.csv", 40)
    (tmp_path / "desk.toml").write_text(EURUSD_TOML, encoding="utf-8")
    argv = ["dryrun", "-c", "desk.toml", "--out", "runs", "--run-id", "short", "--steps", "1000"]
    assert main([*argv, "--quiet"]) == 0
    run = tmp_path / "runs" / "short"
    assert orjson.loads((run / "metrics.json").read_bytes())["steps"] == 40
    timings = orjson.loads((run / "timings.json").read_bytes())
    assert timings["steps"] == 40
    assert timings["step_latency"]["steps_measured"] == 40
    assert timings["step_duration"]["count"] == 40
    counts = {
        sample.name: sample.value
        for family in text_string_to_metric_families(render_textfile(run))
        for sample in family.samples
        if sample.name == "trader_step_duration_seconds_count"
    }
    assert counts == {"trader_step_duration_seconds_count": 40}


def test_a_resume_s_rates_are_of_the_steps_and_events_it_ran(tmp_path):
    """Bug: a run resumed from step 400 of 600 wrote timings.json's ``steps_per_s`` and
    ``events_per_s`` as the whole run's 600 steps and every event over the resume's wall
    time alone, beside ``steps_measured 200`` and a ``mean_ms`` of those 200: a rate three
    times what the resume ran at. The rates are now of the steps and events the resume ran."""

    config = DryrunConfig(run_id="again", steps=600, checkpoint_every=100)
    crash_in_step(create_run(config, tmp_path), 450, 600)
    run = tmp_path / "again"
    checkpointed = orjson.loads((run / "checkpoint.json").read_bytes())["recorder"]["event_seq"]
    assert main(["resume", str(run), "--quiet"]) == 0
    timings = orjson.loads((run / "timings.json").read_bytes())
    events = orjson.loads((run / "metrics.json").read_bytes())["events_emitted"]
    assert (timings["steps"], timings["events"]) == (600, events)
    assert timings["step_latency"]["steps_measured"] == 200
    wall_s = timings["wall_s"]
    assert timings["steps_per_s"] == pytest.approx(200 / wall_s, rel=0.01, abs=0.1)
    assert timings["events_per_s"] == pytest.approx(
        (events - checkpointed) / wall_s, rel=0.01, abs=0.1
    )
