"""``verify`` holds ``run.json`` to what the run's audited records say of the same fields.

``run.json`` is outside the audit chain, and verify read only its ``format`` and
``config_hash``: a run whose ``run.json`` said another ``version`` (which ``resume`` goes
by), no lease where the run took one, or another data file than the audited config pins
verified OK. Each is now a violation naming the field.
"""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, create_run, verify_run
from livesession.cli import main

CHANGED = "run.json was changed after the run; keep the run as it is and report it"


def _run(out: Path, run_id: str = "meta", *, lease: bool = False, **fields: object) -> Path:
    config = DryrunConfig(run_id=run_id, steps=30, durability="none", **fields)
    create_run(config, out, lease=lease, alerts=False).run_to_end(30)
    return out / run_id


def _edited(run: Path, change: dict[str, object], *, drop: str = "") -> list[str]:
    """The violations of ``run`` with ``run.json`` changed so; run.json put back after."""
    path = run / "run.json"
    written = path.read_bytes()
    meta = orjson.loads(written) | change
    meta.pop(drop, None)
    path.write_bytes(orjson.dumps(meta, option=orjson.OPT_SORT_KEYS) + b"\n")
    try:
        return list(verify_run(run).violations)
    finally:
        path.write_bytes(written)
        assert verify_run(run).ok


def test_a_version_edited_or_removed_is_found(tmp_path, capsys):
    run = _run(tmp_path)
    started = orjson.loads((run / "events.jsonl").read_bytes().splitlines()[0])["payload"]
    assert verify_run(run).ok
    said = (
        f'run.json: version is "9.9.9", but the run\'s audited record (SESSION_STARTED, '
        f"C2_DRYRUN_START) says livesession {started['version']} wrote it: {CHANGED}"
    )
    assert _edited(run, {"version": "9.9.9"}) == [said]
    assert _edited(run, {}, drop="version") == [
        said.replace('version is "9.9.9"', "version is missing")
    ]
    meta = run / "run.json"
    written = meta.read_bytes()
    meta.write_bytes(written.replace(started["version"].encode(), b"0.2.99"))
    assert main(["verify", str(run)]) == 1
    assert 'run.json: version is "0.2.99"' in capsys.readouterr().out
    meta.write_bytes(written)


@pytest.mark.parametrize("lease", [True, False])
def test_a_lease_edited_is_found(tmp_path, lease):
    run = _run(tmp_path, lease=lease)
    assert verify_run(run).ok
    (violation,) = _edited(run, {"lease": not lease})
    if lease:
        assert violation == (
            "run.json: lease is false, but the run's events record its session_lease "
            f"preflight check, so it took the lease: {CHANGED}"
        )
    else:
        assert violation == (
            "run.json: lease is true, but the run passed its preflight with no session_lease "
            f"check in its events, so it took none: {CHANGED}"
        )


def test_the_data_file_edited_is_found(tmp_path):
    rows = ["time,open,high,low,close,volume"] + [
        f"2026-01-01T00:{minute:02d}:00Z,100,103,98,{100 + minute % 3},1" for minute in range(40)
    ]
    data = tmp_path / "bars.csv"
    data.write_text("\n".join(rows) + "\n")
    run = _run(tmp_path / "runs", feed=f"csv:{data}")
    assert verify_run(run).ok
    meta = orjson.loads((run / "run.json").read_bytes())
    config = orjson.loads((run / "config.json").read_bytes())
    assert meta["data"]["sha256"] == config["feed_sha256"]
    other = {**meta["data"], "sha256": "0" * 64, "bytes": 12}
    assert _edited(run, {"data": other}) == [
        (
            f'run.json: data.sha256 is "{"0" * 12}...", but the audited config (config_sha256) has '
            f'feed_sha256 "{config["feed_sha256"][:12]}...": {CHANGED}'
        ),
        (
            f"run.json: data.bytes is 12, but the audited config (config_sha256) has feed_bytes "
            f"{config['feed_bytes']}: {CHANGED}"
        ),
    ]
    assert _edited(run, {}, drop="data") == [
        (
            "run.json: data is missing, but the audited config (config_sha256) reads a data "
            f"file: {CHANGED}"
        )
    ]
    plain = _run(tmp_path / "plain")
    assert _edited(plain, {"data": meta["data"]}) == [
        (
            "run.json: data names a data file, but the audited config (config_sha256) reads "
            f"none: {CHANGED}"
        )
    ]
