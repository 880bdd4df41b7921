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
        "events.jsonl": "965e14cb1a25e491703b12d632f516b549871c2ecb6b5a877c3f55b048427987",
        "state_snapshots.jsonl": "ab2ec8fd7130349e7d165d5674800b420829c2556e71803f7351d0fb1d2dbe09",
        "metrics.json": "20a1d7bf09b2f5ff96e1916895eb3bb79eaeafe80e5da423f3b2c10f7fec7a82",
        "audit.jsonl": "243c55ddec4f7455d41581f7c66805cc3c997d0b48fca2b298d39ae43962e5a0",
    },
    "pin-realish": {
        "events.jsonl": "1596f1698ddcfba87b60b855f62a99afc19898ddfb733485de068f70fe0d2815",
        "state_snapshots.jsonl": "468ddc0814b39d0b63d75e256d54cdf94935a10e61d88f2f372129b0bd5860be",
        "metrics.json": "049dff27645cadb8f5fb34c7a4f2da9245bfbe297bc3658e86f1f1a1b71c37f7",
        "audit.jsonl": "57b294a56b01cfafd1342520a8d2ef537653bcfbbb11d6eda72f518e917e2b5f",
    },
    "pin-oco": {
        "events.jsonl": "b974a76a69814522ea96e08502ed91a078a329f0a72494cf147cce22b45769e9",
        "state_snapshots.jsonl": "655904047955de23c8cab1a4cccb7b20c69c056db80ec7fc5c6d1e24d0d6f41b",
        "metrics.json": "516ed3ea490e930052a3c806065596b6310f14110fcbc2e1e425a9697f58146f",
        "audit.jsonl": "c97e64f4e4a987f65e7244032b9842e2685c76e7b300c2f508118bb2de5e7d54",
    },
    "pin-fixed": {
        "events.jsonl": "f03b90dc7c71670af03c1905282751c51a13f9212598a1f2390a3777b7c2c323",
        "state_snapshots.jsonl": "40e92a437fa9377a198a3d65c7a8ff8b4ea10d74765998de98f2aeada2953f86",
        "metrics.json": "d5f5c7d102078545e2e9b501b7fd5029bbf58323f049c6439723e8f9f7e55014",
        "audit.jsonl": "3956403a80324b9b38019bd4906211426b08c5737a3c508f71609daac9ae06ec",
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
