"""The books, worked out again from a run's files, against everything livesession says.

A desk's risk officer does not take the session's summary on trust: ``tests/_books.py``
recomputes each run's position, average price, cash, realised PnL, equity, the day's PnL,
the orders sent per client order id (each sent once, and reaching the venue once) and the
venue's own position from its journal, and holds them to the CLI's ``--json`` summary,
``status --json``, ``metrics.json``, the report, ``prom``'s gauges, the fills' own events
and the final snapshot. These runs are the promise users reported broken before ("reports
flat while a position is open", "sends orders twice"): a faulty venue, split and late
fills, protective exits, a kill with a position open and its acknowledgement, a SIGTERM
and a strategy error with a position open, a fill reported after the kill, and a kill -9
resumed twice. Each must leave no disagreement (and pass ``verify``, at teardown).
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from typing import TYPE_CHECKING

import pytest

from _books import disagreements, in_process, recompute

from _helpers import cli_child

if TYPE_CHECKING:
    from pathlib import Path

STRATEGY = '''\
"""Enters every `period` bars and exits in two halves; at bars of `actions` it acts."""
import os
import signal
from decimal import Decimal

from livesession import OrderIntent, Side

SIGNALS = {"term": signal.SIGTERM, "kill": signal.SIGUSR1, "ack": signal.SIGUSR2}


class Books:
    def __init__(self, *, strategy_id, period=5, qty="0.020", protect="0", actions=None):
        self.strategy_id = strategy_id
        self.period = period
        self.qty = Decimal(qty)
        self.protect = Decimal(protect) or None
        self.actions = {int(k): v for k, v in (actions or {}).items()}
        self.n = 0

    def on_bar(self, bar, view):
        self.n += 1
        act = self.actions.get(self.n)
        if act == "raise":
            raise RuntimeError(f"strategy fails at bar {self.n}")
        if act in SIGNALS and os.environ.get("BOOKS_OPERATOR") == "1":
            os.kill(os.getpid(), SIGNALS[act])  # the operator's verb, at an exact bar
        if self.n % self.period or view.has_open_orders(bar.symbol):
            return []
        held = view.position(bar.symbol)
        if held:
            half = (abs(held) / 2).quantize(Decimal("0.001"))
            qty = abs(held) if abs(held) <= self.qty / 2 else half
            side = Side.SELL if held > 0 else Side.BUY
            return [OrderIntent(symbol=bar.symbol, side=side, quantity=qty, reduce_only=True)]
        side = Side.SELL if (self.n // self.period) % 2 else Side.BUY
        return [
            OrderIntent(
                symbol=bar.symbol,
                side=side,
                quantity=self.qty,
                take_profit_pct=self.protect,
                stop_loss_pct=self.protect,
            )
        ]

    def get_state(self):
        return {"n": self.n}

    def set_state(self, state):
        self.n = state["n"]


def make(**params):
    return Books(**params)
'''

FAULTS = (
    '[realish]\ntransient_rate = "0.2"\ntimeout_rate = "0.2"\nduplicate_ack_rate = "0.3"\n'
    'late_fill_rate = "0.5"\nlate_fill_ms = 90000\n'
)
SPLIT = '[fill_model]\nlatency_ms = 60000\npartial_fill_ratio = "0.5"\nreject_rate = "0.1"\n'
LATE = '[realish]\ntransient_rate = "0"\ntimeout_rate = "0.3"\nlate_fill_rate = "1"\nlate_fill_ms = 600000\n'


def _config(top: str, *, protect: str = "0", actions: dict[int, str] | None = None) -> str:
    acts = "".join(f'{bar} = "{act}"\n' for bar, act in (actions or {}).items())
    return (
        f'strategy_factory = "books_strategy:make"\n{top}'
        f'[strategy_params]\nprotect = "{protect}"\n[strategy_params.actions]\n{acts}'
    )


HELD = ("kill_then_ack", "sigterm", "raises", "feed_runs_out", "rail_halts")
"""The runs whose kill, stop, fault, halt or end of feed came with a position open."""

SCENARIOS = {
    # the mock's latency, split fills and rejects, with OCO exits
    "mock_split": ("steps = 90\nseed = 3\n", SPLIT, "0.003", None),
    # the realish venue's faults, OCO exits, the kill switch with a position open, then ack
    "kill_then_ack": (
        'steps = 60\nseed = 1\nbroker = "realish"\n',
        FAULTS,
        "0.002",
        {9: "kill", 30: "ack"},
    ),
    # SIGTERM with a position open: the wind-down flattens
    "sigterm": ('steps = 60\nseed = 2\nbroker = "realish"\n', FAULTS, "0", {8: "term"}),
    # a strategy that raises with a position open
    "raises": ("steps = 60\nseed = 2\n", SPLIT.replace("0.1", "0"), "0", {8: "raise"}),
    # the feed runs out with a position open (the data file's 30 bars of 60 steps)
    "feed_runs_out": ('steps = 60\nseed = 1\nfeed = "csv:short.csv"\n', SPLIT, "0", {}),
    # a rail (the execution throttle) halts trading with a position open
    "rail_halts": ("steps = 60\nseed = 4\n[risk]\nmax_executions = 4\n", "", "0", {}),
    # the entry's fill reported only after the kill (the fill/cancel race)
    "late_fill_kill": (
        'steps = 60\nseed = 1\nbroker = "realish"\n',
        LATE,
        "0",
        {7: "kill", 40: "ack"},
    ),
}


def _dryrun(
    tmp_path: Path, name: str, text: str, *, crash_at: str | None = None
) -> dict[str, object]:
    (tmp_path / "books_strategy.py").write_text(STRATEGY, encoding="utf-8")
    (tmp_path / f"{name}.toml").write_text(text, encoding="utf-8")
    bars = [
        f"2026-01-01T00:{i:02d}:00Z,{100 + i},{101 + i},{99 + i},{100 + i},10" for i in range(30)
    ]
    (tmp_path / "short.csv").write_text(
        "time,open,high,low,close,volume\n" + "\n".join(bars) + "\n"
    )
    args = ("dryrun", "-c", f"{name}.toml", "--run-id", name, "--out", "runs", "--json")
    proc = cli_child(tmp_path, *args, crash_at=crash_at)
    return json.loads(proc.stdout) if proc.stdout else {}


@pytest.fixture(autouse=True)
def _operator(monkeypatch: pytest.MonkeyPatch) -> None:
    """The dry-run children act as the operator at their bars; this process never does."""
    monkeypatch.setenv("BOOKS_OPERATOR", "1")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_books_agree_with_every_tool(tmp_path: Path, name: str) -> None:
    top, venue, protect, actions = SCENARIOS[name]
    said = _dryrun(tmp_path, name, _config(top + venue, protect=protect, actions=actions))
    run_dir = tmp_path / "runs" / name
    assert disagreements(run_dir, cli_json=said, say=in_process) == []
    books = recompute(run_dir)
    assert books.fills, "the run traded"
    if name in HELD:  # the kill, stop, fault, halt or end of feed met a position open
        assert any(held for _, held in books.moments), books.moments
    if name == "late_fill_kill":  # the kill met the book flat, the venue not: flat only later
        assert books.flat_claims, "KILL_SWITCH_FLAT, once the late fill was flattened"


def test_a_kill_9_resumed_twice_keeps_the_books(tmp_path: Path) -> None:
    top = 'steps = 80\nseed = 1\nbroker = "realish"\ncheckpoint_every = 20\n'
    text = _config(top + FAULTS, protect="0.002")
    said = _dryrun(tmp_path, "crashed", text, crash_at="after_send:7")
    assert not said  # killed: no summary
    run_dir = tmp_path / "runs" / "crashed"
    assert cli_child(tmp_path, "resume", "runs/crashed", crash_at="after_send:3").returncode == -9
    resumed = cli_child(tmp_path, "resume", "runs/crashed", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert disagreements(run_dir, cli_json=json.loads(resumed.stdout), say=in_process) == []
    assert sum(recompute(run_dir).venue_sends.values()) > 7


@pytest.mark.broken_run("the books' own check is shown a run changed after it ended")
def test_the_check_finds_a_send_made_twice_and_a_summary_off_the_books(tmp_path: Path) -> None:
    said = _dryrun(tmp_path, "told", _config('steps = 60\nseed = 1\nbroker = "realish"\n' + FAULTS))
    run_dir = tmp_path / "runs" / "told"
    assert disagreements(run_dir, cli_json=said, tools=False) == []
    copy = tmp_path / "copy"
    shutil.copytree(run_dir, copy)
    journal = copy / "broker_journal.jsonl"
    first = journal.read_bytes().splitlines(keepends=True)[0]
    journal.write_bytes(journal.read_bytes() + first)  # the first order reached the venue again
    said["equity"] = str(Decimal(str(said["equity"])) + 1)
    found = disagreements(copy, cli_json=said, tools=False)
    assert any("reached the venue 2 times" in line for line in found), found
    assert any(line.startswith("dryrun --json equity") for line in found), found
