"""The words argparse left over (several run directories, a misspelt option), or missing.

``parse_known_args`` leaves what no argument took; the refusal says what they look like
rather than argparse's bare ``unrecognized arguments``: several run directories given to a
command on one run, or an option the command does not have, with the one it has that is
nearest (``--stpes 5``: did you mean ``--steps``?), as a misspelt config key is told.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Final

from ._exceptions import UsageError
from ._support.text import path_text, shell_word

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["left_over", "misplaced", "missing_said", "parsed"]


def parsed(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    """``parser``'s arguments of ``argv``, or a ``UsageError`` of one line with the way out.

    ``parse_args``, but words left over are said as ``left_over`` says them, and a command's
    option given before the command is said first, whatever else its command refused
    (``livesession --json list``: its directory missing too), so the line to run is had at
    once.
    """
    try:
        args, extra = parser.parse_known_args(argv)
    except UsageError:
        words = _words(parser)  # with no command, argparse's words stand (``missing_said``)
        before = misplaced(parser, words) if set(words) & set(_commands(parser)) else ""
        if before:
            raise UsageError(before) from None
        raise
    if extra:  # parse_args's refusal, but for the run directories of a glob
        parser.error(left_over(parser, args, extra))
    return args


def left_over(parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]) -> str:
    """The one-line refusal of the words ``extra`` no argument of the command took."""
    words = _words(parser)
    return (
        misplaced(parser, words)
        or _out_for_argument(args, extra, words)
        or _one_run(args, extra)
        or (f"unrecognized arguments: {' '.join(extra)}{_nearest_option(parser, args, extra)}")
    )


def _out_for_argument(args: argparse.Namespace, extra: list[str], words: list[str]) -> str:
    """``list --out out/runs``: the folder is ``list``'s argument, not an option; else "".

    ``dryrun --out DIR`` names where runs go, and a user who reads them back writes it
    again: ``livesession list --out out/runs`` said only ``unrecognized arguments: --out``.
    """
    command = getattr(args, "command", None)
    takes = next((_TAKES[name] for name in _TAKES if getattr(args, name, None) is not None), None)
    if takes is None or "--out" not in extra or command not in words:
        return ""
    rest = words[words.index(command) + 1 :]
    rest.remove("--out")
    return _out_said(command, takes, rest)


_TAKES: Final = {"out_dir": "folder of runs", "run_dir": "run directory"}
"""A reader's argument, by its name, that a user gives as ``--out`` (``dryrun``'s option)."""


def _out_said(command: str, takes: str, rest: list[str]) -> str:
    """``--out`` given to ``command``, which ``takes`` the folder as its argument: what to run."""
    return (
        f"--out is not an option of {command}: it takes the {takes} itself, as its "
        f"argument: `{_line(command, rest)}`"
    )


def _words(parser: argparse.ArgumentParser) -> list[str]:
    """The words ``parser`` was last given (``cli._Parser`` keeps them), else none."""
    words = getattr(parser, "words", [])
    return list(words) if isinstance(words, list) else []


_CLOSE: Final = 0.75
"""How alike a misspelt option and the one it names are (difflib's ratio): ``--bogus`` is
none's, where the default 0.6 took it for ``--out``."""


def _nearest_option(
    parser: argparse.ArgumentParser, args: argparse.Namespace, extra: list[str]
) -> str:
    """`` (did you mean --steps?)`` for the first misspelt long option, else "".

    The options are the command's own and the parser's (``--help``), never one it hides
    (``resume``'s refused ``--steps``, which would only be refused next).
    """
    actions = list(parser._actions)  # noqa: SLF001 - argparse keeps its actions so
    for action in parser._actions:  # noqa: SLF001
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            command = action.choices.get(getattr(args, "command", None) or "")
            actions += command._actions if command is not None else []  # noqa: SLF001
    return _nearest(extra, _long_options(actions))


def _long_options(actions: list[argparse.Action]) -> list[str]:
    """The long options of ``actions`` a user may give (none argparse hides)."""
    return sorted(option for option in _options(actions) if option.startswith("--"))


def _nearest(words: list[str], known: list[str]) -> str:
    """`` (did you mean --steps?)`` for the first of ``words`` not in ``known`` but near one."""
    for word in words:
        name = word.partition("=")[0]
        if name.startswith("--") and name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=_CLOSE)
            if close:
                return f" (did you mean {close[0]}?)"
    return ""


_INVALID_COMMAND: Final = re.compile(
    r"argument COMMAND: invalid choice: '(?P<given>[^']*)' \(choose from (?P<choices>.*)\)"
)
"""argparse's refusal of a command it lacks (its choices quoted, or bare as newer Pythons say)."""

_NAMED: Final = 3
"""How many of the run directories given ``_one_run`` names."""


def _one_run(args: argparse.Namespace, extra: list[str]) -> str:
    """A command on one run given several (``verify out/runs/*``): say so, and the loop.

    "" when it takes no run directory, or when an option is among the words left over.
    """
    run_dir = getattr(args, "run_dir", None)
    if run_dir is None or any(word.startswith("-") for word in extra):
        return ""
    given = [os.fspath(run_dir), *extra]
    named = ", ".join(path_text(path) for path in given[:_NAMED])
    named += ", ..." if len(given) > _NAMED else ""
    out = shell_word(os.fspath(Path(given[0]).parent))
    loop = f'for run in {out}/*/; do livesession {args.command} "$run" || rc=1; done'
    return (  # the loop's own exit code says whether any did not exit 0, not the last's
        f"{args.command} takes one run directory, given {len(given)} ({named}): run it once "
        f"for each, `rc=0; {loop}; test $rc = 0`"
    )


def missing_said(parser: argparse.ArgumentParser, message: str, words: list[str]) -> str:
    """What argparse said of ``parser`` given ``words`` (``message``), and the way out.

    ``livesession verify`` alone said ``the following arguments are required: run_dir``,
    which names neither what a run directory is nor where ``dryrun`` put one. A misspelt
    option before the command (``livesession --versoin``) said only that a command is
    required, and a misspelt command (``dryrn``) listed every command: each names the one
    it is near, as a command's misspelt option does.
    """
    verb = parser.prog.rpartition(" ")[2]
    if message.endswith("required: COMMAND"):  # ``livesession`` alone, or only options
        known = _long_options(list(parser._actions))  # noqa: SLF001 - argparse keeps them so
        near = _nearest(words, known)
        if near:
            stray = " ".join(word for word in words if word.partition("=")[0] not in known)
            return f"unrecognized arguments: {stray}{near}"
        return f"{message} (`livesession --help` lists the commands)"
    command = _INVALID_COMMAND.fullmatch(message)
    if command is not None:  # ``livesession --steps 5 dryrun``: the 5 taken for the command
        commands = [word.strip("'") for word in command["choices"].split(", ")]
        close = difflib.get_close_matches(command["given"], commands, n=1, cutoff=_CLOSE)
        near = (
            message.replace("(choose from", f"(did you mean {close[0]}? choose from", 1)
            if close
            else message
        )
        return misplaced(parser, words) or near
    if message.endswith(("required: run_dir", "required: RUN_DIR")):
        return (
            f"{message} ({verb} takes a run directory, OUT/<run_id>, as dryrun names it after "
            f"`artifacts`: `livesession {verb} out/runs/demo-001`; `livesession list out/runs` "
            "shows the runs there)"
        )
    if message.endswith("required: out_dir"):
        return (
            f"{message} (the directory that holds the runs: `livesession {verb} out/runs`, "
            "where dryrun puts them without --out)"
        )
    return message


def misplaced(parser: argparse.ArgumentParser, words: list[str]) -> str:
    """The one-line refusal of a command's options given before the command, else "".

    ``livesession --json list out/runs`` said ``unrecognized arguments: --json``, though
    ``list`` has ``--json``; ``livesession --steps 5 dryrun`` took the 5 for a command. The
    options of the top-level parser are only its own (``--version``, ``--help``): a
    command's go after it, and the refusal says so with the command line to run. A
    misspelt one names the option it is near, as after the command.
    """
    commands, top, anywhere = _commands(parser), _top(parser), _anywhere(parser)
    at, before = _split(words, commands, {**anywhere, **top})
    own = _options(list(commands[words[at]]._actions)) if at is not None else anywhere  # noqa: SLF001
    given, stray = _sorted_out(before, own, top, anywhere)
    if at is None:
        return _no_command(commands, given)
    if said := _reader_out(commands[words[at]], words[at], before, words[at + 1 :]):
        return said  # ``--out out/runs list``: dryrun's --out, the reader's argument
    command = words[at]
    rest = [*before, *words[at + 1 :]]
    if not stray:  # the command's own options only, or none
        return _given_before(command, [_option_name(word, own) for word in given], rest)
    word = before[stray[0]]
    name = word.partition("=")[0]
    close = difflib.get_close_matches(name, sorted({*own, *top}), n=1, cutoff=_CLOSE)
    if close and close[0] in top:  # ``--verison dryrun``: the top-level's, where it stands
        return f"unrecognized arguments: {word} (did you mean {close[0]}?)"
    if close:
        rest[stray[0]] = close[0] + word[len(name) :]
        return (
            f"unrecognized arguments: {word} (did you mean {close[0]}? an option of "
            f"{command}, it goes after it: `{_line(command, rest)}`)"
        )
    strays = " ".join(before[index] for index in stray)
    return (
        f"unrecognized arguments: {strays} (not an option of {command}: "
        f"`livesession {command} --help` lists its options)"
    )


def _given_before(command: str, names: list[str], rest: list[str]) -> str:
    """``--json is an option of list, given before it: ...`` for ``names``; "" for none."""
    if not names:
        return ""
    are = f"{names[0]} is an option" if len(names) == 1 else f"{', '.join(names)} are options"
    return f"{are} of {command}, given before it: write `{_line(command, rest)}`"


def _top(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """The top-level parser's own options (``--version``, ``--help``), by whether each takes one."""
    return _options(list(parser._actions))  # noqa: SLF001 - argparse keeps its actions so


def _anywhere(parser: argparse.ArgumentParser) -> dict[str, bool]:
    """Every command's options, and whether each takes a value (under any command)."""
    anywhere: dict[str, bool] = {}
    for sub in _commands(parser).values():
        for name, takes in _options(list(sub._actions)).items():  # noqa: SLF001
            anywhere[name] = anywhere.get(name, False) or takes
    return anywhere


def _reader_out(
    sub: argparse.ArgumentParser, command: str, before: list[str], after: list[str]
) -> str:
    """``--out DIR`` before ``command``, which lacks ``--out`` and takes DIR as its argument.

    The refusal ``list --out out/runs`` gets (``_out_for_argument``), else "".
    """
    at = next((i for i, w in enumerate(before) if w.partition("=")[0] == "--out"), None)
    dests = {action.dest for action in sub._actions if not action.option_strings}  # noqa: SLF001
    takes = next((_TAKES[name] for name in _TAKES if name in dests), None)
    if at is None or takes is None or "--out" in _options(list(sub._actions)):  # noqa: SLF001
        return ""
    word = before[at]
    kept = [word.partition("=")[2]] if "=" in word else []
    return _out_said(command, takes, [*before[:at], *kept, *before[at + 1 :], *after])


def _sorted_out(
    before: list[str], own: dict[str, bool], top: dict[str, bool], anywhere: dict[str, bool]
) -> tuple[list[str], list[int]]:
    """The options among ``before`` that are the command's (``own``), and where the others stand.

    The top-level's options, and the values of options (``--seed -1``), are neither.
    """
    given: list[str] = []
    stray: list[int] = []
    value = False  # the word is the value of the option before it
    for index, word in enumerate(before):
        name = _option_name(word, {**own, **top})
        if value or name in top or not word.startswith("-") or word in ("-", "--"):
            value = False
            continue
        value = word == name and anywhere.get(name, False)
        if name in own:
            given.append(word)
        else:
            stray.append(index)
    return given, stray


def _commands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The commands of ``parser`` by name (none for a command's own parser)."""
    for action in parser._actions:  # noqa: SLF001 - argparse keeps its actions so
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def _options(actions: list[argparse.Action]) -> dict[str, bool]:
    """The options of ``actions`` a user may give (none argparse hides): takes a value?"""
    return {
        option: action.nargs != 0
        for action in actions
        if action.help != argparse.SUPPRESS
        for option in action.option_strings
    }


def _option_name(word: str, options: dict[str, bool]) -> str:
    """``--out`` of ``--out=x``, ``-c`` of ``-cdesk.toml`` (a short option's value joined)."""
    if word.startswith("--") or word in options:
        return word.partition("=")[0]
    short = word[:2]
    return short if options.get(short) else word


def _split(
    words: list[str], commands: dict[str, argparse.ArgumentParser], options: dict[str, bool]
) -> tuple[int | None, list[str]]:
    """Where the command stands among ``words`` (None: nowhere), and the words before it.

    An option's value is never the command (``--out list dryrun``: ``list`` is a directory).
    """
    index = 0
    while index < len(words):
        word = words[index]
        if word == "--":
            break
        if word in commands:
            return index, words[:index]
        name = _option_name(word, options)
        index += 2 if word == name and options.get(name) else 1
    return None, words[:index]


def _no_command(commands: dict[str, argparse.ArgumentParser], given: list[str]) -> str:
    """``--json is an option of ...`` for a command's option given with no command."""
    having: dict[str, str] = {}  # the command, and the option's name (``-c`` of ``-cx``)
    for command, sub in commands.items():
        options = _options(list(sub._actions))  # noqa: SLF001 - argparse keeps them so
        name = _option_name(given[0], options) if given else ""
        if name in options:
            having[command] = name
    if not having:
        return ""
    first, name = next(iter(having.items()))
    return (
        f"a command is required: {name} is an option of {', '.join(having)} and goes after "
        f"the command (`{_line(first, [name])} ...`; `livesession --help` lists the commands)"
    )


def _line(command: str, words: list[str]) -> str:
    """The command line ``livesession COMMAND WORDS...``, each word as a shell reads it."""
    return " ".join(["livesession", command, *(shell_word(word) for word in words)])
