"""The ``livesession`` command's entry point (also ``python -m livesession``).

Loading the CLI imports most of the package (a few tenths of a second). A Ctrl-C in that
time raised ``KeyboardInterrupt`` inside an import, before ``cli.main`` could catch it, and
printed a traceback of some fifty lines; inside a C extension's initialisation (orjson's,
as it imports ``uuid``) it crashed the interpreter (SIGSEGV, exit 139). This module imports
nothing of the package's until the CLI, with SIGINT held meanwhile: the import finishes,
then the Ctrl-C ends the command with the one line and 130 that ``cli.main`` gives. SIGTERM
and SIGHUP are held too, and end it with its line and 143 / 129 (with ``--json`` the JSON
error object on stdout). Left at their default action they ended the process with no line;
and as the first process of a container without an init (PID 1, ``docker run IMAGE
livesession dryrun``) the kernel drops a signal whose action is the default one: a
``docker stop`` in those tenths of a second was lost, and the run it was to prevent ran
on to its end, or to the SIGKILL that followed. A SIGHUP the caller ignores (``nohup``)
stays ignored.

A standard descriptor the caller closed (``livesession verify DIR >&-``, ``2>&-``, ``<&-``:
a daemon's or a supervisor's closed streams) is given /dev/null first. Python had left
``sys.stdout`` None, and the first line printed ended the command with a traceback and exit
1 whatever its verdict; and the lowest free descriptor, 1 or 2, went to the first file the
command opened (a run's ``session.log.jsonl``), where anything written to stdout or stderr
below Python would have landed.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import os
import signal
import sys
import threading
import time

__all__ = ["main"]


def main() -> int:
    """Load the CLI and run it; a Ctrl-C while it loads ends it as one during a command."""
    _hold_standard_descriptors()
    atexit.register(_stops_ignored)  # the first registered, so the last to run
    as_json = "--json" in sys.argv[1:]
    came: list[int] = []
    held = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # nohup's stays ignored
        held.append(signal.SIGHUP)
    # Held even where the caller ignores it (a shell script's background job): the run
    # takes SIGINT and SIGTERM whatever it inherited, so one sent while it loads is not lost.
    before = {
        signum: signal.signal(signum, lambda signum, _frame: came.append(signum)) for signum in held
    }
    try:
        from .cli import main as cli_main  # noqa: PLC0415 - the import is what is guarded
    except KeyboardInterrupt:  # raised, not signalled (a handler set outside Python, a plug-in)
        came.append(signal.SIGINT)
    except (MemoryError, ImportError) as exc:
        if not _no_memory(exc):
            raise  # a broken installation: its traceback is what to read
        return _out_of_memory("while loading livesession: nothing was written", as_json=as_json)
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)  # cli.main puts its own in
    if came:
        said = {int(signal.SIGTERM): "terminated", int(signal.SIGHUP): "hung up"}.get(came[0])
        return _ended(said or "interrupted", 128 + came[0], as_json=as_json)
    if as_json:  # the process's own: a plug-in's thread never prints on stdout after
        from ._cli_output import keep_stdout_aside  # noqa: PLC0415 - loaded with the CLI

        keep_stdout_aside()
    try:
        code = cli_main()
    except (MemoryError, ImportError) as exc:  # a part of the CLI loaded for its command
        if not _no_memory(exc):
            raise
        code = _out_of_memory(
            "a run the command had started is not sealed: `livesession status DIR` says "
            "whether `livesession resume DIR` continues it",
            as_json=as_json,
            loaded=True,
        )
    _settled(code)
    _not_held_by_threads(code)
    return code


def _settled(code: int) -> None:
    """The command's exit code is decided: a stop signal from here on ends it with that code.

    What is left is the interpreter's end: a plug-in's ``atexit`` hook, its threads joined,
    the output flushed. A SIGTERM there (a scheduler's, a second ``docker stop``) ended the
    process by the signal, which a shell shows as 143, "unfinished", for a run sealed
    COMPLETED whose summary (or ``--json`` object) said 0; a SIGINT put a
    ``KeyboardInterrupt`` into a plug-in's hook, and a SIGHUP killed it. Now each ends the
    process at once, with the command's own code, its output flushed first.
    """

    def end(_signum: int, _frame: object) -> None:
        _flushed()
        os._exit(code)

    _flushed()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        if signal.getsignal(signum) is not signal.SIG_IGN:  # nohup's SIGHUP stays ignored
            signal.signal(signum, end)


_GRACE_S = 1.0
"""How long the process may wait at its end for threads a plug-in left running."""


def _not_held_by_threads(code: int) -> None:
    """Threads a plug-in left running do not keep the process from ending with ``code``.

    Python waits at exit for every thread that is not a daemon thread: a strategy's poller
    left running kept ``livesession dryrun`` from ever exiting, its run sealed and its
    summary printed. If such threads are still running ``_GRACE_S`` after ``main`` returns
    (the interpreter waiting for them), a watchdog says so on stderr, naming them, and ends
    the process with ``code``, its output flushed first. Only when no run is still held
    (``runs_held``): every run file this process wrote is then closed, and sealed when its
    command sealed it. One still held is waited for, as before, with the line said.
    """
    if not _running_threads():
        return
    lock = sys.modules.get("livesession._rundir.lock")  # no run opened when never imported
    if lock is None:
        held: list[object] = []
    else:
        from ._rundir.session import runs_held  # noqa: PLC0415 - only once a run was opened

        held = list(runs_held())

    def watch() -> None:
        time.sleep(_GRACE_S)  # the interpreter joins the threads meanwhile, or ends
        running = _running_threads()
        if not running:
            return  # they ended: the interpreter is ending as it does
        names = ", ".join(repr(thread.name) for thread in running)
        if held:
            _say(
                f"livesession: waiting for threads a plug-in left running ({names}): "
                f"the run {held[0]} is still open"
            )
            return
        _say(
            f"livesession: threads a plug-in left running ({names}) still ran {_GRACE_S:g} s "
            f"after the command ended (not daemon threads, which Python waits for at exit): "
            f"exiting with code {code} without them"
        )
        _flushed()
        os._exit(code)

    threading.Thread(target=watch, name="livesession-exit-watch", daemon=True).start()


def _running_threads() -> list[threading.Thread]:
    """The threads, but this one and daemon threads, that are still running."""
    this = threading.current_thread()
    main = threading.main_thread()
    return [
        thread
        for thread in threading.enumerate()
        if thread not in (this, main) and not thread.daemon and thread.is_alive()
    ]


def _stops_ignored() -> None:
    """The last exit hook: a stop signal in the teardown after it changes nothing.

    After the exit hooks Python puts the signal handlers it set back to the default action,
    and a stop signal in the teardown (modules freed, a plug-in's ``__del__``) killed the
    process: -2 (SIGINT), -15 or -1 for a command whose code was decided, a run sealed
    COMPLETED among them. Only the teardown is left, so the signals are ignored.
    """
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, signal.SIG_IGN)


def _flushed() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, RuntimeError):  # gone, closed, busy
            stream.flush()


_STANDARD: tuple[tuple[int, str, int], ...] = (
    (0, "stdin", os.O_RDONLY),
    (1, "stdout", os.O_WRONLY),
    (2, "stderr", os.O_WRONLY),
)


def _hold_standard_descriptors() -> None:
    """Put /dev/null on each of descriptors 0, 1 and 2 that is closed, and a stream on it."""
    for fd, name, flags in _STANDARD:
        try:
            os.fstat(fd)
        except OSError:
            try:
                null = os.open(os.devnull, flags)
            except OSError:  # no /dev/null: nothing better to put there
                return
            if null != fd:
                os.dup2(null, fd)  # inheritable, as a standard descriptor is
                os.close(null)
            else:
                os.set_inheritable(fd, True)  # noqa: FBT003 - positional only
        if getattr(sys, name) is None:
            mode = "r" if fd == 0 else "w"
            setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))  # noqa: SIM115


_MAP_FAILED = "failed to map segment from shared object"
"""The dynamic loader's words when it cannot map a C extension: no address space left."""


def _no_memory(exc: BaseException) -> bool:
    """Whether ``exc`` is the process out of memory (``ulimit -v``, a cgroup's limit)."""
    return isinstance(exc, MemoryError) or _MAP_FAILED in str(exc)


def _out_of_memory(then: str, *, as_json: bool, loaded: bool = False) -> int:
    """One line for a process the system gave no more memory, and exit 2.

    Under a low address-space limit (``ulimit -v``) loading the CLI or a part of it raised
    ``MemoryError`` (or the loader's ``ImportError``): a traceback of twenty lines and exit
    1, which is ``verify``'s "violations" to a supervisor. The line names the limit.
    ``loaded``: the CLI was loaded, and with ``--json`` its stdout is kept aside for the
    object (``emit_json``), which is printed unless the command printed its own.
    """
    said = (
        "out of memory (raise the address-space limit, `ulimit -v`, or the service's "
        f"memory limit, or free memory, then run again); {then}"
    )
    _say(f"livesession: error: {said}")
    if as_json and loaded:
        from ._cli_output import emit_json, json_emitted  # noqa: PLC0415 - loaded already

        if not json_emitted():
            emit_json({"ok": False, "exit_code": 2, "error": said})
    elif as_json:  # as emit_json prints it (sorted keys), without loading anything for it
        text = said.replace("\\", "\\\\").replace('"', '\\"')
        _say(f'{{"error":"{text}","exit_code":2,"ok":false}}', on_stdout=True)
    return 2


def _ended(said: str, code: int, *, as_json: bool) -> int:
    """The line (and with ``--json`` the object) ``cli.main`` gives for a signal."""
    _say(f"livesession: {said}")
    if as_json:  # as emit_json prints it (sorted keys), without loading anything for it
        _say(f'{{"error":"{said}","exit_code":{code},"ok":false}}', on_stdout=True)
    return code


def _say(line: str, *, on_stdout: bool = False) -> None:
    """``line`` on stderr (``on_stdout``: stdout), as ``cli.main``'s streams take it.

    Here, outside ``cli.main``, a stream that refused the line (a reader that left, a full
    device) raised: a Ctrl-C while the CLI loaded ended ``--json ... | head -c 0`` with a
    traceback and exit 1 instead of 130, and the exit watchdog's thread died on its line
    before ending the process, which then waited for a plug-in's threads for ever. Now the
    refused stream is given /dev/null (what Python flushes at exit goes there), stdout's
    refusal but a reader's leaving is said in one line on stderr, and the code stands.
    """
    stream = sys.stdout if on_stdout else sys.stderr
    try:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        stream.write(line.encode(encoding, "backslashreplace").decode(encoding) + "\n")
        stream.flush()
    except (OSError, ValueError) as exc:  # ValueError: a stream closed under us
        with contextlib.suppress(OSError, ValueError):
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, stream.fileno())
            os.close(null)
            stream.flush()
        if on_stdout and isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
            name = errno.errorcode.get(exc.errno or 0, f"errno {exc.errno}")
            _say(
                f"livesession: cannot write to stdout ({name}: {exc.strerror}): the rest of "
                "the command's output is lost; its exit code is its own"
            )


if __name__ == "__main__":
    sys.exit(main())
