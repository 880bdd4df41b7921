"""A run's files keep the mode they were given through the rewrites of a run and a resume.

Files are made under the process umask. A rewrite (a temporary file renamed over the old
one: the checkpoint, ``metrics.json``, ``timings.json``) took the umask's bits again, and a
``.torn`` file made on a resume took them too: a run's files ``chmod``-ed away from other
users were readable by them again after the next checkpoint. Now a rewrite keeps the mode of
the file it replaces, a ``.torn`` file takes its original's, and ``timings.json`` (made at
the end) takes ``events.jsonl``'s, as ``metrics.ndjson`` does when it is made (at step 1,000;
a rotation's new file takes the mode of the one it follows).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession import DryrunConfig, create_run
from livesession._artifacts import names
from livesession._support.fsutil import atomic_write_bytes
from livesession._support.torn import torn_path, truncate_to

from crash_harness import KILLED, PROFILES, cli, dryrun

_UMASK = 0o027
_MADE = 0o640  # what the umask makes of a new file (0o666)


@pytest.fixture(autouse=True)
def _umask() -> Iterator[None]:
    """The tests run, and their subprocesses start, under ``umask 027``."""
    before = os.umask(_UMASK)
    yield
    os.umask(before)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _modes(directory: Path) -> dict[str, int]:
    return {path.name: _mode(path) for path in directory.iterdir()}


def test_a_resume_keeps_each_file_s_mode_and_gives_the_new_ones_their_original_s(
    tmp_path: Path,
) -> None:
    profile = PROFILES["mock-sqlite"]
    assert dryrun(profile, tmp_path, crash_at="torn_events:120").returncode == KILLED
    run_dir = tmp_path / profile.name
    assert set(_modes(run_dir).values()) == {_MADE}
    for path in run_dir.iterdir():
        path.chmod(0o600)
    (run_dir / names.METRICS).chmod(0o644)  # wider than the umask: kept, not narrowed
    (run_dir / names.EVENTS).chmod(0o604)
    before = _modes(run_dir)

    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == 0, resumed.stderr

    after = _modes(run_dir)
    assert after.pop(names.EVENTS + ".torn") == 0o604  # its original's
    assert after.pop(names.TIMINGS) == 0o604  # made at the end: events.jsonl's
    assert after.keys() <= before.keys()  # SQLite's -wal and -shm go when it closes
    kept = {name: before[name] for name in after}
    assert after == kept  # the checkpoint, metrics.json, every file rewritten or grown


def test_a_checkpoint_rewritten_during_a_run_keeps_its_mode(tmp_path: Path) -> None:
    config = DryrunConfig(run_id="modes", seed=7, steps=40, checkpoint_every=1)
    with create_run(config, tmp_path) as session:
        assert session.preflight()
        session.activate()
        session.run_n_steps(5)
        checkpoint = tmp_path / "modes" / names.CHECKPOINT
        written = checkpoint.read_bytes()
        checkpoint.chmod(0o600)
        session.run_n_steps(5)
        # Rewritten since: read from its bytes (the steps it holds). Its mtime was the sign,
        # and five quick steps can fall inside one tick of the kernel's file-time clock.
        assert checkpoint.read_bytes() != written
        assert _mode(checkpoint) == 0o600
    assert _mode(checkpoint) == 0o600  # and at the seal


class TestAtomicWriteBytes:
    def test_a_rewrite_keeps_the_mode_of_the_file_it_replaces(self, tmp_path: Path) -> None:
        target = tmp_path / "checkpoint.json"
        target.write_bytes(b"old")
        target.chmod(0o604)
        atomic_write_bytes(target, b"new")
        assert (target.read_bytes(), _mode(target)) == (b"new", 0o604)

    def test_a_new_file_takes_the_mode_of_like(self, tmp_path: Path) -> None:
        beside = tmp_path / "events.jsonl"
        beside.write_bytes(b"")
        beside.chmod(0o600)
        atomic_write_bytes(tmp_path / "timings.json", b"{}", like=beside)
        assert _mode(tmp_path / "timings.json") == 0o600

    def test_a_file_there_wins_over_like(self, tmp_path: Path) -> None:
        beside, target = tmp_path / "events.jsonl", tmp_path / "timings.json"
        for path, mode in ((beside, 0o600), (target, 0o644)):
            path.write_bytes(b"")
            path.chmod(mode)
        atomic_write_bytes(target, b"{}", like=beside)
        assert _mode(target) == 0o644

    def test_with_nothing_to_keep_a_new_file_has_the_umask_s(self, tmp_path: Path) -> None:
        atomic_write_bytes(tmp_path / "new.json", b"{}", like=tmp_path / "missing")
        assert _mode(tmp_path / "new.json") == _MADE

    def test_a_symlink_s_target_lends_no_mode(self, tmp_path: Path) -> None:
        """The link is replaced, not what it leads to: that file's mode is not its own."""
        elsewhere = tmp_path / "elsewhere"
        elsewhere.write_bytes(b"kept")
        elsewhere.chmod(0o604)
        (tmp_path / "link").symlink_to(elsewhere)
        atomic_write_bytes(tmp_path / "link", b"new")
        assert _mode(tmp_path / "link") == _MADE
        assert (elsewhere.read_bytes(), _mode(elsewhere)) == (b"kept", 0o604)


class TestTornFiles:
    def test_a_torn_file_takes_its_original_s_mode(self, tmp_path: Path) -> None:
        log = tmp_path / "events.jsonl"
        log.write_bytes(b"whole\ntorn")
        log.chmod(0o600)
        assert truncate_to(log, 6) == b"torn"
        assert _mode(torn_path(log)) == 0o600
        assert _mode(log) == 0o600

    def test_a_torn_file_there_already_keeps_its_own(self, tmp_path: Path) -> None:
        log = tmp_path / "events.jsonl"
        log.write_bytes(b"whole\ntorn")
        log.chmod(0o600)
        torn_path(log).write_bytes(b"earlier")
        torn_path(log).chmod(0o644)
        truncate_to(log, 6)
        assert (torn_path(log).read_bytes(), _mode(torn_path(log))) == (b"earliertorn", 0o644)


def test_metrics_ndjson_made_after_a_chmod_takes_events_jsonl_s_mode(tmp_path: Path) -> None:
    """``metrics.ndjson`` is made at step 1,000 (a resume under another umask, a ``chmod`` of
    the run's files before it) and again at each rotation: it took the umask's bits, 0640,
    where the run's files were 0600 (found resuming a run crashed under ``umask 077`` from a
    shell under ``umask 002``: ``metrics.ndjson`` alone was 0664)."""
    from livesession._artifacts.timings import StepTimer

    (tmp_path / names.EVENTS).write_bytes(b"")
    (tmp_path / names.EVENTS).chmod(0o600)
    timer = StepTimer(tmp_path, run_id="modes", every_steps=1, max_bytes=1)  # rotates each row
    log = tmp_path / names.METRICS_LOG
    timer.on_step(1)
    assert _mode(log) == 0o600  # made: events.jsonl's
    log.chmod(0o604)
    timer.on_step(2)
    assert _mode(log.with_name(log.name + ".1")) == 0o604  # rotated: a new file made
    assert _mode(log) == 0o604  # the one it follows
    assert timer.lost is None


def test_alerts_jsonl_made_late_takes_events_jsonl_s_mode(tmp_path: Path) -> None:
    """``alerts.jsonl`` is made at the first alert, anew on a resume whose webhook was set only
    then (or whose file was removed): it took the umask's bits, 0640, beside a run's 0600
    files (found resuming a run crashed under ``umask 077`` from a shell under ``umask 002``).
    A URL the HTTP client refuses at once gives up without a socket."""
    from livesession import LiveSessionOrchestrator
    from livesession._artifacts.webhook import WebhookAlertSink
    from livesession._domain.runtime_config import Secret

    from _helpers import Sinks

    (tmp_path / names.EVENTS).write_bytes(b"")
    (tmp_path / names.EVENTS).chmod(0o600)
    log = tmp_path / names.ALERTS
    sink = WebhookAlertSink(Secret("http://127.0.0.1:9/\thook"), log_path=log, retries=0)
    cfg = DryrunConfig(run_id="m", steps=3)
    LiveSessionOrchestrator(cfg, alerts=sink, **Sinks().kwargs()).run_to_end(3)
    written = log.read_bytes().count(b'"outcome":"gave_up"')
    assert written >= 1
    assert _mode(log) == 0o600  # made: events.jsonl's, not the umask's 0640
    log.chmod(0o604)
    again = WebhookAlertSink(Secret("http://127.0.0.1:9/\thook"), log_path=log, retries=0)
    LiveSessionOrchestrator(cfg, alerts=again, **Sinks().kwargs()).run_to_end(3)
    assert log.read_bytes().count(b'"outcome":"gave_up"') == 2 * written  # appended to
    assert _mode(log) == 0o604  # an existing file's mode is its own
