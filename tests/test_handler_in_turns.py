"""A signal handler's verb or read while the main thread waits its turn for the session lock."""

from __future__ import annotations

import inspect
import subprocess
import sys
import textwrap

import pytest

import _gate_watch

# The main thread takes a SIGTERM whose handler stops or reads the session (docs/embedding.md:
# from a signal handler) just as it takes the gate's turns lock on its way to the session
# lock: the gate's own test hook (``on_turns``) runs the handler there, at once. The owner
# is the main thread, waiting its turn behind a reader (a status endpoint's thread), or
# another thread while the main thread reads the session. The session's gate comes from
# ``built(SessionGate)``, never from the session's private attributes.
_STARTED = textwrap.dedent(
    """
    from livesession import DryrunConfig, LiveSessionOrchestrator, MemoryLineSink
    from livesession._session.threads import SessionGate
    from livesession._support import built as hook

    def started(built, run_id):  # appends the active session, then its gate
        with hook.built(SessionGate) as gates:
            built.append(LiveSessionOrchestrator(
                DryrunConfig(run_id=run_id, steps=50), audit_sink=MemoryLineSink()
            ))
        built.extend(gates)
        built[0].preflight()
        built[0].activate()
    """
)
_SCRIPT = _STARTED + textwrap.dedent(
    """
    import signal, sys, threading
    def build():
        started(built, "in-turns")

    built, answers = [], []
    held, release = threading.Event(), threading.Event()
    main, call = sys.argv[1], sys.argv[2]
    owner = threading.Thread(target=build) if main == "reader" else threading.current_thread()
    if owner is threading.current_thread():
        build()
    else:
        owner.start()
        owner.join()
    session, gate = built
    calls = {
        "request_stop": lambda: session.request_stop("SIGTERM"),
        "book": lambda: session.book,
        "result": session.result,
        "inspect": session.inspect,
        "iter_open_orders": lambda: list(session.iter_open_orders()),
    }

    def handler(*_):
        try:
            answer = calls[call]()
        except Exception as exc:
            answers.append(f"{type(exc).__name__}: {exc}")
        else:
            outcome = getattr(answer, "outcome", None)
            answers.append(type(answer).__name__ if outcome is None else outcome.value)
            answers.append(getattr(answer, "message", ""))

    signal.signal(signal.SIGTERM, handler)

    def in_turns():
        if threading.current_thread() is threading.main_thread() and not answers:
            signal.raise_signal(signal.SIGTERM)  # the handler runs here, at once
            release.set()

    gate.on_turns = in_turns

    def reader():  # a status endpoint's worker, reading as the owner comes to step
        with gate.hold(read_only=True):
            held.set()
            release.wait()

    if main == "owner":
        threading.Thread(target=reader).start()
        held.wait()
        done = session.run_n_steps(50)
    else:
        session.book  # a read, as a monitoring loop makes
        done = session.steps_done
    print(*answers, sep="\\n")
    print(session.state.value, done)
    """
)


def _handled(main: str, call: str) -> list[str]:
    """What the handler's ``call`` answered, then the session's state and steps done."""
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, main, call],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.splitlines()


@pytest.mark.parametrize(
    ("main", "steps", "work"), [("owner", "1", "a step"), ("reader", "0", "a read")]
)
def test_a_handlers_stop_as_the_main_thread_waits_its_turn_is_deferred(
    main: str, steps: str, work: str
) -> None:
    """Bug: a SIGTERM handler calling ``request_stop`` hung the process for good when it
    ran just as the main thread took the session gate's turns lock (the owner waiting its
    turn behind a reader, or the main thread reading the session): its verb waited for
    that same lock, held by its own thread. It is deferred now, as a handler's verb in the
    middle of a step is, and takes effect once the step or read under way ends.

    Bug: its ``DEFERRED`` said ``called from inside a step`` of a stop deferred as the main
    thread waited to read. It says what the thread was doing now."""
    outcome, message, ended = _handled(main, "request_stop")
    assert (outcome, ended) == ("DEFERRED", f"STOPPED {steps}")
    assert message == (
        f"called as this thread waited its turn for the session lock, for {work} (by a signal "
        f"handler or a callback, say): it takes effect when that {work[2:]} has ended"
    )


@pytest.mark.parametrize("read", ["book", "result", "inspect", "iter_open_orders"])
def test_a_handlers_read_as_the_main_thread_takes_its_turn_answers(read: str) -> None:
    """Bug: a SIGTERM handler reading the session (``session.book``, ``result()``,
    ``inspect()``, ``iter_open_orders()``) as the main thread took the gate's turns lock on
    its way to read hung the process for good: the read waited for that lock, its own
    thread's. With the session lock free it reads at once now."""
    answer, _, ended = _handled("reader", read)
    kinds = {"book": "BookView", "result": "DryrunResult", "inspect": "SessionInspection"}
    assert (answer, ended) == (kinds.get(read, "list"), "DRYRUN_ACTIVE 0")


def test_a_handlers_read_as_the_owner_waits_behind_a_reader_is_refused() -> None:
    """The same read as the owner takes the turns lock to wait behind another thread's
    read: it cannot wait for that thread without waiting on its own, so it raises, naming
    the read, and the session steps on once the handler has returned."""
    answer, ended = _handled("owner", "book")
    assert answer == (
        "LiveSessionError: book refused: called as this thread took its turn for the session "
        "lock (a signal handler that ran just then), which another thread holds: the read "
        "would wait on its own thread; nothing was changed: read once the handler has "
        "returned (set a flag in it), or from another thread"
    )
    assert ended == "DRYRUN_ACTIVE 50"


# The main thread waits for the session lock (another thread's read holds it) to read it,
# and the owner, another thread, has come to step: it waits for the main thread's read.
# A SIGTERM whose handler reads the session then comes (the handler runs as the main
# thread's wait is interrupted).
_BLOCKED = (
    inspect.getsource(_gate_watch)
    + _STARTED
    + textwrap.dedent(
        """
    import signal, threading
    built, answers = [], []
    held, release, go, active = (threading.Event() for _ in range(4))

    def owner():
        started(built, "blocked")
        active.set()
        go.wait()
        built.append(built[0].run_n_steps(1))

    def reader():
        with gate.hold(read_only=True):
            held.set()
            release.wait()

    def driver():
        until = watch.until  # GateWatch: tests/_gate_watch.py, ahead of this script
        until("the main thread's read", lambda: gate.waiting == 1)  # waits for the reader
        go.set()
        until("the owner's step", lambda: gate.owner_waiting)  # waits for that read
        signal.pthread_kill(threading.main_thread().ident, signal.SIGTERM)
        until("the handler's read", lambda: gate.waiting == 2)  # waits too
        release.set()

    stepping = threading.Thread(target=owner)
    stepping.start()
    active.wait()
    session, gate = built[:2]
    watch = GateWatch(gate)
    signal.signal(signal.SIGTERM, lambda *_: answers.append(type(session.book).__name__))
    threading.Thread(target=reader).start()
    held.wait()
    threading.Thread(target=driver).start()
    session.book
    stepping.join()
    print(*answers, session.state.value, built[2])
    """
    )
)


def test_a_handlers_read_as_the_main_thread_waits_ahead_of_the_owner_waits_its_turn() -> None:
    """Bug: a SIGTERM handler reading the session while the main thread waited to read it,
    the owner (another thread) come to step behind that read, hung the process for good:
    the handler's read waited for the owner's step, and the owner for the main thread's
    read, which the handler held up. The handler's read keeps its thread's place now."""
    done = subprocess.run(
        [sys.executable, "-c", _BLOCKED], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["BookView", "DRYRUN_ACTIVE", "1"]
