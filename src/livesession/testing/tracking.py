"""Verify what sessions wrote: each one through its sinks, and run directories on disk.

``verify_session`` closes a session (as its user would) and checks what its memory sinks
hold with the independent verifier (``livesession.verify``); sessions writing to files are
checked by verifying their run directories (``written_run_dir``, ``run_dirs``).
``SessionTracker`` records every session built while it is active, so a test (or the pytest
plugin) can verify them all at the end, wherever their run directories are.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from .._artifacts import names
from .._rundir.shellrefs import keep_sessions
from .._session.coordinator import LiveSessionOrchestrator
from ..verify import verify_contents, verify_run

if TYPE_CHECKING:
    from types import TracebackType

__all__ = ["SessionTracker", "mark_verified", "run_dirs", "verify_session", "written_run_dir"]

_VERIFIED: weakref.WeakSet[LiveSessionOrchestrator] = weakref.WeakSet()
_TRACKERS: weakref.WeakSet[SessionTracker] = weakref.WeakSet()
_CONTRACT_LINES = names.ARTIFACTS  # the sink of each JSON Lines artifact, and its file
_SHOWN = 10


def mark_verified(session: LiveSessionOrchestrator) -> None:
    """The caller verified ``session`` itself (or abandoned it as a crash would): skip it.

    An active ``SessionTracker`` lets go of it then, so a test that builds and verifies
    sessions in a loop keeps none of them alive.
    """
    _VERIFIED.add(session)
    for tracker in list(_TRACKERS):
        tracker._forget(session)  # noqa: SLF001 - the module's own tracker


def verify_session(session: LiveSessionOrchestrator) -> list[str]:
    """Close ``session`` if still open and verify what its sinks hold ([] when clean).

    Sessions whose sinks are files are left to the directory scan; sinks with neither
    ``lines`` nor a file behind them cannot be read back and are skipped.
    """
    if repr(session).endswith("(<unconfigured>)"):
        return []
    session.close()
    recorder = session.recorder
    sinks = recorder.sinks
    if not all(isinstance(getattr(sink, "lines", None), list) for sink in sinks.values()):
        return []
    # The sinks' bytes as the files would hold them, verified as they are: no files.
    contents: dict[str, bytes | None] = {
        file_name: _joined(getattr(sinks[name], "lines"))  # noqa: B009 - duck-typed sinks
        for name, file_name in _CONTRACT_LINES.items()
    }
    content = getattr(recorder.metrics_sink, "content", None)
    contents[names.METRICS] = content if isinstance(content, bytes) else None
    result = verify_contents(contents, run_dir=f"session {session.config.run_id}")
    return [f"session {session.config.run_id}: {v}" for v in result.violations[:_SHOWN]]


def run_dirs(root: Path) -> list[Path]:
    """The run directories below ``root`` (a directory with events.jsonl and audit.jsonl)."""
    return sorted(
        path.parent for path in root.rglob(names.EVENTS) if (path.parent / names.AUDIT).is_file()
    )


def written_run_dir(session: LiveSessionOrchestrator) -> Path | None:
    """The run directory ``session`` writes into (``create_run``, ``resume_run``), or None.

    That of its ``events.jsonl`` file, when it writes one beside an ``audit.jsonl``; a
    session on memory sinks, or on files of other names, has none.
    """
    if repr(session).endswith("(<unconfigured>)"):
        return None
    sinks = session.recorder.sinks
    events = getattr(sinks["events"], "path", None)
    audit = getattr(sinks["audit"], "path", None)
    if not isinstance(events, Path) or events.name != names.EVENTS:
        return None
    return events.parent if audit == events.parent / names.AUDIT else None


def _joined(lines: list[bytes]) -> bytes:
    """The lines as a file holds them: each ends with a newline."""
    if all(line.endswith(b"\n") for line in lines):
        return b"".join(lines)
    return b"".join(line if line.endswith(b"\n") else line + b"\n" for line in lines)


def _last_writers(built: list[LiveSessionOrchestrator]) -> list[LiveSessionOrchestrator]:
    """The sessions to verify: of several writing into the same sinks, only the last.

    A test that resumes (restores a later session from an earlier one's checkpoint into
    the same sinks) abandons the earlier one as a crash would; closing that one now would
    write after the resumed run's end.
    """
    last: dict[int, LiveSessionOrchestrator] = {}
    for session in built:
        sink = _events_sink(session)
        if sink is not None:
            last[id(sink)] = session
    return [s for s in built if s in last.values()]


def _events_sink(session: LiveSessionOrchestrator) -> object | None:
    """The events sink ``session`` writes (None for one never configured)."""
    if repr(session).endswith("(<unconfigured>)"):
        return None
    return session.recorder.sinks["events"]


class SessionTracker:
    """Records every ``LiveSessionOrchestrator`` built while active; ``problems`` checks them.

    Use it as a context manager (``with SessionTracker() as tracker: ...``) or call
    ``start`` and ``stop``. It patches the orchestrator's build step by hand, not through
    pytest's ``monkeypatch``, so a test's own monkeypatches are undone first.

    A session kept here that a test dropped unclosed would hold its run for ever: the
    test's own ``resume_run`` of it (a crash in the same process) was refused, ``RunHeld``
    "which is this very process". Before such a refusal the tracker keeps that run's
    sessions weakly: one the test still refers to is refused as before, one it dropped is
    collected, a crash at its last checkpoint, and its run directory is verified at the end.
    """

    def __init__(self) -> None:
        self.built: list[LiveSessionOrchestrator] = []
        self.written: dict[int, Path] = {}
        """The run directory each recorded session writes (by its ``id``), made absolute
        when it was built: a relative one names the working directory of that moment."""
        self._original: Any = None
        self._dropped: list[tuple[weakref.ref[LiveSessionOrchestrator], Path]] = []
        """Sessions kept weakly since a second writer asked for their run, with its path."""

    def start(self) -> None:
        """Start recording sessions."""
        original = LiveSessionOrchestrator._build  # noqa: SLF001 - the one place sessions are built
        built, written = self.built, self.written

        def tracking(self: LiveSessionOrchestrator, *args: Any, **kwargs: Any) -> None:
            original(self, *args, **kwargs)
            built.append(self)
            run_dir = written_run_dir(self)
            if run_dir is not None:
                written[id(self)] = run_dir.absolute()

        self._original = original
        LiveSessionOrchestrator._build = tracking  # type: ignore[method-assign]  # noqa: SLF001
        _TRACKERS.add(self)
        keep_sessions(self._let_go)

    def _let_go(self, run_dir: Path) -> None:
        """Keep weakly the sessions writing ``run_dir`` (a real path): a writer asks for it."""
        for session in list(self.built):  # another thread may be building one meanwhile
            path = self.written.get(id(session))
            if path is not None and Path(os.path.realpath(path)) == run_dir:
                self._dropped.append((weakref.ref(session), self.written.pop(id(session))))
                self.built.remove(session)

    def _forget(self, session: LiveSessionOrchestrator) -> None:
        """Let go of ``session``, verified by its caller.

        And of the sessions built before it on its sinks: only their last writer is
        verified (``_last_writers``), and that is ``session`` or one built after it.
        """
        at = next((i for i, s in enumerate(self.built) if s is session), None)
        if at is None:
            return
        sink = _events_sink(session)
        gone = [session]
        if sink is not None:
            gone += [s for s in self.built[:at] if _events_sink(s) is sink]
        for s in gone:
            self.written.pop(id(s), None)
        self._dropped = [(ref, path) for ref, path in self._dropped if ref() is not session]
        left = {id(s) for s in gone}
        self.built[:] = [s for s in self.built if id(s) not in left]

    def stop(self) -> None:
        """Stop recording (the sessions recorded so far stay)."""
        if self._original is not None:
            LiveSessionOrchestrator._build = self._original  # type: ignore[method-assign]  # noqa: SLF001
            self._original = None
        _TRACKERS.discard(self)
        keep_sessions(self._let_go, keeping=False)

    def __repr__(self) -> str:
        recording = self._original is not None
        return f"SessionTracker(recording={recording}, sessions={len(self.built)})"

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def problems(self, *roots: Path) -> list[str]:
        """Verify each recorded session not yet verified, and every run directory in ``roots``.

        A recorded session that wrote a run directory (``written_run_dir``) has it verified
        wherever it is, not only under ``roots``: a test's ``create_run(cfg, "out/runs")``
        too (unless the test removed it).
        """
        found: list[str] = []
        written: list[Path] = []
        for session in _last_writers(self.built):
            if session not in _VERIFIED:
                found.extend(verify_session(session))
                run_dir = self.written.get(id(session))
                if run_dir is not None and run_dir.is_dir():  # not one the test removed
                    written.append(run_dir)
        for ref, run_dir in self._dropped:  # collected (a crash), unless the test holds it
            alive = ref()
            if alive is not None and alive not in _VERIFIED:
                found.extend(verify_session(alive))
            if run_dir.is_dir():
                written.append(run_dir)
        # Named as the test knows them: by name under its roots, else by their whole path.
        named = {path.resolve(): path.name for root in roots for path in run_dirs(root)}
        for path in written:
            named.setdefault(path.resolve(), str(path))
        for run_dir, name in named.items():
            # As a finished run, whole, even if some process still held it: at teardown
            # every run must be over (``live=None`` skips the live-run cut).
            result = verify_run(run_dir, live=None)
            found.extend(f"{name}: {v}" for v in result.violations[:_SHOWN])
        return found
