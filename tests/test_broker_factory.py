"""A broker a caller's ``broker_factory`` builds is recorded and checked as a broker object is.

Before, ``create_run(cfg, out, broker_factory=fac)`` recorded nothing of the factory:
``config.json`` said ``broker = "mock"`` (the config's) and had no ``sources``, so the
evidence's determinism re-run and kill drill re-ran the config's mock broker and reported
``match``/``measured`` as if it were the run's, and a crashed factory run resumed with
``livesession resume`` (which has no factory) went on, silently, on the config's broker.
Every run made here is verified at teardown (the conftest).
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from livesession import DryrunConfig, MockBroker, SessionStatus
from livesession._exceptions import PluginError, RunExists
from livesession._rundir import create_run, resume_run
from livesession.evidence import write_evidence
from livesession.report import render_report
from livesession.status import run_status
from livesession.verify import verify_run

from _helpers import crash_in_step, desk_config
from crash_harness import cli

HERE = Path(__file__)


class Paper(MockBroker):
    """A desk's paper venue on the mock, declared simulated, keeping its state in a journal."""

    simulated = True


def paper(cfg: Any, run_dir: Path) -> Any:
    return Paper(seed=5, qty_lot=cfg.qty_lot, journal=run_dir / "broker_journal.jsonl")


def other_paper(cfg: Any, run_dir: Path) -> Any:
    return paper(cfg, run_dir)


def fac(cfg: Any, run_dir: Path) -> Any:
    """The brief's factory: livesession's own ``MockBroker``, which declares nothing."""
    return MockBroker(seed=5, qty_lot=cfg.qty_lot)


def _config(run_id: str, steps: int = 60) -> DryrunConfig:
    return DryrunConfig(run_id=run_id, steps=steps, checkpoint_every=10)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_a_factory_run_records_its_factory_and_the_evidence_does_not_rerun_the_config(
    tmp_path: Path,
) -> None:
    """Bug: the run traded on the factory's broker, its record said the config's mock
    broker, and the evidence re-ran that: ``match``, ``measured``. Now ``sources.broker``
    records the factory as a broker object is recorded, and neither is re-run."""
    session = create_run(DryrunConfig(run_id="fac2", steps=300), tmp_path, broker_factory=fac)
    assert session.run_to_end(300).status is SessionStatus.COMPLETED
    session.close()
    run = tmp_path / "fac2"
    recorded = orjson.loads((run / "config.json").read_bytes())["sources"]["broker"]
    assert recorded == {
        "object": f"{__name__}.fac",
        "file": str(HERE),
        "sha256": hashlib.sha256(HERE.read_bytes()).hexdigest(),
        "supplied": "from broker_factory=fac",
        "built": "livesession.brokers.mock.MockBroker",
        "declared_simulated": None,
    }
    write_evidence(run)
    manifest = orjson.loads((run / "manifest.json").read_bytes())
    said = f"the run traded on a broker from broker_factory=fac ({recorded['object']})"
    assert manifest["determinism"]["status"] == "not_applicable"
    assert manifest["determinism"]["reason"].startswith(said)
    assert manifest["kill_drill"]["status"] == "not_applicable"
    assert manifest["plugins"]["broker"]["summary"] == (
        "user-supplied broker, livesession's own simulated venue (kind 'mock'): "
        f"{recorded['object']} (from broker_factory=fac)"
    )
    page = render_report(run)
    assert f"{recorded['object']} (from broker_factory=fac, which built" in page


def test_a_crashed_factory_run_resumes_only_with_its_factory(tmp_path: Path) -> None:
    """Bug: ``livesession resume`` (no factory) and ``resume_run`` without one continued a
    factory run on the config's mock broker. Now both refuse in one line naming what to
    pass, nothing changed, as for a broker object; ``status`` and a second ``create_run``
    say so too; another factory is refused; the same one continues the run."""
    crash_in_step(create_run(_config("fac"), tmp_path, broker_factory=paper), 45, 60)
    run = tmp_path / "fac"
    before = _tree(run)
    said = (
        f"run fac was started with a broker from broker_factory=paper ({__name__}.paper, "
        f"which built {__name__}.Paper): pass the same broker_factory= again"
    )
    for factory in ({}, {"broker_factory": other_paper}):
        with pytest.raises(PluginError) as refused:
            resume_run(run, **factory)
        assert str(refused.value).startswith(said), refused.value
    with pytest.raises(PluginError, match="pass the same broker_factory= again"):
        resume_run(run, broker=Paper(seed=5))
    by_cli = cli("resume", run)
    assert by_cli.returncode == 2, by_cli.stderr
    assert said in by_cli.stderr
    assert "(the command line cannot rebuild it)" in by_cli.stderr
    assert _tree(run) == before
    assert f"broker_factory=<{__name__}.paper>" in run_status(run).next_step()
    # verify said `continue it from Python with resume_run, passing the objects it was
    # started with again`: it names the call, in status's words.
    assert verify_run(run).summary == (
        f"incomplete run: no C2_DRYRUN_STOP; continue it from Python: resume_run({str(run)!r}, "
        f"broker_factory=<{__name__}.paper>) (it was started with objects, which the command "
        "line cannot rebuild)"
    )
    with pytest.raises(RunExists, match=f"broker_factory=<{__name__}.paper>"):
        create_run(_config("fac"), tmp_path, broker_factory=paper)
    # The evidence of the crashed run said `livesession resume RUN` finishes it, as of an
    # object-built run: that is refused; it names the call that finishes it.
    problems = write_evidence(run, out_dir=tmp_path / "evidence").problems
    assert (
        f"the run is not sealed: resume_run({str(run)!r}, broker_factory=<{__name__}.paper>) "
        "from Python (it was started with objects) finishes it"
    ) in problems[0]
    assert _tree(run) == before
    session = resume_run(run, broker_factory=paper)
    assert session.run_to_end(60).status is SessionStatus.COMPLETED
    session.close()


class Quiet(MockBroker):
    """A desk's broker on the mock that declares nothing: its kind ``mock`` says nothing."""


class Live(MockBroker):
    """A desk's adapter on the mock that says it is a real venue."""

    simulated = False


@pytest.mark.parametrize(
    ("made", "said"),
    [(Quiet, "does not declare simulated"), (Live, "declares simulated = False")],
)
def test_a_factory_s_broker_is_judged_by_user_broker_as_an_object_is(
    tmp_path: Path, made: type[MockBroker], said: str
) -> None:
    """A factory building a ``MockBroker`` subclass that declares nothing, or declares
    ``simulated = False``, is refused with live trading off, as the same object handed in
    is: ``USER_BROKER_NOT_SIMULATED``, before any order, naming the factory."""
    built: list[MockBroker] = []

    def desk(cfg: Any, run_dir: Path) -> Any:
        built.append(made(seed=5, qty_lot=Decimal("0.001")))
        return built[-1]

    session = create_run(_config("gate"), tmp_path, broker_factory=desk)
    result = session.run_to_end(60)
    session.close()
    assert (result.status, result.reason) == (SessionStatus.REJECTED, "USER_BROKER_NOT_SIMULATED")
    assert f"user-supplied broker {__name__}.{desk.__qualname__} {said}" in result.detail
    assert list(built[0].open_orders()) == []


def test_a_factory_that_builds_no_broker_is_refused_leaving_nothing(tmp_path: Path) -> None:
    with pytest.raises(PluginError, match="broker_factory=<lambda> returned a dict, not a Broker"):
        create_run(_config("none"), tmp_path, broker_factory=lambda cfg, run_dir: {})
    assert not (tmp_path / "none").exists()


VENUE = """
from livesession import MockBroker


class Named(MockBroker):
    simulated = True


def make(*, seed, journal=None):
    with open(__file__ + ".built", "a") as built:  # a venue the config names was built
        built.write("built\\n")
    return Named(seed=seed, journal=journal)
"""


def test_a_factory_replaces_a_broker_the_config_names_by_reference(tmp_path: Path) -> None:
    """Bug: with a config naming its broker by reference (``broker = "venue.parts:make"``),
    ``create_run(cfg, out, broker_factory=fac)`` never called ``fac``: the run traded on
    the config's broker and recorded that one, with no word that the factory was left out
    (the factory replaced a ``mock`` or ``realish`` broker only). A caller's factory now
    replaces the config's broker whatever it names, as a ``broker=`` object does: the
    config's reference is not built, the run records the factory, and a crashed run
    resumes with the same factory only."""
    cfg = desk_config(
        tmp_path,
        "venue",
        {"parts.py": VENUE},
        'run_id = "ref"\nsteps = 60\ncheckpoint_every = 10\n'
        'broker = "venue.parts:make"\n[broker_params]\nseed = 3\n',
    )
    out = tmp_path / "runs"
    crash_in_step(create_run(cfg, out, broker_factory=paper), 45, 60)
    run = out / "ref"
    recorded = orjson.loads((run / "config.json").read_bytes())["sources"]["broker"]
    assert recorded["supplied"] == "from broker_factory=paper", recorded
    assert recorded["built"] == f"{__name__}.Paper"
    assert not (tmp_path / "venue" / "parts.py.built").exists()
    before = _tree(run)
    with pytest.raises(PluginError, match="pass the same broker_factory= again"):
        resume_run(run)
    assert _tree(run) == before
    session = resume_run(run, broker_factory=paper)
    assert session.run_to_end(60).status is SessionStatus.COMPLETED
    session.close()
