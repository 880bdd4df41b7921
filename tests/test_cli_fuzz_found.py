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


KEY = "sk_live_" + "Q7fz9K2mW4pX8vR1tY6uB3nD"
"""A live API key as the secret rules find it (``provider_token``)."""
PASSWORD = "hunter2-Vq93kLm"
DSN = f"postgresql://desk:{PASSWORD}@127.0.0.1/db"


class TestSecretNames:
    @pytest.mark.parametrize("flag", ["--run-id", "--config-run-id"])
    def test_a_run_id_that_looks_like_a_secret_is_refused(self, tmp_path, capsys, flag):
        """``--run-id`` (or ``run_id`` in the file) given an API key made a run named by it:
        the key in its directory's name, ``config.json`` and every record, which the
        evidence's own secret scan then found. Refused as a ``strategy_id`` is, not shown."""
        out = tmp_path / "out"
        argv = ["dryrun", "--out", str(out), "--steps", "3", "-q"]
        if flag == "--run-id":
            argv += ["--run-id", KEY]
        else:
            config = tmp_path / "desk.toml"
            config.write_text(f'run_id = "{KEY}"\n', encoding="utf-8")
            argv += ["--config", str(config)]
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert "run_id looks like a secret (provider_token; value not shown)" in captured.err
        assert len(captured.err.splitlines()) == 1
        assert KEY not in captured.err + captured.out
        assert not out.exists()

    def test_an_account_that_looks_like_a_secret_is_refused(self, tmp_path, capsys):
        """``account`` names the lease and every record as ``run_id`` does."""
        config = tmp_path / "desk.toml"
        config.write_text(f'account = "{KEY}"\n', encoding="utf-8")
        out = tmp_path / "out"
        assert main(["dryrun", "--config", str(config), "--out", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert "account looks like a secret (provider_token; value not shown)" in err
        assert KEY not in err
        assert not out.exists()

    @pytest.mark.parametrize(
        "line",
        [
            'run_id = "{}"',
            'account = "desk-{}"',
            'allowlist = ["BTC/USDT", "{}"]',
            'strategy_id = "{}"',
        ],
        ids=["run_id", "account", "allowlist", "strategy_id"],
    )
    def test_the_value_of_an_environment_secret_is_refused(
        self, tmp_path, monkeypatch, capsys, line
    ):
        """A sandbox key of the environment, of no form a rule knows, pasted into a name
        the run records. Before, the run was made (named by it, for ``run_id``) and the key
        written into ``config.json``, its records and checkpoints; the evidence's scan,
        which searches the files for the environment's secrets, found it only then."""
        secret = "sbxKey7f3a9c2e1d0b4a68"
        monkeypatch.setenv("LIVESESSION_BINANCE_API_KEY", secret)
        config = tmp_path / "desk.toml"
        config.write_text(line.format(secret) + "\n", encoding="utf-8")
        out = tmp_path / "out"
        assert main(["dryrun", "--config", str(config), "--out", str(out), "-q"]) == 2
        err = capsys.readouterr().err
        assert "looks like a secret (the value of $LIVESESSION_BINANCE_API_KEY; value" in err
        assert len(err.splitlines()) == 1
        assert secret not in err
        assert not out.exists()


class TestSecretPaths:
    @pytest.mark.parametrize(
        "argv",
        [
            ["resume", DSN],
            ["verify", DSN],
            ["status", DSN, "--json"],
            ["list", DSN],
            ["burnin", DSN],
            ["dryrun", "--out", DSN],
            ["dryrun", "--config", DSN],
        ],
    )
    def test_a_dsn_given_for_a_path_is_not_echoed(self, tmp_path, monkeypatch, capsys, argv):
        """A DSN pasted where a path goes was echoed with its password: ``Path`` spells
        ``postgresql://`` with one ``/``, and the redaction of a URL's password no longer
        found it (``run directory postgresql:/desk:hunter2...@127.0.0.1/db does not
        exist``). A path argument that looks like a secret is refused, not shown."""
        monkeypatch.chdir(tmp_path)
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert PASSWORD not in captured.err + captured.out
        assert "looks like a secret (url_password; value not shown), not a path" in captured.err
        assert len(captured.err.splitlines()) == 1
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("feed", [f"csv:{DSN}", f"parquet:/data/{DSN}", "file"])
    def test_a_dsn_given_for_a_data_file_is_not_echoed(self, tmp_path, monkeypatch, capsys, feed):
        """The deep fuzz campaign's ``dryrun --feed csv:postgresql://desk:hunter2-...@127.0.0.1/db
        --out OUT --steps 5 -q`` said ``cannot open data file CWD/postgresql:/desk:hunter2-...
        @127.0.0.1/db: No such file or directory``: the path made absolute is spelled with one
        ``/``, which the redaction of a URL's password does not find (an absolute path, and
        ``feed`` in a config file, were echoed the same way). Such a feed is refused as
        ``strategy_id`` is, not shown, nothing created."""
        monkeypatch.chdir(tmp_path)
        argv = ["dryrun", "--out", str(tmp_path / "out"), "--steps", "5", "-q"]
        if feed == "file":
            (tmp_path / "desk.toml").write_text(f'feed = "csv:{DSN}"\n', encoding="utf-8")
            argv += ["--config", "desk.toml"]
        else:
            argv += ["--feed", feed]
        assert main(argv) == 2
        captured = capsys.readouterr()
        assert PASSWORD not in captured.err + captured.out
        assert "feed looks like a secret (url_password; value not shown)" in captured.err
        assert len(captured.err.splitlines()) == 1
        assert sorted(p.name for p in tmp_path.iterdir()) == (
            ["desk.toml"] if feed == "file" else []
        )

    def test_a_plain_path_is_still_a_path(self, tmp_path, capsys):
        """Only what the secret rules find is refused: a path with words like ``token`` in
        it is a path as before."""
        run_dir = tmp_path / "token_store" / "api-key-rotation"
        assert main(["verify", str(run_dir)]) == 2
        assert "looks like a secret" not in capsys.readouterr().err


class TestStatusJsonNotARun:
    @pytest.mark.parametrize("what", ["missing", "file", "empty"])
    def test_says_its_line_on_stderr_too(self, tmp_path, capsys, what):
        """``status --json`` of a path that is no run exited 2 with its JSON object and
        nothing on stderr, where ``status`` without ``--json``, and ``verify --json`` and
        ``list --json`` of the same path, say the problem in one stderr line beside it."""
        path = tmp_path / "x"
        if what == "file":
            path.write_text("hello", encoding="utf-8")
        elif what == "empty":
            path.mkdir()
        assert main(["status", str(path), "--json"]) == 2
        captured = capsys.readouterr()
        document = json.loads(captured.out)
        assert document["verdict"] == "not_a_run"
        assert captured.err == f"livesession: error: {document['problem']}\n"
        assert main(["status", str(path)]) == 2
        assert capsys.readouterr().err == captured.err
