"""The data file a run reads: its record in ``run.json``, and the check ``resume`` makes.

A feed that reads a file (``CsvReplayFeed``) checks it whole and hashes it when it opens;
``run.json`` keeps that SHA-256 (with the size, the row count and the first and last
times), so a reviewer knows which data ran, and a resume refuses a file that changed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._exceptions import RunDirectoryError
from .._market.datafile import DataFileCheck

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig

__all__ = ["check_data_unchanged", "close_feed", "data_record"]


def _checked(feed: object) -> DataFileCheck | None:
    checked = getattr(feed, "checked", None)
    return checked if isinstance(checked, DataFileCheck) else None


def data_record(cfg: DryrunConfig, feed: object) -> dict[str, object] | None:
    """What ``run.json`` keeps of the data file ``feed`` read (None: the feed reads none)."""
    checked = _checked(feed)
    return None if checked is None else checked.record(cfg.feed)


def close_feed(feed: object) -> None:
    """Close ``feed`` if it holds a file (a session that was never built does not own it)."""
    close = getattr(feed, "close", None)
    if callable(close):
        close()


def check_data_unchanged(run_dir: Path, meta: dict[str, Any], feed: object) -> None:
    """Refuse to resume on a data file other than the one the run started on.

    Runs whose ``run.json`` records no data file (random walk, or written before the record
    existed) pass.
    """
    recorded = meta.get("data")
    if not isinstance(recorded, dict) or "sha256" not in recorded:
        return
    checked = _checked(feed)
    if checked is None:
        raise RunDirectoryError(
            f"run {run_dir} started on data file {recorded.get('feed')!r}, "
            "but its config now builds a feed that reads none"
        )
    if checked.sha256 != recorded["sha256"]:
        raise RunDirectoryError(
            f"data file {checked.path} changed since run {run_dir} started (SHA-256 "
            f"{str(recorded['sha256'])[:12]}..., now {checked.sha256[:12]}...): "
            "restore the file the run started on to resume it"
        )
