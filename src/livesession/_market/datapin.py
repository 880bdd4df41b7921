"""Pinning a run's config to the data file its feed read: ``feed_sha256`` and ``feed_bytes``.

A feed that reads a file (``CsvReplayFeed``, ``ParquetReplayFeed``) checks it whole and
hashes it when it opens (``checked``). The session pins the config to that file before it
hashes the config, on every path that builds one (``create_run``, ``run_dryrun``, a
``LiveSessionOrchestrator`` of its own): ``config_sha256`` and the audit then tie the run to
the bytes it read, and the same config, seed and file give the same files however the run
was made. Here, below the session layer, so the run directory's checks use it too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from .._exceptions import ConfigError, DataFileError
from .datacheck import DataFileCheck

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig

__all__ = ["checked_data", "not_the_pinned_data", "pin_data", "refuse_other_data"]


def checked_data(feed: object) -> DataFileCheck | None:
    """The whole-file check of the data file ``feed`` read (None: it reads no file)."""
    checked = getattr(feed, "checked", None)
    return checked if isinstance(checked, DataFileCheck) else None


def pin_data(cfg: DryrunConfig, feed: object) -> DryrunConfig:
    """``cfg`` with the SHA-256 and size of the data file ``feed`` read (``config.json``).

    A config that already names a SHA-256 (written by hand, or a run's own config read back
    by ``evidence``) must name this file's: other data is refused. A feed that reads no
    file refuses one (``ConfigError``): it would pin nothing.
    """
    checked = checked_data(feed)
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
    """A ``DataFileError`` when ``cfg`` pins a data file other than ``checked``.

    By its SHA-256, then by its size: ``feed_bytes`` given (by hand, alone or beside a
    SHA-256) was replaced by the file's own size, and the run went on.
    """
    if cfg.feed_sha256 is not None and cfg.feed_sha256 != checked.sha256:
        raise not_the_pinned_data(cfg, checked.path, checked.sha256, checked.size)
    if cfg.feed_bytes is not None and cfg.feed_bytes != checked.size:
        raise DataFileError(
            f"data file {checked.path} does not match the feed_bytes pinned in the config: it "
            f"is {checked.size} bytes, the config pins {cfg.feed_bytes}: give the run the file "
            f"the config pins, or pin this one (feed_bytes = {checked.size})",
            path=checked.path,
            line=None,
            column=None,
            value=None,
        )


def not_the_pinned_data(cfg: DryrunConfig, path: Path, digest: str, size: int) -> DataFileError:
    """The data file is not the one the config pins (``feed_sha256``) for a new run.

    The pin may be written by hand, without ``feed_bytes``: the file is not said to have
    changed (it may never have been the pinned one), and no size is made up for the pin.
    """
    pinned = f"{str(cfg.feed_sha256)[:12]}..."
    if cfg.feed_bytes is not None:
        pinned += f" ({cfg.feed_bytes} bytes)"
    return DataFileError(
        f"data file {path} does not match the feed_sha256 pinned in the config: its SHA-256 "
        f"is {digest[:12]}... ({size} bytes), the config pins {pinned}: give the run the "
        f'file the config pins, or pin this one (feed_sha256 = "{digest}")',
        path=path,
        line=None,
        column=None,
        value=None,
    )
