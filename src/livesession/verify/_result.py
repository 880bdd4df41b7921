"""What a verification returns, and the list of violations it builds on the way."""

from __future__ import annotations

import types
from collections import Counter
from typing import TYPE_CHECKING, Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.lastline import LOST_NEWLINE, unterminated_record, zero_tail
from .._artifacts.releases import checked_by, resume_advice, written_by_other_release
from .._artifacts.runfind import lost_files, lost_said
from .._support.fsutil import NotAFile, raise_if_refused, refuse_special
from .._support.text import command

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

__all__ = [
    "INCOMPLETE",
    "SHOWN",
    "VerifyResult",
    "Violations",
    "at",
    "crlf_said",
    "short",
    "summarize",
]

SHOWN: Final = 20
"""How many violations the ``livesession verify`` command lists before a count line."""
INCOMPLETE: Final = "incomplete run: "
"""How ``summary`` opens for a run that is only unfinished (``VerifyResult.incomplete``)."""
_MAX_PER_FILE: Final = 50
_MAX_MESSAGE: Final = 200
_MAX_VALUE: Final = 80


def _as_mapping(value: Mapping[str, int]) -> Mapping[str, int]:
    return types.MappingProxyType(dict(sorted(value.items())))


@attrs.frozen(kw_only=True)
class VerifyResult:
    """The outcome of ``verify_run``.

    ``ok`` is true exactly when ``violations`` is empty. Each violation is one line,
    ``<file>:<line>: <what>``, or ``<file>: <what>`` for the file as a whole (at most 50 are
    listed per file, then one line says how many more). ``total`` counts every violation found,
    listed or not. ``summary`` says in one line what is wrong ("" for a clean run):
    ``audit sink failed at record N (...)`` when metrics.json records a dead audit sink
    that audit.jsonl bears out (``events sink failed at line N (...)``, ``states ...``
    likewise), ``incomplete run: ...`` when the audit log has no closing
    ``C2_DRYRUN_STOP`` (a run that crashed: held to no end, as a live one, so a crash
    alone lists only that missing record), ``corrupt run: ...`` when
    it has none and more is wrong than a crash's torn last line, ``the seal's audit record
    is missing: ...`` when it has none although the run was sealed (the audit log was cut),
    ``run directory DIR does not exist`` (or ``DIR is not a directory (...)``) when
    ``verify_run`` was given no directory, as the CLI says it, else ``broken run: ...``.
    ``counts`` holds what was read (lines per artifact, bars, orders submitted, fills),
    read-only. ``live`` is "" for a run no process is writing (and for one its process has
    sealed and only closes: read whole); for a live one it says who writes
    it and up to which step (its last checkpoint) it was checked.
    """

    ok: bool
    violations: tuple[str, ...]
    total: int
    summary: str
    counts: Mapping[str, int] = attrs.field(converter=_as_mapping, hash=False)
    live: str = ""
    run_version: str = ""
    """The livesession version that wrote the run, as its audited ``SESSION_STARTED``
    says ("" when it cannot be read)."""

    @property
    def incomplete(self) -> bool:
        """Whether the run is only unfinished (crashed, or still written), not corrupt.

        Read from ``summary``, its one source: it opens ``incomplete run: ``.
        """
        return self.summary.startswith(INCOMPLETE)

    def render(self, run_dir: object, *, shown: int = SHOWN) -> tuple[str, ...]:
        """What ``livesession verify`` prints, one line each.

        The OK line, or the summary, at most ``shown`` violations and a line counting the
        rest: only this rendering cuts the list, the result keeps every violation.
        """
        live = f" ({self.live})" if self.live else ""
        release = checked_by(self.run_version)
        if self.ok:
            counts = ", ".join(f"{k}={v}" for k, v in self.counts.items())
            listed = f": {counts}" if counts else ""  # a live run before its first checkpoint
            return (f"OK {run_dir}{live}{listed}", *release)
        hidden = self.total - shown
        rest = (f"... and {hidden} more violation{'s' * (hidden != 1)}",) if hidden > 0 else ()
        return (self.summary + live, *self.violations[:shown], *rest, *release)

    def __reduce__(self) -> tuple[Any, ...]:
        # attrs pickles the fields as they are, and ``counts`` is a read-only view, which
        # pickle refuses: a verify_run a host ran in a worker process could not come back.
        fields = attrs.asdict(self, recurse=False)
        return (_rebuilt, (fields | {"counts": dict(self.counts)},))


def _rebuilt(fields: dict[str, Any]) -> VerifyResult:
    """The ``VerifyResult`` of ``fields``, as pickled (``counts`` a plain dict)."""
    return VerifyResult(**fields)


class Violations:
    """Collects violations, at most ``_MAX_PER_FILE`` listed per file."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._names: list[str] = []
        self._per_file: Counter[str] = Counter()

    def add(self, name: str, line: int, message: str) -> None:
        """Record that line ``line`` of ``name`` (0: the whole file) breaks the contract."""
        self._per_file[name] += 1
        if self._per_file[name] <= _MAX_PER_FILE:
            self.lines.append(at(name, line, _one_line(message)))
            self._names.append(name)

    def reserve(self, name: str) -> int | None:
        """Count a violation of ``name`` now whose line ``fill`` says later; its place."""
        self._per_file[name] += 1
        if self._per_file[name] > _MAX_PER_FILE:
            return None
        self.lines.append(_pending(name))
        self._names.append(name)
        return len(self.lines) - 1

    def fill(self, place: int, name: str, line: int, message: str) -> None:
        """Say what the violation ``reserve`` counted at ``place`` is."""
        self.lines[place] = at(name, line, _one_line(message))

    def instead(self, name: str, message: str) -> None:
        """Say ``message`` of ``name`` as a whole where ``reserve`` kept a place, or add it.

        For a file whose reading stopped before its reserved violation could be said.
        """
        place = next((n for n, text in enumerate(self.lines) if text == _pending(name)), None)
        if place is None:
            self.add(name, 0, message)
        else:
            self.fill(place, name, 0, message)

    def extend(self, later: Violations) -> None:
        """Append the violations of ``later`` (found after these), within the per-file limit."""
        kept = Counter(self._per_file)
        for name, text in zip(later._names, later.lines, strict=True):
            kept[name] += 1
            if kept[name] <= _MAX_PER_FILE:
                self.lines.append(text)
                self._names.append(name)
        self._per_file.update(later._per_file)

    @property
    def total(self) -> int:
        """How many violations were recorded, listed or not."""
        return sum(self._per_file.values())

    def count(self, name: str) -> int:
        """How many violations of ``name`` were recorded, listed or not."""
        return self._per_file[name]

    def finish(self) -> tuple[str, ...]:
        """The listed violations, then one line per file for those not listed."""
        hidden = [
            f"{name}: {count - _MAX_PER_FILE} more violations not listed"
            for name, count in sorted(self._per_file.items())
            if count > _MAX_PER_FILE
        ]
        return (*self.lines, *hidden)


def _pending(name: str) -> str:
    """The line ``reserve`` keeps for a violation of ``name`` until it is said."""
    return f"{name}:?"


BOM_SAID: Final = (
    "starts with a UTF-8 byte order mark (EF BB BF), which the contract does not write: added "
    "on the way (an editor, or a tool that took the file for text?); the line is judged without it"
)
"""The one violation of a JSON Lines file that starts with a byte order mark (verify, report)."""
LINE_TOO_LONG: Final = "cannot be read: a line too long to hold in memory (MemoryError)"
"""A file whose one line is larger than the memory the process may take (20 GB of NULs)."""


def at(name: str, line: int, what: str) -> str:
    """``name:line: what``, or ``name: what`` for the file as a whole (``line`` 0).

    A file that is missing, empty or unreadable has no line to name: ``metrics.json:0:``
    would send a reader looking for a line 0.
    """
    return f"{name}:{line}: {what}" if line else f"{name}: {what}"


def summarize(
    run_dir: Path,
    total: int,
    *,
    incomplete: bool,
    dead_audit: tuple[int, str] | None = None,
    stopped: bool = False,
    dead_sinks: Sequence[str] = (),
    corrupt: str = "",
    tail: str = "",
    lost_checkpoint: bool = False,
) -> str:
    """The first line of a broken run's report: what kind of broken, and what to do.

    An incomplete run (no closing ``C2_DRYRUN_STOP``) is one to continue, not to repair:
    the line says how, when the run keeps the ``run.json`` that ``livesession resume``
    needs (the runbook's own invocation writes only the four artifacts, and cannot).
    A run whose audit sink died (``dead_audit``: the record it failed at, and why, as
    metrics.json says and audit.jsonl bears out) is neither: it says so, and counts the
    violations besides the missing close. So is one whose events or state sink died
    (``dead_sinks``: each ``<sink> sink failed at line N (error)``, borne out by its
    file); a run directory's says where to learn whether ``resume`` can continue it.

    Nor is a corrupt one (``corrupt``: the first damage found, a whole line that is no
    valid record, a break in the audit chain, an event changed): a crash tears the last line
    at most, and ``resume``, which refuses a broken audit chain, cannot repair the rest.

    Nor is a run whose events hold ``SESSION_STOPPED`` (``stopped``) and whose checkpoint
    is the sealing one: the seal writes ``C2_DRYRUN_STOP`` after ``SESSION_STOPPED`` and
    before that checkpoint, so its absence means the audit log lost its tail (tampering, a
    copy cut short), which ``resume`` refuses to continue and cannot restore. (Without the
    sealing checkpoint, a process that died inside the seal leaves the same two files, and
    ``resume`` does continue that run from its checkpoint.)
    """
    if lost := lost_files(run_dir):
        others = total - len(lost)
        return lost_said(lost, run_dir) + (f"; {others} other violation(s)" if others > 0 else "")
    dead = list(dead_sinks)
    if dead_audit is not None:
        record, error = dead_audit
        dead.insert(0, f"audit sink failed at record {record} ({error})")
    if dead:
        others = total - len(dead)
        rest = f"; {others} other violation(s)" if others > 0 else ""
        if (run_dir / names.RUN_META).is_file():
            rest += (
                f"; `{command('status', run_dir)}` says whether `{command('resume', run_dir)}` "
                "can continue it"
            )
        return f"{'; '.join(dead)}: the run is not sealed{rest}"
    if not incomplete:
        return f"broken run: {total} violation(s) of the artifact contract"
    return _unclosed(run_dir, stopped=stopped, corrupt=corrupt, lost=lost_checkpoint, tail=tail)


def _unclosed(run_dir: Path, *, stopped: bool, corrupt: str, lost: bool, tail: str) -> str:
    """The summary of a run without ``C2_DRYRUN_STOP`` (``summarize``): resume it, or not.

    ``tail``: the damage (``<file>:<line> ...``) when it all lies past the checkpoint
    (``damaged_tail``): a resume sets it aside and continues, so the line says so, where
    it said ``resume cannot repair that`` and ``resume`` then continued the run.
    """
    if corrupt:
        return (
            f"corrupt run: no C2_DRYRUN_STOP, but more is wrong than a crash leaves (a torn "
            f"last line): {corrupt}; resume cannot repair that: keep the run as it is and "
            "report it"
        )
    if tail and not lost:
        torn = f"{tail.split(':', 1)[0]}.torn"
        return (
            f"corrupt run: no C2_DRYRUN_STOP, and past its checkpoint more is wrong than a "
            f"crash leaves (a torn last line): {tail}; a resume sets what follows the "
            f"checkpoint aside (in {torn}) and continues from it: keep a copy of the "
            f"run and report the damage{_how_to_continue(run_dir)}"
        )
    if lost:
        return (
            f"{INCOMPLETE}no C2_DRYRUN_STOP, and {names.CHECKPOINT} is missing though "
            f"{names.EVENTS} records steps: resume cannot continue it; restore "
            f"{names.CHECKPOINT} from a backup, or keep the run as it is and report it"
        )
    if stopped and _checkpoint_sealed(run_dir):
        return _seal_unterminated(run_dir) or (
            f"the seal's audit record is missing: {names.EVENTS} holds SESSION_STOPPED and "
            f"{names.CHECKPOINT} is sealed, but {names.AUDIT} has no C2_DRYRUN_STOP (the "
            "audit log was cut: tampering or a lost tail); resume cannot restore it: keep the "
            "run as it is and report it"
        )
    if not (run_dir / names.RUN_META).is_file():
        return f"{INCOMPLETE}no C2_DRYRUN_STOP, and no {names.RUN_META} to resume it from"
    return f"{INCOMPLETE}no C2_DRYRUN_STOP{_how_to_continue(run_dir)}{_set_aside(run_dir)}"


def _set_aside(run_dir: Path) -> str:
    """What the run's ``<file>.torn`` hold that no ``C2_RESUME`` counts ("" nothing)."""
    from .._rundir.resumes import resumes_of  # noqa: PLC0415 - only for an unclosed run

    held = resumes_of(run_dir).uncounted_said()
    return f"; {held}: the next resume counts them" if held else ""


def _seal_unterminated(run_dir: Path) -> str:
    r"""What a run whose ``audit.jsonl`` ends with ``C2_DRYRUN_STOP`` but its ``\n`` is told.

    Or one whose end a torn copy zero-filled, where the seal's record was. "" for any other.
    """
    zeros = zero_tail(run_dir / names.AUDIT)
    if zeros:
        return (
            f"the seal's audit record is missing: {names.AUDIT} ends in {zeros:,} zero bytes "
            "where it was (a torn copy, cut short and zero-filled): copy the run again from "
            "where it is whole"
        )
    if (unterminated_record(run_dir / names.AUDIT) or {}).get("code") != "C2_DRYRUN_STOP":
        return ""
    return (
        f"the seal's audit record lacks its final \\n: {names.AUDIT} ends with "
        f"C2_DRYRUN_STOP, whole but for the \\n after it ({LOST_NEWLINE}); the record is "
        "there, but these are not the bytes the run left: verify a copy that keeps them "
        "(an archive, `cp -a`, `rsync -a`)"
    )


def _how_to_continue(run_dir: Path) -> str:
    """How to continue an unclosed run that has its ``run.json``, or why resume will not.

    The refusal is what ``status`` reports too (``resume_problem``, the files' half of
    resume's checks); a run of another release is left to ``resume_advice``, which names
    the release that continues it.
    """
    if objects := _objects_given(run_dir):
        from .._rundir.supplied import from_python  # noqa: PLC0415 - only for an unclosed run

        return f"; {from_python(run_dir, objects)}"
    if written_by_other_release(run_dir) is None:
        from .._rundir.resumable import resume_problem  # noqa: PLC0415 - only for an unclosed run

        refused = resume_problem(run_dir)
        if refused:
            return f", and `{command('resume', run_dir)}` refuses to continue it: {refused}"
    return f"; {resume_advice(run_dir)}"


def _read(path: Path) -> bytes:
    """``path``'s bytes; a FIFO or a device reads as nothing (a violation of its own)."""
    try:
        refuse_special(path)
    except NotAFile:
        return b""
    return path.read_bytes()


def _checkpoint_sealed(run_dir: Path) -> bool:
    """Whether the run's ``checkpoint.json`` is the sealing one (``resume`` then refuses)."""
    path = run_dir / names.CHECKPOINT
    try:
        checkpoint = orjson.loads(_read(path))
    except OSError as exc:
        raise_if_refused(exc, path)
        return False
    except orjson.JSONDecodeError:
        return False
    return isinstance(checkpoint, dict) and checkpoint.get("sealed") is True


def _objects_given(run_dir: Path) -> dict[str, str]:
    """The plug-ins config.json records as supplied in-process (the CLI cannot resume them).

    By ``resume_run``'s keyword, as ``status`` reads them (``objects_given``).
    """
    path = run_dir / names.CONFIG
    try:
        config = orjson.loads(_read(path))
    except OSError as exc:
        raise_if_refused(exc, path)
        return {}
    except orjson.JSONDecodeError:
        return {}
    from .._rundir.standing import objects_given  # noqa: PLC0415 - only for an unclosed run

    return objects_given(config) if isinstance(config, dict) else {}


def _one_line(message: str) -> str:
    text = message.replace("\r", "\\r").replace("\n", "\\n")
    return text if len(text) <= _MAX_MESSAGE else text[: _MAX_MESSAGE - 3] + "..."


def short(value: object) -> str:
    """``value`` as canonical JSON, cut to ``_MAX_VALUE`` characters for a message."""
    text = orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()
    return text if len(text) <= _MAX_VALUE else text[: _MAX_VALUE - 3] + "..."


def crlf_said(lines: int, count: int) -> str:
    r"""The one violation of a file whose ``lines`` of ``count`` end ``\r\n`` (verify, report)."""
    return (
        f"ends with \\r\\n, not \\n, as {lines} of its {count} lines do: the contract ends "
        "every line with \\n alone (a file converted to Windows line endings?)"
    )
