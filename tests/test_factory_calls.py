"""A caller's ``broker_factory`` is called only once it is the one a run can trade on.

Bug: ``resume_run(run_dir, broker_factory=other)`` called ``other`` (a factory may open a
connection, log in to a venue, spend on a paid API), and only then compared it with the
factory the run recorded and refused the resume; so did a factory given to resume a run
started without one, and ``create_run`` called a factory before refusing a config it
would not write. The factory is named first now (its module and qualified name, its
file's SHA-256: all the recorded check compares), and called once it is the one. Every
run made here is verified at teardown (the conftest).
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from livesession import ConfigError, DryrunConfig, MockBroker, SessionStatus
from livesession._domain.clock import SimClock
from livesession._exceptions import LeaseHeld, PluginError, RunDirectoryError, RunExists
from livesession._rundir import create_run, resume_run
from livesession.leases import FileLease

from _helpers import START, crash_in_step

CALLED: Counter[str] = Counter()
"""How often each factory below was called (reset by the ``calls`` fixture)."""


class Paper(MockBroker):
    """A desk's paper venue on the mock, declared simulated."""

    simulated = True


def paper(cfg: Any, run_dir: Path) -> Any:
    CALLED["paper"] += 1
    return Paper(seed=5, qty_lot=cfg.qty_lot, journal=run_dir / "broker_journal.jsonl")


def other_paper(cfg: Any, run_dir: Path) -> Any:
    """The same venue, built by another factory: another identity, never called."""
    CALLED["other_paper"] += 1
    return Paper(seed=5, qty_lot=cfg.qty_lot, journal=run_dir / "broker_journal.jsonl")


@pytest.fixture(name="calls")
def _calls() -> Counter[str]:
    CALLED.clear()
    return CALLED


def _crashed(out: Path, run_id: str, **given: Any) -> Path:
    """A run of 60 steps on ``given`` crashed in its step 45 (checkpoint at step 40)."""
    cfg = DryrunConfig(run_id=run_id, steps=60, checkpoint_every=10)
    crash_in_step(create_run(cfg, out, **given), 45, 60)
    return out / run_id


def _finish(run_dir: Path, **given: Any) -> None:
    session = resume_run(run_dir, **given)
    assert session.run_to_end(60).status is SessionStatus.COMPLETED
    session.close()


def test_resume_never_calls_another_factory_and_calls_the_recorded_one_once(
    tmp_path: Path, calls: Counter[str]
) -> None:
    run = _crashed(tmp_path, "fac", broker_factory=paper)
    calls.clear()
    with pytest.raises(PluginError, match="pass the same broker_factory= again"):
        resume_run(run, broker_factory=other_paper)
    assert calls == Counter()
    _finish(run, broker_factory=paper)
    assert calls == Counter({"paper": 1})


@pytest.mark.parametrize("given", [{}, {"broker": Paper(seed=5)}], ids=["config", "object"])
def test_a_factory_given_to_resume_a_run_started_without_one_is_never_called(
    tmp_path: Path, calls: Counter[str], given: dict[str, Any]
) -> None:
    run = _crashed(tmp_path, "nofac", **given)
    with pytest.raises(PluginError, match=r"run nofac was started (on the built-in broker|with)"):
        resume_run(run, broker_factory=paper)
    assert calls == Counter()
    _finish(run, **given)


def test_a_factory_given_to_resume_a_run_its_config_s_reference_built_is_named(
    tmp_path: Path, calls: Counter[str]
) -> None:
    """The refusal names the run's reference and the factory given (module.qualname).

    It said ``run refbuilt was started with broker 'refvenue.parts:make', not given now``:
    the factory the caller had just given went unnamed, as if none had been.
    """
    package = tmp_path / "plugs" / "refvenue"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "parts.py").write_text(
        "from livesession import MockBroker\n\n\n"
        "def make(*, seed=5):\n    return MockBroker(seed=seed)\n"
    )
    cfg = DryrunConfig(
        run_id="refbuilt", steps=60, checkpoint_every=10, broker="refvenue.parts:make",
        base_dir=str(tmp_path / "plugs"),
    )  # fmt: skip
    crash_in_step(create_run(cfg, tmp_path), 45, 60)
    run = tmp_path / "refbuilt"
    with pytest.raises(PluginError) as refused:
        resume_run(run, broker_factory=paper)
    assert str(refused.value) == (
        "run refbuilt was started with broker 'refvenue.parts:make' (a reference in its "
        f"config), not with the broker_factory= given now ({__name__}.paper): resume it "
        "without broker_factory=, and its config's reference builds the broker again"
    )
    assert calls == Counter()
    _finish(run)


def test_resume_refused_for_its_lost_keys_never_calls_the_factory(
    tmp_path: Path, calls: Counter[str]
) -> None:
    """The idempotency store refused (the run's keys lost): the factory builds nothing."""
    run = _crashed(tmp_path, "keys", broker_factory=paper)
    calls.clear()
    aside = tmp_path / "aside"
    aside.mkdir()
    kept = sorted(run.glob("idempotency.sqlite*"))
    assert kept
    for path in kept:
        shutil.move(path, aside / path.name)
    with pytest.raises(RunDirectoryError, match=r"idempotency\.sqlite"):
        resume_run(run, broker_factory=paper)
    assert calls == Counter()
    for path in kept:
        shutil.move(aside / path.name, path)
    _finish(run, broker_factory=paper)
    assert calls == Counter({"paper": 1})


def test_resume_refused_for_a_lease_another_session_holds_never_calls_the_factory(
    tmp_path: Path, calls: Counter[str]
) -> None:
    """Bug: the recorded factory built the broker (it may log in to a venue), and only then
    was the lease found held by another live session and the resume refused. The lease is
    looked at first now (and still taken after the factory, as before)."""
    at = SimClock(START)  # the lease's time: nothing waits on the wall clock
    run = _crashed(tmp_path, "leased", broker_factory=paper, lease=True, lease_clock=at)
    calls.clear()
    lease = FileLease(tmp_path / ".leases" / "default__sma_demo.lease", "default", "sma_demo")
    other = lease.acquire("other@desk-02:4242", at.monotonic_ns(), 10**12)
    assert other is not None
    with pytest.raises(LeaseHeld, match=r"another live session \(other@desk-02:4242\)"):
        resume_run(run, broker_factory=paper, lease_clock=at)
    assert calls == Counter()
    lease.release(other)  # the other session ends
    _finish(run, broker_factory=paper, lease_clock=at)
    assert calls == Counter({"paper": 1})


def test_create_run_refusing_a_run_never_calls_the_factory(
    tmp_path: Path, calls: Counter[str]
) -> None:
    """An existing run id, ``memory`` ids, a data pin for a feed that reads no file."""
    run = _crashed(tmp_path, "made", broker_factory=paper)
    calls.clear()
    with pytest.raises(RunExists):
        create_run(DryrunConfig(run_id="made", steps=60), tmp_path, broker_factory=paper)
    with pytest.raises(ConfigError, match="idempotency backend 'memory'"):
        create_run(
            DryrunConfig(run_id="mem", steps=60),
            tmp_path,
            broker_factory=paper,
            idempotency_backend="memory",
        )
    with pytest.raises(ConfigError, match="feed_sha256 is given"):
        create_run(
            DryrunConfig(run_id="pin", steps=60, feed_sha256="0" * 64),
            tmp_path,
            broker_factory=paper,
        )
    assert calls == Counter()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["made"]
    _finish(run, broker_factory=paper)
