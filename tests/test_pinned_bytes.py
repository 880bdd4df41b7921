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
        "events.jsonl": "cf448ec969df95e6e285896e1b3376c027312d5d77bfad977bab8a3c187e1367",
        "state_snapshots.jsonl": "28de2bff1ba0d0aa0df359dc0180f44756708ac52ee02ac1fb6d615ab573c2b7",
        "metrics.json": "8d5a37b6b588a2b2e77f7944e7adda57f0dacd68f656dcb4330162ffe829b08c",
        "audit.jsonl": "227b950247d984a9979d81d75124918599a1090106d6e5cf2f8ff440ac95585c",
    },
    "pin-realish": {
        "events.jsonl": "a40e2149c48b37b076412aea73165625a56256853a890f6737aee4ea24a668db",
        "state_snapshots.jsonl": "34894376c0f37c4e410bc11565294716f2467066c088705cd793e7055a3849ca",
        "metrics.json": "4082d1f6c9083aa14b31cc2fdfec366a86fa7524f47adde081ae1ac2542c3491",
        "audit.jsonl": "bba3afc25eb7deafa80ec3cb0f10a5c6e0591882977f86bd394fb41fa323ab38",
    },
    "pin-oco": {
        "events.jsonl": "292858bb1540984a9a5ef64f54ee4249ebff03d0b6c207347594a0b70be35e17",
        "state_snapshots.jsonl": "55ac94849aed3c920d516d67d1c7661477fcd87da75d7d8644187893113d2ffa",
        "metrics.json": "0d80136c9b3d36ad7f9c298b5d49e2106fc595c3bd569bb460bdd2326e10737a",
        "audit.jsonl": "cf4b7b46b2a9563c3e04a220f6c2343081664e50987a242aa356cf4cc281af9b",
    },
    "pin-fixed": {
        "events.jsonl": "516e0058b9a0d3a00bcef0fed5c6e721b8d5f25953fbfb1f0f547d1279691f78",
        "state_snapshots.jsonl": "42b9fc0c3ff112a48ff2b5d1201c5fa967f2881875079130653ad16b5c8624a8",
        "metrics.json": "3cf22d069e12f114e4e467a323930f55632aceb460462e57d3b547249c0e437e",
        "audit.jsonl": "2597cd8ed3638251dfc82f11958af7f881196fe7093c7e1ef890a0bc1dc0007a",
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
