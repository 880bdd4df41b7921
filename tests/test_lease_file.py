"""FileLease, and the lease contract every lease backend keeps (reused by test_postgres)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pwd
import stat
import subprocess
import sys

import orjson
import pytest

from livesession._exceptions import LeaseError
from livesession.leases import FileLease, LeaseGrant, SessionLease

from _helpers import child

SECOND = 1_000_000_000
T0 = 1_767_225_600 * SECOND  # 2026-01-01T00:00:00Z in epoch nanoseconds
TTL = 30 * SECOND


class LeaseContract:
    """The lease rules; subclasses provide ``lease`` and ``make_lease`` (same pair, new handle)."""

    def test_first_acquire_grants(self, lease):
        """The first acquire of a free pair returns a grant describing it."""
        grant = lease.acquire("h1", T0, TTL)
        assert grant is not None
        assert (grant.holder_id, grant.ttl_ns, grant.expires_ns) == ("h1", TTL, T0 + TTL)
        assert grant.token >= 1

    def test_held_lease_is_refused_to_others(self, lease, make_lease):
        """While the lease is live, another holder gets None, through any handle."""
        assert lease.acquire("h1", T0, TTL) is not None
        assert lease.acquire("h2", T0 + 1, TTL) is None
        assert make_lease().acquire("h2", T0 + TTL - 1, TTL) is None

    def test_takeover_after_expiry_raises_token(self, lease, make_lease):
        """Once expired (now == expires_ns counts), another holder takes over with a larger token."""
        first = lease.acquire("h1", T0, TTL)
        second = make_lease().acquire("h2", T0 + TTL, TTL)
        assert second is not None
        assert second.token > first.token

    def test_tokens_strictly_increase_over_takeovers(self, lease):
        """Every takeover hands out a token larger than all before it."""
        tokens = []
        for round_ in range(6):
            grant = lease.acquire(f"h{round_}", T0 + round_ * TTL, TTL)
            tokens.append(grant.token)
        assert tokens == sorted(set(tokens))

    def test_renew_extends_the_lease(self, lease, make_lease):
        """A renewed lease stays refused to others past its first expiry."""
        grant = lease.acquire("h1", T0, TTL)
        assert lease.renew(grant, T0 + TTL - 1)
        assert make_lease().acquire("h2", T0 + TTL, TTL) is None
        assert make_lease().acquire("h2", T0 + 2 * TTL - 2, TTL) is None
        assert make_lease().acquire("h2", T0 + 2 * TTL - 1, TTL) is not None

    def test_renew_after_losing_is_false(self, lease, make_lease):
        """After expiry and a takeover, the old grant can no longer renew."""
        old = lease.acquire("h1", T0, TTL)
        new = make_lease().acquire("h2", T0 + TTL + 5, TTL)
        assert new is not None
        assert lease.renew(old, T0 + TTL + 6) is False
        assert make_lease().renew(new, T0 + TTL + 6) is True

    def test_renew_of_expired_untaken_lease_succeeds(self, lease, make_lease):
        """A lease that expired but was taken by no one renews with the same token."""
        grant = lease.acquire("h1", T0, TTL)
        assert lease.renew(grant, T0 + 3 * TTL)
        assert make_lease().acquire("h2", T0 + 4 * TTL - 1, TTL) is None

    def test_renew_never_shortens_the_lease(self, lease, make_lease):
        """A renew with an earlier time keeps the later expiry."""
        grant = lease.acquire("h1", T0 + TTL, TTL)
        assert lease.renew(grant, T0)
        assert make_lease().acquire("h2", T0 + 2 * TTL - 1, TTL) is None

    def test_same_holder_reacquires_with_new_token(self, lease):
        """The same holder may acquire again; the new token supersedes the old grant."""
        old = lease.acquire("h1", T0, TTL)
        new = lease.acquire("h1", T0 + 1, TTL)
        assert new.token > old.token
        assert lease.renew(old, T0 + 2) is False
        assert lease.renew(new, T0 + 2) is True

    def test_release_frees_the_lease(self, lease, make_lease):
        """After release, another holder acquires at once with a larger token."""
        grant = lease.acquire("h1", T0, TTL)
        lease.release(grant)
        other = make_lease().acquire("h2", T0 + 1, TTL)
        assert other is not None
        assert other.token > grant.token

    def test_holding_names_the_live_holder_and_its_expiry(self, lease, make_lease):
        """What a refused resume names: nobody before a grant, the holder and its expiry
        while the lease lives (a renewal moves it), nobody once expired or released."""
        asker = make_lease()
        assert asker.holding(T0) is None
        grant = lease.acquire("h1@host:7", T0, TTL)
        assert asker.holding(T0 + TTL - 1) == ("h1@host:7", T0 + TTL)
        assert lease.renew(grant, T0 + 5)
        assert asker.holding(T0 + TTL) == ("h1@host:7", T0 + 5 + TTL)
        assert asker.holding(T0 + 5 + TTL) is None  # expired
        lease.release(grant)
        assert asker.holding(T0) is None

    @pytest.mark.parametrize(
        ("now_ns", "error"),
        [
            (-1, ValueError),
            (2**63, ValueError),
            (1.5, TypeError),
            (True, TypeError),
            ("T0", TypeError),
            (None, TypeError),
        ],
    )
    def test_holding_refuses_a_time_acquire_refuses(self, lease, now_ns, error):
        """``holding`` checks ``now_ns`` as ``acquire`` and ``renew`` do, held or free: before,
        a file lease answered None for -1 or 1.5, a holder for ``True``, and raised a bare
        ``TypeError`` (``'>=' not supported``) for a string only once someone held it."""
        with pytest.raises(error, match="lease now_ns must be"):
            lease.holding(now_ns)
        assert lease.acquire("h1", T0, TTL) is not None
        with pytest.raises(error, match="lease now_ns must be"):
            lease.holding(now_ns)
        assert lease.holding(T0) == ("h1", T0 + TTL)

    def test_renew_after_release_is_false(self, lease):
        """A released grant cannot be renewed back to life."""
        grant = lease.acquire("h1", T0, TTL)
        lease.release(grant)
        assert lease.renew(grant, T0 + 1) is False

    def test_stale_release_leaves_new_holder(self, lease, make_lease):
        """Releasing a lost grant does not free the lease of whoever took it over."""
        old = lease.acquire("h1", T0, TTL)
        new = make_lease().acquire("h2", T0 + TTL, TTL)
        lease.release(old)
        assert lease.acquire("h3", T0 + TTL + 1, TTL) is None
        assert make_lease().renew(new, T0 + TTL + 1)

    def test_grant_of_another_pair_is_refused(self, lease):
        """Renewing or releasing a grant made for another pair raises ValueError."""
        foreign = LeaseGrant(
            account="other", strategy="other", holder_id="h1", token=1, ttl_ns=TTL, expires_ns=T0
        )
        with pytest.raises(ValueError, match="grant for"):
            lease.renew(foreign, T0)
        with pytest.raises(ValueError, match="grant for"):
            lease.release(foreign)

    @pytest.mark.parametrize(
        ("holder", "now_ns", "ttl_ns", "error"),
        [
            ("", T0, TTL, ValueError),
            ("h1", -1, TTL, ValueError),
            ("h1", T0, 0, ValueError),
            ("h1", T0, 2**63, ValueError),
            ("h1", 0, 2**63, ValueError),  # a TTL past a signed 64-bit column, from the epoch
            ("h1", 2**63 - 1, 1, ValueError),  # an expiry past it
            ("h1", 1.5, TTL, TypeError),
            ("h1", True, TTL, TypeError),
            ("h1", T0, "30s", TypeError),
        ],
    )
    def test_bad_arguments_are_refused(self, lease, holder, now_ns, ttl_ns, error):
        """Empty holders, negative or non-integer times and non-positive TTLs are refused."""
        with pytest.raises(error):
            lease.acquire(holder, now_ns, ttl_ns)
        assert lease.acquire("h1", T0, TTL) is not None

    @pytest.mark.parametrize(
        ("now_ns", "ttl_ns"),
        [(0, 1), (0, 2**63 - 1), (2**63 - 2, 1)],
        ids=["the epoch, a nanosecond", "the longest TTL", "the last expiry"],
    )
    def test_the_bounds_are_accepted(self, lease, now_ns, ttl_ns):
        """Times from 0 and TTLs from 1 ns, up to an expiry of 2**63-1 (a signed 64-bit
        column): each is granted, its expiry the sum."""
        grant = lease.acquire("h1", now_ns, ttl_ns)
        assert grant is not None
        assert (grant.ttl_ns, grant.expires_ns) == (ttl_ns, now_ns + ttl_ns)

    def test_is_a_session_lease(self, lease):
        """The backend satisfies the SessionLease protocol and closes twice harmlessly."""
        assert isinstance(lease, SessionLease)
        lease.close()
        lease.close()


def run_racers(code, count, env):
    """Run ``count`` copies of ``code`` (``python -c``), released together; their JSON results.

    Each racer gets its index as ``sys.argv[1]``, prints ``ready`` once set up, waits for a
    line on stdin, races, and prints one JSON document. The racers import only what their
    code imports, so they start fast.
    """
    with contextlib.ExitStack() as running:  # each killed, if still running, and closed
        racers = [
            running.enter_context(
                child(
                    [sys.executable, "-c", code, str(index)],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env={**os.environ, **env},
                    text=True,
                )
            )
            for index in range(count)
        ]
        for racer in racers:
            if racer.stdout.readline() != "ready\n":
                pytest.fail(f"a racer failed to start: {racer.communicate(timeout=60)[1]}")
        for racer in racers:
            racer.stdin.write("go\n")
            racer.stdin.flush()
        results = []
        for racer in racers:
            out, err = racer.communicate(timeout=300)
            assert racer.returncode == 0, err
            results.append(json.loads(out))
        return results


FILE_LEASE_RACER = """
import json, os, sys
from livesession.leases import FileLease
index = int(sys.argv[1])
lease = FileLease(os.environ["LEASE_PATH"], "acct", "strat")
print("ready", flush=True)
sys.stdin.readline()
grant = lease.acquire(f"holder-{index}", int(os.environ["LEASE_NOW"]), int(os.environ["LEASE_TTL"]))
print(json.dumps({"index": index, "token": None if grant is None else grant.token}))
"""


@pytest.fixture(name="lease_path")
def _lease_path(tmp_path):
    return tmp_path / "lease.json"


@pytest.fixture(name="lease")
def _lease(lease_path):
    lease = FileLease(lease_path, "acct", "strat")
    yield lease
    lease.close()


@pytest.fixture(name="make_lease")
def _make_lease(lease_path):
    return lambda: FileLease(lease_path, "acct", "strat")


class TestFileLeaseContract(LeaseContract):
    """FileLease keeps the lease contract."""


class TestFileLease:
    """FileLease keeps its state in a readable JSON file and fails closed on corruption."""

    def test_file_holds_holder_token_and_expiry(self, lease, lease_path):
        """The file shows who holds which pair, with token and expiry."""
        grant = lease.acquire("h1", T0, TTL)
        state = orjson.loads(lease_path.read_bytes())
        assert state == {
            "leases": {
                "acct": {"strat": {"holder": "h1", "token": grant.token, "expires_ns": T0 + TTL}}
            }
        }

    def test_pairs_are_independent(self, lease, lease_path):
        """Another strategy in the same file has its own lease and tokens."""
        assert lease.acquire("h1", T0, TTL) is not None
        other = FileLease(lease_path, "acct", "other-strat")
        grant = other.acquire("h2", T0, TTL)
        assert grant is not None
        assert grant.token == 1

    def test_no_temporary_files_are_left(self, lease, lease_path):
        """After a few calls only the state file and its lock file remain."""
        grant = lease.acquire("h1", T0, TTL)
        lease.renew(grant, T0 + 1)
        lease.release(grant)
        assert sorted(p.name for p in lease_path.parent.iterdir()) == [
            "lease.json",
            "lease.json.lock",
        ]

    @pytest.mark.parametrize(
        "content",
        [
            b"{not json",
            b"[]",
            b'{"leases": []}',
            b'{"leases": {"acct": {"strat": {"token": "1"}}}}',
            b'{"leases": {"acct": []}}',
            b'{"leases": {"acct": {"strat": []}}}',
            b'{"leases": {"acct": {"strat": {"holder": "h1", "token": true, "expires_ns": 1}}}}',
            b'{"leases": {"acct": {"strat": {"holder": "h1", "token": 1, "expires_ns": "1"}}}}',
            b'{"leases": {"acct": {"strat": {"holder": "h1", "token": 1, "expires_ns": true}}}}',
            b'{"leases": {"acct": {"strat": {"holder": "", "token": 1, "expires_ns": 1}}}}',
            b'{"leases": {"acct": {"strat": {"holder": 7, "token": 1, "expires_ns": 1}}}}',
        ],
    )
    def test_corrupt_file_raises_and_is_kept(self, lease, lease_path, content):
        """A corrupt file raises LeaseError naming the file and is not overwritten."""
        lease_path.write_bytes(content)
        with pytest.raises(LeaseError, match=r"lease\.json"):
            lease.acquire("h1", T0, TTL)
        assert lease_path.read_bytes() == content

    def test_a_released_lease_shows_nobody_and_keeps_its_token(self, lease, lease_path):
        """The file after a release: no holder, the token kept for the next, no expiry."""
        grant = lease.acquire("h1", T0, TTL)
        lease.release(grant)
        state = orjson.loads(lease_path.read_bytes())
        assert state == {
            "leases": {"acct": {"strat": {"holder": None, "token": grant.token, "expires_ns": 0}}}
        }

    def test_the_lock_file_is_made_under_the_umask(self, lease, lease_path):
        """Under ``umask 002`` the group may take the lock too, as it may the lease file."""
        old = os.umask(0o002)
        try:
            lease.acquire("h1", T0, TTL)
        finally:
            os.umask(old)
        assert stat.S_IMODE(lease_path.with_name("lease.json.lock").stat().st_mode) == 0o664

    def test_unwritable_directory_raises_lease_error(self, tmp_path):
        """A lease file in a missing directory raises LeaseError, not OSError."""
        lease = FileLease(tmp_path / "missing" / "lease.json", "acct", "strat")
        with pytest.raises(LeaseError, match="lease lock"):
            lease.acquire("h1", T0, TTL)

    def test_repr_names_file_and_pair(self, lease, lease_path):
        """The repr names the file, the account and the strategy."""
        assert repr(lease) == f"FileLease({str(lease_path)!r}, account='acct', strategy='strat')"

    def test_four_processes_one_winner(self, lease_path):
        """Four processes acquiring the same pair at once: exactly one gets a grant."""
        env = {"LEASE_PATH": str(lease_path), "LEASE_NOW": str(T0), "LEASE_TTL": str(TTL)}
        outcomes = run_racers(FILE_LEASE_RACER, 4, env)
        assert sorted(o["index"] for o in outcomes) == [0, 1, 2, 3]
        assert [o["token"] for o in outcomes if o["token"] is not None] == [1]


class TestAnotherUsersLeaseFiles:
    def test_a_lease_lock_this_user_may_not_open_says_whose_and_what_to_do(
        self, tmp_path, monkeypatch
    ):
        """The next shift's session met `[Errno 13] Permission denied: 'PATH'` of a lease lock
        another operator made under umask 022: the line names the directory's owner and the
        way out (the group's write permission and umask 002, or that user), once."""
        real_open = os.open

        def denied(path, *args, **kwargs):
            if str(path).endswith(".lease.lock"):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_open(path, *args, **kwargs)

        monkeypatch.setattr(os, "open", denied)
        lease = FileLease(tmp_path / "desk.lease", "acct", "strat")
        with pytest.raises(LeaseError) as refused:
            lease.acquire("h1", T0, TTL)
        owner = pwd.getpwuid(tmp_path.stat().st_uid).pw_name
        said = str(refused.value)
        assert said == (
            f"cannot open the lease lock {tmp_path / 'desk.lease.lock'} (Permission denied): "
            f"this user may not write the lease files in {tmp_path} (owned by {owner}): sessions "
            "that share them must all be able to write them (give the group write permission to "
            "the directory and its files, and start sessions under umask 002), or run this one "
            "as that user"
        )
        assert "[Errno" not in said

    def test_the_owner_of_lease_files_whose_uid_has_no_user_name_is_named_by_its_uid(
        self, tmp_path, monkeypatch
    ):
        """Bug: lease files a container's process made, as a uid with no entry in
        /etc/passwd (OpenShift's arbitrary uid), were said to be `owned by another user`:
        whose, the line did not say. Now `owned by uid N`, as the other refusals name it."""
        real_open = os.open

        def denied(path, *args, **kwargs):
            if str(path).endswith(".lease.lock"):
                raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
            return real_open(path, *args, **kwargs)

        def no_entry(uid):
            raise KeyError(f"getpwuid(): uid not found: {uid}")

        monkeypatch.setattr(os, "open", denied)
        monkeypatch.setattr(pwd, "getpwuid", no_entry)
        lease = FileLease(tmp_path / "desk.lease", "acct", "strat")
        with pytest.raises(LeaseError) as refused:
            lease.acquire("h1", T0, TTL)
        uid = tmp_path.stat().st_uid
        assert f"the lease files in {tmp_path} (owned by uid {uid}): " in str(refused.value)
