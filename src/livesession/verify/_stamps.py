"""Each event's ``ts_utc`` is what the run's clock read at its ``ts_sim``.

``clock_mode`` (``config.json``, under ``config_sha256``) names the clock that stamps
``ts_utc``: ``sim`` stamps the simulated time itself, to the microsecond (the ``ts_sim``
beside it, its nanoseconds cut), ``fixed`` the config's ``start_time`` on every record
(docs/concepts.md, "Two times: `ts_sim` and `ts_utc`"). So with either, ``ts_utc``
follows from the line it is on. Without this, a run re-sealed with an event's ``ts_utc``
moved (a fill stamped a second later, its audit copy and chain recomputed) verified OK.
The first snapshot's (``INIT``, at the start) is held so too; the later snapshots and the
audit copies are held to their events' times elsewhere (``_moments``, ``_copies``).
Nothing is held for a ``system`` clock (the wall clock), a clock of the caller's own
(``sources`` records it), or a run without ``config.json``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

import orjson

from .._domain.clock import UtcText, epoch_us, parse_utc

if TYPE_CHECKING:
    from ._result import Violations

__all__ = ["Stamps"]

_CALLERS_CLOCK: Final = "clock"
"""The ``sources`` key of a clock the caller supplied (``_rundir.plugins.CLOCK``)."""


class Stamps:
    """The ``ts_utc`` a built-in ``sim`` or ``fixed`` clock gives each event (``of``)."""

    __slots__ = ("_fixed", "_mode", "_text")

    def __init__(self, mode: str, fixed: str | None) -> None:
        self._mode = mode
        self._fixed = fixed
        self._text = UtcText()

    @classmethod
    def of(cls, config: bytes | None) -> Stamps | None:
        """The stamps ``config.json`` (``config``) implies, or None when it implies none."""
        data = _builtin_clock(config)
        mode = None if data is None else data.get("clock_mode")
        if mode == "sim":
            return cls(mode, None)
        start = None if data is None else data.get("start_time")
        if mode != "fixed" or not isinstance(start, str):
            return None
        try:
            return cls(mode, UtcText()(epoch_us(parse_utc(start))))
        except (TypeError, ValueError, OverflowError):
            return None  # a start_time no run could have: the config's own check says so

    def check(self, report: Violations, name: str, number: int, record: dict[str, Any]) -> None:
        """Report line ``number`` of ``name`` when its ``ts_utc`` is not the clock's then."""
        found = record["ts_utc"]
        if self._fixed is not None:
            if found != self._fixed:
                report.add(
                    name,
                    number,
                    f"ts_utc {found} but clock_mode 'fixed' stamps every record with the "
                    f"start_time of config.json, {self._fixed}",
                )
            return
        ts_sim = record["ts_sim"]
        expected = self._text(ts_sim // 1000)
        if found != expected:
            report.add(
                name,
                number,
                f"ts_utc {found} but clock_mode 'sim' stamps the simulated time: ts_sim "
                f"{ts_sim} is {expected}",
            )


def _builtin_clock(config: bytes | None) -> dict[str, Any] | None:
    """``config.json`` as an object, unless the run was stamped by a clock of the caller's."""
    try:
        data = None if config is None else orjson.loads(config)
    except orjson.JSONDecodeError:
        return None  # reported by the config check
    if not isinstance(data, dict):
        return None
    sources = data.get("sources")
    return None if isinstance(sources, dict) and _CALLERS_CLOCK in sources else data
