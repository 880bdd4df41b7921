"""The report's own integrity checks: what one streaming pass over the files can prove.

A full verification (``livesession verify``: schemas, event ids, lifecycle, metrics and the
positions replayed) costs more than the report may spend, so by default the report checks
what falls out of the single pass it makes anyway, and says so:

* every line of ``events.jsonl`` and ``state_snapshots.jsonl`` is a JSON object ending in a
  newline, with ``seq`` 1, 2, 3 ... contiguous;
* the audit hash chain: every ``prev_hash`` is the SHA-256 of the line before (raw bytes),
  the first is 64 zeros, ``seq`` is contiguous, and ``metrics.json``'s ``audit_head`` is
  the hash of the last line;
* the closing ``C2_DRYRUN_STOP`` record's ``digests`` equal the SHA-256 of
  ``events.jsonl`` and ``state_snapshots.jsonl`` as read, so the chain covers their bytes;
* ``config.json`` is the config ``SESSION_STARTED`` recorded (its ``config_sha256``, as
  ``verify`` holds it) and ``run.json`` names the version it recorded (as ``evidence`` holds
  it): both are outside the chain, and the report shows the limits and the version they give;
* ``metrics.json``'s line counts match the files, and (for a sealed run, or a live one up
  to its checkpoint) its event counts (``steps``, ``orders_submitted``, ``fills``,
  ``sink_retries``, ``late_fills``, ``events_by_type``) the events read. A crashed run's
  ``metrics.json`` is its last checkpoint's while its files go on: its line counts are
  held to be at most the files' and its ``audit_head`` to be the hash of the audit line it
  counts (``audit_events``), and its event counts are not compared.

Problems are the verifier's violations, collected and worded by its own ``Violations`` and
``SeqCheck``: ``<file>:<line>: <what>``, or ``<file>: <what>`` for the file as a whole, at
most 50 listed per file, and a ``seq`` break said once where it happens (one repeated line is
one problem, not one for every line after it), so the report and ``verify`` agree.

A file the host will not let the report read (no permission, no file descriptor left) is
no problem of the run: its ``OSError`` propagates, naming the file, and no report is
written (``raise_if_refused``), as ``verify`` draws no verdict from it.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._artifacts import names
from .._artifacts.audit_chain import GENESIS_HASH
from .._artifacts.provenance import run_json_changed
from .._artifacts.runread import json_object, read_bytes
from .._support.fsutil import raise_if_refused
from .._support.wholelines import LineCarry
from ..verify._config import check_config
from ..verify._events import SeqCheck
from ..verify._kept import check_kept, check_torn
from ..verify._result import Violations, crlf_said

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from .._artifacts.runread import RunCut
    from ..verify._checkpoint import KeptCheckpoint

__all__ = ["CHECKED", "CHECKED_LIVE", "Integrity", "LineReader", "read_metrics"]

_CHUNK: Final = 1 << 20

_RECORDED: Final = (
    "config.json against the config_sha256 SESSION_STARTED recorded, and run.json's version "
    "against its version; a run livesession made keeps config.json, and checkpoint.json once "
    "it has stepped; a sealed run's .torn files hold what its C2_RESUME records set aside"
)
CHECKED: Final = (
    "every line of events.jsonl and state_snapshots.jsonl is a JSON object with seq 1, 2, 3 ...",
    "the audit hash chain, line by line, and metrics.json's audit_head",
    "the stop record's SHA-256 digests against events.jsonl and state_snapshots.jsonl",
    _RECORDED,
    (
        "metrics.json's line counts against the files, and its event counts (steps, orders, "
        "fills, events by type) against the events"
    ),
)
"""What the default report checks, as it says in its Verification section."""
CHECKED_LIVE: Final = (
    CHECKED[0] + " (up to the last checkpoint)",
    (
        "the audit hash chain, line by line, up to the last checkpoint, and the audit_head of "
        "that checkpoint's metrics.json"
    ),
    _RECORDED,
    (
        "that metrics.json's line counts against the files, and its event counts (steps, "
        "orders, fills, events by type) against the events, up to the checkpoint"
    ),
)
"""What it checks of a live run: no stop record yet, so no digests to hold the files to."""


_NO_STOP: Final = "no closing C2_DRYRUN_STOP record (incomplete run)"
_NO_STOP_SEALED: Final = (
    f"no closing C2_DRYRUN_STOP record, though {names.CHECKPOINT} is sealed: the seal's audit "
    "record is missing (the audit log was cut); resume cannot restore it: keep the run as it "
    "is and report it"
)


def read_metrics(path: Path, cut: RunCut | None) -> tuple[dict[str, Any], tuple[int, str] | None]:
    """``metrics.json`` (``{}`` when it is none), and what is wrong with it, as verify says it.

    The problem is ``(line, what)``: ``missing``, ``empty file`` (line 0, the file as a
    whole), ``not valid JSON: ...`` or ``not a JSON object but list`` (line 1); None when
    the file is a JSON object. (It used to be ``missing`` for every one of them.)

    Raises:
        OSError: the host refused to read it (``raise_if_refused``).
    """
    try:
        raw = read_bytes(path, cut)
    except FileNotFoundError:
        return {}, (0, "missing")
    except OSError as exc:
        raise_if_refused(exc, path)
        return {}, (0, f"cannot be read: {type(exc).__name__}")
    if not raw:
        return {}, (0, "empty file")
    try:
        document = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return {}, (1, f"not valid JSON: {exc}")
    if type(document) is not dict:
        return {}, (1, f"not a JSON object but {type(document).__name__}")
    return document, None


class LineReader:
    r"""The lines of a file (up to a live run's cut), read in chunks that feed a digest.

    Iterate once. ``torn`` is then true when the last line had no newline (it is yielded
    too); ``digest`` holds the SHA-256 of every byte read; ``progress`` is told the size of
    each chunk as it is read; ``crlf`` counts the lines that end ``\r\n`` (a copy converted
    to Windows line endings), ``crlf_first`` the first of them.
    """

    def __init__(
        self,
        path: Path,
        cut: RunCut | None,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        self.path, self.cut, self.progress = path, cut, progress
        self.digest = hashlib.sha256()
        self.torn = False
        self.crlf = self.crlf_first = 0

    def __iter__(self) -> Iterator[bytes]:
        """Each line without its newline.

        Raises:
            OSError: the file cannot be opened or read (the caller tells a refusal from a
                missing file with ``raise_if_refused``).
        """
        limit = None if self.cut is None else self.cut.offsets.get(self.path.name)
        lines = 0
        with self.path.open("rb") as f:
            carry = LineCarry()
            while limit is None or limit > 0:
                chunk = f.read(_CHUNK if limit is None else min(_CHUNK, limit))
                if not chunk:
                    break
                if limit is not None:
                    limit -= len(chunk)
                self.digest.update(chunk)
                if self.progress is not None:
                    self.progress(len(chunk))
                parts = carry.lines(chunk)
                # memchr first, per chunk: a copy's line ends (a \r may end the chunk before)
                if parts and (b"\r\n" in chunk or parts[0].endswith(b"\r")):
                    self._crlf(parts, lines)
                lines += len(parts)
                yield from parts
            if rest := carry.rest():
                self.torn = True
                yield rest

    def _crlf(self, parts: list[bytes], before: int) -> None:
        r"""Count the lines ``parts`` (after ``before`` whole lines) that end ``\r\n``."""
        ends = [number for number, line in enumerate(parts, before + 1) if line.endswith(b"\r")]
        if ends and not self.crlf:
            self.crlf_first = ends[0]
        self.crlf += len(ends)


class Integrity:
    """The problems the report's own pass found, per file, as the verifier collects them."""

    def __init__(self) -> None:
        self._found = Violations()
        self._seqs = SeqCheck()
        self.sha256: dict[str, str] = {}
        self.lines: dict[str, int] = {}
        self.marked_head = ""
        """The hash of the audit line ``audit_chain`` was told to mark ("" before any)."""

    @property
    def problems(self) -> tuple[str, ...]:
        """The problems listed (at most 50 per file), then a line per file for the rest."""
        return self._found.finish()

    @property
    def total(self) -> int:
        """Every problem found, listed or not."""
        return self._found.total

    def add(self, name: str, line: int, what: str) -> None:
        """Record one problem (line 0: the file as a whole)."""
        self._found.add(name, line, what)

    def seq(self, name: str, line: int, record: dict[str, Any]) -> None:
        """Check the record's ``seq`` as ``verify`` does: held to the highest before it.

        A ``seq`` that is no integer is one problem, and taken for the one expected.
        """
        seq = record.get("seq")
        if type(seq) is not int:
            expected = self._seqs.expected(name)
            self.add(name, line, f"seq {seq!r}, expected {expected}")
            seq = expected
        self._seqs(self._found, name, line, seq)

    def missing(self, name: str) -> None:
        """The file is not there."""
        self.add(name, 0, "missing")

    def audit_chain(
        self, path: Path, cut: RunCut | None, keep: frozenset[str], *, mark: object = None
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        """Check the audit log's hash chain; its records whose code is in ``keep``, and its last.

        The records are read one at a time and only those kept are held. The hash of line
        ``mark`` (a crashed run's checkpoint's ``audit_events``) is kept as ``marked_head``.
        """
        records: list[dict[str, Any]] = []
        last: dict[str, Any] | None = None
        head = head_cr = GENESIS_HASH
        number = 0
        reader = LineReader(path, cut)
        try:
            for number, line in enumerate(reader, start=1):
                record = json_object(line)
                if record is None:
                    self.add(names.AUDIT, number, "not a JSON object")
                else:
                    last = record
                    if record.get("code") in keep:
                        records.append(record)
                    self.seq(names.AUDIT, number, record)
                    if record.get("prev_hash") not in (head, head_cr):
                        self.add(names.AUDIT, number, "prev_hash does not match the line before")
                head = hashlib.sha256(line).hexdigest()
                # The hash of the line but for a final \r: a break the \r\n alone explains.
                head_cr = hashlib.sha256(line[:-1]).hexdigest() if line.endswith(b"\r") else head
                if number == mark:
                    self.marked_head = head
        except OSError as exc:
            raise_if_refused(exc, path)
            self.missing(names.AUDIT)
            return records, None
        self.check_ends(names.AUDIT, reader, number)
        self.lines[names.AUDIT] = number
        self.sha256["audit head"] = head if number else ""
        return records, last

    def recorded(
        self,
        run_dir: Path,
        started: dict[str, Any],
        meta: dict[str, Any],
        *,
        bars: int,
        checkpoint: KeptCheckpoint | None = None,
    ) -> None:
        """``config.json`` and ``run.json`` against what ``started`` (``SESSION_STARTED``) recorded.

        Neither is in the audit chain, and the report shows what they say (the limits, the
        version): a ``config.json`` that is not the config the run recorded is ``verify``'s
        violation, and a ``run.json`` naming another version fails ``evidence``, so neither
        is shown under "Integrity checked". A run without them (sinks given as files) has
        nothing to compare. A run livesession made (``run.json``) that lost its
        ``config.json``, or its ``checkpoint.json`` after ``bars`` were recorded, is said as
        ``verify`` says it (``check_kept``). ``checkpoint``: the report's ``checkpoint.json``
        (None: read here).

        Raises:
            OSError: the host refused to read ``config.json`` (``raise_if_refused``).
        """
        path = run_dir / names.CONFIG
        try:
            raw: bytes | None = path.read_bytes()
        except OSError as exc:
            raise_if_refused(exc, path)
            raw = None
        check_config(self._found, raw, started.get("config_sha256"))
        check_kept(self._found, run_dir, bars, started.get("config_sha256"), checkpoint)
        changed = run_json_changed(started.get("version"), meta.get("version")) if meta else ""
        if changed:
            self.add(names.RUN_META, 0, changed)

    def torn(self, run_dir: Path, resumes: list[dict[str, Any]]) -> None:
        """A sealed run's ``.torn`` files against its ``resumes``, as ``verify`` holds them."""
        check_torn(self._found, run_dir, resumes)

    def _counts(self, metrics: dict[str, Any], counted: dict[str, Any]) -> None:
        """metrics.json's event counts (those it has) against the events read."""
        for field, value in counted.items():
            # late_fills is written once it is non-zero; the others only when they are known.
            claimed = metrics.get(field, 0) if field == "late_fills" else metrics.get(field, value)
            if field == "events_by_type" and isinstance(claimed, dict):
                for kind in sorted({*claimed, *value}):
                    if claimed.get(kind, 0) != value.get(kind, 0):
                        self.add(
                            names.METRICS,
                            0,
                            f"events_by_type {kind} {claimed.get(kind, 0)!r}, but "
                            f"{names.EVENTS} has {value.get(kind, 0)}",
                        )
            elif claimed != value:
                self.add(names.METRICS, 0, f"{field} {claimed!r}, but {names.EVENTS} has {value}")

    def check_ends(self, name: str, reader: LineReader, lines: int) -> None:
        r"""A problem when the file's last line had no newline; one when lines end ``\r\n``.

        Lines a copy gave Windows line endings are one problem, at the first of them, as
        ``verify`` says it: the chain breaks they alone explain are not listed.
        """
        if reader.crlf:
            self.add(name, reader.crlf_first, crlf_said(reader.crlf, lines))
        if reader.torn:
            self.add(name, lines, "the last line has no newline (torn)")

    def closing(
        self,
        last: dict[str, Any] | None,
        metrics: dict[str, Any],
        *,
        live: bool,
        counted: dict[str, Any] | None,
        claimed: bool = False,
        unread: tuple[int, str] | None = None,
    ) -> None:
        """The stop record's digests and metrics.json's counts against what was read.

        ``unread``: what is wrong with metrics.json (``read_metrics``), else None.
        ``claimed``: the run claims a seal (its sealing checkpoint), so a missing stop record
        is an audit log that lost its tail, which no ``resume`` restores, not a run to go on.

        ``counted`` holds the counts the events give (``Tallies.counted``): a count in
        metrics.json that is not what the events say is a problem, so a report never shows
        the integrity as whole beside a count the events do not bear out. None (a crashed
        run, whose metrics.json is its last checkpoint's) compares none of them, and holds
        its line counts to be at most the files' (the files go on past the checkpoint; fewer
        lines are lines lost) and its ``audit_head`` to the line it counts (``marked_head``).
        """
        crashed = counted is None and not live
        counts = {
            "events_emitted": names.EVENTS,
            "state_snapshots": names.SNAPSHOTS,
            "audit_events": names.AUDIT,
        }
        if unread is not None:
            self.add(names.METRICS, *unread)
        for field, name in counts.items():
            said, has = metrics.get(field), self.lines.get(name, 0)
            if unread is None and not _bears_out(said, has, crashed=crashed):
                self.add(names.METRICS, 0, f"{field} {said!r}, but {name} has {has}")
        if unread is None and counted is not None:
            self._counts(metrics, counted)
        head = self.marked_head if crashed else self.sha256.get("audit head", "")
        if unread is None and metrics.get("audit_head") != head:
            self.add(names.METRICS, 0, "audit_head is not the hash of the last audit line")
        if live:
            return  # a live run has no stop record yet
        stop = last if last is not None and last.get("code") == "C2_DRYRUN_STOP" else None
        if stop is None:
            self.add(names.AUDIT, 0, _NO_STOP_SEALED if claimed else _NO_STOP)
            return
        found = stop.get("payload")
        digests = found.get("digests") if isinstance(found, dict) else None
        digests = digests if isinstance(digests, dict) else {}
        for name in (names.EVENTS, names.SNAPSHOTS):
            if digests.get(name) != self.sha256.get(name):
                self.add(name, 0, "SHA-256 differs from the digest the audit chain closed with")


def _bears_out(said: object, has: int, *, crashed: bool) -> bool:
    """Whether a file of ``has`` lines bears out the count metrics.json ``said``.

    A crashed run's count is its last checkpoint's, and the file may go on past it.
    """
    if not crashed:
        return said == has
    return type(said) is int and 0 <= said <= has
