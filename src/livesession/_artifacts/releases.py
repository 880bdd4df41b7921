"""Which release wrote a run: ``run.json``'s ``version``, compared with this one's.

A run another release (major.minor) wrote is read, verified and reported by this one, but
never continued by it: its config reads with keys this release added (another config hash),
and its files lack what this release added (causal links, the writer lock). So no tool of
this release advises ``livesession resume`` for such a run; each names the release to use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._support.text import command
from .._version import __version__
from . import names
from .runread import read_json_object

if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

__all__ = ["other_release", "release_of", "resume_advice", "written_by_other_release"]


def release_of(version: str) -> str:
    """The release (major.minor) of ``version``: ``0.1`` of ``0.1.0``."""
    return ".".join(version.split(".")[:2])


def other_release(meta: dict[str, Any]) -> str | None:
    """The version that wrote a run (``run.json``'s) when its release is not this one's.

    0.2.1 continues what 0.2.0 wrote; None: this release, or no version recorded.
    """
    version = meta.get("version")
    if not isinstance(version, str) or release_of(version) == release_of(__version__):
        return None
    return version


def written_by_other_release(run_dir: Path) -> str | None:
    """``other_release`` of ``run_dir``'s ``run.json`` (None when it has none to read)."""
    return other_release(read_json_object(run_dir / names.RUN_META))


def resume_advice(run_dir: Path, *, verb: str = "continue it") -> str:
    """How to continue the unfinished run ``run_dir``: with this release, or with its own."""
    version = written_by_other_release(run_dir)
    if version is None:
        return f"{verb} with `{command('resume', run_dir)}`"
    return (
        f"{verb} with livesession {release_of(version)}.x, which wrote it (this is "
        f"{__version__}, which continues only runs of its own release)"
    )
