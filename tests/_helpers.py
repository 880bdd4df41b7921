"""Helpers shared by the orchestrator tests: sessions on memory sinks, audit checks."""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import gc
import hashlib
import itertools
import os
import resource as _resource
import select
import shutil
import signal as _signal
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
import types
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import (
    Bar,
    DryrunConfig,
    LiveSessionOrchestrator,
    MemoryLineSink,
    MemoryMetricsSink,
    Order,
    OrderType,
    Side,
    create_run,
)
from livesession._artifacts import names
from livesession._rundir.lock import holder_of

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def zigzag_bar(symbol: str, n: int, ts_ns: int) -> Bar:
    """The ``n``-th bar of the testing-kit tests' fixed zigzag (a close every 50 up, 9 long)."""
    close = Decimal(40_000 + 50 * (n % 9))
    return Bar(
        symbol=symbol,
        ts_ns=ts_ns,
        open=close,
        high=close + 10,
        low=close - 10,
        close=close,
        volume=Decimal(1),
    )


DEEP = os.environ.get("LIVESESSION_CAMPAIGN") == "deep"
"""``nox -s campaigns`` sets ``LIVESESSION_CAMPAIGN=deep``: the long sweeps run whole."""


QUIET_STRATEGY = """
class Quiet:
    def __init__(self, strategy_id):
        self.strategy_id = strategy_id

    def on_bar(self, bar, view):
        return ()

    def get_state(self):
        return {}

    def set_state(self, state):
        pass
"""
"""The source of a strategy class that orders nothing, for tests that write a plug-in."""

COUNTING_STRATEGY = """
class Counting:
    def __init__(self, strategy_id):
        self.strategy_id, self.n = strategy_id, 0

    def on_bar(self, bar, view):
        self.n += 1
        return self.act(bar)

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):
        self.n = state["n"]
"""
"""The source of a strategy base class that counts its bars in ``self.n`` (all it keeps)
and returns what its subclass's ``act(bar)`` does, for tests that write a plug-in."""


def campaign(full: Any, ci: Any) -> Any:
    """``full`` in the deep campaign (``nox -s campaigns``), else ``ci``: a representative
    part of the same sweep, so the normal run (and CI) stays well within its time."""
    return full if DEEP else ci


class FlakySink:
    """A line sink whose ``fail_at``-th write fails (with ``error``; a full disk if none),
    and with ``forever`` every write after it too; every other line goes to ``inner``."""

    def __init__(
        self, inner: Any, fail_at: int, error: Exception | None = None, *, forever: bool = False
    ) -> None:
        self.inner, self.fail_at, self.error, self.forever = inner, fail_at, error, forever
        self.writes = 0

    def refuses(self) -> bool:
        """Whether the write being made now (``writes``, counted already) fails."""
        return self.writes == self.fail_at or (self.forever and self.writes > self.fail_at)

    def write_line(self, line: bytes) -> None:
        self.writes += 1
        if self.refuses():
            raise self.error if self.error is not None else OSError(28, "No space left on device")
        self.inner.write_line(line)

    def flush(self) -> None:
        self.inner.flush()

    def sync(self) -> None:
        self.inner.sync()

    def close(self) -> None:
        self.inner.close()


class Sinks:
    """The four sinks of one session, kept in memory."""

    def __init__(self) -> None:
        self.events = MemoryLineSink()
        self.states = MemoryLineSink()
        self.audit = MemoryLineSink()
        self.metrics = MemoryMetricsSink()

    def kwargs(self) -> dict[str, Any]:
        return {
            "event_sink": self.events,
            "state_sink": self.states,
            "audit_sink": self.audit,
            "metrics_sink": self.metrics,
        }

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        return [e for e in map(orjson.loads, self.events.lines) if e["event_type"] == event_type]

    def audit_codes(self) -> list[str]:
        return [orjson.loads(line)["code"] for line in self.audit.lines]

    def snapshots(self) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.states.lines]

    def metrics_doc(self) -> dict[str, Any]:
        return orjson.loads(self.metrics.content)


def session(sinks: Sinks | None = None, **cfg: Any) -> tuple[LiveSessionOrchestrator, Sinks]:
    """A session with a default-ish config on memory sinks."""
    sinks = sinks or Sinks()
    # The run is named by the strategy it runs (the session refuses another name).
    named = getattr(cfg.get("strategy"), "strategy_id", "s")
    params: dict[str, Any] = {"run_id": "t", "strategy_id": named, "steps": 200}
    params.update(cfg)
    live_override = params.pop("live_override", False)
    extra = {
        k: params.pop(k)
        for k in ("clock", "broker", "feed", "strategy", "idempotency")
        if k in params
    }
    orch = LiveSessionOrchestrator(
        DryrunConfig(**params), live_override=live_override, **extra, **sinks.kwargs()
    )
    return orch, sinks


def audit_chain_ok(lines: list[bytes]) -> bool:
    """Whether audit lines form an unbroken hash chain with contiguous seq."""
    prev = "0" * 64
    for number, line in enumerate(lines, start=1):
        record = orjson.loads(line)
        if record["seq"] != number or record["prev_hash"] != prev:
            return False
        prev = hashlib.sha256(line.rstrip(b"\n")).hexdigest()
    return True


class RaisesOnBar:
    """A strategy (``raiser``) that raises ``error`` on its ``at``-th bar, and trades nothing."""

    strategy_id = "raiser"

    def __init__(self, at: int = 3, error: Exception | None = None) -> None:
        self.at = at
        self.error = error if error is not None else ValueError("the model's window is empty")
        self.bars = 0

    def on_bar(self, bar: Any, view: Any) -> list[Any]:
        self.bars += 1
        if self.bars == self.at:
            raise self.error
        return []

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: dict[str, Any]) -> None:
        self.bars = state["bars"]


class DiesAfter:
    """A line sink whose writes fail (OSError) once it holds ``limit`` lines."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.lines: list[bytes] = []

    def write_line(self, line: bytes) -> None:
        if len(self.lines) >= self.limit:
            raise OSError("disk gone")
        self.lines.append(line)

    def flush(self) -> None:
        """Nothing buffered."""

    def sync(self) -> None:
        """Nothing to sync."""

    def getvalue(self) -> bytes:
        """The lines written before the sink died."""
        return b"".join(self.lines)


def hold_at_venue(venue: Any, quantity: str, *, symbol: str = "BTC/USDT") -> None:
    """Give a mock ``venue`` a long ``quantity`` of ``symbol`` (a market buy, filled), and
    take its reports: reduce-only orders sent after it have a position to reduce."""
    venue.mark(symbol, Decimal("40000.00"))
    venue.submit(
        Order(
            client_order_id="lsheld",
            symbol=symbol,
            side=Side.BUY,
            quantity=Decimal(quantity),
            order_type=OrderType.MARKET,
        ),
        0,
    )
    venue.poll(0)


def peak_memory(call: Callable[[], object]) -> int:
    """The peak of what tracemalloc counts while ``call()`` runs (memory, not speed)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


_TAKE_THE_LOCK = (
    "import pathlib, sys\n"
    "from livesession._rundir.lock import RunLock\n"
    "lock = RunLock.acquire(pathlib.Path(sys.argv[1]), sys.argv[2])\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@contextlib.contextmanager
def closed_port() -> Iterator[int]:
    """A loopback port nobody listens on, for the block: every connection is refused.

    The port stays bound (never listening) until the block ends: a port bound and released
    at once was free for any other process's socket on the machine (an xdist peer's server
    bound to port 0) to take and answer on.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield int(sock.getsockname()[1])


def hold_until_hung_up(connection: socket.socket, bound_s: float, stop: threading.Event) -> None:
    """Until the peer closes ``connection``, ``stop`` is set, or ``bound_s`` has passed.

    For a fake server's answer that must come too late for its client's timeout. A fixed
    delay longer than the timeout raced it: a client thread a loaded machine woke after the
    delay read the answer instead of timing out. A client whose timeout fired closes its
    end, and the connection reads as ended: held until then, only the client's timeout ends
    the wait, however late it fires. ``bound_s`` is a hang guard for a client that never
    times out (the defect), which then gets its answer and fails its test.
    """
    deadline = time.monotonic() + bound_s
    while not stop.is_set():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        hung_up, _, _ = select.select([connection], [], [], min(left, 0.05))
        if hung_up:
            return


@contextlib.contextmanager
def child(args: list[Any], **popen: Any) -> Iterator[subprocess.Popen[Any]]:
    """``subprocess.Popen(args, **popen)`` for the block; after it, killed if it still runs,
    reaped, and its pipes closed.

    A test that fails part-way (a ``pytest.fail`` in ``until``, an assertion) leaves no
    process running on beside the next tests, and no open pipe for the garbage collector to
    warn of in whichever test runs next on the worker (an innocent one, failed by it).
    ``tests/test_children_closed.py`` holds the suite to it.
    """
    with subprocess.Popen(args, **popen) as proc:  # closes the pipes, then reaps
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def ended_pid() -> int:
    """The pid of a process that ran and was reaped: no process here has it now."""
    with child([sys.executable, "-c", ""]) as proc:
        proc.wait()
    return proc.pid


@contextlib.contextmanager
def held_by_a_child(run_dir: Path, command: str = "child") -> Iterator[subprocess.Popen[str]]:
    """Another process holds ``run_dir``'s writer lock for the block, recorded as run by
    ``command``; it is killed (SIGKILL) after."""
    with _holding_child(_TAKE_THE_LOCK, str(run_dir), command) as child:
        yield child


_HOLD_THE_SCRATCH = (
    "import fcntl, os, sys\n"
    "held = os.open(sys.argv[1], os.O_RDONLY)\n"
    "fcntl.flock(held, fcntl.LOCK_SH)\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


@contextlib.contextmanager
def held_by_a_process(scratch: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holds the scratch directory or temporary file ``scratch`` for the
    block, as its live maker or writer does (``tmpfiles.make_scratch``, ``hold_tmp``: a
    shared ``flock``); it is killed (SIGKILL) after."""
    with _holding_child(_HOLD_THE_SCRATCH, str(scratch)) as child:
        yield child


@contextlib.contextmanager
def _holding_child(code: str, *args: str) -> Iterator[subprocess.Popen[str]]:
    """A child running ``code`` with ``args``, once it said ``held``; SIGKILLed after."""
    with subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "held"
            yield child
        finally:
            child.kill()
            child.wait(timeout=10)


def crash_in_step(session: LiveSessionOrchestrator, step: int, steps: int) -> None:
    """Run ``session`` until a ``KeyboardInterrupt`` in its step ``step`` (of ``steps``), then
    close it unsealed: a crash the next resume continues from its last checkpoint.

    The lines the step's sinks hold are written out first, so that the crash leaves a tail
    past the checkpoint for the resume to set aside (a torn session drops what its sinks
    hold, as a process killed would, and a tail under 64 KiB was never written)."""

    def interrupt(inner: LiveSessionOrchestrator) -> None:
        if inner.steps_done == step:
            inner.recorder.flush(sync=False)  # as the sinks' buffers fill and drain
            raise KeyboardInterrupt

    session.step_hooks.append(interrupt)
    session.preflight()
    session.activate()
    try:
        session.run_n_steps(steps)
    except KeyboardInterrupt:
        pass
    else:  # pragma: no cover - the interrupt is the point
        raise AssertionError(f"no interrupt in step {step} of {steps}")
    session.close()  # seals nothing: the run is a crash


_NOT_FOR_A_CHILD_PYTEST = ("PYTEST_DEBUG_TEMPROOT", "PYTEST_ADDOPTS")
"""This process's tmp_path root (the child chooses its own), and a shell's options for
pytest (``-p no:xdist`` there refused the child's ``-n 0``)."""


def child_pytest(
    *args: str,
    env: dict[str, str] | None = None,
    preexec_fn: Callable[[], object] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``pytest -q -n 0 ARGS`` in a child, from the checkout, under ``env`` over this process's."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", *args],
        env={k: v for k, v in os.environ.items() if k not in _NOT_FOR_A_CHILD_PYTEST} | (env or {}),
        preexec_fn=preexec_fn,
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        cwd=Path(__file__).parent.parent,
    )


def cli_child(
    cwd: Path, *args: str, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    """``python -m livesession.cli ARGS`` in ``cwd``, crashing at ``crash_at`` if given
    (``LIVESESSION_CRASH_AT``; one inherited from the suite's environment is dropped)."""
    env = {k: v for k, v in os.environ.items() if k != "LIVESESSION_CRASH_AT"}
    if crash_at is not None:
        env["LIVESESSION_CRASH_AT"] = crash_at
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def cli_under(
    *args: str | Path, limit: tuple[int, int] | None = None
) -> subprocess.CompletedProcess[str]:
    """``livesession ARGS`` in a child process, under the resource ``limit`` (its
    ``RLIMIT_*`` and the value) if given: a full disk, too few file descriptors."""

    def limited() -> None:  # pragma: no cover - runs in the child
        assert limit is not None
        resource, value = limit
        if resource == _resource.RLIMIT_FSIZE:
            _signal.signal(_signal.SIGXFSZ, _signal.SIG_IGN)  # EFBIG instead of a kill
        _resource.setrlimit(resource, (value, value))

    # No bytecode written under the limit: a module compiled there (its source newer than
    # its .pyc) left a .pyc cut at the file size limit, and every later import of it failed
    # (``EOFError: marshal data too short``).
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
        preexec_fn=None if limit is None else limited,
        env=None if limit is None else {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


def without_waiting_on(fifo: Path, call: Callable[[], Any]) -> dict[str, Any]:
    """``call()`` in a thread, given 60 s: one that waits on the FIFO ``fifo`` fails the test.

    Returns ``{"value": ...}`` or ``{"error": exc}``. Where the thread still waits (it
    opened ``fifo`` for reading), the FIFO gets a writer that closes at once, so that the
    reader sees its end and no thread is left behind.
    """
    import pytest

    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the test
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(60)
    if thread.is_alive():
        with contextlib.suppress(OSError):
            os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        thread.join(60)
        pytest.fail(f"waited for a writer of {fifo}: it was opened for reading")
    return outcome


CHECKING_FEED = '''\
import sys


def make(symbol):
    """A feed whose "check" lasts until the test ends the process (a 2M-row file's)."""
    print("checking", flush=True)
    sys.stdin.read()
    raise SystemExit("the test ends this process before its stdin closes")
'''


@contextlib.contextmanager
def dryrun_checking(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A real ``livesession dryrun`` child held inside its data file's check (``OUT/r1``
    holds only ``writer.lock``); it is killed (SIGKILL) after the block."""
    with dryrun_held(tmp_path, "feed", CHECKING_FEED, "checking") as held:
        yield held


@contextlib.contextmanager
def dryrun_held(
    tmp_path: Path, role: str, plugin: str, says: str
) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """A real ``livesession dryrun`` child (``OUT/r1``, 20 steps) whose ``role`` (``feed``,
    ``broker``) is ``plugin``'s ``make``: the plug-in prints ``says`` and holds the process
    until the test writes to its stdin. It is killed (SIGKILL) after the block."""
    (tmp_path / f"held_{role}.py").write_text(plugin, encoding="utf-8")
    config = tmp_path / f"held_{role}.toml"
    config.write_text(f'{role} = "held_{role}:make"\nsteps = 20\n', encoding="utf-8")
    out = tmp_path / "runs"
    command = [sys.executable, "-m", "livesession.cli", "dryrun", "-c", str(config)]
    with subprocess.Popen(
        [*command, "--out", str(out), "--run-id", "r1", "-q"],
        cwd=tmp_path,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as child:
        try:
            assert child.stdout is not None
            assert child.stdout.readline() == f"{says}\n"
            yield child, out / "r1"
        finally:
            child.kill()
            child.wait(timeout=30)


def steered_run(
    cfg: DryrunConfig,
    out: Path,
    script: list[tuple[int, Callable[[Any], object]]],
    **edges: Any,
) -> Path:
    """``create_run(cfg, out)`` activated, then each ``(n, act)`` of ``script``: ``n`` steps,
    then ``act(session)`` (an operator's verb, which must be applied); then run to the end.

    The operator's kills, re-enables and reduce-only of the review tests, in one place.
    """
    session = create_run(cfg, out, **edges)
    session.preflight()
    session.activate()
    for steps, act in script:
        session.run_n_steps(steps)
        assert act(session), f"{act} was not applied"
    session.run_to_end(cfg.steps)
    return out / cfg.run_id


KILLED_THEN_LIFTED: list[tuple[int, Callable[[Any], object]]] = [
    (30, lambda session: session.kill("desk")),
    (20, lambda session: session.reenable_trading("alice")),
]
"""``steered_run``'s script of an operator's kill at step 30, lifted by alice at step 50."""


def one_line_error(proc: subprocess.CompletedProcess[str], *needles: str) -> str:
    """The one stderr line of a CLI refusal (exit 2, no traceback), holding each of ``needles``."""
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, err
    return err


def carried_chunks(module: Any, monkeypatch: Any) -> list[int]:
    """The size of each chunk ``module``'s readers hand ``LineCarry``, filled as they read.

    A reader that joins the line so far to each chunk itself (copying a long line again with
    every chunk) hands it none.
    """
    from livesession._support.wholelines import LineCarry

    fed: list[int] = []

    class _Counting(LineCarry):
        def lines(self, chunk: bytes) -> list[bytes]:
            fed.append(len(chunk))
            return super().lines(chunk)

    monkeypatch.setattr(module, "LineCarry", _Counting)
    return fed


def status_json_refused(tmp_path: Path, monkeypatch: Any, capsys: Any) -> tuple[Path, str]:
    """A 5-step run ``tmp_path/runs/r1``, and what ``status --json`` prints of it (exit 2) for
    a user the system will not let read its ``audit.jsonl`` (``Permission denied``)."""
    from livesession.cli import main

    run = tmp_path / "runs" / "r1"
    assert main(["dryrun", "--out", str(run.parent), "--run-id", "r1", "--steps", "5", "-q"]) == 0
    real = Path.open

    def refusing(self: Path, mode: str = "r", *args: object, **kwargs: object) -> object:
        if self.name == "audit.jsonl" and "r" in mode and "+" not in mode:
            raise PermissionError(13, "Permission denied")  # as the kernel, for this user
        return real(self, mode, *args, **kwargs)  # type: ignore[call-overload]

    capsys.readouterr()
    with monkeypatch.context() as patched:
        patched.setattr(Path, "open", refusing)
        assert main(["status", str(run), "--json"]) == 2
    return run, capsys.readouterr().out


def proc_stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command's name: ``[state, ppid, pgrp,
    session, ...]`` (state ``T``: stopped, ``Z``: ended, not yet reaped).

    Raises:
        OSError: no such process (it ended and was reaped).
    """
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    return stat[stat.rindex(")") + 2 :].split()


def desk_config(root: Path, package: str, modules: dict[str, str], toml: str) -> DryrunConfig:
    """A desk's plug-in ``package`` under ``root`` (``modules``: file name to source) and the
    config ``root/desk.toml`` (``toml``) that names it, loaded as ``load_config`` does."""
    from livesession import load_config

    return load_config(plug_config(root, package, modules, toml))


def plug_config(
    root: Path, package: str, modules: dict[str, str], toml: str, name: str = "desk.toml"
) -> Path:
    """``desk_config``'s package and config file, written: the config file's path."""
    (root / package).mkdir()
    (root / package / "__init__.py").write_text("")
    for module, source in modules.items():
        (root / package / module).write_text(source)
    (root / name).write_text(toml)
    return root / name


def book_fill(
    book: Any, cid: str, side: Any, qty: str, price: str, *, symbol: str = "BTC/USDT"
) -> None:
    """Track a MARKET order ``cid`` of ``book`` and apply its one fill of ``qty`` at ``price``."""
    order_type = OrderType.MARKET
    book.add_order(
        Order(
            client_order_id=cid,
            symbol=symbol,
            side=side,
            quantity=Decimal(qty),
            order_type=order_type,
        )
    )
    assert book.apply_fill(cid, f"t-{cid}", Decimal(qty), Decimal(price))


DRILL_WALL_S = 0.25
"""The kill drill's wall time from kill to flat under ``pin_drill_clock``."""


def pin_drill_clock(monkeypatch: Any) -> None:
    """The kill drill's wall clock read ``DRILL_WALL_S`` apart, each time it is read.

    The drill times a kill switch to flat in real wall time, against the flatten
    criterion's 2 s: the few steps it takes (a write and an fsync each) run in tens of ms on
    a quiet machine, and a loaded machine's stalled fsyncs could take them past the bound,
    failing a test about what the figure is said as. Pinned, the figure is known exactly.
    """
    from livesession.burnin import _drill

    readings = itertools.count(0.0, DRILL_WALL_S)
    monkeypatch.setattr(_drill, "time", types.SimpleNamespace(monotonic=lambda: next(readings)))


def dropped_unclosed(make: Callable[[], Any], steps: int) -> Callable[[], list[str]]:
    """Build a session with ``make``, step it ``steps`` times and drop it without ``close()``
    (an application's handler raised: a crash in the same process), then collect it.

    Returns what lists the threads started since ``make`` that still live (a worker or a
    watchdog the dropped session should have ended). Its run is marked verified: the test
    resumes it, and the resume is verified.
    """
    from livesession.testing import mark_verified

    before = set(threading.enumerate())
    session = make()
    assert session.preflight()
    session.activate()
    session.run_n_steps(steps)
    mark_verified(session)
    del session
    gc.collect()
    return lambda: [t.name for t in threading.enumerate() if t not in before and t.is_alive()]


def until(
    what: str,
    done: Callable[[], bool],
    proc: subprocess.Popen[str] | None = None,
    *,
    deadline_s: float = 300.0,
) -> None:
    """Poll ``done()`` until true; fail after ``deadline_s`` (a bound on a hang, never a
    measure), or as soon as ``proc`` ended first."""
    deadline = time.monotonic() + deadline_s
    while not done():
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the process ended ({proc.returncode}) before {what}")
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def stepping(run_dir: Path, steps: int = 20) -> bool:
    """A live run is held, checkpointed, and has run ``steps`` steps (bars)."""
    if holder_of(run_dir) is None or not (run_dir / names.CHECKPOINT).exists():
        return False
    try:
        return (run_dir / names.EVENTS).read_bytes().count(b'"event_type":"BAR"') >= steps
    except OSError:
        return False


def as_pid_1() -> list[str]:
    """``unshare`` making the command the first process of a new PID namespace, as in a
    container without an init; skips the test where this system does not allow it."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare(1) here")
    head = [unshare, "--user", "--map-root-user", "--pid", "--fork", "--kill-child"]
    probe = subprocess.run(
        [*head, sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    if probe.returncode != 0 or probe.stdout.strip() != "1":
        pytest.skip(f"no PID namespace for this user: {probe.stderr.strip()}")
    return head


@contextlib.contextmanager
def killed_after(args: list[str], **popen: Any) -> Iterator[subprocess.Popen[str]]:
    """``Popen(args, **popen)`` for the block, killed on the way out if it still runs."""
    with subprocess.Popen(args, **popen) as proc:
        try:
            yield proc
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)


def running_as_pid_1(
    command: list[str], **popen: Any
) -> contextlib.AbstractContextManager[subprocess.Popen[str]]:
    """``killed_after`` of ``command`` started as ``as_pid_1`` starts it, its output piped
    (``unshare --kill-child`` takes its command with it)."""
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, "text": True}
    return killed_after([*as_pid_1(), *command], **pipes, **popen)


def pid_1_of(pid: int) -> int:
    """The one child of ``pid``, an ``as_pid_1`` command: PID 1 in its namespace, the
    process a container's runtime signals."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    assert len(children) == 1, children
    return int(children[0])


def checkpoint_refused(
    out: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    run_id: str = "r",
    code: int = errno.ENOSPC,
) -> Path:
    """``livesession dryrun`` of 120 steps under ``out`` whose step-100 checkpoint the file
    system refuses with ``code`` (a full disk): it exits 2, unsealed. Its run directory.

    The refusal is ``os.replace`` of ``checkpoint.json`` failing (the first checkpoint is at
    step 0); ``monkeypatch`` is undone before it returns, the rest of the test's with it.
    """
    from livesession.cli import main

    replace, seen = os.replace, []

    def on_replace(src: Any, dst: Any) -> None:
        if Path(str(dst)).name == names.CHECKPOINT:
            seen.append(dst)
            if len(seen) == 2:
                raise OSError(code, os.strerror(code))
        replace(src, dst)

    monkeypatch.setattr(os, "replace", on_replace)
    args = ["dryrun", "--out", str(out), "--run-id", run_id, "--steps", "120", "-q"]
    assert main(args) == 2
    monkeypatch.undo()
    return out / run_id
