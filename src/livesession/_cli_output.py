r"""What the ``livesession`` command tells its caller: exit codes, ``--json``, ``--help``.

The exit codes (``EXIT_*``) are one table: RUNBOOK.md's, which a test keeps in step.

``--json`` (on ``dryrun``, ``resume``, ``verify``, ``evidence`` and ``burnin``) prints exactly
one JSON object on stdout and nothing else. Every outcome is an object, errors included: a command
that fails prints ``{"ok": false, "exit_code": N, "error": "<the stderr line>"}``, and the
one-line message still goes to stderr. The exit code is the same as without ``--json``. A
command a signal ends prints ``{"ok": false, "exit_code": 130, "error": "interrupted"}``
(143, ``terminated``; 129, ``hung up``), unless it had printed its own object already; a
plug-in's ``KeyboardInterrupt`` inside a step says after ``interrupted: `` that the run is not
sealed. The object is ASCII whatever the locale: any other character is escaped
(``\u00fc``), so no stdout refuses it.
Plain output a stream cannot encode (``PYTHONIOENCODING=ascii``, a C locale) degrades to
backslash escapes (``env/\xfcn\xef``) instead of ending the command with a traceback.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import re
import signal
import sys
from typing import TYPE_CHECKING, Any, Final, Self, TextIO, cast

import orjson

from ._artifacts import names
from ._exceptions import UsageError
from ._support.jsonwords import utf8_texts
from ._support.oserrors import ROOM_AGAIN, errno_of, once_fixed, said_errno
from ._support.secrets import redact_text
from ._support.text import command, error_line, json_dumps, valid_text

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path

    from ._exceptions import LiveSessionError, SealCheckpointWritten

__all__ = [
    "EXIT_BAD_INPUT",
    "EXIT_CRASHED",
    "EXIT_FAILED",
    "EXIT_HANGUP",
    "EXIT_INTERRUPTED",
    "EXIT_NEEDS_OPERATOR",
    "EXIT_NOT_HELD",
    "EXIT_NO_EFFECT",
    "EXIT_OK",
    "EXIT_REJECTED",
    "EXIT_RUNNING",
    "EXIT_TERMINATED",
    "EXIT_VIOLATIONS",
    "JSON_HELP",
    "HelpWithDefaults",
    "checkpoint_refused",
    "checkpoint_written",
    "emit_json",
    "json_emitted",
    "json_only_on_stdout",
    "keep_stdout_aside",
    "not_sealed",
    "readers_may_leave",
    "refused",
    "unwritten_checkpoint",
]

EXIT_OK: Final = 0
EXIT_VIOLATIONS: Final = 1
EXIT_BAD_INPUT: Final = 2
EXIT_REJECTED: Final = 3
EXIT_FAILED: Final = 4
EXIT_NEEDS_OPERATOR: Final = 5
"""``status``: a person must look (ERROR_REQUIRES_OPERATOR, or crashed and not resumable)."""
EXIT_CRASHED: Final = 6
"""``status``: no process writes the run and it is not sealed; ``resume`` takes it."""
EXIT_RUNNING: Final = 7
"""``status``: a process holds the run's writer lock now."""
EXIT_NOT_HELD: Final = 8
"""``stop``/``kill``/``ack``: no process holds the run."""
EXIT_NO_EFFECT: Final = 9
"""``stop``/``kill``/``ack``: the signal went out but its effect did not show in time."""
# Ended by a signal, counted as a shell counts it: Ctrl-C, and SIGTERM to a command other
# than dryrun/resume (those two stop gracefully on either, and exit 0).
EXIT_INTERRUPTED: Final = 128 + int(signal.SIGINT)  # 130
EXIT_TERMINATED: Final = 128 + int(signal.SIGTERM)  # 143
EXIT_HANGUP: Final = 128 + int(signal.SIGHUP)  # 129: the same for SIGHUP (a terminal that closed)


JSON_HELP: Final = (
    "print exactly one JSON object on stdout and nothing else (an error too: "
    '{"ok": false, "exit_code": N, "error": "..."}; the one-line message stays on stderr)'
)


def add_session_output(cmd: argparse.ArgumentParser, *, resume: bool = False) -> None:
    """What ``dryrun`` and ``resume`` print and log: ``--log-level``, ``--quiet``, ``--json``.

    ``resume``: ``dryrun``'s flags for the run itself are refused by name, saying why
    (``unrecognized arguments: --steps 100`` did not say that a run keeps its settings).
    """
    cmd.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        default="info",
        help="level of RUN_DIR/session.log.jsonl",
    )
    cmd.add_argument("--quiet", "-q", action="store_true", help="no summary")
    cmd.add_argument("--json", action="store_true", help=JSON_HELP)
    for flags in _RUN_SETTINGS if resume else ():
        cmd.add_argument(*flags, action=_KeptByTheRun, nargs="?", help=argparse.SUPPRESS)


_RUN_SETTINGS: Final = (
    *((f"--{name}",) for name in ("run-id", "seed", "steps", "clock", "out", "broker")),
    *((f"--{name}",) for name in ("strategy", "feed", "symbol", "idempotency-backend")),
    ("--durability",),
    ("--store",),
    ("--lease",),
    ("--config", "-c"),
)
"""``dryrun``'s flags that set up the run: a resumed run keeps what it started with."""


class _KeptByTheRun(argparse.Action):
    """``resume --steps 100``: refused, one line saying that the run keeps its settings."""

    def __call__(self, *_: object) -> None:
        raise UsageError(
            f"resume takes no {self.option_strings[0]}: a resumed run keeps the settings it "
            "started with (its config.json and run.json: steps, clock, durability, lease, "
            "plug-ins and the rest); it takes --log-level, --quiet and --json only"
        )


def add_verify_output(cmd: argparse.ArgumentParser, path: Callable[[str], Path]) -> None:
    """``verify``'s options: ``--json`` and ``--manifest`` (an evidence bundle received)."""
    cmd.add_argument("--json", action="store_true", help=JSON_HELP)
    cmd.add_argument(
        "--manifest",
        type=path,
        metavar="FILE",
        help="also hold the manifest.json of an evidence bundle (or the bundle's folder, "
        "holding it) to the run: its run_id, "
        "audit_head and config_hash, and the SHA-256 of every file it lists (runs nothing); "
        "prints its SHA-256 to compare with the published one",
    )


class HelpWithDefaults(argparse.ArgumentDefaultsHelpFormatter):
    """Shows each option's default, except where there is none (None, off) or help says it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if action.default in (None, False, argparse.SUPPRESS) or "default" in text:
            return text
        return super()._get_help_string(action)


class _ReaderMayLeave:
    r"""A stream whose reader may go away (``livesession verify DIR | head -1``).

    When it has, what is still to be written goes to /dev/null and the command goes on to
    return its own exit code: a closed pipe never turns a verdict (violations, FAIL, a run
    sealed FAILED) into exit 0, as catching ``BrokenPipeError`` around the command did.

    So does a stream the system refuses to write (``>/dev/full``, a log file on a full disk,
    an I/O error): stdout's refusal is said in one line on stderr, and the exit code stays
    the command's. It was exit 2 (``No space left on device: free space``, naming no file)
    for a dryrun that had sealed its run, and a refused stderr lost every exit code to 1.

    Text the stream cannot encode (a path beyond ASCII under ``PYTHONIOENCODING=ascii``) is
    written with backslash escapes for what it cannot take (``env/\xfcn\xef``; a byte
    that is not UTF-8 as ``valid_text`` says it): a ``UnicodeEncodeError`` ended the
    command after its work was done with a traceback and exit 1, whatever its verdict.
    """

    def __init__(self, stream: TextIO, name: str = "stdout", *, owns: bool = False) -> None:
        self._stream = stream
        self._name = name
        self._owns = owns  # a stream the CLI opened for itself (``json_only_on_stdout``)

    def write(self, text: str) -> int:
        try:
            try:
                return self._stream.write(text)
            except UnicodeEncodeError:  # nothing was written: the whole text is encoded first
                self._stream.write(_encodable(text, self._stream))
                return len(text)
        except OSError as exc:
            self._gone(exc)
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except OSError as exc:
            self._gone(exc)

    def close(self) -> None:
        """Flush only: the command's stream is not a plug-in's to close.

        A strategy's ``sys.stdout.close()`` (or a library's ``with sys.stdout:``) closed the
        terminal's stream under the command: its summary then raised ``ValueError: I/O
        operation on closed file`` with a traceback, exit 1, a sealed run's exit code lost
        (``lost sys.stderr`` and exit 1 for stderr). One the CLI opened for itself is
        closed.
        """
        self.flush()
        if self._owns:
            self._stream.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _gone(self, exc: OSError) -> None:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, self._stream.fileno())  # the buffer left over flushes to it
        os.close(devnull)
        if not isinstance(exc, BrokenPipeError) and self._name == "stdout":
            print(  # noqa: T201 - the CLI's output
                f"livesession: cannot write to stdout ({said_errno(exc)}): the rest of the "
                "command's output is lost; its exit code is its own",
                file=sys.stderr,
            )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _encodable(text: str, stream: TextIO) -> str:
    """``text`` with what ``stream``'s encoding cannot take said in backslash escapes."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    return valid_text(text).encode(encoding, "backslashreplace").decode(encoding)


@contextlib.contextmanager
def readers_may_leave() -> Iterator[None]:
    """Write stdout and stderr through ``_ReaderMayLeave`` while a command runs."""
    saved = sys.stdout, sys.stderr
    wrapped = _ReaderMayLeave(saved[0]), _ReaderMayLeave(saved[1], "stderr")
    sys.stdout, sys.stderr = wrapped
    try:
        yield
    finally:
        for stream in wrapped:  # what is buffered, while a refusal is still caught
            stream.flush()
        sys.stdout, sys.stderr = saved


_JSON_STDOUT: list[TextIO] = []
"""The real stdout while ``json_only_on_stdout`` sends everything else to stderr."""
_EMITTED: list[bool] = [False]
"""Whether the command running now has printed its one JSON object (``json_emitted``)."""
_ASIDE_TO_THE_END: list[bool] = [False]
"""Whether stdout stays aside once the command is done (``keep_stdout_aside``)."""


def keep_stdout_aside() -> None:
    """After a ``--json`` command, descriptor 1 stays on stderr for the rest of the process.

    For the ``livesession`` process alone (its entry point calls this): a thread a plug-in
    left running (a poller that prints) still wrote to stdout once the command was done,
    after the JSON object, while the process waited for it at exit. The real stdout stays
    kept aside for the JSON object, written and flushed there as before.
    """
    _ASIDE_TO_THE_END[0] = True


@contextlib.contextmanager
def json_only_on_stdout() -> Iterator[None]:
    """With ``--json``, stdout carries the one JSON object and nothing else.

    Whatever else is printed meanwhile goes to stderr: a user's strategy or feed calling
    ``print``, and what reaches file descriptor 1 below Python (a solver's C library
    logging, a child process the plug-in starts), which is pointed at stderr while the
    command runs. ``emit_json`` writes to the real stdout, kept aside. A ``sys.stdout``
    on no descriptor (a test's capture) keeps to Python's own redirection. In the
    ``livesession`` process (``keep_stdout_aside``) descriptor 1 is not put back: what a
    plug-in's thread prints after the command goes to stderr too.
    """
    real = sys.stdout
    if _on_fd1(real):
        real.flush()
        kept = os.fdopen(os.dup(1), "w", encoding=real.encoding, closefd=True)
        real = cast("TextIO", _ReaderMayLeave(kept, owns=True))
        os.dup2(2, 1)
    _JSON_STDOUT.append(real)
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if real is not sys.stdout and _ASIDE_TO_THE_END[0]:
            real.flush()  # kept for the JSON object an error after this one writes
            atexit.register(_close_at_exit, real)
        else:
            _JSON_STDOUT.pop()
            if real is not sys.stdout:
                real.flush()
                os.dup2(real.fileno(), 1)
                real.close()


def _close_at_exit(kept: TextIO) -> None:
    """Close the stdout kept aside for the JSON object, once nothing is left to write there.

    An exit hook: it runs after the threads a plug-in left running were joined. Left open,
    the interpreter's teardown said ``sys:1: ResourceWarning: unclosed file
    <_io.TextIOWrapper name=3 ...>`` on stderr under ``python -X dev`` (``PYTHONDEVMODE=1``),
    after every ``--json`` command's last line.
    """
    with contextlib.suppress(OSError, ValueError):  # a reader that left; closed already
        kept.close()


def _on_fd1(stream: TextIO) -> bool:
    """Whether ``stream`` writes to file descriptor 1."""
    try:
        return stream.fileno() == 1
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return False


def emit_json(obj: dict[str, Any]) -> None:
    r"""The one JSON object of a ``--json`` command, on one stdout line (sorted keys), ASCII.

    A path that is not UTF-8 is said as ``_support.text`` says it (``bad\xffname``), and
    every character beyond ASCII is escaped (``\u00fc``): the same bytes under any locale,
    which any stdout can take (an ASCII one refused ``ü`` with a traceback).
    """
    out = _JSON_STDOUT[-1] if _JSON_STDOUT else sys.stdout
    text = json_dumps(utf8_texts(obj), orjson.OPT_SORT_KEYS).decode()  # any locale's paths
    print(text if text.isascii() else _NON_ASCII.sub(_json_escape, text), file=out)
    out.flush()  # the process may end by os._exit (threads a plug-in left running)
    _EMITTED[0] = True


_NON_ASCII: Final = re.compile(r"[^\x00-\x7f]")
_BMP_END: Final = 0xFFFF


def _json_escape(match: re.Match[str]) -> str:
    r"""A character beyond ASCII as JSON escapes it: ``\u00fc``, or a surrogate pair.

    Only a string can hold one in JSON text, and there an escape is the same character.
    """
    code = ord(match.group())
    if code <= _BMP_END:
        return f"\\u{code:04x}"
    code -= 0x10000
    return f"\\u{0xD800 + (code >> 10):04x}\\u{0xDC00 + (code & 0x3FF):04x}"


def json_emitted(*, reset: bool = False) -> bool:
    """Whether ``emit_json`` has printed the command's object (``reset``: a command starts).

    A signal that ends a ``--json`` command prints the error object only when none was
    printed yet: stdout holds exactly one.
    """
    emitted = _EMITTED[0]
    if reset:
        _EMITTED[0] = False
    return emitted


def not_sealed(what: str, run_dir: Path, *, once: str = ROOM_AGAIN) -> str:
    """``what`` tore a run: it is not sealed, and once ``once`` status and resume say what next."""
    return (
        f"{what}: the run is not sealed; once {once}, "
        f"`{command('status', run_dir)}` says whether `{command('resume', run_dir)}` "
        "can continue it"
    )


def checkpoint_refused(run_dir: Path, refused: BaseException | None) -> str:
    """``the sealing checkpoint DIR/checkpoint.json could not be written (ENOSPC: ...)``."""
    why = "" if refused is None else f" ({redact_text(said_errno(refused))})"
    return f"the sealing checkpoint {run_dir / names.CHECKPOINT} could not be written{why}"


def unwritten_checkpoint(run_dir: Path, status: str, refused: BaseException | None) -> str:
    """The line of a run sealed by its audit log whose sealing checkpoint was refused.

    It names the file and the ``OSError`` (``ENOSPC: No space left on device``), and what
    must be so, by its errno, before ``resume`` writes the checkpoint (and nothing else).
    """
    return (
        f"{checkpoint_refused(run_dir, refused)}: the run is sealed {status} all the same (its "
        f"audit log's C2_DRYRUN_STOP), and its checkpoint is still the one from before the "
        f"seal; once {once_fixed(errno_of(refused))}, `{command('resume', run_dir)}` writes it "
        "(nothing else changes)"
    )


def no_checkpoint_kept(run_dir: Path, status: str, refused: BaseException | None) -> str:
    """The line of a run sealed by its audit log that kept no checkpoint before its seal.

    Preflight rejected it before its first checkpoint, and the sealing one was refused:
    there is none to replace, and nothing for ``resume`` to write (``status`` agrees).
    """
    return (
        f"{checkpoint_refused(run_dir, refused)}: the run is sealed {status} all the same (its "
        "audit log's C2_DRYRUN_STOP); it ended before its first checkpoint, so it keeps none, "
        "and there is nothing to resume or write"
    )


def unsynced_seal(run_dir: Path, status: str, unsynced: str, once: str) -> str:
    """The line of a run sealed in its files whose sync failed at or after the stop record.

    Every tool reads it sealed (its audit file holds ``C2_DRYRUN_STOP``, and the counts
    agree), but the disk did not say it keeps it: a power cut may still lose the seal.
    """
    return (
        f"the run is sealed {status} (its audit log's C2_DRYRUN_STOP), but {unsynced}: the "
        f"seal is in the files but not known to be on disk; once {once}, "
        f"`{command('verify', run_dir)}` says whether the run is whole"
    )


def refused(exc: LiveSessionError, *, as_json: bool = False) -> int:
    """A writer refused because another holds the run (or its lease): one line, exit 3."""
    print(f"livesession: rejected: {error_line(str(exc))}", file=sys.stderr)  # noqa: T201 - the CLI's output
    if as_json:  # the same line, but a path under a Latin-1 locale read as UTF-8
        line = error_line(str(exc), in_json=True)
        emit_json({"ok": False, "exit_code": EXIT_REJECTED, "error": line})
    return EXIT_REJECTED


def checkpoint_written(exc: SealCheckpointWritten, *, as_json: bool = False) -> int:
    """``resume`` wrote a sealed run's missing sealing checkpoint: one line, the seal's code.

    0 for a run sealed ``COMPLETED``, 4 ``FAILED``, 3 ``REJECTED``: the code says what state
    the run directory is in, as ``dryrun``'s does.
    """
    status = exc.status
    code = {"COMPLETED": EXIT_OK, "REJECTED": EXIT_REJECTED}.get(status, EXIT_FAILED)
    line = valid_text(str(exc))
    print(f"livesession: resume: {line}", file=sys.stderr)  # noqa: T201 - the CLI's output
    if as_json:
        emit_json({"ok": code == EXIT_OK, "exit_code": code, "status": status, "note": line})
    return code
