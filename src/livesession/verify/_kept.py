"""The files a run directory keeps beside the four artifacts, when livesession made it.

A run directory that holds ``run.json`` was made by ``create_run`` (the CLI, an app), which
writes ``config.json`` before any record, and a checkpoint as the session activates, before
its first bar: such a run without ``config.json`` has lost the config its limits and grid
come from (and the check of it against ``SESSION_STARTED``'s ``config_sha256``), and one
whose events record a bar without ``checkpoint.json`` lost the file ``resume`` continues
from and ``status`` reads the seal by. Neither is in the audit chain, so the chain cannot
tell either loss: these checks do. A run written by sinks (no ``run.json``) keeps neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._artifacts import names

if TYPE_CHECKING:
    from pathlib import Path

    from ._result import Violations

__all__ = ["LOST_CHECKPOINT", "check_kept", "lost_checkpoint"]

LOST_CHECKPOINT: Final = (
    f"missing, but {names.EVENTS} records steps: the run had a checkpoint (written as the "
    "session activates, before its first bar) and lost it; restore it from a backup"
)
_LOST_CONFIG: Final = (
    f"missing, but {names.RUN_META} says livesession made this run, and it writes "
    f"{names.CONFIG} before any record: the config the run traded under is lost; restore it "
    "from a backup"
)


def _absent(path: Path) -> bool:
    """Nothing is at ``path`` (a symlink, even a dangling one, is a violation of its own)."""
    return not path.exists() and not path.is_symlink()


def lost_checkpoint(run_dir: Path, bars: int) -> bool:
    """Whether ``run_dir`` (made by livesession) recorded ``bars`` and has no checkpoint."""
    made = (run_dir / names.RUN_META).is_file()
    return made and bars > 0 and _absent(run_dir / names.CHECKPOINT)


def check_kept(report: Violations, run_dir: Path | None, bars: int) -> None:
    """Report ``config.json`` and ``checkpoint.json`` missing from a run livesession made.

    ``bars``: the ``BAR`` events read. ``run_dir`` None: the run was given as bytes.
    """
    if run_dir is None or not (run_dir / names.RUN_META).is_file():
        return
    if _absent(run_dir / names.CONFIG):
        report.add(names.CONFIG, 0, _LOST_CONFIG)
    if lost_checkpoint(run_dir, bars):
        report.add(names.CHECKPOINT, 0, LOST_CHECKPOINT)
