"""The livesession pytest plugin: fixtures that build, check and verify sessions.

Installed with livesession (entry point ``pytest11``, name ``livesession``), so any test
suite can use its fixtures. It imports nothing heavy at load: the session machinery loads
when a fixture is first used, and hypothesis only when the failure matrix runs.

Fixtures:

- ``run_factory``: builds sessions on memory sinks (``run_factory(steps=50, strategy=s)``
  returns a ``MemoryRun``; ``run_factory.run(...)`` also runs it to the end and closes it).
  At teardown every session it built is closed and verified; a run that does not verify
  fails the test.
- ``verified_runs``: verifies at teardown every session the test builds, however it was
  built (the run directory it wrote, wherever it is), and every run directory under the
  test's ``tmp_path``.
- ``fault_broker``: a fresh ``FaultBroker``.
- ``failure_matrix``: ``run_failure_matrix`` (``failure_matrix(make_strategy, examples=...)``).

A test that breaks a run on purpose says so: ``@pytest.mark.broken_run("why")``. With the
ini option ``livesession_verify_every_run = true`` every test verifies its runs, as if it
had asked for ``verified_runs``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from .._support.optional import import_optional

# ``RunFactory`` and ``MemoryRun`` are names of ``livesession.testing``: without the extra
# a user who imports them is told which extra to install, not ``No module named 'pytest'``.
import_optional("pytest", "testing")

import pytest  # noqa: E402 - after the check above

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from .._artifacts.sinks import MemoryLineSink, MemoryMetricsSink
    from .._session.coordinator import LiveSessionOrchestrator
    from .faults import FaultBroker
    from .model import MatrixReport
    from .tracking import SessionTracker

__all__ = [
    "MemoryRun",
    "RunFactory",
    "failure_matrix",
    "fault_broker",
    "livesession_verify_every_run",
    "run_factory",
    "verified_runs",
    "verifying",
]

_INI = "livesession_verify_every_run"
_BROKEN = "broken_run(why): the test breaks a run on purpose; its runs are not verified"


def pytest_addoption(parser: pytest.Parser) -> None:
    """The ini option that turns verification on for every test."""
    parser.addini(_INI, "verify every run every test makes, at teardown", type="bool")


def pytest_configure(config: pytest.Config) -> None:
    """Register the ``broken_run`` marker."""
    config.addinivalue_line("markers", _BROKEN)


def verifying(request: pytest.FixtureRequest) -> Iterator[SessionTracker]:
    """Track the sessions a test builds; at teardown verify them and its run directories.

    A generator for a fixture to ``yield from``. A test marked ``broken_run`` is skipped.
    """
    from .tracking import SessionTracker  # noqa: PLC0415 - the plugin loads lazily

    tracker = SessionTracker()
    tracker.start()
    try:
        yield tracker
    finally:
        tracker.stop()
    if request.node.get_closest_marker("broken_run") is not None:
        return
    tmp_path = request.node.funcargs.get("tmp_path")
    roots = (tmp_path,) if isinstance(tmp_path, Path) else ()
    problems = tracker.problems(*roots)
    if problems:
        pytest.fail(
            "a run made by this test fails verify (mark the test "
            '@pytest.mark.broken_run("why") if that is its purpose):\n' + "\n".join(problems),
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def livesession_verify_every_run(request: pytest.FixtureRequest) -> Iterator[None]:
    """With the ini option on, verify every test's runs at teardown (else nothing).

    A test that asks for ``verified_runs`` has its runs verified there, once.
    """
    if not request.config.getini(_INI) or "verified_runs" in request.fixturenames:
        yield
        return
    for _ in verifying(request):
        yield


@pytest.fixture
def verified_runs(request: pytest.FixtureRequest) -> Iterator[SessionTracker]:
    """Verify at teardown every session this test builds and its run directories."""
    yield from verifying(request)


@attrs.define
class MemoryRun:
    """One session built by ``run_factory``, with the memory sinks it writes to."""

    orch: LiveSessionOrchestrator
    events: MemoryLineSink
    states: MemoryLineSink
    audit: MemoryLineSink
    metrics: MemoryMetricsSink

    def events_of(self, event_type: str) -> list[dict[str, Any]]:
        """The events of ``event_type``, parsed, in order."""
        import orjson  # noqa: PLC0415 - the plugin loads lazily

        return [
            event
            for event in map(orjson.loads, self.events.lines)
            if event["event_type"] == event_type
        ]


class RunFactory:
    """Builds sessions on memory sinks and verifies each at teardown (``run_factory``)."""

    def __init__(self) -> None:
        self.runs: list[MemoryRun] = []

    def __call__(self, config: Any = None, **fields: Any) -> MemoryRun:
        """A session of ``config`` (a ``DryrunConfig``) or of ``fields``.

        The session's edges go to the orchestrator, as ``LiveSessionOrchestrator`` takes
        them (``strategy``, ``feed``, ``broker``, ``clock``, ``idempotency``, ``checks``,
        ``rails``, ``retry_policy``, ``alerts``, ``checkpoints``, ``lease``, ...), but for
        its four sinks: the factory's are memory sinks, and another is refused
        (``TypeError``). Every other keyword is a ``DryrunConfig`` field (``run_id``
        defaults to ``"test"``, ``strategy_id`` to the given strategy's own). Four names are
        both: a ``feed`` or ``broker`` given as text (``"csv:bars.csv"``, ``"realish"``),
        ``rails`` given as references (``["desk.rails:max_position"]``, or none) and
        ``alerts`` given as a table (a mapping or an ``AlertsConfig``) are the config's own
        fields, as a config file writes them; given as objects they are edges.
        """
        from .._artifacts.sinks import MemoryLineSink, MemoryMetricsSink  # noqa: PLC0415
        from .._domain.config import DryrunConfig  # noqa: PLC0415
        from .._session.coordinator import LiveSessionOrchestrator  # noqa: PLC0415

        edges = _edges_of(fields)
        if config is None:
            # A strategy passed without a strategy_id field names the run's strategy itself.
            own = getattr(edges.get("strategy"), "strategy_id", None)
            named = {"strategy_id": own} if isinstance(own, str) else {}
            config = DryrunConfig(**{"run_id": "test", **named, **fields})
        elif fields:
            msg = "pass either a config or DryrunConfig fields, not both"
            raise TypeError(msg)
        events, states, audit = MemoryLineSink(), MemoryLineSink(), MemoryLineSink()
        metrics = MemoryMetricsSink()
        orch = LiveSessionOrchestrator(
            config,
            event_sink=events,
            state_sink=states,
            audit_sink=audit,
            metrics_sink=metrics,
            **edges,
        )
        run = MemoryRun(orch=orch, events=events, states=states, audit=audit, metrics=metrics)
        self.runs.append(run)
        return run

    def __repr__(self) -> str:
        return f"RunFactory(runs={len(self.runs)})"

    def run(self, config: Any = None, **fields: Any) -> MemoryRun:
        """A session as ``__call__`` builds it, run to its configured steps and closed."""
        run = self(config, **fields)
        run.orch.run_to_end(run.orch.config.steps)
        return run

    def problems(self) -> list[str]:
        """Close and verify every session built ([] when all verify)."""
        from .tracking import mark_verified, verify_session  # noqa: PLC0415

        found: list[str] = []
        for run in self.runs:
            found.extend(verify_session(run.orch))
            mark_verified(run.orch)
        return found


_SINKS = ("event_sink", "state_sink", "audit_sink", "metrics_sink")


def _edges_of(fields: dict[str, Any]) -> dict[str, Any]:
    """Take the session's edges out of ``fields``, leaving the ``DryrunConfig`` fields.

    A name that is both (``feed``, ``broker``, ``rails``, ``alerts``) is the config's when
    given in the config's own form (``_the_configs``). A sink is refused.
    """
    from .._session.edges import SessionEdges  # noqa: PLC0415 - the plugin loads lazily

    sinks = [key for key in _SINKS if key in fields]
    if sinks:
        msg = (
            f"run_factory does not take {sinks[0]}=: it writes to memory sinks of its own "
            "(run.events, run.states, run.audit, run.metrics); for sinks of yours build "
            "LiveSessionOrchestrator(config, ...) with the verified_runs fixture"
        )
        raise TypeError(msg)
    return {
        key: fields.pop(key)
        for key in SessionEdges.__annotations__
        if key in fields and not _the_configs(key, fields[key])
    }


def _the_configs(key: str, value: object) -> bool:
    """Whether ``value``, given as ``key``, is the ``DryrunConfig`` field of that name.

    As a config file writes it: a feed or broker spec as text, rails as references (text;
    none at all is the config's too, which keeps the built-in rails), alerts as a table.
    """
    from .._domain.alerts import AlertsConfig  # noqa: PLC0415 - the plugin loads lazily

    if key in ("feed", "broker"):
        return isinstance(value, str)
    if key == "rails":
        return (
            isinstance(value, Sequence)
            and not isinstance(value, str)
            and all(isinstance(ref, str) for ref in value)
        )
    if key == "alerts":
        return isinstance(value, (Mapping, AlertsConfig))
    return False


@pytest.fixture
def run_factory(request: pytest.FixtureRequest) -> Iterator[RunFactory]:
    """Build sessions on memory sinks; each is closed and verified at teardown."""
    factory = RunFactory()
    yield factory
    if request.node.get_closest_marker("broken_run") is not None:
        return
    problems = factory.problems()
    if problems:
        pytest.fail("a run from run_factory fails verify:\n" + "\n".join(problems), pytrace=False)


@pytest.fixture
def fault_broker() -> FaultBroker:
    """A fresh ``FaultBroker`` (arm its faults with ``fault_broker.arm(name)``)."""
    from .faults import FaultBroker  # noqa: PLC0415

    return FaultBroker()


@pytest.fixture
def failure_matrix() -> Callable[..., MatrixReport]:
    """``run_failure_matrix``; hypothesis is imported when it is called."""
    from .matrix import run_failure_matrix  # noqa: PLC0415 - imports no hypothesis yet

    return run_failure_matrix
