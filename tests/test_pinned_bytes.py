"""Pinned bytes: four reference runs must keep the exact artifacts they had.

The determinism tests show that a run repeats itself; these show that the code has not
changed what a run writes. Speed work in particular must leave every byte alone, so the
SHA-256 of each contract artifact of four runs (mock broker, realish broker, protective OCO
exits, fixed clock) is pinned here. The pins were taken from the release before the
integer random walk and the per-day ``ts_utc`` formatter, and hold unchanged after them.

A deliberate change of the artifacts (a new schema, a new package version, which
``SESSION_STARTED`` records) needs new pins, in the same commit as the change and with a
line in CHANGELOG.md: regenerate them with the commands in ``_RUNS``.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from _pins import assert_pinned

CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")

_RUNS: dict[str, tuple[str, ...]] = {
    "pin": ("--seed", "11"),
    "pin-realish": ("--seed", "12", "--broker", "realish"),
    "pin-oco": ("--seed", "13", "--config", "{oco}"),
    "pin-fixed": ("--seed", "14", "--clock", "fixed"),
}

PINNED: dict[str, dict[str, str]] = {
    "pin": {
        "events.jsonl": "f6a8584ec209d66aa87858f2736b78bc30d6002d7f091eb4a39d70711ee93716",
        "state_snapshots.jsonl": "6adbecb6e72b7eebafdb3977ad0e6329feda4ebd112c04410865b488b314c64c",
        "metrics.json": "711e8f3b6c3f2da6d815ca57bf199b1ebf72512efc25fb9a94e3ee2a243a81c6",
        "audit.jsonl": "65c58fcc00411eba90d575256264d956239c418e4bdc929b56c23a651eaa86ca",
    },
    "pin-realish": {
        "events.jsonl": "96e7447e74d441d39411a26ad27fa6af43ffd9c051a9136c0ba50d6ea3ecfd7d",
        "state_snapshots.jsonl": "c4b46c411bac82a11b45710436231c117e775381a6b07af403af58827c5f7f35",
        "metrics.json": "e0e51d70a0768a896e161d5cc2ab1aedc834445963a73bdf590bfeeda64d8621",
        "audit.jsonl": "0bd3191ba9e5217d4086bbc1d914cd2ca7dc0a853494e7671470ee0cb243ed6a",
    },
    "pin-oco": {
        "events.jsonl": "c8be02588c26fb3b08a493c37e41a52d592179cb18ac2dc5963f1673418b095f",
        "state_snapshots.jsonl": "0d9da10c465f984976483f0769589eab3abdf18e0bbeabcef8fec56f7cc4ad81",
        "metrics.json": "1183e40618adff3ed6587087134faa9ef824dfc32d8d7e38b5e07649c5599e9e",
        "audit.jsonl": "3c25e9373dcc213abdbdd9b4060583f5cca296a7cc633a404f5125e380a0a7e3",
    },
    "pin-fixed": {
        "events.jsonl": "41188d5a21eddc2ec1b53afcc084e8b7c41525a3ab5b75c1ac13b3d225339590",
        "state_snapshots.jsonl": "0aa53bd2a5015a49100a9cce878353e09dac697338750325048c310a4ec2a56d",
        "metrics.json": "6819d6adf731637ffb1567b73c6a5a37fddae87a4c913d8b03065b19a13d943d",
        "audit.jsonl": "6f668215c1583780b859cee3d4614b773c019b5cb164b2531e99bd80c960698b",
    },
}


@pytest.mark.parametrize("run_id", sorted(_RUNS))
def test_reference_run_keeps_its_bytes(tmp_path: Path, run_id: str) -> None:
    oco = tmp_path / "oco.toml"
    oco.write_text('[strategy]\nprotect_pct = "0.002"\n', encoding="utf-8")
    args = [a.replace("{oco}", str(oco)) for a in _RUNS[run_id]]
    subprocess.run(
        [
            sys.executable, "-m", "livesession.cli", "dryrun", "--out", str(tmp_path),
            "--run-id", run_id, "--steps", "1500", "--durability", "none", "-q", *args,
        ],
        check=True,
    )  # fmt: skip
    got = {
        name: hashlib.sha256((tmp_path / run_id / name).read_bytes()).hexdigest()
        for name in CONTRACT
    }
    assert_pinned(PINNED, run_id, got)
