"""The determinism re-run of a run's config, in a process of its own.

``write_evidence`` starts the re-run first, as ``python -m livesession.evidence``,
and verifies the run, reads its events and scans it while the re-run steps on the other
core; then it joins the re-run and reads its verdict. The child gets the parent's
``sys.path`` and working directory, so plug-ins resolve there as they did in the parent, and
another ``PYTHONHASHSEED`` than one the environment fixes (``another_hash_seed``).

The verdict is the same dictionary the in-process re-run gave (``match`` / ``MISMATCH`` with
what was compared). A re-run that cannot give one, because its process died, was killed at
the time limit or raised, is ``ERROR`` with the reason: evidence never hangs on it and never
passes without it. The limit scales with the run's steps (``timeout_for``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Final

import attrs
import orjson

from .._artifacts import names
from .._artifacts.runread import iter_records, payload
from .._market.venue import JournalFeed
from .._rundir import create_run, read_run_config
from .._rundir.memoryids import scratch_reruns
from .._support.childpath import adopt_parent_path, another_hash_seed, child_env
from .._support.fsutil import atomic_write_bytes, file_digest
from .._support.logging import plugin_records_redacted
from .._support.oserrors import said as oserror_said
from .._support.secrets import redact_text
from .._support.signals import held_stops
from .._support.tmpfiles import make_scratch, remove_dead_scratch, remove_scratch
from ._difference import ASIDE as _ASIDE
from ._difference import audit_difference, audit_records, first_difference
from ._norerun import leased as run_leased
from ._norerun import missing_files, not_applicable, objects_given, unsealed
from ._operator import (
    OperatorAction,
    progress_to,
    recorded_actions,
    replay,
    told_actions,
    unplaceable,
)
from ._orphan import ParentWatch
from ._steps import replay_steps

__all__ = [
    "Rerun",
    "determinism",
    "first_difference",
    "main",
    "missing_files",
    "not_applicable",
    "objects_given",
    "sha256_file",
    "timeout_for",
]

MODULE: Final = "livesession.evidence"
"""What the parent runs with ``python -m`` (a name, so a test can point it elsewhere)."""
TIMEOUT_BASE_S: Final = 120.0
TIMEOUT_PER_STEP_S: Final = 0.005
"""200 steps/s at the least: over ten times slower than a loaded 2-core machine re-runs."""
_LEASE_ASIDE: Final = (*_ASIDE, "C2_LEASE_ACQUIRED")
"""With a lease, also its grants: they name the holding process and the store's token."""
_RESULT: Final = "result.json"
_STDERR: Final = "stderr.txt"
_PROGRESS: Final = "progress.txt"
_SCRATCH: Final = "livesession-replay-"
_REASON_CHARS: Final = 1000
"""The child's last line, cut: at 300 a re-run with four files refused lost its way out."""
_STDERR_ROOM: Final = (1 << 16, 1 << 12)
"""Bytes of the disk the child's stderr holds before it starts (``_reserve``)."""

VENUE_REPLAY_NOTE: Final = (
    "The venue's journaled bars were replayed through the same strategy against the mock "
    "venue, and the SIGNAL events compared; venue acks and fills are not replayable, so "
    "orders, fills and the audit are not compared."
)


def timeout_for(steps: int) -> float:
    """The re-run's time limit, in seconds, for a run of ``steps`` steps."""
    return TIMEOUT_BASE_S + TIMEOUT_PER_STEP_S * max(steps, 0)


def sha256_file(path: Path) -> str:
    """The SHA-256 (hex) of the file at ``path``."""
    return file_digest(path)[0]


def determinism(
    run_dir: Path, *, rerunnable: bool, scratch: Path, progress: Path | None = None
) -> dict[str, Any]:
    """Re-run ``run_dir``'s config into ``scratch`` (in this process) and compare.

    ``progress`` is written with the steps done as the re-run goes (``progress_to``).
    """
    verdict = not_applicable(run_dir, rerunnable=rerunnable)
    if verdict is not None:
        return verdict
    cfg, meta = read_run_config(run_dir)
    if cfg.feed == "venue":
        return _venue_replay(run_dir, cfg, scratch)
    actions = recorded_actions(run_dir / names.EVENTS)
    if why := unplaceable(actions):  # not re-run: it took none of them (the reason names it)
        return {"status": "not_applicable", "reason": why}
    steps = replay_steps(run_dir, cfg.steps)
    # A run that held the (account, strategy) lease has the re-run hold one too (a lease
    # file of its own), since the lease's preflight check is one of its events.
    leased = run_leased(meta)
    # The re-run's files are compared and thrown away: no fsync (durability changes when
    # bytes reach the disk, never which bytes; checkpoint_every, which can, is kept).
    rerun_cfg = attrs.evolve(cfg, durability="none")
    with scratch_reruns():  # thrown away, never resumed: memory ids with any broker
        session = create_run(
            rerun_cfg, scratch, idempotency_backend="memory", alerts=False, lease=leased
        )
    replay(session, steps, actions, progress_to(progress))
    replay_dir = scratch / cfg.run_id
    compared: dict[str, bool] = {}
    for name in (names.EVENTS, names.SNAPSHOTS):
        compared[name] = sha256_file(run_dir / name) == sha256_file(replay_dir / name)
    aside = _LEASE_ASIDE if leased else _ASIDE
    compared[f"audit.jsonl (records, {' and '.join(aside)} aside)"] = audit_records(
        run_dir / names.AUDIT, aside
    ) == audit_records(replay_dir / names.AUDIT, aside)
    ok = all(compared.values())
    outcome: dict[str, Any] = {"status": "match" if ok else "MISMATCH", "compared": compared}
    for name in (names.EVENTS, names.SNAPSHOTS):
        if not compared[name]:
            outcome["first_difference"] = first_difference(run_dir / name, replay_dir / name)
            break
    else:
        if not ok:  # only the audit records differ
            outcome["first_difference"] = audit_difference(
                run_dir / names.AUDIT, replay_dir / names.AUDIT, aside
            )
    return _with_actions(outcome, actions, cfg.steps)


def _with_actions(
    verdict: dict[str, Any], actions: tuple[OperatorAction, ...], steps: int
) -> dict[str, Any]:
    """``verdict`` with the operator's actions the re-run took (a run's own end aside)."""
    told = told_actions(actions, steps)
    return {**verdict, "operator_actions": told} if told else verdict


def _signals(path: Path) -> list[tuple[Any, Any]]:
    return [
        (event.get("ts_sim"), payload(event))
        for event in iter_records(path)
        if event.get("event_type") == "SIGNAL"
    ]


def _venue_replay(run_dir: Path, cfg: Any, scratch: Path) -> dict[str, Any]:
    """A venue-fed run: its journaled bars through the same strategy on the mock venue."""
    actions = recorded_actions(run_dir / names.EVENTS)
    if why := unplaceable(actions):  # not re-run: it took none of them (the reason names it)
        return {"status": "not_applicable", "reason": why}
    journal = JournalFeed(
        run_dir / names.MARKET_JOURNAL, symbol=cfg.symbol, interval_ms=cfg.step_interval_ms
    )
    replay_cfg = attrs.evolve(cfg, broker="mock", feed="random_walk", durability="none")
    with scratch_reruns():
        session = create_run(
            replay_cfg, scratch, idempotency_backend="memory", feed=journal, alerts=False
        )
    replay(session, replay_steps(run_dir, cfg.steps), actions)
    same = _signals(run_dir / names.EVENTS) == _signals(scratch / cfg.run_id / names.EVENTS)
    compared = {"SIGNAL events (venue bars replayed on the mock venue)": same}
    verdict = {
        "status": "match" if same else "MISMATCH",
        "compared": compared,
        "note": VENUE_REPLAY_NOTE,
    }
    return _with_actions(verdict, actions, cfg.steps)


@attrs.define
class Rerun:
    """The re-run's process, started by ``start`` and joined by ``verdict``; ``close`` always.

    A run that cannot be re-run gets no process: its verdict (``not_applicable``) is ready.
    """

    process: subprocess.Popen[bytes] | None
    scratch: Path | None
    deadline: float
    timeout_s: float
    failed: str | None = None
    ready: dict[str, Any] | None = None
    parent_end: int | None = None
    """The write end of the pipe the child watches (``_orphan``): closed, the child ends."""
    scratch_held: int | None = None
    """What holds ``scratch`` as this process's (``tmpfiles.make_scratch``) till ``close``."""

    @property
    def running(self) -> bool:
        """Whether a re-run process was started (and has not been joined yet)."""
        return self.process is not None and self.process.returncode is None

    @classmethod
    def start(
        cls,
        run_dir: Path,
        *,
        rerunnable: bool,
        timeout_s: float,
        sealed: bool = True,
        stopped_by: str = "",
    ) -> Rerun:
        """Start the re-run of ``run_dir`` now; a process that cannot start is a verdict.

        A run that is not ``sealed`` (it crashed, or its process stopped on the refused write
        ``stopped_by`` names) has no whole run to compare a re-run with: its verdict is
        ``not_applicable`` at once (``unsealed``); one that lacks a file the re-run reads is
        an ``ERROR`` naming the file (``missing_files``), also at once.
        """
        deadline = time.monotonic() + timeout_s
        ready = (
            unsealed(stopped_by) if not sealed else not_applicable(run_dir, rerunnable=rerunnable)
        )
        if ready is None:
            ready = missing_files(run_dir)
        if ready is not None:
            return cls(None, None, deadline, timeout_s, ready=ready)
        # The parent's sys.path (the same livesession and plug-ins), not a fixed hash seed.
        seed = another_hash_seed()
        env = child_env() if seed is None else child_env(PYTHONHASHSEED=str(seed))
        rerun = cls(None, None, deadline, timeout_s)
        remove_dead_scratch(_SCRATCH)  # what one killed with its process group left
        try:
            with held_stops():  # a signal right after mkdtemp left the directory to no one
                rerun.scratch, rerun.scratch_held = make_scratch(_SCRATCH)
                scratch = rerun.scratch
        except BaseException:  # the signal, raised as the block ends: the directory goes
            rerun.close()
            raise
        command = [sys.executable, "-m", MODULE, str(run_dir.resolve()), str(scratch)]
        if rerunnable:
            command.append("--rerunnable")
        try:
            # Held: a signal inside Popen, once the child exists, left it unkilled and running.
            with held_stops(), (scratch / _STDERR).open("wb") as stderr:
                _reserve(stderr.fileno())
                watched, rerun.parent_end = os.pipe()
                try:
                    rerun.process = subprocess.Popen(  # noqa: S603 - our own module, by this interpreter
                        [*command, "--parent-fd", str(watched)], stdin=subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=stderr, env=env, pass_fds=(watched,),
                    )  # fmt: skip
                finally:
                    os.close(watched)
        except OSError as exc:
            rerun.failed = f"could not start: {exc}"
        except BaseException:
            # A stop signal (SIGTERM, Ctrl-C) between the scratch directory and the return:
            # the caller never holds this re-run to close it, so close it here.
            rerun.close()
            raise
        return rerun

    def verdict(self) -> dict[str, Any]:
        """Wait (until the deadline) for the re-run's verdict; ``ERROR`` with why if none."""
        if self.ready is not None:
            return self.ready
        if self.failed is None and self.process is not None:
            self.failed = self._joined(self.process)
        if self.failed is not None:
            reason = redact_text(f"the re-run process {self.failed}")
            return {"status": "ERROR", "reason": reason}
        self.ready = orjson.loads(self._scratch(_RESULT).read_bytes())
        return self.ready

    def _joined(self, process: subprocess.Popen[bytes]) -> str | None:
        """Wait for ``process``; why it failed, or None.

        The time limit is for a re-run that stopped getting on: one that wrote to its run
        since the last limit (a strategy slow per bar, a model's 100 ms) is given another,
        as the run itself took its time. It was stopped at the first: a slow strategy's
        evidence could never verify (``the re-run ... did not finish within 130 s``).
        """
        # As the re-run started: nothing written (its stderr aside), the first limit set.
        started, written = self.deadline - self.timeout_s, frozenset[tuple[str, int, int]]()
        extended = False
        while True:
            try:
                process.wait(timeout=max(self.deadline - time.monotonic(), 0.0))
            except subprocess.TimeoutExpired:
                now = self._written()
                if now != written:  # still writing its run: slow, not stuck
                    written, self.deadline = now, time.monotonic() + self.timeout_s
                    extended = True
                    continue
                self._kill()
                if not extended:
                    return f"did not finish within {self.timeout_s:g} s and was stopped"
                return (
                    f"wrote nothing to its run for {self.timeout_s:g} s (after "
                    f"{time.monotonic() - started:.0f} s in all) and was stopped"
                )
            return self._outcome(process.returncode)

    def _written(self) -> frozenset[tuple[str, int, int]]:
        """Each file of the re-run's (``progress.txt``, its run): name, size, time of change.

        Its stderr is no progress: a strategy stuck printing in a loop is stuck.
        """
        seen = []
        for path in self._scratch(".").rglob("*"):
            if path.name == _STDERR and path.parent == self.scratch:
                continue
            with contextlib.suppress(OSError):  # a file replaced meanwhile
                stat = path.stat()
                seen.append((str(path), stat.st_size, stat.st_mtime_ns))
        return frozenset(seen)

    def _scratch(self, name: str) -> Path:
        if self.scratch is None:
            raise RuntimeError("no re-run was started")  # pragma: no cover - a bug here
        return self.scratch / name

    def _outcome(self, code: int) -> str | None:
        if code == 0 and self._scratch(_RESULT).is_file():
            return None
        said = _last_line(self._scratch(_STDERR))
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        return how + (f": {said}" if said else "")

    def _kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def close(self) -> None:
        """Stop the process if it still runs and remove its scratch directory.

        A second Ctrl-C (or SIGTERM) meanwhile waits for the end: it left the directory
        behind, half removed, in the system's temporary directory.
        """
        with held_stops():
            self._kill()
            if self.scratch is not None:
                remove_scratch(self.scratch, self.scratch_held)
                self.scratch_held = None
            if self.parent_end is not None:
                os.close(self.parent_end)
                self.parent_end = None


def _reserve(fd: int) -> None:
    """Room on the disk for the child's stderr, taken before it starts: its last words.

    A ``TMPDIR`` that filled under the re-run refused the line saying so too, which went to
    a file there: the reason was a bare ``OSError: [Errno 28] No space left on device``, not
    that the re-run's files were refused and to give it room. The child writes from the
    start of the file, over the NUL bytes taken here (``_last_line`` leaves them out). No
    room for 64 KiB: 4 KiB, a few lines; not even that (or no ``posix_fallocate``): none.
    """
    for room in _STDERR_ROOM:
        with contextlib.suppress(OSError, AttributeError):
            os.posix_fallocate(fd, 0, room)
            return


def _last_line(path: Path) -> str:
    try:
        lines = path.read_bytes().rstrip(b"\0").decode("utf-8", "replace").strip().splitlines()
    except OSError:
        return ""
    return lines[-1].strip()[:_REASON_CHARS] if lines else ""


def main(argv: list[str] | None = None) -> int:
    """The child: re-run, then write the verdict to ``SCRATCH/result.json``."""
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("scratch", type=Path)
    parser.add_argument("--rerunnable", action="store_true")
    parser.add_argument("--parent-fd", type=int)
    args = parser.parse_args(argv)
    replay = args.scratch / "replay"
    try:  # made here, or nothing: the clean-up below removes only a replay it made
        replay.mkdir()
    except OSError as exc:  # SCRATCH missing, a file, a dangling link, not writable
        return _refused(parser, f"cannot make the re-run's directory {replay}", exc)
    adopt_parent_path()  # before a plug-in is imported
    watch = None if args.parent_fd is None else ParentWatch(args.parent_fd)
    try:
        if watch is not None:
            watch.start()  # in the try: a parent gone already interrupts at once
        with plugin_records_redacted():  # its stderr is the parent's to quote
            return _rerun_into(args, replay)
    except KeyboardInterrupt:
        if watch is None or not watch.gone.is_set():
            raise
        return 1
    finally:
        with held_stops():  # an interrupt on its way waits for the clean-up
            if watch is not None:
                watch.finishing = True
            # The parent reads the verdict and the stderr alone: the run's copy goes now.
            shutil.rmtree(replay, ignore_errors=True)
            if watch is not None and watch.gone.is_set():  # no parent left to remove it
                shutil.rmtree(args.scratch, ignore_errors=True)


def _refused(parser: argparse.ArgumentParser, what: str, exc: OSError) -> int:
    """One line on stderr for a SCRATCH the re-run cannot use (exit 2), no traceback."""
    print(f"{parser.prog}: error: {what} ({oserror_said(exc)})", file=sys.stderr)  # noqa: T201
    return 2


def _rerun_into(args: argparse.Namespace, replay: Path) -> int:
    try:
        verdict = determinism(
            args.run_dir,
            rerunnable=args.rerunnable,
            scratch=replay,
            progress=args.scratch / _PROGRESS,
        )
    except Exception as exc:  # noqa: BLE001 - any failure is the verdict's reason, one line
        message = " ".join(str(exc).split())
        print(f"{type(exc).__name__}: {message}", file=sys.stderr)  # noqa: T201 - to the parent
        return 1
    # Insertion order kept: the document lists what was compared in this order.
    try:
        atomic_write_bytes(args.scratch / _RESULT, orjson.dumps(verdict))
    except OSError as exc:  # whole or not at all: the parent reads the verdict as missing
        print(f"cannot write {args.scratch / _RESULT} ({oserror_said(exc)})", file=sys.stderr)  # noqa: T201
        return 1
    return 0
