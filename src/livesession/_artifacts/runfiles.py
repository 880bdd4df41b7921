"""A run directory's files are regular files: one that is not (a symlink, a FIFO) is named.

A writer never makes anything else there: a symlink, a FIFO or a device under a run file's
name was put there by someone else. Left alone, ``resume`` appended to (and cut back) the
file a planted symlink led to, anywhere on the host, and ``verify`` said OK; a FIFO made
``status``, ``list`` and every reader wait for a writer for ever, and ``/dev/zero`` made
them read until the memory ran out. ``odd_files`` finds such files by ``lstat`` alone,
without opening one, so that every tool can say what it found before it reads a byte:
``resume`` and the readers refuse the run (``refuse_odd_files``: one line, exit 2, nothing
read or written), ``status`` says it as its problem, and ``verify`` counts each as a
violation. A directory in a file's place is not among them: it is said as before (the
file is missing).

A Git LFS pointer under a run file's name is said alike: a run committed to a repository
that keeps large files in LFS (GitHub takes no file over 100 MB) and cloned without git-lfs
(or with ``GIT_LFS_SKIP_SMUDGE``) holds ~130-byte pointers where its files were, and
``verify`` called it ``broken run: 17 violation(s)`` of lines ``not valid JSON``, which
reads as damage, where the files were only not fetched. A run file of at most
``_LFS_MOST`` bytes is opened (never waited on: ``open_regular``) to tell. A symlink into
git-annex's objects (a run kept with ``git annex add``) is still never followed, but said
as the annex's, not as a file someone put there.

``first_writes_left`` names what a writer killed before its ``run.json`` was in place left
beside its ``writer.lock`` (``config.json``, a temporary file of either): no run yet, which
``dryrun`` takes over (``_rundir.starting``).
"""

from __future__ import annotations

import errno
import os
import re
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._exceptions import RunDirectoryError
from .._support.fsutil import file_kind, link_target, open_regular
from .._support.text import command
from .._support.tmpfiles import tmp_target
from . import names
from .packed import archive_beside, archive_said

if TYPE_CHECKING:
    from collections.abc import Iterator

__all__ = [
    "NOT_REGULAR",
    "first_writes_left",
    "is_run_file",
    "no_runs_there",
    "not_there",
    "odd_files",
    "odd_said",
    "odd_violation",
    "refuse_odd_files",
    "renamed_by_case",
    "run_file_stats",
]


def not_there(path: Path) -> str:
    """What is said after ``path``, which is not there: ``does not exist``, or its symlink.

    Of a symlink that leads nowhere: ``is a symlink to TARGET, which does not exist`` (by
    way of another symlink: ``leading to FINAL``), or a symlink loop. A bare "does not
    exist" of a path ``ls`` lists sent the user looking for a typo in it. Under a folder
    that is such a symlink (``latest/r1``, ``latest`` leading nowhere) the first of them is
    named: ``does not exist (latest is a symlink to TARGET, which does not exist)``; under
    a file where a folder was, that file (``_file_above``).
    """
    if not path.is_symlink():
        broken = next(
            (p for p in reversed(path.parents) if p.is_symlink() and not p.exists()), None
        )
        if broken is not None:
            return f" does not exist ({broken}{not_there(broken)})"
        return " does not exist" + (
            _file_above(path) or _run_id_alone(path) or archive_beside(path)
        )
    target = link_target(path)
    try:
        path.stat()
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return f" is a symlink to {target}, a symlink loop ({exc.strerror})"
    if (path.parent / target).is_symlink():  # a chain: the end of it is what is missing
        return f" is a symlink to {target}, leading to {path.resolve()}, which does not exist"
    return f" is a symlink to {target}, which does not exist"


def _file_above(path: Path) -> str:
    """`` (DIR is a file, not a directory)``: a file stands where a directory above ``path`` was.

    The nearest that is there is asked ("" when it is a directory): an ``--out`` replaced by
    a file mid-run left its run said only not to exist.
    """
    for above in path.absolute().parents:
        if above.exists():
            return "" if above.is_dir() else f" ({above} is a file, not a directory)"
    return ""


_DEFAULT_OUT: Final = Path("out/runs")
"""Where ``livesession dryrun`` puts its runs without ``--out``."""


def _run_id_alone(path: Path) -> str:
    """`` (a run is named by its directory, not its run id: out/runs/ID is there)``.

    ``livesession verify aapl-0302`` beside the ``out/runs/aapl-0302`` that ``dryrun`` printed
    said only that ``aapl-0302`` does not exist, and a new user looked for a typo in the id.
    Only a bare name (one part, relative) is asked, against the default ``--out``.
    """
    if path.is_absolute() or len(path.parts) != 1 or path.name in {"", ".", ".."}:
        return ""
    there = _DEFAULT_OUT / path
    if not there.is_dir():
        return ""
    return f" (a run is named by its directory, not its run id: {there} is there)"


def no_runs_there(out_dir: Path) -> str:
    """The refusal of an ``out_dir`` that is not a directory, in one sentence with the way out.

    ``livesession list aapl-0302`` (a run id, beside the ``out/runs/aapl-0302`` that
    ``dryrun`` printed) said the run-id hint and then ``so it is not a directory of runs``;
    ``list runs`` (a relative name not there) did not point at the ``out/runs`` that is. Each
    now names the list that shows the run: ``livesession list out/runs``.
    """
    if out_dir.exists():  # a file in the way
        return f"{out_dir} is not a directory of runs{archive_said(out_dir)}"
    said = not_there(out_dir)
    there = _DEFAULT_OUT / out_dir
    if _run_id_alone(out_dir):
        return (
            f"{out_dir} does not exist, but {there} does: `{command('list', _DEFAULT_OUT)}` "
            f"lists the runs there (`{command('status', there)}` says where that one stands)"
        )
    if said == " does not exist" and not out_dir.is_absolute() and _DEFAULT_OUT.is_dir():
        return (
            f"{out_dir} does not exist: `{command('list', _DEFAULT_OUT)}` lists the runs there, "
            "where dryrun puts them without --out"
        )
    return f"{out_dir}{said}, so it is not a directory of runs"


_NAMES: Final = frozenset(
    {
        *names.CONTRACT,
        names.CONFIG,
        names.CHECKPOINT,
        names.RUN_META,
        names.IDEMPOTENCY_JSONL,
        names.IDEMPOTENCY_SQLITE,
        names.MARKET_JOURNAL,
        names.TIMINGS,
        names.METRICS_LOG,
        names.SESSION_LOG,
        names.ALERTS,
        names.WRITER_LOCK,
    }
)
_PATTERNS: Final = re.compile(
    r"broker_journal[^/]*\.jsonl"  # the venue's journal, and the realish attempt journal
    r"|metrics\.ndjson\.\d+"  # the rotated timings rows
    r"|idempotency\.sqlite-(?:journal|wal|shm)"  # SQLite's own files beside the store
)
NOT_REGULAR: Final = "is not a regular file"
"""What every tool says of such a file: ``events.jsonl is not a regular file (a FIFO)``."""
LFS_POINTER: Final = "a Git LFS pointer"
_LFS_HEADER: Final = b"version https://git-lfs.github.com/spec/v1\n"
_LFS_MOST: Final = 512
"""No Git LFS pointer is larger (some 130 bytes: its version, oid and size lines)."""
ANNEX_LINK: Final = "a symbolic link into git-annex's objects"
_ANNEX_OBJECTS: Final = ".git/annex/objects/"
_ANNEX_WAY: Final = "`git annex get`, then `git annex unlock`"
_ANNEX_SAID: Final = "the run came out of a git-annex repository, which keeps a file as a link"
_LFS_FETCH: Final = (
    "the run came out of a git repository without its LFS objects (a clone without "
    "git-lfs, or with GIT_LFS_SKIP_SMUDGE)"
)


def is_run_file(name: str) -> bool:
    """Whether ``name`` is one a run writes (an artifact, a journal, a ``.torn`` file...)."""
    name = name.removesuffix(".torn")
    return name in _NAMES or _PATTERNS.fullmatch(name) is not None


def odd_files(run_dir: Path) -> dict[str, str]:
    """The run files of ``run_dir`` that are not regular files, by name: what each is.

    ``{"events.jsonl": "a symbolic link"}``, ``{"audit.jsonl": "a Git LFS pointer to 812
    bytes"}``; empty for a sound run, and for a path that is no directory (its own refusal
    says that). Nothing is opened but a regular file of at most ``_LFS_MOST`` bytes.
    """
    found: dict[str, str] = {}
    for name, seen in run_file_stats(run_dir):
        mode = seen.st_mode
        if stat.S_ISLNK(mode) and _ANNEX_OBJECTS in link_target(run_dir / name):
            found[name] = ANNEX_LINK
        elif not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
            found[name] = file_kind(mode)
        elif stat.S_ISREG(mode) and (pointer := _lfs_pointer(run_dir / name)):
            found[name] = pointer
    return found


def run_file_stats(run_dir: Path) -> Iterator[tuple[str, os.stat_result]]:
    """Each run file of ``run_dir`` by name, in name order, with its ``lstat``.

    Nothing for a path that is no directory, or none to list (its own refusal says that),
    and nothing for a file gone since the listing.
    """
    try:
        entries = sorted(os.scandir(run_dir), key=lambda entry: entry.name)
    except OSError:
        return
    for entry in entries:
        if not is_run_file(entry.name):
            continue
        try:
            seen = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        yield entry.name, seen


def _lfs_pointer(path: Path) -> str:
    """``a Git LFS pointer to N bytes`` when the regular file ``path`` is one ("" if not)."""
    try:
        if path.stat().st_size > _LFS_MOST:
            return ""
        fd = open_regular(path)
    except OSError:
        return ""  # gone or swapped since the look: said where it is read
    try:
        data = os.read(fd, _LFS_MOST)
    except OSError:
        return ""
    finally:
        os.close(fd)
    if not data.startswith(_LFS_HEADER):
        return ""
    size = re.search(rb"^size (\d{1,20})$", data, re.MULTILINE)
    return f"{LFS_POINTER} to {int(size[1])} bytes" if size else LFS_POINTER


def odd_violation(kind: str) -> str:
    """``verify``'s violation of a run file ``odd_files`` found, of ``kind``."""
    if kind.startswith(LFS_POINTER):
        return f"is {kind}, not the file: {_LFS_FETCH}: fetch it (`git lfs pull`)"
    if kind == ANNEX_LINK:
        return f"{NOT_REGULAR} ({kind}): {_ANNEX_SAID}: make it a file ({_ANNEX_WAY})"
    return f"{NOT_REGULAR} ({kind})"


def odd_said(run_dir: Path, odd: dict[str, str]) -> str:
    """What every tool says of ``odd`` (``odd_files``, not empty), in one line.

    The first such file, what it is, how many more there are, and what to do.
    """
    name, kind = next(iter(odd.items()))
    more = f" (and {len(odd) - 1} more)" if len(odd) > 1 else ""
    if kind.startswith(LFS_POINTER):
        return (
            f"{run_dir / name} is {kind}, not the file{more}: {_LFS_FETCH}; nothing was "
            "read or written: fetch them (`git lfs pull` in the clone), then check it again"
        )
    if kind == ANNEX_LINK:
        return (
            f"{run_dir / name} {NOT_REGULAR} ({kind}){more}: {_ANNEX_SAID}; nothing was "
            f"read or written: make them files ({_ANNEX_WAY}, or "
            "a copy of the run made with `cp -rL`), then check it again"
        )
    return (
        f"{run_dir / name} {NOT_REGULAR} ({kind}){more}: a run writes only regular files, so "
        f"someone else put it there; nothing was read or written: keep the run as it is and "
        f"find out who changed it (`{command('verify', run_dir)}` names every such file)"
    )


def refuse_odd_files(run_dir: Path) -> None:
    """Refuse (``RunDirectoryError``, one line) a run that holds a file that is not regular.

    Before anything of the run is read or written (``odd_said``).
    """
    odd = odd_files(run_dir)
    if odd:
        raise RunDirectoryError(odd_said(run_dir, odd))


def renamed_by_case(run_dir: Path, missing: list[str]) -> str:
    """``missing`` run files there under a name of another case, said ("" when none is).

    A copy through a file system or a tool that folds case (``EVENTS.JSONL``, ``Events.jsonl``)
    leaves a run whose every file is there, none by its name: "missing" alone sent a reviewer
    looking for files in plain sight.
    """
    wanted = {name.lower(): name for name in missing}
    try:
        found = sorted(
            e.name for e in run_dir.iterdir() if wanted.get(e.name.lower(), e.name) != e.name
        )
    except OSError:
        return ""
    if not found:
        return ""
    there = f"{found[0]} is" if len(found) == 1 else f"{', '.join(found[:-1])} and {found[-1]} are"
    return (
        f"; {there} there, in another case (a copy through a "
        "file system or tool that folds case?): give each file of the run its own name back "
        f"({', '.join(wanted[name.lower()] for name in found)}, ...)"
    )


_FIRST_WRITES: Final = frozenset({names.CONFIG, names.RUN_META})
"""What ``create_run`` writes first, each atomically: ``run.json`` makes the run."""


def first_writes_left(run_dir: Path) -> list[str] | None:
    """Beside ``writer.lock``, what a writer killed before ``run.json`` was in place left.

    ``config.json``, and the temporary files of it and of ``run.json``: sorted names, none
    when it was killed before them. None: ``run_dir`` holds no ``writer.lock``, or anything
    else (``run.json`` too), or cannot be listed.
    """
    try:
        found = sorted(entry.name for entry in run_dir.iterdir())
    except OSError:
        return None
    if names.WRITER_LOCK not in found:
        return None
    left = [name for name in found if name != names.WRITER_LOCK]
    if any(name != names.CONFIG and tmp_target(name) not in _FIRST_WRITES for name in left):
        return None
    return left
