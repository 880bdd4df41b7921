"""A command's option given before the command (``livesession --json list out/runs``).

Bug (a desk's script, written from memory of other tools): ``livesession --json list
out/runs`` said ``unrecognized arguments: --json``, though ``list`` has ``--json``, and
``livesession --steps 5 dryrun`` said ``invalid choice: '5'``, taking the value for the
command. The options before the command are the top-level parser's own (``--version``,
``--help``); a command's option given there is now refused in one line that names the
command it belongs to and the command line to run instead. Still exit 2, nothing run.
"""

from __future__ import annotations

import argparse
import json
import shlex

import pytest

from livesession.cli import build_parser, main


def _refusal(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """The one stderr line of a command line refused with exit 2 (stdout: ``--json``'s object)."""
    assert main(list(argv)) == 2
    captured = capsys.readouterr()
    said = captured.err.removeprefix("livesession: error: ").removesuffix("\n")
    assert captured.out == (
        ""
        if "--json" not in argv
        else json.dumps({"error": said, "exit_code": 2, "ok": False}, separators=(",", ":")) + "\n"
    )
    return captured.err


def _commands() -> dict[str, argparse.ArgumentParser]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("no commands")


def _every_option() -> list[tuple[str, str, list[str], list[str]]]:
    """(command, option, the option's words, the command's positional words), for each
    option a user may give a command (none argparse hides, no --help)."""
    cases = []
    for command, parser in _commands().items():
        positional = [
            "out/runs/demo-001" for action in parser._actions if not action.option_strings
        ]
        for action in parser._actions:
            if action.help == argparse.SUPPRESS or "--help" in action.option_strings:
                continue
            for option in action.option_strings:
                value = [] if action.nargs == 0 else [str(next(iter(action.choices or ["5"])))]
                cases.append((command, option, [option, *value], positional))
    return cases


@pytest.mark.parametrize(
    ("command", "option", "words", "positional"),
    _every_option(),
    ids=[f"{case[0]}{case[1]}" for case in _every_option()],
)
def test_every_command_s_option_before_it_is_told_where_it_goes(
    capsys: pytest.CaptureFixture[str],
    command: str,
    option: str,
    words: list[str],
    positional: list[str],
) -> None:
    said = _refusal(capsys, *words, command, *positional)
    line = shlex.join(["livesession", command, *words, *positional])
    assert said == (
        f"livesession: error: {option} is an option of {command}, given before it: write `{line}`\n"
    )
    # The line it gives is one the parser takes whole, the option as the command's.
    args, extra = build_parser().parse_known_args(shlex.split(line)[1:])
    assert (args.command, extra) == (command, [])


def test_json_says_it_in_its_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--json", "list", "out runs"]) == 2
    captured = capsys.readouterr()
    error = (
        "--json is an option of list, given before it: write `livesession list --json 'out runs'`"
    )
    assert json.loads(captured.out) == {"ok": False, "exit_code": 2, "error": error}
    assert captured.err == f"livesession: error: {error}\n"


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (  # several, and the command's own after it: all in their place
            ["--json", "-q", "dryrun", "--steps", "2"],
            (
                "--json, -q are options of dryrun, given before it: "
                "write `livesession dryrun --json -q --steps 2`"
            ),
        ),
        (  # a value that looks like an option is the option's (argparse took it for one)
            ["--seed", "-1", "dryrun"],
            "--seed is an option of dryrun, given before it: write `livesession dryrun --seed -1`",
        ),
        (  # a value joined to its option, long or short
            ["--config=desk.toml", "dryrun"],
            (
                "--config is an option of dryrun, given before it: "
                "write `livesession dryrun --config=desk.toml`"
            ),
        ),
        (
            ["-cdesk.toml", "dryrun"],
            "-c is an option of dryrun, given before it: write `livesession dryrun -cdesk.toml`",
        ),
        (  # a value that is a command's name is the value, not the command
            ["--out", "list", "dryrun"],
            "--out is an option of dryrun, given before it: write `livesession dryrun --out list`",
        ),
        (  # misspelt: the option it is near, in the line to run
            ["--jsn", "list", "out/runs"],
            (
                "unrecognized arguments: --jsn (did you mean --json? an option of list, it goes "
                "after it: `livesession list --json out/runs`)"
            ),
        ),
        (
            ["--stpes=5", "dryrun"],
            (
                "unrecognized arguments: --stpes=5 (did you mean --steps? an option of dryrun, it "
                "goes after it: `livesession dryrun --steps=5`)"
            ),
        ),
        (  # near a top-level option: that one, in its place
            ["--verison", "dryrun"],
            "unrecognized arguments: --verison (did you mean --version?)",
        ),
        (  # another command's option, or one the command hides (resume keeps its settings)
            ["--steps", "5", "resume", "out/runs/demo-001"],
            (
                "unrecognized arguments: --steps (not an option of resume: `livesession resume "
                "--help` lists its options)"
            ),
        ),
        (
            ["--bogus", "dryrun"],
            (
                "unrecognized arguments: --bogus (not an option of dryrun: `livesession dryrun "
                "--help` lists its options)"
            ),
        ),
        (  # said first, whatever else the command refuses (its directory missing)
            ["--json", "list"],
            "--json is an option of list, given before it: write `livesession list --json`",
        ),
        (
            ["-q", "dryrun", "--steps", "x"],
            "-q is an option of dryrun, given before it: write `livesession dryrun -q --steps x`",
        ),
        (  # no command at all: which commands have it
            ["--timeout", "5"],
            (
                "a command is required: --timeout is an option of stop, kill, ack and goes after "
                "the command (`livesession stop --timeout ...`; `livesession --help` lists the "
                "commands)"
            ),
        ),
    ],
)
def test_the_refusal_says_where_each_goes(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    assert _refusal(capsys, *argv) == f"livesession: error: {said}\n"


@pytest.mark.parametrize("argv", [["--version"], ["-h"]])
def test_the_top_level_options_keep_their_place(argv: list[str]) -> None:
    """``--version`` and ``--help`` are the top-level parser's own, before any command."""
    with pytest.raises(SystemExit) as ended:
        main(argv)
    assert ended.value.code == 0


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (
            ["list", "--out", "out/runs"],
            (
                "--out is not an option of list: it takes the folder of runs itself, as its "
                "argument: `livesession list out/runs`"
            ),
        ),
        (
            ["list", "--json", "--out", "out/runs"],
            (
                "--out is not an option of list: it takes the folder of runs itself, as its "
                "argument: `livesession list --json out/runs`"
            ),
        ),
        (
            ["verify", "--out", "out/runs/demo-001"],
            (
                "--out is not an option of verify: it takes the run directory itself, as its "
                "argument: `livesession verify out/runs/demo-001`"
            ),
        ),
        # Before the command too: it said `unrecognized arguments: --out (not an option of
        # list: ...)`, without the line to run.
        (
            ["--out", "out/runs", "list", "--json"],
            (
                "--out is not an option of list: it takes the folder of runs itself, as its "
                "argument: `livesession list out/runs --json`"
            ),
        ),
        (
            ["--out=out/runs/demo-001", "status"],
            (
                "--out is not an option of status: it takes the run directory itself, as its "
                "argument: `livesession status out/runs/demo-001`"
            ),
        ),
    ],
)
def test_dryrun_s_out_given_to_a_reader_says_its_argument(
    capsys: pytest.CaptureFixture[str], argv: list[str], said: str
) -> None:
    """Bug: ``livesession list --out out/runs`` (dryrun's ``--out`` written again to read the
    runs back) said only ``unrecognized arguments: --out``. The line names the argument."""
    assert _refusal(capsys, *argv) == f"livesession: error: {said}\n"
    assert build_parser().parse_args(shlex.split(said.rpartition("`livesession ")[2][:-1]))
