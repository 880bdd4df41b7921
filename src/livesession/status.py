"""Where a run stands, for a supervisor: ``livesession status`` and ``livesession list``.

Read-only, and safe beside a live writer: the writer lock is only queried (``holder_of``),
never taken, and nothing in the run directory is written. What it reports:

- the state and status: the last whole line of ``state_snapshots.jsonl`` (a snapshot is
  written at every state change, so this is the state now, also for a live run); for a
  crashed run, the checkpoint's, which is where ``resume`` continues from; for a run
  killed while it started (``run.json``, nothing recorded), that, as ``verify`` says it;
  for a directory a writer holds before it wrote ``run.json`` (checking its data file),
  ``running`` and starting; for one killed so (``writer.lock`` alone, held by no process),
  ``not_a_run``, saying so and how to start it again (``dryrun`` takes it over);
- the steps as of the last checkpoint (``checkpoint.json``); how often the run was resumed,
  and from where (its audit log's ``C2_RESUME`` records, read back from its end: ``resumes``);
- the position and open orders, and for a run that goes on, what they are read from: a
  live run's position from its newest ``POSITION_CHANGED`` since the checkpoint, a crashed
  run's from the checkpoint (what ``resume`` restores), with what the events after it show
  when that differs (a fill whose ``POSITION_CHANGED`` was not written counted too); open
  orders from the checkpoint, said so (``_rundir.standing``);
- the trading state: for a live run, that of the newest trading event written since its
  last checkpoint (a throttle or the kill switch halts between checkpoints), read from the
  end of ``events.jsonl`` back to the checkpoint's offset only; else the checkpoint's;
- the heartbeat: when ``checkpoint.json`` was last written (its mtime, wall time). A live
  session rewrites it every ``checkpoint_every`` steps and when it seals, so a supervisor
  judges staleness against that cadence times the step's wall time. (``timings.json`` is
  written only when a CLI run ends, so it cannot be a heartbeat.);
- the writer holding the run now, if any (pid, host, since when, command), and whether it
  is stopped (SIGSTOP, Ctrl-Z: it answers no control until it runs again), and whether it
  took a stop inside a step it has not acted on yet (``stop_pending``: read, not locked);
- whether ``livesession resume`` would take the run (the read-only half of its checks);
- the lease: the local lease file's entry, or, for PostgreSQL, the last lease record in
  the run's audit log (the database is not queried).

One verdict per run, each with its own exit code, so a supervisor acts on the code alone:

=================  ====  ==========================================================
verdict            code  meaning
=================  ====  ==========================================================
completed          0     sealed ``COMPLETED``
not_a_run          2     no run here (no ``run.json``, nor events and audit log)
rejected           3     sealed ``REJECTED`` by preflight: nothing traded
failed             4     sealed ``FAILED`` after a wind-down (cancelled, flattened)
needs_operator     5     a person must look: live or sealed in ERROR_REQUIRES_OPERATOR,
                         crashed and not resumable, sealed as the checkpoint or audit
                         log says but the files do not bear it out, or holding a run
                         file that is not a regular file (``problem``)
crashed            6     no process writes it and it is not sealed: resume it
running            7     a process holds its writer lock, and the run is not sealed (one
                         sealed whose process still closes is its seal's verdict,
                         ``closing`` saying so)
=================  ====  ==========================================================

A file of the run that is there but that the system will not let status read (no
permission, no file descriptor left) gets no verdict: its ``OSError`` propagates, naming
the file, and the CLI says so in one line, exit 2. Judged from what could be read, a clean
sealed run was ``needs_operator`` with a seal "not borne out", a tampering claim.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import attrs

from ._artifacts import names
from ._artifacts.releases import unlocked_says
from ._artifacts.runfiles import no_runs_there, odd_files, odd_said
from ._artifacts.runread import (
    is_run_dir,
    killed_while_starting_says,
    last_whole_line,
    read_json_object,
)
from ._cli_status import resumable_from
from ._domain import clock as _clock
from ._domain.lifecycle import SessionState, reported_status
from ._exceptions import LiveSessionError, RunDirectoryError
from ._rundir.alerting import posted
from ._rundir.alertlog import alert_tally
from ._rundir.backing import lease_standing
from ._rundir.brokers import resume_credentials
from ._rundir.holderproc import pending_signals, runs_as, unseen_here
from ._rundir.layout import read_run_config
from ._rundir.loading import loading_resume, one_look
from ._rundir.lock import Holder, holder_of, stopped
from ._rundir.onestop import stop_pending
from ._rundir.pastcheckpoint import damage_past
from ._rundir.refused import StoreRefusal, store_refusal
from ._rundir.reseal import sealing_checkpoint
from ._rundir.resumable import resume_problem
from ._rundir.resumes import resumes_of
from ._rundir.seal import claimed_seal, held_seal, unwritten_says
from ._rundir.standing import (
    GoingOn,
    heartbeat,
    keeps_checkpoints,
    not_a_run,
    objects_given,
    run_book,
    trading_of,
    unbooked_fill,
)
from ._rundir.starting import killed_before_writing, no_run_shown, starting_says
from ._rundir.statuswords import closing_says
from ._rundir.stopasked import stop_asked
from ._support.oserrors import said as oserror_said
from ._support.secrets import ALERT_ENV
from ._support.text import command, json_path, json_text, natural_key, one_line, text_field
from ._verdict import Verdict

__all__ = ["RunStatus", "Verdict", "list_runs", "run_status"]


@attrs.frozen(kw_only=True)
class RunStatus:
    """Where one run stands (``livesession status``); ``to_json`` is its ``--json`` object."""

    run_dir: str
    verdict: Verdict
    run_id: str | None = None
    state: str | None = None
    status: str | None = None
    reason: str = ""
    stop_asked: str = ""  # sealed with no reason: the one its caller gave the stop, if any
    stop_pending: str = ""
    """A live run's writer took a stop and has not acted on it yet (inside a long step): why
    it is known (``it took a stop signal, and acts on it at its next step boundary``); ""
    for none known, and any other run (``_rundir.onestop.stop_pending``)."""
    steps: int | None = None
    """Steps done at the last checkpoint (None before the first); in a run that keeps no
    checkpoint (the runbook's four files), at its last state snapshot."""
    steps_planned: int | None = None
    checkpoint_every: int | None = None
    heartbeat_utc: str | None = None
    """When ``checkpoint.json`` was last written (wall time, RFC 3339 UTC)."""
    heartbeat_age_s: float | None = None
    writer: dict[str, Any] | None = None
    """pid, host, since, command, and ``stopped``: how it is stopped ("" when it runs), with
    ``pending``: the operator's signals it holds till it runs again (``SIGTERM``, ...)."""
    resuming: dict[str, Any] | None = None
    """A crashed run's ``livesession resume`` that loads, not holding it yet: ``pid``, and
    ``stopped`` as ``writer``'s (``_rundir.loading``); None for none, and any other run."""
    resumable: bool = False
    resume_problem: str | None = None
    damaged_tail: str = ""
    """A crashed run's first line past its checkpoint that a crash does not explain (more
    than a torn last line: ``events.jsonl:279 does not hash to its event_id: ...``), which
    ``resume`` sets aside with the rest of the tail; "" for none, and for any other run."""
    credentials: tuple[str, ...] = ()
    """The variables ``resume`` reads the run's credentials from (a ccxt run's): names only."""
    alerts_env: str = ""
    """The variable a resume takes the webhook's URL from, for a run that posted to one
    (``run.json``'s ``alerts``, or its ``alerts.jsonl``); "" for one that did not."""
    alerts: dict[str, int] | None = None
    """The webhook's deliveries over every process of the run (``alerts.jsonl``: posted,
    delivered, failed, dropped, abandoned); None for a run with no ``alerts.jsonl``."""
    unlocked: str = ""
    """Unsealed, of a release that takes no writer lock: it may be live (``unlocked_says``)."""
    lease: dict[str, Any] | None = None
    trading: str | None = None
    """ACTIVE, REDUCING or HALTED: for a live run now (its newest trading event), else at
    the last checkpoint (None before the first)."""
    trading_as_of: str = ""
    """For a live run, what ``trading`` is read from when it is not the checkpoint's: the
    event that set it since (``since KILL_SWITCH (SIGNAL_SIGUSR1), run time ...``)."""
    kill_halted: bool = False
    """``trading`` is the kill switch's HALTED (``checkpoint.json``'s ``kill_halted``; a live
    run's ``KILL_SWITCH`` since it): not a throttle's, a broker halt's, a fault's."""
    halted_by: str = ""
    """A run HALTED, live or not: by what, in words (a broker halt, the execution throttle,
    ``the kill switch (DAILY_LOSS)``: ``halts``); "" for any other run."""
    positions: dict[str, str] = attrs.field(factory=dict)
    """A live run's now (its newest ``POSITION_CHANGED``), a crashed run's at its last
    checkpoint (what ``resume`` restores), a sealed run's at its end."""
    open_orders: list[dict[str, Any]] = attrs.field(factory=list)
    positions_as_of: str = ""
    """For a run that goes on, what ``positions`` is read from (``as of POSITION_CHANGED at
    run time ...``, ``as of the last checkpoint (step 100), what resume restores; events
    after it show BTC/USDT 0.010``, ``no checkpoint yet``); "" for a sealed run."""
    positions_after_checkpoint: dict[str, str] = attrs.field(factory=dict)
    """A crashed run: what its events after the last checkpoint show, where they differ."""
    open_orders_as_of: str = ""
    """For a run that goes on: ``as of the last checkpoint (step 100)``, or ``unknown: no
    checkpoint yet``; "" for a sealed run. A crashed run's: ``...; events after it show 2 open``."""
    open_orders_after_checkpoint: list[dict[str, Any]] | None = None
    """A crashed run: the orders open when it died, as its events after the checkpoint show."""
    position_in_doubt: str = ""
    """The fill the book refused (``BROKER_REPORT_INVALID``), or the venue's fills it never
    saw (``RECONCILE_MISMATCH``, ``FILL_NOT_SEEN``): ``positions`` are the book's."""
    problem: str = ""
    """For ``not_a_run``: what is missing; for ``needs_operator``: what the files lack for
    the seal they claim (then ``verify`` says more), or the file that is not regular."""
    unread: bool = False
    """Nothing of the run was read (a file of it is not a regular file: ``problem``): its
    state, position and orders are unknown, not none."""
    sealed: bool = False
    """Sealed, and the files bear it out (``_rundir.seal``, as ``report`` and ``evidence``
    read it): not for a live run, a crash, nor a seal in doubt (``problem``)."""
    objects: dict[str, str] = attrs.field(factory=dict)
    """Plug-ins the run was started with as objects (``strategy``: ``pkg.mod.Class``):
    only ``resume_run`` with the same objects passed again can continue it."""
    store_refused: str = ""  # crashed: the store whose refused write stopped it, or ""
    _store: StoreRefusal | None = attrs.field(default=None, repr=False, eq=False, alias="store")
    """What ``store_refused`` was read from, for ``next`` (None: read then): read once."""
    _kept: dict[str, Any] | None = attrs.field(default=None, repr=False, eq=False, alias="kept")
    """``{"config": ...}``, the checkpoint's config as read, for ``next``'s check of
    ``config.json`` against it (None: the file read then): a heavy checkpoint parsed once."""
    resumes: int = 0  # its C2_RESUME records read (a floor when ``resumed`` says "at least")
    resumed: str = ""  # ``2 times, the last from step 200``; "" for a run never resumed
    set_aside: str = ""  # a crashed run's bytes in ``<file>.torn`` no C2_RESUME counts, why
    killed_while_starting: str = ""
    """A run killed after ``run.json``, before it recorded anything: what it is, as
    ``verify`` says it (``a run killed while it started: ...``); one killed before it wrote
    anything (``not_a_run``: ``writer.lock`` alone, ``dryrun`` takes it over), likewise;
    "" for any other run."""
    starting: str = ""
    """A directory a writer holds before its first records (``_rundir.starting``): it checks
    its data file, or opens its broker; ``running``, and this says so; "" for any other."""
    unwritten_checkpoint: str = ""
    """A run its audit log seals whose process ended before the sealing checkpoint: that,
    and the command that writes it (``its sealing checkpoint was not written ...``); ""
    for any other run. It is shown as it will be once written (``_rundir.reseal``)."""
    closing: str = ""
    """A sealed run whose process (``writer``) has not let it go yet, as its session closes:
    that, and that the run's records will not change (``closing_says``); "" otherwise."""

    @property
    def exit_code(self) -> int:
        """The verdict's exit code."""
        return self.verdict.value

    def next_step(self) -> str:
        """What a person or supervisor does next, in one line (``_cli_status.next_step``)."""
        from ._cli_status import next_step  # noqa: PLC0415 - it reads this module's Verdict

        return next_step(self, store=self._store, kept=self._kept)

    def to_json(self) -> dict[str, Any]:
        """The ``--json`` object: every field, the verdict by name, its exit code, and next."""
        data = attrs.asdict(self, recurse=False)
        del data["_store"]  # said as ``store_refused``
        del data["_kept"]  # said as ``next``
        data["run_dir"] = json_path(self.run_dir)  # its bytes, under any locale
        data["problem"] = json_text(self.problem)  # and the paths it names
        data["verdict"] = self.verdict.label
        data["exit_code"] = self.exit_code
        data["never_traded"] = self.state == SessionState.PREFLIGHT_FAILED.value
        data["next"] = self.next_step()
        data["resumable_from"] = resumable_from(self)
        return data

    def lines(self) -> list[str]:
        """What ``livesession status`` prints: one ``label  value`` line each."""
        from ._cli_status import status_lines  # noqa: PLC0415 - it reads this module's Verdict

        return status_lines(self)


def _writer(holder: Holder, run_dir: Path) -> dict[str, Any]:
    """``writer``: the holder, how it is stopped, and what it holds pending meanwhile.

    ``runs_as``: the user it runs as when this one may not signal it ("" otherwise).
    ``unseen``: why this host's process of its pid is not it (``unseen_here``: it runs in
    another container), when so; then neither that process's user nor its stop is said.
    """
    if unseen := unseen_here(holder, run_dir):
        return attrs.asdict(holder) | {
            "stopped": "",
            "pending": [],
            "runs_as": "",
            "unseen": unseen,
        }
    said = stopped(holder)  # "" for a running holder: it has nothing pending to say
    return attrs.asdict(holder) | {
        "stopped": said,
        "pending": pending_signals(holder) if said else [],
        "runs_as": runs_as(holder),
        "unseen": "",
    }


def _sealed_verdict(state: object, *, failed: bool) -> Verdict:
    if state == SessionState.ERROR_REQUIRES_OPERATOR.value:
        return Verdict.NEEDS_OPERATOR  # sealed FAILED: the venue is in doubt
    if failed:
        return Verdict.FAILED
    if state == SessionState.PREFLIGHT_FAILED.value:
        return Verdict.REJECTED
    return Verdict.COMPLETED


def run_status(run_dir: str | os.PathLike[str], *, now: dt.datetime | None = None) -> RunStatus:
    """Where the run in ``run_dir`` stands. Never raises for a bad path (``not_a_run``).

    ``run_dir`` is a ``str`` or any ``os.PathLike``. ``now`` is the wall time the heartbeat's
    age is measured against (default: now).

    Raises:
        OSError: the system refused to read a file of the run (``raise_if_refused``), named
            as the error's ``filename``: no verdict is drawn from a file that was not read.
    """
    run_dir = Path(run_dir)
    now = now or _clock.SystemClock().now()
    if odd := odd_files(run_dir):  # a FIFO there made status wait for ever: nothing is opened
        said = odd_said(run_dir, odd)
        return RunStatus(
            run_dir=str(run_dir), verdict=Verdict.NEEDS_OPERATOR, problem=said, unread=True
        )
    problem = not_a_run(run_dir)
    holder = holder_of(run_dir) if run_dir.is_dir() else None
    if problem and holder is None:  # held, it is a run starting: running, as below
        killed = killed_before_writing(run_dir)
        found = RunStatus(
            run_dir=str(run_dir), verdict=Verdict.NOT_A_RUN, killed_while_starting=killed
        )
        said = f"{run_dir} is {killed}; {found.next_step()}" if killed else problem
        return attrs.evolve(found, problem=said)
    try:
        cfg, meta = read_run_config(run_dir, any_release=True)  # described, never re-run
    except LiveSessionError:
        cfg, meta = None, {}
    checkpoint = read_json_object(run_dir / names.CHECKPOINT)
    snapshot = last_whole_line(run_dir / names.SNAPSHOTS)
    state = text_field(snapshot, "fsm_state") or text_field(checkpoint, "fsm_state")
    status = text_field(snapshot, "status")
    # A writer's files move until its seal is whole; a sealed run whose session closes is sealed.
    seal = (claimed_seal if holder is None else held_seal)(run_dir, checkpoint, snapshot)
    live = holder is not None and seal is None  # held and sealed: the session closes
    unwritten = seal is not None and seal.unwritten and not seal.doubt
    if unwritten:  # shown as the sealing checkpoint `resume` writes will show it
        checkpoint = sealing_checkpoint(run_dir, checkpoint, snapshot)
    sealed = None if seal is None else _sealed_verdict(seal.fsm_state, failed=seal.failed)
    problem_of_resume: str | None = None
    doubt = "" if seal is None else seal.doubt
    if live:
        operator = state == SessionState.ERROR_REQUIRES_OPERATOR.value
        verdict = Verdict.NEEDS_OPERATOR if operator else Verdict.RUNNING
    elif doubt:
        verdict = Verdict.NEEDS_OPERATOR  # never "completed" on files that do not say so
    elif sealed is not None:
        verdict = sealed
    else:
        problem_of_resume = resume_problem(run_dir, checkpoint)
        verdict = Verdict.CRASHED if problem_of_resume is None else Verdict.NEEDS_OPERATOR
        if verdict is Verdict.CRASHED and checkpoint.get("fsm_state"):
            # Where resume continues from: the checkpoint (later snapshots are cut).
            state = str(checkpoint["fsm_state"])
            status = reported_status(state, failed=bool(checkpoint.get("failed")))
    beat, age = heartbeat(run_dir, now)
    crashed = holder is None and seal is None and keeps_checkpoints(run_dir, checkpoint)
    going_on: GoingOn = "live" if live else ("crashed" if crashed else None)
    resumable = verdict is Verdict.CRASHED
    held = run_book(run_dir, checkpoint, snapshot, going_on=going_on, resumable=resumable)
    steps = checkpoint.get("steps") if checkpoint else (snapshot or {}).get("step")
    acted = state in (SessionState.STOPPING.value, SessionState.STOPPED.value)  # it winds down
    pending = stop_pending(run_dir, holder.pid) if live and holder and not acted else ""
    whole, resumed = seal is not None and seal.whole, resumes_of(run_dir)
    # A crashed run's refused write, resumable or not (a person must look: what stopped it).
    store = (
        store_refusal(run_dir)
        if verdict is Verdict.CRASHED or problem_of_resume is not None
        else StoreRefusal()
    )
    return RunStatus(
        run_dir=str(run_dir),
        verdict=verdict,
        run_id=cfg.run_id if cfg is not None else text_field(snapshot, "run_id"),
        problem=doubt,
        sealed=whole,
        state=state,
        status=status,
        reason=str(checkpoint.get("reason") or ""),
        stop_asked=stop_asked(run_dir) if whole and not checkpoint.get("reason") else "",
        stop_pending=pending,
        steps=steps if isinstance(steps, int) else None,
        steps_planned=None if cfg is None else cfg.steps,
        checkpoint_every=None if cfg is None else cfg.checkpoint_every,
        heartbeat_utc=beat,
        heartbeat_age_s=age,
        writer=None if holder is None else _writer(holder, run_dir),
        resuming=loading_resume(run_dir) if verdict is Verdict.CRASHED else None,
        resumable=resumable,
        resume_problem=problem_of_resume,
        damaged_tail=damage_past(run_dir, checkpoint) if resumable else "",
        credentials=resume_credentials(cfg, meta),
        alerts_env=ALERT_ENV if posted(run_dir, meta) else "",
        alerts=alert_tally(run_dir),
        unlocked=unlocked_says(run_dir, age) if holder is None and seal is None else "",
        lease=lease_standing(run_dir, meta, cfg, _clock.epoch_ns(now), sealed=whole),
        **trading_of(run_dir, checkpoint, live=live),
        objects=objects_given(meta),
        killed_while_starting="" if holder else killed_while_starting_says(run_dir),
        store_refused=store.says(),
        store=store,
        kept={"config": checkpoint.get("config")},  # a made-up seal keeps the one read
        resumes=resumed.count,
        resumed=resumed.says(),
        set_aside=resumed.set_aside(run_dir, checkpoint) if crashed else "",
        starting=starting_says(run_dir, no_run=bool(problem)) if holder else "",
        unwritten_checkpoint=unwritten_says(run_dir) if unwritten else "",
        closing="" if live or holder is None else closing_says(holder.pid, holder.command),
        positions=held.positions,
        open_orders=held.open_orders,
        positions_as_of=held.positions_as_of,
        positions_after_checkpoint=held.positions_after_checkpoint,
        open_orders_as_of=held.open_orders_as_of,
        open_orders_after_checkpoint=held.open_orders_after_checkpoint,
        position_in_doubt=one_line(unbooked_fill(run_dir, checkpoint)),
    )


def list_runs(
    out_dir: str | os.PathLike[str],
    *,
    now: dt.datetime | None = None,
    refused: list[OSError] | None = None,
) -> list[RunStatus]:
    """The status of every run directly under ``out_dir``, by name (other entries skipped).

    A directory a ``dryrun`` holds while it starts (``writer.lock`` alone) is listed as
    running; one whose writer was killed so, as what ``status`` calls it; what is left of a
    run (``run.json`` and ``audit.jsonl`` gone) as ``not_a_run``. With ``refused``
    a run whose file the system will not let it read is listed too, ``unread``, its
    ``problem`` naming the file, and the ``OSError`` added to ``refused``: the other runs
    are not hidden by it. So is a directory it may not look into (another user's, mode
    700): whether it holds a run cannot be told.

    A run removed while it is read (a clean-up's ``rm -r`` as ``list`` runs) is left out, as
    a moment later it would have been, not judged on the files left at that moment, nor
    said unread for a file that went with it.

    Raises:
        RunDirectoryError: ``out_dir`` is missing, not a directory, or a run itself.
        OSError: the system refused to read a file of one of the runs (``run_status``),
            without ``refused``.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():  # a typo in the path (a run id, say), or a file in the way
        raise RunDirectoryError(no_runs_there(out_dir))
    if is_run_dir(out_dir):
        raise RunDirectoryError(
            f"{out_dir} is a run, not a directory of runs: `{command('status', out_dir)}` "
            f"says where it stands (`{command('list', out_dir.parent)}` lists it with the others)"
        )
    now = now or _clock.SystemClock().now()
    found = []
    with one_look():  # at the processes, for each crashed run's loading resume
        # Numbers as numbers (demo-999 before demo-1000); the name breaks a tie (demo-01, demo-1).
        for child in sorted(out_dir.iterdir(), key=lambda c: (natural_key(c.name), c.name)):
            if child.name.startswith("."):
                continue
            try:  # a directory it may not look into (another user's run) is unread, not the end
                if child.is_dir() and (is_run_dir(child) or no_run_shown(child)):
                    judged = run_status(child, now=now)
                    if child.is_dir():  # gone while read (an rm -r): what was read is no run
                        found.append(judged)
            except OSError as exc:
                if not child.is_dir():  # gone while read, with the file it was reading
                    continue
                if refused is None:
                    raise
                refused.append(exc)
                found.append(_unreadable(child, exc))
    return found


def _unreadable(run_dir: Path, exc: OSError) -> RunStatus:
    """A run with a file the system would not let ``list`` read: no verdict drawn from it."""
    named = exc.filename2 or exc.filename or run_dir
    said = (
        f"{named}: {oserror_said(exc)}: the system would not let it be read, so nothing of "
        "the run was judged (its state, position and orders are unknown, not none)"
    )
    return RunStatus(
        run_dir=str(run_dir), verdict=Verdict.NEEDS_OPERATOR, problem=said, unread=True
    )
