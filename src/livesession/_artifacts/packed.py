"""A run's files compressed where they lie: ``events.jsonl.gz`` where ``events.jsonl`` was.

A clean-up that compresses an old run where it lies (``gzip -r out/runs/drill-01``, ``xz``
of its large files) leaves ``events.jsonl.gz`` where ``events.jsonl`` was. Every tool reads
a run's files as the run wrote them, so such a run was said to have lost them (``lost on
the way, or removed``), or, its ``run.json`` compressed too, to be no run, and ``list``
left it out without a word. ``compressed_copies`` says what is there instead, with the
command that gives the files back their names (``runfind.named_otherwise``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._support.text import shell_word

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

__all__ = [
    "archive_beside",
    "archive_said",
    "archives_in",
    "compressed_copies",
    "has_compressed",
]

_UNPACK: Final = {".gz": "gunzip", ".xz": "unxz", ".bz2": "bunzip2", ".zst": "unzstd --rm"}
"""The compressors' suffixes, each with the command that decompresses in place."""
_ARCHIVES: Final = (".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst", ".tar")
"""How a run archived whole (``tar -czf r1.tar.gz r1``) is named."""
_NAMED: Final = 3
"""The archives ``archives_in`` names; the rest are counted."""


def _compressed(run_dir: Path, wanted: Iterable[str]) -> list[str]:
    """The names of ``wanted`` files there compressed (``events.jsonl.gz``), sorted."""
    return sorted(
        f"{name}{suffix}"
        for name in wanted
        for suffix in _UNPACK
        if (run_dir / f"{name}{suffix}").is_file()
    )


def has_compressed(run_dir: Path, wanted: Iterable[str]) -> bool:
    """Whether one of ``wanted`` is in ``run_dir`` compressed (``list`` shows such a run)."""
    try:
        return bool(_compressed(run_dir, wanted))
    except OSError:  # not to be read: nothing more is known of it than before
        return False


def _extract(archive: Path) -> str:
    """``tar -xf out/runs/r1.tar.gz -C out/runs``: the run back beside its archive."""
    return f"tar -xf {shell_word(str(archive))} -C {shell_word(str(archive.parent))}"


def archive_said(path: Path) -> str:
    """``; it is an archive (...): `tar -xf ...` gives the run back``, or "".

    ``livesession status out/runs/r1.tar.gz`` (a run a clean-up archived) said only that it
    is not a directory.
    """
    if not path.name.endswith(_ARCHIVES):
        return ""
    return f"; it is an archive (of a run?): `{_extract(path)}` gives its run back"


def archive_beside(path: Path) -> str:
    """`` (out/runs/r1.tar.gz is there: ...)`` of a run ``path`` not there, or "".

    A run a clean-up archived and removed (``tar -czf r1.tar.gz r1 && rm -r r1``) was said
    only not to exist, its archive beside it in plain sight.
    """
    for suffix in _ARCHIVES:
        archive = path.with_name(f"{path.name}{suffix}")
        if path.name and archive.is_file():
            return f" ({archive} is there: an archive of it? `{_extract(archive)}` gives it back)"
    return ""


def archives_in(folder: Path) -> str:
    """``; r1.tar.gz is there: an archive of a run? ...``, of a folder with no run, or "".

    A desk that archived its runs as operations.md says (``tar -czf r1.tar.gz r1``, beside
    it) and removed them was told ``(no runs in out/runs)``, as if they were gone.
    """
    try:
        found = sorted(
            child
            for child in folder.iterdir()
            if child.name.endswith(_ARCHIVES) and not child.name.startswith(".") and child.is_file()
        )
    except OSError:  # a folder it may not look into hides nothing it was asked
        return ""
    if not found:
        return ""
    named = ", ".join(archive.name for archive in found[:_NAMED])
    more = f" and {len(found) - _NAMED} more" if len(found) > _NAMED else ""
    if len(found) == 1:
        return f"; {named} is there: an archive of a run? `{_extract(found[0])}` gives it back"
    return (
        f"; {len(found)} archives are there ({named}{more}): archives of runs? "
        f"`{_extract(found[0])}` gives the first back"
    )


def compressed_copies(run_dir: Path, missing: list[str]) -> str:
    """``, but events.jsonl.gz is there, compressed: ...`` ("" when none of ``missing`` is).

    The way out is the command that decompresses them where they are, pasted as printed.
    """
    try:
        found = _compressed(run_dir, missing)
    except OSError:
        return ""
    if not found:
        return ""
    there = f"{found[0]} is" if len(found) == 1 else f"{', '.join(found[:-1])} and {found[-1]} are"
    suffix = found[0][found[0].rindex(".") :]
    return (
        f", but {there} there, compressed (a clean-up that compressed the run?): every tool "
        "reads a run's files as the run wrote them; decompress them where they are "
        f"(`{_UNPACK[suffix]} {shell_word(str(run_dir))}/*{suffix}`)"
    )
