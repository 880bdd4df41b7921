"""Lenient reading of a finished run, for the tools that summarise one (report, status...).

A summary must render even a run that is incomplete or broken, so nothing here raises on
bad content: a missing file reads as empty, a line that is not a JSON object is skipped, a
number that is not a finite decimal is ``None``. Only ``require_run`` refuses anything: a
path that is not a run at all. A file that is there but that the host will not let it read
(no permission, no file descriptor left, an I/O error) is no content at all: it raises the
``OSError``, naming the file (``_support.fsutil.raise_if_refused``), since a summary that
read it as empty would call a good run broken. Whether a run is intact is the verifier's question
(``livesession.verify``), which reads the files its own, strict way on purpose and does not
use this module.

It lives with the artifacts, below every tool, so the tools share one reader without
importing each other; it reads only, and shares nothing with the recorder that writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, BinaryIO, Final

import attrs
import orjson

from .._exceptions import RunDirectoryError
from .._support.fsutil import raise_if_refused, refuse_special
from .._support.text import command
from . import names
from .packed import archive_said
from .runfiles import not_there, odd_files, odd_said
from .runfind import (
    RUN_MARKERS,
    is_run_dir,
    killed_while_starting,
    lost_files,
    lost_said,
    named_otherwise,
    runs_inside,
    unrecorded,
)

if TYPE_CHECKING:
    from collections.abc import Collection, Iterator, Mapping
    from pathlib import Path

__all__ = [
    "RUN_MARKERS",
    "RunCut",
    "ends_unfit",
    "events_back",
    "is_run_dir",
    "iter_records",
    "json_object",
    "killed_while_starting_says",
    "last_whole_line",
    "newest_event",
    "no_directory",
    "payload",
    "read_bytes",
    "read_json_object",
    "read_records",
    "records_of",
    "require_run",
]

_BOM: Final = b"\xef\xbb\xbf"
"""A UTF-8 byte order mark, which an editor or a copy may put before a run file's first line:
the readers here read that line without it, as ``verify`` judges it (and says the mark)."""
_TAIL_BYTES: Final = 1 << 16
_LONGEST_TAIL: Final = 16 << 20
"""How far back ``last_whole_line`` reads for a last line longer than ``_TAIL_BYTES``."""
_SCAN_CHUNK: Final = 1 << 20
_SCAN_BUDGET: Final = 64 << 20
"""How far back ``newest_event`` reads before it gives up (a live run's tail, not its whole)."""


def require_run(
    path: Path, *, unstarted: bool = False, judged: bool = False, lost: bool = False
) -> Path:
    """``path`` if it is a run directory: a directory holding ``events.jsonl`` and ``audit.jsonl``.

    The one check every command that reads a run makes first (``report``, ``prom``,
    ``verify``, ``evidence``, ``resume``), so that none of them writes anything for a path
    that is not a run, and all refuse it with the same one-line message.

    A run killed while it started (``run.json`` written, its recorder never opened or not
    yet written to: see ``killed_while_starting``) lacks the markers or has them empty;
    ``unstarted=True`` (``resume``, which starts it over) takes it, and every other
    command's refusal names that way out. A run file that is not a regular file (a
    symlink, a FIFO: ``runfiles``) is refused before a byte is read, except by
    ``judged=True`` (``verify``, which counts it as a violation). A run that lost
    ``events.jsonl`` or ``audit.jsonl`` (``lost_files``: its ``run.json`` there) is taken
    by ``lost=True`` (``evidence``, ``report``: a NOT VERIFIED bundle, a report that says
    the loss, as of a run with a torn line) and ``judged=True``.

    Raises:
        RunDirectoryError: ``path`` is missing, not a directory, empty, lacks a marker, or
            holds a run file that is not a regular file.
    """
    what = f"{names.EVENTS} and {names.AUDIT}"
    absent = no_directory(path)
    if absent:
        raise RunDirectoryError(absent)
    try:
        empty = next(path.iterdir(), None) is None
    except OSError as exc:
        raise RunDirectoryError(f"run directory {path} cannot be read: {exc.strerror}") from None
    if empty:
        raise RunDirectoryError(f"{path} is not a run: the directory is empty (a run holds {what})")
    odd = odd_files(path)
    if odd and not judged:
        raise RunDirectoryError(odd_said(path, odd))  # as refuse_odd_files, not listed again
    started = "" if odd else killed_while_starting_says(path)  # markers missing, or empty
    if started:
        if unstarted:
            return path
        raise RunDirectoryError(
            f"{path} is {started}: start it over with `{command('resume', path)}`"
        )
    missing = [name for name in RUN_MARKERS if name not in odd and not (path / name).is_file()]
    if missing and not (judged and (path / names.RUN_META).is_file()):  # verify: a lost file
        if lost_files(path) == missing:  # a run that lost a file: said as verify says it
            if lost:
                return path
            raise RunDirectoryError(f"{path}: {lost_said(missing, path)}")
        said = _missing(missing, path) + named_otherwise(path, missing)
        raise RunDirectoryError(f"{path} is not a run: {said}{runs_inside(path)}")
    return path


def no_directory(path: Path) -> str:
    """What the tools say of a run path that is no directory ("" when it is one).

    ``require_run`` refuses it so, and ``verify_run`` (which never raises for a bad run)
    sums its result up so: the CLI and the API say the same of one path.
    """
    if path.is_dir():
        return ""
    if not path.exists():
        return f"run directory {path}{not_there(path)}"
    what = f"{names.EVENTS} and {names.AUDIT}"
    return f"{path} is not a directory (a run is a directory holding {what}){archive_said(path)}"


def _missing(names_missing: list[str], path: Path | None = None, what: str = "missing") -> str:
    """``audit.jsonl is missing``; with ``path``, a directory in a file's place is said too."""
    verb = "is" if len(names_missing) == 1 else "are"
    odd = [f"{n} is a directory" for n in names_missing if path and (path / n).is_dir()]
    said = f"{' and '.join(names_missing)} {verb} {what}"
    return f"{said} ({'; '.join(odd)}, not a file)" if odd else said


def killed_while_starting_says(path: Path) -> str:
    """What a run killed while it started is, as every command says it ("" for another run).

    ``a run killed while it started: events.jsonl and audit.jsonl are missing (it recorded
    nothing, and sent nothing)``: ``verify`` and the other readers refuse it so, and
    ``status`` says it on its state line.
    """
    if not killed_while_starting(path):
        return ""
    missing = [name for name in RUN_MARKERS if not (path / name).is_file()]
    empty = [name for name in RUN_MARKERS if name not in missing]
    torn = [name for name in empty if unrecorded(path / name) == "torn"]
    empty = [name for name in empty if name not in torn]
    said = " and ".join(
        [_missing(missing)] * bool(missing)
        + [_missing(empty, what="empty")] * bool(empty)
        + [_torn(torn)] * bool(torn)
    )
    return f"a run killed while it started: {said} (it recorded nothing, and sent nothing)"


def _torn(torn: list[str]) -> str:
    """``audit.jsonl holds only a torn line``: a kill as its first line was written out."""
    verb, each = ("holds", "") if len(torn) == 1 else ("hold", " each")
    return f"{' and '.join(torn)} {verb} only a torn line{each}"


def last_whole_line(path: Path, *, passing: Collection[str] = ()) -> dict[str, Any] | None:
    """The last whole line of a JSON Lines file that is a JSON object (read from its end).

    Lines whose ``event`` is in ``passing`` are passed over. None when there is none, or
    the file is missing. Reads only the last ``_TAIL_BYTES`` (more only for a longer line,
    up to ``_LONGEST_TAIL``: a file of one endless line is never read whole). The file's
    first line is read without a byte order mark a copy gave it, as ``verify`` reads it:
    the last line of a one-line file (a run that stopped after its first snapshot).

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``); ``NotAFile``
            for a FIFO or a device (``runfiles``), refused before a byte is read.
    """
    try:
        with _opened(path) as f:
            size = f.seek(0, 2)
            start = max(0, size - _TAIL_BYTES)
            f.seek(start)
            tail = f.read(size - start)
            if start and tail.count(b"\n") < 2:  # noqa: PLR2004 - a line longer than the tail
                start = max(0, size - _LONGEST_TAIL)
                f.seek(start)
                tail = f.read(size - start)
    except OSError as exc:
        raise_if_refused(exc, path)
        return None
    if not start:  # the file's first line is in the tail
        tail = tail.removeprefix(_BOM)
    for line in reversed(tail.split(b"\n")[:-1]):  # what follows the last \n is not whole
        try:
            found = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if isinstance(found, dict) and found.get("event") not in passing:
            return found
    return None


def newest_event(
    path: Path, event_types: Collection[str], *, since: int = 0, budget: int | None = None
) -> tuple[dict[str, Any] | None, bool]:
    """The newest whole event of ``path`` from byte ``since`` on whose type is in ``event_types``.

    Read backwards from the end, a chunk at a time, and only as far as the newest one (a
    supervisor asks this of a live run whose events file may be 100 MB): lines are parsed
    only where their ``event_type`` is one of those asked for. ``since`` is a line's start
    (a checkpoint's offset, say). The line the writer may still be appending is not read.

    Returns the event, or None, and whether everything from ``since`` was read: False when
    the file is missing, or when ``budget`` bytes (default 64 MiB) held none of them (an
    older one may).

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``).
    """
    for event in events_back(path, event_types, since=since, budget=budget):
        return event, event is not None
    return None, True


def events_back(
    path: Path,
    event_types: Collection[str],
    *,
    since: int = 0,
    budget: int | None = None,
    key: str = "event_type",
) -> Iterator[dict[str, Any] | None]:
    """The whole events of ``path`` from byte ``since`` on of ``event_types``, newest first.

    Read as ``newest_event`` reads; ``key`` names the type (``code``: the audit's records).
    A None comes last when the reading stopped before ``since``: the file is missing, or
    ``budget`` bytes were read (older ones may be there).

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``).
    """
    budget = _SCAN_BUDGET if budget is None else budget
    wanted = frozenset(event_types)
    patterns = tuple(f'"{key}":"{name}"'.encode() for name in sorted(wanted))
    carry = b""  # the start of the oldest line read so far, which began in the next chunk
    whole = False  # the end of the last whole line was found
    try:
        with _opened(path) as f:
            end = hi = f.seek(0, 2)
            while hi > since:
                if end - hi >= budget:
                    yield None
                    return
                lo = max(since, hi - _SCAN_CHUNK)
                f.seek(lo)
                block = f.read(hi - lo) + carry
                hi = lo
                if not whole:  # what follows the last newline is not whole
                    block = block[: block.rfind(b"\n") + 1]
                    whole = bool(block)
                carry = b""
                if lo > since:  # the first line may have begun before lo
                    cut = block.find(b"\n") + 1
                    carry, block = (block, b"") if cut == 0 else (block[:cut], block[cut:])
                yield from _newest_first(block, patterns, wanted, key)
    except OSError as exc:
        raise_if_refused(exc, path)
        yield None


def _newest_first(
    block: bytes, patterns: tuple[bytes, ...], wanted: frozenset[str], key: str
) -> Iterator[dict[str, Any]]:
    """The lines of ``block`` (whole lines) that are events of a ``wanted`` type, last first.

    Each pattern's last place before the line taken is kept, and looked for again only once
    that line is passed: a pattern found nowhere is not searched for again at every line (a
    crashed quoting run's thousands of order events read in seconds, not in a second each).
    """
    places = [block.rfind(pattern) for pattern in patterns]
    while (at := max(places)) >= 0:
        start = block.rfind(b"\n", 0, at) + 1
        record = json_object(block[start : block.find(b"\n", at)])
        if record is not None and record.get(key) in wanted:
            yield record
        # Before it (the text may have been inside another event's payload); no pattern
        # holds a newline, so one that begins before ``start`` ends before it.
        places = [
            place if place < start else block.rfind(pattern, 0, start)
            for pattern, place in zip(patterns, places, strict=True)
        ]


@attrs.frozen(kw_only=True)
class RunCut:
    """Where to stop reading a run that a live writer is still appending to.

    A live run is read as it stood at its last checkpoint: each line artifact up to the
    offset the checkpoint recorded (whole lines, all already written and flushed before the
    checkpoint was saved), and ``metrics.json`` as it was written with that checkpoint.
    Appends after the offsets belong to steps not yet checkpointed and are not read. Built
    by ``livesession._rundir.livecut.live_cut``, which knows the checkpoint and the lock.
    """

    steps: int
    """The step of the checkpoint cut at (0: the live run has no checkpoint yet)."""
    offsets: Mapping[str, int]
    """Bytes to read, by artifact file name (``events.jsonl`` …)."""
    metrics: bytes | None
    """``metrics.json`` as of the checkpoint; None when it could not be matched to it."""
    sealed: bool = False
    """The checkpoint is the sealing one: the cut holds the whole, finished run."""

    def read_bytes(self, path: Path) -> bytes:
        """The first ``offsets[path.name]`` bytes of ``path`` (``metrics.json``: as cut).

        Raises:
            OSError: the file cannot be read (``FileNotFoundError`` for a missing one).
        """
        if path.name == names.METRICS:
            if self.metrics is None:
                raise FileNotFoundError(path)
            return self.metrics
        limit = self.offsets.get(path.name)
        with _opened(path) as f:
            return f.read() if limit is None else f.read(limit)


def _opened(path: Path) -> BinaryIO:
    """``path`` opened to read bytes, as every reader here opens a run's files.

    Never a FIFO, a device or a socket (``NotAFile``): no wait for a FIFO's writer, no
    ``/dev/zero`` read without end.
    """
    refuse_special(path)
    return path.open("rb")


def read_bytes(path: Path, cut: RunCut | None = None) -> bytes:
    """``path``'s bytes, or as much of them as ``cut`` lets a reader of a live run see."""
    if cut is not None:
        return cut.read_bytes(path)
    with _opened(path) as f:
        return f.read()


def read_records(path: Path, cut: RunCut | None = None) -> list[dict[str, Any]]:
    """The JSON objects of a JSON Lines file, skipping anything that is not one.

    Lenient on purpose (for reports and metrics of runs that may be incomplete); use
    ``verify_run`` to learn whether a run is intact. A missing file gives ``[]``. With a
    ``cut`` (a live run) only what its checkpoint covers is read.

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``).
    """
    try:
        raw = read_bytes(path, cut)
    except OSError as exc:
        raise_if_refused(exc, path)
        return []
    return records_of(raw)


def iter_records(path: Path, cut: RunCut | None = None) -> Iterator[dict[str, Any]]:
    """``read_records``, one line at a time: memory bounded by a line, not by the file.

    For the tools that summarise a long run in one pass (``prom`` beside a live run of a
    million steps): the same records as ``read_records`` (the same lines, up to the same
    ``cut``), never a list of them. A missing file gives nothing.

    Raises:
        OSError: the host refused to read the file, at its opening or half-way
            (``raise_if_refused``).
    """
    left = None if cut is None else cut.offsets.get(path.name)
    try:
        handle = _opened(path)
    except OSError as exc:
        raise_if_refused(exc, path)
        return
    with handle:
        try:
            for number, line in enumerate(handle):
                if not number:  # a byte order mark a copy put there, as verify reads it
                    line = line.removeprefix(_BOM)  # noqa: PLW2901
                if left is not None:
                    if left <= 0:
                        return
                    line = line[:left]  # noqa: PLW2901 - the cut ends inside this line
                    left -= len(line)
                record = json_object(line.removesuffix(b"\n"))
                if record is not None:
                    yield record
        except OSError as exc:
            raise_if_refused(exc, path)


def records_of(raw: bytes) -> list[dict[str, Any]]:
    """The JSON objects among the lines of ``raw``, skipping anything that is not one."""
    lines = raw.removeprefix(_BOM).split(b"\n")  # a copy's byte order mark, as verify reads it
    return [record for line in lines if (record := json_object(line)) is not None]


def json_object(line: bytes) -> dict[str, Any] | None:
    """``line`` parsed, if it is one JSON object; else None."""
    try:
        record = orjson.loads(line)
    except orjson.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def ends_unfit(
    run_dir: Path, jsonl: tuple[str, ...] = (names.EVENTS, names.SNAPSHOTS, names.AUDIT)
) -> list[str]:
    """What a cheap look finds wrong with a finished run's contract files (none: ``[]``).

    Every contract file present, ``metrics.json`` a JSON object, and each ``jsonl`` file
    ending with a whole line that is a JSON object. Only the ends are read, so that
    ``status`` stays fast over many runs: a bad line in the middle is ``verify``'s to find.

    Raises:
        OSError: the host refused to read one of them (``raise_if_refused``): nothing is
            said of a file that could not be read.
    """
    missing = [name for name in names.CONTRACT if not (run_dir / name).is_file()]
    lacks = [f"{' and '.join(missing)} {'is' if len(missing) == 1 else 'are'} missing"]
    lacks = lacks if missing else []
    if names.METRICS not in missing and not read_json_object(run_dir / names.METRICS):
        lacks.append(f"{names.METRICS} is not a JSON object")
    for name in jsonl:
        if name in missing:
            continue
        try:
            with _opened(run_dir / name) as f:
                start = max(0, f.seek(0, 2) - _TAIL_BYTES)
                f.seek(start)
                tail = f.read()
        except OSError as exc:
            raise_if_refused(exc, run_dir / name)
            lacks.append(f"{name} cannot be read ({exc.strerror})")
            continue
        if not start and len(tail) > len(_BOM):  # a copy's byte order mark, as verify reads it
            tail = tail.removeprefix(_BOM)
        if tail and not tail.endswith(b"\n"):
            lacks.append(f"{name} does not end with a whole line")
        elif tail and json_object(tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]) is None:
            lacks.append(f"{name}'s last line is not a JSON object")
    return lacks


def read_json_object(path: Path, cut: RunCut | None = None) -> dict[str, Any]:
    """The JSON object in ``path``; ``{}`` when it is missing, not JSON or not an object.

    Raises:
        OSError: the host refused to read the file (``raise_if_refused``).
    """
    try:
        document = orjson.loads(read_bytes(path, cut))
    except OSError as exc:
        raise_if_refused(exc, path)
        return {}
    except orjson.JSONDecodeError:
        return {}
    return document if isinstance(document, dict) else {}


def payload(event: dict[str, Any]) -> dict[str, Any]:
    """The event's payload, or ``{}`` when it has none that is an object."""
    found = event.get("payload")
    return found if isinstance(found, dict) else {}
