"""The ``livesession`` command line: one-shot operator commands.

Every command runs, writes and exits; nothing watches or loops forever. Exit codes (the ``EXIT_*``
of ``_cli_output``): 0 completed (or clean; also a run stopped by SIGTERM/SIGINT/SIGHUP and
sealed), 1 violations (verify), NOT VERIFIED (evidence) or a criterion not met (burnin), 2 bad
input, 3 rejected (by preflight, or another process holds the run), 4 failed, 130 interrupted
(Ctrl-C, or a plug-in's KeyboardInterrupt inside a step: the run left unsealed, and said so), 143
terminated and 129 hung up (the signal came with no run to stop and seal); ``status`` adds 5 needs
an operator, 6 crashed and resumable, 7 running; ``stop``/``kill``/``ack`` add 8 nothing holds the
run, 9 no effect seen in time. RUNBOOK.md's table says more.

``dryrun`` and ``resume`` answer operator signals between steps (``control.py``): SIGTERM
and SIGINT stop gracefully, SIGUSR1 trips the kill switch, SIGUSR2 acknowledges; ``stop``,
``kill`` and ``ack`` send them to the process holding a run.
"""

from __future__ import annotations

import sys

if __name__ == "__main__":  # `python -m livesession.cli`: load the CLI where Ctrl-C is one line
    from livesession.__main__ import main as _entry

    sys.exit(_entry())

import argparse
import contextlib
from collections.abc import Callable, Sequence
from typing import Any, Final, NoReturn

from ._cli_commands import (
    CONTROL_COMMANDS,
    cmd_burnin,
    cmd_control,
    cmd_evidence,
    cmd_prom,
    cmd_report,
    cmd_status,
    cmd_verify,
)
from ._cli_files import folder_argument, output_argument
from ._cli_files import path_argument as _path
from ._cli_files import text_argument as _text
from ._cli_leftover import missing_said, parsed
from ._cli_list import cmd_list
from ._cli_output import (
    EXIT_BAD_INPUT,
    EXIT_CRASHED,
    EXIT_FAILED,
    EXIT_HANGUP,
    EXIT_INTERRUPTED,
    EXIT_NEEDS_OPERATOR,
    EXIT_NO_EFFECT,
    EXIT_NOT_HELD,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_RUNNING,
    EXIT_TERMINATED,
    EXIT_VIOLATIONS,
    JSON_HELP,
    HelpWithDefaults,
    add_session_output,
    add_verify_output,
    emit_json,
    json_emitted,
    json_only_on_stdout,
    readers_may_leave,
)
from ._cli_signals import Terminated, ended_by_signal, signals_end_commands
from ._cli_streams import runs_plugins, streams_kept
from ._control_wait import ended_as
from ._domain.config import CLOCK_MODES, DURABILITY_MODES
from ._exceptions import LiveSessionError, UsageError
from ._support.crash import ARMING_PROBLEM
from ._support.numbertext import integer_form_problem, is_number_text
from ._support.oserrors import said
from ._support.text import error_line
from ._version import __version__

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump)."""

    words: list[str] = []  # noqa: RUF012 - what it was given, set as it parses
    """The words the last parse was given: a refusal names the one misspelt (``missing_said``)."""

    def parse_known_args(  # type: ignore[override]  # argparse's overloads: the one used
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        self.words = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(args, namespace)

    def error(self, message: str) -> NoReturn:
        raise UsageError(missing_said(self, message, self.words))


def _integer(text: str) -> int:
    loose = integer_form_problem(text)  # int() reads "1_0" (10), spaces, other digits
    if loose is not None:
        raise argparse.ArgumentTypeError(f"{text!r} is {loose}")
    return int(text)


def _non_negative(text: str) -> int:
    value = _integer(text)
    if value < 0 or text.startswith("-"):  # "-0" too
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _positive(text: str) -> int:
    value = _integer(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} must be a positive integer")
    return value


_RUN_DIR_HELP: Final = "the run directory (OUT/<run_id>)"
_OUTPUT_REFUSED: Final = (
    "bad input: not a run, an --output refused (nothing read), or the file system refused it"
)
_INTO: Final = (
    "; a symlink is followed and kept (/dev/stdout: the file alone on stdout), "
    "and a FIFO or a character device (/dev/null) is written to, never replaced; "
    "- is stdout"
)


@runs_plugins
def cmd_dryrun(args: argparse.Namespace) -> int:
    """``dryrun``: the session machinery is imported only for the commands that run one."""
    from ._cli_runs import cmd_dryrun as run  # noqa: PLC0415 - keeps the read-only tools light

    return run(args)


@runs_plugins
def cmd_resume(args: argparse.Namespace) -> int:
    """``resume`` (see ``cmd_dryrun``)."""
    from ._cli_runs import cmd_resume as run  # noqa: PLC0415 - keeps the read-only tools light

    return run(args)


def _command(
    sub: Any, name: str, what: str, description: str, handler: Callable[[Any], int]
) -> argparse.ArgumentParser:
    """Add the subcommand ``name``; its ``--help`` shows the defaults."""
    cmd: argparse.ArgumentParser = sub.add_parser(
        name, help=what, description=description, formatter_class=HelpWithDefaults
    )
    cmd.set_defaults(handler=handler)
    return cmd


def _run_command(
    sub: Any, name: str, what: str, description: str, handler: Callable[[Any], int]
) -> argparse.ArgumentParser:
    """Add a subcommand that acts on one run: its first argument is the run directory."""
    cmd = _command(sub, name, what, description, handler)
    cmd.add_argument("run_dir", type=_path, help=_RUN_DIR_HELP)
    return cmd


def _add_live_run_commands(sub: Any) -> None:
    """``stop``, ``kill``, ``ack`` (act on a live run) and ``status``, ``list`` (read it)."""
    for verb, what, description in CONTROL_COMMANDS:
        ctl = _run_command(sub, verb, what, description, cmd_control)
        ctl.add_argument(
            "--timeout",
            type=_positive,
            default=30,
            help="seconds to wait for the effect in the run's files",
        )

    sta = _run_command(
        sub,
        "status",
        "where a run stands, for a supervisor (never disturbs a live writer)",
        "Say where RUN_DIR stands: state, status, steps, heartbeat, writer, "
        "lease holder, open orders and position. Never takes the run's lock. Exit codes: "
        "0 completed, 2 not a run (or a file of it cannot be read), 3 rejected, 4 failed, "
        "5 needs an operator, 6 crashed (resumable), 7 running.",
        cmd_status,
    )
    sta.add_argument("--json", action="store_true", help="print exactly one JSON object")

    lst = _command(
        sub,
        "list",
        "list the runs in a directory with their status",
        "List the runs under OUT_DIR, one line each with its status verdict. Exit codes: 0 "
        "(no runs too), 2 not a directory of runs (or a run's file unreadable: all listed).",
        cmd_list,
    )
    lst.add_argument("out_dir", type=_path, help="a directory of runs (e.g. out/runs)")
    lst.add_argument("--json", action="store_true", help="print exactly one JSON object")


def _non_negative_float(text: str) -> float:
    # Written as a number is (``is_number_text``): ``float`` reads "1_0" as 10, spaces too.
    value = float(text) if is_number_text(text) else -1.0
    if not 0 <= value < float("inf"):  # also refuses nan, and inf (JSON holds neither)
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds >= 0, got {text!r}")
    return value


def _add_burnin_command(sub: Any) -> None:
    """``burnin``: the paper burn-in acceptance criteria, per session."""
    bur = sub.add_parser(
        "burnin",
        help="judge runs against the burn-in acceptance criteria",
        description="Judge each RUN_DIR against the paper burn-in criteria (sealed COMPLETED "
        "as `status` reads the seal, clean under `verify` (run here), signals, decisions, "
        "a full OCO lifecycle, flatten within the limit, unique client order ids, no orphan "
        "OCO leg, a complete signal -> decision -> order -> trade chain) and write "
        "burnin.md and burnin.json next to it. Flatten is measured only by a wall-time kill "
        "drill (--drill, or the one `evidence` ran); without one it is skipped, never passed: "
        "PASS (flatten not measured). Exit codes: 0 no criterion failed for any run, 1 some "
        "failed (named on stderr), 2 bad input or not a run, 3 a run is being written.",
        formatter_class=HelpWithDefaults,
    )
    bur.add_argument("run_dirs", type=_path, nargs="+", metavar="RUN_DIR", help="run directories")
    bur.add_argument(
        "--out",
        type=folder_argument,
        metavar="DIR",
        help="write the reports here (default: each run)",
    )
    bur.add_argument("--drill", action="store_true", help="run the kill drill now (re-runs)")
    bur.add_argument("--min-signals", type=_non_negative, default=50, help="signals needed")
    bur.add_argument("--min-decisions", type=_non_negative, default=3, help="decisions needed")
    bur.add_argument("--min-oco", type=_non_negative, default=1, help="full OCO lifecycles")
    bur.add_argument(
        "--max-flatten-s", type=_non_negative_float, default=2.0, help="kill to flat, seconds"
    )
    bur.add_argument("--json", action="store_true", help=JSON_HELP)
    bur.set_defaults(handler=cmd_burnin)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``livesession`` command."""
    parser = _Parser(
        prog="livesession",
        description="Run trading sessions as auditable state machines (dry-run first).",
        # The codes come from _cli_output's table, so --help cannot drift from it.
        epilog=f"Exit codes: {EXIT_OK} completed/clean (also stopped by SIGTERM/SIGINT/SIGHUP and "
        f"sealed), {EXIT_VIOLATIONS} violations found (verify), NOT VERIFIED (evidence) or a "
        f"criterion not met (burnin), {EXIT_BAD_INPUT} bad input, "
        f"{EXIT_REJECTED} rejected (by preflight, or the run is held by another process), "
        f"{EXIT_FAILED} failed, {EXIT_INTERRUPTED} interrupted, {EXIT_TERMINATED} terminated "
        "(SIGTERM: a command but dryrun/resume, a dryrun before its run, a resume before it "
        f"takes the run), {EXIT_HANGUP} hung up (SIGHUP, as SIGTERM); status also: "
        f"{EXIT_NEEDS_OPERATOR} needs an operator, {EXIT_CRASHED} crashed (resumable), "
        f"{EXIT_RUNNING} running; stop/kill/ack also: {EXIT_NOT_HELD} nothing holds the run, "
        f"{EXIT_NO_EFFECT} no effect seen in time. A second SIGTERM/SIGINT ends dryrun/resume "
        "at once by that signal (a shell shows 143/130; resume it). See RUNBOOK.md.",
    )
    parser.add_argument("--version", action="version", version=f"livesession {__version__}")
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser, required=True
    )

    run = _command(
        sub,
        "dryrun",
        "run one dry run (defaults: a demo on the mock broker)",
        "Run one dry run and write its artifacts to OUT/<run_id>/. Options given "
        "here override the config file; the config's own defaults apply to the rest. Exit "
        "codes: 0 sealed COMPLETED (a stop by SIGTERM, SIGINT or SIGHUP too), 2 bad input "
        "(nothing written) or a file the system refused (the run is not sealed), 3 rejected by "
        "preflight (sealed REJECTED) or another process writes the run id, 4 sealed FAILED; "
        "130/143/129 a signal before the run exists, or the run left unsealed (RUNBOOK.md).",
        cmd_dryrun,
    )
    run.add_argument("--config", "-c", type=_path, help="TOML config file")
    run.add_argument(
        "--run-id",
        help="run id: 1-64 of [A-Za-z0-9_.-], not starting with '.' (default: the next "
        "<strategy_id>-NNN in OUT, demo-NNN for the demo's sma_demo)",
    )
    run.add_argument(
        "--seed", type=_non_negative, help="seed for every random choice (default 123)"
    )
    run.add_argument("--steps", type=_positive, help="steps to run (default 1000)")
    run.add_argument(
        "--clock",
        choices=CLOCK_MODES,
        help="the clock that stamps ts_utc (default sim: the simulated time); none paces the steps",
    )
    # A str default goes through type=_path too, as a given --out does (a removed cwd).
    run.add_argument(
        "--out", type=folder_argument, default="out/runs", help="runs go to OUT/<run_id>/"
    )
    run.add_argument(
        "--broker",
        help="mock (default), realish, ccxt:<exchange> (sandbox only) or package.module:callable",
    )
    run.add_argument(
        "--strategy",
        metavar="REF",
        help="strategy factory package.module:callable (default: the SMA demo); resolved from "
        "the config file's directory, then the installed packages",
    )
    run.add_argument(
        "--feed",
        metavar="SPEC",
        help="random_walk (default), venue (a ccxt broker's own bars), csv:PATH, parquet:PATH "
        "or package.module:callable",
    )
    run.add_argument(
        "--symbol",
        metavar="SYM",
        type=_text,
        help="the symbol the feed gives (default: a data file's name, EURUSD for "
        "csv:eurusd.csv; else BTC/USDT)",
    )
    run.add_argument(
        "--idempotency-backend",
        choices=("memory", "jsonl", "sqlite"),
        default="sqlite",
        help="where client order ids are reserved (memory: the mock and realish brokers only)",
    )
    run.add_argument(
        "--durability", choices=DURABILITY_MODES, help="disk sync: per step (default), event, none"
    )
    run.add_argument(
        "--store",
        choices=("local", "postgres"),
        default="local",
        help="local: stores in the run directory; postgres: idempotency keys and "
        "the session lease in PostgreSQL (DSN from LIVESESSION_PG_DSN; implies --lease)",
    )
    run.add_argument(
        "--lease",
        action="store_true",
        help="take the single-active-session lease of (account, strategy); with --store local "
        "a lock file in OUT/.leases/",
    )
    run.add_argument(
        "--print-config",
        action="store_true",
        help="print the config this run would use (defaults filled in, these flags applied, "
        "secrets redacted) as TOML, or JSON with --json, and exit 0: nothing is made",
    )
    add_session_output(run)

    res = _run_command(
        sub,
        "resume",
        "resume a crashed run from its checkpoint",
        "Resume a crashed run from its last checkpoint and finish it, with the settings it "
        "started with (dryrun's flags are refused). Its plug-ins are imported again and must "
        "have the source SHA-256 the run recorded. Exit codes: 0 sealed COMPLETED (a stop by a "
        "signal too), 2 it cannot be resumed (nothing changed) or a file the system refused, 3 "
        "another process holds the run or its lease (LEASE_HELD), 4 sealed FAILED; 130/143/129 "
        "a signal before it takes the run, or the run left unsealed.",
        cmd_resume,
    )
    add_session_output(res, resume=True)

    ver = _run_command(
        sub,
        "verify",
        "check a run against the artifact contract",
        "Verify a run against the artifact contract, independently of the writer (read only). "
        "Exit codes: 0 clean, 1 violations (listed), 2 not a run (or a file of it cannot be "
        "read).",
        cmd_verify,
    )
    add_verify_output(ver, _path)

    evi = _run_command(
        sub,
        "evidence",
        "write the governance evidence bundle of a run",
        "Write the governance evidence bundle of a run: manifest.json and "
        "EV-<date>-<run_id>.md (digests, verification, a determinism re-run, the code that "
        "ran, a secret scan), and how the run ended, apart. Exit codes: 0 VERIFIED (the "
        "evidence's verdict, not the run's), 1 NOT VERIFIED, 2 bad input or not a run, 3 a "
        "process is writing the run (or another evidence its bundle there).",
        cmd_evidence,
    )
    evi.add_argument(
        "--out",
        type=folder_argument,
        metavar="DIR",
        help="where to write (default: the run directory)",
    )
    evi.add_argument("--json", action="store_true", help=JSON_HELP)

    rep = _run_command(
        sub,
        "report",
        "write a self-contained HTML report of a run",
        "Write one self-contained HTML report of a run (reads its artifacts only). Exit "
        f"codes: 0 written, 2 {_OUTPUT_REFUSED}.",
        cmd_report,
    )
    rep.add_argument(
        "--output",
        type=output_argument,
        metavar="PATH",
        help=f"default RUN_DIR/report.html, of a sealed run only (a live or crashed run's "
        f"needs --output); never a run's own file nor a symlink in a run directory (refused, "
        f"exit 2){_INTO}",
    )
    rep.add_argument(
        "--verify",
        action="store_true",
        help="run the full verifier too and show its verdict (slower; by default the report "
        "checks the audit chain and digests itself and points to `livesession verify`)",
    )

    prm = _run_command(
        sub,
        "prom",
        "write Prometheus textfile metrics of a run",
        "Write the run's metrics as a Prometheus textfile (for node_exporter; needs the extra "
        f"livesession[observability]). Exit codes: 0 written, 2 {_OUTPUT_REFUSED}.",
        cmd_prom,
    )
    prm.add_argument(
        "--output",
        type=output_argument,
        metavar="PATH",
        help=f"default RUN_DIR/livesession.prom; never a run's own file nor a symlink in a run "
        f"directory (refused, exit 2){_INTO}",
    )

    _add_live_run_commands(sub)
    _add_burnin_command(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 2.

    A signal before the command has started (while its arguments are parsed, say) ends it
    as one during the command does: one line and 130/143/129, never a traceback.
    """
    as_json = "--json" in (sys.argv[1:] if argv is None else list(argv))
    json_emitted(reset=True)
    try:
        with signals_end_commands(), readers_may_leave():
            return _main(argv, as_json=as_json)
    except (KeyboardInterrupt, Terminated) as exc:
        return _ended_by_signal(exc, as_json=as_json)


def _ended_by_signal(exc: BaseException, *, as_json: bool) -> int:
    said, code = ended_as(exc)  # what a stop, kill or ack it cut had sent, too
    return ended_by_signal(said, code, as_json=as_json)


def _main(argv: Sequence[str] | None, *, as_json: bool) -> int:
    if ARMING_PROBLEM is not None:  # the crash harness's variables, before any command
        return _error(ARMING_PROBLEM, as_json=as_json)
    try:
        parser = build_parser()
        args = parsed(parser, argv)  # parse_args, but its refusals say the way out
        handler = args.handler  # a command is required: none given is a one-line refusal
        # With --json a plug-in's print goes to stderr: stdout holds the one object.
        with json_only_on_stdout() if as_json else contextlib.nullcontext(), streams_kept():
            return int(handler(args))
    except LiveSessionError as exc:
        return _error(str(exc), as_json=as_json)
    except (KeyboardInterrupt, Terminated) as exc:
        return _ended_by_signal(exc, as_json=as_json)
    except OSError as exc:
        # The file system refused (no space, no permission) where no message of ours says
        # so: still one line, naming the file, not a traceback.
        named = exc.filename2 or exc.filename  # a rename's target, else the one file
        where = f"{named}: " if named else ""
        return _error(f"{where}{said(exc)}", as_json=as_json)  # said: and the way out


def _error(message: str, *, as_json: bool) -> int:
    """One redacted line on stderr (and the JSON object with ``--json``): exit 2."""
    line = error_line(message)  # one line (a path's newline too), as in the JSON
    print(f"livesession: error: {line}", file=sys.stderr)  # noqa: T201 - the CLI's output
    if as_json:  # the same line, but a path under a Latin-1 locale read as UTF-8
        line = error_line(message, in_json=True)
        emit_json({"ok": False, "exit_code": EXIT_BAD_INPUT, "error": line})
    return EXIT_BAD_INPUT
