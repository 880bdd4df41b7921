"""The evidence of a resumed run whose re-run parts from it after the resume asks about
``get_state`` first.

A strategy that keeps part of its memory out of ``get_state`` decides otherwise once a
crashed run is resumed: the uninterrupted re-run parts from the run after the resume's
step. The evidence asked only whether the strategy was deterministic, which it is; the
question now names the resume and the ``get_state`` first, as the testing kit does.
"""

from __future__ import annotations

import re
import textwrap

import orjson
import pytest

from livesession import create_run, load_config, resume_run
from livesession.evidence import write_evidence
from livesession.evidence._difference import mismatch_said
from test_interrupts import _interrupt_after

_FORGETFUL = """
    from decimal import Decimal

    from livesession import OrderIntent, Side


    class Forgetful:
        # Trades on every 5th bar it has seen, but keeps its count out of get_state.

        def __init__(self, strategy_id):
            self.strategy_id = strategy_id
            self.seen = 0

        def on_bar(self, bar, view):
            self.seen += 1
            if self.seen % 5:
                return []
            held = view.position(bar.symbol)
            side, qty = (Side.SELL, held) if held > 0 else (Side.BUY, Decimal("0.01"))
            return [OrderIntent(symbol=bar.symbol, side=side, quantity=qty)]

        def get_state(self):
            return {}

        def set_state(self, state):
            pass


    def make(*, strategy_id):
        return Forgetful(strategy_id)
"""

_TAIL = (
    "an unseeded random source, the wall clock, the order of a set, id() or hash(), threads, "
    "state kept outside the object, or an environment variable or file that differs here: "
    "docs/plugins.md, 'A strategy that repeats'; the testing kit's run_failure_matrix finds "
    "most, docs/testing.md)"
)


def test_a_resumed_run_that_parts_after_its_resume_asks_about_get_state(tmp_path):
    (tmp_path / "forgetplug.py").write_text(textwrap.dedent(_FORGETFUL))
    config = tmp_path / "desk.toml"
    config.write_text(
        'run_id = "forgets"\nstrategy_factory = "forgetplug:make"\nsteps = 40\n'
        'checkpoint_every = 7\ndurability = "none"\n'
    )
    cfg = load_config(config)
    session = create_run(cfg, tmp_path / "runs")
    _interrupt_after(session, 60, KeyboardInterrupt)  # a crash past a checkpoint
    with pytest.raises(KeyboardInterrupt), session:
        session.run_to_end(40)
    run_dir = tmp_path / "runs" / "forgets"
    with resume_run(run_dir) as resumed:
        resumed.run_to_end(40)
    audit = [orjson.loads(line) for line in (run_dir / "audit.jsonl").read_bytes().splitlines()]
    (resume,) = [record["payload"] for record in audit if record["code"] == "C2_RESUME"]
    resumed_from = resume["from_step"]
    assert resumed_from > 0
    result = write_evidence(run_dir)
    manifest = orjson.loads(result.manifest.read_bytes())
    first = manifest["determinism"]["first_difference"]
    parted = int(re.match(r"events\.jsonl line \d+ \(step (\d+),", first).group(1))
    assert parted > resumed_from
    # Bug: it asked "(is strategy 'forgetplug:make' deterministic? ...)" alone, of a
    # strategy that is; what it leaves out of get_state was lost by the resume.
    said = (
        f"the determinism re-run does not match: {first} (the run was resumed from step "
        f"{resumed_from}, and they part after it, at step {parted}: does the get_state of "
        "strategy 'forgetplug:make' hold all the memory, and set_state restore it? a resumed "
        "run goes on from what get_state gave at the checkpoint; or is it not deterministic? "
        f"{_TAIL}"
    )
    assert result.problems == (said,)


def test_a_difference_before_every_resume_asks_about_determinism_alone():
    """A resume after the step the runs part at, or one from the start (no state restored),
    is not what to suspect; nor is a difference that names no event's step."""
    sources = {"strategy": {"ref": "desk.alpha:make"}}
    first = "events.jsonl line 40 (step 12, its bar of 2026-01-01T00:12:00Z): SIGNAL (seq 40)"
    plain = (
        f"the determinism re-run does not match: {first} (is strategy 'desk.alpha:make' "
        f"deterministic? {_TAIL}"
    )
    determinism = {"first_difference": first}
    assert mismatch_said(determinism, sources) == plain
    assert mismatch_said(determinism, sources, [{"from_step": 12, "checkpoint": True}]) == plain
    assert mismatch_said(determinism, sources, [{"from_step": 0, "checkpoint": False}]) == plain
    assert "resumed from step 11," in mismatch_said(
        determinism, sources, [{"from_step": 3}, {"from_step": 11}, {"from_step": 30}]
    )
    snapshots = {"first_difference": "state_snapshots.jsonl line 3, CHECKPOINT at step 14"}
    assert "(is strategy" in mismatch_said(snapshots, sources, [{"from_step": 7}])
