"""A step's bar skips the recorder's follow-up only when there is none to do.

The recorder calls its follow-up (a failed sync raised, the audit record, the log line, the
retried writes' events) for a quiet event (``BAR``, ``POSITION_CHANGED``) only when one of
them is due: these hold the cases that are due for a bar itself.
"""

from __future__ import annotations

import orjson
import pytest

from livesession import MemoryLineSink, MemoryMetricsSink
from livesession._artifacts.recorder import Recorder
from livesession._exceptions import SinkFailure

BAR = {"symbol": "BTC-USD", "open": "1.00", "high": "1.00", "low": "1.00", "close": "1.00"}


class _RefusesOnce(MemoryLineSink):
    """Refuses its first write, then keeps every line."""

    def __init__(self) -> None:
        super().__init__()
        self.refused = False

    def write_line(self, line: bytes) -> None:
        if not self.refused:
            self.refused = True
            raise OSError("a moment's trouble")
        super().write_line(line)


class _NeverSyncs(MemoryLineSink):
    """Keeps every line; its sync fails (an EIO after the write was taken)."""

    def sync(self) -> None:
        raise OSError(5, "Input/output error")


def _recorder(events: MemoryLineSink, **options: object) -> Recorder:
    return Recorder(
        run_id="r",
        strategy_id="s",
        events=events,
        states=MemoryLineSink(),
        audit=MemoryLineSink(),
        metrics=MemoryMetricsSink(),
        **options,  # type: ignore[arg-type]
    )


def test_a_bar_whose_write_was_retried_is_followed_at_once_by_the_retry_event() -> None:
    events = _RefusesOnce()
    recorder = _recorder(events, max_sink_retries=1)
    recorder.emit("BAR", dict(BAR))
    kinds = [orjson.loads(line)["event_type"] for line in events.lines]
    assert kinds == ["BAR", "SINK_WRITE_RETRIED"]


def test_a_bar_whose_line_could_not_be_synced_raises_at_its_emit() -> None:
    recorder = _recorder(_NeverSyncs(), sync_each_line=True)
    with pytest.raises(SinkFailure):
        recorder.emit("BAR", dict(BAR))
    assert recorder.event_seq == 1  # the line was taken: it counts, and its failure is said
