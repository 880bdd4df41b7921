"""An interrupt inside the owner's wait for its turn at the session lock leaves nothing held.

The owner comes to step while another thread reads the session, so it waits its turn
(``SessionGate._acquire_in_turn``). A signal handler that raises there (``KeyboardInterrupt``)
is driven by hand with the gate's own test hook (``on_turns``, called as each thread takes
the turns' lock): it raises at the owner's first, second or third taking of that lock,
before its wait, as it wakes from it, or once it holds the session lock. Events order the
threads. It runs in a child process with a timeout, so a deadlock fails the test instead of
hanging it (or the teardown that closes the session).
"""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest

import _gate_watch

if TYPE_CHECKING:
    from pathlib import Path

_SCRIPT = inspect.getsource(_gate_watch) + textwrap.dedent(
    """
    import sys, threading
    from pathlib import Path
    from livesession import DryrunConfig, create_run, verify_run
    from livesession._session.threads import SessionGate
    from livesession._support.built import built

    out, queued, at = Path(sys.argv[1]), sys.argv[2] == "queued", int(sys.argv[3])
    box = {}
    ready, holding, release = threading.Event(), threading.Event(), threading.Event()

    def owner():
        with built(SessionGate) as gates:
            session = create_run(DryrunConfig(run_id="turn", steps=20), out, alerts=False)
        (gate,) = gates
        watch = GateWatch(gate)  # GateWatch: tests/_gate_watch.py, ahead of this script
        session.preflight()
        session.activate()
        box["session"], box["gate"] = session, gate
        ready.set()
        holding.wait()
        if queued:  # the second reader waits for the first
            watch.until("the second reader to wait", lambda: gate.waiting == 1)
        takings = [0]

        def handler():  # a signal handler, run as the owner takes the turns' lock
            if threading.current_thread() is not stepping:
                return
            takings[0] += 1
            if takings[0] == 1:
                release.set()  # the reader lets go once the owner is on its way
            if takings[0] == at:
                raise KeyboardInterrupt

        gate.on_turns = handler
        try:
            session.run_n_steps(5)
        except BaseException as exc:
            box["raised"] = type(exc).__name__
        gate.on_turns = None
        box["left"] = (gate.owner_waiting, session.steps_done)

    def reader():
        ready.wait()
        with box["gate"].hold(read_only=True):
            holding.set()
            release.wait()

    def second_reader():
        holding.wait()
        with box["gate"].hold(read_only=True):
            pass

    stepping = threading.Thread(target=owner)
    threads = [stepping, threading.Thread(target=reader)]
    threads += [threading.Thread(target=second_reader)] if queued else []
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    session = box["session"]
    print(box["raised"], *box["left"], session.state.value)

    def operator():  # another thread stops and closes the session
        print(session.request_stop("ops").outcome.value)
        session.close()

    operating = threading.Thread(target=operator)
    operating.start()
    operating.join()
    print(session.state.value, session.status.value, verify_run(out / "turn").ok)
    """
)


@pytest.mark.parametrize(
    ("queued", "at"), [("alone", 1), ("alone", 2), ("queued", 1), ("queued", 2), ("queued", 3)]
)
def test_an_interrupt_as_the_owner_waits_its_turn_leaves_the_lock_free(
    tmp_path: Path, queued: str, at: int
) -> None:
    """Bug: a handler raising as the owner took the turns' lock once it held the session
    lock (``at`` 2 with no other reader queued, 3 with one) left that lock held by the
    owner, its turn taken and its thread marked as on its way: another thread's stop and
    ``close()`` waited for good (and a verb from a later thread given the same ident was
    ``DEFERRED`` forever). Raised as the owner woke from its wait (``at`` 2, queued), the
    interrupt came out as ``RuntimeError: release unlocked lock``. Now it goes on as
    raised, the lock is free, the turn given back, and the session whole (no step was
    cut): another thread stops and closes it, and the run verifies."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path), queued, str(at)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.splitlines() == [
        "KeyboardInterrupt False 0 DRYRUN_ACTIVE",  # no turn kept, no step cut
        "APPLIED",
        "STOPPED COMPLETED True",
    ]
