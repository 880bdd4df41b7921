"""What the seal makes durable before its sealing checkpoint, and a sync that fails at the seal.

Bug (durability ``step``, the CLI default): the seal flushed its lines unsynced first (a
refusal there decides the status), which marked them done, so its sync before the sealing
checkpoint skipped every sink: the checkpoint reached the disk while ``SESSION_STOPPED``,
the final snapshot and ``C2_DRYRUN_STOP`` might not (a power cut then left an honest run
reading as tampered). Now a sync after an unsynced flush still syncs.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from livesession._artifacts import names
from livesession.cli import main

CONTRACT = (names.EVENTS, names.SNAPSHOTS, names.AUDIT)


def _fd_name(fd: int) -> str:
    return Path(f"/proc/self/fd/{fd}").readlink().name


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")
@pytest.mark.parametrize("durability", ["step", "event"])
def test_the_seal_syncs_every_contract_file_whole_before_the_sealing_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, durability: str
) -> None:
    synced: dict[str, int] = {}  # file name -> its size at its last fdatasync
    at_checkpoint: list[dict[str, int]] = []
    fdatasync, replace = os.fdatasync, os.replace

    def on_fdatasync(fd: int) -> None:
        fdatasync(fd)
        synced[_fd_name(fd)] = os.fstat(fd).st_size

    def on_replace(src: object, dst: object) -> None:
        if Path(str(dst)).name == names.CHECKPOINT:
            at_checkpoint.append(dict(synced))
        replace(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "fdatasync", on_fdatasync)
    monkeypatch.setattr(os, "replace", on_replace)
    args = ["dryrun", "--out", str(tmp_path), "--run-id", "s", "--steps", "30", "-q"]
    assert main([*args, "--durability", durability]) == 0
    run_dir = tmp_path / "s"
    sealing = at_checkpoint[-1]  # what was durable when the sealing checkpoint replaced
    sizes = {name: (run_dir / name).stat().st_size for name in CONTRACT}
    assert {name: sealing.get(name) for name in CONTRACT} == sizes
