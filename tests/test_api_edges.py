"""The Python API at its edges: what ``create_run``, ``resume_run`` and the orchestrator take.

A path is a ``str`` or any ``os.PathLike``. An argument of the wrong kind is refused with
one line naming it before anything is written, never found out steps later.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from livesession import (
    CsvReplayFeed,
    DryrunConfig,
    FileLease,
    FileLineSink,
    FileMetricsSink,
    check_csv,
    create_run,
    open_session,
    resume_run,
    verify_run,
)

from crash_harness import KILLED, cli


class _PathLike:
    """An ``os.PathLike`` that is not a ``pathlib.Path`` (as some applications carry paths)."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)

    def __fspath__(self) -> str:
        return self._path


class TestPaths:
    def test_create_run_takes_a_str_and_any_path_like(self, tmp_path: Path) -> None:
        """Bug: ``create_run(cfg, "/tmp/x")`` died of ``'str' / 'str'`` (and ``resume_run``
        of a str of ``'str' object has no attribute 'exists'``, below)."""
        session = create_run(DryrunConfig(run_id="as-str", steps=5), str(tmp_path / "runs"))
        session.run_to_end(5)
        session.close()
        session = create_run(
            DryrunConfig(run_id="as-pathlike", steps=5), _PathLike(tmp_path / "runs")
        )
        session.run_to_end(5)
        session.close()
        for name in ("as-str", "as-pathlike"):
            assert verify_run(str(tmp_path / "runs" / name)).ok

    def test_resume_run_takes_a_str(self, tmp_path: Path) -> None:
        proc = cli(
            "dryrun", "--out", tmp_path, "--run-id", "crashed", "-q", crash_at="checkpoint:3"
        )
        assert proc.returncode == KILLED, proc.stderr
        resumed = resume_run(str(tmp_path / "crashed"))
        resumed.run_to_end(resumed.config.steps)
        resumed.close()
        assert verify_run(_PathLike(tmp_path / "crashed")).ok

    def test_open_session_takes_path_likes(self, tmp_path: Path) -> None:
        async def main() -> None:
            config = DryrunConfig(run_id="aio-pathlike", steps=5)
            async with open_session(config, out_dir=_PathLike(tmp_path)) as session:
                await session.run_steps(5)
                assert session.run_dir == tmp_path / "aio-pathlike"

        asyncio.run(main())
        assert verify_run(tmp_path / "aio-pathlike").ok

    def test_the_exported_file_classes_take_a_str(self, tmp_path: Path) -> None:
        """Bug: ``FileLineSink("events.jsonl")`` and ``CsvReplayFeed("bars.csv", ...)`` died
        of ``'str' object has no attribute 'open'``."""
        sink = FileLineSink(str(tmp_path / "events.jsonl"))
        sink.write_line(b"{}\n")
        sink.close()
        assert sink.path == tmp_path / "events.jsonl"
        assert (tmp_path / "events.jsonl").read_bytes() == b"{}\n"
        metrics = FileMetricsSink(_PathLike(tmp_path / "metrics.json"))
        metrics.replace(b"{}")
        assert (tmp_path / "metrics.json").read_bytes() == b"{}"
        bars = tmp_path / "bars.csv"
        bars.write_text("open,high,low,close,volume\n1.0,1.2,0.9,1.1,5\n1.1,1.3,1.0,1.2,5\n")
        feed = CsvReplayFeed(str(bars), symbol="BARS", tick=None, lot=Decimal("0.001"))
        try:
            assert feed.next_bar(0) is not None
        finally:
            feed.close()
        assert check_csv(_PathLike(bars), tick=None).rows == 2
        FileLease(_PathLike(tmp_path / "lease.json"), "acct", "strat").close()
