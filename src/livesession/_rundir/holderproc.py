"""The process a run's holder names: is it a livesession CLI writer of the run, is it stopped.

Split from ``lock`` (which re-exports these): only ``stop``, ``kill``, ``ack`` and
``status`` look at the holder's process, never a writer.
"""

from __future__ import annotations

import errno
import os
import signal
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._artifacts import names
from .._support.filemode import user_name
from .._support.fsutil import link_target
from .._support.text import command
from .._support.tmpfiles import pid_alive
from .dirhold import holding_pid

if TYPE_CHECKING:
    from .lock import Holder

__all__ = [
    "CLI_WRITERS",
    "another_users",
    "embedding_program",
    "job_stopped",
    "job_stopped_pid",
    "not_a_cli_writer",
    "pending_said",
    "pending_signals",
    "resumes_here",
    "resuming",
    "runs_as",
    "stop_advice",
    "stopped",
    "stopped_pid",
    "unseen",
    "writer_verb",
]

_PROC: Final = Path("/proc")

CLI_WRITERS: Final = frozenset({"dryrun", "resume"})
"""The CLI verbs that write a run (and answer the operator's signals)."""


def embedding_program(command: str) -> str:
    """``command`` when a holder so named is an application embedding livesession, else "".

    A writer names itself by its program and verb (``writer_command``): ``livesession
    dryrun`` is the CLI, which answers ``stop``, ``kill`` and ``ack``; ``uvicorn dryrun`` (a
    web service's ``create_run``) is not. "" names no one: the holder is not known yet.
    """
    return "" if not command or command.startswith("livesession ") else command


def not_a_cli_writer(holder: Holder, run_dir: Path) -> str:
    """Why ``holder`` must not be signalled ("" when it is a livesession CLI writer of the run).

    A pid alone is not enough: the lock file names whoever took the lock, and a pid may be
    reused. On Linux the process must have this run's lock file open and be running
    ``livesession dryrun`` or ``resume`` (only those install the handlers: an embedding app
    would be ended by SIGUSR1's default action).
    """
    if holder.pid <= 0:
        return "the holder is still writing its name into the lock file; try again"
    if holder.host != socket.gethostname():
        return f"it is held by {holder.describe()}: run this command on {holder.host}"
    proc = _PROC / str(holder.pid)
    if not proc.is_dir():  # not Linux, or /proc hides other users' processes (hidepid)
        return unseen(holder, run_dir) or _name_problem(holder)
    return _proc_problem(proc, holder, run_dir.resolve())


def unseen(holder: Holder, run_dir: Path) -> str:
    """Why this host's pid ``holder.pid`` is not ``holder``, held in another PID namespace.

    "" when it may be. A container has its own process ids: a writer that is the first
    process of its container names itself pid 1 on the pod's host name, and a second
    container sharing the run's volume and host name (a sidecar, a ``kubectl exec`` into
    another container) has a pid 1 of its own, or no such pid at all. ``kill`` there said
    ``pid 5 ended: unfinished (no C2_DRYRUN_STOP): nothing was sent ... resume it and kill it
    at once`` of a run trading on (a resume is refused: the writer holds it), and ``pid 1
    does not have .../writer.lock open: it is not this run's writer``. The run's directory
    lock names the pid its writer sees itself as (``dirhold``): held under ``holder``'s pid
    while this host's process of that pid does not have the run open (or is no process), the
    writer is one this command can neither see nor signal. Linux only (``/proc``).
    """
    here = unseen_here(holder, run_dir)
    if not here:
        return ""
    return (
        f"{here}, yet the run is held: its writer ({holder.command}, pid {holder.pid} as it "
        f"counts) runs where this command can neither see nor signal it, in another PID "
        f"namespace on {holder.host} (another container: of this pod, or one sharing its "
        f"host name) or on another machine named {holder.host} that shares this directory: "
        "nothing was sent; run this command there (in Kubernetes, `kubectl exec` into the "
        "writer's container)"
    )


def unseen_here(holder: Holder, run_dir: Path) -> str:
    """``unseen``'s first words (``no process here is pid 5``), or "" when it may be seen.

    ``status`` says them on its ``writer`` line, and names no user nor stop of this host's
    process of that pid, which is not the writer.
    """
    if holder.pid <= 0 or holder.host != socket.gethostname() or not _PROC.is_dir():
        return ""
    if holding_pid(run_dir) != holder.pid:
        return ""  # not held, or by a writer whose name is not written yet
    if not pid_alive(holder.pid):
        return f"no process here is pid {holder.pid}"
    if holder.pid == os.getpid():  # a writer refused: it has the lock file open, unlocked
        return "" if holder.this_process else f"pid {holder.pid} here is this process"
    lock = run_dir.resolve() / names.WRITER_LOCK
    if _has_open(holder.pid, lock):
        return ""
    return f"pid {holder.pid} here is another process (it does not have {lock} open)"


def _has_open(pid: int, lock: Path) -> bool:
    """Whether this host's process ``pid`` has the run's ``lock`` file or its directory open.

    True when none can tell (another user's process, hidden, or ended): it may be the writer.
    """
    try:
        return _opens_run(_PROC / str(pid), lock)
    except OSError:
        return True


def _opens_run(proc: Path, lock: Path) -> bool:
    """Whether the process ``proc`` (its ``/proc`` entry) has ``lock`` or its directory open.

    Either holds the run: a writer whose lock file was deleted still holds the directory
    (``dirhold``). Raises OSError when its descriptors cannot be listed.
    """
    opened = {link_target(fd) for fd in (proc / "fd").iterdir()}
    return bool(opened & {str(lock), str(lock.parent)})


def stop_advice(holder: Holder | None, run_dir: Path) -> str:
    """What a second writer refused by ``holder`` is told to do: wait, or stop the holder.

    ``livesession stop`` signals only a ``livesession dryrun`` or ``resume`` on this host:
    of another host's it says to run it there, and of an application embedding livesession
    (a ``create_run`` in a service, a script) it refuses, saying the application has its own
    controls. The refusal said `or stop it with livesession stop DIR` of each, which then
    exited 3 for the application's.
    """
    stop = f"`{command('stop', run_dir)}`"
    if holder is not None and unseen_here(holder, run_dir):  # another container's
        return (
            f"wait for it to end, or stop it with {stop} in the writer's container (it runs in "
            "another PID namespace, where this one cannot signal it)"
        )
    if holder is not None and holder.pid > 0 and holder.host != socket.gethostname():
        # Asked here, `stop` refuses it (`run this command on HOST`), livesession's or not.
        return f"wait for it to end, or stop it with {stop} on {holder.host}"
    if holder is None or holder.pid <= 0 or not embedding_program(holder.command):
        # Another user's: `stop` asked by this one is refused (`run this command as desk`).
        user = "" if holder is None or holder.pid <= 0 else _other_user(holder.pid)
        as_user = f" as {user}" if user else ""
        return f"wait for it to end, or stop it with {stop}{as_user}"
    return (
        f"wait for it to end, or stop it through the program that runs it, {holder.command} "
        f"(an application embedding livesession has its own controls: {stop} signals only "
        "`livesession dryrun` and `resume`)"
    )


def _name_problem(holder: Holder) -> str:
    """No /proc entry to look into: trust the holder's own name, if this user may signal it.

    Signal 0 asks the system without sending anything: another user's process is EPERM,
    which the signal itself met (``livesession: error: Operation not permitted``, exit 2).
    """
    try:
        os.kill(holder.pid, 0)
    except PermissionError:
        return another_users(holder, "signal")
    except ProcessLookupError:
        pass  # ended meanwhile: the signal finds that out, and says so
    verb = holder.command.rsplit(" ", 1)[-1]
    ok = holder.command.startswith("livesession ") and verb in CLI_WRITERS
    return "" if ok else f"{holder.describe()} is not `livesession dryrun` or `resume`"


def _proc_problem(proc: Path, holder: Holder, run_dir: Path) -> str:
    """Linux: the process has the run open and runs ``livesession dryrun`` or ``resume``.

    Open: its lock file, or the directory itself (``dirhold``: a writer whose lock file was
    deleted still holds it so).
    """
    lock = run_dir / names.WRITER_LOCK
    try:
        opens_run = _opens_run(proc, lock)
        args = _args(proc)
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM):
            return another_users(holder, "look into")
        return f"cannot inspect pid {holder.pid}: {exc.strerror}: nothing was sent"
    if not opens_run:
        return unseen(holder, run_dir) or (
            f"pid {holder.pid} does not have {lock} open: it is not this run's writer"
        )
    if not _is_cli(args) or not CLI_WRITERS.intersection(args):
        return (
            f"{holder.describe()} is not `livesession dryrun` or `resume` (an application "
            "embedding livesession has its own controls): nothing was sent"
        )
    return ""


def _other_user(pid: int) -> str:
    """The name of the user ``pid`` runs as when this one, not root, may not signal it; ""."""
    euid = os.geteuid()
    try:
        uid = (_PROC / str(pid)).stat().st_uid
    except OSError:  # hidden (hidepid), or gone
        return ""
    return "" if euid in (0, uid) else user_name(uid)  # a container's uid: ``uid 100123``


def runs_as(holder: Holder) -> str:
    """The user ``holder`` runs as, when this user (not root) may not signal it; "".

    ``status`` names it on its ``writer`` line: an operator who takes a run over from
    another (a shift handover) sees whom ``stop``, ``kill`` and ``ack`` must run as before
    they are refused. Only a holder on this host can be looked at.
    """
    if holder.pid <= 0 or holder.host != socket.gethostname():
        return ""
    return _other_user(holder.pid)


def another_users(holder: Holder, what: str) -> str:
    """The holder runs as another user, whose process this one may not ``what`` (EPERM).

    ``stop``, ``kill`` and ``ack`` are refused (nothing was sent) with the user to run them
    as; the line said ``cannot inspect pid N: Permission denied`` and no more.
    """
    try:
        uid = (_PROC / str(holder.pid)).stat().st_uid
    except OSError:  # hidden (hidepid), or not Linux
        uid = -1
    user = user_name(uid) if uid >= 0 else ""
    if not user or uid == os.geteuid():
        user = "the user that runs it"
        runs = ""
    else:
        runs = f" runs as {user}, and"
    return (
        f"pid {holder.pid} ({holder.command}){runs} this user may not {what} it (Permission "
        f"denied): nothing was sent; run this command as {user} (or as root)"
    )


def stopped(holder: Holder) -> str:
    """How ``holder`` is stopped, and how it runs again ("" when it is not, or none can tell).

    A process stopped by SIGSTOP or Ctrl-Z (Linux: state ``T`` in ``/proc/PID/stat``) holds
    its run's lock and acts on no signal until it runs again: ``stop``, ``kill`` and
    ``ack`` waited out their timeout with "a long step or wind-down?", and ``status`` said
    ``running``. A tracing stop (``t``: a debugger) is the debugger's to end. Only a holder
    on this host can be looked at (``stopped_pid``).
    """
    return stopped_pid(holder.pid) if holder.host == socket.gethostname() else ""


def stopped_pid(pid: int) -> str:
    """``stopped``'s words of this host's process ``pid``, where ``/proc`` has it."""
    return _said(pid, _state(pid))


def _said(pid: int, state: bytes) -> str:
    if state == b"T":
        return (
            f"pid {pid} is stopped (state T: SIGSTOP, or Ctrl-Z in its terminal) and "
            f"acts on no signal until it runs again: `kill -CONT {pid}`"
        )
    if state == b"t":
        return (
            f"pid {pid} is stopped by a debugger (state t: tracing stop) and acts on "
            "no signal until the debugger lets it run"
        )
    return ""


_OPERATORS: Final = {  # the signals a writer answers, by who sends them
    signal.SIGUSR1: "livesession kill",
    signal.SIGUSR2: "livesession ack",
    signal.SIGTERM: "livesession stop",
    signal.SIGINT: "Ctrl-C",
    signal.SIGHUP: "a hangup",
}


def pending_signals(holder: Holder) -> list[str]:
    """The operator's signals a stopped ``holder`` holds pending (``SIGUSR1``, ...), in order.

    A stopped process takes no signal till it runs again: ``stop`` and ``kill`` of it said
    ``the signal stays pending till then: livesession status DIR``, and status said only
    that it was stopped. Linux's ``/proc/PID/status`` has them (``ShdPnd``: the process's,
    ``SigPnd``: a thread's); [] for none to read. Asked of a holder ``stopped`` says is
    stopped (a running one takes its signals as they come).
    """
    try:
        text = (_PROC / str(holder.pid) / "status").read_text(encoding="ascii", errors="replace")
    except OSError:
        return []
    mask = 0
    for line in text.splitlines():
        label, _, value = line.partition(":")
        if label in {"ShdPnd", "SigPnd"}:
            try:
                mask |= int(value.strip(), 16)
            except ValueError:
                return []
    return [signum.name for signum in _OPERATORS if mask >> (signum - 1) & 1]


def pending_said(names: list[str]) -> str:
    """``SIGUSR1 (livesession kill) and SIGTERM (livesession stop) pending, ...`` or ""."""
    said = [f"{name} ({_OPERATORS[signal.Signals[name]]})" for name in names]
    if not said:
        return ""
    listed = said[0] if len(said) == 1 else f"{', '.join(said[:-1])} and {said[-1]}"
    return f"{listed} pending: it acts on them once it runs again, a kill before a stop"


def job_stopped(holder: Holder) -> str:
    """``stopped``'s words of a holder stopped by SIGSTOP or Ctrl-Z (state ``T``), else "".

    Such a stop lasts until a SIGCONT, so ``stop``, ``kill`` and ``ack`` say it at once
    (they waited out their ``--timeout`` first). A debugger's tracing stop (``t``) is not
    said before the timeout: ``strace`` stops its tracee at every system call, briefly.
    """
    return job_stopped_pid(holder.pid) if holder.host == socket.gethostname() else ""


def job_stopped_pid(pid: int) -> str:
    """``job_stopped``'s words of this host's process ``pid``."""
    return _said(pid, state) if (state := _state(pid)) == b"T" else ""


def _state(pid: int) -> bytes:
    """The state letter of this host's process ``pid`` (``/proc/PID/stat``); b"" if unknown."""
    if pid <= 0:
        return b""
    try:
        stat = (_PROC / str(pid) / "stat").read_bytes()
    except OSError:
        return b""
    end = stat.rfind(b")")  # the command's name, in parentheses, may hold anything
    return stat[end + 2 : end + 3]


def _args(proc: Path) -> list[str]:
    """The base names of the arguments ``/proc/PID`` was started with."""
    argv = (proc / "cmdline").read_bytes().split(b"\0")
    return [Path(a.decode(errors="replace")).name for a in argv if a]


def _is_cli(args: list[str]) -> bool:
    return any(a in {"livesession", "livesession.cli", "cli.py"} for a in args)


def writer_verb(pid: int) -> str:
    """``livesession dryrun`` or ``resume`` when ``pid`` runs one (Linux), else ""."""
    try:
        args = _args(Path("/proc") / str(pid))
    except OSError:
        return ""
    verbs = sorted(CLI_WRITERS.intersection(args)) if _is_cli(args) else []
    return f"livesession {verbs[0]}" if verbs else ""


def resuming(run_dir: Path) -> int | None:
    """The pid of a ``livesession resume`` of ``run_dir`` on this host (Linux), else None.

    Asked of a run nothing holds: a ``resume`` loads for a fraction of a second before it
    takes the writer lock (its handlers in first), and a ``kill`` sent then found nothing
    to signal, said so (exit 8), and the resume traded on.
    """
    return resumes_here().get(os.path.realpath(run_dir))


def resumes_here() -> dict[str, int]:
    """Each run directory a ``livesession resume`` on this host names (real path: its pid).

    Its run directory is an argument after ``resume``, as it typed it, from its own working
    directory. One look at every process (``list`` takes one for all its runs: ``loading``).
    """
    found: dict[str, int] = {}
    for proc in _PROC.iterdir() if _PROC.is_dir() else ():
        if not proc.name.isdigit() or int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
            if not _is_cli([Path(a).name for a in argv]) or "resume" not in argv:
                continue
            cwd = (proc / "cwd").readlink()
        except OSError:  # ended meanwhile, or another user's
            continue
        for arg in argv[argv.index("resume") + 1 :]:
            if arg:
                found.setdefault(os.path.realpath(cwd / arg), int(proc.name))
    return found
