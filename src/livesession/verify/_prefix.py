"""The part of a run's events and snapshots before its checkpoint, held to the checkpoint.

A crashed run has no ``C2_DRYRUN_STOP`` whose digests cover its files, and a change that
keeps every line valid (a digit of a ``ts_utc``, of a snapshot's equity, a ``ts_sim``
still in order) breaks no other check: ``verify`` called such a run incomplete, to be
resumed, where ``resume`` refuses it. ``checkpoint.json`` holds the SHA-256 of each file
up to the offset it covers (``recorder.sha256``, ``recorder.offsets``): the reader takes
its running digest at that offset as it goes (``RunFiles.digest_of``, no second read), and
this holds the two together. Read from ``checkpoint.json`` as a plain document (verify
trusts nothing of the session's code); a checkpoint without them (an earlier build's, or
one that is not an object) checks nothing. Not for a live run, read up to a checkpoint
that a newer one may have replaced since, nor a sealed run, whose stop record's digests
cover every byte (and which a forged record re-sealed, as the tests make one, would fail
here for a reason that is not its own).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any, Final

from .._artifacts import names
from .._support.fsutil import NotAFile

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from ._checkpoint import KeptCheckpoint
    from ._reading import RunFiles
    from ._result import Violations

__all__ = ["DIFFERS", "Prefixes"]

DIFFERS: Final = "differs from what the session wrote before its checkpoint"
_KEYS: Final = {"events": names.EVENTS, "states": names.SNAPSHOTS}
_HEX: Final = re.compile(r"[0-9a-f]{64}")


class Prefixes:
    """The digests a run's checkpoint recorded, and which file differs from them."""

    def __init__(self, run_dir: Path | None, checkpoint: KeptCheckpoint) -> None:
        self.run_dir = run_dir
        """None: nothing to check (a run given as bytes, a live run)."""
        self.checkpoint = checkpoint
        """The verification's ``checkpoint.json`` (read here unless ``run_dir`` is None)."""
        self.recorded: dict[str, tuple[int, str]] = {}
        """``{file name: (offset, sha256)}`` the checkpoint records."""
        self.differs = ""
        """The first file that differs, as ``corruption`` says it ("" for none)."""
        self._digests: dict[str, _PrefixDigest] = {}
        self._audit_cut: tuple[int, int, str] | None = None
        """The checkpoint's audit ``(offset, audit_seq, audit_head)``, when it records them."""

    def read(self) -> Callable[[str], Any]:
        """Read the checkpoint's digests; what makes the running digest of a file read.

        Each file's is a ``_PrefixDigest`` that keeps its value at the checkpoint's offset.

        Raises:
            OSError: the host refused to read ``checkpoint.json`` (``raise_if_refused``).
        """
        if self.run_dir is not None:
            try:
                recorder = self.checkpoint.document().get("recorder")
                self.recorded = _recorded(recorder)
                self._audit_cut = _audit_cut(recorder)
            except NotAFile:  # a FIFO or a device in its place: said as such, never read
                self.recorded = {}
        return self._digest_of

    def _digest_of(self, name: str) -> _PrefixDigest:
        digest = self._digests[name] = _PrefixDigest(self.recorded.get(name, (0, ""))[0])
        return digest

    def holds(self, name: str) -> bool:
        """Whether ``name``'s bytes up to its checkpoint's offset are those it recorded.

        Then what is wrong with the file lies past the offset, in what a resume sets aside.
        """
        recorded, digest = self.recorded.get(name), self._digests.get(name)
        return recorded is not None and digest is not None and digest.prefix == recorded[1]

    def audit_past(self, line: int) -> bool:
        """Whether audit line ``line`` lies past the checkpoint, whose part still holds.

        It does when ``line`` is numbered past the checkpoint's ``audit_seq`` and the line
        before the checkpoint's audit offset hashes to its ``audit_head``: a resume then
        sets the line aside (``audit.jsonl.torn``) with the rest of the tail.
        """
        cut = self._audit_cut
        if cut is None or self.run_dir is None or line <= cut[1]:
            return False
        offset, _seq, head = cut
        try:
            with (self.run_dir / names.AUDIT).open("rb") as handle:
                kept = handle.read(offset)
        except OSError:
            return False
        last = kept[: len(kept) - 1].rsplit(b"\n", 1)[-1]
        return len(kept) == offset and kept.endswith(b"\n") and _sha(last) == head

    def check(self, checks: Violations, files: RunFiles, unsealed: bool) -> None:
        """Each file's bytes up to its checkpoint's offset against the digest it recorded.

        Only of an ``unsealed`` run (a crash's: one whose sinks died is said so instead); a
        sealed one's ``C2_DRYRUN_STOP`` covers the files.
        """
        for name, (offset, want) in self.recorded.items() if unsealed else ():
            digest = self._digests.get(name)
            found = None if digest is None else digest.prefix
            if found is None:
                if files.ends_with_newline.get(name) is None:
                    continue  # missing or unread: said already
                what = f"is shorter than the {offset} bytes its checkpoint covers"
            elif found == want:
                continue
            else:
                shown = want[:12] if _HEX.fullmatch(want) else "(not a SHA-256)"
                what = (
                    f"{DIFFERS}: its first {offset} bytes hash to SHA-256 {found[:12]}..., "
                    f"where {names.CHECKPOINT} recorded {shown}... (resume refuses the run)"
                )
            checks.add(name, 0, what)
            self.differs = self.differs or f"{name} {what.split(':')[0]}"


class _PrefixDigest:
    """A running SHA-256 that keeps its value at ``offset`` bytes (``prefix``) as it passes."""

    def __init__(self, offset: int) -> None:
        self._digest = hashlib.sha256()
        self._left = offset
        self.prefix: str | None = None
        """The SHA-256 of the first ``offset`` bytes, once they are read (None: not yet)."""

    def update(self, data: bytes) -> None:
        """Hash ``data``, the next bytes of the file."""
        left = self._left
        if 0 < left <= len(data):  # the checkpoint's offset is in these bytes
            self._digest.update(data[:left])
            self.prefix = self._digest.hexdigest()
            self._digest.update(data[left:])
        else:
            self._digest.update(data)
        self._left = left - len(data)

    def hexdigest(self) -> str:
        """The SHA-256 of every byte so far."""
        return self._digest.hexdigest()


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _audit_cut(recorder: object) -> tuple[int, int, str] | None:
    """The checkpoint's audit ``(offset, audit_seq, audit_head)``; None without them."""
    if not isinstance(recorder, dict) or not isinstance(recorder.get("offsets"), dict):
        return None
    offset, seq, head = (
        recorder["offsets"].get("audit"),
        recorder.get("audit_seq"),
        recorder.get("audit_head"),
    )
    if type(offset) is int and offset > 0 and type(seq) is int and isinstance(head, str):
        return offset, seq, head
    return None


def _recorded(recorder: object) -> dict[str, tuple[int, str]]:
    """``{file name: (offset, sha256)}`` the checkpoint's ``recorder`` records; ``{}``: none."""
    if not isinstance(recorder, dict):
        return {}
    offsets, digests = recorder.get("offsets"), recorder.get("sha256")
    if not isinstance(offsets, dict) or not isinstance(digests, dict):
        return {}
    found: dict[str, tuple[int, str]] = {}
    for key, name in _KEYS.items():
        offset, digest = offsets.get(key), digests.get(key)
        if type(offset) is int and offset > 0 and isinstance(digest, str):
            found[name] = (offset, digest)
    return found
