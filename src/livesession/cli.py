"""The ``livesession`` command line: one-shot operator commands.

Every command runs, writes and exits; nothing watches or loops forever. Exit codes:
0 completed (or clean; also a run stopped by SIGTERM/SIGINT and sealed), 1 verification
found violations, 2 bad input, 3 rejected (by preflight, or another process holds the run),
4 failed, 130 interrupted (Ctrl-C); ``status`` adds 5 needs an operator, 6 crashed and
resumable, 7 running; ``stop``/``kill``/``ack`` add 8 nothing holds the run, 9 no effect
seen in time. RUNBOOK.md's table says what each means for the operator (a test keeps the
two in step).

``dryrun`` and ``resume`` answer operator signals between steps (``control.py``): SIGTERM
and SIGINT stop gracefully, SIGUSR1 trips the kill switch, SIGUSR2 acknowledges; ``stop``,
``kill`` and ``ack`` send them to the process holding a run.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

from ._artifacts import names
from ._artifacts.runread import require_run
from ._domain.config import CLOCK_MODES, DURABILITY_MODES, load_config
from ._domain.lifecycle import SessionState, SessionStatus
from ._exceptions import LiveSessionError, UsageError
from ._risk.rails import RAIL_RULES
from ._session.coordinator import ONE_SHOT_OPERATOR, DryrunResult, LiveSessionOrchestrator
from ._support.logging import configure_logging, disable_logging
from ._support.secrets import redact_text
from ._version import __version__

if TYPE_CHECKING:
    from ._artifacts.metrics import MetricsCollector
    from .control import SignalControls

__all__ = ["build_parser", "main"]

EXIT_OK: Final = 0
EXIT_VIOLATIONS: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_REJECTED: Final = 3
EXIT_FAILED: Final = 4
EXIT_NEEDS_OPERATOR: Final = 5
"""``status``: a person must look (ERROR_REQUIRES_OPERATOR, or crashed and not resumable)."""
EXIT_CRASHED: Final = 6
"""``status``: no process writes the run and it is not sealed; ``resume`` takes it."""
EXIT_RUNNING: Final = 7
"""``status``: a process holds the run's writer lock now."""
EXIT_NOT_HELD: Final = 8
"""``stop``/``kill``/``ack``: no process holds the run."""
EXIT_NO_EFFECT: Final = 9
"""``stop``/``kill``/``ack``: the signal went out but its effect did not show in time."""
EXIT_INTERRUPTED: Final = 130
_SHOW_RULES_UP_TO: Final = 4
_PROGRESS_MIN_STEPS: Final = 20_000


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def _free_demo_id(out: Path) -> str:
    for n in range(1, 10_000):
        candidate = f"demo-{n:03d}"
        if not (out / candidate).exists():
            return candidate
    raise LiveSessionError(f"no free demo run id left in {out}: pass --run-id")


def _exit_code(result: DryrunResult) -> int:
    if result.status is SessionStatus.COMPLETED:
        return EXIT_OK
    if result.status is SessionStatus.REJECTED:
        return EXIT_REJECTED
    return EXIT_FAILED


def _risk_blocks(metrics: MetricsCollector) -> str:
    """RISK_REJECTED count, and by rule when that is short and the metrics tell them apart."""
    blocks = metrics.count("RISK_REJECTED")
    if not blocks:
        return "0"
    by_reason = metrics.rejects_by_reason
    if not metrics.count("ORDER_REJECTED"):
        by_rule = by_reason  # no venue rejects: every reject counted mid-run is a rail's
    else:
        by_rule = {rule: n for rule, n in by_reason.items() if rule in RAIL_RULES}
    if sum(by_rule.values()) != blocks or len(by_rule) > _SHOW_RULES_UP_TO:
        return str(blocks)
    return f"{blocks} (" + ", ".join(f"{r} {n}" for r, n in sorted(by_rule.items())) + ")"


def _summary(result: DryrunResult, run_dir: Path, wall_s: float, metrics: MetricsCollector) -> None:
    sink = metrics.count("SINK_WRITE_RETRIED")
    broker = metrics.count("BROKER_CALL_RETRIED")
    lines = [
        f"status      {result.status.value}" + (f" ({result.reason})" if result.reason else ""),
        f"run         {result.run_id}",
        f"steps       {result.steps}",
        f"orders      {result.orders_submitted}",
        f"fills       {result.fills}",
        f"risk blocks {_risk_blocks(metrics)}",
        f"rejected    {metrics.count('ORDER_REJECTED')} by the venue",
        f"retries     {sink + broker} (sink {sink}, broker {broker})",
        f"pnl         {result.pnl}",
        f"equity      {result.equity}",
        f"wall        {wall_s:.2f} s",
        f"artifacts   {run_dir}",
    ]
    print("\n".join(lines))  # noqa: T201 - the CLI's output


def _say_rejected(result: DryrunResult) -> None:
    """The one stderr line of a rejected session: the reason code and what failed."""
    why = result.reason + (f": {result.detail}" if result.detail else "")
    print(f"livesession: rejected: {redact_text(why)}", file=sys.stderr)  # noqa: T201 - the CLI's output


def _drive(
    session: LiveSessionOrchestrator,
    steps: int,
    on_step: Callable[[int], None],
    controls: SignalControls,
) -> DryrunResult:
    """``run_to_end`` with the operator's signals acted on between steps (never inside one)."""
    if session.state is SessionState.INIT:
        session.preflight()
    if session.state is SessionState.PREFLIGHT_OK:
        session.activate()
    while _stepping(session, steps):
        controls.at_step_boundary(session)
        if not _stepping(session, steps):
            break
        session.step()
        on_step(session.steps_done)
    return session.run_to_end(steps, operator=ONE_SHOT_OPERATOR)


def _stepping(session: LiveSessionOrchestrator, steps: int) -> bool:
    return session.state is SessionState.DRYRUN_ACTIVE and session.steps_done < steps


def _run(
    session: LiveSessionOrchestrator,
    run_dir: Path,
    steps: int,
    *,
    quiet: bool,
    controls: SignalControls,
) -> int:
    from ._artifacts.timings import StepTimer  # noqa: PLC0415 - only for CLI runs

    timer = StepTimer(run_dir)
    show_bar = (
        not quiet and steps - session.steps_done >= _PROGRESS_MIN_STEPS and sys.stderr.isatty()
    )
    if show_bar:
        from rich.progress import Progress  # noqa: PLC0415 - only for long runs on a terminal

        with Progress(transient=True) as progress:
            task = progress.add_task("dry run", total=steps, completed=session.steps_done)

            def tick(done: int) -> None:
                timer.on_step(done)
                if done % 1000 == 0:
                    progress.update(task, completed=done)

            result = _drive(session, steps, tick, controls)
    else:
        result = _drive(session, steps, timer.on_step, controls)
    timings = timer.finish(steps=result.steps, events=session.recorder.event_seq)
    if not quiet:
        _summary(result, run_dir, timings["wall_s"], session.recorder.metrics)
    if result.status is SessionStatus.REJECTED:
        _say_rejected(result)
    if result.status is SessionStatus.FAILED:
        print(f"livesession: failed: {_failure(result, run_dir)}", file=sys.stderr)  # noqa: T201 - the CLI's output
    elif controls.stop_reason and result.reason == controls.stop_reason:
        print(  # noqa: T201 - the CLI's output
            f"livesession: stopped by {controls.stop_reason.removeprefix('SIGNAL_')} after "
            f"{result.steps} steps: cancelled, flattened and sealed {result.status.value}: "
            f"{run_dir}",
            file=sys.stderr,
        )
    return _exit_code(result)


def _failure(result: DryrunResult, run_dir: Path) -> str:
    """One line: why the run failed and what the CLI did about it (see RUNBOOK's exit codes)."""
    what = result.reason or "FAILED"
    if result.detail:
        what += f" ({' '.join(result.detail.split())})"
    if result.state is SessionState.STOPPED:
        return f"{what}; wound down (cancelled, flattened) and sealed FAILED: {run_dir}"
    return (
        f"{what}; sealed FAILED in {result.state.value} without a wind-down: check the "
        f"venue's open orders and positions (RUNBOOK): {run_dir}"
    )


@contextlib.contextmanager
def _session_log(run_dir: Path, level: str) -> Iterator[None]:
    """Log to ``run_dir/session.log.jsonl`` for the duration of the block."""
    import logging  # noqa: PLC0415 - only to map the level name

    with (run_dir / names.SESSION_LOG).open("a", encoding="utf-8") as stream:
        configure_logging(stream, level=getattr(logging, level.upper()))
        try:
            yield
        finally:
            disable_logging()


def _peek_keys(path: Path) -> set[str]:
    import tomllib  # noqa: PLC0415 - only when a config file is given

    try:
        return set(tomllib.loads(path.read_text(encoding="utf-8")))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return set()  # load_config reports the problem with a proper message


def _refused(exc: LiveSessionError) -> int:
    """A writer refused because another holds the run (or its lease): one line, exit 3."""
    print(f"livesession: rejected: {redact_text(str(exc))}", file=sys.stderr)  # noqa: T201 - the CLI's output
    return EXIT_REJECTED


def cmd_dryrun(args: argparse.Namespace) -> int:
    """Run one dry run and write its artifacts to OUT/<run_id>/."""
    config: Path | None = args.config
    out: Path = args.out
    overrides: dict[str, Any] = {
        "seed": args.seed,
        "steps": args.steps,
        "clock_mode": args.clock,
        "broker": args.broker,
        "run_id": args.run_id,
    }
    keys = _peek_keys(config) if config is not None else set()
    if args.durability is not None:
        overrides["durability"] = args.durability
    elif "durability" not in keys:
        overrides["durability"] = "step"
    if args.run_id is None and "run_id" not in keys:
        overrides["run_id"] = _free_demo_id(out)
    cfg = load_config(config, overrides)
    from ._exceptions import RunHeld  # noqa: PLC0415
    from ._rundir import create_run  # noqa: PLC0415 - keeps `import livesession` light
    from .control import SignalControls  # noqa: PLC0415 - only for runs

    # The handlers go in before the run directory (and its lock) exists, so an operator
    # command never finds a holder that would die of SIGUSR1's default action.
    with SignalControls().installed() as controls:
        try:
            session = create_run(
                cfg,
                out,
                idempotency_backend=args.idempotency_backend,
                store=args.store,
                lease=args.lease,
            )
        except RunHeld as exc:
            return _refused(exc)
        run_dir = out / cfg.run_id
        with _session_log(run_dir, args.log_level):
            return _run(session, run_dir, cfg.steps, quiet=args.quiet, controls=controls)


def cmd_resume(args: argparse.Namespace) -> int:
    """Resume a crashed run from its last checkpoint and finish it."""
    from ._exceptions import LeaseHeld, RunHeld  # noqa: PLC0415
    from ._rundir import resume_run  # noqa: PLC0415 - keeps `import livesession` light
    from .control import SignalControls  # noqa: PLC0415 - only for runs

    run_dir = require_run(args.run_dir)
    with SignalControls().installed() as controls:
        try:
            session = resume_run(run_dir)
        except (LeaseHeld, RunHeld) as exc:
            return _refused(exc)
        with _session_log(run_dir, args.log_level):
            return _run(session, run_dir, session.config.steps, quiet=args.quiet, controls=controls)


_CONTROL_EXITS: Final = {
    "done": EXIT_OK,
    "nothing": EXIT_OK,
    "not_held": EXIT_NOT_HELD,
    "refused": EXIT_REJECTED,
    "failed": EXIT_FAILED,
    "timeout": EXIT_NO_EFFECT,
}


def cmd_control(args: argparse.Namespace) -> int:
    """Signal the process holding a run (stop, kill, ack) and wait for the effect."""
    from .control import send_control  # noqa: PLC0415 - only for this command

    outcome = send_control(args.command, require_run(args.run_dir), timeout_s=args.timeout)
    code = _CONTROL_EXITS[outcome.kind]
    if code == EXIT_OK:
        print(outcome.line)  # noqa: T201 - the CLI's output
    else:
        print(f"livesession: {args.command}: {redact_text(outcome.line)}", file=sys.stderr)  # noqa: T201
    return code


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a run against the artifact contract, independently of the writer."""
    from .verify import verify_run  # noqa: PLC0415 - jsonschema is loaded only here

    result = verify_run(require_run(args.run_dir))
    print("\n".join(result.render(args.run_dir)))  # noqa: T201 - the CLI's output
    if result.ok:
        return EXIT_OK
    print(f"{result.total} violation(s) in {args.run_dir}", file=sys.stderr)  # noqa: T201
    return EXIT_VIOLATIONS


def cmd_evidence(args: argparse.Namespace) -> int:
    """Write the governance evidence bundle (manifest.json and EV-<date>-<run_id>.md)."""
    from ._exceptions import RunHeld  # noqa: PLC0415
    from .evidence import write_evidence  # noqa: PLC0415 - only for this command

    try:
        result = write_evidence(require_run(args.run_dir), out_dir=args.out)
    except RunHeld as exc:
        return _refused(exc)
    print(f"manifest  {result.manifest}")  # noqa: T201 - the CLI's output
    print(f"document  {result.document}")  # noqa: T201 - the CLI's output
    print("result    " + ("PASS" if result.ok else "FAIL: " + "; ".join(result.problems)))  # noqa: T201
    return EXIT_OK if result.ok else EXIT_VIOLATIONS


def _write_for_run(
    args: argparse.Namespace, write: Callable[[Path, Path], str], default_name: str, label: str
) -> int:
    """Write ``write``'s file for the run (to ``--output``, default RUN_DIR/default_name).

    ``write`` returns what it read of a live run (up to its last checkpoint), said here.
    """
    run_dir = require_run(args.run_dir)
    output: Path = args.output or run_dir / default_name
    live = write(run_dir, output)
    print(f"{label:<10}{output}")  # noqa: T201 - the CLI's output
    if live:
        print(f"{'note':<10}{live}")  # noqa: T201 - the CLI's output
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML report of a run."""
    from .report import write_report  # noqa: PLC0415 - only for this command

    return _write_for_run(args, write_report, names.REPORT, "report")


def cmd_prom(args: argparse.Namespace) -> int:
    """Write the run's metrics as a Prometheus textfile (for node_exporter)."""
    from .prom import write_textfile  # noqa: PLC0415 - prometheus_client is optional

    return _write_for_run(args, write_textfile, names.PROM, "textfile")


def cmd_status(args: argparse.Namespace) -> int:
    """Say where a run stands; the exit code is the verdict (see ``livesession.status``)."""
    import orjson  # noqa: PLC0415

    from .status import Verdict, run_status  # noqa: PLC0415 - only for this command

    found = run_status(args.run_dir)
    if args.json:
        print(orjson.dumps(found.to_json(), option=orjson.OPT_SORT_KEYS).decode())  # noqa: T201
    elif found.verdict is Verdict.NOT_A_RUN:
        print(f"livesession: error: {found.problem}", file=sys.stderr)  # noqa: T201
    else:
        print("\n".join(found.lines()))  # noqa: T201 - the CLI's output
    return found.exit_code


def cmd_list(args: argparse.Namespace) -> int:
    """List the runs under OUT_DIR with their status (exit 0; 2 when it is no directory)."""
    import orjson  # noqa: PLC0415

    from .status import list_runs  # noqa: PLC0415 - only for this command

    runs = list_runs(args.out_dir)
    if args.json:
        document = {"out_dir": str(args.out_dir), "runs": [run.to_json() for run in runs]}
        print(orjson.dumps(document, option=orjson.OPT_SORT_KEYS).decode())  # noqa: T201
        return EXIT_OK
    rows = [("RUN", "VERDICT", "STATE", "STEPS", "HEARTBEAT", "WRITER")]
    for run in runs:
        planned = "" if run.steps_planned is None else f"/{run.steps_planned}"
        writer = "-" if run.writer is None else f"pid {run.writer['pid']}"
        rows.append(
            (
                run.run_id or "?",
                run.verdict.label,
                run.state or "?",
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


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _positive(text: str) -> int:
    value = _non_negative(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a positive integer")
    return value


def _add_live_run_commands(sub: Any) -> None:
    """``stop``, ``kill``, ``ack`` (act on a live run) and ``status``, ``list`` (read it)."""
    for verb, what in (
        ("stop", "graceful stop of the process writing a run (SIGTERM): cancel, flatten, seal"),
        ("kill", "trip the kill switch of a live run (SIGUSR1): HALTED, cancel, flatten"),
        ("ack", "acknowledge a live run (SIGUSR2): re-enable trading after a halt"),
    ):
        ctl = sub.add_parser(verb, help=what)
        ctl.add_argument("run_dir", type=Path)
        ctl.add_argument(
            "--timeout",
            type=_positive,
            default=30,
            help="seconds to wait for the effect in the run's files (default 30)",
        )
        ctl.set_defaults(handler=cmd_control)

    sta = sub.add_parser(
        "status",
        help="where a run stands, for a supervisor (never disturbs a live writer)",
        epilog="Exit codes: 0 completed, 2 not a run, 3 rejected, 4 failed, 5 needs an "
        "operator, 6 crashed (resumable), 7 running.",
    )
    sta.add_argument("run_dir", type=Path)
    sta.add_argument("--json", action="store_true", help="print exactly one JSON object")
    sta.set_defaults(handler=cmd_status)

    lst = sub.add_parser("list", help="list the runs in a directory with their status")
    lst.add_argument("out_dir", type=Path, help="a directory of runs (e.g. out/runs)")
    lst.add_argument("--json", action="store_true", help="print exactly one JSON object")
    lst.set_defaults(handler=cmd_list)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``livesession`` command."""
    parser = _Parser(
        prog="livesession",
        description="Run trading sessions as auditable state machines (dry-run first).",
        epilog="Exit codes: 0 completed/clean (also stopped by SIGTERM/SIGINT and sealed), "
        "1 violations found, 2 bad input, 3 rejected (by preflight, or the run is held by "
        "another process), 4 failed, 130 interrupted; status also: 5 needs an operator, "
        "6 crashed (resumable), 7 running; stop/kill/ack also: 8 nothing holds the run, "
        "9 no effect seen in time. A second SIGTERM/SIGINT ends dryrun/resume at once by "
        "that signal (a shell shows 143/130; resume it). See RUNBOOK.md.",
    )
    parser.add_argument("--version", action="version", version=f"livesession {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser("dryrun", help="run one dry run (defaults: a demo on the mock broker)")
    run.add_argument("--config", "-c", type=Path, help="TOML config file")
    run.add_argument("--run-id", help="run id: 1-64 of [A-Za-z0-9_.-] (default: next demo-NNN)")
    run.add_argument("--seed", type=_non_negative, help="seed for every random choice")
    run.add_argument("--steps", type=_positive, help="steps to run (default 1000)")
    run.add_argument("--clock", choices=CLOCK_MODES, help="clock (default sim)")
    run.add_argument("--out", type=Path, default=Path("out/runs"), help="runs go to OUT/<run_id>/")
    run.add_argument("--broker", help="mock (default), realish, or ccxt:<exchange> (sandbox only)")
    run.add_argument(
        "--idempotency-backend", choices=("memory", "jsonl", "sqlite"), default="sqlite"
    )
    run.add_argument("--durability", choices=DURABILITY_MODES, help="default step")
    run.add_argument(
        "--store",
        choices=("local", "postgres"),
        default="local",
        help="local (default): stores in the run directory; postgres: idempotency keys and "
        "the session lease in PostgreSQL (DSN from LIVESESSION_PG_DSN; implies --lease)",
    )
    run.add_argument(
        "--lease",
        action="store_true",
        help="take the single-active-session lease of (account, strategy); with --store local "
        "a lock file in OUT/.leases/",
    )
    run.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    run.add_argument("--quiet", "-q", action="store_true", help="no summary")
    run.set_defaults(handler=cmd_dryrun)

    res = sub.add_parser("resume", help="resume a crashed run from its checkpoint")
    res.add_argument("run_dir", type=Path, help="the run directory (OUT/<run_id>)")
    res.add_argument("--log-level", choices=("debug", "info", "warning", "error"), default="info")
    res.add_argument("--quiet", "-q", action="store_true", help="no summary")
    res.set_defaults(handler=cmd_resume)

    ver = sub.add_parser("verify", help="check a run against the artifact contract")
    ver.add_argument("run_dir", type=Path)
    ver.set_defaults(handler=cmd_verify)

    evi = sub.add_parser("evidence", help="write the governance evidence bundle of a run")
    evi.add_argument("run_dir", type=Path)
    evi.add_argument("--out", type=Path, help="where to write (default: the run directory)")
    evi.set_defaults(handler=cmd_evidence)

    rep = sub.add_parser("report", help="write a self-contained HTML report of a run")
    rep.add_argument("run_dir", type=Path)
    rep.add_argument("--output", type=Path, help="default RUN_DIR/report.html")
    rep.set_defaults(handler=cmd_report)

    prm = sub.add_parser("prom", help="write Prometheus textfile metrics of a run")
    prm.add_argument("run_dir", type=Path)
    prm.add_argument("--output", type=Path, help="default RUN_DIR/livesession.prom")
    prm.set_defaults(handler=cmd_prom)

    _add_live_run_commands(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return EXIT_BAD_INPUT
        return int(handler(args))
    except LiveSessionError as exc:
        print(f"livesession: error: {redact_text(str(exc))}", file=sys.stderr)  # noqa: T201 - the CLI's output
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("livesession: interrupted", file=sys.stderr)  # noqa: T201 - the CLI's output
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader went away (`livesession verify DIR | head`): not an error of ours. Point
        # stdout at devnull so the interpreter's final flush does not raise again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
