"""``run_failure_matrix``: your strategy, under fault schedules, crashes and resumes.

Each example (a ``MatrixCase`` drawn by hypothesis) runs the user's strategy twice on a
``FaultBroker`` armed by the same fault schedule: once straight through, once killed and
resumed from its checkpoint state with a *fresh* strategy from the factory (restored with
``set_state``), as a new process would, except that the modules' globals outlive it here
(the resume in a new process is ``_crossprocess``'s, below). The kill comes at the first
quiet step from ``kill_after`` on: no order open or in doubt, no report owed by the venue,
no reconcile difference pending, and no reconcile decision taken by the uninterrupted run
within the resume's replay window after it. (A resume holds grace-based reconcile
decisions for that window, so a kill there may rightly change when they are taken.) An
example with no such step is checked without the resume; ``MatrixReport.resumes`` counts
those that had one. After ``steps`` steps the venue recovers (armed faults are cleared)
and the operator stops the session (acknowledging a fault at most twice). Then, for both
runs:

- the artifacts verify (``livesession.verify``, on what the sinks hold);
- the strategy never raised (no ``STRATEGY_ERROR``), nor the feed (no ``FEED_ERROR``),
  and nothing else did that the venue's faults do not explain (no ``UNEXPECTED_ERROR``,
  which the operator's ack would wind down);
- no client order id was sent twice (the venue's count and ``ORDER_SUBMITTED`` events);
- the session is terminal, the book flat, and no order is open here or at the venue;
- no rail was bypassed: no order larger than ``risk.max_order_qty`` reached the venue
  (reduce-only orders aside), and nothing but the kill switch's flatten order was sent
  while trading was HALTED;

and the resumed run's ``events.jsonl`` equals the uninterrupted run's, line for line. That
check catches a strategy whose ``get_state`` forgets part of its memory (or a feed whose
``get_state`` forgets its position); when it fails, a second uninterrupted run tells a
strategy that is not deterministic at all from one that forgets (``_differences``).

All of that runs in one process, where hashes, set order and ``id()`` never change and
a module's globals survive every kill; so the fault-free case's uninterrupted run is also
run once in a child process with another ``PYTHONHASHSEED``, during the search, and its
bytes compared; and that child's kills of the same run (at most ``NEW_PROCESS_KILLS``) are
resumed in a second child, a fresh interpreter, and must give the same events
(``_crossprocess``).

A failing example is shrunk by hypothesis; ``run_failure_matrix`` then raises
``AssertionError`` naming the shrunk case and the seed, and Python that re-runs that one
case with the same arguments (``check_case``; ``_rerun``).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, Final

import orjson

from .._domain.config import DryrunConfig
from .._domain.reasons import FEED_EXHAUSTED
from .._domain.retry import RetryPolicy
from .._session.assembly import replay_window_ns
from .._session.closing import close_plugin
from .._support.optional import import_optional
from .._support.references import a_, uncallable
from .._typing import Strategy
from ._crossprocess import ChildRun, payload
from ._culprit import after_resume
from ._differences import new_process_difference, process_difference, resume_difference
from ._factories import check_bare, not_made, refuse_unused
from ._rerun import factory_name, matrix_rerun_line, rerun_line
from ._run import FeedFactory, StrategyFactory, Survivors
from ._run import MatrixRun as _Run
from ._storage import scratch_storage
from .model import MatrixCase, MatrixReport, an_int, at_least
from .tracking import mark_verified

__all__ = ["check_case", "run_failure_matrix"]

_BASE: Final[Mapping[str, Any]] = {
    "run_id": "matrix",
    "steps": 100_000,
    "max_steps": 100_000,
    "stop_max_polls": 40,
    "reconcile_grace_ms": 300_000,
    "volatility_bps": 30,
}
"""The matrix's config: reports are late by at most 120 s, well within the grace."""
FEWEST_STEPS: Final = 2
"""A kill needs a step before it and one after."""
NEW_PROCESS_KILLS: Final = 4
"""How many kill points of the fault-free run the resume in a new process tries (spread
over its quiet steps): one may hide a lost state (a strategy that would decide the same on
the next bar either way), a few rarely all do."""
_GRACE_EVENTS: Final = frozenset(
    {"RECONCILED", "RECONCILE_ESCALATED", "RECONCILE_MISMATCH", "ORDER_OUTCOME_RESOLVED"}
)


def _kill_points(run: _Run, earliest: int, window_ns: int) -> list[int]:
    """The quiet steps from ``earliest`` on whose resume hold would change nothing.

    A resume holds grace-based reconcile decisions for ``window_ns``: a kill is exact only
    when the uninterrupted run took none (no reconcile or outcome event) in that window.
    """
    bars: list[int] = []
    decisions: list[int] = []
    for line in run.sinks["events"].lines:
        event = orjson.loads(line)
        if event["event_type"] == "BAR":
            bars.append(event["ts_sim"])
        elif event["event_type"] in _GRACE_EVENTS:
            decisions.append(event["ts_sim"])
    points = []
    for step in run.quiet_after:
        if step < earliest or step >= len(bars):
            continue
        start = bars[step - 1]
        if not any(start < ts <= start + window_ns for ts in decisions):
            points.append(step)
    return points


def _kill_point(run: _Run, earliest: int, window_ns: int) -> int | None:
    """The first of ``_kill_points`` (None: there is none)."""
    points = _kill_points(run, earliest, window_ns)
    return points[0] if points else None


def _spread(points: list[int], most: int) -> list[int]:
    """At most ``most`` of ``points``, the first and the last among them, evenly apart."""
    if len(points) <= most:
        return points
    return sorted({points[n * (len(points) - 1) // (most - 1)] for n in range(most)})


def _probe(strategy_factory: StrategyFactory) -> Strategy:
    """A first strategy from the factory (to learn its id), or a ``TypeError`` saying why not.

    A plug-in factory takes ``strategy_id`` (and its params) as the config passes them; the
    matrix calls its factory bare, so those are bound first (``functools.partial``).
    """
    check_bare("strategy_factory", strategy_factory)
    probe: object = strategy_factory()
    if not isinstance(probe, Strategy):
        raise not_made("strategy_factory", probe, Strategy)
    if uncallable(probe, Strategy):  # a method of the wrong signature: never used
        close_plugin("strategy", probe)
        raise not_made("strategy_factory", probe, Strategy)
    return probe


def _config(
    strategy_factory: StrategyFactory,
    feed_factory: FeedFactory | None,
    config: Mapping[str, Any] | None,
) -> DryrunConfig:
    """The matrix's config for the strategy; each factory refused first when it cannot be."""
    probe = _probe(strategy_factory)
    strategy_id = probe.strategy_id
    close_plugin("strategy", probe)  # made only for its id: let go of what it holds
    if feed_factory is not None:
        check_bare("feed_factory", feed_factory)
    given: object = config  # typed a mapping, but a user's may be a list of pairs
    if given is not None and not isinstance(given, Mapping):
        msg = f"config must be a mapping of DryrunConfig fields, got {a_(type(given).__name__)}"
        raise TypeError(msg)
    # As a config file's: an unknown field is a ConfigError naming it (and the nearest).
    fields = {**_BASE, "strategy_id": strategy_id, **(config or {})}
    bound = fields["max_steps"]
    if "steps" not in (config or {}) and type(bound) is int and 0 < bound < _BASE["steps"]:
        # The matrix steps each run itself; a max_steps given alone bounds its own default
        # (else refused as `steps (100000) is above the bound`, a number the caller never gave).
        fields["steps"] = bound
    cfg = DryrunConfig.from_mapping(fields)
    refuse_unused(cfg, config or {})
    return cfg


def _stopped_itself(cfg: DryrunConfig, steps: int, done: int, reason: str) -> str:
    """Why a run of ``steps`` steps stopped itself after ``done`` (a ``ValueError``'s text)."""
    if reason == FEED_EXHAUSTED:
        why, fix = f"{reason}: the feed gave no bar after it", "give the feed more bars"
    elif done >= cfg.max_steps:
        why, fix = f"the config's max_steps is {cfg.max_steps}", f"raise max_steps to {steps}"
        fix += " or more"
    else:
        why, fix = reason or "it stopped", f"run fewer than {done + 1} steps"
    rerun = f", or pass steps={done}" if done >= FEWEST_STEPS else ""
    return (
        f"steps={steps}, but each run stops itself after step {done} ({why}): the matrix"
        f" would check {done} steps of each run, not {steps}, and never reach the kills and"
        f" faults it draws past them; {fix}{rerun}"
    )


def _plain(steps: int) -> MatrixCase:
    """The simplest case: no fault, a kill half-way."""
    return MatrixCase(latency_s=0, faults=(), kill_after=steps // 2)


def reference_lines(
    strategy_factory: StrategyFactory,
    feed_factory: FeedFactory | None,
    config: Mapping[str, Any] | None,
    steps: int,
) -> tuple[dict[str, list[bytes]], list[Survivors]]:
    """The plain case's uninterrupted run (its events and state snapshots), in the child.

    And what the same run leaves behind when killed after a few of its quiet steps (at most
    ``NEW_PROCESS_KILLS``; none when it has none), for another process to resume
    (``resumed_lines``).
    """
    case = _plain(steps)
    cfg = _config(strategy_factory, feed_factory, config)
    run = _Run(strategy_factory, feed_factory, cfg, case)
    run.run(case, steps)
    run.orch.close()
    mark_verified(run.orch)
    lines = {"events": run.sinks["events"].lines, "states": run.sinks["states"].lines}
    window = replay_window_ns(cfg, RetryPolicy(seed=cfg.seed))
    points = _spread(_kill_points(run, 1, window), NEW_PROCESS_KILLS)
    if not points:
        return lines, []
    return lines, _Run(strategy_factory, feed_factory, cfg, case).crash(case, points)


def resumed_lines(
    strategy_factory: StrategyFactory,
    feed_factory: FeedFactory | None,
    config: Mapping[str, Any] | None,
    steps: int,
    survivors: Survivors,
) -> list[bytes]:
    """The events of the plain case's run resumed from ``survivors`` (in a new process)."""
    case = _plain(steps)
    cfg = _config(strategy_factory, feed_factory, config)
    run = _Run(strategy_factory, feed_factory, cfg, case, survivors=survivors)
    run.finish(case, steps)
    run.orch.close()
    mark_verified(run.orch)
    return run.sinks["events"].lines


def check_case(
    strategy_factory: StrategyFactory,
    case: MatrixCase,
    *,
    steps: int,
    config: Mapping[str, Any] | None = None,
    feed_factory: FeedFactory | None = None,
) -> tuple[int, bool]:
    """Run one case and check it; returns the session steps run and whether it resumed.

    Raises:
        AssertionError: an invariant broke, or the resumed run's events differ.
        TypeError, ValueError: ``steps`` is not an int of at least 2, as for the matrix.
        ValueError: ``case.kill_after``, or a fault's ``step``, is not below ``steps``
            (``MatrixCase.fits``): the case would run without its resume, or that fault;
            or the run stopped itself before ``steps`` (the config's ``max_steps``, a feed
            that ran out of bars), so fewer steps would be checked than asked.
    """
    at_least("steps", steps, FEWEST_STEPS)
    case.fits(steps)
    done, resumed, _ = _check(strategy_factory, case, steps, config, feed_factory)
    return done, resumed


def _check(
    strategy_factory: StrategyFactory,
    case: MatrixCase,
    steps: int,
    config: Mapping[str, Any] | None,
    feed_factory: FeedFactory | None,
) -> tuple[int, bool, _Run]:
    """``check_case``, which also returns the uninterrupted run."""
    cfg = _config(strategy_factory, feed_factory, config)
    straight = _Run(strategy_factory, feed_factory, cfg, case)
    straight.run(case, steps)
    problems = straight.problems()
    if problems:
        raise AssertionError("uninterrupted run: " + "; ".join(problems)) from straight.cause
    if straight.stopped_itself is not None:  # checking fewer steps than asked, in silence
        raise ValueError(_stopped_itself(cfg, steps, *straight.stopped_itself))
    window = replay_window_ns(cfg, RetryPolicy(seed=cfg.seed))
    kill_after = _kill_point(straight, case.kill_after, window)
    if kill_after is None:
        return straight.orch.steps_done, False, straight
    resumed = _Run(strategy_factory, feed_factory, cfg, case)
    resumed.run(case, steps, kill_after=kill_after)
    problems = resumed.problems()
    if problems:
        where = f"run killed after step {kill_after} and resumed"
        hint = after_resume(resumed.sinks["events"].lines, kill_after)
        raise AssertionError(f"{where}: " + "; ".join(problems) + hint) from resumed.cause
    left, right = straight.sinks["events"].lines, resumed.sinks["events"].lines
    if left != right:
        # Only now, so a passing case costs nothing: is the strategy deterministic at all?
        again = _Run(strategy_factory, feed_factory, cfg, case)
        again.run(case, steps)
        again.orch.close()
        mark_verified(again.orch)
        raise AssertionError(
            resume_difference(left, right, again.sinks["events"].lines, kill_after)
        )
    return straight.orch.steps_done + resumed.orch.steps_done + kill_after, True, straight


def run_failure_matrix(
    strategy_factory: StrategyFactory,
    *,
    examples: int = 50,
    steps: int = 40,
    seed: int = 0,
    config: Mapping[str, Any] | None = None,
    feed_factory: FeedFactory | None = None,
    max_faults: int = 8,
    cross_process: bool = True,
) -> MatrixReport:
    """Run ``examples`` fault schedules of ``steps`` steps against the strategy factory.

    Args:
        strategy_factory: Called with no argument, returns a new ``Strategy`` each time.
        examples: How many cases hypothesis draws (shrinking a failure runs more).
        steps: Steps per run, before the operator stops it.
        seed: The seed of the draw (an int): the same seed draws the same cases.
        config: ``DryrunConfig`` fields over the matrix's defaults (``risk``, ``symbol``...).
        feed_factory: Returns a new ``MarketFeed`` per run; the config's feed when None.
        max_faults: The most faults one schedule arms.
        cross_process: Whether to run the fault-free reference once more in a child process
            (another ``PYTHONHASHSEED``) and compare its bytes, and resume its kills in a
            second child (a fresh interpreter) and compare their events; the factories
            must then be importable by name (module level, or a ``functools.partial`` of
            such).

    Returns:
        What ran: examples, session steps, seconds, and whether the child's run matched.

    Raises:
        AssertionError: an example broke an invariant (the message names the shrunk case
            and the seed; an exception the strategy raised is its ``__cause__``, and the
            message names its step and line), or the child process's run differs.
        TypeError: a factory cannot be called bare, or cannot be re-created in a child
            process (and ``cross_process`` was not turned off); or ``seed``, ``examples``,
            ``steps`` or ``max_faults`` is not an int.
        ValueError: ``examples`` is below 1, ``steps`` below 2 or ``max_faults`` below 0;
            or the fault-free run stopped itself before ``steps`` (``check_case``).
        MissingExtra: ``hypothesis`` is not installed (``livesession[testing]``).
    """
    _check_numbers(seed=seed, examples=examples, steps=steps, max_faults=max_faults)
    import_optional("hypothesis", "testing")
    from hypothesis import HealthCheck, Phase, given, settings  # noqa: PLC0415
    from hypothesis import seed as with_seed  # noqa: PLC0415

    from .strategies import matrix_cases  # noqa: PLC0415

    failing: list[tuple[MatrixCase, AssertionError]] = []

    # Every setting that decides what runs and what is reported is the matrix's own, never
    # the loaded profile's: a profile without the generate phase skipped the test
    # (SkipTest), one without shrinking reported an unshrunk case as the shrunk one.
    @with_seed(seed)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=False,
        print_blob=False,
        # Not explain: its "lines only failing cases ran" are the matrix's own, never yours.
        phases=tuple(phase for phase in Phase if phase.name != "explain"),
        report_multiple_bugs=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=matrix_cases(steps, max_faults=max_faults))
    def matrix(case: MatrixCase) -> None:
        ran["examples"] += 1
        try:
            done, resumed = check_case(
                strategy_factory, case, steps=steps, config=config, feed_factory=feed_factory
            )
            ran["steps"] += done
            ran["resumes"] += resumed
        except AssertionError as exc:
            failing.append((case, exc))
            raise

    started = time.perf_counter()
    name = factory_name(strategy_factory)  # never its repr: a bound API key would show
    # First the simplest case (no fault, a kill half-way): a strategy that fails without
    # any fault is reported at once, without a search and its shrinking.
    plain = _plain(steps)
    try:
        done, resumed, reference = _check(strategy_factory, plain, steps, config, feed_factory)
    except AssertionError as exc:
        again = rerun_line(strategy_factory, plain, steps, config, feed_factory)
        msg = (
            f"failure matrix: {name} fails with no fault at all (seed={seed}, steps={steps}):"
            f" {exc}\nshrunk example: {plain!r}\n{again}"
        )
        raise AssertionError(msg) from _original(exc)
    ran = {"examples": 1, "steps": done, "resumes": int(resumed)}
    # The same reference runs in a child process on the other core while the search runs.
    child = None
    if cross_process:
        took_s = time.perf_counter() - started
        child = _children(
            strategy_factory, feed_factory, config, steps, resume=bool(resumed), took_s=took_s
        )
    try:
        try:
            with scratch_storage():  # no .hypothesis/ left in the caller's directory
                matrix()
        except Exception as exc:
            if not failing:
                raise
            case, error = failing[-1]  # hypothesis replays the shrunk case last
            again = rerun_line(strategy_factory, case, steps, config, feed_factory)
            msg = (
                f"failure matrix: {name} fails (seed={seed}, examples={examples},"
                f" steps={steps}): {error}\nshrunk example: {case!r}\n{again}"
            )
            raise AssertionError(msg) from (error.__cause__ or exc)
        if child is not None:
            again = matrix_rerun_line(strategy_factory, steps, config, feed_factory)
            _across_processes(child, reference, f"failure matrix: {name}", steps, again)
    finally:
        if child is not None:
            child.close()
    return MatrixReport(
        seed=seed,
        examples=ran["examples"],
        session_steps=ran["steps"],
        resumes=ran["resumes"],
        seconds=time.perf_counter() - started,
        cross_process=cross_process,
    )


def _check_numbers(*, seed: int, examples: int, steps: int, max_faults: int) -> None:
    """Refuse by name a number of ``run_failure_matrix``'s it cannot run with."""
    an_int("seed", seed)  # None or a str was taken, and None drew anew at each call
    at_least("examples", examples, 1)
    at_least("steps", steps, FEWEST_STEPS)
    at_least("max_faults", max_faults, 0)


def _children(
    strategy_factory: StrategyFactory,
    feed_factory: FeedFactory | None,
    config: Mapping[str, Any] | None,
    steps: int,
    *,
    resume: bool,
    took_s: float,
) -> ChildRun:
    """The children running the reference in other processes, started now.

    Their time limit grows with ``took_s``, what the fault-free case took here: a strategy
    slow per bar is as slow there, and that is no finding.
    """
    sent = payload(strategy_factory, feed_factory, config or {}, steps)
    return ChildRun.start(sent, steps=steps, resume=resume, reference_s=took_s)


def _original(exc: AssertionError) -> BaseException:
    """What a finding's ``AssertionError`` was raised from (the strategy's error), or itself."""
    return exc.__cause__ or exc


def _across_processes(child: ChildRun, reference: _Run, who: str, steps: int, again: str) -> None:
    """Raise when the child's run of the fault-free reference differs from this process's.

    Or when that run, killed in the child and resumed in a second one, differs from it.
    ``again`` (the ``re-run it`` line) ends the message of a difference.
    """
    try:
        there = child.lines()
        resumed = child.resumed()
    except TypeError as exc:
        raise TypeError(f"{who}: {exc}") from None
    except AssertionError as exc:
        raise AssertionError(f"{who}: {exc}") from None
    here = {"events": reference.sinks["events"].lines, "states": reference.sinks["states"].lines}
    said = process_difference(here, there, child.hash_seed)
    for kill_after, events in resumed:
        if said is not None:
            break
        said = new_process_difference(there["events"], events, kill_after)
    if said is not None:
        raise AssertionError(f"{who} fails (steps={steps}, no fault): {said}\n{again}")
