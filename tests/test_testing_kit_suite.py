"""The testing kit inside a user's own test suite: their hypothesis profile, their runs.

A user's suite loads a hypothesis profile of its own (fewer phases for a quick run, say).
The failure matrix took the phases from it: a profile without the generate phase made
``run_failure_matrix`` raise ``SkipTest`` (the test was skipped, though the strategy fails
under faults), and one without shrinking reported an unshrunk case as the shrunk one. The
matrix's search is now its own whatever profile is loaded.

``verified_runs`` (and the ini option) verified the run directories under the test's
``tmp_path`` only: a session the test built with ``create_run`` anywhere else (its
``out/runs``, a ``tmp_path_factory`` directory) was closed and never verified, though the
fixture "verifies every session the test builds, however it was built".

A finding across processes (the strategy decides by ``hash()`` of a str) gave no
``re-run it`` line, unlike every other finding: it now ends with one, which runs the matrix
with the same arguments and one example.
"""

from __future__ import annotations

import functools
import textwrap
from collections.abc import Iterator, Sequence
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Any

import pytest
from hypothesis import Phase, settings

from livesession import Bar, OrderIntent, Side
from livesession.testing import run_failure_matrix
from test_testing_kit import impatient

pytest_plugins = ["pytester"]

PLUGIN = "livesession.testing.pytest_plugin"


def plugin_args() -> list[str]:
    """``-p`` for the kit's plugin unless its entry point already loads it."""
    if any(ep.value == PLUGIN for ep in entry_points(group="pytest11")):
        return []
    return ["-p", PLUGIN]


def _shrunk(message: str) -> str:
    return message.split("shrunk example: ")[1].split("\n", maxsplit=1)[0]


def _matrix_finding() -> str:
    """The matrix's finding on ``impatient``, which fails only under faults.

    Anything else it raises (``SkipTest`` under a profile that generates nothing) fails.
    """
    try:
        run_failure_matrix(
            impatient, examples=10, steps=16, seed=7, max_faults=3, cross_process=False
        )
    except AssertionError as exc:
        return str(exc)
    except Exception as exc:  # the finding is the only outcome allowed
        pytest.fail(f"the failure matrix raised {exc!r}, not a finding")
    pytest.fail("the failure matrix found nothing")


@functools.cache
def _under_the_default_profile() -> str:
    before = settings._current_profile  # the loaded profile's name
    settings.load_profile("default")
    try:
        return _matrix_finding()
    finally:
        settings.load_profile(before or "default")


@pytest.fixture
def users_profile(request: pytest.FixtureRequest) -> Iterator[None]:
    """Load a profile of the user's own for one test (the suite's own profile after it)."""
    before = settings._current_profile  # the loaded profile's name
    name = f"users-{request.param}"
    phases = {
        "no-generate": (Phase.explicit, Phase.reuse),
        "no-shrink": (Phase.explicit, Phase.reuse, Phase.generate),
    }[request.param]
    settings.register_profile(name, phases=phases, max_examples=3)
    settings.load_profile(name)
    try:
        yield
    finally:
        settings.load_profile(before or "default")


@pytest.mark.parametrize("users_profile", ["no-generate", "no-shrink"], indirect=True)
@pytest.mark.usefixtures("users_profile")
def test_a_users_hypothesis_profile_changes_no_finding() -> None:
    """Under the user's profile the matrix finds and shrinks as under any other."""
    under_users = _matrix_finding()
    assert "the strategy raised RuntimeError: an order is still open" in under_users
    assert _shrunk(under_users) == "MatrixCase(latency_s=90, faults=(), kill_after=1)"
    assert under_users == _under_the_default_profile()


def test_verified_runs_verifies_a_run_directory_outside_tmp_path(pytester: pytest.Pytester):
    """A run the test wrote anywhere is verified; one it removed is not looked for."""
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            import tempfile
            from livesession import DryrunConfig, create_run

            def run(where):
                session = create_run(DryrunConfig(run_id="r", steps=12), where, alerts=False)
                session.run_to_end(12)
                session.close()
                return where / "r"

            def test_intact_elsewhere(verified_runs, tmp_path_factory):
                run(tmp_path_factory.mktemp("desk"))

            def test_torn_elsewhere(verified_runs, tmp_path_factory):
                events = run(tmp_path_factory.mktemp("desk")) / "events.jsonl"
                events.write_bytes(events.read_bytes()[:-30])

            def test_torn_in_the_working_directory(verified_runs, monkeypatch, tmp_path_factory):
                from pathlib import Path
                monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))  # undone before teardown
                events = run(Path("out")) / "events.jsonl"
                events.write_bytes(events.read_bytes()[:-30])

            def test_removed(verified_runs):
                with tempfile.TemporaryDirectory() as where:
                    from pathlib import Path
                    run(Path(where))
            """
        )
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", *plugin_args())
    result.assert_outcomes(passed=4, errors=2)
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_torn_elsewhere*"])
    result.stdout.fnmatch_lines(["*ERROR at teardown of test_torn_in_the_working_directory*"])
    result.stdout.fnmatch_lines(["*/desk*/r: events.jsonl:*torn line*"])
    result.stdout.fnmatch_lines(["*/cwd*/out/r: events.jsonl:*torn line*"])


def test_a_run_is_reported_once_under_the_ini_option_and_verified_runs(
    pytester: pytest.Pytester,
):
    """Bug: a host's suite with ``livesession_verify_every_run = true`` whose test also
    asked for ``verified_runs`` verified its runs twice: a run that failed verify was
    reported twice, an exception group of two identical failures. The fixture the test
    asked for verifies them, once."""
    pytester.makeini("[pytest]\nlivesession_verify_every_run = true\n")
    pytester.makepyfile(
        test_user=textwrap.dedent(
            """
            from livesession import DryrunConfig, create_run

            def test_torn(verified_runs, tmp_path):
                session = create_run(DryrunConfig(run_id="r", steps=12), tmp_path, alerts=False)
                session.run_to_end(12)
                session.close()
                events = tmp_path / "r" / "events.jsonl"
                events.write_bytes(events.read_bytes()[:-30])
            """
        )
    )
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", *plugin_args())
    result.assert_outcomes(passed=1, errors=1)
    said = result.stdout.str()
    # The short summary repeats the first error in full where pytest sees a CI (the CI
    # variable set), so the count is of the teardown report before it.
    report = said.split("short test summary info")[0]
    assert report.count("r: events.jsonl:23: last line does not end") == 1, said
    assert "ExceptionGroup" not in said, said


class ByHash:
    """In when flat, out when not; the side by a str's hash, which varies with PYTHONHASHSEED."""

    strategy_id = "sma"

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        if view.has_open_orders(bar.symbol):
            return []
        held: Decimal = view.position(bar.symbol)
        if held:
            side = Side.SELL if held > 0 else Side.BUY
            out = OrderIntent(
                symbol=bar.symbol, side=side, quantity=abs(held), reduce_only=True, reason="out"
            )
            return [out]
        side = Side.BUY if hash(f"{bar.close}") % 2 else Side.SELL
        return [OrderIntent(symbol=bar.symbol, side=side, quantity=Decimal("0.01"), reason="in")]

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


def by_hash() -> ByHash:
    return ByHash()


def test_a_finding_across_processes_says_how_to_re_run_it() -> None:
    with pytest.raises(AssertionError) as caught:
        run_failure_matrix(by_hash, examples=1, steps=40, seed=3)
    first, *_, last = str(caught.value).splitlines()
    assert "not deterministic across processes" in first
    assert last == (
        "re-run it: import test_testing_kit_suite; from livesession.testing import"
        " run_failure_matrix; run_failure_matrix(test_testing_kit_suite.by_hash,"
        " examples=1, steps=40)"
    )
    with pytest.raises(AssertionError) as again:
        exec(last.removeprefix("re-run it: "), {})  # noqa: S102 - the line the user would run
    assert str(again.value).splitlines()[0] == first


def test_the_matrix_leaves_no_hypothesis_folder_in_the_suites_directory(
    pytester: pytest.Pytester,
) -> None:
    """Bug: the failure matrix in an application's own suite left ``.hypothesis/`` (the
    cache of its local modules' constants, ``constants/``) in the application's working
    directory, though the matrix keeps no example database. Its search keeps its storage
    in a scratch directory now, and the home directory the suite set is given back."""
    pytester.makepyfile(
        hostdesk=textwrap.dedent(
            """
            from decimal import Decimal
            from livesession import SmaCrossover

            def make():
                return SmaCrossover(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01"))
            """
        ),
        test_host=textwrap.dedent(
            """
            from pathlib import Path
            from hypothesis import configuration
            from livesession.testing import run_failure_matrix
            import hostdesk

            def test_matrix():
                run_failure_matrix(hostdesk.make, examples=2, steps=16, seed=1, cross_process=False)

            def test_the_suites_own_home_is_given_back(tmp_path):
                configuration.set_hypothesis_home_dir(tmp_path / "own")
                try:
                    run_failure_matrix(hostdesk.make, examples=1, steps=16, seed=2, cross_process=False)
                    assert configuration.storage_directory().home_directory == tmp_path / "own"
                finally:
                    configuration.set_hypothesis_home_dir(None)
            """
        ),
    )
    result = pytester.runpytest_subprocess(
        "-q", "-p", "no:cacheprovider", *plugin_args(), timeout=300
    )
    result.assert_outcomes(passed=2)
    assert not (pytester.path / ".hypothesis").exists()
