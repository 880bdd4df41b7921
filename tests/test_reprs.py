"""The repr of what a notebook user holds says what it is, never Python's default."""

from __future__ import annotations

from livesession import AlertsConfig, DryrunConfig, MemoryMetricsSink
from livesession.testing import RunFactory, SessionTracker


class TestReprs:
    def test_memory_metrics_sink_says_how_much_it_holds(self) -> None:
        """Bug: `MemoryMetricsSink()` showed `<livesession._artifacts.sinks.MemoryMetricsSink
        object at 0x...>` in a notebook, naming a private module, and so did the `metrics`
        of every `MemoryRun`; as `MemoryLineSink(3 lines)` does, it says what it holds."""
        sink = MemoryMetricsSink()
        assert repr(sink) == "MemoryMetricsSink(0 bytes)"
        sink.replace(b'{"a": 1}\n')
        assert repr(sink) == "MemoryMetricsSink(9 bytes)"

    def test_the_testing_kits_factory_and_tracker_say_what_they_hold(self) -> None:
        """Bug: the testing kit's `RunFactory` (the `run_factory` fixture) and `SessionTracker`
        showed Python's default repr; each says how many sessions it holds, the tracker
        whether it records."""
        factory = RunFactory()
        assert repr(factory) == "RunFactory(runs=0)"
        run = factory.run(steps=5)
        assert repr(factory) == "RunFactory(runs=1)"
        assert repr(run).endswith(
            "metrics=MemoryMetricsSink(" + f"{len(run.metrics.content)} bytes))"
        )
        assert factory.problems() == []
        tracker = SessionTracker()
        assert repr(tracker) == "SessionTracker(recording=False, sessions=0)"
        with tracker:
            assert repr(tracker) == "SessionTracker(recording=True, sessions=0)"
        assert repr(tracker) == "SessionTracker(recording=False, sessions=0)"

    def test_a_configs_webhook_shows_as_set_never_its_url(self) -> None:
        """Bug: `[alerts] webhook_url` was left out of the repr, so a config that alerts and
        one that does not looked the same in a notebook; it shows `webhook_url=***` (the
        Secret's repr) when set, `None` when not, never the URL or its token."""
        config = DryrunConfig.from_mapping(
            {"run_id": "x", "alerts": {"webhook_url": "https://127.0.0.1/hook?token=TOKEN42"}}
        )
        assert "webhook_url=***" in repr(config.alerts)
        assert "webhook_url=***" in repr(config)
        assert "TOKEN42" not in repr(config)
        assert "webhook_url=None" in repr(AlertsConfig())
