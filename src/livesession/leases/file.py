"""The lease in a JSON file, for sessions on one host."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import orjson

from .._domain.lease import LeaseStore
from .._exceptions import LeaseError
from .._support.filemode import NEW_FILE_MODE, user_name
from .._support.fsutil import atomic_write_bytes
from .grant import PairLease, acquire_expiry, check_ns

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .grant import LeaseGrant

__all__ = ["FileLease"]

_CHUNK: Final = 1 << 16  # a lease file of a few pairs is one read


class FileLease(PairLease):
    """The lease in a JSON file, for sessions on one host (a local filesystem, not NFS).

    ``path`` holds ``{"leases": {account: {strategy: {holder, token, expires_ns}}}}`` and
    may serve many pairs. Every call takes an exclusive ``flock`` on ``<path>.lock`` (a
    file that is never replaced), reads ``path``, and writes the new state with an atomic,
    fsynced replace before unlocking. ``flock`` belongs to the open file, so two
    ``FileLease`` objects exclude each other even inside one process. A file that cannot
    be parsed raises ``LeaseError``: nothing is overwritten.
    """

    def __init__(self, path: str | os.PathLike[str], account: str, strategy: str) -> None:
        """The lease of (``account``, ``strategy``) in the JSON file at ``path``.

        Nothing is opened here: each call opens the files and closes them again.

        Args:
            path: the lease file, a str or an ``os.PathLike``, on a local filesystem; its
                directory must exist (the file and ``<path>.lock`` beside it are created
                on first use). Sessions that must exclude each other share the one file.
            account: the venue account the lease guards, a non-empty str.
            strategy: the strategy id on that account, a non-empty str: one live session
                per (account, strategy).

        Raises:
            TypeError: a ``path`` that is no path.
            ValueError: an ``account`` or ``strategy`` that is no non-empty str.

        A call then raises ``LeaseError`` when the file cannot be opened, read or written
        (a missing directory, a full disk) or is corrupt, naming the file.
        """
        self._path = Path(path)
        self._name = os.fspath(self._path)  # read before every send: no conversion then
        self._lock_path = self._path.with_name(self._path.name + ".lock")
        super().__init__(account, strategy)

    def acquire(self, holder_id: str, now_ns: int, ttl_ns: int) -> LeaseGrant | None:
        """See ``SessionLease.acquire``."""
        expires = acquire_expiry(holder_id, now_ns, ttl_ns)
        with self._locked() as state:
            entry = self._entry(state)
            holder = entry.get("holder")
            if holder is not None and holder != holder_id and now_ns < entry["expires_ns"]:
                return None
            token = entry.get("token", 0) + 1
            self._write(state, {"holder": holder_id, "token": token, "expires_ns": expires})
        return self._grant(holder_id, token, ttl_ns, expires)

    def renew(self, grant: LeaseGrant, now_ns: int) -> bool:
        """See ``SessionLease.renew``; ``Fenced`` when the file was deleted or replaced under it.

        A renewal is refused (False) once a newer holder took the lease, or the grant was
        released. One refused because the file no longer holds this grant and neither
        explains it (the file or its entry gone, an older token, this one for another
        holder: the file removed, or put back from an older copy) raises ``Fenced``, saying
        so, as ``PostgresLease`` does when its table was reset: no session need have taken
        it over. The file is left as it is.
        """
        expires = self._renewal_expiry(grant, now_ns)
        with self._locked() as state:
            entry = self._entry(state)
            if not self._held_by(entry, grant):
                return self._refused_renewal(grant, (entry.get("token"), entry.get("holder")))
            if expires > entry["expires_ns"]:
                self._write(state, {**entry, "expires_ns": expires})
        return True

    def confirms(self, grant: LeaseGrant, now_ns: int) -> bool:
        """See ``PairLease.confirms``: one read of the file, without its lock, and no write.

        Every write replaces the file whole (an atomic rename), so a read without the lock
        sees one state or the next, never half of one. True while the file's entry is the
        grant's (its holder and token) and live at ``now_ns``; False when the file is gone,
        unreadable or corrupt, or its entry is anything else (another holder, another token,
        none, expired): the caller's renewal, under the lock, then says which.
        """
        try:
            fd = os.open(self._name, os.O_RDONLY | os.O_CLOEXEC)
            try:
                chunks = [os.read(fd, _CHUNK)]
                while len(chunks[-1]) == _CHUNK:  # a shorter read of a file is its end
                    chunks.append(os.read(fd, _CHUNK))
            finally:
                os.close(fd)
            entry = orjson.loads(b"".join(chunks))["leases"][self._account][self._strategy]
        except (OSError, orjson.JSONDecodeError, LookupError, TypeError):
            return False
        return (
            isinstance(entry, dict)
            and _valid_entry(entry)
            and self._held_by(entry, grant)
            and now_ns < entry["expires_ns"]
        )

    def release(self, grant: LeaseGrant) -> None:
        """See ``SessionLease.release``."""
        self._check_grant(grant)
        with self._locked() as state:
            entry = self._entry(state)
            if self._held_by(entry, grant):
                self._write(state, {"holder": None, "token": entry["token"], "expires_ns": 0})

    def holding(self, now_ns: int) -> tuple[str, int] | None:
        """See ``PairLease.holding``."""
        check_ns("now_ns", now_ns)
        with self._locked() as state:
            entry = self._entry(state)
        holder = entry.get("holder")
        if holder is None or now_ns >= entry["expires_ns"]:
            return None
        return str(holder), int(entry["expires_ns"])

    def close(self) -> None:
        """Nothing stays open between calls; safe to call more than once."""

    def _where(self) -> str:
        return str(self._path)

    def _store(self) -> LeaseStore:
        return LeaseStore(
            name=f"the lease file {self._path}",
            record="entry",
            reset="the file was deleted or replaced under it (removed, or put back from an "
            "older copy)",
        )

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, Any]]:
        try:
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, NEW_FILE_MODE)  # umask
        except OSError as exc:
            raise LeaseError(_refused("open the lease lock", self._lock_path, exc)) from None
        try:
            # Held for one read and one small write: blocking is bounded in practice.
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield self._read()
        finally:
            os.close(fd)  # closing the descriptor drops the flock

    def _read(self) -> dict[str, Any]:
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return {"leases": {}}
        except OSError as exc:
            raise LeaseError(_refused("read the lease file", self._path, exc)) from None
        try:
            state = orjson.loads(raw)
        except orjson.JSONDecodeError:
            state = None
        if not (isinstance(state, dict) and isinstance(state.get("leases"), dict)):
            raise LeaseError(
                f"the lease file {self._path} is corrupt: remove it once no session runs"
            )
        return state

    def _entry(self, state: dict[str, Any]) -> dict[str, Any]:
        pairs = state["leases"].get(self._account, {})
        entry = pairs.get(self._strategy, {}) if isinstance(pairs, dict) else None
        if isinstance(entry, dict) and (not entry or _valid_entry(entry)):
            return dict(entry)
        raise LeaseError(
            f"the lease file {self._path} has a corrupt entry for {self._account!r}, "
            f"{self._strategy!r}: remove it once no session runs"
        )

    def _write(self, state: dict[str, Any], entry: dict[str, Any]) -> None:
        state["leases"].setdefault(self._account, {})[self._strategy] = entry
        try:
            atomic_write_bytes(
                self._path, orjson.dumps(state, option=orjson.OPT_SORT_KEYS | orjson.OPT_INDENT_2)
            )
        except OSError as exc:
            raise LeaseError(_refused("write the lease file", self._path, exc)) from None

    @staticmethod
    def _held_by(entry: dict[str, Any], grant: LeaseGrant) -> bool:
        return entry.get("holder") == grant.holder_id and entry.get("token") == grant.token


def _refused(what: str, path: Path, exc: OSError) -> str:
    """``cannot open the lease lock PATH: ...``: with the way out when this user may not.

    The desk's operators share ``OUT/.leases/``: a lease file one of them made under a umask
    that keeps the group out (``022``) refused the next one's session, saying only
    ``[Errno 13] Permission denied: 'PATH'``, and not whose the files are nor what to do.
    """
    if exc.errno not in (errno.EACCES, errno.EPERM):
        return f"cannot {what} {path}: {exc}"
    try:
        owner = user_name(path.parent.stat().st_uid)  # a container's uid: ``uid 100123``
    except OSError:  # unreadable
        owner = "another user"
    return (
        f"cannot {what} {path} ({exc.strerror}): this user may not write the lease files in "
        f"{path.parent} (owned by {owner}): sessions that share them must all be able to "
        "write them (give the group write permission to the directory and its files, and "
        "start sessions under umask 002), or run this one as that user"
    )


def _valid_entry(entry: dict[str, Any]) -> bool:
    token, expires_ns, holder = entry.get("token"), entry.get("expires_ns"), entry.get("holder")
    return (
        isinstance(token, int)
        and not isinstance(token, bool)
        and isinstance(expires_ns, int)
        and not isinstance(expires_ns, bool)
        and (holder is None or (isinstance(holder, str) and bool(holder)))
    )
