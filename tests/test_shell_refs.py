"""A run held by a session an interactive shell still refers to: the refusal names where."""

from __future__ import annotations

import asyncio
import builtins
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from livesession import DryrunConfig, RunHeld, create_run, open_session, resume_run, verify_run
from livesession._rundir import shellrefs

_THIS = ", which is this very process: a session it opened still holds the run"
_FORGET = (
    "sys.last_exc = sys.last_value = sys.last_traceback = None"
    if sys.version_info >= (3, 12)
    else "sys.last_value = sys.last_traceback = None"
)


def _plain_repl(lines: list[str], refused: int) -> tuple[list[str], str]:
    """``lines`` typed into ``python -i``: the ``refused`` livesession errors it printed, and
    its output."""
    repl = subprocess.run(
        [sys.executable, "-i", "-q"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    said = [line for line in repl.stderr.splitlines() if "livesession._exceptions." in line]
    assert len(said) == refused, repl.stderr
    return said, repl.stdout


class TestInAPlainRepl:
    def test_del_leaves_the_repl_underscore_and_the_refusal_says_so(self, tmp_path: Path) -> None:
        """Bug: in `python -i`, a session the prompt showed (`>>> s`) was still held by the
        REPL's `_` after `del s`, and resume_run said only "close() that session first, or
        drop every reference to it", which the user believed done. The refusal names `_`
        and says `_.close()` seals it; doing so lets the run go, and the run verifies."""
        run_dir = tmp_path / "repl"
        lines = [
            "from livesession import DryrunConfig, create_run, resume_run",
            f"s = create_run(DryrunConfig(run_id='repl', steps=30), {str(tmp_path)!r})",
            "s.preflight(); s.activate(); s.run_n_steps(5)",
            "s",
            "del s",
            f"resume_run({str(run_dir)!r})",
            "_.close()",
        ]
        refusal, _ = _plain_repl(lines, refused=1)
        assert (
            f"{_THIS} (still referred to as `_` (the last value the shell showed): `_.close()` "
            "seals it); nothing was changed"
        ) in refusal[0]
        assert verify_run(run_dir).ok

    def test_a_session_held_by_the_last_traceback_alone_is_let_go_as_the_refusal_says(
        self, tmp_path: Path
    ) -> None:
        """Bug: a helper of the user's that made a session and raised left it in the frames
        of the traceback the REPL keeps (`sys.last_traceback`); a second create_run named
        that place but no way out, and no name to call close() on. The refusal now says
        what lets go of it; done, the run is a crash the next create_run says how to
        continue, and resume_run continues it in the same REPL."""
        run_dir = tmp_path / "tb"
        cfg = f"DryrunConfig(run_id='tb', steps=30), {str(tmp_path)!r}"
        lines = [
            "import sys",
            "from livesession import DryrunConfig, create_run, resume_run",
            "def go():",
            f"    s = create_run({cfg})",
            "    s.preflight(); s.activate(); s.run_n_steps(5)",
            "    raise ValueError('a bug in the analysis')",
            "",
            "go()",
            f"create_run({cfg})",
            _FORGET,
            f"create_run({cfg})",
            f"r = resume_run({str(run_dir)!r})",
            "r.run_to_end(30).status.value",
            "r.close()",
        ]
        said, shown = _plain_repl(lines, refused=2)
        assert (
            f"{_THIS} (still referred to as the traceback of the last error shown "
            f"(sys.last_traceback): `{_FORGET}` lets go of it, a crash at its last "
            "checkpoint); nothing was changed"
        ) in said[0]
        assert said[1].startswith("livesession._exceptions.RunExists: "), said[1]
        assert "or continue the crashed run with resume_run(" in said[1]
        assert "'COMPLETED'" in shown
        assert verify_run(run_dir).ok


class TestInAShellNamespace:
    def test_names_history_and_traceback_are_named(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """An IPython namespace (`__main__`, its `Out` history) and the last traceback shown:
        each place that refers to the holding session is named, the user's own name first,
        and the close() advice uses the first name; a session none of them refers to gets
        the words as before."""
        main = sys.modules["__main__"]
        cfg = DryrunConfig(run_id="nb", steps=20)
        session = create_run(cfg, tmp_path)
        run_dir = tmp_path / "nb"
        try:
            with pytest.raises(RunHeld) as plain:
                resume_run(run_dir)
            assert f"{_THIS}; nothing was changed" in str(plain.value)
            monkeypatch.setattr(main, "Out", {3: session, 4: "other"}, raising=False)
            monkeypatch.setattr(main, "_3", session, raising=False)
            monkeypatch.setattr(main, "desk", session, raising=False)
            monkeypatch.setattr(builtins, "_", session, raising=False)
            monkeypatch.setattr(sys, "last_traceback", _traceback_holding(session), raising=False)
            with pytest.raises(RunHeld) as named:
                create_run(cfg, tmp_path)
            assert (
                f"{_THIS} (still referred to as `desk`, `Out[3]`, `_3`, `_` (the last value the "
                "shell showed) and the traceback of the last error shown (sys.last_traceback): `desk.close()` seals it); "
                "nothing was changed"
            ) in str(named.value)
            monkeypatch.delattr(main, "desk")
            monkeypatch.delattr(main, "_3")
            monkeypatch.setattr(main, "Out", {}, raising=False)
            monkeypatch.setattr(builtins, "_", None, raising=False)
            with pytest.raises(RunHeld) as traceback_only:
                resume_run(run_dir)
            assert (
                f"{_THIS} (still referred to as the traceback of the last error shown "
                f"(sys.last_traceback): `{_FORGET}` lets go of it, a crash at its last "
                "checkpoint); nothing was changed"
            ) in str(traceback_only.value)
        finally:
            session.close()

    def test_ipythons_underscore_is_named_once(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Bug: IPython keeps the last value shown as `_` both in the user's namespace and in
        ``builtins``, so after `s` then `del s` the refusal said "still referred to as `_`
        and `_`". The one `_` is named once, as the last value the shell showed, wherever
        it stands among the namespace's names (`_` before `_3`, as IPython's table has it)."""
        main = sys.modules["__main__"]
        cfg = DryrunConfig(run_id="ipy", steps=20)
        with create_run(cfg, tmp_path) as session:
            monkeypatch.setattr(main, "_", session, raising=False)
            monkeypatch.setattr(builtins, "_", session, raising=False)
            with pytest.raises(RunHeld) as once:
                create_run(cfg, tmp_path)
            assert (
                f"{_THIS} (still referred to as `_` (the last value the shell showed): "
                "`_.close()` seals it); nothing was changed"
            ) in str(once.value)
            monkeypatch.setattr(main, "_3", session, raising=False)
            with pytest.raises(RunHeld) as with_history:
                create_run(cfg, tmp_path)
            assert (
                "(still referred to as `_` (the last value the shell showed) and `_3`: "
                "`_.close()` seals it)"
            ) in str(with_history.value)

    def test_an_async_session_entered_by_hand_is_named_with_await(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A notebook's `a = await open_session(...).__aenter__()` (top-level await) holds
        the run through the AsyncSession: the refusal names `a`, and says to await its
        close(), which is a coroutine."""
        main = sys.modules["__main__"]
        cfg = DryrunConfig(run_id="aio", steps=20)

        async def refused_while_open() -> str:
            block = open_session(cfg, out_dir=tmp_path)
            held = await block.__aenter__()
            monkeypatch.setattr(main, "a", held, raising=False)
            try:
                with pytest.raises(RunHeld) as refused:
                    create_run(cfg, tmp_path)
            finally:
                await block.__aexit__(None, None, None)
            return str(refused.value)

        said = asyncio.run(refused_while_open())
        assert f"{_THIS} (still referred to as `a`: `await a.close()` seals it);" in said
        assert verify_run(tmp_path / "aio").ok

    def test_what_does_not_hold_the_session_itself_is_not_named(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Only the session and its AsyncSession are named: another object that keeps the
        session as its ``_session`` (the user's wrapper) has no close() that seals it, and
        a last traceback whose frames hold something else is not the session's."""
        cfg = DryrunConfig(run_id="wrapped", steps=20)
        with create_run(cfg, tmp_path) as session:
            wrapper = SimpleNamespace(_session=session)
            monkeypatch.setattr(sys.modules["__main__"], "wrapper", wrapper, raising=False)
            other = _traceback_holding(object())
            monkeypatch.setattr(sys, "last_traceback", other, raising=False)
            with pytest.raises(RunHeld) as refused:
                create_run(cfg, tmp_path)
        assert f"{_THIS}; nothing was changed" in str(refused.value)

    def test_a_place_that_cannot_be_read_leaves_the_refusal_as_it_was(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Naming the places is a courtesy: one that raises as it is read (a namespace of
        an odd shell) leaves the refusal worded as before, never a second error."""

        def unreadable(_session: object) -> list[tuple[str, object]]:
            raise RuntimeError("dictionary changed size during iteration")

        monkeypatch.setattr(shellrefs, "_held_in_main", unreadable)
        cfg = DryrunConfig(run_id="odd", steps=20)
        with create_run(cfg, tmp_path), pytest.raises(RunHeld) as refused:
            create_run(cfg, tmp_path)
        assert f"{_THIS}; nothing was changed" in str(refused.value)


def _traceback_holding(session: object) -> object:
    def step(held: object) -> None:
        raise KeyboardInterrupt(repr(held))

    try:
        step(session)
    except KeyboardInterrupt as exc:
        return exc.__traceback__
    raise AssertionError("unreachable")  # pragma: no cover
