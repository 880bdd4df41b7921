"""The evidence's determinism re-run never inherits the hash seed the environment fixes.

A desk or a CI job that exports ``PYTHONHASHSEED=0`` (for reproducible builds, say) makes
its run and its evidence under that one seed. The re-run, a child of the evidence's process,
inherited it and ordered every set of strings as the run had: a strategy deciding by that
order repeated there, and the bundle said VERIFIED of a run a reviewer with another seed
gets other bytes of.
"""

from __future__ import annotations

import os
import subprocess
import sys

import orjson
import pytest

from livesession._support.childpath import another_hash_seed
from livesession.evidence import write_evidence

from _helpers import COUNTING_STRATEGY

_SET_ORDER = f"""
from decimal import Decimal
from livesession import OrderIntent, Side
{COUNTING_STRATEGY}
NAMES = {{"alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"}}


class SetOrder(Counting):
    # Buys once, giving as its reason the names in the set's order: the hash seed's.

    def act(self, bar):
        if self.n != 5:
            return []
        reason = "-".join(NAMES)
        return [OrderIntent(symbol=bar.symbol, side=Side.BUY, quantity=Decimal("0.01"), reason=reason)]


def make(*, strategy_id):
    return SetOrder(strategy_id)
"""


def test_a_run_made_under_a_fixed_hash_seed_is_re_run_under_another(tmp_path, monkeypatch):
    """Under ``PYTHONHASHSEED=0`` (0 and 1 order these names otherwise) for run and evidence
    alike, the re-run now parts from the run at the reason; before, it matched."""
    (tmp_path / "setorder").mkdir()
    (tmp_path / "setorder" / "__init__.py").write_text(_SET_ORDER)
    config = tmp_path / "desk.toml"
    config.write_text('strategy_id = "setorder"\nstrategy_factory = "setorder:make"\nsteps = 12\n')
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "livesession", "dryrun", "--config", str(config)]
    command += ["--out", str(runs), "--run-id", "seeded", "-q"]
    subprocess.run(command, env={**os.environ, "PYTHONHASHSEED": "0"}, check=True)
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    result = write_evidence(runs / "seeded")
    determinism = orjson.loads(result.manifest.read_bytes())["determinism"]
    assert determinism["status"] == "MISMATCH", determinism
    assert ", SIGNAL (seq " in determinism["first_difference"]
    assert ": payload.reason alpha-beta-theta-" in determinism["first_difference"]


@pytest.mark.parametrize(
    ("set_to", "child"),
    [("0", 1), ("41", 42), ("4294967295", 0), ("random", None), (None, None)],
)
def test_another_hash_seed(monkeypatch, set_to, child):
    """A fixed seed gives the next one (0 after the last); a random one gives none to set."""
    if set_to is None:
        monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    else:
        monkeypatch.setenv("PYTHONHASHSEED", set_to)
    assert another_hash_seed() == child
