"""The failure matrix's runs in other processes: deterministic there, and resumable there?

Every other run of the matrix shares one process, so whatever varies from process to
process is the same in all of them: the hash of a ``str`` or ``bytes`` (salted by
``PYTHONHASHSEED``), hence the order of a set of them, and ``id()``. A strategy deciding by
those passes every in-process comparison, yet ``livesession evidence``, whose determinism
re-run is a second process, finds the run does not repeat. So the matrix runs its
fault-free reference (the uninterrupted run of the no-fault case) once more here, in a
child process with another ``PYTHONHASHSEED``, while it searches; then it compares the
bytes of the two runs' events and state snapshots.

Likewise, what lives outside the strategy object (a module-level or class-level dict, a
cache) survives every in-process kill and resume, though a real crash loses it. So the
child also kills the reference after a few of its quiet steps and hands what each kill
leaves (``Survivors``: checkpoint, lines, venue) to a second child, a fresh interpreter,
which resumes them; each resumed run's events must equal the child's uninterrupted run's.
The second child is started with the first and reads the first's stdout to its end (a
pipe, as in ``a | b``), so it resumes once the first has ended, beside the search, and the
parent owns both. A SIGTERM to the parent alone (a CI job's timeout, ``kill PID``) would end
it at once, its ``finally`` never run, leaving both children running and their scratch
behind: while they live, a SIGTERM whose handler is still the default (in the main thread)
stops them and removes the scratch first, then ends the process as that signal does.

The child must build the same strategy (and feed): the factories travel pickled, and pickle
names a module-level function or class by its module and name (a ``functools.partial`` of
one carries its arguments along). A lambda, a closure, a class defined in a function or
anything defined in ``__main__`` (a script) cannot be re-created there: ``payload`` says so
(``TypeError``, naming the fix) instead of the check being skipped without a word.
"""

from __future__ import annotations

import io
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs

from .._support.childpath import adopt_parent_path, another_hash_seed, child_env
from .._support.secrets import redact_text
from .._support.signals import end_by
from .._support.text import exception_text, printable_line
from ._rerun import factory_name

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from types import FrameType

__all__ = ["ChildRun", "child_hash_seed", "main", "payload"]

MODULE: Final = "livesession.testing._crossprocess"
"""What the parent runs with ``python -m``."""
TIMEOUT_BASE_S: Final = 120.0
TIMEOUT_PER_STEP_S: Final = 0.05
"""Generous: the child's one run of a few dozen steps takes about a second, imports included."""
TIMEOUT_PER_REFERENCE: Final = 8.0
"""And this many times what the fault-free case (a run and its resume) took in the parent:
the children run it about three times over (the run, its crash, up to four resumes), maybe
on a core the search shares. A strategy slow per bar is slow there too, and no finding."""
CANNOT_RECREATE: Final = 3
"""The child's exit code when it could not re-create the factories it was sent."""
RESUME: Final = "--resume"
"""The second child's first argument: resume what the first child left, then run on."""
_PAYLOAD: Final = "payload.pickle"
_STDERR: Final = "stderr.txt"
_RESULT: Final = "result.pickle"
_SURVIVORS: Final = "survivors.pickle"
_RESUMER_STDERR: Final = "stderr-resume.txt"
_RESUMED: Final = "resumed.pickle"
_RESUME_FAILED: Final = (
    " (the same resume within one process did not fail: does it need state that does not"
    " survive a resume in a new process, module-level or class-level state, a cache?)"
)
_REASON_CHARS: Final = 300
_FIX: Final = (
    "define it at module level in an importable module (a function or a class, or a "
    "functools.partial of one), or pass cross_process=False to skip that check"
)


class _NoMain(pickle.Pickler):
    """A pickler that refuses what only this process can name: anything in ``__main__``."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, type | types.FunctionType) and obj.__module__ == "__main__":
            msg = f"{obj.__qualname__} is defined in __main__, which another process cannot import"
            raise pickle.PicklingError(msg)
        return NotImplemented


def payload(
    strategy_factory: Callable[[], object],
    feed_factory: Callable[[], object] | None,
    config: Mapping[str, Any],
    steps: int,
) -> bytes:
    """What the child needs to run the reference, pickled; ``TypeError`` naming what cannot be.

    Each part is tried alone, so the error names the one a child could not re-create.
    """
    parts: dict[str, Any] = {
        "strategy_factory": strategy_factory,
        "feed_factory": feed_factory,
        "config": dict(config),
        "steps": steps,
    }
    for role, value in parts.items():
        try:
            _pickled(value)
        except Exception as exc:  # noqa: BLE001 - pickle raises more than PicklingError
            what = "config" if role == "config" else f"{role} {factory_name(value)}"
            fix = "give it plain values (str, int, Decimal, mappings)" if role == "config" else _FIX
            msg = (
                f"{what} cannot be re-created in a child process for the cross-process"
                f" determinism check ({_one_line(exc)}): {fix}"
            )
            raise TypeError(msg) from None
    return _pickled(parts)


def _pickled(value: object) -> bytes:
    buffer = io.BytesIO()
    _NoMain(buffer, protocol=pickle.HIGHEST_PROTOCOL).dump(value)
    return buffer.getvalue()


def child_hash_seed() -> int:
    """A ``PYTHONHASHSEED`` other than this process's (which, unset, is random)."""
    seed = another_hash_seed()
    return 1 if seed is None else seed


@attrs.define
class ChildRun:
    """The child processes: ``start``, then ``lines`` and ``resumed``; ``close`` always."""

    process: subprocess.Popen[bytes]
    resumer: subprocess.Popen[bytes] | None
    scratch: Path
    hash_seed: int
    timeout_s: float
    deadline: float

    @classmethod
    def start(cls, sent: bytes, *, steps: int, resume: bool, reference_s: float) -> ChildRun:
        """Start the child on ``sent`` (from ``payload``) now; it runs while the matrix does.

        ``resume``: start the second child too, which resumes the first one's crash.
        ``reference_s``: the seconds the fault-free case took in this process, which the
        children's time limit allows for many times over (``TIMEOUT_PER_REFERENCE``).
        """
        scratch = Path(tempfile.mkdtemp(prefix="livesession-matrix-"))
        (scratch / _PAYLOAD).write_bytes(sent)
        hash_seed = child_hash_seed()
        # The parent's sys.path, so the child imports the same livesession and factories.
        env = child_env(PYTHONHASHSEED=str(hash_seed))
        timeout_s = (
            TIMEOUT_BASE_S + TIMEOUT_PER_STEP_S * steps + TIMEOUT_PER_REFERENCE * reference_s
        )
        out = subprocess.PIPE if resume else subprocess.DEVNULL
        process = _python(scratch, _STDERR, [str(scratch)], env, stdout=out)
        resumer = None
        if process.stdout is not None:
            try:
                args = [RESUME, str(scratch)]
                resumer = _python(scratch, _RESUMER_STDERR, args, env, stdin=process.stdout)
            except BaseException:
                process.kill()
                process.wait()
                raise
            finally:
                process.stdout.close()  # the second child holds the pipe's reading end
        child = cls(process, resumer, scratch, hash_seed, timeout_s, time.monotonic() + timeout_s)
        _ON_SIGTERM.watch(child)
        return child

    def lines(self) -> dict[str, list[bytes]]:
        """The child run's lines by sink (``events``, ``states``), once it has ended.

        Raises:
            TypeError: the child could not re-create the factories (an import failed).
            AssertionError: the child's run failed or did not end within its time limit.
        """
        where = f"the reference run in a child process (PYTHONHASHSEED={self.hash_seed})"
        self._ended(self.process, where, _STDERR)
        lines: dict[str, list[bytes]] = pickle.loads((self.scratch / _RESULT).read_bytes())  # noqa: S301 - our child's
        return lines

    def resumed(self) -> list[tuple[int, list[bytes]]]:
        """Each kill step and the events of the reference resumed from it in the second child.

        Empty when the second child was not started, or the run had no step to kill it after.

        Raises:
            TypeError: the second child could not re-create the factories.
            AssertionError: the resume failed or did not end within the time limit.
        """
        if self.resumer is None:
            return []
        where = (
            "the reference run killed in a child process and resumed in another"
            f" (PYTHONHASHSEED={self.hash_seed})"
        )
        self._ended(self.resumer, where, _RESUMER_STDERR, _RESUME_FAILED)
        path = self.scratch / _RESUMED
        if not path.exists():
            return []
        resumed: list[tuple[int, list[bytes]]] = pickle.loads(path.read_bytes())  # noqa: S301 - our child's
        return resumed

    def _ended(
        self, process: subprocess.Popen[bytes], where: str, stderr: str, hint: str = ""
    ) -> None:
        """Wait for ``process`` within the deadline; raise what its failure says.

        ``hint`` follows the reason when the process ran and failed.
        """
        try:
            code = process.wait(timeout=max(self.deadline - time.monotonic(), 0.0))
        except subprocess.TimeoutExpired:
            msg = f"{where} did not finish within {self.timeout_s:g} s and was stopped"
            raise AssertionError(msg) from None
        said = redact_text(_last_line(self.scratch / stderr))
        if code == CANNOT_RECREATE:
            msg = f"{where} could not re-create the factories ({said}): {_FIX}"
            raise TypeError(msg)
        if code != 0:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise AssertionError(f"{where} {how}: {said}{hint}")

    def close(self) -> None:
        """Stop the children still running and remove their scratch directory."""
        for process in (self.process, self.resumer):
            if process is not None and process.poll() is None:
                process.kill()
            if process is not None:
                process.wait()
        shutil.rmtree(self.scratch, ignore_errors=True)
        _ON_SIGTERM.unwatch(self)


class _OnSigterm:
    """While children live, a SIGTERM closes them (and their scratch) before it ends us.

    Installed only over the default handler, in the main thread (the only one a handler can
    be set from), and put back when the last child is closed unless another was set since:
    a program's own SIGTERM handler is left to it.
    """

    def __init__(self) -> None:
        self._children: list[ChildRun] = []
        self._installed = False

    def watch(self, child: ChildRun) -> None:
        self._children.append(child)
        if self._installed or threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, self._terminated)
            self._installed = True

    def unwatch(self, child: ChildRun) -> None:
        self._children = [other for other in self._children if other is not child]
        if self._installed and not self._children:
            self._installed = False
            if signal.getsignal(signal.SIGTERM) == self._terminated:  # not one put in since
                signal.signal(signal.SIGTERM, signal.SIG_DFL)

    def _terminated(self, signum: int, frame: FrameType | None) -> None:  # noqa: ARG002
        """Close the children, then end as the signal ends a process (``end_by``).

        As the first process of a PID namespace (a test suite run as a container's command,
        no init) the signal raised again at its default action was dropped: the process
        went on, its children killed and their scratch gone, and the matrix failed on a
        missing file (``FileNotFoundError: .../stderr.txt``). It exits 143 there now.
        """
        for child in list(self._children):
            child.close()
        self._installed = False
        end_by(signal.SIGTERM)


_ON_SIGTERM: Final = _OnSigterm()


def _python(
    scratch: Path,
    stderr: str,
    args: list[str],
    env: dict[str, str],
    *,
    stdin: Any = subprocess.DEVNULL,
    stdout: Any = subprocess.DEVNULL,
) -> subprocess.Popen[bytes]:
    """This module, run by this interpreter, with its stderr to ``stderr`` in ``scratch``."""
    with (scratch / stderr).open("wb") as err:
        return subprocess.Popen(  # noqa: S603 - our own module, by this interpreter
            [sys.executable, "-m", MODULE, *args],
            stdin=stdin, stdout=stdout, stderr=err, env=env,
        )  # fmt: skip


def _last_line(path: Path) -> str:
    lines = path.read_bytes().decode("utf-8", "replace").strip().splitlines()
    return lines[-1].strip()[:_REASON_CHARS] if lines else "no reason given"


def _one_line(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {printable_line(' '.join(exception_text(exc).split()))}"


def main(argv: list[str] | None = None) -> int:
    """A child: ``SCRATCH`` runs the reference; ``--resume SCRATCH`` resumes its crash."""
    args = sys.argv[1:] if argv is None else argv
    adopt_parent_path()  # before the payload's factories are imported
    if args[0] == RESUME:
        return _resume(Path(args[1]))
    return _reference(Path(args[0]))


def _reference(scratch: Path) -> int:
    """Re-create the factories, run the reference (and its crash), write both to SCRATCH."""
    parts = _load(scratch / _PAYLOAD)
    if parts is None:
        return CANNOT_RECREATE
    from .matrix import reference_lines  # noqa: PLC0415 - matrix imports this module

    try:
        lines, survivors = reference_lines(
            parts["strategy_factory"], parts["feed_factory"], parts["config"], parts["steps"]
        )
    except Exception as exc:  # noqa: BLE001 - any failure is the reason, one line
        print(_one_line(exc), file=sys.stderr)  # noqa: T201 - to the parent
        return 1
    if survivors:
        (scratch / _SURVIVORS).write_bytes(pickle.dumps(survivors))
    (scratch / _RESULT).write_bytes(pickle.dumps(lines))
    return 0


def _resume(scratch: Path) -> int:
    """Once the first child has ended, resume its crashes here, in a new interpreter.

    The latest kill first: that resume finds this interpreter as fresh as a real resume
    does. Each later one starts before any bar this process has seen, so what the earlier
    ones left in a module's globals (a cache by bar time, say) cannot stand in for it.
    """
    from .matrix import resumed_lines  # noqa: PLC0415 - matrix imports this module

    # The imports (the factories' modules too, as a resume imports them) while the first
    # child runs; then wait for its end: its stdout is this stdin.
    parts = _load(scratch / _PAYLOAD)
    sys.stdin.buffer.read()
    if parts is None:
        return CANNOT_RECREATE
    if not (scratch / _SURVIVORS).exists():
        return 0  # no step to kill it after, or the first child failed (the parent says)
    crashes = _load(scratch / _SURVIVORS)
    if crashes is None:
        return CANNOT_RECREATE
    resumed = []
    try:
        for survivors in sorted(crashes, key=lambda left: -left.kill_after):
            args = (parts["strategy_factory"], parts["feed_factory"], parts["config"])
            events = resumed_lines(*args, parts["steps"], survivors)
            resumed.append((survivors.kill_after, events))
    except Exception as exc:  # noqa: BLE001 - any failure is the reason, one line
        print(_one_line(exc), file=sys.stderr)  # noqa: T201 - to the parent
        return 1
    (scratch / _RESUMED).write_bytes(pickle.dumps(resumed))
    return 0


def _load(path: Path) -> Any:
    """What the parent (or the first child) pickled; None, said on stderr, if it cannot be."""
    try:
        return pickle.loads(path.read_bytes())  # noqa: S301 - our parent's, or our sibling's
    except Exception as exc:  # noqa: BLE001 - any failure is the reason, one line
        print(_one_line(exc), file=sys.stderr)  # noqa: T201 - to the parent
        return None


if __name__ == "__main__":
    sys.exit(main())
