"""CLI runs on a ccxt broker routed to the loopback ``fake_binance.FakeBinance``.

As in ``test_ccxt_cli``: the credentials are the fake's, and ``_rundir._ccxt_broker`` is
wrapped so that each broker a run builds mounts a ``LoopbackRoute`` on its session, with
no client rate limit, a short timeout and no pause between lookups. ``crashed_dryrun``
runs the CLI the same way in a child process, so a crash point can kill it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

import livesession
from livesession._rundir import brokers as _rundir_brokers
from livesession._rundir import resume_run
from livesession.cli import main

from fake_binance import TEST_API_KEY, TEST_API_SECRET, TESTNET_PREFIX, FakeBinance, LoopbackRoute

TIMEOUT_MS = 2_000
SEED = 1


def route_to(fake: FakeBinance, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Route every ccxt broker of this process's runs to ``fake``; the lookup pauses asked."""
    monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", TEST_API_KEY)
    monkeypatch.setenv("LIVESESSION_BINANCE_API_SECRET", TEST_API_SECRET)
    route = LoopbackRoute(fake.port)
    waits: list[int] = []
    original = _rundir_brokers._ccxt_broker

    def loopback_broker(cfg: Any, **options: Any) -> Any:
        test_options = {
            "session_hook": lambda session: session.mount(TESTNET_PREFIX, route),
            "enable_rate_limit": False,
            "timeout_ms": TIMEOUT_MS,
            "lookup_interval_ns": 1_000,
            "wait_ns": waits.append,
        }
        return original(cfg, **(test_options | options))

    monkeypatch.setattr(_rundir_brokers, "_ccxt_broker", loopback_broker)
    return waits


Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]
"""Wraps one ccxt exchange method: given the method, returns what is called instead."""


def shaped_dryrun(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    fake: FakeBinance,
    wraps: Mapping[str, Wrap] | None = None,
    *,
    run_id: str = "shaped",
    steps: int = 60,
) -> tuple[int, Path]:
    """``dryrun`` on ``fake`` (started and stopped here), each broker's exchange methods
    named in ``wraps`` wrapped: the answers ccxt gives the broker, changed on their way."""
    fake.start()
    route_to(fake, monkeypatch)
    routed = _rundir_brokers._ccxt_broker

    def shaped_broker(cfg: Any, **options: Any) -> Any:
        broker = routed(cfg, **options)
        exchange = broker._exchange
        for name, wrap in (wraps or {}).items():
            monkeypatch.setattr(exchange, name, wrap(getattr(exchange, name)))
        return broker

    monkeypatch.setattr(_rundir_brokers, "_ccxt_broker", shaped_broker)
    try:
        code = dryrun(tmp_path, run_id, steps)
    finally:
        fake.stop()
    return code, tmp_path / run_id


def dryrun_args(out: Path, run_id: str, steps: int, *extra: str) -> list[str]:
    """``livesession dryrun`` on ``ccxt:binance`` into ``out/run_id``, quiet."""
    return [
        "dryrun",
        "--broker",
        "ccxt:binance",
        "--out",
        str(out),
        "--run-id",
        run_id,
        "--steps",
        str(steps),
        "--seed",
        str(SEED),
        "-q",
        *extra,
    ]


def dryrun(out: Path, run_id: str, steps: int, *extra: str) -> int:
    """The CLI's ``dryrun`` in this process (routed by ``route_to``); its exit code."""
    return main(dryrun_args(out, run_id, steps, *extra))


CHILD_CLI = """
import sys
import _netguard
_netguard.install()
from fake_binance import TESTNET_PREFIX, LoopbackRoute
from livesession._rundir import brokers
from livesession.cli import main
route = LoopbackRoute(int(sys.argv[1]))
original = brokers._ccxt_broker
def loopback_broker(cfg, **options):
    test_options = {
        "session_hook": lambda session: session.mount(TESTNET_PREFIX, route),
        "enable_rate_limit": False,
        "timeout_ms": int(sys.argv[2]),
        "lookup_interval_ns": 1000,
        "wait_ns": lambda ns: None,
    }
    return original(cfg, **(test_options | options))
brokers._ccxt_broker = loopback_broker
sys.exit(main(sys.argv[3:]))
"""


def crashed_dryrun(fake: FakeBinance, args: list[str], crash_at: str) -> int:
    """The CLI (``args``) in a child process routed to ``fake``, killed at ``crash_at``."""
    paths = [str(Path(__file__).parent), str(Path(livesession.__file__).parents[1])]
    env = os.environ | {
        "LIVESESSION_BINANCE_API_KEY": TEST_API_KEY,
        "LIVESESSION_BINANCE_API_SECRET": TEST_API_SECRET,
        "LIVESESSION_CRASH_AT": crash_at,
        "PYTHONPATH": os.pathsep.join([*paths, os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", CHILD_CLI, str(fake.port), str(TIMEOUT_MS), *args],
        env=env,
        capture_output=True,
        check=False,
        timeout=300,  # a hang guard only: the crash point kills it
    )
    return done.returncode


def jsonl(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def events(run_dir: Path, event_type: str) -> list[dict[str, Any]]:
    """The payloads of the run's events of ``event_type``, in order."""
    return [e["payload"] for e in jsonl(run_dir / "events.jsonl") if e["event_type"] == event_type]


def tree(path: Path) -> dict[str, bytes]:
    """Every file under ``path`` with its bytes (empty when ``path`` is not there)."""
    if not path.exists():
        return {}
    return {
        str(p.relative_to(path)): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()
    }


def resume_record(run_dir: Path) -> dict[str, Any]:
    """The payload of the run's one ``C2_RESUME``."""
    (record,) = [r for r in jsonl(run_dir / "audit.jsonl") if r["code"] == "C2_RESUME"]
    return dict(record["payload"])


def about(run_dir: Path, event_type: str, cid: str) -> list[dict[str, Any]]:
    """The payloads of the run's events of ``event_type`` about the order ``cid``."""
    return [e for e in events(run_dir, event_type) if e.get("client_order_id") == cid]


def resumed_then_stopped(run_dir: Path, sent: str) -> Any:
    """Resume ``run_dir`` and stop it before its first step; the session's result.

    The order ``sent`` (a market buy of 0.010 the crashed process sent after its checkpoint,
    filled at the venue) is looked up before the first step, adopted as the venue has it,
    booked, and flattened.
    """
    session = resume_run(run_dir)
    assert resume_record(run_dir)["after_checkpoint"] == [
        {"client_order_id": sent, "venue_status": "FILLED"}
    ]
    session.request_stop("operator")
    session.close()
    assert about(run_dir, "RECONCILED", sent) == [
        {"action": "ADOPTED", "client_order_id": sent, "evidence": "lookup:FILLED"}
    ]
    assert [f["quantity"] for f in about(run_dir, "ORDER_FILLED", sent)] == ["0.010"]
    flatten = [o for o in events(run_dir, "ORDER_SUBMITTED") if o["reason"] == "flatten"]
    assert [(o["side"], o["quantity"]) for o in flatten] == [("SELL", "0.010")]
    return session.result()


def killed_after_its_first_order(
    fake: FakeBinance, out: Path, run_id: str, *extra: str
) -> tuple[Path, str]:
    """A 60-step ccxt run (seed 1) killed right after its first order was sent (step 28).

    The order is filled at the venue, which holds the 0.010 BTC it bought; the run's last
    checkpoint is at step 0, so the order's records were cut off with the crash. Returns
    the run directory and the order's client order id.
    """
    assert crashed_dryrun(fake, dryrun_args(out, run_id, 60, *extra), "after_send:1") == -9
    run_dir = out / run_id
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    assert (checkpoint["steps"], checkpoint["book"]["positions"]) == (0, {})
    (sent,) = fake.created
    assert fake.order_status(sent) == "FILLED"
    assert fake.free("BTC") == Decimal("1.010")  # the venue holds what the run opened
    return run_dir, sent
