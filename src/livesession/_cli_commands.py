"""The ``livesession`` commands that read a run, or act on a live one.

Readers: ``verify``, ``evidence``, ``burnin``, ``report``, ``prom``, ``status``, ``list``
(they never take the run's writer lock). Operator controls: ``stop``, ``kill``, ``ack``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._artifacts import names
from ._artifacts.runread import is_run_dir, require_run
from ._cli_bar import phase_lines
from ._cli_output import (
    EXIT_FAILED,
    EXIT_NO_EFFECT,
    EXIT_NOT_HELD,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_VIOLATIONS,
    emit_json,
    refused,
)
from ._cli_summary import evidence_json, verify_json
from ._exceptions import UsageError
from ._support.secrets import redact_text
from ._support.text import one_line

if TYPE_CHECKING:
    from .burnin import BurninResult
    from .status import RunStatus

__all__ = [
    "cmd_burnin",
    "cmd_control",
    "cmd_evidence",
    "cmd_list",
    "cmd_prom",
    "cmd_report",
    "cmd_status",
    "cmd_verify",
]

_CONTROL_EXITS: Final = {
    "done": EXIT_OK,
    "nothing": EXIT_OK,
    "not_held": EXIT_NOT_HELD,
    "refused": EXIT_REJECTED,
    "failed": EXIT_FAILED,
    "timeout": EXIT_NO_EFFECT,
}


def _require_written(path: Path, *, judged: bool = False) -> Path:
    """``require_run``, saying so of a directory a ``dryrun`` starting there holds."""
    from ._rundir.starting import require_written  # noqa: PLC0415 - the lock: only here

    return require_written(path, judged=judged)


def cmd_control(args: argparse.Namespace) -> int:
    """Signal the process holding a run (stop, kill, ack) and wait for the effect."""
    from ._rundir.starting import is_starting  # noqa: PLC0415 - only for this command
    from .control import send_control  # noqa: PLC0415 - only for this command

    # A dryrun still starting (checking its data file) holds a directory with no run yet.
    run_dir = args.run_dir if is_starting(args.run_dir) else require_run(args.run_dir)
    outcome = send_control(args.command, run_dir, timeout_s=args.timeout)
    code = _CONTROL_EXITS[outcome.kind]
    if code == EXIT_OK:
        print(outcome.line)  # noqa: T201 - the CLI's output
    else:
        print(f"livesession: {args.command}: {redact_text(outcome.line)}", file=sys.stderr)  # noqa: T201
    return code


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a run against the artifact contract, independently of the writer."""
    from ._cli_bar import terminal_bar  # noqa: PLC0415 - only for this command
    from .evidence._bundle import check_manifest, held_to  # noqa: PLC0415
    from .verify import verify_run  # noqa: PLC0415 - jsonschema is loaded only here

    run_dir = _require_written(args.run_dir, judged=True)  # a FIFO, a symlink: its violations
    with terminal_bar("verify") as progress:
        result = verify_run(run_dir, progress=progress)
    bundle = None if args.manifest is None else check_manifest(run_dir, args.manifest)
    result = result if bundle is None else held_to(result, bundle, args.run_dir)
    if args.json:
        code = EXIT_OK if result.ok else EXIT_VIOLATIONS
        emit_json(verify_json(result, args.run_dir, code=code, bundle=bundle))
    else:
        print("\n".join(result.render(args.run_dir)))  # noqa: T201 - the CLI's output
        if bundle is not None and result.ok:
            print(bundle.describe())  # noqa: T201 - the CLI's output
    if result.ok:
        return EXIT_OK
    print(f"{result.total} violation(s) in {args.run_dir}", file=sys.stderr)  # noqa: T201
    return EXIT_VIOLATIONS


def cmd_evidence(args: argparse.Namespace) -> int:
    """Write the governance evidence bundle (manifest.json and EV-<date>-<run_id>.md)."""
    from ._exceptions import RunHeld  # noqa: PLC0415
    from .evidence import write_evidence  # noqa: PLC0415 - only for this command

    progress = None if args.json else phase_lines("evidence")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} is not a directory: evidence is written into one")
    try:
        run_dir = _require_written(args.run_dir)  # a dryrun starting there: refused, as a live run
    except RunHeld as exc:
        return refused(exc, as_json=args.json)
    target: Path = args.out or run_dir
    what = f"the evidence bundle (manifest.json, EV-*.md) to {target}"
    _refuse_unwritable(target, what, _OUT_HINT)
    if args.out is not None:
        _refuse_another_run(args.out, run_dir)
        _refuse_unmakeable(args.out, what, _OUT_HINT)
    try:
        with _output_refused(_in_dir(target, _evidence_file), what, _OUT_HINT):
            result = write_evidence(run_dir, out_dir=args.out, progress=progress)
    except RunHeld as exc:
        return refused(exc, as_json=args.json)
    code = EXIT_OK if result.ok else EXIT_VIOLATIONS
    if args.json:
        emit_json(evidence_json(result, code=code))
        return code
    print(f"manifest  {result.manifest}")  # noqa: T201 - the CLI's output
    print(f"document  {result.document}")  # noqa: T201 - the CLI's output
    # What the desk publishes apart from the files, and the reviewer compares (hand-over).
    print(f"head      {result.audit_head or 'none'} (audit head)")  # noqa: T201
    print(f"sha256    {result.manifest_sha256} (manifest.json)")  # noqa: T201
    print("result    " + ("PASS" if result.ok else "FAIL: " + "; ".join(result.problems)))  # noqa: T201
    return code


def _refuse_another_run(out: Path, run_dir: Path) -> None:
    """Refuse (exit 2) an ``evidence --out`` that is, or is inside, another run's directory.

    The bundle took the name that run's own bundle is written under: its ``evidence`` was
    then refused (``holds the evidence bundle of run ...``). Into the run's own directory
    (or a folder of it) is the default, and stays allowed.
    """
    placed = Path(os.path.realpath(out))
    own = run_dir.stat()
    for path in (placed, *placed.parents):
        if not is_run_dir(path):
            continue
        here = path.stat()
        if (here.st_dev, here.st_ino) != (own.st_dev, own.st_ino):
            itself = path == placed
            where = "the directory" if itself else "inside the directory"
            lands = "in the place of that run's own" if itself else "among that run's files"
            raise UsageError(
                f"--out {out} is {where} of another run, {path}: the bundle of {run_dir} "
                f"would be written {lands}; nothing was written: {_OUT_HINT}"
            )
        return


def _evidence_file(name: str) -> bool:
    """``manifest.json`` or ``EV-<date>-<run_id>.md``: what ``evidence`` writes."""
    return name == "manifest.json" or (name.startswith("EV-") and name.endswith(".md"))


def cmd_burnin(args: argparse.Namespace) -> int:
    """Judge each run against the burn-in criteria; write burnin.md and burnin.json."""
    from ._exceptions import RunHeld  # noqa: PLC0415
    from .burnin import Thresholds, run_burnin  # noqa: PLC0415 - only for this command

    thresholds = Thresholds(
        min_signals=args.min_signals,
        min_decisions=args.min_decisions,
        min_oco=args.min_oco,
        max_flatten_s=args.max_flatten_s,
    )
    targets = [args.out] if args.out is not None else args.run_dirs
    what = "the burn-in reports (burnin.md, burnin.json) to {}"
    for target in targets:
        if target.is_dir() or args.out is not None:
            _refuse_unwritable(target, what.format(target), _OUT_HINT)
    if args.out is not None:
        _refuse_unmakeable(args.out, what.format(args.out), _OUT_HINT)
    try:
        with contextlib.ExitStack() as stack:
            for target in targets:
                wrote = _in_dir(target, lambda name: names.BURNIN in name)
                stack.enter_context(_output_refused(wrote, what.format(target), _OUT_HINT))
            result = run_burnin(args.run_dirs, thresholds, out_dir=args.out, drill=args.drill)
    except RunHeld as exc:
        return refused(exc, as_json=args.json)
    code = EXIT_OK if result.ok else EXIT_VIOLATIONS
    if args.json:
        emit_json(
            {
                "ok": result.ok,
                "exit_code": code,
                "failed": result.failures(),
                "not_measured": result.not_measured(),
                "notes": list(result.notes),
                "sessions": list(result.sessions),
                "reports": [str(p) for p in result.reports],
            }
        )
        return code
    _print_burnin(result)
    return code


def _print_burnin(result: BurninResult) -> None:
    """Each session's verdict and criteria on stdout; each criterion not met on stderr."""
    from .burnin import NOT_MET  # noqa: PLC0415 - only for this command

    for session, report in zip(result.sessions, result.reports, strict=True):
        # PASS (flatten not measured): a criterion skipped never passed, and the word says so.
        print(f"{session['verdict']:<5} {session['run_id']}  {report}")  # noqa: T201
        for note in session["notes"]:  # stopped early, or HALTED: what the verdict hides
            print(f"      {'note':<12} {note}")  # noqa: T201 - the CLI's output
        for c in session["criteria"]:
            needs = f" (needs {c['threshold']})" if c["result"] == NOT_MET else ""
            print(f"      {c['result']:<12} {c['name']}: {c['detail']}{needs}")  # noqa: T201
    for note in result.notes:
        print(f"note  {note}")  # noqa: T201 - the CLI's output
    for session in result.sessions:  # the directory too: two runs may share a run id
        for c in session["criteria"]:
            if c["result"] == NOT_MET:
                print(  # noqa: T201 - the CLI's output
                    f"livesession: burn-in failed: {session['run_id']}: {c['name']} "
                    f"(run directory {session['run_dir']})",
                    file=sys.stderr,
                )


def _write_for_run(
    args: argparse.Namespace, write: Callable[[Path, Path], str], default_name: str, label: str
) -> int:
    """Write ``write``'s file for the run (to ``--output``, default RUN_DIR/default_name).

    ``write`` returns what it read of a live run (up to its last checkpoint), said here.
    """
    run_dir = _require_written(args.run_dir)
    output: Path = args.output or run_dir / default_name
    if output.is_dir():
        raise UsageError(
            f"--output {output} is a directory: give a file's path, e.g. {output / default_name}"
        )
    hint = "write it elsewhere with --output PATH"
    _refuse_run_file(output, run_dir, default_name, args.command, hint)
    if output.parent.is_dir():  # a missing one is said as such when the file is written
        _refuse_unwritable(output.parent, str(output), hint)
    with _output_refused(lambda path: path == output, str(output), hint), _said_of(output):
        live = write(run_dir, output)
    print(f"{label:<10}{output}")  # noqa: T201 - the CLI's output
    if live:
        print(f"{'note':<10}{live}")  # noqa: T201 - the CLI's output
    return EXIT_OK


_WRITE_REFUSALS: Final = frozenset(
    {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC), errno.EFBIG}
)


@contextlib.contextmanager
def _said_of(output: Path) -> Iterator[None]:
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


def _refuse_run_file(output: Path, run_dir: Path, own: str, command: str, hint: str) -> None:
    """Refuse (exit 2) an ``--output`` that lands in a run directory on any name but ``own``.

    ``report`` and ``prom`` read a run's files only: given ``--output RUN/events.jsonl`` they
    replaced the events they had just read, and exited 0. The path is judged where it leads
    (``..`` and symlinks followed, the link's own place too): inside a run directory (the
    one read, or any other) only the tool's own file, ``own``, is written. Every other name
    there is the run's, or may be once the run writes it (a live run's ``timings.json``).
    """
    # realpath, not Path.resolve: a symlink loop is a path that leads nowhere, not an error.
    placed = Path(os.path.realpath(output.parent)) / output.name
    for target in dict.fromkeys((placed, Path(os.path.realpath(output)))):
        run = _run_holding(target, run_dir)
        if run is None or (target.parent == run and target.name == own):
            continue
        what = "a file of the run" if target.exists() else "inside the run directory"
        raise UsageError(
            f"--output {output} is {target}, {what} {run}: {command} never writes over a "
            f"run's files (in a run directory it writes only {own}); {hint}"
        )


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


_OUT_HINT: Final = "write it elsewhere with --out DIR"


def _refuse_unwritable(directory: Path, what: str, hint: str) -> None:
    """Refuse at once (exit 2) output that ``directory`` (or what would hold it) cannot take.

    A run directory on read-only media, or one the operator may not write, would let a
    command do all its work (a minute of evidence) and then fail on the name of a temporary
    file; this names the output and the flag that puts it elsewhere, before anything is
    read. (Root may write where the mode says no: then nothing is refused.)
    """
    existing = directory
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent  # created on the way, as --out DIR is
    if existing.is_dir() and not os.access(existing, os.W_OK | os.X_OK):
        raise _unwritable(what, _why_unwritable(existing), hint)


def _refuse_unmakeable(directory: Path, what: str, hint: str) -> None:
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
            path.mkdir()
            made.append(path)
    except OSError as exc:
        raise _unwritable(what, exc.strerror or str(exc), hint) from None
    finally:
        for path in reversed(made):
            with contextlib.suppress(OSError):
                path.rmdir()


def _why_unwritable(directory: Path) -> str:
    try:
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except (OSError, AttributeError):  # AttributeError: no statvfs on Windows
        read_only = False
    return os.strerror(errno.EROFS if read_only else errno.EACCES)


def _unwritable(what: str, why: str, hint: str) -> UsageError:
    return UsageError(f"cannot write {what} ({why}): {hint}")


def _in_dir(directory: Path, written: Callable[[str], bool]) -> Callable[[Path], bool]:
    """Whether a path is ``directory`` (or on the way to it), or a file ``written`` names there."""

    def wrote(path: Path) -> bool:
        if path == directory or path in directory.parents:
            return True  # making --out DIR
        return path.parent == directory and written(path.name)

    return wrote


@contextlib.contextmanager
def _output_refused(is_output: Callable[[Path], bool], what: str, hint: str) -> Iterator[None]:
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
        raise _unwritable(what, exc.strerror or str(exc), hint) from None


def cmd_report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML report of a run (``--verify``: with the full verdict)."""
    from ._cli_bar import terminal_bar  # noqa: PLC0415 - only for this command
    from .report import write_report  # noqa: PLC0415 - only for this command

    with terminal_bar("report: reading events.jsonl") as progress:

        def write(run_dir: Path, output: Path) -> str:
            return write_report(run_dir, output, verify=args.verify, progress=progress)

        return _write_for_run(args, write, names.REPORT, "report")


def cmd_prom(args: argparse.Namespace) -> int:
    """Write the run's metrics as a Prometheus textfile (for node_exporter)."""
    from .prom import write_textfile  # noqa: PLC0415 - prometheus_client is optional

    return _write_for_run(args, write_textfile, names.PROM, "textfile")


def cmd_status(args: argparse.Namespace) -> int:
    """Say where a run stands; the exit code is the verdict (see ``livesession.status``)."""
    from .status import Verdict, run_status  # noqa: PLC0415 - only for this command

    found = run_status(args.run_dir)
    if args.json:
        emit_json(found.to_json())
    elif found.verdict is Verdict.NOT_A_RUN:
        # A byte of the path that is not UTF-8 said as the other commands say it: \xff.
        print(f"livesession: error: {one_line(found.problem)}", file=sys.stderr)  # noqa: T201
    else:
        print("\n".join(found.lines()))  # noqa: T201 - the CLI's output
    return found.exit_code


def _run_label(run_id: str | None, directory: str) -> str:
    """``demo-001``, or ``demo-001 (copy-3)`` when the directory has another name.

    Copies of one run carry the run id of their files: the name tells them apart.
    """
    return run_id if run_id == directory else f"{run_id or '?'} ({directory})"


def cmd_list(args: argparse.Namespace) -> int:
    """List the runs under OUT_DIR with their status (exit 0).

    Exit 2 when it is no directory, or when a run's file cannot be read (``run_status``).
    """
    from .status import list_runs  # noqa: PLC0415 - only for this command

    runs = list_runs(args.out_dir)
    if args.json:
        emit_json({"out_dir": str(args.out_dir), "runs": [run.to_json() for run in runs]})
        return EXIT_OK
    rows = [("RUN", "VERDICT", "STATE", "STEPS", "HEARTBEAT", "WRITER")]
    for run in runs:
        planned = "" if run.steps_planned is None else f"/{run.steps_planned}"
        writer = "-" if run.writer is None else f"pid {run.writer['pid']}"
        rows.append(
            (
                _run_label(run.run_id, Path(run.run_dir).name),
                run.verdict.label,
                run.state or _unstarted(run),
                f"{'-' if run.steps is None else run.steps}{planned}",
                run.heartbeat_utc or "-",
                writer,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())  # noqa: T201
    if not runs:
        print(f"(no runs in {args.out_dir})")  # noqa: T201 - the CLI's output
    return EXIT_OK


def _unstarted(run: RunStatus) -> str:
    """``list``'s state of a run that has none: one starting, one killed so, or unknown."""
    if run.starting:
        return "starting"
    return "killed while starting" if run.killed_while_starting else "?"
