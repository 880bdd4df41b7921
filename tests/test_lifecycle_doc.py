"""docs/lifecycle.md's "Operator verbs by state" table against the sessions' own answers.

Each cell's outcome (``NA``: ``NOT_APPLICABLE``; ``ALREADY``; else ``APPLIED``) is what the
verb returns on a fresh session in that state, and the table has a row for every state
(docs/embedding.md sends a reader there for "every verb in every state").
"""

from __future__ import annotations

import gc
import re
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from livesession import (
    Bar,
    CheckResult,
    DryrunConfig,
    InvalidTransition,
    LiveSessionOrchestrator,
    OrderIntent,
    SessionState,
    StrategyView,
    VerbOutcome,
    create_run,
    resume_run,
)
from livesession.testing import mark_verified

from _helpers import Sinks, session

ROOT = Path(__file__).resolve().parent.parent
S = SessionState
VERBS = ("request_stop", "kill", "reduce_only", "reenable_trading", "acknowledge")


def _table() -> dict[str, dict[str, str]]:
    page = (ROOT / "docs" / "lifecycle.md").read_text(encoding="utf-8")
    section = page.split("### Operator verbs by state", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    header = next(line for line in section.splitlines() if line.startswith("| state |"))
    verbs = [cell.strip().strip("`") for cell in header.strip("|").split("|")[1:]]
    table: dict[str, dict[str, str]] = {}
    for row in rows:
        state, *cells = (cell.strip() for cell in row.strip("|").split("|"))
        table[re.sub(r"[`]|\s*\(.*\)", "", state)] = dict(zip(verbs, cells, strict=True))
    return table


def _expected(cell: str) -> VerbOutcome:
    """The outcome a cell gives a fresh session in its state (trading ACTIVE, flat)."""
    if cell.startswith("NA"):
        return VerbOutcome.NOT_APPLICABLE
    if cell.startswith("`ALREADY`") or "(`ALREADY` if it is" in cell:
        return VerbOutcome.ALREADY
    return VerbOutcome.APPLIED


class Raises:
    """A strategy that trades nothing and raises once ``broken`` is set (a fault)."""

    strategy_id = "s"
    broken = False

    def on_bar(self, bar: Bar, view: StrategyView) -> tuple[OrderIntent, ...]:
        if self.broken:
            raise RuntimeError("on purpose")
        return ()

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: Mapping[str, Any]) -> None:
        """Nothing to restore."""


def _failing_check(ctx: object) -> CheckResult:
    return CheckResult(name="failing_check", passed=False, reason="ON_PURPOSE")


def _in_state(state: str, tmp_path: Path) -> LiveSessionOrchestrator:
    """A fresh session in ``state`` (STOPPING: resumed from a wind-down's checkpoint)."""
    if state == "PREFLIGHT_FAILED":
        config = DryrunConfig(run_id="t", strategy_id="s", steps=20)
        orch = LiveSessionOrchestrator(config, checks=[_failing_check], **Sinks().kwargs())
        orch.preflight()
    elif state == "ERROR_REQUIRES_OPERATOR":
        strategy = Raises()
        orch, _ = session(steps=20, strategy=strategy)
        orch.preflight()
        orch.activate()
        orch.run_n_steps(2)
        strategy.broken = True
        orch.run_n_steps(1)
    elif state == "STOPPING":
        orch = _stopping(tmp_path)
    else:
        orch, _ = session(steps=20)
        if state != "INIT":
            orch.preflight()
        if state in ("DRYRUN_ACTIVE", "STOPPED"):
            orch.activate()
            orch.run_n_steps(2)
        if state == "STOPPED":
            orch.request_stop()
    assert orch.state.value == state
    return orch


def _stopping(tmp_path: Path) -> LiveSessionOrchestrator:
    """A run whose stop could not finish (its flatten fills late), resumed after a crash."""
    config = DryrunConfig.from_mapping(
        {
            "run_id": "stopping",
            "steps": 40,
            "volatility_bps": 60,
            "stop_max_polls": 1,
            "strategy": {"fast": 2, "slow": 3, "order_qty": "0.010"},
            "fill_model": {"latency_ms": 90_000},
        }
    )
    first = create_run(config, tmp_path)
    first.preflight()
    first.activate()
    while not any(Decimal(qty) for qty in dict(first.book.positions).values()):
        first.run_n_steps(1)
    first.request_stop()
    assert first.state is S.ERROR_REQUIRES_OPERATOR  # STOP_INCOMPLETE: the flatten is out
    mark_verified(first)  # the process dies here
    del first
    gc.collect()
    return resume_run(tmp_path / "stopping")


def test_the_table_has_a_row_for_every_state():
    """Bug: it had none for PREFLIGHT_FAILED, where every verb is NOT_APPLICABLE."""
    assert sorted(_table()) == sorted(state.value for state in S)


@pytest.mark.parametrize("thread", ["owner", "another"])
@pytest.mark.parametrize("state", [state.value for state in S])
def test_each_verb_in_each_state_does_what_its_cell_says(state, thread, tmp_path):
    """From the thread that built the session or another (docs/embedding.md, "Threads")."""
    row = _table()[state]
    for verb in VERBS:
        orch = _in_state(state, tmp_path / verb)
        with ThreadPoolExecutor(1) as pool:
            call = getattr(orch, verb)
            result = call() if thread == "owner" else pool.submit(call).result(timeout=60)
        assert result.outcome is _expected(row[verb]), (state, verb, result.message)
        orch.close()


@pytest.mark.parametrize("state", [state.value for state in S if state is not S.DRYRUN_ACTIVE])
def test_run_n_steps_out_of_turn_raises_before_activate_and_runs_nothing_after(state, tmp_path):
    """As the page says: ``step()`` raises in any state but DRYRUN_ACTIVE; ``run_n_steps``
    raises before ``activate()`` and, once the session has left DRYRUN_ACTIVE, runs nothing
    and returns 0."""
    orch = _in_state(state, tmp_path)
    with pytest.raises(
        InvalidTransition, match=re.escape(f"step() is not allowed in state {state}")
    ):
        orch.step()
    if state in ("INIT", "PREFLIGHT_OK"):
        with pytest.raises(InvalidTransition, match=r"run_n_steps\(\) is not allowed"):
            orch.run_n_steps(3)
    else:
        assert orch.run_n_steps(3) == 0
    assert orch.state.value == state
    orch.close()
