"""The session log is for operators: the lifecycle, rejects, faults and periodic progress.

events.jsonl is the record of every event; the log repeats a normal step's events (bars,
signals, orders, fills, positions) only at debug level, so info costs little over warning.
"""

from __future__ import annotations

import ast
import io
import logging
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

import livesession
from livesession import (
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryIdempotencyStore,
    MemoryLineSink,
    SimClock,
    StoreFailure,
    create_run,
    resume_run,
    verify_run,
)
from livesession._artifacts.timings import StepTimer
from livesession._session.checkpoint import PROGRESS_EVERY
from livesession._support.logging import configure_logging, disable_logging
from livesession.cli import main
from livesession.stores._record import Reservation

from _helpers import Sinks, crash_in_step, session

ROUTINE = {"bar", "signal", "order_submitted", "order_accepted", "order_filled"}


def _log(run_dir: Path) -> list[dict[str, object]]:
    return [
        orjson.loads(line) for line in (run_dir / "session.log.jsonl").read_bytes().splitlines()
    ]


def test_info_logs_the_lifecycle_and_progress_but_not_every_event(tmp_path: Path) -> None:
    steps = 2 * PROGRESS_EVERY + 5
    code = main(
        [
            "dryrun",
            "--steps",
            str(steps),
            "--durability",
            "none",
            "--out",
            str(tmp_path),
            "--run-id",
            "quiet",
            "-q",
        ]
    )
    assert code == 0
    entries = _log(tmp_path / "quiet")
    kinds = [entry["event"] for entry in entries]
    assert not ROUTINE & set(kinds)
    assert kinds.count("state_changed") == 4
    assert kinds[0:2] == ["preflight_note", "session_started"]
    assert kinds[-1] == "session_stopped"
    progress = [entry for entry in entries if entry["event"] == "progress"]
    assert [entry["step"] for entry in progress] == [PROGRESS_EVERY, 2 * PROGRESS_EVERY]
    events = (tmp_path / "quiet" / "events.jsonl").read_bytes().splitlines()
    fills = [line for line in events if b'"event_type":"ORDER_FILLED"' in line]
    assert progress[-1]["fills"] > 0
    assert progress[-1]["events"] < len(events)
    assert len(fills) >= progress[-1]["fills"]


def test_debug_logs_every_routine_event(tmp_path: Path) -> None:
    code = main(
        [
            "dryrun",
            "--steps",
            "300",
            "--durability",
            "none",
            "--out",
            str(tmp_path),
            "--run-id",
            "loud",
            "-q",
            "--log-level",
            "debug",
        ]
    )
    assert code == 0
    kinds = [entry["event"] for entry in _log(tmp_path / "loud")]
    events = (tmp_path / "loud" / "events.jsonl").read_bytes().splitlines()
    submitted = sum(b'"event_type":"ORDER_SUBMITTED"' in line for line in events)
    assert submitted > 0
    assert kinds.count("order_submitted") == submitted
    assert kinds.count("bar") == 300


@pytest.mark.parametrize("level", ["info", "warning"])
def test_a_reject_is_logged_at_info_not_below_warning(level: str) -> None:
    log = io.StringIO()
    configure_logging(log, level=getattr(logging, level.upper()))
    try:
        orch, sinks = session(steps=200, risk={"max_order_notional": "1"})
        orch.preflight()
        orch.activate()
        orch.run_n_steps(200)
        orch.request_stop()
    finally:
        disable_logging()
    rejected = sinks.events_of("RISK_REJECTED")
    assert rejected
    kinds = [orjson.loads(line)["event"] for line in log.getvalue().splitlines()]
    assert kinds.count("risk_rejected") == (len(rejected) if level == "info" else 0)
    assert not ROUTINE & set(kinds)


_PROBE = """
import sys
{before}
from livesession._support.logging import configure_logging, import_structlog_without_rich
import_structlog_without_rich()
import structlog.dev, structlog.tracebacks
import rich.progress  # the progress bars still import it
print(structlog.dev.rich is None, structlog.tracebacks.rich is None, "rich" in sys.modules)
"""


@pytest.mark.parametrize(
    ("before", "expected"),
    [
        ("", "True True True"),  # the CLI: structlog without rich, rich importable afterwards
        ("import rich", "False False True"),  # rich already there (an application): untouched
    ],
)
def test_the_cli_imports_structlog_without_rich(before, expected):
    """structlog's rich-based renderers are never used by the JSON session log: the CLI's
    process skips importing rich for them (30 to 60 ms of start-up), and nothing else."""
    import subprocess
    import sys

    probe = _PROBE.format(before=before)
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.split() == expected.split()


@pytest.mark.parametrize("hide_rich", [False, True])
def test_a_logged_exception_is_redacted(hide_rich):
    """A traceback in the session log is rendered first and redacted after: a secret in the
    exception's message never reaches the log (with rich hidden from structlog too)."""
    import subprocess
    import sys

    probe = """
import io, sys
from livesession._support.logging import configure_logging, get_logger, import_structlog_without_rich
if {hide}:
    import_structlog_without_rich()
stream = io.StringIO()
configure_logging(stream)
try:
    raise ValueError("api_key=sk-live-0123456789abcdef")
except ValueError:
    get_logger().exception("input_failed")
print(stream.getvalue())
"""
    out = subprocess.run(
        [sys.executable, "-c", probe.replace("{hide}", str(hide_rich))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    record = orjson.loads(out.strip().splitlines()[-1])
    assert record["event"] == "input_failed"
    assert "ValueError" in orjson.dumps(record).decode()
    assert "sk-live-0123456789abcdef" not in out


# A host that logs at DEBUG through the root logger, and has a transitions machine of its own.
_HOST = """
import logging, sys, warnings
logging.basicConfig(level=logging.DEBUG, stream=sys.stdout, format="%(name)s: %(message)s")
filters = list(warnings.filters)
from livesession import DryrunConfig, LiveSessionOrchestrator, MemoryLineSink, MemoryMetricsSink
session = LiveSessionOrchestrator(
    DryrunConfig(run_id="quiet", steps=10), event_sink=MemoryLineSink(),
    state_sink=MemoryLineSink(), audit_sink=MemoryLineSink(), metrics_sink=MemoryMetricsSink(),
)
print(session.run_to_end(10).status.value)
print("warnings filters kept:", warnings.filters == filters)
from transitions import Machine
class Door:
    pass
door = Door()
Machine(model=door, states=["shut", "open"], initial="shut", name="door",
        transitions=[{"trigger": "push", "source": "shut", "dest": "open"}])
door.push()
"""


def test_the_library_is_silent_in_the_hosts_logging() -> None:
    """Bug: an application's logging.basicConfig(level=INFO) printed eight lines per run
    ("transitions.core: Finished processing state INIT exit callbacks.", more at DEBUG) from
    the state machine the session uses, and building the first session added a warnings
    filter of transitions' to the application's. Now the session's machine logs nothing
    and the warnings filters stay as they were; the host's own machines log as before."""
    done = subprocess.run(
        [sys.executable, "-c", _HOST], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == ["COMPLETED", "warnings filters kept: True"], lines
    assert lines[2:], "the host's own machine logs as before"
    assert all(line.startswith("transitions.core: door: ") for line in lines[2:]), lines


def test_every_record_of_two_sessions_in_one_process_names_its_run() -> None:
    """Bug: some session log lines carried no run_id (``preflight_note``, the note of a
    session without an allowlist), so a host running several sessions into one log could
    not tell whose they were."""
    log = io.StringIO()
    configure_logging(log)

    def run(run_id: str) -> None:
        session = LiveSessionOrchestrator(
            DryrunConfig(run_id=run_id, steps=20), audit_sink=MemoryLineSink()
        )
        session.run_to_end(20)

    try:
        threads = [threading.Thread(target=run, args=(rid,)) for rid in ("desk-a", "desk-b")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        disable_logging()
    records = [orjson.loads(line) for line in log.getvalue().splitlines()]
    assert {"preflight_note", "session_started", "session_stopped"} <= {
        record["event"] for record in records
    }
    unnamed = [record for record in records if record.get("run_id") not in ("desk-a", "desk-b")]
    assert unnamed == []
    notes = [record["run_id"] for record in records if record["event"] == "preflight_note"]
    assert sorted(notes) == ["desk-a", "desk-b"]


def test_the_wall_clock_files_lost_are_logged_with_the_run_id(tmp_path: Path) -> None:
    """Bug: ``timings_not_written`` (the disk refused timings.json) named no run."""
    log = io.StringIO()
    configure_logging(log)
    try:
        StepTimer(tmp_path / "gone", every_steps=1, run_id="desk-a").on_step(1)
        StepTimer(tmp_path / "by-dir", every_steps=1).on_step(1)  # the directory's name
    finally:
        disable_logging()
    records = [orjson.loads(line) for line in log.getvalue().splitlines()]
    assert [(r["event"], r["run_id"]) for r in records] == [
        ("timings_not_written", "desk-a"),
        ("timings_not_written", "by-dir"),
    ]


def _log_calls(tree: ast.AST) -> Iterator[ast.Call]:
    """Every ``get_logger().<level>(...)`` call in ``tree``."""
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Call)
            and isinstance(node.func.value.func, ast.Name)
            and node.func.value.func.id == "get_logger"
        ):
            yield node


def test_every_session_log_call_in_the_package_passes_the_run_id() -> None:
    """So the next log line cannot forget it: each call site names its run."""
    src = Path(livesession.__file__).parent
    calls = 0
    missing = []
    for path in sorted(src.rglob("*.py")):
        for call in _log_calls(ast.parse(path.read_text("utf-8"))):
            calls += 1
            if not any(keyword.arg == "run_id" for keyword in call.keywords):
                missing.append(f"{path.relative_to(src)}:{call.lineno}")
    assert calls > 10  # the scan finds the calls
    assert missing == []


class _Shipper:
    """A host's log bridge: a ``write`` into its own pipeline, which may refuse; no ``flush``."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.refusing = False

    def write(self, text: str) -> int:
        if self.refusing:
            raise RuntimeError("log shipper queue full")
        self.lines.append(text)
        return len(text)


def test_a_host_log_stream_that_raises_or_has_no_flush_never_stops_a_session(
    tmp_path: Path,
) -> None:
    """Bug: ``configure_logging`` took a stream without ``flush`` (a host's bridge into its own
    logging), and the first line a session logged raised ``AttributeError`` out of
    ``run_to_end``; a stream whose ``write`` raised anything but ``OSError`` (its queue full)
    raised out of ``kill``, every step and ``close``, and left the run unsealed at its last
    checkpoint with 100 steps lost. The log is for people: its lines are lost, never the run."""
    shipper = _Shipper()
    configure_logging(shipper)
    try:
        run = livesession.create_run(DryrunConfig(run_id="shipped", steps=300), tmp_path)
        run.preflight()
        run.activate()
        assert run.run_n_steps(100) == 100
        shipper.refusing = True
        assert run.kill("risk breach").applied
        assert run.run_n_steps(100) == 100
        result = run.run_to_end(300)
        run.close()
    finally:
        disable_logging()
    assert (result.status.value, result.steps, result.kills) == ("COMPLETED", 300, 1)
    assert any('"event": "session_started"' in line for line in shipper.lines)
    assert livesession.verify_run(tmp_path / "shipped").ok


def test_each_log_line_is_one_write_of_the_stream_newline_included() -> None:
    """Bug: each line reached the stream in two writes, the record and then its newline
    (``print``), so a host bridge got a blank record after every line, and a line the host
    wrote to the same stream in between (its own logging to stdout, from another thread)
    joined the record's line: ``{..."run_id": "r0"...}{"host": "tick"}`` and an empty line,
    neither of them JSON. The stream gets each line whole, in one ``write``."""
    shipper = _Shipper()
    configure_logging(shipper, level="DEBUG")
    try:
        session(steps=5)[0].run_to_end(5)
    finally:
        disable_logging()
    assert len(shipper.lines) > 10
    for text in shipper.lines:
        assert text.endswith("\n"), repr(text)
        assert text.count("\n") == 1, repr(text)
        assert orjson.loads(text)["run_id"]


def test_a_log_stream_without_write_is_refused_at_once() -> None:
    """``configure_logging(object())`` was taken, and the first session to log raised."""
    with pytest.raises(TypeError, match=r"configure_logging: stream .*write.* got object"):
        configure_logging(object())  # type: ignore[arg-type]


@pytest.mark.parametrize(("given", "debug"), [("debug", True), (" INFO ", False), (10, True)])
def test_a_level_by_name_or_number_is_taken(given: object, debug: bool) -> None:
    """``level="INFO"`` (as a host's settings spell it) raised ``TypeError: '<=' not
    supported between instances of 'str' and 'int'``."""
    log = io.StringIO()
    configure_logging(log, level=given)  # type: ignore[arg-type]
    try:
        session(steps=5)[0].run_to_end(5)
    finally:
        disable_logging()
    records = [orjson.loads(line) for line in log.getvalue().splitlines()]
    assert ("bar" in {record["event"] for record in records}) is debug
    assert "session_stopped" in {record["event"] for record in records}


@pytest.mark.parametrize("given", [15, "verbose", True, None, 20.0])
def test_a_level_that_is_none_of_logging_s_is_one_clear_error(given: object) -> None:
    """``level=15`` raised ``KeyError: 15``; ``level=None`` ``KeyError: None``."""
    with pytest.raises(ValueError, match=r"^configure_logging: level must be one of logging's"):
        configure_logging(io.StringIO(), level=given)  # type: ignore[arg-type]


def _oco_run(log: io.StringIO, level: int, *, kill_at: int = 0) -> tuple[list[dict], list[dict]]:
    """A demo run with protective OCO legs: its ORDER_CANCELED events and its log lines.

    ``kill_at``: the kill switch is pulled at the first step from then on where both legs
    of an exit rest untouched (their cancels are then the kill's, not one-cancels-the-
    other's), and only the kill's cancels are returned.
    """
    configure_logging(log, level=level)
    try:
        strategy = {"fast": 3, "slow": 8, "order_qty": "0.010", "protect_pct": "0.002"}
        config = {"run_id": "t", "steps": 600, "volatility_bps": 30, "strategy": strategy}
        sinks = Sinks()
        orch = LiveSessionOrchestrator(DryrunConfig.from_mapping(config), **sinks.kwargs())
        orch.preflight()
        orch.activate()
        legs: set[str] = set()
        while orch.steps_done < 600 and not legs:
            orch.run_n_steps(1)
            groups = {
                e["payload"]["client_order_id"]: e["payload"].get("oco_group")
                for e in sinks.events_of("ORDER_SUBMITTED")
            }
            resting = {cid for cid in orch.book.open_orders if groups.get(cid)}
            if kill_at and orch.steps_done >= kill_at and len(resting) == 2:
                assert orch.kill("drill").applied
                legs = resting
        orch.request_stop()
    finally:
        disable_logging()
    assert legs or not kill_at, "no step with both legs of an exit resting"
    lines = [orjson.loads(line) for line in log.getvalue().splitlines()]
    cancelled = sinks.events_of("ORDER_CANCELED")
    if legs:
        cancelled = [e for e in cancelled if e["payload"]["client_order_id"] in legs]
        assert len(cancelled) == 2, cancelled
    return cancelled, lines


def test_an_oco_siblings_cancel_is_logged_at_debug_only() -> None:
    """One-cancels-the-other's cancel of the leg that did not fill was logged at info for
    every exit: 99.8 % of a 20,000-step OCO run's session log (1.2 MB, 5,000 lines), which
    events.jsonl records already. It is a normal step's event now: debug only."""
    cancelled, info = _oco_run(io.StringIO(), logging.INFO)
    assert len(cancelled) >= 5  # the legs' siblings
    assert "order_canceled" not in [line["event"] for line in info]
    _, debug = _oco_run(io.StringIO(), logging.DEBUG)
    logged = [line for line in debug if line["event"] == "order_canceled"]
    assert len(logged) == len(cancelled)
    assert {line["level"] for line in logged} == {"debug"}


def test_a_legs_cancel_that_is_not_one_cancels_the_other_stays_at_info() -> None:
    """The kill switch cancels both legs of an exit no fill has touched: an operator's act,
    not the routine: each of their ORDER_CANCELED is in the session log at info."""
    cancelled, info = _oco_run(io.StringIO(), logging.INFO, kill_at=50)
    logged = {
        line["client_order_id"]: line["level"] for line in info if line["event"] == "order_canceled"
    }
    assert {e["payload"]["client_order_id"]: "info" for e in cancelled}.items() <= logged.items()


def test_a_resume_is_in_the_session_log(tmp_path: Path) -> None:
    """A resumed run's log said nothing of the crash nor of the resume: the crashed
    process's lines, then the resumed one's `state_changed` to STOPPING, as if one process
    had run it (found reading the log of a run killed with SIGKILL and resumed). The
    resume is lifecycle: one `session_resumed` line at info, from the CLI and from
    ``resume_run`` under ``configure_logging`` alike, with where it continues."""
    cfg = DryrunConfig(run_id="again", steps=60, checkpoint_every=10)
    crash_in_step(create_run(cfg, tmp_path, alerts=False), 25, 60)
    run_dir = tmp_path / "again"
    assert main(["resume", str(run_dir), "-q"]) == 0
    entries = _log(run_dir)
    resumed = [entry for entry in entries if entry["event"] == "session_resumed"]
    assert len(resumed) == 1, entries
    (line,) = resumed
    assert (line["level"], line["run_id"], line["from_step"]) == ("info", "again", 20)
    assert line["checkpoint"] is True
    assert line["torn_bytes"]["events.jsonl"] > 0  # the steps after the checkpoint, cut
    kinds = [entry["event"] for entry in entries]
    assert kinds.index("session_resumed") < kinds.index("session_stopped")
    assert verify_run(run_dir).ok

    api = DryrunConfig(run_id="api", steps=60, checkpoint_every=10)
    crash_in_step(create_run(api, tmp_path, alerts=False), 25, 60)
    log = io.StringIO()
    configure_logging(log, level=logging.INFO)
    try:
        session = resume_run(tmp_path / "api", alerts=False)
    finally:
        disable_logging()
    session.close()
    said = [orjson.loads(line) for line in log.getvalue().splitlines()]
    assert [entry["from_step"] for entry in said if entry["event"] == "session_resumed"] == [20]


@pytest.mark.broken_run("a store refuses a write on purpose: the session is torn, unsealed")
def test_a_torn_session_logs_what_tore_it() -> None:
    """A session a store's refused write tore (a full disk, ``ulimit -f``) logged only
    ``interrupted_by: StoreFailure``: the operator's log had no word of what failed, which
    the CLI's error line and the RUN_UNSEALED alert both name (found reading the log of a
    run a file size limit stopped). Its ``session_interrupted`` line now carries ``error``,
    redacted, one line. And it is said once: each ``close()`` said it again (the CLI's
    log of a plug-in's KeyboardInterrupt held it twice)."""

    class FullStore(MemoryIdempotencyStore):
        reserved = 0

        def reserve(self, key: str, fingerprint: str) -> Reservation:
            self.reserved += 1
            if self.reserved > 2:
                raise StoreFailure("the store refused a write (disk I/O error) api_key=SEKRET")
            return super().reserve(key, fingerprint)

    log = io.StringIO()
    configure_logging(log, level=logging.WARNING)
    try:
        orch, _sinks = session(steps=200, idempotency=FullStore(SimClock.at_ns(0)))
        orch.preflight()
        orch.activate()
        with pytest.raises(StoreFailure):
            orch.run_n_steps(200)
        orch.close()
        orch.close()  # idempotent: as the CLI's, after the error, and at its end
    finally:
        disable_logging()
    said = [orjson.loads(line) for line in log.getvalue().splitlines()]
    (torn,) = [entry for entry in said if entry["event"] == "session_interrupted"]
    assert torn["interrupted_by"] == "StoreFailure"
    assert torn["error"].startswith("the store refused a write (disk I/O error)")
    assert "SEKRET" not in log.getvalue()


class _Loud:
    """A strategy whose error carries megabytes (a whole response body, say)."""

    strategy_id = "loud"

    def on_bar(self, bar: object, view: object) -> list[object]:
        raise ValueError("begin " + "x" * 3_000_000 + " END")

    def get_state(self) -> dict[str, object]:
        return {}

    def set_state(self, state: object) -> None:
        pass


def test_a_plugins_huge_error_is_cut_in_the_session_log() -> None:
    """A strategy's 3 MB message was logged whole in the traceback (one 3 MB log line): the
    line keeps the traceback's head and its tail (the type and the message's end), cut
    between."""
    log = io.StringIO()
    configure_logging(log)
    try:
        orch, _ = session(strategy=_Loud(), steps=3)
        assert orch.run_to_end(3).reason == "STRATEGY_ERROR"
    finally:
        disable_logging()
    [line] = [row for row in log.getvalue().splitlines() if '"input_failed"' in row]
    assert len(line) < 70_000
    text = orjson.loads(line)["traceback"]
    assert text.startswith("Traceback (most recent call last)")
    assert text.endswith(" END\n")
    assert "characters cut" in text


class _RefusesTheStopOnce:
    """An audit sink whose write of the stop record (``C2_DRYRUN_STOP``) fails once."""

    def __init__(self) -> None:
        self.inner = MemoryLineSink()
        self.refused = 0

    def write_line(self, line: bytes) -> None:
        if b'"C2_DRYRUN_STOP"' in line and not self.refused:
            self.refused += 1
            raise OSError(28, "No space left on device")
        self.inner.write_line(line)

    def flush(self) -> None:
        self.inner.flush()

    def sync(self) -> None:
        self.inner.sync()


def test_a_retry_of_the_stop_record_is_logged() -> None:
    """Bug: a write of the run's last audit record (``C2_DRYRUN_STOP``) that succeeded on a
    retry was counted nowhere: it comes after the last event (no ``SINK_WRITE_RETRIED``
    can follow the seal) and after metrics.json, which counts the stop record before it is
    written. It is logged now, a warning with the sink, attempts and error class; the
    run's files are those of a run whose write went through at once."""
    log = io.StringIO()
    configure_logging(log)
    audit = _RefusesTheStopOnce()
    try:
        sinks = Sinks()
        orch = LiveSessionOrchestrator(
            DryrunConfig(run_id="late", steps=20, max_sink_retries=2),
            event_sink=sinks.events,
            state_sink=sinks.states,
            audit_sink=audit,
            metrics_sink=sinks.metrics,
        )
        assert orch.run_to_end(20).status.value == "COMPLETED"
    finally:
        disable_logging()
    assert audit.refused == 1
    assert orjson.loads(audit.inner.lines[-1])["code"] == "C2_DRYRUN_STOP"
    records = [orjson.loads(line) for line in log.getvalue().splitlines()]
    late = [r for r in records if r["event"] == "sink_write_retried_after_seal"]
    assert [(r["run_id"], r["sink"], r["attempts"], r["error"], r["level"]) for r in late] == [
        ("late", "audit", 1, "OSError", "warning")
    ]
