"""A signal handler's verb while the main thread waits its turn for the session lock."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

# The main thread takes a SIGTERM whose handler stops the session (docs/embedding.md: safe
# from a handler) just as it takes the gate's turns lock on its way to the session lock:
# raise_signal runs the handler there, at once. The owner is the main thread, waiting its
# turn behind a reader (a status endpoint's thread), or another thread while the main
# thread reads the session.
_SCRIPT = textwrap.dedent(
    """
    import signal, sys, threading
    from livesession import DryrunConfig, LiveSessionOrchestrator, MemoryLineSink

    def build():
        built.append(LiveSessionOrchestrator(
            DryrunConfig(run_id="in-turns", steps=50), audit_sink=MemoryLineSink()
        ))
        built[0].preflight()
        built[0].activate()

    built, answers = [], []
    held, release = threading.Event(), threading.Event()
    owner = threading.Thread(target=build) if sys.argv[1] == "reader" else threading.current_thread()
    if owner is threading.current_thread():
        build()
    else:
        owner.start()
        owner.join()
    session = built[0]
    gate = session._gate
    signal.signal(signal.SIGTERM, lambda *_: answers.append(session.request_stop("SIGTERM")))

    class Turns(type(gate._turns)):
        def __enter__(self):
            taken = super().__enter__()
            if threading.current_thread() is threading.main_thread() and not answers:
                signal.raise_signal(signal.SIGTERM)  # the handler runs here, at once
                release.set()
            return taken

    gate._turns = Turns(gate._turns._lock)

    def reader():  # a status endpoint's worker, reading as the owner comes to step
        with gate.hold(read_only=True):
            held.set()
            release.wait()

    if sys.argv[1] == "owner":
        threading.Thread(target=reader).start()
        held.wait()
        done = session.run_n_steps(50)
    else:
        session.book  # a read, as a monitoring loop makes
        done = session.steps_done
    print(answers[0].outcome.value, session.state.value, done)
    """
)


@pytest.mark.parametrize(("main", "steps"), [("owner", "1"), ("reader", "0")])
def test_a_handlers_stop_as_the_main_thread_waits_its_turn_is_deferred(
    main: str, steps: str
) -> None:
    """Bug: a SIGTERM handler calling ``request_stop`` hung the process for good when it
    ran just as the main thread took the session gate's turns lock (the owner waiting its
    turn behind a reader, or the main thread reading the session): its verb waited for
    that same lock, held by its own thread. It is deferred now, as a handler's verb in the
    middle of a step is, and takes effect once the step or read under way ends."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, main],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["DEFERRED", "STOPPED", steps]
