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
        "events.jsonl": "a7ce30f8eb072d3e5de2643635346f54f7bb59c231dc6ec72d9e2baba0480dc0",
        "state_snapshots.jsonl": "28de2bff1ba0d0aa0df359dc0180f44756708ac52ee02ac1fb6d615ab573c2b7",
        "metrics.json": "7c80fc29ed8d6d1c06d2b33bf79e31ca0a28c087caece6d94b7e15f143582e18",
        "audit.jsonl": "f5151541395d4ce22066b57421cbd309dafd372952abd77d976f2ad9992ad165",
    },
    "pin-realish": {
        "events.jsonl": "4694941f5479b03fad866c23deb8453274eeac7eb538a6170d33c62847433c0c",
        "state_snapshots.jsonl": "34894376c0f37c4e410bc11565294716f2467066c088705cd793e7055a3849ca",
        "metrics.json": "04e4fdd6b39734e1686012ba7d919a6165162269672ad2da3a4729cc15646876",
        "audit.jsonl": "778a715d5bc6049ef4bca5e6f43231ff53b80beb769cc573bc8405472112d85f",
    },
    "pin-oco": {
        "events.jsonl": "b2a3a37aab26738394bacde88c330101f40b4e6cc1943c2ec1b99b4f755ae917",
        "state_snapshots.jsonl": "55ac94849aed3c920d516d67d1c7661477fcd87da75d7d8644187893113d2ffa",
        "metrics.json": "81579e021e395930c5ff6e1a10db7533acd8a9e1d6caea909ae9e4ddf92d0cb1",
        "audit.jsonl": "42d5b2dac6166f3c07dbbc183b17f40b09120a9f948236247007e272be84cf71",
    },
    "pin-fixed": {
        "events.jsonl": "b92f61bbbf7d4f4c73a410e0063522cb99be51acef722431a7ace390d62522ac",
        "state_snapshots.jsonl": "42b9fc0c3ff112a48ff2b5d1201c5fa967f2881875079130653ad16b5c8624a8",
        "metrics.json": "f1c875b4700da54766bc0dfd9f2b0854199f78bd5ced3a72cbbcbc07931267c0",
        "audit.jsonl": "d631ad61542640a4c90727ba7c914c19c2feb83e2bd14f4cbd0e658e6505dc80",
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
