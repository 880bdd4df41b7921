"""The suite takes none of the product's variables an operator's shell may hold.

Bug: run from a desk's shell, the suite's runs took its `LIVESESSION_ALERT_WEBHOOK_URL`
(alerts posted there from the CLI children the tests start, which have no loopback guard;
tests failing on an extra `alert(s) not delivered` line), a drill's `LIVESESSION_CRASH_AT`
(the test process SIGKILLed at its first checkpoint, saying nothing), its exchange keys and
its `LIVESESSION_PG_TIMEOUT`. ``conftest.py`` removes them as the suite starts.

The tests that read `--help` failed with `COLUMNS` exported at 70 or 120 (or with `-s`
in such a terminal): argparse lays the text out to that width. ``conftest.py`` sets 80.
And under a TMPDIR holding a space some 90 tests failed: the CLI quotes the paths in its
advice, and the lines they expect do not. ``conftest.py`` makes their tmp_path under /tmp.
"""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from conftest import OPERATOR_VARIABLES, PROXY_VARIABLES
from livesession._domain.runtime_config import RUNTIME_MODES, required_env_vars
from livesession._support import secrets
from livesession.cli import main

from _helpers import child_pytest

TESTS = Path(__file__).parent
SRC = TESTS.parent / "src" / "livesession"

KEPT = {
    "LIVESESSION_PG_DSN": "the postgres tests' server (tests/test_postgres.py)",
    "LIVESESSION_PARENT_SYS_PATH": "set by the package for its own children",
    "LIVESESSION_EVIDENCE_V1": "a schema's name, no variable",
}
"""The package's names the suite keeps from the shell, and why."""

A_DESKS_SHELL = {
    "LIVESESSION_ALERT_WEBHOOK_URL": "http://192.0.2.1/hooks/desk",
    "LIVESESSION_CRASH_AT": "checkpoint",
    "LIVESESSION_PAUSE_AT": "before_send",
    "LIVESESSION_PG_TIMEOUT": "1",
    "LIVESESSION_BINANCE_API_KEY": "desk-binance-key-0123456789",
    "LIVESESSION_BINANCE_API_SECRET": "desk-binance-secret-0123456789",
}


def test_no_operator_variable_reaches_a_run(tmp_path, capsys) -> None:
    assert not [name for name in os.environ if OPERATOR_VARIABLES.fullmatch(name)]
    assert main(["dryrun", "--out", str(tmp_path), "--run-id", "x", "-q", "--steps", "30"]) == 0
    assert capsys.readouterr() == ("", "")
    assert not (tmp_path / "x" / "alerts.jsonl").exists()


HELP_TESTS = (
    "test_cli.py::test_dryrun_help_says_the_default_run_id_and_the_dot_rule",
    "test_plugins.py::test_every_subcommand_has_a_description_and_shows_its_defaults",
    "test_cli_fuzz_found.py::TestNoCommand::test_help_still_lists_the_commands",
)


def _child_pytest(tmp_path: Path | None, tests: list[str], env: dict[str, str]) -> str:
    """Run ``tests`` in a child pytest under ``env`` over this process's; all must pass.

    Its tmp_path is under ``tmp_path``, or where pytest chooses when that is None.
    """
    basetemp = [] if tmp_path is None else ["--basetemp", str(tmp_path / "child")]
    done = child_pytest("-p", "no:randomly", *tests, *basetemp, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert f"{len(tests)} passed" in done.stdout
    return done.stdout


def test_a_desks_shell_variables_are_not_taken(tmp_path) -> None:
    _child_pytest(tmp_path, [f"{__file__}::test_no_operator_variable_reaches_a_run"], A_DESKS_SHELL)


A_PROXIED_SHELL = {
    "http_proxy": "http://192.0.2.1:3128",
    "HTTPS_PROXY": "http://192.0.2.1:3128",
    "all_proxy": "socks5://192.0.2.1:1080",
}
"""A shell behind a proxy (192.0.2.1: an address for documentation, never a host)."""

LOOPBACK_POSTS = (
    "test_alerts.py::test_kill_switch_reducing_and_the_seal_post_their_payloads",
    "test_alerts.py::test_a_redirect_is_not_followed_and_its_status_is_logged",
)
"""Tests that post to a loopback webhook, which a proxy in the shell took the posts of."""


def test_no_proxy_reaches_the_tests() -> None:
    assert not [name for name in os.environ if PROXY_VARIABLES.fullmatch(name)]
    assert urllib.request.getproxies() == {}  # what urllib's default opener reads


def test_a_proxy_in_the_shell_takes_no_loopback_post(tmp_path) -> None:
    """Bug: under `http_proxy` (or `HTTPS_PROXY`, `all_proxy`) the posts to the tests'
    loopback webhooks went through the proxy: 40 alert tests failed on the loopback guard."""
    tests = [f"{__file__}::test_no_proxy_reaches_the_tests"]
    _child_pytest(
        tmp_path, [*tests, *(str(TESTS / test) for test in LOOPBACK_POSTS)], A_PROXIED_SHELL
    )


@pytest.mark.parametrize("columns", ["30", "70", "120"])
def test_the_help_tests_pass_at_any_terminal_width(tmp_path, columns) -> None:
    _child_pytest(tmp_path, [str(TESTS / test) for test in HELP_TESTS], {"COLUMNS": columns})


def test_every_variable_the_package_reads_is_removed_or_kept_for_a_reason() -> None:
    named = {
        match
        for path in SRC.rglob("*.py")
        for match in re.findall(r"LIVESESSION_[A-Z0-9_]*[A-Z0-9]", path.read_text("utf-8"))
    }
    named |= {name for mode in RUNTIME_MODES for name in required_env_vars(mode)}
    assert named >= set(KEPT)
    assert sorted(n for n in named - set(KEPT) if not OPERATOR_VARIABLES.fullmatch(n)) == []
    assert not [name for name in KEPT if OPERATOR_VARIABLES.fullmatch(name)]


def test_the_tests_pass_under_a_temporary_directory_a_shell_quotes(tmp_path) -> None:
    spaced = tmp_path / "temp dir"
    spaced.mkdir()
    tests = [
        "test_evidence.py::TestOutcome::test_a_crashed_run_is_said_to_be_unsealed_and_not_re_run",
        "test_cli.py::TestDryrun::test_refuses_to_overwrite",
    ]
    _child_pytest(None, [str(TESTS / test) for test in tests], {"TMPDIR": str(spaced)})


def test_a_package_of_its_own_is_imported(tmp_path) -> None:
    """A test importing a package from tmp_path, as a desk's tests import its strategy's
    (run in a child by the next test)."""
    (tmp_path / "deskpkg_bytecode").mkdir()
    (tmp_path / "deskpkg_bytecode" / "__init__.py").write_text("VALUE = 7\n", encoding="utf-8")
    sys.path.insert(0, str(tmp_path))
    try:
        assert importlib.import_module("deskpkg_bytecode").VALUE == 7
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("deskpkg_bytecode", None)


def test_no_bytecode_lands_beside_what_a_test_imports(tmp_path) -> None:
    """Bug: on a machine without PYTHONDONTWRITEBYTECODE (a CI runner's), a run with `-n 0`
    wrote `__pycache__` beside each package its tests imported (examples/mydesk in the
    checkout, a desk's package in tmp_path): ``conftest.py`` set PYTHONPYCACHEPREFIX for
    the children only. Run so, with neither variable, the test above leaves no bytecode in
    its tmp_path."""
    unset = {"PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX", "PYTEST_DEBUG_TEMPROOT"}
    env = {k: v for k, v in os.environ.items() if k not in unset and k != "PYTEST_ADDOPTS"}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0",
         f"{__file__}::test_a_package_of_its_own_is_imported",
         "--basetemp", str(tmp_path / "child")],
        env=env, capture_output=True, text=True, check=False, timeout=300, cwd=TESTS.parent,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout
    assert (tmp_path / "child").is_dir()
    assert sorted((tmp_path / "child").rglob("__pycache__")) == []


_PLANTED = "planted-by-one-test-Qx7v2Lm9"
"""A secret the first of the next two tests plants in its environment (a desk's key)."""


def test_a_secret_a_test_plants_is_searched_for_in_that_test(monkeypatch) -> None:
    monkeypatch.setenv("SUITE_PLANTED_API_SECRET", _PLANTED)
    secrets.take_environment_secrets()  # as a session does as it is built
    assert secrets.environment_secret_in(f"state {_PLANTED}".encode()) == (
        "SUITE_PLANTED_API_SECRET",
        _PLANTED.encode(),
    )


def test_a_secret_the_test_before_planted_is_not_searched_for_in_the_next() -> None:
    """Run after the test above, in the same process (a file's tests keep their order on
    one worker): before, the value it planted was still searched for here, by its name,
    so a later test's checkpoint or intent holding it failed its step for a variable its
    own environment never had. Run alone, it passes either way."""
    assert os.environ.get("SUITE_PLANTED_API_SECRET") is None
    assert secrets.environment_secret_in(f"state {_PLANTED}".encode()) is None
