"""The data file a run reads: its record in ``run.json``, and the check ``resume`` makes.

A feed that reads a file (``CsvReplayFeed``, ``ParquetReplayFeed``) checks it whole and
hashes it when it opens; ``config.json`` keeps its SHA-256 and size (``feed_sha256``,
``feed_bytes``: part of the config hash) and ``run.json`` the same with the resolved path,
the row count and the first and last times, so a reviewer knows which data ran, and
``resume`` and ``evidence`` refuse a file that changed.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .._exceptions import ConfigError, DataFileError, RunDirectoryError
from .._market.datafile import DataFileCheck
from .._support.fsutil import file_digest

if TYPE_CHECKING:
    from .._domain.config import DryrunConfig

__all__ = [
    "changed_or",
    "check_data_unchanged",
    "check_run_data",
    "close_feed",
    "data_record",
    "pin_data",
    "refuse_other_data",
]


def _checked(feed: object) -> DataFileCheck | None:
    checked = getattr(feed, "checked", None)
    return checked if isinstance(checked, DataFileCheck) else None


def data_record(cfg: DryrunConfig, feed: object) -> dict[str, object] | None:
    """What ``run.json`` keeps of the data file ``feed`` read (None: the feed reads none)."""
    checked = _checked(feed)
    if checked is None:
        return None
    return {**checked.record(cfg.feed), "path": str(checked.path.resolve())}


def pin_data(cfg: DryrunConfig, feed: object) -> DryrunConfig:
    """``cfg`` with the SHA-256 and size of the data file ``feed`` read (``config.json``).

    A config that already names a SHA-256 (written by hand, or a run's own config read back
    by ``evidence``) must name this file's: other data is refused. A feed that reads no
    file refuses one (``ConfigError``): it would pin nothing.
    """
    checked = _checked(feed)
    if checked is None:
        if cfg.feed_sha256 is not None or cfg.feed_bytes is not None:
            given = "feed_sha256" if cfg.feed_sha256 is not None else "feed_bytes"
            raise ConfigError(
                f"{given} is given, but the feed {cfg.feed!r} read no data file: it pins the "
                "file of a feed that reads one; drop it"
            )
        return cfg
    refuse_other_data(cfg, checked)
    if (cfg.feed_sha256, cfg.feed_bytes) == (checked.sha256, checked.size):
        return cfg
    return attrs.evolve(cfg, feed_sha256=checked.sha256, feed_bytes=checked.size)


def refuse_other_data(cfg: DryrunConfig, checked: DataFileCheck) -> None:
    """A ``DataFileError`` when ``cfg`` pins a data file other than ``checked``."""
    if cfg.feed_sha256 is None or cfg.feed_sha256 == checked.sha256:
        return
    raise _changed(cfg, checked.path, checked.sha256, checked.size)


def changed_or(cfg: DryrunConfig, error: DataFileError) -> DataFileError:
    """``error`` (the data file failed its check), or that the file changed, when it did.

    A config that pins a SHA-256 (a resumed run's, or one written by hand) was made on data
    that passed: a file that fails now and hashes otherwise was changed since, and that is
    what to say (restore it), not the row the change broke.
    """
    path = cfg.data_file()
    if cfg.feed_sha256 is None or path is None:
        return error
    try:
        digest, size = file_digest(path)
    except OSError:
        return error  # missing or unreadable: the error says so
    return error if digest == cfg.feed_sha256 else _changed(cfg, path, digest, size)


def _changed(cfg: DryrunConfig, path: Path, digest: str, size: int) -> DataFileError:
    return DataFileError(
        f"data file {path} changed: its SHA-256 is {digest[:12]}... ({size} bytes), the "
        f"config records {str(cfg.feed_sha256)[:12]}... ({cfg.feed_bytes} bytes): restore "
        "the file the run read",
        path=path,
        line=None,
        column=None,
        value=None,
    )


def close_feed(feed: object) -> None:
    """Close ``feed`` if it holds a file (a session that was never built does not own it)."""
    close = getattr(feed, "close", None)
    if callable(close):
        close()


def check_data_unchanged(
    run_dir: Path, meta: dict[str, Any], feed: object, *, cfg_sha256: str | None = None
) -> None:
    """Refuse to resume on a data file other than the one the run started on.

    ``run.json``'s record (or else ``cfg_sha256``, the config's ``feed_sha256``) is what the
    run started on. Runs that record no data file (random walk, or written before the
    record existed) pass.
    """
    checked = _checked(feed)
    recorded = meta.get("data")
    if not isinstance(recorded, dict) or "sha256" not in recorded:
        recorded = None if cfg_sha256 is None else {"feed": "the data file", "sha256": cfg_sha256}
    if recorded is None:
        return
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


def check_run_data(run_dir: Path, cfg: DryrunConfig, meta: dict[str, Any]) -> dict[str, Any] | None:
    """The data file a finished run read, checked to be unchanged (for ``evidence``).

    Returns what the evidence manifest records (the feed, the resolved path, SHA-256 and
    size), or None when the run read no data file; a ``DataFileError`` (one line) when the
    file is missing or its bytes changed since the run.
    """
    path = cfg.data_file()
    if path is None:
        return None
    recorded = meta.get("data")
    if isinstance(recorded, dict) and isinstance(recorded.get("path"), str):
        path = Path(recorded["path"])
    try:
        digest, size = file_digest(path)
    except OSError as exc:
        raise DataFileError(
            f"cannot read data file {path} of run {run_dir}: {exc.strerror}",
            path=path,
            line=None,
            column=None,
            value=None,
        ) from None
    want = cfg.feed_sha256
    if want is None and isinstance(recorded, dict):
        want = recorded.get("sha256")
    if want is not None and want != digest:
        raise DataFileError(
            f"data file {path} changed since run {run_dir} (SHA-256 {str(want)[:12]}..., "
            f"now {digest[:12]}...): restore the file the run read",
            path=path,
            line=None,
            column=None,
            value=None,
        )
    return {"feed": cfg.feed, "path": str(path), "sha256": digest, "bytes": size}
