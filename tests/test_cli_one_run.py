"""A command that acts on one run, given several (a shell's glob over a desk's out directory).

Bug (found writing a desk's CI script from the docs): ``livesession verify out/runs/*``
said ``livesession: error: unrecognized arguments: out/runs/demo-002 out/runs/demo-003 ...``,
every path after the first on one line (300 of them over a large out directory), and
nothing of why: the paths are run directories, which ``verify`` takes one at a time. The
refusal now says so, names the first few, and gives the loop that checks them all; an
unknown option keeps argparse's own words. Still exit 2, nothing read.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from livesession.cli import main

_LOOP = 'rc=0; for run in out/runs/*/; do livesession {verb} "$run" || rc=1; done; test $rc = 0'


def _refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one stderr line of a command refused with exit 2, nothing on stdout."""
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    return captured.err


@pytest.mark.parametrize("verb", ["verify", "status", "evidence", "report", "resume", "stop"])
def test_several_run_directories_are_refused_saying_one_at_a_time(
    verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = [f"out/runs/demo-00{n}" for n in range(1, 6)]
    assert _refusal(capsys, verb, *runs) == (
        f"livesession: error: {verb} takes one run directory, given 5 (out/runs/demo-001, "
        "out/runs/demo-002, out/runs/demo-003, ...): run it once for each, "
        f"`{_LOOP.format(verb=verb)}`\n"
    )


def test_json_says_it_in_its_one_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second = tmp_path / "a b" / "r1", tmp_path / "a b" / "r2"
    assert main(["verify", "--json", str(first), str(second)]) == 2
    captured = capsys.readouterr()
    document = json.loads(captured.out)
    loop = (
        f"rc=0; for run in '{tmp_path}/a b'/*/; do livesession verify \"$run\" || rc=1; done; "
        "test $rc = 0"
    )
    assert document == {
        "ok": False,
        "exit_code": 2,
        "error": f"verify takes one run directory, given 2 ({first}, {second}): run it once "
        f"for each, `{loop}`",
    }
    assert captured.err == f"livesession: error: {document['error']}\n"


def test_an_unknown_option_keeps_its_own_words(capsys: pytest.CaptureFixture[str]) -> None:
    said = _refusal(capsys, "verify", "out/runs/demo-001", "--bogus")
    assert said == "livesession: error: unrecognized arguments: --bogus\n"
    said = _refusal(capsys, "verify", "out/runs/demo-001", "out/runs/demo-002", "--bogus")
    assert said == "livesession: error: unrecognized arguments: out/runs/demo-002 --bogus\n"


def test_three_are_all_named_and_the_loop_is_over_the_first_one_s_directory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Three run directories are named whole (no ``...``: none is left out), and the loop
    runs over the directory of the first one given, as a glob's first path says."""
    runs = ["out/runs/demo-001", "elsewhere/demo-002", "elsewhere/demo-003"]
    assert _refusal(capsys, "verify", *runs) == (
        "livesession: error: verify takes one run directory, given 3 (out/runs/demo-001, "
        "elsewhere/demo-002, elsewhere/demo-003): run it once for each, "
        f"`{_LOOP.format(verb='verify')}`\n"
    )


@pytest.mark.parametrize(
    ("argv", "stray"), [(["list", "out/a", "out/b"], "out/b"), (["dryrun", "stray"], "stray")]
)
def test_a_command_that_takes_no_run_directory_keeps_argparse_s_words(
    capsys: pytest.CaptureFixture[str], argv: list[str], stray: str
) -> None:
    """Words left over by a command that takes no run directory are not called runs."""
    assert _refusal(capsys, *argv) == f"livesession: error: unrecognized arguments: {stray}\n"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["dryrun", "--stpes", "5"], "--stpes 5 (did you mean --steps?)"),
        (["dryrun", "--run-idd", "t1"], "--run-idd t1 (did you mean --run-id?)"),
        (["dryrun", "--run_id=t1"], "--run_id=t1 (did you mean --run-id?)"),
        (["dryrun", "--confg", "desk.toml"], "--confg desk.toml (did you mean --config?)"),
        (["evidence", "out/runs/demo-001", "--output", "ev"], "--output ev (did you mean --out?)"),
        (
            ["verify", "out/runs/demo-001", "--manfest", "m"],
            "--manfest m (did you mean --manifest?)",
        ),
        (["resume", "out/runs/demo-001", "--jsn"], "--jsn (did you mean --json?)"),
    ],
)
def test_a_misspelt_option_is_told_the_one_it_is_near(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    """Bug (a new user's first day, by the docs): a misspelt config key is told the key it
    is near (``unknown config key stpes (did you mean steps?)``), but the same typo as an
    option said only ``unrecognized arguments: --stpes 5``. Now it names the command's
    option it is near, as the key's refusal does; still one line, exit 2, nothing run."""
    assert _refusal(capsys, *argv) == f"livesession: error: unrecognized arguments: {said}\n"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--versoin"], "unrecognized arguments: --versoin (did you mean --version?)"),
        (["--verison=1"], "unrecognized arguments: --verison=1 (did you mean --version?)"),
        (["--hepl"], "unrecognized arguments: --hepl (did you mean --help?)"),
    ],
)
def test_a_misspelt_option_before_any_command_is_told_the_one_it_is_near(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    """Bug (a new user's first hour): ``livesession --versoin`` said ``the following
    arguments are required: COMMAND``, though a command's misspelt option names the one
    it is near. The options before the command now get the same."""
    assert _refusal(capsys, *argv) == f"livesession: error: {said}\n"


@pytest.mark.parametrize(("given", "meant"), [("dryrn", "dryrun"), ("stauts", "status")])
def test_a_misspelt_command_is_told_the_one_it_is_near(
    capsys: pytest.CaptureFixture[str], given: str, meant: str
) -> None:
    """``livesession dryrn`` listed all twelve commands and left the user to find the one
    meant among them: the refusal now names it first, then lists them as before."""
    said = _refusal(capsys, given)
    assert said.startswith(
        f"livesession: error: argument COMMAND: invalid choice: {given!r} "
        f"(did you mean {meant}? choose from 'dryrun', 'resume', "
    ), said
    assert said.endswith("'burnin')\n"), said


@pytest.mark.parametrize("argv", [["nonsense"], ["--steps", "5"], ["--bogus"]])
def test_a_command_or_option_near_none_is_refused_as_before(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    """No guess where none is near: ``livesession --steps 5`` still says a command is needed."""
    assert "did you mean" not in _refusal(capsys, *argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["dryrun", "--bogus"],  # near no option (difflib's default took it for --out)
        ["resume", "out/runs/demo-001", "--stpes", "5"],  # resume's hidden --steps: refused
        ["verify", "out/runs/demo-001", "--steps", "5"],  # another command's option
    ],
)
def test_an_option_near_none_of_the_command_s_is_named_alone(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    said = _refusal(capsys, *argv)
    assert said.startswith("livesession: error: unrecognized arguments: --"), said
    assert "did you mean" not in said


@pytest.mark.parametrize("verb", ["verify", "report", "evidence", "status", "resume", "burnin"])
def test_a_command_on_a_run_given_none_says_what_a_run_directory_is(
    capsys: pytest.CaptureFixture[str], verb: str
) -> None:
    """Bug (a new user's first day, by the docs): ``livesession verify`` alone said
    ``the following arguments are required: run_dir``, naming neither what a run directory
    is nor where ``dryrun`` put one. It now says both, with the command to run."""
    said = _refusal(capsys, verb)
    assert said.startswith("livesession: error: the following arguments are required: "), said
    assert said.endswith(
        f" ({verb} takes a run directory, OUT/<run_id>, as dryrun names it after `artifacts`: "
        f"`livesession {verb} out/runs/demo-001`; `livesession list out/runs` shows the runs "
        "there)\n"
    ), said


def test_list_given_nothing_says_which_directory(capsys: pytest.CaptureFixture[str]) -> None:
    assert _refusal(capsys, "list") == (
        "livesession: error: the following arguments are required: out_dir (the directory "
        "that holds the runs: `livesession list out/runs`, where dryrun puts them without "
        "--out)\n"
    )


@pytest.mark.broken_run("a-bad's events.jsonl is changed on purpose: the loop must see it")
def test_the_loop_it_gives_ends_with_an_exit_code_a_script_can_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug (a desk verifying the 200 runs of a batch before a review): the loop the refusal
    gave, ``for run in out/*/; do livesession verify "$run"; done``, exits with the last
    run's code: a run not clean before a clean last one left it 0, and a script's
    ``set -e`` or ``&& hand-over`` went on. The loop now ends non-zero when any did."""
    out = tmp_path / "out" / "runs"
    for run in ("a-bad", "b-good"):
        argv = ["dryrun", "-q", "--run-id", run, "--steps", "20", "--out", str(out)]
        assert main(argv) == 0
    events = out / "a-bad" / "events.jsonl"
    events.write_bytes(events.read_bytes().replace(b'"BAR"', b'"BAX"', 1))
    capsys.readouterr()
    said = _refusal(capsys, "verify", str(out / "a-bad"), str(out / "b-good"))
    loop = said.rstrip("\n").split("`")[1]
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    ran = subprocess.run(["sh", "-c", loop], env=env, capture_output=True, text=True, check=False)
    assert ran.returncode == 1, (loop, ran.stdout, ran.stderr)
    assert f"OK {out}/b-good:" in ran.stdout
    assert loop == (
        f'rc=0; for run in {out}/*/; do livesession verify "$run" || rc=1; done; test $rc = 0'
    )
    for page in ("RUNBOOK.md", "docs/operations.md"):  # the docs' loop, run as written
        text = (Path(__file__).resolve().parents[1] / page).read_text(encoding="utf-8")
        (line,) = [x for x in text.splitlines() if x.startswith("rc=0; for run in out/runs/")]
        ran = subprocess.run(
            ["sh", "-c", line], cwd=tmp_path, env=env, capture_output=True, text=True, check=False
        )
        assert (ran.returncode, ran.stdout) == (1, "not clean: out/runs/a-bad/\n"), ran.stderr
