"""The data file a run reads: its record in ``run.json``, and the check ``resume`` makes.

A feed that reads a file (``CsvReplayFeed``, ``ParquetReplayFeed``) checks it whole and
hashes it when it opens; ``config.json`` keeps its SHA-256 and size (``feed_sha256``,
``feed_bytes``: part of the config hash) and ``run.json`` the same with the resolved path,
the row count and the first and last times, so a reviewer knows which data ran, and
``resume`` and ``evidence`` refuse a file that changed. A CSV file that only grew (rows
appended after the bytes the run read) is no change to ``resume``: a run plays the bytes
its check read and no further, so the resumed run reads those again (``feed_bytes``), as
the run would have had it not crashed. ``evidence`` re-runs the run and takes the same
file only. The pin itself (``pin_data``) is ``_market.datapin``'s: every session pins its
config when it is built, with or without a run directory.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._domain.configfile import place_of
from .._domain.datafeeds import data_path, home_expanded
from .._exceptions import DataFileError, PluginError, RunDirectoryError
from .._market.dataopen import open_data_file
from .._market.datapin import checked_data, not_the_pinned_data, pin_data, refuse_other_data
from .._support.fsutil import file_digest, open_regular

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .._domain.config import DryrunConfig

__all__ = [
    "changed_or",
    "check_data_opens",
    "check_data_unchanged",
    "check_resume_data",
    "check_run_data",
    "data_record",
    "pin_data",
    "placed",
    "refuse_other_data",
    "rerun_refused",
]


def data_record(cfg: DryrunConfig, feed: object) -> dict[str, object] | None:
    """What ``run.json`` keeps of the data file ``feed`` read (None: the feed reads none)."""
    checked = checked_data(feed)
    if checked is None:
        return None
    return {**checked.record(cfg.feed), "path": str(checked.path.resolve())}


def check_data_opens(cfg: DryrunConfig) -> None:
    """Refuse the data file of ``cfg``'s feed when it cannot be opened, as the feed would.

    ``feed = "csv:nosuch.csv"`` with a run id already taken was refused naming the run
    directory; after choosing another id, the user learnt only then that the file is not
    there. ``create_run`` asks this before it looks at the run id: the file is opened and
    closed, not a byte read (its rows are checked as the feed opens it, in the run).
    """
    path = cfg.data_file()
    if path is None:
        return
    try:
        open_data_file(path).close()
    except DataFileError as exc:
        raise changed_or(cfg, placed(cfg, exc)) from None


def placed(cfg: DryrunConfig, error: DataFileError) -> DataFileError:
    """``error`` after the config file and line that set ``feed``, for a file not opened.

    A data file that is not there (``feed = "csv:nosuch.csv"``), is no file or no Parquet
    file is the ``feed`` value's refusal, and names its line as every other refusal of a
    config file's value does; a row's problem names the data file's line instead. A
    ``--feed`` flag's value (and a run's ``config.json``, read by ``resume``) is in no file.
    """
    where = place_of(cfg, "feed")
    if not where or error.line is not None:
        return error
    said = f"{where}{error}{read_from_cwd(cfg)}"
    return DataFileError(said, path=error.path, line=None, column=None, value=None)


def read_from_cwd(cfg: DryrunConfig) -> str:
    """How to write a config file's data path livesession 0.1.x found (else "").

    0.1.x read a config file's relative ``csv:`` path from the current directory; this
    release reads it from the config file's directory. A desk's config written for 0.1.x
    (``feed = "csv:data/bars.csv"`` in ``configs/``, run from the folder above) was
    refused with ``No such file or directory`` alone, beside the file it had always read.
    """
    written = data_path(cfg.feed)
    path = cfg.data_file()
    if written is None or path is None or cfg.base_dir is None or os.path.lexists(path):
        return ""
    if home_expanded(written).is_absolute():
        return ""
    try:
        here = Path.cwd() / home_expanded(written)
    except OSError:  # the current directory was removed
        return ""
    if not here.is_file():
        return ""
    kind = cfg.feed[: len(cfg.feed) - len(written)]
    return (
        f"; {written} is there from the current directory, where livesession 0.1.x read "
        "a config file's data paths: this release reads them from the config file's "
        f'directory, so write feed = "{kind}{os.path.relpath(here, cfg.base_dir)}" '
        "(or an absolute path)"
    )


def changed_or(
    cfg: DryrunConfig, error: DataFileError, *, read: int | None = None
) -> DataFileError:
    """``error`` (the data file failed its check), or that the file changed, when it did.

    A config that pins a SHA-256 (a resumed run's, or one written by hand) was made on data
    that passed: a file that fails now and hashes otherwise was changed since, and that is
    what to say (restore it), not the row the change broke. ``read``: the check read the
    file's first ``read`` bytes only (a resume), so those are what changed: it shrank, or
    they were rewritten; one that is gone is said with the file to put back, as ``status``
    says it.
    """
    path = cfg.data_file()
    if cfg.feed_sha256 is None or path is None:
        return error
    try:
        if read is not None:
            how = how_changed(path, cfg.feed_sha256, read)
            return error if how is None else _refusal(f"data file {path} changed: {how}", path)
        digest, size = file_digest(path)
    except FileNotFoundError:
        if read is None:
            return error
        return DataFileError(
            f"{error}: the run read a file of {read} bytes, SHA-256 {cfg.feed_sha256}: put "
            "that file at this path",
            path=path,
            line=None,
            column=None,
            value=None,
        )
    except OSError:
        return error  # unreadable: the error says so
    return error if digest == cfg.feed_sha256 else not_the_pinned_data(cfg, path, digest, size)


def how_changed(path: Path, sha256: str, size: int | None, *, whole: bool = False) -> str | None:
    """How the data file at ``path`` differs from the ``size`` bytes a run read (``sha256``).

    None when its first ``size`` bytes still hash to ``sha256``: the same file, or one that
    only grew (rows appended), which a CSV feed reading ``size`` bytes plays as the run did.
    ``whole``: the feed reads the file whole (a Parquet file, a feed given as an object), so
    a file that grew is a change too. Without ``size`` the whole file is compared.

    Raises:
        OSError: the file cannot be read; a directory or a FIFO in its place too (it did
            not shrink to its size: ``IsADirectoryError``, ``NotAFile``).
    """
    fd = open_regular(path)  # never waits on a FIFO
    try:
        now = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size is not None and now < size:
        return f"it shrank to {now} bytes, from the {size} the run read"
    digest = file_digest(path, size)[0]
    if digest != sha256:
        read = "its bytes" if size is None else f"its first {size} bytes, the ones the run read,"
        return f"it was rewritten: {read} hash to {digest[:12]}..., not {sha256[:12]}..."
    if whole and size is not None and now > size:
        return (
            f"it grew from {size} to {now} bytes, and the feed reads it whole (a Parquet "
            f"file; a CsvReplayFeed given as an object reads the run's bytes with size={size})"
        )
    return None


def _refusal(message: str, path: Path) -> DataFileError:
    return DataFileError(
        f"{message}: restore the file the run read", path=path, line=None, column=None, value=None
    )


def check_data_unchanged(
    run_dir: Path,
    meta: dict[str, Any],
    feed: object,
    *,
    cfg_sha256: str | None = None,
    given: bool = False,
) -> None:
    """Refuse to resume on a data file other than the one the run started on.

    ``run.json``'s record (or else ``cfg_sha256``, the config's ``feed_sha256``) is what the
    run started on. Runs that record no data file (random walk, or written before the
    record existed) pass. A feed ``given`` as an object that reads another file than the
    recorded one is said so: that file did not change, the run never read it.
    """
    checked = checked_data(feed)
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
    if checked.sha256 == recorded["sha256"]:
        return
    want, size = str(recorded["sha256"]), recorded.get("bytes")
    started_on = recorded.get("path")
    if given and isinstance(started_on, str) and _another(checked.path, started_on):
        raise RunDirectoryError(
            f"the feed given reads data file {checked.path}, but run {run_dir} started on "
            f"{started_on} (SHA-256 {want[:12]}...): give it a feed of that file to resume it"
        )
    try:
        how = how_changed(checked.path, want, size if isinstance(size, int) else None, whole=True)
    except OSError:
        how = None
    raise _not_as_started(
        checked.path, run_dir, how or f"its SHA-256 is {checked.sha256[:12]}..., not {want[:12]}..."
    )


def _another(path: Path, recorded: str) -> bool:
    """Whether ``path`` names another file than the ``recorded`` one (both made absolute)."""
    return Path(path).resolve() != Path(recorded).resolve()


def _not_as_started(path: Path, run_dir: Path, how: str) -> RunDirectoryError:
    return RunDirectoryError(
        f"data file {path} changed since run {run_dir} started: {how}: restore the file the "
        "run started on to resume it"
    )


def check_resume_data(run_dir: Path, cfg: DryrunConfig, meta: dict[str, Any]) -> None:
    """Refuse, as ``resume`` would, the data file of a crashed run (``status``: no feed built).

    ``resume`` reads a CSV file's first ``feed_bytes`` bytes, the bytes the run read, so a
    file that only grew since passes; a Parquet file is read whole. A ``DataFileError`` when
    the file cannot be read, a ``RunDirectoryError`` when it shrank or was rewritten.
    """
    path = cfg.data_file()
    want = cfg.feed_sha256
    recorded = meta.get("data")
    if want is None and isinstance(recorded, dict):
        want = recorded.get("sha256")
    if path is None or not isinstance(want, str):
        return
    whole = not cfg.feed.startswith("csv:")
    try:
        how = how_changed(path, want, cfg.feed_bytes, whole=whole)
    except OSError as exc:
        raise _unreadable(path, run_dir, exc, (want, cfg.feed_bytes)) from None
    if how is not None:
        raise _not_as_started(path, run_dir, how)


def _there_as_utf8(path: Path) -> bool:
    r"""Whether ``path``, missing as this process's locale names it, is there in UTF-8.

    A run records its data file's path as text, from a UTF-8 locale; a reviewer's Latin-1
    locale (``LC_ALL=de_DE.ISO-8859-1``) names ``café`` with the one byte 0xe9, another
    path than the run's ``caf\xc3\xa9``.
    """
    if sys.getfilesystemencoding().replace("-", "").lower() == "utf8":
        return False
    try:
        return os.path.lexists(str(path).encode("utf-8", "surrogateescape"))
    except UnicodeEncodeError:
        return False


def _unreadable(
    path: Path, run_dir: Path, exc: OSError, read: tuple[object, object] = (None, None)
) -> DataFileError:
    """The run's data file could not be read (one line: the file, the run, why).

    A file that is not there (a run copied to another machine, its data left behind) says
    which file to put there: the ``read`` (SHA-256, bytes) the run recorded.
    """
    want, size = read
    needed = ""
    if isinstance(exc, FileNotFoundError) and isinstance(want, str):
        of = f"{size} bytes, " if isinstance(size, int) else ""
        needed = f": the run read a file of {of}SHA-256 {want}: put that file at this path"
    if isinstance(exc, FileNotFoundError) and _there_as_utf8(path):
        needed = (
            f": this process names files in {sys.getfilesystemencoding()} (its locale), and "
            "the path's UTF-8 bytes, the file the run read, are there: run under a UTF-8 "
            "locale (LC_ALL=C.UTF-8)"
        )
    return DataFileError(
        f"cannot read data file {path} of run {run_dir}: {exc.strerror}{needed}",
        path=path,
        line=None,
        column=None,
        value=None,
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
    want = cfg.feed_sha256
    if want is None and isinstance(recorded, dict):
        want = recorded.get("sha256")
    try:
        digest, size = file_digest(path)
    except OSError as exc:
        raise _unreadable(path, run_dir, exc, (want, cfg.feed_bytes)) from None
    if want is not None and want != digest:
        raise DataFileError(
            f"data file {path} changed since run {run_dir} (SHA-256 {str(want)[:12]}..., "
            f"now {digest[:12]}...): {_restore(path, str(want), cfg.feed_bytes, size)}",
            path=path,
            line=None,
            column=None,
            value=None,
        )
    return {"feed": cfg.feed, "path": str(path), "sha256": digest, "bytes": size}


def _restore(path: Path, sha256: str, read: int | None, size: int) -> str:
    """What a re-run of a run needs done to its changed data file (``size`` bytes now).

    ``resume`` plays a CSV file's first ``read`` bytes and takes a file a downloader went on
    appending to; a re-run (``evidence``, ``burnin --drill``) starts the run again on the
    whole file, which must be the run's, so the line says which bytes to put back.
    """
    restore = "restore the file the run read"
    try:  # its first ``read`` bytes still the run's: it only grew
        grew = read is not None and size > read and how_changed(path, sha256, read) is None
    except OSError:
        grew = False
    if not grew:
        return restore
    return (
        f"it grew from the {read} bytes the run read to {size} (rows appended after them, "
        "which resume takes but a re-run does not: it reads the file whole): "
        f"{restore}, its first {read} bytes (`head -c {read}`), and keep the grown one elsewhere"
    )


@contextlib.contextmanager
def rerun_refused(hint: str) -> Iterator[None]:
    """A re-run of a run refused for want of its code or data file, ``hint`` on its line.

    ``evidence`` and ``burnin --drill`` re-run the run: a missing or changed data file
    (``DataFileError``) or plug-in (``PluginError``) is refused in one line, which ends
    saying what checks or judges the run without them.
    """
    try:
        yield
    except DataFileError as exc:
        raise DataFileError(
            f"{exc}{hint}", path=exc.path, line=exc.line, column=exc.column, value=exc.value
        ) from None
    except PluginError as exc:
        raise PluginError(f"{exc}{hint}") from None
