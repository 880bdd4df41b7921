"""Every command a hint prints with a path in it can be pasted into a shell as it is.

A run under ``/tmp/x y/r1`` was told ``continue it: livesession resume /tmp/x y/r1``
(``status``'s ``next``, ``list --json``, ``verify``'s first line, the CLI's "not sealed"
line, ``stop``/``kill``/``ack``): pasted, the shell split the path in two and ``resume``
refused ``/tmp/x``. Each path is now quoted as a shell reads it (``shlex.quote``); a
plain path is left as it is, so the hints of ordinary runs read as before.

Then the paths a quote does not carry through a one-line message: a newline or a tab in a
directory's name was made a space there (``livesession list 'nl run'``), a byte that is not
UTF-8 the four characters ``\xff`` (``'bad\xffdir'``, which the shell keeps as they are), so
the pasted command named another path; they are written in ANSI-C quotes (``$'nl\nrun'``).
A relative path that starts with ``-`` (``--out=-runs``) was pasted as an option
(``livesession verify -runs/r1``: "the following arguments are required"); it is
``./-runs/r1``, and a run id such as ``-x`` is given as ``--run-id=-x``.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from _locales import latin_1_locale
from livesession._artifacts import names
from livesession._artifacts.runread import require_run
from livesession._cli_output import not_sealed
from livesession._exceptions import RunDirectoryError
from livesession._rundir.starting import start_again
from livesession._support.text import command, valid_text
from livesession.cli import build_parser, main
from livesession.control import describe_run
from livesession.status import RunStatus, Verdict, list_runs
from livesession.verify._result import summarize

SRC = Path(__file__).resolve().parent.parent / "src" / "livesession"
ODD = "x y's $HOME"
"""A directory name a shell would split, end a quote at, and expand."""


def _commands(text: str) -> list[list[str]]:
    """Each ```livesession ...``` command in ``text``, split as a POSIX shell splits it."""
    return [shlex.split(found) for found in re.findall(r"`(livesession [^`]*)`", text)]


def _verbs() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)


def test_no_hint_writes_a_command_with_a_path_but_through_command() -> None:
    """``livesession resume {run_dir}`` in a message is the bug itself: the path goes in
    unquoted. ``_support.text.command`` is the one place that writes such a command."""
    verbs = "|".join(_verbs())
    raw = re.compile(rf"livesession (?:{verbs}|\{{\w+\}}) \{{")
    found = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "_support" / "text.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if raw.search(line)
    ]
    assert not found, "a command with a raw path:\n" + "\n".join(found)


@pytest.fixture
def odd_out(tmp_path: Path) -> Path:
    return tmp_path / ODD / "runs"


def test_status_and_list_of_a_completed_run_quote_its_path(
    odd_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_dir = odd_out / "r1"
    assert main(["dryrun", "--out", str(odd_out), "--run-id", "r1", "--steps", "30", "-q"]) == 0
    capsys.readouterr()

    assert main(["status", str(run_dir), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["next"]
    assert _commands(said) == [
        ["livesession", "verify", str(run_dir)],
        ["livesession", "evidence", str(run_dir)],
    ]
    assert main(["status", str(run_dir)]) == 0
    (line,) = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("next")]
    assert line == f"next        {said}"

    assert main(["list", str(odd_out), "--json"]) == 0
    (listed,) = json.loads(capsys.readouterr().out)["runs"]
    assert listed["next"] == said

    # `list` of a run, and a command given a directory of runs: the way out, quoted.
    with pytest.raises(RunDirectoryError) as refused:
        list_runs(run_dir)
    assert _commands(str(refused.value)) == [
        ["livesession", "status", str(run_dir)],
        ["livesession", "list", str(odd_out)],
    ]
    with pytest.raises(RunDirectoryError) as refused:
        require_run(odd_out)
    assert _commands(str(refused.value)) == [["livesession", "list", str(odd_out)]]


def test_the_hints_for_a_crashed_run_quote_its_path(tmp_path: Path) -> None:
    run_dir = tmp_path / ODD / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / names.RUN_META).write_text("{}")
    (run_dir / names.AUDIT).write_text("")
    pasted = shlex.join(["livesession", "resume", str(run_dir)])
    assert "'" in pasted

    crashed = RunStatus(run_dir=str(run_dir), verdict=Verdict.CRASHED)
    assert crashed.next_step() == f"continue it: {pasted}"
    assert crashed.to_json()["next"] == f"continue it: {pasted}"
    lease = {"held": True, "expires_utc": "2026-12-01T00:00:00Z", "ttl_ms": 1}
    leased = RunStatus(run_dir=str(run_dir), verdict=Verdict.CRASHED, lease=lease)
    assert leased.next_step().startswith(f"continue it once its lease is free: {pasted} (")
    doubt = RunStatus(run_dir=str(run_dir), verdict=Verdict.NEEDS_OPERATOR, problem="cut")
    assert _commands(doubt.next_step()) == [["livesession", "verify", str(run_dir)]]

    # verify's first line, the CLI's "not sealed" line and stop/kill/ack's "unfinished".
    incomplete = summarize(run_dir, 3, incomplete=True)
    assert _commands(incomplete) == [["livesession", "resume", str(run_dir)]]
    dead = summarize(run_dir, 3, incomplete=True, dead_sinks=("events sink failed at line 4",))
    assert _commands(dead) == [
        ["livesession", "status", str(run_dir)],
        ["livesession", "resume", str(run_dir)],
    ]
    assert _commands(not_sealed("the events sink failed", run_dir)) == _commands(dead)
    assert _commands(describe_run(run_dir)) == [["livesession", "resume", str(run_dir)]]


def test_a_plain_path_is_left_as_it_was(tmp_path: Path) -> None:
    """The hints of ordinary paths (and so every test and doc that quotes one) read as before."""
    run_dir = tmp_path / "runs" / "demo-001"
    crashed = RunStatus(run_dir=str(run_dir), verdict=Verdict.CRASHED)
    assert crashed.next_step() == f"continue it: livesession resume {run_dir}"


_BASH = shutil.which("bash")


def _pasted(line: str) -> list[str]:
    """The words a program gets when ``line`` is pasted into bash, as paths (bytes decoded)."""
    assert _BASH is not None
    done = subprocess.run(
        [_BASH, "--norc", "--noprofile", "-c", f"printf '%s\\0' {line}"],
        capture_output=True,
        check=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent"},
    )
    return [os.fsdecode(word) for word in done.stdout.split(b"\0")[:-1]]


def _hinted(text: str) -> list[str]:
    return re.findall(r"`(livesession [^`]*)`", text)


needs_bash = pytest.mark.skipif(_BASH is None, reason="bash reads the pasted commands")


@needs_bash
@pytest.mark.parametrize(
    "name", ["nl\nrun", "tab\there", os.fsdecode(b"bad\xffdir"), "it's $HOME \u2028 end"]
)
def test_a_name_a_one_line_message_would_change_is_pasted_back_as_it_is(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / name
    run_dir = out / "r1"
    argv = ["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "30", "-q"]
    assert main(argv) == 0
    capsys.readouterr()

    # The refusal's one stderr line: its way out lists the directory the run is in.
    assert main(argv) == 2
    (refusal,) = capsys.readouterr().err.splitlines()
    (listing,) = _hinted(refusal)
    assert _pasted(listing) == ["livesession", "list", str(out)]

    # status's next, in --json too: each command one printable line that runs as it reads.
    assert main(["status", str(run_dir), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)["next"]
    assert said.isprintable()
    verify, evidence = (_pasted(found) for found in _hinted(said))
    assert evidence == ["livesession", "evidence", str(run_dir)]
    assert verify == ["livesession", "verify", str(run_dir)]
    assert main(verify[1:]) == 0


@needs_bash
def test_a_relative_path_that_starts_with_a_dash_is_no_option(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["dryrun", "--out=-runs", "--run-id", "r1", "--steps", "30", "-q"]) == 0
    capsys.readouterr()
    assert main(["status", "--json", "--", "-runs/r1"]) == 0
    said = json.loads(capsys.readouterr().out)["next"]
    verify, _ = (_pasted(found) for found in _hinted(said))
    assert verify == ["livesession", "verify", "./-runs/r1"]
    assert main(verify[1:]) == 0
    crashed = RunStatus(run_dir="-runs/r1", verdict=Verdict.CRASHED)
    assert crashed.next_step() == "continue it: livesession resume ./-runs/r1"

    # A run killed while it started is started again with its own config: `dryrun` takes
    # the directory and the run id, one that starts with a dash too.
    again = start_again(Path("-runs/-x"))
    assert again == "livesession dryrun --out ./-runs --run-id=-x ..."
    args = build_parser().parse_args(_pasted(again.removesuffix(" ..."))[1:])
    assert (args.out, args.run_id) == (Path("-runs"), "-x")


def _labelled(out: str, label: str) -> str:
    """The value of the one line of ``out`` that starts with ``label``."""
    (line,) = [ln for ln in out.splitlines() if ln.startswith(label)]
    return line[len(label) :].strip()


@needs_bash
@pytest.mark.parametrize("name", ["nl\nrun", "tab\there", "sep \u2028 end"])
def test_plain_output_names_a_path_with_a_line_break_on_one_line(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: the plain (not pasted-command) labels printed a directory's newline as it is:
    ``artifacts   /tmp/nl`` and then ``run/r1`` on a line of its own (``status``'s ``run``,
    a ``list`` row, ``verify``'s ``OK`` line too), which a supervisor reading one field a
    line took for another field. Such a path is said as a pasted command says it
    (``$'nl\\nrun'``), on its line, and reads back as the path."""
    out = tmp_path / name
    run_dir = out / "r1"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "30"]) == 0
    said = capsys.readouterr().out
    assert said.isascii()
    assert said.count("\n") == len(said.splitlines())
    assert _pasted(_labelled(said, "artifacts")) == [str(run_dir)]

    assert main(["status", str(run_dir)]) == 0
    run = _labelled(capsys.readouterr().out, "run")
    assert run.startswith("r1 (")
    assert run.endswith(")")
    assert _pasted(run[4:-1]) == [str(run_dir)]

    assert main(["verify", str(run_dir)]) == 0
    (ok,) = capsys.readouterr().out.splitlines()
    assert _pasted(ok.removeprefix("OK ").partition(": ")[0]) == [str(run_dir)]

    assert main(["report", str(run_dir)]) == 0
    (wrote,) = capsys.readouterr().out.splitlines()
    assert _pasted(_labelled(wrote, "report")) == [str(run_dir / "report.html")]

    shutil.copytree(run_dir, out / name)  # a copy, listed by its directory's name
    assert main(["list", str(out)]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.startswith("RUN ")
    assert len(rows) == 2
    (copy,) = [row for row in rows if row.startswith("r1 (")]
    assert _pasted(copy.split(" (", 1)[1].split(")  ", 1)[0]) == [name]
    empty = tmp_path / "empty" / name
    empty.mkdir(parents=True)
    assert main(["list", str(empty)]) == 0
    *_, none = capsys.readouterr().out.splitlines()
    assert _pasted(none.removeprefix("(no runs in ").removesuffix(")")) == [str(empty)]


def test_plain_output_of_an_awkward_but_printable_path_is_as_it_was(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A space, a quote or a byte that is not UTF-8 breaks no line: said as before."""
    bad = os.fsdecode(b"bad\xffdir")
    for name in (ODD, bad):
        out = tmp_path / name
        assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "30"]) == 0
        said = capsys.readouterr().out
        as_before = valid_text(str(out / "r1"))  # a byte not UTF-8 said \xff, as before
        assert _labelled(said, "artifacts") == as_before
        assert main(["status", str(out / "r1")]) == 0
        assert _labelled(capsys.readouterr().out, "run") == f"r1 ({as_before})"


_DASHED = "Q4 \u2013 review"
"""A directory named with an en dash: in UTF-8 on the disk, ``Q4 \\xe2\\x80\\x93 review``."""


def _pasted_bytes(line: str, env: dict[str, str] | None = None) -> list[bytes]:
    """The words a program gets when ``line`` (encoded as a terminal under ``env`` would
    send it) is pasted into bash, as the bytes they are."""
    assert _BASH is not None
    encoding = "latin-1" if env else "utf-8"
    done = subprocess.run(
        [_BASH, "--norc", "--noprofile", "-c", b"printf '%s\\0' " + line.encode(encoding)],
        capture_output=True,
        check=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", **(env or {})},
    )
    return done.stdout.split(b"\0")[:-1]


@needs_bash
def test_a_command_under_a_latin_1_locale_names_the_paths_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Bug: under a locale that is not UTF-8 (Latin-1) Python reads a directory's bytes one
    character each, and a byte 0x80-0x9f is a control character there: ``Q4 \\u2013
    review`` is ``Q4 \\xe2\\x80\\x93 review``. The pasted command wrote those two as their
    UTF-8 bytes (``$'Q4 \\xe2\\xc2\\x80\\xc2\\x93 review'``), a path that does not exist.
    Each is now the byte the locale's encoding gives, the path's own."""
    monkeypatch.setattr(sys, "getfilesystemencoding", lambda: "iso8859-1")
    on_disk = f"/srv/runs/{_DASHED}/r1".encode()
    as_read = on_disk.decode("latin-1")  # what a Latin-1 locale's os.fsdecode gives
    said = command("resume", as_read)
    assert said == "livesession resume $'/srv/runs/Q4 \u00e2\\x80\\x93 review/r1'"
    assert _pasted_bytes(said, {"LC_ALL": "C"}) == [b"livesession", b"resume", on_disk]

    monkeypatch.undo()  # a UTF-8 locale: as before
    assert command("resume", "/srv/nl\n\u0080") == "livesession resume $'/srv/nl\\n\\xc2\\x80'"


@needs_bash
def test_status_under_a_latin_1_locale_advises_a_command_that_runs(tmp_path: Path) -> None:
    """The reviewer's shell in a Latin-1 locale: ``status``'s ``next`` of a run under a
    directory named with an en dash, pasted, names that run."""
    locale = latin_1_locale(tmp_path)
    out = tmp_path / _DASHED
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "30", "-q"]) == 0
    env = {**os.environ, "PYTHONUTF8": "0", **locale}
    status = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "status", os.fsencode(out / "r1")],
        capture_output=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert status.returncode == 0, status.stderr
    (line,) = [ln for ln in status.stdout.splitlines() if ln.startswith(b"next")]
    (verify, _) = re.findall(rb"`(livesession [^`]*)`", line)
    words = _pasted_bytes(verify.decode("latin-1"), locale)
    assert words == [b"livesession", b"verify", os.fsencode(out / "r1")]


@pytest.mark.broken_run("metrics.json is taken out of the run, for a violation to count")
def test_verify_counts_the_violations_of_a_path_not_utf_8_as_every_line_says_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``verify``'s stderr count line printed a byte of the path that is not UTF-8 as
    Python's lone surrogate, which the stream wrote ``bad\\udcffdir``, where its stdout and
    every other message say ``bad\\xffdir``."""
    out = tmp_path / os.fsdecode(b"bad\xffdir")
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "30", "-q"]) == 0
    (out / "r1" / "metrics.json").unlink()
    capsys.readouterr()
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "verify", os.fsencode(out / "r1")],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == b"1 violation(s) in " + os.fsencode(tmp_path) + b"/bad\\xffdir/r1\n"


@needs_bash
def test_stop_kill_and_ack_say_an_awkward_path_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bug: ``stop``, ``kill`` and ``ack`` printed a run's path as it is: ``livesession: kill:
    nothing holds /tmp/nl`` and then ``run/r1: sealed COMPLETED ...`` on a line of its own,
    and a byte that is not UTF-8 as ``\\udcff`` on stderr (``LC_ALL=C``), where every other
    command's line says ``\\xff``. The path is said as the other commands say it."""
    out = tmp_path / "nl\nrun"
    run_dir = out / "r1"
    assert main(["dryrun", "--out", str(out), "--run-id", "r1", "--steps", "30", "-q"]) == 0
    capsys.readouterr()
    assert main(["stop", str(run_dir)]) == 0
    (said,) = capsys.readouterr().out.splitlines()
    assert _pasted(said.partition(" is stopped already: ")[0]) == [str(run_dir)]
    for verb in ("kill", "ack"):
        assert main([verb, str(run_dir)]) == 8
        (said,) = capsys.readouterr().err.splitlines()
        where = said.removeprefix(f"livesession: {verb}: nothing holds ").partition(": ")[0]
        assert _pasted(where) == [str(run_dir)]

    bad = tmp_path / os.fsdecode(b"bad\xffdir")
    assert main(["dryrun", "--out", str(bad), "--run-id", "r1", "--steps", "30", "-q"]) == 0
    capsys.readouterr()
    env = {**os.environ, "LC_ALL": "C", "PYTHONUTF8": "0"}  # stderr: ASCII, backslashreplace
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "kill", os.fsencode(bad / "r1")],
        capture_output=True, check=False, env=env, timeout=120,
    )  # fmt: skip
    assert done.returncode == 8
    where = valid_text(str(bad / "r1"))  # bad\xffdir, as the CLI's error lines say it
    assert done.stderr.decode().startswith(f"livesession: kill: nothing holds {where}: sealed ")


_FAILS_AT_ONCE = """
from decimal import Decimal

from livesession import SmaCrossover


class FailsAtOnce(SmaCrossover):
    def on_bar(self, bar, view):
        raise RuntimeError("no model")


def make_strategy(*, strategy_id="fails"):
    return FailsAtOnce(strategy_id=strategy_id, order_qty=Decimal("0.01"))
"""


@needs_bash
def test_dryrun_s_failed_line_says_an_awkward_path_on_one_line(tmp_path: Path) -> None:
    """Bug: ``livesession: failed: ...; wound down ... and sealed FAILED: /srv/nl`` and then
    ``run/r1`` on a line of its own (the ``stopped by SIGTERM`` line alike), and a byte that
    is not UTF-8 said ``\\udcff`` under ``LC_ALL=C``: the path is said as a pasted command
    says it, as every other line does."""
    (tmp_path / "failsatonce.py").write_text(_FAILS_AT_ONCE)
    out = os.fsencode(tmp_path) + b"/nl\n\xffrun"
    env = os.environ | {
        "PYTHONPATH": os.pathsep.join([str(tmp_path), *sys.path]),
        "LC_ALL": "C",
        "PYTHONUTF8": "0",
    }
    done = subprocess.run(
        [sys.executable, "-m", "livesession.cli", "dryrun", "--out", out, "--run-id", "r1",
         "--steps", "30", "-q", "--strategy", "failsatonce:make_strategy"],
        capture_output=True, check=False, env=env, timeout=120,
    )  # fmt: skip

    assert done.returncode == 4, done.stderr
    (said,) = done.stderr.decode("ascii").splitlines()
    assert said.startswith("livesession: failed: STRATEGY_ERROR (RuntimeError: no model; ")
    where = said.rpartition(" and sealed FAILED: ")[2]
    assert _pasted(where) == [os.fsdecode(out + b"/r1")]
