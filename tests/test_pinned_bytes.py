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

CONTRACT = ("events.jsonl", "state_snapshots.jsonl", "metrics.json", "audit.jsonl")

_RUNS: dict[str, tuple[str, ...]] = {
    "pin": ("--seed", "11"),
    "pin-realish": ("--seed", "12", "--broker", "realish"),
    "pin-oco": ("--seed", "13", "--config", "{oco}"),
    "pin-fixed": ("--seed", "14", "--clock", "fixed"),
}

PINNED: dict[str, dict[str, str]] = {
    "pin": {
        "events.jsonl": "64c24d60be5d849a592a05d45df730cc3822c93795606c6d87fdf0cd816a8d3e",
        "state_snapshots.jsonl": "6adbecb6e72b7eebafdb3977ad0e6329feda4ebd112c04410865b488b314c64c",
        "metrics.json": "76280bf4926539e73a6695f277792aca3c09e2a8fe254bf1537ecf04f22fb3dd",
        "audit.jsonl": "0ed321c568c24d101317e67baa6fb5afd6cf70e7c881c55b76be30cd845fa29c",
    },
    "pin-realish": {
        "events.jsonl": "cc523f5115a367b492eb678969efe3d4f9a834ca7e62c45aeea235487f6ccab0",
        "state_snapshots.jsonl": "c4b46c411bac82a11b45710436231c117e775381a6b07af403af58827c5f7f35",
        "metrics.json": "f2a3f0ca8acb6be4309b991351236821672299ec1bc1afcfab747e71bb67395d",
        "audit.jsonl": "8ad27053ab47a90973a8427ee5a8f06604bbbc3993c476caff297ef03a8071c2",
    },
    "pin-oco": {
        "events.jsonl": "de1d74649d46f5ce6a5cbbc3a1084da78f50b66f119b148477a8056c9b13d5bb",
        "state_snapshots.jsonl": "0d9da10c465f984976483f0769589eab3abdf18e0bbeabcef8fec56f7cc4ad81",
        "metrics.json": "05308497c939f5ca7246e6d8e99df05b92ab5a17026084758723cffa2df4f263",
        "audit.jsonl": "ddc8f965afc283d5fe10130e7c8122f8fbdec9bc0a34b3def2af50c45cde17c2",
    },
    "pin-fixed": {
        "events.jsonl": "72583698f7ab5d0628f541956e6d35ec11b6ee4aaaa8d577f7b64458c9f95fed",
        "state_snapshots.jsonl": "0aa53bd2a5015a49100a9cce878353e09dac697338750325048c310a4ec2a56d",
        "metrics.json": "ad6085a1e077018fad30dfcfd48ff5bc978e613b9ed376343c718fb82cf023a0",
        "audit.jsonl": "1f206758ed4944d7b3a0248b3ddbca23fc41d111a5a091af2c638956498d6b68",
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
    assert got == PINNED[run_id]
