"""The single-active-session lease in a session: preflight, every step, resume, the CLI.

The lease is wall-clock time across processes. The CLI tests never wait for it to pass:
a lease that must have expired is written expired into its file (or row), and a session
that must find its renewal due once it wakes from a pause has its lease clock moved on by
the pause the test says it lasted (``lease_pause``). In-process tests inject the lease
clock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import RunDirectoryError, VerbOutcome, resume_run
from livesession._domain import clock as _clock
from livesession._domain.lifecycle import SessionState, SessionStatus
from livesession._exceptions import LeaseError
from livesession.leases import FileLease

from _helpers import START, Sinks, audit_chain_ok, child, session

RACERS = 4
SHORT_TTL_MS = 1500
LONG_TTL_MS = 600_000
"""A lease TTL no test outlives: a renewal is due, or a lease expired, only where the test
moves the lease clock (``lease_pause``) or writes the expiry."""
SUBPROCESS_TIMEOUT_S = 120
EXIT_OK, EXIT_REJECTED = 0, 3
ARTIFACTS = ("events.jsonl", "state_snapshots.jsonl", "audit.jsonl", "checkpoint.json")


# -- helpers shared with tests/test_postgres_session.py -------------------------------------


def cli_env(extra: dict[str, str] | None = None, crash_at: str | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env.pop("LIVESESSION_CRASH_AT", None)
    if crash_at is not None:
        env["LIVESESSION_CRASH_AT"] = crash_at
    env.update(extra or {})
    return env


def cli_argv(*args: str | Path) -> list[str]:
    return [sys.executable, "-m", "livesession.cli", *map(str, args)]


def cli(
    *args: str | Path, env: dict[str, str] | None = None, crash_at: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli_argv(*args),
        env=cli_env(env, crash_at),
        capture_output=True,
        text=True,
        timeout=SUBPROCESS_TIMEOUT_S,
        check=False,
    )


# Put in by a sitecustomize: once the file TEST_LEASE_PAUSE names exists, the child's lease
# clock (``LeaseKeeper``'s, the system clock in the CLI) reads as many nanoseconds later
# than the wall clock as the file says: as far as its lease can tell, a pause that long.
_LEASE_PAUSE = """
import os
from livesession._session import lease_keeper

pause_file = os.environ["TEST_LEASE_PAUSE"]
real_now_ns = lease_keeper.LeaseKeeper._now_ns

def now_ns(self):
    try:
        with open(pause_file, encoding="ascii") as paused:
            return real_now_ns(self) + int(paused.read())
    except FileNotFoundError:
        return real_now_ns(self)

lease_keeper.LeaseKeeper._now_ns = now_ns
"""


def lease_pause(tmp_path: Path) -> tuple[dict[str, str], Callable[[int], None]]:
    """The environment of a CLI child whose lease clock a test moves on, and the mover.

    ``paused(ms)``, called while the child is stopped (``LIVESESSION_PAUSE_AT``), makes its
    lease clock read ``ms`` later from then on: woken with SIGCONT, it finds a renewal due
    that a pause of ``ms`` would have made due, without the test waiting for it.
    """
    site = tmp_path / "lease_pause_site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(_LEASE_PAUSE, encoding="utf-8")
    pause_file = tmp_path / "lease_pause"
    env = {
        "PYTHONPATH": os.pathsep.join([str(site), *sys.path]),
        "TEST_LEASE_PAUSE": str(pause_file),
    }

    def paused(ms: int) -> None:
        written = pause_file.with_name(pause_file.name + ".tmp")
        written.write_text(str(ms * 1_000_000), encoding="ascii")
        written.replace(pause_file)

    return env, paused


def write_config(path: Path, **values: Any) -> Path:
    lines = []
    for key, value in values.items():
        lines.append(f"{key} = {value!r}" if isinstance(value, int) else f'{key} = "{value}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def audit_records(run_dir: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in (run_dir / "audit.jsonl").read_bytes().splitlines()]


def fences(run_dir: Path) -> list[int]:
    return [
        r["payload"]["fence"] for r in audit_records(run_dir) if r["code"] == "C2_LEASE_ACQUIRED"
    ]


def submits_per_client_id(journal: Path) -> Counter[str]:
    counts: Counter[str] = Counter()
    for raw in journal.read_bytes().splitlines(keepends=True):
        if raw.endswith(b"\n"):
            entry = orjson.loads(raw)
            if entry["op"] == "submit":
                counts[entry["order"]["client_order_id"]] += 1
    return counts


def digest_files(run_dir: Path) -> dict[str, str]:
    return {
        name: hashlib.sha256((run_dir / name).read_bytes()).hexdigest()
        for name in ARTIFACTS
        if (run_dir / name).exists()
    }


def _stop_the_last(procs: list[subprocess.Popen[str]]) -> None:
    """Wait until all but one of ``procs`` ended, then SIGTERM those still running."""
    deadline = time.monotonic() + SUBPROCESS_TIMEOUT_S
    while sum(proc.poll() is None for proc in procs) > 1 and time.monotonic() < deadline:
        # A racer that lost ends within seconds; its pipes are small (-q), so it never blocks.
        time.sleep(0.05)  # polling child processes, not simulated time
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()


def race_four(out: Path, store_args: Sequence[str], env: dict[str, str] | None = None) -> None:
    """RACERS processes start the same (account, strategy): exactly one trades.

    The winner's run is long (it would take minutes): it must still hold the lease when the
    last racer asks for it, however slowly a loaded machine starts the others (with 20,000
    steps a winner could finish and free the lease before a late racer started, which then
    won too). Once every other racer has ended, the ones still running are stopped (SIGTERM
    seals a dryrun, exit 0): two winners would both be running then, and both exit 0.
    """
    config = write_config(out.parent / "race.toml", account="acct1", steps=1_000_000)
    with contextlib.ExitStack() as running:  # each killed, if still running, and closed
        procs = [
            running.enter_context(
                child(
                    cli_argv(
                        "dryrun",
                        "--config",
                        config,
                        "--out",
                        out,
                        "--run-id",
                        f"r{n}",
                        "--durability",
                        "none",
                        "-q",
                        *store_args,
                    ),
                    env=cli_env(env),
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            for n in range(RACERS)
        ]
        _stop_the_last(procs)
        codes = {}
        for n, proc in enumerate(procs):
            _, err = proc.communicate(timeout=SUBPROCESS_TIMEOUT_S)
            codes[f"r{n}"] = (proc.returncode, err)
    winners = [run for run, (code, _) in codes.items() if code == EXIT_OK]
    assert len(winners) == 1, codes
    for run, (code, err) in codes.items():
        codes_seen = [r["code"] for r in audit_records(out / run)]
        if run in winners:
            assert "C2_LEASE_ACQUIRED" in codes_seen
            assert "C2_REJECT_LEASE_HELD" not in codes_seen
        else:
            assert code == EXIT_REJECTED, err
            # The lease file, or the lease row in PostgreSQL, names the holder for the operator.
            assert f"another live session holds it ({winners[0]}@" in err, err
            assert "C2_REJECT_LEASE_HELD" in codes_seen
            assert "C2_LEASE_ACQUIRED" not in codes_seen
            assert audit_records(out / run)[-1]["payload"]["status"] == "REJECTED"
        assert audit_chain_ok((out / run / "audit.jsonl").read_bytes().splitlines(keepends=True))


def kill_and_take_over(
    tmp_path: Path,
    store_args: Sequence[str],
    expire_at: Callable[[int], None],
    env: dict[str, str] | None = None,
) -> Path:
    """SIGKILL the holder mid-run; ``resume`` is refused while its lease is live, and takes
    over once it expired.

    ``expire_at(ns)`` sets the killed holder's lease to expire at ``ns`` (epoch ns) in its
    store: the test says when the lease is live and when it expired, and waits for neither.
    """
    out = tmp_path / "runs"
    config = write_config(
        tmp_path / "crash.toml",
        account="acct1",
        steps=400,
        checkpoint_every=25,
        lease_ttl_ms=SHORT_TTL_MS,
    )
    first = cli(
        "dryrun",
        "--config",
        config,
        "--out",
        out,
        "--run-id",
        "victim",
        "-q",
        *store_args,
        env=env,
        crash_at="write_events:300",
    )
    assert first.returncode == -9, first.stderr
    run_dir = out / "victim"
    assert fences(run_dir)
    assert len(fences(run_dir)) == 1
    first_fence = fences(run_dir)[0]
    before = digest_files(run_dir)
    expire_at(time.time_ns() + 3_600 * 10**9)  # live for an hour yet
    refused = cli("resume", run_dir, "-q", env=env)
    assert refused.returncode == EXIT_REJECTED, refused.stderr
    assert "LEASE_HELD" in refused.stderr
    assert digest_files(run_dir) == before  # a refused resume changes nothing
    expire_at(time.time_ns() - 1)  # expired a moment ago
    resumed = cli("resume", run_dir, "-q", env=env)
    assert resumed.returncode == EXIT_OK, resumed.stderr
    records = audit_records(run_dir)
    codes = [r["code"] for r in records]
    assert codes.count("C2_RESUME") == 1
    assert codes.index("C2_LEASE_ACQUIRED", codes.index("C2_RESUME")) > codes.index("C2_RESUME")
    assert fences(run_dir)[-1] > first_fence
    assert records[-1]["code"] == "C2_DRYRUN_STOP"
    assert records[-1]["payload"]["status"] == "COMPLETED"
    assert records[-1]["payload"]["steps"] == 400
    counts = submits_per_client_id(run_dir / "broker_journal.jsonl")
    assert counts, "the run sent no order: the test proves nothing"
    assert max(counts.values()) == 1, {c: n for c, n in counts.items() if n > 1}
    verified = cli("verify", run_dir)
    assert verified.returncode == 0, verified.stdout
    # The evidence's re-run holds a lease of its own and matches, the two grants aside.
    evidence = cli("evidence", run_dir, env=env)
    assert evidence.returncode == EXIT_OK, evidence.stdout + evidence.stderr
    manifest = orjson.loads((run_dir / "manifest.json").read_bytes())
    assert manifest["determinism"]["compared"] == {
        "events.jsonl": True,
        "state_snapshots.jsonl": True,
        "audit.jsonl (records, C2_RESUME and C2_LEASE_ACQUIRED aside)": True,
    }
    return run_dir


# -- in process: preflight and every step ----------------------------------------------------


def _leased(tmp_path: Path, **cfg: Any) -> tuple[Any, Sinks, FileLease, _clock.SimClock]:
    lease = FileLease(tmp_path / "pair.lease", "default", "s")
    lease_clock = _clock.SimClock(START)
    sinks = Sinks()
    params: dict[str, Any] = {"run_id": "t", "strategy_id": "s", "steps": 200}
    params.update(cfg)
    from livesession import DryrunConfig, LiveSessionOrchestrator

    orch = LiveSessionOrchestrator(
        DryrunConfig(**params), lease=lease, lease_clock=lease_clock, **sinks.kwargs()
    )
    return orch, sinks, lease, lease_clock


def test_no_lease_by_default_leaves_the_audit_as_it_was():
    orch, sinks = session()
    orch.run_to_end(20)
    assert not [c for c in sinks.audit_codes() if "LEASE" in c]
    assert orch.lease_grant is None


def test_preflight_takes_the_lease_and_audits_the_fence_only(tmp_path):
    orch, sinks, _, _ = _leased(tmp_path)
    assert orch.preflight()
    assert orch.lease_grant is not None
    acquired = [orjson.loads(a) for a in sinks.audit.lines if b"C2_LEASE_ACQUIRED" in a]
    assert [a["payload"]["fence"] for a in acquired] == [1]
    assert b"fence" not in b"".join(sinks.events.lines + sinks.states.lines)
    orch.close()
    assert orch.lease_grant is None  # released at seal


def test_events_and_snapshots_do_not_depend_on_the_fence(tmp_path):
    first, first_sinks, _, _ = _leased(tmp_path)
    first.run_to_end(60)
    second, sinks, _, _ = _leased(tmp_path)  # same lease file: the fence goes up
    second.run_to_end(60)
    assert [fences_of(first_sinks), fences_of(sinks)] == [[1], [2]]
    assert sinks.events.lines == first_sinks.events.lines
    assert sinks.states.lines == first_sinks.states.lines
    check = [
        e for e in sinks.events_of("PREFLIGHT_CHECK") if e["payload"]["check"] == "session_lease"
    ]
    assert [e["payload"]["passed"] for e in check] == [True]


def fences_of(sinks: Sinks) -> list[int]:
    records = [orjson.loads(a) for a in sinks.audit.lines]
    return [r["payload"]["fence"] for r in records if r["code"] == "C2_LEASE_ACQUIRED"]


@pytest.mark.parametrize(
    ("account", "strategy", "named"),
    [
        ("desk-b", "s", "account 'desk-b', not the config's account 'default'"),
        ("default", "other", "strategy 'other', not the config's strategy_id 's'"),
    ],
)
def test_a_lease_of_another_pair_is_refused_as_the_session_is_built(
    tmp_path, account, strategy, named
):
    """A ``FileLease`` built for another (account, strategy) than the config's fenced that
    pair, not the session's: it ran ``COMPLETED`` under a lease another session of the
    config's pair never meets (``C2_LEASE_ACQUIRED`` naming the other pair)."""
    from livesession import ConfigError, DryrunConfig, LiveSessionOrchestrator

    path = tmp_path / "pair.lease"
    sinks = Sinks()
    with pytest.raises(ConfigError) as refused:
        LiveSessionOrchestrator(
            DryrunConfig(run_id="t", strategy_id="s", steps=20),
            lease=FileLease(path, account, strategy),
            lease_clock=_clock.SimClock(START),
            **sinks.kwargs(),
        )
    assert str(refused.value) == (
        f"the lease given is of {named}: a session takes the lease of the pair it trades;"
        f" build it as FileLease(..., 'default', 's')"
    )
    assert not path.exists()
    assert sinks.events.lines == sinks.states.lines == sinks.audit.lines == []


def test_a_held_lease_rejects_preflight(tmp_path):
    other = FileLease(tmp_path / "pair.lease", "default", "s")
    assert other.acquire("someone-else", _clock.SimClock(START).monotonic_ns(), 10**12)
    orch, sinks, _, _ = _leased(tmp_path)
    result = orch.run_to_end(20)
    assert result.status is SessionStatus.REJECTED
    assert orch.state is SessionState.PREFLIGHT_FAILED
    assert result.reason == "LEASE_HELD"
    assert (
        result.detail == "lease of account 'default', strategy 's': another live session holds it"
    )
    assert "C2_REJECT_LEASE_HELD" in sinks.audit_codes()
    assert "C2_LEASE_ACQUIRED" not in sinks.audit_codes()


def test_a_lost_lease_stops_at_the_next_step_without_cancel_or_flatten(tmp_path):
    orch, sinks, _lease, lease_clock = _leased(tmp_path, lease_ttl_ms=1000)
    assert orch.preflight()
    orch.activate()
    while not orch.book.open_orders and orch.steps_done < 150:
        orch.step()
        lease_clock.advance(100_000_000)  # 0.1 s per step: renewals keep it live
    assert orch.state is SessionState.DRYRUN_ACTIVE
    steps = orch.steps_done
    # The holder stalls past its TTL and another session takes the pair over.
    lease_clock.advance(2_000_000_000)
    intruder = FileLease(tmp_path / "pair.lease", "default", "s")
    taken = intruder.acquire("new-holder", lease_clock.monotonic_ns(), 10**12)
    assert taken is not None
    assert taken.token == 2
    events_before = len(sinks.events.lines)
    orch.step()
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    assert orch.steps_done == steps  # the step did not trade
    assert orch.result().reason == "LEASE_LOST"
    lost = [orjson.loads(a) for a in sinks.audit.lines if b"C2_LEASE_LOST" in a]
    assert [a["payload"]["fence"] for a in lost] == [1]
    # Acknowledging would cancel and flatten the new holder's orders: refused, said why.
    refused = orch.acknowledge("op")
    assert refused.outcome is VerbOutcome.NOT_APPLICABLE
    assert "LEASE_LOST" in refused.message
    assert orch.state is SessionState.ERROR_REQUIRES_OPERATOR
    new_events = [orjson.loads(e) for e in sinks.events.lines[events_before:]]
    assert [e["event_type"] for e in new_events] == ["STATE_CHANGED"]
    orch.close()
    after_close = [orjson.loads(e)["event_type"] for e in sinks.events.lines[events_before:]]
    assert not {"ORDER_CANCEL_REQUESTED", "ORDER_SUBMITTED", "KILL_SWITCH"} & set(after_close)
    # The new holder keeps the lease: the loser's close released nothing.
    assert intruder.renew(taken, lease_clock.monotonic_ns())


# -- the CLI: four racers, and a killed holder taken over by resume -------------------------


def test_default_cli_run_takes_no_lease(tmp_path):
    done = cli("dryrun", "--out", tmp_path, "--run-id", "x", "--steps", "50", "-q")
    assert done.returncode == EXIT_OK, done.stderr
    assert not (tmp_path / ".leases").exists()
    assert not fences(tmp_path / "x")
    meta = orjson.loads((tmp_path / "x" / "run.json").read_bytes())
    assert (meta["store"], meta["lease"]) == ("local", False)


def test_four_processes_one_session(tmp_path):
    race_four(tmp_path / "runs", ["--lease"])
    assert (tmp_path / "runs" / ".leases" / "acct1__sma_demo.lease").exists()


def _crashed_holding_its_lease(tmp_path: Path) -> tuple[Path, Path]:
    """A ``--lease`` dryrun SIGKILLed mid-run (a 10-minute lease): ``(out, run_dir)``."""
    out = tmp_path / "runs"
    config = write_config(
        tmp_path / "own.toml", account="acct1", steps=200, checkpoint_every=25, lease_ttl_ms=600_000
    )
    args = ("dryrun", "--config", config, "--out", out, "--run-id", "own", "-q", "--lease")
    assert cli(*args, crash_at="write_events:150").returncode == -9
    return out, out / "own"


def test_a_resume_held_off_by_the_crashed_runs_own_lease_says_so(tmp_path):
    """SIGKILL a holder: its lease lives on until it expires. ``status`` says resume must
    wait for it, and the refused ``resume`` names the run's own dead process and when its
    lease expires, not "another live session" to stop. Once it expired, resume takes it."""
    out, run_dir = _crashed_holding_its_lease(tmp_path)
    leases = orjson.loads((out / ".leases" / "acct1__sma_demo.lease").read_bytes())["leases"]
    entry = leases["acct1"]["sma_demo"]
    until = _clock.format_utc(_clock.from_epoch_ns(entry["expires_ns"]))
    before = digest_files(run_dir)

    status = cli("status", run_dir)
    assert status.returncode == 6, status.stdout
    (next_line,) = [line for line in status.stdout.splitlines() if line.startswith("next")]
    assert next_line.split(None, 1)[1] == (
        f"continue it once its lease is free: livesession resume {run_dir} (a killed process "
        f"keeps its lease until it expires, {until}; resume exits 3 until then)"
    )
    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == EXIT_REJECTED
    refusal = (
        f"livesession: rejected: cannot resume run own: the lease of account 'acct1', strategy "
        f"'sma_demo' is still held by {entry['holder']}, most likely this run's own process "
        f"before the crash: a holder that ended without letting it go (killed, or torn by a "
        f"refused write) keeps it until it expires, at {until} (lease_ttl_ms=600000) "
        f"(LEASE_HELD); nothing was changed: resume again after {until}"
    )
    assert resumed.stderr.splitlines() == [refusal]
    assert entry["holder"].startswith("own@")
    assert digest_files(run_dir) == before
    after = _clock.FixedClock(_clock.from_epoch_ns(entry["expires_ns"]))
    session = resume_run(run_dir, lease_clock=after)  # the wait is the way out
    try:
        assert session.lease_grant is not None
    finally:
        session.close()


def test_a_resume_refused_after_taking_the_lease_lets_it_go(tmp_path, monkeypatch):
    """A resume takes the run's lease before it cuts the files back; one refused after that
    (the file system refusing the tail it sets aside) lets the lease go as it leaves, so
    the account and strategy are not held off for a lease TTL by a session that never ran,
    and the run resumes once the disk has room."""
    out, run_dir = _crashed_holding_its_lease(tmp_path)
    path = out / ".leases" / "acct1__sma_demo.lease"
    expires = orjson.loads(path.read_bytes())["leases"]["acct1"]["sma_demo"]["expires_ns"]
    after = _clock.FixedClock(_clock.from_epoch_ns(expires))
    real_write = os.write

    def refusing(fd: int, data: Any) -> int:
        if Path(f"/proc/self/fd/{fd}").readlink().name.endswith(".torn"):
            raise OSError(28, "No space left on device")
        return real_write(fd, data)

    with (run_dir / "events.jsonl").open("ab") as events:
        events.write(b'{"event_type":"BA')  # a torn last line: a tail to set aside
    with monkeypatch.context() as patched:
        patched.setattr(os, "write", refusing)
        with pytest.raises(RunDirectoryError, match="No space left on device"):
            resume_run(run_dir, lease_clock=after)
    other = FileLease(path, "acct1", "sma_demo").acquire("other@desk-02:4242", expires, 10**9)
    assert other is not None  # free: the refused resume let it go
    FileLease(path, "acct1", "sma_demo").release(other)
    session = resume_run(run_dir, lease_clock=after)
    try:
        session.run_to_end(200)
    finally:
        session.close()
    assert cli("verify", run_dir).returncode == 0


def test_status_names_another_session_holding_a_crashed_runs_lease(tmp_path):
    """A crashed run whose lease another session took after it expired: ``status`` said
    "a killed process keeps its lease until it expires" (its `lease` line naming the other
    session), so an operator waited for an expiry that a live holder's renewals never
    bring. It names the other session and says to stop it or let it end, as the refused
    ``resume`` does; the run's own dead process is still said as before."""
    out, run_dir = _crashed_holding_its_lease(tmp_path)
    path = out / ".leases" / "acct1__sma_demo.lease"
    expired = orjson.loads(path.read_bytes())["leases"]["acct1"]["sma_demo"]["expires_ns"]
    # Another session takes the account over once the dead process's lease has expired.
    other = FileLease(path, "acct1", "sma_demo").acquire("other@desk-02:4242", expired, 10**18)
    assert other is not None
    until = _clock.format_utc(_clock.from_epoch_ns(expired + 10**18))
    status = cli("status", run_dir)
    assert status.returncode == 6, status.stdout
    (next_line,) = [line for line in status.stdout.splitlines() if line.startswith("next")]
    assert next_line.split(None, 1)[1] == (
        f"another live session (other@desk-02:4242) holds the lease of this run's account and "
        f"strategy until {until}, unless it renews it: stop that session or let it end, then "
        f"livesession resume {run_dir} (resume exits 3 until then)"
    )
    resumed = cli("resume", run_dir, "-q")
    assert resumed.returncode == EXIT_REJECTED
    assert "another live session (other@desk-02:4242) holds the lease" in resumed.stderr
    FileLease(path, "acct1", "sma_demo").release(other)  # the other session ends
    assert cli("resume", run_dir, "-q").returncode == EXIT_OK
    assert cli("verify", run_dir).returncode == 0


def _refused_for_a_held_lease(tmp_path: Path) -> tuple[Path, FileLease, Any, str]:
    """A run ``second`` preflight refused (LEASE_HELD): its directory, the lease, its holder
    (``other@desk-02:4242``, to release) and the refusal's stderr."""
    out = tmp_path / "runs"
    (out / ".leases").mkdir(parents=True)
    lease = FileLease(out / ".leases" / "acct1__sma_demo.lease", "acct1", "sma_demo")
    other = lease.acquire("other@desk-02:4242", time.time_ns(), 10**15)
    assert other is not None
    config = write_config(tmp_path / "second.toml", account="acct1", steps=50)
    refused = cli("dryrun", "--config", config, "--out", out, "--run-id", "second", "--lease")
    assert refused.returncode == EXIT_REJECTED
    return out / "second", lease, other, refused.stderr


def test_status_of_a_run_refused_for_a_held_lease_says_not_to_start_a_second_one(tmp_path):
    """A run preflight refused with LEASE_HELD: `status` said `fix what the reason names and
    start a new run`, which would start a second session on the account and strategy (and
    be refused again) while RUNBOOK says not to. It says to start one once the holder ended."""
    run_dir, lease, other, stderr = _refused_for_a_held_lease(tmp_path)
    assert "(other@desk-02:4242, per " in stderr
    status = cli("status", run_dir)
    assert status.returncode == EXIT_REJECTED
    said = dict(line.split(None, 1) for line in status.stdout.splitlines())
    assert said["reason"] == "LEASE_HELD"
    assert said["lease"].startswith("file: other@desk-02:4242, fence 1 (held)")
    assert said["next"] == (
        "another live session held its lease (the lease line names it while it does): do not "
        "start a second one; start a new run once it ended (this one stays as evidence)"
    )
    lease.release(other)
    assert cli("verify", run_dir).returncode == 0


def test_evidence_of_a_run_refused_for_a_held_lease_does_not_fail_its_rerun(tmp_path):
    """Bug: `evidence` of a run preflight refused with LEASE_HELD (another session traded the
    account and strategy, and the run rightly stayed out) said `NOT VERIFIED: the determinism
    re-run does not match: ... PREFLIGHT_CHECK (seq 7): payload.detail ... another live session
    holds it in the run, (absent) in the re-run` (exit 1): the re-run holds a lease of its
    own, which no one else held. The refusal came from outside the run's config and code, as
    a lost lease does: `not_applicable`, and the evidence VERIFIED."""
    from livesession.evidence import write_evidence

    run_dir, lease, other, _ = _refused_for_a_held_lease(tmp_path)
    result = write_evidence(run_dir, out_dir=tmp_path / "ev")
    lease.release(other)
    assert result.ok, result.problems
    assert orjson.loads(result.manifest.read_bytes())["determinism"] == {
        "status": "not_applicable",
        "reason": "preflight refused the run its lease (LEASE_HELD: another live session held "
        "it): that came from outside its config and code, and a re-run, which holds a lease "
        "of its own, cannot repeat it",
    }


def expire_lease_file(path: Path) -> Callable[[int], None]:
    """``kill_and_take_over``'s ``expire_at`` for the lease file at ``path`` (its one entry)."""

    def expire_at(ns: int) -> None:
        state = orjson.loads(path.read_bytes())
        [pairs] = state["leases"].values()
        [entry] = pairs.values()
        entry["expires_ns"] = ns
        written = path.with_name(path.name + ".tmp")
        written.write_bytes(orjson.dumps(state))
        written.replace(path)

    return expire_at


def test_killed_holder_is_taken_over_by_resume(tmp_path):
    from livesession._rundir.layout import lease_path

    lease_file = lease_path(tmp_path / "runs", "acct1", "sma_demo")
    kill_and_take_over(tmp_path, ["--lease"], expire_lease_file(lease_file))


@pytest.mark.parametrize("extra", [[], ["--lease"]])
def test_store_flag_is_recorded_for_resume(tmp_path, extra):
    done = cli("dryrun", "--out", tmp_path, "--run-id", "x", "--steps", "5", "-q", *extra)
    assert done.returncode == EXIT_OK, done.stderr
    meta = orjson.loads((tmp_path / "x" / "run.json").read_bytes())
    assert meta["lease"] is bool(extra)


def _run_losing_its_lease(tmp_path: Path, lose: str, results: list[Any] | None = None) -> Path:
    """A run directory whose session loses its file lease mid-run, then is closed (sealed).

    ``results``, when given, gets the closed session's ``result()``.

    ``lose``: ``"takeover"`` (the holder stalls past its TTL and another session takes the
    pair's lease) or ``"backend"`` (the lease file turns unreadable: a renewal fails, and
    the step raises it: the session is torn, closed unsealed).
    """
    from livesession import DryrunConfig, create_run
    from livesession._exceptions import LeaseError
    from livesession._rundir.layout import lease_path

    lease_clock = _clock.SimClock(START)
    cfg = DryrunConfig(run_id="lost", steps=500, lease_ttl_ms=1000)
    orch = create_run(
        cfg, tmp_path, lease=True, lease_clock=lease_clock, clock=_clock.SimClock(START)
    )
    orch.preflight()
    orch.activate()
    orch.run_n_steps(120)  # past the first periodic checkpoint (every 100 steps)
    path = lease_path(tmp_path, cfg.account, cfg.strategy_id)
    lease_clock.advance(3 * 1000 * 1_000_000)  # stalled past the TTL
    if lose == "takeover":
        intruder = FileLease(path, cfg.account, cfg.strategy_id)
        assert intruder.acquire("other", _clock.epoch_ns(lease_clock.now()), 10**12) is not None
        orch.step()
        assert orch.result().reason == "LEASE_LOST"
    else:
        path.write_bytes(b"not json")
        with pytest.raises(LeaseError, match="is corrupt"):
            orch.step()
    orch.close()
    if results is not None:
        results.append(orch.result())
    return tmp_path / "lost"


@pytest.mark.parametrize("lose", ["takeover"])
def test_a_run_that_lost_its_lease_is_sealed_for_status_and_resume(tmp_path, lose):
    """Bug: the lost lease stopped every checkpoint, the sealing one too, so the sealed
    FAILED run looked crashed and resumable (status exit 6), and ``resume`` traded on and
    re-sealed it COMPLETED, its FAILED seal cut to ``.torn``."""
    from livesession._exceptions import LiveSessionError
    from livesession.status import Verdict, run_status

    run_dir = _run_losing_its_lease(tmp_path, lose)
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    assert (checkpoint["sealed"], checkpoint["fsm_state"]) == (True, "ERROR_REQUIRES_OPERATOR")
    standing = run_status(run_dir)
    assert (standing.verdict, standing.exit_code, standing.resumable) == (
        Verdict.NEEDS_OPERATOR,
        5,
        False,
    )
    before = digest_files(run_dir)
    with pytest.raises(LiveSessionError, match="already ended with status FAILED"):
        resume_run(run_dir)
    assert digest_files(run_dir) == before


def test_a_lease_backend_that_fails_ends_the_run_as_a_failed_store_does(tmp_path):
    """Bug: an outage of the lease's backend ended the run two ways, by which backend noticed
    first. Found by the idempotency store: the run stopped unsealed (exit 2), resumable
    (status exit 6) once the server was back. Found by a lease renewal: a sealed LEASE_LOST
    (exit 4, status needs_operator, resume refused), which told the operator to leave the
    run and its open position for a session that had taken over, when none had. A renewal
    that cannot reach the backend says nothing about another holder: the step raises the
    backend's error and the run ends unsealed at its checkpoint, as with the store; resume
    (which takes the lease first) continues it to a run that verifies."""
    from livesession._rundir.layout import lease_path
    from livesession.status import Verdict, run_status
    from livesession.verify import verify_run

    run_dir = _run_losing_its_lease(tmp_path, "backend")
    codes = [r["code"] for r in audit_records(run_dir)]
    assert "C2_LEASE_LOST" not in codes
    assert "C2_DRYRUN_STOP" not in codes
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    assert checkpoint["sealed"] is False
    standing = run_status(run_dir)
    assert (standing.verdict, standing.exit_code, standing.resumable) == (
        Verdict.CRASHED,
        6,
        True,
    )
    path = lease_path(tmp_path, "default", "sma_demo")
    path.unlink()  # the backend put right
    session = resume_run(run_dir, lease_clock=_clock.SimClock(START))
    try:
        result = session.run_to_end(500)
    finally:
        session.close()
    assert (result.status, result.steps) == (SessionStatus.COMPLETED, 500)
    assert verify_run(run_dir).ok
    taken = _run_losing_its_lease(tmp_path / "t", "takeover")
    (lost,) = [r["payload"] for r in audit_records(taken) if r["code"] == "C2_LEASE_LOST"]
    assert "error" not in lost


@pytest.mark.parametrize("lose", ["takeover"])
def test_status_of_a_run_that_lost_its_lease_says_how_and_not_to_touch_the_venue(tmp_path, lose):
    """Bug: ``status`` of a run sealed with LEASE_LOST said `lease  postgres: nobody` (the
    run's audit alone), as if the account and strategy were free, and its `next` gave the
    general ERROR_REQUIRES_OPERATOR advice, `check the venue's open orders and positions`,
    which are the new holder's (RUNBOOK: do not acknowledge the stopped run). The lease line
    says this run lost it and how; `next` says what RUNBOOK says."""
    from livesession.status import run_status

    run_dir = _run_losing_its_lease(tmp_path, lose)
    standing = run_status(run_dir)
    said = dict(line.split(None, 1) for line in standing.lines())
    assert standing.lease is not None
    if lose == "takeover":  # the lease file names who holds it now
        assert said["lease"].startswith("file: other, fence 2 (")  # held in the sim's time
        assert (
            "; this run lost it at fence 1: another session took it over (its renewal was "
            "refused) [" in said["lease"]
        )
    else:
        assert said["lease"].startswith(
            "file: this run lost it at fence 1: its backend failed (LeaseError: the lease file "
        )
        assert "so maybe no session holds it [audit.jsonl (C2_LEASE_LOST)]" in said["lease"]
    assert standing.lease["lost"].startswith("this run lost it at fence 1: ")
    assert said["next"].startswith(
        "a person must look (RUNBOOK: One session per account and strategy: the lease): this "
        "run lost its lease (the lease line says how) and stopped without cancelling or "
        "flattening"
    )
    assert "do not acknowledge this run" in said["next"]
    assert "check the venue's open orders and positions" not in said["next"]
    # The lost lease halts trading as the kill switch does (its checkpoint's kill_halted),
    # but no kill switch fired: status does not say one did.
    checkpoint = orjson.loads((run_dir / "checkpoint.json").read_bytes())
    assert checkpoint.get("kill_halted") is True
    assert not standing.kill_halted
    assert "kill switch" not in said["trading"]


def test_the_dryrun_line_of_a_run_that_lost_its_lease_says_what_runbook_says(tmp_path):
    """Bug: `dryrun`'s stderr line of a run that lost its lease gave the general
    ERROR_REQUIRES_OPERATOR advice, `check the venue's open orders and positions (RUNBOOK)`,
    while RUNBOOK and `status` say those are the new holder's: do not acknowledge the run
    nor close them by its book, find the session that holds the lease now."""
    from livesession._cli_summary import failure_line

    results: list[Any] = []
    run_dir = _run_losing_its_lease(tmp_path, "takeover", results)
    said = failure_line(results[0], run_dir)
    assert said == (
        "LEASE_LOST; sealed FAILED in ERROR_REQUIRES_OPERATOR without a wind-down: another "
        "session took the lease over and owns the venue's open orders and positions: do not "
        "acknowledge this run nor close them by its book; check which session holds the lease "
        "now (the highest fence) and that it runs (RUNBOOK: One session per account and "
        f"strategy: the lease): {run_dir}"
    )


def test_evidence_of_a_run_that_lost_its_lease_does_not_fail_its_rerun(tmp_path):
    """Bug: `evidence` of a run that lost its lease said `FAIL: the determinism re-run does
    not match`, as of a run whose code or files changed: the re-run, holding a lease of its
    own that no one takes, ran on where the run had stopped. The loss came from another
    session, outside the run's config and code: no re-run can repeat it, and the verdict
    says so (`not_applicable`, with the step), as for a run on the system clock."""
    from livesession.evidence import write_evidence

    run_dir = _run_losing_its_lease(tmp_path, "takeover")
    (lost,) = [r["payload"] for r in audit_records(run_dir) if r["code"] == "C2_LEASE_LOST"]
    result = write_evidence(run_dir, out_dir=tmp_path / "ev")
    assert result.ok, result.problems
    determinism = orjson.loads(result.manifest.read_bytes())["determinism"]
    assert determinism == {
        "status": "not_applicable",
        "reason": f"the run lost its lease (LEASE_LOST, at step {lost['step']}): that came "
        "from outside its config and code (another session, or the lease's backend), and a "
        "re-run cannot repeat it",
    }


def test_status_of_a_postgres_run_never_granted_the_lease_says_so_not_fence_none():
    """A `--store postgres` run that preflight refused (LEASE_HELD) has no lease record in its
    audit, the only place status looks (it needs no DSN): the line read `postgres: nobody,
    fence None`."""
    from livesession._rundir.statuswords import describe_lease

    never = {"backend": "postgres", "holder": None, "fence": None, "held": None}
    said = describe_lease({**never, "source": "audit.jsonl (no lease record)", "lost": None})
    assert said == "postgres: never granted to this run [audit.jsonl (no lease record)]"


def test_a_lease_store_that_fails_at_preflight_is_named_by_the_line_and_status(tmp_path):
    """A lease store that fails at preflight (a corrupt lease file here; a PostgreSQL role
    without rights on `livesession_lease` alike) was said as `LEASE_UNAVAILABLE: ...: the
    lease store failed (LeaseError)`, by `dryrun`'s line and `status` alike, where the run's
    audit (`C2_LEASE_ERROR`) holds what failed and what to do: the operator was told nothing
    to fix. Both now say it; the run's events are the same bytes as before."""
    out = tmp_path / "runs"
    lease_file = out / ".leases" / "default__sma_demo.lease"
    lease_file.parent.mkdir(parents=True)
    lease_file.write_text("not a lease\n", encoding="utf-8")
    refused = cli("dryrun", "--out", out, "--run-id", "r1", "--steps", "5", "-q", "--lease")
    assert refused.returncode == EXIT_REJECTED
    failed = f"the lease file {lease_file} is corrupt: remove it once no session runs"
    (line,) = refused.stderr.splitlines()
    assert line == (
        "livesession: rejected: LEASE_UNAVAILABLE: lease of account 'default', strategy "
        f"'sma_demo': the lease store failed (LeaseError): {failed}; sealed REJECTED, nothing traded: {out / 'r1'}"
    )
    (audited,) = [r["payload"] for r in audit_records(out / "r1") if r["code"] == "C2_LEASE_ERROR"]
    assert audited == {"stage": "acquire", "error": failed}
    status = cli("status", out / "r1")
    assert status.returncode == EXIT_REJECTED
    said = dict(line.split(None, 1) for line in status.stdout.splitlines())
    assert said["lease"] == (
        f"file: never granted to this run: the lease store failed at preflight ({failed}) "
        "[audit.jsonl (C2_LEASE_ERROR)]"
    )
    assert cli("verify", out / "r1").returncode == 0


@pytest.mark.parametrize("fails", ["hold_namespace", "reservations"])
def test_a_new_runs_namespace_check_closes_its_store_when_the_server_fails_it(fails):
    """The check of a new `--store postgres` run's namespace (held, then its keys counted)
    left its store open when the server failed either: its connection, and the hold it may
    have taken, stayed until the process ended (a Python caller of `create_run` kept
    them). The store is closed before the error goes on."""
    from livesession._exceptions import PostgresError
    from livesession._rundir import backing

    class Store:
        closed = False

        def hold_namespace(self) -> bool:
            if fails == "hold_namespace":
                raise PostgresError("PostgreSQL at u@h:5432/db failed while holding: gone")
            return True

        def reservations(self) -> list[object]:
            raise PostgresError("PostgreSQL at u@h:5432/db failed while listing: gone")

        def close(self) -> None:
            self.closed = True

    store = Store()
    with pytest.raises(PostgresError, match="gone"):
        backing._refuse_a_used_namespace(store, "r-001")  # type: ignore[arg-type]
    assert store.closed


@pytest.mark.parametrize("waited_s", [0.5, 2.0])
def test_a_release_that_gave_up_after_the_lease_expired_says_it_expired(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, waited_s: float
) -> None:
    """Bug: a release that met no answer (PostgreSQL gone, LIVESESSION_PG_TIMEOUT) for longer
    than the lease had left said `it stays held until it expires, at T ..., and a resume
    before then is refused`, of a T already past when it was said. Said so now."""
    orch, _sinks, lease, lease_clock = _leased(tmp_path, lease_ttl_ms=1000, steps=20)
    expiries: list[int] = []

    def release(grant: object) -> None:
        held = lease.holding(_clock.epoch_ns(lease_clock.now()))
        assert held is not None
        expiries.append(held[1])
        lease_clock.advance(int(waited_s * 1_000_000_000))  # the wait for an answer
        raise LeaseError("PostgreSQL at 127.0.0.1:5432/livesession timed out")

    monkeypatch.setattr(lease, "release", release)
    assert orch.preflight()
    orch.run_to_end(20)  # sealed, the release given up
    orch.close()
    assert orch.status is SessionStatus.COMPLETED
    (expiry,) = expiries
    until = _clock.format_utc(_clock.from_epoch_ns(expiry))
    said = orch.inspect().lease_unreleased
    given_up = (
        "the lease of account 'default', strategy 's' could not be given back (PostgreSQL at"
        " 127.0.0.1:5432/livesession timed out): "
    )
    if waited_s < 1:
        assert said == (
            f"{given_up}it stays held until it expires, at {until} (lease_ttl_ms=1000), and a"
            " resume before then is refused (LEASE_HELD)"
        )
    else:
        assert said == (
            f"{given_up}it expired on its own as the release waited, at {until}"
            " (lease_ttl_ms=1000), so it holds off no resume"
        )
