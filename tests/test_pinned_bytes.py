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
        "events.jsonl": "956a011607f2380207ca1216b3526c459d71419fc2505f9651a8353c9694faa0",
        "state_snapshots.jsonl": "28de2bff1ba0d0aa0df359dc0180f44756708ac52ee02ac1fb6d615ab573c2b7",
        "metrics.json": "92187479be96f2c0ccda1807ad85c221db84330e4d5aed66bdbb5683ec050928",
        "audit.jsonl": "6f73bcd8317199bca5e03e532c73fabb9d1014589fff2344b3c49486c1201bf4",
    },
    "pin-realish": {
        "events.jsonl": "f6975a18b5c172ee5103c3b9a2178d7b8ad060b92fda6677b5a0eea89f1dcbe6",
        "state_snapshots.jsonl": "34894376c0f37c4e410bc11565294716f2467066c088705cd793e7055a3849ca",
        "metrics.json": "a18eb9891326f8c6098dec956107a1a5950744e73dfe756a673e7fed3be11286",
        "audit.jsonl": "52267bf0fab55aa1441832b2aaa4ab9f1742c3280c2882f84eec083edae899ba",
    },
    "pin-oco": {
        "events.jsonl": "5c8d0d8434a69eb142956e3ea973616834e1626170836ea7f984749591895b34",
        "state_snapshots.jsonl": "55ac94849aed3c920d516d67d1c7661477fcd87da75d7d8644187893113d2ffa",
        "metrics.json": "8b53c5ff95a62b1adea2e9cb1fdc8fcdc1db1ddfdf65f7438091e1b2528fb39c",
        "audit.jsonl": "992d6f6263f562e8c52fddf4311dca388ccc4c277995f2e4c90a3400ae1c9949",
    },
    "pin-fixed": {
        "events.jsonl": "1d16aa8e51469ca550b9d9e4b4ab6a3aaa32777a17be137807d6b1e069e5700d",
        "state_snapshots.jsonl": "42b9fc0c3ff112a48ff2b5d1201c5fa967f2881875079130653ad16b5c8624a8",
        "metrics.json": "36302a0799983f3369caf504053ae05ff29c506bcad059ab0a1caf0d90e065f7",
        "audit.jsonl": "de8015c9c167f32bf52ce8246e4af21e78d060287145546c108380d0667194d0",
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
