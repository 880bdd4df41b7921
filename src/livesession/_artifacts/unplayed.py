"""A data file's bars a run did not play: its planned steps ran out before the file did.

A quarter of minute bars (129,600 rows) run at the default ``steps`` (1,000) played its
first 17 hours and sealed ``COMPLETED``, its summary ``steps 1000 of 1000``: nothing said
that the other 128,600 bars were never played, and the run passed for the quarter's. The
``dryrun`` and ``resume`` summary and the burn-in review (so the evidence document) say so,
from the rows ``run.json`` records of the file (``data.rows``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["file_rows", "unplayed"]


def file_rows(meta: Mapping[str, Any]) -> int | None:
    """The rows of the data file a run read (``run.json``'s ``data.rows``), or None."""
    data = meta.get("data")
    rows = data.get("rows") if isinstance(data, dict) else None
    return rows if type(rows) is int else None


def unplayed(rows: int | None, steps: object, planned: object) -> str:
    """What a run that took all its ``planned`` steps left of a file of ``rows``, or "".

    "" unless the steps ran out (``steps`` is ``planned``) with rows of the file still
    unplayed: a run that stopped earlier says so otherwise (``stopped at step ...``).
    """
    if rows is None or type(steps) is not int or steps != planned or rows <= steps:
        return ""
    return (
        f"{rows - steps} of the data file's {rows} bars were not played: the run's {steps} "
        f"steps ran out first; steps = {rows} plays them all"
    )
