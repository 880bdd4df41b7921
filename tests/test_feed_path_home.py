"""A data file named from a home directory (``feed = "csv:~/data/x.csv"``, ``--feed csv:~/x.csv``).

``~`` and ``~user`` are that home, as a shell gives it (docs/data.md, "Paths and
identity"): ``config.json`` keeps the feed as written, and the run reads, hashes and
records (``run.json``'s ``data``) the same file as the path written out. A ``~user`` this
system has no home for ended ``dryrun`` in ``RuntimeError: Could not determine home
directory.``, a traceback; it is one line now, naming the path and what to write.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from livesession.verify import verify_run

ROWS = "".join(
    f"2026-03-06T20:{m:02d}:00Z,100.{m:02d},101.00,99.00,100.{m:02d},{m + 1}\n" for m in range(40)
)
NO_SUCH_USER = "~livesession-no-such-user"


def _cli(*args: str | Path, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "livesession.cli", *map(str, args)],
        cwd=cwd,
        env={**os.environ, "HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "home" / "data").mkdir(parents=True)
    (tmp_path / "home" / "data" / "btc.csv").write_text(
        "timestamp,open,high,low,close,volume\n" + ROWS, encoding="utf-8"
    )
    (tmp_path / "cfg").mkdir()
    return tmp_path / "home"


def _data(run: Path) -> dict[str, object]:
    data = json.loads((run / "run.json").read_text(encoding="utf-8"))["data"]
    assert isinstance(data, dict)
    return data


@pytest.mark.parametrize("how", ["config", "command line"])
def test_a_home_path_reads_and_records_the_file_the_path_written_out_does(
    tmp_path: Path, home: Path, how: str
) -> None:
    out = tmp_path / "runs"
    written_out = home / "data" / "btc.csv"
    runs = {}
    for run_id, path in (("tilde", "~/data/btc.csv"), ("full", str(written_out))):
        given: list[str | Path]
        if how == "config":
            config = tmp_path / "cfg" / f"{run_id}.toml"
            config.write_text(f'feed = "csv:{path}"\nsymbol = "BTC/USDT"\n', encoding="utf-8")
            given = ["--config", config]
        else:
            given = ["--feed", f"csv:{path}", "--symbol", "BTC/USDT"]
        done = _cli("dryrun", *given, "--steps", "30", "--out", out, "--run-id", run_id,
                    "-q", cwd=tmp_path, home=home)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert verify_run(out / run_id).ok
        runs[run_id] = out / run_id
    recorded = json.loads((runs["tilde"] / "config.json").read_text(encoding="utf-8"))
    assert recorded["feed"] == "csv:~/data/btc.csv"  # kept as written
    tilde, full = _data(runs["tilde"]), _data(runs["full"])
    assert tilde.pop("feed") == "csv:~/data/btc.csv"
    assert full.pop("feed") == f"csv:{written_out}"
    assert tilde == full  # the same file: path, SHA-256, bytes, rows, first and last time
    assert tilde["path"] == str(written_out.resolve())
    recorded_full = json.loads((runs["full"] / "config.json").read_text(encoding="utf-8"))
    for key in ("feed_sha256", "feed_bytes"):
        assert recorded[key] == recorded_full[key]


@pytest.mark.parametrize("how", ["config", "command line"])
def test_a_home_this_system_does_not_know_is_refused_in_one_line(
    tmp_path: Path, home: Path, how: str
) -> None:
    path = f"{NO_SUCH_USER}/data/btc.csv"
    given: list[str | Path]
    if how == "config":
        config = tmp_path / "cfg" / "run.toml"
        config.write_text(f'feed = "csv:{path}"\nsymbol = "BTC/USDT"\n', encoding="utf-8")
        given = ["--config", config]
    else:
        given = ["--feed", f"csv:{path}", "--symbol", "BTC/USDT"]
    out = tmp_path / "runs"
    done = _cli("dryrun", *given, "--steps", "30", "--out", out, "--run-id", "r",
                cwd=tmp_path, home=home)  # fmt: skip
    assert done.returncode == 2, done.stderr
    said = (
        f"livesession: error: data file {path}: this system gives no home directory for"
        f" {NO_SUCH_USER} (no such user, or HOME unset): write the path out in full"
    )
    assert done.stderr.splitlines() == [said]
    assert not (out / "r").exists()
