"""Whether a crashed run's record up to its checkpoint still holds, asked before a resume.

A resume goes on writing after the checkpoint's offsets; what lies before them is kept as
it is. When that part of ``events.jsonl`` or ``state_snapshots.jsonl`` was damaged since
the run wrote it (a byte changed, a line deleted, repeated or moved, an editor or a copy
that rewrote the line endings), the resumed run used to trade on and seal on top of it,
and ``verify`` failed the run only at its end, after more orders had gone out. This reads
that part once and refuses the run, naming the file, the line and the damage.

What is checked, with no change to the checkpoint: every event line up to the offset is
one the recorder writes (its envelope byte for byte), numbered ``seq`` 1, 2, 3 … with no
gap or repeat, and hashes to its own ``event_id`` (which covers its type, ``seq`` and
payload, and the run and strategy ids); its ``ts_sim`` never goes back nor past the
checkpoint's; there are as many as the checkpoint counts, and the offset falls at a line's
end. The snapshots are held to the same numbering, to the form the recorder writes (keys
sorted, no spaces), to one another (each moves from the state the one before reached) and
to the events (their transitions are the ``STATE_CHANGED`` events', in order). The audit
log's part is the audit chain's own check (``resumecut``). A change that keeps all of
this (a digit of a ``ts_utc``, of a snapshot's equity, a ``ts_sim`` still in order) is
found by the digest: the checkpoint holds each file's SHA-256 up to its offset
(``recorder.sha256``, the recorder's running digest when it was saved), and the same read
hashes the part it checks; one that differs is refused, naming the file. The digests are
the resumed recorder's own from there on (``ResumeRead``), so the files are read once. A
checkpoint of an earlier build, without them, is held to the line checks alone
(``ResumeRead.digested`` is False: the resume says so in the session log).

The tail past the offset (a crash's half line) is not checked here: the resume cuts it.
``pastcheckpoint`` reads it for ``status``, to say damage a crash does not explain.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.recorder import EVENTS_SCHEMA, SNAPSHOT_SCHEMA
from .._exceptions import RunDirectoryError
from .._support.fsutil import raise_if_refused
from .._support.linescan import scan_prefix
from .._support.wholelines import LineCarry

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from pathlib import Path

__all__ = [
    "CRLF",
    "ResumeRead",
    "check_record",
    "inside_line",
]

_HEAD: Final = re.compile(rb'\{"event_id":"([0-9a-f]{24})","event_type":("[^"\\]+"),"payload":')
_RUN: Final = b',"run_id":'
_IDS: Final = re.compile(rb',"run_id":("[^"\\]*"),.*,"strategy_id":("(?:[^"\\]|\\.)*"),"ts_sim"')
_TAIL: Final = (
    rb',"run_id":%b,"schema":"' + EVENTS_SCHEMA.encode() + rb'","seq":(0|[1-9][0-9]*),'
    rb'"strategy_id":%b,"ts_sim":(0|[1-9][0-9]*),"ts_utc":"[0-9T:.Z+-]*"\}'
)
"""An event line's end, for its run and strategy ids (``%b``, as JSON): its seq, ts_sim."""
CRLF: Final = (
    "ends with \\r\\n, not \\n (its line endings were rewritten, by an editor or a copy that "
    "converts them)"
)
"""What a line of a contract file that ends ``\\r\\n`` says (a run writes ``\\n`` alone)."""
_SORTED: Final = orjson.OPT_SORT_KEYS
_BLOCK: Final = 1 << 22
_STATE_CHANGED: Final = b'"STATE_CHANGED"'
_DAMAGED: Final = (
    "the run's record up to its checkpoint no longer holds, so it cannot be resumed (the "
    "resumed run would trade and seal on top of it); nothing was changed: put back a whole "
    "copy of the file if there is one, else keep the run as it is and report it (on a venue, "
    "settle its orders and positions by hand) and start a new run"
)


_DIFFERS: Final = (
    "differs from what the session wrote before its checkpoint: its first {offset} bytes "
    "hash to SHA-256 {found}..., where the checkpoint recorded {want}... (a byte changed that "
    "no line check sees, a time or an amount say)"
)


@attrs.frozen
class ResumeRead:
    """What reading the record up to the checkpoint gave: each file's running digest.

    ``digests``: ``events`` and ``states``, hashlib objects of the bytes up to each offset,
    for the resumed recorder to go on from. ``digested``: whether the checkpoint held the
    digests they were compared with (one of an earlier build holds none).
    """

    digests: dict[str, Any]
    digested: bool


class _Damage(Exception):
    """A line of a file before the checkpoint that is not what the run wrote.

    ``line`` 0: the file as a whole.
    """

    def __init__(self, line: int, what: str) -> None:
        super().__init__(what)
        self.line = line
        self.what = what


def check_record(run_dir: Path, recorder: Mapping[str, Any]) -> ResumeRead:
    """Refuse a run whose events or snapshots before the checkpoint are not what it wrote.

    ``RunDirectoryError`` names the file, the line and the damage (a file cut short before
    its offset too), or the file whose bytes up to its offset do not hash to the SHA-256
    the checkpoint recorded; ``recorder`` is the checkpoint's ``recorder`` state.
    """
    offsets, until = recorder["offsets"], recorder["ts_sim"]
    recorded = recorder.get("sha256")
    digested = isinstance(recorded, dict)
    want: Mapping[str, Any] = recorded if isinstance(recorded, dict) else {}
    events = run_dir / names.ARTIFACTS["events"]
    states = run_dir / names.ARTIFACTS["states"]
    digests = {"events": hashlib.sha256(), "states": hashlib.sha256()}
    vouched = _vouched_events(
        events, offsets["events"], recorder["event_seq"], until, want.get("events")
    )
    try:
        if vouched is None:
            identity, transitions = _check_events(
                events, offsets["events"], recorder["event_seq"], until, digests["events"]
            )
            _same_bytes(offsets["events"], digests["events"], want.get("events"))
        else:
            digests["events"], identity, transitions = vouched
    except _Damage as damage:
        raise _refusal(events, damage) from None
    try:
        _check_snapshots(
            states,
            offsets["states"],
            recorder["snapshot_seq"],
            until=until,
            identity=identity,
            transitions=transitions,
            digest=digests["states"],
        )
        _same_bytes(offsets["states"], digests["states"], want.get("states"))
    except _Damage as damage:
        raise _refusal(states, damage) from None
    return ResumeRead(digests=digests, digested=digested)


_CHANGED_MARK: Final = b'"event_type":"STATE_CHANGED","payload":'


def _vouched_events(
    path: Path, offset: Any, count: Any, until: Any, want: Any
) -> tuple[Any, tuple[str, str], list[tuple[str, str, str]]] | None:
    """The events' digest, ids and transitions when their bytes are the ones the run wrote.

    The checkpoint's SHA-256 of the events up to its offset vouches for every byte there:
    each line is as the recorder wrote it (its envelope, its ``event_id``, its numbering
    and times in order), so the line checks could only agree. What the checkpoint's other
    fields say of them is still checked: the count of lines, the offset at a line's end,
    the last event numbered ``count`` and not later than ``until``. The lines are hashed
    and counted whole, and only the ``STATE_CHANGED`` ones parsed: a crashed run of a
    million events is told in a fraction of the line-by-line time (``status``, ``list``,
    ``resume``). None when anything differs (no digest recorded, another one, a count):
    ``_check_events`` then reads line by line and says what is wrong, as it always did.
    """
    scan = None
    if isinstance(want, str) and all(isinstance(n, int) for n in (offset, count, until)):
        try:
            scan = scan_prefix(path, offset, _CHANGED_MARK)
        except OSError:
            scan = None  # the line-by-line read says it, or raises it
    if scan is None or scan.lines != count or scan.digest.hexdigest() != want:
        return None
    try:
        ids = _ids(1, scan.first)
    except _Damage:
        return None
    mid = b',"run_id":%b,' % ids[0]
    end = re.compile(_TAIL % (re.escape(ids[0]), re.escape(ids[1]))).fullmatch(
        scan.last, scan.last.rfind(mid)
    )
    moves = _moves(scan.marked, mid)
    if end is None or end[1] != b"%d" % count or int(end[2]) > until or moves is None:
        return None
    return scan.digest, (orjson.loads(ids[0]), orjson.loads(ids[1])), moves


def _moves(lines: list[bytes], mid: bytes) -> list[tuple[str, str, str]] | None:
    """The transitions of the ``STATE_CHANGED`` events among ``lines``; None if one is odd."""
    transitions: list[tuple[str, str, str]] = []
    for line in lines:
        head = _HEAD.match(line)
        if head is None:
            return None
        if head[2] == _STATE_CHANGED:
            try:
                moved = orjson.loads(line[head.end() : line.rfind(mid)])
                transitions.append((moved["trigger"], moved["from_state"], moved["to_state"]))
            except (orjson.JSONDecodeError, KeyError, TypeError):
                return None
    return transitions


def _same_bytes(offset: int, digest: Any, want: object) -> None:
    """``_Damage`` (the whole file) when ``digest`` is not the recorded ``want``.

    ``want`` None: none recorded (an earlier build's checkpoint, a sink that had died).
    """
    if want is None:
        return
    found = digest.hexdigest()
    if found != want:
        said = str(want)[:12] if isinstance(want, str) else repr(want)[:12]
        raise _Damage(0, _DIFFERS.format(offset=offset, found=found[:12], want=said))


def _refusal(path: Path, damage: _Damage) -> RunDirectoryError:
    where = f"{path}:{damage.line}:" if damage.line else str(path)
    return RunDirectoryError(f"{where} {damage.what}: {_DAMAGED}")


def _lines(path: Path, offset: int, digest: Any) -> Iterator[list[bytes]]:
    """The lines of ``path`` up to ``offset`` (without their newline), in blocks.

    ``digest`` (a hashlib object) is updated with each block as it is read.

    The offset of a run's checkpoint is at a line's end: one inside a line, or past the
    file's end, is ``_Damage`` (numbered past the lines yielded).
    """
    left = offset
    if not left:
        return
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise_if_refused(exc, path)
        raise
    with handle:
        carry, number = LineCarry(), 0
        while left > 0:
            block = handle.read(min(left, _BLOCK))
            if not block:
                raise _Damage(
                    0,
                    f"is shorter than its checkpoint says ({offset - left} bytes, where it says "
                    f"{offset}): the file was cut short, by a bad copy say, or lines were removed",
                )
            left -= len(block)
            digest.update(block)
            lines = carry.lines(block)
            number += len(lines)
            yield lines
        if tail := carry.rest():
            raise _Damage(number + 1, inside_line(offset, tail + handle.readline()))


def inside_line(offset: int, line: bytes) -> str:
    """What a file says whose checkpoint offset falls inside ``line``, not at its end."""
    if line.endswith(b"\r\n"):
        return CRLF
    return (
        f"the checkpoint's offset ({offset} bytes) falls inside this line, not at a line's "
        "end (lines before it were added, removed or changed in length)"
    )


def _unlike(raw: bytes, what: str) -> str:
    """Why ``raw`` (without its newline) is not a line of ``what`` as the run writes it."""
    if raw.endswith(b"\r"):
        return CRLF
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "is not valid JSON (a byte of it changed, or it was cut)"
    return f"is not {what} as the run writes it (a byte of it changed, or it was rewritten)"


def _numbered(number: int, seq: int) -> None:
    if seq > number:
        raise _Damage(
            number,
            f"holds seq {seq} where {number} belongs: {seq - number} line(s) before it "
            "are missing (deleted), or lines were moved",
        )
    if seq < number:
        raise _Damage(number, f"holds seq {seq} where {number} belongs: a line repeated or moved")


def _timed(number: int, ts_sim: int, last: int, until: int) -> None:
    if ts_sim < last:
        raise _Damage(number, f"ts_sim goes back to {ts_sim} (a byte of it changed?)")
    if ts_sim > until:
        raise _Damage(
            number, f"ts_sim {ts_sim} is later than its checkpoint's {until} (a byte changed?)"
        )


def _check_events(
    path: Path, offset: int, count: int, until: int, digest: Any
) -> tuple[tuple[str, str] | None, list[tuple[str, str, str]]]:
    """The run and strategy ids the events name, and their transitions, in order.

    Each line is matched the quick way; one that does not match is told apart by
    ``_event_damage``, the slow way.
    """
    transitions: list[tuple[str, str, str]] = []
    ids: tuple[bytes, bytes] | None = None
    id_head = mid = b""
    tail = re.compile(b"")
    last, number = 0, 0
    sha256, head_match = hashlib.sha256, _HEAD.match
    for block in _lines(path, offset, digest):
        for line in block:
            number += 1
            if ids is None:
                ids = _ids(number, line)
                id_head = b"[%b,%b," % ids
                mid = b',"run_id":%b,' % ids[0]
                tail = re.compile(_TAIL % (re.escape(ids[0]), re.escape(ids[1])))
            at_tail = line.rfind(mid)
            head, end = head_match(line), tail.fullmatch(line, at_tail)
            if head is None or end is None or end[1] != b"%d" % number:
                raise _event_damage(number, line, ids, last, until)
            event_id, type_json = head.groups()
            payload = line[head.end() : at_tail]
            hashed = sha256(b"".join((id_head, type_json, b",", end[1], b",", payload, b"]")))
            ts_sim = int(end[2])
            if hashed.hexdigest()[:24].encode() != event_id or not last <= ts_sim <= until:
                raise _event_damage(number, line, ids, last, until)
            last = ts_sim
            if type_json == _STATE_CHANGED:
                moved = orjson.loads(payload)
                transitions.append((moved["trigger"], moved["from_state"], moved["to_state"]))
    if number != count:
        raise _Damage(
            0,
            f"holds {number} event(s) up to its checkpoint's offset, where the checkpoint "
            f"counts {count} (lines were added or removed)",
        )
    said = None if ids is None else (orjson.loads(ids[0]), orjson.loads(ids[1]))
    return said, transitions


def _ids(number: int, line: bytes) -> tuple[bytes, bytes]:
    """The run and strategy ids (as JSON) the first event line names."""
    found = _IDS.search(line, max(0, line.rfind(_RUN)))
    if found is None:
        raise _Damage(number, _unlike(line, "an event line"))
    return found[1], found[2]


def _event_damage(
    number: int, line: bytes, ids: tuple[bytes, bytes], last: int, until: int
) -> _Damage:
    """What is wrong with event line ``number``, which the quick match refused."""
    head = _HEAD.match(line)
    at_tail = line.rfind(_RUN)
    found = _IDS.search(line, max(0, at_tail))
    if head is None or found is None or at_tail < head.end():
        return _Damage(number, _unlike(line, "an event line"))
    if (found[1], found[2]) != ids:
        return _Damage(number, "names another run or strategy than line 1 (a byte changed?)")
    end = re.compile(_TAIL % (re.escape(ids[0]), re.escape(ids[1]))).fullmatch(line, at_tail)
    if end is None:
        return _Damage(number, _unlike(line, "an event line"))
    try:
        _numbered(number, int(end[1]))
        _timed(number, int(end[2]), last, until)
    except _Damage as damage:
        return damage
    return _Damage(
        number, "does not hash to its event_id: a byte of its type, seq or payload changed"
    )


def _check_snapshots(
    path: Path,
    offset: int,
    count: int,
    *,
    until: int,
    identity: tuple[str, str] | None,
    transitions: list[tuple[str, str, str]],
    digest: Any,
) -> None:
    """The snapshots up to the offset, against one another and the events' transitions."""
    seen = _Snapshots(until, identity, transitions)
    number = 0
    for block in _lines(path, offset, digest):
        for raw in block:
            number += 1
            seen.check(number, raw)
    if number != count:
        raise _Damage(
            0,
            f"holds {number} snapshot(s) up to its checkpoint's offset, where the checkpoint "
            f"counts {count} (lines were added or removed)",
        )
    if next(seen.moves, None) is not None:
        raise _Damage(
            0,
            f"lacks a snapshot for a STATE_CHANGED of {names.ARTIFACTS['events']} before the "
            "checkpoint (a line was removed, or a byte changed)",
        )


class _Snapshots:
    """The snapshots read so far: the state the last one reached, and its ``ts_sim``."""

    def __init__(
        self,
        until: int,
        identity: tuple[str, str] | None,
        transitions: list[tuple[str, str, str]],
    ) -> None:
        self.until = until
        self.identity = identity
        self.moves = iter(transitions)
        self.state: str | None = None
        self.last = 0

    def check(self, number: int, raw: bytes) -> None:
        """Snapshot line ``number``: as the run writes it, and moving on from the last one."""
        try:
            snap = orjson.loads(raw)
        except orjson.JSONDecodeError:
            snap = None
        if not isinstance(snap, dict) or orjson.dumps(snap, option=_SORTED) != raw:
            raise _Damage(number, _unlike(raw, "a snapshot line"))
        try:
            trigger, source, reached = snap["trigger"], snap["from_state"], snap["fsm_state"]
            self._envelope(number, snap)
            _numbered(number, snap["seq"])
            _timed(number, snap["ts_sim"], self.last, self.until)
        except (KeyError, TypeError):
            raise _Damage(number, _unlike(raw, "a snapshot line")) from None
        if self.state is None:
            if (trigger, source, reached) != ("start", "INIT", "INIT"):
                raise _Damage(number, "is not the run's first snapshot (INIT, trigger start)")
        elif source != self.state:
            raise _Damage(
                number,
                f"moves from {source}, but the snapshot before it reached {self.state} (a byte "
                "changed, or a line was removed)",
            )
        elif trigger != "final" and next(self.moves, None) != (trigger, source, reached):
            raise _Damage(
                number,
                f"moves {source} --{trigger}--> {reached}, which is not the next STATE_CHANGED "
                f"of {names.ARTIFACTS['events']} (a byte changed, or a line was moved)",
            )
        self.state, self.last = reached, snap["ts_sim"]

    def _envelope(self, number: int, snap: dict[str, Any]) -> None:
        if snap["schema"] != SNAPSHOT_SCHEMA or (
            self.identity is not None and (snap["run_id"], snap["strategy_id"]) != self.identity
        ):
            raise _Damage(
                number, "names another schema, run or strategy than the events (a byte changed?)"
            )
