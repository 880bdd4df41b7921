"""A stop signal whose handler runs while Python runs a finalizer is not lost.

A handler that raises (Ctrl-C's ``KeyboardInterrupt``, the CLI's SIGTERM) inside a
``weakref.finalize`` callback, a ``__del__`` or a generator closed as it is freed had its
exception dropped there: Python printed "Exception ignored in ..." and a traceback, and the
command ran on and exited 0 as if never stopped. Each signal is raised by the finalizer
itself (``signal.raise_signal`` runs the handler at once), so nothing races the clock.
"""

from __future__ import annotations

import gc
import signal
import sys
import weakref
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession.cli import main
from livesession.status import run_status

_CODES = [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")]


class _Freed:
    """An object whose ``__del__`` raises the signal."""

    def __init__(self, signum: int) -> None:
        self.signum = signum

    def __del__(self) -> None:
        signal.raise_signal(self.signum)


class _Plain:
    """An object with no ``__del__``: a ``weakref.finalize`` callback alone runs."""


def _weakref_finalize(signum: int) -> None:
    thing = _Plain()
    weakref.finalize(thing, signal.raise_signal, signum)
    del thing


def _del(signum: int) -> None:
    thing = _Freed(signum)
    del thing


def _generator(signum: int) -> None:
    def steps() -> Iterator[int]:
        try:
            yield 1
        finally:
            signal.raise_signal(signum)

    gen = steps()
    next(gen)
    del gen  # closed as it is freed: GeneratorExit, then the handler's exception


_FINALIZERS: dict[str, Callable[[int], None]] = {
    "weakref.finalize": _weakref_finalize,
    "__del__": _del,
    "generator": _generator,
}


@pytest.fixture(name="run_dir", scope="module")
def _run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    assert main(["dryrun", "--out", str(out), "--run-id", "fin", "--steps", "10", "-q"]) == 0
    return out / "fin"


@pytest.mark.parametrize("how", sorted(_FINALIZERS))
@pytest.mark.parametrize("stop", _CODES, ids=["SIGINT", "SIGTERM"])
def test_a_stop_signal_inside_a_finalizer_ends_the_command_in_one_line(
    run_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    how: str,
    stop: tuple[int, int, str],
) -> None:
    """``verify`` ran on to exit 0 after "Exception ignored in ..." and a traceback: now
    it ends 130 / 143 with its one line (its work done: its result stands on stdout)."""
    from livesession import verify

    signum, code, said = stop
    real = verify.verify_run

    def freed_first(*args: Any, **kwargs: Any) -> Any:
        _FINALIZERS[how](signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(verify, "verify_run", freed_first)
    assert main(["verify", str(run_dir)]) == code
    err = capsys.readouterr().err
    assert err == f"livesession: {said}\n"
    assert signal.getsignal(signum) is not None  # the handlers were put back


def test_with_json_the_one_object_says_the_stop(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Its own object was printed already: stdout still holds exactly one."""
    from livesession import verify

    real = verify.verify_run

    def freed_first(*args: Any, **kwargs: Any) -> Any:
        _weakref_finalize(signal.SIGTERM)
        return real(*args, **kwargs)

    monkeypatch.setattr(verify, "verify_run", freed_first)
    assert main(["verify", str(run_dir), "--json"]) == 143
    captured = capsys.readouterr()
    assert captured.err == "livesession: terminated\n"
    assert orjson.loads(captured.out)["ok"] is True  # the work was done, and said


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_stop_a_finalizer_swallowed_while_the_run_is_created_stops_it_gracefully(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    signum: int,
) -> None:
    """While ``dryrun`` creates its run (a dropped session's ``_let_go``, say) the stop's
    exception was dropped and the run traded all its steps: now it stops at the first step
    boundary, sealed with the signal's reason, exit 0 as any graceful stop."""
    from livesession._rundir import create

    opened = create.open_plugins

    def freed_first(*args: Any, **kwargs: Any) -> Any:
        _weakref_finalize(signum)
        return opened(*args, **kwargs)

    monkeypatch.setattr(create, "open_plugins", freed_first)
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "20", "-q"]) == 0
    err = capsys.readouterr().err
    assert "Exception ignored" not in err
    assert "Traceback" not in err
    status = run_status(out / "r")
    assert status.reason == f"SIGNAL_{signal.Signals(signum).name}"
    assert status.steps is not None
    assert status.steps < 20


@pytest.mark.parametrize("stop", _CODES, ids=["SIGINT", "SIGTERM"])
def test_a_stop_a_finalizer_swallowed_before_the_run_s_handlers_ends_dryrun_with_no_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    stop: tuple[int, int, str],
) -> None:
    """While ``dryrun`` reads its config (before its handlers are in) a stop ends it with
    nothing written; one a finalizer swallowed there ran the whole run. Now it ends the
    command as the handlers would go in: its one line, 130 / 143, no run directory."""
    from livesession import _cli_runs

    signum, code, said = stop
    real = _cli_runs.load_config

    def freed_first(*args: Any, **kwargs: Any) -> Any:
        _weakref_finalize(signum)
        return real(*args, **kwargs)

    monkeypatch.setattr(_cli_runs, "load_config", freed_first)
    out = tmp_path / "runs"
    assert main(["dryrun", "--out", str(out), "--run-id", "r", "--steps", "20", "-q"]) == code
    assert capsys.readouterr().err == f"livesession: {said}\n"
    assert not (out / "r").exists()


def test_any_other_exception_a_finalizer_drops_is_reported_as_before() -> None:
    """Only a stop's exception is kept: the rest goes to the hook there was."""
    from livesession._support.signals import act_on_owed_stops, owed_stops

    seen: list[type[BaseException] | None] = []
    before = sys.unraisablehook
    sys.unraisablehook = lambda unraisable: seen.append(unraisable.exc_type)
    try:
        with owed_stops():
            thing = _Plain()
            weakref.finalize(thing, _raise, ValueError("dropped"))
            del thing
            gc.collect()
            act_on_owed_stops()  # nothing owed: nothing raised
    finally:
        sys.unraisablehook = before
    assert seen == [ValueError]


def _raise(exc: BaseException) -> None:
    raise exc


@pytest.mark.parametrize("shown", ["bar", "phase"])
def test_a_long_command_s_progress_on_a_terminal_ends_it_there(
    monkeypatch: pytest.MonkeyPatch, shown: str
) -> None:
    """On a terminal, where Ctrl-C comes from, ``verify``'s bar and ``evidence``'s phase
    lines are safe points: a stop a finalizer swallowed ends the command at the next one,
    not only once its work is done."""
    from livesession._cli_bar import phase_lines, terminal_bar
    from livesession._support.signals import owed_stops

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with owed_stops(), terminal_bar("verify") as progress:
            assert progress is not None
            show = phase_lines("evidence")
            assert show is not None
            _weakref_finalize(signal.SIGINT)  # swallowed: owed
            with pytest.raises(KeyboardInterrupt):
                progress(1, 2) if shown == "bar" else show("re-run")
    finally:
        signal.signal(signal.SIGINT, before)
