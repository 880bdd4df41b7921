"""The ``livesession`` commands that read a run, or act on a live one.

Readers: ``verify``, ``evidence``, ``burnin``, ``report``, ``prom``, ``status``, ``list``
(they never take the run's writer lock). Operator controls: ``stop``, ``kill``, ``ack``.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._artifacts import names
from ._artifacts.runread import is_run_dir, require_run
from ._cli_bar import phase_lines
from ._cli_files import (
    OUT_HINT,
    in_dir,
    output_refused,
    refuse_run_file,
    refuse_unmakeable,
    refuse_unwritable,
    said_of,
)
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
from ._cli_streams import runs_plugins, streams_back
from ._cli_summary import evidence_json, verify_json
from ._exceptions import UsageError
from ._support.anchor import paths_as_given
from ._support.outfile import output_target, own_descriptor
from ._support.secrets import redact_text
from ._support.text import error_line, json_path, one_line, path_text

if TYPE_CHECKING:
    from .burnin import BurninResult

__all__ = [
    "CONTROL_COMMANDS",
    "cmd_burnin",
    "cmd_control",
    "cmd_evidence",
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


def _require_written(path: Path, *, judged: bool = False, lost: bool = False) -> Path:
    """``require_run``, saying so of a directory a ``dryrun`` starting there holds.

    ``lost``: a run that lost ``events.jsonl`` or ``audit.jsonl`` is taken (``evidence``,
    ``report``: NOT VERIFIED, the loss said, as of a run with a torn line).
    """
    from ._rundir.starting import require_written  # noqa: PLC0415 - the lock: only here

    return require_written(path, judged=judged, lost=lost)


CONTROL_COMMANDS: Final = (
    (
        "stop",
        "graceful stop of the process writing a run (SIGTERM): cancel, flatten, seal",
        (
            "Ask the process writing RUN_DIR to stop at its next step boundary (SIGTERM): it "
            "cancels open orders, flattens and seals the run COMPLETED. Exit codes: 0 done "
            "(sealed COMPLETED, or a dryrun still starting ended; or sealed already, not FAILED), "
            "3 refused, 4 the run ended FAILED, 8 nothing holds the unfinished run, 9 no "
            "effect seen in time. A stop already under "
            "way (another stop of the run waiting for it, or a stop signal the process took) "
            "gets no second signal, which would end the process at once: this one waits for "
            "the same seal."
        ),
    ),
    (
        "kill",
        "trip the kill switch of a live run (SIGUSR1): HALTED, cancel, flatten",
        (
            "Trip the kill switch of the process writing RUN_DIR (SIGUSR1): trading HALTED, "
            "open orders cancelled, the position flattened; the session keeps running. Exit "
            "codes: 0 done or nothing to do (HALTED and flat already), 3 refused, 8 nothing "
            "holds the run, 9 no effect seen in time."
        ),
    ),
    (
        "ack",
        "acknowledge a live run (SIGUSR2): re-enable trading after a halt",
        (
            "Acknowledge the process writing RUN_DIR (SIGUSR2): re-enable trading after a "
            "halt (once the kill switch is flat), or acknowledge ERROR_REQUIRES_OPERATOR. Exit "
            "codes: 0 done or nothing to do, 3 refused, 8 nothing holds the run, 9 no effect "
            "seen in time."
        ),
    ),
)
"""``stop``, ``kill`` and ``ack``: each verb, its one-line help and its description."""


def cmd_control(args: argparse.Namespace) -> int:
    """Signal the process holding a run (stop, kill, ack) and wait for the effect."""
    from ._rundir.starting import writer_starting  # noqa: PLC0415 - only for this command
    from .control import send_control  # noqa: PLC0415 - only for this command

    # A dryrun still starting (checking its data file; or its first records not written
    # yet, as it preflights on a slow venue) holds a directory that is no readable run yet.
    run_dir = args.run_dir if writer_starting(args.run_dir) else require_run(args.run_dir)
    outcome = send_control(args.command, run_dir, timeout_s=args.timeout)
    code = _CONTROL_EXITS[outcome.kind]
    if code == EXIT_OK:
        print(outcome.line)  # noqa: T201 - the CLI's output
    else:
        print(f"livesession: {args.command}: {error_line(outcome.line)}", file=sys.stderr)  # noqa: T201
    return code


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a run against the artifact contract, independently of the writer."""
    from ._cli_bar import terminal_bar  # noqa: PLC0415 - only for this command
    from .evidence._bundle import check_manifest, held_to  # noqa: PLC0415
    from .verify import verify_run  # noqa: PLC0415 - jsonschema is loaded only here

    run_dir = _require_written(args.run_dir, judged=True)  # a FIFO, a symlink: its violations
    with terminal_bar("verify") as progress, paths_as_given():  # its words: RUN_DIR as typed
        result = verify_run(run_dir, progress=progress)
    bundle = None if args.manifest is None else check_manifest(run_dir, args.manifest)
    result = result if bundle is None else held_to(result, bundle, args.run_dir)
    if args.json:
        code = EXIT_OK if result.ok else EXIT_VIOLATIONS
        emit_json(verify_json(result, args.run_dir, code=code, bundle=bundle))
    else:
        print("\n".join(result.render(path_text(args.run_dir))))  # noqa: T201 - the CLI's output
        if bundle is not None and not bundle.problems:  # a crashed run's bundle too
            print(bundle.describe())  # noqa: T201 - the CLI's output
    if result.ok:
        return EXIT_OK
    print(one_line(f"{result.total} violation(s) in {path_text(args.run_dir)}"), file=sys.stderr)  # noqa: T201
    return EXIT_VIOLATIONS


@runs_plugins
def cmd_evidence(args: argparse.Namespace) -> int:
    """Write the governance evidence bundle (manifest.json and EV-<date>-<run_id>.md)."""
    from ._exceptions import RunHeld  # noqa: PLC0415
    from .evidence import write_evidence  # noqa: PLC0415 - only for this command
    from .evidence._verdict import evidence_said  # noqa: PLC0415 - only for this command

    progress = None if args.json else phase_lines("evidence")
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise UsageError(f"--out {args.out} is not a directory: evidence is written into one")
    try:
        # A dryrun starting there: refused, as a live run. A lost file: NOT VERIFIED, why.
        run_dir = _require_written(args.run_dir, lost=True)
    except RunHeld as exc:
        return refused(exc, as_json=args.json)
    target: Path = args.out or run_dir
    what = f"the evidence bundle (manifest.json, EV-*.md) to {target}"
    refuse_unwritable(target, what, OUT_HINT)
    if args.out is not None:
        _refuse_another_run(args.out, run_dir)
        refuse_unmakeable(args.out, what, OUT_HINT)
    try:
        with output_refused(in_dir(target, _evidence_file), what, OUT_HINT):
            result = write_evidence(run_dir, out_dir=args.out, progress=progress)
    except RunHeld as exc:
        return refused(exc, as_json=args.json)
    streams_back()  # its kill drill ran the strategy here: a sys.stdout it set is its own
    code = EXIT_OK if result.ok else EXIT_VIOLATIONS
    # Two verdicts apart: "PASS" beside a failed run was read as the strategy's pass.
    word, why = evidence_said(result.ok, result.problems)
    if args.json:
        emit_json(evidence_json(result, code=code))
    else:
        print(f"manifest  {path_text(result.manifest)}")  # noqa: T201 - the CLI's output
        print(f"document  {path_text(result.document)}")  # noqa: T201 - the CLI's output
        # What the desk publishes apart from the files, and the reviewer compares (hand-over).
        print(f"head      {result.audit_head or 'none'} (audit head)")  # noqa: T201
        print(f"sha256    {result.manifest_sha256} (manifest.json)")  # noqa: T201
        print(f"evidence  {word}: {why}")  # noqa: T201 - the CLI's output
        print(f"run       {result.run_ended['said']}")  # noqa: T201 - the CLI's output
    if not result.ok:  # as verify's: a job's log that keeps stdout apart still says why
        said = f"livesession: evidence {word} for {path_text(args.run_dir)}: {why}"
        print(one_line(redact_text(said)), file=sys.stderr)  # noqa: T201
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
                f"would be written {lands}; nothing was written: {OUT_HINT}"
            )
        return


def _evidence_file(name: str) -> bool:
    """``manifest.json`` or ``EV-<date>-<run_id>.md``: what ``evidence`` writes."""
    return name == names.MANIFEST or names.is_evidence_document(name)


@runs_plugins
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
            refuse_unwritable(target, what.format(target), OUT_HINT)
    if args.out is not None:
        refuse_unmakeable(args.out, what.format(args.out), OUT_HINT)
    try:
        with contextlib.ExitStack() as stack:
            for target in targets:
                wrote = in_dir(target, lambda name: names.BURNIN in name)
                stack.enter_context(output_refused(wrote, what.format(target), OUT_HINT))
            result = run_burnin(args.run_dirs, thresholds, out_dir=args.out, drill=args.drill)
    except RunHeld as exc:
        return refused(exc, as_json=args.json)
    streams_back()  # its kill drill ran the strategy here: a sys.stdout it set is its own
    code = EXIT_OK if result.ok else EXIT_VIOLATIONS
    if args.json:
        emit_json(
            {
                "ok": result.ok,
                "exit_code": code,
                "failed": result.failures(),
                "not_measured": result.not_measured(),
                "not_exercised": result.not_exercised(),
                "notes": list(result.notes),
                "sessions": list(result.sessions),
                "reports": [json_path(p) for p in result.reports],
            }
        )
    else:
        _print_burnin(result)
    _say_not_met(result)  # with --json too: the job's log names what failed
    return code


def _print_burnin(result: BurninResult) -> None:
    """Each session's verdict and criteria on stdout (``_say_not_met``: stderr's lines)."""
    from .burnin import NOT_MET, paths_said  # noqa: PLC0415 - only for this command

    for session, report in zip(result.sessions, result.reports, strict=True):
        # PASS (flatten not measured): a criterion skipped never passed, and the word says so.
        print(f"{session['verdict']:<5} {session['run_id']}  {path_text(report)}")  # noqa: T201
        for note in session["notes"]:  # stopped early, or HALTED: what the verdict hides
            print(f"      {'note':<12} {note}")  # noqa: T201 - the CLI's output
        for c in session["criteria"]:
            needs = f" (needs {c['threshold']})" if c["result"] == NOT_MET else ""
            print(f"      {c['result']:<12} {c['name']}: {c['detail']}{needs}")  # noqa: T201
        print(f"      {'paths':<12} {paths_said(session['failure_paths'])}")  # noqa: T201
    for note in result.notes:
        print(f"note  {note}")  # noqa: T201 - the CLI's output
    left = result.not_exercised()
    if len(result.sessions) > 1 and left:  # what the whole burn-in leaves to other evidence
        print(f"paths not exercised by any session: {', '.join(left)}")  # noqa: T201


def _say_not_met(result: BurninResult) -> None:
    """One stderr line for each criterion not met (RUNBOOK's exit code 1)."""
    from .burnin import NOT_MET  # noqa: PLC0415 - only for this command

    for session in result.sessions:  # the directory too: two runs may share a run id
        for c in session["criteria"]:
            if c["result"] == NOT_MET:
                print(  # noqa: T201 - the CLI's output
                    f"livesession: burn-in failed: {session['run_id']}: {c['name']} "
                    f"(run directory {session['run_dir']})",
                    file=sys.stderr,
                )


def _write_for_run(
    args: argparse.Namespace,
    write: Callable[[Path, Path], str],
    default_name: str,
    label: str,
    *,
    unsealed_default: bool = True,
    lost: bool = False,
) -> int:
    """Write ``write``'s file for the run (to ``--output``, default RUN_DIR/default_name).

    ``write`` returns what it read of a live run (up to its last checkpoint), said here.
    ``unsealed_default=False``: a run's not sealed (live, crashed) is written only to an
    ``--output`` given (``_refuse_unsealed_default``). ``lost``: a run that lost a file
    is written of (``_require_written``).
    """
    run_dir = _require_written(args.run_dir, lost=lost)
    if args.output is None and not unsealed_default:
        _refuse_unsealed_default(run_dir, run_dir / default_name)
    output: Path = args.output or run_dir / default_name
    if output.is_dir():
        raise UsageError(
            f"--output {output} is a directory: give a file's path, e.g. {output / default_name}"
        )
    hint = "write it elsewhere with --output PATH"
    refuse_run_file(output, run_dir, default_name, args.command, hint)
    target = output_target(output)  # the file replaced (a symlink's); None: written through
    if target is not None and target.parent.is_dir():  # a missing one is said when written
        refuse_unwritable(target.parent, str(output), hint)
    refusal = output_refused(lambda path: path in (output, target), str(output), hint)
    with refusal, said_of(output):
        try:
            live = write(run_dir, output)
        except BrokenPipeError:
            # A pipe's reader that left (`--output /dev/stdout | head -1`, a FIFO's) is not
            # a refusal: the code is the command's own, as for plain stdout (it was exit 2).
            live = ""
    # --output /dev/stdout: stdout holds the file alone, so what is said of it goes to stderr
    said = sys.stderr if own_descriptor(output) == 1 else sys.stdout
    print(f"{label:<10}{path_text(output)}", file=said)
    if live:
        print(f"{'note':<10}{live}", file=said)
    return EXIT_OK


def _refuse_unsealed_default(run_dir: Path, default: Path) -> None:
    """Refuse to write an unsealed run's report beside it, where it would outlast the seal.

    ``RUN_DIR/report.html`` is only ever a sealed run's report. One of a run a process is
    writing (of its last checkpoint), or of a crashed one (``NOT SEALED as of step N``),
    stayed there after ``resume`` sealed the run, and a reader took it for the final one.
    A run sealed when asked stays sealed, so what is written there is never outlived (one
    whose process still closes too: ``held_seal``). Nothing is written; ``--output`` writes
    it anywhere else.
    """
    from ._artifacts.releases import resume_advice, unlocked_writer  # noqa: PLC0415 - only here
    from ._rundir.lock import holder_of  # noqa: PLC0415 - the lock: only here
    from ._rundir.seal import claimed_seal, held_seal  # noqa: PLC0415 - only here

    holder = holder_of(run_dir)
    if holder is not None and held_seal(run_dir) is None:
        raise UsageError(
            f"{run_dir} is being written by {holder.describe()}: a report of it now is of its "
            f"last checkpoint, not of the run, and {default} is the sealed run's: write it "
            "elsewhere with --output PATH, or report again once the run is sealed"
        )
    seal = claimed_seal(run_dir)
    if seal is None:
        unwritten = "" if unlocked_writer(run_dir) else "; no process writes it"
        raise UsageError(
            f"{run_dir} is not sealed (no C2_DRYRUN_STOP{unwritten}): a report of "
            f"it now is of the steps recorded, not of the run, and {default} is the sealed "
            f"run's: write it elsewhere with --output PATH, or {resume_advice(run_dir)} and "
            "report again once it is sealed"
        )
    if seal.doubt:
        raise UsageError(
            f"{run_dir}: {seal.doubt}, and {default} is a sealed run's: write its report "
            "elsewhere with --output PATH (keep the run as it is)"
        )


def cmd_report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML report of a run (``--verify``: with the full verdict)."""
    from ._cli_bar import terminal_bar  # noqa: PLC0415 - only for this command
    from .report import write_report  # noqa: PLC0415 - only for this command

    with terminal_bar("report: reading events.jsonl") as progress:

        def write(run_dir: Path, output: Path) -> str:
            return write_report(run_dir, output, verify=args.verify, progress=progress)

        return _write_for_run(
            args, write, names.REPORT, "report", unsealed_default=False, lost=True
        )


def cmd_prom(args: argparse.Namespace) -> int:
    """Write the run's metrics as a Prometheus textfile (for node_exporter)."""
    from .prom import write_textfile  # noqa: PLC0415 - prometheus_client is optional

    return _write_for_run(args, write_textfile, names.PROM, "textfile")


def cmd_status(args: argparse.Namespace) -> int:
    """Say where a run stands; the exit code is the verdict (see ``livesession.status``)."""
    from .status import Verdict, run_status  # noqa: PLC0415 - only for this command

    found = run_status(args.run_dir)
    if found.verdict is Verdict.NOT_A_RUN:  # with --json too, as every refusal's line
        # A byte of the path that is not UTF-8 said as the other commands say it: \xff.
        print(f"livesession: error: {one_line(found.problem)}", file=sys.stderr)  # noqa: T201
    if args.json:
        emit_json(found.to_json())
    elif found.verdict is not Verdict.NOT_A_RUN:
        print("\n".join(found.lines()))  # noqa: T201 - the CLI's output
    return found.exit_code
