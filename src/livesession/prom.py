"""Prometheus metrics of a run, derived from its artifacts (never counted a second time).

Everything here reads the run directory: counters come from ``events.jsonl``, the book
(equity, positions) from the latest state snapshot or event that carries it, and the
step-duration histogram from the optional, wall-clock ``timings.json``. Nothing touches the
global ``prometheus_client`` registry: each call builds its own ``CollectorRegistry``.

``prometheus_client`` is the optional extra ``livesession[observability]``; without it
every function here raises ``MissingExtra``.

Metrics (all names start with ``trader_``):

======================================  =========  ========================================
``trader_signals_total``                counter    SIGNAL events
``trader_decisions_total``              counter    the strategy's intents decided (below)
``trader_orders_placed_total``          counter    ORDER_SUBMITTED events
``trader_orders_filled_total``          counter    ORDER_FILLED events (orders filled in full)
``trader_risk_blocks_total``            counter    RISK_REJECTED events, label ``rule`` (too)
``trader_retries_total``                counter    ``*_RETRIED`` events, label ``kind`` (too)
``trader_positions_open``               gauge      symbols with a non-zero position
``trader_portfolio_heat``               gauge      gross exposure at the last close / equity
``trader_daily_pnl``                    gauge      equity change since the sim day began
``trader_equity``                       gauge      latest equity
``trader_step_duration_seconds``        histogram  from ``timings.json`` ``step_duration``
``trader_run_info``                     info       labels ``run_id``, ``strategy_id``, ``status``
``trader_run_verdict``                  gauge      label ``verdict``: 1 for ``livesession status``'s
``trader_trading_state``                gauge      label ``state``: 1 for ``status``'s trading
``trader_heartbeat_timestamp_seconds``  gauge      when ``checkpoint.json`` was last written
``trader_steps_total``                  counter    steps at the last checkpoint (``status``'s)
======================================  =========  ========================================

``trader_portfolio_heat`` is a leverage, not the ``PORTFOLIO_HEAT`` rail's measure: the rail
caps the exposure at the stop distance (this times ``stop_distance_pct``, open orders too)
with ``portfolio_heat_pct``, so 0.10 here under a stop distance of 0.02 is within a cap of 0.01.

A run a process is writing is read up to its last checkpoint, and so is a crashed one
(unsealed, held by no process): a resume cuts it back there, so no counter goes down when
the resume starts. ``trader_run_info``'s ``status`` is then the checkpoint's (``RUNNING``
for both); ``trader_run_verdict`` tells them apart (``running``, ``crashed``,
``needs_operator``, ...: every verdict has its series, 0 or 1).

``trader_decisions_total`` counts the outcome of each of the strategy's intents, the
``ORDER_SUBMITTED``, ``RISK_REJECTED`` or ``ORDER_REJECTED`` (a send that failed) that carries
its ``signal_id``: the orders the session places itself (a filled entry's protective legs,
the flatten orders of a stop or the kill switch) are not decisions. A run a release before
the causal links wrote (0.1.x: its ``SESSION_STARTED`` ``version``) has no ``signal_id``;
its decisions are counted as 0.2's links would name them: the first such outcome of each
intent a ``SIGNAL`` announced (its ``intent_seq``), a protective leg's (``oco_group``,
``leg``) not among them.

Every series carries the label ``run_id`` (the run's, from its records; the directory's
name for a directory that holds none), so that the textfiles of several runs can share one
node_exporter textfile directory: the collector merges their families, and a series two
files gave alike would fail its scrape. RUNBOOK.md "Metrics for Prometheus" documents them.

``trader_retries_total``'s ``kind`` is ``sink_write`` for sink retries and the broker
operation (``submit``, ``lookup``) for ``BROKER_CALL_RETRIED``.

``trader_step_duration_seconds`` is the wall time of every step (the next bar, the
strategy, the rails, the orders and the records together; nothing of it on its own) that
the CLI process which wrote ``timings.json`` ran: it is written when a ``dryrun`` or
``resume`` ends its run, so a run no process has ended yet (live, crashed) has an empty
histogram, and a resumed run counts the steps of the resume that ended it. No order
latency is measured, so no metric claims one.

The histogram is in seconds, not milliseconds: ``promtool check metrics`` refuses
abbreviated and non-base units in metric names.
"""

from __future__ import annotations

import errno
import itertools
import os
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ._artifacts import names
from ._artifacts.outmode import run_mode_file
from ._artifacts.releases import release_of, unlocked_caution, written_by_other_release
from ._artifacts.runfiles import odd_files, odd_violation
from ._artifacts.runread import read_json_object
from ._artifacts.timings import STEP_BUCKETS_SECONDS
from ._domain.decimal import with_context
from ._prom_view import _DECIDED, _EventFold, _RunView
from ._prom_wsgi import guarded
from ._risk.governor import TradingState
from ._risk.rails import RAIL_RULES
from ._rundir.livecut import crashed_cut, live_cut
from ._support.fsutil import NotAFile
from ._support.optional import import_optional
from ._support.outfile import write_output

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from prometheus_client import CollectorRegistry
    from prometheus_client.core import Metric

    from ._artifacts.runread import RunCut

__all__ = [
    "LATENCY_BUCKETS_SECONDS",
    "make_exporter",
    "make_registry",
    "render_textfile",
    "write_textfile",
]

#: Histogram bucket bounds (seconds) of ``trader_step_duration_seconds`` (``StepTimer``'s).
LATENCY_BUCKETS_SECONDS: Final = STEP_BUCKETS_SECONDS
_RETRY_KINDS: Final = ("sink_write", "submit", "lookup")
"""The retries the session makes: each has its series from the start, as each built-in rule
has in ``trader_risk_blocks_total``: a series that appears at 1 is no increase to ``rate``."""
_EXACT: Final = 2**53
"""The largest count or bound ``timings.json`` is taken with (a float holds it exactly)."""
#: Counters: name, help, the event types counted.
_COUNTERS: Final = (
    ("trader_signals_total", "Strategy signals.", ("SIGNAL",)),
    (
        "trader_decisions_total",
        (
            "The strategy's order intents decided: sent to the broker or risk-blocked (not "
            "the session's own protective legs and flatten orders)."
        ),
        (_DECIDED,),
    ),
    ("trader_orders_placed_total", "Orders submitted to the broker.", ("ORDER_SUBMITTED",)),
    ("trader_orders_filled_total", "Orders filled in full.", ("ORDER_FILLED",)),
)
_GAUGES: Final = (
    ("trader_positions_open", "Symbols with a non-zero position."),
    (
        "trader_portfolio_heat",
        (
            "Gross exposure at the last close divided by equity: not the PORTFOLIO_HEAT "
            "rail's measure, which is the exposure at the stop distance (this times "
            "stop_distance_pct, open orders too) that portfolio_heat_pct caps."
        ),
    ),
    ("trader_daily_pnl", "Equity change since the simulated day began."),
    ("trader_equity", "Latest equity of the session."),
)
_STEP_DURATION: Final = (
    "Wall time of the session's steps (the next bar, the strategy's decision, its orders "
    "and records together), as the CLI process that ran them measured them."
)


def render_textfile(run_dir: str | os.PathLike[str]) -> str:
    """The run's metrics in the Prometheus text exposition format (0.0.4).

    Deterministic for a given run directory; tolerates a missing ``timings.json`` and
    lines that are not JSON (they are skipped: use ``verify_run`` to check a run).
    """
    registry = make_registry(run_dir)
    text: bytes = _prometheus().generate_latest(registry)
    return text.decode("utf-8")


def write_textfile(run_dir: str | os.PathLike[str], path: str | os.PathLike[str]) -> str:
    """Write ``render_textfile(run_dir)`` to ``path`` atomically (for a textfile collector).

    The text goes to a temporary file next to ``path``, is synced, then renamed over it,
    so a scraper never sees a half-written file; a symlink there is followed and stays (the
    file it leads to is replaced; a pipe, ``/dev/stdout`` written through). Returns what
    was read of a live run ("" for one no process is writing).
    """
    collector = _RunCollector(Path(run_dir))
    registry_class = _prometheus().CollectorRegistry
    registry: CollectorRegistry = registry_class(auto_describe=False)
    registry.register(collector)
    text: bytes = _prometheus().generate_latest(registry)
    # Into the run directory: the run's mode, not the umask's (_artifacts.outmode).
    write_output(Path(path), text, like=run_mode_file(Path(run_dir), Path(path).parent))
    return collector.live


def make_registry(run_dir: str | os.PathLike[str]) -> CollectorRegistry:
    """A new, isolated registry whose one collector reads ``run_dir`` at every scrape.

    What was appended since its last scrape, that is: it keeps what the events before added
    up to (``_prom_view._EventFold``); scrapes at once (a threaded server) each read whole.
    """
    registry_class = _prometheus().CollectorRegistry
    registry: CollectorRegistry = registry_class(auto_describe=False)
    registry.register(_RunCollector(Path(run_dir)))
    return registry


def make_exporter(
    registry_source: str | os.PathLike[str] | CollectorRegistry,
) -> Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]:
    """A WSGI app serving the metrics, for an embedding app to mount (e.g. at ``/metrics``).

    ``registry_source`` is a run directory (read at every request) or a registry
    the caller built, e.g. with ``make_registry``. The global registry is never used. A
    run the file system will not let it read is ``503`` with one line (``_prom_wsgi``).
    """
    prometheus = _prometheus()
    if isinstance(registry_source, (str, os.PathLike)):
        where = f"the run {os.fspath(registry_source)}"
        registry = make_registry(registry_source)
        run_id: str | None = Path(registry_source).name
    else:
        registry, where, run_id = registry_source, "the registry's run", None
    return guarded(prometheus.make_wsgi_app(registry), where, run_id)


def _prometheus() -> Any:
    return import_optional("prometheus_client", "observability")


class _RunCollector:
    """A prometheus_client collector for one run directory.

    It keeps what the events added up to at its last scrape, and the next reads on from
    there: a scrape of a long run costs what was appended since (``_prom_view._EventFold``).
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.live = ""
        """What the last scrape read of a live run ("" when no process was writing it)."""
        self._kept: _EventFold | None = None
        self._keeping = threading.Lock()  # a threaded server's scrapes: one takes it

    def __repr__(self) -> str:
        return f"_RunCollector({str(self.run_dir)!r})"

    @with_context
    def collect(self) -> Iterator[Metric]:
        """The run's metric families, computed whole in the library's Decimal context."""
        return iter(list(self._families()))

    def _families(self) -> Iterator[Metric]:
        from prometheus_client.core import (  # noqa: PLC0415 - optional extra
            CounterMetricFamily,
            GaugeMetricFamily,
            InfoMetricFamily,
        )

        _refuse_odd(self.run_dir)
        cut, self.live = _where_to_stop(self.run_dir)
        with self._keeping:
            kept, self._kept = self._kept, None
        run = _RunView(self.run_dir, cut, kept)
        self._kept = run.fold
        info = run.info(self.run_dir.name)
        run_id = info["run_id"]  # on every series: runs' textfiles share one collector
        yield InfoMetricFamily("trader_run", "The run these metrics describe.", value=info)
        yield from _standing(self.run_dir, run_id)
        for name, documentation, event_types in _COUNTERS:
            value = sum(run.kinds[event_type] for event_type in event_types)
            family = CounterMetricFamily(name, documentation, labels=["run_id"])
            family.add_metric([run_id], value)
            yield family
        for name, documentation, label, counts in (
            (
                "trader_risk_blocks_total",
                "Intents blocked by a risk rule.",
                "rule",
                run.risk_blocks,
            ),
            ("trader_retries_total", "Retried operations.", "kind", run.retries),
        ):
            family = CounterMetricFamily(name, documentation, labels=["run_id", label])
            known = RAIL_RULES if label == "rule" else _RETRY_KINDS
            for label_value, count in sorted((dict.fromkeys(known, 0) | counts).items()):
                family.add_metric([run_id, label_value], count)
            yield family
        equity, daily_pnl = run.equity()
        gauges = {
            "trader_positions_open": run.positions_open(),
            "trader_portfolio_heat": run.heat(equity),
            "trader_daily_pnl": daily_pnl,
            "trader_equity": equity,
        }
        for name, documentation in _GAUGES:
            gauge = GaugeMetricFamily(name, documentation, labels=["run_id"])
            gauge.add_metric([run_id], gauges[name])
            yield gauge
        yield _histogram(run_id, read_json_object(self.run_dir / names.TIMINGS))


def _refuse_odd(run_dir: Path) -> None:
    """Raise ``NotAFile`` for the first file of the run that is no regular file.

    An ``OSError`` naming it for a Git LFS pointer (``odd_files``). Nothing else is opened
    (``lstat`` only): the exporter read a ``checkpoint.json`` that is a
    FIFO and waited for a writer for ever, and answered others (``run.json``, a symlink)
    with a ``200``, where ``livesession prom`` refuses them all; it answers ``503`` now.
    """
    for name in (odd := odd_files(run_dir)):
        try:
            mode = (run_dir / name).lstat().st_mode
        except OSError:
            continue  # gone since the look
        if stat.S_ISREG(mode):  # a Git LFS pointer: said as every tool says it
            said = odd_violation(odd[name]).removeprefix("is ")
            raise OSError(errno.EINVAL, said, str(run_dir / name))
        raise NotAFile(run_dir / name, mode)


def _where_to_stop(run_dir: Path) -> tuple[RunCut | None, str]:
    """Where to stop reading ``run_dir``, and what to say of it ("": the run is read whole).

    A live run is read up to its last checkpoint (the writer's lock is only queried), and
    so is a crashed one: the resume cuts it back there, and a counter must not go down.
    """
    if not run_dir.is_dir():
        return None, ""
    live = live_cut(run_dir)
    if live is not None:
        return live.cut, live.describe()
    crashed = crashed_cut(run_dir)
    if crashed is None:
        return None, ""
    other = written_by_other_release(run_dir)
    resumer = "a resume" if other is None else f"a resume by livesession {release_of(other)}.x"
    caution = unlocked_caution(run_dir)
    what = "unsealed run" if caution else "unsealed run no process writes (crashed)"
    return crashed, (
        f"{what}: read up to step {crashed.steps} (its last checkpoint, where {resumer} "
        f"continues{caution})"
    )


def _standing(run_dir: Path, run_id: str) -> Iterator[Metric]:
    """Where the run stands, as ``livesession status`` says (one reading of it for them all).

    ``trader_run_verdict``: 1 for its verdict, 0 for the rest. ``trader_trading_state``: 1
    for its trading state (``ACTIVE``, ``REDUCING``, ``HALTED``; all 0 before its first
    checkpoint), so a run the kill switch halted is not a run that trades. Both have every
    series, always, so that an alert rule can say ``trader_run_verdict{verdict="crashed"} ==
    1`` and no series comes and goes. ``trader_steps_total``: its steps at the last
    checkpoint (where a resume continues). ``trader_heartbeat_timestamp_seconds``: when
    ``checkpoint.json`` was last written (no series before there is one), so that a writer
    that holds its run and has stopped stepping (hung, stopped) is told from one that steps.
    """
    from prometheus_client.core import (  # noqa: PLC0415 - optional extra
        CounterMetricFamily,
        GaugeMetricFamily,
    )

    from .status import Verdict, run_status  # noqa: PLC0415 - not for every import of prom

    found = run_status(run_dir)
    family = GaugeMetricFamily(
        "trader_run_verdict",
        "Where the run stands, as livesession status says: 1 for its verdict, 0 for the others.",
        labels=["run_id", "verdict"],
    )
    for each in Verdict:
        family.add_metric([run_id, each.label], 1.0 if each is found.verdict else 0.0)
    yield family
    trading = GaugeMetricFamily(
        "trader_trading_state",
        (
            "Whether the run may trade, as livesession status says (now for a live run, else "
            "at its last checkpoint): 1 for its state, 0 for the others."
        ),
        labels=["run_id", "state"],
    )
    for state in TradingState:
        trading.add_metric([run_id, state.name.lower()], float(state.value == found.trading))
    yield trading
    steps = CounterMetricFamily(
        "trader_steps",
        "Steps the session has run, as livesession status says: at the last checkpoint.",
        labels=["run_id"],
    )
    steps.add_metric([run_id], found.steps or 0)
    yield steps
    beat = GaugeMetricFamily(
        "trader_heartbeat_timestamp_seconds",
        "When checkpoint.json was last written (Unix time, wall clock): a run that steps "
        "rewrites it every checkpoint_every steps.",
        labels=["run_id"],
    )
    written = _heartbeat(run_dir)
    if written is not None:
        beat.add_metric([run_id], written)
    yield beat


def _heartbeat(run_dir: Path) -> float | None:
    """``checkpoint.json``'s mtime in Unix seconds, or None for none (``status``'s beat)."""
    try:
        seconds, ns = divmod((run_dir / names.CHECKPOINT).stat().st_mtime_ns, 10**9)
    except OSError:
        return None
    return seconds + ns / 10**9  # not ns / 1e9: 1700000000.25 stays .25, not .2499998


def _histogram(run_id: str, timings: dict[str, Any]) -> Metric:
    """``trader_step_duration_seconds`` from ``timings.json``'s ``step_duration``.

    Empty (every count 0) without one, or with one that is not a histogram of whole
    counts growing with its bounds: ``timings.json`` is a measurement, read leniently.
    """
    from prometheus_client.core import HistogramMetricFamily  # noqa: PLC0415 - optional extra

    found = _step_duration(timings.get("step_duration"))
    bounds, counts, count, total = found or (
        STEP_BUCKETS_SECONDS,
        [0] * len(STEP_BUCKETS_SECONDS),
        0,
        0.0,
    )
    buckets = [(repr(float(bound)), float(n)) for bound, n in zip(bounds, counts, strict=True)]
    buckets.append(("+Inf", float(count)))
    family = HistogramMetricFamily(
        "trader_step_duration_seconds", _STEP_DURATION, labels=["run_id"]
    )
    family.add_metric([run_id], buckets, sum_value=total)
    return family


def _step_duration(value: object) -> tuple[list[float], list[int], int, float] | None:
    """``(bounds, cumulative counts, count, sum)`` of a well-formed histogram, else None."""
    if not isinstance(value, dict):
        return None
    bounds, total = _numbers(value.get("buckets_s")), _numbers([value.get("sum_s")])
    counts, count = (
        _numbers(value.get("counts"), whole=True),
        _numbers([value.get("count")], whole=True),
    )
    if not bounds or total is None or counts is None or count is None:
        return None
    cumulative = [0, *map(int, counts), int(count[0])]
    wrong = len(counts) != len(bounds) or any(a >= b for a, b in itertools.pairwise([0, *bounds]))
    if wrong or any(a > b for a, b in itertools.pairwise(cumulative)):
        return None
    return bounds, cumulative[1:-1], cumulative[-1], total[0]


def _numbers(value: object, *, whole: bool = False) -> list[float] | None:
    """``value`` as a list of finite, non-negative numbers (integers if ``whole``), or None."""
    if not isinstance(value, list):
        return None
    found: list[float] = []
    for item in value:
        kinds = (int,) if whole else (int, float)
        if isinstance(item, bool) or not isinstance(item, kinds):
            return None
        if not 0 <= item <= _EXACT:  # a NaN fails this too
            return None
        found.append(float(item))
    return found
