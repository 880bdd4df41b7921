"""A sweep's run made in code, its strategy package beside the sweep's script, then crashed.

The script finds the package on its own ``sys.path`` and gives the config no ``base_dir``;
a resume looks in the run's ``base_dir``, then the installed packages, and finds nothing.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from livesession import DryrunConfig, PluginError, create_run, resume_run
from livesession.cli import main
from livesession.status import Verdict, run_status

from _helpers import dropped_unclosed

MYDESK = Path(__file__).resolve().parents[1] / "examples" / "mydesk"


@pytest.fixture(autouse=True)
def _mydesk_as_it_was() -> Iterator[None]:
    """No mydesk imported while the test runs, and sys.modules' mydesk as before it after.

    The examples' mydesk an earlier test on this worker imported would stand in for the
    sweep's copy in tmp_path (the run would record its file), and the copy a resume here
    imports would stand in for the package in the next test.
    """
    before = {name: module for name, module in sys.modules.items() if _is_mydesk(name)}
    for name in before:
        del sys.modules[name]
    yield
    for name in [name for name in sys.modules if _is_mydesk(name)]:
        del sys.modules[name]
    sys.modules.update(before)


def _is_mydesk(name: str) -> bool:
    return name == "mydesk" or name.startswith("mydesk.")


def _crashed_sweep_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, crash: bool = True
) -> tuple[Path, Path]:
    """One point of a sweep, its process gone at step 150 (``crash``, else run to its end):
    the run and the script's folder."""
    here = tmp_path / "sweep"
    shutil.copytree(MYDESK, here / "mydesk", ignore=shutil.ignore_patterns("__pycache__"))
    with monkeypatch.context() as inside:  # the script's own sys.path: python sweep.py
        inside.syspath_prepend(str(here))
        config = DryrunConfig.from_mapping(
            {
                "run_id": "f5",
                "steps": 300,
                "checkpoint_every": 100,
                "strategy_factory": "mydesk.breakout:make_strategy",
                "strategy_params": {"lookback": 5},
            }
        )
        if crash:
            dropped_unclosed(lambda: create_run(config, tmp_path / "out"), 150)
        else:
            with create_run(config, tmp_path / "out") as session:
                assert session.preflight()
                session.activate()
                assert session.run_to_end(300).steps == 300
    for name in ("mydesk.breakout", "mydesk"):  # another process: nothing imported
        monkeypatch.delitem(sys.modules, name, raising=False)
    return tmp_path / "out" / "f5", here


def _said(file: Path, here: Path) -> str:
    """What status, resume, evidence and burnin --drill say of the crashed run's strategy."""
    return (
        "the source of strategy 'mydesk.breakout:make_strategy' cannot be found: no module "
        f"mydesk.breakout in the installed packages; the run recorded {file}, which is there "
        f"unchanged, but {here} is not searched (the program that made the run imported "
        "mydesk from its own sys.path; a resume looks in the run's base_dir, then the "
        "installed packages): continue it with resume_run from a Python program that "
        f"imports mydesk (a script in {here}), or with `PYTHONPATH={here} livesession "
        f"resume` from another directory; a run made in code finds it again with "
        f"base_dir={str(here)!r} in its config"
    )


def test_a_crashed_sweep_run_says_its_code_is_there_and_where_to_continue_it(tmp_path, monkeypatch):
    """Bug: `livesession status` of such a run said `the source of strategy
    'sweepdesk.smastop:make' cannot be found: ... (the run recorded .../sweepdesk/smastop.py):
    restore the code the run started with, or install it`, with the code right there,
    unchanged, and `livesession resume` (and resume_run) said `sweepdesk is in the current
    directory, which is never searched: name it in a config file beside it ... and pass
    --config`, which resume does not take. Both now say the file is there unchanged, and
    how to continue the run."""
    run_dir, here = _crashed_sweep_run(tmp_path, monkeypatch)
    monkeypatch.chdir(here)  # the quant's shell, in the sweep's folder
    file = here / "mydesk" / "breakout.py"
    said = _said(file, here)
    status = run_status(run_dir)
    assert (status.verdict, status.resume_problem) == (Verdict.NEEDS_OPERATOR, said)
    with pytest.raises(PluginError) as refused:
        resume_run(run_dir)
    assert str(refused.value) == said
    assert run_status(run_dir).steps == 100  # nothing was changed

    monkeypatch.chdir(tmp_path)  # the sweep's script, resume_run in it, continues it
    monkeypatch.syspath_prepend(str(here))
    with resume_run(run_dir) as session:
        assert session.run_to_end(300).steps == 300


@pytest.mark.broken_run("left crashed: the point is what is said of it")
@pytest.mark.parametrize("argv", [["evidence"], ["burnin", "--drill"]])
def test_evidence_and_the_drill_of_a_crashed_sweep_run_say_what_status_says(
    tmp_path, monkeypatch, capsys, argv
):
    """Bug: `livesession evidence` and `burnin --drill` of such a run, in the sweep's
    folder, said `strategy_factory: cannot import 'mydesk.breakout:make_strategy': No
    module named 'mydesk'; mydesk is in the current directory, which is never searched:
    name it in a config file beside it ... and pass --config`, which neither takes. They
    now say what status says: the file is there unchanged, and how to continue the run."""
    run_dir, here = _crashed_sweep_run(tmp_path, monkeypatch)
    monkeypatch.chdir(here)
    before = sorted(path.name for path in run_dir.iterdir())
    capsys.readouterr()
    assert main([*argv, str(run_dir)]) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    said = _said(here / "mydesk" / "breakout.py", here)
    assert err.startswith(f"livesession: error: {said}; {' '.join(argv)} re-runs the run"), err
    assert run_status(run_dir).resume_problem == said
    assert sorted(path.name for path in run_dir.iterdir()) == before  # nothing was written


@pytest.mark.parametrize("verb", ["ack", "kill", "stop"])
def test_a_signal_to_a_crashed_sweep_run_says_what_status_says(tmp_path, monkeypatch, capsys, verb):
    """Bug: `livesession ack` (`kill`, `stop`) of such a run, no process writing it, said
    `pid N ended: unfinished (no C2_DRYRUN_STOP): continue it with `livesession resume
    DIR``, which refuses it (the package is not searched). It now says what status says."""
    run_dir, here = _crashed_sweep_run(tmp_path, monkeypatch)
    monkeypatch.chdir(here)
    before = {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}
    capsys.readouterr()
    main([verb, str(run_dir), "--timeout", "1"])
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1, err
    assert f"unfinished (no C2_DRYRUN_STOP): {_said(here / 'mydesk' / 'breakout.py', here)}" in (
        err
    )
    assert "livesession resume" not in err.replace(f"PYTHONPATH={here} livesession resume", "")
    after = {path.name: path.read_bytes() for path in run_dir.iterdir() if path.is_file()}
    assert after == before  # nothing was sent, nothing written
    monkeypatch.chdir(tmp_path)  # as the words say: resume_run from a script importing mydesk
    monkeypatch.syspath_prepend(str(here))
    with resume_run(run_dir) as session:
        assert session.run_to_end(300).steps == 300


def test_evidence_of_a_sealed_sweep_run_names_the_folder_to_the_command(
    tmp_path, monkeypatch, capsys
):
    """A point that ran to its end is re-run, not continued: `livesession evidence` said the
    import's `... pass --config`; it says the file is there unchanged, and how to name its
    folder to the command."""
    run_dir, here = _crashed_sweep_run(tmp_path, monkeypatch, crash=False)
    monkeypatch.chdir(here)
    capsys.readouterr()
    assert main(["evidence", str(run_dir)]) == 2
    err = capsys.readouterr().err
    file = here / "mydesk" / "breakout.py"
    assert err.startswith(
        "livesession: error: the source of strategy 'mydesk.breakout:make_strategy' cannot be "
        "found: no module mydesk.breakout in the installed packages; the run recorded "
        f"{file}, which is there unchanged, but {here} is not searched (the program that "
        "made the run imported mydesk from its own sys.path; a re-run looks in the run's "
        f"base_dir, then the installed packages): name it to the command with `PYTHONPATH="
        f"{here}` before it, from another directory; a run made in code finds it again with "
        f"base_dir={str(here)!r} in its config; evidence re-runs the run"
    ), err
    assert not (run_dir / "manifest.json").exists()


def test_code_changed_since_the_sweep_run_is_still_said_to_be_restored(tmp_path, monkeypatch):
    """The file there, but not as the run started it: restore the code, as before."""
    run_dir, here = _crashed_sweep_run(tmp_path, monkeypatch)
    code = here / "mydesk" / "breakout.py"
    kept = code.read_text()
    code.write_text(kept + "# tuned after the run started\n")
    problem = str(run_status(run_dir).resume_problem)
    assert problem.endswith(": restore the code the run started with, or install it")
    assert "there unchanged" not in problem
    with pytest.raises(PluginError) as refused:
        resume_run(run_dir)
    assert "No module named 'mydesk'" in str(refused.value)
    assert "there unchanged" not in str(refused.value)
    code.write_text(kept)
    monkeypatch.syspath_prepend(str(here))
    with resume_run(run_dir) as session:
        assert session.run_to_end(300).steps == 300
