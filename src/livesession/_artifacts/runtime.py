"""The run's own time of a record, as every reader says it: its ``ts_sim``, not the clock's.

Every record carries ``ts_sim``, simulated time in nanoseconds since the epoch, and
``ts_utc``, the stamp of the clock ``clock_mode`` picks: the simulated time itself
(``sim``), one moment on every record (``fixed``: the start time) or the wall clock as the
record is written (``system``). A time said to be the run's (``run time ...``) is its
``ts_sim``, moved by the one offset a simulated clock that started elsewhere keeps from it
(``own_offset_ns``): the report's header, tables and axes, and ``status``'s trading and
position lines of a live or crashed run, which gave the clock's stamp (on the fixed clock,
the start time for every event).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from .._domain import clock as _clock
from .._domain.clock import format_utc_ns
from . import names
from .runread import iter_records, last_whole_line, payload, read_json_object

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = [
    "GAP_CAUSES",
    "LongestGap",
    "clock_ends",
    "on_the_wall",
    "own_offset_ns",
    "parse_utc_ns",
    "run_offset_ns",
    "run_time",
    "stamped_apart",
    "ts_sim_of",
]

NS_PER_S: Final = 10**9


def ts_sim_of(record: dict[str, Any]) -> int:
    """The record's ``ts_sim``, or 0 when it is not an integer."""
    value = record.get("ts_sim")
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def parse_utc_ns(text: object) -> int | None:
    """Nanoseconds since the epoch of an RFC 3339 UTC text (``...Z``), or None.

    ``_domain.clock.parse_utc_ns`` (to the nanosecond), for a record's stamp that may be
    anything: None where that one refuses.
    """
    if not isinstance(text, str) or not text.endswith("Z"):
        return None
    try:
        return _clock.parse_utc_ns(text)
    except ValueError:
        return None


def clock_ends(records: Iterable[dict[str, Any] | None]) -> list[tuple[int, int]]:
    """(``ts_utc``, ``ts_sim``) of each of ``records`` that stamps both (the run's ends)."""
    ends = []
    for record in records:
        utc = None if record is None else parse_utc_ns(record.get("ts_utc"))
        if record is not None and utc is not None:
            ends.append((utc, ts_sim_of(record)))
    return ends


def own_offset_ns(ends: Iterable[tuple[int, int]]) -> int:
    """What to add to ``ts_sim`` for UTC nanoseconds since the epoch (``clock_ends``' pairs).

    A session's simulated time is epoch nanoseconds already (offset 0: a data file's
    bars at their own times). A simulated clock that started elsewhere keeps one
    offset from it, read to the whole second (``ts_utc`` may drop the fraction), so the
    times follow that clock. A wall clock (``--clock system``) or a fixed one keeps none:
    its ``ts_utc`` says when the process wrote a record, not the simulated moment, and
    adding it to ``ts_sim`` would show times that neither are. Offset 0 then: the run's
    own (simulated) time.
    """
    offsets = {round((utc - sim) / NS_PER_S) * NS_PER_S for utc, sim in ends}
    return offsets.pop() if len(offsets) == 1 else 0


def on_the_wall(config: dict[str, Any], first_event: dict[str, Any] | None) -> bool:
    """Whether the run says its clock was the wall's (``clock_mode`` ``system``, no clock object).

    ``config``: its ``config.json`` (``{}`` when missing); ``first_event``: its
    ``SESSION_STARTED``, whose ``clock_mode`` speaks for a run without ``config.json``.
    Then its ``ts_utc`` is never simulated time, even when every record fell within one
    second (a run refused at preflight, or halted and crashed before its first step), which
    the ends alone (``own_offset_ns``) cannot tell apart. The report and ``status`` ask this.
    """
    sources = config.get("sources")
    if isinstance(sources, dict) and isinstance(sources.get("clock"), dict):
        return False  # a clock object: the config's clock_mode did not stamp the records
    started = payload(first_event or {})
    return config.get("clock_mode", started.get("clock_mode")) == "system"


def run_time(record: dict[str, Any], offset_ns: int) -> str:
    """When ``record`` happened in the run's own time (``own_offset_ns``); ``?`` for no time.

    Not its ``ts_utc``: a wall (``--clock system``) or fixed clock stamps when the
    process wrote it, or the start time on every record.
    """
    ts_sim = record.get("ts_sim")
    if not isinstance(ts_sim, int) or isinstance(ts_sim, bool):
        return "?"
    return format_utc_ns(ts_sim + offset_ns)


def run_offset_ns(run_dir: Path) -> int:
    """``own_offset_ns`` of ``run_dir``'s ends, read as the report reads them.

    The first event and state snapshot that parse, and the last whole ones: a reader of
    the files' ends (``status``) pays for their first lines and last lines only. 0 for a
    run on the wall clock (``on_the_wall``, with ``config.json``), as the report takes it.

    Raises:
        OSError: the host refused to read a file (``raise_if_refused``).
    """
    ends: list[dict[str, Any] | None] = []
    for name in (names.EVENTS, names.SNAPSHOTS):
        first = next(iter_records(run_dir / name), None)  # the rest is never read
        if name == names.EVENTS and on_the_wall(read_json_object(run_dir / names.CONFIG), first):
            return 0
        ends += [first, last_whole_line(run_dir / name)]
    return own_offset_ns(clock_ends(ends))


def stamped_apart(config: dict[str, Any]) -> bool:
    """Whether ``config.json`` says a clock other than simulated time stamped the run.

    The system clock (``clock_mode``), or a clock of the caller's (``sources``' ``clock``).
    """
    sources = config.get("sources")
    supplied = isinstance(sources, dict) and isinstance(sources.get("clock"), dict)
    return supplied or config.get("clock_mode") == "system"


GAP_CAUSES: Final = (
    "nothing was recorded meanwhile: a paused or crashed process, a strategy or feed slower "
    "than the step; or no time passed and the clock was stepped forward (a time sync step, "
    "a clock set by hand), which the records cannot tell apart"
)
"""What a ``LongestGap`` may be, as the report and the evidence say it."""


class LongestGap:
    """The longest time by the clock from one event to the next, read as the events pass.

    A clock that is not the run's time (``stamped_apart``: a wall clock) runs on while
    nothing steps the session: a paused or crashed process, a strategy or feed slower than
    the step. The session takes one step when it is stepped again, so ``ts_sim`` shows no
    such stretch; only ``ts_utc`` does. ``longest``: ``(nanoseconds, the BAR events up to
    the later event, its ts_utc in epoch ns)``, None before two stamps.
    """

    __slots__ = ("_bars", "_last", "longest")

    def __init__(self) -> None:
        self._bars = 0
        self._last: int | None = None
        self.longest: tuple[int, int, int] | None = None

    def note(self, event: dict[str, Any]) -> None:
        """Take ``event``'s ``ts_utc`` (and count it when it is a ``BAR``)."""
        if event.get("event_type") == "BAR":
            self._bars += 1
        utc = parse_utc_ns(event.get("ts_utc"))
        if utc is None:
            return
        last, self._last = self._last, utc
        if last is not None and utc - last > 0:
            longest = self.longest
            if longest is None or utc - last > longest[0]:
                self.longest = (utc - last, self._bars, utc)
