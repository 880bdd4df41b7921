"""Runs a user meets, made through the CLI and the public API, for the clean-room verifier.

Each maker takes a fresh directory and returns a `Made`: the run directory, whether its
audit log must close with C2_DRYRUN_STOP, its status when sealed, and the secrets its
config held (none may appear in any file of the run).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import livesession
from livesession import DryrunConfig, OrderIntent, OrderType, Side, SmaCrossover, create_run
from livesession.cli import main

from .verifier import verify_run
from _helpers import FlakySink

TIMEOUT_S = 120  # a hang guard only: every wait below ends on an event, not a timer
WEBHOOK_SECRET = "https://127.0.0.1:9/hook/cleanroomWebhookToken0042"


@dataclass(frozen=True)
class Made:
    """One corpus run and what it must be."""

    run_dir: Path
    finished: bool = True
    status: str | None = "COMPLETED"
    secrets: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()  # audit codes the path must show (it took the path)
    extra: dict[str, Any] = field(default_factory=dict)


def _config(base: Path, body: str) -> Path:
    path = base / "run.toml"
    path.write_text(body, encoding="utf-8")
    return path


def cli_dryrun(base: Path, run_id: str, *args: str, toml: str = "") -> int:
    """`livesession dryrun` in this process into base/runs/run_id."""
    extra = ["--config", str(_config(base, toml))] if toml else []
    return main(["dryrun", "--out", str(base / "runs"), "--run-id", run_id, "-q", *extra, *args])


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child CLI: this one, without crash or pause points."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LIVESESSION_")}
    if "LIVESESSION_PG_DSN" in os.environ:
        env["LIVESESSION_PG_DSN"] = os.environ["LIVESESSION_PG_DSN"]
    return env | extra


def cli_child(args: list[str], **env: str) -> int:
    """The CLI in a child process; its exit code (-9 when killed)."""
    done = subprocess.run(
        [sys.executable, "-m", "livesession", *args],
        env=child_env(**env),
        capture_output=True,
        check=False,
        timeout=TIMEOUT_S,
    )
    return done.returncode


def check(made: Made) -> None:
    """The run meets the contract, took its path, and `livesession verify` agrees."""
    report = verify_run(made.run_dir, secrets=made.secrets, finished=made.finished)
    assert report.errors == [], report.errors
    if made.finished:
        assert report.status == made.status, (report.status, made.status)
    assert set(made.codes) <= set(report.audit_codes), report.audit_codes
    if "resumes" in made.extra:
        assert report.resumes == made.extra["resumes"], report.resumes
    ours = main(["verify", str(made.run_dir)])
    assert (ours == 0) == report.finished, f"livesession verify exits {ours}"


# --- the demo and the rails -------------------------------------------------------------


def demo_defaults(base: Path) -> Made:
    """`livesession dryrun` with nothing given but where to write."""
    assert main(["dryrun", "--out", str(base / "runs"), "-q"]) == 0
    return Made(base / "runs" / "demo-001", secrets=())


RAILS = {
    "max_order_notional": '[risk]\nmax_order_notional = "100"\n',
    "per_trade_risk_pct": '[risk]\nper_trade_risk_pct = "0.00005"\n',
    "portfolio_heat_pct": '[risk]\nportfolio_heat_pct = "0.00005"\n',
    "max_executions": "[risk]\nmax_executions = 3\n",
    "daily_loss_pct": '[risk]\ndaily_loss_pct = "0.00001"\n',
}
"""The rails the demo strategy trips through the CLI (its config alone)."""


def rail(name: str) -> Callable[[Path], Made]:
    """A CLI run whose config makes the rail `name` refuse orders."""

    def make(base: Path) -> Made:
        toml = f'[alerts]\nwebhook_url = "{WEBHOOK_SECRET}"\n' + RAILS[name]
        code = cli_dryrun(base, f"rail-{name}", "--steps", "300", "--seed", "5", toml=toml)
        assert code == 0, code
        return Made(base / "runs" / f"rail-{name}", secrets=(WEBHOOK_SECRET,))

    make.__name__ = f"rail_{name}"
    return make


class _Probe:
    """A strategy that asks, every 10th bar, for what one rail refuses."""

    def __init__(self, mode: str) -> None:
        self.strategy_id = "probe"
        self.mode, self.bars = mode, 0

    def on_bar(self, bar: Any, view: Any) -> list[OrderIntent]:
        self.bars += 1
        if self.bars % 10:
            return []
        side = Side.BUY if view.position(bar.symbol) <= 0 else Side.SELL
        if self.mode == "max_order_qty":
            return [OrderIntent(symbol=bar.symbol, side=side, quantity=Decimal("0.020"))]
        if self.mode == "price_collar_pct":
            far = (bar.close * Decimal("0.5")).quantize(Decimal("0.01"))
            return [
                OrderIntent(
                    symbol=bar.symbol,
                    side=Side.BUY,
                    quantity=Decimal("0.010"),
                    order_type=OrderType.LIMIT,
                    limit_price=far,
                )
            ]
        return [OrderIntent(symbol=bar.symbol, side=side, quantity=Decimal("0.001"))] * 3

    def get_state(self) -> dict[str, Any]:
        return {"bars": self.bars}

    def set_state(self, state: dict[str, Any]) -> None:
        self.bars = state["bars"]


PROBED = {
    "max_order_qty": {"max_order_qty": "0.010"},
    "price_collar_pct": {"price_collar_pct": "0.05"},
    "max_orders_per_sec": {"max_orders_per_sec": 2},
}
"""The rails a strategy of one's own trips, through the API (the demo never asks so)."""


def probed(name: str) -> Callable[[Path], Made]:
    """An API run of `_Probe` that the rail `name` refuses."""

    def make(base: Path) -> Made:
        cfg = DryrunConfig(
            run_id=f"probe-{name}", strategy_id="probe", steps=100, seed=3, risk=PROBED[name]
        )
        session = create_run(cfg, base / "runs", strategy=_Probe(name))
        session.run_to_end(100)
        session.close()
        return Made(base / "runs" / f"probe-{name}")

    make.__name__ = f"probe_{name}"
    return make


# --- operator verbs, strategies, feeds, venues --------------------------------------------


def kill_then_ack(base: Path) -> Made:
    """The kill switch through the API mid-run, then trading re-enabled (as `ack` does)."""
    session = create_run(DryrunConfig(run_id="killack", steps=200, seed=9), base / "runs")
    assert session.preflight()
    session.activate()
    session.run_n_steps(60)
    assert session.kill("cleanroom drill")
    session.run_n_steps(20)
    assert session.reenable_trading("cleanroom operator")
    session.run_to_end(200)
    session.close()
    return Made(base / "runs" / "killack", codes=("C2_KILL_SWITCH",))


def _frozen_child(base: Path, run_id: str, steps: int) -> subprocess.Popen[bytes]:
    """A child `livesession dryrun` of `steps`, stopped (SIGSTOP) at its 3rd checkpoint."""
    args = ["dryrun", "--out", str(base / "runs"), "--run-id", run_id, "-q"]
    toml = _config(base, "checkpoint_every = 10\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "livesession", *args, "--steps", str(steps), "--config", str(toml)],
        env=child_env(LIVESESSION_PAUSE_AT="checkpoint:3"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _pid, status = os.waitpid(proc.pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        proc.kill()
        proc.wait()
    assert os.WIFSTOPPED(status), status
    return proc


def cli_kill_then_ack(base: Path) -> Made:
    """`livesession kill`, `ack` and `stop` on a live child dryrun (SIGUSR1, SIGUSR2, SIGTERM).

    The child is frozen at its 3rd checkpoint (so that it holds the run), let go, and then
    driven by the three commands, each of which waits until it sees its effect; the run
    is long (100,000 steps), so it is still running when they come.
    """
    run = base / "runs" / "liveverbs"
    proc = _frozen_child(base, "liveverbs", 100_000)
    try:
        proc.send_signal(signal.SIGCONT)
        for verb in ("kill", "ack", "stop"):
            assert cli_child([verb, str(run)]) == 0, verb
        assert proc.wait(timeout=TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return Made(run, codes=("C2_KILL_SWITCH", "C2_OPERATOR_REENABLE"))


class _RaisesAt(SmaCrossover):
    """The demo strategy, raising at its `at`-th bar."""

    def __init__(self, at: int) -> None:
        super().__init__(strategy_id="raiser", fast=2, slow=5, order_qty=Decimal("0.010"))
        self.at, self.seen = at, 0

    def on_bar(self, bar: Any, view: Any) -> Any:
        self.seen += 1
        if self.seen == self.at:
            raise RuntimeError("strategy blew up on purpose")
        return super().on_bar(bar, view)


def strategy_raises(base: Path) -> Made:
    """A strategy that raises mid-run: the session needs an operator and is sealed FAILED."""
    cfg = DryrunConfig(run_id="raiser", strategy_id="raiser", steps=80)
    session = create_run(cfg, base / "runs", strategy=_RaisesAt(40))
    session.run_to_end(80)
    session.close()
    return Made(base / "runs" / "raiser", status="FAILED", codes=("C2_OPERATOR_REQUIRED",))


def strategy_raises_then_ack(base: Path) -> Made:
    """The same, the operator acknowledging the fault: STOPPING, STOPPED, sealed FAILED."""
    cfg = DryrunConfig(run_id="raiser", strategy_id="raiser", steps=80)
    session = create_run(cfg, base / "runs", strategy=_RaisesAt(40))
    assert session.preflight()
    session.activate()
    session.run_n_steps(80)
    assert session.state.value == "ERROR_REQUIRES_OPERATOR"
    assert session.acknowledge("cleanroom operator")
    session.close()
    return Made(base / "runs" / "raiser", status="FAILED", codes=("C2_OPERATOR_ACK",))


def csv_runs_out(base: Path) -> Made:
    """A CSV feed of 50 bars given 120 steps: the feed runs out first."""
    rows = ["timestamp,open,high,low,close,volume"]
    price = Decimal("100.00")
    for i in range(50):
        move = Decimal((i * 7) % 5 - 2) / 4
        close = price + move
        high, low = max(price, close) + Decimal("0.25"), min(price, close) - Decimal("0.25")
        rows.append(f"2026-02-02T{i // 60:02d}:{i % 60:02d}:00Z,{price},{high},{low},{close},10")
        price = close
    data = base / "short.csv"
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code = cli_dryrun(base, "csvshort", "--feed", f"csv:{data}", "--steps", "120")
    assert code == 0, code
    return Made(base / "runs" / "csvshort")


def realish_faults(base: Path) -> Made:
    """The fault-injecting venue, with higher rates than its defaults."""
    toml = (
        'broker = "realish"\n[realish]\ntransient_rate = "0.2"\ntimeout_rate = "0.1"\n'
        'duplicate_ack_rate = "0.2"\nlate_fill_rate = "0.2"\n[strategy]\nfast = 2\nslow = 5\n'
    )
    code = cli_dryrun(base, "realish", "--steps", "300", "--seed", "11", toml=toml)
    assert code == 0, code
    return Made(base / "runs" / "realish", codes=("C2_ORDER_OUTCOME_UNKNOWN",))


def protective_legs(base: Path) -> Made:
    """The demo's protective exits (a take profit and a stop per entry, OCO) on the realish
    venue with partial fills and late reports: order legs, cancels and duplicates."""
    toml = (
        'broker = "realish"\n[strategy]\nfast = 2\nslow = 5\nprotect_pct = "0.002"\n'
        '[fill_model]\npartial_fill_ratio = "0.3"\nlatency_ms = 30000\n'
    )
    assert cli_dryrun(base, "legs", "--steps", "400", toml=toml) == 0
    return Made(base / "runs" / "legs")


def _signalled(base: Path, run_id: str, sig: signal.Signals) -> Made:
    """A child dryrun frozen at its 3rd checkpoint (SIGSTOP), sent `sig`, then let go."""
    proc = _frozen_child(base, run_id, 5000)
    try:
        proc.send_signal(sig)
        proc.send_signal(signal.SIGCONT)
        code = proc.wait(timeout=TIMEOUT_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 0, code
    return Made(base / "runs" / run_id)


def sigterm_stop(base: Path) -> Made:
    """SIGTERM mid-run: a graceful stop, sealed COMPLETED."""
    return _signalled(base, "sigterm", signal.SIGTERM)


def sigint_stop(base: Path) -> Made:
    """SIGINT (Ctrl-C) mid-run: a graceful stop, sealed COMPLETED."""
    return _signalled(base, "sigint", signal.SIGINT)


# --- crashes and resumes ------------------------------------------------------------------

CRASH_TOML = (
    'seed = 7\nsteps = 150\ndurability = "none"\ncheckpoint_every = 10\n'
    "[strategy]\nfast = 2\nslow = 5\n[fill_model]\nlatency_ms = 90000\n"
)


def crash_args(base: Path, run_id: str) -> list[str]:
    """A dryrun of CRASH_TOML into base/runs/run_id."""
    toml = _config(base, CRASH_TOML)
    return ["dryrun", "--out", str(base / "runs"), "--run-id", run_id, "-q", "--config", str(toml)]


def uninterrupted(base: Path) -> Made:
    """CRASH_TOML run straight through (the reference of the crash paths)."""
    assert cli_child(crash_args(base, "crashy")) == 0
    return Made(base / "runs" / "crashy")


def crashed(base: Path, crash_at: str = "torn_events:150") -> Made:
    """CRASH_TOML killed by SIGKILL mid-run (half an audit line written): not resumed."""
    assert cli_child(crash_args(base, "crashy"), LIVESESSION_CRASH_AT=crash_at) == -9
    return Made(base / "runs" / "crashy", finished=False, status=None)


def crashed_resumed_twice(base: Path) -> Made:
    """Killed mid-run, the first resume killed too, the second resume finishes it."""
    made = crashed(base, "write_events:120")
    run = str(made.run_dir)
    assert cli_child(["resume", run, "-q"], LIVESESSION_CRASH_AT="torn_states:3") == -9
    assert cli_child(["resume", run, "-q"]) == 0
    return Made(made.run_dir, codes=("C2_RESUME",), extra={"resumes": 2})


# --- stores, leases, sinks, preflight, ccxt -----------------------------------------------


def with_lease(base: Path) -> Made:
    """`--lease` with the local store: a lock file in OUT/.leases/."""
    assert cli_dryrun(base, "leased", "--lease", "--steps", "200") == 0
    return Made(base / "runs" / "leased")


def postgres_store(base: Path, dsn: str, password: str) -> Made:
    """`--store postgres` (a child CLI): idempotency keys and the lease in PostgreSQL."""
    args = ["dryrun", "--out", str(base / "runs"), "--run-id", "pgstore", "-q"]
    assert cli_child([*args, "--store", "postgres", "--steps", "200"], LIVESESSION_PG_DSN=dsn) == 0
    return Made(base / "runs" / "pgstore", secrets=(password,), codes=("C2_LEASE_ACQUIRED",))


SINK_FAILS_AT = {"event_sink": 100, "state_sink": 4, "audit_sink": 2}
"""The write each sink fails at, once the session trades (the audit's 2nd is the seal)."""


def on_files(run_dir: Path, cfg: DryrunConfig, sink: str, at: int, *, forever: bool) -> str:
    """A session on files in `run_dir` whose `sink` fails at its `at`-th write (once, or on)."""
    run_dir.mkdir(parents=True)
    sinks: dict[str, Any] = {
        "event_sink": livesession.FileLineSink(run_dir / "events.jsonl"),
        "state_sink": livesession.FileLineSink(run_dir / "state_snapshots.jsonl"),
        "audit_sink": livesession.FileLineSink(run_dir / "audit.jsonl"),
    }
    sinks[sink] = FlakySink(sinks[sink], at, forever=forever)
    session = livesession.LiveSessionOrchestrator(
        cfg, metrics_sink=livesession.FileMetricsSink(run_dir / "metrics.json"), **sinks
    )
    result = session.run_to_end(cfg.steps)
    session.close()
    return str(result.status.value)


def sink_retried(sink: str) -> Callable[[Path], Made]:
    """A `sink` that fails once, with one retry allowed: the run goes on."""

    def make(base: Path) -> Made:
        cfg = DryrunConfig(run_id="sinkretry", steps=200, max_sink_retries=1)
        status = on_files(base / "sinkretry", cfg, sink, SINK_FAILS_AT[sink], forever=False)
        # A retry of the seal's own record is counted nowhere (metrics.json precedes it).
        codes = ("C2_SINK_WRITE_RETRY",) if sink != "audit_sink" else ()
        return Made(base / "sinkretry", status=status, codes=codes)

    make.__name__ = f"sink_retried_{sink}"
    return make


def sink_dead(sink: str) -> Callable[[Path], Made]:
    """A `sink` that fails for good: the run fails closed, not sealed."""

    def make(base: Path) -> Made:
        cfg = DryrunConfig(run_id="sinkdead", steps=200)
        status = on_files(base / "sinkdead", cfg, sink, SINK_FAILS_AT[sink], forever=True)
        assert status == "FAILED", status
        return Made(base / "sinkdead", finished=False, status=None)

    make.__name__ = f"sink_dead_{sink}"
    return make


def preflight_rejected(base: Path) -> Made:
    """`enabled = true`: preflight refuses live trading, sealed REJECTED (exit 3)."""
    toml = f'enabled = true\n[alerts]\nwebhook_url = "{WEBHOOK_SECRET}"\n'
    assert cli_dryrun(base, "rejected", toml=toml) == 3
    return Made(base / "runs" / "rejected", status="REJECTED", secrets=(WEBHOOK_SECRET,))


def torn_seal_resumed(base: Path) -> Made:
    """Killed half-way through writing C2_DRYRUN_STOP (a torn audit tail), then resumed."""
    made = crashed(base, "torn_audit:2")
    assert cli_child(["resume", str(made.run_dir), "-q"]) == 0
    return Made(made.run_dir, codes=("C2_RESUME",), extra={"resumes": 1})


def sink_dead_at_preflight(base: Path) -> Made:
    """An events sink that dies on a PREFLIGHT_CHECK line: FAILED at PREFLIGHT_FAILED, which
    the contract allows on a fail-closed sink failure, and the audit log says there was one."""
    cfg = DryrunConfig(run_id="sinkdead", steps=50)
    assert on_files(base / "sinkdead", cfg, "event_sink", 4, forever=True) == "FAILED"
    return Made(base / "sinkdead", finished=False, status=None, codes=("C2_SINK_WRITE_FAILED",))


def with_evidence(base: Path) -> Made:
    """`livesession evidence` over a run: manifest.json (the SHA-256 of each artifact, the
    audit head) and the bundle written into the run directory beside it."""
    assert cli_dryrun(base, "evidenced", "--steps", "100") == 0
    run = base / "runs" / "evidenced"
    assert main(["evidence", str(run)]) == 0
    assert (run / "manifest.json").is_file()
    return Made(run)
