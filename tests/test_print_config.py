"""``livesession dryrun --print-config``: the config a run would use, and nothing made.

Before, there was no way to see the effective config of a run (the defaults, what the file
set, what the flags changed) but to make the run and read its ``config.json``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib

import pytest

from livesession import DryrunConfig, load_config
from livesession.cli import main

_HOOK = "https://hooks.example/abc123SECRETTOKEN"


def _printed(capsys, *argv: str) -> str:
    assert main(["dryrun", "--print-config", *argv]) == 0
    said = capsys.readouterr()
    assert said.err == ""
    return said.out


def test_it_prints_toml_a_config_file_takes_back_and_makes_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "desk.toml"
    config.write_text('seed = 7\n[risk]\nmax_order_qty = "0.5"\n', encoding="utf-8")
    out = _printed(capsys, "-c", str(config), "--steps", "9", "--broker", "realish")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["desk.toml"]  # no out/, no run
    printed = tomllib.loads(out)
    assert printed["seed"] == 7  # the file's
    assert printed["steps"] == 9  # the flag's
    assert printed["broker"] == "realish"
    assert printed["risk"]["max_order_qty"] == "0.5"
    assert printed["risk"]["max_order_notional"] == "50000"  # the default
    assert printed["run_id"] == "demo-001"  # the id a run would take
    assert printed["durability"] == "step"  # dryrun's own default
    assert printed["alerts"] == {"timeout_ms": 2000, "retries": 2, "queue_size": 256}
    again = tmp_path / "again.toml"
    again.write_text(out, encoding="utf-8")
    flags = {"steps": 9, "broker": "realish", "run_id": "demo-001", "durability": "step"}
    assert load_config(again).to_dict() == load_config(config, flags).to_dict()


def test_the_run_id_is_the_next_free_one_in_out(tmp_path, capsys):
    out = tmp_path / "runs"
    (out / "demo-001").mkdir(parents=True)
    printed = tomllib.loads(_printed(capsys, "--out", str(out)))
    assert printed["run_id"] == "demo-002"
    assert [p.name for p in out.iterdir()] == ["demo-001"]


def test_json_and_secrets_redacted(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("LIVESESSION_ALERT_WEBHOOK_URL", raising=False)
    config = tmp_path / "desk.toml"
    config.write_text(
        'strategy_factory = "desk.s:make"\n[strategy_params]\nlookback = 5\n'
        f'[alerts]\nwebhook_url = "{_HOOK}"\nretries = 1\n',
        encoding="utf-8",
    )
    out = tmp_path / "runs"
    text = _printed(capsys, "-c", str(config), "--out", str(out), "--json")
    assert "SECRETTOKEN" not in text
    obj = json.loads(text)
    assert obj["ok"] is True
    assert obj["exit_code"] == 0
    assert obj["config"]["alerts"]["webhook_url"] == "https://hooks.example/***"
    assert obj["config"]["alerts"]["retries"] == 1
    assert obj["config"]["strategy_params"] == {"lookback": 5}
    assert obj["config"]["strategy_id"] == "s"
    assert obj["config"]["run_id"] == "s-001"
    assert "base_dir" not in obj["config"]
    assert not out.exists()  # and desk.s was never imported: there is no such module


def test_the_environment_webhook_wins_and_is_redacted(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LIVESESSION_ALERT_WEBHOOK_URL", "https://env.example/T0ken/abc12345678")
    printed = tomllib.loads(_printed(capsys, "--out", str(tmp_path / "runs")))
    assert printed["alerts"]["webhook_url"] == "https://env.example/***"


@pytest.mark.parametrize(
    "params",
    [
        {"note": 'caf\u00e9 \u007f tab\t \U0001f600 "q" \\', "n": -3, "f": 2.5e-7},
        {"nested": {"a": [1, True, "x"], "odd key": {}, "deep": {"b": [[1], []]}}},
    ],
)
def test_params_of_any_form_print_as_toml_that_reads_back_the_same(tmp_path, capsys, params):
    config = DryrunConfig(strategy_factory="desk.s:make", strategy_params=params)
    path = tmp_path / "desk.toml"
    path.write_text(
        'strategy_factory = "desk.s:make"\n[strategy_params]\n'
        + "".join(f"{json.dumps(k)} = {_inline(v)}\n" for k, v in params.items()),
        encoding="utf-8",
    )
    assert load_config(path).strategy_params == config.strategy_params
    printed = tomllib.loads(_printed(capsys, "-c", str(path), "--out", str(tmp_path / "r")))
    assert printed["strategy_params"] == params


def _inline(value: object) -> str:
    """A TOML value written by hand (the test's, not the code's)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    return repr(value)


def test_it_says_where_its_relative_paths_are_read_from(tmp_path, capsys, monkeypatch):
    """Printed into another folder, a relative reference or data file no longer resolved,
    and nothing said where it had been read from (the run took it from the config's folder).
    """
    desk = tmp_path / "desk folder"
    desk.mkdir()
    config = desk / "desk.toml"
    config.write_text('feed = "csv:bars.csv"\nstrategy_factory = "pkg.s:make"\n', "utf-8")
    monkeypatch.chdir(tmp_path)
    out = _printed(capsys, "-c", str(config))
    where = json.dumps(str(desk.resolve()))
    assert out.splitlines()[0] == (
        f"# relative references and data file paths below are read from {where}"
    )
    assert tomllib.loads(out)["feed"] == "csv:bars.csv"
    assert main(["dryrun", "--print-config", "-c", str(config), "--json"]) == 0
    said = json.loads(capsys.readouterr().out)
    assert said["resolves_from"] == str(desk.resolve())
    assert main(["dryrun", "--print-config", "--json"]) == 0  # no file: the working folder
    assert json.loads(capsys.readouterr().out)["resolves_from"] == str(tmp_path.resolve())


@pytest.mark.parametrize(
    "env",
    [
        {"PYTHONIOENCODING": "ascii"},
        {"PYTHONIOENCODING": "latin-1"},
        {"LC_ALL": "C", "PYTHONUTF8": "0", "LANG": ""},
    ],
)
def test_a_stdout_that_cannot_take_the_text_gets_toml_escapes(tmp_path, env):
    """Under an ASCII stdout (``PYTHONIOENCODING=ascii``, or the C locale without UTF-8
    mode) ``strategy_id = "strät"`` printed as ``"str\\xe4t"``: no TOML escape, so the printed
    config was no TOML at all (``Unescaped '\\' in a string``); under latin-1 as the byte
    0xe4, which no UTF-8 file holds. It prints ``"str\\u00e4t"``."""
    config = tmp_path / "desk.toml"
    config.write_text(
        'strategy_id = "strät"\nstrategy_factory = "desk.s:make"\n'
        '[strategy_params]\nnote = "prix → 📈"\n',
        encoding="utf-8",
    )
    done = subprocess.run(
        [sys.executable, "-m", "livesession", "dryrun", "--print-config", "-c", str(config)],
        env={k: v for k, v in os.environ.items() if k != "PYTHONIOENCODING"} | env,
        capture_output=True,
        check=False,
        cwd=tmp_path,
    )
    assert (done.returncode, done.stderr) == (0, b"")
    printed = tomllib.loads(done.stdout.decode("ascii"))
    assert printed["strategy_id"] == "strät"
    assert printed["strategy_params"]["note"] == "prix → 📈"
    again = tmp_path / "again.toml"
    again.write_bytes(done.stdout)
    flags = {"run_id": printed["run_id"], "durability": "step"}
    assert load_config(again).to_dict() == load_config(config, flags).to_dict()
