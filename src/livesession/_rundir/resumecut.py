"""Where a resume cuts a crashed run back to, found while nothing on disk has changed.

Each artifact goes back to the offset its checkpoint recorded, except that the audit log
keeps the ``C2_RESUME`` records chained right after the checkpoint's last record: those of
earlier resumes killed before their first checkpoint. Cut with the rest, they went to
``audit.jsonl.torn`` and the run's own record forgot each such crash and the bytes it set
aside (a crash loop of five resumes read as one). The resume goes on after them.

Which bytes of the ``<file>.torn`` files the audit accounts for (``AuditCut.torn``, the sum
of its ``C2_RESUME`` records' ``torn_bytes``) is found in the same read: a resume killed
after it cut but before its record reached the file set bytes aside that no record counts,
and the next resume's ``C2_RESUME`` counts them.

The cut itself (``cut_back``), once every check has passed, sets each tail aside in its
``<file>.torn`` first and says how many of those bytes no record counts yet; a resume
refused after it puts the tails back (``uncut``).
"""

from __future__ import annotations

import contextlib
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.audit_chain import GENESIS_HASH
from .._exceptions import AuditCorruption, RunDirectoryError, RunHeld
from .._support.dirlock import locked_by
from .._support.fsutil import raise_if_refused
from .._support.oserrors import once_fixed
from .._support.text import command
from .._support.torn import torn_path, truncate_to
from ..brokers._journal import attempt_problem, request_problem
from ..brokers.realish import attempts_path
from .beforecheckpoint import CRLF, ResumeRead, check_record, inside_line
from .supplied import by_factory
from .uncut import Cut, CutBack, put_back

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AuditCut",
    "check_journals",
    "cut_back",
    "refuse_while_evidence_reads",
    "validate_artifacts",
]

_RESUME: Final = "C2_RESUME"


def refuse_while_evidence_reads(run_dir: Path) -> None:
    """Refuse a resume (``RunHeld``, nothing changed) while an evidence reads the run.

    Evidence holds no writer lock (``status`` would call the run live), but a ``flock`` on
    the run directory (``evidence._lock``). A resume started beside it cut the files back
    and wrote on while the evidence hashed and verified them: the bundle matched neither
    the run it read nor the one left on disk. Asked with the writer lock held, so an
    evidence that starts after this sees the resume as the run's writer and refuses.
    """
    holder = locked_by(run_dir)
    if holder is None:
        return
    who = "" if holder < 0 else f" (pid {holder})"
    raise RunHeld(
        f"{run_dir} is being read by a livesession evidence{who}: nothing was changed (a "
        "resume would cut back and write the files it hashes; let it finish, then run "
        f"`{command('resume', run_dir)}` again)"
    )


@attrs.frozen
class AuditCut:
    """Where the audit log is cut back to, and the chain a resumed session goes on from."""

    offset: int
    seq: int
    head: str
    torn: dict[str, int]
    """The bytes of each ``<file>.torn`` that the kept records' ``C2_RESUME`` count."""


def _counted(record: dict[str, Any], torn: dict[str, int]) -> None:
    """Add a ``C2_RESUME`` record's ``torn_bytes`` to ``torn`` (other records: nothing)."""
    if record.get("code") != _RESUME:
        return
    body = record.get("payload")
    sizes = body.get("torn_bytes") if isinstance(body, dict) else None
    for name, size in (sizes if isinstance(sizes, dict) else {}).items():
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            torn[str(name)] = torn.get(str(name), 0) + size


def _audit_prefix(path: Path, offset: int) -> bytes:
    """The first ``offset`` bytes of the audit log, which must have that many."""
    try:
        with path.open("rb") as f:
            data = f.read(offset)
    except FileNotFoundError:
        raise AuditCorruption(f"{path} is missing") from None
    except OSError as exc:
        raise_if_refused(exc, path)
        raise
    if len(data) < offset:
        raise AuditCorruption(
            f"{path} is shorter ({len(data)} bytes) than its checkpoint says ({offset} bytes)"
        )
    return data


def _check_audit_prefix(path: Path, offset: int, head: str, seq: int) -> AuditCut:
    """The audit lines up to ``offset`` form a chain ending in ``head`` with ``seq`` lines."""
    data = _audit_prefix(path, offset)
    prev = GENESIS_HASH
    torn: dict[str, int] = {}
    lines = data.split(b"\n")[:-1] if data else []
    for number, line in enumerate(lines, start=1):
        if line.endswith(b"\r"):  # orjson reads it, and the chain breaks a line later
            raise AuditCorruption(f"{path}:{number}: {CRLF}")
        try:
            record = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise AuditCorruption(f"{path}:{number}: corrupt audit line (not JSON)") from None
        if (
            not isinstance(record, dict)
            or record.get("prev_hash") != prev
            or record.get("seq") != number
        ):
            raise AuditCorruption(f"{path}:{number}: audit chain broken (prev_hash or seq)")
        _counted(record, torn)
        prev = hashlib.sha256(line).hexdigest()
    if data and not data.endswith(b"\n"):
        with path.open("rb") as handle:
            handle.seek(offset)
            line = data[data.rfind(b"\n") + 1 :] + handle.readline()
        raise AuditCorruption(f"{path}:{len(lines) + 1}: {inside_line(offset, line)}")
    if len(lines) != seq:
        raise AuditCorruption(
            f"{path}: audit head does not match the checkpoint: {len(lines)} record(s) up to "
            f"its offset, where the checkpoint counts {seq} (lines were added or removed)"
        )
    if prev != head:
        raise AuditCorruption(
            f"{path}:{seq}: audit head does not match the checkpoint: the line does not hash "
            "to the head the checkpoint recorded (a byte of it changed)"
        )
    return AuditCut(offset=offset, seq=seq, head=head, torn=torn)


def _kept_resumes(path: Path, cut: AuditCut) -> AuditCut:
    """``cut`` moved past the whole ``C2_RESUME`` records chained right after it.

    Only whole lines that go on the chain (``seq`` and ``prev_hash``) count; the first
    other line (a record of the resumed session's, a torn or damaged one) ends them, and it
    and all after it are cut as before.
    """
    offset, seq, head, torn = cut.offset, cut.seq, cut.head, dict(cut.torn)
    with path.open("rb") as handle:
        handle.seek(offset)
        for raw in handle:
            line = raw[:-1]
            if not raw.endswith(b"\n") or b'"C2_RESUME"' not in line:
                break
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError:
                break
            if (
                not isinstance(record, dict)
                or record.get("code") != _RESUME
                or record.get("prev_hash") != head
                or record.get("seq") != seq + 1
            ):
                break
            _counted(record, torn)
            offset, seq, head = offset + len(raw), seq + 1, hashlib.sha256(line).hexdigest()
    return AuditCut(offset=offset, seq=seq, head=head, torn=torn)


def check_journals(
    run_dir: Path, checkpoint: dict[str, Any] | None, broker: str, sources: Mapping[str, Any]
) -> None:
    """Every whole line of the venue's journals is a JSON object (a torn last one may not be).

    The broker replays them only after the artifacts were cut back, so a damaged journal
    must be found here, while nothing has been changed yet. So must a journal shorter
    than the offset ``checkpoint`` recorded (``_check_lengths``), for a venue that keeps
    its journal in the run directory: not a broker object handed in (``sources``, the
    run's record of its plug-ins), built before the run directory was, whose journal, if
    it keeps one, is where the object put it, and is the object's to replay.
    """
    record = sources.get("broker")
    handed_in = isinstance(record, dict) and "object" in record and not by_factory(record)
    if not handed_in:
        _check_lengths(run_dir, checkpoint, broker)
    attempts = attempts_path(run_dir / names.JOURNAL)
    for path in sorted(run_dir.glob(f"{Path(names.JOURNAL).stem}*.jsonl")):
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise_if_refused(exc, path)
            raise
        problem_of = attempt_problem if path == attempts else request_problem
        for number, line in enumerate(data.split(b"\n")[:-1], start=1):
            try:
                problem = problem_of(orjson.loads(line))
            except orjson.JSONDecodeError:
                problem = "not a JSON object"
            if problem is not None:
                raise RunDirectoryError(
                    f"{path}:{number}: corrupt journal line ({problem}): the record of "
                    "what reached the venue is damaged, so the run cannot be resumed safely"
                )


def _check_lengths(run_dir: Path, checkpoint: dict[str, Any] | None, broker: str) -> None:
    """Each journal of a venue a resume rebuilds holds the bytes ``checkpoint`` recorded.

    A journal is written without fsync (the venue is another system: it must survive the
    process, not the machine), so a power cut, or a file system that stopped writing after
    an error, can drop its end while the synced checkpoint and artifacts stand. Replayed, it
    was a venue that had forgotten its orders: the resumed run verified, its venue order
    ids from ``m1`` again. Only ``mock`` and ``realish`` (``broker``) are known here.
    """
    for name, recorded in sorted(_journal_lengths(checkpoint, broker).items()):
        path = run_dir / name
        try:
            held: int | None = path.stat().st_size
        except FileNotFoundError:
            held = None
        except OSError as exc:
            raise_if_refused(exc, path)
            raise
        if held is not None and held >= recorded:
            continue
        holds = "is missing" if held is None else f"holds {held} bytes"
        raise RunDirectoryError(
            f"{path} {holds}, where the checkpoint recorded {recorded}: the record of what "
            "reached the venue lost its end (a power cut, or a file system that stopped "
            "writing after an error, drops what was not on the disk yet; or a copy cut it "
            "short), so the run cannot be resumed safely"
        )


def _journal_lengths(checkpoint: dict[str, Any] | None, broker: str) -> dict[str, int]:
    """The bytes of each journal of the rebuilt venue ``broker`` at ``checkpoint``, by name."""
    if checkpoint is None or broker not in ("mock", "realish"):
        return {}
    own, venue = checkpoint.get("broker_journal_offset"), checkpoint.get("venue_journal_offset")
    journal = Path(names.JOURNAL)
    if broker == "mock":
        lengths = {journal.name: own}
    else:  # the venue's journal, and the broker's own record of its attempts beside it
        lengths = {journal.name: venue, f"{journal.stem}.attempts.jsonl": own}
    return {name: held for name, held in lengths.items() if isinstance(held, int) and held > 0}


_BAR_FIELD: Final = b'"event_type":"BAR"'


def _check_never_stepped(run_dir: Path) -> None:
    """A run without a checkpoint must be one killed during start-up, before its first.

    The first checkpoint is written when the session activates, before its first bar: a run
    with bars in its events, or anything in its venue journal, had one, and lost it (a slip,
    a bad restore). Starting it over would cut its history away and tell the venue's orders
    and positions nothing: refused, with nothing changed.
    """
    events = run_dir / names.ARTIFACTS["events"]
    stepped = False
    with contextlib.suppress(FileNotFoundError), events.open("rb") as handle:
        stepped = any(_BAR_FIELD in line for line in handle)
    journals = [p for p in run_dir.glob(f"{Path(names.JOURNAL).stem}*.jsonl") if p.stat().st_size]
    if stepped or journals:
        what = f"{events.name} records steps" if stepped else f"{journals[0].name} records orders"
        raise RunDirectoryError(
            f"{run_dir / names.CHECKPOINT} is missing, but {what}: the run had a checkpoint "
            "and lost it, so it cannot be resumed (starting it over would discard its history "
            "and ignore what reached the venue); restore checkpoint.json from a backup"
        )


def validate_artifacts(
    run_dir: Path, checkpoint: dict[str, Any] | None
) -> tuple[dict[str, int], AuditCut, ResumeRead | None]:
    """The artifact offsets to cut back to, after checking the files can be resumed.

    The audit's offset is past the ``C2_RESUME`` records that follow the checkpoint's
    (``AuditCut``); the others are the checkpoint's. With a checkpoint, what reading the
    events and snapshots up to it gave (``ResumeRead``: their digests), else None.
    """
    audit = run_dir / names.ARTIFACTS["audit"]
    offsets = {"events": 0, "states": 0, "audit": 0}
    read = None
    if checkpoint is None:
        _check_never_stepped(run_dir)
        cut = AuditCut(offset=0, seq=0, head=GENESIS_HASH, torn={})
    else:
        rec_state = checkpoint["recorder"]
        offsets = dict(rec_state["offsets"])
        cut = _check_audit_prefix(
            audit, offsets["audit"], rec_state["audit_head"], rec_state["audit_seq"]
        )
        for name in ("events", "states"):
            path = run_dir / names.ARTIFACTS[name]
            size = path.stat().st_size if path.exists() else -1
            if size < 0 < offsets[name]:
                raise RunDirectoryError(
                    f"{path} is missing, but its checkpoint counts {offsets[name]} bytes of it: "
                    "the run directory is damaged"
                )
        # What the resumed run would go on writing after (a file cut short too, by line).
        read = check_record(run_dir, rec_state)
    if audit.exists():
        cut = _kept_resumes(audit, cut)
    offsets["audit"] = cut.offset
    return offsets, cut, read


def cut_back(
    run_dir: Path, offsets: dict[str, int], counted: dict[str, int], run_id: str
) -> CutBack:
    """Cut each artifact back to its offset: the bytes each ``<file>.torn`` holds uncounted.

    That is what this resume cuts, plus what the file held beyond the sum of the kept
    ``C2_RESUME`` records' ``torn_bytes`` (``counted``): the tail an earlier resume cut
    before it was killed, ahead of its own record. So the run's ``C2_RESUME`` records add
    up to the ``.torn`` files' sizes. With each file's cut, for a refusal to put back
    (``uncut.put_back``), as a cut that fails part-way puts back the files it cut.
    """
    torn: dict[str, int] = {}
    cuts: list[Cut] = []
    for name, file_name in names.ARTIFACTS.items():
        path = run_dir / file_name
        aside = torn_path(path)
        held = aside.stat().st_size if aside.exists() else 0
        made, torn_made = not path.exists(), not aside.exists()
        try:
            if made:
                path.touch()
            tail = truncate_to(path, offsets[name])
        except OSError as exc:
            kept = put_back(tuple(cuts), run_id)
            what = "nothing was changed" if kept is None else f"nothing was lost ({kept})"
            raise RunDirectoryError(
                f"cannot resume {run_dir}: cutting {file_name} back to its checkpoint failed "
                f"({exc.strerror or exc}); {what}: once {once_fixed(exc.errno)}, resume again"
            ) from exc
        cuts.append(Cut(path, offsets[name], tail, held, torn_made and bool(tail), made))
        uncounted = len(tail) + max(0, held - counted.get(file_name, 0))
        if uncounted:
            torn[file_name] = uncounted
    return CutBack(torn, tuple(cuts), run_id)
