"""asyncio: a block's run when its loop goes away, and when a shutdown cancels its exit."""

from __future__ import annotations

import asyncio
import gc
import sys
import threading
from typing import TYPE_CHECKING

import pytest

from livesession import DryrunConfig, open_session, resume_run
from livesession.verify import verify_run

if TYPE_CHECKING:
    from pathlib import Path


class _HeldAtBar10:
    """A strategy holding the session's thread in bar 10 until the test lets it go."""

    strategy_id = "sma_demo"

    def __init__(self) -> None:
        self.bars = 0
        self.entered = threading.Event()
        self.release = threading.Event()

    def on_bar(self, bar: object, view: object) -> list[object]:
        self.bars += 1
        if self.bars == 10:
            self.entered.set()
            assert self.release.wait(30), "the test never let the session go on"
        return []

    def get_state(self) -> dict[str, int]:
        return {"bars": self.bars}

    def set_state(self, state: dict[str, int]) -> None:
        self.bars = state["bars"]


def _session_threads_end() -> list[str]:
    """The session threads still alive once the garbage collector took what it could."""
    for _ in range(300):
        gc.collect()
        alive = [t for t in threading.enumerate() if t.name.startswith("livesession-")]
        if not alive:
            return []
        alive[0].join(0.1)
    return [t.name for t in alive]


def test_a_loop_closed_under_run_steps_steps_no_more_and_leaves_a_crash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Bug: a loop closed under a ``run_steps`` (``loop.close()`` without ``asyncio.run``'s
    shutdown, or a third Ctrl-C while ``asyncio.run`` cancels its tasks) left the session
    stepping, trading, to the end of ``run_steps(n)`` on its thread with nothing awaiting
    it: ``status`` said running, ``resume_run`` in the process was refused (``RunHeld``)
    and the process could not exit until then; its block's coroutine, closed at last,
    printed ``RuntimeError: no running event loop``. The session now takes no step after
    the one under way, its threads end, and the run is a crash at its last checkpoint
    that ``resume_run`` finishes, as the docs say."""
    unraisable: list[str] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: unraisable.append(repr(u.exc_value)))
    held = _HeldAtBar10()
    run_dir = tmp_path / "aio-loop-closed"

    async def service() -> None:
        config = DryrunConfig(run_id="aio-loop-closed")
        async with open_session(config, out_dir=tmp_path, strategy=held) as s:
            await s.run_steps(300)

    loop = asyncio.new_event_loop()
    task = loop.create_task(service())
    assert loop.run_until_complete(asyncio.to_thread(held.entered.wait, 30))
    loop.close()  # the task still awaits run_steps, in bar 10
    held.release.set()
    del task
    assert _session_threads_end() == []
    assert held.bars == 10, "the session stepped on after its loop was closed"
    assert not [e for e in unraisable if "RuntimeError" in e], unraisable
    assert "C2_DRYRUN_STOP" not in (run_dir / "audit.jsonl").read_text()  # a crash
    resumed = resume_run(run_dir, strategy=held)  # in this process, at once
    with resumed:
        resumed.run_to_end(20)
    assert verify_run(run_dir).ok


def test_a_cancellation_while_the_block_waits_for_a_verb_still_seals_the_run(
    tmp_path: Path,
) -> None:
    """Bug: leaving the block waits for a verb whose caller was cancelled (so the seal
    records it); a cancellation that came meanwhile (a shutdown, a timeout around the
    service) went on once the verb had taken effect, but skipped the sealing: the run was
    left unsealed (``verify``: no ``C2_DRYRUN_STOP``), the session's threads alive and its
    writer lock held. The run is now sealed, then the cancellation goes on."""
    held = _HeldAtBar10()
    run_dir = tmp_path / "aio-verb-leaving"
    leaving = asyncio.Event()

    async def service() -> object:
        config = DryrunConfig(run_id="aio-verb-leaving")
        async with open_session(config, out_dir=tmp_path, strategy=held) as s:
            stepping = asyncio.create_task(s.run_steps(300))
            assert await asyncio.to_thread(held.entered.wait, 30)
            killing = asyncio.create_task(s.kill("deadline"))
            await asyncio.sleep(0)  # the kill waits for the step under way
            killing.cancel()
            leaving.set()
        await stepping
        return s

    async def main() -> tuple[object, object]:
        task = asyncio.create_task(service())
        await leaving.wait()  # the block's exit now waits for the kill
        task.cancel()
        held.release.set()
        with pytest.raises(asyncio.CancelledError):
            await task
        return verify_run(run_dir), [t.name for t in threading.enumerate()]

    verified, threads = asyncio.run(main())
    assert verified.ok, verified.violations  # type: ignore[attr-defined]
    assert not verified.live  # type: ignore[attr-defined]  # its writer lock let go
    assert not [name for name in threads if name.startswith("livesession-")]
    audit = (run_dir / "audit.jsonl").read_text()
    assert "C2_KILL_SWITCH" in audit  # the kill took effect before the seal
    assert "C2_DRYRUN_STOP" in audit
