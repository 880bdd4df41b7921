"""Wall-clock measurements of a run: ``timings.json`` and a rotated ``metrics.ndjson``.

Kept apart from the contract artifacts (which never hold wall-clock time). Memory and disk
stay bounded on long runs: step latencies are kept for the last ``window`` steps only, and
``metrics.ndjson`` rotates to ``metrics.ndjson.1`` … ``.<keep>`` past ``max_bytes``.

Each ``metrics.ndjson`` row (one every ``every_steps`` steps) gives the percentiles of the
steps since the row before (at most ``window`` of them); ``timings.json`` those of the
last ``window`` steps, and the count, mean and maximum of every step.

``timings.json``'s ``step_duration`` is a histogram of every step's wall time (``prom``'s
``trader_step_duration_seconds``): a count per bucket of ``STEP_BUCKETS_SECONDS``, kept
as the steps pass, so it covers every step in a fixed size however long the run (a window
of samples would cover only its last ``window`` steps). A step's wall time is all of it:
the feed's next bar (a live feed's wait for it too), the strategy, the rails, the orders
and the records; no part of it is measured on its own.
"""

from __future__ import annotations

import bisect
import itertools
import os
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._domain.clock import wall_ns
from .._support.fsutil import atomic_write_bytes, open_append_like
from .._support.logging import get_logger
from .._support.oserrors import oserror_text
from . import names

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["STEP_BUCKETS_SECONDS", "StepTimer"]

_MS: Final = 1_000_000
STEP_BUCKETS_SECONDS: Final = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
)  # fmt: skip
"""The upper bounds (seconds) of ``step_duration``'s buckets; slower steps count in +Inf."""
_BOUNDS_NS: Final = tuple(round(bound * 1e9) for bound in STEP_BUCKETS_SECONDS)


def _latest(window: int) -> deque[int]:
    return deque(maxlen=window)


@attrs.define(kw_only=True, eq=False, repr=False, on_setattr=attrs.setters.NO_OP)
class StepTimer:
    """Measures each step's wall time through the session's progress callback."""

    _run_dir: Path = attrs.field(kw_only=False)
    _run_id: str = attrs.field(alias="run_id")
    """The run's id, which its session log lines carry (the directory's name by default)."""
    _events_from: int = attrs.field(default=0, alias="events_from")
    """The events the run held when this process took it (a resume's: its checkpoint's)."""
    _every: int = attrs.field(default=1000, alias="every_steps")
    _max_bytes: int = 1 << 20
    _keep: int = 3
    _window: deque[int] = attrs.field(default=10_000, converter=_latest)
    _started: int = attrs.field(init=False, factory=wall_ns)
    _last: int = attrs.field(init=False)
    _count: int = attrs.field(init=False, default=0)
    _rowed: int = attrs.field(init=False, default=0)
    _max: int = attrs.field(init=False, default=0)
    _buckets: list[int] = attrs.field(init=False, factory=lambda: [0] * (len(_BOUNDS_NS) + 1))
    """Steps by the first bucket whose bound holds them (the last: beyond every bound)."""
    lost: str | None = attrs.field(init=False, default=None)
    """Which wall-clock file stopped being written and why (a full disk), or None."""

    @_run_id.default
    def _named_by_dir(self) -> str:
        return self._run_dir.name

    @_last.default
    def _start_at_started(self) -> int:
        return self._started

    def on_step(self, done: int) -> int:
        """Record one step that just finished (``done`` steps so far); the time it was taken.

        The time is ``time.perf_counter_ns()``'s: the CLI's bar (``_cli_bar.run_bar``) reads
        it rather than the clock a second time.
        """
        now = time.perf_counter_ns()  # wall_ns, without the call: this runs every step
        latency = now - self._last
        self._last = now
        self._window.append(latency)
        self._buckets[bisect.bisect_left(_BOUNDS_NS, latency)] += 1
        self._count += 1
        self._max = max(self._max, latency)
        if done % self._every == 0 and self.lost is None:
            self._side_file(names.METRICS_LOG, lambda: self._append_ndjson(done, now))
        return now

    def _summary(self, latencies: list[int]) -> dict[str, Any]:
        ordered = sorted(latencies)

        def pct(q: float) -> float:
            return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] / _MS, 4)

        return {
            "steps_measured": self._count,
            "mean_ms": round((self._last - self._started) / self._count / _MS, 4)
            if self._count
            else None,
            "max_ms": round(self._max / _MS, 4),
            "p50_ms": pct(0.5) if ordered else None,
            "p99_ms": pct(0.99) if ordered else None,
        }

    def _append_ndjson(self, done: int, now: int) -> None:
        path = self._run_dir / names.METRICS_LOG
        line = orjson.dumps(
            {
                "steps": done,
                "wall_s": round((now - self._started) / 1e9, 6),
                **self._summary(self._since_last_row()),
            },
            option=orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE,
        )
        # A file made here (the first, or one after a rotation) takes the mode of the one it
        # follows, else events.jsonl's, as timings.json does: a chmod of the run's files holds.
        like = [self._run_dir / names.EVENTS]
        if path.exists() and path.stat().st_size + len(line) > self._max_bytes:
            self._rotate(path)
            like.insert(0, path.with_name(f"{path.name}.1"))
        with os.fdopen(open_append_like(path, *like), "ab") as f:  # never through a symlink
            f.write(line)

    def _since_last_row(self) -> list[int]:
        """The latencies of the steps since the last ``metrics.ndjson`` row (window allowing)."""
        fresh = min(self._count - self._rowed, len(self._window))
        self._rowed = self._count
        return list(itertools.islice(reversed(self._window), fresh))

    def _rotate(self, path: Path) -> None:
        oldest = path.with_name(f"{path.name}.{self._keep}")
        oldest.unlink(missing_ok=True)
        for n in range(self._keep - 1, 0, -1):
            older = path.with_name(f"{path.name}.{n}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{n + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))

    def finish(self, *, steps: int, events: int) -> dict[str, Any]:
        """Write ``timings.json`` and return what it holds.

        ``steps`` and ``events`` are the run's; the rates are of what this process did in
        ``wall_s`` (a resume's: the steps it measured and the events past its checkpoint's).
        A new ``timings.json`` takes ``events.jsonl``'s mode (a ``chmod`` of the run's files
        during the run holds for it too); a rewrite keeps its own.
        """
        wall_s = (wall_ns() - self._started) / 1e9
        timings = {
            "wall_s": round(wall_s, 6),
            "steps": steps,
            "events": events,
            "steps_per_s": round(self._count / wall_s, 1) if wall_s else None,
            "events_per_s": round((events - self._events_from) / wall_s, 1) if wall_s else None,
            "step_latency": self._summary(list(self._window)),
            "step_duration": self._histogram(),
        }
        self._side_file(
            names.TIMINGS,
            lambda: atomic_write_bytes(
                self._run_dir / names.TIMINGS,
                orjson.dumps(timings, option=orjson.OPT_SORT_KEYS) + b"\n",
                durable=False,
                like=self._run_dir / names.EVENTS,
            ),
        )
        return timings

    def _histogram(self) -> dict[str, Any]:
        """Every step's wall time: the cumulative count at each bound, the count and the sum."""
        cumulative = list(itertools.accumulate(self._buckets[:-1]))
        return {
            "buckets_s": list(STEP_BUCKETS_SECONDS),
            "counts": cumulative,
            "count": self._count,
            "sum_s": round((self._last - self._started) / 1e9, 9) if self._count else 0.0,
        }

    def _side_file(self, name: str, write: Callable[[], None]) -> None:
        """``write()`` one of the wall-clock files; a refusal stops them, never the run.

        They are measurements beside the evidence: a full disk that refuses them is the
        artifacts' sinks' to report (they fail closed), not a reason to stop here.
        """
        try:
            write()
        except OSError as exc:
            self.lost = f"{self._run_dir / name} ({oserror_text(exc)})"
            get_logger().warning("timings_not_written", run_id=self._run_id, error=self.lost)
