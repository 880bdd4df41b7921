"""``livesession list``: the runs under a directory, one row each, or one JSON object.

A row says what ``status`` would, in short: the verdict, state, steps, heartbeat and
writer (with a stop it took and acts on at its next step, or its process stopped), and
what is wrong with a run that has a problem (``PROBLEM``: ``status``'s ``problem``, the
fill in doubt, the damage past a crash's checkpoint, why it cannot be resumed, the refusal
that stopped it), so a table read by a person shows what ``--json`` tells a program.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ._artifacts.packed import archives_in
from ._cli_output import EXIT_BAD_INPUT, EXIT_OK, emit_json
from ._cli_status import writer_cell
from ._support.oserrors import said as oserror_said
from ._support.text import command, error_line, json_path, one_line, path_text

if TYPE_CHECKING:
    import argparse

    from .status import RunStatus

__all__ = ["cmd_list", "problem_cell"]

_NAMED = 3
"""The most folders of runs named below an empty one."""
HEADER = ("RUN", "VERDICT", "STATE", "STEPS", "HEARTBEAT", "WRITER", "PROBLEM")


def _run_label(run_id: str | None, directory: str) -> str:
    """``demo-001``, or ``demo-001 (copy-3)`` when the directory has another name.

    Copies of one run carry the run id of their files: the name tells them apart.
    """
    return run_id if run_id == directory else f"{run_id or '?'} ({path_text(directory)})"


def cmd_list(args: argparse.Namespace) -> int:
    """List the runs under OUT_DIR with their status (exit 0).

    Exit 2 when it is no directory, or when a run's file cannot be read (``run_status``).
    """
    from .status import list_runs  # noqa: PLC0415 - only for this command

    unreadable: list[OSError] = []
    runs = list_runs(args.out_dir, refused=unreadable)
    if args.json:
        document: dict[str, object] = {
            "out_dir": json_path(args.out_dir),
            "runs": [run.to_json() for run in runs],
        }
        if unreadable:  # as every command's --json says an exit 2, with the runs all the same
            said = error_line(_refused(unreadable), in_json=True)
            document |= {"ok": False, "exit_code": EXIT_BAD_INPUT, "error": said}
        emit_json(document)
        return _listed(unreadable)
    rows = [HEADER]
    for run in runs:
        planned = "" if run.steps_planned is None else f"/{run.steps_planned}"
        rows.append(
            (
                _run_label(run.run_id, Path(run.run_dir).name),
                run.verdict.label,
                state_cell(run),
                f"{'-' if run.steps is None else run.steps}{planned}",
                run.heartbeat_utc or "-",
                writer_cell(run),
                problem_cell(run),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())  # noqa: T201
    if not runs:
        folder = Path(args.out_dir)
        said = f"{_runs_below(folder)}{archives_in(folder)}"
        print(f"(no runs in {path_text(args.out_dir)}{said})")  # noqa: T201
    return _listed(unreadable)


def _runs_below(out_dir: Path) -> str:
    """``; folders below it hold runs: `livesession list out/runs` ``, or "".

    ``livesession list out`` (the folder above dryrun's ``out/runs``, or a desk's folder of
    run folders) said only ``(no runs in out)``, as if the runs were gone: the folders
    below it that hold runs are named, each with the list that shows them.
    """
    from ._artifacts.runfind import is_run_dir  # noqa: PLC0415 - only for an empty list

    found = []
    try:
        for child in sorted(out_dir.iterdir()):
            if child.name.startswith(".") or not child.is_dir():
                continue
            if any(is_run_dir(run) for run in child.iterdir() if not run.name.startswith(".")):
                found.append(child)
    except OSError:  # a folder it may not look into hides nothing it was asked
        return ""
    if not found:
        return ""
    shown = ", ".join(f"`{command('list', path)}`" for path in found[:_NAMED])
    more = f" (and {len(found) - _NAMED} more)" if len(found) > _NAMED else ""
    return f"; folders below it hold runs: {shown}{more}"


def _listed(unreadable: list[OSError]) -> int:
    """``list``'s exit: 2, each file it could not read named on stderr, as ``status`` does.

    The other runs are listed all the same: one unreadable run does not blind a fleet check.
    """
    if unreadable:
        print(f"livesession: error: {error_line(_refused(unreadable))}", file=sys.stderr)  # noqa: T201
    return EXIT_BAD_INPUT if unreadable else EXIT_OK


def _refused(unreadable: list[OSError]) -> str:
    """``RUN/audit.jsonl: Permission denied``: each file ``list`` could not read, joined."""
    return "; ".join(f"{exc.filename2 or exc.filename}: {oserror_said(exc)}" for exc in unreadable)


def state_cell(run: RunStatus) -> str:
    """``list``'s ``STATE``: the run's state, and what halted its trading when it is HALTED.

    ``STOPPED, HALTED by the kill switch (DAILY_LOSS)``: a run the kill switch or a halt
    stopped trading read ``STOPPED`` alone beside one that traded to its end, though
    ``status`` and ``--json`` (``halted_by``) say it.
    """
    state = run.state or _unstarted(run)
    return f"{state}, HALTED by {run.halted_by}" if run.halted_by else state


def _unstarted(run: RunStatus) -> str:
    """``list``'s state of a run that has none: one starting, one killed so, or unknown."""
    if run.starting:
        return "starting"
    return "killed while starting" if run.killed_while_starting else "?"


def problem_cell(run: RunStatus) -> str:
    """``list``'s ``PROBLEM`` of ``run``: what ``status`` says is wrong with it, or ``-``.

    ``status``'s ``problem`` (a run that is none, a seal the files do not bear out, a file
    that is not regular), else a fill in doubt, why a crashed run cannot be resumed, the
    refusal that stopped it, the damage past its checkpoint a crash does not explain.
    """
    from .status import Verdict  # noqa: PLC0415 - status imports the CLI's lines lazily

    if run.problem:
        return one_line(run.problem)
    if run.position_in_doubt:
        return one_line(f"position in doubt: {run.position_in_doubt}")
    if run.verdict is Verdict.NEEDS_OPERATOR and run.resume_problem and not run.writer:
        return one_line(f"cannot be resumed: {run.resume_problem}")
    if run.store_refused:
        return one_line(f"stopped by {run.store_refused}")
    if run.damaged_tail:
        return one_line(f"damaged past its checkpoint: {run.damaged_tail}")
    return "-"
