"""The testing kit inside a user's own test suite: their hypothesis profile, their runs.

A user's suite loads a hypothesis profile of its own (fewer phases for a quick run, say).
The failure matrix took the phases from it: a profile without the generate phase made
``run_failure_matrix`` raise ``SkipTest`` (the test was skipped, though the strategy fails
under faults), and one without shrinking reported an unshrunk case as the shrunk one. The
matrix's search is now its own whatever profile is loaded.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import Phase, settings

from livesession import Bar, OrderIntent, SmaCrossover
from livesession.testing import run_failure_matrix


class Impatient(SmaCrossover):
    """The SMA demo, which cannot stand an order still open on the next bar."""

    def on_bar(self, bar: Bar, view: Any) -> Sequence[OrderIntent]:
        if view.has_open_orders(bar.symbol):
            raise RuntimeError("an order is still open")
        return super().on_bar(bar, view)


def impatient() -> Impatient:
    return Impatient(strategy_id="sma", fast=3, slow=8, order_qty=Decimal("0.01"))


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
