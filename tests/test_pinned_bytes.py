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
        "events.jsonl": "bcd77a6b58e1f71106b5a9a6ee858643a2fee078d5eacb9e76ff5fc97646093d",
        "state_snapshots.jsonl": "6adbecb6e72b7eebafdb3977ad0e6329feda4ebd112c04410865b488b314c64c",
        "metrics.json": "080d3be8e80c161538807c75990314b6de9dcbcfcb7c865ed3c71202d6d17dcb",
        "audit.jsonl": "77eb4f6d8cb73fb6dbe6046e41af5c5f4a9ee621eadb317b6e163523219cb635",
    },
    "pin-realish": {
        "events.jsonl": "593ffa2519cd1bd80db7650502bdd8fd5e6b947d09c6ee04eb7401b7d3c0a2f2",
        "state_snapshots.jsonl": "c4b46c411bac82a11b45710436231c117e775381a6b07af403af58827c5f7f35",
        "metrics.json": "354e7ca97084a474c44e6c0375cf5b62ba2a561674b052d21195e94c1b183141",
        "audit.jsonl": "091f44919a5cc3fd871411d5574a26efda8e36563d14bfadae909afcc5c9fae2",
    },
    "pin-oco": {
        "events.jsonl": "a3ad41b2b5cdbd60d8e3e8c60d8fcae543222356687ec8e0285a0f1bd78adad2",
        "state_snapshots.jsonl": "0d9da10c465f984976483f0769589eab3abdf18e0bbeabcef8fec56f7cc4ad81",
        "metrics.json": "80bcad8403170b0adddaa662c62464f6e36f88d681a91e80ff932382fc4e0ab2",
        "audit.jsonl": "d266d30658fde43a56a81193a7fa99b40df71b7bd915b8125cc47c13f78be246",
    },
    "pin-fixed": {
        "events.jsonl": "0e4c0c4284e435a44e0202e9bd1f23a9851533a340e9f27405d9ec64099ec8d0",
        "state_snapshots.jsonl": "0aa53bd2a5015a49100a9cce878353e09dac697338750325048c310a4ec2a56d",
        "metrics.json": "4eb8a3061c54bb615bbe2bb2991fbfb177bf66035873fdf01936edce4907414c",
        "audit.jsonl": "cde56de8f4f20bb38b789870d01ef5b54aa8b8bfbd09443d80cba482fc7ba3cc",
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
