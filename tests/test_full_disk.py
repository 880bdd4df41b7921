"""A file system that refuses writes part-way through a run (a full disk, a file size quota).

Each run is a CLI process whose files may not grow past a size (``RLIMIT_FSIZE``: every
write beyond it fails with EFBIG, as a full disk fails with ENOSPC), so the refusal lands
wherever the run happens to be: creating the run, in a step, in the seal, on the last
flush. Whatever it hit, the run must end as the RUNBOOK says: one line ending ``the run is
not sealed; ...`` (exit 2), ``status`` says crashed (6), and once there is room ``resume``
finishes it to the bytes of a run that never hit the limit. Or, refused while the run is
created, nothing is left behind.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
from pathlib import Path

import orjson
import pytest

from livesession import DryrunConfig, MemoryLineSink, MemoryMetricsSink, create_run, resume_run
from livesession._artifacts import names, sinks, timings
from livesession._artifacts.recorder import Recorder
from livesession._artifacts.timings import StepTimer
from livesession._domain import clock as _clock
from livesession._exceptions import CheckpointError
from livesession._session.lease_keeper import LeaseKeeper
from livesession._support import wholelines
from livesession._support.logging import configure_logging, disable_logging, get_logger
from livesession.cli import main
from livesession.leases import file as lease_file
from livesession.status import Verdict, run_status
from livesession.verify import verify_run

from _helpers import cli_under

resource = pytest.importorskip("resource")  # POSIX

STEPS = "3000"
# The idempotency keys in a JSON Lines file, which grows far slower than events.jsonl, so
# that the artifacts' files meet the limit first. (A SQLite store's write-ahead log meets it
# first: see test_a_store_refused_its_write_leaves_a_run_resume_finishes. Keys in memory do
# not survive to the resume, which then meets the venue's refusal of a duplicate instead of
# looking the order up, so its bytes differ.)
ARGS = ("--steps", STEPS, "--idempotency-backend", "jsonl", "-q")


def _cli(*args: str | Path, limit: int | None = None) -> subprocess.CompletedProcess[str]:
    return cli_under(*args, limit=None if limit is None else (resource.RLIMIT_FSIZE, limit))


@pytest.fixture(name="whole", scope="module")
def _whole(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """events.jsonl of the same run with room to spare."""
    out = tmp_path_factory.mktemp("whole")
    done = _cli("dryrun", "--out", out, "--run-id", "r", *ARGS)
    assert done.returncode == 0, done.stderr
    return (out / "r" / names.EVENTS).read_bytes()


@pytest.mark.broken_run("the file system refuses writes on purpose: the run is resumed after")
@pytest.mark.parametrize("limit", [5_000, 40_000, 150_000, 600_000])
def test_a_refused_write_leaves_a_run_resume_finishes(
    tmp_path: Path, whole: bytes, limit: int
) -> None:
    out = tmp_path / "runs"
    run_dir = out / "r"
    done = _cli("dryrun", "--out", out, "--run-id", "r", *ARGS, limit=limit)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith("livesession: error: the ")
    assert "File too large" in line
    assert line.endswith(  # a file size limit, not a full disk: room is no way out
        "the run is not sealed; once files may grow again (file too large: raise the file size "
        f"limit, `ulimit -f`), `livesession status {run_dir}` says whether `livesession resume "
        f"{run_dir}` can continue it"
    )
    status = _cli("status", run_dir, "--json")
    assert status.returncode == 6, status.stdout  # crashed: resumable
    said = json.loads(status.stdout)
    # Where resume continues from (its checkpoint), not the fault a later snapshot shows.
    assert (said["verdict"], said["state"], said["status"]) == (
        "crashed",
        "DRYRUN_ACTIVE",
        "RUNNING",
    )
    resumed = _cli("resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert verify_run(run_dir).ok
    assert (run_dir / names.EVENTS).read_bytes() == whole


@pytest.mark.broken_run("the file system refuses writes on purpose: the run is resumed after")
@pytest.mark.parametrize("limit", [60_000, 100_000])
def test_a_store_refused_its_write_leaves_a_run_resume_finishes(
    tmp_path: Path, whole: bytes, limit: int
) -> None:
    """The default SQLite store's write-ahead log meets the limit before any artifact. The
    run used to end sealed FAILED (UNEXPECTED_ERROR, exit 4) in ERROR_REQUIRES_OPERATOR with
    a position open and no resume; now the session seals nothing and resume finishes it.
    The line names the limit (SQLite says only ``disk I/O error``), not a full disk.

    Bug: afterwards ``status`` could not name the store, though the process's session log
    ends with it (``session_interrupted``): it says it now (``stopped by``, ``--json``
    ``store_refused``), and no more once a resume wrote its own ending."""
    out = tmp_path / "runs"
    run_dir = out / "r"
    args = ("--steps", STEPS, "--idempotency-backend", "sqlite", "-q")
    done = _cli("dryrun", "--out", out, "--run-id", "r", *args, limit=limit)
    assert done.returncode == 2, done.stderr
    [line] = done.stderr.splitlines()
    assert line.startswith(  # the limit, not a full disk: named, and its way out
        f"livesession: error: the idempotency store SqliteIdempotencyStore('{run_dir}/"
        "idempotency.sqlite') refused a write (OperationalError: disk I/O error) under a file "
        f"size limit (`ulimit -f`) of {limit} bytes: the run is not sealed; once files may "
        "grow again (file too large: raise the file size limit, `ulimit -f`), "
    ), line
    status = _cli("status", run_dir, "--json")
    assert status.returncode == 6, status.stdout  # crashed: resumable
    refused = json.loads(status.stdout)["store_refused"]
    assert refused.startswith(
        f"the idempotency store SqliteIdempotencyStore('{run_dir}/idempotency.sqlite') refused "
        "a write (OperationalError: disk I/O error) under a file size limit"
    ), refused
    assert refused.endswith("(session.log.jsonl's last line, session_interrupted)")
    assert f"stopped by  {refused}" in _cli("status", run_dir).stdout.splitlines()
    # What must be so before the resume, as the process's line said it (not a bare resume).
    assert json.loads(status.stdout)["next"] == (
        "once files may grow again (file too large: raise the file size limit, `ulimit -f`): "
        f"continue it: livesession resume {run_dir}"
    )
    resumed = _cli("resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert verify_run(run_dir).ok
    assert (run_dir / names.EVENTS).read_bytes() == whole
    assert run_status(run_dir).store_refused == ""


@pytest.mark.broken_run("the file system refuses writes on purpose: the run is not sealed")
@pytest.mark.parametrize("limit", [40_000, 204_800])
def test_a_write_cut_short_leaves_whole_lines_and_verify_names_the_first_lost(
    tmp_path: Path, limit: int
) -> None:
    """Bug: the write that met the limit stored part of the events sink's buffer, and the
    run counted every line it had handed over: events.jsonl ended in half a line,
    metrics.json claimed a line more than it held (``events_emitted`` 621,
    ``events_sink_failed_at`` 622 over 620 whole lines), and verify listed eight
    violations. The file keeps its whole lines, metrics.json counts them and names the
    next, and verify reports the one violation docs/artifacts.md promises."""
    out = tmp_path / "runs"
    run_dir = out / "r"
    done = _cli("dryrun", "--out", out, "--run-id", "r", *ARGS, limit=limit)
    assert done.returncode == 2, done.stderr
    events = (run_dir / names.EVENTS).read_bytes()
    assert events.endswith(b"\n"), "events.jsonl ends in half a line"
    whole = events.count(b"\n")
    metrics = json.loads((run_dir / names.METRICS).read_text())
    assert (metrics["events_sink_failed_at"], metrics["events_emitted"]) == (whole + 1, whole)
    said = f"events sink failed at line {whole + 1} (OSError: [Errno 27] File too large)"
    verified = verify_run(run_dir)
    assert verified.summary.startswith(f"{said}: the run is not sealed"), verified.summary
    assert verified.violations == (
        f"events.jsonl:{whole + 1}: never written: the {said}, so the run has no C2_DRYRUN_STOP",
    )


def test_refused_while_the_run_is_created_nothing_is_left(tmp_path: Path) -> None:
    out = tmp_path / "runs"
    done = _cli("dryrun", "--out", out, "--run-id", "r", *ARGS, limit=1_000)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (
        f"livesession: error: cannot create run {out / 'r'}: File too large; nothing was left "
        "behind\n"
    )
    assert not (out / "r").exists()


class _Refusing:
    """A stream or sink the file system refuses."""

    def write(self, _text: str) -> int:
        raise OSError(28, "No space left on device")

    def flush(self) -> None:
        raise OSError(28, "No space left on device")

    def write_line(self, _line: bytes) -> None:
        raise OSError(28, "No space left on device")

    def close(self) -> None:
        raise OSError(28, "No space left on device")


def test_a_log_the_disk_refuses_never_raises_into_the_session() -> None:
    configure_logging(_Refusing())  # type: ignore[arg-type]
    try:
        get_logger().warning("a line no one can write", step=3)  # no exception
    finally:
        disable_logging()


def test_the_wall_clock_files_the_disk_refuses_never_stop_the_run(tmp_path: Path) -> None:
    timer = StepTimer(tmp_path / "gone", every_steps=1)  # a directory that is not there
    timer.on_step(1)
    timings = timer.finish(steps=1, events=1)
    assert timings["steps"] == 1
    assert timer.lost is not None
    assert "FileNotFoundError" in timer.lost


def test_a_sink_refused_at_close_is_dead_with_its_error(tmp_path: Path) -> None:
    """The last buffered lines refused at close: recorded, never raised."""
    recorder = Recorder(
        run_id="r",
        strategy_id="s",
        events=_Refusing(),
        states=MemoryLineSink(),
        audit=MemoryLineSink(),
        metrics=MemoryMetricsSink(),
    )
    recorder.close()
    assert "events" in recorder.dead
    assert recorder.failures == {"events": "OSError: [Errno 28] No space left on device"}


def _fd_name(fd: int) -> str:
    return Path(f"/proc/self/fd/{fd}").readlink().name


def _fill_the_disk_at_events(monkeypatch: pytest.MonkeyPatch, room: int, *, lease: bool) -> None:
    """events.jsonl may not grow past ``room`` bytes (ENOSPC); once it met that, with
    ``lease`` the lease file cannot be written either (a full disk under both)."""
    write_some, atomic_write = sinks._write_some, lease_file.atomic_write_bytes
    full: list[int] = []

    def write(fd: int, data: bytes | bytearray) -> int:
        if _fd_name(fd) == names.EVENTS and os.fstat(fd).st_size + len(data) > room:
            full.append(fd)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return write_some(fd, data)

    def write_lease(path: Path, data: bytes) -> None:
        if full and lease:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        atomic_write(path, data)

    monkeypatch.setattr(sinks, "_write_some", write)
    monkeypatch.setattr(lease_file, "atomic_write_bytes", write_lease)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")
@pytest.mark.parametrize("lease_file_full", [False, True])
def test_a_run_torn_by_a_full_disk_gives_its_lease_back_or_says_until_when_it_is_held(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    lease_file_full: bool,
) -> None:
    """A ``--lease`` run torn by a full disk gives its lease back as it ends, so the
    operator's resume once there is room is not refused LEASE_HELD. When the lease file
    cannot be written either, the lease stays held until it expires: the run said nothing
    of it, and the resume was refused with no word why. It says so in one line, and when."""
    out = tmp_path / "runs"
    run_dir = out / "r"
    config = tmp_path / "c.toml"
    config.write_text("lease_ttl_ms = 600000\n", encoding="utf-8")
    lease_path = out / ".leases" / "default__sma_demo.lease"
    _fill_the_disk_at_events(monkeypatch, 50_000, lease=lease_file_full)
    args = ("--config", config, "--out", out, "--run-id", "r", "--steps", "400", "-q")
    code = main(["dryrun", *map(str, args), "--lease"])
    said = capsys.readouterr().err.splitlines()
    monkeypatch.undo()  # room again
    assert code == 2, said
    torn = (
        # Bug: the sink alone was named, never its file (every other refused file is).
        f"livesession: error: the events sink failed writing {run_dir / 'events.jsonl'} "
        "(OSError: [Errno 28] No space left on device): the run is not sealed; once the file system has room again, "
        f"`livesession status {run_dir}` says whether `livesession resume {run_dir}` can "
        "continue it"
    )
    entry = orjson.loads(lease_path.read_bytes())["leases"]["default"]["sma_demo"]
    if not lease_file_full:
        assert said == [torn]
        assert entry["holder"] is None  # given back
        assert main(["resume", str(run_dir), "-q"]) == 0
        assert verify_run(run_dir).ok
        return
    until = _clock.format_utc(_clock.from_epoch_ns(entry["expires_ns"]))
    assert entry["holder"].startswith("r@")
    kept = (
        "livesession: the lease of account 'default', strategy 'sma_demo' could not be given "
        f"back (cannot write the lease file {lease_path}: [Errno 28] No space left on "
        f"device): it stays held until it expires, at {until} (lease_ttl_ms=600000), and a "
        f"resume before then is refused (LEASE_HELD): {run_dir}"
    )
    assert said == [kept, torn]
    refused = _cli("resume", run_dir, "-q")  # another process: the line said so
    assert refused.returncode == 3, refused.stderr
    assert f"keeps it until it expires, at {until} " in refused.stderr
    after = _clock.FixedClock(_clock.from_epoch_ns(entry["expires_ns"]))
    resumed = resume_run(run_dir, lease_clock=after)
    resumed.run_to_end(resumed.config.steps)
    assert verify_run(run_dir).ok


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")
def test_a_checkpoint_refused_as_the_session_activates_lets_go_of_the_lease_and_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: a full disk refusing the first checkpoint (written as the session activates)
    left the session whole, so ``close`` stopped it, wrote a checkpoint the disk refused
    again, and raised before it let go of anything: the lease stayed held until it expired
    (the operator's resume once there was room was refused LEASE_HELD), and the process
    kept the run's writer lock, files and stores. The refusal tears the session now, as in
    a step: ``close`` seals nothing and lets go of them all; resume finishes the run."""
    out = tmp_path / "runs"
    run_dir = out / "r"
    fsync = os.fsync

    def refuse_the_checkpoint(fd: int) -> None:
        if _fd_name(fd).startswith(f".{names.CHECKPOINT}."):  # its temporary file
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        fsync(fd)

    monkeypatch.setattr(os, "fsync", refuse_the_checkpoint)
    session = create_run(DryrunConfig(run_id="r", steps=40, durability="step"), out, lease=True)
    with pytest.raises(CheckpointError, match="No space left on device"):
        session.run_to_end(40)
    session.close()  # raised the refusal again, and let go of nothing
    monkeypatch.undo()  # room again
    lease_path = out / ".leases" / "default__sma_demo.lease"
    entry = orjson.loads(lease_path.read_bytes())["leases"]["default"]["sma_demo"]
    assert entry["holder"] is None  # given back
    assert run_status(run_dir).verdict is Verdict.CRASHED  # no writer: resumable
    resumed = resume_run(run_dir)
    resumed.run_to_end(40)
    assert verify_run(run_dir).ok


def _refused(*_args: object, **_kwargs: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_refusing_the_session_log_or_the_timings_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a session log or a ``timings.json`` the disk refused was lost without a word
    (exit 0, nothing on stderr): an operator read a log that missed lines, or looked for
    timings that were never written. Each says so in one line naming the file and the
    error; the run's record is whole, so the exit code stays the run's (0)."""
    monkeypatch.setattr(wholelines, "append_whole", _refused)
    monkeypatch.setattr(timings, "atomic_write_bytes", _refused)
    code = main(["dryrun", "--out", str(tmp_path), "--run-id", "r", "--steps", "30", "-q"])
    run_dir = tmp_path / "r"
    said = capsys.readouterr().err.splitlines()
    assert code == 0, said
    no_space = "(OSError: [Errno 28] No space left on device)"
    [log] = [line for line in said if names.SESSION_LOG in line]
    assert log.startswith(f"livesession: {run_dir / names.SESSION_LOG} lost ")
    assert log.endswith(
        f" line(s) {no_space}: the session log only; the run's record is in its other files"
    )
    lost = (
        f"livesession: not written: {run_dir / names.TIMINGS} {no_space}: the wall-clock "
        "timings only; the run's record is in its other files"
    )
    assert said == [lost, log]
    assert not (run_dir / names.TIMINGS).exists()


def test_a_session_log_the_disk_will_not_make_is_lost_never_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: a file system with no inode left for ``session.log.jsonl`` (its run's other
    files made) ended the run it had just made with ``livesession: error: DIR/session.log.
    jsonl: No space left on device: free space`` (exit 2): no word that the run was left
    behind unsealed, and `dryrun` again refused the run id. RUNBOOK says a log line the disk
    refuses is lost, never the run: the run goes on, and the lines the log lost are said."""
    real = wholelines.open_append

    def opened(path: Path, *args: object, **kwargs: object) -> int:
        if path.name == names.SESSION_LOG:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(wholelines, "open_append", opened)
    code = main(["dryrun", "--out", str(tmp_path), "--run-id", "r", "--steps", "30", "-q"])
    run_dir = tmp_path / "r"
    [said] = capsys.readouterr().err.splitlines()
    assert code == 0, said
    assert said.startswith(f"livesession: {run_dir / names.SESSION_LOG} lost ")
    assert said.endswith(
        " line(s) (OSError: [Errno 28] No space left on device): the session log only; the "
        "run's record is in its other files"
    )
    assert not (run_dir / names.SESSION_LOG).exists()
    assert verify_run(run_dir).ok


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="names an fd through /proc")
def test_a_resume_whose_lease_file_the_disk_refuses_says_so_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The disk still full as the operator resumes a ``--lease`` run: the line was the lease
    file's bare error, naming neither the run nor that nothing changed. It says both."""
    out = tmp_path / "runs"
    run_dir = out / "r"
    _fill_the_disk_at_events(monkeypatch, 50_000, lease=False)
    args = ("--out", out, "--run-id", "r", "--steps", "400", "-q", "--lease")
    assert main(["dryrun", *map(str, args)]) == 2  # torn, its lease given back
    monkeypatch.undo()
    capsys.readouterr()
    before = {path.name: path.read_bytes() for path in run_dir.iterdir()}
    monkeypatch.setattr(lease_file, "atomic_write_bytes", _refused)
    assert main(["resume", str(run_dir), "-q"]) == 2
    lease_path = out / ".leases" / "default__sma_demo.lease"
    said = (
        "livesession: error: cannot resume run r: its lease could not be taken (cannot write "
        f"the lease file {lease_path}: [Errno 28] No space left on device); nothing was "
        "changed: resume again once the lease's store takes writes"
    )
    assert capsys.readouterr().err.splitlines() == [said]
    assert {path.name: path.read_bytes() for path in run_dir.iterdir()} == before
    monkeypatch.undo()  # room again
    assert main(["resume", str(run_dir), "-q"]) == 0
    assert verify_run(run_dir).ok


def test_a_lease_directory_refused_mid_run_is_named_not_the_run_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: `OUT/.leases` made read-only mid-run (`chmod a-w`, another user's lease folder)
    tore a `--lease` run with ``cannot write the lease file OUT/.leases/...: [Errno 13]
    Permission denied: ...: the run is not sealed; once the run directory is writable again
    (permission denied: make it writable)``, of a run directory that was: it names the
    lease file's directory now."""
    out = tmp_path / "runs"
    run_dir, leases = out / "r", out / ".leases"
    config = tmp_path / "c.toml"
    config.write_text("lease_ttl_ms = 600000\n", encoding="utf-8")
    write_lease, now_ns = lease_file.atomic_write_bytes, LeaseKeeper._now_ns
    written: list[Path] = []

    def refused(path: Path, data: bytes) -> None:
        written.append(path)
        if len(written) > 1:  # taken, then its folder made read-only
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        write_lease(path, data)

    looks: list[int] = []

    def later(keeper: LeaseKeeper) -> int:  # each look at the lease clock a third TTL on
        looks.append(1)
        return now_ns(keeper) + len(looks) * 200 * 10**9

    monkeypatch.setattr(lease_file, "atomic_write_bytes", refused)
    monkeypatch.setattr(LeaseKeeper, "_now_ns", later)
    args = ("--config", config, "--out", out, "--run-id", "r", "--steps", "60", "-q")
    assert main(["dryrun", *map(str, args), "--lease"]) == 2
    monkeypatch.undo()
    torn = capsys.readouterr().err.splitlines()[-1]
    assert torn.startswith(f"livesession: error: cannot write the lease file {leases}/")
    assert f"once {leases} is writable again (permission denied: make it writable), " in torn
    assert "the run directory is writable again" not in torn
    entry = orjson.loads((leases / "default__sma_demo.lease").read_bytes())
    expires = entry["leases"]["default"]["sma_demo"]["expires_ns"]
    after = _clock.FixedClock(_clock.from_epoch_ns(expires))
    resumed = resume_run(run_dir, lease_clock=after)  # the lease expired: resumable
    resumed.run_to_end(resumed.config.steps)
    assert verify_run(run_dir).ok


_CLOSE_RAISES = """
from decimal import Decimal

from livesession import RandomWalkFeed


class Gone(RandomWalkFeed):
    def close(self):
        raise OSError("the data server is gone")


def make(*, symbol):
    return Gone(
        symbol=symbol, seed=7, initial_price=Decimal("42000"), tick=Decimal("0.01"),
        lot=Decimal("0.001"),
    )
"""


@pytest.mark.broken_run("the file system refuses writes on purpose: the run is resumed after")
def test_a_close_that_raised_after_a_refused_write_leaves_status_naming_the_store(
    tmp_path: Path,
) -> None:
    """A run a store's refused write tore, whose feed's close() then raised: the torn
    session logs that `plugin_close_failed` after its `session_interrupted`, and `status`,
    which reads the store from that log's last line, said no `stopped by` (`store_refused`
    ""). The plug-in's words after it are passed over, as a lease's are."""
    (tmp_path / "gone.py").write_text(_CLOSE_RAISES, encoding="utf-8")
    config = tmp_path / "gone.toml"
    config.write_text('feed = "gone:make"\n', encoding="utf-8")
    out = tmp_path / "runs"
    run_dir = out / "r"
    args = ("-c", config, "--out", out, "--run-id", "r", "--steps", STEPS, "-q")
    done = _cli("dryrun", *args, "--idempotency-backend", "sqlite", limit=60_000)
    assert done.returncode == 2, done.stderr
    assert "the data server is gone" in done.stderr
    last = json.loads((run_dir / names.SESSION_LOG).read_bytes().splitlines()[-1])
    assert last["event"] == "plugin_close_failed", last
    refused = json.loads(_cli("status", run_dir, "--json").stdout)["store_refused"]
    assert refused.startswith(
        f"the idempotency store SqliteIdempotencyStore('{run_dir}/idempotency.sqlite') refused "
        "a write (OperationalError: disk I/O error) under a file size limit"
    ), refused
    resumed = _cli("resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert verify_run(run_dir).ok
