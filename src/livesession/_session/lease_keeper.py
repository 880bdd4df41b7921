"""The single-active-session lease, as one session holds it.

``LeaseKeeper`` takes the (account, strategy) lease at preflight (or adopts the grant a
resume took), renews it as steps run (asking the store at most every quarter TTL), and
releases it at the end. A lost lease stops trading at once with no cancel and no flatten:
the new holder owns the venue's orders now. The fencing token is audited only
(``C2_LEASE_ACQUIRED``), so events and snapshots stay byte-identical across runs.

Enforced fencing: the keeper hands every grant to the session's shared stores
(``Fenceable``: the PostgreSQL ones), whose writes are then refused once a newer holder
exists; ``FenceWatch`` turns such a refusal (``Fenced``) into a lost lease. Before each
send to the venue the session asks ``current()``: a clock comparison, the lease's own
cheap check in between renewals (``PairLease.confirms``: one read of a lease file), and a
store round trip only once a quarter TTL has passed since the last renewal.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Final, Literal

import attrs

from .._domain import clock as _clock
from .._domain.reasons import LEASE_LOST
from .._exceptions import ConfigError, Fenced, LeaseError
from .._risk.checks import CheckResult
from .._support.logging import get_logger
from .._typing import Fenceable, ListableStore
from ..leases.grant import PairLease
from .pipeline import error_message

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from typing import Any

    from .._artifacts.recorder import Recorder
    from .._typing import (
        CheckpointStore,
        Clock,
        IdempotencyRecord,
        IdempotencyStore,
        SessionLease,
    )
    from ..leases import LeaseGrant

__all__ = [
    "CheckpointWatch",
    "FenceWatch",
    "LeaseKeeper",
    "ListedFenceWatch",
    "refuse_other_pair",
    "watch_fences",
]

_NS_PER_MS: Final = 1_000_000
_RENEW_FRACTION: Final = 4  # renew once a quarter of the lease TTL has passed


def _as_tuple(stores: Sequence[Fenceable]) -> tuple[Fenceable, ...]:
    return tuple(stores)


@attrs.define(kw_only=True, eq=False, repr=False)
class LeaseKeeper:
    """Holds, renews and releases one session's lease; audits each grant and loss."""

    _lease: SessionLease = attrs.field(kw_only=False)
    _recorder: Recorder
    _clock: Clock
    _holder: str
    _account: str
    _strategy: str
    _ttl_ms: int
    _on_lost: Callable[[], None]
    _fault: Callable[..., None]
    _guarded: Callable[[Callable[[], None]], None]
    _steps: Callable[[], int]
    _fenced: tuple[Fenceable, ...] = attrs.field(default=(), converter=_as_tuple)
    grant: LeaseGrant | None = attrs.field(init=False, default=None)
    lost: bool = attrs.field(init=False, default=False)
    _audited: bool = attrs.field(init=False, default=False)
    _renewed_ns: int = attrs.field(init=False, default=0)
    _confirms: Callable[[LeaseGrant, int], bool] | None = attrs.field(init=False, default=None)
    unreleased: str = attrs.field(init=False, default="")
    """Why the lease could not be given back at the end, and until when it stays held ("":
    it was, or none was held)."""

    def __attrs_post_init__(self) -> None:
        if isinstance(self._lease, PairLease):  # a lease of the caller's has no cheap check
            self._confirms = self._lease.confirms

    def preflight(self) -> CheckResult:
        """Preflight: take the lease, or fail with LEASE_HELD (or keep an adopted one)."""
        name = "session_lease"
        grant = self.grant
        if grant is not None:  # adopted on resume: keep it live
            with contextlib.suppress(LeaseError):  # the backend failed: not renewed
                if self._renew_ok():
                    if not self._audited:
                        self._audit(grant)
                    return CheckResult(name=name, passed=True, reason="")
            return self._failed(LEASE_LOST, "could not renew the lease this run resumed with")
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
        grant = self._lease.acquire(self._holder, self._now_ns(), self._ttl_ms * _NS_PER_MS)
        if grant is None:
            return False
        self.adopt(grant)
        return True

    def adopt(self, grant: LeaseGrant, *, audit: bool = True) -> None:
        """Hold ``grant`` (taken by the caller, as resume does); audited now or at preflight.

        The shared stores carry its token from now on, before anything is written.
        """
        for store in self._fenced:
            store.fence_with(grant)
        self.grant = grant
        self._audited = False
        self._renewed_ns = grant.expires_ns - grant.ttl_ns
        if audit:
            self._audit(grant)

    def renew(self) -> bool:
        """Renew before trading; False once the lease is lost.

        A lost lease stops trading at once, with no cancel and no flatten (the new holder
        owns the venue's orders now): ``on_lost`` halts trading and stops checkpoints but the
        sealing one, then ``C2_LEASE_LOST`` is audited and the session faults to
        ERROR_REQUIRES_OPERATOR with reason LEASE_LOST.

        A renewal the backend could not answer (the database gone, a corrupt lease file)
        raises its ``LeaseError``: nothing says the lease was lost, only that the backend
        failed, so the step (or verb) is torn as by an idempotency store that failed, and the
        run ends unsealed at its last checkpoint, for ``resume`` once the backend is back
        (it takes the lease again first, and is refused while another session holds it).
        An outage then ends the same way whichever backend noticed it first. A renewal the
        store refused because the store was reset under it (``Fenced``: ``PostgresLease``'s
        table reset, ``FileLease``'s file deleted or replaced) loses the lease as a fenced
        store's refused write does: its ``C2_LEASE_LOST`` has ``refused_by_fence``, the
        store's token then (None: no row or entry).
        """
        return self._held(None)

    def current(self) -> bool:
        """Before a send to the venue: whether the lease still holds (lost when not).

        The check of ``renew`` (the lease clock against the last renewal, and the store
        once a quarter TTL has passed, so a process paused past its TTL finds out here),
        and in between the lease's own cheap check (``PairLease.confirms``; a
        ``FileLease``: one read of its file, no lock, no write), so a lease file deleted
        or replaced under the session stops it before its next send, not at its next
        renewal. A check that cannot confirm the grant renews, which decides. Once the lease
        is lost it answers False without auditing the loss again. A backend that fails
        raises its ``LeaseError``, as in ``renew``.
        """
        return not self.lost and self._held(self._confirms)

    def _held(self, confirms: Callable[[LeaseGrant, int], bool] | None) -> bool:
        """``_renew_ok(confirms)``, the lease lost when it does not hold (or was fenced)."""
        try:
            return self._renew_ok(confirms) or self._lose(None)
        except Fenced as exc:
            return self._lose(exc)

    def live(self) -> bool:
        """Whether the lease still holds by the check of ``renew`` alone (lost when not).

        Asked where the session takes up an intent or reserves an order's key: a lease that
        lapsed (a process paused past its TTL) is lost there, before anything is recorded;
        ``current``, right before the send, also reads the lease's store. Once the lease is
        lost it answers False without auditing the loss again.
        """
        return not self.lost and self.renew()

    def fenced(self, refused: Fenced) -> None:
        """A shared store refused a write (a newer holder exists): the lease is lost."""
        if not self.lost:
            self._lose(refused)

    def _lose(self, refused: Fenced | None) -> Literal[False]:
        """Lose the lease: halt, audit ``C2_LEASE_LOST``, fault; False (no longer held)."""
        grant, self.grant = self.grant, None
        self.lost = True
        self._on_lost()

        def lost() -> None:
            payload: dict[str, object] = {
                "account": self._account,
                "strategy": self._strategy,
                "holder": self._holder,
                "fence": None if grant is None else grant.token,
                "step": self._steps(),
            }
            if refused is not None:  # found out by a refused write, not by a renewal
                payload["refused_by_fence"] = refused.newest
            self._recorder.audit("C2_LEASE_LOST", payload)
            self._fault(LEASE_LOST)

        self._guarded(lost)
        return False

    def release(self, *, close: bool) -> None:
        """Give the lease back (it also expires on its own); ``close`` the backend too.

        A backend that refuses (a full disk under the lease file, a server gone) leaves the
        lease held until it expires: ``unreleased`` and the session log say so and until
        when, since a resume before then is refused ``LEASE_HELD``.
        """
        grant, self.grant = self.grant, None
        lease = self._lease
        try:
            if grant is not None:
                try:
                    lease.release(grant)
                except LeaseError as exc:  # it expires; the next holder's token is larger
                    self._kept(grant, exc)
        finally:
            if close:
                lease.close()

    def _kept(self, grant: LeaseGrant, exc: LeaseError) -> None:
        """Say why ``grant`` is still held, and until when (``unreleased``, the log).

        A release that gave up only after the grant's expiry (a server that answered nothing
        within ``LIVESESSION_PG_TIMEOUT``, after a step torn by the same wait) is said as
        expired: "stays held until" a time already past was no way out.
        """
        expires_ns = self._renewed_ns + grant.ttl_ns
        until = _clock.format_utc(_clock.from_epoch_ns(expires_ns))
        ttl = f"lease_ttl_ms={grant.ttl_ns // _NS_PER_MS}"
        held = (
            f"it expired on its own as the release waited, at {until} ({ttl}), so it holds"
            " off no resume"
            if self._now_ns() >= expires_ns
            else f"it stays held until it expires, at {until} ({ttl}), and a resume before"
            " then is refused (LEASE_HELD)"
        )
        self.unreleased = (
            f"the lease of account {self._account!r}, strategy {self._strategy!r} could not "
            f"be given back ({error_message(exc)}): {held}"
        )
        run_id = self._recorder.run_id
        get_logger().warning("lease_not_released", run_id=run_id, why=self.unreleased)

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

    def _renew_ok(self, confirms: Callable[[LeaseGrant, int], bool] | None = None) -> bool:
        """Whether the grant still holds the lease, renewing it when due.

        The store is renewed at most every quarter TTL: a lease cannot change hands before
        it expires, and a renewal less than a quarter TTL ago keeps it live for at least
        three quarters more (on the shared wall-clock time base; skew eats into it), unless
        the store is changed under it (a lease file deleted or put back from an older
        copy). ``confirms`` (the lease's cheap check, before a send) is asked in between,
        and the lease is renewed now when it cannot confirm the grant.
        """
        grant = self.grant
        if grant is None:
            return False
        now = self._now_ns()
        if 0 <= now - self._renewed_ns < grant.ttl_ns // _RENEW_FRACTION and (
            confirms is None or confirms(grant, now)
        ):
            return True
        renewed = self._lease.renew(grant, now)  # a LeaseError tears the step: see renew
        if renewed:
            self._renewed_ns = now
        return renewed


class FenceWatch:
    """An idempotency store whose refused (fenced) writes tell the keeper the lease is lost.

    ``reserve`` re-raises ``Fenced`` after ``on_fenced``: the caller must not send.
    ``complete`` swallows it after ``on_fenced``: the outcome stays unrecorded, so the key
    stays reserved, which any later reader treats as "maybe sent" and looks up at the
    venue; unwinding a step for bookkeeping would stop nothing more than the fault does.
    """

    def __init__(self, store: IdempotencyStore, on_fenced: Callable[[Fenced], None]) -> None:
        self.store = store
        self._on_fenced = on_fenced

    def reserve(self, key: str, fingerprint: str) -> IdempotencyRecord:
        """``store.reserve``; a refusal loses the lease and is raised."""
        try:
            return self.store.reserve(key, fingerprint)
        except Fenced as exc:
            self._on_fenced(exc)
            raise

    def complete(self, key: str, outcome: str) -> None:
        """``store.complete``; a refusal loses the lease and is not raised."""
        try:
            self.store.complete(key, outcome)
        except Fenced as exc:
            self._on_fenced(exc)

    def get(self, key: str) -> IdempotencyRecord | None:
        """``store.get`` (a read: never fenced)."""
        return self.store.get(key)

    def close(self) -> None:
        """``store.close``."""
        self.store.close()


class ListedFenceWatch(FenceWatch):
    """A ``FenceWatch`` of a store that lists its keys (``ListableStore``), listing them too.

    A resume on a real venue looks up every key the checkpoint does not account for
    (``aftercheckpoint.look_up``), which it finds only in a store that lists them: a plain
    ``FenceWatch`` hid the PostgreSQL store's list, so a ``--store postgres`` resume looked
    nothing up and a wind-down before the re-run reached such an order sealed "flat".
    """

    def reservations(self) -> Sequence[IdempotencyRecord]:
        """``store.reservations`` (a read: never fenced)."""
        store = self.store
        assert isinstance(store, ListableStore)  # noqa: S101 - watch_fences chose it so
        return store.reservations()


class CheckpointWatch:
    """A checkpoint store whose refused (fenced) saves tell the keeper the lease is lost.

    A refused save is not raised: losing the lease stops checkpoints anyway.
    """

    def __init__(self, store: CheckpointStore, on_fenced: Callable[[Fenced], None]) -> None:
        self.store = store
        self._on_fenced = on_fenced

    def save(self, checkpoint: Mapping[str, Any]) -> None:
        """``store.save``; a refusal loses the lease and is not raised."""
        try:
            self.store.save(checkpoint)
        except Fenced as exc:
            self._on_fenced(exc)

    def load(self) -> dict[str, Any] | None:
        """``store.load`` (a read: never fenced)."""
        return self.store.load()


def watch_fences(
    idem: IdempotencyStore,
    checkpoints: CheckpointStore | None,
    fenced: list[Fenceable],
    on_fenced: Callable[[Fenced], None],
) -> tuple[IdempotencyStore, CheckpointStore | None]:
    """The session's stores as it uses them with a lease: each ``Fenceable`` one watched.

    Appends the fenceable stores to ``fenced`` (the keeper hands them every grant); the
    others (the local stores, which the run directory's lock protects) are left as given.
    """
    if isinstance(idem, Fenceable):
        fenced.append(idem)
        watch = ListedFenceWatch if isinstance(idem, ListableStore) else FenceWatch
        idem = watch(idem, on_fenced)
    if checkpoints is not None and isinstance(checkpoints, Fenceable):
        fenced.append(checkpoints)
        checkpoints = CheckpointWatch(checkpoints, on_fenced)
    return idem, checkpoints


def refuse_other_pair(lease: object, account: str, strategy: str) -> None:
    """``ConfigError`` when a lease of livesession's is for another pair than the session's.

    Such a lease fences the pair it was built for: a session given one of another account
    or strategy ran under it, and a second session of its own pair never met it.
    """
    if not isinstance(lease, PairLease):
        return  # a lease of the caller's: its pair is its own to keep
    wrong = [
        f"{field} {given!r}, not the config's {name} {wanted!r}"
        for field, name, given, wanted in (
            ("account", "account", lease.account, account),
            ("strategy", "strategy_id", lease.strategy, strategy),
        )
        if given != wanted
    ]
    if wrong:
        raise ConfigError(
            f"the lease given is of {' and '.join(wrong)}: a session takes the lease of the"
            f" pair it trades; build it as {type(lease).__name__}(..., {account!r}, {strategy!r})"
        )
