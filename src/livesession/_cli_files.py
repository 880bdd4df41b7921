"""Where the commands that write files may write: ``report``, ``prom``, ``evidence``, ``burnin``.

They read a run and write beside it (or where ``--output``/``--out`` says). What they may
not write is refused before the work, in one line naming the output and the way out (a run's
own file, a directory they cannot write or make); the file system refusing the output later
is said the same way, never by a temporary file's name. And the command line's path and
name arguments, as ``argparse`` types.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import stat
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from ._artifacts.runread import is_run_dir
from ._exceptions import UsageError
from ._support.fsutil import file_kind
from ._support.madedir import make_dir
from ._support.oserrors import cwd_gone, not_writable
from ._support.outfile import own_descriptor
from ._support.secrets import find_secrets

__all__ = [
    "OUT_HINT",
    "folder_argument",
    "in_dir",
    "output_argument",
    "output_refused",
    "path_argument",
    "refuse_run_file",
    "refuse_unmakeable",
    "refuse_unwritable",
    "said_of",
    "text_argument",
]


_WRITE_REFUSALS: Final = frozenset(
    {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
)


@contextlib.contextmanager
def said_of(output: Path) -> Iterator[None]:
    """A write refused for room (a full disk, a quota), which names no file, is ``output``'s.

    Nothing else is written (the run is only read): it was ``No space left on device: free
    space``, naming neither the output nor the way out.
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is None and exc.errno in _WRITE_REFUSALS:
            raise type(exc)(exc.errno, exc.strerror, str(output)) from exc
        raise


def refuse_run_file(output: Path, run_dir: Path, own: str, command: str, hint: str) -> None:
    """Refuse (exit 2) an ``--output`` that lands in a run directory on any name but ``own``.

    ``report`` and ``prom`` read a run's files only: given ``--output RUN/events.jsonl`` they
    replaced the events they had just read, and exited 0. The path is judged where it leads
    (``..`` and symlinks followed, the link's own place too): inside a run directory (the
    one read, or any other) only the tool's own file, ``own``, is written. Every other name
    there is the run's, or may be once the run writes it (a live run's ``timings.json``).
    A symlink there, ``own`` too, is never written through (whoever writes the run could
    aim it at any file, and ``report`` follows the link it is given: ``_support.outfile``).
    """
    # realpath, not Path.resolve: a symlink loop is a path that leads nowhere, not an error.
    placed = Path(os.path.realpath(output.parent)) / output.name
    run = _run_holding(placed, run_dir)
    if run is not None and output.is_symlink():
        raise UsageError(
            f"{output} is a symbolic link in the run directory {run}: {command} never writes "
            f"through a link there; remove the link, or {hint}"
        )
    odd = _odd_kind(output) if run is not None else None
    if odd is not None:  # a FIFO there held the command, writing, until a reader came
        raise UsageError(
            f"{output} is not a regular file ({odd}) in the run directory {run}: {command} "
            f"writes only a regular file there, so someone else put it there; remove it, or "
            f"{hint}"
        )
    for target in dict.fromkeys((placed, Path(os.path.realpath(output)))):
        run = _run_holding(target, run_dir)
        if run is None or (target.parent == run and target.name == own):
            continue
        what = "a file of the run" if target.exists() else "inside the run directory"
        raise UsageError(
            f"--output {output} is {target}, {what} {run}: {command} never writes over a "
            f"run's files (in a run directory it writes only {own}); {hint}"
        )


def _odd_kind(path: Path) -> str | None:
    """What ``path`` is when it is there and neither a regular file nor a directory."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return None
    return None if stat.S_ISREG(mode) or stat.S_ISDIR(mode) else file_kind(mode)


def _run_holding(path: Path, run_dir: Path) -> Path | None:
    """The run directory ``path`` is inside (``run_dir`` or another run), or None."""
    try:
        run = run_dir.stat()
    except OSError:
        run = None
    for parent in path.parents:
        try:
            here = parent.stat()
        except OSError:
            continue
        same = run is not None and (here.st_dev, here.st_ino) == (run.st_dev, run.st_ino)
        if same or is_run_dir(parent):
            return parent
    return None


OUT_HINT: Final = "write it elsewhere with --out DIR"


def refuse_unwritable(directory: Path, what: str, hint: str) -> None:
    """Refuse at once (exit 2) output that ``directory`` (or what would hold it) cannot take.

    A run directory on read-only media, or one the operator may not write, would let a
    command do all its work (a minute of evidence) and then fail on the name of a temporary
    file; this names the output and the flag that puts it elsewhere, before anything is
    read. (Root may write where the mode says no: then nothing is refused.)
    """
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent  # created on the way, as --out DIR is
    code = not_writable(existing) if existing.is_dir() else None
    if code is not None:
        raise _unwritable(what, os.strerror(code), hint)


def refuse_unmakeable(directory: Path, what: str, hint: str) -> None:
    """Refuse at once (exit 2) an ``--out DIR`` that the file system will not make.

    ``--out /proc/nope`` did the work, then said ``/proc/nope: No such file or directory``,
    naming neither the output nor the way out: the mode of ``/proc`` lets root write, the
    file system does not. The missing directories are made now and taken away again (the
    reports, and so their directory, are written only after the work); a file in the way
    is said as writing would say it.
    """
    missing: list[Path] = []
    existing = directory
    while not existing.exists() and existing.parent != existing:
        missing.append(existing)
        existing = existing.parent
    if not existing.is_dir():
        why = errno.EEXIST if existing == directory else errno.ENOTDIR
        raise _unwritable(what, os.strerror(why), hint)
    made: list[Path] = []
    try:
        for path in reversed(missing):
            make_dir(path, made)  # one another evidence made meanwhile stays
    except OSError as exc:
        raise _unwritable(what, exc.strerror or str(exc), hint) from None
    finally:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir()


def _unwritable(what: str, why: str, hint: str) -> UsageError:
    return UsageError(f"cannot write {what} ({why}): {hint}")


def in_dir(directory: Path, written: Callable[[str], bool]) -> Callable[[Path], bool]:
    """Whether a path is ``directory`` (or on the way to it), or a file ``written`` names there."""

    def wrote(path: Path) -> bool:
        if path == directory or path in directory.parents:
            return True  # making --out DIR
        return path.parent == directory and written(path.name)

    return wrote


@contextlib.contextmanager
def output_refused(is_output: Callable[[Path], bool], what: str, hint: str) -> Iterator[None]:
    """The file system refusing an output (read-only, full, no permission): one line.

    It says which output and how to write it elsewhere, not a temporary file's name. Only
    an error about a path ``is_output`` owns is said so; a missing directory and a
    directory in the output's place keep their own messages.
    """
    try:
        yield
    except (FileNotFoundError, IsADirectoryError):
        raise
    except OSError as exc:
        named = exc.filename2 or exc.filename
        if named is None or not is_output(Path(os.fsdecode(named))):
            raise
        raise _unwritable(what, exc.strerror or str(exc), _way_for(exc.errno, hint)) from None


def _way_for(code: int | None, hint: str) -> str:
    """``hint`` (write it elsewhere), unless the refusal is the process's file size limit.

    ``ulimit -f`` refuses the output on every disk: ``write it elsewhere with --output
    PATH`` sent the operator to another one.
    """
    return (
        "raise the file size limit (`ulimit -f`), then run it again"
        if code == errno.EFBIG
        else hint
    )


def text_argument(text: str) -> str:
    """A name argument (a symbol): an empty one is refused, not taken for the default."""
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text


def path_argument(text: str) -> Path:
    """A path argument: not empty (nobody types the cwd), not relative to a removed cwd.

    Nor one that looks like a secret (a DSN pasted for a run directory): a path is said
    in every refusal as ``Path`` spells it, ``postgresql:/user:password@host`` (one ``/``),
    which the redaction of a URL's password no longer finds.
    """
    found = find_secrets(text_argument(text))
    if found:
        raise argparse.ArgumentTypeError(
            f"looks like a secret ({', '.join(found)}; value not shown), not a path"
        )
    gone = cwd_gone(text)
    if gone is not None:
        raise argparse.ArgumentTypeError(gone)
    return Path(text)


_STDOUT: Final = Path("/dev/stdout")


def output_argument(text: str) -> Path:
    """``--output`` of ``report`` and ``prom``: a path, or ``-`` for stdout, as tools take it.

    ``--output -`` (``curl -o -``, ``tar -f -``) wrote a file named ``-`` in the current
    directory and said ``report    -``, exit 0: a script piping it on read nothing, and found
    a file it had not asked for. It is ``/dev/stdout`` now (this process's descriptor 1,
    also where the system has no such link), written through as ``--output /dev/stdout``
    is; ``./-`` still names a file ``-``.
    """
    if text == "-":
        return _STDOUT if own_descriptor(_STDOUT) == 1 else Path("/proc/self/fd/1")
    return path_argument(text)


def folder_argument(text: str) -> Path:
    """``--out DIR`` of ``dryrun``, ``evidence`` and ``burnin``: a folder, never ``-``.

    ``evidence RUN --out -`` (``-`` read as stdout, as ``--output -`` is) made a folder named
    ``-`` in the working directory and wrote the bundle there, exit 0: a script found nothing
    on stdout and a folder few commands can name. A folder cannot go to stdout, so ``-`` is
    refused; ``./-`` still names a folder ``-``.
    """
    if text == "-":
        raise argparse.ArgumentTypeError(
            "'-' is stdout, which holds no folder: give a directory (./- for one named -)"
        )
    return path_argument(text)
