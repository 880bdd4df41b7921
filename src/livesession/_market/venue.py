"""The venue's own bars: closed OHLCV candles, journaled before a step uses them.

``VenueFeed`` is the feed of ``feed = "venue"``. It is built from the config alone (so a
run's plug-ins can be built before anything is written) and attached later to its source
(``attach``): a ``fetch(since_ms)`` that asks the venue for candles, and the market-data
journal in the run directory. Until it is attached it gives no bar.

Each ``next_bar`` waits, on the feed's own clock, until the next candle has closed (the
system clock paces the steps at the bar interval), fetches, and keeps only candles that
are closed by the clock and newer than the last one journaled; each of those is appended
to the journal (fsynced when the run is durable) before it is queued. Then, per candle
taken from the queue:

- a candle more than one interval after the last one used leaves a gap: no bar for the
  missing intervals, and a ``FEED_GAP`` note the session records before the bar;
- a candle that arrives late, but newer than the last used, is used once when it arrives;
- a duplicate (a time already journaled) and a candle older than the last one journaled
  are ignored; so are, after a resume, candles older than the journal's last one;
- a candle taken more than one interval after it closed (a step slower than the interval:
  the strategy, a broker call; or a candle published late) is still used, in turn, so the
  session acts on ever older bars while its steps stay slow: the session log says so
  (``venue_bars_behind``, a warning) on the first such bar and each tenfold.

Transient fetch errors are retried with the session's ``RetryPolicy`` on the feed's clock;
when the retries run out the ``Transient`` propagates: the session counts it as a failed
broker call (``BROKER_UNHEALTHY`` after ``broker_max_consecutive_failures`` of them).

On resume the journal is the truth: candles journaled after the checkpoint's last used
one are queued again, so the re-run takes exactly the bars the crashed run had received.
``replay_journal`` reads a journal back for the evidence re-run against the mock venue.
"""

from __future__ import annotations

import contextlib
import os
import weakref
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._domain.clock import epoch_ns, format_utc_ns
from .._domain.decimal import plain
from .._domain.model import Bar
from .._domain.retry import RetryPolicy, call_with_retry
from .._exceptions import ConfigError, Transient
from .._support.fsutil import fsync_dir, open_update
from .._support.logging import get_logger
from .._support.underfoot import changed_under

if TYPE_CHECKING:
    from .._typing import Clock

__all__ = [
    "FETCH_OHLCV",
    "Candle",
    "JournalFeed",
    "RawCandle",
    "VenueFeed",
    "gap_note",
    "read_journal",
]

FETCH_OHLCV: Final = "fetch_ohlcv"
"""The broker-health operation of a failed fetch of the venue's candles."""
_NS_PER_MS: Final = 1_000_000

RawCandle = tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]
"""What a fetch returns per candle: open time (epoch ms), open, high, low, close, volume."""
Fetch = Callable[[int | None], Sequence[RawCandle]]
"""Asks the venue for candles opening at or after ``since_ms`` (None: the latest ones)."""


@attrs.frozen
class Candle:
    """One closed candle of the venue, as journaled; ``open_ms`` is its open time."""

    open_ms: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal

    @classmethod
    def of(cls, raw: RawCandle) -> Candle:
        """A candle from a fetch's tuple."""
        return cls(*raw)

    def line(self) -> bytes:
        """The journal line (sorted keys, decimals as text, newline-terminated)."""
        record = {
            "close": plain(self.close),
            "high": plain(self.high),
            "low": plain(self.low),
            "open": plain(self.open),
            "open_ms": self.open_ms,
            "volume": plain(self.volume),
        }
        return orjson.dumps(record, option=orjson.OPT_SORT_KEYS) + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> Candle:
        """Read a journal line back."""
        record = orjson.loads(line)
        return cls(
            open_ms=int(record["open_ms"]),
            open=Decimal(record["open"]),
            high=Decimal(record["high"]),
            low=Decimal(record["low"]),
            close=Decimal(record["close"]),
            volume=Decimal(record["volume"]),
        )

    def bar(self, symbol: str) -> Bar:
        """The bar a step uses: the candle's values at its open time."""
        return Bar(
            symbol=symbol,
            ts_ns=self.open_ms * _NS_PER_MS,
            open=self.open,
            high=self.high,
            low=self.low,
            close=self.close,
            volume=self.volume,
        )


def gap_note(
    symbol: str, interval_ms: int, last_ms: int | None, next_ms: int
) -> dict[str, Any] | None:
    """The ``FEED_GAP`` payload when ``next_ms`` is more than one interval after ``last_ms``."""
    if last_ms is None or next_ms <= last_ms + interval_ms:
        return None
    return {
        "symbol": symbol,
        "interval_ms": interval_ms,
        "missing": (next_ms - last_ms - 1) // interval_ms,
        "first_missing_ms": last_ms + interval_ms,
        "next_ms": next_ms,
    }


def read_journal(path: Path) -> tuple[list[Candle], int]:
    """The candles of a market-data journal and the byte length of its whole lines.

    A torn last line (a crash in the middle of an append) is not a candle: it is left out,
    and the length returned stops before it (the next append cuts it off).
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return [], 0
    end = data.rfind(b"\n") + 1
    candles: list[Candle] = []
    for number, line in enumerate(data[:end].splitlines(), start=1):
        try:
            candles.append(Candle.from_line(line))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, ArithmeticError):
            raise ConfigError(f"{path}:{number}: not a market-data journal line") from None
    return candles, end


class _Journal:
    """The append-only market-data journal: one candle per line, synced when durable.

    Held open from its first append: a journal cut, moved or removed under the run (logrotate
    with a glob that caught ``*.jsonl``, a cleanup) is noticed before the next candle is
    written (``changed_under``) and refused, naming what was done. Before, the candle went
    to the file at its name after a hole of NUL bytes as long as the journal had been.
    """

    def __init__(self, path: Path, *, durable: bool) -> None:
        self.path = path
        self._where = path.absolute()  # a later chdir does not move it
        self._durable = durable
        candles, self._valid = read_journal(path)
        self.candles = candles
        self._fd = -1

    def append(self, candle: Candle) -> None:
        fd = self._open() if self._fd < 0 else self._fd
        changed = changed_under(fd, self._where, self._valid)
        if changed is not None:
            raise changed
        line = candle.line()
        try:
            view = memoryview(line)
            while view:
                view = view[os.pwrite(fd, view, self._valid + len(line) - len(view)) :]
            if self._durable:
                os.fsync(fd)
        except OSError:
            with contextlib.suppress(OSError):  # whole lines only; the error is the one said
                os.ftruncate(fd, self._valid)
            raise
        self._valid += len(line)
        self.candles.append(candle)

    def _open(self) -> int:
        """The journal, opened to write and cut back to its whole lines (a crash's torn tail)."""
        created = not self.path.exists()  # made never others' to write (NEW_FILE_MODE)
        fd = open_update(self.path, create=True)
        try:
            os.ftruncate(fd, self._valid)
            if created and self._durable:
                fsync_dir(self.path.parent)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        weakref.finalize(self, os.close, fd).atexit = False
        return fd


class VenueFeed:
    """``feed = "venue"``: the venue's closed candles at the session's step interval.

    Args:
        symbol: The traded symbol (ccxt form).
        interval_ms: The candle length: the session's ``step_interval_ms``.
        retry: The policy transient fetch errors are retried with.
        max_empty_polls: Fetches in a row that bring no new closed candle before the feed
            gives up with a ``Transient`` (the venue publishes nothing: a failed call).
    """

    dated = True
    """Bars carry the venue's own times."""
    first_ts_ns: int | None = None

    def __init__(
        self, *, symbol: str, interval_ms: int, retry: RetryPolicy, max_empty_polls: int = 30
    ) -> None:
        if interval_ms <= 0:
            raise ConfigError(f"feed 'venue' needs a positive step_interval_ms, got {interval_ms}")
        self.symbol = symbol
        self.interval_ms = interval_ms
        self._retry = retry
        self._max_empty = max_empty_polls
        self._fetch: Fetch | None = None
        self._journal: _Journal | None = None
        self._clock: Clock | None = None
        self._wait_ns: Callable[[int], None] = _no_wait
        self._queue: deque[Candle] = deque()
        self._last_used: int | None = None
        self._gaps: list[dict[str, Any]] = []
        self._run_id = ""
        self._taken_before: int | None = None
        """The journal's last candle when attached: a resume takes the ones up to it again."""
        self._late = 0

    # -- wiring ---------------------------------------------------------------------------

    def attach(
        self,
        fetch: Fetch,
        *,
        journal: Path,
        durable: bool,
        clock: Clock,
        wait_ns: Callable[[int], None],
        run_id: str = "",
    ) -> None:
        """Give the feed its source, journal, clock and way of waiting (``run_id``: its log's).

        The candles already journaled (a resumed run) are queued: a resume continues from
        the journal, and nothing older than its last candle is taken from the venue again.
        """
        self._fetch = fetch
        self._journal = _Journal(journal, durable=durable)
        self._clock = clock
        self._wait_ns = wait_ns
        self._run_id = run_id
        candles = self._journal.candles
        self._taken_before = candles[-1].open_ms if candles else None
        self._requeue()

    @property
    def attached(self) -> bool:
        """Whether ``attach`` gave the feed its source."""
        return self._fetch is not None

    def _requeue(self) -> None:
        journal = self._journal
        last = self._last_used
        self._queue = deque(
            c for c in (journal.candles if journal else []) if last is None or c.open_ms > last
        )

    # -- the feed -------------------------------------------------------------------------

    def next_bar(self, ts_ns: int) -> Bar | None:  # noqa: ARG002 - the venue's time rules
        """The next closed candle as a bar; waits until it has closed (never None)."""
        if self._fetch is None:
            raise ConfigError("feed 'venue' is not attached to a venue (use create_run)")
        empty = 0
        while not self._queue:
            if self._take_new(self._fetch, repeat=empty > 0) == 0:
                empty += 1
                if empty >= self._max_empty:
                    raise Transient(
                        f"the venue published no new closed {self.symbol} candle in {empty} fetches"
                    )
        candle = self._queue.popleft()
        gap = gap_note(self.symbol, self.interval_ms, self._last_used, candle.open_ms)
        if gap is not None:
            self._gaps.append(gap)
        self._last_used = candle.open_ms
        if self._taken_before is None or candle.open_ms > self._taken_before:
            self._say_if_late(candle.open_ms)
        return candle.bar(self.symbol)

    def _say_if_late(self, open_ms: int) -> None:
        """Warn, on the first late bar and each tenfold, that the session is behind the venue.

        Nothing of the run changes: the candle is used, as every candle is, in turn. Only
        the session log says it, as it is a matter of the wall clock.
        """
        late_ms = self._now_ms() - open_ms - self.interval_ms
        if late_ms < self.interval_ms:
            return
        self._late += 1
        if str(self._late).rstrip("0") != "1":  # 1, 10, 100, ...
            return
        get_logger().warning(
            "venue_bars_behind",
            run_id=self._run_id,
            symbol=self.symbol,
            bar=format_utc_ns(open_ms * _NS_PER_MS),
            interval_s=self.interval_ms / 1000,
            late_s=round(late_ms / 1000, 1),
            bars_late=self._late,
            why=(
                "taken over one interval after its candle closed: a step took longer than the "
                "bar interval (the strategy, a broker call), or the venue published the candle "
                "late; every candle is used in turn, so the session acts on older bars while "
                "its steps stay slower than the interval"
            ),
        )

    def take_gaps(self) -> list[dict[str, Any]]:
        """The ``FEED_GAP`` payloads of the bar just given (the session records them)."""
        gaps, self._gaps = self._gaps, []
        return gaps

    def _now_ms(self) -> int:
        assert self._clock is not None  # noqa: S101 - attached before any fetch
        return epoch_ns(self._clock.now()) // _NS_PER_MS

    def _take_new(self, fetch: Fetch, *, repeat: bool) -> int:
        """Wait for the next close, fetch, journal and queue what is new; how many.

        ``repeat``: the last fetch brought nothing new (the candle is late): ask again
        after a tenth of an interval.
        """
        journal = self._journal
        assert journal is not None  # noqa: S101 - attached
        last_journaled = journal.candles[-1].open_ms if journal.candles else None
        # Paced at the bar interval; a fetch that came back empty waits a tenth of one.
        pause = self.interval_ms // 10 if repeat else 0
        since: int | None = None
        if last_journaled is not None:
            since = last_journaled + self.interval_ms
            pause = max(since + self.interval_ms - self._now_ms(), pause)  # the next close
        if pause > 0:
            self._wait_ns(pause * _NS_PER_MS)
        raw = call_with_retry(
            lambda _attempt: fetch(since),
            policy=self._retry,
            key=f"{FETCH_OHLCV}:{self.symbol}:{since}",
            wait_ns=self._wait_ns,
            now_ns=lambda: self._now_ms() * _NS_PER_MS,
        )
        now = self._now_ms()
        seen: set[int] = set()
        fresh: list[Candle] = []
        for item in sorted(raw, key=lambda c: c[0]):
            candle = Candle.of(item)
            closed = candle.open_ms + self.interval_ms <= now
            newer = last_journaled is None or candle.open_ms > last_journaled
            if closed and newer and candle.open_ms not in seen:
                seen.add(candle.open_ms)
                fresh.append(candle)
        if last_journaled is None:
            fresh = fresh[-1:]  # a new session starts at the latest closed candle
        for candle in fresh:
            journal.append(candle)  # durable before any step can use it
            self._queue.append(candle)
        return len(fresh)

    # -- checkpoint -----------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """The open time of the last candle used (the journal holds the rest)."""
        return {"last_used_ms": self._last_used}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Continue after the candle the checkpoint used: the journal's later ones first."""
        last = state.get("last_used_ms")
        self._last_used = None if last is None else int(last)
        self._gaps = []
        self._requeue()

    def __repr__(self) -> str:
        return f"VenueFeed(symbol={self.symbol!r}, interval_ms={self.interval_ms})"


class JournalFeed:
    """The journaled candles of a venue run, replayed as a dated feed (evidence re-runs).

    Gaps are noted as the venue feed noted them, so the re-run records the same
    ``FEED_GAP`` events; the feed ends after the last journaled candle.
    """

    dated = True

    def __init__(self, path: Path, *, symbol: str, interval_ms: int) -> None:
        self.symbol = symbol
        self.interval_ms = interval_ms
        self._candles, _ = read_journal(path)
        self.first_ts_ns = self._candles[0].open_ms * _NS_PER_MS if self._candles else None
        self._index = 0
        self._gaps: list[dict[str, Any]] = []

    def next_bar(self, ts_ns: int) -> Bar | None:  # noqa: ARG002 - dated
        """The next journaled candle, or None after the last."""
        if self._index >= len(self._candles):
            return None
        candle = self._candles[self._index]
        last = self._candles[self._index - 1].open_ms if self._index else None
        gap = gap_note(self.symbol, self.interval_ms, last, candle.open_ms)
        if gap is not None:
            self._gaps.append(gap)
        self._index += 1
        return candle.bar(self.symbol)

    def take_gaps(self) -> list[dict[str, Any]]:
        """The ``FEED_GAP`` payloads of the bar just given."""
        gaps, self._gaps = self._gaps, []
        return gaps

    def get_state(self) -> dict[str, Any]:
        """The index of the next candle."""
        return {"index": self._index}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Restore ``get_state``'s snapshot."""
        self._index = int(state["index"])

    def __repr__(self) -> str:
        return f"JournalFeed(symbol={self.symbol!r}, candles={len(self._candles)})"


def _no_wait(_ns: int) -> None:
    """Until attached, nothing waits."""
