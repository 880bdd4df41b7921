"""A lease file deleted or replaced under a running session: the session says so.

An admin's clean-up, a restore from a backup, an ``rm`` of the file: the session's grant is
no longer in the file, and no newer holder explains it. The session loses its lease (as a
PostgreSQL one whose lease table was reset does), and its ``C2_LEASE_LOST``, ``status``,
the CLI's last line and ``stop`` say the file was deleted or replaced, not that another
session took the lease over.

The first CLI test stops a real ``livesession dryrun --lease`` right before a send
(``LIVESESSION_PAUSE_AT``), changes the file, waits a quarter of its (short) TTL on the
wall clock so that the next send renews, and continues it. The second waits for no
renewal: the send's own read of the lease file finds the change, while a second run that
took the freed pair is stopped in its turn. Waits are short and bounded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession._domain import clock as _clock
from livesession._exceptions import Fenced
from livesession.leases import FileLease
from livesession.verify import verify_run
from test_lease_session import (
    LONG_TTL_MS,
    SUBPROCESS_TIMEOUT_S,
    audit_records,
    cli,
    cli_argv,
    cli_env,
    fences,
    submits_per_client_id,
    write_config,
)

from _helpers import START, child, proc_stat, until

T0 = 1_767_225_600_000_000_000
TTL = 30_000_000_000
WAIT_S = 20.0  # a hang guard; every wait below ends long before it
EXIT_OK, EXIT_FAILED = 0, 4
RESET = (
    "the lease file was deleted or replaced under it (removed, or put back from an older "
    "copy), so another session may hold the lease and own the venue's open orders and "
    "positions: do not acknowledge this run nor close them by its book; check which session "
    "holds the lease now (the lease file's entry names it: its fences started again or went "
    "back) and that it runs (RUNBOOK: One session per account and strategy: the lease)"
)


def _lost_line(found: str) -> str:
    return (
        f"the lease file was deleted or replaced under it (its entry {found} when this run "
        "renewed its lease: removed, or put back from an older copy), so another session may "
        "hold it"
    )


# -- the lease itself --------------------------------------------------------------------


def _lost_at_fence_2(run_dir, after):
    """The run's one ``C2_LEASE_LOST``: fence 2, refused by the file's token then (none when
    the file was ``deleted``, 1 otherwise)."""
    [lost] = [r["payload"] for r in audit_records(run_dir) if r["code"] == "C2_LEASE_LOST"]
    newest = None if after == "deleted" else 1
    assert (lost["fence"], lost["refused_by_fence"]) == (2, newest)


def _released_once(tmp_path, cfg):
    """The run's lease file, taken and released once by an earlier session (token 1), and
    its bytes then: (path, the older bytes)."""
    from livesession._rundir.layout import lease_path

    path = lease_path(tmp_path, cfg.account, cfg.strategy_id)
    path.parent.mkdir()
    earlier = FileLease(path, cfg.account, cfg.strategy_id)
    earlier.release(earlier.acquire("earlier", _clock.epoch_ns(START), 10**9))  # token 1
    return path, path.read_bytes()


def _second_grant(tmp_path):
    """A lease file's second grant to holder ``a`` (token 2), and the file as it was before
    it (token 1, released): (path, lease, the older bytes, the grant)."""
    path = tmp_path / "pair.lease"
    lease = FileLease(path, "acct", "strat")
    lease.release(lease.acquire("a", T0, TTL))  # token 1, released
    older = path.read_bytes()
    grant = lease.acquire("a", T0 + 1, TTL)
    assert grant is not None
    return path, lease, older, grant


@pytest.mark.parametrize("after", ["deleted", "replaced", "retaken"])
def test_a_renewal_of_a_deleted_or_replaced_lease_file_raises_fenced(tmp_path, after):
    """Bug: a renewal whose lease file had been deleted (or put back from an older copy)
    answered False, as one refused by a newer holder, and the session recorded that another
    session took the lease over. It now raises ``Fenced`` saying the file was deleted or
    replaced, with the token the file then held (None: no entry), and leaves the file as it
    is; a newer holder is still a plain False."""
    path, lease, older, grant = _second_grant(tmp_path)
    assert grant.token == 2
    path.unlink()
    if after == "replaced":
        path.write_bytes(older)
    elif after == "retaken":  # the file gone, another session took the pair afresh
        assert FileLease(path, "acct", "strat").acquire("b", T0 + 2, TTL).token == 1
    before = path.read_bytes() if path.exists() else None
    with pytest.raises(Fenced) as reset:
        lease.renew(grant, T0 + 3)
    newest = None if after == "deleted" else 1
    assert (reset.value.fence, reset.value.newest) == (2, newest)
    message = str(reset.value)
    assert "\n" not in message
    assert message.startswith(
        "refused renewing the lease: the lease of account 'acct', strategy 'strat' is no "
        f"longer this session's (fence 2): the lease file {path} "
    )
    now = {
        "deleted": "has no entry for it",
        "replaced": "holds fence 1, released",
        "retaken": "holds fence 1 for 'b'",
    }[after]
    assert f"{path} {now}, so the file was deleted or replaced under it" in message
    assert (path.read_bytes() if path.exists() else None) == before  # nothing written
    # A newer holder than the grant: taken over, not reset.
    newer = {"holder": "c", "token": 3, "expires_ns": T0 + TTL}
    path.write_bytes(orjson.dumps({"leases": {"acct": {"strat": newer}}}))
    assert lease.renew(grant, T0 + 4) is False


def test_a_lease_files_cheap_check_confirms_only_the_live_grant_and_writes_nothing(tmp_path):
    """Bug: nothing cheaper than a renewal (due a quarter TTL after the last) could tell a
    session its lease file had been deleted or replaced. ``FileLease.confirms`` reads the
    file once, without its lock: True only while its entry is the grant's and live."""
    path, lease, older, grant = _second_grant(tmp_path)
    other = FileLease(path, "acct", "other")  # another pair in the same file
    other_grant = other.acquire("z", T0 + 1, TTL)
    assert other_grant is not None
    assert lease.confirms(grant, T0 + 2) is True
    assert other.renew(other_grant, T0 + 3)  # another pair's write replaces the file
    assert lease.confirms(grant, T0 + 4) is True
    assert lease.confirms(grant, T0 + 1 + TTL) is False  # expired
    stale = lease.acquire("a", T0 + 5, TTL)  # a newer grant of the same holder
    assert stale is not None
    assert lease.confirms(grant, T0 + 6) is False
    assert lease.confirms(stale, T0 + 6) is True
    current = path.read_bytes()
    for changed in (b"", b"{not json", b'{"leases": []}', older):
        path.write_bytes(changed)
        assert lease.confirms(stale, T0 + 7) is False, changed
        assert path.read_bytes() == changed  # nothing written
    path.unlink()
    assert lease.confirms(stale, T0 + 7) is False
    assert not path.exists()
    path.write_bytes(current)
    assert lease.confirms(stale, T0 + 7) is True
    taken = {"holder": "b", "token": 4, "expires_ns": T0 + TTL}
    path.write_bytes(orjson.dumps({"leases": {"acct": {"strat": taken}}}))
    assert lease.confirms(stale, T0 + 7) is False


# -- a session in process ------------------------------------------------------------------


def _until_sent(orch: Any) -> int:
    """Step until the session has sent an order; the number it sent."""
    while not orch.result().orders_submitted and orch.steps_done < 200:
        orch.step()
    sent = orch.result().orders_submitted
    assert sent, "the strategy sent no order: the test proves nothing"
    return int(sent)


@pytest.mark.parametrize("after", ["deleted", "replaced", "retaken"])
def test_a_session_whose_lease_file_changes_between_renewals_sends_nothing_more(tmp_path, after):
    """Bug: a session whose lease file was deleted (or put back from an older copy) kept
    sending orders until its next renewal, due a quarter of ``lease_ttl_ms`` after the last
    (7.5 s by default, a whole short run): a session that took the freed pair meanwhile
    (``retaken``) traded beside it, two writers for one account and strategy. Every order
    and cancel now checks the lease file first (one read): the session loses its lease at
    its next send, which never goes out. The lease clock stands still here: no renewal is
    due."""
    from livesession import DryrunConfig, SessionState, create_run

    cfg = DryrunConfig(run_id="reset", steps=300, lease_ttl_ms=30_000)
    path, older = _released_once(tmp_path, cfg)
    orch = create_run(
        cfg, tmp_path, lease=True, lease_clock=_clock.SimClock(START), clock=_clock.SimClock(START)
    )
    try:
        orch.preflight()
        orch.activate()
        sent = _until_sent(orch)
        path.unlink()
        if after == "replaced":
            path.write_bytes(older)
        elif after == "retaken":  # another session takes the freed pair (fence 1)
            taker = FileLease(path, cfg.account, cfg.strategy_id)
            assert taker.acquire("taker", _clock.epoch_ns(START), 10**12) is not None
        left = path.read_bytes() if path.exists() else None
        while orch.state is SessionState.DRYRUN_ACTIVE and orch.steps_done < cfg.steps:
            orch.step()
        assert orch.result().reason == "LEASE_LOST"
        assert orch.result().orders_submitted == sent  # nothing sent after the change
        assert (path.read_bytes() if path.exists() else None) == left  # the file as it was
    finally:
        orch.close()
    run_dir = tmp_path / "reset"
    _lost_at_fence_2(run_dir, after)
    assert verify_run(run_dir).ok


@pytest.mark.parametrize("after", ["deleted", "replaced"])
def test_a_session_whose_lease_file_was_deleted_or_replaced_says_so(tmp_path, after):
    """Bug: a session whose lease file was deleted (or put back from an older copy) under
    it recorded a loss no different from a takeover: `status` said `another session took it
    over (its renewal was refused)` and the CLI's line `another session took the lease
    over`, when none had. Its ``C2_LEASE_LOST`` now has ``refused_by_fence`` (null: no
    entry), and status and the line say the lease file was deleted or replaced."""
    from livesession import DryrunConfig, create_run
    from livesession._cli_summary import failure_line, left_at_venue
    from livesession.status import run_status

    cfg = DryrunConfig(run_id="reset", steps=300, lease_ttl_ms=1000)
    path, older = _released_once(tmp_path, cfg)
    lease_clock = _clock.SimClock(START)
    orch = create_run(
        cfg, tmp_path, lease=True, lease_clock=lease_clock, clock=_clock.SimClock(START)
    )
    try:
        orch.preflight()
        orch.activate()
        orch.run_n_steps(20)
        path.unlink()
        if after == "replaced":
            path.write_bytes(older)
        lease_clock.advance(500 * 1_000_000)  # past a quarter TTL: the next step renews
        orch.step()
        assert orch.result().reason == "LEASE_LOST"
    finally:
        orch.close()
    run_dir = tmp_path / "reset"
    _lost_at_fence_2(run_dir, after)
    said = dict(line.split(None, 1) for line in run_status(run_dir).lines())
    assert "another session took it over" not in said["lease"]
    found = "was gone" if after == "deleted" else "held fence 1, not for this run"
    assert f"this run lost it at fence 2: {_lost_line(found)}" in said["lease"]
    assert (
        "(the highest fence, or, when the lease file was deleted or replaced, its entry)"
        in (said["next"])
    )
    line = failure_line(orch.result(), run_dir)
    assert "took the lease over" not in line
    assert line == (
        f"LEASE_LOST; sealed FAILED in ERROR_REQUIRES_OPERATOR without a wind-down: {RESET}: "
        f"{run_dir}"
    )
    assert left_at_venue(run_dir) == f"{RESET}: {run_dir}"
    assert verify_run(run_dir).ok


# -- a real CLI run -------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
@pytest.mark.parametrize("after", ["deleted", "replaced"])
def test_a_cli_run_whose_lease_file_is_deleted_or_replaced_stops_and_says_so(tmp_path, after):
    """Bug: `livesession dryrun --lease` whose lease file was deleted (`rm`, a clean-up) or
    put back from an older copy (a restore) mid-run stopped with LEASE_LOST, and its last
    line, `status` and `stop` all said another session took the lease over: the operator was
    sent looking for a session that need not exist. They now say the lease file was deleted
    or replaced under it; the run sent nothing after it found out, and verifies."""
    from livesession._rundir.layout import lease_path

    out = tmp_path / "runs"
    config = write_config(
        tmp_path / "pair.toml", account="acct1", steps=2000, lease_ttl_ms=LONG_TTL_MS
    )
    common = ["dryrun", "--config", config, "--out", out, "--lease", "-q"]
    path = lease_path(out, "acct1", "sma_demo")
    earlier = cli(*common, "--run-id", "earlier", "--steps", "5")  # token 1, released
    assert earlier.returncode == EXIT_OK, earlier.stderr
    older = path.read_bytes()
    with child(  # stops itself right before its third send
        cli_argv(*common, "--run-id", "run"),
        env={**cli_env(), "LIVESESSION_PAUSE_AT": "before_send:3"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as run:
        until(
            "the session to pause itself",
            lambda: proc_stat(run.pid)[0] == "T",
            run,
            deadline_s=WAIT_S,
        )
        run_dir = out / "run"
        assert fences(run_dir) == [2]
        paused_submits = submits_per_client_id(run_dir / "broker_journal.jsonl")
        path.unlink()
        if after == "replaced":
            path.write_bytes(older)
        # Woken, the send reads the lease file first (no renewal need be due) and renews.
        os.kill(run.pid, signal.SIGCONT)
        _, err = run.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    assert run.returncode == EXIT_FAILED, err
    last = err.strip().splitlines()[-1]
    assert "took the lease over" not in err
    assert last == (
        "livesession: failed: LEASE_LOST; sealed FAILED in ERROR_REQUIRES_OPERATOR without a "
        f"wind-down: {RESET}: {run_dir}"
    )
    [lost] = [r["payload"] for r in audit_records(run_dir) if r["code"] == "C2_LEASE_LOST"]
    assert (lost["fence"], lost["refused_by_fence"]) == (2, None if after == "deleted" else 1)
    assert submits_per_client_id(run_dir / "broker_journal.jsonl") == paused_submits
    assert path.exists() is (after == "replaced")  # the file is left as it was found

    status = cli("status", run_dir)
    assert status.returncode == 5, status.stdout + status.stderr
    found = "was gone" if after == "deleted" else "held fence 1, not for this run"
    assert f"this run lost it at fence 2: {_lost_line(found)}" in status.stdout
    assert "took it over" not in status.stdout
    stop = cli("stop", run_dir)
    assert stop.returncode == EXIT_FAILED, stop.stdout + stop.stderr
    assert f"settles it; {RESET}" in stop.stdout + stop.stderr
    assert "took the lease over" not in stop.stdout + stop.stderr
    verified = cli("verify", run_dir)
    assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states in /proc")
def test_a_cli_run_sends_nothing_beside_the_session_that_took_its_deleted_lease_files_pair(
    tmp_path,
):
    """Bug: `livesession dryrun --lease` (run A) stopped right before a send, its lease file
    removed, and a second run (B) took the freed pair and stopped in turn: A, continued, ran
    on to its last step within the quarter of its TTL (30 s) before its next renewal, sending
    more orders while B held the pair, and ended COMPLETED (exit 0) without a word. A's
    next send now reads the lease file first: A stops there, LEASE_LOST (exit 4), having
    sent nothing more; B runs to its end. No wall-clock wait but for the processes."""
    from livesession._rundir.layout import lease_path

    out = tmp_path / "runs"
    config = write_config(tmp_path / "pair.toml", account="acct1", steps=2000)
    common = ["dryrun", "--config", config, "--out", out, "--lease", "-q"]
    path = lease_path(out, "acct1", "sma_demo")
    with contextlib.ExitStack() as runs:  # each killed, if still running, and closed

        def start(run_id: str, pause_at: str) -> subprocess.Popen[str]:
            run: subprocess.Popen[str] = runs.enter_context(
                child(
                    cli_argv(*common, "--run-id", run_id),
                    env={**cli_env(), "LIVESESSION_PAUSE_AT": pause_at},
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    text=True,
                )
            )
            until(
                f"{run_id} to pause itself",
                lambda: proc_stat(run.pid)[0] == "T",
                run,
                deadline_s=WAIT_S,
            )
            return run

        first = start("A", "before_send:3")
        paused_submits = submits_per_client_id(out / "A" / "broker_journal.jsonl")
        path.unlink()
        second = start("B", "before_send:2")  # took the freed pair (fence 1)
        taken = path.read_bytes()
        os.kill(first.pid, signal.SIGCONT)
        _, err = first.communicate(timeout=SUBPROCESS_TIMEOUT_S)
        assert proc_stat(second.pid)[0] == "T"  # B held the pair all along
        os.kill(second.pid, signal.SIGCONT)
        _, second_err = second.communicate(timeout=SUBPROCESS_TIMEOUT_S)
    assert first.returncode == EXIT_FAILED, err
    assert err.strip().splitlines()[-1] == (
        "livesession: failed: LEASE_LOST; sealed FAILED in ERROR_REQUIRES_OPERATOR without a "
        f"wind-down: {RESET}: {out / 'A'}"
    )
    assert submits_per_client_id(out / "A" / "broker_journal.jsonl") == paused_submits
    [lost] = [r["payload"] for r in audit_records(out / "A") if r["code"] == "C2_LEASE_LOST"]
    # B's fence is A's again (the file's fences started again): only the file's entry tells
    assert (lost["fence"], lost["refused_by_fence"]) == (1, 1)
    assert orjson.loads(taken)["leases"]["acct1"]["sma_demo"]["holder"].startswith("B@")
    assert second.returncode == EXIT_OK, second_err
    for run_id in ("A", "B"):
        verified = cli("verify", out / run_id)
        assert verified.returncode == EXIT_OK, verified.stdout + verified.stderr
