"""What a run's ``alerts.jsonl`` says of its deliveries, over every process that posted.

Each process that posts to a webhook (the first start, each resume) logs what became of
each alert on a line of its own, and ends with a ``closed`` line of counts; a process that
crashed wrote none, so the alerts are counted from their own lines. ``status`` says the
totals, so a person who reads only ``status`` learns that a page never went out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

import orjson

from .._artifacts import names
from .._support.fsutil import refuse_special

if TYPE_CHECKING:
    from pathlib import Path

__all__ = ["ALERT_COUNTS", "alert_tally", "alerts_row", "delivered_words", "lost_of"]

ALERT_COUNTS: Final = ("posted", "delivered", "failed", "dropped", "abandoned")
"""The counts of a ``closed`` line, in its order."""
_OUTCOME: Final = {"delivered": "delivered", "gave_up": "failed", "abandoned": "abandoned"}
_MAX_READ: Final = 16 * 1024 * 1024  # a log past it is read no further (bounded, as status is)


def alert_tally(run_dir: Path) -> dict[str, int] | None:
    """The deliveries of every process, summed (``ALERT_COUNTS``); None without the file.

    An alert's own line says what became of it (``delivered``, ``gave_up``, ``abandoned``)
    whether or not its process lived to write its ``closed`` line; ``dropped`` alerts are
    taken from the ``closed`` lines, which count past the first 1,000 a process lists.
    An alert a crash caught in flight has no line, and is not counted.
    """
    path = run_dir / names.ALERTS
    try:
        refuse_special(path)  # never a FIFO's wait: the callers said such a file already
        with path.open("rb") as log:
            data = log.read(_MAX_READ)
    except OSError:
        return None
    total = dict.fromkeys(ALERT_COUNTS, 0)
    for line in data.splitlines():
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue  # a torn last line (a crash mid-write)
        if not isinstance(record, dict):
            continue
        outcome = record.get("outcome")
        if outcome == "closed":
            dropped = record.get("dropped")
            if isinstance(dropped, int) and not isinstance(dropped, bool):
                total["dropped"] += dropped
        elif outcome in _OUTCOME:
            total[_OUTCOME[outcome]] += 1
    total["posted"] = sum(total[key] for key in ALERT_COUNTS[1:])
    return total


def lost_of(counts: dict[str, int]) -> dict[str, int]:
    """The alerts the webhook did not take, by what became of them."""
    return {key: counts.get(key, 0) for key in ("failed", "dropped", "abandoned")}


def delivered_words(counts: dict[str, int], *, errors_in: str = "") -> str:
    """``3 delivered``, or ``1 of 3 delivered (failed 2, dropped 0, abandoned 0)``.

    ``errors_in``: the log that holds the webhook's errors, said after the counts when it
    did not take every alert (``: the webhook's errors are in alerts.jsonl``).
    """
    posted, delivered = counts.get("posted", 0), counts.get("delivered", 0)
    lost = lost_of(counts)
    if delivered == posted and not any(lost.values()):
        return f"{delivered} delivered"
    said = ", ".join(f"{key} {n}" for key, n in lost.items())
    where = f": the webhook's errors are in {errors_in}" if errors_in else ""
    return f"{delivered} of {posted} delivered ({said}){where}"


def alerts_row(run_dir: Path) -> list[tuple[str, str]]:
    """The report's ``alerts (webhook)`` row of a run that posted to one; none otherwise."""
    counts = alert_tally(run_dir)
    if counts is None:
        return []
    return [("alerts (webhook)", delivered_words(counts, errors_in=names.ALERTS))]
