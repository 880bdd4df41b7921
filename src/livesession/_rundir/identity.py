"""A run's directory is its identity: a copy of a crashed run is evidence, not a writer.

A run's client order ids are derived from its run id, strategy and intent sequence alone,
so every copy of a run directory (``cp -a``, ``rsync -a``, a tarball extracted, a backup
restored) sends the same ids as the original, and each holds the idempotency store as it
was when copied. On a venue that outlives the run directory (a ``ccxt:`` exchange, a
broker of one's own: a paper account), a copy resumed after the original went on, or an
older backup restored and resumed, sent again every order the other sent after the copy
was taken: Binance takes an id again once its first order is no longer open. A venue the
resume rebuilds from the run's own journal (``mock``, ``realish``) travels with the copy,
which then trades with nobody but itself.

So ``create_run`` records the run directory's inode number in ``run.json``
(``directory_inode``), and its generation where the file system keeps one
(``directory_generation``: ext4, XFS and btrfs give each inode a new one as it is made,
``FS_IOC_GETVERSION``): a ``mv`` on its file system keeps both, and so does a reboot; a
copy, a restore or a move to another file system makes a new directory, with another
number, or with the number of the one just removed (``rm -rf RUN`` and a backup extracted
in its place: ext4 hands the freed number out again) and another generation.
``resume`` (and ``status``'s ``resumable``) refuses a run on a venue it does not rebuild
whose directory is not the one it was created in, before anything changes. The commands
that only read a run (``verify``, ``status``, ``report``, ``evidence``) read a copy as the
run it is. A run created before the number was recorded is not judged. What is restored
into the run's own directory (``rsync`` into it, a file-system snapshot rolled back) keeps
the directory, and is not told apart: the runbook says not to do that on a venue run.
"""

from __future__ import annotations

import fcntl
import os
import stat
import struct
import sys
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._artifacts.runfiles import run_file_stats
from .memoryids import REBUILT_VENUES

if TYPE_CHECKING:
    from pathlib import Path

    from .._domain.config import DryrunConfig

__all__ = ["copy_problem", "directory_identity", "linked_problem"]

INODE: Final = "directory_inode"
"""``run.json``'s key for the inode number of the directory the run was created in."""
GENERATION: Final = "directory_generation"
"""``run.json``'s key for that inode's generation (none where the file system keeps none)."""
_GETVERSION: Final = 0x80007601 | struct.calcsize("l") << 16
"""``FS_IOC_GETVERSION``: ``_IOR('v', 1, long)``; the kernel writes an ``int``."""


def _generation(run_dir: Path) -> int | None:
    """The generation of ``run_dir``'s inode, or None where the file system has none."""
    if not sys.platform.startswith("linux"):
        return None  # the request number is Linux's
    try:
        fd = os.open(run_dir, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return None
    try:
        raw = fcntl.ioctl(fd, _GETVERSION, bytes(struct.calcsize("l")))
    except OSError:
        return None  # ENOTTY: tmpfs, and others
    finally:
        os.close(fd)
    return int.from_bytes(raw[:4], sys.byteorder)


def directory_identity(run_dir: Path) -> dict[str, int]:
    """``run_dir``'s inode number and generation, as ``run.json`` records them."""
    generation = _generation(run_dir)
    found = {INODE: run_dir.stat().st_ino}
    return found if generation is None else found | {GENERATION: generation}


def _number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _venue(cfg: DryrunConfig, meta: dict[str, Any]) -> str | None:
    """The venue of the run when it outlives the run directory, else None (rebuilt)."""
    sources = meta.get("sources")
    if isinstance(sources, dict) and isinstance(sources.get("broker"), dict):
        return "a broker of its own"  # a reference or an object: its venue may persist
    return None if cfg.broker in REBUILT_VENUES else cfg.broker


def copy_problem(run_dir: Path, cfg: DryrunConfig, meta: dict[str, Any]) -> str:
    """Why resuming ``run_dir`` could trade twice: it is a copy, on a lasting venue ("")."""
    recorded = _number(meta.get(INODE))
    venue = _venue(cfg, meta)
    if recorded is None or venue is None:
        return ""  # a run from before the identity was recorded, or a venue rebuilt
    found = directory_identity(run_dir)
    generation = _number(meta.get(GENERATION))
    if found[INODE] == recorded and found.get(GENERATION) == generation:
        return ""
    said = f"directory inode {recorded}" + (
        f" (generation {generation})" if generation is not None else ""
    )
    now = f"{found[INODE]}" + (f" (generation {found[GENERATION]})" if GENERATION in found else "")
    return (
        f"{run_dir} is not the directory run {cfg.run_id} was created in ({names.RUN_META} "
        f"records {said}, this is {now}: a copy, a backup restored or a move to another "
        f"file system), and the run trades on {venue}, whose orders outlive "
        "its run directory: the run's other directory may have sent orders after this copy "
        "was taken that its idempotency store does not hold, and a resume would send them "
        "again under the same client order ids. A copy is evidence (verify, report and "
        "evidence read it), not a second writer: resume the run in the directory it was "
        "created in; if that is lost, settle the account's orders and positions at the "
        "venue by hand and start a new run"
    )


def linked_problem(run_dir: Path) -> str:
    """Why resuming ``run_dir`` would change another directory: its files are hard links ("").

    A copy made with hard links (``cp -al``, ``rsync --link-dest``) is a new directory whose
    files are the run's own: the resume appends to them and cuts them back under every name,
    so resuming either directory changed the other (the original, never touched, said
    ``broken run``). Each run file is looked at by ``lstat`` alone (``odd_files`` has
    refused one that is not regular already).
    """
    linked = {
        name: seen.st_nlink
        for name, seen in run_file_stats(run_dir)
        if seen.st_nlink > 1 and not stat.S_ISDIR(seen.st_mode)
    }
    if not linked:
        return ""
    name, count = next(iter(linked.items()))
    more = f" (and {len(linked) - 1} more such files)" if len(linked) > 1 else ""
    return (
        f"{run_dir / name} has {count} names (a hard link){more}: a copy made with hard "
        "links (`cp -al`, `rsync --link-dest`) shares its files with this run, and a resume "
        "appends to them and cuts them back under every name, changing the other copy too: "
        "resume a copy that owns its files (`cp -a`, without -l), or remove the other copy "
        "first"
    )
