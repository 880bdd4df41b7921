"""The verifier's own reading of a run: raw bytes in, parsed lines and violations out.

Deliberately independent of the recorder and of the tools' lenient reader
(``_artifacts.runread``): every byte is read as it is on disk and whatever is not exactly
what the contract says becomes a violation, never an exception. What is on disk is never
judged unread: a file the host will not let it read (no permission, no file descriptor
left, an I/O error) raises that ``OSError``, naming the file, instead of becoming a
violation of a run that may well be clean (``raise_if_refused``).

The files are streamed in chunks, each line parsed once: ``events.jsonl`` (the one that
grows with the run) is handed line by line to a consumer and not kept, so memory does not
grow with the run's length; the state snapshots and the audit log, a few lines per run,
are kept for the checks that look back over them.
"""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.runfiles import NOT_REGULAR, odd_files, odd_violation
from .._support.fsutil import NotAFile, raise_if_refused, refuse_special
from .._support.wholelines import LineCarry
from ._keyorder import unsorted_key
from ._result import BOM_SAID, LINE_TOO_LONG, crlf_said

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from pathlib import Path

    from .._artifacts.runread import RunCut
    from ._result import Violations
    from ._schemas import Schemas

    Progress = Callable[[int, int], object]
    EventSink = Callable[[int, dict[str, Any] | None, bool, int | None], None]

__all__ = [
    "ARTIFACT_NAMES",
    "TOO_DEEP",
    "Line",
    "RunFiles",
    "nested_too_deep",
    "torn_last",
    "valid_objects",
]

EVENTS: Final = names.EVENTS
SNAPSHOTS: Final = names.SNAPSHOTS
METRICS: Final = names.METRICS
AUDIT: Final = names.AUDIT

#: The four contract artifacts, in the order they are checked.
ARTIFACT_NAMES: Final = (EVENTS, SNAPSHOTS, METRICS, AUDIT)
_CHUNK: Final = 1 << 20
_DIGESTED: Final = frozenset({EVENTS, SNAPSHOTS})
_BOM: Final = b"\xef\xbb\xbf"
_MAX_DEPTH: Final = 254
"""How deep orjson writes arrays and objects within each other (it reads 1,024)."""
TOO_DEEP: Final = (
    f"nested too deep: arrays and objects more than {_MAX_DEPTH} levels within each other "
    "(a record of the contract nests a few)"
)


@attrs.define
class Line:
    """One line of a JSON Lines artifact: its number, raw bytes and, if valid, the object.

    ``seq`` is the line's integer ``seq`` even when the line broke its schema (None when it
    has none to read): the sequence check counts a bad line where it stands, so a record
    that is there but wrong is not also reported as missing.
    """

    number: int
    raw: bytes
    obj: dict[str, Any] | None
    seq: int | None = None


@attrs.define
class _Source:
    """One artifact opened for reading: ``size`` bytes of ``stream`` are its content."""

    stream: BinaryIO
    size: int
    path: Path | None = None
    """The file it is read from (None: bytes given in memory)."""


def valid_objects(lines: list[Line]) -> list[tuple[int, dict[str, Any]]]:
    """(number, object) of the lines that parsed and matched their schema."""
    return [(line.number, line.obj) for line in lines if line.obj is not None]


def _has_float(obj: dict[str, Any]) -> bool:
    """Whether a float is anywhere in ``obj``: a plain walk, the path only when there is one."""
    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        for value in node.values() if type(node) is dict else node:
            kind = type(value)
            if kind is float:
                return True
            if kind is dict or kind is list:
                stack.append(value)
    return False


def nested_too_deep(obj: object) -> bool:
    """Whether ``obj`` nests arrays and objects deeper than orjson writes them; iterative."""
    stack: list[tuple[object, int]] = [(obj, 0)]
    while stack:
        node, depth = stack.pop()
        if type(node) is dict or type(node) is list:
            if depth >= _MAX_DEPTH:
                return True
            items = node.values() if type(node) is dict else node
            stack.extend((item, depth + 1) for item in items)
    return False


def _first_float(obj: object) -> str | None:
    """The path of the first float in ``obj``, or None; iterative, so depth cannot crash it."""
    stack: list[tuple[str, object]] = [("", obj)]
    while stack:
        path, value = stack.pop()
        if isinstance(value, float):
            return path or "(top level)"
        if isinstance(value, dict):
            stack.extend((f"{path}.{key}" if path else str(key), v) for key, v in value.items())
        elif isinstance(value, list):
            stack.extend((f"{path}[{i}]", v) for i, v in enumerate(value))
    return None


class RunFiles:
    """The four artifacts of one run as read; what is wrong with them goes to ``report``.

    Filled in place by ``read``, so that whatever was read before a failure stays
    available to the checks that follow. ``lines`` keeps the snapshots and the audit log;
    the events go to the consumer given to ``read`` (``lines[EVENTS]`` stays empty) and
    ``counts`` says how many lines each file had.
    """

    def __init__(
        self,
        schemas: Schemas,
        report: Violations,
        progress: Progress | None = None,
        as_released: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None,
    ) -> None:
        self.schemas = schemas
        self.report = report
        self.lines: dict[str, list[Line]] = {}
        self.ends_with_newline: dict[str, bool | None] = {}
        """Per artifact: whether its last byte is a newline; None when it was not read."""
        self.digests: dict[str, str] = {}
        """SHA-256 of events.jsonl and state_snapshots.jsonl as read."""
        self.digest_of: Callable[[str], Any] = lambda _name: hashlib.sha256()
        """The running digest each of the two is read into (``verify._prefix``'s, of a run)."""
        self.damaged: dict[str, int] = {}
        """Per JSON Lines file, its first line that is not a valid, canonical record and not
        a torn last line (``torn_last``): damage no crash leaves."""
        self.metrics: dict[str, Any] | None = None
        self.metrics_fields: frozenset[str] = frozenset()
        self.metrics_text: list[str] = []
        self.counts: dict[str, int] = {}
        self._crlf: dict[str, list[Any]] = {}
        r"""Per file with lines ending ``\r\n``: its violation's place, first line, count."""
        self._progress = progress
        self._done = 0
        self._total = 0
        self.as_released = as_released or (lambda _event: None)
        """An event that broke its schema as its release wrote every such event, made whole
        (``EventChecks.as_released``): checked as the event it is, its violations said."""

    def read(
        self, run_dir: Path, cut: RunCut | None = None, events: EventSink | None = None
    ) -> None:
        """Read every artifact of ``run_dir``, parsing and schema-checking each line.

        With a ``cut`` (a live run) each file is read only up to where its last checkpoint
        says (plain byte offsets: the cut trusts nothing else of the writer's). Each line
        of events.jsonl goes to ``events``: its number, its object (None when it is not
        valid), whether it is the last line and its ``seq`` (as ``Line.seq``).

        Raises:
            OSError: the host refused to read an artifact (``raise_if_refused``); what was
                read before stays in place, but no verdict can be drawn from it.
        """
        if not run_dir.is_dir():
            what = "not a directory" if run_dir.exists() else "run directory does not exist"
            self.report.add(str(run_dir), 0, what)
        # A run file that is no regular file (a symlink, a FIFO), or a Git LFS pointer: unread.
        odd = {name: odd_violation(kind) for name, kind in odd_files(run_dir).items()}
        for name, what in odd.items():
            if name not in ARTIFACT_NAMES:
                self.report.add(name, 0, what)
        sources: dict[str, _Source | str] = {}
        try:
            for name in ARTIFACT_NAMES:
                if cut is not None and name == METRICS and cut.metrics is None:
                    continue  # not matched to the checkpoint: left unchecked
                sources[name] = odd.get(name) or self._open(run_dir, name, cut)
            self._read_all(sources, events)
        finally:
            for source in sources.values():
                if isinstance(source, _Source):
                    source.stream.close()

    def read_contents(
        self, contents: Mapping[str, bytes | None], events: EventSink | None = None
    ) -> None:
        """Like ``read``, from each artifact's bytes (None or absent: a missing file)."""
        sources: dict[str, _Source | str] = {}
        for name in ARTIFACT_NAMES:
            data = contents.get(name)
            if data is None:
                sources[name] = "missing"
            else:
                sources[name] = _Source(io.BytesIO(data), len(data))
        self._read_all(sources, events)

    def _open(self, run_dir: Path, name: str, cut: RunCut | None) -> _Source | str:
        """``name`` opened for reading, or what is wrong with it (reported in its turn)."""
        path = run_dir / name
        try:
            if cut is not None and name == METRICS:
                data = cut.read_bytes(path)
                return _Source(io.BytesIO(data), len(data))
            refuse_special(path)  # swapped for a FIFO since the look: never waited on
            stream = path.open("rb")
        except FileNotFoundError:
            return "missing"
        except NotAFile as exc:
            return f"{NOT_REGULAR} ({exc.kind})"
        except OSError as exc:
            raise_if_refused(exc, path)
            return f"cannot be read: {type(exc).__name__}"
        try:
            size = _size_of(stream)
        except OSError as exc:
            stream.close()
            raise_if_refused(exc, path)
            return f"cannot be read: {type(exc).__name__}"
        limit = None if cut is None else cut.offsets.get(name)
        return _Source(stream, size if limit is None else min(size, limit), path)

    def _read_all(self, sources: Mapping[str, _Source | str], events: EventSink | None) -> None:
        self._total = sum(s.size for s in sources.values() if isinstance(s, _Source))
        for name in ARTIFACT_NAMES:
            if name not in sources:
                self.lines[name] = []
                self.counts[name] = 0
                continue
            source = sources[name]
            self.lines[name] = []
            self.ends_with_newline[name] = None
            if isinstance(source, str):
                self.report.add(name, 0, source)
            else:
                try:
                    self._read_one(name, source, events)
                except OSError as exc:
                    if source.path is not None:
                        raise_if_refused(exc, source.path)
                    self.report.add(name, 0, f"cannot be read: {type(exc).__name__}")
                except MemoryError:  # one line larger than memory: said, the other files read
                    self.report.instead(name, LINE_TOO_LONG)
            self.counts.setdefault(name, len(self.lines[name]))
        self.counts[METRICS] = int(self.metrics is not None)
        if self._progress is not None and self._done != self._total:
            self._done = self._total
            self._progress(self._done, self._total)

    def _read_one(self, name: str, source: _Source, events: EventSink | None) -> None:
        if name == METRICS:
            raw = source.stream.read(source.size)
            self._tick(len(raw))
            self.ends_with_newline[name] = raw.endswith(b"\n")
            self._read_metrics(raw)
            return
        self.ends_with_newline[name] = _last_byte(source) == b"\n"
        digest = self.digest_of(name) if name in _DIGESTED else None
        if not source.size:
            self.report.add(name, 0, "empty file")
            if digest is not None:
                self.digests[name] = digest.hexdigest()
            return
        # Said first, as the contract's first complaint about the file; its number is
        # known only once every line is read.
        torn = None if self.ends_with_newline[name] else self.report.reserve(name)
        keep = self.lines[name]
        errors = self.schemas.checker(name)
        count = 0
        for count, (line, is_last) in enumerate(self._split(source, digest), 1):
            raw = self._without_bom(name, line) if count == 1 else line
            said = self.report.count(name)
            obj, seq = self._parse_line(name, count, raw, errors)
            last_torn = is_last and torn_last(raw, newline=self.ends_with_newline[name])
            if self.report.count(name) != said and not last_torn:
                self.damaged.setdefault(name, count)
            if name == EVENTS:
                if events is not None:
                    events(count, obj, is_last, seq)
            else:
                keep.append(Line(count, raw, obj, seq))
        self.counts[name] = count
        if digest is not None:
            self.digests[name] = digest.hexdigest()
        if torn is not None:
            self.report.fill(torn, name, count, "last line does not end with \\n (torn line)")
        self._said_crlf(name, count)

    def _without_bom(self, name: str, first: bytes) -> bytes:
        """The file's ``first`` line without a byte order mark, which is said once.

        Judged without it, the line is what it was: a mark a copy added is one violation,
        not a first record gone (``seq is 2, expected 1``) and an audit chain broken.
        """
        if not first.startswith(_BOM):
            return first
        self.report.add(name, 1, BOM_SAID)
        return first[len(_BOM) :]

    def _split(self, source: _Source, digest: Any) -> Iterator[tuple[bytes, bool]]:
        """The lines of ``source`` (a torn tail included), each with whether it is the last."""
        carry = LineCarry()
        pending: bytes | None = None
        remaining = source.size
        while remaining > 0:
            chunk = source.stream.read(min(_CHUNK, remaining))
            if not chunk:
                break  # shorter than it was: what was there is what is read
            remaining -= len(chunk)
            self._tick(len(chunk))
            if digest is not None:
                digest.update(chunk)
            for part in carry.lines(chunk):
                if pending is not None:
                    yield pending, False
                pending = part
        if tail := carry.rest():
            if pending is not None:
                yield pending, False
            yield tail, True
        elif pending is not None:
            yield pending, True

    def _tick(self, size: int) -> None:
        self._done += size
        if self._progress is not None:
            self._progress(self._done, self._total)

    def metrics_line(self, field: str) -> int:
        """The line of ``metrics.json`` where ``field`` is written (1 if not found)."""
        needle = f'"{field}":'
        for number, text in enumerate(self.metrics_text, 1):
            if needle in text:
                return number
        return 1

    def _parse_line(
        self,
        name: str,
        number: int,
        raw: bytes,
        schema_errors: Callable[[dict[str, Any]], list[str]],
    ) -> tuple[dict[str, Any] | None, int | None]:
        """The line's object if it is valid (else None), and its integer ``seq`` if any."""
        text = raw
        if raw.endswith(b"\r"):  # said once per file: the rest of the line is judged alone
            self._carriage_return(name, number)
            text = raw[:-1]
        obj = self._load_object(name, number, raw)
        if obj is None:
            return None, None
        seq = obj.get("seq")
        seq = seq if type(seq) is int else None
        if not self._float_free(name, number, obj):
            return None, seq
        try:
            canonical = orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)
        except TypeError as exc:  # read, but past what orjson writes: one violation, no crash
            self.report.add(name, number, TOO_DEEP if nested_too_deep(obj) else f"{exc}")
            return None, seq
        if canonical != text:
            self.report.add(name, number, "not in canonical form (sorted keys, no spaces)")
        errors = schema_errors(obj)
        if not errors:
            return obj, seq
        for error in errors:
            self.report.add(name, number, error)
        whole = self.as_released(obj) if name == EVENTS else None
        return (obj if whole is not None and not schema_errors(whole) else None), seq

    def _carriage_return(self, name: str, number: int) -> None:
        r"""Count a line of ``name`` that ends ``\r\n``; ``_said_crlf`` says it once per file."""
        seen = self._crlf.get(name)
        if seen is None:
            self._crlf[name] = [self.report.reserve(name), number, 1]
        else:
            seen[2] += 1

    def _said_crlf(self, name: str, count: int) -> None:
        r"""The one violation of a file with lines ending ``\r\n``, at the first of them."""
        place, first, lines = self._crlf.get(name, (None, 0, 0))
        if place is not None:
            self.report.fill(place, name, first, crlf_said(lines, count))

    def _parse_object(self, name: str, number: int, raw: bytes) -> dict[str, Any] | None:
        obj = self._load_object(name, number, raw)
        return obj if obj is not None and self._float_free(name, number, obj) else None

    def _load_object(self, name: str, number: int, raw: bytes) -> dict[str, Any] | None:
        """``raw`` as a JSON object, or None (reported: empty, not JSON, not an object)."""
        if not raw:
            self.report.add(name, number, "empty line")
            return None
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self.report.add(name, number, f"not valid JSON: {exc}")
            return None
        if type(obj) is not dict:
            self.report.add(name, number, f"not a JSON object but {type(obj).__name__}")
            return None
        return obj

    def _float_free(self, name: str, number: int, obj: dict[str, Any]) -> bool:
        """Whether ``obj`` holds no float; the first one found is reported."""
        if not _has_float(obj):
            return True
        float_at = _first_float(obj)
        self.report.add(name, number, f"float at {float_at}: numbers must be ints or strings")
        return False

    def _read_metrics(self, raw: bytes) -> None:
        if not raw:
            self.report.add(METRICS, 0, "empty file")
            return
        obj = self._parse_object(METRICS, 1, raw)
        if obj is None:
            return
        if nested_too_deep(obj):  # one object: walked whole, where a line's dump finds it
            self.report.add(METRICS, 1, TOO_DEEP)
            return
        self.metrics_text = raw.decode("utf-8", errors="replace").split("\n")
        unsorted = unsorted_key(raw, obj)
        if unsorted is not None:
            self.report.add(METRICS, 0, f"keys not sorted: {unsorted}")
        errors = self.schemas.errors(METRICS, obj)
        for error in errors:
            self.report.add(METRICS, 1, error)
        if not errors:
            self.metrics = obj
            self.metrics_fields = frozenset(obj)


def _size_of(stream: BinaryIO) -> int:
    """How many bytes ``stream`` holds now; it is left at its start."""
    size = stream.seek(0, io.SEEK_END)
    stream.seek(0)
    return size


def torn_last(raw: bytes, *, newline: bool | None) -> bool:
    r"""Whether ``raw``, a file's last line, is torn as the contract says: no \n, or not JSON."""
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return True
    return not newline


def _last_byte(source: _Source) -> bytes:
    """The last byte ``source`` will give (b"" when empty); the stream is left at its start."""
    if not source.size:
        return b""
    source.stream.seek(source.size - 1)
    last = source.stream.read(1)
    source.stream.seek(0)
    return last
