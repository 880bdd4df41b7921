"""Shared test set-up: the product's variables of an operator's shell removed, the loopback
guard, verify-every-run, the hypothesis profiles, and redaction's environment secrets per
test."""

from __future__ import annotations

import decimal
import os
import re
import shlex
import signal
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# An operator's shell may hold the product's own variables: the desk's alert webhook, its
# exchange keys, a PostgreSQL timeout, a drill's crash or pause point. Every run the suite
# makes, in this process and in the children it starts (which have no loopback guard),
# took them: alerts posted to that webhook, the test process SIGKILLed at its first
# checkpoint, tests failing on an extra `alert(s) not delivered` line. They are removed
# before the package is imported (the crash points are read as it is); a test that needs
# one sets it. LIVESESSION_PG_DSN stays: it names the postgres tests' server.
# tests/test_suite_environment.py holds this list to every such name the package reads.
OPERATOR_VARIABLES = re.compile(
    r"LIVESESSION_(ALERT_WEBHOOK_URL|PG_TIMEOUT|CRASH_AT|PAUSE_AT|[A-Z0-9]+_API_[A-Z0-9]+)"
)
for _name in [name for name in os.environ if OPERATOR_VARIABLES.fullmatch(name)]:
    del os.environ[_name]
# A proxy the shell names (a desk's `https_proxy`, a CI machine's `HTTP_PROXY`): urllib sent
# the tests' posts to their loopback webhooks through it, to an address off loopback (40 of
# test_alerts.py's tests failed on the guard in this process; the CLI children it starts,
# which have no guard, sent them out). The webhook's opener takes no proxy now
# (test_webhook_proxy.py); any other client a test runs still might. The tests talk to
# loopback only: no proxy is taken.
PROXY_VARIABLES = re.compile(r"(?i)(http|https|ftp|all)_proxy")
for _name in [name for name in os.environ if PROXY_VARIABLES.fullmatch(name)]:
    del os.environ[_name]
# argparse lays `--help` out to COLUMNS (else the terminal's width, with `-s`): the tests
# that read help text failed in a terminal 70 or 120 columns wide, or with COLUMNS exported
# (a phrase cut over two lines: `(default:` / `sqlite)`). They read it at 80, as CI does.
os.environ["COLUMNS"] = "80"
# The tests compare the CLI's advice (`livesession resume RUN_DIR`) with lines they build
# from tmp_path as it is, and the CLI shell-quotes a path a shell would split or read: under
# a TMPDIR holding a space (or `~`, `$`, a letter past ASCII) some 90 tests failed for the
# quotes alone. Their tmp_path is then made under /tmp, and the report's header says so.
TEMP_ROOT_NEEDS_QUOTES = ""
if "PYTEST_DEBUG_TEMPROOT" not in os.environ:  # pytest's own root for tmp_path
    _root = tempfile.gettempdir()
    if shlex.quote(_root) != _root and Path("/tmp").is_dir():
        os.environ["PYTEST_DEBUG_TEMPROOT"] = "/tmp"
        TEMP_ROOT_NEEDS_QUOTES = _root

# The CLI processes the tests start (a few thousand) import the package as an install does:
# from bytecode. `pip install -e`, or a shell with PYTHONDONTWRITEBYTECODE set, would have
# each one compile some 250 modules first (a third of the CPU time of a test that starts
# CLI processes). The cache goes to a directory of its own, shared by the workers, never
# into the tree or beside a user's strategy package that a test imports.
# The variable reaches the children; this process, started without it, takes it as well
# (``sys.pycache_prefix``): on a machine without PYTHONDONTWRITEBYTECODE (CI's), a run with
# `-n 0` wrote the bytecode of the packages its tests import (examples/mydesk, a desk's
# package in tmp_path) and of the tests themselves beside their sources. What is imported
# before this file runs (it, the package's pytest plugin) still is; git ignores it.
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
if not os.environ.get("PYTHONPYCACHEPREFIX"):  # an empty one is none, as Python reads it
    os.environ["PYTHONPYCACHEPREFIX"] = str(
        Path(tempfile.gettempdir()) / f"livesession-tests-pyc-{os.getuid()}"
    )
sys.pycache_prefix = os.environ["PYTHONPYCACHEPREFIX"]

from livesession._support import secrets  # noqa: E402 - after the environment is cleared

sys.path.insert(0, str(Path(__file__).parent))

import _netguard  # noqa: E402 - after the environment is cleared

_netguard.install()

# A suite started as a background job of a shell without job control (a script's
# `pytest &`, `nohup ... &` in a subshell) inherits SIGINT ignored, and Python then installs
# no Ctrl-C handler: the tests that send their own process SIGINT saw nothing and failed
# (`DID NOT RAISE KeyboardInterrupt`), or a worker died. They test a terminal's Ctrl-C, so
# the process takes SIGINT as Python started from a terminal does; the children it starts
# get the default action (a handler is reset on exec), and the tests of a caller that
# ignores SIGINT set that up themselves.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_KIT = "livesession.testing.pytest_plugin"
# The kit's plugin first (an install made before its entry point existed lacks it), so it
# is imported as a plugin before _verify_runs imports from it.
pytest_plugins = [
    *(() if any(ep.value == _KIT for ep in entry_points(group="pytest11")) else (_KIT,)),
    "_verify_runs",
]

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
# Hypothesis loads its own ``ci`` profile (derandomized, no database) as the default when it
# sees a CI variable, and a profile without a parent inherits the default: the dev and deep
# profiles name Hypothesis's plain default as their parent, so on a CI machine they still
# draw afresh and keep their failing examples in .hypothesis/.
_PLAIN = settings.get_profile("default")
settings.register_profile("dev", parent=_PLAIN, deadline=None, max_examples=50)
settings.register_profile(
    "deep",
    parent=_PLAIN,
    deadline=None,
    max_examples=5000,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def _decimal_settings(context: decimal.Context) -> tuple[object, ...]:
    return (context.prec, context.rounding, context.Emin, context.Emax, context.capitals,
            context.clamp, sorted(s.__name__ for s, on in context.traps.items() if on))  # fmt: skip


@pytest.fixture(autouse=True)
def _decimal_context_kept() -> Iterator[None]:
    """A test (or the library under it) leaves the thread's decimal context as it found it.

    ccxt's ``decimal_to_precision`` set rounding half up on the calling thread through a
    broker called outside a session; the test that failed was a later one on the same
    worker (a rail's share read 0.0500003 for 0.0500002). The leak fails where it happens.
    """
    before = _decimal_settings(decimal.getcontext())
    yield
    after = _decimal_settings(decimal.getcontext())
    if after != before:
        decimal.setcontext(decimal.Context())  # the next test starts in Python's default
        pytest.fail(f"the test left the decimal context changed: {before} -> {after}")


@pytest.fixture(autouse=True)
def _environment_secrets_per_test() -> Iterator[None]:
    """The environment secrets a test's sessions took are redacted only for that test.

    In a process they only grow (a secret once taken stays redacted), so without this the
    keys one test plants in its environment would be redacted in every test after it. The
    same holds for the names they were taken under, which the checks of a checkpoint's
    state and of an intent's text search: kept, a value one test planted failed the step
    of a later test on the same worker that held it, or was named by the earlier test's
    variable (``test_suite_environment.py``).
    """
    taken = dict(secrets._ENVIRONMENT)  # the process-wide sets, restored after
    named = dict(secrets._NAMED)
    yield
    secrets._ENVIRONMENT.clear()
    secrets._ENVIRONMENT.update(taken)
    secrets._NAMED.clear()
    secrets._NAMED.update(named)


def pytest_report_header() -> list[str]:
    """Where tmp_path is made, when not under TMPDIR (see TEMP_ROOT_NEEDS_QUOTES)."""
    if not TEMP_ROOT_NEEDS_QUOTES:
        return []
    why = "a shell quotes that path, and the tests' expected command lines do not"
    return [f"tmp_path under /tmp, not {TEMP_ROOT_NEEDS_QUOTES}: {why}"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist (``-n auto --dist loadgroup``, the README's command): a file's tests
    stay in one worker, so a module's fixtures (the crash sweep) are built once, and every
    PostgreSQL test shares one worker: they share the server's lease and store rows."""
    if not config.pluginmanager.hasplugin("xdist"):
        return
    for item in items:
        postgres = item.get_closest_marker("postgres") is not None
        group = "postgres" if postgres else item.nodeid.split("::", 1)[0]
        item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(name="fake")
def _fake_exchange() -> Iterator[Any]:
    """A started loopback fake exchange (``fake_binance``); at the end, no client order id
    was created twice there. A test module may override it (routing, a loopback guard)."""
    from fake_binance import FakeBinance

    fake = FakeBinance().start()
    yield fake
    fake.stop()
    assert max(fake.created.values(), default=0) <= 1, fake.created
