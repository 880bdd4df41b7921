"""The single-active-session lease, as one session holds it.

``LeaseKeeper`` takes the (account, strategy) lease at preflight (or adopts the grant a
resume took), renews it as steps run (asking the store at most every quarter TTL), and
releases it at the end. A lost lease stops trading at once with no cancel and no flatten:
the new holder owns the venue's orders now. The fencing token is audited only
(``C2_LEASE_ACQUIRED``), so events and snapshots stay byte-identical across runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from .._domain import clock as _clock
from .._exceptions import LeaseError
from .._risk.checks import CheckResult

if TYPE_CHECKING:
    from collections.abc import Callable

    from .._artifacts.recorder import Recorder
    from .._typing import Clock, SessionLease
    from ..leases import LeaseGrant

__all__ = ["LeaseKeeper"]

_NS_PER_MS: Final = 1_000_000
_RENEW_FRACTION: Final = 4  # renew once a quarter of the lease TTL has passed


class LeaseKeeper:
    """Holds, renews and releases one session's lease; audits each grant and loss."""

    def __init__(
        self,
        lease: SessionLease,
        *,
        recorder: Recorder,
        clock: Clock,
        holder: str,
        account: str,
        strategy: str,
        ttl_ms: int,
        on_lost: Callable[[], None],
        fault: Callable[[str], None],
        guarded: Callable[[Callable[[], None]], None],
        steps: Callable[[], int],
    ) -> None:
        self._lease = lease
        self._recorder = recorder
        self._clock = clock
        self._holder = holder
        self._account = account
        self._strategy = strategy
        self._ttl_ns = ttl_ms * _NS_PER_MS
        self._on_lost = on_lost
        self._fault = fault
        self._guarded = guarded
        self._steps = steps
        self.grant: LeaseGrant | None = None
        self._audited = False
        self._renewed_ns = 0

    def preflight(self) -> CheckResult:
        """Preflight: take the lease, or fail with LEASE_HELD (or keep an adopted one)."""
        name = "session_lease"
        grant = self.grant
        if grant is not None:  # adopted on resume: keep it live
            if self._renew_ok():
                if not self._audited:
                    self._audit(grant)
                return CheckResult(name=name, passed=True, reason="")
            return self._failed("LEASE_LOST", "could not renew the lease this run resumed with")
        try:
            granted = self.acquire()
        except LeaseError as exc:
            self._recorder.audit("C2_LEASE_ERROR", {"stage": "acquire", "error": str(exc)})
            return self._failed(
                "LEASE_UNAVAILABLE", f"the lease store failed ({type(exc).__name__})"
            )
        if not granted:
            # The holder's id (host and pid) is not named: events stay the same bytes on
            # every host, and the lease file or row names it for the operator.
            return self._failed("LEASE_HELD", "another live session holds it")
        return CheckResult(name=name, passed=True, reason="")

    def _failed(self, reason: str, why: str) -> CheckResult:
        pair = f"account {self._account!r}, strategy {self._strategy!r}"
        return CheckResult(
            name="session_lease", passed=False, reason=reason, detail=f"lease of {pair}: {why}"
        )

    def acquire(self) -> bool:
        """Acquire the lease now (False while another holder has it); audited when granted."""
        grant = self._lease.acquire(self._holder, self._now_ns(), self._ttl_ns)
        if grant is None:
            return False
        self.adopt(grant)
        return True

    def adopt(self, grant: LeaseGrant, *, audit: bool = True) -> None:
        """Hold ``grant`` (taken by the caller, as resume does); audited now or at preflight."""
        self.grant = grant
        self._audited = False
        self._renewed_ns = grant.expires_ns - grant.ttl_ns
        if audit:
            self._audit(grant)

    def renew(self) -> bool:
        """Renew before trading; False once the lease is lost.

        A lost lease stops trading at once, with no cancel and no flatten (the new holder
        owns the venue's orders now): ``on_lost`` halts trading and stops checkpoints (a
        resumed session may own the run directory now), then ``C2_LEASE_LOST`` is audited
        and the session faults to ERROR_REQUIRES_OPERATOR with reason LEASE_LOST.
        """
        if self._renew_ok():
            return True
        grant, self.grant = self.grant, None
        self._on_lost()

        def lost() -> None:
            self._recorder.audit(
                "C2_LEASE_LOST",
                {
                    "account": self._account,
                    "strategy": self._strategy,
                    "holder": self._holder,
                    "fence": None if grant is None else grant.token,
                    "step": self._steps(),
                },
            )
            self._fault("LEASE_LOST")

        self._guarded(lost)
        return False

    def release(self, *, close: bool) -> None:
        """Give the lease back (it also expires on its own); ``close`` the backend too."""
        grant, self.grant = self.grant, None
        lease = self._lease
        try:
            if grant is not None:
                lease.release(grant)
        except LeaseError:
            pass  # it expires on its own; the next holder's token is larger either way
        finally:
            if close:
                lease.close()

    def _now_ns(self) -> int:
        return _clock.epoch_ns(self._clock.now())

    def _audit(self, grant: LeaseGrant) -> None:
        self._audited = True
        self._recorder.audit(
            "C2_LEASE_ACQUIRED",
            {
                "account": grant.account,
                "strategy": grant.strategy,
                "holder": grant.holder_id,
                "fence": grant.token,  # the fencing token ("token" keys are redacted)
                "ttl_ms": grant.ttl_ns // _NS_PER_MS,
            },
        )

    def _renew_ok(self) -> bool:
        """Whether the grant still holds the lease, renewing it when due.

        The store is asked at most every quarter TTL: a lease cannot change hands before
        it expires, and a renewal less than a quarter TTL ago keeps it live for at least
        three quarters more (on the shared wall-clock time base; skew eats into it).
        """
        grant = self.grant
        if grant is None:
            return False
        now = self._now_ns()
        if 0 <= now - self._renewed_ns < grant.ttl_ns // _RENEW_FRACTION:
            return True
        try:
            renewed = self._lease.renew(grant, now)
        except LeaseError:
            return False
        if renewed:
            self._renewed_ns = now
        return renewed
