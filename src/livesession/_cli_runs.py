"""The ``livesession`` commands that run a session: ``dryrun`` and ``resume``.

They drive the session to its end in one process, act on operator signals between steps
(``control.py``), print the summary line and return the exit code.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, TextIO, cast

from ._artifacts import names
from ._artifacts.runread import read_json_object, require_run
from ._artifacts.timings import StepTimer  # imported before a run directory is made
from ._artifacts.unplayed import file_rows, unplayed
from ._cli_alerts import alert_counts, alerts_line, say_unalerted, say_undelivered
from ._cli_bar import check_bar, redraws, run_bar
from ._cli_endings import say_lease_kept, say_rejected, say_unclosed
from ._cli_output import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    checkpoint_refused,
    checkpoint_written,
    emit_json,
    no_checkpoint_kept,
    not_sealed,
    refused,
    unsynced_seal,
    unwritten_checkpoint,
)
from ._cli_signals import InterruptedUnsealed, ended_by_signal
from ._cli_streams import streams_back
from ._cli_summary import (
    broker_failures_line,
    desk_rules,
    exposure_line,
    failure_line,
    print_config,
    rejected_line,
    result_json,
    resumed_line,
    risk_blocks,
    say_log_lost,
    say_timings_lost,
    trading_line,
)
from ._domain.config import DryrunConfig, load_config
from ._domain.configfile import config_keys
from ._domain.decimal import amount_text
from ._domain.lifecycle import SessionState, SessionStatus
from ._domain.reasons import LEASE_LOST
from ._exceptions import LiveSessionError, PluginError, SinkFailure, StoreFailure
from ._rundir.layout import free_run_id
from ._rundir.locallocks import say_local_only_locks
from ._rundir.seal import claimed_seal
from ._session.coordinator import ONE_SHOT_OPERATOR, DryrunResult, LiveSessionOrchestrator
from ._support.anchor import paths_as_given
from ._support.handlerraised import handler_raised_said, raised_in_handler
from ._support.logging import configure_logging, disable_logging, import_structlog_without_rich
from ._support.oserrors import cwd_kept, errno_of, once_fixed, once_fixed_in
from ._support.secrets import redact_text
from ._support.text import one_line, path_text
from ._support.wholelines import LineLog

if TYPE_CHECKING:
    from ._artifacts.metrics import MetricsCollector
    from .control import SignalControls

__all__ = ["cmd_dryrun", "cmd_resume", "risk_blocks"]

_PROGRESS_MIN_STEPS: Final = 20_000
_DEMO_ID_TRIES: Final = 20
"""How often ``dryrun`` chooses the next free demo id when another process took its choice."""


def _exit_code(result: DryrunResult) -> int:
    codes = {SessionStatus.COMPLETED: EXIT_OK, SessionStatus.REJECTED: EXIT_REJECTED}
    return codes.get(result.status, EXIT_FAILED)


def _summary(
    result: DryrunResult,
    run_dir: Path,
    wall_s: float,
    metrics: MetricsCollector,
    alerts: dict[str, int] | None,
    *,
    planned: int,
) -> None:
    """Print the summary's lines.

    ``steps`` says ``N of PLANNED`` as ``status`` and ``evidence`` do: a run that ended
    short of its plan (a feed that ran out) shows it.
    """
    sink = metrics.count("SINK_WRITE_RETRIED")
    broker = metrics.count("BROKER_CALL_RETRIED")
    lines = [
        f"status      {result.status.value}" + (f" ({result.reason})" if result.reason else ""),
        f"run         {result.run_id}",
        f"steps       {result.steps} of {planned}{_unplayed(run_dir, result.steps, planned)}",
        *resumed_line(run_dir),
        f"orders      {result.orders_submitted}",
        f"fills       {result.fills}",
        f"risk blocks {risk_blocks(metrics, desk_rules(run_dir))}",
        f"trading     {trading_line(result, metrics, run_dir)}",
        f"position    {exposure_line(result)}",
        f"rejected    {rejected_line(metrics)}",
        f"retries     {sink + broker} (sink {sink}, broker {broker})",
        *broker_failures_line(result),
        *alerts_line(alerts),
        f"pnl         {amount_text(result.pnl)}",  # as the report shows it: 226.53
        f"equity      {amount_text(result.equity)}",
        f"wall        {wall_s:.2f} s",
        f"artifacts   {path_text(run_dir)}",
    ]
    print("\n".join(lines))  # noqa: T201 - the CLI's output


def _unplayed(run_dir: Path, steps: int, planned: int) -> str:
    """`` (M of the data file's N bars were not played: ...)`` after the steps, or ""."""
    said = unplayed(file_rows(read_json_object(run_dir / names.RUN_META)), steps, planned)
    return f" ({said})" if said else ""


def _drive(
    session: LiveSessionOrchestrator,
    steps: int,
    on_step: Callable[[int], object],
    controls: SignalControls,
) -> DryrunResult:
    """``run_to_end`` with the operator's signals acted on between steps (never inside one)."""
    if session.state is SessionState.INIT:
        session.preflight()
    if session.state is SessionState.PREFLIGHT_OK:
        session.activate()
    at_boundary = controls.at_step_boundary
    at_boundary(session)  # a signal that came before the first step

    def progress(done: int) -> None:
        on_step(done)
        at_boundary(session)  # run_to_end calls this between steps, outside the session lock

    result = session.run_to_end(steps, progress=progress, operator=ONE_SHOT_OPERATOR)
    # A kill or ack that came as the run wound down (no step boundary after it) is answered
    # (nothing to do, the session STOPPED), not left for its command to call lost.
    at_boundary(session)
    return result


def _unsealed_said(
    session: LiveSessionOrchestrator, run_dir: Path, drive: Callable[[], DryrunResult]
) -> DryrunResult:
    """``drive()``; a sink that failed so that the run could not be sealed says what next.

    The session such an error tore is closed first: that seals nothing, and posts its
    alert (``RUN_UNSEALED``) to the webhook before the process ends.
    """
    try:
        try:
            with cwd_kept():  # run_dir, and each path the CLI says, is the user's cwd's
                return drive()
        except BaseException:
            with contextlib.suppress(Exception):  # what tore it is what the line says
                session.close()
            raise
        finally:
            say_lease_kept(session, run_dir)
            say_unclosed(session, run_dir)
    except SinkFailure as exc:
        cause = exc.__cause__
        why = (
            f" ({redact_text(cause.strerror or str(cause))})" if isinstance(cause, OSError) else ""
        )
        once = once_fixed(errno_of(exc))
        raise SinkFailure(not_sealed(f"{exc}{why}", run_dir, once=once)) from exc
    except (LiveSessionError, SystemExit, KeyboardInterrupt) as exc:
        # The session is torn (a store refused a write, a PostgreSQL server went away, a
        # plug-in called sys.exit() or raised KeyboardInterrupt inside a step): its run is a
        # crash at its checkpoint. Exit 0 for a plug-in's SystemExit would tell a supervisor
        # the run completed; a bare "interrupted" would not say that it is unsealed.
        if claimed_seal(run_dir) is not None:  # torn after its seal: the error as it is
            raise
        what, once = _torn_said(exc, run_dir)
        if isinstance(exc, KeyboardInterrupt):  # still 130: the run is unfinished
            raise InterruptedUnsealed(not_sealed(what, run_dir, once=once)) from exc
        raise LiveSessionError(not_sealed(what, run_dir, once=once)) from exc
    except BaseException as exc:
        # A signal handler of the user's raised (a strategy's time limit) where its signal
        # landed, in the session's own work: the error is the user's, said in one line.
        if not raised_in_handler(exc):
            raise
        if claimed_seal(run_dir) is not None:  # it came as the run was sealed
            raise LiveSessionError(f"{handler_raised_said(exc)}, as the run ended") from exc
        what = f"{handler_raised_said(exc)} inside a step"
        raise LiveSessionError(not_sealed(what, run_dir, once="it no longer raises")) from exc


def _torn_said(exc: LiveSessionError | SystemExit | KeyboardInterrupt, at: Path) -> tuple[str, str]:
    """What tore the run, and what must be so before it is resumed.

    A ``KeyboardInterrupt`` here is never the operator's Ctrl-C: while the CLI runs a
    session its SIGINT handler only asks for a stop at the next step boundary.
    """
    if isinstance(exc, SystemExit):
        what = f"a plug-in raised SystemExit({exc.code!r}) inside a step"
        return what, "it no longer exits the process"
    if isinstance(exc, KeyboardInterrupt):
        return "a plug-in raised KeyboardInterrupt inside a step", "it no longer raises it"
    if isinstance(exc, StoreFailure) or errno_of(exc) is not None:  # a refused checkpoint too
        return str(exc), once_fixed_in(exc, at)  # a full disk, a quota, no descriptor left
    return str(exc), "what the line names is put right"


def _run(
    session: LiveSessionOrchestrator,
    run_dir: Path,
    steps: int,
    *,
    quiet: bool,
    controls: SignalControls,
    as_json: bool = False,
) -> int:
    # What writes or reads the run while a plug-in may chdir() elsewhere: fixed paths.
    timer = StepTimer(
        run_dir.absolute(), run_id=session.config.run_id, events_from=session.recorder.event_seq
    )
    controls.run_dir = run_dir.absolute()
    quiet = quiet or as_json
    try:
        if not quiet and redraws():
            at_once = steps - session.steps_done >= _PROGRESS_MIN_STEPS
            bar = run_bar(timer.on_step, total=steps, done=session.steps_done, at_once=at_once)
            with bar as tick:
                result = _unsealed_said(
                    session, run_dir, lambda: _drive(session, steps, tick, controls)
                )
        else:
            result = _unsealed_said(
                session, run_dir, lambda: _drive(session, steps, timer.on_step, controls)
            )
        streams_back()  # a plug-in's sys.stdout = ... is its own: the summary is the CLI's
        timings = timer.finish(steps=result.steps, events=session.recorder.event_seq)
        _refuse_unsealed(session, result, run_dir)
    except BaseException:
        # Not sealed (or torn after its seal): the error line follows. The alerts the webhook
        # did not take (that run's RUN_UNSEALED too) are said first, as a sealed run's are.
        say_undelivered(run_dir, alert_counts(run_dir, session.config))
        raise
    say_timings_lost(timer.lost)  # a run's error line says what refused it, this included
    alerts = alert_counts(run_dir, session.config)  # its session closed: the closed line
    if not quiet:
        metrics = session.recorder.metrics
        _summary(result, run_dir, timings["wall_s"], metrics, alerts, planned=steps)
    if result.status is SessionStatus.REJECTED:
        say_rejected(result, run_dir, session.config)
    if result.status is SessionStatus.FAILED:
        why = failure_line(result, run_dir, session.inspect().fault_cause)
        print(one_line(f"livesession: failed: {why}"), file=sys.stderr)  # noqa: T201 - the CLI's output
    elif controls.stop_reason and result.reason == controls.stop_reason:
        print(  # noqa: T201 - the CLI's output
            f"livesession: stopped by {controls.stop_reason.removeprefix('SIGNAL_')} after "
            f"{result.steps} steps: cancelled, flattened and sealed {result.status.value}: "
            f"{one_line(path_text(run_dir))}",
            file=sys.stderr,
        )
    say_undelivered(run_dir, alerts)
    code = _exit_code(result)  # sealed: its stop signals are ignored from here (control.py)
    if as_json:
        metrics = session.recorder.metrics
        said = result_json(
            result, run_dir, timings["wall_s"], metrics, code=code, planned=steps, alerts=alerts
        )
        emit_json(said)
    return code


def _refuse_unsealed(session: LiveSessionOrchestrator, result: DryrunResult, run_dir: Path) -> None:
    """Raise ``SinkFailure`` saying what next when the run ended but its seal is not whole.

    The seal is the audit's ``C2_DRYRUN_STOP`` and then the sealing checkpoint; a full disk
    can refuse either. Without the stop record the run is not sealed, and ``resume``
    continues it from its checkpoint, to the same bytes. With it the run is sealed and only
    its checkpoint is missing, which ``resume`` writes (and nothing else). A session that
    lost its lease leaves the checkpoint as it was on purpose (the new holder may own the
    run directory): that is its seal.
    """
    recorder = session.recorder
    unsynced = session.inspect().seal_unsynced
    if unsynced:  # sealed in the files: no resume, but the disk failed a sync
        once = once_fixed(next(iter(recorder.errnos.values()), None))
        raise SinkFailure(unsynced_seal(run_dir, result.status.value, unsynced, once))
    once = once_fixed(recorder.errnos.get("audit"))  # what must be so before the resume
    if recorder.audit_failure is not None:
        record, cause = recorder.audit_failure
        what = f"the audit sink failed at record {record} writing {run_dir / names.AUDIT} ({cause})"
        raise SinkFailure(not_sealed(what, run_dir, once=once))
    if read_json_object(run_dir / names.CHECKPOINT).get("sealed") is True:
        return
    failed = next(iter(recorder.failures.items()), None)
    if failed is None and result.reason == LEASE_LOST:
        return
    refused = session.inspect().seal_checkpoint_error
    seal = claimed_seal(run_dir) if failed is None else None
    if seal is not None:  # no checkpoint before the seal (preflight rejected it): none kept
        said = unwritten_checkpoint if seal.unwritten else no_checkpoint_kept
        raise SinkFailure(said(run_dir, result.status.value, refused))
    what = checkpoint_refused(run_dir, refused)
    once = once_fixed(errno_of(refused)) if refused is not None else once
    if failed is not None:  # named with its file, as every other refused file of a run is
        file = {**names.ARTIFACTS, "metrics": names.METRICS}.get(failed[0])
        where = f" writing {run_dir / file}" if file else ""
        what = f"the {failed[0]} sink failed{where} ({failed[1]})"
        once = once_fixed(recorder.errnos.get(failed[0]))
    raise SinkFailure(not_sealed(what, run_dir, once=once))


@contextlib.contextmanager
def _session_log(run_dir: Path, level: str, run_id: str) -> Iterator[None]:
    """Log to ``run_dir/session.log.jsonl`` for the duration of the block (run ``run_id``)."""
    import logging  # noqa: PLC0415 - only to map the level name

    import_structlog_without_rich()  # the CLI's own process: see there
    # Appended to in whole lines, never through a symlink nor into a FIFO or device.
    stream = LineLog(run_dir / names.SESSION_LOG)
    try:
        configure_logging(cast("TextIO", stream), level=getattr(logging, level.upper()))
        say_local_only_locks(run_dir, run_id)  # a share another host may write: said at the start
        try:
            yield
        finally:
            disable_logging()
    finally:
        with contextlib.suppress(OSError):  # a full disk: the log loses its tail, no more
            stream.close()
    say_log_lost(run_dir / names.SESSION_LOG, stream.refused, stream.refusal)  # no error said


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
    keys = config_keys(config) if config is not None else set()
    if args.durability is not None:
        overrides["durability"] = args.durability
    elif "durability" not in keys:
        overrides["durability"] = "step"
    chosen = args.run_id is None and "run_id" not in keys  # the next free <name>-NNN
    cfg = load_config(config, overrides)
    if chosen:
        overrides["run_id"] = free_run_id(out, cfg)
        cfg = load_config(config, overrides)
    if args.print_config:  # OUT is only read (the next free run id): nothing is made
        print_config(cfg, as_json=args.json)
        return EXIT_OK
    from ._exceptions import RunHeld  # noqa: PLC0415
    from .control import SignalControls, StopBeforeRun  # noqa: PLC0415 - only for runs

    # Before the run directory: a process out of file descriptors fails here, and nothing
    # is left behind (the session log needs structlog, and one descriptor kept for it).
    import_structlog_without_rich()
    # The handlers go in before the run directory (and its lock) exists, so an operator
    # command never finds a holder that would die of SIGUSR1's default action.
    with SignalControls().installed() as controls:
        spare = os.open(os.devnull, os.O_RDONLY)
        try:
            with controls.creating(), check_bar(quiet=args.quiet):  # a data file's check
                session, cfg = _created(args, config, overrides, cfg, chosen=chosen)
        except RunHeld as exc:
            return refused(exc, as_json=args.json)
        except StopBeforeRun as stop:
            name = signal.Signals(stop.signum).name
            said = f"stopped by {name} before the run started: nothing was written"
            return ended_by_signal(said, 128 + stop.signum, as_json=args.json)
        finally:
            os.close(spare)  # now the session log's
        run_dir = out / cfg.run_id
        with _session_log(run_dir, args.log_level, cfg.run_id):
            return _run(
                session, run_dir, cfg.steps, quiet=args.quiet, controls=controls, as_json=args.json
            )


def _created(
    args: argparse.Namespace,
    config: Path | None,
    overrides: dict[str, Any],
    cfg: DryrunConfig,
    *,
    chosen: bool,
) -> tuple[LiveSessionOrchestrator, DryrunConfig]:
    """``create_run``; when ``dryrun`` chose the id and another took it, the next free one.

    Only a run id taken (``RunExists``, ``RunHeld``) moves on to the next: another dryrun
    in another terminal took it a moment ago. An id the user gave is theirs: refused. Any
    other failure (no file descriptor left, a directory it may not write) would fail the
    same way for every id, so it stops at once with its cause, and nothing left behind.
    """
    from ._exceptions import RunExists, RunHeld  # noqa: PLC0415
    from ._rundir.create import advising_the_cli, create_run  # noqa: PLC0415

    for _ in range(_DEMO_ID_TRIES):
        try:  # its refusals say --run-id, `livesession resume`, and OUT as typed
            with advising_the_cli(), paths_as_given():
                session = create_run(
                    cfg,
                    args.out,
                    idempotency_backend=args.idempotency_backend,
                    store=args.store,
                    lease=args.lease,
                )
        except (RunHeld, RunExists):
            if not chosen:
                raise
            overrides["run_id"] = free_run_id(args.out, cfg)
            cfg = load_config(config, overrides)
        else:
            return session, cfg
    raise LiveSessionError(f"no free run id in {args.out} after {_DEMO_ID_TRIES} tries")


def cmd_resume(args: argparse.Namespace) -> int:
    """Resume a crashed run from its last checkpoint and finish it."""
    from ._exceptions import LeaseHeld, RunHeld, SealCheckpointWritten  # noqa: PLC0415
    from ._rundir import resume_run  # noqa: PLC0415 - keeps `import livesession` light
    from ._rundir.create import from_the_command_line  # noqa: PLC0415
    from ._rundir.resume import say_resumed  # noqa: PLC0415
    from ._rundir.starting import require_written  # noqa: PLC0415
    from .control import SignalControls  # noqa: PLC0415 - only for runs

    try:  # killed while starting: started over; a dryrun starting there: refused (exit 3)
        run_dir = require_written(args.run_dir, unstarted=True, check=require_run)
    except RunHeld as exc:
        return refused(exc, as_json=args.json)
    with SignalControls().installed() as controls:
        try:
            with paths_as_given(), check_bar(quiet=args.quiet):  # RUN_DIR as typed; its data
                session = resume_run(run_dir)
        except (LeaseHeld, RunHeld) as exc:
            return refused(exc, as_json=args.json)
        except SealCheckpointWritten as exc:  # sealed: its sealing checkpoint, nothing else
            return checkpoint_written(exc, as_json=args.json)
        except PluginError as exc:  # objects supplied in-process: only resume_run takes them
            raise PluginError(from_the_command_line(run_dir, str(exc))) from None
        say_unalerted(run_dir, session.config)
        with _session_log(run_dir, args.log_level, session.config.run_id):
            say_resumed(session)
            return _run(
                session,
                run_dir,
                session.config.steps,
                quiet=args.quiet,
                controls=controls,
                as_json=args.json,
            )
