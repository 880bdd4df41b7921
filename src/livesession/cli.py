"""The ``livesession`` command line: one-shot operator commands.

Every command runs, writes and exits; nothing watches or loops forever. Exit codes:
0 completed (or clean), 1 verification found violations, 2 bad input, 3 rejected by
preflight, 4 failed, 130 interrupted (Ctrl-C). RUNBOOK.md's table says what each means
for the operator (a test keeps the two in step).
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
from ._cli_output import (
    JSON_HELP,
    HelpWithDefaults,
    emit_json,
    evidence_json,
    result_json,
    verify_json,
)
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

__all__ = ["build_parser", "main"]

EXIT_OK: Final = 0
EXIT_VIOLATIONS: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_REJECTED: Final = 3
EXIT_FAILED: Final = 4
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


def _run(
    session: LiveSessionOrchestrator,
    run_dir: Path,
    steps: int,
    *,
    quiet: bool,
    as_json: bool = False,
) -> int:
    from ._artifacts.timings import StepTimer  # noqa: PLC0415 - only for CLI runs

    timer = StepTimer(run_dir)
    quiet = quiet or as_json
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

            result = session.run_to_end(steps, progress=tick, operator=ONE_SHOT_OPERATOR)
    else:
        result = session.run_to_end(steps, progress=timer.on_step, operator=ONE_SHOT_OPERATOR)
    timings = timer.finish(steps=result.steps, events=session.recorder.event_seq)
    if not quiet:
        _summary(result, run_dir, timings["wall_s"], session.recorder.metrics)
    if result.status is SessionStatus.REJECTED:
        _say_rejected(result)
    if result.status is SessionStatus.FAILED:
        print(f"livesession: failed: {_failure(result, run_dir)}", file=sys.stderr)  # noqa: T201 - the CLI's output
    code = _exit_code(result)
    if as_json:
        metrics = session.recorder.metrics
        emit_json(result_json(result, run_dir, timings["wall_s"], metrics, code=code))
    return code


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
        "strategy_factory": args.strategy,
        "feed": args.feed,
        "symbol": args.symbol,
    }
    keys = _peek_keys(config) if config is not None else set()
    if args.durability is not None:
        overrides["durability"] = args.durability
    elif "durability" not in keys:
        overrides["durability"] = "step"
    if args.run_id is None and "run_id" not in keys:
        overrides["run_id"] = _free_demo_id(out)
    cfg = load_config(config, overrides)
    from ._rundir import create_run  # noqa: PLC0415 - keeps `import livesession` light

    session = create_run(
        cfg,
        out,
        idempotency_backend=args.idempotency_backend,
        store=args.store,
        lease=args.lease,
    )
    run_dir = out / cfg.run_id
    with _session_log(run_dir, args.log_level):
        return _run(session, run_dir, cfg.steps, quiet=args.quiet, as_json=args.json)


def cmd_resume(args: argparse.Namespace) -> int:
    """Resume a crashed run from its last checkpoint and finish it."""
    from ._exceptions import LeaseHeld, RunHeld  # noqa: PLC0415
    from ._rundir import resume_run  # noqa: PLC0415 - keeps `import livesession` light

    run_dir = require_run(args.run_dir)
    try:
        session = resume_run(run_dir)
    except (LeaseHeld, RunHeld) as exc:
        line = redact_text(str(exc))
        print(f"livesession: rejected: {line}", file=sys.stderr)  # noqa: T201 - the CLI's output
        if args.json:
            emit_json({"ok": False, "exit_code": EXIT_REJECTED, "error": line})
        return EXIT_REJECTED
    with _session_log(run_dir, args.log_level):
        return _run(session, run_dir, session.config.steps, quiet=args.quiet, as_json=args.json)


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a run against the artifact contract, independently of the writer."""
    from .verify import verify_run  # noqa: PLC0415 - jsonschema is loaded only here

    result = verify_run(require_run(args.run_dir))
    if args.json:
        code = EXIT_OK if result.ok else EXIT_VIOLATIONS
        emit_json(verify_json(result, args.run_dir, code=code))
    else:
        print("\n".join(result.render(args.run_dir)))  # noqa: T201 - the CLI's output
    if result.ok:
        return EXIT_OK
    print(f"{result.total} violation(s) in {args.run_dir}", file=sys.stderr)  # noqa: T201
    return EXIT_VIOLATIONS


def cmd_evidence(args: argparse.Namespace) -> int:
    """Write the governance evidence bundle (manifest.json and EV-<date>-<run_id>.md)."""
    from .evidence import write_evidence  # noqa: PLC0415 - only for this command

    result = write_evidence(require_run(args.run_dir), out_dir=args.out)
    code = EXIT_OK if result.ok else EXIT_VIOLATIONS
    if args.json:
        emit_json(evidence_json(result, code=code))
        return code
    print(f"manifest  {result.manifest}")  # noqa: T201 - the CLI's output
    print(f"document  {result.document}")  # noqa: T201 - the CLI's output
    print("result    " + ("PASS" if result.ok else "FAIL: " + "; ".join(result.problems)))  # noqa: T201
    return code


def _write_for_run(
    args: argparse.Namespace, write: Callable[[Path, Path], None], default_name: str, label: str
) -> int:
    """Write ``write``'s file for the run (to ``--output``, default RUN_DIR/default_name)."""
    run_dir = require_run(args.run_dir)
    output: Path = args.output or run_dir / default_name
    write(run_dir, output)
    print(f"{label:<10}{output}")  # noqa: T201 - the CLI's output
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML report of a run."""
    from .report import write_report  # noqa: PLC0415 - only for this command

    return _write_for_run(args, write_report, names.REPORT, "report")


def cmd_prom(args: argparse.Namespace) -> int:
    """Write the run's metrics as a Prometheus textfile (for node_exporter)."""
    from .prom import write_textfile  # noqa: PLC0415 - prometheus_client is optional

    return _write_for_run(args, write_textfile, names.PROM, "textfile")


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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``livesession`` command."""
    parser = _Parser(
        prog="livesession",
        description="Run trading sessions as auditable state machines (dry-run first).",
        epilog="Exit codes: 0 completed/clean, 1 violations found, 2 bad input, "
        "3 rejected by preflight, 4 failed, 130 interrupted (see RUNBOOK.md).",
    )
    parser.add_argument("--version", action="version", version=f"livesession {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    run = sub.add_parser(
        "dryrun",
        help="run one dry run (defaults: a demo on the mock broker)",
        description="Run one dry run and write its artifacts to OUT/<run_id>/. Options given "
        "here override the config file; the config's own defaults apply to the rest.",
        formatter_class=HelpWithDefaults,
    )
    run.add_argument("--config", "-c", type=Path, help="TOML config file")
    run.add_argument("--run-id", help="run id: 1-64 of [A-Za-z0-9_.-] (default: next demo-NNN)")
    run.add_argument(
        "--seed", type=_non_negative, help="seed for every random choice (default 123)"
    )
    run.add_argument("--steps", type=_positive, help="steps to run (default 1000)")
    run.add_argument("--clock", choices=CLOCK_MODES, help="clock (default sim)")
    run.add_argument("--out", type=Path, default=Path("out/runs"), help="runs go to OUT/<run_id>/")
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
        "--feed", metavar="SPEC", help="random_walk (default), csv:PATH or package.module:callable"
    )
    run.add_argument("--symbol", metavar="SYM", help="the symbol the feed gives (default BTC/USDT)")
    run.add_argument(
        "--idempotency-backend",
        choices=("memory", "jsonl", "sqlite"),
        default="sqlite",
        help="where client order ids are reserved",
    )
    run.add_argument("--durability", choices=DURABILITY_MODES, help="default step")
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
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="level of RUN_DIR/session.log.jsonl",
    )
    run.add_argument("--quiet", "-q", action="store_true", help="no summary")
    run.add_argument("--json", action="store_true", help=JSON_HELP)
    run.set_defaults(handler=cmd_dryrun)

    res = sub.add_parser(
        "resume",
        help="resume a crashed run from its checkpoint",
        description="Resume a crashed run from its last checkpoint and finish it. Its plug-ins "
        "are imported again and must have the source SHA-256 the run recorded.",
        formatter_class=HelpWithDefaults,
    )
    res.add_argument("run_dir", type=Path, help="the run directory (OUT/<run_id>)")
    res.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="level of RUN_DIR/session.log.jsonl",
    )
    res.add_argument("--quiet", "-q", action="store_true", help="no summary")
    res.add_argument("--json", action="store_true", help=JSON_HELP)
    res.set_defaults(handler=cmd_resume)

    ver = sub.add_parser(
        "verify",
        help="check a run against the artifact contract",
        description="Verify a run against the artifact contract, independently of the writer "
        "(read only).",
        formatter_class=HelpWithDefaults,
    )
    ver.add_argument("run_dir", type=Path, help="the run directory (OUT/<run_id>)")
    ver.add_argument("--json", action="store_true", help=JSON_HELP)
    ver.set_defaults(handler=cmd_verify)

    evi = sub.add_parser(
        "evidence",
        help="write the governance evidence bundle of a run",
        description="Write the governance evidence bundle of a run: manifest.json and "
        "EV-<date>-<run_id>.md (digests, verification, a determinism re-run, the code that "
        "ran, a secret scan).",
        formatter_class=HelpWithDefaults,
    )
    evi.add_argument("run_dir", type=Path, help="the run directory (OUT/<run_id>)")
    evi.add_argument("--out", type=Path, help="where to write (default: the run directory)")
    evi.add_argument("--json", action="store_true", help=JSON_HELP)
    evi.set_defaults(handler=cmd_evidence)

    rep = sub.add_parser(
        "report",
        help="write a self-contained HTML report of a run",
        description="Write one self-contained HTML report of a run (reads its artifacts only).",
        formatter_class=HelpWithDefaults,
    )
    rep.add_argument("run_dir", type=Path, help="the run directory (OUT/<run_id>)")
    rep.add_argument("--output", type=Path, help="default RUN_DIR/report.html")
    rep.set_defaults(handler=cmd_report)

    prm = sub.add_parser(
        "prom",
        help="write Prometheus textfile metrics of a run",
        description="Write the run's metrics as a Prometheus textfile (for node_exporter).",
        formatter_class=HelpWithDefaults,
    )
    prm.add_argument("run_dir", type=Path, help="the run directory (OUT/<run_id>)")
    prm.add_argument("--output", type=Path, help="default RUN_DIR/livesession.prom")
    prm.set_defaults(handler=cmd_prom)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; user errors become one line on stderr and exit code 2."""
    parser = build_parser()
    as_json = "--json" in (sys.argv[1:] if argv is None else list(argv))
    try:
        args = parser.parse_args(argv)
        handler = getattr(args, "handler", None)
        if handler is None:
            parser.print_help()
            return EXIT_BAD_INPUT
        return int(handler(args))
    except LiveSessionError as exc:
        line = redact_text(str(exc))
        print(f"livesession: error: {line}", file=sys.stderr)  # noqa: T201 - the CLI's output
        if as_json:
            emit_json({"ok": False, "exit_code": EXIT_BAD_INPUT, "error": line})
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
