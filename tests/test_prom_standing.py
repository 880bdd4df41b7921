"""``prom``'s series of where a run stands: its trading state and its heartbeat."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from livesession import DryrunConfig
from livesession._risk.rails import RAIL_RULES
from livesession._rundir import create_run
from livesession.prom import render_textfile

parser = pytest.importorskip("prometheus_client.parser")


def series(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The samples of ``name``, by their labels (but ``run_id``)."""
    return {
        tuple(sorted((k, v) for k, v in sample.labels.items() if k != "run_id")): sample.value
        for family in parser.text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    }


def trading(text: str) -> dict[str, float]:
    return {
        dict(labels)["state"]: value
        for labels, value in series(text, "trader_trading_state").items()
    }


@contextlib.contextmanager
def started(tmp_path: Path, run_id: str) -> Iterator[Any]:
    """A 40-step run checkpointed every 10 steps, activated and not stepped yet."""
    cfg = DryrunConfig(run_id=run_id, steps=40, checkpoint_every=10)
    with create_run(cfg, tmp_path) as session:
        session.preflight()
        session.activate()
        yield session


def test_a_run_the_kill_switch_halted_says_so(tmp_path):
    """Bug: a run the kill switch had halted read as one that trades (`trader_run_verdict`
    running, then completed; nothing said HALTED, which `livesession status` says)."""
    run = tmp_path / "k"
    with started(tmp_path, "k") as session:
        session.run_n_steps(10)
        assert trading(render_textfile(run)) == {"active": 1, "reducing": 0, "halted": 0}
        session.kill("operator")
        session.run_n_steps(10)
        assert trading(render_textfile(run)) == {"active": 0, "reducing": 0, "halted": 1}
        session.run_to_end(40)
    assert trading(render_textfile(run)) == {"active": 0, "reducing": 0, "halted": 1}


@pytest.mark.broken_run("checkpoint.json removed: a run without one has no heartbeat")
def test_the_heartbeat_is_when_the_checkpoint_was_written(tmp_path):
    """A writer that holds its run and no longer steps reads as running: its heartbeat's
    age tells it from one that steps (none before the run has a checkpoint)."""
    cfg = DryrunConfig(run_id="h", steps=20, checkpoint_every=10)
    run = tmp_path / "h"
    with create_run(cfg, tmp_path) as session:
        session.run_to_end(20)
    written_ns = 1_700_000_000_250_000_000
    os.utime(run / "checkpoint.json", ns=(written_ns, written_ns))
    assert series(render_textfile(run), "trader_heartbeat_timestamp_seconds") == {
        (): 1_700_000_000.25
    }
    (run / "checkpoint.json").unlink()
    assert series(render_textfile(run), "trader_heartbeat_timestamp_seconds") == {}


def test_every_built_in_rule_and_retry_has_its_counter_from_the_start(tmp_path):
    """Bug: `trader_risk_blocks_total` and `trader_retries_total` had no series until the
    first block or retry, which then appeared at 1: `increase(...[5m]) > 0` never saw that
    first one (a series that appears is no increase). Each is there at 0 from the start."""
    cfg = DryrunConfig(run_id="z", steps=20, checkpoint_every=10)
    with create_run(cfg, tmp_path) as session:
        session.run_to_end(20)
    text = render_textfile(tmp_path / "z")
    blocks = series(text, "trader_risk_blocks_total")
    assert blocks[(("rule", "DAILY_LOSS"),)] == 0
    assert {dict(labels)["rule"] for labels in blocks} == set(RAIL_RULES)
    assert series(text, "trader_retries_total") == {
        (("kind", "lookup"),): 0,
        (("kind", "sink_write"),): 0,
        (("kind", "submit"),): 0,
    }


def test_steps_are_counted_as_status_counts_them(tmp_path):
    """Bug: nothing said how far a run had got (`livesession status`: `steps  20 of 40 at
    the last checkpoint`), so no dashboard could show a run's progress nor its rate."""
    run = tmp_path / "s"
    with started(tmp_path, "s") as session:
        session.run_n_steps(25)
        assert series(render_textfile(run), "trader_steps_total") == {(): 20}
        session.run_to_end(40)
    assert series(render_textfile(run), "trader_steps_total") == {(): 40}
