"""What the command-line fuzz campaign (``test_fuzz_cli.py``, ``nox -s fuzz``) found, pinned."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from livesession.cli import main

from _helpers import one_line_error

NO_COMMAND = (
    "livesession: error: the following arguments are required: COMMAND "
    "(`livesession --help` lists the commands)\n"
)


class TestNoCommand:
    def test_is_one_line_on_stderr_not_the_help_on_stdout(self, capsys):
        """``livesession`` alone exited 2 (bad input) with nothing on stderr and the whole
        ``--help`` on stdout: a script saw a failure with no reason, and a reader of stdout
        some sixty lines of help. Now it is refused as every bad command line is."""
        assert main([]) == 2
        captured = capsys.readouterr()
        assert captured.err == NO_COMMAND
        assert captured.out == ""

    def test_with_json_the_one_object_says_so(self, capsys):
        """``livesession --json`` gives the JSON error object, not the help text."""
        assert main(["--json"]) == 2
        captured = capsys.readouterr()
        assert captured.err == NO_COMMAND
        assert json.loads(captured.out) == {
            "error": NO_COMMAND.removeprefix("livesession: error: ").rstrip("\n"),
            "exit_code": 2,
            "ok": False,
        }

    def test_as_the_command_runs(self, tmp_path):
        """``python -m livesession`` with no argument: one line, exit 2, nothing on stdout."""
        proc = subprocess.run(
            [sys.executable, "-m", "livesession"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            check=False,
        )
        one_line_error(proc, "required: COMMAND", "livesession --help")
        assert proc.stdout == ""

    def test_help_still_lists_the_commands(self, capsys):
        """``--help`` is where the commands are listed (exit 0, on stdout)."""
        with pytest.raises(SystemExit) as ended:
            main(["--help"])
        assert ended.value.code == 0
        out = capsys.readouterr().out
        for verb in ("dryrun", "resume", "verify", "evidence", "report", "burnin"):
            assert f"    {verb} " in out
